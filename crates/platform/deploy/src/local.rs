//! The local-process driver: a consortium of real node processes, one per org, in one
//! directory on this machine.
//!
//! ```text
//! DIR/consortium.json          what was created (orgs, nodes, ports)
//! DIR/orgs/ORG/ca/             each org's CA, with its admin, client and node identities
//! DIR/genesis/CHAIN.block      each chain's genesis block
//! DIR/nodes/ORG-node/          node.toml, data/, node.log, node.pid
//! DIR/profile.json             client profile: endpoints and every org's admin and client
//! ```

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Child,
    time::{Duration, Instant},
};

use covenant_crypto::Suite;
use covenant_pki::{
    Certificate, CertificateAuthority, Role,
    authority::{InitOptions, IssueOptions},
    files::{self, PUBLIC_MODE},
};
use covenant_sdk::{Client, IdentityFiles, Profile};
use covenant_types::ConsensusNode;

use crate::{
    DeployError,
    chain_config::default_chain_config,
    consortium::{Consortium, NodeEntry, NodeProcess, OrgEntry, Plan, Started, Stopped},
    driver::{Driver, Progress},
    node_config::{ChainSection, NodeSection, NodeToml, TbftSection},
    process,
};

/// The file that marks a directory as a consortium of this driver.
pub const STATE_FILE: &str = "consortium.json";

/// Runs a consortium's nodes as processes of `node_exe` (`covenant`) in `dir`.
#[derive(Debug, Clone)]
pub struct LocalDriver {
    pub dir: PathBuf,
    /// The `covenant` executable the nodes run (`covenant node start`).
    pub node_exe: PathBuf,
}

/// Issue identity `name` with `role` from `ca`, valid ten years; a node's certificate names
/// the loopback host (the local driver's nodes listen there).
pub fn issue_identity(
    ca: &mut CertificateAuthority,
    role: Role,
    name: &str,
) -> Result<IdentityFiles, DeployError> {
    let hosts = if role == Role::Node {
        ["127.0.0.1", "localhost"]
            .iter()
            .filter_map(|h| h.parse().ok())
            .collect()
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

/// `p` relative to `base` when it lies below it, else `p`.
pub fn rel(base: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf())
}

fn json_file<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), DeployError> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| DeployError::Other(e.to_string()))?;
    files::write_atomic(path, text.as_bytes(), PUBLIC_MODE)?;
    Ok(())
}

/// Check a plan before anything is created.
pub fn check_plan(plan: &Plan) -> Result<(), DeployError> {
    let bad = |s: &str| Err(DeployError::InvalidArgument(s.to_string()));
    for c in &plan.chains {
        covenant_types::names::validate_chain_id(c)?;
    }
    if plan.chains.is_empty() || plan.chains.len() > 8 {
        return bad("give between 1 and 8 chains");
    }
    let mut unique = plan.chains.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != plan.chains.len() {
        return bad("a chain is named twice");
    }
    if !(1..=16).contains(&plan.orgs) {
        return bad("the number of orgs is between 1 and 16");
    }
    if !["tbft", "raft", "solo"].contains(&plan.consensus.as_str()) {
        return Err(DeployError::InvalidArgument(format!(
            "consensus {} is not one of tbft, raft, solo",
            plan.consensus
        )));
    }
    let last = u32::from(plan.base_port) + 10 * plan.orgs;
    if last > u32::from(u16::MAX) {
        return bad("the base port is too high for that many orgs");
    }
    Ok(())
}

impl LocalDriver {
    pub fn new(dir: impl Into<PathBuf>, node_exe: impl Into<PathBuf>) -> Self {
        LocalDriver {
            dir: dir.into(),
            node_exe: node_exe.into(),
        }
    }

    fn create_files(&self, plan: &Plan, progress: Progress<'_>) -> Result<Consortium, DeployError> {
        let suite: Suite = plan.suite.parse()?;
        let key_algorithm = plan.key_algorithm.as_deref().map(str::parse).transpose()?;
        let n = plan.orgs as u16;
        let mut nodes = Vec::new();
        for k in 0..n {
            let org = format!("org{}", k + 1);
            let base = plan.base_port + 10 * k;
            let entry = NodeEntry {
                name: format!("{org}-node"),
                org: org.clone(),
                role: if plan.consensus == "solo" && k > 0 {
                    "sync".into()
                } else {
                    "consensus".into()
                },
                dir: PathBuf::from("nodes").join(format!("{org}-node")),
                api_port: base,
                grpc_port: base + 1,
                peer_port: base + 2,
                peer_host: plan
                    .own_addresses
                    .then(|| std::net::Ipv4Addr::new(127, 0, 1, k as u8 + 1)),
            };
            process::check_port(entry.api_port, &format!("{} API", entry.name))?;
            process::check_port(entry.grpc_port, &format!("{} gRPC", entry.name))?;
            process::check_address(&entry.peer(), &format!("{} peers", entry.name))?;
            nodes.push(entry);
        }
        let dir = &self.dir;
        files::create_private_dir(dir)?;
        progress(&format!(
            "Creating {} orgs with their CAs ({suite} suite)…",
            plan.orgs
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
            )?;
            let mut ca = CertificateAuthority::open(&ca_dir)?;
            let admin = issue_identity(&mut ca, Role::Admin, "admin")?;
            let client = issue_identity(&mut ca, Role::Client, "client")?;
            let node = issue_identity(&mut ca, Role::Node, &entry.name)?;
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
                address: entry.peer(),
            };
            if entry.role == "consensus" {
                consensus_nodes.push(n);
            } else {
                sync_nodes.push(n);
            }
        }
        let genesis_dir = dir.join("genesis");
        std::fs::create_dir_all(&genesis_dir).map_err(DeployError::io(&genesis_dir))?;
        let mut genesis_files = Vec::new();
        for chain in &plan.chains {
            let mut config = default_chain_config(
                chain,
                suite,
                &roots,
                consensus_nodes.clone(),
                &plan.consensus,
            );
            if let Some(c) = config.consensus.as_mut() {
                c.sync_nodes = sync_nodes.clone();
            }
            if let (Some(n), Some(b)) = (plan.block_txs, config.block.as_mut()) {
                b.max_txs = n;
            }
            let genesis =
                covenant_types::genesis::genesis_block(&config, covenant_types::tx::now_ms())?;
            let genesis_rel = PathBuf::from("genesis").join(format!("{chain}.block"));
            files::write_atomic(&dir.join(&genesis_rel), &genesis.encode(), PUBLIC_MODE)?;
            progress(&format!(
                "Chain {chain} ({} consensus, {} nodes), genesis {}",
                plan.consensus,
                nodes.len(),
                genesis.hash
            ));
            genesis_files.push((chain.clone(), genesis_rel));
        }
        for (entry, f) in nodes.iter().zip(&node_files) {
            let node_dir = dir.join(&entry.dir);
            files::create_private_dir(&node_dir)?;
            let up = |p: &Path| Path::new("../..").join(rel(dir, p));
            let config = NodeToml {
                node: NodeSection {
                    name: entry.name.clone(),
                    data_dir: "data".into(),
                    api_listen: format!("127.0.0.1:{}", entry.api_port),
                    grpc_listen: Some(entry.grpc()),
                    cert: up(&f.cert),
                    key: up(&f.key),
                    peer_listen: Some(entry.peer()),
                    peer_source: entry.peer_host.map(|h| h.to_string()),
                    log: None,
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
                tbft: Some(TbftSection {
                    propose_ms: 1500,
                    vote_ms: 500,
                    per_round_ms: 250,
                }),
            };
            files::write_atomic(
                &node_dir.join("node.toml"),
                config.to_toml()?.as_bytes(),
                PUBLIC_MODE,
            )?;
        }
        let profile = Profile {
            endpoint: nodes[0].api(),
            chain_id: plan.chains[0].clone(),
            identity: "admin".into(),
            identities,
            endpoints: nodes.iter().map(NodeEntry::api).collect(),
            base: dir.clone(),
        };
        json_file(&dir.join("profile.json"), &profile)?;
        let consortium = Consortium {
            version: 1,
            chain: plan.chains[0].clone(),
            chains: plan.chains.clone(),
            suite: suite.name().into(),
            consensus: plan.consensus.clone(),
            orgs,
            nodes,
            profile: "profile.json".into(),
            genesis: genesis_files[0].1.clone(),
        };
        // Written last: a directory with this file is complete.
        json_file(&dir.join(STATE_FILE), &consortium)?;
        Ok(consortium)
    }

    /// Start a node process in the background.
    fn spawn_node(&self, n: &NodeEntry) -> Result<Child, DeployError> {
        process::start_node(&self.node_exe, &self.dir.join(&n.dir))
    }

    fn wait_ready(
        &self,
        c: &Consortium,
        children: &mut [(usize, Child)],
        deadline: Instant,
        progress: Progress<'_>,
    ) -> Result<(), DeployError> {
        let rt = runtime()?;
        let mut waiting: Vec<usize> = (0..c.nodes.len()).collect();
        while !waiting.is_empty() {
            for (i, child) in children.iter_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let n = &c.nodes[*i];
                    let log = self.dir.join(&n.dir).join("node.log");
                    return Err(DeployError::NodeFailed {
                        name: n.name.clone(),
                        status: status.to_string(),
                        tail: process::log_tail(&log, 2000),
                        log,
                    });
                }
            }
            let mut still = Vec::new();
            for i in waiting {
                let n = &c.nodes[i];
                let client = Client::new(&n.api(), &c.chain)?;
                match rt.block_on(client.info()) {
                    Ok(_) => progress(&format!("  {} ready at {}", n.name, n.api())),
                    Err(_) => still.push(i),
                }
            }
            waiting = still;
            if !waiting.is_empty() {
                if Instant::now() > deadline {
                    let names: Vec<&str> =
                        waiting.iter().map(|i| c.nodes[*i].name.as_str()).collect();
                    return Err(DeployError::Timeout(format!(
                        "nodes {} did not answer in time; see their node.log",
                        names.join(", ")
                    )));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }
}

impl Driver for LocalDriver {
    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn exists(&self) -> bool {
        self.dir.join(STATE_FILE).exists()
    }

    fn load(&self) -> Result<Consortium, DeployError> {
        let dir = &self.dir;
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|_| DeployError::NoConsortium { dir: dir.clone() })?;
        let mut c: Consortium = serde_json::from_str(&text)
            .map_err(|e| DeployError::inconsistent(dir, format!("{STATE_FILE} is damaged: {e}")))?;
        if c.chains.is_empty() {
            c.chains = vec![c.chain.clone()];
        }
        for n in &c.nodes {
            if !dir.join(&n.dir).join("node.toml").exists() {
                return Err(DeployError::inconsistent(
                    dir,
                    format!("node {} has no {}/node.toml", n.name, n.dir.display()),
                ));
            }
        }
        if !dir.join(&c.genesis).exists() {
            return Err(DeployError::inconsistent(
                dir,
                format!("the genesis block {} is missing", c.genesis.display()),
            ));
        }
        Ok(c)
    }

    fn create(&self, plan: &Plan, progress: Progress<'_>) -> Result<Consortium, DeployError> {
        check_plan(plan)?;
        let non_empty = std::fs::read_dir(&self.dir).is_ok_and(|mut d| d.next().is_some());
        if non_empty {
            return Err(DeployError::inconsistent(
                &self.dir,
                format!(
                    "the directory is not empty and holds no {STATE_FILE}; choose another directory"
                ),
            ));
        }
        self.create_files(plan, progress).inspect_err(|_| {
            // Leave nothing half-made behind.
            let _ = std::fs::remove_dir_all(&self.dir);
        })
    }

    fn start(
        &self,
        c: &Consortium,
        deadline: Instant,
        progress: Progress<'_>,
    ) -> Result<Started, DeployError> {
        let mut out = Started::default();
        let mut children: Vec<(usize, Child)> = Vec::new();
        let result = (|| {
            for (i, n) in c.nodes.iter().enumerate() {
                if let Some(pid) = process::running_pid(&self.dir.join(&n.dir)) {
                    progress(&format!("  {} already running (pid {pid})", n.name));
                    out.pids.insert(n.name.clone(), pid);
                    continue;
                }
                process::check_port(n.api_port, &format!("{} API", n.name))?;
                process::check_port(n.peer_port, &format!("{} peers", n.name))?;
                let child = self.spawn_node(n)?;
                progress(&format!("  started {} (pid {})", n.name, child.id()));
                out.pids.insert(n.name.clone(), child.id());
                out.started.push(n.name.clone());
                children.push((i, child));
            }
            self.wait_ready(c, &mut children, deadline, progress)
        })();
        match result {
            Ok(()) => Ok(out),
            Err(e) => {
                // What this call started does not outlive its failure.
                self.stop(c, Some(&out.started), Duration::from_secs(10), progress);
                for (_, mut child) in children {
                    let _ = child.wait();
                }
                Err(e)
            }
        }
    }

    fn processes(&self, c: &Consortium) -> Vec<NodeProcess> {
        c.nodes
            .iter()
            .map(|n| NodeProcess {
                name: n.name.clone(),
                pid: process::running_pid(&self.dir.join(&n.dir)),
            })
            .collect()
    }

    fn stop(
        &self,
        c: &Consortium,
        only: Option<&[String]>,
        timeout: Duration,
        progress: Progress<'_>,
    ) -> Vec<Stopped> {
        let nodes: Vec<(String, PathBuf)> = c
            .nodes
            .iter()
            .filter(|n| only.is_none_or(|names| names.contains(&n.name)))
            .map(|n| (n.name.clone(), self.dir.join(&n.dir)))
            .collect();
        process::stop_nodes(&nodes, timeout, progress)
    }

    fn profile(&self, c: &Consortium) -> Result<Profile, DeployError> {
        Ok(Profile::load(&self.dir.join(&c.profile))?)
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, DeployError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DeployError::Other(format!("cannot start the async runtime: {e}")))
}
