"""Merkle trees as the node builds them over a block's transactions (RFC 6962 hashing).

Leaves hash as ``H(0x00 || data)``, inner nodes as ``H(0x01 || left || right)``; a node left
without a partner at the end of a level moves up unchanged. ``H`` is the chain suite's hash
(``sm3`` or ``sha256``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .crypto import digest

__all__ = ["InclusionProof", "leaf_hash", "node_hash", "root"]

_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(algorithm: str, data: bytes) -> bytes:
    return digest(algorithm, _LEAF + bytes(data))


def node_hash(algorithm: str, left: bytes, right: bytes) -> bytes:
    return digest(algorithm, _NODE + bytes(left) + bytes(right))


def root(algorithm: str, leaves: Sequence[bytes]) -> bytes:
    """The root of the tree over ``leaves`` (their data); the empty tree's root is empty."""
    level = [leaf_hash(algorithm, leaf) for leaf in leaves]
    if not level:
        return b""
    while len(level) > 1:
        nxt = [node_hash(algorithm, level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


@dataclass(frozen=True)
class InclusionProof:
    """That a leaf is at ``leaf_index`` of a tree of ``tree_size`` leaves: the sibling hashes
    from the leaf up."""

    leaf_index: int
    tree_size: int
    path: tuple[bytes, ...] = field(default_factory=tuple)

    def verify(self, algorithm: str, root: bytes, leaf_data: bytes) -> bool:
        """Whether ``leaf_data`` is in the tree whose root is ``root``."""
        return self.verify_leaf_hash(algorithm, root, leaf_hash(algorithm, leaf_data))

    def verify_leaf_hash(self, algorithm: str, root: bytes, leaf: bytes) -> bool:
        """As :meth:`verify`, given the leaf's hash."""
        if self.leaf_index < 0 or self.leaf_index >= self.tree_size:
            return False
        acc = bytes(leaf)
        index = self.leaf_index
        size = self.tree_size
        path = iter(self.path)
        while size > 1:
            sibling = index ^ 1
            if sibling < size:
                step = next(path, None)
                if step is None:
                    return False
                acc = node_hash(algorithm, acc, step) if index % 2 == 0 else node_hash(
                    algorithm, step, acc
                )
            index //= 2
            size = (size + 1) // 2
        return next(path, None) is None and acc == bytes(root)
