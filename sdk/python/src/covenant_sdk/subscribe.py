"""Live blocks and contract events over the node's WebSocket, resumed across disconnects.

The node sends stored blocks (or their events) from ``from_height``, then live ones, with no
gap and no duplicate. When the connection drops (say the node restarts), a subscription
reconnects with backoff and resumes where it stopped:

- blocks from the height after the last one delivered;
- events from the height of the last one delivered, skipping as many events of that height as
  were already delivered.

So each block height, and each event, is delivered once and in order. If no connection can be
made for ``reconnect_for`` seconds, :class:`~covenant_sdk.errors.SubscriptionLost` is raised.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.sync.client import ClientConnection, connect

from .errors import BadResponse, SubscriptionLost, error_from_response
from .views import BlockMessage, EventMessage, _Obj

if TYPE_CHECKING:
    from types import TracebackType

    from .client import Client

__all__ = ["BlockSubscription", "EventSubscription", "Subscription"]

T = TypeVar("T")
S = TypeVar("S", bound="Subscription[Any]")

_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 2.0


class Subscription(Generic[T]):
    """An iterator of messages that reconnects by itself; close it (or use ``with``) when done.

    ``for m in sub`` blocks until each message; :meth:`next` waits at most a given time.
    """

    def __init__(self, client: Client, from_height: int, *, reconnect_for: float) -> None:
        if from_height < 0:
            raise ValueError("from_height is a non-negative height")
        self._client = client
        self._from = from_height
        self.reconnect_for = reconnect_for
        self._ws: ClientConnection | None = None
        self._ws_scope: ExitStack | None = None
        self._closed = False
        self._outage_since: float | None = None
        self._backoff = _BACKOFF_FIRST_S
        self._last_error = "not connected yet"
        #: How many times the subscription connected (1 + reconnections).
        self.connections = 0

    # -------------------------------------------------------------------- what subclasses add

    def _params(self) -> dict[str, str]:
        raise NotImplementedError

    def _on_connect(self) -> None:
        """Called after each (re)connection, before its first message."""

    def _accept(self, msg: _Obj) -> T | None:
        """The message to deliver, or ``None`` to skip it (a duplicate or another type)."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------ iterating

    def __iter__(self: S) -> S:
        return self

    def __next__(self) -> T:
        msg = self.next()
        if msg is None:
            raise StopIteration
        return msg

    def __enter__(self: S) -> S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; iteration ends."""
        self._closed = True
        self._drop()

    @property
    def closed(self) -> bool:
        return self._closed

    def next(self, timeout: float | None = None) -> T | None:
        """The next message, waiting at most ``timeout`` seconds (``None``: as long as it
        takes); ``None`` when that time passes first, or once the subscription is closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed:
            if self._ws is None and not self._connect(deadline):
                return None
            ws = self._ws
            assert ws is not None
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                data = ws.recv(timeout=left)
            except TimeoutError:
                return None
            except ConnectionClosed as e:
                self._last_error = f"connection closed ({e})"
                self._drop()
                continue
            out = self._accept(_parse(data))
            if out is not None:
                return out
        return None

    # ---------------------------------------------------------------------------- connecting

    def _drop(self) -> None:
        scope, self._ws_scope, self._ws = self._ws_scope, None, None
        if scope is not None:
            try:
                scope.close()
            except (OSError, WebSocketException):
                pass

    def _connect(self, deadline: float | None) -> bool:
        """Connect (retrying with backoff); ``False`` if ``deadline`` passes first."""
        while not self._closed:
            now = time.monotonic()
            if self._outage_since is None:
                self._outage_since = now
            if now - self._outage_since > self.reconnect_for:
                raise SubscriptionLost(
                    f"no connection to {self._client.endpoint} for {self.reconnect_for:.0f} s "
                    f"(last: {self._last_error})"
                )
            url = self._client.subscription_url(self._params())
            budget = self.reconnect_for - (now - self._outage_since)
            if deadline is not None:
                budget = min(budget, deadline - now)
            scope = ExitStack()
            try:
                # Entered as a context (closed by _drop): the form every websockets version
                # since 14 takes without a warning.
                self._ws = scope.enter_context(
                    connect(
                        url,
                        open_timeout=max(0.1, min(10.0, budget)),
                        close_timeout=1.0,
                        max_size=None,
                    )
                )
                self._ws_scope = scope
            except InvalidURI as e:
                raise ValueError(f"bad subscription URL {url}: {e}") from e
            except InvalidStatus as e:
                err = error_from_response(e.response.status_code, bytes(e.response.body or b""))
                if not err.retryable and e.response.status_code < 500:
                    raise err from None
                self._last_error = str(err)
            except (OSError, TimeoutError, WebSocketException) as e:
                self._last_error = f"{type(e).__name__}: {e}"
            else:
                self._outage_since = None
                self._backoff = _BACKOFF_FIRST_S
                self.connections += 1
                self._on_connect()
                return True
            now = time.monotonic()
            pause = self._backoff
            self._backoff = min(self._backoff * 2, _BACKOFF_MAX_S)
            if deadline is not None and now + pause >= deadline:
                time.sleep(max(0.0, deadline - now))
                return False
            time.sleep(pause)
        return False


def _parse(data: str | bytes) -> _Obj:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    try:
        value = json.loads(text)
    except ValueError as e:
        raise BadResponse(f"subscription: a message that is not JSON: {text[:200]}") from e
    return _Obj(value, "subscription message")


class BlockSubscription(Subscription[BlockMessage]):
    """Blocks in height order, each once."""

    def __init__(self, client: Client, from_height: int, *, reconnect_for: float) -> None:
        super().__init__(client, from_height, reconnect_for=reconnect_for)
        self._next_height = from_height

    @property
    def next_height(self) -> int:
        """The height the next block will have (where a reconnection resumes)."""
        return self._next_height

    def _params(self) -> dict[str, str]:
        return {"kind": "blocks", "from_height": str(self._next_height)}

    def _accept(self, msg: _Obj) -> BlockMessage | None:
        if msg.get("type") != "block":
            return None
        block = BlockMessage.parse(msg)
        if block.height < self._next_height:
            return None
        self._next_height = block.height + 1
        return block


class EventSubscription(Subscription[EventMessage]):
    """Contract events in chain order, each once."""

    def __init__(
        self, client: Client, from_height: int, contract: str | None, *, reconnect_for: float
    ) -> None:
        super().__init__(client, from_height, reconnect_for=reconnect_for)
        self.contract = contract
        self._height: int | None = None
        self._count = 0
        self._replay = 0

    @property
    def last_height(self) -> int | None:
        """The height of the last event delivered."""
        return self._height

    def _params(self) -> dict[str, str]:
        params = {
            "kind": "events",
            "from_height": str(self._from if self._height is None else self._height),
        }
        if self.contract is not None:
            params["contract"] = self.contract
        return params

    def _on_connect(self) -> None:
        # The events of the last height delivered come again first: skip as many as were sent.
        self._replay = self._count if self._height is not None else 0

    def _accept(self, msg: _Obj) -> EventMessage | None:
        if msg.get("type") != "event":
            return None
        event = EventMessage.parse(msg)
        if self._height is not None:
            if event.height < self._height:
                return None
            if event.height == self._height and self._replay > 0:
                self._replay -= 1
                return None
        self._replay = 0
        if event.height == self._height:
            self._count += 1
        else:
            self._height = event.height
            self._count = 1
        return event
