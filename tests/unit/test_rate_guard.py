"""Cancel discipline: creates and amends are vetoed once the write bucket would fall below the reserve kept for
cancels; requests already queued count as spent; the guard reads the client's real RateLimiter on a SimClock."""

from __future__ import annotations

import threading

import pytest

from kalshi_mm.api.ratelimit import CANCEL_COST, RateLimiter, TierBudget
from kalshi_mm.clock import SimClock
from kalshi_mm.risk.rate_guard import ORDER_COSTS, RateGuard, RateStatus, rate_veto

# A small write bucket: 100 tokens (× 0.9 safety = 90), refilled at 90/s.
TIER = TierBudget(read_per_s=100, write_per_s=100, read_capacity=100, write_capacity=100)


def test_pure_rule_keeps_the_reserve() -> None:
    assert rate_veto(RateStatus(available=30.0, queued=0, cost=10, reserve=20)) is None
    detail = rate_veto(RateStatus(available=29.9, queued=0, cost=10, reserve=20))
    assert detail == {"available_tokens": 29, "queued_requests": 0, "cost": 10, "reserve_tokens": 20}
    # Two requests already queued are counted as creates: 50 − 20 − 10 = 20 left, just the reserve.
    assert rate_veto(RateStatus(available=50.0, queued=2, cost=10, reserve=20)) is None
    assert rate_veto(RateStatus(available=50.0, queued=3, cost=10, reserve=20)) is not None


def test_creates_and_amends_cost_the_default_ten_tokens() -> None:
    assert ORDER_COSTS == {"place": 10, "amend": 10}


def test_guard_reads_the_limiter_and_vetoes_once_creates_ate_into_the_reserve() -> None:
    clock = SimClock(start=1_767_225_600.0)
    limiter = RateLimiter(TIER, clock)
    guard = RateGuard(limiter, reserve_cancels=5)  # 10 tokens
    assert guard.reserve_tokens == 5 * CANCEL_COST
    allowed = 0
    # Creates until the guard says stop: 90 tokens hold 8 creates with 10 left (the reserve).
    while True:
        status = guard.status("place")
        assert status is not None
        if rate_veto(status) is not None:
            break
        limiter.acquire("POST", "/portfolio/events/orders")
        allowed += 1
    assert allowed == 8
    # The reserve is still there for cancels: five go through without waiting.
    for _ in range(5):
        assert limiter.acquire("DELETE", "/portfolio/events/orders/x") == 0.0
    clock.advance(1.0)  # the bucket refills: creates are allowed again
    status = guard.status("amend")
    assert status is not None and rate_veto(status) is None


def test_queued_requests_count_against_the_budget() -> None:
    clock = SimClock(start=1_767_225_600.0)
    limiter = RateLimiter(TIER, clock)
    guard = RateGuard(limiter, reserve_cancels=1)
    limiter.acquire_tokens("write", 85.0)  # drain: 5 left
    waiter = threading.Thread(target=limiter.acquire, args=("POST", "/portfolio/events/orders"), daemon=True)
    waiter.start()
    deadline = threading.Event()
    for _ in range(200):
        if limiter.queued("write"):
            break
        deadline.wait(0.005)
    status = guard.status("place")
    assert status is not None and status.queued == 1 and rate_veto(status) is not None
    clock.advance(1.0)  # refill: the queued create goes, the bucket is full again
    waiter.join(5.0)
    status = guard.status("place")
    assert status is not None and status.queued == 0 and rate_veto(status) is None


def test_no_limiter_or_no_reserve_turns_the_rule_off() -> None:
    assert RateGuard(None, reserve_cancels=5).status("place") is None
    limiter = RateLimiter(TIER, SimClock(start=1_767_225_600.0))
    assert RateGuard(limiter, reserve_cancels=0).status("place") is None
    with pytest.raises(ValueError, match="reserve_cancels"):
        RateGuard(limiter, reserve_cancels=-1)
