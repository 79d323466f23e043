"""Steady state on the Basic tier: threads issuing far more requests than the budget allows, for 3 seconds of the
clock the exchange's own buckets run on. The client must wait instead of collecting 429s (the exchange counts
none for the account), and neither order entry nor order-path reads may be starved by market-data scans."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

from kalshi_mm.api.ratelimit import DEFAULT_SAFETY, TIERS
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import BookSide
from kalshi_mm.clock import SimClock

from .conftest import OTHER_TICKER, TICKER, Venue, start_venue

DURATION_S = 3.0  # of the shared clock
SCALE = 2.0  # the clock runs 2x real time: 1.5 s of wall time
MARKET_DATA_THREADS = 4


@pytest.mark.serial
def test_basic_tier_budget_without_429s_and_without_starving_writes() -> None:
    clock = SimClock(start=1_795_000_000.0, scale=SCALE)
    server = start_venue(clock, tier="basic")
    try:
        venue = Venue(server, clock)
        api = venue.client("steady", tier="basic")
        stop_at = clock.monotonic() + DURATION_S
        done: Counter[str] = Counter()
        lock = threading.Lock()

        def loop(name: str, step: Callable[[KalshiTradingAPI], object], pause_s: float = 0.0) -> None:
            while clock.monotonic() < stop_at:
                step(api)
                with lock:
                    done[name] += 1
                if pause_s:
                    clock.wait(pause_s)

        def quote(a: KalshiTradingAPI) -> None:
            ack = a.place_order(TICKER, BookSide.BID, 1000, 100, post_only=True)
            a.cancel_order(ack.order_id, TICKER)

        # One writer quoting as fast as it can, a reconciler reading its orders every 0.25 s, and scanners
        # hammering market data: together far beyond the Basic budget.
        workers = [
            threading.Thread(target=loop, args=("write", quote)),
            threading.Thread(target=loop, args=("order_read", lambda a: a.get_orders(TICKER), 0.25)),
        ]
        workers += [
            threading.Thread(target=loop, args=("market_data", lambda a: a.get_price(OTHER_TICKER)))
            for _ in range(MARKET_DATA_THREADS)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
        elapsed = clock.monotonic() - (stop_at - DURATION_S)

        traffic = venue.traffic("steady")["rest"]
        assert not [key for key in traffic if key.endswith(" 429")], traffic
        assert api.stats().get("RateLimitedError", 0) == 0

        basic, waits = TIERS["basic"], api.limiter.stats()
        # Writes: a create (10) + a cancel (2) per cycle, from a bucket of 90 tokens refilling at 90/s.
        write_budget = DEFAULT_SAFETY * (basic.write_capacity + basic.write_per_s * elapsed)
        assert done["write"] * 12 >= 0.8 * write_budget, (done, write_budget)
        # Reads: together they use most of the read budget...
        read_budget = DEFAULT_SAFETY * (basic.read_capacity + basic.read_per_s * elapsed)
        reads = done["order_read"] + done["market_data"]
        assert reads * 10 >= 0.8 * read_budget, (done, read_budget)
        # ...and the reconciler's reads jump the scanners' queue: a short wait each, against the scanners' long ones.
        order_wait = waits["read"]["ORDER_waited_s"] / waits["read"]["ORDER_granted"]
        scan_wait = waits["read"]["MARKET_DATA_waited_s"] / waits["read"]["MARKET_DATA_granted"]
        assert done["order_read"] >= 0.6 * DURATION_S / 0.25 and order_wait < 0.1 < scan_wait, waits
    finally:
        server.stop()
