//! Verifying a proof against a chain's genesis block, offline.

use covenant_consensus::Engine;
use covenant_crypto::{Hash, Suite, merkle::InclusionProof};
use covenant_types::{
    Block, ChainConfig, CommitCertificate, RwSet, Transaction, TxPayload, TxResult,
    block::{DecodedBlock, merkle_root},
    config::ChainConfigExt,
    genesis,
    pb::sender,
};
use prost::Message;
use serde::Serialize;

use crate::{
    ProofError,
    file::{CertifiedHeader, ProofFile, unb64, unhex},
};

/// What a proof established.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub chain_id: String,
    pub suite: String,
    pub consensus: String,
    pub genesis_hash: String,
    pub tx_id: String,
    pub height: u64,
    pub index: u64,
    pub block_hash: String,
    pub block_time_ms: u64,
    /// The block's time, UTC.
    pub block_time: String,
    /// The height of the config the block was decided under (0: genesis).
    pub config_version: u64,
    /// How many config changes from genesis the proof replayed.
    pub config_changes: usize,
    /// The consensus nodes (their names in the config) of that config.
    pub consensus_nodes: Vec<String>,
    pub contract: String,
    pub method: String,
    /// The call's arguments: text when they are UTF-8 (JSON for WASM contracts), else hex.
    pub args: String,
    pub sender: Sender,
    /// The result code: `OK` or the stable code of the failure.
    pub code: String,
    pub message: String,
    /// What the call returned: text when UTF-8, else hex.
    pub return_data: String,
    pub events: Vec<EventView>,
    pub gas_used: u64,
}

/// Who sent the transaction.
#[derive(Debug, Clone, Serialize)]
pub struct Sender {
    /// The org and name in the sender's certificate, when the transaction carries it.
    pub org: Option<String>,
    pub name: Option<String>,
    /// The suite hash of the sender's certificate (hex).
    pub certificate_hash: String,
    /// Whether the sender's signature over the payload was checked here (it is when the
    /// transaction carries the whole certificate; a sender named by hash was checked by the
    /// chain against its registered certificate).
    pub signature_checked: bool,
}

/// An event the call emitted.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub contract: String,
    pub topic: String,
    pub data: String,
}

fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => hex::encode(bytes),
    }
}

/// A certified header, decoded, and its block hash.
fn certified(suite: Suite, what: &str, h: &CertifiedHeader) -> Result<DecodedBlock, ProofError> {
    let header = unb64(&format!("{what}.header"), &h.header)?;
    let certificate = CommitCertificate::decode(
        unb64(&format!("{what}.certificate"), &h.certificate)?.as_slice(),
    )
    .map_err(|e| ProofError::Malformed(format!("{what}.certificate: {e}")))?;
    // Decoding checks the header is a header; the hash is over the exact bytes carried.
    DecodedBlock::from_block(
        suite,
        Block {
            header,
            certificate: Some(certificate),
            ..Default::default()
        },
    )
    .map_err(|e| ProofError::Malformed(format!("{what}.header: {e}")))
}

/// Check that `block` was decided under `config`, the config in force at it.
fn decided(
    suite: Suite,
    chain_id: &str,
    block: &DecodedBlock,
    config: &ChainConfig,
    after: Option<u64>,
) -> Result<(), String> {
    if block.header.chain_id != chain_id {
        return Err(format!(
            "the header is of chain {:?}",
            block.header.chain_id
        ));
    }
    if after.is_some_and(|a| block.height() <= a) {
        return Err("heights must increase".into());
    }
    if block.header.config_version != config.version {
        return Err(format!(
            "decided under config version {}, but the config in force is version {} (a config change is missing or extra)",
            block.header.config_version, config.version
        ));
    }
    let engine = Engine::of(config).map_err(|e| e.to_string())?;
    engine
        .check_certificate(suite, block, config)
        .map_err(|e| format!("the commit certificate does not hold: {e}"))
}

/// Verify `proof` against the chain's genesis block (its encoded bytes, as nodes keep it).
pub fn verify(proof: &ProofFile, genesis_block: &[u8]) -> Result<Verified, ProofError> {
    if proof.format != crate::FORMAT {
        return Err(ProofError::Malformed(format!(
            "format {:?} is not {}",
            proof.format,
            crate::FORMAT
        )));
    }
    let genesis = genesis::decode(genesis_block).map_err(|e| ProofError::Genesis(e.to_string()))?;
    let mut config =
        genesis::config_of(&genesis).map_err(|e| ProofError::Genesis(e.to_string()))?;
    let suite = config
        .suite()
        .map_err(|e| ProofError::Genesis(e.to_string()))?;
    let claimed = unhex("genesis_hash", &proof.genesis_hash)?;
    if claimed != genesis.hash {
        return Err(ProofError::Genesis(format!(
            "the proof is for genesis {claimed}, this genesis is {}",
            genesis.hash
        )));
    }
    if proof.chain_id != config.chain_id {
        return Err(ProofError::Genesis(format!(
            "the proof is for chain {:?}, this genesis is of chain {:?}",
            proof.chain_id, config.chain_id
        )));
    }
    let chain_id = config.chain_id.clone();
    let config_key = genesis::config_key();

    // Each config change, decided by the config before it, gives the next config.
    let mut last = Some(0);
    for (i, step) in proof.config_changes.iter().enumerate() {
        let what = format!("config_changes[{i}]");
        let block = certified(
            suite,
            &what,
            &CertifiedHeader {
                header: step.header.clone(),
                certificate: step.certificate.clone(),
            },
        )?;
        let height = block.height();
        let fail = |detail: String| ProofError::ConfigChange { height, detail };
        decided(suite, &chain_id, &block, &config, last).map_err(fail)?;
        let rwsets = step
            .rwsets
            .iter()
            .enumerate()
            .map(|(j, r)| unb64(&format!("{what}.rwsets[{j}]"), r))
            .collect::<Result<Vec<_>, _>>()?;
        if rwsets.len() != block.header.tx_count as usize
            || merkle_root(suite, &rwsets).as_bytes().as_slice() != block.header.rwset_root
        {
            return Err(fail(
                "the read/write sets are not the block's (their root is not the header's)".into(),
            ));
        }
        // The last write of the config key in block order is the config after the block.
        let mut written = None;
        for r in &rwsets {
            let set = RwSet::decode(r.as_slice())
                .map_err(|e| fail(format!("a read/write set does not decode: {e}")))?;
            for w in set.writes.iter().filter(|w| w.key == config_key) {
                written = if w.delete {
                    None
                } else {
                    Some(w.value.clone())
                };
            }
        }
        let written = written.ok_or_else(|| fail("the block does not change the config".into()))?;
        let next = ChainConfig::decode(written.as_slice())
            .map_err(|e| fail(format!("the config it wrote does not decode: {e}")))?;
        if next.version != height || next.chain_id != chain_id {
            return Err(fail(format!(
                "the config it wrote is version {} of chain {:?}",
                next.version, next.chain_id
            )));
        }
        config = next;
        last = Some(height);
    }

    // The transaction's block, decided under the config reached.
    let block = certified(suite, "block", &proof.block)?;
    let height = block.height();
    decided(suite, &chain_id, &block, &config, last)
        .map_err(|detail| ProofError::Certificate { height, detail })?;

    // The transaction and its result are leaves of the header's roots.
    let tx_bytes = unb64("tx.transaction", &proof.tx.transaction)?;
    let result_bytes = unb64("tx.result", &proof.tx.result)?;
    let hashes = |field: &str, path: &[String]| -> Result<Vec<Hash>, ProofError> {
        path.iter()
            .enumerate()
            .map(|(i, h)| unhex(&format!("{field}[{i}]"), h))
            .collect()
    };
    let alg = suite.hash_algorithm();
    let size = u64::from(block.header.tx_count);
    let root = |bytes: &[u8], what: &str| -> Result<Hash, ProofError> {
        Hash::from_slice(bytes)
            .map_err(|_| ProofError::Inclusion(format!("the header's {what} is not a hash")))
    };
    let tx_proof = InclusionProof {
        leaf_index: proof.tx.index,
        tree_size: size,
        path: hashes("tx.tx_path", &proof.tx.tx_path)?,
    };
    if !tx_proof.verify(alg, &root(&block.header.tx_root, "tx_root")?, &tx_bytes) {
        return Err(ProofError::Inclusion(format!(
            "the transaction is not at index {} of block {height} (its Merkle path does not lead to the header's tx_root)",
            proof.tx.index
        )));
    }
    let result_proof = InclusionProof {
        leaf_index: proof.tx.index,
        tree_size: size,
        path: hashes("tx.result_path", &proof.tx.result_path)?,
    };
    if !result_proof.verify(
        alg,
        &root(&block.header.results_root, "results_root")?,
        &result_bytes,
    ) {
        return Err(ProofError::Inclusion(format!(
            "the result is not at index {} of block {height} (its Merkle path does not lead to the header's results_root)",
            proof.tx.index
        )));
    }
    let tx = Transaction::decode(tx_bytes.as_slice())
        .map_err(|e| ProofError::Inclusion(format!("the transaction does not decode: {e}")))?;
    let payload = TxPayload::decode(tx.payload.as_slice())
        .map_err(|e| ProofError::Inclusion(format!("the payload does not decode: {e}")))?;
    let result = TxResult::decode(result_bytes.as_slice())
        .map_err(|e| ProofError::Inclusion(format!("the result does not decode: {e}")))?;
    let id = suite.hash(&tx.payload);
    if unhex("tx.id", &proof.tx.id)? != id {
        return Err(ProofError::Inclusion(format!(
            "the transaction's id is {id}, not {}",
            proof.tx.id
        )));
    }
    if result.tx_id != id.as_bytes() {
        return Err(ProofError::Inclusion(
            "the result is of another transaction".into(),
        ));
    }
    let sender = match tx.sender.as_ref().and_then(|s| s.id.as_ref()) {
        Some(sender::Id::Certificate(der)) => {
            let cert = covenant_pki::Certificate::from_der(der.clone(), "sender certificate")
                .map_err(|e| ProofError::Inclusion(e.to_string()))?;
            let key = cert
                .public_key()
                .map_err(|e| ProofError::Inclusion(e.to_string()))?;
            key.verify(&tx.payload, &tx.signature).map_err(|_| {
                ProofError::Inclusion("the sender's signature does not verify".into())
            })?;
            Sender {
                org: cert.organization(),
                name: cert.common_name(),
                certificate_hash: suite.hash(der).to_hex(),
                signature_checked: true,
            }
        }
        Some(sender::Id::CertificateHash(h)) => Sender {
            org: None,
            name: None,
            certificate_hash: hex::encode(h),
            signature_checked: false,
        },
        None => {
            return Err(ProofError::Inclusion(
                "the transaction names no sender".into(),
            ));
        }
    };
    Ok(Verified {
        chain_id,
        suite: suite.name().into(),
        consensus: config
            .consensus
            .as_ref()
            .map(|c| c.kind.clone())
            .unwrap_or_default(),
        genesis_hash: genesis.hash.to_hex(),
        tx_id: id.to_hex(),
        height,
        index: proof.tx.index,
        block_hash: block.hash.to_hex(),
        block_time_ms: block.header.timestamp_ms,
        block_time: covenant_pki::format_time(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(block.header.timestamp_ms),
        ),
        config_version: config.version,
        config_changes: proof.config_changes.len(),
        consensus_nodes: config
            .consensus
            .as_ref()
            .map(|c| c.nodes.iter().map(|n| n.node_id.clone()).collect())
            .unwrap_or_default(),
        contract: payload.contract,
        method: payload.method,
        args: text(&payload.args),
        sender,
        code: result.code,
        message: result.message,
        return_data: text(&result.return_data),
        events: result
            .events
            .iter()
            .map(|e| EventView {
                contract: e.contract.clone(),
                topic: e.topic.clone(),
                data: text(&e.data),
            })
            .collect(),
        gas_used: result.gas_used,
    })
}
