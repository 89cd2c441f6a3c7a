//! `covenant sim`: deterministic consensus simulations over many seeds.

use std::{io::Write as _, time::Instant};

use anyhow::Result;
use clap::{Args, Subcommand};
use covenant_consensus::tbft::{sim, sim_driver};
use serde::Serialize;

use crate::{
    failure::Failure,
    output::{Format, emit},
};

#[derive(Debug, Args)]
#[command(
    about = "Run consensus simulations: seeded faults, checked for safety and liveness",
    long_about = "Run consensus simulations. Each run is deterministic for its seed: simulated \
validators exchange messages over a network with delays, loss and partitions, crash and \
restart (keeping their write-ahead journals), and some are Byzantine (equivocating, proposing \
invalid blocks, or silent). Every run is checked for safety (no two honest validators decide \
different blocks at one height; no honest validator signs two different votes for one height, \
round and kind) and liveness (progress whenever a quorum can talk)."
)]
pub struct SimCommand {
    #[command(subcommand)]
    command: SimSub,
}

#[derive(Debug, Subcommand)]
enum SimSub {
    Tbft(TbftArgs),
}

/// Run the standard TBFT fault scenarios over a range of seeds.
#[derive(Debug, Args)]
#[command(
    long_about = "Run the standard TBFT fault scenarios (honest, lossy, partitions, crashes, \
equivocator, invalid proposer, silent validator, 7 validators with 2 Byzantine, ...) for each \
seed in [--from, --from + --seeds). A failure names the scenario and seed, which reproduce it \
exactly. The exit status is 1 if any run failed.\n\nBy default the simulation runs the \
TBFT state machines alone (thousands of runs a minute, equivocating validators included). With \
--driver it runs the production driver a node runs: real blocks, Ed25519 signatures, commit \
certificates and block sync between the simulated nodes (slower; scenarios with crashes, \
partitions, silent and invalid-block validators).",
    after_help = "JSON fields: runs, failed, seconds, scenarios (name, runs, failed, \
mean_heights, mean_sim_ms), failures (scenario, seed, error).\n\nExamples:\n  covenant sim tbft \
--seeds 1000\n  covenant sim tbft --from 5000 --seeds 200 --scenario equivocator\n  covenant \
sim tbft --driver --seeds 50\n  covenant sim tbft --seeds 100 --output json"
)]
struct TbftArgs {
    /// How many seeds to run.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// Run only the scenario with this name (see the text output for names).
    #[arg(long)]
    scenario: Option<String>,
    /// Simulate the production driver (real blocks, signatures, certificates, sync) instead
    /// of the bare state machines.
    #[arg(long)]
    driver: bool,
}

/// One run's outcome: the lowest height every honest node reached, the simulated time, and
/// the checker's verdict.
struct RunOutcome {
    heights: u64,
    time_ms: u64,
    verdict: Result<(), String>,
}

/// A scenario's run, to be made.
type ScenarioRun = Box<dyn FnOnce() -> RunOutcome>;

/// The scenarios of `seed` as (name, run).
fn scenario_runs(driver: bool, seed: u64) -> Vec<(&'static str, ScenarioRun)> {
    if driver {
        sim_driver::scenarios(seed)
            .into_iter()
            .map(|(name, cfg)| {
                let run: ScenarioRun = Box::new(move || match sim_driver::run(cfg.clone()) {
                    Ok(r) => RunOutcome {
                        heights: r.ledgers.iter().map(|l| l.len() as u64).min().unwrap_or(0),
                        time_ms: r.time_ms,
                        verdict: sim_driver::check(&cfg, &r),
                    },
                    Err(e) => RunOutcome {
                        heights: 0,
                        time_ms: 0,
                        verdict: Err(format!("the simulation did not run: {e}")),
                    },
                });
                (name, run)
            })
            .collect()
    } else {
        sim::scenarios(seed)
            .into_iter()
            .map(|(name, cfg)| {
                let run: ScenarioRun = Box::new(move || {
                    let r = sim::run(cfg.clone());
                    RunOutcome {
                        heights: r.min_honest_height,
                        time_ms: r.time_ms,
                        verdict: sim::check(&cfg, &r),
                    }
                });
                (name, run)
            })
            .collect()
    }
}

#[derive(Debug, Serialize)]
struct ScenarioSummary {
    name: String,
    runs: u64,
    failed: u64,
    mean_heights: f64,
    mean_sim_ms: f64,
}

#[derive(Debug, Serialize)]
struct FailureReport {
    scenario: String,
    seed: u64,
    error: String,
}

#[derive(Debug, Serialize)]
struct Summary {
    runs: u64,
    failed: u64,
    seconds: f64,
    scenarios: Vec<ScenarioSummary>,
    failures: Vec<FailureReport>,
}

pub fn run_cmd(cmd: SimCommand, format: Format) -> Result<u8> {
    match cmd.command {
        SimSub::Tbft(a) => tbft(a, format),
    }
}

fn tbft(a: TbftArgs, format: Format) -> Result<u8> {
    if a.seeds == 0 {
        return Err(Failure::new("INVALID_ARGUMENT", "--seeds must be at least 1").into());
    }
    let names: Vec<&'static str> = scenario_runs(a.driver, 0)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    if let Some(s) = &a.scenario
        && !names.contains(&s.as_str())
    {
        return Err(Failure::new(
            "INVALID_ARGUMENT",
            format!(
                "no scenario named {s:?}; the scenarios are: {}",
                names.join(", ")
            ),
        )
        .into());
    }
    let start = Instant::now();
    let mut per: Vec<ScenarioSummary> = Vec::new();
    let mut failures = Vec::new();
    let mut runs = 0u64;
    let last = a.from.saturating_add(a.seeds);
    for seed in a.from..last {
        for (name, run) in scenario_runs(a.driver, seed) {
            if a.scenario.as_deref().is_some_and(|s| s != name) {
                continue;
            }
            let r = run();
            runs += 1;
            let idx = match per.iter().position(|p| p.name == name) {
                Some(i) => i,
                None => {
                    per.push(ScenarioSummary {
                        name: name.to_string(),
                        runs: 0,
                        failed: 0,
                        mean_heights: 0.0,
                        mean_sim_ms: 0.0,
                    });
                    per.len() - 1
                }
            };
            let s = &mut per[idx];
            s.runs += 1;
            s.mean_heights += (r.heights as f64 - s.mean_heights) / s.runs as f64;
            s.mean_sim_ms += (r.time_ms as f64 - s.mean_sim_ms) / s.runs as f64;
            if let Err(error) = r.verdict {
                s.failed += 1;
                if format == Format::Text {
                    let _ = writeln!(std::io::stderr(), "FAIL {name} seed {seed}: {error}");
                }
                failures.push(FailureReport {
                    scenario: name.to_string(),
                    seed,
                    error,
                });
            }
        }
        let done = seed - a.from + 1;
        if format == Format::Text && (done.is_multiple_of(50) || seed + 1 == last) {
            let _ = writeln!(
                std::io::stderr(),
                "{done}/{} seeds, {runs} runs, {} failed",
                a.seeds,
                failures.len()
            );
        }
    }
    let summary = Summary {
        runs,
        failed: failures.len() as u64,
        seconds: start.elapsed().as_secs_f64(),
        scenarios: per,
        failures,
    };
    emit(format, &summary, || {
        let mut t = format!(
            "{} runs over seeds {}..{} in {:.1} s: {} failed\n",
            summary.runs, a.from, last, summary.seconds, summary.failed
        );
        for s in &summary.scenarios {
            t.push_str(&format!(
                "  {:<48} {:>6} runs {:>4} failed  {:>6.1} heights  {:>8.0} simulated ms\n",
                s.name, s.runs, s.failed, s.mean_heights, s.mean_sim_ms
            ));
        }
        t
    })?;
    Ok(if summary.failed == 0 { 0 } else { 1 })
}
