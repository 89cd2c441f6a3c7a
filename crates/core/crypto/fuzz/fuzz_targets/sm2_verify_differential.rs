//! Differential fuzzing: Covenant's SM2 verifier against the RustCrypto `sm2` verifier. Every
//! input must get the same answer (accept, or the same error code) from the reference and from
//! every route of the fast verifier: the process-wide cache (twice: first and repeated use of a
//! key) and a freshly prepared key (twice: single and split doubling chain).
//!
//! Input layout: `mode ‖ secret[32] ‖ id ‖ message_len ‖ message ‖ tail`.
//!
//! - `mode & 3`: 0 or 1 → the uncompressed public key of `secret`, 2 → its compressed form,
//!   3 → raw key bytes taken from the front of `tail` (65 bytes if `tail[0] == 4`, else 33).
//!   A secret that is not a valid private key also falls back to raw key bytes.
//! - `mode & 4`: clear → RustCrypto signs the message (deterministic nonce) and the rest of
//!   `tail` is a list of `(op, arg)` mutations of `(r, s)` before DER encoding; set → the rest
//!   of `tail` is the signature, verbatim.
//! - `id % 4`: the distinguishing ID (default, default, empty, `ALICE123@YAHOO.COM`).

#![no_main]

use covenant_crypto::{
    CryptoError,
    sm2_verify::{self, VerifyingKey, reference},
};
use libfuzzer_sys::fuzz_target;
use sm2::dsa::signature::Signer as _;

const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x72, 0x03, 0xdf, 0x6b, 0x21, 0xc6, 0x05, 0x2b, 0x53, 0xbb, 0xf4, 0x09, 0x39, 0xd5, 0x41, 0x23,
];

fn add32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let t = a[i] as u16 + b[i] as u16 + carry;
        out[i] = t as u8;
        carry = t >> 8;
    }
    out
}

fn sub32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut t = a[i] as i16 - b[i] as i16 - borrow;
        borrow = 0;
        if t < 0 {
            t += 256;
            borrow = 1;
        }
        out[i] = t as u8;
    }
    out
}

fn small(v: u8) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[31] = v;
    out
}

/// Minimal DER `SEQUENCE { INTEGER r, INTEGER s }`.
fn der(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    fn integer(v: &[u8; 32]) -> Vec<u8> {
        let start = v.iter().position(|&b| b != 0).unwrap_or(31);
        let mut body = v[start..].to_vec();
        if body[0] & 0x80 != 0 {
            body.insert(0, 0);
        }
        let mut out = vec![0x02, body.len() as u8];
        out.extend(body);
        out
    }
    let mut body = integer(r);
    body.extend(integer(s));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// Apply one mutation to `(r, s)`.
fn mutate(op: u8, arg: u8, r: &mut [u8; 32], s: &mut [u8; 32]) {
    let bit = |v: &mut [u8; 32]| v[(arg as usize / 8) % 32] ^= 1 << (arg % 8);
    match op % 12 {
        0 => bit(r),
        1 => bit(s),
        2 => *r = add32(r, &small(arg)),
        3 => *s = sub32(s, &small(arg)),
        4 => std::mem::swap(r, s),
        5 => *s = sub32(&N, r),           // r + s = n
        6 => *r = sub32(&N, &small(arg)), // r near n (n itself for arg 0)
        7 => *s = add32(&N, &small(arg)), // s ≥ n
        8 => *r = small(arg),             // tiny r (0 for arg 0)
        9 => *s = sub32(&N, s),           // −s
        10 => r[(arg as usize) % 32] = 0,
        _ => *s = [arg; 32],
    }
}

fn code(r: &Result<(), CryptoError>) -> &'static str {
    match r {
        Ok(()) => "OK",
        Err(e) => e.code(),
    }
}

const IDS: [&str; 4] = [
    "1234567812345678",
    "1234567812345678",
    "",
    "ALICE123@YAHOO.COM",
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if rest.len() < 34 {
        return;
    }
    let (secret, rest) = rest.split_at(32);
    let distid = IDS[(rest[0] % 4) as usize];
    let message_len = (rest[1] as usize).min(rest.len() - 2);
    let (message, tail) = rest[2..].split_at(message_len);

    let secret: [u8; 32] = secret.try_into().unwrap_or([0; 32]);
    let signer = sm2::dsa::SigningKey::from_bytes(distid, &secret.into()).ok();
    let (key, tail): (Vec<u8>, &[u8]) = match (&signer, mode & 3) {
        (Some(sk), 0 | 1) => (sk.verifying_key().to_sec1_bytes().to_vec(), tail),
        (Some(sk), 2) => {
            let full = sk.verifying_key().to_sec1_bytes();
            let mut c = vec![2 | (full[64] & 1)];
            c.extend_from_slice(&full[1..33]);
            (c, tail)
        }
        _ => {
            let len = if tail.first() == Some(&4) { 65 } else { 33 };
            let len = len.min(tail.len());
            (tail[..len].to_vec(), &tail[len..])
        }
    };

    let signature = match (&signer, mode & 4) {
        (Some(sk), 0) => {
            let sig: sm2::dsa::Signature = sk.sign(message);
            let mut r: [u8; 32] = sig.r_bytes().into();
            let mut s: [u8; 32] = sig.s_bytes().into();
            for m in tail.chunks_exact(2).take(8) {
                mutate(m[0], m[1], &mut r, &mut s);
            }
            der(&r, &s)
        }
        _ => tail.to_vec(),
    };

    let expected = reference::verify(&key, distid, message, &signature);
    // The non-standard "compact" point form (0x05 ‖ x, not in SEC1) is accepted by RustCrypto's
    // parser and refused by ours; Covenant's PublicKey never hands it to the verifier.
    if key.first() == Some(&0x05) && key.len() == 33 {
        let ours = sm2_verify::verify(&key, distid, message, &signature);
        assert!(
            matches!(
                ours,
                Err(CryptoError::MalformedKey(_) | CryptoError::MalformedSignature(_))
            ),
            "compact key form accepted: {ours:?}"
        );
        return;
    }
    for _ in 0..2 {
        let ours = sm2_verify::verify(&key, distid, message, &signature);
        assert_eq!(
            code(&ours),
            code(&expected),
            "cached route: key {key:02x?} id {distid:?} msg {message:02x?} sig {signature:02x?}"
        );
    }
    if let Ok(fresh) = VerifyingKey::from_sec1_bytes(&key, distid) {
        for _ in 0..2 {
            assert_eq!(
                code(&fresh.verify(message, &signature)),
                code(&expected),
                "fresh key: key {key:02x?} id {distid:?} msg {message:02x?} sig {signature:02x?}"
            );
        }
    }
    // A valid key prepared by RustCrypto is valid for us too, and vice versa.
    assert_eq!(
        reference::prepare(&key, distid).is_ok(),
        VerifyingKey::from_sec1_bytes(&key, distid).is_ok(),
        "key validity differs: {key:02x?}"
    );
});
