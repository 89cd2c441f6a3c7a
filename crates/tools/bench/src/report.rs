//! The report of `covenant bench run`: throughput, outcomes, latency, the verification ceiling
//! and per-node CPU.

use std::collections::BTreeMap;

use serde::Serialize;

use super::thousands;

/// Latency percentiles in milliseconds over sorted samples.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub samples: usize,
}

impl Latency {
    /// Percentiles of `ms` (sorted here; nearest rank).
    pub fn of(mut ms: Vec<f64>) -> Self {
        if ms.is_empty() {
            return Latency::default();
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let rank = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len());
            ms[rank - 1]
        };
        Latency {
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: ms[ms.len() - 1],
            samples: ms.len(),
        }
    }
}

/// CPU one node used during the window (from its `covenant_process_cpu_seconds_total`) and
/// its resident memory (`covenant_process_resident_memory_bytes`) when the window opened, when
/// it closed, and at most in between.
#[derive(Debug, Clone, Serialize)]
pub struct NodeCpu {
    pub endpoint: String,
    pub cpu_seconds: Option<f64>,
    /// Percent of one core over the window.
    pub cpu_percent: Option<f64>,
    pub rss_mb_start: Option<f64>,
    pub rss_mb_end: Option<f64>,
    pub rss_mb_max: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub workload: &'static str,
    pub chain: String,
    pub suite: String,
    pub consensus: String,
    /// Nodes that verify and execute every transaction (consensus and sync nodes).
    pub replicas: usize,
    pub endpoints: Vec<String>,
    pub clients: usize,
    pub key_algorithm: String,
    /// `closed` (a fixed number of requests in flight) or `open` (an offered rate).
    pub mode: &'static str,
    pub offered_rate: Option<f64>,
    pub concurrency: usize,
    pub batch: usize,
    pub warmup: usize,

    /// Transactions (or queries) sent in the window.
    pub sent: u64,
    /// Committed with result `OK` (queries: answered).
    pub committed: u64,
    /// Refused at submission or committed with a failure code.
    pub failed: u64,
    pub failed_by_code: BTreeMap<String, u64>,
    /// Accepted by a node but missing from some node's ledger at the end.
    pub lost: u64,
    /// Submissions the node answered "busy" and the client sent again.
    pub busy_retries: u64,
    /// Committed per second over the window (first submission to last commit).
    pub tps: f64,
    pub window_s: f64,
    /// Transactions sent per second while sending (the achieved offered load).
    pub send_rate: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,

    pub cores: usize,
    pub verify_algorithm: String,
    pub verify_per_sec_per_core: f64,
    /// cores × verify rate ÷ replicas (null for queries, which verify no signature).
    pub ceiling_tps: Option<f64>,
    pub fraction_of_ceiling: Option<f64>,
    /// tps × replicas ÷ cores.
    pub node_tx_per_core_s: f64,

    pub start_height: u64,
    pub end_height: u64,
    pub blocks: u64,
    /// Every node reported the same block hash at `end_height`.
    pub ledgers_agree: Option<bool>,
    pub node_cpu: Vec<NodeCpu>,
    /// Each node's CPU time and memory every second of the window.
    pub usage_over_time: Vec<crate::usage::UsagePoint>,
}

impl Report {
    pub fn text(&self) -> String {
        let mut t = format!(
            "bench {} on chain {} ({} consensus, {} suite, {} replica{}), {} client identities ({})\n",
            self.workload,
            self.chain,
            self.consensus,
            self.suite,
            self.replicas,
            if self.replicas == 1 { "" } else { "s" },
            self.clients,
            self.key_algorithm,
        );
        let load = match self.offered_rate {
            Some(r) => format!("open loop at {} tx/s offered", thousands(r)),
            None => format!("closed loop, {} requests in flight", self.concurrency),
        };
        t.push_str(&format!(
            "  load        {load}, {} per request, {} warm-up\n",
            self.batch, self.warmup
        ));
        t.push_str(&format!(
            "  throughput  {} tx/s committed ({} in {:.2} s; sent at {} tx/s)\n",
            thousands(self.tps),
            thousands(self.committed as f64),
            self.window_s,
            thousands(self.send_rate),
        ));
        t.push_str(&format!(
            "  outcomes    sent {}, committed {}, failed {}, lost {}, busy retries {}\n",
            self.sent, self.committed, self.failed, self.lost, self.busy_retries
        ));
        for (code, n) in &self.failed_by_code {
            t.push_str(&format!("                {code}: {n}\n"));
        }
        t.push_str(&format!(
            "  latency     p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms (submit to commit)\n",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms
        ));
        match (self.ceiling_tps, self.fraction_of_ceiling) {
            (Some(c), Some(f)) => t.push_str(&format!(
                "  ceiling     {} tx/s = {} cores × {} {} verifications/s ÷ {} replica{}; achieved {:.1} %\n",
                thousands(c),
                self.cores,
                thousands(self.verify_per_sec_per_core),
                self.verify_algorithm,
                self.replicas,
                if self.replicas == 1 { "" } else { "s" },
                f * 100.0
            )),
            _ => t.push_str("  ceiling     none (queries verify no signature)\n"),
        }
        t.push_str(&format!(
            "  efficiency  {} node-tx per core-second\n",
            thousands(self.node_tx_per_core_s)
        ));
        t.push_str(&format!(
            "  ledger      heights {}..{} ({} blocks){}\n",
            self.start_height,
            self.end_height,
            self.blocks,
            match self.ledgers_agree {
                Some(true) => ", every node has the same block hash at the end",
                Some(false) => ", NODES DISAGREE on the block hash at the end",
                None => "",
            }
        ));
        for n in &self.node_cpu {
            match (n.cpu_seconds, n.cpu_percent) {
                (Some(s), Some(p)) => t.push_str(&format!(
                    "  cpu         {:<28} {s:.1} s ({p:.0} % of a core)\n",
                    n.endpoint
                )),
                _ => t.push_str(&format!("  cpu         {:<28} unknown\n", n.endpoint)),
            }
            if let (Some(a), Some(b), Some(m)) = (n.rss_mb_start, n.rss_mb_end, n.rss_mb_max) {
                t.push_str(&format!(
                    "  memory      {:<28} {a:.0} MB at the start, {b:.0} MB at the end (at most {m:.0} MB)\n",
                    n.endpoint
                ));
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let l = Latency::of((1..=100).map(f64::from).rev().collect());
        assert_eq!(
            (l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        let one = Latency::of(vec![7.0]);
        assert_eq!((one.p50_ms, one.p99_ms, one.max_ms), (7.0, 7.0, 7.0));
        assert_eq!(Latency::of(vec![]).samples, 0);
    }
}
