"""Building transaction payloads, and transaction ids.

A transaction's id is its suite's hash of the exact payload bytes, in hex: SM3 on an ``sm``
chain, SHA-256 on an ``intl`` one.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from .crypto import suite_hash
from .wire import TxPayload

__all__ = ["Args", "TxBuilder", "TxPayload", "encode_args", "now_ms", "tx_id"]

#: Contract arguments: a JSON value (usually an object), or raw bytes sent as they are.
Args = Union[Mapping[str, Any], Sequence[Any], str, int, float, bool, None, bytes]


def now_ms() -> int:
    """Milliseconds since the Unix epoch by this machine's clock."""
    return time.time_ns() // 1_000_000


def encode_args(args: Args) -> bytes:
    """Arguments as payload bytes: bytes as they are, anything else as compact JSON (UTF-8)."""
    if isinstance(args, (bytes, bytearray, memoryview)):
        return bytes(args)
    return json.dumps(args, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def tx_id(suite: str, payload: bytes | TxPayload) -> str:
    """The id of a transaction with this payload on a chain of ``suite`` (``sm``/``intl``)."""
    data = payload.encode() if isinstance(payload, TxPayload) else bytes(payload)
    return suite_hash(suite, data).hex()


@dataclass
class TxBuilder:
    """A call of ``method`` on ``contract`` on chain ``chain_id``.

    ``nonce`` is 16 random bytes and ``timestamp_ms`` the current time unless set;
    ``expiry_ms`` and ``gas_limit`` of 0 mean none (the chain's limit).
    """

    chain_id: str
    contract: str
    method: str
    args: Args = field(default_factory=dict)
    nonce: bytes | None = None
    timestamp_ms: int | None = None
    expiry_ms: int = 0
    gas_limit: int = 0

    def payload(self) -> TxPayload:
        """The payload, with the nonce and time filled in where unset."""
        return TxPayload(
            chain_id=self.chain_id,
            nonce=self.nonce if self.nonce else secrets.token_bytes(16),
            timestamp_ms=self.timestamp_ms if self.timestamp_ms else now_ms(),
            expiry_ms=self.expiry_ms,
            contract=self.contract,
            method=self.method,
            args=encode_args(self.args),
            gas_limit=self.gas_limit,
        )

    def build(self) -> bytes:
        """The encoded payload (what is signed)."""
        return self.payload().encode()
