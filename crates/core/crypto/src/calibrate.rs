//! Measure this machine's signature verification rate, per core, for a suite.
//!
//! `covenant bench calibrate` prints the result; a node's throughput ceiling is derived from
//! [`Calibration::verify_per_sec_per_core`].
//!
//! Method: one thread; [`KEYS`] distinct signers, each with its own [`MESSAGE_BYTES`]-byte
//! message (a typical transaction payload) and signature, made before the clock starts. Each
//! verifier first verifies every case once (untimed: keys get cached and prepared as they would
//! be on a node that sees the same signers again), then verifies the cases in rotation for its
//! share of the time budget. When two verifiers are compared they run on the same cases in
//! alternating slices, so frequency changes and background load hit both alike. Every
//! verification must succeed; a failure is an error, not a number.
//!
//! - `sm`: Covenant's SM2 verifier (`PublicKey::verify`, see [`crate::sm2_verify`]) against the
//!   RustCrypto `sm2` crate ([`crate::sm2_verify::reference`]) as the baseline.
//! - `intl`: ECDSA P-256 and Ed25519 as `PublicKey::verify` does them; no baseline.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{
    CryptoError, KeyAlgorithm, PrivateKey, PublicKey, SM2_DEFAULT_DISTID, Suite,
    sm2_verify::reference,
};

/// Distinct signers the measurement cycles through.
pub const KEYS: usize = 16;
/// Size of each signed message: a typical transaction payload.
pub const MESSAGE_BYTES: usize = 256;
/// The default time budget of a calibration run.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(2);
/// Name of Covenant's own verifiers in a [`Measurement`].
pub const COVENANT: &str = "covenant";
/// Name of the SM2 baseline verifier.
pub const RUSTCRYPTO_SM2: &str = "rustcrypto-sm2";

/// Alternating slices per verifier when two are compared.
const ROUNDS: u32 = 10;

/// One verifier's measured rate.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub algorithm: KeyAlgorithm,
    /// `covenant` or the baseline's name.
    pub implementation: &'static str,
    pub verifications: u64,
    pub seconds: f64,
    pub verify_per_sec_per_core: f64,
    pub micros_per_verify: f64,
}

/// The result of a calibration run. The top-level rate is the suite's default key algorithm
/// (`sm2` for `sm`, `p256` for `intl`, also the slower of the two `intl` algorithms);
/// `measurements` lists every verifier measured.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub suite: Suite,
    pub algorithm: KeyAlgorithm,
    /// Cores available to this process (the rates are per core, measured on one thread).
    pub cores: usize,
    pub verify_per_sec_per_core: f64,
    /// The verifier compared against, if any.
    pub baseline: Option<&'static str>,
    pub baseline_verify_per_sec_per_core: Option<f64>,
    /// `verify_per_sec_per_core / baseline_verify_per_sec_per_core`.
    pub ratio: Option<f64>,
    pub threads: usize,
    pub keys: usize,
    pub message_bytes: usize,
    /// Time spent verifying, all verifiers together.
    pub seconds: f64,
    pub measurements: Vec<Measurement>,
}

/// A signed message ready to verify.
struct Case {
    public: PublicKey,
    rustcrypto: Option<sm2::dsa::VerifyingKey>,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn cases(algorithm: KeyAlgorithm) -> Result<Vec<Case>, CryptoError> {
    (0..KEYS)
        .map(|i| {
            let key = PrivateKey::generate(algorithm)?;
            let mut message = vec![0u8; MESSAGE_BYTES];
            crate::random_bytes(&mut message)?;
            // Distinct messages per signer, whatever the random bytes.
            message[0] = i as u8;
            let signature = key.sign(&message)?;
            // Parse the public key back from bytes, as a node would from a transaction.
            let bytes = key.public_key().to_bytes();
            let public = PublicKey::from_bytes(algorithm, &bytes)?;
            let rustcrypto = match algorithm {
                KeyAlgorithm::Sm2 => Some(reference::prepare(&bytes, SM2_DEFAULT_DISTID)?),
                _ => None,
            };
            Ok(Case {
                public,
                rustcrypto,
                message,
                signature,
            })
        })
        .collect()
}

/// A verifier under measurement.
type Verify<'a> = Box<dyn Fn(&Case) -> Result<(), CryptoError> + 'a>;

struct Contender<'a> {
    algorithm: KeyAlgorithm,
    implementation: &'static str,
    verify: Verify<'a>,
    verifications: u64,
    elapsed: Duration,
}

impl Contender<'_> {
    /// Verify cases in rotation for at least `slice`.
    fn run(&mut self, cases: &[Case], slice: Duration) -> Result<(), CryptoError> {
        let start = Instant::now();
        let mut i = self.verifications as usize;
        loop {
            (self.verify)(&cases[i % cases.len()])?;
            i += 1;
            self.verifications += 1;
            if start.elapsed() >= slice {
                break;
            }
        }
        self.elapsed += start.elapsed();
        Ok(())
    }

    fn measurement(&self) -> Measurement {
        let seconds = self.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            self.verifications as f64 / seconds
        } else {
            0.0
        };
        Measurement {
            algorithm: self.algorithm,
            implementation: self.implementation,
            verifications: self.verifications,
            seconds,
            verify_per_sec_per_core: rate,
            micros_per_verify: if rate > 0.0 { 1e6 / rate } else { 0.0 },
        }
    }
}

fn covenant_verify<'a>() -> Verify<'a> {
    Box::new(|c: &Case| c.public.verify(&c.message, &c.signature))
}

fn rustcrypto_verify<'a>() -> Verify<'a> {
    Box::new(|c: &Case| match &c.rustcrypto {
        Some(key) => reference::verify_with(key, &c.message, &c.signature),
        None => Err(CryptoError::UnsupportedAlgorithm(
            "the SM2 baseline needs SM2 keys".into(),
        )),
    })
}

/// Measure `suite`'s verification rate within about `budget` of verifying (key generation and
/// signing come on top, a few milliseconds).
pub fn calibrate(suite: Suite, budget: Duration) -> Result<Calibration, CryptoError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // (algorithm, contenders on that algorithm's cases)
    let groups: Vec<(KeyAlgorithm, Vec<Contender<'_>>)> = match suite {
        Suite::Sm => vec![(
            KeyAlgorithm::Sm2,
            vec![
                Contender {
                    algorithm: KeyAlgorithm::Sm2,
                    implementation: COVENANT,
                    verify: covenant_verify(),
                    verifications: 0,
                    elapsed: Duration::ZERO,
                },
                Contender {
                    algorithm: KeyAlgorithm::Sm2,
                    implementation: RUSTCRYPTO_SM2,
                    verify: rustcrypto_verify(),
                    verifications: 0,
                    elapsed: Duration::ZERO,
                },
            ],
        )],
        Suite::Intl => suite
            .key_algorithms()
            .iter()
            .map(|&alg| {
                (
                    alg,
                    vec![Contender {
                        algorithm: alg,
                        implementation: COVENANT,
                        verify: covenant_verify(),
                        verifications: 0,
                        elapsed: Duration::ZERO,
                    }],
                )
            })
            .collect(),
    };
    let contenders_total: u32 = groups.iter().map(|(_, c)| c.len() as u32).sum();
    let slice = budget / (contenders_total.max(1) * ROUNDS);

    let mut measurements = Vec::new();
    for (algorithm, mut contenders) in groups {
        let cases = cases(algorithm)?;
        // Untimed warm-up pass: caches, prepared keys, lazily built tables.
        for c in &contenders {
            for case in &cases {
                (c.verify)(case)?;
            }
        }
        for _ in 0..ROUNDS {
            for c in contenders.iter_mut() {
                c.run(&cases, slice)?;
            }
        }
        measurements.extend(contenders.iter().map(Contender::measurement));
    }

    let default = suite.default_key_algorithm();
    let ours = measurements
        .iter()
        .find(|m| m.algorithm == default && m.implementation == COVENANT)
        .map_or(0.0, |m| m.verify_per_sec_per_core);
    let baseline = measurements
        .iter()
        .find(|m| m.algorithm == default && m.implementation != COVENANT);
    let baseline_rate = baseline.map(|m| m.verify_per_sec_per_core);
    Ok(Calibration {
        suite,
        algorithm: default,
        cores,
        verify_per_sec_per_core: ours,
        baseline: baseline.map(|m| m.implementation),
        baseline_verify_per_sec_per_core: baseline_rate,
        ratio: baseline_rate.filter(|b| *b > 0.0).map(|b| ours / b),
        threads: 1,
        keys: KEYS,
        message_bytes: MESSAGE_BYTES,
        seconds: measurements.iter().map(|m| m.seconds).sum(),
        measurements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm_calibration_compares_with_the_baseline() {
        let c = calibrate(Suite::Sm, Duration::from_millis(100)).unwrap();
        assert_eq!(c.algorithm, KeyAlgorithm::Sm2);
        assert_eq!(c.baseline, Some(RUSTCRYPTO_SM2));
        assert_eq!(c.measurements.len(), 2);
        assert!(c.verify_per_sec_per_core > 0.0);
        let ratio = c.ratio.unwrap();
        let base = c.baseline_verify_per_sec_per_core.unwrap();
        assert!((ratio - c.verify_per_sec_per_core / base).abs() < 1e-9);
        assert!(c.cores >= 1);
        assert!(
            c.measurements
                .iter()
                .all(|m| m.verifications >= KEYS as u64)
        );
    }

    #[test]
    fn intl_calibration_measures_both_algorithms() {
        let c = calibrate(Suite::Intl, Duration::from_millis(60)).unwrap();
        assert_eq!(c.algorithm, KeyAlgorithm::EcdsaP256);
        assert_eq!(c.baseline, None);
        assert_eq!(c.ratio, None);
        let algs: Vec<_> = c.measurements.iter().map(|m| m.algorithm).collect();
        assert_eq!(algs, vec![KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519]);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["suite"], "intl");
        assert_eq!(json["algorithm"], "p256");
        assert!(json["baseline"].is_null());
    }
}
