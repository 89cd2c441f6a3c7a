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

/// A moment as a civil date and time, UTC (proleptic Gregorian calendar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1 to 12.
    pub month: i64,
    /// 1 to 31.
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    /// 0 (Monday) to 6 (Sunday).
    pub weekday: i64,
}

/// The civil date and time of `secs` seconds since the Unix epoch, UTC.
pub fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days since 1970-01-01 to a date (H. Hinnant's days-to-civil).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    Civil {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day: doy - (153 * mp + 2) / 5 + 1,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
        // 1970-01-01 was a Thursday.
        weekday: (days + 3).rem_euclid(7),
    }
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

    #[test]
    fn civil_dates_of_known_moments() {
        let c = civil(0);
        assert_eq!((c.year, c.month, c.day, c.weekday), (1970, 1, 1, 3));
        let c = civil(951_782_400);
        assert_eq!((c.year, c.month, c.day, c.weekday), (2000, 2, 29, 1));
        let c = civil(1_796_064_000);
        assert_eq!(
            (
                c.year, c.month, c.day, c.hour, c.minute, c.second, c.weekday
            ),
            (2026, 11, 30, 18, 40, 0, 0)
        );
        let c = civil(-1);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.second),
            (1969, 12, 31, 23, 59)
        );
    }
}
