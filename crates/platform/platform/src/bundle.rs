//! More nodes for a network, run by the platform or by their org on its own machine.
//!
//! A node the platform runs gets its key (sealed), certificate and ports here and starts with
//! the first chain it joins. A node an org runs itself — a member whose machines are not the
//! platform's — is registered with a CSR made where the key stays (`covenant ca csr`) and the
//! address its peers reach it at; the org's CA certifies it as a node. Once a `chain.add_node`
//! proposal makes it a node of a chain, its org downloads a *bundle* — the node's certificate,
//! addresses and the genesis block of every chain it is a node of — and starts it on its
//! machine with `covenant node start --bundle FILE --key KEY --dir DIR`. The node syncs from
//! the chain's other nodes (their addresses are in the chain's configuration); the platform
//! watches it at the API address it was given.

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::{
    Platform, ca, consortium,
    error::{Error, Result},
    event,
    network::{self, NodeView},
    org,
    time::{new_id, now_ms},
};

/// What adding a node asks for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNode {
    /// `platform` (default) or `org`.
    #[serde(default)]
    pub hosting: Option<String>,
    /// The node's name (its id on chains); made up when not given.
    #[serde(default)]
    pub name: Option<String>,
    /// For `org`: the CSR of the node's key (PEM), its common name the node's name.
    #[serde(default)]
    pub csr: Option<String>,
    /// For `org`: the IP address or DNS name its peers and the platform reach it at.
    #[serde(default)]
    pub host: Option<String>,
    /// For `org`: ports of its REST API, gRPC API and node-to-node links.
    #[serde(default)]
    pub api_port: Option<u16>,
    #[serde(default)]
    pub grpc_port: Option<u16>,
    #[serde(default)]
    pub peer_port: Option<u16>,
}

/// Bundle format name and version.
pub const BUNDLE_FORMAT: &str = "covenant-node-bundle/1";

fn check_host(host: &str) -> Result<()> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        && host.parse::<covenant_pki::Host>().is_ok();
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_as(
            "NODE_HOST_INVALID",
            format!("{host:?} is not an IP address or DNS name"),
        ))
    }
}

fn port(v: Option<u16>, what: &str) -> Result<u16> {
    match v {
        Some(p) if p > 0 => Ok(p),
        _ => Err(Error::invalid_as(
            "NODE_PORT_INVALID",
            format!("a node its org runs needs {what} (1 to 65535)"),
        )),
    }
}

/// Add a node of `org_id` to network `network_id`.
pub async fn add_node(
    p: &Platform,
    org_id: &str,
    network_id: &str,
    n: &NewNode,
) -> Result<NodeView> {
    let net = network::get_for(p, org_id, network_id).await?;
    if !matches!(net.state.as_str(), "ready" | "running") {
        return Err(Error::conflict(
            "NETWORK_NOT_RUNNING",
            format!(
                "network {} is {}; nodes are added to a running network",
                net.name, net.state
            ),
        ));
    }
    let hosting = n.hosting.as_deref().unwrap_or("platform");
    let node_id = new_id("node")?;
    let name = match &n.name {
        Some(name) => name.clone(),
        None => format!("{org_id}-{}", &node_id[5..13]),
    };
    org::check_identity_name(&name)?;
    let taken = sqlx::query("SELECT id FROM nodes WHERE name = $1")
        .bind(&name)
        .fetch_optional(p.db().pool())
        .await?;
    if taken.is_some() {
        return Err(Error::conflict(
            "NODE_EXISTS",
            format!("a node named {name} exists already"),
        ));
    }
    let org_ca = org::ca(p, org_id).await?;
    let now = now_ms();
    let (cert, sealed, host, ports, state) = match hosting {
        "platform" => {
            if n.csr.is_some()
                || n.host.is_some()
                || n.api_port.is_some()
                || n.peer_port.is_some()
                || n.grpc_port.is_some()
            {
                return Err(Error::invalid_as(
                    "NODE_PARAMS_INVALID",
                    "the platform chooses the key, address and ports of a node it runs; csr, host and ports are for hosting \"org\"",
                ));
            }
            let hosts = network::node_hosts(p);
            let (cert, key) = org_ca.issue(
                org_id,
                covenant_pki::Role::Node,
                &name,
                hosts,
                ca::LEAF_DAYS,
            )?;
            let sealed = p
                .vault()
                .seal(&format!("node:{node_id}"), key.to_pkcs8_pem()?.as_bytes())?;
            let ports = network::next_ports(p, &mut Vec::new()).await?;
            (cert, sealed, p.config().node_host.clone(), ports, "created")
        }
        "org" => {
            let pem = n.csr.as_deref().ok_or_else(|| {
                Error::invalid_as(
                    "CSR_MISSING",
                    "a node its org runs is certified from a CSR of its key (covenant ca csr); the key stays on the org's machine",
                )
            })?;
            let csr = covenant_pki::Csr::from_pem(pem, "CSR")
                .map_err(|e| Error::invalid_as("CSR_INVALID", e.to_string()))?;
            let public_key = csr
                .verify()
                .map_err(|e| Error::invalid_as("CSR_INVALID", e.to_string()))?;
            if csr.common_name().as_deref() != Some(name.as_str()) {
                return Err(Error::invalid_as(
                    "CSR_INVALID",
                    format!("the CSR's common name is not the node's name {name:?}"),
                ));
            }
            let host = n.host.clone().ok_or_else(|| {
                Error::invalid_as(
                    "NODE_HOST_INVALID",
                    "a node its org runs needs the host its peers reach it at",
                )
            })?;
            check_host(&host)?;
            let api = port(n.api_port, "api_port")?;
            let peer = port(n.peer_port, "peer_port")?;
            let grpc = port(n.grpc_port.or(Some(api.saturating_add(1))), "grpc_port")?;
            if api == peer || api == grpc || peer == grpc {
                return Err(Error::invalid_as(
                    "NODE_PORT_INVALID",
                    "the API, gRPC and peer ports must differ",
                ));
            }
            let hosts = host.parse().into_iter().collect();
            let cert = org_ca.certify(
                org_id,
                covenant_pki::Role::Node,
                &name,
                &public_key,
                hosts,
                ca::LEAF_DAYS,
            )?;
            (cert, String::new(), host, (api, grpc, peer), "remote")
        }
        other => {
            return Err(Error::invalid_as(
                "NODE_HOSTING_INVALID",
                format!("a node is hosted by the platform or by its org, not {other:?}"),
            ));
        }
    };
    let (api, grpc, peer) = ports;
    let mut tx = p.db().write().await?;
    sqlx::query(
        "INSERT INTO nodes (id, network_id, org_id, name, api_port, grpc_port, peer_port, cert_pem, key_sealed, state, status, heights, created_at, host, hosting)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'unknown', '{}', $11, $12, $13)",
    )
    .bind(&node_id)
    .bind(&net.id)
    .bind(org_id)
    .bind(&name)
    .bind(i64::from(api))
    .bind(i64::from(grpc))
    .bind(i64::from(peer))
    .bind(cert.to_pem())
    .bind(&sealed)
    .bind(state)
    .bind(now)
    .bind(&host)
    .bind(hosting)
    .execute(&mut *tx)
    .await?;
    let members = consortium::member_ids_in(&mut tx, &net.consortium_id).await?;
    let notices = event::add_in(
        &mut tx,
        &members,
        &event::New {
            kind: "network.node_added",
            title: format!(
                "{org_id} added node {name} to network {}{}",
                net.name,
                if hosting == "org" {
                    ", run on its own machine"
                } else {
                    ""
                }
            ),
            subject_kind: "node",
            subject_id: &node_id,
            data: json!({"network_id": net.id, "node": name, "hosting": hosting}),
        },
    )
    .await?;
    tx.commit().await?;
    event::push(p, notices);
    network::node(p, &node_id).await
}

/// The bundle its org starts a node it runs with: the node's certificate and addresses and
/// the genesis block of every chain it is a node of.
pub async fn bundle(p: &Platform, org_id: &str, node_id: &str) -> Result<Value> {
    let n = network::node_for(p, org_id, node_id).await?;
    if n.org_id != org_id {
        return Err(Error::forbidden(
            "NODE_NOT_YOURS",
            format!(
                "only {} downloads the bundle of its node {}",
                n.org_id, n.name
            ),
        ));
    }
    if n.hosting != "org" {
        return Err(Error::conflict(
            "NODE_PLATFORM_HOSTED",
            format!(
                "the platform runs node {}; a bundle is for a node its org runs",
                n.name
            ),
        ));
    }
    if n.chains.is_empty() {
        return Err(Error::conflict(
            "NODE_HAS_NO_CHAINS",
            format!(
                "node {} is a node of no chain yet: propose chain.add_node first, then download its bundle",
                n.name
            ),
        ));
    }
    let row = sqlx::query("SELECT host, api_port, grpc_port, peer_port FROM nodes WHERE id = $1")
        .bind(&n.id)
        .fetch_one(p.db().pool())
        .await?;
    let mut chains = Vec::new();
    for chain in &n.chains {
        let path = network::network_dir(p, &n.network_id)
            .join("genesis")
            .join(format!("{chain}.block"));
        let bytes = std::fs::read(&path).map_err(|e| {
            Error::unavailable(
                "GENESIS_MISSING",
                format!("the genesis block of chain {chain} is not readable: {e}"),
            )
        })?;
        let c = network::chain_row(p, chain).await?;
        let peers: Vec<Value> = c
            .nodes
            .iter()
            .filter(|x| x["node_id"] != n.id.as_str())
            .map(|x| json!({"name": x["name"], "org_id": x["org_id"], "role": x["role"]}))
            .collect();
        chains.push(json!({
            "id": chain,
            "genesis": covenant_api_types::json::b64_encode(&bytes),
            "genesis_hash": c.genesis_hash,
            "consensus": c.consensus,
            "suite": c.suite,
            "nodes": peers,
        }));
    }
    Ok(json!({
        "format": BUNDLE_FORMAT,
        "node": {
            "id": n.id,
            "name": n.name,
            "org_id": n.org_id,
            "network_id": n.network_id,
            "certificate": n.certificate,
            "host": row.try_get::<Option<String>, _>("host")?,
            "api_port": row.try_get::<i64, _>("api_port")?,
            "grpc_port": row.try_get::<i64, _>("grpc_port")?,
            "peer_port": row.try_get::<i64, _>("peer_port")?,
        },
        "chains": chains,
        "tbft": {
            "propose_ms": network::TBFT_TIMEOUTS.propose_ms,
            "vote_ms": network::TBFT_TIMEOUTS.vote_ms,
            "per_round_ms": network::TBFT_TIMEOUTS.per_round_ms,
        },
        "created_at": now_ms(),
    }))
}
