//! `GET /v1/billing/export`: every ledger row of a period, across workspaces, for billing jobs.
//! Authorised by the operator's `LONGRUN_BILLING_TOKEN` only (a workspace's key gets 403).
//! Streamed page by page from the database, so memory stays flat at any ledger size.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::authenticate;
use crate::billing::{ExportFormat, ExportLine, Summary, header, line, parse_period};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;

/// Rows read per database page.
const PAGE: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// The month, `YYYY-MM` (UTC).
    #[param(
        required = true,
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$",
        example = "2026-01"
    )]
    period: Option<String>,
    /// `jsonl` (the default: JSON Lines ending with a summary line), `csv` (a header line
    /// with the columns, then a row per line) or `cloudevents` (JSON Lines of CloudEvents 1.0
    /// of type `longrun.usage.v1`).
    #[param(pattern = "^(jsonl|csv|cloudevents)$")]
    format: Option<String>,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Every ledger row of a month, across workspaces, streamed: for billing jobs, with the
/// operator's `LONGRUN_BILLING_TOKEN` only.
#[utoipa::path(
    get,
    path = "/v1/billing/export",
    operation_id = "export_billing",
    security(("billing_token" = [])),
    params(ExportQuery),
    responses(
        (status = 200, description = "The rows, streamed. `application/x-ndjson` (`jsonl`, \
            `cloudevents`): one JSON document a line, each an `ExportLine` (the schema \
            describes one line). `text/csv`: a header line with the columns of \
            `ExportRecord`, then one row a line.",
            content(
                (ExportLine = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        (status = 401, description = "`unauthorized`: no credential, or not a valid one.", body = ErrorBody),
        (status = 403, description = "`forbidden`: a workspace's credential, not the billing token.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing or bad `period`, a bad `format`, or an unknown query parameter.", body = ErrorBody),
    ),
)]
pub(crate) async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let token = presented
        .as_deref()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    let operator = match (&state.auth.billing_token, token) {
        (Some(expected), Some(token)) => {
            constant_time_eq(expected.expose_secret().as_bytes(), token.as_bytes())
        }
        _ => false,
    };
    if !operator {
        // A workspace credential is valid but not enough; anything else is not a credential.
        return Err(match authenticate(&state, presented.as_deref()).await {
            Ok(_) => ApiError::Forbidden {
                code: "forbidden",
                message: "the billing export needs the operator's billing token".into(),
            },
            Err(err) => err,
        });
    }
    let period = query
        .period
        .ok_or_else(|| ApiError::invalid("period", "required: YYYY-MM"))?;
    let (from, to) =
        parse_period(&period).ok_or_else(|| ApiError::invalid("period", "a month YYYY-MM"))?;
    let format = ExportFormat::parse(query.format.as_deref().unwrap_or("jsonl"))
        .ok_or_else(|| ApiError::invalid("format", "csv, jsonl or cloudevents"))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Some(first) = header(format)
            && tx.send(Ok(Bytes::from(first))).await.is_err()
        {
            return;
        }
        let mut summary = Summary::default();
        let mut cursor = None;
        loop {
            let page = match store
                .export_page(from, to, None, cursor.as_ref(), PAGE)
                .await
            {
                Ok(page) => page,
                Err(err) => {
                    // The client sees a cut stream (no summary line), never a partial success.
                    tracing::error!(error = %err, "billing export failed");
                    let _ = tx
                        .send(Err(std::io::Error::other("the export failed")))
                        .await;
                    return;
                }
            };
            let mut chunk = String::new();
            for row in &page {
                summary.add(row);
                chunk.push_str(&line(format, row));
            }
            if !chunk.is_empty() && tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                return;
            }
            match page.last() {
                Some(last) if page.len() as i64 == PAGE => {
                    cursor = Some((last.occurred_at, last.id.clone()))
                }
                _ => break,
            }
        }
        if let Some(footer) = summary.footer(format, &period) {
            let _ = tx.send(Ok(Bytes::from(footer))).await;
        }
    });
    Ok((
        [(CONTENT_TYPE, format.content_type())],
        Body::from_stream(ReceiverStream::new(rx)),
    )
        .into_response())
}
