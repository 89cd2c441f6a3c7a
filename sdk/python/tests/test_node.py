"""The SDK against real node processes, on an ``sm`` and an ``intl`` chain.

Needs ``COVENANT_BIN`` (the ``covenant`` binary) and ``COVENANT_KV_WASM`` (the built example
``kv`` contract); without them these tests are skipped. Each chain is made in a temporary
directory with two orgs (``covenant node init --orgs 2``), its node started as a subprocess,
``kv`` and ``kv2`` deployed with the CLI; everything after that goes through the SDK.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TypeVar

import pytest
from nodes import Node, free_ports

from covenant_sdk import (
    ApiError,
    BlockMessage,
    Client,
    EventMessage,
    NodeUnreachable,
    ProofInvalid,
    QueryFailed,
    Receipt,
    Signer,
    Subscription,
    Transaction,
    TransactionFailed,
    TxBuilder,
)
from covenant_sdk.crypto import hash_algorithm_of
from covenant_sdk.merkle import leaf_hash, node_hash

BIN = os.environ.get("COVENANT_BIN", "")
KV_WASM = os.environ.get("COVENANT_KV_WASM", "")

pytestmark = pytest.mark.skipif(
    not (BIN and KV_WASM),
    reason="set COVENANT_BIN (the covenant binary) and COVENANT_KV_WASM (the built kv "
    "contract) to run the SDK against real nodes",
)

T = TypeVar("T")


@pytest.fixture(scope="module", params=["sm", "intl"], ids=lambda s: f"against a real {s} node")
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    suite: str = request.param
    n = Node(BIN, tmp_path_factory.mktemp(f"covenant-{suite}") / "node", suite)
    request.addfinalizer(n.kill)
    n.init()
    n.start()
    n.deploy("kv", KV_WASM)
    n.deploy("kv2", KV_WASM)
    yield n
    n.kill()


def put(node: Node, client: Client, signer: Signer, key: str, value: str) -> Receipt:
    """``kv.put``, remembering the key for the events check."""
    receipt = client.invoke(signer, "kv", "put", {"key": key, "value": value})
    node.kv_keys.append(key)
    return receipt


def collect(sub: Subscription[T], out: list[T], done: Callable[[], bool], timeout: float = 90) -> None:
    """Messages of ``sub`` into ``out`` until ``done()``, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out after {timeout} s with {len(out)} messages: {out[-5:]}")
        msg = sub.next(timeout=left)
        if msg is not None:
            out.append(msg)


def test_chain_info(node: Node) -> None:
    profile = node.profile()
    info = profile.client().info()
    assert info.chain_id == profile.chain_id
    assert info.suite == node.suite
    assert info.height >= 2, "genesis and the two deployments"
    for name in ("admin", "client", "org1-admin", "org2-admin"):
        assert profile.signer(name).suite == node.suite


def test_invoke_query_and_a_verified_proof(node: Node) -> None:
    profile = node.profile()
    client = profile.client()
    signer = profile.signer("client")

    r = put(node, client, signer, "alpha", "first value")
    assert r.code == "OK" and r.ok
    assert r.height > 0 and len(r.tx_id) == 64
    assert any(e.contract == "kv" and e.topic == "put" and e.data == "alpha" for e in r.events)
    assert client.query("kv", "get", {"key": "alpha"}).result == "first value"
    assert client.query("kv", "get", {"key": "absent"}, caller=signer).result is None

    view = client.tx_with_verified_proof(r.tx_id)
    assert (view.tx_id, view.height, view.block_hash) == (r.tx_id, r.height, r.block_hash)
    assert view.result.code == "OK" and (view.contract, view.method) == ("kv", "put")
    tx = Transaction.decode(view.raw_tx)
    assert tx.sender == signer.sender()
    assert signer.key.public_key.verify(tx.payload, tx.signature)

    block = client.block(view.height)
    assert block.tx_root == view.tx_root and block.hash == r.block_hash
    assert r.tx_id in [t.tx_id for t in block.txs]
    assert client.block(block.hash).height == block.height
    assert client.block("latest").height >= block.height

    alg = hash_algorithm_of(node.suite)
    leaf = leaf_hash(alg, view.raw_tx)
    flipped = bytearray(view.raw_tx)
    flipped[-1] ^= 1
    tampered = {
        "a path one hash too long": replace(
            view, proof=replace(view.proof, path=(*view.proof.path, bytes(32)))
        ),
        "another index": replace(view, proof=replace(view.proof, leaf_index=view.proof.leaf_index + 1)),
        "a changed transaction": replace(view, raw_tx=bytes(flipped)),
        "another root": replace(view, tx_root="00" * 32),
        # A proof that holds for its own root, which is not the block's.
        "a consistent proof under another root": replace(
            view,
            tx_root=node_hash(alg, leaf, leaf).hex(),
            proof=replace(view.proof, leaf_index=0, tree_size=2, path=(leaf,)),
        ),
    }
    for why, bad in tampered.items():
        with pytest.raises(ProofInvalid) as e:
            client.verify_tx(bad)
        assert e.value.code == "PROOF_INVALID", why


def test_config_and_contracts(node: Node) -> None:
    client = node.client()
    config = client.config()
    assert config["chain_id"] == node.profile().chain_id
    assert {o["org_id"] for o in config["orgs"]} == {"org1", "org2"}
    listed = {c["name"]: c for c in client.contracts()}
    assert {"kv", "kv2"} <= set(listed)
    assert listed["kv"]["status"] == "active"
    assert client.contract("kv")["name"] == "kv"


def test_a_governed_call_needs_both_orgs(node: Node) -> None:
    profile = node.profile()
    client = profile.client()
    admin = profile.signer("admin")
    with pytest.raises(TransactionFailed) as e:
        client.invoke(admin, "sys.contracts", "revoke", {"name": "kv2"})
    assert e.value.code == "POLICY_NOT_MET"
    assert e.value.receipt.height > 0 and not e.value.receipt.ok
    r = client.invoke(
        admin, "sys.contracts", "revoke", {"name": "kv2"}, endorsers=[profile.signer("org2-admin")]
    )
    assert r.code == "OK"
    assert client.contract("kv2")["status"] == "revoked"
    assert client.contract("kv")["status"] == "active"
    with pytest.raises(QueryFailed) as q:
        client.query("kv2", "get", {"key": "any"})
    assert q.value.code == "CONTRACT_REVOKED"


def test_typed_errors(node: Node) -> None:
    profile = node.profile()
    client = profile.client()
    with pytest.raises(ApiError) as e:
        client.tx("0" * 64)
    assert (e.value.code, e.value.status) == ("NOT_FOUND", 404)

    with pytest.raises(ApiError) as e:
        client.submit(b"garbage, not a transaction")
    assert e.value.status == 400
    assert e.value.code == "TX_MALFORMED", e.value

    signer = profile.signer("client")
    tx = signer.sign(TxBuilder(profile.chain_id, "kv", "put", {"key": "twice", "value": "x"}))
    assert client.submit_and_wait(tx).ok
    node.kv_keys.append("twice")
    with pytest.raises(ApiError) as e:
        client.submit(tx)
    assert (e.value.code, e.value.status) == ("TX_DUPLICATE_ON_LEDGER", 409)

    (port,) = free_ports(1)
    with pytest.raises(NodeUnreachable) as u:
        Client(f"http://127.0.0.1:{port}", profile.chain_id, timeout=5).info()
    assert u.value.code == "NODE_UNREACHABLE"


def test_subscriptions_resume_across_a_node_restart(node: Node) -> None:
    profile = node.profile()
    client = profile.client()
    signer = profile.signer("client")
    for i in range(2):
        put(node, client, signer, f"before-restart-{i}", str(i))

    blocks = client.subscribe_blocks(1, reconnect_for=120)
    events = client.subscribe_events(1, contract="kv", reconnect_for=120)
    with blocks, events:
        got_blocks: list[BlockMessage] = []
        got_events: list[EventMessage] = []

        def blocks_up_to(tip: int) -> Callable[[], bool]:
            return lambda: bool(got_blocks) and got_blocks[-1].height >= tip

        def every_key() -> bool:
            return {e.data for e in got_events if e.topic == "put"} >= set(node.kv_keys)

        collect(blocks, got_blocks, blocks_up_to(client.info().height))
        collect(events, got_events, every_key)

        node.stop()
        # The node is down: the subscriptions try to reconnect, and deliver nothing meanwhile.
        assert blocks.next(timeout=0.5) is None
        assert events.next(timeout=0.5) is None
        node.start()

        for i in range(3):
            put(node, client, signer, f"after-restart-{i}", str(i))
        tip = client.info().height
        collect(blocks, got_blocks, blocks_up_to(tip))
        collect(events, got_events, every_key)

        assert [b.height for b in got_blocks] == list(range(1, tip + 1)), "each height once"
        put_keys = [e.data for e in got_events if e.topic == "put"]
        assert sorted(put_keys) == sorted(node.kv_keys), "each key put once"
        event_heights = [e.height for e in got_events]
        assert event_heights == sorted(event_heights), "events in chain order"
        assert blocks.connections >= 2 and events.connections >= 2
