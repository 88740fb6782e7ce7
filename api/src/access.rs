//! The access gate in front of every tenant route: who is calling (API key or JWT), whether
//! their role may use the route, and the workspace's rate limit, whose state every response
//! reports in `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.
//!
//! Every route declares the roles it admits in [`ROUTES`]; a route missing from the table
//! admits nobody.
//!
//! The credential is `Authorization: Bearer …`, or, for a request without that header, the
//! console's session cookie (a login token), which needs the session's CSRF token on every
//! method that changes something (see [`crate::console::session`]).

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::{Role, authenticate};
use crate::console::session::{authenticate_cookie, session_token};
use crate::error::ApiError;
use crate::ratelimit::Decision;

use Role::{Admin, Billing, Member};

const ANY: &[Role] = &[Admin, Member, Billing];
const RUNS: &[Role] = &[Admin, Member];
const ADMIN: &[Role] = &[Admin];
const USAGE: &[Role] = &[Admin, Member, Billing];

/// Every tenant route and the roles it admits.
pub const ROUTES: &[(Method, &str, &[Role])] = &[
    (Method::POST, "/v1/auth/logout", ANY),
    (Method::GET, "/v1/workspace", ADMIN),
    (Method::PUT, "/v1/workspace", ADMIN),
    (Method::POST, "/v1/api-keys", ADMIN),
    (Method::GET, "/v1/api-keys", ADMIN),
    (Method::DELETE, "/v1/api-keys/{id}", ADMIN),
    (Method::GET, "/v1/audit", ADMIN),
    (Method::POST, "/v1/agents", ADMIN),
    (Method::GET, "/v1/agents", RUNS),
    (Method::GET, "/v1/agents/{name}", RUNS),
    (Method::PUT, "/v1/agents/{name}", ADMIN),
    (Method::DELETE, "/v1/agents/{name}", ADMIN),
    (Method::POST, "/v1/mcp-servers", ADMIN),
    (Method::GET, "/v1/mcp-servers", RUNS),
    (Method::GET, "/v1/mcp-servers/{name}", RUNS),
    (Method::DELETE, "/v1/mcp-servers/{name}", ADMIN),
    (Method::POST, "/v1/mcp-servers/{name}/refresh", ADMIN),
    (Method::POST, "/v1/runs", RUNS),
    (Method::GET, "/v1/runs", RUNS),
    (Method::POST, "/v1/runs/batch", RUNS),
    (Method::POST, "/v1/runs/cancel", RUNS),
    (Method::GET, "/v1/runs/{id}", RUNS),
    (Method::POST, "/v1/runs/{id}/rerun", RUNS),
    (Method::GET, "/v1/runs/{id}/events", RUNS),
    (Method::POST, "/v1/runs/{id}/cancel", RUNS),
    (Method::POST, "/v1/runs/{id}/messages", RUNS),
    (Method::POST, "/v1/runs/{id}/complete", RUNS),
    (Method::POST, "/v1/runs/{id}/approvals", RUNS),
    (Method::POST, "/v1/runs/{id}/tool-results", RUNS),
    (Method::POST, "/v1/runs/{id}/resume", RUNS),
    (Method::GET, "/v1/quota", RUNS),
    (Method::GET, "/v1/usage", USAGE),
    (Method::GET, "/console/session", ANY),
    (Method::DELETE, "/console/session", ANY),
];

fn admitted(method: &Method, route: &str) -> &'static [Role] {
    ROUTES
        .iter()
        .find(|(m, r, _)| m == method && *r == route)
        .map(|(_, _, roles)| *roles)
        .unwrap_or(&[])
}

/// The gate: authenticate, rate-limit, authorise, then the handler.
pub(crate) async fn gate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let method = request.method().clone();
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let cookie = match header {
        Some(_) => None,
        None => session_token(request.headers()),
    };
    let authenticated = match cookie {
        Some(token) => authenticate_cookie(&state, token, &method, request.headers()).await,
        None => authenticate(&state, header.as_deref()).await,
    };
    let tenant = match authenticated {
        Ok(tenant) => tenant,
        Err(err) => return err.into_response(),
    };
    tracing::Span::current().record("workspace", tenant.workspace.id.as_str());
    let limits = match tenant.limits(&state) {
        Ok(limits) => limits,
        Err(err) => return err.into_response(),
    };
    let decision = match limits.requests_per_minute {
        Some(per_minute) => {
            let decision = state
                .limiter
                .check(&format!("ws:{}", tenant.workspace.id), per_minute)
                .await;
            state
                .metrics
                .rate_limit
                .with_label_values(&[
                    tenant.workspace.tier.as_str(),
                    if decision.allowed {
                        "allowed"
                    } else {
                        "limited"
                    },
                ])
                .inc();
            Some(decision)
        }
        None => None,
    };
    let mut response = match decision {
        Some(decision) if !decision.allowed => ApiError::RateLimited {
            retry_after_s: decision.retry_after_s,
        }
        .into_response(),
        _ if !admitted(&method, &route).contains(&tenant.role) => ApiError::forbidden(format!(
            "the {} role may not use {method} {route}",
            tenant.role.as_str()
        ))
        .into_response(),
        _ => {
            request.extensions_mut().insert(tenant);
            next.run(request).await
        }
    };
    if let Some(decision) = decision {
        set_headers(&mut response, &decision);
    }
    response
}

fn set_headers(response: &mut Response, decision: &Decision) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", decision.limit),
        ("ratelimit-remaining", decision.remaining),
        ("ratelimit-reset", decision.reset_s),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_declared_once_and_unknown_ones_admit_nobody() {
        for (i, (method, route, roles)) in ROUTES.iter().enumerate() {
            assert!(!roles.is_empty(), "{method} {route}");
            assert!(
                ROUTES[i + 1..]
                    .iter()
                    .all(|(m, r, _)| !(m == method && r == route)),
                "{method} {route} twice"
            );
        }
        assert!(admitted(&Method::GET, "/v1/secret").is_empty());
        assert_eq!(admitted(&Method::GET, "/v1/usage"), USAGE);
        assert!(!admitted(&Method::POST, "/v1/agents").contains(&Member));
        assert!(!admitted(&Method::GET, "/v1/runs").contains(&Billing));
    }
}
