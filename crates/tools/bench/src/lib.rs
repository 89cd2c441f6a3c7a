//! `covenant bench`: measure this machine (`calibrate`) and a running chain (`run`) — the
//! load generator, its workloads and its reports. The `covenant` binary parses these
//! commands and prints what [`run`] returns.

#![forbid(unsafe_code)]

pub mod console;
mod error;
pub mod load;
pub mod platform;
pub mod report;
pub mod usage;
pub mod workload;

use std::time::Duration;

use clap::{Args, Subcommand};
use covenant_crypto::{
    Suite,
    calibrate::{self, Calibration},
};

pub use error::{BenchError, Result};

/// The longest measurement `--seconds` accepts.
const MAX_SECONDS: f64 = 600.0;

#[derive(Debug, Args)]
#[command(
    about = "Measure a running chain (bench run) and this machine's verification rate (bench calibrate)",
    long_about = "Measure a running chain and this machine. Every node verifies every \
transaction's signature, so signature verification bounds a chain's throughput: `bench \
calibrate` measures how many verifications one core of this machine does per second, and \
`bench run` drives a workload against a chain and reports its committed TPS and latency against \
that ceiling (cores × verify rate ÷ replicas that verify each transaction). `bench platform` \
drives the platform's API with reads and votes from many clients; `bench console` times every \
page of a running console."
)]
pub struct BenchCommand {
    #[command(subcommand)]
    command: BenchSub,
}

#[derive(Debug, Subcommand)]
enum BenchSub {
    Run(load::RunArgs),
    Calibrate(CalibrateArgs),
    Platform(platform::PlatformArgs),
    Console(console::ConsoleArgs),
}

/// Measure signature verifications per second per core for a suite (one thread).
#[derive(Debug, Args)]
#[command(
    long_about = "Measure signature verifications per second per core for a suite, on one \
thread. 16 signers each sign a 256-byte message (a typical transaction payload) before the clock \
starts; every key is verified once untimed (as a node's key cache would hold signers it has seen), \
then the signatures are verified in rotation for the time budget.\n\nsm: Covenant's SM2 \
verifier (SM3, default distinguishing ID) against the RustCrypto sm2 crate on the same keys and \
messages, in alternating slices, with their ratio.\nintl: ECDSA P-256 and Ed25519; the \
top-level rate is P-256's (the suite's default and slower algorithm) and there is no baseline.",
    after_help = "JSON fields: suite, algorithm, cores, verify_per_sec_per_core, baseline, \
baseline_verify_per_sec_per_core, ratio (baseline fields are null for intl), threads, keys, \
message_bytes, seconds, and measurements (one per verifier: algorithm, implementation, \
verifications, seconds, verify_per_sec_per_core, micros_per_verify).\n\nExamples:\n  covenant \
bench calibrate\n  covenant bench calibrate --suite intl --seconds 5\n  covenant bench calibrate \
--suite sm --output json"
)]
struct CalibrateArgs {
    /// Algorithm suite: `sm` (SM2, compared with RustCrypto's sm2) or `intl` (P-256, Ed25519).
    #[arg(long, default_value = "sm")]
    suite: String,
    /// Time spent verifying, in seconds, shared by the verifiers measured (at most 600).
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
}

/// What a bench command measured: print [`Outcome::text`], or serialize it for `--output
/// json`.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Run(Box<report::Report>),
    Calibrate(Calibration),
    Platform(Box<platform::PlatformReport>),
    Console(Box<console::ConsoleReport>),
}

impl Outcome {
    /// Whether the run found a fault: a transaction lost, or ledgers that differ.
    pub fn failed(&self) -> bool {
        match self {
            Outcome::Run(r) => r.lost > 0 || r.ledgers_agree == Some(false),
            Outcome::Calibrate(_) | Outcome::Platform(_) | Outcome::Console(_) => false,
        }
    }

    /// The human-readable report.
    pub fn text(&self) -> String {
        match self {
            Outcome::Run(r) => r.text(),
            Outcome::Calibrate(c) => text(c),
            Outcome::Platform(p) => p.text(),
            Outcome::Console(c) => c.text(),
        }
    }
}

/// Run a bench command (progress goes to standard error).
pub fn run(cmd: BenchCommand) -> Result<Outcome> {
    match cmd.command {
        BenchSub::Run(a) => load::run(a).map(|r| Outcome::Run(Box::new(r))),
        BenchSub::Calibrate(a) => calibrate_cmd(a).map(Outcome::Calibrate),
        BenchSub::Platform(a) => platform::run(a).map(|r| Outcome::Platform(Box::new(r))),
        BenchSub::Console(a) => console::run(a).map(|r| Outcome::Console(Box::new(r))),
    }
}

fn budget(seconds: f64) -> Result<Duration> {
    if !seconds.is_finite() || seconds <= 0.0 || seconds > MAX_SECONDS {
        return Err(BenchError::new(
            "INVALID_ARGUMENT",
            format!("--seconds must be more than 0 and at most {MAX_SECONDS}, got {seconds}"),
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `12345.6` → `12,346`.
pub fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn text(c: &Calibration) -> String {
    let mut t = format!(
        "Signature verification on this machine, suite {} (one thread; {} core{} available)\n",
        c.suite,
        c.cores,
        if c.cores == 1 { "" } else { "s" }
    );
    for m in &c.measurements {
        t.push_str(&format!(
            "  {:<15} {:<8} {:>9} verifications/s per core  {:>8.1} µs each\n",
            m.implementation,
            m.algorithm.name(),
            thousands(m.verify_per_sec_per_core),
            m.micros_per_verify
        ));
    }
    if let (Some(ratio), Some(baseline)) = (c.ratio, c.baseline) {
        t.push_str(&format!("  ratio {ratio:.2}× (covenant / {baseline})\n"));
    }
    t.push_str(&format!(
        "Per-core rate for {}: {} verifications/s. Measured for {:.1} s over {} keys and \
{}-byte messages.",
        c.algorithm,
        thousands(c.verify_per_sec_per_core),
        c.seconds,
        c.keys,
        c.message_bytes
    ));
    t
}

fn calibrate_cmd(a: CalibrateArgs) -> Result<Calibration> {
    let suite: Suite = a.suite.parse()?;
    let budget = budget(a.seconds)?;
    Ok(calibrate::calibrate(suite, budget)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(18594.6), "18,595");
        assert_eq!(thousands(1234567.0), "1,234,567");
    }

    #[test]
    fn budget_bounds() {
        assert!(budget(2.0).is_ok());
        assert!(budget(0.05).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 601.0] {
            assert!(budget(bad).is_err(), "{bad}");
        }
    }
}
