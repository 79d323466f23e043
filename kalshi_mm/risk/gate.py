"""RiskGate: what every session consults before it sends a create or an amend (cancels never ask).

One gate per process, on the Runtime (``rt.risk``). It brings together the shared
:class:`~kalshi_mm.risk.exposure.ExposureBook`, the pure rules of :mod:`kalshi_mm.risk.checks`, the
:class:`~kalshi_mm.risk.rate_guard.RateGuard`, the :class:`~kalshi_mm.risk.breaker.CircuitBreaker` and the account's
:class:`~kalshi_mm.risk.state.TradingStateMachine`.

* :meth:`RiskGate.session` hands a session its :class:`SessionRisk`, owned by that session's thread: check before
  each create/amend (the check also reserves), mirror the executor's live orders after its requests, apply fills,
  say which resting orders the trading state no longer allows, and at the end release everything and report the
  session's P&L to the breaker.
* :meth:`RiskGate.poll` reads balance and positions (breaker equity, the book's free-balance estimate and its
  positions); :class:`~kalshi_mm.risk.monitor.RiskMonitor` runs it every ``risk.account_poll_seconds``.
* :meth:`RiskGate.can_start_session`: the account is ACTIVE, the breaker is armed and the balance is at least
  ``risk.min_balance_for_new_sessions``.

Vetoes are written to ``risk_events`` (kind ``veto``). A veto that repeats the previous one of the same session,
side and rule within :data:`VETO_REPEAT_S` is counted instead of written again (a halted session asks every cycle);
the next row written for it carries the count as ``repeats``. :attr:`RiskGate.veto_counts` counts every veto.

Thread safety: the book, breaker, state machine and limiter each guard themselves; ``_lock`` guards the gate's own
veto bookkeeping and balance cache. A :class:`SessionRisk` is used by its session thread only.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Collection, Iterable
from typing import Protocol

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import BookSide
from kalshi_mm.clock import Clock
from kalshi_mm.config.sections_trading import RiskConfig
from kalshi_mm.risk.breaker import BreakerLimits, CircuitBreaker, Trip
from kalshi_mm.risk.checks import Allow, Decision, ExposureSnapshot, OrderLeg, Proposal, RiskLimits, Veto, check_order
from kalshi_mm.risk.exposure import ExposureBook
from kalshi_mm.risk.model import E6_PER_E4, Position, e4_to_e6
from kalshi_mm.risk.rate_guard import ORDER_COSTS, RateGuard
from kalshi_mm.risk.state import TradingState, TradingStateMachine

__all__ = ["VETO_REPEAT_S", "LiveOrderLike", "RiskGate", "SessionRefused", "SessionRisk", "order_key"]

log = logging.getLogger("kalshi_mm.risk.gate")

# Clock seconds within which a repeated identical veto is counted rather than written again.
VETO_REPEAT_S = 60.0


class LiveOrderLike(Protocol):
    """What the gate reads of an executor's live order (``kalshi_mm.strategy.order_manager.LiveOrder``)."""

    @property
    def order_id(self) -> str: ...
    @property
    def client_order_id(self) -> str: ...
    @property
    def side(self) -> BookSide: ...
    @property
    def price_e4(self) -> int: ...
    @property
    def remaining_e2(self) -> int: ...


class SessionRefused(ValueError):
    """The account may not start a new session now (``veto.rule``: trading_state, circuit_breaker,
    min_balance_for_new_sessions or balance_unknown)."""

    def __init__(self, ticker: str | None, veto: Veto):
        super().__init__(f"{ticker or 'session'}: risk refuses new sessions: {veto.rule} {dict(veto.detail)}")
        self.veto = veto


def order_key(order: LiveOrderLike) -> str:
    """The book's key of an order: its client_order_id (known before the create is sent), else its id."""
    return order.client_order_id or order.order_id


class RiskGate:
    """The process's pre-trade gate (module docstring)."""

    def __init__(
        self,
        limits: RiskLimits,
        *,
        clock: Clock,
        trading: TradingStateMachine,
        breaker_limits: BreakerLimits,
        db: AnalyticsDB | None = None,
        api: KalshiTradingAPI | None = None,
        reserve_cancels: int = 0,
        min_balance_for_new_sessions_e4: int = 0,
        poll_interval_s: float = 5.0,
    ):
        self.limits = limits
        self.clock = clock
        self.trading = trading
        self.book = ExposureBook()
        self.breaker = CircuitBreaker(breaker_limits, trading, on_trip=self._on_trip)
        self._db = db
        self._api = api
        self.rate_guard = RateGuard(api.limiter if api is not None else None, reserve_cancels)
        if api is not None and self.rate_guard.reserve_tokens:
            capacity = api.limiter.capacity("write")
            if self.rate_guard.reserve_tokens + max(ORDER_COSTS.values()) > capacity:
                raise ValueError(
                    f"risk.rate_guard.reserve_cancels: {reserve_cancels} cancels leave no room for a create in a "
                    f"write bucket of {capacity:g} tokens"
                )
        self.min_balance_e4 = min_balance_for_new_sessions_e4
        self.poll_interval_s = poll_interval_s
        self._lock = threading.Lock()
        # (session id, side) or ("session", ticker) -> (rule, ts of the last row written, repeats since)
        self._last_veto: dict[tuple[object, str], tuple[str, float, int]] = {}
        self.veto_counts: Counter[str] = Counter()  # guarded by _lock (read it through a copy)
        self._balance: tuple[int, float] | None = None  # (balance e4, clock.monotonic() of the read)

    @classmethod
    def from_config(
        cls,
        risk: RiskConfig,
        *,
        clock: Clock,
        trading: TradingStateMachine,
        db: AnalyticsDB | None = None,
        api: KalshiTradingAPI | None = None,
    ) -> RiskGate:
        return cls(
            RiskLimits.from_config(risk),
            clock=clock,
            trading=trading,
            breaker_limits=BreakerLimits.from_config(risk.circuit_breaker),
            db=db,
            api=api,
            reserve_cancels=risk.rate_guard.reserve_cancels,
            min_balance_for_new_sessions_e4=risk.min_balance_for_new_sessions,
            poll_interval_s=risk.account_poll_seconds,
        )

    # --- sessions -------------------------------------------------------------------------------------------------

    def session(self, ticker: str, side: str, *, category: str = "default", run_id: int | None = None) -> SessionRisk:
        """A session's handle; ``category`` is the market's (for ``risk.category_caps``)."""
        self.book.register_market(ticker, category)
        return SessionRisk(self, self.book.new_session(), ticker, side, category, run_id)

    def decide(self, session: SessionRisk, key: str, leg: OrderLeg, *, amend: bool) -> Decision:
        """Check a create (or an amend of order ``key``) and reserve it when allowed; record a veto."""

        def judge(snapshot: ExposureSnapshot, proposal: Proposal) -> Decision:
            # Read under the book's lock, so a halt or a drained bucket is seen by the very next order.
            rate = self.rate_guard.status(proposal.kind)
            return check_order(snapshot, proposal, self.limits, self.trading.state, rate)

        decision = self.book.reserve(session.id, key, session.ticker, leg, judge, amend=amend)
        if isinstance(decision, Veto):
            self._record_veto(session, leg, decision, "amend" if amend else "place")
        return decision

    def can_start_session(self, ticker: str | None = None) -> Decision:
        """Whether a new session may start: ACTIVE, breaker armed, balance ≥ ``min_balance_for_new_sessions``
        (read afresh when the last reading is older than the poll interval; unreadable -> refused)."""
        state = self.trading.state
        veto: Veto | None = None
        if state is not TradingState.ACTIVE:
            veto = Veto("trading_state", {"state": state.value})
        elif (trip := self.breaker.state.tripped) is not None:
            veto = Veto("circuit_breaker", {"trip": trip.rule})
        elif self.min_balance_e4 > 0:
            balance = self._fresh_balance()
            if balance is None:
                veto = Veto("balance_unknown", {"min_balance_e4": self.min_balance_e4})
            elif balance < self.min_balance_e4:
                veto = Veto(
                    "min_balance_for_new_sessions", {"balance_e4": balance, "min_balance_e4": self.min_balance_e4}
                )
        if veto is None:
            return Allow()
        with self._lock:  # sessions veto from their own threads: Counter += is not atomic
            self.veto_counts[f"session:{veto.rule}"] += 1
        now = self.clock.time()
        repeats = self._first_of_run(("session", ticker or ""), veto.rule, now)
        if repeats is not None:
            log.info("new session%s refused: %s %s", f" for {ticker}" if ticker else "", veto.rule, dict(veto.detail))
            detail = {"what": "new_session", **veto.detail, **({"repeats": repeats} if repeats else {})}
            self._log_event("veto", veto.rule, ticker, None, detail, now)
        return veto

    def require_session_start(self, ticker: str | None = None) -> None:
        """:meth:`can_start_session`, raising :class:`SessionRefused` (naming the rule) when refused."""
        decision = self.can_start_session(ticker)
        if isinstance(decision, Veto):
            raise SessionRefused(ticker, decision)

    # --- account reads --------------------------------------------------------------------------------------------

    def poll(self) -> None:
        """One account read: balance (free-balance estimate, breaker equity) and positions (the book's truth).
        Raises the client's errors; the monitor logs them."""
        if self._api is None:
            return
        marker = self.book.marker()
        balance = self._api.get_balance()
        positions = self._api.get_positions()
        self.book.set_balance(balance.balance_e4, marker)
        with self._lock:
            self._balance = (balance.balance_e4, self.clock.monotonic())
        book_positions = {
            p.ticker: Position(p.position_e2, e4_to_e6(p.market_exposure_e4))
            for p in positions.markets
            if p.position_e2
        }
        changed = self.book.sync_positions(book_positions, marker)
        if changed:
            log.debug("positions adopted from the exchange: %s", ", ".join(changed))
        if balance.portfolio_value_e4 is not None:
            self.breaker.observe_equity(balance.balance_e4 + balance.portfolio_value_e4, self.clock.time())

    def _fresh_balance(self) -> int | None:
        with self._lock:
            cached = self._balance
        if cached is not None and self.clock.monotonic() - cached[1] <= self.poll_interval_s:
            return cached[0]
        if self._api is None:
            return cached[0] if cached is not None else None
        try:
            value = self._api.get_balance().balance_e4
        except Exception as exc:  # unknown balance: no new session (the caller retries later)
            log.warning("balance read for a new session failed: %s: %s", type(exc).__name__, exc)
            return None
        with self._lock:
            self._balance = (value, self.clock.monotonic())
        return value

    # --- records --------------------------------------------------------------------------------------------------

    def _record_veto(self, session: SessionRisk, leg: OrderLeg, veto: Veto, kind: str) -> None:
        rule = veto.rule
        with self._lock:
            self.veto_counts[rule] += 1
        now = self.clock.time()
        repeats = self._first_of_run((session.id, leg.side.value), rule, now)
        if repeats is None:
            return
        detail = {
            "kind": kind,
            "side": leg.side.value,
            "price_e4": leg.price_e4,
            "count_e2": leg.count_e2,
            "session_side": session.side,
            **veto.detail,
        }
        if repeats:
            detail["repeats"] = repeats
        log.info(
            "%s/%s: %s %s vetoed by %s %s", session.ticker, session.side, kind, leg.side.value, rule, dict(veto.detail)
        )
        self._log_event("veto", rule, session.ticker, session.run_id, detail, now)

    def veto_counts_snapshot(self) -> dict[str, int]:
        """A copy of :attr:`veto_counts` taken under its lock (for status and metrics threads)."""
        with self._lock:
            return dict(self.veto_counts)

    def _first_of_run(self, key: tuple[object, str], rule: str, now: float) -> int | None:
        """None when this veto repeats the last one of ``key`` (same rule, within VETO_REPEAT_S): counted, not
        written. Otherwise the number of repeats counted since the last row written for it."""
        with self._lock:
            last = self._last_veto.get(key)
            if last is not None and last[0] == rule and now - last[1] < VETO_REPEAT_S:
                self._last_veto[key] = (rule, last[1], last[2] + 1)
                return None
            self._last_veto[key] = (rule, now, 0)
            return last[2] if last is not None and last[0] == rule else 0

    def _on_trip(self, trip: Trip) -> None:
        self._log_event("breaker", trip.rule, None, None, dict(trip.detail))

    def _log_event(
        self,
        kind: str,
        rule: str,
        ticker: str | None,
        run_id: int | None,
        detail: dict[str, object],
        ts: float | None = None,
    ) -> None:
        if self._db is None:
            return
        try:
            self._db.log_risk_event(kind, rule=rule, market_ticker=ticker, run_id=run_id, detail=detail, ts=ts)
        except Exception:  # recording must never stop a check
            log.exception("recording a risk event failed")


class SessionRisk:
    """One session's side of the gate. Used only by the session's thread (its executor and fill path)."""

    def __init__(self, gate: RiskGate, session_id: int, ticker: str, side: str, category: str, run_id: int | None):
        self.gate = gate
        self.id = session_id
        self.ticker = ticker
        self.side = side
        self.category = category
        self.run_id = run_id
        self.closed = False
        self._cash_e6 = 0  # YES-leg cash of the session's fills: sells +, buys −, fees −
        self._net_e2 = 0  # YES bought − sold by the session
        self._fills = 0
        self._last_price_e4: int | None = None

    # --- the order path ------------------------------------------------------------------------------------------

    def mirror(self, live: Iterable[LiveOrderLike], in_flight: Collection[str] = ()) -> None:
        """Make the book's entries of this session its executor's live orders; ``in_flight``: client ids of
        creates whose outcome is unknown (they stay reserved)."""
        orders = [(order_key(o), OrderLeg(o.side, o.price_e4, o.remaining_e2)) for o in live]
        self.gate.book.mirror(self.id, self.ticker, orders, in_flight)

    def check_place(
        self,
        client_order_id: str,
        side: BookSide,
        price_e4: int,
        count_e2: int,
        live: Iterable[LiveOrderLike] = (),
        in_flight: Collection[str] = (),
    ) -> Decision:
        """Before a create: mirror ``live``, then check and reserve the order under ``client_order_id``."""
        self.mirror(live, in_flight)
        return self.gate.decide(self, client_order_id, OrderLeg(side, price_e4, count_e2), amend=False)

    def check_amend(
        self,
        order: LiveOrderLike,
        price_e4: int,
        count_e2: int,
        live: Iterable[LiveOrderLike] = (),
        in_flight: Collection[str] = (),
    ) -> Decision:
        """Before an amend of ``order`` to ``count_e2`` resting at ``price_e4``: mirror, check, reserve."""
        self.mirror(live, in_flight)
        return self.gate.decide(self, order_key(order), OrderLeg(order.side, price_e4, count_e2), amend=True)

    def must_pull(self, live: Iterable[LiveOrderLike]) -> list[str]:
        """Order ids of live orders the trading state no longer allows to rest: all of them when HALTED; when
        REDUCING, those on a side whose orders do not only reduce the market's position."""
        state = self.gate.trading.state
        orders = list(live)
        if state is TradingState.ACTIVE or not orders:
            return []
        if state is TradingState.HALTED:
            return [o.order_id for o in orders]
        market = self.gate.book.market(self.ticker)
        return [o.order_id for o in orders if not market.only_reduces(o.side)]

    # --- fills and the end ---------------------------------------------------------------------------------------

    def on_fill(
        self, client_order_id: str | None, side: BookSide, price_e4: int, count_e2: int, fee_e4: int = 0
    ) -> None:
        """A fill of this session's order: the book's position and order change; the session's P&L is kept."""
        self.gate.book.on_fill(self.ticker, client_order_id, side, price_e4, count_e2, fee_e4)
        signed = count_e2 if side is BookSide.BID else -count_e2
        self._net_e2 += signed
        self._cash_e6 -= signed * price_e4 + fee_e4 * E6_PER_E4
        self._fills += 1
        self._last_price_e4 = price_e4

    def pnl_e4(self, mark_e4: int | None) -> int | None:
        """The session's P&L (1/10,000 $, rounded down): its fills' cash plus its net YES bought marked at
        ``mark_e4`` (the last fill price when None). None when it never traded."""
        if not self._fills:
            return None
        mark = mark_e4 if mark_e4 is not None else self._last_price_e4 or 0
        return (self._cash_e6 + self._net_e2 * mark) // E6_PER_E4

    def close(self, mark_e4: int | None = None) -> int | None:
        """The session ended: release every entry it holds and report its P&L (when it traded) to the breaker.
        Idempotent. Returns the P&L (1/10,000 $) or None."""
        if self.closed:
            return None
        self.closed = True
        released = self.gate.book.release_session(self.id)
        if released:
            log.info("%s/%s: released %d order reservation(s) at session end", self.ticker, self.side, released)
        pnl = self.pnl_e4(mark_e4)
        if pnl is not None:
            self.gate.breaker.observe_session(pnl)
        return pnl
