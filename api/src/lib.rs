//! longrun's HTTP API: routing, authentication, tenant context, run submission.
//!
//! Invariants:
//! - every tenant route takes a [`auth::Tenant`], and every store call passes its workspace
//!   id: a run or agent of another workspace is "not found", exactly like one that does not
//!   exist;
//! - every error leaves as `{"error":{"code","message"}}` through [`error::ApiError`];
//! - every input has a size limit (1 MiB bodies, smaller per-field limits).

pub mod access;
mod admission;
pub mod auth;
pub mod billing;
pub mod console;
pub mod dispatcher;
pub mod error;
pub mod extract;
pub mod feeds;
mod idempotency;
pub mod jwt;
pub mod metrics;
pub mod openapi;
mod page;
pub mod passwords;
pub mod ratelimit;
pub mod readiness;
mod routes;
pub mod scheduler;
pub mod server;
pub mod users;

/// Whether a name is plain enough for an agent or a workspace slug.
pub fn valid_name(name: &str) -> bool {
    longrun_domain::ids::is_plain_name(name)
}

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tracing::Instrument;

use longrun_domain::Tiers;
use longrun_store::Store;
use longrun_workflows::payloads::ActivityTuning;

use crate::error::{ApiError, InternalErrorDetail};
use crate::extract::MAX_BODY_BYTES;
use crate::metrics::ApiMetrics;
use crate::ratelimit::RateLimiter;
use crate::scheduler::Scheduler;

/// Settings the handlers need beyond their dependencies.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Model calls a run may make when neither the request nor the agent says.
    pub default_max_steps: u32,
    /// Activity timeouts and retries, handed to each run's workflow.
    pub tuning: ActivityTuning,
    /// How long an `Idempotency-Key` of a run route is remembered.
    pub idempotency_ttl: std::time::Duration,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            default_max_steps: 20,
            tuning: ActivityTuning::default(),
            idempotency_ttl: std::time::Duration::from_secs(86_400),
        }
    }
}

/// Creates an API key for a workspace and returns it with its secret, which is shown once and
/// never stored.
pub async fn issue_api_key(
    store: &Store,
    workspace_id: &str,
    name: &str,
    role: &str,
) -> Result<(longrun_store::ApiKey, String), ApiError> {
    let generated = auth::generate_api_key().map_err(|e| ApiError::Internal(e.to_string()))?;
    let key = store
        .create_api_key(longrun_store::NewApiKey {
            workspace_id,
            name,
            role,
            prefix: &generated.prefix,
            secret_hash: &generated.hash,
        })
        .await?;
    Ok((key, generated.secret))
}

/// How callers prove who they are.
pub struct AuthSettings {
    /// Signs and checks users' tokens; without it only API keys work.
    pub jwt: Option<jwt::JwtKeys>,
    /// Whether `POST /v1/auth/register` creates workspaces.
    pub allow_signup: bool,
    /// Sign-up attempts one client address may make a day.
    pub signups_per_ip_per_day: u64,
    /// A hash no password matches: logins for unknown emails are checked against it, so they
    /// take as long as wrong passwords.
    pub decoy_hash: String,
    /// The operator's credential for the cross-workspace billing export.
    pub billing_token: Option<secrecy::SecretString>,
}

impl AuthSettings {
    pub fn new(
        jwt: Option<jwt::JwtKeys>,
        allow_signup: bool,
    ) -> Result<Self, passwords::HashError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| passwords::HashError::new(e.to_string()))?;
        Ok(Self {
            jwt,
            allow_signup,
            signups_per_ip_per_day: 5,
            decoy_hash: passwords::hash(&hex::encode(random))?,
            billing_token: None,
        })
    }
}

/// Everything a handler may use, passed explicitly.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub scheduler: Arc<Scheduler>,
    pub settings: Arc<ApiSettings>,
    pub metrics: ApiMetrics,
    pub tiers: Arc<Tiers>,
    pub auth: Arc<AuthSettings>,
    pub limiter: Arc<RateLimiter>,
    /// What `/readyz` checks.
    pub readiness: readiness::Readiness,
    /// Run event feeds: one store follower per watched run, and the stream caps.
    pub feeds: Arc<feeds::RunFeeds>,
    /// Becomes `true` when the server shuts down: long-lived responses (SSE) end then.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Starts admitted runs and delivers commands, waiting out Temporal outages; its loop
    /// ([`dispatcher::Dispatcher::run`]) runs beside the server.
    pub dispatcher: dispatcher::Dispatcher,
}

/// The state-changing run routes that honour `Idempotency-Key` through
/// [`idempotency::guard`] (`POST /v1/runs` keeps its key on the run row instead).
pub const IDEMPOTENT_ROUTES: &[(axum::http::Method, &str)] = &[
    (axum::http::Method::POST, "/v1/runs/{id}/cancel"),
    (axum::http::Method::POST, "/v1/runs/{id}/messages"),
    (axum::http::Method::POST, "/v1/runs/{id}/complete"),
    (axum::http::Method::POST, "/v1/runs/{id}/approvals"),
    (axum::http::Method::POST, "/v1/runs/{id}/tool-results"),
    (axum::http::Method::POST, "/v1/runs/{id}/resume"),
];

/// A `POST` that acts on a run, behind the `Idempotency-Key` guard (see [`IDEMPOTENT_ROUTES`]).
fn run_action<H, T>(handler: H, state: &AppState) -> axum::routing::MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    post(handler).layer(middleware::from_fn_with_state(
        state.clone(),
        idempotency::guard,
    ))
}

/// The whole API as a router, ready for [`serve`] or for tests' `oneshot`.
pub fn router(state: AppState) -> Router {
    use routes::{agents, audit, auth as login, keys, mcp_servers, quota, runs, workspace};
    // Tenant routes sit behind the access gate (authentication, role, rate limit); see
    // `access::ROUTES` for who may use which.
    let tenant = Router::new()
        .route("/v1/auth/logout", post(login::logout))
        .route("/v1/workspace", get(workspace::get).put(workspace::update))
        .route("/v1/api-keys", post(keys::create).get(keys::list))
        .route("/v1/api-keys/{id}", delete(keys::revoke))
        .route("/v1/audit", get(audit::list))
        .route("/v1/agents", post(agents::create).get(agents::list))
        .route(
            "/v1/agents/{name}",
            get(agents::get).put(agents::update).delete(agents::delete),
        )
        .route(
            "/v1/mcp-servers",
            post(mcp_servers::create).get(mcp_servers::list),
        )
        .route(
            "/v1/mcp-servers/{name}",
            get(mcp_servers::get).delete(mcp_servers::delete),
        )
        .route("/v1/mcp-servers/{name}/refresh", post(mcp_servers::refresh))
        .route("/v1/runs", post(runs::create).get(runs::list))
        .route("/v1/runs/batch", post(runs::batch))
        .route("/v1/runs/cancel", post(runs::cancel_many))
        .route("/v1/runs/{id}", get(runs::get))
        .route("/v1/runs/{id}/rerun", post(runs::rerun))
        .route("/v1/runs/{id}/events", get(routes::events::stream))
        .route("/v1/runs/{id}/cancel", run_action(runs::cancel, &state))
        .route("/v1/runs/{id}/messages", run_action(runs::message, &state))
        .route("/v1/runs/{id}/complete", run_action(runs::complete, &state))
        .route("/v1/runs/{id}/approvals", run_action(runs::approve, &state))
        .route(
            "/v1/runs/{id}/tool-results",
            run_action(runs::tool_result, &state),
        )
        .route("/v1/runs/{id}/resume", run_action(runs::resume, &state))
        .route("/v1/quota", get(quota::get))
        .route("/v1/usage", get(routes::usage::get))
        // The console's session, for a signed-in page (see `console::ROUTES`).
        .route(
            "/console/session",
            get(console::session::current).delete(console::session::sign_out),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), access::gate));
    Router::new()
        .merge(tenant)
        .route("/v1/auth/register", post(login::register))
        .route("/v1/auth/login", post(login::login))
        .route("/v1/billing/export", get(routes::billing::export))
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/openapi.json", get(openapi::serve))
        .route("/console/session", post(console::session::sign_in))
        .route("/console", get(console::index))
        .route("/console/", get(console::index))
        .route("/console/{*path}", get(console::file))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

pub use server::{ServerLimits, serve};

async fn not_found() -> ApiError {
    ApiError::NotFound {
        code: "not_found",
        message: "no such route".into(),
    }
}

async fn method_not_allowed() -> Response {
    let mut response =
        ApiError::InvalidRequest("method not allowed on this route".into()).into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// Whether a request path could name anything: percent-decoded, it must be UTF-8 without NUL.
/// (Else axum would answer with a plain-text 400 of its own, and Postgres could not even look
/// the name up.)
fn names_something(path: &str) -> bool {
    extract::percent_decode(path).is_ok_and(|decoded| !decoded.contains('\0'))
}

/// The id of the request being served (`X-Request-Id`, or generated): handlers carry it into
/// what they start, so the workflow's activities log it too.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Request id, one log line per request, metrics by route template, and the single place
/// where internal errors are logged.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| longrun_store::new_id("req"));
    let mut request = request;
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let span = tracing::info_span!(
        "http",
        %method,
        %route,
        request_id = %request_id,
        workspace = tracing::field::Empty
    );
    let mut response = if names_something(request.uri().path()) {
        next.run(request).instrument(span.clone()).await
    } else {
        ApiError::NotFound {
            code: "not_found",
            message: "no such route: the path is not UTF-8, or holds NUL (U+0000)".into(),
        }
        .into_response()
    };
    let status = response.status();
    let elapsed = started.elapsed();
    // The method is the client's text: only the ones we serve become label values.
    let method_label = match method.as_str() {
        known @ ("GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "OPTIONS" | "PATCH") => known,
        _ => "other",
    };
    let labels = [method_label, route.as_str(), status.as_str()];
    state.metrics.requests.with_label_values(&labels).inc();
    state
        .metrics
        .duration
        .with_label_values(&labels)
        .observe(elapsed.as_secs_f64());
    let _entered = span.enter();
    if let Some(InternalErrorDetail(detail)) = response.extensions().get::<InternalErrorDetail>() {
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(status = status.as_u16(), error = %detail, "request failed");
        } else {
            tracing::error!(status = status.as_u16(), error = %detail, "request failed");
        }
    } else {
        tracing::debug!(
            status = status.as_u16(),
            elapsed_ms = elapsed.as_millis() as u64,
            "request"
        );
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
