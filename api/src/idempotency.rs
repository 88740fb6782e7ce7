//! `Idempotency-Key` on the state-changing run routes (messages, approvals, cancel, complete,
//! resume), as the IETF draft describes it: the first request with a key runs and its answer
//! is kept for [`crate::ApiSettings::idempotency_ttl`]; a retry with the same key and body
//! gets that answer again (with `Idempotency-Replayed: true`) and acts on nothing; the same
//! key with another request is 422 `idempotency_key_reused`; a retry while the first request
//! still runs is 409 `idempotency_key_in_flight`. Answers that a retry should not see again
//! (5xx, 429) are not kept: the retry runs afresh.
//!
//! `POST /v1/runs` keeps its own key on the run row (see `routes::runs`), because its answer
//! is the run itself.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use longrun_store::{IdempotencyBegin, IdempotencyPolicy};

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;

pub(crate) const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;
/// A request that claimed a key and has not finished after this long is presumed dead.
const STALE_MS: i64 = 60_000;
/// Largest answer kept for replay (the run routes answer a few hundred bytes).
const MAX_KEPT_BODY_BYTES: usize = 256 * 1024;

/// The request's `Idempotency-Key`, checked: 1 to 255 visible ASCII characters.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty()
                && k.len() <= MAX_IDEMPOTENCY_KEY_BYTES
                && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                format!("1 to {MAX_IDEMPOTENCY_KEY_BYTES} visible ASCII characters"),
            )
        })?;
    Ok(Some(key.to_string()))
}

/// The middleware: see the module's documentation. Runs behind the access gate, so the
/// tenant is known.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match guarded(state, request, next).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn guarded(state: AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    let Some(key) = idempotency_key(request.headers())? else {
        return Ok(next.run(request).await);
    };
    let Some(tenant) = request.extensions().get::<Tenant>().cloned() else {
        return Err(ApiError::Internal(
            "the idempotency guard runs without a tenant".into(),
        ));
    };
    let (parts, body) = request.into_parts();
    let deadline = parts
        .extensions
        .get::<crate::server::BodyTimeout>()
        .map_or(std::time::Duration::from_secs(30), |t| t.0);
    let bytes = tokio::time::timeout(deadline, axum::body::to_bytes(body, MAX_BODY_BYTES))
        .await
        .map_err(|_| ApiError::RequestTimeout {
            seconds: deadline.as_secs(),
        })?
        .map_err(|_| ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        })?;
    // What makes two requests "the same": the method, the path (the run) and the body.
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(parts.uri.path().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let hash = hex::encode(hasher.finalize());
    let workspace_id = tenant.workspace.id.as_str();
    let policy = IdempotencyPolicy {
        ttl_ms: i64::try_from(state.settings.idempotency_ttl.as_millis()).unwrap_or(i64::MAX),
        stale_ms: STALE_MS,
    };
    match state
        .store
        .begin_idempotent(workspace_id, &key, &hash, policy)
        .await?
    {
        IdempotencyBegin::Run => {}
        IdempotencyBegin::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert("idempotency-replayed", HeaderValue::from_static("true"));
            return Ok(response);
        }
        IdempotencyBegin::InFlight => {
            return Err(ApiError::Conflict {
                code: "idempotency_key_in_flight",
                message:
                    "a request with this Idempotency-Key is still being processed; retry shortly"
                        .into(),
            });
        }
        IdempotencyBegin::Mismatch => {
            return Err(ApiError::IdempotencyKeyReused);
        }
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    let response = next.run(request).await;
    let status = response.status();
    let keep = !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS);
    if !keep {
        state.store.abandon_idempotent(workspace_id, &key).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_KEPT_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            state.store.abandon_idempotent(workspace_id, &key).await?;
            return Err(ApiError::Internal(
                "an answer too large to keep for Idempotency-Key replays".into(),
            ));
        }
    };
    state
        .store
        .finish_idempotent(
            workspace_id,
            &key,
            status.as_u16(),
            &String::from_utf8_lossy(&body),
        )
        .await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}
