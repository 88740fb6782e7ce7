//! Authentication: API keys (`lr_` + 43 base62 characters, 256 bits from the OS CSPRNG),
//! stored as SHA-256 hashes and found by their first characters. Every tenant route takes a
//! [`Tenant`], which only a valid, unrevoked key produces.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use longrun_store::{Workspace, hash_secret};

use crate::AppState;
use crate::error::ApiError;

const KEY_SCHEME: &str = "lr_";
/// 43 base62 characters carry 256.03 bits.
const KEY_RANDOM_CHARS: usize = 43;
/// Characters (after the scheme) stored in clear to find a key.
const KEY_PREFIX_CHARS: usize = 8;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly generated key: the secret is shown once and then only its hash is kept.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomnessError(String);

/// Generates a key with the OS CSPRNG. Characters are drawn by rejection sampling, so each of
/// the 62 is equally likely.
pub fn generate_api_key() -> Result<GeneratedKey, RandomnessError> {
    let mut secret = String::with_capacity(KEY_SCHEME.len() + KEY_RANDOM_CHARS);
    secret.push_str(KEY_SCHEME);
    let mut buffer = [0u8; 64];
    while secret.len() < KEY_SCHEME.len() + KEY_RANDOM_CHARS {
        getrandom::fill(&mut buffer).map_err(|e| RandomnessError(e.to_string()))?;
        for &byte in &buffer {
            // 248 = 4 × 62: bytes at or above it would bias the draw.
            if byte < 248 && secret.len() < KEY_SCHEME.len() + KEY_RANDOM_CHARS {
                secret.push(BASE62[usize::from(byte % 62)] as char);
            }
        }
    }
    let prefix = key_prefix(&secret)
        .map(str::to_string)
        .ok_or_else(|| RandomnessError("generated key has the wrong shape".into()))?;
    let hash = hash_secret(&secret);
    Ok(GeneratedKey {
        secret,
        prefix,
        hash,
    })
}

/// The stored lookup prefix of a well-formed key, or `None` if it is not shaped like one.
pub fn key_prefix(secret: &str) -> Option<&str> {
    let random = secret.strip_prefix(KEY_SCHEME)?;
    if random.len() != KEY_RANDOM_CHARS || !random.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(&secret[..KEY_SCHEME.len() + KEY_PREFIX_CHARS])
}

/// What a credential may do in its workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything in the workspace.
    Admin,
    /// Runs, events, reading agents, quota, usage.
    Member,
    /// Usage only.
    Billing,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Member, Role::Billing];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Billing => "billing",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// The authenticated caller: a workspace, what proved it (an API key or a user's token), and
/// its role. Produced only by the access middleware ([`crate::access`]).
#[derive(Debug, Clone)]
pub struct Tenant {
    pub workspace: Workspace,
    pub role: Role,
    /// `key:<id>` or `user:<id>`: who acted, for the audit log.
    pub actor: String,
    /// For a JWT: its id and expiry (epoch seconds), which logout revokes.
    pub token: Option<(String, i64)>,
}

impl Tenant {
    /// The workspace's limits: its tier's with its overrides.
    pub(crate) fn limits(&self, state: &AppState) -> Result<longrun_domain::Limits, ApiError> {
        state
            .tiers
            .limits(self.workspace.tier, &self.workspace.quota_overrides)
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Records in the workspace's audit log that this caller did `action` (on `target`, with
    /// `data`, a JSON object).
    pub(crate) async fn audit(
        &self,
        state: &AppState,
        action: &str,
        target: Option<&str>,
        data: &str,
    ) -> Result<(), ApiError> {
        state
            .store
            .audit(longrun_store::NewAudit {
                workspace_id: Some(&self.workspace.id),
                actor: &self.actor,
                action,
                target,
                data,
                ip: None,
            })
            .await?;
        Ok(())
    }
}

/// Finds who presents `Authorization: Bearer …`: an API key (`lr_…`) or a JWT.
pub(crate) async fn authenticate(
    state: &AppState,
    header: Option<&str>,
) -> Result<Tenant, ApiError> {
    let token = header
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_BYTES)
        .ok_or(ApiError::Unauthorized)?;
    if token.starts_with("lr_") {
        let prefix = key_prefix(token).ok_or(ApiError::Unauthorized)?;
        let found = state
            .store
            .authenticate_api_key(prefix, &hash_secret(token))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        return Ok(Tenant {
            workspace: found.workspace,
            role: Role::parse(&found.key.role).ok_or(ApiError::Unauthorized)?,
            actor: format!("key:{}", found.key.id),
            token: None,
        });
    }
    authenticate_login_token(state, token).await
}

/// The longest credential read from a header or a cookie.
pub(crate) const MAX_TOKEN_BYTES: usize = 4096;

/// Finds whose login token (JWT) `token` is: valid, unexpired and not revoked. API keys are
/// not login tokens: the console's session cookie holds only these.
pub(crate) async fn authenticate_login_token(
    state: &AppState,
    token: &str,
) -> Result<Tenant, ApiError> {
    let keys = state.auth.jwt.as_ref().ok_or(ApiError::Unauthorized)?;
    let claims = keys
        .verify(token, longrun_store::now_ms() / 1000)
        .map_err(|_| ApiError::Unauthorized)?;
    if state
        .store
        .token_revoked(&claims.workspace, &claims.jti)
        .await?
    {
        return Err(ApiError::Unauthorized);
    }
    let workspace = state
        .store
        .workspace(&claims.workspace)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Tenant {
        workspace,
        role: Role::parse(&claims.role).ok_or(ApiError::Unauthorized)?,
        actor: format!("user:{}", claims.sub),
        token: Some((claims.jti, claims.exp)),
    })
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Set by the access middleware, which every tenant route sits behind.
        parts
            .extensions
            .get::<Tenant>()
            .cloned()
            .ok_or(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = generate_api_key().unwrap();
        let b = generate_api_key().unwrap();
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.secret.len(), 3 + 43);
        assert!(a.secret.starts_with("lr_"));
        assert_eq!(key_prefix(&a.secret), Some(a.prefix.as_str()));
        assert_eq!(a.prefix.len(), 11);
        assert_eq!(a.hash, hash_secret(&a.secret));
        assert!(!a.hash.contains(&a.secret[3..]));
    }

    #[test]
    fn malformed_keys_have_no_prefix() {
        for bad in [
            "",
            "lr_",
            "lr_short",
            "xx_0123456789012345678901234567890123456789012",
            &format!("lr_{}", "!".repeat(43)),
        ] {
            assert_eq!(key_prefix(bad), None, "{bad}");
        }
    }
}
