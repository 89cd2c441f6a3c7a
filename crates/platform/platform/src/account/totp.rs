//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA1, 30-second
//! steps, six digits — what authenticator apps use. A code is accepted one step either side
//! of now, and never twice (the last step used is kept).

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Seconds per step.
pub const STEP_S: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;

/// The HOTP value of `secret` at `counter` (RFC 4226 §5.3).
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(secret) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[digest.len() - 1] & 0x0f) as usize;
    let binary = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    binary % 10u32.pow(DIGITS)
}

/// The code at Unix time `t` seconds, zero-padded.
pub fn code_at(secret: &[u8], t: u64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, t / STEP_S),
        width = DIGITS as usize
    )
}

/// The step a `code` matches within one step of `now_s`, if any, and later than `last_step`.
pub fn check(secret: &[u8], code: &str, now_s: u64, last_step: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = now_s / STEP_S;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .filter(|step| *step > last_step)
        .find(|step| {
            let expected = format!("{:0width$}", hotp(secret, *step), width = DIGITS as usize);
            // Compare every byte: the time taken does not tell how much matched.
            expected
                .bytes()
                .zip(code.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        })
}

/// RFC 4648 base32 without padding (how authenticator apps take a secret).
pub fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The `otpauth://` URI an authenticator app scans.
pub fn uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_S}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 (8-digit values; six digits are their last six).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, expected) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(secret, t), expected[2..], "t = {t}");
        }
    }

    /// RFC 4226 Appendix D.
    #[test]
    fn rfc4226_vectors() {
        let secret = b"12345678901234567890";
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (i, e) in expected.iter().enumerate() {
            assert_eq!(hotp(secret, i as u64), *e);
        }
    }

    #[test]
    fn window_and_replay() {
        let secret = b"12345678901234567890";
        let now = 1_234_567_890;
        let code = code_at(secret, now);
        let step = check(secret, &code, now, 0).unwrap();
        assert_eq!(step, now / STEP_S);
        assert_eq!(check(secret, &code, now, step), None, "a code works once");
        assert!(check(secret, &code_at(secret, now - 30), now, 0).is_some());
        assert!(check(secret, &code_at(secret, now - 90), now, 0).is_none());
        assert!(check(secret, "12345", now, 0).is_none());
        assert!(check(secret, "abcdef", now, 0).is_none());
    }

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }
}
