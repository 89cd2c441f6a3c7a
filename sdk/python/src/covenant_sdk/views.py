"""What the node's REST API answers, as typed values.

Every parser checks the shape it reads and raises :class:`~covenant_sdk.errors.BadResponse`
when the node's answer is not what the API promises. Fields the SDK does not know are kept in
each value's ``raw`` (the JSON object as received).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from .errors import BadResponse
from .merkle import InclusionProof

__all__ = [
    "Block",
    "BlockMessage",
    "ChainInfo",
    "Event",
    "EventMessage",
    "Receipt",
    "Submitted",
    "TxResult",
    "TxSummary",
    "TxView",
]

_MISSING: Any = object()


class _Obj:
    """A JSON object being read, with what it is for error messages."""

    def __init__(self, value: Any, what: str) -> None:
        if not isinstance(value, dict):
            raise BadResponse(f"{what}: expected a JSON object, got {type(value).__name__}")
        self.value: dict[str, Any] = value
        self.what = what

    def _get(self, key: str, default: Any) -> Any:
        if key in self.value:
            return self.value[key]
        if default is _MISSING:
            raise BadResponse(f"{self.what}: missing {key!r}")
        return default

    def text(self, key: str, default: Any = _MISSING) -> str:
        v = self._get(key, default)
        if not isinstance(v, str):
            raise BadResponse(f"{self.what}: {key!r} must be a string")
        return v

    def opt_text(self, key: str) -> str | None:
        v = self.value.get(key)
        if v is not None and not isinstance(v, str):
            raise BadResponse(f"{self.what}: {key!r} must be a string")
        return v

    def num(self, key: str, default: Any = _MISSING) -> int:
        v = self._get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise BadResponse(f"{self.what}: {key!r} must be a non-negative integer")
        return v

    def opt_num(self, key: str) -> int | None:
        if self.value.get(key) is None:
            return None
        return self.num(key)

    def items(self, key: str, default: Any = _MISSING) -> list[Any]:
        v = self._get(key, default)
        if not isinstance(v, list):
            raise BadResponse(f"{self.what}: {key!r} must be a list")
        return v

    def get(self, key: str, default: Any = None) -> Any:
        return self.value.get(key, default)

    def child(self, key: str) -> _Obj:
        return _Obj(self._get(key, _MISSING), f"{self.what}.{key}")


def _hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError as e:
        raise BadResponse(f"{what}: not hex") from e


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise BadResponse(f"{what}: not base64") from e


@dataclass(frozen=True)
class Event:
    """An event a contract emitted."""

    contract: str
    topic: str
    data: Any

    @classmethod
    def parse(cls, value: Any, what: str = "event") -> Event:
        o = _Obj(value, what)
        return cls(o.text("contract"), o.text("topic"), o.get("data"))


def _events(values: list[Any], what: str) -> tuple[Event, ...]:
    return tuple(Event.parse(v, f"{what}[{i}]") for i, v in enumerate(values))


@dataclass(frozen=True)
class TxResult:
    """A call's outcome: ``code`` is ``OK`` or the failure's stable code; ``result`` is the
    contract's return value (JSON, or ``{"base64": ...}`` for bytes that are not JSON)."""

    code: str
    message: str = ""
    result: Any = None
    events: tuple[Event, ...] = ()
    gas_used: int = 0

    @property
    def ok(self) -> bool:
        return self.code == "OK"

    @classmethod
    def parse(cls, value: Any, what: str = "result") -> TxResult:
        o = _Obj(value, what)
        return cls(
            code=o.text("code"),
            message=o.text("message", ""),
            result=o.get("result"),
            events=_events(o.items("events", []), f"{what}.events"),
            gas_used=o.num("gas_used", 0),
        )


@dataclass(frozen=True)
class Submitted:
    """The answer to a submission: ``pending`` (admitted) or ``committed`` with its outcome."""

    tx_id: str
    status: str
    height: int | None = None
    index: int | None = None
    block_hash: str | None = None
    result: TxResult | None = None

    @property
    def committed(self) -> bool:
        return self.status == "committed"

    @classmethod
    def parse(cls, value: Any) -> Submitted:
        o = _Obj(value, "submission")
        status = o.text("status")
        if status not in ("pending", "committed"):
            raise BadResponse(f"submission: unknown status {status!r}")
        result = o.get("result")
        out = cls(
            tx_id=o.text("tx_id"),
            status=status,
            height=o.opt_num("height"),
            index=o.opt_num("index"),
            block_hash=o.opt_text("block_hash"),
            result=None if result is None else TxResult.parse(result, "submission.result"),
        )
        if out.committed and (out.height is None or out.result is None):
            raise BadResponse("submission: committed without a height or a result")
        return out


@dataclass(frozen=True)
class Receipt:
    """A committed transaction's outcome."""

    tx_id: str
    height: int
    index: int
    block_hash: str
    code: str
    message: str
    result: Any
    events: tuple[Event, ...]
    gas_used: int

    @property
    def ok(self) -> bool:
        return self.code == "OK"

    @classmethod
    def of(
        cls, tx_id: str, height: int, index: int, block_hash: str, result: TxResult
    ) -> Receipt:
        return cls(
            tx_id=tx_id,
            height=height,
            index=index,
            block_hash=block_hash,
            code=result.code,
            message=result.message,
            result=result.result,
            events=result.events,
            gas_used=result.gas_used,
        )


@dataclass(frozen=True)
class ChainInfo:
    """``GET /v1/chains/{chain}``."""

    chain_id: str
    height: int
    last_hash: str
    state_root: str
    suite: str
    consensus: str
    config_version: int
    txpool_size: int
    genesis_hash: str
    engine: Any = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, value: Any) -> ChainInfo:
        o = _Obj(value, "chain info")
        return cls(
            chain_id=o.text("chain_id"),
            height=o.num("height"),
            last_hash=o.text("last_hash"),
            state_root=o.text("state_root"),
            suite=o.text("suite"),
            consensus=o.text("consensus"),
            config_version=o.num("config_version"),
            txpool_size=o.num("txpool_size"),
            genesis_hash=o.text("genesis_hash"),
            engine=o.get("engine"),
            raw=o.value,
        )


@dataclass(frozen=True)
class TxSummary:
    """A transaction in a block listing."""

    tx_id: str
    contract: str
    method: str
    sender: str
    code: str
    gas_used: int

    @classmethod
    def parse(cls, value: Any, what: str) -> TxSummary:
        o = _Obj(value, what)
        return cls(
            tx_id=o.text("tx_id"),
            contract=o.text("contract"),
            method=o.text("method"),
            sender=o.text("sender"),
            code=o.text("code"),
            gas_used=o.num("gas_used"),
        )


def _summaries(values: list[Any], what: str) -> tuple[TxSummary, ...]:
    return tuple(TxSummary.parse(v, f"{what}[{i}]") for i, v in enumerate(values))


@dataclass(frozen=True)
class Block:
    """``GET /v1/chains/{chain}/blocks/{at}``."""

    chain_id: str
    height: int
    hash: str
    prev_hash: str
    timestamp_ms: int
    proposer: str
    tx_root: str
    results_root: str
    rwset_root: str
    dag_hash: str
    state_root: str
    config_version: int
    tx_count: int
    txs: tuple[TxSummary, ...]
    dag: tuple[tuple[int, ...], ...]
    committed_by: tuple[str, ...]
    raw_block: bytes | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, value: Any) -> Block:
        o = _Obj(value, "block")
        dag: list[tuple[int, ...]] = []
        for deps in o.items("dag", []):
            if not isinstance(deps, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) for d in deps
            ):
                raise BadResponse("block: 'dag' must be lists of indexes")
            dag.append(tuple(deps))
        committed_by = o.items("committed_by", [])
        if not all(isinstance(c, str) for c in committed_by):
            raise BadResponse("block: 'committed_by' must be strings")
        raw_block = o.opt_text("raw")
        return cls(
            chain_id=o.text("chain_id"),
            height=o.num("height"),
            hash=o.text("hash"),
            prev_hash=o.text("prev_hash"),
            timestamp_ms=o.num("timestamp_ms"),
            proposer=o.text("proposer"),
            tx_root=o.text("tx_root"),
            results_root=o.text("results_root"),
            rwset_root=o.text("rwset_root"),
            dag_hash=o.text("dag_hash"),
            state_root=o.text("state_root"),
            config_version=o.num("config_version"),
            tx_count=o.num("tx_count"),
            txs=_summaries(o.items("txs"), "block.txs"),
            dag=tuple(dag),
            committed_by=tuple(committed_by),
            raw_block=None if raw_block is None else _b64(raw_block, "block.raw"),
            raw=o.value,
        )


@dataclass(frozen=True)
class TxView:
    """``GET /v1/chains/{chain}/txs/{id}``: a committed transaction, its outcome, and the proof
    that its encoding (``raw``, the Merkle leaf) is under its block's ``tx_root``."""

    tx_id: str
    chain_id: str
    height: int
    index: int
    block_hash: str
    contract: str
    method: str
    args: Any
    timestamp_ms: int
    sender: str
    endorsements: int
    result: TxResult
    proof: InclusionProof
    tx_root: str
    raw_tx: bytes
    rwset: Any = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, value: Any) -> TxView:
        o = _Obj(value, "transaction")
        p = o.child("proof")
        path = p.items("path")
        if not all(isinstance(h, str) for h in path):
            raise BadResponse("transaction.proof: 'path' must be hex strings")
        proof = InclusionProof(
            leaf_index=p.num("leaf_index"),
            tree_size=p.num("tree_size"),
            path=tuple(_hex(h, "transaction.proof.path") for h in path),
        )
        return cls(
            tx_id=o.text("tx_id"),
            chain_id=o.text("chain_id"),
            height=o.num("height"),
            index=o.num("index"),
            block_hash=o.text("block_hash"),
            contract=o.text("contract"),
            method=o.text("method"),
            args=o.get("args"),
            timestamp_ms=o.num("timestamp_ms"),
            sender=o.text("sender"),
            endorsements=o.num("endorsements"),
            result=TxResult.parse(o.get("result"), "transaction.result"),
            proof=proof,
            tx_root=o.text("tx_root"),
            raw_tx=_b64(o.text("raw"), "transaction.raw"),
            rwset=o.get("rwset"),
            raw=o.value,
        )

    @property
    def receipt(self) -> Receipt:
        return Receipt.of(self.tx_id, self.height, self.index, self.block_hash, self.result)


@dataclass(frozen=True)
class BlockMessage:
    """A block delivered by a subscription."""

    height: int
    hash: str
    tx_count: int
    timestamp_ms: int
    txs: tuple[TxSummary, ...]

    @classmethod
    def parse(cls, o: _Obj) -> BlockMessage:
        return cls(
            height=o.num("height"),
            hash=o.text("hash"),
            tx_count=o.num("tx_count"),
            timestamp_ms=o.num("timestamp_ms"),
            txs=_summaries(o.items("txs", []), "block message.txs"),
        )


@dataclass(frozen=True)
class EventMessage:
    """A contract event delivered by a subscription."""

    height: int
    tx_id: str
    contract: str
    topic: str
    data: Any

    @classmethod
    def parse(cls, o: _Obj) -> EventMessage:
        return cls(
            height=o.num("height"),
            tx_id=o.text("tx_id"),
            contract=o.text("contract"),
            topic=o.text("topic"),
            data=o.get("data"),
        )
