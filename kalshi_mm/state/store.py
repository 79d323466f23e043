"""MarketStateStore: the in-memory market state fed by the WebSocket thread and read by everyone else.

One writer, many readers (DESIGN.md convention #1): the WebSocket thread alone calls :meth:`apply`,
:meth:`mark_stale`, :meth:`mark_sid_stale`, :meth:`note_alive` and :meth:`set_ws_healthy`; scanner,
market-maker and risk threads read. Each structure has its own lock, held only for dict/deque operations
(never for I/O), so a reader of fills never waits behind an orderbook update:

=====================  ===================================================================================
lock                   guards
=====================  ===================================================================================
``_books_lock``        ``_books`` (per market: OrderBook, sid/seq it came from, stale flag, cached view)
``_tickers_lock``      ``_tickers`` (latest TickerUpdate per market)
``_trades_lock``       ``_trades`` (ring buffer of TradeMsg per market, ``max_trades_per_ticker``)
``_positions_lock``    ``_positions`` (latest MarketPositionMsg per market)
``_lifecycle_lock``    ``_lifecycle`` (latest LifecycleMsg per market) and ``_lifecycle_log``
``OrderTable._lock``   our orders (latest per order id) and order groups (state/orders.py)
``FillLog._lock``      our fills and their dedupe memory (state/fills.py)
``PriceHistory._lock`` price history (state/history.py)
``RestBookCache._lock`` REST-fallback views; fetches run outside it, one per market (state/rest_cache.py)
=====================  ===================================================================================

``_ws_healthy``, ``_last_message_time`` and ``_counters`` values are written only by the writer thread;
single attribute/dict-value writes are atomic under the GIL, so readers see the old or the new value.

Staleness: data of kind K for a market is fresh while ``now − as_of ≤ K's threshold``, where
``as_of = max(time of the market's last update, last time the connection was proven alive)``. A quiet market
on a live, gap-checked stream is therefore current (otherwise every illiquid book would flap to REST), and
after the stream dies everything expires one threshold later. Books are also stale when flagged (sequence
gap, negative level, unsubscribed, terminal channel error) until a new snapshot. Stale data reads as None.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from kalshi_mm.api.ws_types import (
    ErrorMsg,
    FillMsg,
    LifecycleMsg,
    MarketPositionMsg,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupMsg,
    TickerUpdate,
    TradeMsg,
    Unsubscribed,
    UserOrderMsg,
    WsMessage,
)
from kalshi_mm.clock import Clock
from kalshi_mm.state.fills import FillBatch, FillLog
from kalshi_mm.state.history import PriceHistory, PricePoint
from kalshi_mm.state.interfaces import DataKind, RestFallback, StoreLimits, TopOfBook
from kalshi_mm.state.orderbook import BookSide, OrderBook, OrderBookView
from kalshi_mm.state.orders import OrderTable
from kalshi_mm.state.rest_cache import RestBookCache

__all__ = ["DataKind", "MarketStateStore", "RestFallback", "StoreLimits", "TopOfBook"]

_NO_TICKERS: tuple[str, ...] = ()


class _BookEntry:
    __slots__ = ("book", "hist_top", "seq", "sid", "stale", "updated_ts", "view", "view_version")

    def __init__(self, ticker: str, sid: int | None) -> None:
        self.book = OrderBook(ticker)
        self.sid = sid
        self.seq: int | None = None
        self.stale = True  # until a snapshot
        self.updated_ts = 0.0
        self.view: OrderBookView | None = None  # cached for readers while the book's version is unchanged
        self.view_version = -1
        self.hist_top: tuple[int | None, int | None] = (None, None)


class MarketStateStore:
    """Thread-safe market state (see the module docstring for locks and staleness)."""

    def __init__(
        self,
        clock: Clock,
        config: StoreLimits,
        *,
        rest_fallback: RestFallback | None = None,
        rest_orderbook_ttl_s: float = 1.0,
        max_fills: int = 10_000,
        max_orders: int = 10_000,
        max_lifecycle_events: int = 1_000,
        depth_levels: int = 5,
        history_min_interval_s: float = 0.0,
    ) -> None:
        self._clock = clock
        self._enabled = bool(getattr(config, "enabled", True))
        self._fallback_on_unhealthy = bool(getattr(config, "ws_fallback_on_unhealthy", True))
        self._thresholds = {
            DataKind.TICKER: float(config.ticker_staleness_seconds),
            DataKind.ORDERBOOK: float(config.orderbook_staleness_seconds),
            DataKind.POSITION: float(config.position_staleness_seconds),
        }
        self._max_trades = int(config.max_trades_per_ticker)
        self._depth_levels = depth_levels
        self._rest = None if rest_fallback is None else RestBookCache(clock, rest_fallback, rest_orderbook_ttl_s)

        self._books_lock = threading.Lock()
        self._books: dict[str, _BookEntry] = {}
        self._tickers_lock = threading.Lock()
        self._tickers: dict[str, TickerUpdate] = {}
        self._trades_lock = threading.Lock()
        self._trades: dict[str, deque[TradeMsg]] = {}
        self._positions_lock = threading.Lock()
        self._positions: dict[str, MarketPositionMsg] = {}
        self._orders = OrderTable(max_orders)
        self._lifecycle_lock = threading.Lock()
        self._lifecycle: dict[str, LifecycleMsg] = {}
        self._lifecycle_log: deque[LifecycleMsg] = deque(maxlen=max_lifecycle_events)
        self._fills = FillLog(max_fills)
        self._history = PriceHistory(int(config.max_price_history), history_min_interval_s)

        self._ws_healthy = False
        self._last_message_time: float | None = None
        self._counters = dict.fromkeys(
            (
                "messages",
                "deltas_applied",
                "deltas_ignored",
                "books_inconsistent",
                "snapshots",
                "fills_duplicate",
                "orders_out_of_order",
            ),
            0,
        )
        self._handlers: dict[type, Callable[[Any], tuple[str, ...]]] = {
            OrderbookDelta: self._on_delta,
            OrderbookSnapshot: self._on_snapshot,
            TickerUpdate: self._on_ticker,
            TradeMsg: self._on_trade,
            FillMsg: self._on_fill,
            MarketPositionMsg: self._on_position,
            UserOrderMsg: self._on_order,
            OrderGroupMsg: self._on_order_group,
            LifecycleMsg: self._on_lifecycle,
            Unsubscribed: self._on_unsubscribed,
            ErrorMsg: self._on_error,
        }

    # --- writer side (the WebSocket thread) --------------------------------------------------------------------

    def apply(self, message: WsMessage) -> tuple[str, ...]:
        """Apply one parsed message (any type from ws_messages; control replies only refresh liveness).

        Returns the markets whose book just became stale because of this message and need a snapshot
        (a delta that would go negative, a delta for a book never snapshotted, a terminal channel error);
        usually empty. Sequence checking happens before, in the caller (state/seq.py).
        """
        self._last_message_time = message.received_ts
        self._counters["messages"] += 1
        handler = self._handlers.get(type(message))
        return _NO_TICKERS if handler is None else handler(message)

    def mark_stale(self, tickers: Iterable[str]) -> tuple[str, ...]:
        """Flag these markets' books stale until their next snapshot; returns those that have a book."""
        marked = []
        with self._books_lock:
            for ticker in tickers:
                entry = self._books.get(ticker)
                if entry is not None:
                    entry.stale = True
                    marked.append(ticker)
        return tuple(marked)

    def mark_sid_stale(self, sid: int) -> tuple[str, ...]:
        """Flag every book fed by subscription ``sid`` stale (seq gap); returns their tickers to resnapshot."""
        with self._books_lock:
            marked = tuple(t for t, e in self._books.items() if e.sid == sid)
            for ticker in marked:
                self._books[ticker].stale = True
        return marked

    def note_alive(self, ts: float | None = None) -> None:
        """Record proof that the connection is alive (a ping/pong) at ``ts`` (default: now)."""
        self._last_message_time = self._clock.time() if ts is None else ts

    def set_ws_healthy(self, healthy: bool) -> None:
        self._ws_healthy = healthy

    def forget(self, ticker: str) -> None:
        """Drop everything held for a market (after unsubscribing from it for good)."""
        for lock, table in (
            (self._books_lock, self._books),
            (self._tickers_lock, self._tickers),
            (self._trades_lock, self._trades),
            (self._positions_lock, self._positions),
            (self._lifecycle_lock, self._lifecycle),
        ):
            with lock:
                table.pop(ticker, None)
        self._history.forget(ticker)
        if self._rest is not None:
            self._rest.forget(ticker)

    def _on_delta(self, d: OrderbookDelta) -> tuple[str, ...]:
        ticker = d.market_ticker
        point = None
        with self._books_lock:
            entry = self._books.get(ticker)
            if entry is None:  # no snapshot yet: remember the market so the caller can ask for one
                self._books[ticker] = _BookEntry(ticker, d.sid)
                self._counters["deltas_ignored"] += 1
                return (ticker,)
            if entry.stale or entry.sid != d.sid:
                self._counters["deltas_ignored"] += 1
                return _NO_TICKERS
            book = entry.book
            entry.seq = d.seq
            entry.updated_ts = d.received_ts
            if not book.apply_delta(d.side, d.price_e4, d.delta_e2):
                entry.stale = True
                self._counters["books_inconsistent"] += 1
                return (ticker,)
            self._counters["deltas_applied"] += 1
            if (book.best_bid, book.best_ask) != entry.hist_top:
                point = self._top_point_locked(entry, d.received_ts)
        if point is not None:
            self._history.record(ticker, point)
        return _NO_TICKERS

    def _on_snapshot(self, s: OrderbookSnapshot) -> tuple[str, ...]:
        ticker = s.market_ticker
        if s.sid is None:  # a REST snapshot has no place in the sequenced stream (REST books: RestBookCache)
            return _NO_TICKERS
        with self._books_lock:
            entry = self._books.get(ticker)
            if entry is None:
                entry = self._books[ticker] = _BookEntry(ticker, s.sid)
            entry.book.apply_snapshot(s.yes_bids, s.yes_asks)
            entry.sid, entry.seq, entry.stale, entry.updated_ts = s.sid, s.seq, False, s.received_ts
            self._counters["snapshots"] += 1
            point = self._top_point_locked(entry, s.received_ts)
        self._history.record(ticker, point)
        return _NO_TICKERS

    def _top_point_locked(self, entry: _BookEntry, ts: float) -> PricePoint:
        book = entry.book
        entry.hist_top = (book.best_bid, book.best_ask)
        n = self._depth_levels
        return PricePoint(
            ts,
            book.best_bid,
            book.best_ask,
            book.best_bid_size or 0,
            book.best_ask_size or 0,
            book.depth(BookSide.BID, n),
            book.depth(BookSide.ASK, n),
            "book",
        )

    def _on_ticker(self, t: TickerUpdate) -> tuple[str, ...]:
        ticker = t.market_ticker
        with self._tickers_lock:
            previous = self._tickers.get(ticker)
            self._tickers[ticker] = t
        moved = previous is None or (previous.yes_bid_e4, previous.yes_ask_e4) != (t.yes_bid_e4, t.yes_ask_e4)
        if moved and not self._book_live(ticker, t.received_ts):  # a live book is the finer source
            point = PricePoint(
                t.received_ts,
                t.yes_bid_e4,
                t.yes_ask_e4,
                t.yes_bid_size_e2 if t.yes_bid_e4 is not None else 0,
                t.yes_ask_size_e2 if t.yes_ask_e4 is not None else 0,
                t.yes_bid_size_e2 if t.yes_bid_e4 is not None else 0,
                t.yes_ask_size_e2 if t.yes_ask_e4 is not None else 0,
                "ticker",
            )
            self._history.record(ticker, point)
        return _NO_TICKERS

    def _on_trade(self, t: TradeMsg) -> tuple[str, ...]:
        with self._trades_lock:
            ring = self._trades.get(t.market_ticker)
            if ring is None:
                ring = self._trades[t.market_ticker] = deque(maxlen=self._max_trades)
            ring.append(t)
        return _NO_TICKERS

    def _on_fill(self, f: FillMsg) -> tuple[str, ...]:
        if not self._fills.add(f):
            self._counters["fills_duplicate"] += 1
        return _NO_TICKERS

    def _on_position(self, p: MarketPositionMsg) -> tuple[str, ...]:
        with self._positions_lock:
            self._positions[p.market_ticker] = p
        return _NO_TICKERS

    def _on_order(self, o: UserOrderMsg) -> tuple[str, ...]:
        if not self._orders.update(o):
            self._counters["orders_out_of_order"] += 1
        return _NO_TICKERS

    def _on_order_group(self, g: OrderGroupMsg) -> tuple[str, ...]:
        self._orders.update_group(g)
        return _NO_TICKERS

    def _on_lifecycle(self, e: LifecycleMsg) -> tuple[str, ...]:
        with self._lifecycle_lock:
            if e.market_ticker is not None:
                self._lifecycle[e.market_ticker] = e
            self._lifecycle_log.append(e)
        return _NO_TICKERS

    def _on_unsubscribed(self, u: Unsubscribed) -> tuple[str, ...]:
        self.mark_sid_stale(u.sid)  # deliberate: nothing to resnapshot
        return _NO_TICKERS

    def _on_error(self, e: ErrorMsg) -> tuple[str, ...]:
        if e.terminal and e.sid is not None:
            return self.mark_sid_stale(e.sid)
        return _NO_TICKERS

    # --- reader side (any thread) ------------------------------------------------------------------------------

    @property
    def ws_healthy(self) -> bool:
        return self._ws_healthy

    @property
    def last_message_time(self) -> float | None:
        """Local time (Unix s) of the last frame applied or liveness proof; None before the first."""
        return self._last_message_time

    def seconds_since_last_message(self) -> float | None:
        last = self._last_message_time
        return None if last is None else self._clock.time() - last

    def _fresh(self, kind: DataKind, updated_ts: float, now: float) -> bool:
        last = self._last_message_time
        as_of = updated_ts if last is None or last < updated_ts else last
        return now - as_of <= self._thresholds[kind]

    def _live_locked(self, entry: _BookEntry | None, now: float) -> bool:
        return entry is not None and not entry.stale and self._fresh(DataKind.ORDERBOOK, entry.updated_ts, now)

    def _book_live(self, ticker: str, now: float) -> bool:
        with self._books_lock:
            return self._live_locked(self._books.get(ticker), now)

    def _view_locked(self, entry: _BookEntry | None, now: float) -> OrderBookView | None:
        if entry is None or not self._live_locked(entry, now):
            return None
        view = entry.view
        if view is None or entry.view_version != entry.book.version:
            view = entry.view = entry.book.view(entry.sid, entry.seq, entry.updated_ts, "ws")
            entry.view_version = entry.book.version
        return view

    def _ws_view(self, ticker: str) -> OrderBookView | None:
        now = self._clock.time()
        with self._books_lock:
            return self._view_locked(self._books.get(ticker), now)

    def get_orderbook(self, ticker: str, allow_rest: bool = False) -> OrderBookView | None:
        """The live book of ``ticker``, or None when missing/stale.

        With ``allow_rest`` and a REST fallback configured, a missing or stale book (or any book while the
        WebSocket is disabled, or unhealthy with ``ws_fallback_on_unhealthy``) is fetched over REST and
        cached for ``rest_orderbook_ttl_s``. The fetch runs outside every store lock, one per market at a
        time; REST errors propagate to the caller (they carry the error taxonomy).
        """
        view = self._ws_view(ticker) if self._enabled else None
        if view is not None and (self._ws_healthy or not self._fallback_on_unhealthy):
            return view
        if not allow_rest or self._rest is None:
            return view
        return self._rest.get(ticker)

    def best_bid_ask(self, ticker: str) -> TopOfBook | None:
        """Top of the live book (no copy of the levels); None when missing/stale."""
        now = self._clock.time()
        with self._books_lock:
            entry = self._books.get(ticker)
            if entry is None or not self._live_locked(entry, now):
                return None
            b = entry.book
            return TopOfBook(b.best_bid, b.best_bid_size, b.best_ask, b.best_ask_size, entry.updated_ts)

    def get_ticker(self, ticker: str) -> TickerUpdate | None:
        now = self._clock.time()
        with self._tickers_lock:
            t = self._tickers.get(ticker)
        return t if t is not None and self._fresh(DataKind.TICKER, t.received_ts, now) else None

    def get_position(self, ticker: str) -> MarketPositionMsg | None:
        now = self._clock.time()
        with self._positions_lock:
            p = self._positions.get(ticker)
        return p if p is not None and self._fresh(DataKind.POSITION, p.received_ts, now) else None

    def is_stale(self, kind: DataKind | str, ticker: str) -> bool:
        """True when data of ``kind`` ("ticker", "orderbook", "position") for ``ticker`` is missing or stale."""
        kind = DataKind(kind)
        if kind is DataKind.ORDERBOOK:
            return not self._book_live(ticker, self._clock.time())
        if kind is DataKind.TICKER:
            return self.get_ticker(ticker) is None
        return self.get_position(ticker) is None

    def stale_books(self) -> tuple[tuple[str, int | None], ...]:
        """``(ticker, sid)`` of every book flagged stale, for a periodic resnapshot sweep by the client."""
        with self._books_lock:
            return tuple((t, e.sid) for t, e in self._books.items() if e.stale)

    def recent_trades(self, ticker: str, since: float | None = None) -> tuple[TradeMsg, ...]:
        """Kept trades of ``ticker``, oldest first; only those received after ``since`` (local Unix s)."""
        with self._trades_lock:
            ring = self._trades.get(ticker)
            if not ring:
                return ()
            if since is None:
                return tuple(ring)
            return tuple(t for t in ring if t.received_ts > since)

    def drain_fills(self) -> list[FillMsg]:
        """New fills since the last drain (one designated consumer; other readers use :meth:`fills_since`)."""
        return self._fills.drain()

    def fills_since(self, cursor: int = 0, ticker: str | None = None) -> FillBatch:
        return self._fills.since(cursor, ticker)

    def record_fill(self, fill: FillMsg) -> bool:
        """Add a fill from another source (REST reconciliation); deduplicated with the stream's. True if new."""
        return self._fills.add(fill)

    def get_order(self, order_id: str) -> UserOrderMsg | None:
        """Latest state of one of our orders (no staleness: reconcile from REST after a reconnect)."""
        return self._orders.get(order_id)

    def orders(self, ticker: str | None = None, resting_only: bool = False) -> tuple[UserOrderMsg, ...]:
        return self._orders.select(ticker, resting_only)

    def get_order_group(self, order_group_id: str) -> OrderGroupMsg | None:
        return self._orders.get_group(order_group_id)

    def get_lifecycle(self, ticker: str) -> LifecycleMsg | None:
        """The latest lifecycle event of a market (no staleness: lifecycle states persist until changed)."""
        with self._lifecycle_lock:
            return self._lifecycle.get(ticker)

    def lifecycle_events(self, since: float | None = None) -> tuple[LifecycleMsg, ...]:
        with self._lifecycle_lock:
            return tuple(e for e in self._lifecycle_log if since is None or e.received_ts > since)

    def price_history(self, ticker: str, since: float | None = None) -> tuple[PricePoint, ...]:
        return self._history.get(ticker, since)

    def stats(self) -> dict[str, int]:
        """Counters for metrics/logs (messages, deltas applied/ignored, inconsistent books, ...)."""
        stats = dict(self._counters)
        stats["rest_fetches"] = 0 if self._rest is None else self._rest.fetches
        return stats
