//! The fast SM2 verifier against the RustCrypto `sm2` verifier and OpenSSL: random keys,
//! messages and signatures, valid and corrupted, must get the same answer; a fixed set of
//! tricky inputs is replayed through both verifiers; the GM/T 0003.5 example verifies through
//! the public API.

use std::{path::Path, process::Command};

use covenant_crypto::{
    CryptoError, KeyAlgorithm, PublicKey, SM2_DEFAULT_DISTID,
    sm2_verify::{self, VerifyingKey, reference},
};
use p256::ecdsa::signature::Signer as _;

/// The group order n, big-endian.
const N: &str = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123";

/// A small deterministic generator (splitmix64), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
    fn bytes32(&mut self) -> [u8; 32] {
        self.bytes(32).try_into().unwrap()
    }
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from big-endian magnitudes, written independently of
/// the crate's encoder.
fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn integer(v: &[u8]) -> Vec<u8> {
        let start = v.iter().position(|&b| b != 0).unwrap_or(v.len() - 1);
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

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s.replace(' ', "")).unwrap().try_into().unwrap()
}

/// Big-endian 256-bit `a + b` (wrapping) and `a − b` (wrapping).
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

fn code(r: &Result<(), CryptoError>) -> &'static str {
    match r {
        Ok(()) => "OK",
        Err(e) => e.code(),
    }
}

/// Run one input through every route of the fast verifier and through RustCrypto; all must
/// agree. Returns the common answer's code.
fn both(key: &[u8], distid: &str, message: &[u8], signature: &[u8]) -> &'static str {
    let expected = reference::verify(key, distid, message, signature);
    // Cached route (what PublicKey uses), twice: first and repeated use of a key.
    for _ in 0..2 {
        let ours = sm2_verify::verify(key, distid, message, signature);
        assert_eq!(
            code(&ours),
            code(&expected),
            "cached route disagrees: key {} distid {distid:?} msg {} sig {}",
            hex::encode(key),
            hex::encode(message),
            hex::encode(signature)
        );
    }
    // A fresh prepared key: the single 256-step chain, then the split chain.
    if let Ok(fresh) = VerifyingKey::from_sec1_bytes(key, distid) {
        for _ in 0..2 {
            assert_eq!(
                code(&fresh.verify(message, signature)),
                code(&expected),
                "fresh key disagrees: key {} distid {distid:?} msg {} sig {}",
                hex::encode(key),
                hex::encode(message),
                hex::encode(signature)
            );
        }
    }
    code(&expected)
}

struct Signed {
    key: Vec<u8>,
    distid: &'static str,
    message: Vec<u8>,
    r: [u8; 32],
    s: [u8; 32],
}

/// A deterministic SM2 signature by RustCrypto's signer under a random key.
fn signed(rng: &mut Rng, distid: &'static str) -> Signed {
    loop {
        let secret = rng.bytes32();
        let Ok(sk) = sm2::dsa::SigningKey::from_bytes(distid, &secret.into()) else {
            continue;
        };
        let len = rng.below(300);
        let message = rng.bytes(len);
        let sig: sm2::dsa::Signature = sk.sign(&message);
        return Signed {
            key: sk.verifying_key().to_sec1_bytes().to_vec(),
            distid,
            message,
            r: sig.r_bytes().into(),
            s: sig.s_bytes().into(),
        };
    }
}

/// Valid signatures and corruptions of them, for random keys: every answer matches RustCrypto.
#[test]
fn random_signatures_and_corruptions_match_rustcrypto() {
    let mut rng = Rng(0x5eed_5132);
    let n = hex32(N);
    let distids = [
        SM2_DEFAULT_DISTID,
        SM2_DEFAULT_DISTID,
        "",
        "ALICE123@YAHOO.COM",
    ];
    let (mut ok, mut bad, mut malformed) = (0, 0, 0);
    let mut previous_key: Option<Vec<u8>> = None;
    for i in 0..160 {
        let sig = signed(&mut rng, distids[i % distids.len()]);
        let (key, id, msg) = (&sig.key, sig.distid, &sig.message);
        let valid = der(&sig.r, &sig.s);
        assert_eq!(both(key, id, msg, &valid), "OK");
        let mut variants: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (msg.clone(), der(&add32(&sig.r, &small(1)), &sig.s)),
            (msg.clone(), der(&sig.r, &add32(&sig.s, &small(1)))),
            (msg.clone(), der(&sub32(&sig.r, &small(1)), &sig.s)),
            (msg.clone(), der(&sig.s, &sig.r)),
            (msg.clone(), der(&sub32(&n, &sig.r), &sig.s)),
            (msg.clone(), der(&sig.r, &sub32(&n, &sig.s))),
            (msg.clone(), der(&add32(&sig.r, &n), &sig.s)), // wraps mod 2^256
            (
                msg.clone(),
                der(&add32(&n, &small(rng.below(200) as u8)), &sig.s),
            ), // r ≥ n
            (msg.clone(), der(&sig.r, &sub32(&n, &sig.r))), // r + s = n
            ([msg.as_slice(), b"x"].concat(), valid.clone()),
        ];
        if !msg.is_empty() {
            let mut m = msg.clone();
            let at = rng.below(m.len());
            m[at] ^= 1 << rng.below(8);
            variants.push((m, valid.clone()));
        }
        // A random bit flip anywhere in the DER.
        let mut flipped = valid.clone();
        let at = rng.below(flipped.len());
        flipped[at] ^= 1 << rng.below(8);
        variants.push((msg.clone(), flipped));
        // Random junk signatures.
        variants.push((msg.clone(), der(&rng.bytes32(), &rng.bytes32())));
        for (m, s) in &variants {
            match both(key, id, m, s) {
                "OK" => ok += 1,
                "SIGNATURE_INVALID" => bad += 1,
                "SIGNATURE_MALFORMED" => malformed += 1,
                other => panic!("unexpected {other}"),
            }
        }
        // Under the wrong ID and under another key.
        let other_id = if id == SM2_DEFAULT_DISTID {
            ""
        } else {
            SM2_DEFAULT_DISTID
        };
        assert_eq!(both(key, other_id, msg, &valid), "SIGNATURE_INVALID");
        if let Some(other) = &previous_key {
            assert_eq!(both(other, id, msg, &valid), "SIGNATURE_INVALID");
        }
        previous_key = Some(key.clone());
    }
    // No corruption verified, and both rejection classes showed up.
    assert!(
        ok == 0 && bad > 1500 && malformed > 160,
        "ok {ok} bad {bad} malformed {malformed}"
    );
}

/// The same answers through `PublicKey`, the API the rest of Covenant uses.
#[test]
fn public_key_routes_sm2_through_the_fast_verifier() {
    let mut rng = Rng(77);
    for _ in 0..20 {
        let sig = signed(&mut rng, SM2_DEFAULT_DISTID);
        let pk = PublicKey::from_bytes(KeyAlgorithm::Sm2, &sig.key).unwrap();
        let good = der(&sig.r, &sig.s);
        pk.verify(&sig.message, &good).unwrap();
        pk.verify_with_distid(&sig.message, &good, SM2_DEFAULT_DISTID)
            .unwrap();
        assert_eq!(
            pk.verify_with_distid(&sig.message, &good, "").unwrap_err(),
            CryptoError::BadSignature
        );
        let bad = der(&sig.r, &add32(&sig.s, &small(1)));
        assert_eq!(
            code(&pk.verify(&sig.message, &bad)),
            code(&reference::verify_with(
                pk.as_sm2().unwrap(),
                &sig.message,
                &bad
            ))
        );
    }
}

/// GM/T 0003.5-2012 (GB/T 32918.5-2017) Annex A, the signature example on the recommended
/// curve: public key (xA, yA), ID "1234567812345678", message "message digest", signature
/// (r, s) as published. (GM/T 0003.2's Annex A example uses a different test curve and is not
/// applicable to this verifier, which is specialised to the recommended curve.)
#[test]
fn gmt_0003_5_example_verifies_through_public_key() {
    let key = hex::decode(concat!(
        "04",
        "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020",
        "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
    ))
    .unwrap();
    let r = hex32("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3");
    let s = hex32("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA");
    let pk = PublicKey::from_bytes(KeyAlgorithm::Sm2, &key).unwrap();
    let sig = der(&r, &s);
    pk.verify(b"message digest", &sig).unwrap();
    assert_eq!(
        both(&key, SM2_DEFAULT_DISTID, b"message digest", &sig),
        "OK"
    );
    assert_eq!(
        pk.verify(b"message digest!", &sig).unwrap_err(),
        CryptoError::BadSignature
    );
}

/// Tricky inputs, replayed through both verifiers on every test run (the fuzzer explores
/// around them; add anything it finds here).
#[test]
fn tricky_inputs_replay_through_both_verifiers() {
    let example_key = hex::decode(concat!(
        "04",
        "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020",
        "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
    ))
    .unwrap();
    let compressed_example = [&[0x03u8][..], &example_key[1..33]].concat();
    let msg = b"message digest";
    let id = SM2_DEFAULT_DISTID;
    let r = hex32("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3");
    let s = hex32("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA");
    let n = hex32(N);
    let n_minus_1 = sub32(&n, &small(1));
    let one = small(1);
    // s such that s·G + (r + s)·P is the identity for the example key (d known):
    // s = −r·d / (1 + d) mod n.
    let identity_s = {
        use sm2::elliptic_curve::PrimeField as _;
        let d = sm2::Scalar::from_repr(
            hex32("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8").into(),
        )
        .unwrap();
        let r_s = sm2::Scalar::from_repr(r.into()).unwrap();
        let inv = (sm2::Scalar::ONE + d).invert().unwrap();
        let v: [u8; 32] = (-(r_s * d) * inv).to_repr().into();
        v
    };
    let long_id = "z".repeat(8191);
    let too_long_id = "z".repeat(8192);
    // (what, public key, ID, message, signature, expected code)
    type Case<'a> = (&'a str, Vec<u8>, &'a str, &'a [u8], Vec<u8>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("published", example_key.clone(), id, msg, der(&r, &s), "OK"),
        (
            "compressed key",
            compressed_example.clone(),
            id,
            msg,
            der(&r, &s),
            "OK",
        ),
        (
            "empty ID",
            example_key.clone(),
            "",
            msg,
            der(&r, &s),
            "SIGNATURE_INVALID",
        ),
        (
            "r = n − 1",
            example_key.clone(),
            id,
            msg,
            der(&n_minus_1, &s),
            "SIGNATURE_INVALID",
        ),
        (
            "s = n − 1",
            example_key.clone(),
            id,
            msg,
            der(&r, &n_minus_1),
            "SIGNATURE_INVALID",
        ),
        (
            "r = s = 1",
            example_key.clone(),
            id,
            msg,
            der(&one, &one),
            "SIGNATURE_INVALID",
        ),
        (
            "r = n",
            example_key.clone(),
            id,
            msg,
            der(&n, &s),
            "SIGNATURE_MALFORMED",
        ),
        (
            "s = n",
            example_key.clone(),
            id,
            msg,
            der(&r, &n),
            "SIGNATURE_MALFORMED",
        ),
        (
            "r = 0",
            example_key.clone(),
            id,
            msg,
            der(&[0; 32], &s),
            "SIGNATURE_MALFORMED",
        ),
        (
            "s = 0",
            example_key.clone(),
            id,
            msg,
            der(&r, &[0; 32]),
            "SIGNATURE_MALFORMED",
        ),
        (
            "r = 2^256 − 1",
            example_key.clone(),
            id,
            msg,
            der(&[0xff; 32], &s),
            "SIGNATURE_MALFORMED",
        ),
        (
            "r + s = n",
            example_key.clone(),
            id,
            msg,
            der(&r, &sub32(&n, &r)),
            "SIGNATURE_INVALID",
        ),
        (
            "sum is the identity",
            example_key.clone(),
            id,
            msg,
            der(&r, &identity_s),
            "SIGNATURE_INVALID",
        ),
        (
            "r + n (33 bytes)",
            example_key.clone(),
            id,
            msg,
            {
                let mut v = vec![0x01];
                v.extend(add32(&r, &n));
                der(&v, &s)
            },
            "SIGNATURE_MALFORMED",
        ),
        (
            "trailing byte",
            example_key.clone(),
            id,
            msg,
            [der(&r, &s), vec![0]].concat(),
            "SIGNATURE_MALFORMED",
        ),
        (
            "truncated",
            example_key.clone(),
            id,
            msg,
            der(&r, &s)[..70].to_vec(),
            "SIGNATURE_MALFORMED",
        ),
        (
            "empty",
            example_key.clone(),
            id,
            msg,
            vec![],
            "SIGNATURE_MALFORMED",
        ),
        (
            "SEQUENCE only",
            example_key.clone(),
            id,
            msg,
            vec![0x30, 0x00],
            "SIGNATURE_MALFORMED",
        ),
        (
            "non-minimal r",
            example_key.clone(),
            id,
            msg,
            {
                // r = 1 written as 02 02 00 01.
                let mut out = vec![0x30, 0x27, 0x02, 0x02, 0x00, 0x01, 0x02, 0x21, 0x00];
                out.extend(s);
                out
            },
            "SIGNATURE_MALFORMED",
        ),
        (
            "negative r",
            example_key.clone(),
            id,
            msg,
            {
                let mut out = vec![0x30, 0x45, 0x02, 0x20];
                out.extend(r);
                out.extend([0x02, 0x21, 0x00]);
                out.extend(s);
                out
            },
            "SIGNATURE_MALFORMED",
        ),
        (
            "identity key",
            vec![0x00],
            id,
            msg,
            der(&r, &s),
            "KEY_MALFORMED",
        ),
        (
            "off-curve key",
            {
                let mut k = example_key.clone();
                k[64] ^= 1;
                k
            },
            id,
            msg,
            der(&r, &s),
            "KEY_MALFORMED",
        ),
        (
            "x ≥ p",
            [vec![0x04], vec![0xff; 64]].concat(),
            id,
            msg,
            der(&r, &s),
            "KEY_MALFORMED",
        ),
        (
            "short key",
            example_key[..33].to_vec(),
            id,
            msg,
            der(&r, &s),
            "KEY_MALFORMED",
        ),
        (
            "ID of 8191 bytes",
            example_key.clone(),
            &long_id,
            msg,
            der(&r, &s),
            "SIGNATURE_INVALID",
        ),
        (
            "ID of 8192 bytes",
            example_key.clone(),
            &too_long_id,
            msg,
            der(&r, &s),
            "KEY_MALFORMED",
        ),
    ];
    for (what, key, distid, message, sig, expected) in &cases {
        assert_eq!(both(key, distid, message, sig), *expected, "{what}");
    }
}

fn openssl_verifies(dir: &Path, msg: &[u8], sig: &[u8]) -> bool {
    std::fs::write(dir.join("msg"), msg).unwrap();
    std::fs::write(dir.join("sig"), sig).unwrap();
    let out = Command::new("openssl")
        .args([
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "pub.pem",
            "-rawin",
            "-in",
            "msg",
            "-sigfile",
            "sig",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
        ])
        .current_dir(dir)
        .output()
        .expect("the openssl command line must be installed (see .ci/run)");
    out.status.success()
}

/// Random keys, messages and signatures, valid and corrupted: OpenSSL's verdict matches ours.
#[test]
fn random_signatures_and_corruptions_match_openssl() {
    let mut rng = Rng(0x0be5_5e11);
    let n = hex32(N);
    let mut agreed = 0;
    for _ in 0..10 {
        let sig = signed(&mut rng, SM2_DEFAULT_DISTID);
        let pk = PublicKey::from_bytes(KeyAlgorithm::Sm2, &sig.key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pub.pem"), pk.to_spki_pem().unwrap()).unwrap();
        let valid = der(&sig.r, &sig.s);
        let mut flipped_msg = sig.message.clone();
        flipped_msg.push(0x42);
        let mut variants = vec![
            (sig.message.clone(), valid.clone()),
            (flipped_msg, valid.clone()),
            (sig.message.clone(), der(&sig.r, &add32(&sig.s, &small(1)))),
            (sig.message.clone(), der(&sig.s, &sig.r)),
            (sig.message.clone(), der(&sig.r, &sub32(&n, &sig.r))),
            (sig.message.clone(), [valid.clone(), vec![0]].concat()),
        ];
        let mut flipped = valid.clone();
        let at = rng.below(flipped.len());
        flipped[at] ^= 1 << rng.below(8);
        variants.push((sig.message.clone(), flipped));
        for (m, s) in &variants {
            let ours = pk.verify(m, s).is_ok();
            let theirs = openssl_verifies(dir.path(), m, s);
            assert_eq!(
                ours,
                theirs,
                "OpenSSL disagrees: key {} msg {} sig {}",
                hex::encode(&sig.key),
                hex::encode(m),
                hex::encode(s)
            );
            agreed += 1;
        }
    }
    assert_eq!(agreed, 70);
}
