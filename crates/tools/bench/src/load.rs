//! `covenant bench run`: drive a workload against a running chain and measure it.
//!
//! Method: client identities are issued (once) by the orgs' CAs; setup (mints, keys to read)
//! and a warm-up commit before the window; every transaction of the window is signed before the
//! clock starts. The window runs from the first submission to the last commit. A tracker
//! follows the first endpoint's blocks and stamps each transaction's commit; latency is submit
//! to commit. At the end every endpoint's ledger is read back and every accepted transaction
//! must be in each of them, else it counts as lost.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    io::IsTerminal,
    io::Write as _,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Args;
use covenant_crypto::{KeyAlgorithm, Suite, calibrate};
use covenant_sdk::{Client, ClientError, Profile, Signer};
use covenant_types::tx::TxBuilder;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::{
    report::{Latency, Report},
    usage::Sampler,
    workload::{Generator, QUERY_KEYS, SignedTx, Workload, client_identities, sign},
};
use crate::{BenchError, Result};

/// Where `covenant up` writes its profile by default.
const UP_PROFILE: &str = "consortium/profile.json";

/// Drive a workload against a running chain and report committed TPS, latency and the ceiling.
#[derive(Debug, Args)]
#[command(
    long_about = "Drive a workload against a running chain and report what it committed.\n\n\
Setup (client identities issued once by the orgs' CAs, token mints, keys to read) and a warm-up \
commit first; every transaction of the measured window is signed before the clock starts, so \
the client's signing cost does not count against the chain. The window runs from the first \
submission to the last commit. Batches go to the endpoints in rotation; a tracker follows the \
first endpoint's blocks and stamps each commit. At the end every endpoint's ledger is read back: \
a transaction a node accepted that is missing from any ledger counts as lost.\n\n\
The ceiling is cores × signature verifications per second per core (measured now for the \
clients' algorithm, as `bench calibrate` does, unless --verify-rate is given) ÷ replicas (nodes \
that verify each transaction). Per-node CPU comes from each node's \
covenant_process_cpu_seconds_total metric.",
    after_help = "JSON fields: workload, chain, suite, consensus, replicas, endpoints, clients, \
key_algorithm, mode, offered_rate, concurrency, batch, warmup, sent, committed, failed, \
failed_by_code, lost, busy_retries, tps, window_s, send_rate, p50_ms, p90_ms, p99_ms, max_ms, \
cores, verify_algorithm, verify_per_sec_per_core, ceiling_tps, fraction_of_ceiling, \
node_tx_per_core_s, start_height, end_height, blocks, ledgers_agree, node_cpu (per node: \
cpu_seconds, cpu_percent, rss_mb_start, rss_mb_end, rss_mb_max), usage_over_time (every second: \
t_s, and per node cpu_seconds since the window opened and rss_mb).\n\nExamples:\n  \
covenant up && covenant bench run\n  covenant bench run --workload kv --txs 50000 --output json\n  \
covenant bench run --rate 2000 --duration 20          # open loop at 2,000 tx/s\n  \
covenant bench run --workload query --duration 10\n  \
covenant bench run --profile solo/profile.json --key-algorithm ed25519"
)]
pub struct RunArgs {
    /// What to send.
    #[arg(long, value_enum, default_value = "transfer")]
    workload: Workload,
    /// Client profile (default: $COVENANT_PROFILE, else consortium/profile.json from covenant up).
    #[arg(long, env = "COVENANT_PROFILE")]
    profile: Option<PathBuf>,
    /// Send to this node API (repeatable; default: every node of the profile).
    #[arg(long = "endpoint", value_name = "URL")]
    endpoints: Vec<String>,
    /// Chain to load (default: the profile's).
    #[arg(long)]
    chain: Option<String>,
    /// Client identities that sign the transactions (issued by the org CAs in rotation, reused).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Key algorithm of the client identities: sm2, p256 or ed25519 (default: the suite's).
    #[arg(long, value_name = "ALG")]
    key_algorithm: Option<String>,
    /// Transactions signed for the window: the most the run sends.
    #[arg(long, default_value_t = 20_000)]
    txs: usize,
    /// Stop sending after this many seconds (default: when every transaction is sent).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Offered load in transactions per second (open loop); default is a closed loop that
    /// keeps --concurrency × --batch transactions outstanding (sent, not yet committed).
    #[arg(long, value_name = "TX_PER_S")]
    rate: Option<f64>,
    /// Requests in flight; in the closed loop also the window of outstanding batches.
    #[arg(long, default_value_t = 24)]
    concurrency: usize,
    /// Transactions per request to the batch endpoint.
    #[arg(long, default_value_t = 250)]
    batch: usize,
    /// Transactions sent and committed before the window (not counted).
    #[arg(long, default_value_t = 2_000)]
    warmup: usize,
    /// Seconds to wait for the last commits once sending stops.
    #[arg(long, default_value_t = 60.0)]
    drain: f64,
    /// Verifications per second per core for the ceiling (default: measured now for 1 s).
    #[arg(long, value_name = "N")]
    verify_rate: Option<f64>,
}

fn invalid(msg: impl Into<String>) -> BenchError {
    BenchError::new("INVALID_ARGUMENT", msg)
}

impl RunArgs {
    fn check(&self) -> Result<()> {
        if self.clients == 0 || self.clients > 10_000 {
            return Err(invalid("--clients must be 1 to 10000"));
        }
        if self.txs == 0 || self.txs > 5_000_000 {
            return Err(invalid("--txs must be 1 to 5000000"));
        }
        if self.concurrency == 0 || self.concurrency > 1024 {
            return Err(invalid("--concurrency must be 1 to 1024"));
        }
        if self.batch == 0 || self.batch > 10_000 {
            return Err(invalid("--batch must be 1 to 10000"));
        }
        for (name, v) in [
            ("--duration", self.duration),
            ("--rate", self.rate),
            ("--verify-rate", self.verify_rate),
            ("--drain", Some(self.drain)),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return Err(invalid(format!(
                    "{name} must be a positive number, got {v}"
                )));
            }
        }
        Ok(())
    }
}

/// Progress on standard error: a line rewritten in place on a terminal, lines otherwise.
#[derive(Clone, Copy)]
struct Progress {
    tty: bool,
}

impl Progress {
    fn line(&self, msg: impl AsRef<str>) {
        if self.tty {
            let _ = writeln!(std::io::stderr(), "\r\x1b[2K{}", msg.as_ref());
        } else {
            let _ = writeln!(std::io::stderr(), "{}", msg.as_ref());
        }
    }

    fn live(&self, msg: &str) {
        if self.tty {
            let _ = write!(std::io::stderr(), "\r\x1b[2K{msg}");
        } else {
            let _ = writeln!(std::io::stderr(), "{msg}");
        }
    }
}

/// Drive the workload `a` describes and report.
pub fn run(a: RunArgs) -> Result<Report> {
    a.check()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| BenchError::Internal(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(run_async(a))
}

/// What the window recorded.
#[derive(Default)]
struct Record {
    /// Accepted transactions and when their request was sent.
    accepted: HashMap<String, Instant>,
    /// Commits seen by the tracker: when, and the result code.
    committed: HashMap<String, (Instant, String)>,
    refused: BTreeMap<String, u64>,
    latencies_ms: Vec<f64>,
    first_send: Option<Instant>,
    last_send: Option<Instant>,
    last_commit: Option<Instant>,
    busy_retries: u64,
}

struct Shared {
    record: Mutex<Record>,
    sent: AtomicU64,
    busy: AtomicU64,
    sending_done: AtomicBool,
    next_client: AtomicUsize,
}

fn api_code(e: &ClientError) -> String {
    e.code().to_string()
}

async fn run_async(a: RunArgs) -> Result<Report> {
    let progress = Progress {
        tty: std::io::stderr().is_terminal(),
    };
    let path = match &a.profile {
        Some(p) => p.clone(),
        None if std::path::Path::new(UP_PROFILE).is_file() => PathBuf::from(UP_PROFILE),
        None => {
            return Err(BenchError::new(
                "PROFILE_REQUIRED",
                "no profile: start a consortium with covenant up (it writes consortium/profile.json), \
or pass --profile FILE or set COVENANT_PROFILE",
            ));
        }
    };
    let profile = Profile::load(&path)?;
    let chain = a.chain.clone().unwrap_or_else(|| profile.chain_id.clone());
    let endpoints: Vec<String> = if !a.endpoints.is_empty() {
        a.endpoints.clone()
    } else if !profile.endpoints.is_empty() {
        profile.endpoints.clone()
    } else {
        vec![profile.endpoint.clone()]
    };
    let clients: Vec<Client> = endpoints
        .iter()
        .map(|e| Client::new(e, &chain))
        .collect::<Result<_, _>>()?;
    let tracker = clients[0].clone();
    let info = tracker.info().await?;
    let suite: Suite = info.suite.parse()?;
    let config = tracker.config().await?;
    let replicas = ["nodes", "sync_nodes"]
        .iter()
        .map(|k| config["consensus"][k].as_array().map_or(0, Vec::len))
        .sum::<usize>()
        .max(1);
    let contract = a.workload.contract();
    let contracts = tracker.contracts().await?;
    let active = contracts.as_array().is_some_and(|l| {
        l.iter()
            .any(|c| c["name"] == contract && c["status"] == "active")
    });
    if !active {
        return Err(BenchError::new(
            "CONTRACT_MISSING",
            format!(
                "the {} workload calls contract {contract}, which chain {chain} does not have \
active (covenant up deploys it; or covenant contract build contracts/{contract}, then \
covenant contract deploy {contract} WASM)",
                a.workload.name()
            ),
        ));
    }
    let algorithm = match &a.key_algorithm {
        Some(s) => s.parse::<KeyAlgorithm>()?,
        None => suite.default_key_algorithm(),
    };
    if algorithm.suite() != suite {
        return Err(invalid(format!(
            "--key-algorithm {} does not belong to the {suite} suite of chain {chain}",
            algorithm.name()
        )));
    }
    progress.line(format!(
        "bench {} on chain {chain} ({} consensus, {suite}, {replicas} replica(s)) via {} endpoint(s)",
        a.workload.name(),
        info.consensus,
        endpoints.len()
    ));

    // The ceiling's verification rate, measured while the machine is quiet.
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let verify_rate = match a.verify_rate {
        Some(r) => r,
        None => {
            progress.line(format!(
                "measuring {} verifications per second per core (1 s)…",
                algorithm.name()
            ));
            let c = tokio::task::spawn_blocking(move || {
                calibrate::calibrate(suite, Duration::from_secs(1))
            })
            .await
            .map_err(BenchError::internal("the calibration stopped"))??;
            c.measurements
                .iter()
                .find(|m| m.algorithm == algorithm && m.implementation == "covenant")
                .map_or(c.verify_per_sec_per_core, |m| m.verify_per_sec_per_core)
        }
    };

    let say = |m: String| progress.line(format!("  {m}"));
    let signers =
        tokio::task::block_in_place(|| client_identities(&profile, algorithm, a.clients, &say))?;
    let tag = format!("{:x}", covenant_types::tx::now_ms());
    let generator = Generator {
        workload: a.workload,
        chain: chain.clone(),
        suite,
        tag,
        accounts: signers.iter().map(|s| s.account(suite).to_hex()).collect(),
    };
    let drain = Duration::from_secs_f64(a.drain);
    setup(&a, &profile, &generator, &clients, suite, &progress, drain).await?;

    if a.workload == Workload::Query {
        return query_window(&a, &clients, &generator, &progress, cores, &info)
            .await
            .map(|mut r| {
                r.replicas = replicas;
                r.key_algorithm = algorithm.name().into();
                r.verify_algorithm = algorithm.name().into();
                r.verify_per_sec_per_core = verify_rate;
                r
            });
    }

    // Warm-up, then the window's transactions, signed before the clock starts.
    let mut seq = 0u64;
    if a.warmup > 0 {
        progress.line(format!("  warm-up: {} transactions", a.warmup));
        let txs = tokio::task::block_in_place(|| generator.sign_range(&signers, seq, a.warmup))?;
        seq += a.warmup as u64;
        let start = tracker.info().await?.height;
        let (_, rec) = drive(&a, &clients, txs, start, drain, None, &progress).await?;
        if rec.committed.len() < rec.accepted.len() {
            progress.line(format!(
                "  warm-up: {} of {} committed within --drain",
                rec.committed.len(),
                rec.accepted.len()
            ));
        }
    }
    let signing = Instant::now();
    let txs = tokio::task::block_in_place(|| generator.sign_range(&signers, seq, a.txs))?;
    progress.line(format!(
        "  signed {} transactions in {:.1} s; the window opens",
        txs.len(),
        signing.elapsed().as_secs_f64()
    ));

    let usage = Sampler::start(&endpoints).await;
    let start_height = tracker.info().await?.height;
    let (end_height, rec) = drive(
        &a,
        &clients,
        txs,
        start_height,
        drain,
        a.duration.map(Duration::from_secs_f64),
        &progress,
    )
    .await?;
    let first = rec.first_send.unwrap_or_else(Instant::now);
    let window = rec
        .last_commit
        .map_or(Duration::ZERO, |t| t.saturating_duration_since(first))
        .as_secs_f64();
    let (node_cpu, usage_over_time) = usage.finish(window).await;

    let (lost, ledgers_agree) =
        check_ledgers(&clients, &rec, start_height, end_height, &progress).await?;
    let mut failed_by_code = rec.refused.clone();
    let mut committed = 0u64;
    for (_, code) in rec.committed.values() {
        if code == "OK" {
            committed += 1;
        } else {
            *failed_by_code.entry(code.clone()).or_default() += 1;
        }
    }
    let uncommitted = rec
        .accepted
        .keys()
        .filter(|id| !rec.committed.contains_key(*id))
        .count() as u64;
    if uncommitted > 0 {
        *failed_by_code
            .entry("NOT_COMMITTED_IN_DRAIN".into())
            .or_default() += uncommitted;
    }
    let failed = failed_by_code.values().sum();
    let sent = rec.accepted.len() as u64 + rec.refused.values().sum::<u64>();
    let send_window = match (rec.first_send, rec.last_send) {
        (Some(f), Some(l)) if l > f => l.duration_since(f).as_secs_f64(),
        _ => window,
    };
    let tps = if window > 0.0 {
        committed as f64 / window
    } else {
        0.0
    };
    let latency = Latency::of(rec.latencies_ms.clone());
    let ceiling = cores as f64 * verify_rate / replicas as f64;
    Ok(Report {
        workload: a.workload.name(),
        chain,
        suite: suite.to_string(),
        consensus: info.consensus.clone(),
        replicas,
        endpoints: endpoints.clone(),
        clients: a.clients,
        key_algorithm: algorithm.name().into(),
        mode: if a.rate.is_some() { "open" } else { "closed" },
        offered_rate: a.rate,
        concurrency: a.concurrency,
        batch: a.batch,
        warmup: a.warmup,
        sent,
        committed,
        failed,
        failed_by_code,
        lost,
        busy_retries: rec.busy_retries,
        tps,
        window_s: window,
        send_rate: if send_window > 0.0 {
            sent as f64 / send_window
        } else {
            0.0
        },
        p50_ms: latency.p50_ms,
        p90_ms: latency.p90_ms,
        p99_ms: latency.p99_ms,
        max_ms: latency.max_ms,
        cores,
        verify_algorithm: algorithm.name().into(),
        verify_per_sec_per_core: verify_rate,
        ceiling_tps: Some(ceiling),
        fraction_of_ceiling: Some(tps / ceiling),
        node_tx_per_core_s: tps * replicas as f64 / cores as f64,
        start_height,
        end_height,
        blocks: end_height.saturating_sub(start_height),
        ledgers_agree,
        node_cpu,
        usage_over_time,
    })
}

/// Mints for the transfer workload; keys to read for the query workload.
async fn setup(
    a: &RunArgs,
    profile: &Profile,
    generator: &Generator,
    clients: &[Client],
    suite: Suite,
    progress: &Progress,
    drain: Duration,
) -> Result<()> {
    let admin: Signer = match profile.signer(Some("admin")) {
        Ok(s) => s,
        Err(_) => profile.signer(None)?,
    };
    let txs: Vec<SignedTx> = match a.workload {
        Workload::Transfer => generator
            .accounts
            .iter()
            .map(|acct| {
                sign(
                    suite,
                    &admin,
                    TxBuilder::new(&generator.chain, "token", "mint")
                        .args_json(&json!({"to": acct, "amount": 1_000_000_000_000u64})),
                )
            })
            .collect::<Result<_>>()?,
        Workload::Query => (0..QUERY_KEYS)
            .map(|k| {
                sign(
                    suite,
                    &admin,
                    TxBuilder::new(&generator.chain, "kv", "put").args_json(
                        &json!({"key": format!("bench/query/{k}"), "value": format!("value {k}")}),
                    ),
                )
            })
            .collect::<Result<_>>()?,
        _ => return Ok(()),
    };
    let what = if a.workload == Workload::Transfer {
        "minting tokens to each client"
    } else {
        "writing the keys to read"
    };
    progress.line(format!("  setup: {what} ({} transactions)", txs.len()));
    let start = clients[0].info().await?.height;
    let (_, rec) = drive(a, clients, txs, start, drain, None, progress).await?;
    let bad = rec
        .committed
        .values()
        .filter(|(_, code)| code != "OK")
        .count();
    if !rec.refused.is_empty() || bad > 0 || rec.committed.len() < rec.accepted.len() {
        return Err(BenchError::new(
            "SETUP_FAILED",
            format!(
                "setup ({what}) did not commit: refused {:?}, {bad} failed, {} of {} committed \
(the profile's admin identity must be allowed to call it)",
                rec.refused,
                rec.committed.len(),
                rec.accepted.len()
            ),
        ));
    }
    Ok(())
}

/// Send `txs` (closed or open loop per the arguments), follow commits on the first client, and
/// return the last height seen and what was recorded.
async fn drive(
    a: &RunArgs,
    clients: &[Client],
    txs: Vec<SignedTx>,
    start_height: u64,
    drain: Duration,
    duration: Option<Duration>,
    progress: &Progress,
) -> Result<(u64, Record)> {
    let total = txs.len();
    let batches: VecDeque<Vec<SignedTx>> = {
        let mut q = VecDeque::new();
        let mut it = txs.into_iter().peekable();
        while it.peek().is_some() {
            q.push_back(it.by_ref().take(a.batch).collect());
        }
        q
    };
    let shared = Arc::new(Shared {
        record: Mutex::new(Record::default()),
        sent: AtomicU64::new(0),
        busy: AtomicU64::new(0),
        sending_done: AtomicBool::new(false),
        next_client: AtomicUsize::new(0),
    });
    let queue = Arc::new(Mutex::new(batches));
    let started = Instant::now();
    let stop_at = duration.map(|d| started + d);

    let tracker = tokio::spawn(track(
        clients[0].clone(),
        shared.clone(),
        start_height,
        drain,
    ));

    let sem = Arc::new(tokio::sync::Semaphore::new(a.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    match a.rate {
        None => {
            // Closed loop: at most `window` transactions outstanding (sent, not committed).
            let window = (a.concurrency * a.batch) as u64;
            for _ in 0..a.concurrency {
                let (queue, shared, clients, sem) =
                    (queue.clone(), shared.clone(), clients.to_vec(), sem.clone());
                tasks.spawn(async move {
                    loop {
                        if stop_at.is_some_and(|t| Instant::now() >= t) {
                            return;
                        }
                        let Some(batch) = queue.lock().pop_front() else {
                            return;
                        };
                        let len = batch.len() as u64;
                        loop {
                            // Checked and reserved under one lock, so workers cannot overshoot.
                            let admitted = {
                                let r = shared.record.lock();
                                let done =
                                    r.committed.len() as u64 + r.refused.values().sum::<u64>();
                                let sent = shared.sent.load(Ordering::Relaxed);
                                let ok = sent.saturating_sub(done) + len <= window.max(len);
                                if ok {
                                    shared.sent.fetch_add(len, Ordering::Relaxed);
                                }
                                ok
                            };
                            if admitted {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        let Ok(permit) = sem.acquire().await else {
                            return;
                        };
                        send(&clients, &shared, batch).await;
                        drop(permit);
                    }
                });
            }
        }
        Some(rate) => {
            // Open loop: release transactions at the offered rate, in batches.
            let (queue, shared, clients, sem) =
                (queue.clone(), shared.clone(), clients.to_vec(), sem.clone());
            tasks.spawn(async move {
                let mut released = 0usize;
                let mut pending: Vec<SignedTx> = Vec::new();
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                loop {
                    tick.tick().await;
                    let now = Instant::now();
                    if stop_at.is_some_and(|t| now >= t) {
                        return;
                    }
                    let due = (rate * now.duration_since(started).as_secs_f64()) as usize;
                    while released < due {
                        if pending.is_empty() {
                            match queue.lock().pop_front() {
                                Some(b) => pending = b,
                                None => return,
                            }
                        }
                        let take = (due - released).min(pending.len());
                        let chunk: Vec<SignedTx> = pending.drain(..take).collect();
                        released += chunk.len();
                        shared.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        let Ok(permit) = sem.clone().acquire_owned().await else {
                            return;
                        };
                        let (shared, clients) = (shared.clone(), clients.clone());
                        tokio::spawn(async move {
                            send(&clients, &shared, chunk).await;
                            drop(permit);
                        });
                    }
                }
            });
        }
    }

    // Live progress while sending and draining.
    let reporter = {
        let shared = shared.clone();
        let progress = *progress;
        tokio::spawn(async move {
            let mut last = (Instant::now(), 0usize);
            loop {
                tokio::time::sleep(Duration::from_millis(if progress.tty { 500 } else { 2000 }))
                    .await;
                let (acc, com) = {
                    let r = shared.record.lock();
                    (r.accepted.len(), r.committed.len())
                };
                let now = Instant::now();
                let rate = (com - last.1.min(com)) as f64
                    / now.duration_since(last.0).as_secs_f64().max(1e-3);
                last = (now, com);
                let msg = format!(
                    "  {:>6.1} s  sent {}/{total}  accepted {acc}  committed {com}  {:>7.0} tx/s",
                    started.elapsed().as_secs_f64(),
                    shared.sent.load(Ordering::Relaxed),
                    rate
                );
                progress.live(&msg);
            }
        })
    };

    while let Some(r) = tasks.join_next().await {
        r.map_err(BenchError::internal("a sender stopped"))?;
    }
    // Requests still in flight (open loop) hold permits until they finish.
    let _all = sem
        .acquire_many(a.concurrency as u32)
        .await
        .map_err(|e| BenchError::Internal(format!("the sender's semaphore closed: {e}")))?;
    shared.sending_done.store(true, Ordering::Release);
    let end_height = tracker
        .await
        .map_err(BenchError::internal("the tracker stopped"))??;
    reporter.abort();
    if progress.tty {
        progress.live("");
    }
    let mut record = std::mem::take(&mut *shared.record.lock());
    record.busy_retries = shared.busy.load(Ordering::Relaxed);
    Ok((end_height, record))
}

/// One request: a batch, sent again (after the node's hint) while the pool says busy. The
/// caller counted it as sent.
async fn send(clients: &[Client], shared: &Shared, mut batch: Vec<SignedTx>) {
    loop {
        let k = shared.next_client.fetch_add(1, Ordering::Relaxed) % clients.len();
        let bytes: Vec<Vec<u8>> = batch.iter().map(|t| t.bytes.clone()).collect();
        let at = Instant::now();
        {
            let mut r = shared.record.lock();
            r.first_send.get_or_insert(at);
            r.last_send = Some(at);
        }
        let answer = clients[k].submit_batch(&bytes).await;
        let mut retry = Vec::new();
        let mut hint = 50;
        match answer {
            Ok(resp) => {
                let mut r = shared.record.lock();
                for (tx, item) in batch.into_iter().zip(resp.results) {
                    match item.error {
                        None => {
                            r.accepted.insert(tx.id, at);
                        }
                        Some(e) if e.code == "TXPOOL_FULL" => {
                            hint = e.retry_after_ms.unwrap_or(50).clamp(5, 2_000);
                            retry.push(tx);
                        }
                        Some(e) => *r.refused.entry(e.code).or_default() += 1,
                    }
                }
            }
            Err(ClientError::Api {
                code,
                retry_after_ms,
                ..
            }) if code == "TXPOOL_FULL" || code == "BUSY" => {
                hint = retry_after_ms.unwrap_or(50).clamp(5, 2_000);
                retry = batch;
            }
            Err(e) => {
                let mut r = shared.record.lock();
                *r.refused.entry(api_code(&e)).or_default() += batch.len() as u64;
            }
        }
        if retry.is_empty() {
            return;
        }
        shared.busy.fetch_add(retry.len() as u64, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(hint)).await;
        batch = retry;
    }
}

/// Follow `client`'s new blocks and stamp the commits of accepted transactions, until sending
/// is done and everything accepted committed, or `drain` passed after sending stopped.
async fn track(
    client: Client,
    shared: Arc<Shared>,
    start_height: u64,
    drain: Duration,
) -> Result<u64> {
    let mut next = start_height + 1;
    let mut drain_deadline: Option<Instant> = None;
    // Commits seen before the submission answer arrived are matched later.
    let mut early: HashMap<String, (Instant, String)> = HashMap::new();
    loop {
        let height = match client.info().await {
            Ok(i) => i.height,
            Err(_) => next - 1,
        };
        while next <= height {
            let Ok(block) = client.block(&next.to_string(), false).await else {
                break;
            };
            let now = Instant::now();
            let mut r = shared.record.lock();
            for t in block.txs {
                if let Some(at) = r.accepted.get(&t.tx_id).copied() {
                    r.latencies_ms
                        .push(now.saturating_duration_since(at).as_secs_f64() * 1000.0);
                    r.committed.insert(t.tx_id, (now, t.code));
                    r.last_commit = Some(now);
                } else {
                    early.insert(t.tx_id, (now, t.code));
                }
            }
            next += 1;
        }
        {
            let mut r = shared.record.lock();
            if !early.is_empty() {
                let ids: Vec<String> = early
                    .keys()
                    .filter(|id| r.accepted.contains_key(*id))
                    .cloned()
                    .collect();
                for id in ids {
                    if let (Some((t, code)), Some(at)) =
                        (early.remove(&id), r.accepted.get(&id).copied())
                    {
                        r.latencies_ms
                            .push(t.saturating_duration_since(at).as_secs_f64() * 1000.0);
                        r.last_commit = Some(r.last_commit.map_or(t, |l| l.max(t)));
                        r.committed.insert(id, (t, code));
                    }
                }
            }
            if shared.sending_done.load(Ordering::Acquire) {
                if r.committed.len() >= r.accepted.len() {
                    return Ok(next - 1);
                }
                let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + drain);
                if Instant::now() >= deadline {
                    return Ok(next - 1);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Read every endpoint's blocks of the window back: each accepted transaction must be in every
/// ledger; and every node must have the same block at the end height.
async fn check_ledgers(
    clients: &[Client],
    rec: &Record,
    start_height: u64,
    end_height: u64,
    progress: &Progress,
) -> Result<(u64, Option<bool>)> {
    progress.line(format!(
        "  checking {} ledger(s), heights {}..{end_height}",
        clients.len(),
        start_height + 1
    ));
    let mut missing: HashSet<&String> = HashSet::new();
    let mut hashes = HashSet::new();
    for c in clients {
        // A node may be a block or two behind the tracker: give it time to catch up.
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.info().await.map_or(0, |i| i.height) < end_height && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut ids: HashSet<String> = HashSet::with_capacity(rec.accepted.len());
        for h in start_height + 1..=end_height {
            match c.block(&h.to_string(), false).await {
                Ok(b) => {
                    if h == end_height {
                        hashes.insert(b.hash.clone());
                    }
                    ids.extend(b.txs.into_iter().map(|t| t.tx_id));
                }
                Err(e) => {
                    progress.line(format!(
                        "  {}: block {h} unavailable ({})",
                        c.endpoint(),
                        e.code()
                    ));
                    break;
                }
            }
        }
        for id in rec.accepted.keys() {
            if !ids.contains(id) {
                missing.insert(id);
            }
        }
    }
    let agree = (end_height > start_height).then_some(hashes.len() == 1);
    Ok((missing.len() as u64, agree))
}

/// The query workload: `--concurrency` readers in a closed loop (or the offered rate), each
/// query answered by a node from its state.
async fn query_window(
    a: &RunArgs,
    clients: &[Client],
    generator: &Generator,
    progress: &Progress,
    cores: usize,
    info: &covenant_api_types::json::ChainInfo,
) -> Result<Report> {
    let total = a.txs as u64;
    let next = Arc::new(AtomicU64::new(0));
    let lat = Arc::new(Mutex::new(Vec::<f64>::with_capacity(a.txs)));
    let refused = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let started = Instant::now();
    let stop_at = a.duration.map(|d| started + Duration::from_secs_f64(d));
    let endpoints: Vec<String> = clients.iter().map(|c| c.endpoint().to_string()).collect();
    let usage = Sampler::start(&endpoints).await;
    progress.line(format!("  window: {total} queries"));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..a.concurrency {
        let (next, lat, refused) = (next.clone(), lat.clone(), refused.clone());
        let client = clients[w % clients.len()].clone();
        let args: Vec<Value> = (0..QUERY_KEYS).map(|k| generator.call(0, k).2).collect();
        let rate = a.rate;
        tasks.spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= total || stop_at.is_some_and(|t| Instant::now() >= t) {
                    return;
                }
                if let Some(r) = rate {
                    // The readers share one schedule: query `seq` is due at seq ÷ rate.
                    let due = started + Duration::from_secs_f64(seq as f64 / r);
                    tokio::time::sleep_until(due.into()).await;
                }
                let at = Instant::now();
                match client
                    .query("kv", "get", args[(seq % QUERY_KEYS) as usize].clone(), None)
                    .await
                {
                    Ok(r) if r.code == "OK" => lat.lock().push(at.elapsed().as_secs_f64() * 1000.0),
                    Ok(r) => *refused.lock().entry(r.code).or_default() += 1,
                    Err(e) => *refused.lock().entry(api_code(&e)).or_default() += 1,
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(BenchError::internal("a reader stopped"))?;
    }
    let window = started.elapsed().as_secs_f64();
    let (node_cpu, usage_over_time) = usage.finish(window).await;
    let samples = std::mem::take(&mut *lat.lock());
    let failed_by_code = std::mem::take(&mut *refused.lock());
    let committed = samples.len() as u64;
    let failed: u64 = failed_by_code.values().sum();
    let latency = Latency::of(samples);
    let tps = committed as f64 / window.max(1e-9);
    let height = clients[0].info().await?.height;
    Ok(Report {
        workload: a.workload.name(),
        chain: generator.chain.clone(),
        suite: generator.suite.to_string(),
        consensus: info.consensus.clone(),
        replicas: 1,
        endpoints: endpoints.clone(),
        clients: a.clients,
        key_algorithm: String::new(),
        mode: if a.rate.is_some() { "open" } else { "closed" },
        offered_rate: a.rate,
        concurrency: a.concurrency,
        batch: 1,
        warmup: 0,
        sent: committed + failed,
        committed,
        failed,
        failed_by_code,
        lost: 0,
        busy_retries: 0,
        tps,
        window_s: window,
        send_rate: (committed + failed) as f64 / window.max(1e-9),
        p50_ms: latency.p50_ms,
        p90_ms: latency.p90_ms,
        p99_ms: latency.p99_ms,
        max_ms: latency.max_ms,
        cores,
        verify_algorithm: String::new(),
        verify_per_sec_per_core: 0.0,
        ceiling_tps: None,
        fraction_of_ceiling: None,
        node_tx_per_core_s: tps / cores as f64,
        start_height: height,
        end_height: height,
        blocks: 0,
        ledgers_agree: None,
        node_cpu,
        usage_over_time,
    })
}
