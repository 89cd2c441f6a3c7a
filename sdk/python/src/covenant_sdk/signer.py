"""An identity that signs: a certificate and its private key."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .crypto import Certificate, KeyAlgorithm, PrivateKey, Suite
from .errors import CryptoError
from .tx import TxBuilder
from .wire import Endorsement, Sender, Transaction, TxPayload

__all__ = ["Signer"]


class Signer:
    """A certificate and the private key of its public key."""

    def __init__(self, certificate: Certificate, key: PrivateKey, name: str | None = None) -> None:
        if certificate.public_key != key.public_key:
            raise CryptoError(
                "KEY_MISMATCH", "the private key is not the key of the certificate"
            )
        self.certificate = certificate
        self.key = key
        self.name = name

    @classmethod
    def load(cls, cert: str | Path, key: str | Path, name: str | None = None) -> Signer:
        """PEM files: a certificate and a PKCS#8 private key that must match it."""
        c = Certificate.load(cert)
        k = PrivateKey.load(key)
        if c.public_key != k.public_key:
            raise CryptoError("KEY_MISMATCH", f"{key} is not the key of {cert}")
        return cls(c, k, name)

    @property
    def algorithm(self) -> KeyAlgorithm:
        return self.key.algorithm

    @property
    def suite(self) -> Suite:
        return self.key.suite

    def account(self, suite: str | None = None) -> str:
        """The account contracts see for this signer: the suite hash of the certificate."""
        return self.certificate.account(suite)

    def sender(self, *, by_hash: bool = False) -> Sender:
        """This signer as a transaction names it: by certificate DER or by its hash."""
        if by_hash:
            return Sender(certificate_hash=self.certificate.hash())
        return Sender(certificate=self.certificate.der)

    def sign_bytes(self, message: bytes) -> bytes:
        """A signature over ``message``."""
        return self.key.sign(message)

    def endorse(self, payload: bytes | TxPayload) -> Endorsement:
        """An endorsement (extra signature) of encoded payload bytes."""
        data = _payload_bytes(payload)
        return Endorsement(signer=self.sender(), signature=self.key.sign(data))

    def transaction(
        self,
        payload: bytes | TxPayload | TxBuilder,
        endorsers: Iterable[Signer] = (),
        *,
        by_hash: bool = False,
    ) -> Transaction:
        """The signed transaction: this signer as sender, each endorser's signature added."""
        data = _payload_bytes(payload)
        return Transaction(
            payload=data,
            sender=self.sender(by_hash=by_hash),
            signature=self.key.sign(data),
            endorsements=tuple(e.endorse(data) for e in endorsers),
        )

    def sign(
        self,
        payload: bytes | TxPayload | TxBuilder,
        endorsers: Iterable[Signer] = (),
        *,
        by_hash: bool = False,
    ) -> bytes:
        """The encoded signed transaction, ready to submit."""
        return self.transaction(payload, endorsers, by_hash=by_hash).encode()

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"Signer({self.algorithm}{label}, account {self.account()[:16]}…)"


def _payload_bytes(payload: bytes | TxPayload | TxBuilder) -> bytes:
    if isinstance(payload, TxBuilder):
        return payload.build()
    if isinstance(payload, TxPayload):
        return payload.encode()
    return bytes(payload)
