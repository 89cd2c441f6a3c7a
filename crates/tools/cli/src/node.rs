//! `covenant node`: create, run and repair a node.

use std::{collections::BTreeMap, io::Write as _, path::PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use covenant_crypto::Suite;
use covenant_deploy::local::{issue_identity, rel};
use covenant_node::{
    Node, NodeConfig,
    config::{ChainSection, NodeSection},
};
use covenant_pki::{
    CertificateAuthority, Role,
    authority::InitOptions,
    files::{self, PUBLIC_MODE},
};
use covenant_sdk::{IdentityFiles, Profile};
use covenant_types::ConsensusNode;
use serde_json::json;

use crate::{
    failure::Failure,
    output::{Format, emit},
};

#[derive(Debug, Args)]
#[command(
    about = "Create, run and repair a node",
    long_about = "A node hosts one or more chains, each with its own storage, txpool and block \
producer, described by a config file (node.toml). It serves a REST/JSON + WebSocket API \
(with /metrics, /healthz and /openapi.json) and a gRPC API.",
    after_help = "A single-org development chain, from nothing:\n  covenant node init --dir dev\n  \
covenant node start --dir dev &\n  export COVENANT_PROFILE=dev/profile.json\n  covenant contract \
build contracts/kv\n  covenant contract deploy kv target/contracts/wasm32-unknown-unknown/release/kv.wasm\n  \
covenant contract invoke kv put --args '{\"key\":\"a\",\"value\":\"1\"}'"
)]
pub struct NodeCommand {
    #[command(subcommand)]
    command: NodeSub,
}

#[derive(Debug, Subcommand)]
enum NodeSub {
    Init(InitArgs),
    Start(StartArgs),
    AddChain(AddChainArgs),
    RebuildIndex(RebuildArgs),
    Export(crate::node_export::ExportArgs),
    Import(crate::node_export::ImportArgs),
    Archive(crate::node_archive::ArchiveArgs),
    Restore(crate::node_archive::RestoreArgs),
}

/// Add another chain to a node made by `covenant node init` (restart the node to host it).
#[derive(Debug, Args)]
#[command(
    after_help = "The new chain has the same member orgs (the CAs in DIR) and this node as its \
consensus node; it gets its own genesis (DIR/genesis-CHAIN.block), storage, txpool and producer. \
Its suite must be the node key's: an SM2 node runs sm chains, a P-256 or Ed25519 node intl ones.\n\n\
Example:\n  covenant node add-chain --dir dev --chain audit\n  covenant contract list --chain audit"
)]
struct AddChainArgs {
    /// Directory of the node (holding node.toml) that is to host the new chain.
    #[arg(long)]
    dir: PathBuf,
    /// Id of the new chain.
    #[arg(long)]
    chain: String,
}

/// Create a single-org development chain in a directory.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes DIR/ca (the org's CA with admin, client and node identities; with \
--orgs N also DIR/ca-ORG for the other orgs), DIR/genesis.block, DIR/node.toml and \
DIR/profile.json (endpoint, chain and identities for the other commands). Refuses a directory \
that already holds a node unless --force."
)]
struct InitArgs {
    /// Directory to create the node in.
    #[arg(long)]
    dir: PathBuf,
    /// Algorithm suite of the chain: sm (SM2/SM3/SM4) or intl (P-256/SHA-256/AES-GCM).
    #[arg(long, default_value = "sm")]
    suite: String,
    /// Key algorithm for the intl suite: p256 (default) or ed25519.
    #[arg(long)]
    key_algorithm: Option<String>,
    /// The (first) org's name.
    #[arg(long, default_value = "org1")]
    org: String,
    /// Number of member orgs, each with its own CA, admin and client (the profile names them
    /// ORG-admin and ORG-client; the first org's are also plain `admin` and `client`). The
    /// first org runs the node.
    #[arg(long, default_value_t = 1)]
    orgs: u32,
    /// Chain id.
    #[arg(long, default_value = "main")]
    chain: String,
    /// Port of the REST/JSON API on 127.0.0.1.
    #[arg(long, default_value_t = 7070)]
    api_port: u16,
    /// Port of the gRPC API on 127.0.0.1.
    #[arg(long, default_value_t = 7071)]
    grpc_port: u16,
    /// Replace a node already in the directory (its data is moved aside, not deleted).
    #[arg(long)]
    force: bool,
}

/// Run a node until Ctrl-C or SIGTERM.
#[derive(Debug, Args)]
#[command(
    after_help = "At start-up the node checks its ledger (the most recent blocks; every \
block with --verify-all) and refuses to serve if a stored byte changed, naming the height. \
Logs go to standard error (RUST_LOG sets the level, default info).\n\n\
A node your org runs on its own machine, in a consortium on a platform:\n  \
covenant ca csr --suite sm --name bank-b-node1 --out node   (node.key stays here)\n  \
(register the node with the CSR, have it added to a chain, download its bundle)\n  \
covenant node start --bundle bundle.json --key node.key --dir node1"
)]
struct StartArgs {
    /// Directory made by `covenant node init` (uses DIR/node.toml).
    #[arg(long, conflicts_with = "config")]
    dir: Option<PathBuf>,
    /// A node config file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Verify every block at start-up instead of the recent ones.
    #[arg(long)]
    verify_all: bool,
    /// If --dir holds no node yet, create a single-org development node there first (as
    /// `covenant node init --dir DIR` would); afterwards the same command resumes it.
    #[arg(long, requires = "dir")]
    init: bool,
    /// With --init: port of the REST/JSON API.
    #[arg(long, default_value_t = 7070, requires = "init")]
    api_port: u16,
    /// With --init: port of the gRPC API.
    #[arg(long, default_value_t = 7071, requires = "init")]
    grpc_port: u16,
    /// A bundle from the platform (`GET /api/v1/nodes/{id}/bundle`) for a node your org runs
    /// on its own machine: DIR/node.toml, DIR/cert.pem and DIR/genesis/CHAIN.block are written
    /// from it (again at every start with it, so a newer bundle adds chains), then the node
    /// starts and syncs from the chains' other nodes.
    #[arg(long, requires_all = ["dir", "key"], conflicts_with_all = ["init", "config"])]
    bundle: Option<PathBuf>,
    /// With --bundle: the node's private key (PKCS#8 PEM), the one its CSR was made with. It
    /// stays where it is; node.toml names it.
    #[arg(long, requires = "bundle")]
    key: Option<PathBuf>,
    /// With --bundle: listen on every interface at the bundle's ports (behind NAT or a load
    /// balancer) and advertise the bundle's host to peers; by default the node listens on the
    /// bundle's host only.
    #[arg(long, requires = "bundle")]
    listen_any: bool,
}

/// Re-derive state and indexes from the block files (the node must be stopped).
#[derive(Debug, Args)]
#[command(after_help = "The old database is kept as state.redb.bak next to the new one.")]
struct RebuildArgs {
    /// Directory of the node (holding node.toml); stop the node first.
    #[arg(long, conflicts_with = "config")]
    dir: Option<PathBuf>,
    /// The node's config file, instead of --dir.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Only this chain (default: every chain of the node).
    #[arg(long)]
    chain: Option<String>,
}

pub fn run(cmd: NodeCommand, format: Format) -> Result<u8> {
    match cmd.command {
        NodeSub::Init(a) => init(a, format, false),
        NodeSub::Start(a) => start(a, format),
        NodeSub::RebuildIndex(a) => rebuild(a, format),
        NodeSub::AddChain(a) => add_chain(a, format),
        NodeSub::Export(a) => crate::node_export::export(a, format),
        NodeSub::Import(a) => crate::node_export::import(a, format),
        NodeSub::Archive(a) => crate::node_archive::archive(a, format),
        NodeSub::Restore(a) => crate::node_archive::restore(a, format),
    }
}

pub(crate) fn config_path(dir: &Option<PathBuf>, config: &Option<PathBuf>) -> Result<PathBuf> {
    match (dir, config) {
        (Some(d), _) => Ok(d.join("node.toml")),
        (None, Some(c)) => Ok(c.clone()),
        (None, None) => {
            Err(Failure::new("INVALID_ARGUMENT", "give --dir DIR or --config FILE").into())
        }
    }
}

/// Create a dev node. `quiet` reports on standard error only (for `start --init`, whose
/// standard output carries the readiness line).
fn init(a: InitArgs, format: Format, quiet: bool) -> Result<u8> {
    let suite: Suite = a.suite.parse()?;
    covenant_types::names::validate_chain_id(&a.chain)?;
    let key_algorithm = a.key_algorithm.as_deref().map(str::parse).transpose()?;
    let dir = a.dir.clone();
    if dir.join("node.toml").exists() {
        if !a.force {
            return Err(Failure::new(
                "NODE_EXISTS",
                format!("{} already holds a node; pass --force to replace it (its files are moved aside)", dir.display()),
            )
            .into());
        }
        let aside = dir.join(format!("replaced-{}", covenant_types::tx::now_ms()));
        std::fs::create_dir_all(&aside)?;
        for entry in std::fs::read_dir(&dir)?.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            let n = name.to_string_lossy();
            if n == "ca"
                || n.starts_with("ca-")
                || ["data", "genesis.block", "node.toml", "profile.json"].contains(&n.as_ref())
            {
                std::fs::rename(entry.path(), aside.join(&name))?;
            }
        }
    }
    if a.orgs == 0 || a.orgs > 16 {
        return Err(Failure::new("INVALID_ARGUMENT", "--orgs is between 1 and 16").into());
    }
    files::create_private_dir(&dir)?;
    let mut org_roots = Vec::new();
    let mut identities = BTreeMap::new();
    let mut node_files = None;
    for i in 0..a.orgs {
        let org = if i == 0 {
            a.org.clone()
        } else {
            format!("org{}", i + 1)
        };
        let ca_dir = if i == 0 {
            dir.join("ca")
        } else {
            dir.join(format!("ca-{org}"))
        };
        CertificateAuthority::init(
            &ca_dir,
            &InitOptions {
                org: org.clone(),
                suite,
                key_algorithm,
                intermediate: false,
                days: 3650,
                force: false,
            },
        )
        .with_context(|| format!("cannot create the CA of {org}"))?;
        let mut ca = CertificateAuthority::open(&ca_dir)?;
        let admin = issue_identity(&mut ca, Role::Admin, "admin")?;
        let client = issue_identity(&mut ca, Role::Client, "client")?;
        if i == 0 {
            node_files = Some(issue_identity(&mut ca, Role::Node, "node1")?);
            for (name, f) in [("admin", &admin), ("client", &client)] {
                identities.insert(
                    name.to_string(),
                    IdentityFiles {
                        cert: rel(&dir, &f.cert),
                        key: rel(&dir, &f.key),
                    },
                );
            }
        }
        for (name, f) in [("admin", admin), ("client", client)] {
            identities.insert(
                format!("{org}-{name}"),
                IdentityFiles {
                    cert: rel(&dir, &f.cert),
                    key: rel(&dir, &f.key),
                },
            );
        }
        org_roots.push((org, ca.root().der().to_vec()));
    }
    let node_files = node_files.ok_or_else(|| Failure::new("INTERNAL", "no node identity"))?;
    let node_cert = covenant_pki::Certificate::load(&node_files.cert)?;
    let config = covenant_deploy::chain_config::default_chain_config(
        &a.chain,
        suite,
        &org_roots,
        vec![ConsensusNode {
            org_id: a.org.clone(),
            node_id: "node1".into(),
            certificate: node_cert.der().to_vec(),
            address: String::new(),
        }],
        "solo",
    );
    let genesis = covenant_chain::genesis::genesis_block(&config, covenant_types::tx::now_ms())?;
    let genesis_path = dir.join("genesis.block");
    files::write_atomic(&genesis_path, &genesis.encode(), PUBLIC_MODE)?;
    let node_config = NodeConfig {
        node: NodeSection {
            name: "node1".into(),
            data_dir: "data".into(),
            api_listen: format!("127.0.0.1:{}", a.api_port),
            grpc_listen: Some(format!("127.0.0.1:{}", a.grpc_port)),
            cert: rel(&dir, &node_files.cert),
            key: rel(&dir, &node_files.key),
            peer_listen: None,
            peer_advertise: None,
            peer_source: None,
            log: None,
        },
        chains: vec![ChainSection {
            id: a.chain.clone(),
            genesis: "genesis.block".into(),
            verify_blocks: 100,
            pool_max_txs: None,
        }],
        tbft: Default::default(),
        api: Default::default(),
        archive: Default::default(),
        base: dir.clone(),
    };
    let config_path = dir.join("node.toml");
    files::write_atomic(&config_path, node_config.to_toml()?.as_bytes(), PUBLIC_MODE)?;
    let endpoint = format!("http://127.0.0.1:{}", a.api_port);
    let profile = Profile {
        endpoint: endpoint.clone(),
        chain_id: a.chain.clone(),
        identity: "admin".into(),
        identities,
        endpoints: vec![],
        base: dir.clone(),
    };
    let profile_path = dir.join("profile.json");
    files::write_atomic(
        &profile_path,
        serde_json::to_string_pretty(&profile)?.as_bytes(),
        PUBLIC_MODE,
    )?;
    let summary = json!({
        "dir": dir,
        "config": config_path,
        "genesis": genesis_path,
        "genesis_hash": genesis.hash.to_hex(),
        "profile": profile_path,
        "chain_id": a.chain,
        "suite": suite,
        "api": endpoint,
        "grpc": format!("127.0.0.1:{}", a.grpc_port),
    });
    let text = format!(
        "Created chain {} (suite {suite}, {} org(s)) in {}\n  genesis  {}\n  config   {}\n  profile  {}\nStart it: covenant node start --dir {}\nThen:     export COVENANT_PROFILE={}",
        a.chain,
        a.orgs,
        dir.display(),
        genesis.hash,
        config_path.display(),
        profile_path.display(),
        dir.display(),
        profile_path.display()
    );
    if quiet {
        let _ = writeln!(std::io::stderr(), "{text}");
    } else {
        emit(format, &summary, || text)?;
    }
    Ok(0)
}

fn start(a: StartArgs, format: Format) -> Result<u8> {
    if a.init
        && let Some(dir) = &a.dir
        && !dir.join("node.toml").exists()
    {
        init(
            InitArgs {
                dir: dir.clone(),
                suite: "sm".into(),
                key_algorithm: None,
                org: "org1".into(),
                orgs: 1,
                chain: "main".into(),
                api_port: a.api_port,
                grpc_port: a.grpc_port,
                force: false,
            },
            Format::Json,
            true,
        )?;
    }
    if let (Some(bundle), Some(key), Some(dir)) = (&a.bundle, &a.key, &a.dir) {
        crate::node_bundle::apply(bundle, key, dir, a.listen_any)?;
    }
    let path = config_path(&a.dir, &a.config)?;
    let config = NodeConfig::load(&path)?;
    // RUST_LOG first, then the config's `log`, then info.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            config.node.log.as_deref().unwrap_or("info,openraft=warn"),
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let verify_all = a.verify_all;
    rt.block_on(async move {
        let node = tokio::task::spawn_blocking(move || Node::open(config, verify_all))
            .await
            .context("node start-up")??;
        let chains: Vec<String> = node.chains().map(|(id, _)| id.clone()).collect();
        let name = node.config.node.name.clone();
        covenant_node::serve(node, covenant_node::shutdown_signal(), |l| {
            let api = format!("http://{}", l.api);
            let grpc = l.grpc.map(|g| g.to_string());
            // One line, so scripts and supervisors can read readiness line by line.
            // A supervisor that closed our output must not stop the node.
            let mut out = std::io::stdout();
            let _ = match format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    json!({"node": name, "api": api, "grpc": grpc, "chains": chains})
                ),
                Format::Text => writeln!(
                    out,
                    "Node {name} serving chain(s) {} at {api}{}",
                    chains.join(", "),
                    grpc.as_deref()
                        .map(|g| format!(" (gRPC {g})"))
                        .unwrap_or_default()
                ),
            };
            let _ = out.flush();
        })
        .await?;
        anyhow::Ok(())
    })?;
    Ok(0)
}

fn rebuild(a: RebuildArgs, format: Format) -> Result<u8> {
    let path = config_path(&a.dir, &a.config)?;
    let config = NodeConfig::load(&path)?;
    let data = config.resolve(&config.node.data_dir);
    let mut done = Vec::new();
    for section in &config.chains {
        if a.chain.as_ref().is_some_and(|c| *c != section.id) {
            continue;
        }
        let genesis = covenant_node::read_genesis(&config.resolve(&section.genesis))?;
        let suite = covenant_types::config::ChainConfigExt::suite(
            &covenant_chain::genesis::config_of(&genesis)?,
        )?;
        let blocks = covenant_storage::rebuild(&data.join("chains").join(&section.id), suite)
            .with_context(|| format!("rebuilding chain {}", section.id))?;
        done.push(json!({"chain_id": section.id, "blocks": blocks}));
    }
    if done.is_empty() {
        return Err(Failure::new("CHAIN_UNKNOWN", "the node hosts no such chain").into());
    }
    emit(format, &json!({"rebuilt": done}), || {
        done.iter()
            .map(|d| {
                format!(
                    "Rebuilt chain {} from {} block(s)",
                    d["chain_id"].as_str().unwrap_or(""),
                    d["blocks"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(0)
}

fn add_chain(a: AddChainArgs, format: Format) -> Result<u8> {
    covenant_types::names::validate_chain_id(&a.chain)?;
    let config_path = a.dir.join("node.toml");
    let mut config = NodeConfig::load(&config_path)?;
    if config.chains.iter().any(|c| c.id == a.chain) {
        return Err(Failure::new(
            "CHAIN_EXISTS",
            format!("the node already hosts chain {}", a.chain),
        )
        .into());
    }
    let node_cert = covenant_pki::Certificate::load(&config.resolve(&config.node.cert))?;
    let key_algorithm = node_cert.public_key()?.algorithm();
    let suite = key_algorithm.suite();
    // The member orgs: every CA directory of the node's directory.
    let mut orgs = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&a.dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n == "ca" || n.to_string_lossy().starts_with("ca-"))
        })
        .collect();
    entries.sort();
    for ca_dir in entries {
        let ca = CertificateAuthority::open(&ca_dir)?;
        suite.check_key_algorithm(ca.config().key_algorithm)?;
        orgs.push((ca.config().org.clone(), ca.root().der().to_vec()));
    }
    let node_org = node_cert.organization().unwrap_or_default();
    let chain_config = covenant_deploy::chain_config::default_chain_config(
        &a.chain,
        suite,
        &orgs,
        vec![ConsensusNode {
            org_id: node_org,
            node_id: config.node.name.clone(),
            certificate: node_cert.der().to_vec(),
            address: String::new(),
        }],
        "solo",
    );
    let genesis =
        covenant_chain::genesis::genesis_block(&chain_config, covenant_types::tx::now_ms())?;
    let name = format!("genesis-{}.block", a.chain);
    let genesis_path = a.dir.join(&name);
    files::write_new(&genesis_path, &genesis.encode(), PUBLIC_MODE, false)?;
    config.chains.push(ChainSection {
        id: a.chain.clone(),
        genesis: name.into(),
        verify_blocks: 100,
        pool_max_txs: None,
    });
    files::write_atomic(&config_path, config.to_toml()?.as_bytes(), PUBLIC_MODE)?;
    emit(
        format,
        &json!({"chain_id": a.chain, "suite": suite, "genesis": genesis_path, "genesis_hash": genesis.hash.to_hex(), "config": config_path}),
        || {
            format!(
                "Added chain {} (suite {suite}) to {}; restart the node to host it",
                a.chain,
                config_path.display()
            )
        },
    )?;
    Ok(0)
}
