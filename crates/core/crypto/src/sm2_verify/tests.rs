//! Unit tests of the fast verifier's internals against published values and RustCrypto.

use std::sync::Arc;

use sm2::elliptic_curve::sec1::ToSec1Point as _;

use super::{
    field::{Fe, TestRng},
    scalar::N,
    *,
};

fn hex_bytes(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn hex32(s: &str) -> [u8; 32] {
    hex_bytes(s).try_into().unwrap()
}

/// GM/T 0003.5-2012 (GB/T 32918.5-2017) Annex A: the digital signature example on the
/// recommended curve, with ID "1234567812345678" and message "message digest".
mod gmt_0003_5_annex_a {
    pub const PRIVATE_KEY: &str =
        "3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8";
    pub const PUBLIC_X: &str =
        "09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020";
    pub const PUBLIC_Y: &str =
        "CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13";
    pub const ID: &str = "1234567812345678";
    pub const MESSAGE: &[u8] = b"message digest";
    pub const Z: &str = "B2E14C5C 79C6DF5B 85F4FE7E D8DB7A26 2B9DA7E0 7CCB0EA9 F4747B8C CDA8A4F3";
    pub const E: &str = "F0B43E94 BA45ACCA ACE692ED 534382EB 17E6AB5A 19CE7B31 F4486FDF C0D28640";
    pub const K: &str = "59276E27 D506861A 16680F3A D9C02DCC EF3CC1FA 3CDBE4CE 6D54B80D EAC1BC21";
    pub const X1: &str = "04EBFC71 8E8D1798 62043226 8E77FEB6 415E2EDE 0E073C0F 4F640ECD 2E149A73";
    pub const Y1: &str = "E858F9D8 1E5430A5 7B36DAAB 8F950A3C 64E6EE6A 63094D99 283AFF76 7E124DF0";
    pub const R: &str = "F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3";
    pub const S: &str = "B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA";
}

fn example_key_bytes() -> Vec<u8> {
    use gmt_0003_5_annex_a::*;
    let mut b = vec![0x04];
    b.extend(hex_bytes(PUBLIC_X));
    b.extend(hex_bytes(PUBLIC_Y));
    b
}

/// k·G through the base point table, affine.
fn mul_g(k: &[u8; 32]) -> Option<Affine> {
    let k = scalar::Scalar::reduce_bytes(k);
    let naf = wnaf(&k.0, table::BASE_WINDOW);
    linear_combination(&[Term {
        naf: &naf,
        table: base_tables().part(0),
    }])?
    .to_affine()
}

#[test]
fn gmt_0003_5_annex_a_signature_verifies() {
    use gmt_0003_5_annex_a::*;
    let key = VerifyingKey::from_sec1_bytes(&example_key_bytes(), ID).unwrap();
    assert_eq!(key.z(), hex32(Z));
    let e = key.digest(MESSAGE);
    assert_eq!(e, hex32(E));
    // The key pair and the signer's point (x1, y1) = k·G, through the base point table.
    let p = mul_g(&hex32(PRIVATE_KEY)).unwrap();
    assert_eq!(p, key.point);
    let kg = mul_g(&hex32(K)).unwrap();
    assert_eq!(kg.x.to_bytes(), hex32(X1));
    assert_eq!(kg.y.to_bytes(), hex32(Y1));
    // First use takes the single 256-step chain, later uses the split chain.
    for _ in 0..3 {
        key.verify_digest(&e, &hex32(R), &hex32(S)).unwrap();
    }
    let der = ecsig::encode(&hex32(R), &hex32(S)).unwrap();
    key.verify(MESSAGE, &der).unwrap();
    verify(&example_key_bytes(), ID, MESSAGE, &der).unwrap();
    reference::verify(&example_key_bytes(), ID, MESSAGE, &der).unwrap();
    // The compressed form of the same key.
    let mut compressed = vec![if p.y.is_odd() { 3 } else { 2 }];
    compressed.extend(hex_bytes(PUBLIC_X));
    VerifyingKey::from_sec1_bytes(&compressed, ID)
        .unwrap()
        .verify(MESSAGE, &der)
        .unwrap();
    // Any other message, ID or signature fails.
    assert_eq!(
        key.verify(b"message digesT", &der),
        Err(CryptoError::BadSignature)
    );
    assert_eq!(
        verify(&example_key_bytes(), "", MESSAGE, &der),
        Err(CryptoError::BadSignature)
    );
    let mut s = hex32(S);
    s[31] ^= 1;
    assert_eq!(
        key.verify_digest(&e, &hex32(R), &s),
        Err(CryptoError::BadSignature)
    );
}

fn random_bytes32(rng: &mut TestRng) -> [u8; 32] {
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_be_bytes());
    }
    out
}

fn rustcrypto_scalar(k: &[u8; 32]) -> Option<sm2::NonZeroScalar> {
    sm2::NonZeroScalar::try_from(&k[..]).ok()
}

fn to_sec1(p: &Affine) -> Vec<u8> {
    let mut v = vec![0x04];
    v.extend(p.x.to_bytes());
    v.extend(p.y.to_bytes());
    v
}

#[test]
fn base_point_multiples_match_rustcrypto() {
    let mut rng = TestRng::new(10);
    let mut ks: Vec<[u8; 32]> = (0..64).map(|_| random_bytes32(&mut rng)).collect();
    let mut small = [0u8; 32];
    for v in [1u8, 2, 3, 127, 128, 255] {
        small[31] = v;
        ks.push(small);
    }
    let mut n_minus_1 = limbs_to_bytes(&N);
    n_minus_1[31] -= 1;
    ks.push(n_minus_1);
    for k in ks {
        let Some(nz) = rustcrypto_scalar(&k) else {
            continue;
        };
        let expected = sm2::PublicKey::from_secret_scalar(&nz).to_sec1_bytes();
        assert_eq!(
            to_sec1(&mul_g(&k).unwrap())[..],
            expected[..],
            "k = {k:02x?}"
        );
    }
}

fn limbs_to_bytes(l: &[u64; 4]) -> [u8; 32] {
    field::limbs_to_be(l)
}

/// s·G + t·P by the plain and the split chains, against RustCrypto.
#[test]
fn joint_multiplication_matches_rustcrypto_both_ways() {
    let mut rng = TestRng::new(11);
    for i in 0..24 {
        let d = random_bytes32(&mut rng);
        let Some(d_nz) = rustcrypto_scalar(&d) else {
            continue;
        };
        let public = sm2::PublicKey::from_secret_scalar(&d_nz);
        let key = VerifyingKey::from_sec1_bytes(&public.to_sec1_bytes(), "id").unwrap();
        let mut s = random_bytes32(&mut rng);
        let mut t = random_bytes32(&mut rng);
        if i == 0 {
            // Extreme scalars: n − 1 and small.
            s = limbs_to_bytes(&N);
            s[31] -= 1;
            t = [0; 32];
            t[31] = 1;
        }
        let (Some(s_nz), Some(t_nz)) = (rustcrypto_scalar(&s), rustcrypto_scalar(&t)) else {
            continue;
        };
        let expected = (sm2::ProjectivePoint::GENERATOR * *s_nz
            + sm2::ProjectivePoint::from(*public.as_affine()) * *t_nz)
            .to_affine()
            .to_sec1_point(false);
        let s = scalar::Scalar::reduce_bytes(&s);
        let t = scalar::Scalar::reduce_bytes(&t);
        for split in [false, true] {
            let got = key.combine(&s, &t, split).unwrap().to_affine().unwrap();
            assert_eq!(to_sec1(&got)[..], expected.as_bytes()[..], "split={split}");
        }
    }
}

#[test]
fn x_comparison_covers_both_candidates() {
    // A Jacobian point whose affine x is `x`, for an arbitrary Z (the check never looks at y).
    let with_x = |x: [u64; 4], z: Fe| Jacobian {
        x: Fe::from_canonical(x).unwrap().mul(&z.square()),
        y: Fe::ONE,
        z,
    };
    let z = Fe::from_canonical([7, 5, 3, 1]).unwrap();
    let c = scalar::Scalar([1, 0, 0, 0]);
    // x = c
    assert!(x_matches(&with_x([1, 0, 0, 0], z), &c));
    // x = c + n < p: the second candidate.
    let c_plus_n = c.plus_n_below_p().unwrap();
    assert!(x_matches(&with_x(c_plus_n, z), &c));
    // x = c + 2 is neither.
    assert!(!x_matches(&with_x([3, 0, 0, 0], z), &c));
    // For c ≥ p − n there is no second candidate: x = (c + n) − p must not match.
    let big = scalar::Scalar([N[0] - 1, N[1], N[2], N[3]]);
    assert!(big.plus_n_below_p().is_none());
    let wrapped = {
        // (n − 1 + n) − p, computed in the field: (n − 1) + (n mod p) with n < p.
        let n_fe = Fe::from_canonical(N).unwrap();
        let v = Fe::from_canonical(big.0).unwrap().add(&n_fe);
        v.to_canonical()
    };
    assert!(!x_matches(&with_x(wrapped, z), &big));
    assert!(x_matches(&with_x(big.0, z), &big));
}

fn der(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    ecsig::encode(r, s).unwrap()
}

fn code(r: Result<(), CryptoError>) -> &'static str {
    match r {
        Ok(()) => "OK",
        Err(e) => e.code(),
    }
}

#[test]
fn r_and_s_must_lie_in_1_to_n_minus_1() {
    let key = VerifyingKey::from_sec1_bytes(&example_key_bytes(), "1234567812345678").unwrap();
    let e = [0x11; 32];
    let n = limbs_to_bytes(&N);
    let mut n_plus_1 = n;
    n_plus_1[31] += 1;
    let mut one = [0u8; 32];
    one[31] = 1;
    for (r, s) in [
        (n, one),
        (one, n),
        ([0; 32], one),
        (one, [0; 32]),
        (n_plus_1, one),
        (one, [0xff; 32]),
        ([0xff; 32], [0xff; 32]),
    ] {
        let err = key.verify_digest(&e, &r, &s).unwrap_err();
        assert_eq!(err.code(), "SIGNATURE_MALFORMED");
        let sig = der(&r, &s);
        assert_eq!(code(key.verify(b"m", &sig)), "SIGNATURE_MALFORMED");
        assert_eq!(
            code(reference::verify(
                &example_key_bytes(),
                "1234567812345678",
                b"m",
                &sig
            )),
            "SIGNATURE_MALFORMED"
        );
    }
}

#[test]
fn public_keys_must_be_curve_points_other_than_the_identity() {
    let good = example_key_bytes();
    let mut off_curve = good.clone();
    off_curve[64] ^= 1;
    let mut x_too_big = vec![0x04];
    x_too_big.extend([0xff; 64]);
    // x = p (not reduced) with the generator's y.
    let mut x_is_p = vec![0x04];
    x_is_p.extend(limbs_to_bytes(&field::P));
    x_is_p.extend(point::GY_BYTES);
    let mut compressed_bad_tag = vec![0x05];
    compressed_bad_tag.extend(&good[1..33]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("identity", vec![0x00]),
        ("empty", vec![]),
        ("off curve", off_curve),
        ("coordinates ≥ p", x_too_big),
        ("x = p", x_is_p),
        ("truncated", good[..64].to_vec()),
        ("trailing byte", [good.clone(), vec![0]].concat()),
        ("hybrid form", [vec![0x06], good[1..].to_vec()].concat()),
        ("unknown tag", [vec![0x08], good[1..].to_vec()].concat()),
    ];
    for (what, bytes) in cases {
        assert_eq!(
            VerifyingKey::from_sec1_bytes(&bytes, "id")
                .unwrap_err()
                .code(),
            "KEY_MALFORMED",
            "{what}"
        );
        assert_eq!(
            reference::prepare(&bytes, "id").unwrap_err().code(),
            "KEY_MALFORMED",
            "{what} (RustCrypto)"
        );
        let sig = der(&[1; 32], &[1; 32]);
        assert_eq!(
            code(verify(&bytes, "id", b"m", &sig)),
            "KEY_MALFORMED",
            "{what}"
        );
    }
    // The non-standard "compact" form (0x05 ‖ x, not in SEC1) is refused here; RustCrypto's
    // parser accepts it. Covenant's `PublicKey` always hands this verifier the uncompressed
    // encoding, so the difference cannot show through the public API.
    assert_eq!(
        VerifyingKey::from_sec1_bytes(&compressed_bad_tag, "id")
            .unwrap_err()
            .code(),
        "KEY_MALFORMED"
    );
    // A compressed x with no curve point: search a few small x values for one.
    let mut rejected = 0;
    for x0 in 0u8..16 {
        let mut c = vec![0x02];
        let mut x = [0u8; 32];
        x[31] = x0;
        c.extend(x);
        let ours = VerifyingKey::from_sec1_bytes(&c, "id").map(|k| k.to_sec1_bytes().to_vec());
        let theirs = reference::prepare(&c, "id").map(|k| k.to_sec1_bytes().to_vec());
        assert_eq!(ours.is_ok(), theirs.is_ok(), "x = {x0}");
        if let (Ok(a), Ok(b)) = (&ours, &theirs) {
            assert_eq!(a, b);
        } else {
            rejected += 1;
        }
    }
    assert!(rejected > 0);
    // The ID's bit length must fit 16 bits.
    let long = "x".repeat(MAX_DISTID_LEN + 1);
    assert_eq!(
        VerifyingKey::from_sec1_bytes(&good, &long)
            .unwrap_err()
            .code(),
        "KEY_MALFORMED"
    );
    VerifyingKey::from_sec1_bytes(&good, &long[1..]).unwrap();
}

#[test]
fn malformed_der_is_rejected() {
    let key = VerifyingKey::from_sec1_bytes(&example_key_bytes(), "1234567812345678").unwrap();
    let good = der(&[1; 32], &[2; 32]);
    let mut trailing = good.clone();
    trailing.push(0);
    let mut wrong_tag = good.clone();
    wrong_tag[0] = 0x31;
    let mut long_len = good.clone();
    long_len[1] += 1;
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x30],
        vec![0x30, 0x00],
        trailing,
        wrong_tag,
        long_len,
        good[..good.len() - 1].to_vec(),
        // Non-minimal and negative INTEGERs.
        vec![0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01],
        vec![0x30, 0x06, 0x02, 0x01, 0xff, 0x02, 0x01, 0x01],
        // Long-form length where short form is required.
        vec![0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
        // 33-byte integer.
        [
            vec![0x30, 0x26, 0x02, 0x21, 0x01],
            vec![0x55; 32],
            vec![0x02, 0x01, 0x01],
        ]
        .concat(),
    ];
    for sig in cases {
        assert_eq!(
            code(key.verify(b"m", &sig)),
            "SIGNATURE_MALFORMED",
            "{sig:02x?}"
        );
        assert_eq!(
            code(verify(&example_key_bytes(), "1234567812345678", b"m", &sig)),
            "SIGNATURE_MALFORMED"
        );
    }
}

/// r + s = n (t = 0) and s·G + t·P = O are rejected, as RustCrypto does.
#[test]
fn degenerate_signatures_fail_like_rustcrypto() {
    use gmt_0003_5_annex_a::*;
    let key_bytes = example_key_bytes();
    let key = VerifyingKey::from_sec1_bytes(&key_bytes, ID).unwrap();
    let n = scalar::Scalar(N);
    let r = scalar::Scalar::reduce_bytes(&hex32(R));
    // t = 0
    let s = n.sub(&r);
    let sig = der(&limbs_to_bytes(&r.0), &limbs_to_bytes(&s.0));
    assert_eq!(key.verify(MESSAGE, &sig), Err(CryptoError::BadSignature));
    assert_eq!(
        reference::verify(&key_bytes, ID, MESSAGE, &sig),
        Err(CryptoError::BadSignature)
    );
    // s·G + (r + s)·d·G = O  ⇔  s = −r·d / (1 + d): computed with RustCrypto's scalars.
    let d = *rustcrypto_scalar(&hex32(PRIVATE_KEY)).unwrap();
    let r_rc = *rustcrypto_scalar(&hex32(R)).unwrap();
    let inv = Option::<sm2::Scalar>::from((sm2::Scalar::ONE + d).invert()).unwrap();
    let s_rc = -(r_rc * d) * inv;
    let s_bytes: [u8; 32] = s_rc.to_bytes().into();
    let sig = der(&hex32(R), &s_bytes);
    for _ in 0..2 {
        assert_eq!(key.verify(MESSAGE, &sig), Err(CryptoError::BadSignature));
    }
    assert_eq!(
        reference::verify(&key_bytes, ID, MESSAGE, &sig),
        Err(CryptoError::BadSignature)
    );
    let s_scalar = scalar::Scalar::reduce_bytes(&s_bytes);
    let t = scalar::Scalar::reduce_bytes(&hex32(R)).add(&s_scalar);
    assert!(key.combine(&s_scalar, &t, false).unwrap().is_identity());
    assert!(key.combine(&s_scalar, &t, true).unwrap().is_identity());
}

#[test]
fn cache_is_a_bounded_lru() {
    let cache = KeyCache::new(16); // one key per shard
    assert_eq!(cache.capacity(), 16);
    let key = example_key_bytes();
    let a = cache.get_or_prepare(&key, "a").unwrap();
    let a2 = cache.get_or_prepare(&key, "a").unwrap();
    assert!(Arc::ptr_eq(&a, &a2));
    assert_ne!(a.z(), cache.get_or_prepare(&key, "b").unwrap().z());
    assert!(cache.get_or_prepare(&[0x00], "a").is_err());
    for i in 0..100 {
        cache.get_or_prepare(&key, &format!("id{i}")).unwrap();
    }
    assert!(cache.len() <= 16);
}

#[test]
fn concurrent_verification_through_the_cache() {
    use gmt_0003_5_annex_a::*;
    let der = ecsig::encode(&hex32(R), &hex32(S)).unwrap();
    let cache = Arc::new(KeyCache::new(64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let cache = Arc::clone(&cache);
            let der = der.clone();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let key = cache.get_or_prepare(&example_key_bytes(), ID).unwrap();
                    key.verify(MESSAGE, &der).unwrap();
                    assert_eq!(key.verify(b"x", &der), Err(CryptoError::BadSignature));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(cache.len(), 1);
}
