"""The node's REST API: submit and wait, query, transactions with verified proofs, blocks,
chain info, and (through :mod:`covenant_sdk.subscribe`) live blocks and events."""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from .crypto import Certificate, hash_algorithm_of, suite_hash
from .errors import (
    ApiError,
    BadResponse,
    CommitTimeout,
    EncodingError,
    NodeUnreachable,
    ProofInvalid,
    QueryFailed,
    TransactionFailed,
    error_from_response,
)
from .signer import Signer
from .subscribe import BlockSubscription, EventSubscription
from .tx import Args, TxBuilder
from .views import Block, ChainInfo, Receipt, Submitted, TxResult, TxView
from .wire import Transaction

__all__ = ["Client"]

#: The longest a node waits for a commit in one request (its ``timeout_ms`` limit).
MAX_WAIT_MS = 120_000

# How often an uncommitted transaction is looked up once the node's own wait is over.
_POLL_S = 0.2


class Client:
    """A client of one node's API for one chain.

    ``timeout`` (seconds) bounds each call, retries included: an answer that carries
    ``retry_after_ms`` (the node is busy, or repairing what was asked) is tried again after
    that long while the call's time lasts.
    """

    def __init__(self, endpoint: str, chain: str, *, timeout: float = 30.0) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint {endpoint!r} must start with http:// or https://")
        self.endpoint = endpoint.rstrip("/")
        self.chain = chain
        self.timeout = timeout
        self._suite: str | None = None

    def __repr__(self) -> str:
        return f"Client({self.endpoint!r}, {self.chain!r})"

    # ----------------------------------------------------------------------------- transport

    def _url(self, path: str) -> str:
        return f"{self.endpoint}/v1/chains/{urllib.parse.quote(self.chain, safe='')}{path}"

    def _once(self, method: str, url: str, body: Any, timeout: float) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("accept", "application/json")
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=max(timeout, 0.001)) as resp:
                status = int(resp.status)
                raw = resp.read()
        except urllib.error.HTTPError as e:
            try:
                raw = e.read()
            except (OSError, http.client.HTTPException):
                raw = b""
            raise error_from_response(e.code, raw) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            raise NodeUnreachable(self.endpoint, str(reason) or type(reason).__name__) from e
        try:
            return json.loads(raw)
        except ValueError:
            shown = raw[:300].decode("utf-8", errors="replace")
            raise BadResponse(f"HTTP {status}: not JSON: {shown}", status=status) from None

    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        timeout: float | None = None,
        extra: float = 0.0,
    ) -> Any:
        """One call, retried on "busy" answers until ``timeout`` is spent; ``extra`` is added
        to each attempt's socket timeout (for requests the node itself holds open)."""
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        url = path if path.startswith(("http://", "https://")) else self._url(path)
        while True:
            left = deadline - time.monotonic()
            try:
                return self._once(method, url, body, left + extra)
            except ApiError as e:
                if e.retry_after_ms is None:
                    raise
                wait = e.retry_after_ms / 1000
                if time.monotonic() + wait >= deadline:
                    raise
                time.sleep(wait)

    # ----------------------------------------------------------------------------- reading

    def health(self) -> dict[str, Any]:
        """``GET /healthz``: the node's name and each chain's height."""
        out = self._request("GET", f"{self.endpoint}/healthz")
        if not isinstance(out, dict):
            raise BadResponse("healthz: expected a JSON object")
        return out

    def info(self) -> ChainInfo:
        """The chain's info (height, suite, consensus, ...)."""
        info = ChainInfo.parse(self._request("GET", ""))
        self._suite = info.suite
        return info

    def suite(self) -> str:
        """The chain's algorithm suite, ``sm`` or ``intl`` (asked once, then remembered)."""
        if self._suite is None:
            self.info()
        assert self._suite is not None
        return self._suite

    def config(self) -> dict[str, Any]:
        """The chain's config."""
        out = self._request("GET", "/config")
        if not isinstance(out, dict):
            raise BadResponse("config: expected a JSON object")
        return out

    def contracts(self) -> list[dict[str, Any]]:
        """The chain's contracts and their status."""
        out = self._request("GET", "/contracts")
        if not isinstance(out, list) or not all(isinstance(c, dict) for c in out):
            raise BadResponse("contracts: expected a list of objects")
        return out

    def contract(self, name: str) -> dict[str, Any]:
        """One contract and its status."""
        out = self._request("GET", f"/contracts/{urllib.parse.quote(name, safe='')}")
        if not isinstance(out, dict):
            raise BadResponse("contract: expected a JSON object")
        return out

    def block(self, at: int | str = "latest", *, raw: bool = False) -> Block:
        """A block by height, hash (hex) or ``"latest"``; with ``raw``, its encoding too."""
        if isinstance(at, int) and (isinstance(at, bool) or at < 0):
            raise ValueError("a block height is a non-negative integer")
        where = urllib.parse.quote(str(at), safe="")
        return Block.parse(self._request("GET", f"/blocks/{where}?raw={str(raw).lower()}"))

    def tx(self, tx_id: str) -> TxView:
        """A committed transaction with its outcome and Merkle proof (not checked; see
        :meth:`tx_with_verified_proof`)."""
        return TxView.parse(self._request("GET", f"/txs/{urllib.parse.quote(tx_id, safe='')}"))

    def tx_with_verified_proof(self, tx_id: str) -> TxView:
        """A committed transaction whose proof is checked here: its encoding hashes to a leaf
        under ``tx_root``, its payload hashes to ``tx_id``, and ``tx_root`` is the root of the
        block at its height (read separately). Raises :class:`ProofInvalid` otherwise."""
        view = self.tx(tx_id)
        return self.verify_tx(view, tx_id)

    def verify_tx(self, view: TxView, tx_id: str | None = None) -> TxView:
        """Check a :class:`TxView` as :meth:`tx_with_verified_proof` does."""
        suite = self.suite()
        algorithm = hash_algorithm_of(suite)
        want = (tx_id or view.tx_id).lower()
        if view.tx_id.lower() != want:
            raise ProofInvalid(f"asked for tx {want}, the node answered with {view.tx_id}")
        try:
            tx = Transaction.decode(view.raw_tx)
        except EncodingError as e:
            raise ProofInvalid(f"tx {want}: the raw transaction does not decode: {e}") from e
        if suite_hash(suite, tx.payload).hex() != want:
            raise ProofInvalid(f"tx {want}: the raw transaction's payload is another one")
        try:
            root = bytes.fromhex(view.tx_root)
        except ValueError as e:
            raise ProofInvalid(f"tx {want}: tx_root is not hex") from e
        if not view.proof.verify(algorithm, root, view.raw_tx):
            raise ProofInvalid(
                f"tx {want}: the Merkle proof does not lead to tx_root {view.tx_root}"
            )
        block = self.block(view.height)
        if block.tx_root.lower() != view.tx_root.lower():
            raise ProofInvalid(
                f"tx {want}: tx_root {view.tx_root} is not block {view.height}'s "
                f"({block.tx_root})"
            )
        if block.hash.lower() != view.block_hash.lower():
            raise ProofInvalid(
                f"tx {want}: block {view.height} is {block.hash}, not {view.block_hash}"
            )
        if view.proof.tree_size != block.tx_count:
            raise ProofInvalid(
                f"tx {want}: the proof is for {view.proof.tree_size} transactions, "
                f"block {view.height} has {block.tx_count}"
            )
        return view

    def query(
        self,
        contract: str,
        method: str,
        args: Any = None,
        *,
        caller: Signer | Certificate | str | None = None,
        check: bool = True,
    ) -> TxResult:
        """A read-only call. ``caller`` (a signer, certificate or PEM) is the identity the
        contract sees. Raises :class:`QueryFailed` when the code is not ``OK``, unless
        ``check`` is false."""
        body: dict[str, Any] = {
            "contract": contract,
            "method": method,
            "args": {} if args is None else args,
        }
        if caller is not None:
            if isinstance(caller, Signer):
                body["caller_cert"] = caller.certificate.to_pem()
            elif isinstance(caller, Certificate):
                body["caller_cert"] = caller.to_pem()
            else:
                body["caller_cert"] = caller
        result = TxResult.parse(self._request("POST", "/query", body))
        if check and not result.ok:
            raise QueryFailed(result)
        return result

    # ----------------------------------------------------------------------------- writing

    def submit(
        self, tx: bytes, *, wait: bool = False, timeout: float | None = None
    ) -> Submitted:
        """Submit an encoded transaction. With ``wait``, the node answers once it is committed
        or after ``timeout`` (then still ``pending``)."""
        body: dict[str, Any] = {"tx": base64.b64encode(bytes(tx)).decode("ascii"), "wait": wait}
        budget = self.timeout if timeout is None else timeout
        extra = 0.0
        if wait:
            wait_ms = max(1, min(int(budget * 1000), MAX_WAIT_MS))
            body["timeout_ms"] = wait_ms
            extra = 10.0
        return Submitted.parse(self._request("POST", "/txs", body, timeout=budget, extra=extra))

    def submit_and_wait(self, tx: bytes, *, timeout: float | None = None) -> Receipt:
        """Submit and wait for the commit (looking the transaction up if the node's own wait
        ends first); the receipt whatever its code. Raises :class:`CommitTimeout` if it is not
        committed within ``timeout``."""
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        answer = self.submit(tx, wait=True, timeout=budget)
        while not answer.committed:
            try:
                view = self.tx(answer.tx_id)
            except ApiError as e:
                if e.code != "NOT_FOUND":
                    raise
            else:
                return view.receipt
            left = deadline - time.monotonic()
            if left <= 0:
                raise CommitTimeout(answer.tx_id, budget)
            time.sleep(min(_POLL_S, left))
        assert answer.height is not None and answer.result is not None
        return Receipt.of(
            answer.tx_id,
            answer.height,
            answer.index or 0,
            answer.block_hash or "",
            answer.result,
        )

    def invoke(
        self,
        signer: Signer,
        contract: str,
        method: str,
        args: Args = None,
        *,
        endorsers: Iterable[Signer] = (),
        timeout: float | None = None,
        gas_limit: int = 0,
        expiry_ms: int = 0,
        check: bool = True,
    ) -> Receipt:
        """Sign ``contract.method(args)`` as ``signer`` (endorsed by ``endorsers``), submit it
        and wait for the commit. Raises :class:`TransactionFailed` (with the outcome's code)
        when it commits with a code other than ``OK``, unless ``check`` is false."""
        builder = TxBuilder(
            chain_id=self.chain,
            contract=contract,
            method=method,
            args={} if args is None else args,
            gas_limit=gas_limit,
            expiry_ms=expiry_ms,
        )
        tx = signer.sign(builder, endorsers)
        receipt = self.submit_and_wait(tx, timeout=timeout)
        if check and not receipt.ok:
            raise TransactionFailed(receipt)
        return receipt

    # ------------------------------------------------------------------------ subscriptions

    def subscription_url(self, params: dict[str, str]) -> str:
        """The WebSocket URL of a subscription with these query parameters."""
        base = self.endpoint.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        chain = urllib.parse.quote(self.chain, safe="")
        return f"{base}/v1/chains/{chain}/subscribe?{urllib.parse.urlencode(params)}"

    def _next_height(self) -> int:
        return self.info().height + 1

    def subscribe_blocks(
        self, from_height: int | None = None, *, reconnect_for: float = 60.0
    ) -> BlockSubscription:
        """Blocks from ``from_height`` (default: the next one), stored ones first, then live,
        each height once and in order, across reconnections. After a disconnect it reconnects
        with backoff and gives up (raising :class:`~covenant_sdk.errors.SubscriptionLost`)
        when ``reconnect_for`` seconds pass without a connection."""
        start = self._next_height() if from_height is None else from_height
        return BlockSubscription(self, start, reconnect_for=reconnect_for)

    def subscribe_events(
        self,
        from_height: int | None = None,
        contract: str | None = None,
        *,
        reconnect_for: float = 60.0,
    ) -> EventSubscription:
        """Contract events (of ``contract`` only, if given) from ``from_height``, each once and
        in order across reconnections; see :meth:`subscribe_blocks`."""
        start = self._next_height() if from_height is None else from_height
        return EventSubscription(self, start, contract, reconnect_for=reconnect_for)

