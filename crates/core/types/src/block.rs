//! Blocks: hashing, assembling and checking. The block hash is the suite hash of the header
//! bytes; the header commits to every transaction, result, read/write set and the DAG by
//! Merkle roots over their bytes as carried.

use covenant_crypto::{Hash, PrivateKey, Suite, merkle};
use prost::Message;

use crate::{Block, BlockHeader, Dag, TypesError};

/// The hash of a block: the suite hash of its header bytes.
pub fn block_hash(suite: Suite, header: &[u8]) -> Hash {
    suite.hash(header)
}

/// Merkle root over items as carried.
pub fn merkle_root(suite: Suite, items: &[Vec<u8>]) -> Hash {
    merkle::root(suite.hash_algorithm(), items)
}

/// The state root after a block: the suite hash of the previous state root followed by the
/// block's read/write-set root. Equal state roots mean equal histories of writes.
pub fn state_root(suite: Suite, prev_state_root: &[u8], rwset_root: &Hash) -> Hash {
    let mut h = suite.hasher();
    h.update(prev_state_root);
    h.update(rwset_root.as_bytes());
    h.finalize()
}

/// Everything a new block says; [`assemble`] computes the roots and signs the header.
#[derive(Debug, Clone)]
pub struct BlockParts {
    pub chain_id: String,
    pub height: u64,
    pub prev_hash: Vec<u8>,
    pub prev_state_root: Vec<u8>,
    pub timestamp_ms: u64,
    /// Hash of the proposer's node certificate.
    pub proposer: Vec<u8>,
    pub config_version: u64,
    pub transactions: Vec<Vec<u8>>,
    pub results: Vec<Vec<u8>>,
    pub rwsets: Vec<Vec<u8>>,
    pub dag: Dag,
}

/// A block with its header decoded and its hash.
#[derive(Debug, Clone)]
pub struct DecodedBlock {
    pub block: Block,
    pub header: BlockHeader,
    pub hash: Hash,
}

/// Build the header over `parts`, sign it with the proposer's `key` (if any) and return the
/// block.
pub fn assemble(
    suite: Suite,
    parts: BlockParts,
    key: Option<&PrivateKey>,
) -> Result<DecodedBlock, TypesError> {
    let n = parts.transactions.len();
    if parts.results.len() != n || parts.rwsets.len() != n || parts.dag.nodes.len() != n {
        return Err(TypesError::BadBlock {
            height: parts.height,
            detail: "transactions, results, read/write sets and DAG differ in length".into(),
        });
    }
    let dag = parts.dag.encode_to_vec();
    let rwset_root = merkle_root(suite, &parts.rwsets);
    let header = BlockHeader {
        chain_id: parts.chain_id,
        height: parts.height,
        prev_hash: parts.prev_hash,
        timestamp_ms: parts.timestamp_ms,
        proposer: parts.proposer,
        tx_root: merkle_root(suite, &parts.transactions).0.to_vec(),
        results_root: merkle_root(suite, &parts.results).0.to_vec(),
        rwset_root: rwset_root.0.to_vec(),
        dag_hash: suite.hash(&dag).0.to_vec(),
        config_version: parts.config_version,
        tx_count: n as u32,
        state_root: state_root(suite, &parts.prev_state_root, &rwset_root)
            .0
            .to_vec(),
    };
    let header_bytes = header.encode_to_vec();
    let proposer_signature = match key {
        Some(k) => k
            .sign(&header_bytes)
            .map_err(|e| TypesError::malformed("proposer key", e))?,
        None => vec![],
    };
    let hash = block_hash(suite, &header_bytes);
    Ok(DecodedBlock {
        block: Block {
            header: header_bytes,
            proposer_signature,
            transactions: parts.transactions,
            results: parts.results,
            rwsets: parts.rwsets,
            dag,
            certificate: None,
        },
        header,
        hash,
    })
}

impl DecodedBlock {
    /// Decode an encoded block of at most `max_size` bytes.
    pub fn decode(suite: Suite, bytes: &[u8], max_size: usize) -> Result<Self, TypesError> {
        if bytes.len() > max_size {
            return Err(TypesError::TooLarge {
                what: "block",
                size: bytes.len(),
                limit: max_size,
            });
        }
        let block = Block::decode(bytes).map_err(|e| TypesError::malformed("block", e))?;
        Self::from_block(suite, block)
    }

    /// Decode the header of a decoded block.
    pub fn from_block(suite: Suite, block: Block) -> Result<Self, TypesError> {
        let header = BlockHeader::decode(block.header.as_slice())
            .map_err(|e| TypesError::malformed("block header", e))?;
        let hash = block_hash(suite, &block.header);
        Ok(DecodedBlock {
            block,
            header,
            hash,
        })
    }

    /// Height of the block.
    pub fn height(&self) -> u64 {
        self.header.height
    }

    /// The decoded DAG.
    pub fn dag(&self) -> Result<Dag, TypesError> {
        Dag::decode(self.block.dag.as_slice()).map_err(|e| TypesError::malformed("block DAG", e))
    }

    fn bad(&self, detail: impl Into<String>) -> TypesError {
        TypesError::BadBlock {
            height: self.header.height,
            detail: detail.into(),
        }
    }

    /// Check that the header's counts and roots match the body.
    pub fn check_body(&self, suite: Suite) -> Result<(), TypesError> {
        let b = &self.block;
        let n = b.transactions.len();
        if self.header.tx_count as usize != n || b.results.len() != n || b.rwsets.len() != n {
            return Err(self
                .bad("the body does not hold tx_count transactions, results and read/write sets"));
        }
        let checks: [(&str, Hash, &[u8]); 4] = [
            (
                "tx_root",
                merkle_root(suite, &b.transactions),
                &self.header.tx_root,
            ),
            (
                "results_root",
                merkle_root(suite, &b.results),
                &self.header.results_root,
            ),
            (
                "rwset_root",
                merkle_root(suite, &b.rwsets),
                &self.header.rwset_root,
            ),
            ("dag_hash", suite.hash(&b.dag), &self.header.dag_hash),
        ];
        for (name, computed, stated) in checks {
            if computed.as_bytes().as_slice() != stated {
                return Err(self.bad(format!("{name} does not match the body")));
            }
        }
        let dag = self.dag()?;
        if dag.nodes.len() != n {
            return Err(self.bad("the DAG does not have one node per transaction"));
        }
        for (i, node) in dag.nodes.iter().enumerate() {
            if node.deps.iter().any(|d| *d as usize >= i) {
                return Err(self.bad(format!("DAG node {i} depends on a later transaction")));
            }
        }
        Ok(())
    }

    /// Check that this block follows `prev_hash` / `prev_state_root` at the next height.
    pub fn check_link(
        &self,
        suite: Suite,
        prev_hash: &[u8],
        prev_state_root: &[u8],
    ) -> Result<(), TypesError> {
        if self.header.prev_hash != prev_hash {
            return Err(self.bad("previous hash does not match the chain"));
        }
        let rwset_root =
            Hash::from_slice(&self.header.rwset_root).map_err(|_| self.bad("bad rwset_root"))?;
        if state_root(suite, prev_state_root, &rwset_root)
            .as_bytes()
            .as_slice()
            != self.header.state_root
        {
            return Err(self.bad("state root does not follow from the previous one"));
        }
        Ok(())
    }

    /// The encoded block.
    pub fn encode(&self) -> Vec<u8> {
        self.block.encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use covenant_crypto::KeyAlgorithm;

    use super::*;
    use crate::DagNode;

    fn parts(n: usize) -> BlockParts {
        BlockParts {
            chain_id: "main".into(),
            height: 1,
            prev_hash: vec![7; 32],
            prev_state_root: vec![9; 32],
            timestamp_ms: 1000,
            proposer: vec![1; 32],
            config_version: 0,
            transactions: (0..n).map(|i| vec![i as u8; 10]).collect(),
            results: (0..n).map(|i| vec![i as u8; 5]).collect(),
            rwsets: (0..n).map(|i| vec![i as u8; 3]).collect(),
            dag: Dag {
                nodes: (0..n)
                    .map(|i| DagNode {
                        deps: if i > 0 { vec![i as u32 - 1] } else { vec![] },
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn assemble_decode_check() {
        let key = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
        let b = assemble(Suite::Sm, parts(3), Some(&key)).unwrap();
        let bytes = b.encode();
        let d = DecodedBlock::decode(Suite::Sm, &bytes, 1 << 20).unwrap();
        assert_eq!(d.hash, b.hash);
        d.check_body(Suite::Sm).unwrap();
        d.check_link(Suite::Sm, &[7; 32], &[9; 32]).unwrap();
        assert!(d.check_link(Suite::Sm, &[8; 32], &[9; 32]).is_err());
        key.public_key()
            .verify(&d.block.header, &d.block.proposer_signature)
            .unwrap();
    }

    #[test]
    fn changed_body_fails_the_check() {
        let b = assemble(Suite::Intl, parts(4), None).unwrap();
        for field in 0..4 {
            let mut d = b.clone();
            match field {
                0 => d.block.transactions[2][0] ^= 1,
                1 => d.block.results[1][0] ^= 1,
                2 => d.block.rwsets[3][0] ^= 1,
                _ => d.block.dag.push(0),
            }
            let err = d.check_body(Suite::Intl).unwrap_err();
            assert_eq!(err.code(), "BAD_BLOCK");
        }
        let mut short = b.clone();
        short.block.results.pop();
        assert!(short.check_body(Suite::Intl).is_err());
    }
}

#[cfg(test)]
mod hostile_bytes {
    use covenant_crypto::KeyAlgorithm;

    use super::*;
    use crate::{DagNode, tx::DecodedTx};

    /// Every truncation and single-byte change of an encoded block and transaction decodes
    /// to an error or to something the checks reject — never a panic.
    #[test]
    fn truncations_and_mutations_never_panic() {
        let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let tx = crate::tx::sign(
            crate::tx::TxBuilder::new("main", "kv", "put")
                .build()
                .unwrap(),
            crate::tx::sender_by_certificate(vec![1, 2, 3]),
            &key,
        )
        .unwrap()
        .encode_to_vec();
        let parts = BlockParts {
            chain_id: "main".into(),
            height: 3,
            prev_hash: vec![1; 32],
            prev_state_root: vec![2; 32],
            timestamp_ms: 5,
            proposer: vec![3; 32],
            config_version: 0,
            transactions: vec![tx.clone(), tx.clone()],
            results: vec![vec![1, 2], vec![3]],
            rwsets: vec![vec![], vec![4]],
            dag: Dag {
                nodes: vec![DagNode { deps: vec![] }, DagNode { deps: vec![0] }],
            },
        };
        let original = assemble(Suite::Intl, parts, Some(&key)).unwrap();
        let block = original.encode();
        for input in [&block, &tx] {
            for len in 0..input.len() {
                let _ = DecodedBlock::decode(Suite::Intl, &input[..len], usize::MAX)
                    .map(|b| b.check_body(Suite::Intl));
                let _ = DecodedTx::decode(Suite::Intl, &input[..len], usize::MAX)
                    .map(|t| t.args_json());
            }
            for i in 0..input.len() {
                let mut m = input.clone();
                m[i] ^= 0xa5;
                if let Ok(b) = DecodedBlock::decode(Suite::Intl, &m, usize::MAX) {
                    let _ = b.dag();
                    // Same header, different body: the header's roots catch it.
                    let body_changed = b.block.transactions != original.block.transactions
                        || b.block.results != original.block.results
                        || b.block.rwsets != original.block.rwsets
                        || b.block.dag != original.block.dag;
                    if b.block.header == original.block.header && body_changed {
                        assert!(
                            b.check_body(Suite::Intl).is_err(),
                            "byte {i}: a changed body passed the check"
                        );
                    }
                }
                let _ = DecodedTx::decode(Suite::Intl, &m, usize::MAX);
            }
        }
    }
}
