//! `covenant proof`: export a transaction's self-contained proof from a node, and verify one
//! offline against the chain's genesis block.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use covenant_crypto::Hash;
use covenant_proof::ProofFile;
use serde_json::json;

use crate::{
    EXIT_REJECTED,
    failure::Failure,
    output::{Format, emit},
    session::{ProfileArgs, Session},
};

/// Prove a transaction to someone who trusts no node: a proof file carries the transaction, its
/// result, their Merkle paths, the block's header and commit certificate, and every config
/// change since genesis; `verify` checks it with nothing but the chain's genesis block.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  covenant proof export 3f9a…e1 --out record.proof\n  \
covenant chain genesis --out main.genesis\n  covenant proof verify record.proof --genesis main.genesis\n\n\
`verify` uses no node and no network; it exits 3 when the proof does not hold, with the reason."
)]
pub struct ProofCommand {
    #[command(subcommand)]
    command: ProofSub,
}

#[derive(Debug, Subcommand)]
enum ProofSub {
    /// Write the proof of a committed transaction, read from a node of its chain.
    Export(ExportArgs),
    /// Check a proof file against the chain's genesis block, offline.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct ExportArgs {
    #[command(flatten)]
    profile: ProfileArgs,
    /// The transaction id (64 hex digits).
    tx_id: String,
    /// Where to write the proof (JSON).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The proof file.
    file: PathBuf,
    /// The chain's genesis block, as its nodes keep it (`covenant chain genesis --out FILE`
    /// writes it; a consortium publishes it): the one thing the proof is checked against.
    #[arg(long)]
    genesis: PathBuf,
}

pub fn run(cmd: ProofCommand, format: Format) -> Result<u8> {
    match cmd.command {
        ProofSub::Export(a) => export(a, format),
        ProofSub::Verify(a) => verify(a, format),
    }
}

fn export(a: ExportArgs, format: Format) -> Result<u8> {
    if a.tx_id.parse::<Hash>().is_err() {
        return Err(Failure::new("INVALID_ARGUMENT", "the transaction id is 64 hex digits").into());
    }
    let s = Session::open(&a.profile)?;
    let answer = s.call(s.client.tx_proof(&a.tx_id))?;
    // The node builds it; what is written is checked to be a proof of the asked transaction
    // (its truth is for `verify` to establish, against the genesis).
    let proof: ProofFile = serde_json::from_value(answer).map_err(|e| {
        Failure::new(
            "NODE_ANSWER_INVALID",
            format!("the node's proof is not a proof file: {e}"),
        )
    })?;
    if proof.format != covenant_proof::FORMAT || proof.tx.id != a.tx_id.to_ascii_lowercase() {
        return Err(Failure::new(
            "NODE_ANSWER_INVALID",
            "the node answered with a proof of another format or transaction",
        )
        .into());
    }
    let text = proof.to_json();
    std::fs::write(&a.out, &text).with_context(|| format!("cannot write {}", a.out.display()))?;
    let out = json!({
        "file": a.out,
        "tx_id": proof.tx.id,
        "index": proof.tx.index,
        "config_changes": proof.config_changes.len(),
        "bytes": text.len(),
    });
    emit(format, &out, || {
        format!(
            "wrote {} ({} bytes): tx {} (index {} of its block), {} config change(s) since genesis\n  check it anywhere: covenant proof verify {} --genesis GENESIS",
            a.out.display(),
            text.len(),
            proof.tx.id,
            proof.tx.index,
            proof.config_changes.len(),
            a.out.display()
        )
    })?;
    Ok(0)
}

fn verify(a: VerifyArgs, format: Format) -> Result<u8> {
    let bytes = std::fs::read(&a.file)
        .map_err(|e| Failure::new("FILE_UNREADABLE", format!("{}: {e}", a.file.display())))?;
    let genesis = std::fs::read(&a.genesis)
        .map_err(|e| Failure::new("FILE_UNREADABLE", format!("{}: {e}", a.genesis.display())))?;
    let outcome = ProofFile::from_json(&bytes).and_then(|p| covenant_proof::verify(&p, &genesis));
    match outcome {
        Ok(v) => {
            let mut out = serde_json::to_value(&v)?;
            out["valid"] = json!(true);
            emit(format, &out, || {
                format!(
                    "proof valid: tx {} is in block {} of chain {} (height {}, index {})\n  block time     {}\n  decided by     {} consensus of {} under config version {} ({} change(s) since genesis {} replayed)\n  call           {}.{} {}\n  sender         {} (certificate {}{})\n  result         {}{}\n  gas used       {}",
                    v.tx_id,
                    v.block_hash,
                    v.chain_id,
                    v.height,
                    v.index,
                    v.block_time,
                    v.consensus,
                    v.consensus_nodes.join(", "),
                    v.config_version,
                    v.config_changes,
                    v.genesis_hash,
                    v.contract,
                    v.method,
                    v.args,
                    match (&v.sender.org, &v.sender.name) {
                        (Some(o), Some(n)) => format!("{n} of {o}"),
                        (Some(o), None) => o.clone(),
                        _ => "a registered certificate".to_string(),
                    },
                    v.sender.certificate_hash,
                    if v.sender.signature_checked {
                        ", signature checked"
                    } else {
                        ""
                    },
                    v.code,
                    if v.return_data.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", v.return_data)
                    },
                    v.gas_used
                )
            })?;
            Ok(0)
        }
        Err(e) => {
            let out = json!({"valid": false, "code": e.code(), "reason": e.to_string()});
            emit(format, &out, || {
                format!("proof INVALID [{}]: {e}", e.code())
            })?;
            Ok(EXIT_REJECTED)
        }
    }
}
