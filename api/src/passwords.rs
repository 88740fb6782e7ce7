//! Passwords: argon2id hashes (PHC strings), and a verification that takes the same time
//! whether or not the account exists.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

impl HashError {
    pub fn new(message: String) -> Self {
        Self(message)
    }
}

/// An argon2id hash of `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| HashError(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches `stored`. With no stored hash (an unknown email), the password
/// is still checked against `decoy`, so both failures cost the same time.
pub fn verify(password: &str, stored: Option<&str>, decoy: &str) -> bool {
    let (hash, real) = match stored {
        Some(hash) => (hash, true),
        None => (decoy, false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", Some(&a), &b));
        assert!(!verify("wrong horse battery", Some(&a), &b));
        assert!(
            !verify("correct horse battery", None, &a),
            "a decoy never logs anyone in"
        );
        assert!(!verify("x", Some("not a hash"), &a));
    }
}
