//! Clock and identifiers.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Milliseconds since the Unix epoch by this machine's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `n` random bytes.
pub fn random(n: usize) -> Result<Vec<u8>> {
    let mut b = vec![0u8; n];
    covenant_crypto::random_bytes(&mut b)
        .map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(b)
}

/// A new resource id: `prefix_` and 20 random hex digits, e.g. `prp_3f0c…`.
pub fn new_id(prefix: &str) -> Result<String> {
    Ok(format!("{prefix}_{}", hex::encode(random(10)?)))
}

/// A secret token (session, API token, recovery code): `bytes` random bytes, base64url.
pub fn secret(bytes: usize) -> Result<String> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random(bytes)?))
}

/// SHA-256 of `data`, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Base64 (standard, padded).
pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Decode base64 (standard, padded or not).
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(t))
        .ok()
}

/// Whether `id` looks like an id [`new_id`] made with `prefix` (checked before touching the
/// database, so a malformed id is a 404 without a query).
pub fn is_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|h| h.len() == 20 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_their_prefix_and_differ() {
        let a = new_id("prp").unwrap();
        let b = new_id("prp").unwrap();
        assert_ne!(a, b);
        assert!(is_id(&a, "prp"));
        assert!(!is_id(&a, "org"));
        assert!(!is_id("prp_../../etc", "prp"));
    }
}
