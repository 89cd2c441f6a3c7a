//! Sign, verify, hash and encrypt per suite and algorithm.
//!
//! `cargo bench -p covenant-crypto --bench suites`; results are recorded in
//! `docs/PERFORMANCE.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use covenant_crypto::{CipherAlgorithm, HashAlgorithm, KeyAlgorithm, PrivateKey, SymmetricKey};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A typical transaction payload size.
const TX_PAYLOAD: usize = 256;

fn signatures(c: &mut Criterion) {
    let msg = vec![0x5au8; TX_PAYLOAD];
    for alg in KeyAlgorithm::ALL {
        let key = PrivateKey::generate(alg).unwrap();
        let public = key.public_key().clone();
        let sig = key.sign(&msg).unwrap();
        let mut g = c.benchmark_group(format!("{}/{alg}", alg.suite()));
        g.throughput(Throughput::Elements(1));
        g.bench_function("sign", |b| b.iter(|| key.sign(black_box(&msg)).unwrap()));
        g.bench_function("verify", |b| {
            b.iter(|| public.verify(black_box(&msg), black_box(&sig)).unwrap())
        });
        g.finish();
    }
}

fn hashes(c: &mut Criterion) {
    for alg in [HashAlgorithm::Sm3, HashAlgorithm::Sha256] {
        let mut g = c.benchmark_group(format!("hash/{}", alg.name()));
        for size in [64usize, 1024, 16 * 1024] {
            let data = vec![7u8; size];
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_function(format!("{size}B"), |b| {
                b.iter(|| alg.digest(black_box(&data)))
            });
        }
        g.finish();
    }
}

fn ciphers(c: &mut Criterion) {
    for alg in [CipherAlgorithm::Sm4Gcm, CipherAlgorithm::Aes256Gcm] {
        let key = SymmetricKey::generate(alg).unwrap();
        let mut g = c.benchmark_group(format!("cipher/{}", alg.name()));
        for size in [1024usize, 16 * 1024] {
            let data = vec![9u8; size];
            let sealed = key.seal(b"aad", &data).unwrap();
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_function(format!("seal/{size}B"), |b| {
                b.iter(|| key.seal(b"aad", black_box(&data)).unwrap())
            });
            g.bench_function(format!("open/{size}B"), |b| {
                b.iter(|| key.open(b"aad", black_box(&sealed)).unwrap())
            });
        }
        g.finish();
    }
}

criterion_group!(benches, signatures, hashes, ciphers);
criterion_main!(benches);
