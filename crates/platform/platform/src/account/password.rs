//! Passwords: Argon2id (memory-hard; the crate's defaults, 19 MiB and 2 passes) in the PHC
//! string format, so parameters can be raised later without breaking stored hashes.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::error::{Error, Result};

/// Shortest password accepted.
pub const MIN_LEN: usize = 12;
/// Longest password accepted (hashing cost is linear in it).
pub const MAX_LEN: usize = 256;

/// Refuse a password too weak or too long to take.
pub fn check_policy(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(Error::invalid_as(
            "PASSWORD_TOO_WEAK",
            format!("a password has at least {MIN_LEN} characters"),
        ));
    }
    if password.len() > MAX_LEN {
        return Err(Error::invalid_as(
            "PASSWORD_TOO_LONG",
            format!("a password has at most {MAX_LEN} bytes"),
        ));
    }
    if password
        .chars()
        .all(|c| c == password.chars().next().unwrap_or(' '))
    {
        return Err(Error::invalid_as(
            "PASSWORD_TOO_WEAK",
            "a password of one repeated character is refused",
        ));
    }
    Ok(())
}

/// Hash `password` with a fresh salt.
pub fn hash(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("hashing a password failed: {e}")))
}

/// Whether `password` matches the stored `hash`. A damaged hash never matches.
pub fn verify(password: &str, hash: &str) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash to verify against when the account does not exist, so that a login for an unknown
/// name takes as long as one with a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password that nobody has").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_ne!(h, hash("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn policy() {
        assert!(check_policy("short").is_err());
        assert!(check_policy(&"a".repeat(20)).is_err());
        assert!(check_policy(&"ab".repeat(200)).is_err());
        assert!(check_policy("a fine passphrase").is_ok());
    }
}
