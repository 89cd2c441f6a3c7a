"""Transactions this SDK signs, for the Rust side to check as a node would
(``sdk/vectors/signed-python.json``, read by ``crates/client/sdk/tests/it/vectors.rs``).

With ``COVENANT_WRITE_VECTORS=1`` the file is written afresh (the payloads are fixed; the
signatures are new each time). Without it, the file in the repository is checked here: every
entry decodes, its payload is in canonical encoding, its id is right and every signature
verifies.
"""

from __future__ import annotations

import json
import os
from typing import Any

from conftest import VECTORS, read_vectors

from covenant_sdk import Certificate, Profile, Signer, Transaction, TxPayload, tx_id
from covenant_sdk.wire import Sender

FILE = VECTORS / "signed-python.json"

# (name, sender, endorsers, sender named by certificate hash)
CASES: list[tuple[str, str, tuple[str, ...], bool]] = [
    ("sm2 alone", "sm2-a", (), False),
    ("sm2 endorsed by sm2", "sm2-a", ("sm2-b",), False),
    ("sm2 sender by certificate hash", "sm2-a", (), True),
    ("p256 alone", "p256-a", (), False),
    ("p256 endorsed by p256 and ed25519", "p256-a", ("p256-b", "ed25519-a"), False),
    ("ed25519 alone", "ed25519-a", (), False),
]


def signers() -> dict[str, Signer]:
    profile = Profile.load(VECTORS / "profile.json")
    return {name: profile.signer(name) for name in profile.identities}


def payload_for(index: int, name: str) -> TxPayload:
    """A fixed payload per case, so the file changes only in its signatures."""
    args = {"key": f"python-{index}", "value": name, "note": "signé par le SDK Python – 签名"}
    return TxPayload(
        chain_id="main",
        nonce=bytes(range(0x40 + index, 0x50 + index)),
        timestamp_ms=1_764_547_200_000 + index,
        expiry_ms=1_764_547_260_000 if index % 2 else 0,
        contract="kv",
        method="put",
        args=json.dumps(args, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
        gas_limit=1_000_000 * index,
    )


def write() -> None:
    ids = signers()
    out = []
    for i, (name, sender, endorsers, by_hash) in enumerate(CASES):
        s = ids[sender]
        payload = payload_for(i, name)
        tx = s.sign(payload, [ids[e] for e in endorsers], by_hash=by_hash)
        out.append(
            {"name": name, "suite": s.suite, "tx_hex": tx.hex(), "tx_id": tx_id(s.suite, payload)}
        )
    FILE.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def resolve(sender: Sender | None, by_hash: dict[bytes, Certificate]) -> Certificate:
    assert sender is not None, "a transaction without a sender"
    if sender.certificate is not None:
        return Certificate(sender.certificate)
    assert sender.certificate_hash is not None, "a sender without an id"
    cert = by_hash.get(sender.certificate_hash)
    assert cert is not None, "an unknown certificate hash"
    return cert


def test_what_this_sdk_signs_verifies() -> None:
    if os.environ.get("COVENANT_WRITE_VECTORS") == "1":
        write()
    assert FILE.exists(), f"{FILE} is missing: write it with COVENANT_WRITE_VECTORS=1"
    entries: list[dict[str, Any]] = read_vectors(FILE.name)
    assert [e["name"] for e in entries] == [c[0] for c in CASES]
    ids = signers()
    by_hash = {s.certificate.hash(): s.certificate for s in ids.values()}
    algorithms = set()
    for i, (e, (name, sender, endorsers, named_by_hash)) in enumerate(zip(entries, CASES)):
        tx = Transaction.decode(bytes.fromhex(e["tx_hex"]))
        assert tx.encode().hex() == e["tx_hex"], f"{name}: canonical transaction encoding"
        payload = TxPayload.decode(tx.payload)
        assert payload.encode() == tx.payload, f"{name}: canonical payload encoding"
        assert payload == payload_for(i, name), f"{name}: the fixed payload"
        assert e["suite"] == ids[sender].suite
        assert tx_id(e["suite"], tx.payload) == e["tx_id"], f"{name}: tx id"
        cert = resolve(tx.sender, by_hash)
        assert cert == ids[sender].certificate, (
            f"{name}: not signed by {sender} of the vectors (were the vectors' identities written "
            "again? then write this file again too, with COVENANT_WRITE_VECTORS=1)"
        )
        assert tx.sender is not None
        assert (tx.sender.certificate_hash is not None) == named_by_hash
        assert cert.public_key.verify(tx.payload, tx.signature), f"{name}: the sender's signature"
        algorithms.add(cert.algorithm)
        assert len(tx.endorsements) == len(endorsers)
        for en, who in zip(tx.endorsements, endorsers):
            ecert = resolve(en.signer, by_hash)
            assert ecert == ids[who].certificate
            assert ecert.public_key.verify(tx.payload, en.signature), f"{name}: {who}'s endorsement"
            algorithms.add(ecert.algorithm)
    assert algorithms == {"sm2", "p256", "ed25519"}
