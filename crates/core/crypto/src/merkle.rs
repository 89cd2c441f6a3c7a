//! Merkle trees over a suite's hash, with inclusion proofs that verify on their own.
//!
//! The tree is the one of RFC 6962 (Certificate Transparency): leaves are hashed as
//! `H(0x00 || data)`, inner nodes as `H(0x01 || left || right)`, so a leaf can never pass for an
//! inner node; with `n` leaves the left subtree holds the largest power of two below `n`. Built
//! bottom-up, an odd node at the end of a level moves up unchanged, which gives the same root.
//! The root of the empty tree is `H("")`.

use serde::{Deserialize, Serialize};

use crate::{Hash, HashAlgorithm};

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// Hash of one leaf's data.
pub fn leaf_hash(alg: HashAlgorithm, data: &[u8]) -> Hash {
    let mut h = alg.hasher();
    h.update(&[LEAF_PREFIX]);
    h.update(data);
    h.finalize()
}

/// Hash of an inner node.
pub fn node_hash(alg: HashAlgorithm, left: &Hash, right: &Hash) -> Hash {
    let mut h = alg.hasher();
    h.update(&[NODE_PREFIX]);
    h.update(left.as_bytes());
    h.update(right.as_bytes());
    h.finalize()
}

/// A Merkle tree with every level kept, so it can prove any leaf.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    alg: HashAlgorithm,
    /// `levels[0]` are the leaf hashes; the last level holds the root alone.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// Build the tree over `leaves` (their data, hashed here with the leaf prefix).
    pub fn from_leaves<T: AsRef<[u8]>>(alg: HashAlgorithm, leaves: &[T]) -> Self {
        let hashes = leaves.iter().map(|l| leaf_hash(alg, l.as_ref())).collect();
        Self::from_leaf_hashes(alg, hashes)
    }

    /// Build the tree over leaf hashes already computed with [`leaf_hash`].
    pub fn from_leaf_hashes(alg: HashAlgorithm, leaf_hashes: Vec<Hash>) -> Self {
        let mut levels = vec![leaf_hashes];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let prev = levels.last().map(Vec::as_slice).unwrap_or_default();
            let next = prev
                .chunks(2)
                .map(|pair| match pair {
                    [l, r] => node_hash(alg, l, r),
                    // An odd node at the end of a level moves up unchanged.
                    _ => pair[0],
                })
                .collect();
            levels.push(next);
        }
        MerkleTree { alg, levels }
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        match self.levels.last().and_then(|l| l.first()) {
            Some(root) => *root,
            None => self.alg.digest(b""),
        }
    }

    /// An inclusion proof for leaf `index`, or `None` if out of range.
    pub fn prove(&self, index: usize) -> Option<InclusionProof> {
        if index >= self.len() {
            return None;
        }
        let mut path = Vec::new();
        let mut i = index;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = i ^ 1;
            if sibling < level.len() {
                path.push(level[sibling]);
            }
            i /= 2;
        }
        Some(InclusionProof {
            leaf_index: index as u64,
            tree_size: self.len() as u64,
            path,
        })
    }
}

/// Root of the tree over `leaves`, without keeping the levels.
pub fn root<T: AsRef<[u8]>>(alg: HashAlgorithm, leaves: &[T]) -> Hash {
    MerkleTree::from_leaves(alg, leaves).root()
}

/// Proof that a leaf sits at `leaf_index` in a tree of `tree_size` leaves with a given root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Sibling hashes from the leaf level up.
    pub path: Vec<Hash>,
}

impl InclusionProof {
    /// Check that `leaf_data` is the leaf at `leaf_index` of the tree with root `root`.
    pub fn verify(&self, alg: HashAlgorithm, root: &Hash, leaf_data: &[u8]) -> bool {
        self.verify_leaf_hash(alg, root, &leaf_hash(alg, leaf_data))
    }

    /// As [`verify`](Self::verify), given the leaf's hash.
    pub fn verify_leaf_hash(&self, alg: HashAlgorithm, root: &Hash, leaf: &Hash) -> bool {
        if self.leaf_index >= self.tree_size {
            return false;
        }
        let mut acc = *leaf;
        let mut index = self.leaf_index;
        let mut size = self.tree_size;
        let mut path = self.path.iter();
        while size > 1 {
            let sibling = index ^ 1;
            if sibling < size {
                let Some(s) = path.next() else {
                    return false;
                };
                acc = if index.is_multiple_of(2) {
                    node_hash(alg, &acc, s)
                } else {
                    node_hash(alg, s, &acc)
                };
            }
            index /= 2;
            size = size.div_ceil(2);
        }
        path.next().is_none() && acc == *root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962's recursive definition, as an independent reference.
    fn reference_root(alg: HashAlgorithm, leaves: &[Vec<u8>]) -> Hash {
        match leaves.len() {
            0 => alg.digest(b""),
            1 => leaf_hash(alg, &leaves[0]),
            n => {
                // The largest power of two strictly below n.
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                let l = reference_root(alg, &leaves[..k]);
                let r = reference_root(alg, &leaves[k..]);
                node_hash(alg, &l, &r)
            }
        }
    }

    fn leaves(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("tx-{i}").into_bytes()).collect()
    }

    #[test]
    fn root_matches_rfc6962_definition() {
        for alg in [HashAlgorithm::Sm3, HashAlgorithm::Sha256] {
            for n in 0..40 {
                let l = leaves(n);
                assert_eq!(root(alg, &l), reference_root(alg, &l), "n = {n}");
            }
        }
    }

    // RFC 6962 / CT test data: the root of the 8 well-known leaves under SHA-256.
    #[test]
    fn rfc6962_known_root() {
        let data: Vec<Vec<u8>> = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| hex::decode(h).unwrap())
        .collect();
        assert_eq!(
            root(HashAlgorithm::Sha256, &data).to_hex(),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
    }

    #[test]
    fn every_leaf_proves_and_nothing_else_does() {
        for alg in [HashAlgorithm::Sm3, HashAlgorithm::Sha256] {
            for n in 1..34 {
                let l = leaves(n);
                let tree = MerkleTree::from_leaves(alg, &l);
                let r = tree.root();
                for (i, leaf) in l.iter().enumerate() {
                    let proof = tree.prove(i).unwrap();
                    assert!(proof.verify(alg, &r, leaf), "n={n} i={i}");
                    assert!(!proof.verify(alg, &r, b"other"));
                    let mut moved = proof.clone();
                    moved.leaf_index = (i as u64 + 1) % n as u64;
                    if n > 1 {
                        assert!(!moved.verify(alg, &r, leaf));
                    }
                    let mut extra = proof.clone();
                    extra.path.push(r);
                    assert!(!extra.verify(alg, &r, leaf));
                    let mut resized = proof.clone();
                    resized.tree_size += 1;
                    // A different size only verifies if the path shape happens to agree; the
                    // root must never verify for a leaf beyond the size.
                    resized.leaf_index = resized.tree_size;
                    assert!(!resized.verify(alg, &r, leaf));
                }
                assert!(tree.prove(n).is_none());
            }
        }
    }

    #[test]
    fn proof_serializes() {
        let tree = MerkleTree::from_leaves(HashAlgorithm::Sm3, &leaves(5));
        let proof = tree.prove(3).unwrap();
        let json = serde_json::to_string(&proof).unwrap();
        let back: InclusionProof = serde_json::from_str(&json).unwrap();
        assert_eq!(back, proof);
    }
}
