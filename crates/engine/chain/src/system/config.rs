//! `sys.config`: read the chain config; change it by policy (`config.update`).

use covenant_pki::Certificate;
use covenant_types::{
    ChainConfig, ConsensusNode, Org, Policy, PolicyEntry,
    config::{ChainConfigExt, resource},
};
use prost::Message;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{SysCtx, SysError, cert_from_text, unknown_method};
use crate::identity::keys;

/// The config as JSON (certificates as PEM).
pub fn to_json(c: &ChainConfig) -> Value {
    let pem = |der: &Vec<u8>| {
        Certificate::from_der(der.clone(), "certificate")
            .map(|c| c.to_pem())
            .unwrap_or_default()
    };
    json!({
        "chain_id": c.chain_id,
        "suite": c.suite,
        "version": c.version,
        "orgs": c.orgs.iter().map(|o| json!({
            "org_id": o.org_id,
            "trust_roots": o.trust_roots.iter().map(pem).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "consensus": c.consensus.as_ref().map(|k| json!({
            "kind": k.kind,
            "nodes": k.nodes.iter().map(|n| json!({
                "org_id": n.org_id,
                "node_id": n.node_id,
                "address": n.address,
                "certificate": pem(&n.certificate),
            })).collect::<Vec<_>>(),
            "sync_nodes": k.sync_nodes.iter().map(|n| json!({
                "org_id": n.org_id,
                "node_id": n.node_id,
                "address": n.address,
                "certificate": pem(&n.certificate),
            })).collect::<Vec<_>>(),
        })),
        "policies": resource::DEFAULTS.iter().map(|(r, _)| {
            let p = c.policy_for(r);
            json!({"resource": r, "rule": p.rule, "org_ids": p.org_ids, "roles": p.roles})
        }).collect::<Vec<_>>(),
        "block": c.block.as_ref().map(|b| json!({
            "max_txs": b.max_txs, "max_bytes": b.max_bytes, "interval_ms": b.interval_ms,
        })),
        "tx_expiry_window_ms": c.tx_expiry_window_ms,
        "max_gas_per_tx": c.max_gas_per_tx,
        "max_tx_bytes": c.max_tx_bytes,
        "max_endorsements": covenant_types::config::ChainConfigExt::max_endorsements(c),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddOrg {
    org_id: String,
    trust_roots: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddNode {
    org_id: String,
    node_id: String,
    certificate: String,
    #[serde(default)]
    address: String,
}

/// A node's certificate replaced (renewed, or a new key): the node keeps its name and place.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplaceCertificate {
    node_id: String,
    certificate: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Promote {
    node_id: String,
    /// The peer address it accepts connections on, if it changes.
    #[serde(default)]
    address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBlock {
    max_txs: Option<u32>,
    max_bytes: Option<u64>,
    interval_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetPolicy {
    resource: String,
    rule: String,
    #[serde(default)]
    org_ids: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
}

/// The changes one `update` applies, all at once.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    add_org: Option<AddOrg>,
    remove_org: Option<String>,
    /// Replace a member org's trust roots (a renewed root, an external root such as a
    /// national CA's added beside the org's own).
    set_trust_roots: Option<AddOrg>,
    add_node: Option<AddNode>,
    remove_node: Option<String>,
    add_sync_node: Option<AddNode>,
    remove_sync_node: Option<String>,
    promote_sync_node: Option<Promote>,
    /// A consensus or sync node's certificate replaced, in place: a renewed certificate (or
    /// one for a new key) becomes the node's identity from the next block on.
    replace_node_certificate: Option<ReplaceCertificate>,
    set_block: Option<SetBlock>,
    set_policy: Option<SetPolicy>,
    tx_expiry_window_ms: Option<u64>,
    max_gas_per_tx: Option<u64>,
    max_tx_bytes: Option<u64>,
    max_endorsements: Option<u32>,
}

/// A consensus or sync node's certificate: it must have role node.
fn node_certificate(text: &str) -> Result<covenant_pki::Certificate, SysError> {
    let cert = cert_from_text(text, "node certificate")?;
    if cert.role() != Some(covenant_pki::Role::Node) {
        return Err(SysError::args(
            "the certificate of a consensus or sync node must have role node",
        ));
    }
    Ok(cert)
}

/// The config's consensus section, to change its nodes.
fn consensus_of(
    config: &mut ChainConfig,
) -> Result<&mut covenant_types::ConsensusConfig, SysError> {
    config
        .consensus
        .as_mut()
        .ok_or_else(|| SysError::args("the chain has no consensus section"))
}

/// Apply `u` to `config`, producing the next config (checked) for the block at `height` whose
/// time is `at`.
pub fn apply(
    mut config: ChainConfig,
    u: Update,
    height: u64,
    at: std::time::SystemTime,
) -> Result<ChainConfig, SysError> {
    let mut changed = false;
    // Each root checked at the block's time, never this node's clock: every node must agree.
    let roots_of = |roots: &[String]| -> Result<Vec<Vec<u8>>, SysError> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for (i, r) in roots.iter().enumerate() {
            let cert = cert_from_text(r, &format!("trust root {i}"))?;
            covenant_pki::check_trust_root(&cert, at).map_err(|e| {
                SysError::args(crate::error::pki_problem(&format!("trust root {i}"), &e))
            })?;
            if out.iter().any(|d| d.as_slice() == cert.der()) {
                return Err(SysError::args(format!("trust root {i} is listed twice")));
            }
            out.push(cert.der().to_vec());
        }
        Ok(out)
    };
    if let Some(set) = u.set_trust_roots {
        if set.trust_roots.is_empty() {
            return Err(SysError::args("an org needs at least one trust root"));
        }
        let roots = roots_of(&set.trust_roots)?;
        let org = config
            .orgs
            .iter_mut()
            .find(|o| o.org_id == set.org_id)
            .ok_or_else(|| SysError::args(format!("org {} is not a member", set.org_id)))?;
        if org.trust_roots == roots {
            return Err(SysError::args(format!(
                "org {} has these trust roots already",
                set.org_id
            )));
        }
        org.trust_roots = roots;
        changed = true;
    }
    if let Some(add) = u.add_org {
        if config.orgs.iter().any(|o| o.org_id == add.org_id) {
            return Err(SysError::args(format!(
                "org {} is already a member",
                add.org_id
            )));
        }
        if add.trust_roots.is_empty() {
            return Err(SysError::args("a new org needs at least one trust root"));
        }
        let roots = roots_of(&add.trust_roots)?;
        config.orgs.push(Org {
            org_id: add.org_id,
            trust_roots: roots,
        });
        changed = true;
    }
    if let Some(org) = u.remove_org {
        let before = config.orgs.len();
        config.orgs.retain(|o| o.org_id != org);
        if config.orgs.len() == before {
            return Err(SysError::args(format!("org {org} is not a member")));
        }
        if let Some(c) = config.consensus.as_ref()
            && c.nodes.iter().chain(&c.sync_nodes).any(|n| n.org_id == org)
        {
            return Err(SysError::args(format!(
                "org {org} still runs consensus or sync nodes; remove them first"
            )));
        }
        changed = true;
    }
    for (add, sync) in [(u.add_node, false), (u.add_sync_node, true)] {
        let Some(add) = add else { continue };
        let cert = node_certificate(&add.certificate)?;
        let consensus = consensus_of(&mut config)?;
        if consensus
            .nodes
            .iter()
            .chain(&consensus.sync_nodes)
            .any(|n| n.node_id == add.node_id)
        {
            return Err(SysError::args(format!(
                "node {} is already a node of the chain",
                add.node_id
            )));
        }
        let node = ConsensusNode {
            org_id: add.org_id,
            node_id: add.node_id,
            certificate: cert.der().to_vec(),
            address: add.address,
        };
        if sync {
            consensus.sync_nodes.push(node);
        } else {
            consensus.nodes.push(node);
        }
        changed = true;
    }
    if let Some(node) = u.remove_sync_node {
        let consensus = consensus_of(&mut config)?;
        let before = consensus.sync_nodes.len();
        consensus.sync_nodes.retain(|n| n.node_id != node);
        if consensus.sync_nodes.len() == before {
            return Err(SysError::args(format!("{node} is not a sync node")));
        }
        changed = true;
    }
    if let Some(p) = u.promote_sync_node {
        let consensus = consensus_of(&mut config)?;
        let i = consensus
            .sync_nodes
            .iter()
            .position(|n| n.node_id == p.node_id)
            .ok_or_else(|| SysError::args(format!("{} is not a sync node", p.node_id)))?;
        let mut node = consensus.sync_nodes.remove(i);
        if let Some(a) = p.address {
            node.address = a;
        }
        consensus.nodes.push(node);
        changed = true;
    }
    if let Some(r) = u.replace_node_certificate {
        let cert = node_certificate(&r.certificate)?;
        let consensus = consensus_of(&mut config)?;
        if consensus
            .nodes
            .iter()
            .chain(&consensus.sync_nodes)
            .any(|n| n.certificate == cert.der())
        {
            return Err(SysError::args(
                "a node of the chain has this certificate already",
            ));
        }
        let node = consensus
            .nodes
            .iter_mut()
            .chain(consensus.sync_nodes.iter_mut())
            .find(|n| n.node_id == r.node_id)
            .ok_or_else(|| SysError::args(format!("{} is not a node of the chain", r.node_id)))?;
        if cert.organization().as_deref() != Some(node.org_id.as_str()) {
            return Err(SysError::args(format!(
                "the certificate is not of org {}, which runs {}",
                node.org_id, r.node_id
            )));
        }
        node.certificate = cert.der().to_vec();
        changed = true;
    }
    if let Some(node) = u.remove_node {
        let consensus = consensus_of(&mut config)?;
        let before = consensus.nodes.len();
        consensus.nodes.retain(|n| n.node_id != node);
        if consensus.nodes.len() == before {
            return Err(SysError::args(format!("{node} is not a consensus node")));
        }
        changed = true;
    }
    if let Some(b) = u.set_block {
        let block = config
            .block
            .get_or_insert_with(covenant_types::config::default_block_limits);
        if let Some(v) = b.max_txs {
            block.max_txs = v;
        }
        if let Some(v) = b.max_bytes {
            block.max_bytes = v;
        }
        if let Some(v) = b.interval_ms {
            block.interval_ms = v;
        }
        changed = true;
    }
    if let Some(p) = u.set_policy {
        if !resource::DEFAULTS.iter().any(|(r, _)| *r == p.resource) {
            return Err(SysError::args(format!(
                "no governed resource named {}",
                p.resource
            )));
        }
        config.policies.retain(|e| e.resource != p.resource);
        config.policies.push(PolicyEntry {
            resource: p.resource,
            policy: Some(Policy {
                rule: p.rule,
                org_ids: p.org_ids,
                roles: p.roles,
            }),
        });
        changed = true;
    }
    if let Some(v) = u.tx_expiry_window_ms {
        config.tx_expiry_window_ms = v;
        changed = true;
    }
    if let Some(v) = u.max_gas_per_tx {
        config.max_gas_per_tx = v;
        changed = true;
    }
    if let Some(v) = u.max_tx_bytes {
        config.max_tx_bytes = v;
        changed = true;
    }
    if let Some(v) = u.max_endorsements {
        if v == 0 {
            return Err(SysError::args("max_endorsements must be positive"));
        }
        config.max_endorsements = v;
        changed = true;
    }
    if !changed {
        return Err(SysError::args("the update changes nothing"));
    }
    config.version = height;
    config
        .validate()
        .map_err(|e| SysError::args(e.to_string()))?;
    Ok(config)
}

pub fn call(ctx: &mut SysCtx<'_>) -> Result<Value, SysError> {
    match ctx.method {
        "get" => Ok(to_json(ctx.membership.config())),
        "update" => {
            let update: Update = ctx.parse()?;
            ctx.require(resource::CONFIG_UPDATE, None)?;
            let height = ctx.host.env().height;
            // The current config as this transaction sees it (after earlier updates in the
            // same block); the read also orders concurrent updates.
            let current = ctx
                .host
                .read(&keys::config())
                .map_err(SysError::state)?
                .ok_or_else(|| SysError::state("no chain config in state"))?;
            let current = ChainConfig::decode(current.as_slice())
                .map_err(|_| SysError::state("the stored chain config does not decode"))?;
            let at = crate::identity::time_of_ms(ctx.host.env().time_ms);
            let next = apply(current, update, height, at)?;
            ctx.host.write(keys::config(), Some(next.encode_to_vec()));
            let args: Value = serde_json::from_slice(ctx.args).unwrap_or(Value::Null);
            ctx.record(
                resource::CONFIG_UPDATE,
                json!({"update": args, "version": next.version}),
            );
            ctx.host.event(
                ctx.contract,
                "config_updated",
                json!({"version": next.version}).to_string().into_bytes(),
            );
            Ok(json!({"version": next.version}))
        }
        _ => Err(unknown_method(ctx)),
    }
}
