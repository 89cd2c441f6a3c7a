//! `covenant up`, `covenant status`, `covenant down`: a local consortium of real node
//! processes, one per org, in one directory.
//!
//! ```text
//! DIR/consortium.json          what up created (orgs, nodes, ports); status and down read it
//! DIR/orgs/ORG/ca/             each org's CA, with its admin, client and node identities
//! DIR/genesis/CHAIN.block      the chain's genesis block
//! DIR/nodes/ORG-node/          node.toml, data/, node.log, node.pid
//! DIR/profile.json             CLI profile: endpoints and every org's admin and client
//! ```

use std::{
    collections::BTreeMap,
    fs::OpenOptions,
    io::{Read, Seek, SeekFrom},
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use clap::Args;
use covenant_crypto::Suite;
use covenant_node::{
    NodeConfig,
    config::{ChainSection, NodeSection, TbftSection},
};
use covenant_pki::{
    Certificate, CertificateAuthority, Role,
    authority::{InitOptions, IssueOptions},
    files::{self, PUBLIC_MODE},
};
use covenant_sdk::{Client, IdentityFiles, Profile};
use covenant_types::{ConsensusNode, Transaction, tx::TxBuilder};
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    failure::Failure,
    node::dev_chain_config,
    output::{Format, emit},
};

/// The file that marks a directory as a consortium made by `covenant up`.
const STATE_FILE: &str = "consortium.json";
/// Example contracts deployed when their sources are found.
const EXAMPLES: [&str; 3] = ["kv", "token", "evidence"];

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
}

#[derive(Debug, Args)]
#[command(
    about = "Show the nodes of a local consortium: process, endpoints, height",
    after_help = "JSON fields: dir, chain, nodes (name, org, role, pid, running, api, grpc, peer, \
height, error)."
)]
pub struct StatusArgs {
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
    #[arg(long, default_value = "consortium")]
    dir: PathBuf,
    /// Seconds to wait for each node to stop before killing it.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OrgEntry {
    name: String,
    ca: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct NodeEntry {
    name: String,
    org: String,
    /// `consensus` or `sync`.
    role: String,
    dir: PathBuf,
    api_port: u16,
    grpc_port: u16,
    peer_port: u16,
}

impl NodeEntry {
    fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Consortium {
    version: u32,
    /// The first chain (the profile's).
    chain: String,
    /// Every chain the nodes host.
    #[serde(default)]
    chains: Vec<String>,
    suite: String,
    consensus: String,
    orgs: Vec<OrgEntry>,
    nodes: Vec<NodeEntry>,
    profile: PathBuf,
    genesis: PathBuf,
}

fn progress(msg: impl AsRef<str>) {
    eprintln!("{}", msg.as_ref());
}

fn inconsistent(dir: &Path, detail: impl std::fmt::Display) -> anyhow::Error {
    Failure::new("DIR_INCONSISTENT", format!("{}: {detail}", dir.display())).into()
}

fn load(dir: &Path) -> Result<Consortium> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|_| {
        Failure::new(
            "NO_CONSORTIUM",
            format!(
                "{} holds no consortium (no {STATE_FILE}); create one with covenant up --dir {}",
                dir.display(),
                dir.display()
            ),
        )
    })?;
    let mut c: Consortium = serde_json::from_str(&text)
        .map_err(|e| inconsistent(dir, format!("{STATE_FILE} is damaged: {e}")))?;
    if c.chains.is_empty() {
        c.chains = vec![c.chain.clone()];
    }
    for n in &c.nodes {
        if !dir.join(&n.dir).join("node.toml").exists() {
            return Err(inconsistent(
                dir,
                format!("node {} has no {}/node.toml", n.name, n.dir.display()),
            ));
        }
    }
    if !dir.join(&c.genesis).exists() {
        return Err(inconsistent(
            dir,
            format!("the genesis block {} is missing", c.genesis.display()),
        ));
    }
    Ok(c)
}

fn check_port(port: u16, what: &str) -> Result<()> {
    TcpListener::bind(("127.0.0.1", port)).map(drop).map_err(|e| {
        Failure::new(
            "PORT_IN_USE",
            format!(
                "port {port} ({what}) is not free: {e}; pick other ports with --base-port, or stop what uses it"
            ),
        )
        .into()
    })
}

fn issue(ca: &mut CertificateAuthority, role: Role, name: &str) -> Result<IdentityFiles> {
    let hosts = if role == Role::Node {
        vec!["127.0.0.1".parse()?, "localhost".parse()?]
    } else {
        vec![]
    };
    let out = ca.issue(&IssueOptions {
        role,
        name: name.into(),
        hosts,
        days: 3650,
        key_algorithm: None,
        out: None,
        force: false,
    })?;
    Ok(IdentityFiles {
        cert: out.cert,
        key: out.key,
    })
}

fn rel(base: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf())
}

/// Create a new consortium's files (no processes yet).
fn create(a: &UpArgs) -> Result<Consortium> {
    let suite: Suite = a.suite.parse()?;
    let key_algorithm = a.key_algorithm.as_deref().map(str::parse).transpose()?;
    for c in &a.chains {
        covenant_types::names::validate_chain_id(c)?;
    }
    if a.chains.is_empty() || a.chains.len() > 8 {
        return Err(Failure::new("INVALID_ARGUMENT", "give between 1 and 8 --chain").into());
    }
    let mut unique = a.chains.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != a.chains.len() {
        return Err(Failure::new("INVALID_ARGUMENT", "a --chain is given twice").into());
    }
    if !(1..=16).contains(&a.orgs) {
        return Err(Failure::new("INVALID_ARGUMENT", "--orgs is between 1 and 16").into());
    }
    if !["tbft", "raft", "solo"].contains(&a.consensus.as_str()) {
        return Err(Failure::new(
            "INVALID_ARGUMENT",
            format!("--consensus {} is not one of tbft, raft, solo", a.consensus),
        )
        .into());
    }
    let n = a.orgs as u16;
    let last = u32::from(a.base_port) + 10 * u32::from(n);
    if last > u32::from(u16::MAX) {
        return Err(Failure::new(
            "INVALID_ARGUMENT",
            "--base-port is too high for that many orgs",
        )
        .into());
    }
    let mut nodes = Vec::new();
    for k in 0..n {
        let org = format!("org{}", k + 1);
        let base = a.base_port + 10 * k;
        let entry = NodeEntry {
            name: format!("{org}-node"),
            org: org.clone(),
            role: if a.consensus == "solo" && k > 0 {
                "sync".into()
            } else {
                "consensus".into()
            },
            dir: PathBuf::from("nodes").join(format!("{org}-node")),
            api_port: base,
            grpc_port: base + 1,
            peer_port: base + 2,
        };
        check_port(entry.api_port, &format!("{} API", entry.name))?;
        check_port(entry.grpc_port, &format!("{} gRPC", entry.name))?;
        check_port(entry.peer_port, &format!("{} peers", entry.name))?;
        nodes.push(entry);
    }
    let dir = &a.dir;
    files::create_private_dir(dir)?;
    progress(format!(
        "Creating {} orgs with their CAs ({suite} suite)…",
        a.orgs
    ));
    let mut orgs = Vec::new();
    let mut roots = Vec::new();
    let mut identities = BTreeMap::new();
    let mut node_files = Vec::new();
    for entry in &nodes {
        let ca_dir = dir.join("orgs").join(&entry.org).join("ca");
        CertificateAuthority::init(
            &ca_dir,
            &InitOptions {
                org: entry.org.clone(),
                suite,
                key_algorithm,
                intermediate: false,
                days: 3650,
                force: false,
            },
        )
        .with_context(|| format!("cannot create the CA of {}", entry.org))?;
        let mut ca = CertificateAuthority::open(&ca_dir)?;
        let admin = issue(&mut ca, Role::Admin, "admin")?;
        let client = issue(&mut ca, Role::Client, "client")?;
        let node = issue(&mut ca, Role::Node, &entry.name)?;
        for (name, f) in [("admin", &admin), ("client", &client)] {
            let files = IdentityFiles {
                cert: rel(dir, &f.cert),
                key: rel(dir, &f.key),
            };
            if entry.org == "org1" {
                identities.insert(name.to_string(), files.clone());
            }
            identities.insert(format!("{}-{name}", entry.org), files);
        }
        roots.push((entry.org.clone(), ca.root().der().to_vec()));
        orgs.push(OrgEntry {
            name: entry.org.clone(),
            ca: rel(dir, &ca_dir),
        });
        node_files.push(node);
    }
    let mut consensus_nodes = Vec::new();
    let mut sync_nodes = Vec::new();
    for (entry, f) in nodes.iter().zip(&node_files) {
        let cert = Certificate::load(&f.cert)?;
        let n = ConsensusNode {
            org_id: entry.org.clone(),
            node_id: entry.name.clone(),
            certificate: cert.der().to_vec(),
            address: format!("127.0.0.1:{}", entry.peer_port),
        };
        if entry.role == "consensus" {
            consensus_nodes.push(n);
        } else {
            sync_nodes.push(n);
        }
    }
    std::fs::create_dir_all(dir.join("genesis"))?;
    let mut genesis_files = Vec::new();
    for chain in &a.chains {
        let mut config =
            dev_chain_config(chain, suite, &roots, consensus_nodes.clone(), &a.consensus);
        if let Some(c) = config.consensus.as_mut() {
            c.sync_nodes = sync_nodes.clone();
        }
        let genesis =
            covenant_chain::genesis::genesis_block(&config, covenant_types::tx::now_ms())?;
        let genesis_rel = PathBuf::from("genesis").join(format!("{chain}.block"));
        files::write_atomic(&dir.join(&genesis_rel), &genesis.encode(), PUBLIC_MODE)?;
        progress(format!(
            "Chain {chain} ({} consensus, {} nodes), genesis {}",
            a.consensus,
            nodes.len(),
            genesis.hash
        ));
        genesis_files.push((chain.clone(), genesis_rel));
    }
    for (entry, f) in nodes.iter().zip(&node_files) {
        let node_dir = dir.join(&entry.dir);
        files::create_private_dir(&node_dir)?;
        let up = |p: &Path| Path::new("../..").join(rel(dir, p));
        let config = NodeConfig {
            node: NodeSection {
                name: entry.name.clone(),
                data_dir: "data".into(),
                api_listen: format!("127.0.0.1:{}", entry.api_port),
                grpc_listen: Some(format!("127.0.0.1:{}", entry.grpc_port)),
                cert: up(&f.cert),
                key: up(&f.key),
                peer_listen: Some(format!("127.0.0.1:{}", entry.peer_port)),
                peer_advertise: None,
            },
            chains: genesis_files
                .iter()
                .map(|(chain, g)| ChainSection {
                    id: chain.clone(),
                    genesis: Path::new("../..").join(g),
                    verify_blocks: 100,
                    pool_max_txs: None,
                })
                .collect(),
            // Loopback is fast: give up on a silent proposer sooner than on a real network.
            tbft: TbftSection {
                propose_ms: 1500,
                vote_ms: 500,
                per_round_ms: 250,
            },
            api: Default::default(),
            base: node_dir.clone(),
        };
        files::write_atomic(
            &node_dir.join("node.toml"),
            config.to_toml()?.as_bytes(),
            PUBLIC_MODE,
        )?;
    }
    let profile = Profile {
        endpoint: nodes[0].api(),
        chain_id: a.chains[0].clone(),
        identity: "admin".into(),
        identities,
        endpoints: nodes.iter().map(NodeEntry::api).collect(),
        base: dir.clone(),
    };
    files::write_atomic(
        &dir.join("profile.json"),
        serde_json::to_string_pretty(&profile)?.as_bytes(),
        PUBLIC_MODE,
    )?;
    let consortium = Consortium {
        version: 1,
        chain: a.chains[0].clone(),
        chains: a.chains.clone(),
        suite: suite.name().into(),
        consensus: a.consensus.clone(),
        orgs,
        nodes,
        profile: "profile.json".into(),
        genesis: genesis_files[0].1.clone(),
    };
    // Written last: a directory with this file is complete.
    files::write_atomic(
        &dir.join(STATE_FILE),
        serde_json::to_string_pretty(&consortium)?.as_bytes(),
        PUBLIC_MODE,
    )?;
    Ok(consortium)
}

/// The pid in a node's pid file, if that process still runs a covenant node.
fn running_pid(node_dir: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(node_dir.join("node.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    alive(pid).then_some(pid)
}

fn alive(pid: u32) -> bool {
    let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    if rustix::process::test_kill_process(p).is_err() {
        return false;
    }
    // A recycled pid is not our node; a zombie is not running.
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let text = String::from_utf8_lossy(&stat);
            let state = text
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            if state == Some("Z") {
                return false;
            }
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains("node") && c.contains("start")
                })
                .unwrap_or(true)
        }
        Err(_) => true,
    }
}

fn log_tail(path: &Path, bytes: u64) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(bytes)));
    let mut s = String::new();
    let _ = f.read_to_string(&mut s);
    s
}

/// Start a node process in the background; returns its handle.
fn spawn_node(dir: &Path, n: &NodeEntry) -> Result<Child> {
    let node_dir = dir.join(&n.dir);
    let log_path = node_dir.join("node.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let exe = std::env::current_exe().context("cannot find the covenant executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg("node")
        .arg("start")
        .arg("--dir")
        .arg(&node_dir)
        .arg("--output")
        .arg("json")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: Ctrl-C in this terminal does not stop the consortium.
        .process_group(0);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info,openraft=warn");
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start node {}", n.name))?;
    files::write_atomic(
        &node_dir.join("node.pid"),
        child.id().to_string().as_bytes(),
        PUBLIC_MODE,
    )?;
    Ok(child)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Start the nodes that are not running and wait until every API answers.
fn start_nodes(dir: &Path, c: &Consortium, deadline: Instant) -> Result<BTreeMap<String, u32>> {
    let mut pids = BTreeMap::new();
    let mut children: Vec<(usize, Child)> = Vec::new();
    for (i, n) in c.nodes.iter().enumerate() {
        if let Some(pid) = running_pid(&dir.join(&n.dir)) {
            progress(format!("  {} already running (pid {pid})", n.name));
            pids.insert(n.name.clone(), pid);
            continue;
        }
        check_port(n.api_port, &format!("{} API", n.name))?;
        check_port(n.peer_port, &format!("{} peers", n.name))?;
        let child = spawn_node(dir, n)?;
        progress(format!("  started {} (pid {})", n.name, child.id()));
        pids.insert(n.name.clone(), child.id());
        children.push((i, child));
    }
    let rt = runtime()?;
    let mut waiting: Vec<usize> = (0..c.nodes.len()).collect();
    while !waiting.is_empty() {
        for (i, child) in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                let n = &c.nodes[*i];
                let log = dir.join(&n.dir).join("node.log");
                return Err(Failure::new(
                    "NODE_FAILED",
                    format!(
                        "node {} exited ({status}); last lines of {}:\n{}",
                        n.name,
                        log.display(),
                        log_tail(&log, 2000)
                    ),
                )
                .into());
            }
        }
        let mut still = Vec::new();
        for i in waiting {
            let n = &c.nodes[i];
            let client = Client::new(&n.api(), &c.chain)?;
            match rt.block_on(client.info()) {
                Ok(_) => progress(format!("  {} ready at {}", n.name, n.api())),
                Err(_) => still.push(i),
            }
        }
        waiting = still;
        if !waiting.is_empty() {
            if Instant::now() > deadline {
                let names: Vec<&str> = waiting.iter().map(|i| c.nodes[*i].name.as_str()).collect();
                return Err(Failure::new(
                    "TIMEOUT",
                    format!(
                        "nodes {} did not answer in time; see their node.log",
                        names.join(", ")
                    ),
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(pids)
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

/// Submit a transaction as the profile's admin and wait for its commit, retrying while the
/// consensus nodes find each other.
fn commit(
    rt: &tokio::runtime::Runtime,
    profile: &Profile,
    chain: &str,
    builder: impl Fn() -> TxBuilder,
    deadline: Instant,
) -> Result<covenant_api_types::json::SubmitResponse> {
    let signer = profile.signer(None)?;
    loop {
        let mut last = String::new();
        for endpoint in std::iter::once(&profile.endpoint).chain(&profile.endpoints) {
            let client = Client::new(endpoint, chain)?;
            let payload = builder().build()?;
            let tx: Transaction = signer
                .sign_payload(payload)
                .map_err(|e| Failure::new("SIGNING_FAILED", e))?;
            match rt.block_on(client.submit(&tx.encode_to_vec(), true)) {
                Ok(r) if r.height.is_some() => return Ok(r),
                Ok(r) => last = format!("not committed: {}", r.status),
                Err(e) => last = e.to_string(),
            }
        }
        if Instant::now() > deadline {
            return Err(Failure::new(
                "TIMEOUT",
                format!("the chain did not commit in time ({last}); see the nodes' node.log"),
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub fn up(a: UpArgs, format: Format) -> Result<u8> {
    let dir = a.dir.clone();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(a.timeout.max(10));
    let resumed = dir.join(STATE_FILE).exists();
    let consortium = if resumed {
        let c = load(&dir)?;
        progress(format!(
            "Resuming consortium {} in {} ({} consensus, {} suite, {} nodes)",
            c.chain,
            dir.display(),
            c.consensus,
            c.suite,
            c.nodes.len()
        ));
        c
    } else {
        let non_empty = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some());
        if non_empty {
            return Err(inconsistent(
                &dir,
                format!(
                    "the directory is not empty and holds no {STATE_FILE}; choose another --dir"
                ),
            ));
        }
        match create(&a) {
            Ok(c) => c,
            Err(e) => {
                // Leave nothing half-made behind.
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        }
    };
    progress("Starting nodes…");
    let pids = start_nodes(&dir, &consortium, deadline)?;
    let profile = Profile::load(&dir.join(&consortium.profile))?;
    let rt = runtime()?;
    progress("Waiting for the chain to commit…");
    // A real transaction proves the nodes agree: register the admin's certificate
    // (idempotent; later transactions can then name it by hash).
    let admin_cert = profile
        .identities
        .get("admin")
        .map(|f| profile.resolve(&f.cert))
        .ok_or_else(|| inconsistent(&dir, "the profile has no admin identity"))?;
    let pem = std::fs::read_to_string(&admin_cert)?;
    let chain_id = consortium.chain.clone();
    for chain in &consortium.chains {
        let r = commit(
            &rt,
            &profile,
            chain,
            || TxBuilder::new(chain, "sys.certs", "register").args_json(&json!({"cert": pem})),
            deadline,
        )?;
        progress(format!(
            "  {chain} committed at height {}",
            r.height.unwrap_or_default()
        ));
    }
    if let Some(contracts) = find_contracts(&a) {
        let client = Client::new(&profile.endpoint, &chain_id)?;
        let deployed = rt.block_on(client.contracts()).unwrap_or_default();
        for name in EXAMPLES {
            let exists = deployed
                .as_array()
                .is_some_and(|l| l.iter().any(|c| c["name"] == name));
            if exists {
                continue;
            }
            progress(format!(
                "Building contract {name} (the first build takes a while)…"
            ));
            let wasm = covenant_deploy::contract_build::build(&contracts.join(name), None)?;
            let code = std::fs::read(&wasm)?;
            let code = covenant_api_types::json::b64_encode(&code);
            let r = commit(
                &rt,
                &profile,
                &chain_id,
                || {
                    TxBuilder::new(&chain_id, "sys.contracts", "install").args_json(
                        &json!({"name": name, "version": "1.0.0", "code": code, "methods": []}),
                    )
                },
                deadline,
            )?;
            progress(format!(
                "  deployed {name} at height {}",
                r.height.unwrap_or_default()
            ));
        }
    } else if !a.no_contracts {
        progress(
            "Example contracts not found (no ./contracts); skipped. Deploy your own with covenant contract deploy.",
        );
    }
    let client = Client::new(&profile.endpoint, &chain_id)?;
    let height = rt.block_on(client.info()).map(|i| i.height).unwrap_or(0);
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
                "grpc": format!("127.0.0.1:{}", n.grpc_port),
                "peer": format!("127.0.0.1:{}", n.peer_port),
                "log": dir.join(&n.dir).join("node.log"),
            })
        })
        .collect();
    // Absolute paths in the report: scripts may run elsewhere.
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let profile_path = dir.join(&consortium.profile);
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
        "resumed": resumed,
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
                "  {:<12} {:<9} pid {:<7} api {}  grpc 127.0.0.1:{}  peers 127.0.0.1:{}\n",
                n.name,
                n.role,
                pids.get(&n.name).map(|p| p.to_string()).unwrap_or_default(),
                n.api(),
                n.grpc_port,
                n.peer_port
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
    let c = load(&a.dir)?;
    let rt = runtime()?;
    let mut nodes = Vec::new();
    for n in &c.nodes {
        let pid = running_pid(&a.dir.join(&n.dir));
        let (height, error) = if pid.is_some() {
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
            "pid": pid,
            "running": pid.is_some(),
            "api": n.api(),
            "grpc": format!("127.0.0.1:{}", n.grpc_port),
            "peer": format!("127.0.0.1:{}", n.peer_port),
            "height": height,
            "error": error,
        }));
    }
    let out = json!({"dir": a.dir, "chain": c.chain, "consensus": c.consensus, "suite": c.suite, "nodes": nodes});
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
        t
    })?;
    Ok(0)
}

fn signal(pid: u32, sig: rustix::process::Signal) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|p| rustix::process::kill_process(p, sig).is_ok())
}

pub fn down(a: DownArgs, format: Format) -> Result<u8> {
    let c = load(&a.dir)?;
    let mut stopped = Vec::new();
    let mut running = Vec::new();
    for n in &c.nodes {
        let node_dir = a.dir.join(&n.dir);
        if let Some(pid) = running_pid(&node_dir) {
            signal(pid, rustix::process::Signal::TERM);
            running.push((n, pid));
        } else {
            let _ = std::fs::remove_file(node_dir.join("node.pid"));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    for (n, pid) in running {
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let killed = alive(pid);
        if killed {
            signal(pid, rustix::process::Signal::KILL);
            while alive(pid) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = std::fs::remove_file(a.dir.join(&n.dir).join("node.pid"));
        progress(format!(
            "  stopped {} (pid {pid}){}",
            n.name,
            if killed {
                ", killed after the timeout"
            } else {
                ""
            }
        ));
        stopped.push(json!({"name": n.name, "pid": pid, "killed": killed}));
    }
    emit(format, &json!({"dir": a.dir, "stopped": stopped}), || {
        if stopped.is_empty() {
            format!("No node of {} was running.", a.dir.display())
        } else {
            format!(
                "Stopped {} node(s) of {}. Resume with: covenant up --dir {}",
                stopped.len(),
                a.dir.display(),
                a.dir.display()
            )
        }
    })?;
    Ok(0)
}
