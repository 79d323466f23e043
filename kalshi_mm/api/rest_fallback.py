"""REST in place of the WebSocket: order books for the state store's fallback, and fill reconciliation.

* :class:`RestOrderbookFallback` satisfies :class:`kalshi_mm.state.interfaces.RestFallback` with the REST
  client's ``GET /markets/{ticker}/orderbook``. It is what makes REST-only mode (``websockets.enabled: false``)
  work: the store then reads every book through it (cached for the store's ``rest_orderbook_ttl_s``).
* :func:`reconcile_fills` copies our fills since a time from ``GET /portfolio/fills`` into the store, which
  deduplicates them by fill id against those the ``fill`` channel delivered. Kalshi's fill channel has no
  ``seq``, so after a reconnect REST is the only way to learn of a fill sent while the socket was down.
"""

from __future__ import annotations

import logging
from typing import NamedTuple, Protocol

from kalshi_mm.api.ratelimit import Priority
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import Fill
from kalshi_mm.api.ws_types import BookSide, FillMsg, OrderbookSnapshot
from kalshi_mm.state.store import MarketStateStore

__all__ = ["FillReconciler", "FillReconciliation", "RestOrderbookFallback", "fill_message", "reconcile_fills"]

log = logging.getLogger("kalshi_mm.api.websocket")


class RestOrderbookFallback:
    """The store's REST fallback over :class:`KalshiTradingAPI` (``priority``: the rate-limit class of the reads;
    a quoting loop that depends on them may pass ``Priority.ORDER``)."""

    def __init__(self, rest: KalshiTradingAPI, *, priority: Priority = Priority.MARKET_DATA) -> None:
        self._rest = rest
        self._priority = priority

    def get_orderbook(self, ticker: str) -> OrderbookSnapshot:
        """The full book of ``ticker``: YES bids best first, YES asks best first, stamped with the receive time."""
        ob = self._rest.get_orderbook(ticker, priority=self._priority)
        # REST lists bids ascending with the best last; the snapshot wants the best first on both sides.
        return OrderbookSnapshot(
            None, None, ticker, None, tuple(reversed(ob.yes_bids)), ob.yes_asks, None, ob.received_ts
        )


def fill_message(fill: Fill, received_ts: float) -> FillMsg:
    """A REST fill as the ``fill`` channel's message (no sid; position and client order id are not in REST)."""
    return FillMsg(
        None,
        fill.fill_id,
        fill.order_id,
        None,
        fill.ticker,
        BookSide(fill.side.value),
        fill.is_taker,
        fill.yes_price_e4,
        fill.count_e2,
        fill.fee_e4,
        None,
        round(fill.created_ts * 1000),
        received_ts,
    )


class FillReconciliation(NamedTuple):
    fetched: int  # fills REST returned
    added: int  # of which the store did not have yet
    newest_ts: float | None  # exchange time (Unix s) of the newest fill returned


def reconcile_fills(rest: KalshiTradingAPI, store: MarketStateStore, since_ts: float) -> FillReconciliation:
    """Record every fill at or after ``since_ts`` (Unix s, exchange time) that the store has not seen.

    Fills enter oldest first, so the store's fill log stays in time order. REST errors propagate before
    anything is recorded (the caller retries later; fills already known are skipped by fill id anyway).
    """
    fills = sorted(rest.iter_fills_since(since_ts), key=lambda f: f.created_ts)
    now = rest.clock.time()
    added = sum(1 for fill in fills if store.record_fill(fill_message(fill, now)))
    return FillReconciliation(len(fills), added, fills[-1].created_ts if fills else None)


class _FillStream(Protocol):
    """What the reconciler reads from the WebSocket stream handler."""

    fill_sid_ready: bool
    newest_fill_ts: float | None


class FillReconciler:
    """When to reconcile fills from REST, for the WebSocket thread: once per connection as soon as the ``fill``
    channel is up (a fill sent while disconnected is then found), and every ``interval_s`` when > 0.

    The window starts ``margin_s`` before the newest fill already known, never before ``floor_ts`` (the
    client's start: fills before it are the start-up reconciliation's business, and counting them here would
    count them twice). A failed attempt is retried after ``retry_s``. WebSocket thread only.
    """

    def __init__(
        self, rest: KalshiTradingAPI, store: MarketStateStore, *, margin_s: float, interval_s: float, retry_s: float
    ) -> None:
        self._rest = rest
        self._store = store
        self._margin_s = margin_s
        self._interval_s = interval_s
        self._retry_s = retry_s
        self.floor_ts = 0.0
        self._pending = False
        self._next_poll = 0.0
        self._retry_at = 0.0
        self.counters = {"fill_reconciliations": 0, "fills_reconciled": 0, "fill_reconcile_errors": 0}

    def connection_started(self) -> None:
        self._pending = True

    def maybe_run(self, now: float, stream: _FillStream) -> None:
        """Reconcile if due (``now``: monotonic seconds). REST errors are logged and counted, never raised."""
        if not stream.fill_sid_ready or now < self._retry_at:
            return
        if not (self._pending or (self._interval_s > 0 and now >= self._next_poll)):
            return
        newest = stream.newest_fill_ts
        since = self.floor_ts if newest is None else max(self.floor_ts, newest - self._margin_s)
        self.counters["fill_reconciliations"] += 1
        try:
            result = reconcile_fills(self._rest, self._store, since)
        except Exception as exc:  # REST trouble: the fill channel still runs; try again shortly
            self.counters["fill_reconcile_errors"] += 1
            self._retry_at = now + self._retry_s
            log.warning("fill reconciliation from REST failed: %s: %.200s", type(exc).__name__, exc)
            return
        self._pending = False
        self._next_poll = now + self._interval_s
        self.counters["fills_reconciled"] += result.added
        if result.newest_ts is not None and (newest is None or result.newest_ts > newest):
            stream.newest_fill_ts = result.newest_ts
        if result.added:
            log.info("fill reconciliation: %d fill(s) the stream had not delivered", result.added)
