//! Covenant's SM2 verifier and the RustCrypto `sm2` crate side by side, in one run, on the same
//! keys, messages and signatures.
//!
//! `cargo bench -p covenant-crypto --bench sm2_verify`; results are recorded in
//! `docs/PERFORMANCE.md`.
//!
//! - `covenant` — `PublicKey::verify`, the path every SM2 signature takes: strict DER, the
//!   prepared-key cache, SM3, the split doubling chain of a key seen before.
//! - `rustcrypto-sm2` — the RustCrypto verifier with its prepared `VerifyingKey` (Z computed
//!   once), strict DER and range checks included: what `PublicKey::verify` did before.
//! - `covenant-cold` / `rustcrypto-sm2-cold` — a key seen for the first time: parse the public
//!   key, compute Z (and for Covenant build the key's table), then verify.
//! - `covenant-first-two` — a new key verified twice: the cold verification, then the second
//!   one, which builds the key's 2^64/2^128/2^192 tables before taking the short chain.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use covenant_crypto::{
    KeyAlgorithm, PrivateKey, PublicKey, SM2_DEFAULT_DISTID,
    sm2_verify::{self, reference},
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A typical transaction payload size.
const TX_PAYLOAD: usize = 256;
/// Distinct signers cycled through.
const KEYS: usize = 16;

struct Case {
    public: PublicKey,
    sec1: Vec<u8>,
    rustcrypto: sm2::dsa::VerifyingKey,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn cases() -> Vec<Case> {
    (0..KEYS)
        .map(|i| {
            let key = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
            let message: Vec<u8> = (0..TX_PAYLOAD).map(|j| (i * 31 + j) as u8).collect();
            let signature = key.sign(&message).unwrap();
            let public = key.public_key().clone();
            let sec1 = public.to_bytes();
            let rustcrypto = reference::prepare(&sec1, SM2_DEFAULT_DISTID).unwrap();
            Case {
                public,
                sec1,
                rustcrypto,
                message,
                signature,
            }
        })
        .collect()
}

fn side_by_side(c: &mut Criterion) {
    let cases = cases();
    let mut g = c.benchmark_group("sm2-verify");
    g.throughput(Throughput::Elements(1));

    let mut i = 0usize;
    g.bench_function("covenant", |b| {
        b.iter(|| {
            let case = &cases[i % KEYS];
            i += 1;
            case.public
                .verify(black_box(&case.message), black_box(&case.signature))
                .unwrap()
        })
    });
    let mut i = 0usize;
    g.bench_function("rustcrypto-sm2", |b| {
        b.iter(|| {
            let case = &cases[i % KEYS];
            i += 1;
            reference::verify_with(
                &case.rustcrypto,
                black_box(&case.message),
                black_box(&case.signature),
            )
            .unwrap()
        })
    });
    let mut i = 0usize;
    g.bench_function("covenant-cold", |b| {
        b.iter(|| {
            let case = &cases[i % KEYS];
            i += 1;
            let key = sm2_verify::VerifyingKey::from_sec1_bytes(
                black_box(&case.sec1),
                SM2_DEFAULT_DISTID,
            )
            .unwrap();
            key.verify(black_box(&case.message), black_box(&case.signature))
                .unwrap()
        })
    });
    let mut i = 0usize;
    g.bench_function("covenant-first-two", |b| {
        b.iter(|| {
            let case = &cases[i % KEYS];
            i += 1;
            let key = sm2_verify::VerifyingKey::from_sec1_bytes(
                black_box(&case.sec1),
                SM2_DEFAULT_DISTID,
            )
            .unwrap();
            for _ in 0..2 {
                key.verify(black_box(&case.message), black_box(&case.signature))
                    .unwrap()
            }
        })
    });
    let mut i = 0usize;
    g.bench_function("rustcrypto-sm2-cold", |b| {
        b.iter(|| {
            let case = &cases[i % KEYS];
            i += 1;
            reference::verify(
                black_box(&case.sec1),
                SM2_DEFAULT_DISTID,
                black_box(&case.message),
                black_box(&case.signature),
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, side_by_side);
criterion_main!(benches);
