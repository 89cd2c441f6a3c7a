//! `covenant bench calibrate`: the JSON shape a throughput ceiling is computed from, the text
//! form, and argument errors with stable codes.

use crate::covenant;

#[test]
fn calibrate_sm_reports_ours_the_baseline_and_their_ratio() {
    let tmp = tempfile::tempdir().unwrap();
    let out = covenant(
        tmp.path(),
        &[
            "bench",
            "calibrate",
            "--suite",
            "sm",
            "--seconds",
            "0.2",
            "--output",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(out["suite"], "sm");
    assert_eq!(out["algorithm"], "sm2");
    assert_eq!(out["baseline"], "rustcrypto-sm2");
    assert!(out["cores"].as_u64().unwrap() >= 1);
    let ours = out["verify_per_sec_per_core"].as_f64().unwrap();
    let base = out["baseline_verify_per_sec_per_core"].as_f64().unwrap();
    let ratio = out["ratio"].as_f64().unwrap();
    assert!(ours > 0.0 && base > 0.0);
    assert!((ratio - ours / base).abs() < 1e-6 * ratio.max(1.0));
    let m = out["measurements"].as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["implementation"], "covenant");
    assert_eq!(m[1]["implementation"], "rustcrypto-sm2");
}

#[test]
fn calibrate_intl_reports_p256_and_ed25519_without_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let out = covenant(
        tmp.path(),
        &[
            "bench",
            "calibrate",
            "--suite",
            "intl",
            "--seconds",
            "0.2",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(out["suite"], "intl");
    assert_eq!(out["algorithm"], "p256");
    assert!(out["baseline"].is_null());
    assert!(out["ratio"].is_null());
    assert!(out["verify_per_sec_per_core"].as_f64().unwrap() > 0.0);
    let algs: Vec<&str> = out["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["algorithm"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["p256", "ed25519"]);
}

#[test]
fn calibrate_text_output() {
    let tmp = tempfile::tempdir().unwrap();
    let run = covenant(tmp.path(), &["bench", "calibrate", "--seconds", "0.1"]).ok();
    assert!(run.stdout.contains("suite sm"), "{}", run.stdout);
    assert!(run.stdout.contains("rustcrypto-sm2"));
    assert!(run.stdout.contains("verifications/s per core"));
    assert!(run.stdout.contains("ratio"));
}

#[test]
fn calibrate_rejects_bad_arguments_with_stable_codes() {
    let tmp = tempfile::tempdir().unwrap();
    covenant(tmp.path(), &["bench", "calibrate", "--suite", "rsa"]).fails_with("SUITE_UNKNOWN");
    covenant(tmp.path(), &["bench", "calibrate", "--seconds", "0"]).fails_with("INVALID_ARGUMENT");
    covenant(tmp.path(), &["bench", "calibrate", "--seconds=-3"]).fails_with("INVALID_ARGUMENT");
    // Usage errors keep clap's explanation (several lines) after the coded first line.
    let usage = covenant(tmp.path(), &["bench", "calibrate", "--seconds", "lots"]);
    assert_eq!(usage.code, 2);
    assert!(
        usage.stderr.starts_with("error[USAGE]:"),
        "{}",
        usage.stderr
    );
    let json = covenant(
        tmp.path(),
        &[
            "bench",
            "calibrate",
            "--seconds",
            "9999",
            "--output",
            "json",
        ],
    );
    assert_eq!(json.code, 1);
    assert_eq!(json.json()["error"]["code"], "INVALID_ARGUMENT");
    let help = covenant(tmp.path(), &["bench", "calibrate", "--help"]).ok();
    assert!(help.stdout.contains("--seconds"));
    assert!(help.stdout.contains("rustcrypto") || help.stdout.contains("RustCrypto"));
}
