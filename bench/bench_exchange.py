"""Embedded exchange: matching throughput (orders/s, in-process), the market simulation's CPU cost, and REST
round-trip latency on loopback.

Matching runs two workloads of random orders (70% resting GTC quotes, 30% crossing IOC), 8 users:

* pathological: one market where resting orders pile up without bound (~14,000 by the end), the case that
  exposes any per-operation cost that grows with an account's resting orders;
* realistic: 20 markets where each user keeps at most 10 resting orders per market, cancelling its oldest.

Prints figures; never asserts on time. Run with `make bench`.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from kalshi_mm.api.auth import auth_headers
from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import (
    Event,
    Market,
    OrderRequest,
    OrderStatus,
    SelfTradePrevention,
    Series,
    Side,
    TimeInForce,
)
from kalshi_mm.sim.scenario import load_scenario
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.sim.simulation import MarketSimulation
from kalshi_mm.units import format_price

TICKER = "KXBENCH-26DEC31-T50"
N_ORDERS = 20_000
N_USERS = 8
N_MARKETS = 20  # realistic case
MAX_RESTING = 10  # realistic case: resting orders a user keeps per market
SIM_MINUTES = 3
N_REQUESTS = 500


def list_market(exchange: Exchange, now: float, ticker: str = TICKER) -> None:
    if not exchange.series_list():
        exchange.add_series(Series("KXBENCH", title="Bench", category="Economics"))
        exchange.add_event(Event("KXBENCH-26DEC31", "KXBENCH"))
    exchange.add_market(Market(ticker, "KXBENCH-26DEC31", open_ts=int(now) - 60, close_ts=int(now) + 86_400 * 30))
    exchange.tick()


def random_orders(rng: random.Random, users: list[str], tickers: list[str]) -> list[tuple[str, OrderRequest]]:
    """N_ORDERS random orders: 70% resting quotes 1–10 cents off 50c, 30% IOC crossing as far."""
    out = []
    for _ in range(N_ORDERS):
        side = rng.choice((Side.BID, Side.ASK))
        crossing = rng.random() < 0.3
        centre = 5000
        offset = rng.randint(1, 10) * 100
        price = centre - offset if side is Side.BID else centre + offset
        if crossing:
            price = centre + offset if side is Side.BID else centre - offset
        tif = TimeInForce.IMMEDIATE_OR_CANCEL if crossing else TimeInForce.GOOD_TILL_CANCELED
        ticker = tickers[0] if len(tickers) == 1 else rng.choice(tickers)
        out.append(
            (
                rng.choice(users),
                OrderRequest(ticker, side, price, rng.randint(1, 20) * 100, tif, SelfTradePrevention.MAKER),
            )
        )
    return out


def new_exchange(tickers: list[str]) -> tuple[Exchange, list[str]]:
    clock = SimClock(start=1_795_000_000.0)
    exchange = Exchange(clock, seed=1)
    for ticker in tickers:
        list_market(exchange, clock.time(), ticker)
    users = [f"u{i}" for i in range(N_USERS)]
    for user in users:
        exchange.create_account(user, 10**12)
    return exchange, users


def bench_matching() -> None:
    """Pathological: one market, nothing ever cancelled."""
    exchange, users = new_exchange([TICKER])
    requests_ = random_orders(random.Random(42), users, [TICKER])
    live = LiveClock()
    t0 = live.monotonic()
    for user, request in requests_:
        exchange.place_order(user, request)
    elapsed = live.monotonic() - t0
    trades = len(exchange.trade_log())
    print(
        f"matching, 1 market, resting orders pile up: {N_ORDERS:,} orders ({trades:,} trades) in {elapsed:.2f} s"
        f" = {N_ORDERS / elapsed:,.0f} orders/s"
    )


def bench_matching_realistic() -> None:
    """Realistic: N_MARKETS markets, each user cancels its oldest order beyond MAX_RESTING per market."""
    tickers = [f"{TICKER}-{i}" for i in range(N_MARKETS)]
    exchange, users = new_exchange(tickers)
    requests_ = random_orders(random.Random(43), users, tickers)
    placed: dict[tuple[str, str], deque[str]] = {}  # (user, ticker) -> ids that may still rest, oldest first
    cancels = 0
    live = LiveClock()
    t0 = live.monotonic()
    for user, request in requests_:
        order = exchange.place_order(user, request).order
        if order.status is not OrderStatus.RESTING:
            continue
        mine = placed.setdefault((user, request.ticker), deque())
        mine.append(order.order_id)
        if len(mine) > MAX_RESTING:
            cancels += 1
            with contextlib.suppress(ExchangeError):  # already filled: nothing left to cancel
                exchange.cancel_order(user, mine.popleft())
    elapsed = live.monotonic() - t0
    trades = len(exchange.trade_log())
    print(
        f"matching, {N_MARKETS} markets, <= {MAX_RESTING} resting per user and market: {N_ORDERS:,} orders"
        f" + {cancels:,} cancels ({trades:,} trades) in {elapsed:.2f} s = {N_ORDERS / elapsed:,.0f} orders/s"
    )


def bench_simulation() -> None:
    """CPU per simulated minute of the default scenario's market simulation, stepped by a manual clock, after
    one warm-up minute (the LPs' first ladders on every market)."""
    scenario = load_scenario("default")
    clock = SimClock(start=1_795_000_000.0)
    exchange = Exchange(clock, seed=1)
    simulation = MarketSimulation(exchange, clock, scenario)

    def run(minutes: int) -> None:
        for _ in range(minutes * round(60 / scenario.step_s)):
            clock.advance(scenario.step_s)
            simulation.step(clock.time())

    run(1)
    trades = len(exchange.trade_log())
    t0 = time.process_time()
    run(SIM_MINUTES)
    cpu = time.process_time() - t0
    trades = len(exchange.trade_log()) - trades
    print(
        f"simulation ({scenario.name}, {len(exchange.markets())} markets): {cpu / SIM_MINUTES:.3f} s CPU per"
        f" simulated minute ({trades:,} trades in {SIM_MINUTES} min after a warm-up minute)"
    )


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
            body = {
                "ticker": TICKER,
                "side": "bid",
                "price": format_price(100 + (i % 40) * 100),
                "count": "1",
                "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "maker",
                "post_only": True,
            }
            creates.append(call("POST", "/portfolio/events/orders", body))
        for label, values in (
            ("GET /portfolio/balance", gets),
            ("GET orderbook", books),
            ("POST /portfolio/events/orders", creates),
        ):
            print(
                f"REST {label:<30} p50 {statistics.median(values) * 1e3:6.2f} ms"
                f"  p99 {percentile(values, 0.99) * 1e3:6.2f} ms  ({len(values)} sequential requests, keep-alive)"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    bench_matching()
    bench_matching_realistic()
    bench_simulation()
    bench_rest()
