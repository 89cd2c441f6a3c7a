//! Chain configuration helpers: defaults, validation and policy lookup.

use std::collections::BTreeSet;

use covenant_crypto::Suite;

use crate::{BlockLimits, ChainConfig, Policy, PolicyEntry, TypesError, names, policy::Rule};

/// Governed resources and their default policies.
pub mod resource {
    /// Change the chain config (orgs, consensus nodes, policies, limits).
    pub const CONFIG_UPDATE: &str = "config.update";
    /// Install a new contract.
    pub const CONTRACT_INSTALL: &str = "contracts.install";
    /// Upgrade a contract to a new version (state kept).
    pub const CONTRACT_UPGRADE: &str = "contracts.upgrade";
    /// Freeze or unfreeze a contract.
    pub const CONTRACT_FREEZE: &str = "contracts.freeze";
    /// Revoke a contract for good.
    pub const CONTRACT_REVOKE: &str = "contracts.revoke";
    /// Freeze or unfreeze a certificate.
    pub const CERT_FREEZE: &str = "certs.freeze";
    /// Revoke a certificate, or submit a CRL.
    pub const CERT_REVOKE: &str = "certs.revoke";

    /// Every resource with its default rule.
    pub const DEFAULTS: [(&str, &str); 7] = [
        (CONFIG_UPDATE, "MAJORITY"),
        (CONTRACT_INSTALL, "ANY"),
        (CONTRACT_UPGRADE, "OWNER"),
        (CONTRACT_FREEZE, "OWNER"),
        (CONTRACT_REVOKE, "MAJORITY"),
        (CERT_FREEZE, "OWNER"),
        (CERT_REVOKE, "OWNER"),
    ];
}

/// Consensus engines a chain may name.
pub const CONSENSUS_KINDS: [&str; 3] = ["solo", "raft", "tbft"];

/// The default policies: every governed resource, admins only.
pub fn default_policies() -> Vec<PolicyEntry> {
    resource::DEFAULTS
        .iter()
        .map(|(r, rule)| PolicyEntry {
            resource: (*r).to_string(),
            policy: Some(Policy {
                rule: (*rule).to_string(),
                org_ids: vec![],
                roles: vec!["admin".to_string()],
            }),
        })
        .collect()
}

/// Default block limits.
pub fn default_block_limits() -> BlockLimits {
    BlockLimits {
        max_txs: 2000,
        max_bytes: 16 * 1024 * 1024,
        interval_ms: 200,
    }
}

/// Default tx expiry window: 10 minutes.
pub const DEFAULT_TX_EXPIRY_WINDOW_MS: u64 = 10 * 60 * 1000;
/// Default gas limit per tx.
pub const DEFAULT_MAX_GAS_PER_TX: u64 = 100_000_000;
/// Default maximum encoded transaction size: 1 MiB (contract code travels in txs).
pub const DEFAULT_MAX_TX_BYTES: u64 = 4 * 1024 * 1024;
/// Most endorsements a transaction carries when the config says 0.
pub const DEFAULT_MAX_ENDORSEMENTS: u32 = 64;

/// Convenience accessors on a chain config.
pub trait ChainConfigExt {
    /// The chain's algorithm suite.
    fn suite(&self) -> Result<Suite, TypesError>;
    /// The policy governing `resource` (the default if the config names none).
    fn policy_for(&self, resource: &str) -> Policy;
    /// Ids of the member orgs.
    fn org_ids(&self) -> Vec<String>;
    /// Check the config is complete and consistent.
    fn validate(&self) -> Result<(), TypesError>;
    /// Most endorsements one transaction may carry.
    fn max_endorsements(&self) -> usize;
}

impl ChainConfigExt for ChainConfig {
    fn max_endorsements(&self) -> usize {
        match self.max_endorsements {
            0 => DEFAULT_MAX_ENDORSEMENTS as usize,
            n => n as usize,
        }
    }

    fn suite(&self) -> Result<Suite, TypesError> {
        self.suite
            .parse()
            .map_err(|_| TypesError::BadConfig(format!("unknown suite {:?}", self.suite)))
    }

    fn policy_for(&self, resource: &str) -> Policy {
        self.policies
            .iter()
            .find(|p| p.resource == resource)
            .and_then(|p| p.policy.clone())
            .unwrap_or_else(|| {
                let rule = resource::DEFAULTS
                    .iter()
                    .find(|(r, _)| *r == resource)
                    .map(|(_, rule)| *rule)
                    .unwrap_or("MAJORITY");
                Policy {
                    rule: rule.to_string(),
                    org_ids: vec![],
                    roles: vec!["admin".to_string()],
                }
            })
    }

    fn org_ids(&self) -> Vec<String> {
        self.orgs.iter().map(|o| o.org_id.clone()).collect()
    }

    fn validate(&self) -> Result<(), TypesError> {
        let bad = |s: String| Err(TypesError::BadConfig(s));
        names::validate_chain_id(&self.chain_id)?;
        self.suite()?;
        if self.orgs.is_empty() {
            return bad("a chain needs at least one member org".into());
        }
        let mut seen = BTreeSet::new();
        for org in &self.orgs {
            if org.org_id.trim().is_empty() || org.org_id.len() > 64 {
                return bad(format!("invalid org id {:?}", org.org_id));
            }
            if !seen.insert(org.org_id.as_str()) {
                return bad(format!("org {} is listed twice", org.org_id));
            }
            if org.trust_roots.is_empty() {
                return bad(format!("org {} has no trust root", org.org_id));
            }
        }
        let consensus = self
            .consensus
            .as_ref()
            .ok_or_else(|| TypesError::BadConfig("no consensus section".into()))?;
        if !CONSENSUS_KINDS.contains(&consensus.kind.as_str()) {
            return bad(format!(
                "unknown consensus {:?} (expected solo, raft or tbft)",
                consensus.kind
            ));
        }
        if consensus.nodes.is_empty() {
            return bad("no consensus nodes".into());
        }
        let mut node_ids = BTreeSet::new();
        for node in &consensus.nodes {
            if !seen.contains(node.org_id.as_str()) {
                return bad(format!(
                    "consensus node {} belongs to unknown org {}",
                    node.node_id, node.org_id
                ));
            }
            if !node_ids.insert(node.node_id.as_str()) {
                return bad(format!("consensus node {} is listed twice", node.node_id));
            }
            if node.certificate.is_empty() {
                return bad(format!(
                    "consensus node {} has no certificate",
                    node.node_id
                ));
            }
        }
        for node in &consensus.sync_nodes {
            if !seen.contains(node.org_id.as_str()) {
                return bad(format!(
                    "sync node {} belongs to unknown org {}",
                    node.node_id, node.org_id
                ));
            }
            if !node_ids.insert(node.node_id.as_str()) {
                return bad(format!(
                    "node {} is listed twice (a node is either a consensus or a sync node)",
                    node.node_id
                ));
            }
            if node.certificate.is_empty() {
                return bad(format!("sync node {} has no certificate", node.node_id));
            }
        }
        let mut certs = BTreeSet::new();
        for node in consensus.nodes.iter().chain(&consensus.sync_nodes) {
            if !certs.insert(node.certificate.as_slice()) {
                return bad(format!(
                    "node {} uses a certificate another node uses",
                    node.node_id
                ));
            }
        }
        if consensus.kind == "solo" && consensus.nodes.len() != 1 {
            return bad("solo consensus has exactly one node".into());
        }
        for entry in &self.policies {
            if let Some(p) = &entry.policy {
                p.rule.parse::<Rule>()?;
                for o in &p.org_ids {
                    if !seen.contains(o.as_str()) {
                        return bad(format!("policy {} names unknown org {o}", entry.resource));
                    }
                }
            }
        }
        let block = self
            .block
            .as_ref()
            .ok_or_else(|| TypesError::BadConfig("no block limits".into()))?;
        if block.max_txs == 0 || block.max_bytes == 0 || block.interval_ms == 0 {
            return bad("block limits must be positive".into());
        }
        if self.tx_expiry_window_ms == 0 || self.max_gas_per_tx == 0 || self.max_tx_bytes == 0 {
            return bad("tx expiry window, gas and size limits must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConsensusConfig, ConsensusNode, Org};

    pub(crate) fn sample() -> ChainConfig {
        ChainConfig {
            chain_id: "main".into(),
            suite: "sm".into(),
            orgs: vec![Org {
                org_id: "org1".into(),
                trust_roots: vec![vec![1]],
            }],
            consensus: Some(ConsensusConfig {
                kind: "solo".into(),
                nodes: vec![ConsensusNode {
                    org_id: "org1".into(),
                    node_id: "node1".into(),
                    certificate: vec![1],
                    address: "127.0.0.1:1".into(),
                }],
                sync_nodes: vec![],
            }),
            policies: default_policies(),
            block: Some(default_block_limits()),
            tx_expiry_window_ms: DEFAULT_TX_EXPIRY_WINDOW_MS,
            max_gas_per_tx: DEFAULT_MAX_GAS_PER_TX,
            max_tx_bytes: DEFAULT_MAX_TX_BYTES,
            version: 0,
            max_endorsements: 0,
        }
    }

    #[test]
    fn valid_and_invalid_configs() {
        let c = sample();
        c.validate().unwrap();
        assert_eq!(c.policy_for(resource::CONFIG_UPDATE).rule, "MAJORITY");
        assert_eq!(c.policy_for("unknown.thing").rule, "MAJORITY");
        let mut bad = sample();
        bad.suite = "rsa".into();
        assert!(bad.validate().is_err());
        let mut bad = sample();
        bad.orgs.push(bad.orgs[0].clone());
        assert!(bad.validate().is_err());
        let mut bad = sample();
        if let Some(c) = bad.consensus.as_mut() {
            c.kind = "pow".into();
        }
        assert!(bad.validate().is_err());
        let mut bad = sample();
        bad.policies[0].policy.as_mut().unwrap().rule = "SOMETIMES".into();
        assert_eq!(bad.validate().unwrap_err().code(), "BAD_POLICY");
    }
}
