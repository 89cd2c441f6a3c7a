//! The config of a new chain with Covenant's defaults.

use covenant_crypto::Suite;
use covenant_types::{
    ChainConfig, ConsensusConfig, ConsensusNode, Org,
    config::{
        DEFAULT_MAX_GAS_PER_TX, DEFAULT_MAX_TX_BYTES, DEFAULT_TX_EXPIRY_WINDOW_MS,
        default_block_limits, default_policies,
    },
};

/// A chain `chain` of `orgs` (id, trust root DER) ordered by `consensus` among `nodes`, with
/// the default policies, block limits and transaction limits.
pub fn default_chain_config(
    chain: &str,
    suite: Suite,
    orgs: &[(String, Vec<u8>)],
    nodes: Vec<ConsensusNode>,
    consensus: &str,
) -> ChainConfig {
    ChainConfig {
        chain_id: chain.into(),
        suite: suite.name().into(),
        orgs: orgs
            .iter()
            .map(|(id, root)| Org {
                org_id: id.clone(),
                trust_roots: vec![root.clone()],
            })
            .collect(),
        consensus: Some(ConsensusConfig {
            kind: consensus.into(),
            nodes,
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
