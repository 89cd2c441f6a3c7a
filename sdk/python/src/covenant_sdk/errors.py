"""Every failure the SDK raises, each with a stable code.

The node's own failures keep the node's code (``TX_BAD_SIGNATURE``, ``NOT_FOUND``,
``TXPOOL_FULL``, ...); the SDK adds its own for what happens on this side (``NODE_UNREACHABLE``,
``BAD_RESPONSE``, ``PROOF_INVALID``, ...). Catch :class:`CovenantError` for all of them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .views import Receipt, TxResult

__all__ = [
    "ApiError",
    "BadResponse",
    "CommitTimeout",
    "CovenantError",
    "CryptoError",
    "EncodingError",
    "NodeUnreachable",
    "ProfileError",
    "ProofInvalid",
    "QueryFailed",
    "SubscriptionLost",
    "TransactionFailed",
    "error_from_response",
]


class CovenantError(Exception):
    """Base of every SDK error.

    ``code`` is stable and meant for programs; ``message`` is for people. ``status`` is the
    HTTP status when a node answered, and ``retry_after_ms`` the node's hint for "busy"
    answers: an error that carries one may be retried after that long.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.retry_after_ms = retry_after_ms

    @property
    def retryable(self) -> bool:
        """Whether the node asked to be tried again later (it sent ``retry_after_ms``)."""
        return self.retry_after_ms is not None


class ApiError(CovenantError):
    """The node answered with an error body ``{"error": {"code", "message"}}``."""


class NodeUnreachable(CovenantError):
    """The node could not be reached, or its answer did not arrive in time."""

    def __init__(self, endpoint: str, detail: str) -> None:
        super().__init__("NODE_UNREACHABLE", f"cannot reach the node at {endpoint}: {detail}")
        self.endpoint = endpoint


class BadResponse(CovenantError):
    """The node's answer is not what the API promises."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__("BAD_RESPONSE", message, status=status)


class TransactionFailed(CovenantError):
    """A transaction was committed, but its outcome is not ``OK``.

    ``code`` is the outcome's code (e.g. ``POLICY_NOT_MET``); ``receipt`` has the rest.
    """

    def __init__(self, receipt: Receipt) -> None:
        detail = receipt.message or "the transaction failed"
        super().__init__(receipt.code, f"tx {receipt.tx_id} at height {receipt.height}: {detail}")
        self.receipt = receipt
        self.tx_id = receipt.tx_id


class QueryFailed(CovenantError):
    """A read-only call answered with a code other than ``OK``."""

    def __init__(self, result: TxResult) -> None:
        super().__init__(result.code, result.message or "the query failed")
        self.result = result


class CommitTimeout(CovenantError):
    """A transaction was admitted but not committed before the call's timeout."""

    def __init__(self, tx_id: str, seconds: float) -> None:
        super().__init__(
            "COMMIT_TIMEOUT", f"tx {tx_id} was not committed within {seconds:.1f} s"
        )
        self.tx_id = tx_id


class ProofInvalid(CovenantError):
    """A Merkle proof, or what it is checked against, does not hold."""

    def __init__(self, message: str) -> None:
        super().__init__("PROOF_INVALID", message)


class ProfileError(CovenantError):
    """A profile or one of its identities cannot be used.

    Codes: ``PROFILE_INVALID`` (the file), ``IDENTITY_UNKNOWN`` (no such name),
    ``IDENTITY_INVALID`` (its certificate or key).
    """


class CryptoError(CovenantError):
    """A key, certificate or signature is malformed or unusable.

    Codes: ``KEY_INVALID``, ``CERTIFICATE_INVALID``, ``SIGNATURE_MALFORMED``,
    ``UNSUPPORTED_ALGORITHM``, ``KEY_MISMATCH``.
    """


class EncodingError(CovenantError):
    """Bytes that do not decode as the protobuf message they should be."""

    def __init__(self, message: str) -> None:
        super().__init__("MALFORMED", message)


class SubscriptionLost(CovenantError):
    """A subscription could not reconnect within its allowed time."""

    def __init__(self, message: str) -> None:
        super().__init__("SUBSCRIPTION_LOST", message)


def _error_fields(body: Any) -> tuple[str, str, int | None] | None:
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if not isinstance(err, dict):
        return None
    code = err.get("code")
    message = err.get("message")
    if not isinstance(code, str) or not code or not isinstance(message, str):
        return None
    retry = err.get("retry_after_ms")
    if retry is None:
        return code, message, None
    if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
        return None
    return code, message, retry


def error_from_response(status: int, body: bytes | str) -> CovenantError:
    """The error for a node's non-success answer: an :class:`ApiError` with the node's code
    when the body is the API's error shape, else :class:`BadResponse`."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = None
    fields = _error_fields(parsed)
    if fields is None:
        shown = text if len(text) <= 300 else text[:300] + "…"
        return BadResponse(f"HTTP {status}: {shown}", status=status)
    code, message, retry = fields
    return ApiError(code, message, status=status, retry_after_ms=retry)
