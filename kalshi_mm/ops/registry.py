"""What the ops endpoint shows of the sessions: a thread-safe registry of per-session snapshots.

Each market-making session holds a :class:`SessionPublisher` (made by :meth:`SessionRegistry.publisher`) and,
from its own thread, hands it the session's fills (:meth:`SessionPublisher.fills`) and a snapshot each cycle
(:meth:`SessionPublisher.publish`). The publisher keeps the session's average-cost P&L book
(:mod:`kalshi_mm.ops.pnl`) and stores an immutable :class:`SessionSnapshot` in the registry. HTTP handler
threads read copies (:meth:`SessionRegistry.view`): no handler ever waits on a session, and a session waits on a
handler only for the few dict/deque operations under ``_lock``.

Recent fills come from here too, not from the analytics database: the registry keeps the last
``max_fills`` fills the sessions applied (already deduplicated by the sessions' fill trackers), so the dashboard
needs no second SQLite connection and sees a fill as soon as the session does.

The P&L series (``/api/pnl``) is the total P&L (realized of every session of this process + unrealized of the
running ones) sampled as sessions publish, at most one point per ``sample_s`` clock seconds; when the series
reaches ``max_points`` it keeps every second point and doubles the interval, so it spans the whole run in
bounded memory.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kalshi_mm.api.types import BookSide
from kalshi_mm.api.ws_types import FillMsg
from kalshi_mm.clock import Clock
from kalshi_mm.ops.pnl import PnlBook

__all__ = ["FillRecord", "RegistryView", "SessionPublisher", "SessionRegistry", "SessionSnapshot"]

log = logging.getLogger("kalshi_mm.ops.registry")

FINISHED_STATES = ("done", "faulted")


@dataclass(frozen=True)
class SessionSnapshot:
    """One session as last published. Prices YES leg, 1/10,000 $; counts 1/100 contract; ``_ts`` Unix seconds."""

    session_id: int
    ticker: str
    side: str  # the outcome quoted: "yes" or "no"
    state: str  # SessionState value: pending, quoting, exiting, done, faulted
    inventory_e2: int  # the session's inventory (+ YES / − NO), as its fill tracker holds it
    bid_e4: int | None  # our wanted bid this cycle (None: not quoting that side)
    ask_e4: int | None
    market_bid_e4: int | None  # best YES bid / ask of the book, our own orders excluded
    market_ask_e4: int | None
    realized_pnl_e4: int  # of the session's own fills, fees included (kalshi_mm.ops.pnl)
    unrealized_pnl_e4: int | None  # at the book's mid; None without one while a position is open
    fees_e4: int
    fills: int
    cycles: int
    reason: str | None  # why it ended (finished sessions)
    started_ts: float
    updated_ts: float

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


@dataclass(frozen=True)
class FillRecord:
    """One fill a session applied (YES-leg price; ``book_side`` bid = bought YES, ask = sold YES ≡ bought NO)."""

    ts: float
    ticker: str
    session_side: str
    book_side: str
    yes_price_e4: int
    count_e2: int
    fee_e4: int
    is_taker: bool
    fill_id: str


@dataclass(frozen=True)
class RegistryView:
    """A consistent copy of the registry for one HTTP answer."""

    active: tuple[SessionSnapshot, ...]
    finished: tuple[SessionSnapshot, ...]  # most recent last
    fills: tuple[FillRecord, ...]  # most recent last
    fills_total: int
    realized_pnl_e4: int  # every session of this process, finished ones included
    unrealized_pnl_e4: int  # running sessions with a mark
    pnl_series: tuple[tuple[float, int], ...]  # (Unix s, total P&L e4)
    started: int = 0
    by_state: dict[str, int] = field(default_factory=dict)


class _BookTop(Protocol):
    bid_e4: int | None
    ask_e4: int | None


class SessionRegistry:
    """Snapshots of this process's sessions (module docstring). ``_lock`` guards every attribute below it."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_finished: int = 50,
        max_fills: int = 200,
        max_points: int = 2000,
        sample_s: float = 5.0,
    ) -> None:
        if max_points < 2:
            raise ValueError(f"max_points must be at least 2, got {max_points}")
        self._clock = clock
        self._lock = threading.Lock()
        self._next_id = 0
        self._active: dict[int, SessionSnapshot] = {}
        self._finished: deque[SessionSnapshot] = deque(maxlen=max_finished)
        self._fills: deque[FillRecord] = deque(maxlen=max_fills)
        self._fills_total = 0
        self._closed_realized_e4 = 0  # realized P&L of finished sessions (all of them, not only those kept)
        self._points: list[tuple[float, int]] = []
        self._max_points = max_points
        self._sample_s = sample_s

    def publisher(self, ticker: str, side: str) -> SessionPublisher:
        """A new session's publisher (registered at once as ``pending``)."""
        return SessionPublisher(self, ticker, side)

    # --- writes (session threads, through their publisher) ------------------------------------------------------

    def _open(self, ticker: str, side: str) -> SessionSnapshot:
        now = self._clock.time()
        with self._lock:
            self._next_id += 1
            snap = SessionSnapshot(
                self._next_id, ticker, side, "pending", 0, None, None, None, None, 0, 0, 0, 0, 0, None, now, now
            )
            self._active[snap.session_id] = snap
        return snap

    def _put(self, snap: SessionSnapshot, fills: Iterable[FillRecord] = ()) -> None:
        with self._lock:
            if snap.session_id not in self._active:
                return  # already finished: a late publish must not resurrect it
            for fill in fills:
                self._fills.append(fill)
                self._fills_total += 1
            if snap.finished:
                del self._active[snap.session_id]
                self._finished.append(snap)
                self._closed_realized_e4 += snap.realized_pnl_e4
            else:
                self._active[snap.session_id] = snap
            self._sample_locked(snap.updated_ts)

    def _sample_locked(self, now: float) -> None:
        if self._points and now - self._points[-1][0] < self._sample_s:
            return
        self._points.append((now, self._total_locked()))
        if len(self._points) >= self._max_points:
            self._points = self._points[::2]  # thin the history: it keeps spanning the whole run
            self._sample_s *= 2

    def _total_locked(self) -> int:
        total = self._closed_realized_e4
        for snap in self._active.values():
            total += snap.realized_pnl_e4 + (snap.unrealized_pnl_e4 or 0)
        return total

    # --- reads (any thread) -------------------------------------------------------------------------------------

    def view(self) -> RegistryView:
        """A copy of everything, taken under the lock at once (snapshots are immutable)."""
        with self._lock:
            active = tuple(sorted(self._active.values(), key=lambda s: s.session_id))
            finished = tuple(self._finished)
            fills = tuple(self._fills)
            fills_total = self._fills_total
            realized = self._closed_realized_e4 + sum(s.realized_pnl_e4 for s in active)
            points = tuple(self._points)
            started = self._next_id
        unrealized = sum(s.unrealized_pnl_e4 or 0 for s in active)
        by_state: dict[str, int] = {}
        for snap in active:
            by_state[snap.state] = by_state.get(snap.state, 0) + 1
        now = self._clock.time()
        if points and now > points[-1][0]:
            points = (*points, (now, realized + unrealized))  # the chart ends at the current figure
        return RegistryView(active, finished, fills, fills_total, realized, unrealized, points, started, by_state)


class SessionPublisher:
    """A session's handle on the registry; used only by that session's thread (it owns the P&L book).

    ``registry=None`` gives a publisher that keeps the book but publishes nowhere (sessions built without a
    runtime, e.g. in tests).
    """

    def __init__(self, registry: SessionRegistry | None, ticker: str, side: str) -> None:
        self._registry = registry
        self._book = PnlBook()
        self._pending: list[FillRecord] = []
        self._mark_e4: int | None = None
        if registry is not None:
            self._snap: SessionSnapshot | None = registry._open(ticker, side)
        else:
            self._snap = None
        self._ticker, self._side = ticker, side

    @property
    def book(self) -> PnlBook:
        return self._book

    def fills(self, fills: Iterable[FillMsg]) -> None:
        """The session's newly applied fills (each once); they reach the registry with the next publish.
        Never raises: the ops view must not be able to end a trading session."""
        try:
            self._add_fills(fills)
        except Exception:
            log.exception("%s/%s: ops view could not account fills", self._ticker, self._side)

    def _add_fills(self, fills: Iterable[FillMsg]) -> None:
        for fill in fills:
            if fill.count_e2 <= 0:
                continue  # nothing traded; the tracker logs such oddities
            self._book.apply(
                buy_yes=fill.side is BookSide.BID,
                yes_price_e4=fill.yes_price_e4,
                count_e2=fill.count_e2,
                fee_e4=fill.fee_e4,
            )
            ts = fill.ts_ms / 1000 if fill.ts_ms is not None else fill.received_ts
            self._pending.append(
                FillRecord(
                    ts,
                    self._ticker,
                    self._side,
                    fill.side.value,
                    fill.yes_price_e4,
                    fill.count_e2,
                    fill.fee_e4,
                    fill.is_taker,
                    fill.fill_id,
                )
            )

    def publish(
        self,
        state: Any,
        inventory_e2: int | None,
        *,
        cycles: int,
        market: _BookTop | None = None,
        desired: Any = None,
        reason: str | None = None,
    ) -> None:
        """Store the session's current snapshot. ``state``: a SessionState (or its value); ``market``: the YES
        book top without our orders (the mark is its mid); ``desired``: the wanted orders (``.bid``/``.ask``
        with ``.price_e4``) — both kept from the previous publish when not given. Never raises."""
        try:
            self._publish(state, inventory_e2, cycles, market, desired, reason)
        except Exception:
            log.exception("%s/%s: ops view could not publish a snapshot", self._ticker, self._side)

    def _publish(
        self,
        state: Any,
        inventory_e2: int | None,
        cycles: int,
        market: _BookTop | None,
        desired: Any,
        reason: str | None,
    ) -> None:
        registry, snap = self._registry, self._snap
        if registry is None or snap is None:
            self._pending.clear()
            return
        changes: dict[str, Any] = {"state": getattr(state, "value", state), "cycles": cycles}
        if inventory_e2 is not None:
            changes["inventory_e2"] = inventory_e2
        if market is not None:
            changes["market_bid_e4"], changes["market_ask_e4"] = market.bid_e4, market.ask_e4
            if market.bid_e4 is not None and market.ask_e4 is not None:
                self._mark_e4 = (market.bid_e4 + market.ask_e4) // 2
        if desired is not None:
            changes["bid_e4"] = desired.bid.price_e4 if desired.bid is not None else None
            changes["ask_e4"] = desired.ask.price_e4 if desired.ask is not None else None
        if reason is not None:
            changes["reason"] = reason
        figures = self._book.figures(self._mark_e4)
        changes.update(
            realized_pnl_e4=figures.realized_pnl_e4,
            unrealized_pnl_e4=figures.unrealized_pnl_e4,
            fees_e4=figures.fees_e4,
            fills=snap.fills + len(self._pending),
            updated_ts=registry._clock.time(),
        )
        if changes["state"] in FINISHED_STATES:
            changes["bid_e4"] = changes["ask_e4"] = None  # a finished session quotes nothing
        self._snap = replace(snap, **changes)
        registry._put(self._snap, self._pending)
        self._pending = []
