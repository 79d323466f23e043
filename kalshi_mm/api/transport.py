"""One HTTP attempt and the retry loop of the REST client: signing, rate limiting, error mapping, backoff.

:class:`RestTransport` owns the single keep-alive ``requests.Session`` (its connection pool is thread-safe; the
session holds no per-request state we rely on), the shared :class:`RateLimiter` and the retry policy. Every
failure leaves here as an :class:`~kalshi_mm.api.errors.ApiError` built by the mapping in
:mod:`kalshi_mm.api.errors`; the requests exception, whose prepared request carries the signature header, is
never chained onto it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from kalshi_mm.api.auth import auth_headers
from kalshi_mm.api.errors import (
    ApiError,
    RateLimitedError,
    WireError,
    classify_exception,
    classify_response,
    should_retry,
)
from kalshi_mm.api.ratelimit import Priority, RateLimiter, cost_of
from kalshi_mm.clock import Clock
from kalshi_mm.config.credentials import Credentials

__all__ = ["Reply", "RestTransport", "paginate"]

log = logging.getLogger("kalshi_mm.api.rest")

T = TypeVar("T")

DEFAULT_BACKOFF_BASE_S = 0.25
DEFAULT_BACKOFF_CAP_S = 8.0
# Threads that may hold a connection at once; more are served on throwaway connections.
DEFAULT_POOL_SIZE = 32


@dataclass(frozen=True)
class Reply:
    """A successful response: HTTP status, decoded JSON (None for an empty body), local receive time (Unix s)."""

    status: int
    data: Any
    received_ts: float


class RestTransport:
    """Signed, rate-limited requests with retries. Thread-safe; ``_stats_lock`` guards ``_stats``."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None,
        clock: Clock,
        *,
        limiter: RateLimiter,
        timeout_s: float,
        max_retries: int,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_cap_s: float = DEFAULT_BACKOFF_CAP_S,
        rng: random.Random | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
    ):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL ending in /trade-api/v2, got {base_url!r}")
        if max_retries < 0 or timeout_s <= 0 or backoff_base_s < 0 or backoff_cap_s < backoff_base_s:
            raise ValueError("max_retries >= 0, timeout_s > 0 and 0 <= backoff_base_s <= backoff_cap_s required")
        self.base_url = base_url.rstrip("/")
        # Kalshi signs the path including /trade-api/v2 (NOTES §1).
        self._sign_prefix = parts.path.rstrip("/")
        self.credentials = credentials
        self.clock = clock
        self.limiter = limiter
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "kalshi_mm"})
        self._stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    def stats(self) -> dict[str, int]:
        """Counters: attempts, retries, ok (2xx answers), failed attempts by error kind and class, the
        order-entry operations answered 2xx (:func:`order_counters`), and ``failure_streak`` (not a counter:
        attempts failed in a row since the last answer)."""
        with self._stats_lock:
            return dict(self._stats)

    def _count(self, *keys: str) -> None:
        with self._stats_lock:
            for key in keys:
                self._stats[key] += 1
            # failure_streak: attempts failed in a row (network, 5xx, 429, fatal) since the last answer (2xx or a
            # business rejection): the ops endpoint's REST health, free of races with requests still in flight.
            if "ok" in keys or "rejected" in keys:
                self._stats["failure_streak"] = 0
            elif "transient" in keys or "fatal" in keys:
                self._stats["failure_streak"] += 1

    # --- one attempt ---------------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        priority: Priority = Priority.ORDER,
        batch_items: int = 0,
    ) -> Reply:
        """One rate-limited, signed attempt; raises the mapped :class:`ApiError` on any failure."""
        self.limiter.acquire(method, path, batch_items, priority)
        self._count("attempts")
        headers: dict[str, str] = {}
        if self.credentials is not None:
            headers = auth_headers(
                self.credentials.access_key,
                self.credentials.private_key,
                self.clock.time_ms(),
                method,
                self._sign_prefix + path,
            )
        outcome = self._exchange(method, path, params, body, headers)
        if isinstance(outcome, ApiError):
            raise self._failed(outcome)
        response = outcome
        received_ts = self.clock.time()
        data = _decode(response)
        if not 200 <= response.status_code <= 299:
            error = classify_response(response.status_code, data, method=method, path=path)
            if isinstance(error, RateLimitedError):
                self.limiter.penalize(cost_of(method, path, batch_items)[0])
            raise self._failed(error)
        if isinstance(data, _Undecodable):
            raise self._failed(
                WireError(
                    f"{response.status_code} response is not JSON: {data.text[:100]!r}",
                    method=method,
                    path=path,
                    status=response.status_code,
                )
            )
        self._count("ok", *order_counters(method, path))
        return Reply(response.status_code, data, received_ts)

    def _exchange(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any, headers: dict[str, str]
    ) -> requests.Response | ApiError:
        """The HTTP exchange itself; a failure is returned, not raised, so that the caller raises it outside this
        except block: the requests exception (whose prepared request carries the signature) is then neither
        the cause nor the context of what the caller sees."""
        try:
            return self.session.request(
                method,
                self.base_url + path,
                params=params,
                json=body,
                headers=headers,
                timeout=self.timeout_s,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return classify_exception(exc, method=method, path=path)

    def _failed(self, error: ApiError) -> ApiError:
        self._count(error.kind.value, type(error).__name__)
        return error

    # --- retries -------------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        priority: Priority = Priority.ORDER,
        batch_items: int = 0,
    ) -> Reply:
        """:meth:`send`, retrying transient failures of idempotent calls (and of any call the exchange certainly
        did not execute, e.g. a 429) up to ``max_retries`` times with capped exponential backoff and jitter."""
        attempt = 0
        while True:
            try:
                return self.send(method, path, params=params, body=body, priority=priority, batch_items=batch_items)
            except ApiError as error:
                if attempt >= self.max_retries or not should_retry(error, idempotent=idempotent):
                    raise
                self.backoff(attempt, error)
                attempt += 1

    def backoff(self, attempt: int, error: ApiError) -> float:
        """Sleep (on the clock) before retry number ``attempt + 1``: half the capped exponential step, plus a
        random half of it, so synchronized clients spread out without ever retrying immediately."""
        step = min(self.backoff_cap_s, self.backoff_base_s * (2**attempt))
        with self._rng_lock:
            delay = step / 2 + self._rng.uniform(0, step / 2)
        self._count("retries")
        log.warning(
            "retry %d/%d of %s %s in %.3f s after %s",
            attempt + 1,
            self.max_retries,
            error.method,
            error.path,
            delay,
            error,
        )
        self.clock.wait(delay)
        return delay


_ORDERS_PATH = "/portfolio/events/orders"


def order_counters(method: str, path: str) -> tuple[str, ...]:
    """The order-entry counter a 2xx answer to ``method path`` adds (for the ops metrics): orders_created,
    orders_cancelled, orders_amended, orders_decreased, order_batches_created/cancelled, cancel_all; () otherwise."""
    if not path.startswith(_ORDERS_PATH) or method not in ("POST", "DELETE"):
        return ()
    rest = path[len(_ORDERS_PATH) :]
    if rest == "":
        return ("orders_created",) if method == "POST" else ("cancel_all",)
    if rest == "/batched":
        return ("order_batches_created",) if method == "POST" else ("order_batches_cancelled",)
    if method == "DELETE":
        return ("orders_cancelled",)
    if rest.endswith("/amend"):
        return ("orders_amended",)
    return ("orders_decreased",) if rest.endswith("/decrease") else ()


class _Undecodable:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _decode(response: requests.Response) -> Any:
    """JSON body, None when empty, or the raw text wrapped (error bodies may be plain text)."""
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, ValueError, RecursionError):  # RecursionError: nesting too deep to decode
        text = response.text
        # classify_response takes a string for a non-JSON error body; a 2xx one is a WireError above.
        return text if not 200 <= response.status_code <= 299 else _Undecodable(text)


def paginate(fetch: Callable[[str], tuple[list[T], str]], what: str) -> Iterator[T]:
    """Every item of a cursor listing; ``fetch(cursor)`` returns (items, next cursor), "" marking the end.

    A cursor seen twice would loop forever: that is a broken listing, reported as a WireError.
    """
    cursor = ""
    seen: set[str] = set()
    while True:
        items, cursor = fetch(cursor)
        yield from items
        if not cursor:
            return
        if cursor in seen:
            raise WireError(f"{what}: the exchange returned cursor {cursor[:40]!r} twice")
        seen.add(cursor)
