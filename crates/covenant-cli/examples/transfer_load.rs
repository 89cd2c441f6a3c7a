//! Token transfers against a running single-node chain: committed transactions per second.
//!
//! ```sh
//! covenant node start --dir dev --init &           # or any `covenant node init` directory
//! cargo run --release -p covenant-cli --example transfer_load -- --dir dev --txs 20000 --clients 32
//! ```
//!
//! Method: issue `--clients` identities from the node's CA, install the token contract if
//! needed, mint to each, then sign every transfer (client i pays client i+1) before the clock
//! starts. The measured window runs from the first submission (batches of 500, four in flight)
//! to the commit of the last transaction; the report counts the transactions in the blocks of
//! that window, so nothing is counted that did not commit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use covenant_crypto::Suite;
use covenant_pki::{CertificateAuthority, Role, authority::IssueOptions};
use covenant_sdk::{Client, Profile, Signer, contract_build};
use covenant_types::{api::b64_encode, tx::TxBuilder};
use serde_json::json;

struct Args {
    dir: PathBuf,
    txs: usize,
    clients: usize,
}

fn args() -> Result<Args> {
    let mut a = Args {
        dir: PathBuf::from("dev"),
        txs: 20_000,
        clients: 32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().context("missing value")?;
        match k.as_str() {
            "--dir" => a.dir = PathBuf::from(v),
            "--txs" => a.txs = v.parse()?,
            "--clients" => a.clients = v.parse()?,
            other => bail!("unknown option {other} (--dir, --txs, --clients)"),
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = args()?;
    let profile = Profile::load(&a.dir.join("profile.json"))?;
    let client = Arc::new(Client::new(&profile.endpoint, &profile.chain_id)?);
    let info = client.info().await?;
    let suite: Suite = info.suite.parse()?;
    let admin = profile.signer(Some("admin"))?;

    // Identities, issued by the node's own CA.
    let stamp = covenant_types::tx::now_ms();
    let keys_dir = a.dir.join("load-identities");
    std::fs::create_dir_all(&keys_dir)?;
    let mut ca = CertificateAuthority::open(&a.dir.join("ca"))?;
    let mut signers: Vec<Signer> = Vec::new();
    for i in 0..a.clients {
        let name = format!("load-{stamp}-{i}");
        let out = ca.issue(&IssueOptions {
            role: Role::Client,
            name: name.clone(),
            hosts: vec![],
            days: 30,
            key_algorithm: None,
            out: Some(keys_dir.join(&name)),
            force: false,
        })?;
        signers.push(Signer::load(&out.cert, &out.key).map_err(anyhow::Error::msg)?);
    }
    drop(ca);

    // The token contract.
    let contracts = client.contracts().await?;
    let installed = contracts.as_array().is_some_and(|l| {
        l.iter()
            .any(|c| c["name"] == "token" && c["status"] == "active")
    });
    if !installed {
        let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts/token");
        let wasm = contract_build::build(&crate_dir, None)?;
        let code = b64_encode(&std::fs::read(wasm)?);
        let tx = admin
            .sign(
                TxBuilder::new(&profile.chain_id, "sys.contracts", "install")
                    .args_json(&json!({"name": "token", "code": code})),
            )
            .map_err(anyhow::Error::msg)?;
        let r = client.submit(&tx, true).await?;
        eprintln!(
            "installed token: {}",
            r.result.map(|x| x.code).unwrap_or_default()
        );
    }
    let accounts: Vec<String> = signers.iter().map(|s| s.account(suite).to_hex()).collect();
    let mut last = None;
    for acct in &accounts {
        let tx = admin
            .sign(
                TxBuilder::new(&profile.chain_id, "token", "mint")
                    .args_json(&json!({"to": acct, "amount": 1_000_000_000u64})),
            )
            .map_err(anyhow::Error::msg)?;
        last = Some(client.submit(&tx, false).await?.tx_id);
    }
    if let Some(id) = last {
        while client.tx(&id).await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Sign everything before the clock starts.
    let per = a.txs.div_ceil(a.clients);
    let mut signed = Vec::with_capacity(per * a.clients);
    let mut last_ids = Vec::new();
    for round in 0..per {
        for (i, s) in signers.iter().enumerate() {
            let to = &accounts[(i + 1) % accounts.len()];
            let payload = TxBuilder::new(&profile.chain_id, "token", "transfer")
                .args_json(&json!({"to": to, "amount": 1}));
            let tx = s.sign(payload).map_err(anyhow::Error::msg)?;
            if round == per - 1 {
                use prost::Message as _;
                let t = covenant_types::Transaction::decode(tx.as_slice())?;
                last_ids.push(suite.hash(&t.payload).to_hex());
            }
            signed.push(tx);
        }
    }
    let total = signed.len();
    let start_height = client.info().await?.height;
    eprintln!(
        "signed {total} transfers from {} clients; submitting",
        a.clients
    );

    let t0 = Instant::now();
    let chunks: Vec<Vec<Vec<u8>>> = signed.chunks(500).map(<[Vec<u8>]>::to_vec).collect();
    let sem = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = Vec::new();
    for chunk in chunks {
        let c = client.clone();
        let permit = sem.clone().acquire_owned().await?;
        tasks.push(tokio::spawn(async move {
            let mut pending = chunk;
            let mut refused = 0usize;
            while !pending.is_empty() {
                let r = c.submit_batch(&pending).await?;
                let mut retry = Vec::new();
                for (tx, item) in pending.into_iter().zip(r.results) {
                    match item.error {
                        Some(e) if e.code == "TXPOOL_FULL" => retry.push(tx),
                        Some(_) => refused += 1,
                        None => {}
                    }
                }
                if !retry.is_empty() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                pending = retry;
            }
            drop(permit);
            anyhow::Ok(refused)
        }));
    }
    let mut refused = 0;
    for t in tasks {
        refused += t.await??;
    }
    let submitted_in = t0.elapsed();
    for id in &last_ids {
        while client.tx(id).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let elapsed = t0.elapsed();
    let end_height = client.info().await?.height;
    let mut committed = 0u64;
    let mut failed = 0u64;
    for h in start_height + 1..=end_height {
        let b = client.block(&h.to_string(), false).await?;
        committed += b
            .txs
            .iter()
            .filter(|t| t.contract == "token" && t.method == "transfer")
            .count() as u64;
        failed += b.txs.iter().filter(|t| t.code != "OK").count() as u64;
    }
    let tps = committed as f64 / elapsed.as_secs_f64();
    println!(
        "{}",
        json!({
            "suite": suite.name(),
            "clients": a.clients,
            "transactions": total,
            "committed": committed,
            "failed": failed,
            "refused": refused,
            "blocks": end_height - start_height,
            "submit_seconds": submitted_in.as_secs_f64(),
            "seconds": elapsed.as_secs_f64(),
            "tps": (tps * 10.0).round() / 10.0,
        })
    );
    Ok(())
}
