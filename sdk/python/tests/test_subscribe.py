"""Subscriptions against a stand-in WebSocket server that drops connections mid-stream:
resumption delivers every block height and every event once, in order."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from covenant_sdk import ApiError, Client, SubscriptionLost

# Three events at height 2, none at 3, two at 4, one at 5.
EVENTS = {1: ["a"], 2: ["b", "c", "d"], 3: [], 4: ["e", "f"], 5: ["g"]}
TIP = max(EVENTS)


@dataclass
class Feed:
    """What the stand-in serves, and after how many messages each connection is dropped."""

    drop_after: list[int] = field(default_factory=list)
    asked: list[dict[str, str]] = field(default_factory=list)
    refuse: int | None = None


def messages(kind: str, start: int, contract: str | None) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for h in range(start, TIP + 1):
        if kind == "blocks":
            out.append({"type": "block", "height": h, "hash": f"{h:064x}", "tx_count": 1,
                        "timestamp_ms": 1000 + h, "txs": []})  # fmt: skip
            continue
        for i, key in enumerate(EVENTS[h]):
            out.append({"type": "event", "height": h, "tx_id": f"{h:02x}{i:062x}",
                        "contract": contract or "kv", "topic": "put", "data": key})  # fmt: skip
    return out


@pytest.fixture
def stub() -> Iterator[tuple[Feed, Client]]:
    feed = Feed()

    def check(conn: ServerConnection, request: Request) -> Response | None:
        if feed.refuse is not None:
            body = json.dumps({"error": {"code": "NOT_FOUND", "message": "no chain"}})
            return Response(feed.refuse, "Refused", Headers(), body.encode())
        return None

    def handler(conn: ServerConnection) -> None:
        assert conn.request is not None
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(conn.request.path).query))
        feed.asked.append(query)
        limit = feed.drop_after.pop(0) if feed.drop_after else None
        msgs = messages(query["kind"], int(query["from_height"]), query.get("contract"))
        for n, m in enumerate(msgs):
            if limit is not None and n == limit:
                return  # the connection drops mid-stream
            conn.send(json.dumps(m))
        # Then idle, as a node does with no new block, until the client goes.
        for _ in conn:
            pass

    server = serve(handler, "127.0.0.1", 0, process_request=check)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield feed, Client(f"http://127.0.0.1:{server.socket.getsockname()[1]}", "main")
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_blocks_resume_after_the_last_height_delivered(stub: tuple[Feed, Client]) -> None:
    feed, client = stub
    feed.drop_after = [2, 0, 1]
    with client.subscribe_blocks(1, reconnect_for=10) as sub:
        got = [sub.next(timeout=10) for _ in range(TIP)]
        assert [b.height for b in got if b is not None] == list(range(1, TIP + 1))
        assert sub.next(timeout=0.2) is None
    assert [q["from_height"] for q in feed.asked] == ["1", "3", "3", "4"]


def test_events_resume_within_a_height_without_repeats(stub: tuple[Feed, Client]) -> None:
    feed, client = stub
    # Each connection resends what the last one did from the resumed height, then drops:
    # after a; after a b (inside height 2); at once; after b c d e (inside height 4).
    feed.drop_after = [1, 2, 0, 4]
    want = [k for h in sorted(EVENTS) for k in EVENTS[h]]
    with client.subscribe_events(1, contract="kv", reconnect_for=10) as sub:
        got = [sub.next(timeout=10) for _ in want]
        assert [e.data for e in got if e is not None] == want
        assert sub.next(timeout=0.2) is None
        assert sub.last_height == TIP
    assert [q["from_height"] for q in feed.asked] == ["1", "1", "2", "2", "4"]
    assert all(q["contract"] == "kv" and q["kind"] == "events" for q in feed.asked)


def test_a_refused_subscription_raises_the_nodes_error(stub: tuple[Feed, Client]) -> None:
    feed, client = stub
    feed.refuse = 404
    with pytest.raises(ApiError) as e:
        client.subscribe_blocks(1).next(timeout=5)
    assert e.value.code == "NOT_FOUND" and e.value.status == 404


def test_reconnecting_gives_up_after_its_time(stub: tuple[Feed, Client]) -> None:
    feed, client = stub
    feed.refuse = 503
    sub = client.subscribe_blocks(1, reconnect_for=0.5)
    with pytest.raises(SubscriptionLost) as e:
        while True:
            sub.next(timeout=5)
    assert e.value.code == "SUBSCRIPTION_LOST"
    assert len(feed.asked) == 0
