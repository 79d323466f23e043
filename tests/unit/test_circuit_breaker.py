"""The circuit breaker: daily loss, drawdown from the day's peak, consecutive losing sessions, each halting the
account; sticky until an operator resumes; the day rolling over at 00:00 UTC on a SimClock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kalshi_mm.clock import SimClock
from kalshi_mm.risk.breaker import (
    BreakerLimits,
    BreakerState,
    CircuitBreaker,
    Trip,
    observe_equity,
    observe_session,
    rearm,
    utc_day,
)
from kalshi_mm.risk.state import TradingState, TradingStateMachine

DOLLAR = 10_000
LIMITS = BreakerLimits(max_daily_loss_e4=20 * DOLLAR, max_drawdown_e4=30 * DOLLAR, max_consecutive_losing_sessions=3)
# 2026-01-01 12:00 UTC
NOON = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
START = 1_000 * DOLLAR


def feed(*equities: int, ts: float = NOON) -> BreakerState:
    state = BreakerState()
    for equity in equities:
        state = observe_equity(state, equity, ts, LIMITS)
    return state


def test_daily_loss_trips_at_the_limit_not_before() -> None:
    assert feed(START, START - 20 * DOLLAR + 1).tripped is None
    tripped = feed(START, START - 20 * DOLLAR).tripped
    assert tripped is not None and tripped.rule == "daily_loss" and tripped.detail["pnl_e4"] == -20 * DOLLAR


def test_drawdown_counts_from_the_days_peak_pnl() -> None:
    # Up $12, then down to −$17.9999: $29.9999 below the peak (no trip); −$18: $30 below the peak, though only $18
    # (under the $20 daily limit) was lost today.
    assert feed(START, START + 12 * DOLLAR, START - 18 * DOLLAR + 1).tripped is None
    state = feed(START, START + 12 * DOLLAR, START - 18 * DOLLAR)
    assert state.tripped is not None and state.tripped.rule == "drawdown"
    assert state.tripped.detail == {"peak_pnl_e4": 12 * DOLLAR, "pnl_e4": -18 * DOLLAR, "limit_e4": 30 * DOLLAR}


def test_consecutive_losing_sessions_trip_and_a_non_losing_one_resets_the_streak() -> None:
    state = BreakerState()
    for pnl in (-1, -5, 0, -1, -1):  # the break-even session ends the first streak
        state = observe_session(state, pnl, LIMITS)
    assert state.tripped is None and state.losing_streak == 2
    state = observe_session(state, -1, LIMITS)
    assert state.tripped is not None and state.tripped.rule == "losing_sessions"
    off = BreakerLimits(20 * DOLLAR, 15 * DOLLAR, 0)
    state = BreakerState()
    for _ in range(50):
        state = observe_session(state, -1, off)
    assert state.tripped is None


def test_a_trip_is_sticky_whatever_pnl_does_and_rearm_moves_the_baseline() -> None:
    state = feed(START, START - 25 * DOLLAR, START + 5 * DOLLAR)  # recovered: still tripped
    assert state.tripped is not None and state.tripped.rule == "daily_loss"
    rearmed = rearm(state)
    assert rearmed.tripped is None and rearmed.day_start_equity_e4 == START + 5 * DOLLAR
    assert observe_equity(rearmed, START + 5 * DOLLAR, NOON, LIMITS).tripped is None


def test_the_day_rolls_over_at_utc_midnight() -> None:
    before_midnight = datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC).timestamp()
    state = observe_equity(BreakerState(), START, NOON, LIMITS)
    state = observe_equity(state, START - 19 * DOLLAR, before_midnight, LIMITS)
    assert state.tripped is None and state.pnl_e4 == -19 * DOLLAR
    # One second later a new day starts from the current equity: the same $19 loss is yesterday's.
    state = observe_equity(state, START - 19 * DOLLAR, before_midnight + 1, LIMITS)
    assert state.day == "2026-01-02" and state.pnl_e4 == 0 and state.peak_pnl_e4 == 0
    state = observe_equity(state, START - 38 * DOLLAR, before_midnight + 2, LIMITS)
    assert state.tripped is None  # $38 down over two days, $19 of it today
    state = observe_equity(state, START - 39 * DOLLAR, before_midnight + 3, LIMITS)
    assert state.tripped is not None and state.tripped.detail["pnl_e4"] == -20 * DOLLAR
    assert utc_day(before_midnight) == "2026-01-01"


def test_owner_halts_the_account_once_and_rearms_only_on_resume() -> None:
    clock = SimClock(start=NOON)
    trading = TradingStateMachine(clock)
    trips: list[Trip] = []
    breaker = CircuitBreaker(LIMITS, trading, on_trip=trips.append)
    assert breaker.observe_equity(START, clock.time()) is None
    clock.advance(60)
    trip = breaker.observe_equity(START - 21 * DOLLAR, clock.time())
    assert trip is not None and trading.state is TradingState.HALTED
    assert trading.history[-1].source == "circuit_breaker"
    # Further readings, good or bad, neither re-trip nor release it.
    assert breaker.observe_equity(START - 30 * DOLLAR, clock.time()) is None
    assert breaker.observe_equity(START + 10 * DOLLAR, clock.time()) is None
    assert trading.state is TradingState.HALTED and len(trips) == 1
    # The next UTC day does not release it either.
    clock.set_time(datetime(2026, 1, 2, 0, 0, 1, tzinfo=UTC).timestamp())
    breaker.observe_equity(START + 10 * DOLLAR, clock.time())
    assert trading.state is TradingState.HALTED and breaker.state.tripped is not None
    trading.resume("checked", "operator")
    assert breaker.state.tripped is None and trading.state is TradingState.ACTIVE
    assert breaker.observe_equity(START + 10 * DOLLAR, clock.time()) is None  # the accepted loss does not re-trip
    assert breaker.observe_equity(START - 10 * DOLLAR + 1, clock.time()) is None
    assert breaker.observe_equity(START - 10 * DOLLAR, clock.time()) is not None  # −$20 from the new baseline
    assert trading.state is TradingState.HALTED and len(trips) == 2


def test_a_resume_after_an_operator_halt_leaves_the_breaker_baseline_alone() -> None:
    clock = SimClock(start=NOON)
    trading = TradingStateMachine(clock)
    breaker = CircuitBreaker(LIMITS, trading)
    breaker.observe_equity(START, clock.time())
    breaker.observe_equity(START - 10 * DOLLAR, clock.time())
    trading.halt("manual", "operator")  # not the breaker's: a resume must not move its baseline
    trading.resume("manual", "operator")
    assert breaker.state.day_start_equity_e4 == START  # not re-armed: it had not tripped
    assert breaker.observe_equity(START - 20 * DOLLAR, clock.time()) is not None


def test_losing_sessions_through_the_owner_halt_the_account() -> None:
    trading = TradingStateMachine(SimClock(start=NOON))
    breaker = CircuitBreaker(LIMITS, trading)
    for _ in range(2):
        assert breaker.observe_session(-100) is None
    assert breaker.observe_session(-100) is not None and trading.state is TradingState.HALTED


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        BreakerLimits(0, 1, 1)
