"""WebSocket client: REST calls per quoted market-minute in steady state, and client-side message throughput.

1. Steady state. The embedded exchange runs its default scenario (simulated traders moving the markets); a
   quoting-like loop reads the books of M markets through the state store (REST fallback allowed) every
   ``--read-interval`` seconds and places and cancels an order per market every few seconds over REST. With the
   WebSocket healthy the goal is 0 market-data REST reads per quoted market-minute. The same loop in REST-only
   mode (``websockets.enabled: false``) is printed for comparison. Counts come from the exchange's /admin/traffic.
2. Throughput of the whole client path for orderbook deltas: JSON parse + typed parse + seq check + store apply,
   (a) calling the stream handler directly, (b) through a real socket from a raw frame sender in another
   process (adds websocket-client's framing).

Prints figures; never asserts on time. ``python bench/bench_ws_client.py [--seconds 20 --markets 10]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import multiprocessing as mp
import random
import socket
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.rest_fallback import RestOrderbookFallback
from kalshi_mm.api.types import BookSide, OrderRequest, SelfTradePrevention
from kalshi_mm.api.websocket import KalshiWebsocketClient
from kalshi_mm.api.ws_stream import StreamHandler
from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.config.credentials import Credentials
from kalshi_mm.config.sections_infra import WebsocketsConfig
from kalshi_mm.sim.instruments import MarketStatus
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.state.store import MarketStateStore

LIVE = LiveClock()
T0 = 1_795_000_000.0
TICKERS = [f"KXBENCH-26DEC31-T{i}" for i in range(10)]


# --- 1. steady state -------------------------------------------------------------------------------------------


def _quote_loop(venue: EmbeddedExchange, clock: SimClock, ws_enabled: bool, args: argparse.Namespace) -> None:
    account = venue.create_account(f"mm-{'ws' if ws_enabled else 'rest'}")
    assert account.private_key is not None
    credentials = Credentials(account.access_key, account.private_key)
    config = WebsocketsConfig(enabled=ws_enabled)
    rest = KalshiTradingAPI(venue.rest_url, credentials, clock, tier="prime")
    store = MarketStateStore(clock, config, rest_fallback=RestOrderbookFallback(rest))
    open_markets = [m.ticker for m in venue.exchange.markets() if m.status is MarketStatus.ACTIVE and not m.paused]
    markets = sorted(open_markets, key=lambda t: -len(venue.exchange.orderbook(t).yes))[: args.markets]
    client = KalshiWebsocketClient(venue.ws_url, credentials, clock, store, config, rest=rest)
    client.add_markets(markets)
    client.start()
    if ws_enabled:
        deadline = LIVE.monotonic() + 10
        while any(store.get_orderbook(t) is None for t in markets) and LIVE.monotonic() < deadline:
            LIVE.wait(0.05)
    before = _traffic(venue, account.user_id)
    started = LIVE.monotonic()
    reads = orders = 0
    next_order = dict.fromkeys(markets, started)
    while (now := LIVE.monotonic()) - started < args.seconds:
        for ticker in markets:
            view = store.get_orderbook(ticker, allow_rest=True)
            reads += 1
            if view is not None and view.best_bid is not None and view.best_bid > 200 and now >= next_order[ticker]:
                next_order[ticker] = now + args.order_interval
                try:
                    request = OrderRequest(
                        ticker,
                        BookSide.BID,
                        view.best_bid - 100,
                        100,
                        post_only=True,
                        self_trade_prevention=SelfTradePrevention.MAKER,
                    )
                    rest.cancel_order(rest.create_order(request).order_id, ticker=ticker)
                    orders += 1
                except Exception as exc:  # a closed market or a pause: the loop goes on, as a quoter would
                    logging.debug("order skipped: %s", exc)
        LIVE.wait(args.read_interval)
    minutes = (LIVE.monotonic() - started) / 60
    after = _traffic(venue, account.user_id)
    client.stop()
    rest.close()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    book_reads = sum(n for k, n in delta.items() if k.startswith("GET /markets"))
    other_gets = sum(n for k, n in delta.items() if k.startswith("GET") and not k.startswith("GET /markets"))
    entries = sum(n for k, n in delta.items() if not k.startswith("GET"))
    market_minutes = minutes * len(markets)
    mode = "WebSocket healthy" if ws_enabled else "REST-only (ws disabled)"
    print(
        f"  {mode:<24} {len(markets)} markets x {minutes:.2f} min: {reads:,} store reads, {orders} order+cancel;"
        f" market-data REST reads {book_reads} = {book_reads / market_minutes:.2f} per market-minute;"
        f" other GETs {other_gets}; order-entry calls {entries} ({entries / market_minutes:.1f}/market-min)"
    )
    if ws_enabled:
        stats = client.stats()
        print(
            f"    ws: {stats['messages']:,} messages, gaps {stats['gaps']}, resyncs {stats['resyncs']},"
            f" reconnects {stats['reconnects']}, store rest_fetches {store.stats()['rest_fetches']}"
        )


def _traffic(venue: EmbeddedExchange, user: str) -> dict[str, int]:
    url = venue.rest_url.replace("/trade-api/v2", "/admin/traffic")
    return requests.get(url, timeout=10).json().get(user, {}).get("rest", {})


def steady_state(args: argparse.Namespace) -> None:
    print(
        f"steady state: {args.seconds:.0f} s per mode, reads every {args.read_interval} s, an order+cancel per"
        f" market every {args.order_interval} s, default scenario"
    )
    clock = SimClock(start=T0, scale=1.0)
    venue = EmbeddedExchange(clock, scenario="default", seed=7, tier="prime").start()
    try:
        _quote_loop(venue, clock, True, args)
        _quote_loop(venue, clock, False, args)
    finally:
        venue.stop()


# --- 2. throughput ---------------------------------------------------------------------------------------------


def _frames(n_deltas: int) -> list[str]:
    """subscribed, one snapshot per market, then deltas spread over the markets (sizes only grow: always valid)."""
    rng = random.Random(3)
    frames = [json.dumps({"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}})]
    seq = 0
    for ticker in TICKERS:
        seq += 1
        frames.append(
            json.dumps(
                {
                    "type": "orderbook_snapshot",
                    "sid": 1,
                    "seq": seq,
                    "msg": {
                        "market_ticker": ticker,
                        "yes_dollars_fp": [["0.4000", "10.00"]],
                        "no_dollars_fp": [["0.4000", "10.00"]],
                    },
                }
            )
        )
    for _ in range(n_deltas):
        seq += 1
        side = rng.choice(("yes", "no"))
        body = {
            "market_ticker": rng.choice(TICKERS),
            "market_id": "00000000-0000-0000-0000-000000000000",
            "price_dollars": f"0.{rng.randint(5, 45):02d}00",
            "delta_fp": f"{rng.randint(1, 50)}.00",
            "side": side,
            "ts": "2026-11-18T00:00:00Z",
            "ts_ms": 1_795_000_000_000,
        }
        frames.append(json.dumps({"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": body}, separators=(",", ":")))
    return frames


def _config() -> WebsocketsConfig:
    return WebsocketsConfig(
        enabled=True,
        subscribe_ticker=False,
        subscribe_trades=False,
        subscribe_user_fills=False,
        subscribe_positions=False,
        subscribe_lifecycle=False,
    )


def handler_throughput(n: int) -> None:
    frames = _frames(n)
    clock = LiveClock()
    store = MarketStateStore(clock, _config())
    handler = StreamHandler(store, clock, ["orderbook_delta"])
    sent: list[dict[str, Any]] = []
    handler.set_wanted(TICKERS)
    handler.attach(sent.append)
    head, deltas = frames[: 1 + len(TICKERS)], frames[1 + len(TICKERS) :]
    for frame in head:
        handler.on_frame(frame)
    samples: list[float] = []
    start = LIVE.monotonic()
    for i, frame in enumerate(deltas):
        if i % 64 == 0:
            t = LIVE.monotonic()
            handler.on_frame(frame)
            samples.append(LIVE.monotonic() - t)
        else:
            handler.on_frame(frame)
    elapsed = LIVE.monotonic() - start
    applied = store.stats()["deltas_applied"]
    samples.sort()
    p50, p99 = statistics.median(samples) * 1e6, samples[int(0.99 * (len(samples) - 1))] * 1e6
    print(
        f"  handler path (JSON + parse + seq + store), in-process: {len(deltas):,} deltas in {elapsed:.2f} s ="
        f" {len(deltas) / elapsed:,.0f} deltas/s; p50 {p50:.1f} µs, p99 {p99:.1f} µs; applied {applied:,},"
        f" gaps {handler.counters['gaps']}"
    )


def _sender(frames: list[str], port_queue: Any) -> None:
    """A raw WebSocket server in another process: handshake, then every frame as fast as the socket takes it."""
    listener = socket.create_server(("127.0.0.1", 0))
    port_queue.put(listener.getsockname()[1])
    sock, _ = listener.accept()
    request = b""
    while b"\r\n\r\n" not in request:
        request += sock.recv(4096)
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    sock.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    sock.recv(4096)  # the client's subscribe
    out = bytearray()
    for text in frames:
        payload = text.encode()
        size = len(payload)
        header = bytes([0x81, size]) if size < 126 else bytes([0x81, 126]) + size.to_bytes(2, "big")
        out += header + payload
    sock.sendall(out)
    sock.settimeout(60)
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass
    sock.close()


def socket_throughput(n: int) -> None:
    frames = _frames(n)
    ctx = mp.get_context("spawn")
    ports = ctx.Queue()
    proc = ctx.Process(target=_sender, args=(frames, ports), daemon=True)
    proc.start()
    port = ports.get(timeout=30)
    clock = LiveClock()
    store = MarketStateStore(clock, _config())
    client = KalshiWebsocketClient(f"ws://127.0.0.1:{port}/trade-api/ws/v2", None, clock, store, _config())
    client.add_markets(TICKERS)
    client.start()
    while client.stats()["messages"] < 1 + len(TICKERS):
        LIVE.wait(0.001)
    start = LIVE.monotonic()
    while client.stats()["messages"] < len(frames) and LIVE.monotonic() - start < 120:
        LIVE.wait(0.002)
    elapsed = LIVE.monotonic() - start
    stats = client.stats()
    client.stop()
    proc.join(timeout=5)
    print(
        f"  socket path (websocket-client + handler), sender in another process: {n:,} deltas in {elapsed:.2f} s"
        f" = {n / elapsed:,.0f} deltas/s; gaps {stats['gaps']}, malformed {stats['malformed']},"
        f" applied {store.stats()['deltas_applied']:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="quoting loop length per mode")
    parser.add_argument("--markets", type=int, default=10)
    parser.add_argument("--read-interval", type=float, default=0.1)
    parser.add_argument("--order-interval", type=float, default=3.0)
    parser.add_argument("--deltas", type=int, default=200_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    steady_state(args)
    print("throughput of orderbook deltas through the client:")
    handler_throughput(args.deltas)
    socket_throughput(args.deltas)


if __name__ == "__main__":
    main()
