//! `covenant sim tbft`: the long simulation command runs, reports per scenario, and refuses
//! bad arguments with stable codes.

use crate::covenant;

#[test]
fn sim_tbft_runs_every_scenario_for_each_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = covenant(
        tmp.path(),
        &[
            "sim", "tbft", "--seeds", "2", "--from", "77", "--output", "json",
        ],
    )
    .ok()
    .json();
    let scenarios = out["scenarios"].as_array().unwrap();
    assert!(scenarios.len() >= 10, "{out}");
    assert_eq!(out["runs"].as_u64().unwrap(), 2 * scenarios.len() as u64);
    assert_eq!(out["failed"], 0);
    assert!(out["failures"].as_array().unwrap().is_empty());
    for s in scenarios {
        assert_eq!(s["runs"], 2);
        assert!(s["mean_heights"].as_f64().unwrap() >= 8.0, "{s}");
    }

    let one = covenant(
        tmp.path(),
        &["sim", "tbft", "--seeds", "3", "--scenario", "equivocator"],
    )
    .ok();
    assert!(
        one.stdout.starts_with("3 runs over seeds 1..4"),
        "{}",
        one.stdout
    );
    assert!(one.stdout.contains("equivocator"));
}

#[test]
fn sim_tbft_rejects_unknown_scenarios_and_zero_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let r =
        covenant(tmp.path(), &["sim", "tbft", "--scenario", "nope"]).fails_with("INVALID_ARGUMENT");
    assert!(
        r.stderr.contains("equivocator"),
        "lists the names: {}",
        r.stderr
    );
    covenant(tmp.path(), &["sim", "tbft", "--seeds", "0"]).fails_with("INVALID_ARGUMENT");
}

#[test]
fn sim_tbft_runs_the_production_driver_too() {
    let tmp = tempfile::tempdir().unwrap();
    let out = covenant(
        tmp.path(),
        &[
            "sim", "tbft", "--driver", "--seeds", "1", "--output", "json",
        ],
    )
    .ok()
    .json();
    let names: Vec<&str> = out["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"3|1 partition, the one catches up by sync"),
        "{names:?}"
    );
    assert_eq!(out["failed"], 0, "{out}");
}

/// A reader that goes away (`covenant ... | head -1`) ends the output quietly: no panic, no
/// backtrace, a normal exit.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_covenant"))
        .args(["sim", "tbft", "--seeds", "2", "--output", "json"])
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Nobody reads the output.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
