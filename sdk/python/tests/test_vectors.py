"""The shared vectors of ``sdk/vectors`` (computed by the Rust reference code): this SDK must
reproduce every deterministic byte and accept every signature, and refuse what is invalid."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import VECTORS, read_vectors

from covenant_sdk import (
    Certificate,
    CryptoError,
    EncodingError,
    InclusionProof,
    PrivateKey,
    Profile,
    PublicKey,
    ProfileError,
    Sender,
    Signer,
    Transaction,
    TxPayload,
    tx_id,
)
from covenant_sdk.crypto import (
    KeyAlgorithm,
    decode_signature,
    digest,
    encode_signature,
    suite_hash,
)
from covenant_sdk.errors import ApiError, BadResponse, error_from_response
from covenant_sdk.merkle import leaf_hash, root
from covenant_sdk.wire import Endorsement

HASHES: list[dict[str, Any]] = read_vectors("hashes.json")
IDENTITIES: list[dict[str, Any]] = read_vectors("identities.json")
TRANSACTIONS: list[dict[str, Any]] = read_vectors("transactions.json")
MERKLE: dict[str, Any] = read_vectors("merkle.json")
ERRORS: list[dict[str, Any]] = read_vectors("errors.json")
STANDARDS: list[dict[str, Any]] = read_vectors("standards.json")


@pytest.fixture(scope="module")
def signers() -> dict[str, Signer]:
    profile = Profile.load(VECTORS / "profile.json")
    return {e["name"]: profile.signer(e["name"]) for e in IDENTITIES}


def flip(data: bytes, at: int) -> bytes:
    """``data`` with one bit of byte ``at`` changed."""
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)


def payload_of(fields: dict[str, str]) -> TxPayload:
    return TxPayload(
        chain_id=fields["chain_id"],
        nonce=bytes.fromhex(fields["nonce"]),
        timestamp_ms=int(fields["timestamp_ms"]),
        expiry_ms=int(fields["expiry_ms"]),
        contract=fields["contract"],
        method=fields["method"],
        args=bytes.fromhex(fields["args"]),
        gas_limit=int(fields["gas_limit"]),
    )


def sender_of(signer: Signer, by: str) -> Sender:
    assert by in ("certificate", "certificate_hash"), by
    return signer.sender(by_hash=by == "certificate_hash")


# ---------------------------------------------------------------------------------- hashes


@pytest.mark.parametrize("case", HASHES, ids=lambda h: f"{h['algorithm']}-{len(h['input']) // 2}B")
def test_hashes(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["input"])
    assert digest(case["algorithm"], data).hex() == case["digest"]


def test_the_standards_own_hash_vectors_are_among_them() -> None:
    digests = {h["digest"] for h in HASHES}
    assert "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0" in digests
    assert "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732" in digests
    assert "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" in digests
    assert suite_hash("sm", b"abc") == digest("sm3", b"abc")
    assert suite_hash("intl", b"abc") == digest("sha256", b"abc")
    with pytest.raises(CryptoError):
        suite_hash("other", b"abc")


@pytest.mark.parametrize("case", STANDARDS, ids=lambda c: str(c["source"]))
def test_the_standards_signature_examples_verify(case: dict[str, Any]) -> None:
    key = PublicKey(case["algorithm"], bytes.fromhex(case["public_key"]))
    message = bytes.fromhex(case["message"])
    signature = bytes.fromhex(case["signature"])
    assert key.verify(message, signature), case["source"]
    assert not key.verify(message + b"!", signature), case["source"]


def test_every_algorithm_has_a_standards_example() -> None:
    assert sorted(c["algorithm"] for c in STANDARDS) == ["ed25519", "ed25519", "p256", "sm2"]


# ------------------------------------------------------------------------------ identities


@pytest.mark.parametrize("entry", IDENTITIES, ids=lambda e: str(e["name"]))
def test_identities_load_through_the_profile(
    entry: dict[str, Any], signers: dict[str, Signer]
) -> None:
    s = signers[entry["name"]]
    assert s.algorithm == entry["algorithm"]
    assert s.suite == entry["suite"]
    assert s.key.public_key.to_bytes().hex() == entry["public_key"]
    assert s.certificate.public_key == s.key.public_key
    assert s.certificate.der.hex() == entry["certificate_der"]
    assert s.account() == entry["account"]
    assert Certificate(bytes.fromhex(entry["certificate_der"])).account() == entry["account"]


def test_the_profile_names_its_default_identity() -> None:
    profile = Profile.load(VECTORS / "profile.json")
    assert profile.endpoint == "http://127.0.0.1:7070"
    assert profile.chain_id == "main"
    assert profile.signer().name == profile.identity == "sm2-a"
    with pytest.raises(ProfileError) as e:
        profile.signer("nobody")
    assert e.value.code == "IDENTITY_UNKNOWN"
    assert "sm2-b" in e.value.message


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    shutil.copytree(VECTORS / "identities", tmp_path / "identities")
    (tmp_path / "profile.json").write_text(
        json.dumps(
            {
                "endpoint": "http://127.0.0.1:1",
                "chain_id": "main",
                "identity": "mixed",
                "identities": {
                    "mixed": {"cert": "identities/sm2-a.crt", "key": "identities/sm2-b.key"},
                    "missing": {"cert": "identities/none.crt", "key": "identities/sm2-a.key"},
                    "swapped": {"cert": "identities/sm2-a.key", "key": "identities/sm2-a.crt"},
                },
            }
        )
    )
    profile = Profile.load(tmp_path / "profile.json")
    for name in ("mixed", "missing", "swapped"):
        with pytest.raises(ProfileError) as e:
            profile.signer(name)
        assert e.value.code == "IDENTITY_INVALID", name
    with pytest.raises(ProfileError) as e:
        profile.signer("mixed")
    assert "is not the key of" in e.value.message


def test_a_broken_profile_is_refused(tmp_path: Path) -> None:
    for text in ("not json", "[]", '{"endpoint": 1}', '{"endpoint": "x", "chain_id": "c"}'):
        path = tmp_path / "profile.json"
        path.write_text(text)
        with pytest.raises(ProfileError) as e:
            Profile.load(path)
        assert e.value.code == "PROFILE_INVALID"
    with pytest.raises(ProfileError) as e:
        Profile.load(tmp_path / "absent.json")
    assert e.value.code == "PROFILE_INVALID"


@pytest.mark.parametrize("algorithm", ["sm2", "p256", "ed25519"])
def test_keys_round_trip_through_pkcs8(algorithm: KeyAlgorithm) -> None:
    key = PrivateKey.generate(algorithm)
    back = PrivateKey.from_pkcs8_pem(key.to_pkcs8_pem())
    assert back.public_key == key.public_key
    message = b"round trip"
    assert key.public_key.verify(message, back.sign(message))


def test_the_vectors_sm2_key_file_round_trips(signers: dict[str, Signer]) -> None:
    text = (VECTORS / "identities" / "sm2-a.key").read_text()
    key = PrivateKey.from_pkcs8_pem(text)
    assert key.to_pkcs8_pem() == text
    assert key.public_key == signers["sm2-a"].certificate.public_key


# ---------------------------------------------------------------------------- transactions


@pytest.mark.parametrize("case", TRANSACTIONS, ids=lambda c: str(c["name"]))
def test_transactions(case: dict[str, Any], signers: dict[str, Signer]) -> None:
    payload = payload_of(case["payload"])
    data = payload.encode()
    assert data.hex() == case["payload_hex"], "payload encoding"
    assert TxPayload.decode(data) == payload
    assert tx_id(case["suite"], data) == case["tx_id"]
    assert tx_id(case["suite"], payload) == case["tx_id"]

    sender = signers[case["sender"]["identity"]]
    assert sender.suite == case["suite"]
    signature = bytes.fromhex(case["signature"])
    assert sender.key.public_key.verify(data, signature), "the sender's signature"
    endorsements = []
    for e in case["endorsements"]:
        endorser = signers[e["identity"]]
        sig = bytes.fromhex(e["signature"])
        assert endorser.key.public_key.verify(data, sig), f"{e['identity']}'s endorsement"
        endorsements.append(Endorsement(sender_of(endorser, e["by"]), sig))

    tx = Transaction(data, sender_of(sender, case["sender"]["by"]), signature, tuple(endorsements))
    assert tx.encode().hex() == case["tx_hex"], "transaction encoding"

    decoded = Transaction.decode(bytes.fromhex(case["tx_hex"]))
    assert decoded == tx
    assert decoded.payload_fields() == payload
    assert decoded.sender is not None
    if case["sender"]["by"] == "certificate_hash":
        assert decoded.sender.certificate_hash == sender.certificate.hash()
        assert decoded.sender.certificate is None
    else:
        assert decoded.sender.certificate == sender.certificate.der


@pytest.mark.parametrize("case", TRANSACTIONS, ids=lambda c: str(c["name"]))
def test_altered_signatures_and_payloads_do_not_verify(
    case: dict[str, Any], signers: dict[str, Signer]
) -> None:
    data = bytes.fromhex(case["payload_hex"])
    key = signers[case["sender"]["identity"]].key.public_key
    signature = bytes.fromhex(case["signature"])
    assert key.verify(data, signature)
    for at in (0, len(signature) // 2, len(signature) - 1):
        assert not key.verify(data, flip(signature, at)), f"signature byte {at} flipped"
    if data:
        assert not key.verify(flip(data, len(data) - 1), signature), "payload changed"
    assert not key.verify(data + b"\x00", signature), "payload extended"
    assert not key.verify(data, signature + b"\x00"), "trailing byte"
    assert not key.verify(data, b""), "empty signature"
    others = [s for n, s in signers.items() if n != case["sender"]["identity"]]
    for other in others:
        assert not other.key.public_key.verify(data, signature), "another identity's key"


def test_own_signatures_verify_and_name_the_sender(signers: dict[str, Signer]) -> None:
    payload = payload_of(TRANSACTIONS[0]["payload"])
    for name, s in signers.items():
        tx = Transaction.decode(s.sign(payload, [signers["ed25519-a"]]))
        assert tx.payload == payload.encode()
        assert s.key.public_key.verify(tx.payload, tx.signature), name
        assert tx.sender == Sender(certificate=s.certificate.der)
        (e,) = tx.endorsements
        assert signers["ed25519-a"].key.public_key.verify(tx.payload, e.signature)
        by_hash = Transaction.decode(s.sign(payload, by_hash=True))
        assert by_hash.sender == Sender(certificate_hash=s.certificate.hash())


def test_der_signatures_are_read_strictly() -> None:
    assert decode_signature(encode_signature(1, 2)) == (1, 2)
    high = (1 << 255) + 7
    assert decode_signature(encode_signature(high, 1)) == (high, 1)
    assert encode_signature(high, 1)[4] == 0x00, "a leading zero keeps the integer positive"
    bad = [
        b"",
        encode_signature(1, 2) + b"\x00",  # trailing data
        bytes.fromhex("3006020200010201 02".replace(" ", "")),  # non-minimal integer
        bytes.fromhex("30060201ff020102"),  # negative
        bytes.fromhex("3003020101"),  # one integer
        bytes.fromhex("308106020101020102"),  # non-minimal length
        encode_signature(1 << 256, 1),  # longer than 32 bytes
    ]
    for b in bad:
        with pytest.raises(CryptoError) as e:
            decode_signature(b)
        assert e.value.code == "SIGNATURE_MALFORMED", b.hex()


def test_signatures_outside_the_group_order_are_refused(signers: dict[str, Signer]) -> None:
    data = b"payload"
    for name in ("sm2-a", "p256-a"):
        key = signers[name].key.public_key
        r, s = decode_signature(signers[name].sign_bytes(data))
        assert key.verify(data, encode_signature(r, s))
        assert not key.verify(data, encode_signature(0, s))
        assert not key.verify(data, encode_signature(r, 0))
        n_bound = (1 << 256) - 1
        assert not key.verify(data, encode_signature(n_bound, s))


# ------------------------------------------------------------------------------------- wire


def test_proto3_defaults_are_left_out_but_set_oneof_members_are_written() -> None:
    assert TxPayload().encode() == b""
    assert Sender(certificate=b"").encode() == b"\x0a\x00"
    assert Sender(certificate_hash=b"").encode() == b"\x12\x00"
    assert Sender().encode() == b""
    assert Transaction(sender=Sender()).encode() == b"\x12\x00"
    assert Transaction().encode() == b""
    assert Transaction.decode(b"\x12\x00").sender == Sender()
    assert Transaction.decode(b"").sender is None
    assert Endorsement().encode() == b""
    big = TxPayload(timestamp_ms=(1 << 64) - 1)
    assert TxPayload.decode(big.encode()) == big
    with pytest.raises(ValueError):
        TxPayload(gas_limit=1 << 64).encode()
    with pytest.raises(ValueError):
        Sender(certificate=b"a", certificate_hash=b"b")


def test_unknown_fields_are_skipped_and_malformed_input_refused() -> None:
    payload = TxPayload(chain_id="main", contract="kv").encode()
    # Unknown fields of each wire type (varint, fixed64, length-delimited, fixed32).
    extra = b"\x48\x01" + b"\x51" + bytes(8) + b"\x5a\x01x" + b"\x65" + bytes(4)
    assert TxPayload.decode(payload + extra) == TxPayload(chain_id="main", contract="kv")
    bad = [
        b"\x0a\x05ab",  # truncated string
        b"\x18",  # missing varint
        b"\x18" + b"\xff" * 10 + b"\x01",  # varint over 10 bytes
        b"\x18" + b"\xff" * 9 + b"\x7f",  # varint over 64 bits
        b"\x0a\x02\xff\xfe",  # invalid UTF-8 in a string
        b"\x08\x01",  # chain_id as a varint
        b"\x1a\x00",  # timestamp as bytes
        b"\x0b",  # group start (wire type 3)
        b"\x00\x00",  # field 0
    ]
    for b in bad:
        with pytest.raises(EncodingError):
            TxPayload.decode(b)
    with pytest.raises(EncodingError):
        Transaction.decode(b"garbage bytes")


# ----------------------------------------------------------------------------------- merkle


@pytest.mark.parametrize(
    "tree", MERKLE["trees"], ids=lambda t: f"{t['algorithm']}-{len(t['leaves'])}"
)
def test_merkle_trees_and_their_proofs(tree: dict[str, Any]) -> None:
    alg = tree["algorithm"]
    leaves = [bytes.fromhex(x) for x in tree["leaves"]]
    want = bytes.fromhex(tree["root"])
    assert root(alg, leaves) == want
    for i, p in enumerate(tree["proofs"]):
        proof = InclusionProof(
            p["leaf_index"], p["tree_size"], tuple(bytes.fromhex(h) for h in p["path"])
        )
        assert proof.leaf_index == i and proof.tree_size == len(leaves)
        assert proof.verify(alg, want, leaves[i]), f"leaf {i}"
        assert proof.verify_leaf_hash(alg, want, leaf_hash(alg, leaves[i]))
        for j, other in enumerate(leaves):
            if other != leaves[i]:
                assert not proof.verify(alg, want, other), f"proof {i} for leaf {j}"
        assert not proof.verify(alg, flip(want, 0), leaves[i]), "another root"


@pytest.mark.parametrize(
    "case", MERKLE["invalid"], ids=lambda c: f"{c['algorithm']}: {c['why']}"
)
def test_invalid_merkle_proofs_are_refused(case: dict[str, Any]) -> None:
    p = case["proof"]
    proof = InclusionProof(
        p["leaf_index"], p["tree_size"], tuple(bytes.fromhex(h) for h in p["path"])
    )
    assert not proof.verify(case["algorithm"], bytes.fromhex(case["root"]), bytes.fromhex(case["leaf"]))


def test_merkle_edge_cases() -> None:
    assert root("sha256", []) == b""
    one = root("sm3", [b"only"])
    assert one == leaf_hash("sm3", b"only")
    assert InclusionProof(0, 1).verify("sm3", one, b"only")
    assert not InclusionProof(0, 0).verify("sm3", one, b"only")
    assert not InclusionProof(-1, 1).verify("sm3", one, b"only")
    assert not InclusionProof(0, 1, (one,)).verify("sm3", one, b"only")


# ----------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("case", ERRORS, ids=lambda c: f"{c['status']}-{c['code']}")
def test_error_bodies_map_to_codes_and_retry_decisions(case: dict[str, Any]) -> None:
    err = error_from_response(case["status"], case["body"].encode("utf-8"))
    assert err.code == case["code"]
    assert err.status == case["status"]
    assert err.retry_after_ms == case["retry_after_ms"]
    assert err.retryable is case["retry"]
    if case["code"] == "BAD_RESPONSE":
        assert isinstance(err, BadResponse)
    else:
        assert isinstance(err, ApiError)
        assert err.message == json.loads(case["body"])["error"]["message"]


def test_error_bodies_of_other_shapes_are_bad_responses() -> None:
    for body in (
        "",
        "null",
        "[]",
        '{"error": "text"}',
        '{"error": {"message": "no code"}}',
        '{"error": {"code": 7, "message": "x"}}',
        '{"error": {"code": "X", "message": "x", "retry_after_ms": -1}}',
        '{"error": {"code": "X", "message": "x", "retry_after_ms": "soon"}}',
    ):
        err = error_from_response(500, body)
        assert isinstance(err, BadResponse), body
        assert err.code == "BAD_RESPONSE" and not err.retryable
