//! Building a proof from blocks a node serves.

use covenant_crypto::{Hash, Suite, merkle::MerkleTree};
use covenant_types::block::{DecodedBlock, merkle_root};
use prost::Message;

use crate::{
    ProofError,
    file::{CertifiedHeader, ConfigStep, FORMAT, ProofFile, TxProof, b64},
};

/// The heights of the blocks a proof for a block needs, newest first, as far as `header_of`
/// (a height's `config_version`, read from its header) leads: the block `config_version`
/// names, the one that block's `config_version` names, and so on down to genesis (not
/// included).
pub fn config_heights(
    config_version: u64,
    mut config_version_of: impl FnMut(u64) -> Result<u64, ProofError>,
) -> Result<Vec<u64>, ProofError> {
    let mut out = Vec::new();
    let mut at = config_version;
    while at != 0 {
        out.push(at);
        let next = config_version_of(at)?;
        if next >= at {
            return Err(ProofError::Export(format!(
                "block {at} names config version {next}, not an earlier block"
            )));
        }
        at = next;
    }
    Ok(out)
}

/// The proof of the transaction at `index` of `block`, for the chain whose genesis block has
/// `genesis_hash`. `config_blocks` are the blocks that changed the config before `block`,
/// oldest first: those [`config_heights`] names.
pub fn export(
    suite: Suite,
    genesis_hash: &Hash,
    block: &DecodedBlock,
    index: usize,
    config_blocks: &[DecodedBlock],
) -> Result<ProofFile, ProofError> {
    let bad = |d: String| ProofError::Export(d);
    let txs = &block.block.transactions;
    let (Some(tx), Some(result)) = (txs.get(index), block.block.results.get(index)) else {
        return Err(bad(format!(
            "block {} has {} transactions; there is none at index {index}",
            block.height(),
            txs.len()
        )));
    };
    let alg = suite.hash_algorithm();
    // Each tree is built once: its root is checked against the header (a block whose body is
    // not its header's gives no proof) and it gives the path.
    let path = |leaves: &[Vec<u8>], root: &[u8], what: &str| -> Result<Vec<String>, ProofError> {
        let tree = MerkleTree::from_leaves(alg, leaves);
        if tree.root().as_bytes().as_slice() != root {
            return Err(bad(format!(
                "block {}: its {what} are not the header's",
                block.height()
            )));
        }
        tree.prove(index)
            .map(|p| p.path.iter().map(Hash::to_hex).collect())
            .ok_or_else(|| bad(format!("no Merkle path for index {index}")))
    };
    let payload = covenant_types::Transaction::decode(tx.as_slice())
        .map_err(|e| bad(format!("transaction {index}: {e}")))?
        .payload;
    // The config blocks must be the chain of changes that leads to this block.
    let mut expected = 0;
    for b in config_blocks {
        if b.header.config_version != expected {
            return Err(bad(format!(
                "block {} was decided under config version {}, not {expected}: a config change is missing",
                b.height(),
                b.header.config_version
            )));
        }
        if merkle_root(suite, &b.block.rwsets).as_bytes().as_slice() != b.header.rwset_root {
            return Err(bad(format!(
                "block {}: its read/write sets are not the header's",
                b.height()
            )));
        }
        expected = b.height();
    }
    if block.header.config_version != expected {
        return Err(bad(format!(
            "block {} was decided under config version {}, but the config changes given end at {expected}",
            block.height(),
            block.header.config_version
        )));
    }
    let certified = |b: &DecodedBlock| -> Result<String, ProofError> {
        b.block
            .certificate
            .as_ref()
            .map(|c| b64(&c.encode_to_vec()))
            .ok_or_else(|| bad(format!("block {} has no commit certificate", b.height())))
    };
    Ok(ProofFile {
        format: FORMAT.into(),
        chain_id: block.header.chain_id.clone(),
        genesis_hash: genesis_hash.to_hex(),
        tx: TxProof {
            id: suite.hash(&payload).to_hex(),
            index: index as u64,
            transaction: b64(tx),
            result: b64(result),
            tx_path: path(txs, &block.header.tx_root, "transactions")?,
            result_path: path(&block.block.results, &block.header.results_root, "results")?,
        },
        block: CertifiedHeader {
            header: b64(&block.block.header),
            certificate: certified(block)?,
        },
        config_changes: config_blocks
            .iter()
            .map(|b| {
                Ok(ConfigStep {
                    header: b64(&b.block.header),
                    certificate: certified(b)?,
                    rwsets: b.block.rwsets.iter().map(|r| b64(r)).collect(),
                })
            })
            .collect::<Result<_, ProofError>>()?,
    })
}
