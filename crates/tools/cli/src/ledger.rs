//! `covenant tx`, `covenant block`, `covenant chain`: reading the ledger.

use anyhow::Result;
use clap::{Args, Subcommand};
use covenant_api_types::json::b64_decode;
use covenant_crypto::{Hash, Suite, merkle::InclusionProof};
use serde_json::json;

use crate::{
    failure::Failure,
    output::{Format, emit},
    session::{ProfileArgs, Session},
};

/// Read committed transactions.
#[derive(Debug, Args)]
pub struct TxCommand {
    #[command(flatten)]
    profile: ProfileArgs,
    #[command(subcommand)]
    command: TxSub,
}

#[derive(Debug, Subcommand)]
enum TxSub {
    /// A committed transaction with its result and Merkle proof (checked here).
    Get {
        /// The transaction id (64 hex digits).
        id: String,
    },
}

/// Read blocks.
#[derive(Debug, Args)]
pub struct BlockCommand {
    #[command(flatten)]
    profile: ProfileArgs,
    #[command(subcommand)]
    command: BlockSub,
}

#[derive(Debug, Subcommand)]
enum BlockSub {
    /// A block by height, hash or `latest`.
    Get {
        /// A height, `latest`, or a block hash (64 hex digits).
        at: String,
        /// Include the encoded block (base64).
        #[arg(long)]
        raw: bool,
    },
}

/// Chain info and config.
#[derive(Debug, Args)]
pub struct ChainCommand {
    #[command(flatten)]
    profile: ProfileArgs,
    #[command(subcommand)]
    command: ChainSub,
}

#[derive(Debug, Subcommand)]
enum ChainSub {
    /// Height, last hash, state root, suite, consensus, config version, txpool size.
    Info,
    /// The chain config: orgs and trust roots, consensus nodes, policies, limits.
    Config,
    /// Save the chain's genesis block (checked to be one): what `covenant proof verify`
    /// checks proofs against, and what a new node of the chain starts from.
    Genesis {
        /// Where to write it.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

pub fn tx(cmd: TxCommand, format: Format) -> Result<u8> {
    let s = Session::open(&cmd.profile)?;
    match cmd.command {
        TxSub::Get { id } => {
            if id.parse::<Hash>().is_err() {
                return Err(Failure::new(
                    "INVALID_ARGUMENT",
                    "the transaction id is 64 hex digits",
                )
                .into());
            }
            let view = s.call(s.client.tx(&id))?;
            // Check the proof here, against the block's tx root.
            let info = s.call(s.client.info())?;
            let suite: Suite = info.suite.parse()?;
            let leaf = b64_decode(&view.raw).unwrap_or_default();
            let root: Hash = view.tx_root.parse().unwrap_or_default();
            let proof = InclusionProof {
                leaf_index: view.proof.leaf_index,
                tree_size: view.proof.tree_size,
                path: view
                    .proof
                    .path
                    .iter()
                    .filter_map(|h| h.parse().ok())
                    .collect(),
            };
            let proven = proof.verify(suite.hash_algorithm(), &root, &leaf)
                && suite.hash(&covenant_tx_payload(&leaf)).to_hex() == view.tx_id;
            let mut out = serde_json::to_value(&view)?;
            out["proof_valid"] = json!(proven);
            emit(format, &out, || {
                format!(
                    "tx {}\n  block {} (height {}, index {})\n  call {}.{} {}\n  sender {}\n  result {}{}\n  gas used {}\n  proof {} ({} hashes under tx root {})",
                    view.tx_id,
                    view.block_hash,
                    view.height,
                    view.index,
                    view.contract,
                    view.method,
                    view.args,
                    view.sender,
                    view.result.code,
                    if view.result.result.is_null() {
                        String::new()
                    } else {
                        format!(" {}", view.result.result)
                    },
                    view.result.gas_used,
                    if proven { "valid" } else { "INVALID" },
                    view.proof.path.len(),
                    view.tx_root
                )
            })?;
            Ok(if proven { 0 } else { 1 })
        }
    }
}

/// The payload bytes inside an encoded transaction (for checking the id).
fn covenant_tx_payload(tx: &[u8]) -> Vec<u8> {
    use prost::Message;
    covenant_types::Transaction::decode(tx)
        .map(|t| t.payload)
        .unwrap_or_default()
}

pub fn block(cmd: BlockCommand, format: Format) -> Result<u8> {
    let s = Session::open(&cmd.profile)?;
    match cmd.command {
        BlockSub::Get { at, raw } => {
            let b = s.call(s.client.block(&at, raw))?;
            emit(format, &b, || {
                let mut t = format!(
                    "block {} at height {} ({} txs, config v{})\n  prev   {}\n  state  {}\n  time   {}\n",
                    b.hash,
                    b.height,
                    b.tx_count,
                    b.config_version,
                    b.prev_hash,
                    b.state_root,
                    b.timestamp_ms
                );
                for (i, tx) in b.txs.iter().enumerate() {
                    t.push_str(&format!(
                        "  [{i}] {} {}.{} {} deps {:?}\n",
                        tx.tx_id,
                        tx.contract,
                        tx.method,
                        tx.code,
                        b.dag.get(i).cloned().unwrap_or_default()
                    ));
                }
                t
            })?;
            Ok(0)
        }
    }
}

pub fn chain(cmd: ChainCommand, format: Format) -> Result<u8> {
    let s = Session::open(&cmd.profile)?;
    match cmd.command {
        ChainSub::Info => {
            let i = s.call(s.client.info())?;
            emit(format, &i, || {
                let mut t = format!(
                    "chain {} ({} suite, {} consensus)\n  height          {}\n  last hash       {}\n  state root      {}\n  config version  {}\n  txpool          {}\n  genesis         {}",
                    i.chain_id,
                    i.suite,
                    i.consensus,
                    i.height,
                    i.last_hash,
                    i.state_root,
                    i.config_version,
                    i.txpool_size,
                    i.genesis_hash
                );
                let e = &i.engine;
                let peers = e["peers"].as_array().map_or(0, Vec::len);
                match e["kind"].as_str() {
                    Some("tbft") => t.push_str(&format!(
                        "\n  engine          tbft, {} ({} validators, quorum {}), {}, {peers} peer(s)",
                        if e["validator"] == true { "validator" } else { "follower" },
                        e["validators"],
                        e["quorum"],
                        match (e["working_height"].as_u64(), e["round"].as_u64()) {
                            (Some(h), Some(r)) => format!("working on height {h} round {r}"),
                            _ => "idle".to_string(),
                        }
                    )),
                    Some("raft") => t.push_str(&format!(
                        "\n  engine          raft {}, term {}, leader {}, {} voter(s), {peers} peer(s)",
                        e["raft_id"].as_str().unwrap_or("?"),
                        e["term"],
                        e["leader"].as_str().unwrap_or("none"),
                        e["voters"].as_array().map_or(0, Vec::len)
                    )),
                    _ => {}
                }
                t
            })?;
        }
        ChainSub::Config => {
            let c = s.call(s.client.config())?;
            emit(format, &c, || {
                serde_json::to_string_pretty(&c).unwrap_or_default()
            })?;
        }
        ChainSub::Genesis { out } => {
            let b = s.call(s.client.block("0", true))?;
            let raw = b.raw.as_deref().and_then(b64_decode).ok_or_else(|| {
                Failure::new(
                    "NODE_ANSWER_INVALID",
                    "the node sent the genesis block without its bytes",
                )
            })?;
            let genesis = covenant_types::genesis::decode(&raw).map_err(|e| {
                Failure::new(
                    "NODE_ANSWER_INVALID",
                    format!("the node's block 0 is not a genesis block: {e}"),
                )
            })?;
            std::fs::write(&out, &raw)
                .map_err(|e| Failure::new("FILE_UNWRITABLE", format!("{}: {e}", out.display())))?;
            let v = json!({"file": out, "hash": genesis.hash.to_hex(), "chain_id": genesis.header.chain_id, "bytes": raw.len()});
            emit(format, &v, || {
                format!(
                    "wrote {} ({} bytes): the genesis block of chain {}, hash {}\n  compare the hash with the one the consortium publishes before trusting proofs checked against it",
                    out.display(),
                    raw.len(),
                    genesis.header.chain_id,
                    genesis.hash
                )
            })?;
        }
    }
    Ok(0)
}
