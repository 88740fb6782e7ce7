//! The console's cookie session: signing in with an email and password (exactly as
//! `POST /v1/auth/login` checks them) puts the new login token in an `HttpOnly`,
//! `SameSite=Strict` cookie, and the access gate accepts that cookie as the credential of any
//! tenant route. A request that changes something must also carry the session's CSRF token in
//! `X-CSRF-Token`: an HMAC of the token's id that only the server can compute, handed to the
//! page in the body of `POST`/`GET /console/session`. A cross-site form or script cannot read
//! it, so it cannot act, whatever a browser does with `SameSite`.
//!
//! A request with `Authorization` never looks at the cookie.

use axum::extract::State;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use longrun_domain::{EventKind, RunStatus};

use crate::AppState;
use crate::access::ROUTES;
use crate::auth::{MAX_TOKEN_BYTES, Role, Tenant, authenticate_login_token};
use crate::error::ApiError;
use crate::extract::Json;
use crate::routes::auth::{ClientIp, Login, password_login, revoke_login_token};
use crate::routes::rfc3339;

/// The cookie that holds a console session's login token.
pub const SESSION_COOKIE: &str = "longrun_session";
/// The header that carries the session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in console session, as the page sees it (never the token itself).
#[derive(Debug, Serialize)]
pub(crate) struct SessionView {
    workspace: WorkspaceView,
    /// `admin`, `member` or `billing`.
    role: &'static str,
    /// Send as `X-CSRF-Token` with every request that changes something.
    csrf_token: String,
    /// When the session ends (RFC 3339); sign in again then.
    expires_at: String,
    /// The routes this role may use (`"GET /v1/runs"`, …), from the API's role table, so the
    /// page can leave out what would only answer 403.
    allowed: Vec<String>,
    /// Every run status, in the order of a run's life, and whether it is final: the page's
    /// filters and buttons follow the API's own list.
    statuses: Vec<StatusView>,
    /// Every kind of run event (`event:` of the event stream).
    event_kinds: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct StatusView {
    name: &'static str,
    terminal: bool,
}

#[derive(Debug, Serialize)]
struct WorkspaceView {
    id: String,
    slug: String,
    name: String,
    tier: &'static str,
}

/// The login token in the request's session cookie, if there is one of a sane size.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty() && value.len() <= MAX_TOKEN_BYTES)
}

/// Authenticates a request by its session cookie. Methods that change something need the
/// session's CSRF token too: without it, 403 `csrf_failed`.
pub(crate) async fn authenticate_cookie(
    state: &AppState,
    token: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Tenant, ApiError> {
    let tenant = authenticate_login_token(state, token).await?;
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let keys = state.auth.jwt.as_ref().ok_or(ApiError::Unauthorized)?;
        let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        let matches = match (&tenant.token, presented) {
            (Some((jti, _)), Some(presented)) => keys.csrf_matches(jti, presented),
            _ => false,
        };
        if !matches {
            return Err(ApiError::Forbidden {
                code: "csrf_failed",
                message: format!(
                    "a console request that changes something needs its session's {CSRF_HEADER} header"
                ),
            });
        }
    }
    Ok(tenant)
}

/// Whether the browser reached us over TLS: longrun serves plain HTTP itself, so only a
/// terminating proxy can say so. Trusting the header costs nothing: a client that claims TLS
/// falsely gets a `Secure` cookie, which its browser then withholds from plain HTTP.
fn over_tls(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split([';', ','])
                .any(|part| part.trim().eq_ignore_ascii_case("proto=https"))
        });
    forwarded_proto || forwarded
}

/// The `Set-Cookie` value of a session cookie: `token` for `max_age_s` seconds (0 and an empty
/// token clear it).
fn cookie(token: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        max_age_s.max(0)
    );
    // A JWT is base64url and dots: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("longrun_session="))
}

fn view(
    state: &AppState,
    workspace: &longrun_store::Workspace,
    role: Role,
    jti: &str,
    expires_at_s: i64,
) -> Result<SessionView, ApiError> {
    let keys = state.auth.jwt.as_ref().ok_or(ApiError::Unauthorized)?;
    Ok(SessionView {
        workspace: WorkspaceView {
            id: workspace.id.to_string(),
            slug: workspace.slug.to_string(),
            name: workspace.name.clone(),
            tier: workspace.tier.as_str(),
        },
        role: role.as_str(),
        csrf_token: keys.csrf_token(jti),
        expires_at: rfc3339(expires_at_s * 1000),
        allowed: ROUTES
            .iter()
            .filter(|(_, _, roles)| roles.contains(&role))
            .map(|(method, route, _)| format!("{method} {route}"))
            .collect(),
        statuses: RunStatus::ALL
            .iter()
            .map(|status| StatusView {
                name: status.as_str(),
                terminal: status.is_terminal(),
            })
            .collect(),
        event_kinds: EventKind::ALL.iter().map(|kind| kind.as_str()).collect(),
    })
}

/// `POST /console/session` `{email, password, workspace?}`: signs in (the login's rate limits
/// and backoff apply) and sets the session cookie; answers the session.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<Login>,
) -> Result<Response, ApiError> {
    let login = password_login(&state, &ip, body, "console").await?;
    let role = Role::parse(&login.role).ok_or(ApiError::Unauthorized)?;
    let session = view(&state, &login.workspace, role, &login.jti, login.expires_at)?;
    let max_age = login.expires_at - longrun_store::now_ms() / 1000;
    let mut response = answer(session);
    response.headers_mut().insert(
        SET_COOKIE,
        cookie(&login.token, max_age, over_tls(&headers)),
    );
    Ok(response)
}

/// `GET /console/session`: the signed-in session (behind the access gate); 401 once it has
/// expired or was revoked.
pub(crate) async fn current(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<Response, ApiError> {
    let Some((jti, exp)) = &tenant.token else {
        return Err(ApiError::InvalidRequest(
            "a console session is a login token; API keys have none".into(),
        ));
    };
    let session = view(&state, &tenant.workspace, tenant.role, jti, *exp)?;
    Ok(answer(session))
}

/// A session as JSON, never cached: it holds the CSRF token.
fn answer(session: SessionView) -> Response {
    let mut response = axum::Json(session).into_response();
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

/// `DELETE /console/session`: signs out: revokes the login token and clears the cookie.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    revoke_login_token(&state, &tenant).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie("", 0, over_tls(&headers)));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        fn found(pairs: &[(&'static str, &str)]) -> Option<String> {
            session_token(&headers(pairs)).map(str::to_string)
        }
        assert_eq!(
            found(&[("cookie", "a=1; longrun_session=abc.def.ghi; b=2")]),
            Some("abc.def.ghi".into())
        );
        assert_eq!(
            found(&[("cookie", "a=1"), ("cookie", "longrun_session=x")]),
            Some("x".into())
        );
        assert_eq!(found(&[("cookie", "longrun_sessionx=1")]), None);
        assert_eq!(found(&[("cookie", "longrun_session=")]), None);
        let huge = format!("longrun_session={}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(found(&[("cookie", &huge)]), None);
        assert_eq!(found(&[]), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_tls() {
        let plain = cookie("t.o.k", 3600, false);
        assert_eq!(
            plain.to_str().unwrap(),
            "longrun_session=t.o.k; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict"
        );
        let secure = cookie("t.o.k", 3600, true);
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
        assert!(
            cookie("", -5, false)
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        assert!(over_tls(&headers(&[("x-forwarded-proto", "https")])));
        assert!(over_tls(&headers(&[(
            "forwarded",
            "for=192.0.2.1;proto=https;by=proxy"
        )])));
        assert!(!over_tls(&headers(&[("x-forwarded-proto", "http")])));
        assert!(!over_tls(&headers(&[])));
    }
}
