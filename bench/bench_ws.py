"""Embedded exchange WebSocket server: messages/s published to N subscribers, and order-to-delta latency.

Subscribers run in separate processes (asyncio ``websockets`` clients), so their JSON decoding does not compete
with the server for the GIL; on a small machine they still compete for cores, which the figures include. Each
subscriber takes ``orderbook_delta`` for every market plus ``trade`` and ``ticker``. Prints figures; never asserts
on time. Run with `make bench` or `python bench/bench_ws.py [--subscribers 1,10,50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import random
import statistics
import sys
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.asyncio.client import connect

from kalshi_mm.api.auth import auth_headers
from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.sim.auth import KeyRegistry
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import Event, Market, OrderRequest, OrderStatus, Series, Side
from kalshi_mm.sim.ws import WsServer

WS_PATH = "/trade-api/ws/v2"
T0 = 1_795_000_000.0
DONE_ID = 999_999
LIVE = LiveClock()


# --- subscriber processes -------------------------------------------------------------------------------------


async def _subscriber(
    url: str, headers: dict[str, str], tickers: list[str], done: MpEvent, ready: Any, probe: bool
) -> dict[str, Any]:
    """Count data messages until the server answers the end marker; a probe records delta arrival times."""
    arrivals: dict[str, float] = {}
    count = 0
    async with connect(url, additional_headers=headers, max_queue=None, compression=None, open_timeout=30) as ws:
        await ws.send(
            json.dumps(
                {"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": tickers}}
            )
        )
        await ws.send(json.dumps({"id": 2, "cmd": "subscribe", "params": {"channels": ["trade", "ticker"]}}))
        await ws.send(json.dumps({"id": 3, "cmd": "list_subscriptions"}))
        async for raw in ws:  # wait for the subscriptions to be in place
            if json.loads(raw).get("id") == 3:
                break
        ready.put(1)

        async def mark_end() -> None:
            while not done.is_set():
                await asyncio.sleep(0.01)
            # The server applies every pending event before answering a command: its reply comes last.
            await ws.send(json.dumps({"id": DONE_ID, "cmd": "list_subscriptions"}))

        ender = asyncio.create_task(mark_end())
        async for raw in ws:
            if probe:
                now = LIVE.time()
                message = json.loads(raw)
                coid = message.get("msg", {}).get("client_order_id") if message["type"] == "orderbook_delta" else None
                if coid and coid not in arrivals:
                    arrivals[coid] = now
                if message.get("id") == DONE_ID:
                    break
            elif f'"id":{DONE_ID}'.encode() in (raw if isinstance(raw, bytes) else raw.encode()):
                break
            count += 1
        await ender
        return {"count": count, "end": LIVE.time(), "arrivals": arrivals}


def _client_process(
    url: str, headers: dict[str, str], tickers: list[str], n: int, probe: bool, done: MpEvent, ready: Any, results: Any
) -> None:
    async def main() -> list[dict[str, Any]]:
        return await asyncio.gather(
            *(_subscriber(url, headers, tickers, done, ready, probe and i == 0) for i in range(n))
        )

    results.put(asyncio.run(main()))


# --- server side -------------------------------------------------------------------------------------------------


def _exchange(n_markets: int) -> tuple[Exchange, KeyRegistry, rsa.RSAPrivateKey, str, list[str], SimClock]:
    clock = SimClock(start=T0)
    exchange = Exchange(clock, seed=1)
    exchange.add_series(Series("KXBENCH", title="Bench"))
    exchange.add_event(Event("KXBENCH-26DEC31", "KXBENCH"))
    tickers = [f"KXBENCH-26DEC31-T{i}" for i in range(n_markets)]
    for ticker in tickers:
        exchange.add_market(Market(ticker, "KXBENCH-26DEC31", open_ts=int(T0) - 60, close_ts=int(T0) + 86_400))
    exchange.tick()
    for user in ("mm", "flow"):
        exchange.create_account(user, 10**12)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = KeyRegistry()
    access_key = keys.register("mm", key.public_key())
    return exchange, keys, key, access_key, tickers, clock


def _run(n_subscribers: int, n_orders: int, n_markets: int, latency_orders: int) -> None:
    exchange, keys, key, access_key, tickers, clock = _exchange(n_markets)
    server = WsServer(exchange, keys, auth_clock=clock).start()
    ctx = mp.get_context("spawn")
    done, ready, results = ctx.Event(), ctx.Queue(), ctx.Queue()
    n_procs = min(n_subscribers, 4)
    shares = [n_subscribers // n_procs + (i < n_subscribers % n_procs) for i in range(n_procs)]
    headers = auth_headers(access_key, key, clock.time_ms(), "GET", WS_PATH)
    procs = [
        ctx.Process(
            target=_client_process,
            args=(server.url, headers, tickers, share, i == 0, done, ready, results),
            daemon=True,
        )
        for i, share in enumerate(shares)
    ]
    try:
        for proc in procs:
            proc.start()
        for _ in range(n_subscribers):
            ready.get(timeout=60)
        rng = random.Random(7)

        # Phase 1, latency: paced orders from the subscribers' own account (their deltas carry client_order_id).
        sent: dict[str, float] = {}
        for i in range(latency_orders):
            coid = f"lat-{i}"
            ticker = tickers[i % len(tickers)]
            sent[coid] = LIVE.time()
            order = exchange.place_order(
                "mm", OrderRequest(ticker, Side.BID, 100 + 100 * rng.randrange(40), 100, client_order_id=coid)
            ).order
            exchange.cancel_order("mm", order.order_id)
            LIVE.wait(0.002)

        # Phase 2, throughput: place/cancel as fast as the engine goes; some orders trade.
        start = LIVE.time()
        resting: list[str] = []
        for i in range(n_orders):
            ticker = tickers[i % len(tickers)]
            side = Side.BID if rng.random() < 0.5 else Side.ASK
            price = rng.randrange(4000, 6001, 100)
            order = exchange.place_order("flow", OrderRequest(ticker, side, price, 100 * rng.randint(1, 5))).order
            if order.status is OrderStatus.RESTING:
                resting.append(order.order_id)
            if len(resting) > 200:
                with contextlib.suppress(Exception):
                    exchange.cancel_order("flow", resting.pop(rng.randrange(len(resting))))
        produced = LIVE.time() - start
        done.set()
        outcomes = [r for _ in procs for r in results.get(timeout=600)]
    finally:
        done.set()
        for proc in procs:
            proc.join(timeout=10)
        server.stop()

    total = sum(o["count"] for o in outcomes)
    elapsed = max(o["end"] for o in outcomes) - start
    probe = next(o for o in outcomes if o["arrivals"])
    lat = sorted((probe["arrivals"][c] - t) * 1e3 for c, t in sent.items() if c in probe["arrivals"])
    print(
        f"{n_subscribers:>3} subscribers, {n_markets} markets: {n_orders:,} orders + cancels in {produced:.2f} s"
        f" ({n_orders / produced:,.0f} orders/s with publishing on); {total:,} messages delivered in"
        f" {elapsed:.2f} s = {total / elapsed:,.0f} msgs/s"
    )
    if lat:
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        print(
            f"    order -> own delta at a subscriber: p50 {statistics.median(lat):.2f} ms, p99 {p99:.2f} ms"
            f" ({len(lat)} paced orders)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", default="1,10,50", help="comma-separated subscriber counts")
    parser.add_argument("--orders", type=int, default=20_000, help="orders in the throughput phase")
    parser.add_argument("--markets", type=int, default=5)
    parser.add_argument("--latency-orders", type=int, default=500)
    args = parser.parse_args()
    for n in (int(x) for x in args.subscribers.split(",")):
        _run(n, args.orders, args.markets, args.latency_orders)


if __name__ == "__main__":
    main()
