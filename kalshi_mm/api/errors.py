"""The client's error taxonomy, and the ONE place that maps an HTTP outcome onto it (DESIGN.md #6, NOTES.md §4).

Every failure the REST client raises is an :class:`ApiError` of one of three kinds:

* **transient** (:class:`TransientError`): network errors, timeouts, 5xx, 429. Idempotent calls (GETs, cancels)
  are retried with capped exponential backoff and jitter; order creation is made idempotent by
  ``client_order_id`` (look the order up before retrying).
* **rejected** (:class:`RejectedError`): a 4xx business error (post-only cross, balance too low, market closed,
  trading paused, order already exists, not found, ...). Never retried; the caller gets ``code``, ``message``
  and ``details`` to decide.
* **fatal** (:class:`FatalError`): 401/403, an unexpected redirect, or a response whose money fields cannot be
  trusted (:class:`WireError`). Raised so the daemon stops trading.

:func:`classify_response` and :func:`classify_exception` are the mapping; the retry loop asks
:func:`should_retry`. No error ever carries request headers, the signature or key material: only method,
path, status and the exchange's own code/message/details.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import requests

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ErrorBody",
    "ErrorKind",
    "FatalError",
    "InsufficientBalanceError",
    "MarketClosedError",
    "NetworkError",
    "NotFoundError",
    "OrderAlreadyExistsError",
    "OrderOutcomeUnknownError",
    "PermissionDeniedError",
    "PostOnlyCrossError",
    "RateLimitedError",
    "RejectedError",
    "ServerError",
    "TradingPausedError",
    "TransientError",
    "WireError",
    "classify_exception",
    "classify_item_error",
    "classify_response",
    "parse_error_body",
    "should_retry",
]


class ErrorKind(enum.Enum):
    TRANSIENT = "transient"  # retry (idempotent calls) with backoff
    REJECTED = "rejected"  # the exchange said no: do not retry, act on the reason
    FATAL = "fatal"  # stop trading


class ApiError(Exception):
    """A failed REST call. ``status`` is the HTTP status (None for network errors and parse failures)."""

    kind: ClassVar[ErrorKind] = ErrorKind.FATAL

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        code: str = "",
        details: str = "",
    ):
        where = f"{method} {path}: " if method else ""
        super().__init__(where + message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.details = details


# --- transient ------------------------------------------------------------------------------------------------


class TransientError(ApiError):
    """Worth retrying later. ``executed`` is False when the exchange certainly did not act on the request
    (429, connection refused), None when nobody knows (timeout, dropped response, 5xx)."""

    kind = ErrorKind.TRANSIENT
    executed: bool | None = None


class NetworkError(TransientError):
    """Connection refused or reset, timeout, response lost."""

    def __init__(self, message: str, *, executed: bool | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.executed = executed


class RateLimitedError(TransientError):
    """429: Kalshi refuses the whole request when the bucket is short, so nothing was executed."""

    executed = False


class ServerError(TransientError):
    """5xx (and 408): the exchange may or may not have acted."""


class OrderOutcomeUnknownError(TransientError):
    """A create could be neither confirmed nor ruled out (the look-up by ``client_order_id`` failed too).

    Reconcile later by ``client_order_id``: re-sending it can never double the order (409 on a duplicate).
    """

    def __init__(self, message: str, *, client_order_id: str, ticker: str, **kw: Any):
        super().__init__(message, **kw)
        self.client_order_id = client_order_id
        self.ticker = ticker


# --- rejected -------------------------------------------------------------------------------------------------


class RejectedError(ApiError):
    """A 4xx business error; ``code``/``message``/``details`` are the exchange's."""

    kind = ErrorKind.REJECTED


class NotFoundError(RejectedError):
    """404: unknown market, event, series, order (or an order no longer resting) or order group."""


class OrderAlreadyExistsError(RejectedError):
    """409 ``order_already_exists``: the client_order_id is taken; for our own retry it means "it exists"."""


class PostOnlyCrossError(RejectedError):
    """400 ``invalid_order`` / ``post only cross``: a post-only order would have taken liquidity."""


class InsufficientBalanceError(RejectedError):
    """``available_balance_too_low`` (older ``insufficient_balance``)."""


class MarketClosedError(RejectedError):
    """``market_closed``: not open for trading."""


class TradingPausedError(RejectedError):
    """``trading_is_paused``: a scheduled or ad-hoc trading pause; cancels still work."""


# --- fatal ----------------------------------------------------------------------------------------------------


class FatalError(ApiError):
    """Trading cannot safely continue (credentials, permissions, a wire format we cannot trust)."""

    kind = ErrorKind.FATAL


class AuthenticationError(FatalError):
    """401: bad key, bad signature, clock skew."""


class PermissionDeniedError(FatalError):
    """403: the key lacks a scope or is restricted to another subaccount."""


class WireError(FatalError):
    """A response we cannot parse where money is concerned; the message names the object and field, e.g.
    ``market KX-1: yes_bid_dollars: malformed decimal string 'abc'``. Fatal: a wire format that changed
    under us must not be traded on with guessed prices."""


# --- the mapping ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorBody:
    code: str
    message: str
    details: str


def parse_error_body(body: object) -> ErrorBody:
    """Kalshi's three error forms (NOTES §4): nested ``{"error": {code, message, details}}``, flat
    ``{code, message, details}`` and ``{"error": "too many requests"}``; text or nothing is taken as a message."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body) if body.strip() else None
        except (ValueError, RecursionError):  # not JSON, an integer past 4,300 digits, nesting too deep
            return ErrorBody("", body.strip()[:200], "")
    if body is None:
        return ErrorBody("", "", "")
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, str):
            return ErrorBody("", inner, "")
        source = inner if isinstance(inner, Mapping) else body
        return ErrorBody(_text(source.get("code")), _text(source.get("message")), _text(source.get("details")))
    return ErrorBody("", str(body)[:200], "")


def _text(value: object) -> str:
    return "" if value is None else str(value)


# Business codes that name a reason regardless of the status they come with (one report has market_closed as
# 400, another as 409).
_REJECTED_BY_CODE: dict[str, type[RejectedError]] = {
    "order_already_exists": OrderAlreadyExistsError,
    "available_balance_too_low": InsufficientBalanceError,
    "insufficient_balance": InsufficientBalanceError,
    "market_closed": MarketClosedError,
    "trading_is_paused": TradingPausedError,
    "not_found": NotFoundError,
}


def classify_response(status: int, body: object, *, method: str = "", path: str = "") -> ApiError:
    """The error for a non-2xx response. ``body`` is the decoded JSON, raw text or None."""
    err = parse_error_body(body)
    kw: dict[str, Any] = {"method": method, "path": path, "status": status, "code": err.code, "details": err.details}
    reason = ": ".join(part for part in (err.code, err.message) if part) or "no error body"
    message = f"{status} {reason}" + (f" ({err.details})" if err.details else "")
    if status == 401:
        return AuthenticationError(message, **kw)
    if status == 403:
        return PermissionDeniedError(message, **kw)
    if status == 429:
        return RateLimitedError(message, **kw)
    if status == 408 or 500 <= status <= 599:
        return ServerError(message, **kw)
    if 400 <= status <= 499:
        if err.code == "invalid_order" and "post only cross" in err.details.lower():
            return PostOnlyCrossError(message, **kw)
        by_code = _REJECTED_BY_CODE.get(err.code)
        if by_code is not None:
            return by_code(message, **kw)
        if status == 404:
            return NotFoundError(message, **kw)
        return RejectedError(message, **kw)
    # 1xx/3xx (redirects are not followed): the base URL or a proxy is wrong; nothing sensible to retry.
    return FatalError(f"{message}: unexpected HTTP status, check the exchange base URL", **kw)


def classify_item_error(error: object, *, method: str = "", path: str = "") -> RejectedError:
    """The error of one item of a batch (``{"code", "message", "details"}``): the batch itself succeeded, so an
    item failure is a business rejection, typed by its code as :func:`classify_response` would."""
    err = parse_error_body({"error": error} if isinstance(error, (Mapping, str)) else error)
    kw: dict[str, Any] = {"method": method, "path": path, "code": err.code, "details": err.details}
    message = (": ".join(part for part in (err.code, err.message) if part) or "rejected") + (
        f" ({err.details})" if err.details else ""
    )
    if err.code == "invalid_order" and "post only cross" in err.details.lower():
        return PostOnlyCrossError(message, **kw)
    return _REJECTED_BY_CODE.get(err.code, RejectedError)(message, **kw)


def classify_exception(exc: requests.RequestException, *, method: str = "", path: str = "") -> ApiError:
    """The error for a request that got no HTTP response. The requests exception is not chained by the caller
    (it holds the prepared request, whose headers carry the signature); only its text survives."""
    reason = f"{type(exc).__name__}: {_safe_reason(exc)}"
    if isinstance(exc, requests.ConnectTimeout) or _refused(exc):
        return NetworkError(f"not sent ({reason})", executed=False, method=method, path=path)
    if isinstance(exc, requests.Timeout):
        return NetworkError(f"timed out waiting for the response ({reason})", method=method, path=path)
    if isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return NetworkError(f"connection lost ({reason})", method=method, path=path)
    # InvalidURL, MissingSchema, InvalidHeader...: our configuration, not the network.
    return FatalError(f"request could not be made ({reason})", method=method, path=path)


def _safe_reason(exc: BaseException) -> str:
    # requests messages name the URL and the underlying socket error, never headers; keep them short.
    return str(exc)[:300]


def _refused(exc: requests.RequestException) -> bool:
    """True when the TCP connection was never established, so the request cannot have reached the exchange."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        name = type(current).__name__
        if name in ("NewConnectionError", "ConnectionRefusedError", "NameResolutionError"):
            return True
        stack.extend(
            [current.__cause__, current.__context__, *[a for a in current.args if isinstance(a, BaseException)]]
        )
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return False


def should_retry(error: ApiError, *, idempotent: bool) -> bool:
    """Retry transient errors of idempotent calls, and of any call the exchange certainly did not execute."""
    if not isinstance(error, TransientError):
        return False
    return idempotent or error.executed is False
