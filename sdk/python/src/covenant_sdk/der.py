"""Just enough DER and PEM to read certificates, PKCS#8 keys and (r, s) signatures.

Reading is strict: definite minimal lengths, no trailing bytes. Only low tag numbers (below
31) are read, which is all that certificates and keys use.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

__all__ = [
    "BIT_STRING",
    "INTEGER",
    "NULL",
    "OCTET_STRING",
    "OID",
    "SEQUENCE",
    "DerError",
    "Tlv",
    "bit_string_bytes",
    "decode_integer",
    "decode_oid",
    "encode_integer",
    "encode_tlv",
    "parse",
    "parse_all",
    "pem_blocks",
    "pem_encode",
]

INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
SEQUENCE = 0x30


class DerError(ValueError):
    """Bytes that are not the DER expected."""


@dataclass(frozen=True)
class Tlv:
    """One DER element: its tag byte, its content, and the whole encoding."""

    tag: int
    value: bytes
    encoded: bytes

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def children(self) -> list[Tlv]:
        """The elements inside a constructed element."""
        if not self.constructed:
            raise DerError(f"tag 0x{self.tag:02x} is not constructed")
        return parse_all(self.value)

    def expect(self, tag: int, what: str) -> Tlv:
        if self.tag != tag:
            raise DerError(f"{what}: expected tag 0x{tag:02x}, found 0x{self.tag:02x}")
        return self


def _read(data: bytes, offset: int) -> tuple[Tlv, int]:
    start = offset
    if offset + 2 > len(data):
        raise DerError("truncated element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DerError("high tag numbers are not supported")
    first = data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError("indefinite length is not DER")
    else:
        count = first & 0x7F
        if count > 4 or offset + count > len(data):
            raise DerError("bad length")
        length = int.from_bytes(data[offset : offset + count], "big")
        if data[offset] == 0 or length < 0x80:
            raise DerError("length not in minimal form")
        offset += count
    end = offset + length
    if end > len(data):
        raise DerError("truncated element")
    return Tlv(tag, data[offset:end], data[start:end]), end


def parse(data: bytes) -> Tlv:
    """Exactly one element, with nothing after it."""
    tlv, end = _read(data, 0)
    if end != len(data):
        raise DerError(f"{len(data) - end} trailing bytes")
    return tlv


def parse_all(data: bytes) -> list[Tlv]:
    """Every element of a concatenation."""
    out = []
    offset = 0
    while offset < len(data):
        tlv, offset = _read(data, offset)
        out.append(tlv)
    return out


def decode_integer(tlv: Tlv, *, non_negative: bool = True) -> int:
    """An INTEGER in minimal form."""
    tlv.expect(INTEGER, "integer")
    v = tlv.value
    if not v:
        raise DerError("empty integer")
    if len(v) > 1 and (
        (v[0] == 0x00 and v[1] < 0x80) or (v[0] == 0xFF and v[1] >= 0x80)
    ):
        raise DerError("integer not in minimal form")
    n = int.from_bytes(v, "big", signed=True)
    if non_negative and n < 0:
        raise DerError("negative integer")
    return n


def decode_oid(tlv: Tlv) -> str:
    """An OBJECT IDENTIFIER in dotted form."""
    tlv.expect(OID, "object identifier")
    v = tlv.value
    if not v or v[-1] & 0x80:
        raise DerError("bad object identifier")
    arcs: list[int] = []
    n = 0
    fresh = True
    for b in v:
        if fresh and b == 0x80:
            raise DerError("object identifier arc not in minimal form")
        n = (n << 7) | (b & 0x7F)
        fresh = not b & 0x80
        if fresh:
            arcs.append(n)
            n = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def bit_string_bytes(tlv: Tlv) -> bytes:
    """The bytes of a BIT STRING with no unused bits."""
    tlv.expect(BIT_STRING, "bit string")
    if not tlv.value or tlv.value[0] != 0:
        raise DerError("bit string with unused bits")
    return tlv.value[1:]


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode_tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def encode_integer(n: int) -> bytes:
    """A non-negative INTEGER in minimal form."""
    if n < 0:
        raise ValueError("only non-negative integers are encoded here")
    body = n.to_bytes(n.bit_length() // 8 + 1, "big")
    return encode_tlv(INTEGER, body)


_PEM = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL
)


def pem_blocks(text: str) -> list[tuple[str, bytes]]:
    """Every PEM block of ``text``: (label, DER)."""
    out = []
    for m in _PEM.finditer(text):
        body = re.sub(r"\s+", "", m.group(2))
        try:
            out.append((m.group(1), base64.b64decode(body, validate=True)))
        except (binascii.Error, ValueError) as e:
            raise DerError(f"PEM block {m.group(1)!r}: bad base64 ({e})") from e
    return out


def pem_block(text: str, label: str) -> bytes:
    """The DER of the first PEM block of ``text`` labelled ``label`` (``DerError`` naming the
    labels found when there is none)."""
    blocks = pem_blocks(text)
    for found, data in blocks:
        if found == label:
            return data
    labels = ", ".join(found for found, _ in blocks) or "none"
    raise DerError(f"no {label} PEM block (found: {labels})")


def pem_encode(label: str, der: bytes) -> str:
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"
