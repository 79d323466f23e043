"""A session's fills and inventory: read from the state store, reconciled against REST, checked against the
exchange's position, recorded in the analytics database.

Fills reach the store from the WebSocket ``fill`` channel and, through REST reconciliation, from
``GET /portfolio/fills?ticker=`` (the only source in REST-only mode, and the repair after a reconnect: the fill
channel has no ``seq``). The store deduplicates
by fill id; the tracker reads it with its own cursor, keeps the fills of this session's orders (the store
holds every fill of the account), and deduplicates again by fill id, so a fill counts once whatever path
brought it.

Inventory (YES leg, + YES / − NO, 1/100 contract) = the position when the session started + its fills. The
exchange's position is the truth: when it disagrees after a fresh REST reconciliation (fills missed or
evicted), the tracker adopts it and says so in the log.

Owned by the session thread.
"""

from __future__ import annotations

import logging

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.errors import TransientError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.rest_fallback import fill_message
from kalshi_mm.api.types import BookSide, MarketPosition
from kalshi_mm.api.ws_types import BookSide as WsBookSide
from kalshi_mm.api.ws_types import FillMsg
from kalshi_mm.clock import Clock
from kalshi_mm.state.store import MarketStateStore
from kalshi_mm.strategy.order_executor import OrderExecutor, db_sides

__all__ = ["FillTracker"]

# REST fills are queried from slightly before the newest one seen: exchange timestamps are whole seconds on
# the query, and a fill stamped just before the newest may become visible after it.
_REST_OVERLAP_S = 5.0


class FillTracker:
    """Fills and inventory of one session (module docstring)."""

    def __init__(
        self,
        api: KalshiTradingAPI,
        store: MarketStateStore,
        db: AnalyticsDB,
        run_id: int,
        ticker: str,
        executor: OrderExecutor,
        clock: Clock,
        logger: logging.Logger,
        *,
        start_position_e2: int,
        since_ts: float,
        adopt_exchange_position: bool = True,
    ):
        self._api = api
        self._store = store
        self._db = db
        self._run_id = run_id
        self._ticker = ticker
        self._executor = executor
        self._clock = clock
        self._log = logger
        self._adopt = adopt_exchange_position
        self.position_e2 = start_position_e2
        self.realized_pnl_e4: int | None = None
        self._rest_since = since_ts
        self._start_cursor = store.fills_since(0, ticker).cursor
        self._cursor = self._start_cursor
        self._seen: set[str] = set()
        self.fill_count = 0

    def poll(self, *, rest: bool) -> list[FillMsg]:
        """New fills of this session (oldest first), applied to inventory and orders and recorded. With
        ``rest`` the store is first topped up from REST; a transient REST failure only delays that."""
        if rest:
            self._reconcile_rest()
        batch = self._store.fills_since(self._cursor, self._ticker)
        self._cursor = batch.cursor
        if batch.missed:
            self._log.warning("%s: %d fills left the store before they were read", self._ticker, batch.missed)
        return self._apply(batch.fills)

    def rescan(self) -> list[FillMsg]:
        """Re-read every fill since the session started: for orders learned late (a create whose response
        was lost), whose fills were skipped as not ours when they arrived."""
        return self._apply(self._store.fills_since(self._start_cursor, self._ticker).fills)

    def _reconcile_rest(self) -> None:
        """Copy this market's fills since the last reconciliation from REST into the store (oldest first, so the
        store's log stays in time order; the store drops those it has)."""
        try:
            fills = sorted(self._api.iter_fills_since(self._rest_since, self._ticker), key=lambda f: f.created_ts)
        except TransientError as exc:
            self._log.warning("%s: REST fill reconciliation failed, retrying later: %s", self._ticker, exc)
            return
        now = self._clock.time()
        for fill in fills:
            self._store.record_fill(fill_message(fill, now))
        if fills:
            self._rest_since = max(self._rest_since, fills[-1].created_ts - _REST_OVERLAP_S)

    def _apply(self, fills: tuple[FillMsg, ...]) -> list[FillMsg]:
        new: list[FillMsg] = []
        for fill in fills:
            if fill.fill_id in self._seen or not self._executor.owns(fill.order_id, fill.client_order_id):
                continue
            self._seen.add(fill.fill_id)
            signed = fill.count_e2 if fill.side is WsBookSide.BID else -fill.count_e2
            self.position_e2 += signed
            self.fill_count += 1
            fully = self._executor.apply_fill(
                fill.order_id,
                fill.count_e2,
                side=BookSide(fill.side.value),  # the YES-leg side and price also feed the risk book
                price_e4=fill.yes_price_e4,
                fee_e4=fill.fee_e4,
                client_order_id=fill.client_order_id,
            )
            ts = fill.ts_ms / 1000 if fill.ts_ms is not None else fill.received_ts
            outcome_side, book_side = db_sides(BookSide(fill.side.value))
            self._db.book_fill(
                fill_id=fill.fill_id,
                order_id=fill.order_id,
                market_ticker=self._ticker,
                outcome_side=outcome_side,
                book_side=book_side,
                price_e4=fill.yes_price_e4,
                count_e2=fill.count_e2,
                is_taker=fill.is_taker,
                fee_e4=fill.fee_e4,
                fully_filled=fully,
                ts=ts,
                trade_id=fill.trade_id,
                client_order_id=fill.client_order_id,
                run_id=self._run_id,
                post_position_e2=self.position_e2,
            )
            self._db.log_position(run_id=self._run_id, position_e2=self.position_e2, ts=ts)
            self._log.info(
                "%s: fill %s %s %d @ %d -> position %d",
                self._ticker,
                fill.fill_id,
                fill.side.value,
                fill.count_e2,
                fill.yes_price_e4,
                self.position_e2,
            )
            new.append(fill)
        return new

    def verify_position(self) -> MarketPosition | None:
        """Compare inventory with ``GET /portfolio/positions``; on a difference reconcile fills from REST and
        compare again, then adopt the exchange's figure (when allowed). None when REST is unavailable."""
        try:
            position = self._api.get_position(self._ticker)
            if position.position_e2 != self.position_e2:
                self.poll(rest=True)
                position = self._api.get_position(self._ticker)
        except TransientError as exc:
            self._log.warning("%s: position check failed: %s", self._ticker, exc)
            return None
        self.realized_pnl_e4 = position.realized_pnl_e4
        if position.position_e2 != self.position_e2:
            if self._adopt:
                self._log.warning(
                    "%s: fills give position %d, exchange says %d: adopting the exchange's",
                    self._ticker,
                    self.position_e2,
                    position.position_e2,
                )
                self.position_e2 = position.position_e2
                self._db.log_position(
                    run_id=self._run_id, position_e2=self.position_e2, realized_pnl_e4=position.realized_pnl_e4
                )
            else:
                self._log.info(
                    "%s: exchange position %d differs from this session's %d (shared market)",
                    self._ticker,
                    position.position_e2,
                    self.position_e2,
                )
        return position
