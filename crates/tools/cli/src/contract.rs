//! `covenant contract`: build, deploy, govern, invoke and query contracts.

use std::{io::Write as _, path::PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use covenant_api_types::json::{SubmitResponse, TxResultView, b64_encode};
use covenant_deploy::contract_build;
use covenant_sdk::Signer;
use covenant_types::{Transaction, tx::TxBuilder};
use prost::Message;
use serde_json::{Value, json};

use crate::{
    failure::Failure,
    output::{Format, emit},
    session::{ProfileArgs, Session},
};

#[derive(Debug, Args)]
#[command(
    about = "Build, deploy, govern, invoke and query smart contracts",
    long_about = "Contracts are Rust crates compiled to WebAssembly (see contracts/ for examples: \
kv, token, evidence). Deploying, upgrading, freezing, unfreezing and revoking are governed by the \
chain's policies; --endorse-as adds signatures of other identities of the profile for policies \
that need several orgs (or use `covenant proposal` to collect them offline).",
    after_help = "Examples:\n  covenant contract build contracts/token\n  covenant contract deploy \
token token.wasm --method-policy mint:admin\n  covenant contract invoke token mint --args \
'{\"amount\":1000}'\n  covenant contract query token balance --args '{}'\n  covenant contract \
freeze token"
)]
pub struct ContractCommand {
    #[command(flatten)]
    profile: ProfileArgs,
    #[command(subcommand)]
    command: ContractSub,
}

#[derive(Debug, Subcommand)]
enum ContractSub {
    /// Build a contract crate to WebAssembly; prints the .wasm path.
    Build {
        /// Path of the contract crate.
        path: PathBuf,
        /// Cargo target directory (default: cargo's).
        #[arg(long)]
        target_dir: Option<PathBuf>,
    },
    /// Install a new contract.
    Deploy {
        /// The contract's name on the chain (letters, digits, `_`, `-`, `.`; not `sys.`).
        name: String,
        /// The .wasm file (from covenant contract build).
        wasm: PathBuf,
        /// The version recorded with the contract.
        #[arg(long, default_value = "1.0.0")]
        version: String,
        /// Who may call a method: METHOD:ROLES[:ORGS], comma-separated lists, repeatable
        /// (e.g. mint:admin or pay:client,admin:org1,org2). Methods without a policy are open
        /// to clients and admins of every member org.
        #[arg(long = "method-policy")]
        method_policies: Vec<String>,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Upgrade a contract to new code (its state is kept).
    Upgrade {
        /// The installed contract to upgrade.
        name: String,
        /// The new .wasm file.
        wasm: PathBuf,
        /// The new version recorded with the contract.
        #[arg(long)]
        version: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Freeze a contract: calls fail until it is unfrozen.
    Freeze {
        /// The contract's name.
        name: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Unfreeze a frozen contract.
    Unfreeze {
        /// The contract's name.
        name: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Revoke a contract for good.
    Revoke {
        /// The contract's name.
        name: String,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Call a method in a transaction; waits for the commit and prints the result.
    Invoke {
        /// The contract's name (a WASM contract, or a system contract such as sys.config).
        name: String,
        /// The method to call.
        method: String,
        /// Arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
        /// Return once the node admitted the transaction, without waiting for the commit.
        #[arg(long)]
        no_wait: bool,
        /// Gas limit (default: the chain's maximum).
        #[arg(long)]
        gas: Option<u64>,
        #[command(flatten)]
        gov: GovArgs,
    },
    /// Call a method read-only on the latest state.
    Query {
        /// The contract's name.
        name: String,
        /// The method to call.
        method: String,
        /// Arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
    },
    /// List the chain's contracts and their status.
    List,
}

/// Extra signatures for governed calls.
#[derive(Debug, Args)]
struct GovArgs {
    /// Also sign as this identity of the profile (repeatable).
    #[arg(long = "endorse-as", value_name = "IDENTITY")]
    endorse_as: Vec<String>,
}

fn parse_args(text: &str) -> Result<Value> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| Failure::new("INVALID_ARGUMENT", format!("--args is not JSON: {e}")))?;
    if !v.is_object() && !v.is_null() {
        return Err(Failure::new("INVALID_ARGUMENT", "--args must be a JSON object").into());
    }
    Ok(v)
}

fn method_policy(spec: &str) -> Result<Value> {
    let mut parts = spec.splitn(3, ':');
    let method = parts.next().unwrap_or_default();
    if method.is_empty() {
        return Err(Failure::new(
            "INVALID_ARGUMENT",
            format!("bad --method-policy {spec:?}: METHOD:ROLES[:ORGS]"),
        )
        .into());
    }
    let list = |s: Option<&str>| -> Vec<String> {
        s.map(|s| {
            s.split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
    };
    let roles = list(parts.next());
    let orgs = list(parts.next());
    Ok(json!({"method": method, "roles": roles, "org_ids": orgs}))
}

fn wasm_b64(path: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::new("FILE_NOT_FOUND", format!("{}: {e}", path.display())))?;
    Ok(b64_encode(&bytes))
}

/// Sign `contract.method(args)` as the session's identity plus endorsers, submit, wait.
pub fn send(
    s: &Session,
    contract: &str,
    method: &str,
    args: &Value,
    endorse_as: &[String],
    gas: Option<u64>,
    wait: bool,
) -> Result<SubmitResponse> {
    let signer = s.signer()?;
    let mut builder = TxBuilder::new(&s.profile.chain_id, contract, method).args_json(args);
    if let Some(g) = gas {
        builder = builder.gas_limit(g);
    }
    let payload = builder.build()?;
    let mut tx: Transaction = signer
        .sign_payload(payload.clone())
        .map_err(|e| Failure::new("SIGNING_FAILED", e))?;
    for name in endorse_as {
        let e: Signer = s.signer_named(name)?;
        tx.endorsements.push(
            e.endorse(&payload)
                .map_err(|e| Failure::new("SIGNING_FAILED", e))?,
        );
    }
    s.call(s.client.submit(&tx.encode_to_vec(), wait))
}

/// Print a submission's outcome; a committed failure exits non-zero.
pub fn report(format: Format, r: &SubmitResponse) -> Result<u8> {
    let failed = r.result.as_ref().is_some_and(|x| x.code != "OK");
    let out = json!({
        "tx_id": r.tx_id,
        "status": r.status,
        "height": r.height,
        "block_hash": r.block_hash,
        "code": r.result.as_ref().map(|x| x.code.clone()),
        "message": r.result.as_ref().map(|x| x.message.clone()).filter(|m| !m.is_empty()),
        "result": r.result.as_ref().map(|x| x.result.clone()),
        "events": r.result.as_ref().map(|x| x.events.clone()).unwrap_or_default(),
        "gas_used": r.result.as_ref().map(|x| x.gas_used),
    });
    emit(format, &out, || match &r.result {
        None => format!("tx {} admitted (pending)", r.tx_id),
        Some(res) => {
            let mut t = format!(
                "tx {} committed at height {} — {}{}",
                r.tx_id,
                r.height.unwrap_or(0),
                res.code,
                if res.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", res.message)
                }
            );
            if !res.result.is_null() {
                t.push_str(&format!("\nresult: {}", res.result));
            }
            for e in &res.events {
                t.push_str(&format!("\nevent {}.{}: {}", e.contract, e.topic, e.data));
            }
            t.push_str(&format!("\ngas used: {}", res.gas_used));
            t
        }
    })?;
    if failed
        && format == Format::Text
        && let Some(res) = &r.result
    {
        let _ = writeln!(std::io::stderr(), "error[{}]: {}", res.code, res.message);
    }
    Ok(if failed { 1 } else { 0 })
}

fn print_result(format: Format, r: &TxResultView) -> Result<u8> {
    emit(format, r, || {
        if r.code == "OK" {
            r.result.to_string()
        } else {
            format!("{}: {}", r.code, r.message)
        }
    })?;
    if r.code != "OK" && format == Format::Text {
        let _ = writeln!(std::io::stderr(), "error[{}]: {}", r.code, r.message);
    }
    Ok(if r.code == "OK" { 0 } else { 1 })
}

pub fn run(cmd: ContractCommand, format: Format) -> Result<u8> {
    if let ContractSub::Build { path, target_dir } = &cmd.command {
        let wasm = contract_build::build(path, target_dir.as_deref())?;
        emit(format, &json!({"wasm": wasm}), || {
            format!("{}", wasm.display())
        })?;
        return Ok(0);
    }
    let s = Session::open(&cmd.profile)?;
    let governed = |method: &str, args: Value, gov: &GovArgs| -> Result<u8> {
        let r = send(
            &s,
            "sys.contracts",
            method,
            &args,
            &gov.endorse_as,
            None,
            true,
        )?;
        report(format, &r)
    };
    match cmd.command {
        ContractSub::Build { .. } => Ok(0),
        ContractSub::Deploy {
            name,
            wasm,
            version,
            method_policies,
            gov,
        } => {
            let methods: Vec<Value> = method_policies
                .iter()
                .map(|m| method_policy(m))
                .collect::<Result<_>>()?;
            let code = wasm_b64(&wasm)?;
            governed(
                "install",
                json!({"name": name, "version": version, "code": code, "methods": methods}),
                &gov,
            )
        }
        ContractSub::Upgrade {
            name,
            wasm,
            version,
            gov,
        } => {
            let code = wasm_b64(&wasm)?;
            governed(
                "upgrade",
                json!({"name": name, "version": version, "code": code}),
                &gov,
            )
        }
        ContractSub::Freeze { name, gov } => governed("freeze", json!({"name": name}), &gov),
        ContractSub::Unfreeze { name, gov } => governed("unfreeze", json!({"name": name}), &gov),
        ContractSub::Revoke { name, gov } => governed("revoke", json!({"name": name}), &gov),
        ContractSub::Invoke {
            name,
            method,
            args,
            no_wait,
            gas,
            gov,
        } => {
            let args = parse_args(&args)?;
            let r = send(&s, &name, &method, &args, &gov.endorse_as, gas, !no_wait)?;
            report(format, &r)
        }
        ContractSub::Query { name, method, args } => {
            let args = parse_args(&args)?;
            let caller = s.signer().ok().map(|sg| sg.cert.to_pem());
            let r = s.call(s.client.query(&name, &method, args, caller))?;
            print_result(format, &r)
        }
        ContractSub::List => {
            let list = s.call(s.client.contracts())?;
            emit(format, &json!({"contracts": list}), || {
                let mut t = format!(
                    "{:<20} {:<10} {:<8} {:<10} CREATOR\n",
                    "NAME", "VERSION", "STATUS", "INSTALLED"
                );
                for c in list.as_array().into_iter().flatten() {
                    t.push_str(&format!(
                        "{:<20} {:<10} {:<8} {:<10} {}\n",
                        c["name"].as_str().unwrap_or(""),
                        c["version"].as_str().unwrap_or(""),
                        c["status"].as_str().unwrap_or(""),
                        c["installed_height"],
                        c["creator_org"].as_str().unwrap_or("")
                    ));
                }
                t
            })
            .context("printing")?;
            Ok(0)
        }
    }
}
