"""What a session knows about its market besides its own orders: the price grid (and so its outcome leg),
the close time, whether the market can be traded, the book, and when it last traded.

Sources, freshest first: the store (WebSocket-fed ``market_lifecycle_v2`` events, the book, public trades),
REST (``GET /markets/{ticker}`` every ``refresh_interval_s``, the book through the store's REST fallback,
``GET /markets/trades`` for the last trade when the WebSocket is not live). Owned by the session thread.

With ``lifecycle_stream`` (the store is subscribed to ``market_lifecycle_v2``) and a healthy WebSocket the periodic
REST read is skipped: the stream carries every change it would find. After the stream was down (or before it was
up) one read covers whatever the stream may have missed, then the stream takes over again.
"""

from __future__ import annotations

import logging

from kalshi_mm.api.errors import TransientError
from kalshi_mm.api.ratelimit import Priority
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.clock import Clock
from kalshi_mm.state.orderbook import OrderBookView
from kalshi_mm.state.store import MarketStateStore
from kalshi_mm.strategy.legs import Leg, OutcomeSide
from kalshi_mm.strategy.session import StopReason
from kalshi_mm.units import PriceGrid

__all__ = ["MarketWatch"]

_RETRY_S = 10.0  # clock seconds before a failed market read is retried


class MarketWatch:
    """One market as seen by one session (module docstring)."""

    def __init__(
        self,
        api: KalshiTradingAPI,
        store: MarketStateStore,
        ticker: str,
        side: OutcomeSide,
        clock: Clock,
        logger: logging.Logger,
        *,
        refresh_interval_s: float,
        lifecycle_stream: bool = False,
    ):
        self._api = api
        self._store = store
        self._ticker = ticker
        self._side: OutcomeSide = side
        self._clock = clock
        self._log = logger
        self._refresh_interval_s = refresh_interval_s
        self._lifecycle_stream = lifecycle_stream
        self._stream_covered = False  # the last REST read happened while the lifecycle stream was live
        self._next_refresh = 0.0
        self._lifecycle_seen = 0.0
        self.leg: Leg | None = None
        self.close_ts: float | None = None
        self.last_trade_ts = 0.0

    def _set_grid(self, grid: PriceGrid) -> None:
        if self.leg is None or grid != self.leg.yes_grid:
            self.leg = Leg(self._side, grid)

    def refresh(self) -> StopReason | None:
        """Read the market from REST: grid, close time, status; a halt reason when it cannot be traded."""
        live = self._stream_live()
        market = self._api.get_market(self._ticker, priority=Priority.ORDER)
        self._next_refresh = self._clock.time() + self._refresh_interval_s
        self._stream_covered = live
        self.close_ts = market.close_ts
        self._set_grid(market.grid or PriceGrid.linear_cent())  # no price_ranges: Kalshi's default structure
        if market.status == "active":
            return None
        self._log.info("%s: market status %s", self._ticker, market.status)
        return StopReason.TRADING_PAUSED if market.status == "inactive" else StopReason.MARKET_CLOSED

    def events(self, now: float) -> StopReason | None:
        """Apply a new lifecycle event from the store; refresh from REST when due. A halt reason or None."""
        event = self._store.get_lifecycle(self._ticker)
        if event is not None and event.received_ts > self._lifecycle_seen:
            self._lifecycle_seen = event.received_ts
            if event.close_ts is not None:
                self.close_ts = float(event.close_ts)
            if event.price_grid is not None:
                self._set_grid(event.price_grid)  # resting orders are carried over by the exchange
            if event.event_type in ("determined", "settled"):
                return StopReason.MARKET_CLOSED
            if event.is_deactivated:
                return StopReason.TRADING_PAUSED
        if self._stream_live():
            # The stream (re)started after the last read: read once (a failed read retries at the usual interval).
            due = not self._stream_covered and now >= self._next_refresh
        else:
            self._stream_covered = False
            due = now >= self._next_refresh
        if due:
            try:
                return self.refresh()
            except TransientError as exc:
                self._next_refresh = now + min(self._refresh_interval_s, _RETRY_S)
                self._log.warning("%s: market refresh failed: %s", self._ticker, exc)
        return None

    def _stream_live(self) -> bool:
        return self._lifecycle_stream and self._store.ws_healthy

    def read_book(self) -> OrderBookView | None:
        """The live book (WebSocket, else REST through the store's fallback); None when unavailable."""
        try:
            return self._store.get_orderbook(self._ticker, allow_rest=True)
        except TransientError as exc:
            self._log.warning("%s: order book unavailable: %s", self._ticker, exc)
            return None

    def note_trade(self, ts: float) -> None:
        self.last_trade_ts = max(self.last_trade_ts, ts)

    def update_last_trade(self, ws_live: bool) -> None:
        """Learn the market's latest public trade time: from the store's trade channel while the WebSocket
        is live, otherwise one REST request for the newest trade."""
        if ws_live:
            trades = self._store.recent_trades(self._ticker)
            if trades:
                t = trades[-1]
                self.note_trade(t.ts_ms / 1000 if t.ts_ms is not None else t.received_ts)
            return
        try:
            page = self._api.get_trades(self._ticker, limit=1)
        except TransientError as exc:
            self._log.warning("%s: trades unavailable: %s", self._ticker, exc)
            return
        if page.items:
            self.note_trade(page.items[0].created_ts)
