//! Networks, their nodes, and the chains the platform deploys on them.
//!
//! A network is a set of nodes of the consortium's orgs: each node gets a certificate from
//! its org's CA (the platform keeps the key sealed until it writes the node's files) and
//! ports on this machine. A node runs once a chain is deployed on it: the platform builds the
//! chain's genesis from the member orgs' trust roots and the chosen consensus, writes each
//! node's `node.toml` with every chain it hosts, and (re)starts it through the local-process
//! driver (covenant-deploy), as an operation callers poll.
//!
//! What a chain is (members, consensus nodes, contracts, config version) is read from the
//! chain itself through a node's API; the platform's rows only say what it deployed where.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    time::{Duration, Instant},
};

use covenant_crypto::Suite;
use covenant_deploy::{
    chain_config::default_chain_config,
    node_config::{ChainSection, NodeSection, NodeToml, TbftSection},
    process,
};
use covenant_pki::{
    Certificate, Role,
    files::{self, PRIVATE_MODE, PUBLIC_MODE},
};
use covenant_sdk::{Client, ClientError};
use covenant_types::{ConsensusNode, Policy as ChainRulePolicy, PolicyEntry};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform, consortium,
    error::{Error, Result},
    event, operation, org,
    proposal::kind::{ChainCreate, NetworkCreate},
    time::{new_id, now_ms},
};

/// A node as the platform sees it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub id: String,
    pub network_id: String,
    pub org_id: String,
    pub name: String,
    pub api_url: String,
    pub grpc_address: String,
    pub peer_address: String,
    pub certificate: String,
    /// Who runs it: `platform` (a process of this platform) or `org` (the org, on its own
    /// machine, from a bundle).
    pub hosting: String,
    /// `created` (no process yet), `running`, `stopped`, `failed`; `remote` for a node its org
    /// runs; `purged` once its network is.
    pub state: String,
    /// `up`, `down` or `unknown`, from the last look at its API.
    pub status: String,
    /// Height of each chain it hosts, from its API.
    pub heights: BTreeMap<String, u64>,
    pub peers: i64,
    pub chains: Vec<String>,
    pub last_seen_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    /// The directory of a node another tool runs (`covenant up`); `None` for nodes the
    /// platform deployed and runs itself.
    #[serde(skip)]
    pub external_dir: Option<PathBuf>,
}

/// A network.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkView {
    pub id: String,
    pub consortium_id: String,
    pub name: String,
    /// `ready` (no chain yet), `running`, `recycled` (expired: its nodes stopped, its data
    /// kept until it is renewed or purged), `deleted`.
    pub state: String,
    pub expires_at: i64,
    /// When it went to the recycle bin.
    pub recycled_at: Option<i64>,
    /// When its nodes' data was removed (after its ledgers were exported).
    pub purged_at: Option<i64>,
    pub nodes: Vec<NodeView>,
    pub chains: Vec<String>,
    pub created_at: i64,
    pub version: i64,
}

/// A chain the platform deployed.
#[derive(Debug, Clone, Serialize)]
pub struct ChainView {
    pub id: String,
    pub network_id: String,
    pub consortium_id: String,
    pub consensus: String,
    pub suite: String,
    /// `deploying`, `running`, `failed`.
    pub state: String,
    pub genesis_hash: Option<String>,
    /// Nodes hosting it and their role (`consensus` or `sync`).
    pub nodes: Vec<Value>,
    pub created_at: i64,
}

/// Check a network name: 1 to 32 lowercase letters, digits or `-`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "a network name is 1 to 32 lowercase letters, digits or '-'",
        ))
    }
}

/// Refuse a name the consortium uses already.
pub async fn check_name_free(p: &Platform, consortium_id: &str, name: &str) -> Result<()> {
    let used = sqlx::query("SELECT id FROM networks WHERE consortium_id = $1 AND name = $2")
        .bind(consortium_id)
        .bind(name)
        .fetch_optional(p.db().pool())
        .await?;
    if used.is_some() {
        return Err(Error::conflict(
            "NETWORK_EXISTS",
            format!("the consortium has a network named {name} already"),
        ));
    }
    Ok(())
}

fn node_view(r: &AnyRow, chains: Vec<String>) -> Result<NodeView> {
    let api: i64 = r.try_get("api_port")?;
    let grpc: i64 = r.try_get("grpc_port")?;
    let peer: i64 = r.try_get("peer_port")?;
    let heights: String = r.try_get("heights")?;
    let host = r
        .try_get::<Option<String>, _>("host")?
        .unwrap_or_else(|| "127.0.0.1".to_string());
    Ok(NodeView {
        id: r.try_get("id")?,
        network_id: r.try_get("network_id")?,
        org_id: r.try_get("org_id")?,
        name: r.try_get("name")?,
        api_url: format!("http://{host}:{api}"),
        grpc_address: format!("{host}:{grpc}"),
        peer_address: format!("{host}:{peer}"),
        certificate: r.try_get("cert_pem")?,
        hosting: r.try_get("hosting")?,
        state: r.try_get("state")?,
        status: r.try_get("status")?,
        heights: serde_json::from_str(&heights).unwrap_or_default(),
        peers: r.try_get("peers")?,
        chains,
        last_seen_at: r.try_get("last_seen_at")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        external_dir: r.try_get::<Option<String>, _>("dir")?.map(PathBuf::from),
    })
}

async fn node_chains(p: &Platform, node_id: &str) -> Result<Vec<String>> {
    sqlx::query("SELECT chain_id FROM chain_nodes WHERE node_id = $1 ORDER BY chain_id")
        .bind(node_id)
        .fetch_all(p.db().pool())
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("chain_id").map_err(Error::from))
        .collect()
}

/// A node by id or name.
pub async fn node(p: &Platform, id_or_name: &str) -> Result<NodeView> {
    let row = sqlx::query("SELECT * FROM nodes WHERE id = $1 OR name = $1")
        .bind(id_or_name)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no node {id_or_name}")))?;
    let id: String = row.try_get("id")?;
    node_view(&row, node_chains(p, &id).await?)
}

async fn network_view(p: &Platform, r: &AnyRow) -> Result<NetworkView> {
    let id: String = r.try_get("id")?;
    let rows = sqlx::query("SELECT * FROM nodes WHERE network_id = $1 ORDER BY org_id, name")
        .bind(&id)
        .fetch_all(p.db().pool())
        .await?;
    let mut nodes = Vec::new();
    for n in &rows {
        let nid: String = n.try_get("id")?;
        nodes.push(node_view(n, node_chains(p, &nid).await?)?);
    }
    let chains = sqlx::query("SELECT id FROM chains WHERE network_id = $1 ORDER BY id")
        .bind(&id)
        .fetch_all(p.db().pool())
        .await?
        .iter()
        .map(|c| c.try_get::<String, _>("id"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NetworkView {
        consortium_id: r.try_get("consortium_id")?,
        name: r.try_get("name")?,
        state: r.try_get("state")?,
        expires_at: r.try_get("expires_at")?,
        recycled_at: r.try_get("recycled_at")?,
        purged_at: r.try_get("purged_at")?,
        created_at: r.try_get("created_at")?,
        version: r.try_get("version")?,
        nodes,
        chains,
        id,
    })
}

/// The network `id` of `consortium_id`.
pub async fn get_in(p: &Platform, consortium_id: &str, id: &str) -> Result<NetworkView> {
    let row = sqlx::query("SELECT * FROM networks WHERE id = $1 AND consortium_id = $2")
        .bind(id)
        .bind(consortium_id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no network {id} in this consortium")))?;
    network_view(p, &row).await
}

/// The network `id` if `org_id` is a member of its consortium.
pub async fn get_for(p: &Platform, org_id: &str, id: &str) -> Result<NetworkView> {
    let missing = || Error::not_found(format!("no network {id} your org can see"));
    let row = sqlx::query("SELECT * FROM networks WHERE id = $1")
        .bind(id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(missing)?;
    let c: String = row.try_get("consortium_id")?;
    if !consortium::is_member(p, &c, org_id).await? {
        return Err(missing());
    }
    network_view(p, &row).await
}

/// The networks of the consortia `org_id` belongs to.
pub async fn list_for(
    p: &Platform,
    org_id: &str,
    consortium_id: Option<&str>,
) -> Result<Vec<NetworkView>> {
    let rows = sqlx::query(
        "SELECT w.* FROM networks w JOIN consortium_members m ON m.consortium_id = w.consortium_id AND m.org_id = $1
         WHERE ($2 = '' OR w.consortium_id = $2) ORDER BY w.created_at, w.id",
    )
    .bind(org_id)
    .bind(consortium_id.unwrap_or(""))
    .fetch_all(p.db().pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        out.push(network_view(p, r).await?);
    }
    Ok(out)
}

pub(crate) fn network_dir(p: &Platform, network_id: &str) -> PathBuf {
    p.config().dir.join("networks").join(network_id)
}

pub(crate) async fn next_ports(p: &Platform, taken: &mut Vec<u16>) -> Result<(u16, u16, u16)> {
    let highest = sqlx::query("SELECT MAX(api_port) AS m FROM nodes")
        .fetch_one(p.db().pool())
        .await?;
    let highest: Option<i64> = highest.try_get("m")?;
    let mut base = match highest {
        Some(h) => (h + 10).max(i64::from(p.config().node_base_port)),
        None => i64::from(p.config().node_base_port),
    };
    for _ in 0..500 {
        let b = u16::try_from(base)
            .map_err(|_| Error::unavailable("NO_PORTS", "no ports left for new nodes"))?;
        if b.checked_add(2).is_none() {
            break;
        }
        let free = !taken.contains(&b)
            && [b, b + 1, b + 2]
                .iter()
                .all(|port| process::check_port(*port, "node").is_ok());
        if free {
            taken.push(b);
            return Ok((b, b + 1, b + 2));
        }
        base += 10;
    }
    Err(Error::unavailable(
        "NO_PORTS",
        "no free ports found for new nodes",
    ))
}

/// The names a platform-run node's certificate carries: the address it is reached at, and
/// loopback.
pub(crate) fn node_hosts(p: &Platform) -> Vec<covenant_pki::Host> {
    let mut hosts: Vec<String> = vec![p.config().node_host.clone()];
    for h in ["127.0.0.1", "localhost"] {
        if !hosts.iter().any(|x| x == h) {
            hosts.push(h.to_string());
        }
    }
    hosts.iter().filter_map(|h| h.parse().ok()).collect()
}

/// Create a network's records: nodes with certificates and ports (no process yet).
pub async fn create(p: &Platform, consortium_id: &str, n: &NetworkCreate) -> Result<NetworkView> {
    check_name(&n.name)?;
    check_name_free(p, consortium_id, &n.name).await?;
    let id = new_id("net")?;
    let now = now_ms();
    let mut planned = Vec::new();
    let mut taken = Vec::new();
    for group in &n.nodes {
        let ca = org::ca(p, &group.org_id).await?;
        for _ in 0..group.count {
            let node_id = new_id("node")?;
            let name = format!("{}-{}", group.org_id, &node_id[5..13]);
            let hosts = node_hosts(p);
            let (cert, key) = ca.issue(
                &group.org_id,
                Role::Node,
                &name,
                hosts,
                crate::ca::LEAF_DAYS,
            )?;
            let sealed = p
                .vault()
                .seal(&format!("node:{node_id}"), key.to_pkcs8_pem()?.as_bytes())?;
            let ports = next_ports(p, &mut taken).await?;
            planned.push((node_id, group.org_id.clone(), name, cert, sealed, ports));
        }
    }
    let mut tx = p.db().write().await?;
    sqlx::query(
        "INSERT INTO networks (id, consortium_id, name, state, expires_at, created_at) VALUES ($1, $2, $3, 'ready', $4, $5)",
    )
    .bind(&id)
    .bind(consortium_id)
    .bind(&n.name)
    .bind(now + i64::from(n.days) * 86_400_000)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    for (node_id, org_id, name, cert, sealed, (api, grpc, peer)) in &planned {
        sqlx::query(
            "INSERT INTO nodes (id, network_id, org_id, name, api_port, grpc_port, peer_port, cert_pem, key_sealed, state, status, heights, created_at, host)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'created', 'unknown', '{}', $10, $11)",
        )
        .bind(node_id)
        .bind(&id)
        .bind(org_id)
        .bind(name)
        .bind(i64::from(*api))
        .bind(i64::from(*grpc))
        .bind(i64::from(*peer))
        .bind(cert.to_pem())
        .bind(sealed)
        .bind(now)
        .bind(&p.config().node_host)
        .execute(&mut *tx)
        .await?;
    }
    let members = consortium::member_ids_in(&mut tx, consortium_id).await?;
    let notices = event::add_in(
        &mut tx,
        &members,
        &event::New {
            kind: "network.created",
            title: format!(
                "Network {} was created with {} nodes",
                n.name,
                planned.len()
            ),
            subject_kind: "network",
            subject_id: &id,
            data: json!({"consortium_id": consortium_id}),
        },
    )
    .await?;
    tx.commit().await?;
    event::push(p, notices);
    get_in(p, consortium_id, &id).await
}

/// Extend a network's life.
pub async fn renew(p: &Platform, consortium_id: &str, id: &str, days: u32) -> Result<NetworkView> {
    let net = get_in(p, consortium_id, id).await?;
    if net.state == "deleted" {
        return Err(Error::conflict(
            "NETWORK_DELETED",
            "the network is deleted; it cannot be renewed",
        ));
    }
    if net.state == "purged" {
        return Err(Error::conflict(
            "NETWORK_PURGED",
            "the network is purged (its nodes' data removed); it cannot be renewed. Its ledger exports restore into new nodes",
        ));
    }
    let from = net.expires_at.max(now_ms());
    sqlx::query("UPDATE networks SET expires_at = $1, version = version + 1 WHERE id = $2")
        .bind(from + i64::from(days) * 86_400_000)
        .bind(id)
        .execute(p.db().pool())
        .await?;
    // Warnings count again from the new expiry.
    sqlx::query("DELETE FROM network_notices WHERE network_id = $1")
        .bind(id)
        .execute(p.db().pool())
        .await?;
    if net.state == "recycled" {
        // Out of the recycle bin: its nodes start again on the data they kept.
        let _guard = p.inner.deploy_lock.lock().await;
        let stopped: Vec<NodeView> = net
            .nodes
            .iter()
            .filter(|n| n.state == "stopped")
            .cloned()
            .collect();
        restart(p, &stopped).await?;
        sqlx::query(
            "UPDATE networks SET state = 'running', recycled_at = NULL, version = version + 1 WHERE id = $1 AND state = 'recycled'",
        )
        .bind(id)
        .execute(p.db().pool())
        .await?;
        let members = consortium::member_ids(p, consortium_id).await?;
        event::publish(
            p,
            &members,
            &event::New {
                kind: "network.restored",
                title: format!("Network {} is renewed and its nodes run again", net.name),
                subject_kind: "network",
                subject_id: id,
                data: json!({"network_id": id, "days": days}),
            },
        )
        .await?;
    }
    get_in(p, consortium_id, id).await
}

/// Days before expiry a network's members are warned (once each; the tightest reached).
pub const EXPIRY_WARNINGS: [i64; 3] = [30, 7, 1];
/// How long an expired network stays in the recycle bin, renewable, before it may be purged.
pub const RECYCLE_GRACE_DAYS: i64 = 30;

/// Look at every network's expiry: warn its consortium at 30, 7 and 1 days, and put an
/// expired one in the recycle bin — its nodes stopped, their data kept, renewable by proposal.
pub async fn lifecycle(p: &Platform) -> Result<()> {
    let now = now_ms();
    let rows = sqlx::query(
        "SELECT id, consortium_id, name, expires_at FROM networks WHERE state IN ('running', 'ready') ORDER BY id",
    )
    .fetch_all(p.db().pool())
    .await?;
    for r in rows {
        let id: String = r.try_get("id")?;
        let consortium_id: String = r.try_get("consortium_id")?;
        let name: String = r.try_get("name")?;
        let expires_at: i64 = r.try_get("expires_at")?;
        if now >= expires_at {
            if let Err(e) = recycle(p, &consortium_id, &id).await {
                tracing::warn!(network = %id, error = %e, "moving an expired network to the recycle bin failed");
            }
            continue;
        }
        let days_left = (expires_at - now) / 86_400_000;
        let Some(due) = EXPIRY_WARNINGS
            .iter()
            .copied()
            .filter(|t| days_left < *t)
            .min()
        else {
            continue;
        };
        let given =
            sqlx::query("SELECT days FROM network_notices WHERE network_id = $1 AND days <= $2")
                .bind(&id)
                .bind(due)
                .fetch_optional(p.db().pool())
                .await?;
        if given.is_some() {
            continue;
        }
        let members = consortium::member_ids(p, &consortium_id).await?;
        let mut tx = p.db().write().await?;
        for t in EXPIRY_WARNINGS.iter().filter(|t| **t >= due) {
            sqlx::query(
                "INSERT INTO network_notices (network_id, days, sent_at) VALUES ($1, $2, $3) ON CONFLICT (network_id, days) DO NOTHING",
            )
            .bind(&id)
            .bind(t)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let notices = event::add_in(
            &mut tx,
            &members,
            &event::New {
                kind: "network.expiring",
                title: format!(
                    "Network {name} expires within {due} day{}: renew it by proposal, or it goes to the recycle bin",
                    if due == 1 { "" } else { "s" }
                ),
                subject_kind: "network",
                subject_id: &id,
                data: json!({"network_id": id, "expires_at": expires_at, "days_left": days_left}),
            },
        )
        .await?;
        tx.commit().await?;
        event::push(p, notices);
    }
    Ok(())
}

/// Put an expired network in the recycle bin: stop its nodes, keep their data.
async fn recycle(p: &Platform, consortium_id: &str, id: &str) -> Result<()> {
    let _guard = p.inner.deploy_lock.lock().await;
    let net = get_in(p, consortium_id, id).await?;
    if net.state != "running" && net.state != "ready" {
        return Ok(());
    }
    let running: Vec<NodeView> = net
        .nodes
        .iter()
        .filter(|n| n.state == "running")
        .cloned()
        .collect();
    stop(p, &running).await?;
    let now = now_ms();
    let n = sqlx::query(
        "UPDATE networks SET state = 'recycled', recycled_at = $1, version = version + 1 WHERE id = $2 AND state IN ('running', 'ready')",
    )
    .bind(now)
    .bind(id)
    .execute(p.db().pool())
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(());
    }
    let members = consortium::member_ids(p, consortium_id).await?;
    event::publish(
        p,
        &members,
        &event::New {
            kind: "network.recycled",
            title: format!(
                "Network {} expired: its nodes are stopped and their data kept in the recycle bin; renew it by proposal within {RECYCLE_GRACE_DAYS} days",
                net.name
            ),
            subject_kind: "network",
            subject_id: id,
            data: json!({"network_id": id, "recycled_at": now, "purge_after": now + RECYCLE_GRACE_DAYS * 86_400_000}),
        },
    )
    .await?;
    Ok(())
}

/// Check a chain plan before it is voted on.
pub async fn check_chain_plan(p: &Platform, consortium_id: &str, c: &ChainCreate) -> Result<()> {
    covenant_types::names::validate_chain_id(&c.chain_id)
        .map_err(|e| Error::invalid_as("CHAIN_ID_INVALID", e.to_string()))?;
    let exists = sqlx::query("SELECT id FROM chains WHERE id = $1")
        .bind(&c.chain_id)
        .fetch_optional(p.db().pool())
        .await?;
    if exists.is_some() {
        return Err(Error::conflict(
            "CHAIN_EXISTS",
            format!("a chain {} exists on this platform already", c.chain_id),
        ));
    }
    let net = get_in(p, consortium_id, &c.network_id).await?;
    if net.state == "deleted" {
        return Err(Error::conflict("NETWORK_DELETED", "the network is deleted"));
    }
    if net.nodes.iter().any(|n| n.external_dir.is_some()) {
        return Err(Error::conflict(
            "NETWORK_EXTERNAL",
            "the nodes of this network are run by `covenant up`, not by the platform; propose a new network for the chain",
        ));
    }
    if !covenant_types::config::CONSENSUS_KINDS.contains(&c.consensus.as_str()) {
        return Err(Error::invalid(format!(
            "consensus {:?} is not one of solo, raft, tbft",
            c.consensus
        )));
    }
    if c.orgs.is_empty() || c.orgs.len() > 32 {
        return Err(Error::invalid("a chain has 1 to 32 member orgs"));
    }
    let mut orgs = c.orgs.clone();
    orgs.sort();
    orgs.dedup();
    if orgs.len() != c.orgs.len() {
        return Err(Error::invalid("an org is named twice"));
    }
    let members = consortium::members(p, consortium_id).await?;
    let mut suite: Option<String> = None;
    for o in &c.orgs {
        if !members.iter().any(|m| &m.org_id == o) {
            return Err(Error::invalid_as(
                "NOT_A_MEMBER",
                format!("{o} is not a member of the consortium"),
            ));
        }
        let ov = org::get(p, o).await?;
        match &suite {
            None => suite = Some(ov.suite),
            Some(s) if *s != ov.suite => {
                return Err(Error::invalid_as(
                    "SUITE_MISMATCH",
                    format!(
                        "{o} uses the {} suite but other members use {s}; a chain has one suite",
                        ov.suite
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let nodes = chain_nodes_of(&net, c)?;
    if c.consensus == "solo" && nodes.len() != 1 {
        return Err(Error::invalid("solo consensus has exactly one node"));
    }
    for pol in &c.policies {
        if !covenant_types::config::resource::DEFAULTS
            .iter()
            .any(|(r, _)| *r == pol.resource)
        {
            return Err(Error::invalid_as(
                "POLICY_INVALID",
                format!("{} is not a governed resource of a chain", pol.resource),
            ));
        }
        pol.rule
            .parse::<covenant_types::policy::Rule>()
            .map_err(|e| Error::invalid_as("POLICY_INVALID", e.to_string()))?;
        for o in &pol.org_ids {
            if !c.orgs.contains(o) {
                return Err(Error::invalid_as(
                    "POLICY_INVALID",
                    format!(
                        "policy {} names {o}, which is not a member of the chain",
                        pol.resource
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn chain_nodes_of<'a>(net: &'a NetworkView, c: &ChainCreate) -> Result<Vec<&'a NodeView>> {
    let nodes: Vec<&NodeView> = if c.nodes.is_empty() {
        net.nodes
            .iter()
            .filter(|n| n.hosting != "org" && c.orgs.contains(&n.org_id))
            .collect()
    } else {
        let mut out = Vec::new();
        for want in &c.nodes {
            let n = net
                .nodes
                .iter()
                .find(|n| &n.id == want || &n.name == want)
                .ok_or_else(|| Error::invalid(format!("the network has no node {want}")))?;
            if n.hosting == "org" {
                return Err(Error::invalid(format!(
                    "node {} runs on its org's machine: add it to the chain once the chain runs (chain.add_node), then start it from its bundle",
                    n.name
                )));
            }
            if !c.orgs.contains(&n.org_id) {
                return Err(Error::invalid(format!(
                    "node {} belongs to {}, which is not a member of the chain",
                    n.name, n.org_id
                )));
            }
            out.push(n);
        }
        out
    };
    if nodes.is_empty() {
        return Err(Error::invalid(
            "the chain has no consensus node: no node of its orgs is in the network",
        ));
    }
    Ok(nodes)
}

/// Record a chain and deploy it in the background; returns the operation to poll.
pub async fn create_chain(
    p: &Platform,
    consortium_id: &str,
    c: &ChainCreate,
    org_id: &str,
) -> Result<String> {
    check_chain_plan(p, consortium_id, c).await?;
    let net = get_in(p, consortium_id, &c.network_id).await?;
    let nodes: Vec<NodeView> = chain_nodes_of(&net, c)?.into_iter().cloned().collect();
    let suite = org::get(p, &c.orgs[0]).await?.suite;
    let mut tx = p.db().write().await?;
    sqlx::query(
        "INSERT INTO chains (id, network_id, consortium_id, consensus, suite, state, created_at) VALUES ($1, $2, $3, $4, $5, 'deploying', $6)",
    )
    .bind(&c.chain_id)
    .bind(&c.network_id)
    .bind(consortium_id)
    .bind(&c.consensus)
    .bind(&suite)
    .bind(now_ms())
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            Error::conflict("CHAIN_EXISTS", format!("a chain {} exists already", c.chain_id))
        } else {
            e.into()
        }
    })?;
    for n in &nodes {
        sqlx::query(
            "INSERT INTO chain_nodes (chain_id, node_id, role) VALUES ($1, $2, 'consensus')",
        )
        .bind(&c.chain_id)
        .bind(&n.id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let op = operation::start(
        p,
        org_id,
        Some(consortium_id),
        "chain.create",
        &c.chain_id,
        4,
    )
    .await?;
    let (p2, op2, c2) = (p.clone(), op.clone(), c.clone());
    let suite2 = suite.clone();
    tokio::spawn(async move {
        let r = deploy_chain(&p2, &op2, &c2, &suite2, &nodes).await;
        let state = if r.is_ok() { "running" } else { "failed" };
        let _ = sqlx::query("UPDATE chains SET state = $1 WHERE id = $2")
            .bind(state)
            .bind(&c2.chain_id)
            .execute(p2.db().pool())
            .await;
        let _ = match r {
            Ok(v) => operation::succeed(&p2, &op2, &v).await,
            Err(e) => operation::fail(&p2, &op2, &e).await,
        };
    });
    Ok(op)
}

async fn deploy_chain(
    p: &Platform,
    op: &str,
    c: &ChainCreate,
    suite: &str,
    nodes: &[NodeView],
) -> Result<Value> {
    let _guard = p.inner.deploy_lock.lock().await;
    operation::progress(
        p,
        op,
        1,
        "building the genesis block from the member orgs' trust roots",
    )
    .await?;
    let suite: Suite = suite
        .parse()
        .map_err(|_| Error::internal("an org's suite is damaged"))?;
    let mut roots = Vec::new();
    for o in &c.orgs {
        let ov = org::get(p, o).await?;
        let cert = Certificate::from_pem(&ov.ca_certificate, "org CA")?;
        roots.push((o.clone(), cert.der().to_vec()));
    }
    let mut consensus_nodes = Vec::new();
    for n in nodes {
        let cert = Certificate::from_pem(&n.certificate, "node certificate")?;
        consensus_nodes.push(ConsensusNode {
            org_id: n.org_id.clone(),
            node_id: n.name.clone(),
            certificate: cert.der().to_vec(),
            address: n.peer_address.clone(),
        });
    }
    let mut config =
        default_chain_config(&c.chain_id, suite, &roots, consensus_nodes, &c.consensus);
    // Roots the orgs imported (a national CA's, say) sign for them from the genesis on.
    for o in &mut config.orgs {
        for pem in crate::certificate::trust_root::pems(p, &o.org_id)
            .await?
            .iter()
            .skip(1)
        {
            let cert = Certificate::from_pem(pem, "trust root")?;
            o.trust_roots.push(cert.der().to_vec());
        }
    }
    for pol in &c.policies {
        config.policies.retain(|e| e.resource != pol.resource);
        config.policies.push(PolicyEntry {
            resource: pol.resource.clone(),
            policy: Some(ChainRulePolicy {
                rule: pol.rule.clone(),
                org_ids: pol.org_ids.clone(),
                roles: vec!["admin".into()],
            }),
        });
    }
    use covenant_types::config::ChainConfigExt as _;
    config
        .validate()
        .map_err(|e| Error::invalid_as("CHAIN_CONFIG_INVALID", e.to_string()))?;
    let genesis = covenant_types::genesis::genesis_block(&config, covenant_types::tx::now_ms())
        .map_err(|e| Error::invalid_as("CHAIN_CONFIG_INVALID", e.to_string()))?;
    let network_id = nodes
        .first()
        .map(|n| n.network_id.clone())
        .unwrap_or_default();
    let dir = network_dir(p, &network_id);
    let genesis_path = dir.join("genesis").join(format!("{}.block", c.chain_id));
    write_file(&genesis_path, &genesis.encode(), PUBLIC_MODE)?;
    sqlx::query("UPDATE chains SET genesis_hash = $1 WHERE id = $2")
        .bind(genesis.hash.to_hex())
        .bind(&c.chain_id)
        .execute(p.db().pool())
        .await?;
    operation::progress(
        p,
        op,
        2,
        &format!("writing the files of {} nodes", nodes.len()),
    )
    .await?;
    for n in nodes {
        write_node(p, &n.id).await?;
    }
    operation::progress(p, op, 3, "starting the nodes").await?;
    restart(p, nodes).await?;
    operation::progress(p, op, 4, "waiting for every node to serve the chain").await?;
    let deadline = Instant::now() + Duration::from_secs(90);
    for n in nodes {
        wait_serving(n, &c.chain_id, deadline).await?;
    }
    Ok(json!({
        "chain_id": c.chain_id,
        "genesis_hash": genesis.hash.to_hex(),
        "nodes": nodes.iter().map(|n| json!({"name": n.name, "api_url": n.api_url})).collect::<Vec<_>>(),
    }))
}

fn write_file(path: &std::path::Path, bytes: &[u8], mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        files::create_private_dir(parent)
            .map_err(|e| Error::internal(format!("cannot create {}: {e}", parent.display())))?;
    }
    files::write_atomic(path, bytes, mode)
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))
}

/// The node `id` if `org_id` is a member of its network's consortium.
pub async fn node_for(p: &Platform, org_id: &str, id: &str) -> Result<NodeView> {
    let missing = || Error::not_found(format!("no node {id} your org can see"));
    let row = sqlx::query("SELECT * FROM nodes WHERE id = $1")
        .bind(id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(missing)?;
    let n = node_view(&row, node_chains(p, id).await?)?;
    get_for(p, org_id, &n.network_id)
        .await
        .map_err(|_| missing())?;
    Ok(n)
}

/// How much of a node's log is searched.
pub const LOG_WINDOW_BYTES: u64 = 4 * 1024 * 1024;

/// The last `lines` lines of the log of a node `org_id` runs, holding `search` (any case)
/// when given. Only the org running a node reads its log.
pub async fn node_log(
    p: &Platform,
    org_id: &str,
    id: &str,
    search: Option<&str>,
    lines: usize,
) -> Result<Vec<String>> {
    let n = node_for(p, org_id, id).await?;
    if n.org_id != org_id {
        return Err(Error::forbidden(
            "NODE_NOT_YOURS",
            format!("only {} reads the log of its node {}", n.org_id, n.name),
        ));
    }
    let path = node_dir(p, &n).join("node.log");
    let needle = search.map(str::to_lowercase).filter(|s| !s.is_empty());
    let text = tokio::task::spawn_blocking(move || {
        covenant_deploy::process::log_tail(&path, LOG_WINDOW_BYTES)
    })
    .await
    .map_err(|e| Error::internal(format!("reading the log failed: {e}")))?;
    let mut out: Vec<String> = text
        .lines()
        .rev()
        .filter(|l| {
            needle
                .as_ref()
                .is_none_or(|n| l.to_lowercase().contains(n.as_str()))
        })
        .take(lines.clamp(1, 2000))
        .map(str::to_string)
        .collect();
    out.reverse();
    Ok(out)
}

/// What can be done to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeAction {
    Stop,
    Start,
    Restart,
}

impl NodeAction {
    pub fn parse(s: &str) -> Result<NodeAction> {
        Ok(match s {
            "stop" => NodeAction::Stop,
            "start" => NodeAction::Start,
            "restart" => NodeAction::Restart,
            other => {
                return Err(Error::invalid(format!(
                    "{other:?} is not one of stop, start, restart"
                )));
            }
        })
    }
}

/// Stop, start or restart a node `org_id` runs; answers the node as it is afterwards.
pub async fn control(p: &Platform, org_id: &str, id: &str, action: NodeAction) -> Result<NodeView> {
    let n = node_for(p, org_id, id).await?;
    if n.org_id != org_id {
        return Err(Error::forbidden(
            "NODE_NOT_YOURS",
            format!("only {} stops and starts its node {}", n.org_id, n.name),
        ));
    }
    if n.hosting == "org" {
        return Err(Error::conflict(
            "NODE_SELF_HOSTED",
            format!(
                "node {} runs on {}'s own machine: stop and start it there",
                n.name, n.org_id
            ),
        ));
    }
    if n.state == "created" {
        return Err(Error::conflict(
            "NODE_NOT_DEPLOYED",
            format!(
                "node {} has no chain yet; it starts with its first chain",
                n.name
            ),
        ));
    }
    let net = sqlx::query("SELECT state FROM networks WHERE id = $1")
        .bind(&n.network_id)
        .fetch_one(p.db().pool())
        .await?;
    let net_state: String = net.try_get("state")?;
    if action != NodeAction::Stop && net_state == "deleted" {
        return Err(Error::conflict(
            "NETWORK_DELETED",
            "the node's network is deleted; it does not start again",
        ));
    }
    if net_state == "purged" {
        return Err(Error::conflict(
            "NETWORK_PURGED",
            "the node's network is purged; the node's data is gone",
        ));
    }
    if action != NodeAction::Stop && net_state == "recycled" {
        return Err(Error::conflict(
            "NETWORK_RECYCLED",
            "the node's network expired and is in the recycle bin; renew it by proposal to start its nodes again",
        ));
    }
    {
        let _guard = p.inner.deploy_lock.lock().await;
        match action {
            NodeAction::Stop => stop(p, std::slice::from_ref(&n)).await?,
            NodeAction::Start | NodeAction::Restart => {
                restart(p, std::slice::from_ref(&n)).await?;
                sqlx::query("UPDATE nodes SET status = 'unknown' WHERE id = $1")
                    .bind(&n.id)
                    .execute(p.db().pool())
                    .await?;
            }
        }
    }
    node_for(p, org_id, id).await
}

pub(crate) fn node_dir(p: &Platform, n: &NodeView) -> PathBuf {
    n.external_dir
        .clone()
        .unwrap_or_else(|| network_dir(p, &n.network_id).join(&n.name))
}

/// The TBFT timeouts of every node of a platform's networks (the nodes their orgs run get them
/// in their bundles).
pub const TBFT_TIMEOUTS: TbftSection = TbftSection {
    propose_ms: 1500,
    vote_ms: 500,
    per_round_ms: 250,
};

/// Write a node's certificate, key and `node.toml` with every chain it hosts.
pub(crate) async fn write_node(p: &Platform, node_id: &str) -> Result<()> {
    let n = node(p, node_id).await?;
    let row = sqlx::query("SELECT key_sealed, settings FROM nodes WHERE id = $1")
        .bind(node_id)
        .fetch_one(p.db().pool())
        .await?;
    let sealed: String = row.try_get("key_sealed")?;
    let settings = crate::node_settings::NodeSettings::from_row(
        row.try_get::<Option<String>, _>("settings")?.as_deref(),
    );
    let key = p.vault().open(&format!("node:{node_id}"), &sealed)?;
    let dir = node_dir(p, &n);
    write_file(&dir.join("key.pem"), &key, PRIVATE_MODE)?;
    write_file(&dir.join("cert.pem"), n.certificate.as_bytes(), PUBLIC_MODE)?;
    let mut chains = Vec::new();
    for chain in &n.chains {
        chains.push(ChainSection {
            id: chain.clone(),
            genesis: PathBuf::from("../genesis").join(format!("{chain}.block")),
            verify_blocks: settings.verify_blocks.unwrap_or(100),
            pool_max_txs: settings.pool_max_txs,
        });
    }
    let toml = NodeToml {
        node: NodeSection {
            name: n.name.clone(),
            data_dir: "data".into(),
            api_listen: n.api_url.trim_start_matches("http://").to_string(),
            grpc_listen: Some(n.grpc_address.clone()),
            cert: "cert.pem".into(),
            key: "key.pem".into(),
            peer_listen: Some(n.peer_address.clone()),
            peer_source: None,
            log: settings.log_level.clone(),
        },
        chains,
        tbft: Some(TBFT_TIMEOUTS),
    };
    let text = toml
        .to_toml()
        .map_err(|e| Error::internal(format!("cannot write a node config: {e}")))?;
    write_file(&dir.join("node.toml"), text.as_bytes(), PUBLIC_MODE)
}

/// Stop the nodes that run and start them all again (a node learns new chains at start).
pub(crate) async fn restart(p: &Platform, nodes: &[NodeView]) -> Result<()> {
    let dirs: Vec<(String, PathBuf)> = nodes
        .iter()
        .map(|n| (n.name.clone(), node_dir(p, n)))
        .collect();
    let exe = p.config().node_exe.clone();
    let started = tokio::task::spawn_blocking(move || -> Result<Vec<(String, u32)>> {
        process::stop_nodes(&dirs, Duration::from_secs(20), &|line| {
            tracing::info!("{line}")
        });
        let mut out = Vec::new();
        for (name, dir) in &dirs {
            let pid = process::start_detached(&exe, dir)
                .map_err(|e| Error::unavailable("NODE_START_FAILED", format!("{name}: {e}")))?;
            out.push((name.clone(), pid));
        }
        Ok(out)
    })
    .await
    .map_err(|e| Error::internal(format!("the deploy task failed: {e}")))??;
    for (name, pid) in started {
        sqlx::query(
            "UPDATE nodes SET state = 'running', pid = $1, last_error = NULL WHERE name = $2",
        )
        .bind(i64::from(pid))
        .bind(&name)
        .execute(p.db().pool())
        .await?;
    }
    let ids: Vec<String> = nodes.iter().map(|n| n.network_id.clone()).collect();
    for id in ids {
        sqlx::query("UPDATE networks SET state = 'running' WHERE id = $1 AND state = 'ready'")
            .bind(id)
            .execute(p.db().pool())
            .await?;
    }
    Ok(())
}

async fn wait_serving(n: &NodeView, chain: &str, deadline: Instant) -> Result<()> {
    let client = Client::new(&n.api_url, chain).map_err(node_error)?;
    loop {
        match client.info().await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(Error::unavailable(
                    "NODE_NOT_SERVING",
                    format!("node {} does not serve chain {chain}: {e}", n.name),
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Add `chain` to a node that was just made a member of it on chain (`role` `consensus` or
/// `sync`), and restart it; a node its org runs is only recorded (its org starts it from a
/// bundle).
pub async fn join_chain(
    p: &Platform,
    chain: &str,
    node_id: &str,
    org_id: &str,
    role: &str,
) -> Result<String> {
    let n = node(p, node_id).await?;
    let c = sqlx::query("SELECT consortium_id FROM chains WHERE id = $1")
        .bind(chain)
        .fetch_one(p.db().pool())
        .await?;
    let consortium_id: String = c.try_get("consortium_id")?;
    sqlx::query("INSERT INTO chain_nodes (chain_id, node_id, role) VALUES ($1, $2, $3) ON CONFLICT (chain_id, node_id) DO NOTHING")
        .bind(chain)
        .bind(&n.id)
        .bind(role)
        .execute(p.db().pool())
        .await?;
    if n.hosting == "org" {
        let op = operation::start(
            p,
            org_id,
            Some(&consortium_id),
            "chain.add_node",
            &n.name,
            1,
        )
        .await?;
        operation::succeed(
            p,
            &op,
            &json!({
                "node": n.name,
                "chain_id": chain,
                "role": role,
                "bundle": format!("/api/v1/nodes/{}/bundle", n.id),
                "next": "the node's org downloads its bundle and starts it with `covenant node start --bundle`",
            }),
        )
        .await?;
        return Ok(op);
    }
    let op = operation::start(
        p,
        org_id,
        Some(&consortium_id),
        "chain.add_node",
        &n.name,
        2,
    )
    .await?;
    let (p2, op2, chain2) = (p.clone(), op.clone(), chain.to_string());
    tokio::spawn(async move {
        let r = async {
            let _guard = p2.inner.deploy_lock.lock().await;
            operation::progress(
                &p2,
                &op2,
                1,
                &format!("restarting {} with chain {chain2}", n.name),
            )
            .await?;
            write_node(&p2, &n.id).await?;
            let fresh = node(&p2, &n.id).await?;
            restart(&p2, std::slice::from_ref(&fresh)).await?;
            operation::progress(&p2, &op2, 2, "waiting for the node to serve the chain").await?;
            wait_serving(&fresh, &chain2, Instant::now() + Duration::from_secs(90)).await?;
            Ok::<Value, Error>(json!({"node": fresh.name, "chain_id": chain2}))
        }
        .await;
        let _ = match r {
            Ok(v) => operation::succeed(&p2, &op2, &v).await,
            Err(e) => operation::fail(&p2, &op2, &e).await,
        };
    });
    Ok(op)
}

/// A sync node of `chain` became a consensus node.
pub async fn promoted(p: &Platform, chain: &str, node_id: &str) -> Result<()> {
    let n = node(p, node_id).await?;
    sqlx::query("UPDATE chain_nodes SET role = 'consensus' WHERE chain_id = $1 AND node_id = $2")
        .bind(chain)
        .bind(&n.id)
        .execute(p.db().pool())
        .await?;
    Ok(())
}

/// The chain dropped a node: it stops hosting the chain.
pub async fn leave_chain(p: &Platform, chain: &str, node_id: &str) -> Result<()> {
    let n = node(p, node_id).await?;
    sqlx::query("DELETE FROM chain_nodes WHERE chain_id = $1 AND node_id = $2")
        .bind(chain)
        .bind(&n.id)
        .execute(p.db().pool())
        .await?;
    if n.hosting == "org" {
        return Ok(());
    }
    let fresh = node(p, &n.id).await?;
    let _guard = p.inner.deploy_lock.lock().await;
    if fresh.chains.is_empty() {
        stop(p, std::slice::from_ref(&fresh)).await?;
    } else {
        write_node(p, &n.id).await?;
        restart(p, std::slice::from_ref(&fresh)).await?;
    }
    Ok(())
}

/// The certificate a node is being renewed to, until every chain it is on lists it.
pub async fn pending_certificate(p: &Platform, node_id: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT pending_cert_pem FROM nodes WHERE id = $1")
        .bind(node_id)
        .fetch_optional(p.db().pool())
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<Option<String>, _>("pending_cert_pem")?,
        None => None,
    })
}

/// Keep `pem` as the certificate `node_id` is being renewed to.
pub(crate) async fn set_pending_certificate(p: &Platform, node_id: &str, pem: &str) -> Result<()> {
    sqlx::query("UPDATE nodes SET pending_cert_pem = $1 WHERE id = $2")
        .bind(pem)
        .bind(node_id)
        .execute(p.db().pool())
        .await?;
    Ok(())
}

/// Whether `chain`'s config, as a node of it serves it now, lists `cert` for the node named
/// `name`.
async fn chain_lists(p: &Platform, chain: &str, name: &str, cert: &Certificate) -> Result<bool> {
    let config = chain_client(p, chain)
        .await?
        .config()
        .await
        .map_err(node_error)?;
    let k = &config["consensus"];
    Ok(k["nodes"]
        .as_array()
        .into_iter()
        .chain(k["sync_nodes"].as_array())
        .flatten()
        .filter(|n| n["node_id"] == name)
        .filter_map(|n| n["certificate"].as_str())
        .filter_map(|pem| Certificate::from_pem(pem, "node certificate").ok())
        .any(|c| c.der() == cert.der()))
}

/// A chain took a node's renewed certificate (`chain.renew_node` passed). Once every chain the
/// node is on lists the new certificate, the node switches to it: the platform restarts a node
/// it runs with it; an org running its node on its own machine is told to fetch it. Until then
/// the node keeps running with the old one. Answers what happened.
pub async fn renewed_on(p: &Platform, node_id: &str) -> Result<Value> {
    let n = node(p, node_id).await?;
    let Some(pem) = pending_certificate(p, &n.id).await? else {
        return Ok(json!({"switched": false, "waiting_for": []}));
    };
    let new = Certificate::from_pem(&pem, "renewed node certificate")?;
    let mut waiting = Vec::new();
    for chain in &n.chains {
        if !chain_lists(p, chain, &n.name, &new).await? {
            waiting.push(chain.clone());
        }
    }
    if !waiting.is_empty() {
        return Ok(json!({"switched": false, "waiting_for": waiting}));
    }
    switch_certificate(p, &n, &pem).await?;
    Ok(json!({"switched": true, "fingerprint": new.fingerprint()}))
}

/// Make `pem` the node's certificate; a running node the platform runs restarts with it.
pub(crate) async fn switch_certificate(p: &Platform, n: &NodeView, pem: &str) -> Result<()> {
    let _guard = p.inner.deploy_lock.lock().await;
    let changed = sqlx::query(
        "UPDATE nodes SET cert_pem = $1, pending_cert_pem = NULL WHERE id = $2 AND pending_cert_pem = $1",
    )
    .bind(pem)
    .bind(&n.id)
    .execute(p.db().pool())
    .await?
    .rows_affected();
    if changed == 0 {
        // Another chain's proposal switched it already.
        return Ok(());
    }
    let fresh = node(p, &n.id).await?;
    let title = if fresh.hosting == "org" {
        format!(
            "Every chain of node {} lists its renewed certificate: download its bundle and restart it with the new certificate",
            n.name
        )
    } else {
        format!("Node {} runs with its renewed certificate now", n.name)
    };
    if fresh.hosting != "org" {
        write_node(p, &n.id).await?;
        if fresh.state == "running" {
            restart(p, std::slice::from_ref(&fresh)).await?;
        }
    }
    let fp = Certificate::from_pem(pem, "node certificate")?.fingerprint();
    event::publish(
        p,
        std::slice::from_ref(&n.org_id),
        &event::New {
            kind: "node.renewed",
            title,
            subject_kind: "node",
            subject_id: &n.id,
            data: json!({"node": n.name, "fingerprint": fp, "chains": n.chains}),
        },
    )
    .await?;
    Ok(())
}

async fn stop(p: &Platform, nodes: &[NodeView]) -> Result<()> {
    // Nodes their orgs run on their own machines are theirs to stop.
    let nodes: Vec<&NodeView> = nodes.iter().filter(|n| n.hosting != "org").collect();
    let dirs: Vec<(String, PathBuf)> = nodes
        .iter()
        .map(|n| (n.name.clone(), node_dir(p, n)))
        .collect();
    tokio::task::spawn_blocking(move || {
        process::stop_nodes(&dirs, Duration::from_secs(20), &|line| {
            tracing::info!("{line}")
        })
    })
    .await
    .map_err(|e| Error::internal(format!("the stop task failed: {e}")))?;
    for n in nodes {
        sqlx::query(
            "UPDATE nodes SET state = 'stopped', pid = NULL, status = 'down' WHERE id = $1",
        )
        .bind(&n.id)
        .execute(p.db().pool())
        .await?;
    }
    Ok(())
}

/// Stop every node of a network and mark it deleted (its files stay until removed by hand);
/// returns the operation.
pub async fn delete(p: &Platform, consortium_id: &str, id: &str, org_id: &str) -> Result<String> {
    let net = get_in(p, consortium_id, id).await?;
    let op = operation::start(p, org_id, Some(consortium_id), "network.delete", id, 1).await?;
    let (p2, op2) = (p.clone(), op.clone());
    tokio::spawn(async move {
        let r = async {
            let _guard = p2.inner.deploy_lock.lock().await;
            operation::progress(&p2, &op2, 1, &format!("stopping {} nodes", net.nodes.len()))
                .await?;
            stop(&p2, &net.nodes).await?;
            sqlx::query(
                "UPDATE networks SET state = 'deleted', version = version + 1 WHERE id = $1",
            )
            .bind(&net.id)
            .execute(p2.db().pool())
            .await?;
            Ok::<Value, Error>(json!({"network_id": net.id}))
        }
        .await;
        let _ = match r {
            Ok(v) => operation::succeed(&p2, &op2, &v).await,
            Err(e) => operation::fail(&p2, &op2, &e).await,
        };
    });
    Ok(op)
}

/// Stop every node the platform runs (when it shuts down with `--stop-nodes`, or in tests).
pub async fn stop_all(p: &Platform) -> Result<usize> {
    let rows = sqlx::query("SELECT id FROM nodes WHERE state = 'running'")
        .fetch_all(p.db().pool())
        .await?;
    let mut nodes = Vec::new();
    for r in rows {
        nodes.push(node(p, &r.try_get::<String, _>("id")?).await?);
    }
    stop(p, &nodes).await?;
    Ok(nodes.len())
}

fn chain_view(r: &AnyRow, nodes: Vec<Value>) -> Result<ChainView> {
    Ok(ChainView {
        id: r.try_get("id")?,
        network_id: r.try_get("network_id")?,
        consortium_id: r.try_get("consortium_id")?,
        consensus: r.try_get("consensus")?,
        suite: r.try_get("suite")?,
        state: r.try_get("state")?,
        genesis_hash: r.try_get("genesis_hash")?,
        nodes,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) async fn chain_row(p: &Platform, id: &str) -> Result<ChainView> {
    let row = sqlx::query("SELECT * FROM chains WHERE id = $1")
        .bind(id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no chain {id}")))?;
    let nodes = sqlx::query(
        "SELECT n.id, n.name, n.org_id, n.api_port, n.host, n.hosting, c.role FROM chain_nodes c JOIN nodes n ON n.id = c.node_id WHERE c.chain_id = $1 ORDER BY CASE WHEN n.hosting = 'platform' THEN 0 ELSE 1 END, n.name",
    )
    .bind(id)
    .fetch_all(p.db().pool())
    .await?
    .iter()
    .map(|n| {
        Ok(json!({
            "node_id": n.try_get::<String, _>("id")?,
            "name": n.try_get::<String, _>("name")?,
            "org_id": n.try_get::<String, _>("org_id")?,
            "api_url": format!(
                "http://{}:{}",
                n.try_get::<Option<String>, _>("host")?
                    .unwrap_or_else(|| "127.0.0.1".into()),
                n.try_get::<i64, _>("api_port")?
            ),
            "role": n.try_get::<String, _>("role")?,
            "hosting": n.try_get::<String, _>("hosting")?,
        }))
    })
    .collect::<Result<Vec<_>>>()?;
    chain_view(&row, nodes)
}

/// The chain `id` of `consortium_id`.
pub async fn chain_in(p: &Platform, consortium_id: &str, id: &str) -> Result<ChainView> {
    let c = chain_row(p, id).await?;
    if c.consortium_id != consortium_id {
        return Err(Error::not_found(format!(
            "no chain {id} in this consortium"
        )));
    }
    Ok(c)
}

/// The chain `id` if `org_id` belongs to its consortium.
pub async fn chain_for(p: &Platform, org_id: &str, id: &str) -> Result<ChainView> {
    let missing = || Error::not_found(format!("no chain {id} your org can see"));
    let c = chain_row(p, id).await.map_err(|_| missing())?;
    if !consortium::is_member(p, &c.consortium_id, org_id).await? {
        return Err(missing());
    }
    Ok(c)
}

/// Chains of the consortia `org_id` belongs to.
pub async fn chains_for(p: &Platform, org_id: &str) -> Result<Vec<ChainView>> {
    let rows = sqlx::query(
        "SELECT c.id FROM chains c JOIN consortium_members m ON m.consortium_id = c.consortium_id AND m.org_id = $1 ORDER BY c.id",
    )
    .bind(org_id)
    .fetch_all(p.db().pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push(chain_row(p, &r.try_get::<String, _>("id")?).await?);
    }
    Ok(out)
}

/// A client of a node serving `chain` (the first that answers).
pub async fn chain_client(p: &Platform, chain: &str) -> Result<Client> {
    let c = chain_row(p, chain).await?;
    let mut last = None;
    for n in &c.nodes {
        let url = n["api_url"].as_str().unwrap_or_default();
        let client = Client::new(url, chain).map_err(node_error)?;
        match client.info().await {
            Ok(_) => return Ok(client),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => node_error(e),
        None => Error::unavailable(
            "CHAIN_NOT_DEPLOYED",
            format!("no node serves chain {chain}"),
        ),
    })
}

/// A node's failure as a platform error.
pub fn node_error(e: ClientError) -> Error {
    match e {
        ClientError::Api { code, message, .. } => Error::unavailable(
            "NODE_REFUSED",
            format!("the node answered {code}: {message}"),
        ),
        other => Error::unavailable("NODE_UNAVAILABLE", other.to_string()),
    }
}

/// What the chain itself reports: its info, config and contracts (read from a node).
pub async fn live(p: &Platform, chain: &str) -> Result<Value> {
    let client = chain_client(p, chain).await?;
    let info = client.info().await.map_err(node_error)?;
    let config = client.config().await.map_err(node_error)?;
    let contracts = client.contracts().await.map_err(node_error)?;
    Ok(json!({
        "height": info.height,
        "last_hash": info.last_hash,
        "config_version": info.config_version,
        "consensus": info.consensus,
        "suite": info.suite,
        "genesis_hash": info.genesis_hash,
        "members": config["orgs"].as_array().map(|o| o.iter().map(|x| x["org_id"].clone()).collect::<Vec<_>>()).unwrap_or_default(),
        "consensus_nodes": config["consensus"]["nodes"].as_array().map(|o| o.iter().map(|x| json!({"node_id": x["node_id"], "org_id": x["org_id"], "address": x["address"]})).collect::<Vec<_>>()).unwrap_or_default(),
        "sync_nodes": config["consensus"]["sync_nodes"].as_array().map(|o| o.iter().map(|x| json!({"node_id": x["node_id"], "org_id": x["org_id"], "address": x["address"]})).collect::<Vec<_>>()).unwrap_or_default(),
        "policies": config["policies"],
        "contracts": contracts,
        "served_by": client.endpoint(),
    }))
}

/// Look at every running node once: status, heights, peers; and keep a sample of its
/// metrics when one is due ([`crate::monitor::sample`]).
pub async fn refresh_status(p: &Platform) -> Result<()> {
    let rows = sqlx::query("SELECT id FROM nodes WHERE state IN ('running', 'remote')")
        .fetch_all(p.db().pool())
        .await?;
    let http = &p.inner.poll_http;
    for r in rows {
        let n = node(p, &r.try_get::<String, _>("id")?).await?;
        let mut heights = BTreeMap::new();
        let mut peers = 0i64;
        let mut round: Option<i64> = None;
        let mut error = None;
        for chain in &n.chains {
            let client = Client::with_http(http.clone(), &n.api_url, chain);
            match client.info().await {
                Ok(info) => {
                    heights.insert(chain.clone(), info.height);
                    let count = match &info.engine["peers"] {
                        Value::Array(a) => a.len() as i64,
                        Value::Number(x) => x.as_i64().unwrap_or(0),
                        _ => 0,
                    };
                    peers = peers.max(count);
                    if let Some(r) = info.engine["round"].as_i64() {
                        round = Some(round.map_or(r, |x| x.max(r)));
                    }
                }
                Err(e) => error = Some(e.to_string()),
            }
        }
        let up = !heights.is_empty();
        if crate::monitor::sample::due(p, &n.id).await? {
            let reading = crate::monitor::sample::Reading {
                up,
                height: heights.values().copied().max().unwrap_or(0),
                peers,
                round,
                metrics: if up {
                    crate::monitor::sample::scrape(http, &n.api_url).await
                } else {
                    None
                },
            };
            crate::monitor::sample::record(p, &n.id, &reading).await?;
        }
        sqlx::query(
            "UPDATE nodes SET status = $1, heights = $2, peers = $3, last_seen_at = CASE WHEN $4 = 1 THEN $5 ELSE last_seen_at END, last_error = $6 WHERE id = $7",
        )
        .bind(if up { "up" } else { "down" })
        .bind(serde_json::to_string(&heights).unwrap_or_else(|_| "{}".into()))
        .bind(peers)
        .bind(i64::from(up))
        .bind(now_ms())
        .bind(error)
        .bind(&n.id)
        .execute(p.db().pool())
        .await?;
    }
    Ok(())
}
