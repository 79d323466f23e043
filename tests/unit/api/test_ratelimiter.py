"""The client's RateLimiter: the tier's buckets at 90%, waiting on the injected clock, priorities and the
market-data reserve, FIFO within a priority, the 429 penalty."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from kalshi_mm.api.ratelimit import TIERS, Priority, RateLimiter
from kalshi_mm.clock import LiveClock, SimClock

REAL_TIMEOUT_S = 5.0


def test_buckets_start_and_refill_at_the_safety_fraction() -> None:
    clock = SimClock()
    limiter = RateLimiter("basic", clock)
    assert limiter.available("read") == pytest.approx(180)  # 90% of Basic's 200
    assert limiter.available("write") == pytest.approx(90)
    assert limiter.capacity("write") == pytest.approx(0.9 * TIERS["basic"].write_capacity)
    limiter.acquire_tokens("read", 180)
    clock.advance(0.5)
    assert limiter.available("read") == pytest.approx(90)  # 0.5 s x 180 tokens/s


def test_acquire_waits_on_the_clock_until_the_request_fits() -> None:
    clock = SimClock(auto_advance=True)
    limiter = RateLimiter("basic", clock)
    start = clock.time()
    waits = [limiter.acquire("GET", "/portfolio/balance") for _ in range(19)]
    assert waits[:18] == [0.0] * 18
    assert waits[18] == pytest.approx(10 / 180, abs=2e-4)
    assert clock.time() - start == pytest.approx(10 / 180, abs=2e-4)
    assert limiter.acquire("DELETE", "/portfolio/events/orders/o-1") == 0.0  # the write bucket is separate


def test_costs_come_from_the_endpoint_and_batches_must_fit_the_safe_capacity() -> None:
    clock = SimClock(auto_advance=True)
    limiter = RateLimiter("basic", clock)
    assert limiter.acquire("POST", "/portfolio/events/orders/batched", batch_items=9) == 0.0  # 90 tokens
    assert limiter.available("write") == pytest.approx(0, abs=1e-6)
    with pytest.raises(ValueError, match="100 tokens can never fit the write bucket of 90"):
        limiter.acquire("POST", "/portfolio/events/orders/batched", batch_items=10)


def test_market_data_leaves_a_reserve_for_the_order_path() -> None:
    limiter = RateLimiter("basic", SimClock(auto_advance=True), market_data_reserve=0.25)
    free = 0
    while limiter.acquire_tokens("read", 10, Priority.MARKET_DATA) == 0.0:
        free += 1
    assert free == 13  # 180 tokens down to the 45-token reserve (25% of 180), then it waited
    order_path = [limiter.acquire_tokens("read", 10, Priority.ORDER) for _ in range(5)]
    assert order_path[:4] == [0.0] * 4  # the reserve is the order path's at once
    assert order_path[4] == pytest.approx(5 / 180, abs=2e-4)


def test_penalize_empties_the_bucket_after_a_429() -> None:
    clock = SimClock()
    limiter = RateLimiter("prime", clock)
    limiter.penalize("read")
    assert limiter.available("read") == pytest.approx(0)
    clock.advance(0.01)
    assert limiter.available("read") == pytest.approx(36)  # refills at 90% of 4,000/s


class Racer:
    """Threads acquiring tokens on a manual clock; ``done`` records the order in which they got them."""

    def __init__(self, limiter: RateLimiter):
        self.limiter = limiter
        self.done: list[str] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def start(self, name: str, kind: str, cost: float, priority: Priority) -> None:
        def run() -> None:
            self.limiter.acquire_tokens(kind, cost, priority)
            with self.lock:
                self.done.append(name)

        before = self.limiter.queued(kind)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)
        wait_until(lambda: self.limiter.queued(kind) == before + 1)

    def finished(self, n: int) -> list[str]:
        wait_until(lambda: len(self.done) >= n)
        with self.lock:
            return list(self.done)


def wait_until(condition: Callable[[], bool]) -> None:
    live = LiveClock()
    deadline = live.monotonic() + REAL_TIMEOUT_S
    while not condition():
        assert live.monotonic() < deadline, "condition not reached in real time"
        live.wait(0.002)


def test_order_reads_go_before_queued_market_data_reads() -> None:
    clock = SimClock()
    limiter = RateLimiter("basic", clock)
    limiter.acquire_tokens("read", 180)  # empty
    racer = Racer(limiter)
    racer.start("scan", "read", 10, Priority.MARKET_DATA)
    racer.start("orders", "read", 10, Priority.ORDER)
    clock.advance(10 / 180 + 1e-3)
    assert racer.finished(1) == ["orders"]
    clock.advance(55 / 180)  # market data also needs the 45-token reserve on top of its cost
    assert racer.finished(2) == ["orders", "scan"]


def test_cancels_overtake_creates_but_a_queued_batch_is_not_starved_by_cheaper_equals() -> None:
    clock = SimClock()
    limiter = RateLimiter("basic", clock)
    limiter.acquire_tokens("write", 90)  # empty
    racer = Racer(limiter)
    racer.start("batch", "write", 90, Priority.ORDER)
    racer.start("create", "write", 10, Priority.ORDER)
    racer.start("cancel", "write", 2, Priority.CANCEL)
    clock.advance(0.2)  # 16.2 tokens: the cancel may go; the create may not overtake the earlier batch
    assert racer.finished(1) == ["cancel"]
    clock.advance(1.0)  # 14.2 + 81 tokens, capped at 90: the batch's 90 fit, leaving none for the create
    assert racer.finished(2) == ["cancel", "batch"]
    clock.advance(0.2)
    assert racer.finished(3) == ["cancel", "batch", "create"]
