"""The account's circuit breaker: daily loss, drawdown from the day's peak and consecutive losing sessions halt
trading (HALTED: cancels only).

Pure evaluation over a frozen :class:`BreakerState` (:func:`observe_equity`, :func:`observe_session`,
:func:`rearm`), plus the thin owner :class:`CircuitBreaker`, which keeps the state, halts the
:class:`~kalshi_mm.risk.state.TradingStateMachine` on a trip and re-arms when an operator resumes.

* **P&L of the day** = account equity (available balance + portfolio value, so realized and unrealized together)
  minus the equity at the day's start: the first reading after 00:00 UTC, or after the process started, whichever
  is later. Deposits and withdrawals move equity too; the breaker cannot tell them from trading.
* **Daily loss**: P&L ≤ −``max_daily_loss``. **Drawdown** (a trailing stop): the day's peak P&L − P&L ≥
  ``max_drawdown``. The peak starts at 0, so a drawdown limit below the daily-loss limit would bind first even from
  a flat start; the defaults keep it above.
* **Losing sessions**: ``max_consecutive_losing_sessions`` sessions in a row ending with a negative P&L (0 turns the
  rule off). A session that traded and broke even ends the streak; one that never traded is not reported.
* A trip is **sticky**: the breaker stays tripped, and the account HALTED, whatever P&L does afterwards, until the
  operator's resume (HALTED -> ACTIVE) re-arms it. Re-arming moves the day's baseline to the current equity and
  restarts the streak, so the losses the operator accepted do not trip it again at once. The day rolls over at
  00:00 UTC on the injected clock; a trip survives the rollover.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from kalshi_mm.config.sections_trading import CircuitBreakerConfig
from kalshi_mm.risk.state import TradingState, TradingStateChange, TradingStateMachine

__all__ = [
    "BreakerLimits",
    "BreakerState",
    "CircuitBreaker",
    "Trip",
    "observe_equity",
    "observe_session",
    "rearm",
    "utc_day",
]

log = logging.getLogger("kalshi_mm.risk.breaker")


@dataclass(frozen=True, slots=True)
class BreakerLimits:
    """Losses in 1/10,000 $ (> 0); ``max_consecutive_losing_sessions`` 0 = off."""

    max_daily_loss_e4: int
    max_drawdown_e4: int
    max_consecutive_losing_sessions: int

    def __post_init__(self) -> None:
        if self.max_daily_loss_e4 <= 0 or self.max_drawdown_e4 <= 0 or self.max_consecutive_losing_sessions < 0:
            raise ValueError(f"breaker limits must be positive (sessions ≥ 0), got {self}")

    @classmethod
    def from_config(cls, cfg: CircuitBreakerConfig) -> BreakerLimits:
        return cls(cfg.max_daily_loss, cfg.max_drawdown, cfg.max_consecutive_losing_sessions)


@dataclass(frozen=True, slots=True)
class Trip:
    """Why the breaker tripped: ``rule`` is ``daily_loss``, ``drawdown`` or ``losing_sessions``."""

    rule: str
    detail: Mapping[str, object] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        numbers = ", ".join(f"{k}={v}" for k, v in self.detail.items())
        return f"{self.rule} ({numbers})"


@dataclass(frozen=True, slots=True)
class BreakerState:
    """Equity and P&L in 1/10,000 $; ``day`` is the UTC date (ISO) the baseline belongs to."""

    day: str | None = None
    day_start_equity_e4: int | None = None
    equity_e4: int | None = None
    peak_pnl_e4: int = 0
    losing_streak: int = 0
    tripped: Trip | None = None

    @property
    def pnl_e4(self) -> int | None:
        """The day's P&L so far (None before the first reading)."""
        if self.equity_e4 is None or self.day_start_equity_e4 is None:
            return None
        return self.equity_e4 - self.day_start_equity_e4


def utc_day(ts: float) -> str:
    """The UTC calendar date of Unix time ``ts`` (ISO ``YYYY-MM-DD``)."""
    return datetime.fromtimestamp(ts, tz=UTC).date().isoformat()


def observe_equity(state: BreakerState, equity_e4: int, ts: float, limits: BreakerLimits) -> BreakerState:
    """Feed an equity reading taken at ``ts``: roll the day over if needed, track the peak, trip on a breach."""
    day = utc_day(ts)
    if state.day != day or state.day_start_equity_e4 is None:
        state = replace(state, day=day, day_start_equity_e4=equity_e4, peak_pnl_e4=0)
    assert state.day_start_equity_e4 is not None
    pnl = equity_e4 - state.day_start_equity_e4
    state = replace(state, equity_e4=equity_e4, peak_pnl_e4=max(state.peak_pnl_e4, pnl))
    if state.tripped is not None:
        return state
    if -pnl >= limits.max_daily_loss_e4:
        return replace(state, tripped=Trip("daily_loss", {"pnl_e4": pnl, "limit_e4": limits.max_daily_loss_e4}))
    drawdown = state.peak_pnl_e4 - pnl
    if drawdown >= limits.max_drawdown_e4:
        detail = {"peak_pnl_e4": state.peak_pnl_e4, "pnl_e4": pnl, "limit_e4": limits.max_drawdown_e4}
        return replace(state, tripped=Trip("drawdown", detail))
    return state


def observe_session(state: BreakerState, pnl_e4: int, limits: BreakerLimits) -> BreakerState:
    """Feed the P&L of a session that traded: a loss extends the streak, anything else ends it."""
    streak = state.losing_streak + 1 if pnl_e4 < 0 else 0
    state = replace(state, losing_streak=streak)
    limit = limits.max_consecutive_losing_sessions
    if state.tripped is None and limit and streak >= limit:
        return replace(
            state, tripped=Trip("losing_sessions", {"streak": streak, "limit": limit, "last_pnl_e4": pnl_e4})
        )
    return state


def rearm(state: BreakerState) -> BreakerState:
    """Clear a trip (the operator resumed): the baseline moves to the last equity, the streak restarts."""
    return replace(state, tripped=None, day_start_equity_e4=state.equity_e4, peak_pnl_e4=0, losing_streak=0)


class CircuitBreaker:
    """Owner of the breaker state for the process. ``_lock`` guards ``_state``; the state machine is called
    after the lock is released (its listeners may call back into :meth:`_on_state_change`)."""

    def __init__(
        self,
        limits: BreakerLimits,
        trading: TradingStateMachine,
        on_trip: Callable[[Trip], None] | None = None,
    ):
        self.limits = limits
        self._trading = trading
        self._on_trip = on_trip
        self._lock = threading.Lock()
        self._state = BreakerState()
        trading.add_listener(self._on_state_change)

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state

    def observe_equity(self, equity_e4: int, ts: float) -> Trip | None:
        """Feed an equity reading (1/10,000 $) at ``ts``; the trip when this reading caused one."""
        return self._update(lambda s: observe_equity(s, equity_e4, ts, self.limits))

    def observe_session(self, pnl_e4: int) -> Trip | None:
        """Feed a finished session's P&L (1/10,000 $); the trip when it caused one."""
        return self._update(lambda s: observe_session(s, pnl_e4, self.limits))

    def _update(self, step: Callable[[BreakerState], BreakerState]) -> Trip | None:
        with self._lock:
            before = self._state
            self._state = step(before)
            trip = self._state.tripped if before.tripped is None else None
        if trip is not None:
            log.error("circuit breaker tripped: %s", trip.reason)
            self._trading.halt(f"circuit breaker: {trip.reason}", "circuit_breaker")
            if self._on_trip is not None:
                self._on_trip(trip)
        return trip

    def _on_state_change(self, change: TradingStateChange) -> None:
        if change.previous is TradingState.HALTED and change.state is not TradingState.HALTED:
            with self._lock:
                if self._state.tripped is None:
                    return
                self._state = rearm(self._state)
            log.warning("circuit breaker re-armed by %s (%s)", change.source, change.reason)
