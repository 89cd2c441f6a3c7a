//! The genesis block: one transaction that writes the chain config into `sys.config`.
//!
//! Built here, in the core, so that whoever creates a chain (the CLI, the platform, a deploy
//! driver) and every node that opens it derive the same block from the same config.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use covenant_pki::{Certificate, Role};
use prost::Message;

use crate::{
    ChainConfig, Dag, DagNode, RwSet, Transaction, TxPayload, TxResult, TypesError, WriteEntry,
    block::{BlockParts, DecodedBlock, assemble},
    config::ChainConfigExt,
    names,
};

/// The state key the chain config is kept under.
pub fn config_key() -> Vec<u8> {
    names::state_key(names::SYS_CONFIG, b"config")
}

fn bad(detail: impl Into<String>) -> TypesError {
    TypesError::BadGenesis(detail.into())
}

/// The method name of the genesis transaction.
pub const GENESIS_METHOD: &str = "genesis";

/// Check what the config's certificates say: trust roots are CAs, consensus nodes hold node
/// certificates issued by their org.
pub fn check_config(config: &ChainConfig, at: SystemTime) -> Result<(), TypesError> {
    config.validate()?;
    let suite = config.suite()?;
    for org in &config.orgs {
        for (i, der) in org.trust_roots.iter().enumerate() {
            let cert = Certificate::from_der(der.clone(), "trust root")
                .map_err(|e| bad(format!("org {} trust root {i}: {e}", org.org_id)))?;
            covenant_pki::check_trust_root(&cert, at)
                .map_err(|e| bad(format!("org {}: {e}", org.org_id)))?;
        }
    }
    if let Some(c) = &config.consensus {
        for node in &c.nodes {
            let cert = Certificate::from_der(node.certificate.clone(), "node certificate")
                .map_err(|e| bad(format!("node {}: {e}", node.node_id)))?;
            if cert.role() != Some(Role::Node) {
                return Err(bad(format!(
                    "node {}: the certificate's role is not node",
                    node.node_id
                )));
            }
            let key = cert
                .public_key()
                .map_err(|e| bad(format!("node {}: {e}", node.node_id)))?;
            suite
                .check_key_algorithm(key.algorithm())
                .map_err(|e| bad(format!("node {}: {e}", node.node_id)))?;
        }
    }
    Ok(())
}

/// Build the genesis block of `config`.
pub fn genesis_block(config: &ChainConfig, timestamp_ms: u64) -> Result<DecodedBlock, TypesError> {
    // Certificates are checked as of the genesis time, so the same genesis stays valid later.
    check_config(config, UNIX_EPOCH + Duration::from_millis(timestamp_ms))?;
    let suite = config.suite()?;
    let payload = TxPayload {
        chain_id: config.chain_id.clone(),
        nonce: b"genesis".to_vec(),
        timestamp_ms,
        expiry_ms: 0,
        contract: names::SYS_CONFIG.into(),
        method: GENESIS_METHOD.into(),
        args: config.encode_to_vec(),
        gas_limit: 0,
    }
    .encode_to_vec();
    let tx_id = suite.hash(&payload);
    let tx = Transaction {
        payload,
        sender: None,
        signature: vec![],
        endorsements: vec![],
    };
    let result = TxResult {
        tx_id: tx_id.0.to_vec(),
        code: crate::CODE_OK.into(),
        message: String::new(),
        return_data: vec![],
        events: vec![],
        gas_used: 0,
    };
    let rwset = RwSet {
        reads: vec![],
        ranges: vec![],
        writes: vec![WriteEntry {
            key: config_key(),
            value: config.encode_to_vec(),
            delete: false,
        }],
    };
    let parts = BlockParts {
        chain_id: config.chain_id.clone(),
        height: 0,
        prev_hash: vec![],
        prev_state_root: vec![],
        timestamp_ms,
        proposer: vec![],
        config_version: 0,
        transactions: vec![tx.encode_to_vec()],
        results: vec![result.encode_to_vec()],
        rwsets: vec![rwset.encode_to_vec()],
        dag: Dag {
            nodes: vec![DagNode { deps: vec![] }],
        },
    };
    assemble(suite, parts, None)
}

/// Check that `block` is a well-formed genesis block and return its config.
pub fn config_of(block: &DecodedBlock) -> Result<ChainConfig, TypesError> {
    if block.height() != 0 {
        return Err(bad("the genesis block has height 0"));
    }
    let [tx] = block.block.transactions.as_slice() else {
        return Err(bad("the genesis block holds exactly one transaction"));
    };
    let tx = Transaction::decode(tx.as_slice()).map_err(|e| bad(e.to_string()))?;
    let payload = TxPayload::decode(tx.payload.as_slice()).map_err(|e| bad(e.to_string()))?;
    if payload.contract != names::SYS_CONFIG || payload.method != GENESIS_METHOD {
        return Err(bad("the genesis transaction must be sys.config.genesis"));
    }
    let config = ChainConfig::decode(payload.args.as_slice()).map_err(|e| bad(e.to_string()))?;
    let rebuilt = genesis_block(&config, block.header.timestamp_ms)?;
    if rebuilt.hash != block.hash || rebuilt.block.transactions != block.block.transactions {
        return Err(bad("the genesis block is not the one its config implies"));
    }
    Ok(config)
}

/// Decode a genesis block from its file bytes (the suite comes from the config inside).
pub fn decode(bytes: &[u8]) -> Result<DecodedBlock, TypesError> {
    let block = crate::Block::decode(bytes).map_err(|e| bad(format!("not a block: {e}")))?;
    let tx = block
        .transactions
        .first()
        .ok_or_else(|| bad("the genesis block holds no transaction"))?;
    let tx = Transaction::decode(tx.as_slice()).map_err(|e| bad(e.to_string()))?;
    let payload = TxPayload::decode(tx.payload.as_slice()).map_err(|e| bad(e.to_string()))?;
    let config = ChainConfig::decode(payload.args.as_slice()).map_err(|e| bad(e.to_string()))?;
    let suite = config.suite()?;
    let decoded = DecodedBlock::from_block(suite, block)?;
    config_of(&decoded)?;
    Ok(decoded)
}
