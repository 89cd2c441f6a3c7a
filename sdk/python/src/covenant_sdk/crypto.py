"""Hashes, keys, certificates and signatures of Covenant's two algorithm suites.

- ``sm``: SM3 hashes, SM2 signatures with SM3 and the default distinguishing ID
  ``1234567812345678`` (GB/T 32918; the digest covers the signer's Z value), DER-encoded
  ``SEQUENCE {r INTEGER, s INTEGER}``.
- ``intl``: SHA-256 hashes; ECDSA P-256 with SHA-256 (DER-encoded) or Ed25519 (64 raw bytes).

SM2 and SM3 come from the pure-Python ``gmalg`` package; P-256 and Ed25519 from
``cryptography``. SM2 keys and certificates are read with this package's own DER reader, since
``cryptography`` does not load them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Literal, TypeVar, cast

import gmalg  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from . import der
from .errors import CryptoError

__all__ = [
    "SM2_DEFAULT_ID",
    "Certificate",
    "HashAlgorithm",
    "KeyAlgorithm",
    "PrivateKey",
    "PublicKey",
    "Suite",
    "decode_signature",
    "digest",
    "encode_signature",
    "hash_algorithm_of",
    "sha256",
    "sm3",
    "suite_hash",
    "suite_of",
]

Suite = Literal["sm", "intl"]
HashAlgorithm = Literal["sm3", "sha256"]
KeyAlgorithm = Literal["sm2", "p256", "ed25519"]

SM2_DEFAULT_ID = b"1234567812345678"

_OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_OID_P256 = "1.2.840.10045.3.1.7"
_OID_SM2 = "1.2.156.10197.1.301"
_OID_ED25519 = "1.3.101.112"

_SM2_N = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123
_P256_N = 0xFFFFFFFF_00000000_FFFFFFFF_FFFFFFFF_BCE6FAAD_A7179E84_F3B9CAC2_FC632551


# ---------------------------------------------------------------------------------- hashes


def sm3(data: bytes) -> bytes:
    """The SM3 digest (32 bytes) of ``data``."""
    h = gmalg.SM3()
    h.update(bytes(data))
    return bytes(h.value())


def sha256(data: bytes) -> bytes:
    """The SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


def digest(algorithm: str, data: bytes) -> bytes:
    """The digest of ``data`` under ``sm3`` or ``sha256``."""
    if algorithm == "sm3":
        return sm3(data)
    if algorithm == "sha256":
        return sha256(data)
    raise CryptoError("UNSUPPORTED_ALGORITHM", f"unknown hash algorithm {algorithm!r}")


def hash_algorithm_of(suite: str) -> HashAlgorithm:
    """The hash of a suite: ``sm`` → ``sm3``, ``intl`` → ``sha256``."""
    if suite == "sm":
        return "sm3"
    if suite == "intl":
        return "sha256"
    raise CryptoError("UNSUPPORTED_ALGORITHM", f"unknown suite {suite!r} (sm or intl)")


def suite_hash(suite: str, data: bytes) -> bytes:
    """The suite's hash of ``data`` (transaction ids, accounts, Merkle trees)."""
    return digest(hash_algorithm_of(suite), data)


def suite_of(algorithm: KeyAlgorithm) -> Suite:
    """The suite a key algorithm belongs to."""
    return "sm" if algorithm == "sm2" else "intl"


# ------------------------------------------------------------------------------ signatures


def encode_signature(r: int, s: int) -> bytes:
    """``SEQUENCE {r INTEGER, s INTEGER}`` in DER."""
    return der.encode_tlv(der.SEQUENCE, der.encode_integer(r) + der.encode_integer(s))


def decode_signature(signature: bytes) -> tuple[int, int]:
    """``(r, s)`` from strict DER (minimal, positive, at most 32 bytes each, nothing after)."""
    try:
        seq = der.parse(signature).expect(der.SEQUENCE, "signature")
        items = seq.children()
        if len(items) != 2:
            raise der.DerError("expected two integers")
        r, s = (der.decode_integer(i) for i in items)
    except der.DerError as e:
        raise CryptoError("SIGNATURE_MALFORMED", f"not a DER (r, s) value: {e}") from e
    if r.bit_length() > 256 or s.bit_length() > 256:
        raise CryptoError("SIGNATURE_MALFORMED", "integer longer than 32 bytes")
    return r, s


def _sm2_point_valid(point: bytes) -> bool:
    if len(point) != 65 or point[0] != 0x04:
        return False
    try:
        return bool(gmalg.SM2().verify_pk(point))
    except Exception:  # gmalg raises its own errors for points off the curve
        return False


def _sm2_verify(point: bytes, message: bytes, r: int, s: int) -> bool:
    if not (1 <= r < _SM2_N and 1 <= s < _SM2_N):
        return False
    try:
        ok = gmalg.SM2(pk=point, uid=SM2_DEFAULT_ID).verify(
            bytes(message), r.to_bytes(32, "big"), s.to_bytes(32, "big")
        )
    except Exception:  # a degenerate point on the way: not a valid signature
        return False
    return bool(ok)


# ------------------------------------------------------------------------------------ keys


class PublicKey:
    """A public key: SM2 or P-256 (SEC1 uncompressed point) or Ed25519 (32 raw bytes)."""

    def __init__(self, algorithm: KeyAlgorithm, data: bytes) -> None:
        self.algorithm: KeyAlgorithm = algorithm
        self._p256: ec.EllipticCurvePublicKey | None = None
        self._ed25519: ed25519.Ed25519PublicKey | None = None
        data = bytes(data)
        if algorithm == "sm2":
            if not _sm2_point_valid(data):
                raise CryptoError("KEY_INVALID", "not an SM2 public key (65-byte point on the curve)")
        elif algorithm == "p256":
            try:
                self._p256 = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
            except ValueError as e:
                raise CryptoError("KEY_INVALID", f"not a P-256 public key: {e}") from e
            data = self._p256.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        elif algorithm == "ed25519":
            try:
                self._ed25519 = ed25519.Ed25519PublicKey.from_public_bytes(data)
            except ValueError as e:
                raise CryptoError("KEY_INVALID", f"not an Ed25519 public key: {e}") from e
        else:
            raise CryptoError("UNSUPPORTED_ALGORITHM", f"unknown key algorithm {algorithm!r}")
        self._data = data

    @property
    def suite(self) -> Suite:
        return suite_of(self.algorithm)

    def to_bytes(self) -> bytes:
        """SEC1 uncompressed ``04||x||y`` for SM2 and P-256, 32 raw bytes for Ed25519."""
        return self._data

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's over ``message``; malformed ones are ``False``."""
        if self.algorithm == "ed25519":
            if len(signature) != 64 or self._ed25519 is None:
                return False
            try:
                self._ed25519.verify(bytes(signature), bytes(message))
            except InvalidSignature:
                return False
            return True
        try:
            r, s = decode_signature(signature)
        except CryptoError:
            return False
        if self.algorithm == "sm2":
            return _sm2_verify(self._data, message, r, s)
        if not (1 <= r < _P256_N and 1 <= s < _P256_N) or self._p256 is None:
            return False
        try:
            self._p256.verify(encode_dss_signature(r, s), bytes(message), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PublicKey)
            and other.algorithm == self.algorithm
            and other._data == self._data
        )

    def __hash__(self) -> int:
        return hash((self.algorithm, self._data))

    def __repr__(self) -> str:
        return f"PublicKey({self.algorithm}, {self._data.hex()})"


def _algorithm_of(alg_id: der.Tlv, what: str) -> KeyAlgorithm:
    """The key algorithm named by an AlgorithmIdentifier."""
    items = alg_id.expect(der.SEQUENCE, what).children()
    if not items:
        raise der.DerError(f"{what}: empty algorithm identifier")
    oid = der.decode_oid(items[0])
    if oid == _OID_ED25519:
        return "ed25519"
    if oid == _OID_EC_PUBLIC_KEY:
        if len(items) < 2 or items[1].tag != der.OID:
            raise der.DerError(f"{what}: an EC key without a named curve")
        curve = der.decode_oid(items[1])
        if curve == _OID_SM2:
            return "sm2"
        if curve == _OID_P256:
            return "p256"
        raise CryptoError("UNSUPPORTED_ALGORITHM", f"{what}: unsupported curve {curve}")
    raise CryptoError("UNSUPPORTED_ALGORITHM", f"{what}: unsupported key algorithm {oid}")


class PrivateKey:
    """A private key that signs with its algorithm's scheme."""

    def __init__(
        self,
        algorithm: KeyAlgorithm,
        *,
        sm2_secret: int | None = None,
        p256: ec.EllipticCurvePrivateKey | None = None,
        ed25519_key: ed25519.Ed25519PrivateKey | None = None,
    ) -> None:
        self.algorithm: KeyAlgorithm = algorithm
        self._sm2 = sm2_secret
        self._p256 = p256
        self._ed25519 = ed25519_key
        if algorithm == "sm2":
            if sm2_secret is None or not 1 <= sm2_secret < _SM2_N - 1:
                raise CryptoError("KEY_INVALID", "SM2 secret out of range")
            point = bytes(gmalg.SM2().generate_pk(sm2_secret.to_bytes(32, "big")))
            self.public_key = PublicKey("sm2", point)
        elif algorithm == "p256" and p256 is not None:
            if not isinstance(p256.curve, ec.SECP256R1):
                raise CryptoError("UNSUPPORTED_ALGORITHM", f"curve {p256.curve.name} is not P-256")
            self.public_key = PublicKey(
                "p256",
                p256.public_key().public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
                ),
            )
        elif algorithm == "ed25519" and ed25519_key is not None:
            self.public_key = PublicKey(
                "ed25519",
                ed25519_key.public_key().public_bytes(
                    serialization.Encoding.Raw, serialization.PublicFormat.Raw
                ),
            )
        else:
            raise CryptoError("KEY_INVALID", f"no {algorithm} key given")

    @property
    def suite(self) -> Suite:
        return suite_of(self.algorithm)

    @classmethod
    def generate(cls, algorithm: KeyAlgorithm) -> PrivateKey:
        """A fresh random key."""
        if algorithm == "sm2":
            sk, _ = gmalg.SM2().generate_keypair()
            return cls("sm2", sm2_secret=int.from_bytes(sk, "big"))
        if algorithm == "p256":
            return cls("p256", p256=ec.generate_private_key(ec.SECP256R1()))
        if algorithm == "ed25519":
            return cls("ed25519", ed25519_key=ed25519.Ed25519PrivateKey.generate())
        raise CryptoError("UNSUPPORTED_ALGORITHM", f"unknown key algorithm {algorithm!r}")

    @classmethod
    def from_pkcs8_der(cls, data: bytes) -> PrivateKey:
        """A PKCS#8 ``PrivateKeyInfo`` (SM2, P-256 or Ed25519)."""
        try:
            items = der.parse(data).expect(der.SEQUENCE, "PKCS#8").children()
            if len(items) < 3:
                raise der.DerError("PKCS#8: too few fields")
            version = der.decode_integer(items[0])
            if version not in (0, 1):
                raise der.DerError(f"PKCS#8: version {version}")
            algorithm = _algorithm_of(items[1], "PKCS#8")
            if algorithm == "sm2":
                return cls._sm2_from_ec_private_key(
                    items[2].expect(der.OCTET_STRING, "PKCS#8 private key").value
                )
        except der.DerError as e:
            raise CryptoError("KEY_INVALID", f"not a PKCS#8 private key: {e}") from e
        try:
            key = serialization.load_der_private_key(data, password=None)
        except (ValueError, TypeError) as e:
            raise CryptoError("KEY_INVALID", f"not a PKCS#8 private key: {e}") from e
        if algorithm == "p256" and isinstance(key, ec.EllipticCurvePrivateKey):
            return cls("p256", p256=key)
        if algorithm == "ed25519" and isinstance(key, ed25519.Ed25519PrivateKey):
            return cls("ed25519", ed25519_key=key)
        raise CryptoError("KEY_INVALID", f"the key is not the {algorithm} key its header names")

    @classmethod
    def _sm2_from_ec_private_key(cls, data: bytes) -> PrivateKey:
        # ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING,
        #                             [0] parameters OPTIONAL, [1] publicKey BIT STRING OPTIONAL }
        items = der.parse(data).expect(der.SEQUENCE, "ECPrivateKey").children()
        if len(items) < 2 or der.decode_integer(items[0]) != 1:
            raise der.DerError("ECPrivateKey: bad version")
        secret = items[1].expect(der.OCTET_STRING, "ECPrivateKey secret").value
        if len(secret) != 32:
            raise der.DerError("ECPrivateKey: the SM2 secret is not 32 bytes")
        public: bytes | None = None
        for extra in items[2:]:
            if extra.tag == 0xA0:
                inner = der.parse(extra.value)
                if der.decode_oid(inner) != _OID_SM2:
                    raise der.DerError("ECPrivateKey: parameters name another curve")
            elif extra.tag == 0xA1:
                public = der.bit_string_bytes(der.parse(extra.value))
            else:
                raise der.DerError(f"ECPrivateKey: unexpected tag 0x{extra.tag:02x}")
        key = cls("sm2", sm2_secret=int.from_bytes(secret, "big"))
        if public is not None and public != key.public_key.to_bytes():
            raise CryptoError("KEY_INVALID", "the SM2 key's public part is not its secret's")
        return key

    @classmethod
    def from_pkcs8_pem(cls, text: str) -> PrivateKey:
        """A ``-----BEGIN PRIVATE KEY-----`` block (PKCS#8)."""
        try:
            data = der.pem_block(text, "PRIVATE KEY")
        except der.DerError as e:
            raise CryptoError("KEY_INVALID", str(e)) from e
        return cls.from_pkcs8_der(data)

    @classmethod
    def load(cls, path: str | Path) -> PrivateKey:
        """A PKCS#8 PEM file."""
        return _load_pem_file(path, "KEY_INVALID", cls.from_pkcs8_pem)

    def to_pkcs8_pem(self) -> str:
        """The key as a PKCS#8 PEM block."""
        if self._p256 is not None or self._ed25519 is not None:
            key = self._p256 if self._p256 is not None else self._ed25519
            assert key is not None
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")
        assert self._sm2 is not None
        oid = _encode_oid
        ec_key = der.encode_tlv(
            der.SEQUENCE,
            der.encode_integer(1)
            + der.encode_tlv(der.OCTET_STRING, self._sm2.to_bytes(32, "big"))
            + der.encode_tlv(
                0xA1, der.encode_tlv(der.BIT_STRING, b"\x00" + self.public_key.to_bytes())
            ),
        )
        info = der.encode_tlv(
            der.SEQUENCE,
            der.encode_integer(0)
            + der.encode_tlv(der.SEQUENCE, oid(_OID_EC_PUBLIC_KEY) + oid(_OID_SM2))
            + der.encode_tlv(der.OCTET_STRING, ec_key),
        )
        return der.pem_encode("PRIVATE KEY", info)

    def sign(self, message: bytes) -> bytes:
        """The signature over ``message``: DER (r, s) for SM2 and P-256, 64 bytes for Ed25519."""
        message = bytes(message)
        if self._sm2 is not None:
            signer = gmalg.SM2(
                sk=self._sm2.to_bytes(32, "big"),
                uid=SM2_DEFAULT_ID,
                pk=self.public_key.to_bytes(),
            )
            r, s = cast("tuple[bytes, bytes]", signer.sign(message))
            return encode_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
        if self._p256 is not None:
            return self._p256.sign(message, ec.ECDSA(hashes.SHA256()))
        assert self._ed25519 is not None
        return self._ed25519.sign(message)

    def __repr__(self) -> str:
        return f"PrivateKey({self.algorithm}, public {self.public_key.to_bytes().hex()})"


def _encode_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for n in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [n & 0x7F]
        n >>= 7
        while n:
            chunk.append(0x80 | (n & 0x7F))
            n >>= 7
        body.extend(reversed(chunk))
    return der.encode_tlv(der.OID, bytes(body))


# ---------------------------------------------------------------------------- certificates


class Certificate:
    """An X.509 certificate: its DER (what a transaction names its sender by) and public key."""

    def __init__(self, data: bytes) -> None:
        data = bytes(data)
        try:
            cert = der.parse(data).expect(der.SEQUENCE, "certificate").children()
            if len(cert) != 3:
                raise der.DerError("a certificate has three parts")
            tbs = cert[0].expect(der.SEQUENCE, "tbsCertificate").children()
            first = 1 if tbs and tbs[0].tag == 0xA0 else 0
            if len(tbs) < first + 6:
                raise der.DerError("tbsCertificate: too few fields")
            spki = tbs[first + 5].expect(der.SEQUENCE, "subjectPublicKeyInfo").children()
            if len(spki) != 2:
                raise der.DerError("subjectPublicKeyInfo has two parts")
            algorithm = _algorithm_of(spki[0], "subjectPublicKeyInfo")
            key_bytes = der.bit_string_bytes(spki[1])
        except der.DerError as e:
            raise CryptoError("CERTIFICATE_INVALID", f"not an X.509 certificate: {e}") from e
        self.der = data
        try:
            self.public_key = PublicKey(algorithm, key_bytes)
        except CryptoError as e:
            raise CryptoError("CERTIFICATE_INVALID", f"the certificate's key: {e.message}") from e

    @property
    def algorithm(self) -> KeyAlgorithm:
        return self.public_key.algorithm

    @property
    def suite(self) -> Suite:
        return self.public_key.suite

    @classmethod
    def from_pem(cls, text: str) -> Certificate:
        """The first ``-----BEGIN CERTIFICATE-----`` block of ``text``."""
        try:
            return cls(der.pem_block(text, "CERTIFICATE"))
        except der.DerError as e:
            raise CryptoError("CERTIFICATE_INVALID", str(e)) from e

    @classmethod
    def load(cls, path: str | Path) -> Certificate:
        """A PEM file."""
        return _load_pem_file(path, "CERTIFICATE_INVALID", cls.from_pem)

    def to_pem(self) -> str:
        return der.pem_encode("CERTIFICATE", self.der)

    def hash(self, suite: str | None = None) -> bytes:
        """The suite hash of the DER (by default the suite of the certificate's own key): how
        a sender is named by hash, and the account contracts see."""
        return suite_hash(suite or self.suite, self.der)

    def account(self, suite: str | None = None) -> str:
        """:meth:`hash` in hex."""
        return self.hash(suite).hex()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Certificate) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"Certificate({self.algorithm}, {self.account()[:16]}…)"


_T = TypeVar("_T")


def _load_pem_file(path: str | Path, code: str, parse: Callable[[str], _T]) -> _T:
    """Read a PEM file and parse it; errors name the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CryptoError(code, f"{path}: {e}") from e
    try:
        return parse(text)
    except CryptoError as e:
        raise CryptoError(e.code, f"{path}: {e.message}") from e
