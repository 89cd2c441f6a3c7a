"""The client's transport against a stand-in server: retries on "busy" answers within the
call's time, and the typed errors for bad answers and unreachable nodes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from covenant_sdk import ApiError, BadResponse, Client, NodeUnreachable, QueryFailed


class Stub:
    """Answers queued (status, body) pairs in turn and records the paths asked for."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, str]] = []
        self.paths: list[str] = []
        self.bodies: list[bytes] = []


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            state.bodies.append(self.rfile.read(length) if length else b"")
            state.paths.append(self.path)
            status, body = state.answers.pop(0) if state.answers else (500, "empty")
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def busy(ms: int) -> tuple[int, str]:
    body = {"error": {"code": "TXPOOL_FULL", "message": "full", "retry_after_ms": ms}}
    return 429, json.dumps(body)


def test_busy_answers_are_retried_after_their_hint(stub: tuple[Stub, str]) -> None:
    state, url = stub
    state.answers = [busy(20), busy(20), (200, '{"tx_id": "ab", "status": "pending"}')]
    got = Client(url, "main", timeout=5).submit(b"\x01\x02")
    assert got.tx_id == "ab" and not got.committed
    assert state.paths == ["/v1/chains/main/txs"] * 3
    assert json.loads(state.bodies[0]) == {"tx": "AQI=", "wait": False}


def test_retries_stop_when_the_calls_time_is_spent(stub: tuple[Stub, str]) -> None:
    state, url = stub
    state.answers = [busy(400), busy(400), busy(400)]
    with pytest.raises(ApiError) as e:
        Client(url, "main", timeout=0.5).submit(b"\x01")
    assert e.value.code == "TXPOOL_FULL" and e.value.status == 429
    assert e.value.retry_after_ms == 400
    assert len(state.paths) == 2


def test_errors_without_a_hint_are_not_retried(stub: tuple[Stub, str]) -> None:
    state, url = stub
    state.answers = [(404, '{"error": {"code": "NOT_FOUND", "message": "no tx"}}')]
    with pytest.raises(ApiError) as e:
        Client(url, "main").tx("00" * 32)
    assert e.value.code == "NOT_FOUND" and not e.value.retryable
    assert len(state.paths) == 1


def test_answers_of_the_wrong_shape_are_bad_responses(stub: tuple[Stub, str]) -> None:
    state, url = stub
    state.answers = [
        (502, "<html>bad gateway</html>"),
        (200, "not json"),
        (200, '{"chain_id": "main"}'),
        (200, '{"tx_id": "ab", "status": "lost"}'),
    ]
    c = Client(url, "main")
    for call in (c.info, c.info, c.info, lambda: c.submit(b"")):
        with pytest.raises(BadResponse) as e:
            call()
        assert e.value.code == "BAD_RESPONSE"


def test_a_failed_query_raises_with_its_code(stub: tuple[Stub, str]) -> None:
    state, url = stub
    answer = {"code": "CONTRACT_ERROR", "message": "no such key", "result": None}
    state.answers = [(200, json.dumps(answer))] * 2
    c = Client(url, "a chain/with slash")
    with pytest.raises(QueryFailed) as e:
        c.query("kv", "get", {"key": "x"})
    assert e.value.code == "CONTRACT_ERROR"
    assert c.query("kv", "get", {"key": "x"}, check=False).code == "CONTRACT_ERROR"
    assert state.paths[0] == "/v1/chains/a%20chain%2Fwith%20slash/query"


def test_an_unreachable_node_is_named() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NodeUnreachable) as e:
        Client(f"http://127.0.0.1:{port}", "main", timeout=2).info()
    assert e.value.code == "NODE_UNREACHABLE"
    assert str(port) in e.value.message
