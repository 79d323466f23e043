"""Embedded exchange: matching throughput (orders/s, in-process) and REST round-trip latency on loopback.

Prints figures; never asserts on time. Run with `make bench`.
"""

from __future__ import annotations

import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from kalshi_mm.api.auth import auth_headers  # noqa: E402
from kalshi_mm.clock import LiveClock, SimClock  # noqa: E402
from kalshi_mm.sim.exchange import Exchange  # noqa: E402
from kalshi_mm.sim.model import (  # noqa: E402
    Event,
    Market,
    OrderRequest,
    SelfTradePrevention,
    Series,
    Side,
    TimeInForce,
)
from kalshi_mm.sim.server import EmbeddedExchange  # noqa: E402
from kalshi_mm.units import format_price  # noqa: E402

TICKER = "KXBENCH-26DEC31-T50"
N_ORDERS = 20_000
N_REQUESTS = 500


def list_market(exchange: Exchange, now: float) -> None:
    exchange.add_series(Series("KXBENCH", title="Bench", category="Economics"))
    exchange.add_event(Event("KXBENCH-26DEC31", "KXBENCH"))
    exchange.add_market(Market(TICKER, "KXBENCH-26DEC31", open_ts=int(now) - 60, close_ts=int(now) + 86_400 * 30))
    exchange.tick()


def bench_matching() -> None:
    clock = SimClock(start=1_795_000_000.0)
    exchange = Exchange(clock, seed=1)
    list_market(exchange, clock.time())
    users = [f"u{i}" for i in range(8)]
    for user in users:
        exchange.create_account(user, 10**12)
    rng = random.Random(42)
    requests_ = []
    for _ in range(N_ORDERS):
        side = rng.choice((Side.BID, Side.ASK))
        crossing = rng.random() < 0.3
        centre = 5000
        offset = rng.randint(1, 10) * 100
        price = centre - offset if side is Side.BID else centre + offset
        if crossing:
            price = centre + offset if side is Side.BID else centre - offset
        tif = TimeInForce.IMMEDIATE_OR_CANCEL if crossing else TimeInForce.GOOD_TILL_CANCELED
        requests_.append((rng.choice(users), OrderRequest(TICKER, side, price, rng.randint(1, 20) * 100, tif,
                                                          SelfTradePrevention.MAKER)))
    live = LiveClock()
    t0 = live.monotonic()
    for user, request in requests_:
        exchange.place_order(user, request)
    elapsed = live.monotonic() - t0
    trades = len(exchange.trade_log())
    print(f"matching: {N_ORDERS:,} orders ({trades:,} trades) in {elapsed:.2f} s = {N_ORDERS / elapsed:,.0f} orders/s")


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def bench_rest() -> None:
    clock = SimClock(start=LiveClock().time())  # manual: the bench refills buckets itself, so 429s never show
    server = EmbeddedExchange(clock, scenario=None, tier="prime", auth_clock=LiveClock()).start()
    try:
        list_market(server.exchange, clock.time())
        account = server.create_account("bench")
        assert account.private_key is not None
        session = requests.Session()
        live = LiveClock()

        def call(method: str, path: str, body: object = None) -> float:
            clock.advance(1.0)
            url = server.rest_url + path
            headers = auth_headers(account.access_key, account.private_key, live.time_ms(), method, url)
            t0 = live.monotonic()
            response = session.request(method, url, json=body, headers=headers, timeout=10)
            elapsed = live.monotonic() - t0
            assert response.status_code < 300, response.text
            return elapsed

        gets = [call("GET", "/portfolio/balance") for _ in range(N_REQUESTS)]
        books = [call("GET", f"/markets/{TICKER}/orderbook") for _ in range(N_REQUESTS)]
        creates = []
        for i in range(N_REQUESTS):
            body = {"ticker": TICKER, "side": "bid", "price": format_price(100 + (i % 40) * 100), "count": "1",
                    "time_in_force": "good_till_canceled", "self_trade_prevention_type": "maker", "post_only": True}
            creates.append(call("POST", "/portfolio/events/orders", body))
        for label, values in (("GET /portfolio/balance", gets), ("GET orderbook", books),
                              ("POST /portfolio/events/orders", creates)):
            print(f"REST {label:<30} p50 {statistics.median(values) * 1e3:6.2f} ms"
                  f"  p99 {percentile(values, 0.99) * 1e3:6.2f} ms  ({len(values)} sequential requests, keep-alive)")
    finally:
        server.stop()


if __name__ == "__main__":
    bench_matching()
    bench_rest()
