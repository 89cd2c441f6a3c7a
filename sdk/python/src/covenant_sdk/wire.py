"""The protobuf messages of a transaction (``proto/covenant/v1/types.proto``), encoded as
``prost`` encodes them, so that payload bytes (which are signed and hashed) match the node's.

Proto3 rules: fields in field-number order; a field at its default (empty string or bytes, 0,
an absent message) is not written; a member of a oneof is written whenever it is set, even to
empty bytes; a message field that is set is written even when its encoding is empty.

Decoding skips unknown fields, as ``prost`` does, and refuses malformed input with
:class:`~covenant_sdk.errors.EncodingError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .errors import EncodingError

__all__ = [
    "Endorsement",
    "Sender",
    "Transaction",
    "TxPayload",
    "decode_varint",
    "encode_varint",
]

_VARINT = 0
_FIXED64 = 1
_LEN = 2
_FIXED32 = 5
_U64_MAX = (1 << 64) - 1


def encode_varint(n: int) -> bytes:
    """An unsigned LEB128 varint (at most 64 bits)."""
    if n < 0 or n > _U64_MAX:
        raise ValueError(f"{n} is not a u64")
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def decode_varint(data: bytes, offset: int) -> tuple[int, int]:
    """A varint at ``offset``: (value, offset after it)."""
    n = 0
    for i in range(10):
        if offset + i >= len(data):
            raise EncodingError("truncated varint")
        b = data[offset + i]
        n |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            if n > _U64_MAX:
                raise EncodingError("varint overflows 64 bits")
            return n, offset + i + 1
    raise EncodingError("varint longer than 10 bytes")


def _key(number: int, wire_type: int) -> bytes:
    return encode_varint((number << 3) | wire_type)


def _u64(number: int, value: int) -> bytes:
    if value == 0:
        return b""
    return _key(number, _VARINT) + encode_varint(value)


def _bytes(number: int, value: bytes, *, always: bool = False) -> bytes:
    if not value and not always:
        return b""
    return _key(number, _LEN) + encode_varint(len(value)) + value


def _string(number: int, value: str) -> bytes:
    return _bytes(number, value.encode("utf-8"))


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of every field; unknown wire types are refused."""
    data = bytes(data)
    offset = 0
    while offset < len(data):
        key, offset = decode_varint(data, offset)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise EncodingError("field number 0")
        if wire_type == _VARINT:
            value, offset = decode_varint(data, offset)
            yield number, wire_type, value
        elif wire_type == _LEN:
            length, offset = decode_varint(data, offset)
            if offset + length > len(data):
                raise EncodingError("truncated length-delimited field")
            yield number, wire_type, data[offset : offset + length]
            offset += length
        elif wire_type in (_FIXED64, _FIXED32):
            size = 8 if wire_type == _FIXED64 else 4
            if offset + size > len(data):
                raise EncodingError("truncated fixed-size field")
            yield number, wire_type, int.from_bytes(data[offset : offset + size], "little")
            offset += size
        else:
            raise EncodingError(f"unsupported wire type {wire_type}")


def _want_len(number: int, wire_type: int, value: int | bytes, what: str) -> bytes:
    if wire_type != _LEN or not isinstance(value, bytes):
        raise EncodingError(f"{what} (field {number}): wrong wire type {wire_type}")
    return value


def _want_varint(number: int, wire_type: int, value: int | bytes, what: str) -> int:
    if wire_type != _VARINT or not isinstance(value, int):
        raise EncodingError(f"{what} (field {number}): wrong wire type {wire_type}")
    return value


def _text(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EncodingError(f"{what}: invalid UTF-8") from e


@dataclass(frozen=True)
class TxPayload:
    """What a transaction asks for; its encoding is what is signed and hashed."""

    chain_id: str = ""
    nonce: bytes = b""
    timestamp_ms: int = 0
    expiry_ms: int = 0
    contract: str = ""
    method: str = ""
    args: bytes = b""
    gas_limit: int = 0

    def encode(self) -> bytes:
        return b"".join(
            [
                _string(1, self.chain_id),
                _bytes(2, self.nonce),
                _u64(3, self.timestamp_ms),
                _u64(4, self.expiry_ms),
                _string(5, self.contract),
                _string(6, self.method),
                _bytes(7, self.args),
                _u64(8, self.gas_limit),
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> TxPayload:
        text = {1: "", 5: "", 6: ""}
        raw = {2: b"", 7: b""}
        ints = {3: 0, 4: 0, 8: 0}
        for number, wt, value in _fields(data):
            if number in text:
                text[number] = _text(_want_len(number, wt, value, "text"), f"field {number}")
            elif number in raw:
                raw[number] = _want_len(number, wt, value, "bytes")
            elif number in ints:
                ints[number] = _want_varint(number, wt, value, "integer")
        return cls(
            chain_id=text[1],
            nonce=raw[2],
            timestamp_ms=ints[3],
            expiry_ms=ints[4],
            contract=text[5],
            method=text[6],
            args=raw[7],
            gas_limit=ints[8],
        )


@dataclass(frozen=True)
class Sender:
    """Who signed: a certificate (DER) or the suite hash of one (``oneof id``).

    At most one of the two is set; ``Sender()`` is a sender with no id.
    """

    certificate: bytes | None = None
    certificate_hash: bytes | None = None

    def __post_init__(self) -> None:
        if self.certificate is not None and self.certificate_hash is not None:
            raise ValueError("a sender is named by a certificate or by its hash, not both")

    def encode(self) -> bytes:
        if self.certificate is not None:
            return _bytes(1, self.certificate, always=True)
        if self.certificate_hash is not None:
            return _bytes(2, self.certificate_hash, always=True)
        return b""

    @classmethod
    def decode(cls, data: bytes) -> Sender:
        out = cls()
        for number, wt, value in _fields(data):
            if number == 1:
                out = cls(certificate=_want_len(number, wt, value, "certificate"))
            elif number == 2:
                out = cls(certificate_hash=_want_len(number, wt, value, "certificate_hash"))
        return out


@dataclass(frozen=True)
class Endorsement:
    """An extra signature over the same payload bytes."""

    signer: Sender | None = None
    signature: bytes = b""

    def encode(self) -> bytes:
        signer = b"" if self.signer is None else _bytes(1, self.signer.encode(), always=True)
        return signer + _bytes(2, self.signature)

    @classmethod
    def decode(cls, data: bytes) -> Endorsement:
        signer: Sender | None = None
        signature = b""
        for number, wt, value in _fields(data):
            if number == 1:
                signer = Sender.decode(_want_len(number, wt, value, "signer"))
            elif number == 2:
                signature = _want_len(number, wt, value, "signature")
        return cls(signer, signature)


@dataclass(frozen=True)
class Transaction:
    """A signed transaction: payload bytes, sender, signature, endorsements."""

    payload: bytes = b""
    sender: Sender | None = None
    signature: bytes = b""
    endorsements: tuple[Endorsement, ...] = field(default_factory=tuple)

    def encode(self) -> bytes:
        parts = [_bytes(1, self.payload)]
        if self.sender is not None:
            parts.append(_bytes(2, self.sender.encode(), always=True))
        parts.append(_bytes(3, self.signature))
        parts.extend(_bytes(4, e.encode(), always=True) for e in self.endorsements)
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes) -> Transaction:
        payload = b""
        sender: Sender | None = None
        signature = b""
        endorsements: list[Endorsement] = []
        for number, wt, value in _fields(data):
            if number == 1:
                payload = _want_len(number, wt, value, "payload")
            elif number == 2:
                sender = Sender.decode(_want_len(number, wt, value, "sender"))
            elif number == 3:
                signature = _want_len(number, wt, value, "signature")
            elif number == 4:
                endorsements.append(Endorsement.decode(_want_len(number, wt, value, "endorsement")))
        return cls(payload, sender, signature, tuple(endorsements))

    def payload_fields(self) -> TxPayload:
        """The payload, decoded."""
        return TxPayload.decode(self.payload)
