//! `covenant node export` and `covenant node import`: a chain's whole ledger in one file, and
//! a node restored from it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use covenant_crypto::Suite;
use covenant_node::NodeConfig;
use covenant_storage::{Store, export};
use serde_json::json;

use crate::{
    failure::Failure,
    output::{Format, emit},
};

/// Write every block of a chain (the genesis and every configuration change with them) to
/// one file. The node must be stopped.
#[derive(Debug, Args)]
#[command(
    after_help = "The file starts with a header (chain, suite, block count, genesis and tip \
hashes, the heights that changed the configuration), holds every block exactly as stored, and \
ends with its SHA-256. It is written beside OUT and renamed when complete. `covenant node \
import` restores it into a new node; `covenant node export --inspect FILE` reads its header.\n\n\
Example:\n  covenant node export --dir node1 --chain main --out main.ledger\n  \
covenant node import --dir restored --file main.ledger"
)]
pub struct ExportArgs {
    /// Directory of the node (holding node.toml).
    #[arg(long, required_unless_present = "inspect")]
    dir: Option<PathBuf>,
    /// The chain to export.
    #[arg(long, required_unless_present = "inspect")]
    chain: Option<String>,
    /// The file to write.
    #[arg(long, required_unless_present = "inspect")]
    out: Option<PathBuf>,
    /// Read the header of an export instead of writing one.
    #[arg(long, conflicts_with_all = ["dir", "chain", "out"])]
    inspect: Option<PathBuf>,
}

/// Restore a chain's ledger from an export into a node's data directory (the node must be
/// stopped and hold no ledger for that chain).
#[derive(Debug, Args)]
#[command(
    after_help = "DIR/node.toml must list the chain in a [[chains]] section. If the genesis \
file it names exists, the export must start from that genesis; if not, the export's block 0 \
is written there. Every block is checked (decoding, Merkle roots, DAG, link to the block \
before, the file's SHA-256) as it is restored and the whole chain once more at the end; on any \
failure nothing is left behind. Then `covenant node start --dir DIR` serves the restored \
ledger and syncs newer blocks from its peers.\n\n\
Example:\n  covenant node import --dir restored --file main.ledger"
)]
pub struct ImportArgs {
    /// Directory of the node to restore into (holding node.toml).
    #[arg(long)]
    dir: PathBuf,
    /// The export to restore.
    #[arg(long)]
    file: PathBuf,
}

fn summary_json(s: &export::ExportSummary) -> serde_json::Value {
    json!({
        "chain_id": s.chain_id,
        "suite": s.suite.name(),
        "blocks": s.blocks,
        "genesis_hash": s.genesis_hash,
        "tip_hash": s.tip_hash,
        "config_heights": s.config_heights,
    })
}

fn suite_of(genesis: &covenant_types::block::DecodedBlock) -> Result<Suite> {
    Ok(covenant_types::config::ChainConfigExt::suite(
        &covenant_chain::genesis::config_of(genesis)?,
    )?)
}

fn load(dir: &Path) -> Result<NodeConfig> {
    let path = dir.join("node.toml");
    if !path.exists() {
        return Err(Failure::new(
            "NODE_NOT_FOUND",
            format!("{} holds no node.toml", dir.display()),
        )
        .into());
    }
    Ok(NodeConfig::load(&path)?)
}

/// Progress on standard error every 1,000 blocks and at the end.
fn progress(verb: &'static str, total: Option<u64>) -> impl FnMut(u64) {
    move |h| {
        let done = h + 1;
        if done % 1000 == 0 || total == Some(done) {
            match total {
                Some(t) => eprintln!("{verb} {done} of {t} blocks"),
                None => eprintln!("{verb} {done} blocks"),
            }
        }
    }
}

pub fn export(a: ExportArgs, format: Format) -> Result<u8> {
    if let Some(file) = a.inspect {
        let s = export::summary(&file).with_context(|| format!("reading {}", file.display()))?;
        let v = summary_json(&s);
        emit(format, &v, || describe(&s))?;
        return Ok(0);
    }
    let (Some(dir), Some(chain), Some(out)) = (a.dir, a.chain, a.out) else {
        return Err(Failure::new("INVALID_ARGUMENT", "give --dir, --chain and --out").into());
    };
    let config = load(&dir)?;
    let section = config
        .chains
        .iter()
        .find(|c| c.id == chain)
        .ok_or_else(|| Failure::new("CHAIN_UNKNOWN", format!("the node hosts no chain {chain}")))?;
    let genesis = covenant_node::read_genesis(&config.resolve(&section.genesis))?;
    let suite = suite_of(&genesis)?;
    let store_dir = config
        .resolve(&config.node.data_dir)
        .join("chains")
        .join(&chain);
    if !store_dir.join("blocks").exists() {
        return Err(Failure::new(
            "CHAIN_EMPTY",
            format!("the node holds no ledger of chain {chain} yet"),
        )
        .into());
    }
    let store = Store::open(&store_dir, suite)
        .with_context(|| format!("opening the ledger of chain {chain} (is the node stopped?)"))?;
    let config_heights: Vec<u64> = {
        let mut h: Vec<u64> = store
            .key_history(&covenant_chain::identity::keys::config(), usize::MAX)?
            .into_iter()
            .map(|(height, _, _)| height)
            .collect();
        h.sort_unstable();
        h.dedup();
        h
    };
    let total = store.height().map(|h| h + 1);
    let s = export::export(
        &store,
        &config_heights,
        &out,
        &mut progress("exported", total),
    )
    .with_context(|| format!("exporting chain {chain} to {}", out.display()))?;
    let mut v = summary_json(&s);
    v["file"] = json!(out.display().to_string());
    v["bytes"] = json!(std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0));
    emit(format, &v, || {
        format!("Wrote {}\n{}", out.display(), describe(&s))
    })?;
    Ok(0)
}

fn describe(s: &export::ExportSummary) -> String {
    format!(
        "chain {} ({}): {} block(s), genesis {}, tip {}, configuration changed at heights {:?}",
        s.chain_id,
        s.suite.name(),
        s.blocks,
        s.genesis_hash,
        s.tip_hash,
        s.config_heights
    )
}

pub fn import(a: ImportArgs, format: Format) -> Result<u8> {
    let config = load(&a.dir)?;
    let head = export::summary(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let section = config
        .chains
        .iter()
        .find(|c| c.id == head.chain_id)
        .ok_or_else(|| {
            Failure::new(
                "CHAIN_UNKNOWN",
                format!(
                    "{} lists no chain {}; add a [[chains]] section with id = \"{}\" and a genesis path",
                    a.dir.join("node.toml").display(),
                    head.chain_id,
                    head.chain_id
                ),
            )
        })?;
    let genesis_path = config.resolve(&section.genesis);
    let genesis = if genesis_path.exists() {
        Some(covenant_node::read_genesis(&genesis_path)?)
    } else {
        None
    };
    let store_dir = config
        .resolve(&config.node.data_dir)
        .join("chains")
        .join(&head.chain_id);
    let s = export::import(
        &a.file,
        &store_dir,
        genesis.as_ref(),
        &mut progress("restored", Some(head.blocks)),
    )
    .with_context(|| {
        format!(
            "restoring {} into {}",
            a.file.display(),
            store_dir.display()
        )
    })?;
    let mut wrote_genesis = false;
    if genesis.is_none() {
        let store = Store::open(&store_dir, s.suite)?;
        let bytes = store
            .block_bytes(0)?
            .context("the restored ledger has no block 0")?;
        drop(store);
        if let Some(parent) = genesis_path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&genesis_path, bytes)
            .with_context(|| format!("writing {}", genesis_path.display()))?;
        wrote_genesis = true;
    }
    let mut v = summary_json(&s);
    v["data_dir"] = json!(store_dir.display().to_string());
    v["genesis_written"] = json!(wrote_genesis.then(|| genesis_path.display().to_string()));
    emit(format, &v, || {
        let mut out = format!("Restored {}\n{}", store_dir.display(), describe(&s));
        if wrote_genesis {
            out.push_str(&format!(
                "\nWrote the export's genesis block to {}",
                genesis_path.display()
            ));
        }
        out
    })?;
    Ok(0)
}
