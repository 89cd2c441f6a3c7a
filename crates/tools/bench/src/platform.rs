//! `covenant bench platform`: drive a platform with mixed reads and votes from many clients
//! and report its throughput and latency, on SQLite or PostgreSQL.
//!
//! The platform runs in this process on a loopback port with a fresh database (a SQLite file in
//! a temporary directory, or the PostgreSQL database given, which must be empty). Setup
//! registers `--orgs` orgs, one consortium of them all and a network record; then `--clients`
//! clients, each signed in as one of the orgs with an API token, loop over real HTTP requests
//! until `--seconds` pass: a read (their account, the open proposals, their events, the
//! consortium) with probability `--reads`, otherwise a vote — on a proposal still waiting for
//! their org, or, when none is, a new proposal to renew the network (which the votes of a
//! majority approve and the platform then carries out). Every request's latency is recorded.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Args;
use covenant_platform::{Config, Platform, vault::Vault};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{BenchError, Result, thousands};

const PASSWORD: &str = "a benchmark passphrase";

#[derive(Debug, Args)]
#[command(
    about = "Drive the platform with mixed reads and votes from many clients; throughput and latency",
    long_about = "Start a platform in this process on a fresh database (SQLite by default, or \
an empty PostgreSQL database with --db), register orgs and a consortium, then have many clients \
send a mix of reads and votes over HTTP for a while. Reports requests per second, reads and \
writes per second, and latency percentiles of each.",
    after_help = "Examples:\n  covenant bench platform\n  covenant bench platform --db \
postgres://covenant:secret@127.0.0.1/bench --clients 64 --seconds 30 --output json"
)]
pub struct PlatformArgs {
    /// Database: an empty PostgreSQL database URL (default: a SQLite file in a temporary directory).
    #[arg(long)]
    db: Option<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Member orgs (clients are spread over them).
    #[arg(long, default_value_t = 8)]
    orgs: usize,
    /// Seconds of load after setup.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Share of requests that are reads (0 to 1); the rest are votes.
    #[arg(long, default_value_t = 0.8)]
    reads: f64,
}

/// Latency figures of one kind of request, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub count: usize,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// What a platform run measured.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformReport {
    pub database: String,
    pub clients: usize,
    pub orgs: usize,
    pub seconds: f64,
    pub requests: usize,
    pub requests_per_sec: f64,
    pub reads: Latency,
    pub writes: Latency,
    /// Refusals and failures by code (`ALREADY_VOTED` and `PROPOSAL_CLOSED` are races between
    /// voters of one org and are expected).
    pub errors: BTreeMap<String, usize>,
    pub proposals_created: usize,
    pub proposals_executed: i64,
    pub cores: usize,
}

impl PlatformReport {
    /// The human-readable report.
    pub fn text(&self) -> String {
        let line = |name: &str, l: &Latency| {
            format!(
                "  {name:<6} {:>8} requests {:>9}/s   p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.1} ms\n",
                l.count,
                thousands(l.per_sec),
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.max_ms
            )
        };
        let mut t = format!(
            "Platform on {} — {} clients over {} orgs for {:.1} s ({} cores)\n",
            self.database, self.clients, self.orgs, self.seconds, self.cores
        );
        t.push_str(&format!(
            "  total  {:>8} requests {:>9}/s\n",
            self.requests,
            thousands(self.requests_per_sec)
        ));
        t.push_str(&line("reads", &self.reads));
        t.push_str(&line("writes", &self.writes));
        t.push_str(&format!(
            "  proposals created {}, executed {}\n",
            self.proposals_created, self.proposals_executed
        ));
        if !self.errors.is_empty() {
            t.push_str("  refusals:");
            for (code, n) in &self.errors {
                t.push_str(&format!(" {code} {n}"));
            }
            t.push('\n');
        }
        t
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r
            .send()
            .await
            .map_err(|e| BenchError::new("PLATFORM_UNREACHABLE", e.to_string()))?;
        let status = resp.status().as_u16();
        let v = resp.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, v))
    }
}

fn setup_error(what: &str, status: u16, v: &Value) -> BenchError {
    BenchError::new("SETUP_FAILED", format!("{what}: {status} {v}"))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn latency(mut ms: Vec<f64>, seconds: f64) -> Latency {
    ms.sort_by(f64::total_cmp);
    Latency {
        count: ms.len(),
        per_sec: ms.len() as f64 / seconds,
        p50_ms: percentile(&ms, 0.50),
        p90_ms: percentile(&ms, 0.90),
        p99_ms: percentile(&ms, 0.99),
        max_ms: ms.last().copied().unwrap_or(0.0),
    }
}

/// Run the benchmark.
pub fn run(a: PlatformArgs) -> Result<PlatformReport> {
    if !(0.0..=1.0).contains(&a.reads) {
        return Err(BenchError::new(
            "INVALID_ARGUMENT",
            "--reads is between 0 and 1",
        ));
    }
    if a.clients == 0 || a.orgs < 2 || a.orgs > 64 {
        return Err(BenchError::new(
            "INVALID_ARGUMENT",
            "give at least one client and 2 to 64 orgs",
        ));
    }
    let duration = crate::budget(a.seconds)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Internal(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(drive(a, duration))
}

async fn drive(a: PlatformArgs, duration: Duration) -> Result<PlatformReport> {
    let dir = tempfile_dir()?;
    let vault =
        Vault::from_hex(&"42".repeat(32)).map_err(|e| BenchError::Internal(e.to_string()))?;
    let p = Platform::open(
        Config {
            dir: dir.clone(),
            database_url: a.db.clone(),
            open_registration: true,
            node_exe: "covenant".into(),
            node_base_port: 40000,
            name: "Covenant bench".into(),
            anchor: None,
            private_alert_targets: false,
            node_host: "127.0.0.1".into(),
        },
        vault,
    )
    .await
    .map_err(|e| BenchError::new("PLATFORM_FAILED", e.to_string()))?;
    let database = p.db().backend().name().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| BenchError::Internal(e.to_string()))?;
    let base = format!(
        "http://{}",
        listener
            .local_addr()
            .map_err(|e| BenchError::Internal(e.to_string()))?
    );
    let (stop, rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(covenant_platform::server::serve(p.clone(), listener, rx));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients * 2)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| BenchError::Internal(e.to_string()))?;
    eprintln!("Setting up {} orgs and a consortium on {database}…", a.orgs);
    let mut clients_by_org = Vec::new();
    for i in 0..a.orgs {
        let id = format!("bench-org-{i:02}");
        let r = http
            .post(format!("{base}/api/v1/orgs"))
            .json(&json!({"id": id, "name": id, "root_username": id, "root_password": PASSWORD}))
            .send()
            .await
            .map_err(|e| BenchError::Internal(e.to_string()))?;
        if r.status() != 201 {
            let s = r.status().as_u16();
            return Err(setup_error(
                "registering an org",
                s,
                &r.json().await.unwrap_or(Value::Null),
            ));
        }
        let r = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": id, "password": PASSWORD}))
            .send()
            .await
            .map_err(|e| BenchError::Internal(e.to_string()))?;
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or_default()
            .to_string();
        let session: Value = r
            .json()
            .await
            .map_err(|e| BenchError::Internal(e.to_string()))?;
        let t: Value = http
            .post(format!("{base}/api/v1/me/tokens"))
            .header("cookie", cookie)
            .header(
                "x-csrf-token",
                session["csrf_token"].as_str().unwrap_or_default(),
            )
            .json(&json!({"name": "bench", "scopes": ["*"], "days": 1}))
            .send()
            .await
            .map_err(|e| BenchError::Internal(e.to_string()))?
            .json()
            .await
            .map_err(|e| BenchError::Internal(e.to_string()))?;
        clients_by_org.push(Client {
            http: http.clone(),
            base: base.clone(),
            token: t["token"].as_str().unwrap_or_default().to_string(),
        });
    }
    let founder = &clients_by_org[0];
    let (s, cons) = founder
        .call(
            reqwest::Method::POST,
            "/api/v1/consortia",
            Some(json!({"name": "bench", "policies": {"consortium.admit_org": {"rule": "ANY"}}})),
        )
        .await?;
    if s != 201 {
        return Err(setup_error("creating the consortium", s, &cons));
    }
    let cid = cons["id"].as_str().unwrap_or_default().to_string();
    for (i, c) in clients_by_org.iter().enumerate().skip(1) {
        let id = format!("bench-org-{i:02}");
        founder
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/consortia/{cid}/invitations"),
                Some(json!({"org_id": id})),
            )
            .await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, inv) = c
                .call(
                    reqwest::Method::GET,
                    "/api/v1/invitations?state=pending",
                    None,
                )
                .await?;
            if let Some(iid) = inv["items"][0]["id"].as_str() {
                c.call(
                    reqwest::Method::POST,
                    &format!("/api/v1/invitations/{iid}/accept"),
                    Some(json!({})),
                )
                .await?;
                break;
            }
            if Instant::now() > deadline {
                return Err(BenchError::new(
                    "SETUP_FAILED",
                    format!("{id} was never invited"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // A network to renew: its proposal needs every org that runs a node (one here).
    let (s, v) = founder
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/consortia/{cid}/proposals"),
            Some(json!({"kind": "network.create", "params": {"name": "bench", "nodes": [{"org_id": "bench-org-00"}]}})),
        )
        .await?;
    if s != 201 {
        return Err(setup_error("proposing the network", s, &v));
    }
    let pid = v["id"].as_str().unwrap_or_default().to_string();
    let network = loop {
        let (_, v) = founder
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/proposals/{pid}"),
                None,
            )
            .await?;
        if let Some(n) = v["outcome"]["network_id"].as_str() {
            break n.to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!(
        "Driving {} clients for {:.0} s ({:.0}% reads)…",
        a.clients,
        duration.as_secs_f64(),
        a.reads * 100.0
    );
    let clients = Arc::new(clients_by_org);
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(Mutex::new(Vec::new()));
    let writes = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let created = Arc::new(Mutex::new(0usize));
    let mut tasks = Vec::new();
    let started = Instant::now();
    for k in 0..a.clients {
        let (clients, done, reads, writes, errors, created) = (
            clients.clone(),
            done.clone(),
            reads.clone(),
            writes.clone(),
            errors.clone(),
            created.clone(),
        );
        let (cid, network, read_share) = (cid.clone(), network.clone(), a.reads);
        tasks.push(tokio::spawn(async move {
            let org = k % clients.len();
            let c = &clients[org];
            let mut n: u64 = k as u64;
            let note = |status: u16, v: &Value| {
                if status >= 300 {
                    let code = v["error"]["code"].as_str().unwrap_or("HTTP_ERROR").to_string();
                    *errors.lock().entry(code).or_insert(0) += 1;
                }
            };
            while !done.load(Ordering::Relaxed) {
                n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let roll = f64::from((n >> 32) as u32) / f64::from(u32::MAX);
                let t0 = Instant::now();
                if roll < read_share {
                    let path = match (n >> 20) % 4 {
                        0 => "/api/v1/me".to_string(),
                        1 => "/api/v1/proposals?limit=20".to_string(),
                        2 => "/api/v1/events?limit=50".to_string(),
                        _ => format!("/api/v1/consortia/{cid}"),
                    };
                    let Ok((s, v)) = c.call(reqwest::Method::GET, &path, None).await else { continue };
                    reads.lock().push(t0.elapsed().as_secs_f64() * 1000.0);
                    note(s, &v);
                } else {
                    let Ok((s, v)) = c
                        .call(reqwest::Method::GET, "/api/v1/proposals?awaiting_my_vote=true&limit=1", None)
                        .await
                    else {
                        continue;
                    };
                    reads.lock().push(t0.elapsed().as_secs_f64() * 1000.0);
                    note(s, &v);
                    let t1 = Instant::now();
                    let (s, v) = match v["items"][0]["id"].as_str() {
                        Some(pid) => {
                            let Ok(r) = c
                                .call(reqwest::Method::POST, &format!("/api/v1/proposals/{pid}/votes"), Some(json!({"decision": "approve"})))
                                .await
                            else {
                                continue;
                            };
                            r
                        }
                        None => {
                            let Ok(r) = c
                                .call(
                                    reqwest::Method::POST,
                                    &format!("/api/v1/consortia/{cid}/proposals"),
                                    Some(json!({"kind": "network.renew", "params": {"network_id": network, "days": 1}})),
                                )
                                .await
                            else {
                                continue;
                            };
                            if r.0 == 201 {
                                *created.lock() += 1;
                            }
                            r
                        }
                    };
                    writes.lock().push(t1.elapsed().as_secs_f64() * 1000.0);
                    note(s, &v);
                }
            }
        }));
    }
    tokio::time::sleep(duration).await;
    done.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let executed = {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) AS n FROM proposals WHERE state = 'executed' AND kind = 'network.renew'")
            .fetch_one(p.db().pool())
            .await
            .ok()
            .and_then(|r| r.try_get::<i64, _>("n").ok())
            .unwrap_or(0)
    };
    let _ = stop.send(true);
    let _ = server.await;
    p.db().close().await;
    let _ = std::fs::remove_dir_all(&dir);
    let reads = std::mem::take(&mut *reads.lock());
    let writes = std::mem::take(&mut *writes.lock());
    let requests = reads.len() + writes.len();
    Ok(PlatformReport {
        database,
        clients: a.clients,
        orgs: a.orgs,
        seconds,
        requests,
        requests_per_sec: requests as f64 / seconds,
        reads: latency(reads, seconds),
        writes: latency(writes, seconds),
        errors: std::mem::take(&mut *errors.lock()),
        proposals_created: *created.lock(),
        proposals_executed: executed,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    })
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let mut salt = [0u8; 6];
    covenant_crypto::random_bytes(&mut salt)?;
    let dir = std::env::temp_dir().join(format!("covenant-bench-platform-{}", hex::encode(salt)));
    std::fs::create_dir_all(&dir)
        .map_err(|e| BenchError::Internal(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}
