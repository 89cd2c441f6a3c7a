//! `covenant up`, `covenant status`, `covenant down`: a local consortium of real node
//! processes, one per org, in one directory — the arguments and the reports; the work is
//! covenant-deploy's local driver (the directory's layout is documented there).

use std::{
    io::Write as _,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use clap::Args;
use covenant_deploy::{
    Driver, LocalDriver, Plan,
    up::{EXAMPLES, UpOptions},
};
use covenant_sdk::Client;
use serde_json::json;

use crate::output::{Format, emit};

#[derive(Debug, Args)]
#[command(
    about = "Start a local consortium: N orgs, one node process each, a chain, example contracts",
    long_about = "Create (or resume) a local consortium in a directory: N member orgs, each with \
its own certificate authority, admin and client identities and one consensus node running as a \
separate process, and a chain (default `main`, TBFT consensus, national algorithms) whose genesis \
admits them all. The example contracts (kv, token, evidence) are built and deployed when their \
sources are found (./contracts). Returns once the chain commits blocks, leaving the nodes \
running; `covenant status` shows them and `covenant down` stops them. Running `covenant up` \
again on the same directory restarts stopped nodes and resumes the same chain.",
    after_help = "Ports: node k (k = 0..N-1) uses BASE+10k for its REST API, BASE+10k+1 for \
gRPC and BASE+10k+2 for peers.\n\nJSON fields: dir, profile, chain (the profile's), chains, suite, \
consensus, height, api, nodes (name, org, role, pid, api, grpc, peer, log).\n\nExamples:\n  covenant up\n  covenant \
up --dir demo --orgs 3 --consensus raft --suite intl\n  export COVENANT_PROFILE=consortium/profile.json\n  \
covenant contract invoke kv put --args '{\"key\":\"a\",\"value\":\"1\"}'\n  covenant status\n  \
covenant down"
)]
pub struct UpArgs {
    /// Directory of the consortium (created, or resumed if it holds one).
    #[arg(long, default_value = "consortium")]
    dir: PathBuf,
    /// Number of member orgs, each running one consensus node (new consortium only).
    #[arg(long, default_value_t = 4)]
    orgs: u32,
    /// Consensus of the chain: tbft (Byzantine-fault tolerant, needs 3f+1 nodes), raft
    /// (crash-fault tolerant) or solo (one orderer; the other orgs' nodes follow).
    #[arg(long, default_value = "tbft")]
    consensus: String,
    /// Algorithm suite: sm (SM2/SM3/SM4) or intl (P-256/SHA-256/AES-GCM).
    #[arg(long, default_value = "sm")]
    suite: String,
    /// Key algorithm for the intl suite: p256 (default) or ed25519.
    #[arg(long)]
    key_algorithm: Option<String>,
    /// Chain id; repeat for several chains on the same nodes (the first is the profile's).
    #[arg(long = "chain", default_values_t = vec!["main".to_string()])]
    chains: Vec<String>,
    /// First port; every node takes three (API, gRPC, peers).
    #[arg(long, default_value_t = 7100)]
    base_port: u16,
    /// Directory holding the example contract crates (default: ./contracts if present).
    #[arg(long)]
    contracts: Option<PathBuf>,
    /// Do not build and deploy the example contracts.
    #[arg(long)]
    no_contracts: bool,
    /// Seconds to wait for the nodes and the first commits.
    #[arg(long, default_value_t = 180)]
    timeout: u64,
    /// Port of the platform (its API and console) started beside the nodes (default: the
    /// port it had before, else 7080).
    #[arg(long)]
    platform_port: Option<u16>,
    /// First port of the nodes the platform starts for networks created on it (default: the
    /// base port + 200); each takes three, ten apart.
    #[arg(long)]
    platform_node_port: Option<u16>,
    /// Do not start the platform.
    #[arg(long)]
    no_platform: bool,
    /// At most this many transactions per block, 1 to 100000 (new consortium only; default:
    /// the chain's default). `--block-txs 1` makes a long chain quickly for benchmarks.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    block_txs: Option<u32>,
    /// Give each node a loopback address of its own (127.0.1.1, 127.0.1.2, ...) for its peer
    /// port and its connections to the other nodes, so that packet filters can cut or slow
    /// the link between two nodes (new consortium only; the fault-injection tests use it).
    #[arg(long)]
    own_addresses: bool,
}

#[derive(Debug, Args)]
#[command(
    about = "Show the nodes of a local consortium: process, endpoints, height",
    after_help = "JSON fields: dir, chain, nodes (name, org, role, pid, running, api, grpc, peer, \
height, error)."
)]
pub struct StatusArgs {
    /// Directory of the consortium (as given to covenant up).
    #[arg(long, default_value = "consortium")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
#[command(
    about = "Stop every node of a local consortium (data is kept; `covenant up` resumes)",
    after_help = "Each node gets SIGTERM and finishes the block in progress; a node still \
running after --timeout seconds is killed."
)]
pub struct DownArgs {
    /// Directory of the consortium (as given to covenant up).
    #[arg(long, default_value = "consortium")]
    dir: PathBuf,
    /// Seconds to wait for each node to stop before killing it.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
}

fn progress(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn driver(dir: &std::path::Path) -> Result<LocalDriver> {
    let exe = std::env::current_exe().context("cannot find the covenant executable")?;
    Ok(LocalDriver::new(dir, exe))
}

fn find_contracts(a: &UpArgs) -> Option<PathBuf> {
    if a.no_contracts {
        return None;
    }
    let dir = a
        .contracts
        .clone()
        .unwrap_or_else(|| PathBuf::from("contracts"));
    EXAMPLES
        .iter()
        .all(|e| dir.join(e).join("Cargo.toml").exists())
        .then_some(dir)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn up(a: UpArgs, format: Format) -> Result<u8> {
    let started = Instant::now();
    let driver = driver(&a.dir)?;
    let contracts = find_contracts(&a);
    let options = UpOptions {
        plan: Plan {
            orgs: a.orgs,
            consensus: a.consensus.clone(),
            suite: a.suite.clone(),
            key_algorithm: a.key_algorithm.clone(),
            chains: a.chains.clone(),
            base_port: a.base_port,
            block_txs: a.block_txs,
            own_addresses: a.own_addresses,
        },
        contracts,
        timeout: Duration::from_secs(a.timeout.max(10)),
    };
    let report = covenant_deploy::up::up(&driver, &options, &progress)?;
    let platform = if a.no_platform {
        None
    } else {
        match crate::local_platform::start(
            &a.dir,
            &report.consortium,
            a.platform_port,
            a.platform_node_port
                .unwrap_or_else(|| a.base_port.saturating_add(200)),
            &progress,
        ) {
            Ok(p) => Some(p),
            Err(e) => {
                // What this call started does not outlive its failure.
                driver.stop(
                    &report.consortium,
                    Some(&report.started.started),
                    Duration::from_secs(20),
                    &progress,
                );
                return Err(e.context("starting the platform"));
            }
        }
    };
    if options.contracts.is_none() && !a.no_contracts {
        progress(
            "Example contracts not found (no ./contracts); skipped. Deploy your own with covenant contract deploy.",
        );
    }
    let consortium = &report.consortium;
    let pids = &report.started.pids;
    let dir = &a.dir;
    let nodes: Vec<serde_json::Value> = consortium
        .nodes
        .iter()
        .map(|n| {
            json!({
                "name": n.name,
                "org": n.org,
                "role": n.role,
                "pid": pids.get(&n.name),
                "api": n.api(),
                "grpc": n.grpc(),
                "peer": n.peer(),
                "log": dir.join(&n.dir).join("node.log"),
            })
        })
        .collect();
    // Absolute paths in the report: scripts may run elsewhere.
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
    let profile_path = dir.join(&consortium.profile);
    let height = report.height;
    let out = json!({
        "dir": dir,
        "profile": profile_path,
        "chain": consortium.chain,
        "chains": consortium.chains,
        "suite": consortium.suite,
        "consensus": consortium.consensus,
        "height": height,
        "api": consortium.nodes[0].api(),
        "nodes": nodes,
        "resumed": report.resumed,
        "installed": report.installed.iter().map(|(name, h)| json!({"name": name, "height": h})).collect::<Vec<_>>(),
        "platform": platform.as_ref().map(|p| json!({"url": p.url, "console": format!("{}/", p.url), "docs": format!("{}/api/docs", p.url), "login": p.login, "password_file": p.password_file, "pid": p.pid})),
    });
    emit(format, &out, || {
        let mut t = format!(
            "Consortium {} is up in {} ({} consensus, {} suite, {} orgs), height {height} ({:.1} s)\n",
            consortium.chains.join(", "),
            dir.display(),
            consortium.consensus,
            consortium.suite,
            consortium.orgs.len(),
            started.elapsed().as_secs_f64()
        );
        for n in &consortium.nodes {
            t.push_str(&format!(
                "  {:<12} {:<9} pid {:<7} api {}  grpc {}  peers {}\n",
                n.name,
                n.role,
                pids.get(&n.name).map(|p| p.to_string()).unwrap_or_default(),
                n.api(),
                n.grpc(),
                n.peer()
            ));
        }
        if let Some(p) = &platform {
            t.push_str(&format!(
                "Console:  {url}/ (API {url}/api/v1, docs {url}/api/docs)\n  sign in as {login}; the password is in {file}\n",
                url = p.url,
                login = p.login,
                file = p.password_file.display()
            ));
        }
        t.push_str(&format!(
            "Profile: {p}\n  export COVENANT_PROFILE={p}\n  covenant contract invoke kv put --args '{{\"key\":\"a\",\"value\":\"1\"}}'\nStatus: covenant status --dir {d}\nStop:   covenant down --dir {d}",
            p = profile_path.display(),
            d = dir.display()
        ));
        t
    })?;
    Ok(0)
}

pub fn status(a: StatusArgs, format: Format) -> Result<u8> {
    let driver = driver(&a.dir)?;
    let c = driver.load()?;
    let rt = runtime()?;
    let mut nodes = Vec::new();
    for (n, p) in c.nodes.iter().zip(driver.processes(&c)) {
        let (height, error) = if p.pid.is_some() {
            let client = Client::new(&n.api(), &c.chain)?;
            match rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), client.info()).await
            }) {
                Ok(Ok(info)) => (Some(info.height), None),
                Ok(Err(e)) => (None, Some(e.to_string())),
                Err(_) => (None, Some("the API did not answer within 5 s".to_string())),
            }
        } else {
            (None, None)
        };
        nodes.push(json!({
            "name": n.name,
            "org": n.org,
            "role": n.role,
            "pid": p.pid,
            "running": p.pid.is_some(),
            "api": n.api(),
            "grpc": n.grpc(),
            "peer": n.peer(),
            "height": height,
            "error": error,
        }));
    }
    let platform = crate::local_platform::status(&a.dir);
    let out = json!({"dir": a.dir, "chain": c.chain, "consensus": c.consensus, "suite": c.suite, "nodes": nodes, "platform": platform});
    emit(format, &out, || {
        let mut t = format!(
            "Consortium {} in {} ({} consensus, {} suite)\n",
            c.chain,
            a.dir.display(),
            c.consensus,
            c.suite
        );
        for n in &nodes {
            let state = if n["running"] == true {
                format!(
                    "running  pid {:<7} height {}",
                    n["pid"],
                    n["height"]
                        .as_u64()
                        .map(|h| h.to_string())
                        .unwrap_or_else(|| format!("? ({})", n["error"].as_str().unwrap_or("")))
                )
            } else {
                "stopped".to_string()
            };
            t.push_str(&format!(
                "  {:<12} {:<9} {:<8} {}  {}\n",
                n["name"].as_str().unwrap_or(""),
                n["role"].as_str().unwrap_or(""),
                n["org"].as_str().unwrap_or(""),
                n["api"].as_str().unwrap_or(""),
                state
            ));
        }
        match platform["pid"].as_u64() {
            Some(pid) => t.push_str(&format!(
                "  platform     running  pid {pid:<7} {}\n",
                platform["url"].as_str().unwrap_or("")
            )),
            None => t.push_str("  platform     stopped\n"),
        }
        t
    })?;
    Ok(0)
}

pub fn down(a: DownArgs, format: Format) -> Result<u8> {
    let driver = driver(&a.dir)?;
    let c = driver.load()?;
    let platform = crate::local_platform::stop(&a.dir, Duration::from_secs(a.timeout));
    let stopped = driver.stop(&c, None, Duration::from_secs(a.timeout), &progress);
    let list: Vec<serde_json::Value> = stopped
        .iter()
        .map(|s| json!({"name": s.name, "pid": s.pid, "killed": s.killed}))
        .collect();
    emit(
        format,
        &json!({"dir": a.dir, "stopped": list, "platform_stopped": platform}),
        || {
            if stopped.is_empty() && platform.is_none() {
                format!("No node of {} was running.", a.dir.display())
            } else {
                format!(
                    "Stopped {} node(s){} of {}. Resume with: covenant up --dir {}",
                    stopped.len(),
                    if platform.is_some() {
                        " and the platform"
                    } else {
                        ""
                    },
                    a.dir.display(),
                    a.dir.display()
                )
            }
        },
    )?;
    Ok(0)
}
