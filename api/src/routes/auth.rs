//! `/v1/auth`: registering a workspace, logging in, logging out.
//!
//! Sign-up never tells whether an email has an account: an email may own accounts in several
//! workspaces, so registering with one that has an account simply succeeds. It is capped per
//! client address and day.
//!
//! Login answers a wrong email and a wrong password the same way, in the same time for an
//! email with one account or none (an unknown email is checked against a decoy hash). It is
//! rate-limited per client address, and failures for one email *from one address* earn that
//! address growing delays: someone guessing a password slows only themselves, and the owner
//! logs in from their own address as usual.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use longrun_domain::Tier;
use longrun_store::{NewAudit, User, Workspace, new_id};

use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::jwt::Claims;
use crate::passwords::{self, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use crate::routes::rfc3339;
use crate::valid_name;

/// Login attempts per minute from one address.
const LOGINS_PER_IP: u64 = 20;
/// Sign-up attempts per minute from one address (besides the daily cap).
const SIGNUPS_PER_IP: u64 = 10;
const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);

/// A new workspace and its first user, an admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Register {
    /// The workspace's slug: 1 to 64 characters of a-z, 0-9, '-' and '_', starting with a
    /// letter or digit.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", example = "acme")]
    workspace: String,
    /// Compared lower-cased.
    #[schema(example = "ada@example.com")]
    email: String,
    /// 10 characters to 1024 bytes.
    #[schema(min_length = 10, max_length = 1024)]
    password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    email: String,
    password: String,
    /// The workspace's slug, for an email with accounts in several workspaces; without it,
    /// the email's first account is the one logged into.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
    workspace: Option<String>,
}

/// A registered workspace, with a login token for its admin.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Registered {
    workspace_id: String,
    user_id: String,
    /// A login token (JWT): `Authorization: Bearer <token>`.
    token: String,
    /// When the token expires (RFC 3339).
    expires_at: String,
}

/// A login token.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LoggedIn {
    /// A login token (JWT): `Authorization: Bearer <token>`.
    token: String,
    /// When the token expires (RFC 3339).
    expires_at: String,
    workspace_id: String,
}

/// The client's address, as the connection shows it (proxies in front would need their own
/// trusted header; none is read, so it cannot be forged).
pub(crate) struct ClientIp(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

/// Emails are compared lower-cased; a minimal shape check, not RFC 5322.
pub(crate) fn normalise_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(ApiError::invalid("email", "not an email address"));
    }
    Ok(email)
}

/// A new password's argon2id hash, once its length is checked (hashed off the async threads:
/// it is slow on purpose).
pub(crate) async fn new_password_hash(password: String) -> Result<String, ApiError> {
    if password.chars().count() < MIN_PASSWORD_LEN || password.len() > MAX_PASSWORD_LEN {
        return Err(ApiError::invalid(
            "password",
            format!("{MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
        ));
    }
    tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The 409 of an email that owns the most accounts one may (sign-up, or an operator adding
/// a user).
pub(crate) const EMAIL_LIMIT: (&str, fn(i64) -> String) = ("email_limit", |limit| {
    format!("an email may own at most {limit} workspaces' accounts")
});

async fn limit(state: &AppState, key: String, per_minute: u64) -> Result<(), ApiError> {
    let decision = state.limiter.check(&key, per_minute).await;
    if decision.allowed {
        Ok(())
    } else {
        Err(ApiError::RateLimited {
            retry_after_s: decision.retry_after_s,
        })
    }
}

/// Issues `user` a login token and records in the workspace's audit log how they came by it
/// (`action`, on `target`, with `data`, a JSON object, from the client address `ip`).
async fn sign_in(
    state: &AppState,
    user: &User,
    workspace: &Workspace,
    action: &str,
    target: Option<&str>,
    data: &str,
    ip: &str,
) -> Result<(String, Claims), ApiError> {
    let issued = issue_token(state, &user.id, &workspace.id, &user.role)?;
    state
        .store
        .audit(NewAudit {
            workspace_id: Some(&workspace.id),
            actor: &format!("user:{}", user.id),
            action,
            target,
            data,
            ip: Some(ip),
        })
        .await?;
    Ok(issued)
}

fn issue_token(
    state: &AppState,
    user_id: &str,
    workspace_id: &str,
    role: &str,
) -> Result<(String, Claims), ApiError> {
    let keys = state
        .auth
        .jwt
        .as_ref()
        .ok_or_else(|| ApiError::Internal("LONGRUN_JWT_SECRET is not configured".into()))?;
    let now = longrun_store::now_ms() / 1000;
    let claims = Claims {
        sub: user_id.to_string(),
        workspace: workspace_id.to_string(),
        role: role.to_string(),
        exp: now + keys.ttl_s,
        iat: now,
        jti: new_id("jti"),
    };
    Ok((keys.sign(&claims), claims))
}

/// Creates a workspace (tier free) and its admin user, and logs the user in. An email may own
/// accounts in several workspaces, so the answer never tells whether it already has one.
/// Limited per client address (by default 5 attempts a day).
#[utoipa::path(
    post,
    path = "/v1/auth/register",
    operation_id = "register",
    request_body = Register,
    responses(
        (status = 201, description = "The workspace, its admin and a login token.", body = Registered),
        (status = 403, description = "`signup_disabled`: sign-up is turned off on this server.", body = ErrorBody),
        (status = 409, description = "`workspace_exists`: the slug is taken; `email_limit`: the email owns the most accounts one may.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many sign-ups from this address (with `Retry-After`).", body = ErrorBody),
    ),
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<Register>,
) -> Result<impl IntoResponse, ApiError> {
    if !state.auth.allow_signup {
        return Err(ApiError::Forbidden {
            code: "signup_disabled",
            message: "sign-up is turned off on this server".into(),
        });
    }
    limit(&state, format!("signup-ip:{ip}"), SIGNUPS_PER_IP).await?;
    // Every attempt counts, a refused one too: the cap bounds what one address can create,
    // and what it can learn by trying.
    state
        .limiter
        .count_in_window(
            &format!("signup-day:{ip}"),
            state.auth.signups_per_ip_per_day,
            DAY,
        )
        .await
        .map_err(|retry_after_s| ApiError::RateLimited { retry_after_s })?;
    if !valid_name(&body.workspace) {
        return Err(ApiError::invalid(
            "workspace",
            "1 to 64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
        ));
    }
    let email = normalise_email(&body.email)?;
    let hash = new_password_hash(body.password).await?;
    let (workspace, user) = state
        .store
        .register(&body.workspace, &body.workspace, Tier::Free, &email, &hash)
        .await
        .map_err(|e| {
            let taken = "this workspace slug is taken".to_string();
            ApiError::creation(e, ("workspace_exists", taken), EMAIL_LIMIT)
        })?;
    let data = json!({ "email": email, "tier": workspace.tier }).to_string();
    let target = Some(workspace.slug.as_str());
    let (token, claims) = sign_in(
        &state,
        &user,
        &workspace,
        "auth.register",
        target,
        &data,
        &ip,
    )
    .await?;
    let expires_at = claims.exp;
    Ok((
        StatusCode::CREATED,
        axum::Json(Registered {
            workspace_id: workspace.id.to_string(),
            user_id: user.id,
            token,
            expires_at: rfc3339(expires_at * 1000),
        }),
    ))
}

/// Logs a user in. A wrong email and a wrong password get the same 401, in the same time.
/// Limited to 20 attempts a minute from one address; after 5 failures for one email from one
/// address, that address waits longer before each new attempt (1 s, doubling up to 15 min).
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    operation_id = "login",
    request_body = Login,
    responses(
        (status = 200, description = "A login token.", body = LoggedIn),
        (status = 401, description = "`unauthorized`: wrong email or password.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing, unknown or mistyped field, named.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many attempts from this address, or failed ones for this email from it (with `Retry-After`).", body = ErrorBody),
    ),
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<Login>,
) -> Result<impl IntoResponse, ApiError> {
    let session = password_login(&state, &ip, body, "api").await?;
    Ok(axum::Json(LoggedIn {
        token: session.token,
        expires_at: rfc3339(session.expires_at * 1000),
        workspace_id: session.workspace.id.to_string(),
    }))
}

/// A user logged in with a password: their workspace, role and new login token.
pub(crate) struct PasswordLogin {
    pub(crate) workspace: longrun_store::Workspace,
    pub(crate) role: String,
    pub(crate) token: String,
    /// Token id, which logout revokes.
    pub(crate) jti: String,
    /// Expiry, seconds since the epoch.
    pub(crate) expires_at: i64,
}

/// Checks an email and password as `POST /v1/auth/login` does (its rate limit per address,
/// the guesser's backoff, one password check whatever the email owns) and issues a login
/// token; `via` (`api`, `console`) is recorded in the audit log.
pub(crate) async fn password_login(
    state: &AppState,
    ip: &str,
    body: Login,
    via: &str,
) -> Result<PasswordLogin, ApiError> {
    limit(state, format!("login-ip:{ip}"), LOGINS_PER_IP).await?;
    let email = body.email.trim().to_lowercase();
    let email_key = hex::encode(Sha256::digest(email.as_bytes()));
    // Failures of this email from this address: the guesser's own backoff.
    let backoff_key = format!("login:{email_key}:{ip}");
    let wait = state.limiter.backoff_wait(&backoff_key).await;
    if wait > 0 {
        return Err(ApiError::RateLimited {
            retry_after_s: wait,
        });
    }
    let slug = body.workspace.as_deref().filter(|s| !s.is_empty());
    if email.len() > 254
        || body.password.len() > MAX_PASSWORD_LEN
        || slug.is_some_and(|s| !valid_name(s))
    {
        return Err(ApiError::Unauthorized);
    }
    let found = state.store.account_for_login(&email, slug).await?;
    let stored = found.as_ref().map(|(user, _)| user.password_hash.clone());
    let decoy = state.auth.decoy_hash.clone();
    let password = body.password;
    // One password check per login, whatever the email owns: the time tells nothing.
    let ok = tokio::task::spawn_blocking(move || {
        passwords::verify(&password, stored.as_deref(), &decoy)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (user, workspace) = match found {
        Some(account) if ok => account,
        other => {
            state.limiter.backoff_failed(&backoff_key).await;
            let workspace_id = other.map(|(user, _)| user.workspace_id);
            return Err(login_failed(state, workspace_id.as_deref(), &email_key, ip).await);
        }
    };
    state.limiter.backoff_clear(&backoff_key).await;
    let data = json!({ "via": via }).to_string();
    let (token, claims) = sign_in(state, &user, &workspace, "auth.login", None, &data, ip).await?;
    Ok(PasswordLogin {
        workspace,
        role: user.role,
        token,
        jti: claims.jti,
        expires_at: claims.exp,
    })
}

/// Records a failed login (by the email's hash: the audit log keeps no guessed emails) and
/// answers 401 whatever was wrong.
async fn login_failed(
    state: &AppState,
    workspace_id: Option<&str>,
    email_key: &str,
    ip: &str,
) -> ApiError {
    let recorded = state
        .store
        .audit(NewAudit {
            workspace_id,
            actor: &format!("email:{email_key}"),
            action: "auth.login_failed",
            target: None,
            data: "{}",
            ip: Some(ip),
        })
        .await;
    match recorded {
        Ok(()) => ApiError::Unauthorized,
        Err(err) => err.into(),
    }
}

/// Revokes the login token presented (API keys are revoked with `DELETE /v1/api-keys/{id}`).
#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    operation_id = "logout",
    responses(
        (status = 204, description = "The token is revoked."),
        (status = 422, description = "`invalid_request`: the credential is an API key, not a login token.", body = ErrorBody),
    ),
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<impl IntoResponse, ApiError> {
    revoke_login_token(&state, &tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes the caller's login token (logout, console sign-out); an API key is refused.
pub(crate) async fn revoke_login_token(state: &AppState, tenant: &Tenant) -> Result<(), ApiError> {
    let Some((jti, exp)) = &tenant.token else {
        return Err(ApiError::InvalidRequest(
            "logout revokes a login token; revoke API keys with DELETE /v1/api-keys/{id}".into(),
        ));
    };
    state
        .store
        .revoke_token(&tenant.workspace.id, jti, exp * 1000)
        .await?;
    tenant.audit(state, "auth.logout", None, "{}").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalise_email(" Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@example",
            "ada@.com",
            "a da@example.com",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }
}
