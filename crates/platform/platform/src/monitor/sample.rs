//! Node samples: every [`SAMPLE_EVERY`], each running node's `/metrics` is read (CPU, memory,
//! disk, txpool, tx/s, uptime) together with what the status look found (up, heights, peers,
//! consensus round) and kept for [`RETENTION`] as a time series for charts and alert rules.

use std::{collections::HashMap, time::Duration};

use serde::Serialize;
use sqlx::{Row, any::AnyRow};

use crate::{Platform, error::Result, time::now_ms};

/// How often a node is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(15);
/// How long samples are kept.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);
/// The most samples one answer carries.
pub const MAX_SAMPLES: i64 = 2000;

/// What a look at a node found.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub up: bool,
    pub height: u64,
    pub peers: i64,
    pub round: Option<i64>,
    pub metrics: Option<Scraped>,
}

/// What a node's `/metrics` said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scraped {
    pub cpu_seconds: Option<f64>,
    pub memory_bytes: Option<f64>,
    pub disk_used_bytes: Option<f64>,
    pub disk_available_bytes: Option<f64>,
    pub txpool: Option<f64>,
    pub tps: Option<f64>,
    pub started_at: Option<f64>,
    pub txs_committed: Option<f64>,
    pub txs_failed: Option<f64>,
}

/// Parse the Prometheus text exposition of a node: process gauges as they are, per-chain
/// gauges summed over chains.
pub fn parse(text: &str) -> Scraped {
    let mut s = Scraped::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => (&line[..i], &line[i..]),
            None => continue,
        };
        let value_text = match rest.strip_prefix('{') {
            Some(r) => r.rsplit_once('}').map(|(_, v)| v),
            None => Some(rest),
        };
        let Some(value) = value_text
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
        else {
            continue;
        };
        let add = |slot: &mut Option<f64>| *slot = Some(slot.unwrap_or(0.0) + value);
        match name {
            "covenant_process_cpu_seconds_total" => s.cpu_seconds = Some(value),
            "covenant_process_resident_memory_bytes" => s.memory_bytes = Some(value),
            "covenant_disk_used_bytes" => s.disk_used_bytes = Some(value),
            "covenant_disk_available_bytes" => s.disk_available_bytes = Some(value),
            "covenant_process_start_time_seconds" => s.started_at = Some(value),
            "covenant_txpool_size" => add(&mut s.txpool),
            "covenant_tx_per_second" => add(&mut s.tps),
            "covenant_txs_committed_total" => add(&mut s.txs_committed),
            "covenant_txs_failed_total" => add(&mut s.txs_failed),
            _ => {}
        }
    }
    s
}

/// Read `api_url/metrics`.
pub async fn scrape(http: &reqwest::Client, api_url: &str) -> Option<Scraped> {
    let r = http
        .get(format!("{api_url}/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    Some(parse(&r.text().await.ok()?))
}

/// Whether `node_id` is due a sample.
pub async fn due(p: &Platform, node_id: &str) -> Result<bool> {
    let last: Option<i64> =
        sqlx::query("SELECT MAX(at) AS at FROM node_samples WHERE node_id = $1")
            .bind(node_id)
            .fetch_one(p.db().pool())
            .await?
            .try_get("at")?;
    Ok(last.is_none_or(|t| now_ms() - t >= SAMPLE_EVERY.as_millis() as i64))
}

fn int(v: Option<f64>, scale: f64) -> Option<i64> {
    v.map(|x| (x * scale).round() as i64)
}

/// Keep a sample of `node_id` and drop what is past retention.
pub async fn record(p: &Platform, node_id: &str, r: &Reading) -> Result<()> {
    let m = r.metrics.clone().unwrap_or_default();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO node_samples (node_id, at, up, height, peers, round, cpu_ms, memory_bytes, disk_used_bytes, disk_available_bytes, txpool, tps_milli, started_at, txs_committed, txs_failed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (node_id, at) DO NOTHING",
    )
    .bind(node_id)
    .bind(now)
    .bind(i64::from(r.up))
    .bind(i64::try_from(r.height).unwrap_or(i64::MAX))
    .bind(r.peers)
    .bind(r.round)
    .bind(int(m.cpu_seconds, 1000.0))
    .bind(int(m.memory_bytes, 1.0))
    .bind(int(m.disk_used_bytes, 1.0))
    .bind(int(m.disk_available_bytes, 1.0))
    .bind(int(m.txpool, 1.0))
    .bind(int(m.tps, 1000.0))
    .bind(int(m.started_at, 1000.0))
    .bind(int(m.txs_committed, 1.0))
    .bind(int(m.txs_failed, 1.0))
    .execute(p.db().pool())
    .await?;
    sqlx::query("DELETE FROM node_samples WHERE node_id = $1 AND at < $2")
        .bind(node_id)
        .bind(now - RETENTION.as_millis() as i64)
        .execute(p.db().pool())
        .await?;
    Ok(())
}

/// One sample as shown, with what is derived from the one before it.
#[derive(Debug, Clone, Serialize)]
pub struct SampleView {
    pub at: i64,
    pub up: bool,
    pub height: i64,
    pub peers: i64,
    pub round: Option<i64>,
    /// CPU use since the sample before, in percent of one core.
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Option<i64>,
    pub disk_used_bytes: Option<i64>,
    pub disk_available_bytes: Option<i64>,
    pub disk_used_percent: Option<f64>,
    pub txpool: Option<i64>,
    pub tps: Option<f64>,
    /// Seconds since the node's process started.
    pub uptime_s: Option<i64>,
    /// Milliseconds per block since the sample before (when blocks were made).
    pub block_interval_ms: Option<i64>,
    /// Transactions committed with a result other than OK, per minute, since the sample
    /// before.
    pub tx_failures_per_min: Option<f64>,
}

struct Raw {
    at: i64,
    up: bool,
    height: i64,
    peers: i64,
    round: Option<i64>,
    cpu_ms: Option<i64>,
    memory_bytes: Option<i64>,
    disk_used: Option<i64>,
    disk_available: Option<i64>,
    txpool: Option<i64>,
    tps_milli: Option<i64>,
    started_at: Option<i64>,
    txs_failed: Option<i64>,
}

fn raw(r: &AnyRow) -> Result<Raw> {
    Ok(Raw {
        at: r.try_get("at")?,
        up: r.try_get::<i64, _>("up")? != 0,
        height: r.try_get("height")?,
        peers: r.try_get("peers")?,
        round: r.try_get("round")?,
        cpu_ms: r.try_get("cpu_ms")?,
        memory_bytes: r.try_get("memory_bytes")?,
        disk_used: r.try_get("disk_used_bytes")?,
        disk_available: r.try_get("disk_available_bytes")?,
        txpool: r.try_get("txpool")?,
        tps_milli: r.try_get("tps_milli")?,
        started_at: r.try_get("started_at")?,
        txs_failed: r.try_get("txs_failed")?,
    })
}

fn derive(prev: Option<&Raw>, r: &Raw) -> SampleView {
    let cpu_percent = match (prev.and_then(|p| p.cpu_ms.map(|c| (p.at, c))), r.cpu_ms) {
        (Some((t0, c0)), Some(c1)) if r.at > t0 && c1 >= c0 => {
            Some(((c1 - c0) as f64 / (r.at - t0) as f64 * 1000.0).round() / 10.0)
        }
        _ => None,
    };
    let block_interval_ms = match prev {
        Some(p) if r.height > p.height && r.at > p.at => {
            Some((r.at - p.at) / (r.height - p.height))
        }
        _ => None,
    };
    let tx_failures_per_min = match (
        prev.and_then(|p| p.txs_failed.map(|f| (p.at, f))),
        r.txs_failed,
    ) {
        (Some((t0, f0)), Some(f1)) if r.at > t0 && f1 >= f0 => {
            Some(((f1 - f0) as f64 * 60_000.0 / (r.at - t0) as f64 * 10.0).round() / 10.0)
        }
        _ => None,
    };
    let disk_used_percent = match (r.disk_used, r.disk_available) {
        (Some(u), Some(a)) if u + a > 0 => {
            Some((u as f64 / (u + a) as f64 * 1000.0).round() / 10.0)
        }
        _ => None,
    };
    SampleView {
        at: r.at,
        up: r.up,
        height: r.height,
        peers: r.peers,
        round: r.round,
        cpu_percent,
        memory_bytes: r.memory_bytes,
        disk_used_bytes: r.disk_used,
        disk_available_bytes: r.disk_available,
        disk_used_percent,
        txpool: r.txpool,
        tps: r.tps_milli.map(|t| t as f64 / 1000.0),
        uptime_s: r.started_at.map(|s| ((r.at - s) / 1000).max(0)),
        block_interval_ms,
        tx_failures_per_min,
    }
}

/// The samples of `node_id` since `since` (ms), oldest first, at most [`MAX_SAMPLES`] (the
/// newest ones).
pub async fn list(p: &Platform, node_id: &str, since: i64) -> Result<Vec<SampleView>> {
    let rows = sqlx::query(
        "SELECT * FROM node_samples WHERE node_id = $1 AND at >= $2 ORDER BY at DESC LIMIT $3",
    )
    .bind(node_id)
    .bind(since)
    .bind(MAX_SAMPLES + 1)
    .fetch_all(p.db().pool())
    .await?;
    let mut raws = rows.iter().map(raw).collect::<Result<Vec<_>>>()?;
    raws.reverse();
    let mut out = Vec::with_capacity(raws.len());
    for (i, r) in raws.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|j| raws.get(j));
        // The oldest row is there only to derive from.
        if i == 0 && raws.len() as i64 > MAX_SAMPLES {
            continue;
        }
        out.push(derive(prev, r));
    }
    Ok(out)
}

/// The latest derived sample of each of `node_ids` (the last two samples of each are read).
pub async fn latest(p: &Platform, node_ids: &[String]) -> Result<HashMap<String, SampleView>> {
    let mut out = HashMap::new();
    for id in node_ids {
        let rows =
            sqlx::query("SELECT * FROM node_samples WHERE node_id = $1 ORDER BY at DESC LIMIT 2")
                .bind(id)
                .fetch_all(p.db().pool())
                .await?;
        let raws = rows.iter().map(raw).collect::<Result<Vec<_>>>()?;
        if let Some(last) = raws.first() {
            out.insert(id.clone(), derive(raws.get(1), last));
        }
    }
    Ok(out)
}

/// When `node_id` reached the height it has now (from its samples), if known.
pub async fn height_since(p: &Platform, node_id: &str) -> Result<Option<i64>> {
    let row = sqlx::query(
        "SELECT MIN(at) AS at FROM node_samples WHERE node_id = $1 AND height = (SELECT height FROM node_samples WHERE node_id = $1 ORDER BY at DESC LIMIT 1)",
    )
    .bind(node_id)
    .fetch_one(p.db().pool())
    .await?;
    Ok(row.try_get("at")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_exposition_is_read() {
        let text = "# HELP x\n# TYPE covenant_height gauge\ncovenant_height{chain=\"a\"} 12\ncovenant_txpool_size{chain=\"a\"} 3\ncovenant_txpool_size{chain=\"b\"} 4\ncovenant_tx_per_second{chain=\"a\"} 1.5\ncovenant_process_cpu_seconds_total 2.25\ncovenant_process_resident_memory_bytes 1048576\ncovenant_disk_used_bytes 100\ncovenant_disk_available_bytes 300\ncovenant_process_start_time_seconds 1700000000\ncovenant_txs_failed_total{chain=\"a\"} 2\ncovenant_txs_failed_total{chain=\"b\"} 1\ncovenant_net_peers NaN\nbroken line\n";
        let s = parse(text);
        assert_eq!(s.txpool, Some(7.0));
        assert_eq!(s.tps, Some(1.5));
        assert_eq!(s.cpu_seconds, Some(2.25));
        assert_eq!(s.memory_bytes, Some(1_048_576.0));
        assert_eq!(s.disk_used_bytes, Some(100.0));
        assert_eq!(s.started_at, Some(1.7e9));
        assert_eq!(s.txs_failed, Some(3.0));
        assert_eq!(parse(""), Scraped::default());
    }

    #[test]
    fn rates_come_from_the_sample_before() {
        let a = Raw {
            at: 10_000,
            up: true,
            height: 5,
            peers: 1,
            round: None,
            cpu_ms: Some(1_000),
            memory_bytes: None,
            disk_used: Some(1),
            disk_available: Some(3),
            txpool: None,
            tps_milli: Some(2_500),
            started_at: Some(4_000),
            txs_failed: Some(3),
        };
        let b = Raw {
            at: 20_000,
            height: 10,
            cpu_ms: Some(6_000),
            txs_failed: Some(8),
            ..a
        };
        let v = derive(Some(&a), &b);
        assert_eq!(v.cpu_percent, Some(50.0));
        assert_eq!(v.block_interval_ms, Some(2_000));
        assert_eq!(v.disk_used_percent, Some(25.0));
        assert_eq!(v.tps, Some(2.5));
        assert_eq!(v.uptime_s, Some(16));
        assert_eq!(v.tx_failures_per_min, Some(30.0));
        assert_eq!(derive(None, &b).cpu_percent, None);
    }
}
