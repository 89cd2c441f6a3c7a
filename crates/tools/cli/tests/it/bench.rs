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

mod run {
    //! `covenant bench run` against real consortiums: what it reports must match the ledger.

    use serde_json::Value;

    use crate::cluster::Cluster;

    fn bench(c: &Cluster, args: &[&str]) -> Value {
        let mut all = vec![
            "bench",
            "run",
            "--clients",
            "8",
            "--concurrency",
            "2",
            "--batch",
            "50",
            "--warmup",
            "40",
            "--verify-rate",
            "10000",
            "--drain",
            "60",
            "-o",
            "json",
        ];
        all.extend_from_slice(args);
        c.cli(&all).ok().json()
    }

    /// Transactions of `contract.method` in the blocks a report covers, read from node `i`.
    fn in_ledger(c: &Cluster, i: usize, r: &Value, contract: &str, method: &str) -> u64 {
        let client = c.client(i);
        let (from, to) = (
            r["start_height"].as_u64().unwrap(),
            r["end_height"].as_u64().unwrap(),
        );
        let mut n = 0;
        for h in from + 1..=to {
            let b = c.rt.block_on(client.block(&h.to_string(), false)).unwrap();
            n += b
                .txs
                .iter()
                .filter(|t| t.contract == contract && t.method == method && t.code == "OK")
                .count() as u64;
        }
        n
    }

    #[track_caller]
    fn check_report(r: &Value, sent: u64) {
        for key in [
            "tps",
            "committed",
            "failed",
            "lost",
            "p50_ms",
            "p99_ms",
            "ceiling_tps",
            "fraction_of_ceiling",
            "node_tx_per_core_s",
        ] {
            assert!(r.get(key).is_some(), "{key} missing from {r}");
        }
        assert_eq!(r["sent"], sent, "{r}");
        assert_eq!(r["committed"], sent, "{r}");
        assert_eq!(r["failed"], 0, "{r}");
        assert_eq!(r["lost"], 0, "{r}");
        let tps = r["tps"].as_f64().unwrap();
        let cores = r["cores"].as_f64().unwrap();
        let replicas = r["replicas"].as_f64().unwrap();
        assert!(tps > 0.0, "{r}");
        let ceiling = r["ceiling_tps"].as_f64().unwrap();
        assert!((ceiling - cores * 10_000.0 / replicas).abs() < 1e-6, "{r}");
        let fraction = r["fraction_of_ceiling"].as_f64().unwrap();
        assert!((fraction - tps / ceiling).abs() < 1e-9, "{r}");
        let per_core = r["node_tx_per_core_s"].as_f64().unwrap();
        assert!((per_core - tps * replicas / cores).abs() < 1e-6, "{r}");
        let (p50, p99, max) = (
            r["p50_ms"].as_f64().unwrap(),
            r["p99_ms"].as_f64().unwrap(),
            r["max_ms"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{r}");
        assert_eq!(r["ledgers_agree"], true, "{r}");
        let nodes = r["node_cpu"].as_array().unwrap();
        for n in nodes {
            assert!(n["cpu_seconds"].as_f64().unwrap() > 0.0, "{r}");
            let (start, end, max) = (
                n["rss_mb_start"].as_f64().unwrap(),
                n["rss_mb_end"].as_f64().unwrap(),
                n["rss_mb_max"].as_f64().unwrap(),
            );
            assert!(start > 1.0 && end > 1.0 && max >= start.max(end), "{r}");
        }
        // Memory and CPU over the window: a reading when it opens, each second, when it closes.
        let series = r["usage_over_time"].as_array().unwrap();
        let window = r["window_s"].as_f64().unwrap();
        assert!(series.len() >= 2 + window as usize - 1, "{r}");
        assert_eq!(series[0]["t_s"], 0.0, "{r}");
        let mut last_t = -1.0;
        for p in series {
            let t = p["t_s"].as_f64().unwrap();
            assert!(t > last_t, "{r}");
            last_t = t;
            assert_eq!(p["rss_mb"].as_array().unwrap().len(), nodes.len(), "{r}");
            assert!(
                p["rss_mb"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|m| m.as_f64().unwrap() > 1.0),
                "{r}"
            );
        }
        let last = &series[series.len() - 1]["cpu_seconds"];
        for (i, n) in nodes.iter().enumerate() {
            assert_eq!(last[i], n["cpu_seconds"], "{r}");
        }
    }

    #[test]
    fn every_workload_on_one_node_reports_what_the_ledger_holds() {
        let c = Cluster::up("solo", "sm", 1);
        // Without the token contract the transfer workload refuses to start.
        c.cli(&["bench", "run", "--txs", "10"])
            .fails_with("CONTRACT_MISSING");
        c.cli(&["bench", "run", "--txs", "0"])
            .fails_with("INVALID_ARGUMENT");
        for name in ["kv", "token", "evidence"] {
            c.deploy(name);
        }

        let r = bench(&c, &["--txs", "300"]);
        check_report(&r, 300);
        assert_eq!(r["workload"], "transfer");
        assert_eq!(r["replicas"], 1);
        assert_eq!(r["key_algorithm"], "sm2");
        assert_eq!(in_ledger(&c, 0, &r, "token", "transfer"), 300);

        for (workload, contract, method) in [
            ("kv", "kv", "put"),
            ("evidence", "evidence", "put"),
            ("hotkey", "kv", "put"),
        ] {
            let r = bench(&c, &["--workload", workload, "--txs", "200"]);
            check_report(&r, 200);
            assert_eq!(in_ledger(&c, 0, &r, contract, method), 200, "{workload}");
        }

        // Open loop: the offered rate paces the sending.
        let r = bench(&c, &["--workload", "kv", "--rate", "200", "--txs", "100"]);
        check_report(&r, 100);
        assert_eq!(r["mode"], "open");
        assert!(r["window_s"].as_f64().unwrap() >= 0.4, "{r}");

        // Queries: answered, never signed, so no ceiling.
        let r = bench(&c, &["--workload", "query", "--txs", "150"]);
        assert_eq!(r["committed"], 150, "{r}");
        assert_eq!(r["failed"], 0, "{r}");
        assert!(r["ceiling_tps"].is_null() && r["fraction_of_ceiling"].is_null());
        assert!(r["p99_ms"].as_f64().unwrap() > 0.0);

        // The text report carries the same figures.
        let text = c
            .cli(&[
                "bench",
                "run",
                "--workload",
                "kv",
                "--txs",
                "50",
                "--warmup",
                "0",
                "--clients",
                "8",
            ])
            .ok();
        assert!(text.stdout.contains("tx/s committed"), "{}", text.stdout);
        assert!(text.stdout.contains("lost 0"), "{}", text.stdout);
        assert!(text.stderr.contains("the window opens"), "{}", text.stderr);
    }

    #[test]
    fn transfers_on_four_tbft_nodes_are_in_every_ledger() {
        let c = Cluster::up("tbft", "intl", 4);
        c.deploy("token");
        let r = bench(&c, &["--txs", "400", "--key-algorithm", "ed25519"]);
        check_report(&r, 400);
        assert_eq!(r["replicas"], 4);
        assert_eq!(r["key_algorithm"], "ed25519");
        assert_eq!(r["endpoints"].as_array().unwrap().len(), 4);
        for i in 0..4 {
            assert_eq!(in_ledger(&c, i, &r, "token", "transfer"), 400, "node {i}");
        }
        c.assert_same_ledger(&[0, 1, 2, 3]);
    }
}

/// `bench platform` drives a platform of its own with reads and votes and reports both.
#[test]
fn bench_platform_reports_reads_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let r = covenant(
        dir.path(),
        &[
            "-o",
            "json",
            "bench",
            "platform",
            "--seconds",
            "2",
            "--clients",
            "4",
            "--orgs",
            "3",
            "--reads",
            "0.5",
        ],
    )
    .ok();
    let report = r.json();
    assert_eq!(report["database"], "sqlite");
    assert!(report["reads"]["count"].as_u64().unwrap() > 0, "{report}");
    assert!(report["writes"]["count"].as_u64().unwrap() > 0, "{report}");
    assert!(
        report["reads"]["p99_ms"].as_f64().unwrap() >= report["reads"]["p50_ms"].as_f64().unwrap()
    );
    assert!(
        report["proposals_created"].as_u64().unwrap() > 0,
        "{report}"
    );
    covenant(dir.path(), &["bench", "platform", "--reads", "2"]).fails_with("INVALID_ARGUMENT");
}

/// `bench console` times every console page of a consortium's platform; `up --block-txs 1`
/// makes each transaction a block of its own (how the benchmark's long chain is built).
#[test]
fn bench_console_times_every_page_of_a_one_tx_per_block_chain() {
    let c = crate::cluster::Cluster::up_with("solo", "sm", 1, &["--block-txs", "1"]);
    let config = c.cli(&["chain", "config", "-o", "json"]).ok().json();
    assert_eq!(config["block"]["max_txs"], 1, "{config}");
    c.deploy_kv();
    let r = c
        .cli(&[
            "bench",
            "run",
            "--workload",
            "kv",
            "--txs",
            "20",
            "--warmup",
            "0",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(r["committed"], 20, "{r}");
    assert!(
        r["end_height"].as_u64().unwrap() - r["start_height"].as_u64().unwrap() >= 20,
        "one block per transaction: {r}"
    );
    let report = covenant(
        c.root.path(),
        &[
            "-o",
            "json",
            "bench",
            "console",
            "--dir",
            c.dir.to_str().unwrap(),
            "--requests",
            "2",
        ],
    )
    .ok()
    .json();
    assert!(report["height"].as_u64().unwrap() >= 20, "{report}");
    let pages = report["pages"].as_array().unwrap();
    assert!(pages.len() >= 15, "{report}");
    for p in pages {
        assert!(p["status"].as_u64().unwrap() < 400, "{p}");
        assert!(p["p50_ms"].as_f64().unwrap() > 0.0, "{p}");
    }
    assert!(
        pages
            .iter()
            .any(|p| p["path"].as_str().unwrap().contains("/txs/"))
    );
    // Without a platform there is nothing to time: a coded refusal.
    let none = tempfile::tempdir().unwrap();
    covenant(
        none.path(),
        &["bench", "console", "--dir", none.path().to_str().unwrap()],
    )
    .fails_with("PLATFORM_NOT_FOUND");
}
