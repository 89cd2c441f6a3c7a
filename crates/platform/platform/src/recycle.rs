//! The end of a network's life in the recycle bin: its chains' ledgers exported, then the
//! network purged.
//!
//! A recycled network's nodes are stopped, so a ledger is exported straight from a node's data
//! directory by the node binary (`covenant node export`): every block, the genesis and every
//! configuration change with them, in one checked file that `covenant node import` restores
//! into a new node. A network is purged — its nodes' directories removed, the records kept and
//! marked `purged` — only once the grace period after recycling has passed and every chain it
//! hosts has an export. Exports stay with the platform and remain downloadable by the chain's
//! member orgs.

use std::{path::PathBuf, process::Command};

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::{
    Platform, consortium,
    error::{Error, Result},
    event,
    network::{self, NetworkView, RECYCLE_GRACE_DAYS},
    operation,
    time::now_ms,
};

/// One chain's export.
#[derive(Debug, Clone, Serialize)]
pub struct ExportView {
    pub network_id: String,
    pub chain_id: String,
    /// Node whose ledger was exported.
    pub node: String,
    pub blocks: i64,
    pub bytes: i64,
    pub genesis_hash: String,
    pub tip_hash: String,
    /// Heights of the blocks that changed the chain's configuration.
    pub config_heights: Vec<u64>,
    pub created_at: i64,
    pub created_by: String,
}

fn exports_dir(p: &Platform, network_id: &str) -> PathBuf {
    p.config().dir.join("exports").join(network_id)
}

/// The file of `chain`'s export.
pub fn export_file(p: &Platform, network_id: &str, chain: &str) -> PathBuf {
    exports_dir(p, network_id).join(format!("{chain}.ledger"))
}

fn view(r: &sqlx::any::AnyRow) -> Result<ExportView> {
    let heights: String = r.try_get("config_heights")?;
    Ok(ExportView {
        network_id: r.try_get("network_id")?,
        chain_id: r.try_get("chain_id")?,
        node: r.try_get("node_name")?,
        blocks: r.try_get("blocks")?,
        bytes: r.try_get("bytes")?,
        genesis_hash: r.try_get("genesis_hash")?,
        tip_hash: r.try_get("tip_hash")?,
        config_heights: serde_json::from_str(&heights).unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

/// The exports of a network `org_id` can see.
pub async fn list_for(p: &Platform, org_id: &str, network_id: &str) -> Result<Vec<ExportView>> {
    let net = network::get_for(p, org_id, network_id).await?;
    let rows = sqlx::query("SELECT * FROM ledger_exports WHERE network_id = $1 ORDER BY chain_id")
        .bind(&net.id)
        .fetch_all(p.db().pool())
        .await?;
    rows.iter().map(view).collect()
}

/// The file of one chain's export, for an org that is a member of that chain.
pub async fn file_for(
    p: &Platform,
    org_id: &str,
    network_id: &str,
    chain: &str,
) -> Result<PathBuf> {
    let net = network::get_for(p, org_id, network_id).await?;
    let missing = || {
        Error::not_found(format!(
            "no export of chain {chain} in network {network_id}"
        ))
    };
    if !net.chains.iter().any(|c| c == chain) {
        return Err(missing());
    }
    // A ledger is the chain's members' to read.
    network::chain_for(p, org_id, chain).await?;
    let row =
        sqlx::query("SELECT chain_id FROM ledger_exports WHERE network_id = $1 AND chain_id = $2")
            .bind(&net.id)
            .bind(chain)
            .fetch_optional(p.db().pool())
            .await?;
    if row.is_none() {
        return Err(missing());
    }
    let file = export_file(p, &net.id, chain);
    if !file.exists() {
        return Err(Error::unavailable(
            "EXPORT_MISSING",
            format!("the export file of chain {chain} is missing from the platform's directory"),
        ));
    }
    Ok(file)
}

fn require_recycled(net: &NetworkView, what: &str) -> Result<()> {
    match net.state.as_str() {
        "recycled" => Ok(()),
        "purged" => Err(Error::conflict(
            "NETWORK_PURGED",
            format!("network {} is purged already", net.name),
        )),
        _ => Err(Error::conflict(
            "NETWORK_NOT_RECYCLED",
            format!(
                "{what} only a network in the recycle bin (its nodes stopped); {} is {}",
                net.name, net.state
            ),
        )),
    }
}

/// Export every chain of a recycled network; returns the operation that does it.
pub async fn export(p: &Platform, org_id: &str, network_id: &str) -> Result<String> {
    let net = network::get_for(p, org_id, network_id).await?;
    require_recycled(&net, "the platform exports")?;
    if net.chains.is_empty() {
        return Err(Error::conflict(
            "NETWORK_HAS_NO_CHAINS",
            format!("network {} hosts no chain to export", net.name),
        ));
    }
    let steps = net.chains.len() as i64;
    let op = operation::start(
        p,
        org_id,
        Some(&net.consortium_id),
        "network.export",
        &net.id,
        steps,
    )
    .await?;
    let (p2, op2, org) = (p.clone(), op.clone(), org_id.to_string());
    tokio::spawn(async move {
        let r = export_all(&p2, &op2, &org, &net).await;
        let _ = match r {
            Ok(v) => operation::succeed(&p2, &op2, &v).await,
            Err(e) => operation::fail(&p2, &op2, &e).await,
        };
    });
    Ok(op)
}

async fn export_all(p: &Platform, op: &str, org_id: &str, net: &NetworkView) -> Result<Value> {
    // Nodes stay stopped while their ledgers are read: no renewal or start in between.
    let _guard = p.inner.deploy_lock.lock().await;
    let fresh = network::get_in(p, &net.consortium_id, &net.id).await?;
    require_recycled(&fresh, "the platform exports")?;
    let dir = exports_dir(p, &net.id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
    let mut done = Vec::new();
    for (i, chain) in fresh.chains.iter().enumerate() {
        operation::progress(p, op, i as i64 + 1, &format!("exporting chain {chain}")).await?;
        // The node that saw the chain highest first; the next one if its ledger cannot be read.
        let mut hosts: Vec<_> = fresh
            .nodes
            .iter()
            .filter(|n| n.hosting != "org" && n.chains.iter().any(|c| c == chain))
            .collect();
        hosts.sort_by_key(|n| std::cmp::Reverse(n.heights.get(chain).copied().unwrap_or(0)));
        let out = export_file(p, &net.id, chain);
        let mut last_error = None;
        let mut exported = None;
        for n in hosts {
            match run_export(p, &network::node_dir(p, n), chain, &out).await {
                Ok(v) => {
                    exported = Some((n.name.clone(), v));
                    break;
                }
                Err(e) => {
                    tracing::warn!(node = %n.name, chain = %chain, error = %e, "exporting a ledger failed");
                    last_error = Some(e);
                }
            }
        }
        let Some((node, v)) = exported else {
            return Err(last_error.unwrap_or_else(|| {
                Error::conflict(
                    "EXPORT_FAILED",
                    format!("no node of the network holds chain {chain}"),
                )
            }));
        };
        let heights = v["config_heights"].to_string();
        let now = now_ms();
        let mut tx = p.db().write().await?;
        sqlx::query("DELETE FROM ledger_exports WHERE network_id = $1 AND chain_id = $2")
            .bind(&net.id)
            .bind(chain)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO ledger_exports (network_id, chain_id, node_name, blocks, bytes, genesis_hash, tip_hash, config_heights, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&net.id)
        .bind(chain)
        .bind(&node)
        .bind(v["blocks"].as_i64().unwrap_or(0))
        .bind(v["bytes"].as_i64().unwrap_or(0))
        .bind(v["genesis_hash"].as_str().unwrap_or_default())
        .bind(v["tip_hash"].as_str().unwrap_or_default())
        .bind(&heights)
        .bind(now)
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        done.push(json!({"chain_id": chain, "node": node, "blocks": v["blocks"], "bytes": v["bytes"], "tip_hash": v["tip_hash"]}));
    }
    Ok(json!({"network_id": net.id, "exports": done}))
}

/// Run `covenant node export` on a stopped node's directory.
async fn run_export(
    p: &Platform,
    node_dir: &std::path::Path,
    chain: &str,
    out: &std::path::Path,
) -> Result<Value> {
    let exe = p.config().node_exe.clone();
    let (dir, chain, out) = (node_dir.to_path_buf(), chain.to_string(), out.to_path_buf());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&exe)
            .arg("--output")
            .arg("json")
            .args(["node", "export", "--dir"])
            .arg(&dir)
            .arg("--chain")
            .arg(&chain)
            .arg("--out")
            .arg(&out)
            .output()
    })
    .await
    .map_err(|e| Error::internal(format!("the export task failed: {e}")))?
    .map_err(|e| Error::internal(format!("cannot run the node binary: {e}")))?;
    if !output.status.success() {
        let detail: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        let message = detail["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&output.stderr).trim().to_string());
        return Err(Error::unavailable("EXPORT_FAILED", message));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| Error::internal(format!("the export's report does not parse: {e}")))
}

/// Purge a recycled network whose grace period is over and whose every chain is exported:
/// remove its nodes' directories; the records stay, marked `purged`.
pub async fn purge(p: &Platform, org_id: &str, network_id: &str) -> Result<NetworkView> {
    let _guard = p.inner.deploy_lock.lock().await;
    let net = network::get_for(p, org_id, network_id).await?;
    require_recycled(&net, "the platform purges")?;
    let recycled_at = net.recycled_at.unwrap_or_else(now_ms);
    let purge_after = recycled_at + RECYCLE_GRACE_DAYS * 86_400_000;
    if now_ms() < purge_after {
        return Err(Error::conflict(
            "PURGE_TOO_EARLY",
            format!(
                "network {} stays in the recycle bin, renewable, until {} ms since the epoch ({RECYCLE_GRACE_DAYS} days after it expired)",
                net.name, purge_after
            ),
        ));
    }
    let exported: Vec<String> =
        sqlx::query("SELECT chain_id FROM ledger_exports WHERE network_id = $1")
            .bind(&net.id)
            .fetch_all(p.db().pool())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("chain_id"))
            .collect::<Result<_, _>>()?;
    let missing: Vec<&String> = net
        .chains
        .iter()
        .filter(|c| !exported.contains(c) || !export_file(p, &net.id, c).exists())
        .collect();
    if !missing.is_empty() {
        return Err(Error::conflict(
            "EXPORT_REQUIRED",
            format!(
                "export the ledger of every chain first (POST /api/v1/networks/{}/exports); not exported: {}",
                net.id,
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let mut dirs: Vec<PathBuf> = net.nodes.iter().map(|n| network::node_dir(p, n)).collect();
    dirs.push(network::network_dir(p, &net.id));
    for d in &dirs {
        if d.exists() {
            std::fs::remove_dir_all(d)
                .map_err(|e| Error::internal(format!("cannot remove {}: {e}", d.display())))?;
        }
    }
    let now = now_ms();
    let mut tx = p.db().write().await?;
    sqlx::query(
        "UPDATE nodes SET state = 'purged', pid = NULL, status = 'down' WHERE network_id = $1",
    )
    .bind(&net.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE networks SET state = 'purged', purged_at = $1, version = version + 1 WHERE id = $2",
    )
    .bind(now)
    .bind(&net.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let members = consortium::member_ids(p, &net.consortium_id).await?;
    event::publish(
        p,
        &members,
        &event::New {
            kind: "network.purged",
            title: format!(
                "Network {} is purged: its nodes' data is removed; the ledger exports of its chains remain",
                net.name
            ),
            subject_kind: "network",
            subject_id: &net.id,
            data: json!({"network_id": net.id, "purged_at": now, "chains": net.chains}),
        },
    )
    .await?;
    network::get_in(p, &net.consortium_id, &net.id).await
}
