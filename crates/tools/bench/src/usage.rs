//! What the nodes use while a run lasts: CPU time and resident memory, read from each node's
//! metrics (`covenant_process_cpu_seconds_total`, `covenant_process_resident_memory_bytes`)
//! when the window opens, every second while it runs, and when it closes.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use serde::Serialize;

use crate::report::NodeCpu;

/// How often the nodes are sampled during the window.
const EVERY: Duration = Duration::from_secs(1);

/// One node's counters at one moment (`None`: it did not answer).
#[derive(Debug, Clone, Copy, Default)]
struct Reading {
    cpu_seconds: Option<f64>,
    rss_bytes: Option<f64>,
}

/// Every node's CPU time and resident memory at `t_s` seconds into the window, in the order
/// of the report's `endpoints`.
#[derive(Debug, Clone, Serialize)]
pub struct UsagePoint {
    pub t_s: f64,
    /// CPU seconds used since the window opened.
    pub cpu_seconds: Vec<Option<f64>>,
    pub rss_mb: Vec<Option<f64>>,
}

async fn read(http: &reqwest::Client, endpoints: &[String]) -> Vec<Reading> {
    let mut out = Vec::with_capacity(endpoints.len());
    for e in endpoints {
        let url = format!("{}/metrics", e.trim_end_matches('/'));
        let text = match http.get(&url).timeout(EVERY).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        out.push(Reading {
            cpu_seconds: value("covenant_process_cpu_seconds_total"),
            rss_bytes: value("covenant_process_resident_memory_bytes"),
        });
    }
    out
}

/// Every node's reading `.0` seconds into the window.
type Moment = (f64, Vec<Reading>);

/// Samples the nodes from [`start`](Sampler::start) to [`finish`](Sampler::finish).
pub struct Sampler {
    endpoints: Vec<String>,
    http: reqwest::Client,
    started: Instant,
    readings: Arc<Mutex<Vec<Moment>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Read every node now (the window's start), then every second in the background.
    pub async fn start(endpoints: &[String]) -> Self {
        let http = reqwest::Client::new();
        let started = Instant::now();
        let first = read(&http, endpoints).await;
        let readings = Arc::new(Mutex::new(vec![(0.0, first)]));
        let task = {
            let (http, endpoints, readings) = (http.clone(), endpoints.to_vec(), readings.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval_at((started + EVERY).into(), EVERY);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tick.tick().await;
                    let r = read(&http, &endpoints).await;
                    readings.lock().push((started.elapsed().as_secs_f64(), r));
                }
            })
        };
        Sampler {
            endpoints: endpoints.to_vec(),
            http,
            started,
            readings,
            task,
        }
    }

    /// Read every node once more (the window's end) and stop: each node's CPU over `window_s`
    /// seconds and its memory at the start and the end, and the series.
    pub async fn finish(self, window_s: f64) -> (Vec<NodeCpu>, Vec<UsagePoint>) {
        self.task.abort();
        let last = read(&self.http, &self.endpoints).await;
        let mut readings = std::mem::take(&mut *self.readings.lock());
        readings.push((self.started.elapsed().as_secs_f64(), last));
        let mb = |b: Option<f64>| b.map(|b| b / (1024.0 * 1024.0));
        let first = readings.first().map(|(_, r)| r.clone()).unwrap_or_default();
        let end = readings.last().map(|(_, r)| r.clone()).unwrap_or_default();
        let nodes = self
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let at = |r: &[Reading]| r.get(i).copied().unwrap_or_default();
                let used = match (at(&first).cpu_seconds, at(&end).cpu_seconds) {
                    (Some(b), Some(a)) if a >= b => Some(a - b),
                    _ => None,
                };
                NodeCpu {
                    endpoint: e.clone(),
                    cpu_seconds: used,
                    cpu_percent: used
                        .filter(|_| window_s > 0.0)
                        .map(|u| u / window_s * 100.0),
                    rss_mb_start: mb(at(&first).rss_bytes),
                    rss_mb_end: mb(at(&end).rss_bytes),
                    rss_mb_max: readings
                        .iter()
                        .filter_map(|(_, r)| mb(at(r).rss_bytes))
                        .reduce(f64::max),
                }
            })
            .collect();
        let series = readings
            .iter()
            .map(|(t, r)| UsagePoint {
                t_s: *t,
                cpu_seconds: (0..self.endpoints.len())
                    .map(|i| {
                        let now = r.get(i).and_then(|x| x.cpu_seconds)?;
                        let then = first.get(i).and_then(|x| x.cpu_seconds)?;
                        Some((now - then).max(0.0))
                    })
                    .collect(),
                rss_mb: (0..self.endpoints.len())
                    .map(|i| mb(r.get(i).and_then(|x| x.rss_bytes)))
                    .collect(),
            })
            .collect();
        (nodes, series)
    }
}
