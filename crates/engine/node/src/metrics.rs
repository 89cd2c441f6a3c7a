//! Prometheus metrics: per chain, the height, txpool size, committed (and failed) transactions, tx/s over
//! the last 10 s, admissions, block commit time and tx commit latency; for the process, the CPU
//! time it used (`covenant_process_cpu_seconds_total`, read by `covenant bench run`), its
//! resident memory, when it started, and how full the file system of its data directory is;
//! per chain, whether writing its blocks fails (`covenant_storage_write_failing`, a full disk).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, OnceLock},
    time::Instant,
};

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use parking_lot::Mutex;

use crate::Node;

/// The node's metrics.
pub struct Metrics {
    handle: Option<PrometheusHandle>,
    /// Per chain: (time, txs committed so far) samples for the tx/s gauge.
    samples: Mutex<HashMap<String, VecDeque<(Instant, u64)>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

impl Metrics {
    /// Install the process-wide recorder (once) and return the node's metrics.
    pub fn install() -> Arc<Self> {
        let handle = HANDLE
            .get_or_init(|| {
                let recorder = PrometheusBuilder::new().build_recorder();
                let handle = recorder.handle();
                metrics::set_global_recorder(recorder).ok().map(|_| handle)
            })
            .clone();
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        gauge!("covenant_process_start_time_seconds").set(started);
        Arc::new(Metrics {
            handle,
            samples: Mutex::new(HashMap::new()),
        })
    }

    /// `count` transactions were admitted to `chain`'s pool.
    pub fn admitted(&self, chain: &str, count: usize) {
        counter!("covenant_txs_admitted_total", "chain" => chain.to_string())
            .increment(count as u64);
    }

    /// Record a committed block of `txs` transactions, `failed` of them with a result other
    /// than `OK`.
    pub fn committed(
        &self,
        chain: &str,
        txs: usize,
        failed: usize,
        commit_ms: u64,
        latencies_ms: &[u64],
    ) {
        counter!("covenant_txs_committed_total", "chain" => chain.to_string())
            .increment(txs as u64);
        counter!("covenant_txs_failed_total", "chain" => chain.to_string())
            .increment(failed as u64);
        counter!("covenant_blocks_committed_total", "chain" => chain.to_string()).increment(1);
        histogram!("covenant_block_commit_seconds", "chain" => chain.to_string())
            .record(commit_ms as f64 / 1000.0);
        let h = histogram!("covenant_tx_commit_latency_seconds", "chain" => chain.to_string());
        for l in latencies_ms {
            h.record(*l as f64 / 1000.0);
        }
    }

    /// Update the gauges from the node's current state.
    pub fn refresh(&self, node: &Node) {
        let now = Instant::now();
        let cpu = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        gauge!("covenant_process_cpu_seconds_total")
            .set(cpu.tv_sec as f64 + cpu.tv_nsec as f64 / 1e9);
        if let Some(rss) = resident_bytes() {
            gauge!("covenant_process_resident_memory_bytes").set(rss as f64);
        }
        let data = node.config.resolve(&node.config.node.data_dir);
        if let Ok(fs) = rustix::fs::statvfs(&data) {
            let unit = fs.f_frsize.max(1) as f64;
            let used = fs.f_blocks.saturating_sub(fs.f_bfree) as f64 * unit;
            let available = fs.f_bavail as f64 * unit;
            gauge!("covenant_disk_used_bytes").set(used);
            gauge!("covenant_disk_available_bytes").set(available);
            if used + available > 0.0 {
                gauge!("covenant_disk_used_ratio").set(used / (used + available));
            }
        }
        let mut samples = self.samples.lock();
        for (id, c) in node.chains() {
            let stats = c.stats();
            gauge!("covenant_height", "chain" => id.clone()).set(stats.height.unwrap_or(0) as f64);
            gauge!("covenant_txpool_size", "chain" => id.clone()).set(stats.pool_size as f64);
            // 1 from a failed block write (a full disk) until a block is written again.
            gauge!("covenant_storage_write_failing", "chain" => id.clone())
                .set(if c.store().write_failing() { 1.0 } else { 0.0 });
            // Blocks whose stored copy failed a check and wait for a peer's copy.
            gauge!("covenant_storage_damaged_blocks", "chain" => id.clone())
                .set(c.store().damaged().len() as f64);
            // State entries that failed a check and wait for their repair from the blocks.
            gauge!("covenant_storage_damaged_state_entries", "chain" => id.clone())
                .set(c.store().damaged_state().len() as f64);
            // 1 while an index was found pointing at the wrong place and waits for its rebuild.
            gauge!("covenant_storage_indexes_damaged", "chain" => id.clone()).set(
                if c.store().indexes_damaged().is_some() {
                    1.0
                } else {
                    0.0
                },
            );
            let s = samples.entry(id.clone()).or_default();
            s.push_back((now, stats.txs_committed));
            while s.len() > 2
                && s.front()
                    .is_some_and(|(t, _)| now.duration_since(*t).as_secs_f64() > 10.0)
            {
                s.pop_front();
            }
            let tps = match (s.front(), s.back()) {
                (Some((t0, n0)), Some((t1, n1))) if t1 > t0 => {
                    (n1 - n0) as f64 / t1.duration_since(*t0).as_secs_f64()
                }
                _ => 0.0,
            };
            gauge!("covenant_tx_per_second", "chain" => id.clone()).set(tps);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle
            .as_ref()
            .map(PrometheusHandle::render)
            .unwrap_or_default()
    }
}

/// The process's resident memory, from `/proc/self/status` (Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
