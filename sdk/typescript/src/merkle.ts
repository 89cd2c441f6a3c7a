/**
 * Merkle inclusion proofs as the node builds them: the tree of RFC 6962 (leaves hashed as
 * `H(0x00 || data)`, inner nodes as `H(0x01 || left || right)`), where an odd node at the end
 * of a level moves up unchanged.
 */

import { concat, equal, fromHex } from './bytes.js';
import { type HashAlgorithm, digest } from './crypto.js';

/** A proof as the node's API gives it (hex hashes). */
export interface InclusionProof {
  leaf_index: number;
  tree_size: number;
  path: string[];
}

export function leafHash(alg: HashAlgorithm, data: Uint8Array): Uint8Array {
  return digest(alg, concat(Uint8Array.of(0), data));
}

export function nodeHash(alg: HashAlgorithm, left: Uint8Array, right: Uint8Array): Uint8Array {
  return digest(alg, concat(Uint8Array.of(1), left, right));
}

/** Whether `leaf` is the leaf at `proof.leaf_index` of the tree whose root is `root`. */
export function verifyInclusion(alg: HashAlgorithm, root: Uint8Array, leaf: Uint8Array, proof: InclusionProof): boolean {
  const { leaf_index: index0, tree_size: size0 } = proof;
  if (!Number.isSafeInteger(index0) || !Number.isSafeInteger(size0) || index0 < 0 || index0 >= size0) return false;
  let acc = leafHash(alg, leaf);
  let index = index0;
  let size = size0;
  let next = 0;
  while (size > 1) {
    const sibling = index ^ 1;
    if (sibling < size) {
      const s = proof.path[next++];
      if (s === undefined) return false;
      let h: Uint8Array;
      try {
        h = fromHex(s);
      } catch {
        return false;
      }
      acc = index % 2 === 0 ? nodeHash(alg, acc, h) : nodeHash(alg, h, acc);
    }
    index = Math.floor(index / 2);
    size = Math.ceil(size / 2);
  }
  return next === proof.path.length && equal(acc, root);
}
