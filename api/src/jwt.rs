//! JSON Web Tokens for logged-in users: HS256 only, signed with `LONGRUN_JWT_SECRET`.
//!
//! Written out rather than taken from a general JWT library so that exactly one algorithm is
//! accepted: a token whose header names anything but `HS256` (`none`, `RS256`, …) is refused
//! before its signature is even looked at, and signatures are compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The claims longrun puts in (and requires of) a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub workspace: String,
    pub role: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    pub iat: i64,
    /// Token id: what logout revokes.
    pub jti: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not HS256")]
    WrongAlgorithm,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
}

/// The signing key and the lifetime of new tokens.
#[derive(Clone)]
pub struct JwtKeys {
    secret: SecretString,
    pub ttl_s: i64,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("ttl_s", &self.ttl_s)
            .finish()
    }
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

impl JwtKeys {
    pub fn new(secret: SecretString, ttl_s: i64) -> Self {
        Self { secret, ttl_s }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length")
    }

    /// A signed token for `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = URL_SAFE_NO_PAD.encode(HEADER);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// The CSRF token of the console session whose login token has id `jti`: an HMAC of the
    /// id under this key, labelled so that it can never pass for a token signature. Only the
    /// server can compute it, and it dies with the session.
    pub fn csrf_token(&self, jti: &str) -> String {
        hex::encode(self.csrf_mac(jti).finalize().into_bytes())
    }

    /// Whether `token` is the CSRF token of session `jti` (compared in constant time).
    pub fn csrf_matches(&self, jti: &str, token: &str) -> bool {
        match hex::decode(token) {
            Ok(bytes) => self.csrf_mac(jti).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    fn csrf_mac(&self, jti: &str) -> Hmac<Sha256> {
        let mut mac = self.mac();
        mac.update(b"longrun console csrf\0");
        mac.update(jti.as_bytes());
        mac
    }

    /// The claims of a valid, unexpired token signed with this key.
    pub fn verify(&self, token: &str, now_s: i64) -> Result<Claims, JwtError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header_text = header;
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(JwtError::Malformed)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return Err(JwtError::WrongAlgorithm);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| JwtError::Malformed)?;
        let mut mac = self.mac();
        mac.update(format!("{header_text}.{payload}").as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| JwtError::BadSignature)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(JwtError::Malformed)?;
        if claims.exp <= now_s {
            return Err(JwtError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(
            "a-secret-of-at-least-32-bytes-long!!".to_string().into(),
            3600,
        )
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "usr_1".into(),
            workspace: "ws_1".into(),
            role: "admin".into(),
            exp,
            iat: 0,
            jti: "jti_1".into(),
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let token = keys().sign(&claims(2000));
        assert_eq!(keys().verify(&token, 1000), Ok(claims(2000)));
        assert_eq!(keys().verify(&token, 2000), Err(JwtError::Expired));
    }

    #[test]
    fn csrf_tokens_belong_to_one_session_and_one_key() {
        let token = keys().csrf_token("jti_1");
        assert_eq!(token.len(), 64);
        assert!(keys().csrf_matches("jti_1", &token));
        assert!(!keys().csrf_matches("jti_2", &token));
        assert!(!keys().csrf_matches("jti_1", &token[..62]));
        assert!(!keys().csrf_matches("jti_1", "not hex"));
        assert!(!keys().csrf_matches("jti_1", ""));
        let other_key = JwtKeys::new(
            "another-secret-of-at-least-32-bytes!".to_string().into(),
            3600,
        );
        assert!(!other_key.csrf_matches("jti_1", &token));
        // Never the signature of a token with that id.
        assert!(!keys().sign(&claims(2000)).contains(&token));
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let token = keys().sign(&claims(2000));
        let [header, payload, signature]: [&str; 3] =
            token.split('.').collect::<Vec<_>>().try_into().unwrap();
        let forged_claims = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                role: "admin".into(),
                workspace: "ws_2".into(),
                ..claims(2000)
            })
            .unwrap(),
        );
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let rs_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
        let other_key = JwtKeys::new(
            "another-secret-of-at-least-32-bytes!".to_string().into(),
            3600,
        );
        let table = [
            (
                format!("{header}.{forged_claims}.{signature}"),
                JwtError::BadSignature,
            ),
            (
                format!("{none_header}.{payload}."),
                JwtError::WrongAlgorithm,
            ),
            (
                format!("{none_header}.{payload}.{signature}"),
                JwtError::WrongAlgorithm,
            ),
            (
                format!("{rs_header}.{payload}.{signature}"),
                JwtError::WrongAlgorithm,
            ),
            (other_key.sign(&claims(2000)), JwtError::BadSignature),
            (format!("{header}.{payload}"), JwtError::Malformed),
            (
                format!("{header}.{payload}.{signature}.x"),
                JwtError::Malformed,
            ),
            ("not a token".to_string(), JwtError::Malformed),
            (format!("{header}.{payload}.!!!"), JwtError::Malformed),
        ];
        for (token, expected) in table {
            assert_eq!(keys().verify(&token, 1000), Err(expected), "{token}");
        }
    }
}
