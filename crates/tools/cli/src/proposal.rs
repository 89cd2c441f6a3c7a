//! `covenant proposal`: governed changes signed by several orgs' admins, offline if need be.
//!
//! A proposal file holds the exact payload bytes of the transaction; each admin signs those
//! bytes (`sign`), possibly on a machine that never talks to a node, and anyone submits the
//! collected signatures (`submit`): the first becomes the sender, the rest endorsements. The
//! chain checks them against the resource's policy.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use covenant_api_types::json::{b64_decode, b64_encode};
use covenant_pki::{Certificate, files};
use covenant_types::{
    Endorsement, Transaction, TxPayload,
    tx::{TxBuilder, now_ms, sender_by_certificate},
};
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    contract,
    failure::Failure,
    output::{Format, emit},
    session::{ProfileArgs, Session},
};

#[derive(Debug, Args)]
#[command(
    about = "Governed changes: create a proposal, collect admins' signatures, submit it",
    after_help = "Example: raise the block size, which needs a majority of member orgs' admins:\n  \
covenant proposal create --contract sys.config --method update --args \
'{\"set_block\":{\"max_txs\":5000}}' --out raise.json\n  covenant proposal sign raise.json --as \
org1-admin\n  covenant proposal sign raise.json --as org2-admin --profile org2/profile.json\n  \
covenant proposal submit raise.json\n  covenant proposal list"
)]
pub struct ProposalCommand {
    #[command(flatten)]
    profile: ProfileArgs,
    #[command(subcommand)]
    command: ProposalSub,
}

#[derive(Debug, Subcommand)]
enum ProposalSub {
    /// Write an unsigned proposal file.
    Create {
        /// The governed contract (sys.config, sys.contracts, sys.certs).
        #[arg(long)]
        contract: String,
        /// The governed method (e.g. update, install, freeze, revoke).
        #[arg(long)]
        method: String,
        /// Arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
        /// Minutes the signers have before the transaction expires.
        #[arg(long, default_value_t = 60)]
        expires_in_minutes: u64,
        /// Where to write the proposal.
        #[arg(long)]
        out: PathBuf,
    },
    /// Add this identity's signature to a proposal file.
    Sign {
        /// The proposal file (from proposal create); signed in place.
        file: PathBuf,
    },
    /// Submit a signed proposal and wait for the outcome.
    Submit {
        /// The signed proposal file.
        file: PathBuf,
    },
    /// Governed actions applied on the chain, oldest first.
    List {
        /// Only actions applied at this height or later.
        #[arg(long, default_value_t = 0)]
        from_height: u64,
        /// Most actions listed.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// A proposal file.
#[derive(Debug, Serialize, Deserialize)]
struct ProposalFile {
    chain_id: String,
    contract: String,
    method: String,
    args: Value,
    expiry_ms: u64,
    tx_id: String,
    /// The encoded payload, base64: what every signature covers.
    payload: String,
    signatures: Vec<SignatureEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SignatureEntry {
    /// Who signed (the certificate's subject), for people reading the file.
    signer: String,
    /// PEM certificate.
    cert: String,
    /// Signature over the payload, base64.
    signature: String,
}

fn load(path: &Path) -> Result<ProposalFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::new("FILE_NOT_FOUND", format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::new("PROPOSAL_INVALID", format!("{}: {e}", path.display())).into())
}

fn save(path: &Path, p: &ProposalFile) -> Result<()> {
    files::write_atomic(
        path,
        serde_json::to_string_pretty(p)?.as_bytes(),
        files::PUBLIC_MODE,
    )?;
    Ok(())
}

fn payload_of(p: &ProposalFile) -> Result<Vec<u8>> {
    let bytes = b64_decode(&p.payload)
        .ok_or_else(|| Failure::new("PROPOSAL_INVALID", "the payload is not base64"))?;
    let decoded = TxPayload::decode(bytes.as_slice()).map_err(|e| {
        Failure::new(
            "PROPOSAL_INVALID",
            format!("the payload does not decode: {e}"),
        )
    })?;
    if decoded.contract != p.contract
        || decoded.method != p.method
        || decoded.chain_id != p.chain_id
    {
        return Err(Failure::new(
            "PROPOSAL_INVALID",
            "the file's description does not match its payload",
        )
        .into());
    }
    Ok(bytes)
}

pub fn run(cmd: ProposalCommand, format: Format) -> Result<u8> {
    match cmd.command {
        ProposalSub::Create {
            contract,
            method,
            args,
            expires_in_minutes,
            out,
        } => {
            let s = Session::open(&cmd.profile)?;
            let args: Value = serde_json::from_str(&args).map_err(|e| {
                Failure::new("INVALID_ARGUMENT", format!("--args is not JSON: {e}"))
            })?;
            let expiry = now_ms() + expires_in_minutes.max(1) * 60_000;
            let payload = TxBuilder::new(&s.profile.chain_id, &contract, &method)
                .args_json(&args)
                .expiry_ms(expiry)
                .build()?;
            let info = s.call(s.client.info())?;
            let suite: covenant_crypto::Suite = info.suite.parse()?;
            let p = ProposalFile {
                chain_id: s.profile.chain_id.clone(),
                contract,
                method,
                args,
                expiry_ms: expiry,
                tx_id: suite.hash(&payload).to_hex(),
                payload: b64_encode(&payload),
                signatures: vec![],
            };
            if out.exists() {
                return Err(covenant_pki::PkiError::FileExists { path: out }.into());
            }
            save(&out, &p)?;
            emit(
                format,
                &json!({"proposal": out, "tx_id": p.tx_id, "expiry_ms": expiry}),
                || {
                    format!(
                        "Wrote proposal {} to {} (sign before it expires at {expiry})",
                        p.tx_id,
                        out.display()
                    )
                },
            )?;
            Ok(0)
        }
        ProposalSub::Sign { file } => {
            if let Some(n) = sign_statement(&cmd.profile, &file, format)? {
                return Ok(n);
            }
            let mut p = load(&file)?;
            let payload = payload_of(&p)?;
            // Signing needs only the identity's files; no node is contacted.
            let path = cmd.profile.profile.clone().ok_or_else(|| {
                Failure::new(
                    "PROFILE_REQUIRED",
                    "pass --profile FILE or set COVENANT_PROFILE",
                )
            })?;
            let profile = covenant_sdk::Profile::load(&path)?;
            let signer = profile.signer(cmd.profile.identity.as_deref())?;
            let pem = signer.cert.to_pem();
            if p.signatures.iter().any(|s| s.cert == pem) {
                return Err(Failure::new(
                    "ALREADY_SIGNED",
                    "this identity already signed the proposal",
                )
                .into());
            }
            let sig = signer.key.sign(&payload)?;
            p.signatures.push(SignatureEntry {
                signer: signer.cert.subject_string(),
                cert: pem,
                signature: b64_encode(&sig),
            });
            save(&file, &p)?;
            let n = p.signatures.len();
            emit(format, &json!({"proposal": file, "signatures": n}), || {
                format!(
                    "Signed {} as {} ({n} signature(s) now)",
                    file.display(),
                    signer.cert.subject_string()
                )
            })?;
            Ok(0)
        }
        ProposalSub::Submit { file } => {
            let s = Session::open(&cmd.profile)?;
            let p = load(&file)?;
            let payload = payload_of(&p)?;
            let mut sigs = p.signatures.iter().map(|e| -> Result<(Vec<u8>, Vec<u8>)> {
                let cert = Certificate::from_pem(&e.cert, "signer certificate")?;
                let sig = b64_decode(&e.signature)
                    .ok_or_else(|| Failure::new("PROPOSAL_INVALID", "a signature is not base64"))?;
                Ok((cert.der().to_vec(), sig))
            });
            let (sender, signature) = sigs.next().ok_or_else(|| {
                Failure::new(
                    "PROPOSAL_UNSIGNED",
                    "nobody signed the proposal yet; run `covenant proposal sign`",
                )
            })??;
            let mut tx = Transaction {
                payload,
                sender: Some(sender_by_certificate(sender)),
                signature,
                endorsements: vec![],
            };
            for s2 in sigs {
                let (cert, signature) = s2?;
                tx.endorsements.push(Endorsement {
                    signer: Some(sender_by_certificate(cert)),
                    signature,
                });
            }
            let r = s
                .call(s.client.submit(&tx.encode_to_vec(), true))
                .context("submitting the proposal")?;
            contract::report(format, &r)
        }
        ProposalSub::List { from_height, limit } => {
            let s = Session::open(&cmd.profile)?;
            let r = s.call(s.client.query(
                "sys.governance",
                "list",
                json!({"from_height": from_height, "limit": limit}),
                None,
            ))?;
            if r.code != "OK" {
                return Err(
                    Failure::new("QUERY_FAILED", format!("{}: {}", r.code, r.message)).into(),
                );
            }
            let list = r.result;
            emit(format, &json!({"proposals": list}), || {
                let mut t = String::new();
                for rec in list.as_array().into_iter().flatten() {
                    let signers: Vec<String> = rec["signers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|x| {
                            format!(
                                "{}/{}",
                                x["org"].as_str().unwrap_or(""),
                                x["name"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    t.push_str(&format!(
                        "height {:<6} {:<20} {}.{} by {}\n",
                        rec["height"],
                        rec["resource"].as_str().unwrap_or(""),
                        rec["contract"].as_str().unwrap_or(""),
                        rec["method"].as_str().unwrap_or(""),
                        signers.join(", ")
                    ));
                }
                if t.is_empty() {
                    t = "no governed action applied yet".into();
                }
                t
            })?;
            Ok(0)
        }
    }
}

/// Sign a platform signing request that carries a statement (a vote that is not a chain
/// transaction's payload): the statement's bytes are signed and the signature added to the
/// file's `signatures`. `None` when the file is a transaction proposal.
fn sign_statement(profile: &ProfileArgs, file: &Path, format: Format) -> Result<Option<u8>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::new("FILE_NOT_FOUND", format!("{}: {e}", file.display())))?;
    let mut v: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::new("PROPOSAL_INVALID", format!("{}: {e}", file.display())))?;
    let Some(statement) = v.get("statement").and_then(Value::as_str) else {
        return Ok(None);
    };
    let bytes = b64_decode(statement)
        .ok_or_else(|| Failure::new("PROPOSAL_INVALID", "the statement is not base64"))?;
    let path = profile.profile.clone().ok_or_else(|| {
        Failure::new(
            "PROFILE_REQUIRED",
            "pass --profile FILE or set COVENANT_PROFILE",
        )
    })?;
    let profile_file = covenant_sdk::Profile::load(&path)?;
    let signer = profile_file.signer(profile.identity.as_deref())?;
    let pem = signer.cert.to_pem();
    let sigs = v
        .get_mut("signatures")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Failure::new("PROPOSAL_INVALID", "the file has no signatures list"))?;
    if sigs.iter().any(|s| s["cert"] == pem.as_str()) {
        return Err(Failure::new(
            "ALREADY_SIGNED",
            "this identity already signed the statement",
        )
        .into());
    }
    let sig = signer.key.sign(&bytes)?;
    sigs.push(json!({
        "signer": signer.cert.subject_string(),
        "cert": pem,
        "signature": b64_encode(&sig),
    }));
    let n = sigs.len();
    files::write_atomic(
        file,
        serde_json::to_string_pretty(&v)?.as_bytes(),
        files::PUBLIC_MODE,
    )?;
    emit(format, &json!({"proposal": file, "signatures": n}), || {
        format!(
            "Signed the statement in {} as {} ({n} signature(s) now)",
            file.display(),
            signer.cert.subject_string()
        )
    })?;
    Ok(Some(0))
}
