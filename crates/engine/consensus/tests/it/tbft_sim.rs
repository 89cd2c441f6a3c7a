//! TBFT under the deterministic simulation: fixed seeds, so a failure reproduces exactly.
//! `covenant sim tbft --seeds N` runs the same scenarios over many more seeds.

use covenant_consensus::tbft::sim::{Byzantine, SimConfig, check, run, scenarios};

const SEEDS: [u64; 4] = [1, 7, 42, 1_000_003];

fn scenario(name: &str, seed: u64) -> SimConfig {
    scenarios(seed)
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

#[test]
fn every_standard_scenario_is_safe_and_live_on_the_fixed_seeds() {
    let mut failures = Vec::new();
    for seed in SEEDS {
        for (name, cfg) in scenarios(seed) {
            let r = run(cfg.clone());
            if let Err(e) = check(&cfg, &r) {
                failures.push(format!("{name} (seed {seed}): {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn on_a_clean_network_every_node_decides_every_height_itself() {
    for seed in SEEDS {
        let cfg = scenario("4 honest", seed);
        let r = run(cfg.clone());
        check(&cfg, &r).unwrap();
        for d in &r.decisions {
            assert!(d.len() as u64 >= cfg.heights);
        }
    }
}

#[test]
fn a_single_validator_decides_alone() {
    let cfg = SimConfig::new(1, 3);
    let r = run(cfg.clone());
    check(&cfg, &r).unwrap();
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let mut cfg = SimConfig::new(4, 99);
    cfg.drop_per_mille = 100;
    let a = run(cfg.clone());
    let b = run(cfg.clone());
    assert_eq!(a.decisions, b.decisions);
    assert_eq!(a.decided_at, b.decided_at);
    assert_eq!(a.messages, b.messages);
    cfg.seed = 100;
    let c = run(cfg);
    assert_ne!(
        a.decisions, c.decisions,
        "another seed must give other values"
    );
}

#[test]
fn a_partition_without_a_quorum_side_really_halts() {
    for seed in SEEDS {
        let cfg = scenario("2|2 partition heals", seed);
        let r = run(cfg.clone());
        check(&cfg, &r).unwrap();
        let before = r.decided_at[0].values().filter(|t| **t <= 1_000).count();
        let after = r.decided_at[0].values().filter(|t| **t >= 20_000).count();
        assert!(
            before >= 1 && after >= 1,
            "seed {seed}: {before} before, {after} after"
        );
    }
}

#[test]
fn the_majority_side_of_a_partition_keeps_going() {
    for seed in SEEDS {
        let cfg = scenario("3|1 partition", seed);
        let r = run(cfg.clone());
        check(&cfg, &r).unwrap();
        let early = r.decided_at[0].values().filter(|t| **t < 15_000).count();
        assert!(
            early >= 3,
            "seed {seed}: majority decided only {early} heights"
        );
    }
}

#[test]
fn three_of_four_keep_going_while_one_is_down() {
    for seed in SEEDS {
        let cfg = scenario("1 of 4 crashes and restarts", seed);
        let r = run(cfg.clone());
        check(&cfg, &r).unwrap();
        let while_down = r.decided_at[0]
            .values()
            .filter(|t| **t > 500 && **t < 8_000)
            .count();
        assert!(
            while_down >= 2,
            "seed {seed}: the chain stalled with 3 of 4 up"
        );
        // The restarted node caught up to the others.
        assert!(r.decisions[2].len() as u64 >= cfg.heights);
    }
}

#[test]
fn equivocation_is_noticed() {
    for seed in SEEDS {
        let cfg = scenario("equivocator", seed);
        let r = run(cfg.clone());
        check(&cfg, &r).unwrap();
        assert!(r.equivocations_seen > 0, "seed {seed}");
        // The honest nodes name the equivocator, and only it.
        let byzantine: std::collections::BTreeSet<usize> =
            cfg.byzantine.iter().map(|(i, _)| *i).collect();
        assert_eq!(r.reported, byzantine, "seed {seed}");
    }
}

#[test]
fn the_checker_catches_what_the_protocol_cannot_promise() {
    // With 2 equivocators of 4 (beyond f = 1) the protocol promises nothing. The harness must
    // still finish and must not pass a run that did not reach its heights: a checker that
    // cannot fail proves nothing.
    let mut cfg = SimConfig::new(4, 5);
    cfg.byzantine = vec![(0, Byzantine::Silent), (1, Byzantine::Silent)];
    cfg.max_time_ms = 30_000;
    let r = run(cfg.clone());
    assert_eq!(r.max_height, 0);
    let e = check(&cfg, &r).unwrap_err();
    assert!(e.contains("no progress"), "{e}");
}

#[test]
fn the_checker_rejects_forks_and_decisions_without_a_quorum() {
    // A checker that cannot fail proves nothing: feed it doctored reports.
    let mut cfg = scenario("2|2 partition heals", 1);
    let good = run(cfg.clone());
    check(&cfg, &good).unwrap();

    let mut forked = good.clone();
    let h = *forked.decisions[2].keys().next().unwrap();
    forked.decisions[2].insert(h, covenant_crypto::Hash([0xee; 32]));
    let e = check(&cfg, &forked).unwrap_err();
    assert!(e.contains("decided differently"), "{e}");

    let mut early = good.clone();
    for at in &mut early.decided_at {
        at.insert(h, 5_000);
    }
    let e = check(&cfg, &early).unwrap_err();
    assert!(e.contains("while no quorum could talk"), "{e}");

    let mut unsafe_run = good.clone();
    unsafe_run
        .violations
        .push("node 0 signed two Prevote votes".into());
    assert!(check(&cfg, &unsafe_run).is_err());

    cfg.heights = good.min_honest_height + 1;
    let e = check(&cfg, &good).unwrap_err();
    assert!(e.contains("no progress"), "{e}");
}
