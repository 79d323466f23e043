"""Connection health: a slow subscriber is cut off (error 25 / disconnect) without slowing the exchange; stop() is
prompt even with a stalled client; injected faults reach the streams (drops show as seq gaps, scheduled
disconnects close 1000); idle connections are pinged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import websocket
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.sync.client import ClientConnection, connect

from kalshi_mm.clock import LiveClock
from kalshi_mm.sim.faults import FaultConfig, FaultInjector, TrafficStats
from kalshi_mm.sim.model import OrderRequest, Side

from .test_ws_support import BookReplica, SmallExchange, expected_book, signed_headers, small_socket

CLOCK = LiveClock()  # real time: these tests measure how long things take


@contextmanager
def _stalled_client(sx: SmallExchange, user: str) -> Iterator[ClientConnection]:
    """A subscriber to every book (both pricings) and its own orders that stops reading after subscribing: a
    tiny socket buffer and a one-frame client queue make the server feel it at once."""
    access_key, key = sx.accounts[user]
    with connect(
        sx.ws.url,
        sock=small_socket("127.0.0.1", sx.ws.port),
        additional_headers=signed_headers(access_key, key, sx.clock),
        max_queue=1,
        open_timeout=5,
        close_timeout=0.2,
    ) as conn:
        for n, extra in enumerate(({}, {"use_yes_price": True}), start=1):
            conn.send(
                json.dumps(
                    {
                        "id": n,
                        "cmd": "subscribe",
                        "params": {"channels": ["orderbook_delta"], "market_tickers": sx.tickers, **extra},
                    }
                )
            )
        conn.send(json.dumps({"id": 3, "cmd": "subscribe", "params": {"channels": ["user_orders", "ticker", "trade"]}}))
        yield conn


def _churn(sx: SmallExchange, user: str, i: int) -> float:
    """Place and cancel one order; returns how long the two calls took (s)."""
    ticker = sx.tickers[i % len(sx.tickers)]
    start = CLOCK.monotonic()
    order = sx.exchange.place_order(user, OrderRequest(ticker, Side.BID, 1000 + 100 * (i % 40), 100)).order
    sx.exchange.cancel_order(user, order.order_id)
    return CLOCK.monotonic() - start


def _drain(conn: ClientConnection, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Read until the server closes the connection."""
    messages = []
    with pytest.raises(ConnectionClosed):
        while True:
            messages.append(json.loads(conn.recv(timeout=timeout)))
    return messages


def test_slow_subscriber_is_cut_off_and_the_exchange_never_waits() -> None:
    with SmallExchange(n_markets=3, max_pending=1_000) as sx, sx.client("bob", max_queue=None, validate=False) as fast:
        subscribed = fast.command("subscribe", {"channels": ["orderbook_delta"], "market_tickers": sx.tickers})
        sid = subscribed[0]["msg"]["sid"]
        with _stalled_client(sx, "alice") as slow:
            durations: list[float] = []
            deadline = CLOCK.monotonic() + 10
            while sx.ws.connection_count() > 1 and CLOCK.monotonic() < deadline:
                durations.append(_churn(sx, "alice", len(durations)))
                if len(durations) % 50 == 0:
                    CLOCK.wait(0.002)  # a busy but not CPU-bound exchange: thousands of book changes a second
            assert sx.ws.connection_count() == 1, "the stalled subscriber should have been disconnected"
            durations.sort()
            # The listener only enqueues: order entry stays fast while a subscriber is stalled.
            assert durations[len(durations) // 2] < 0.005 and durations[-1] < 0.5, durations[-5:]

            left = _drain(slow)
            overflow = [m for m in left if m["type"] == "error"]
            assert all(m["msg"]["code"] == 25 for m in overflow)
            assert len(left) < len(durations) * 8  # it did not get the whole stream
        # The healthy subscriber on the same server saw everything, in order.
        replica = BookReplica(sid)
        for message in fast.received + fast.sync():
            replica.apply(message)
        for ticker in sx.tickers:
            assert replica.books[ticker] == expected_book(sx.exchange, ticker, use_yes_price=False)


def test_stop_is_prompt_with_a_stalled_client() -> None:
    sx = SmallExchange(n_markets=3)
    sx.ws.start()
    try:
        with sx.client("bob") as normal, _stalled_client(sx, "alice"):
            normal.command("subscribe", {"channels": ["trade"]})
            for i in range(300):
                _churn(sx, "alice", i)
            start = CLOCK.monotonic()
            sx.ws.stop()
            assert CLOCK.monotonic() - start < 3.0
            with pytest.raises(ConnectionClosedOK) as info:
                normal.conn.recv(timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    finally:
        sx.ws.stop()  # idempotent


def test_injected_drops_show_as_seq_gaps_and_traffic_is_counted() -> None:
    traffic = TrafficStats()
    faults = FaultInjector(seed=3, traffic=traffic)
    with SmallExchange(n_markets=1, faults=faults) as sx, sx.client("alice", max_queue=None) as ws:
        ticker = sx.tickers[0]
        ws.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": ticker})
        faults.update({"ws_drop_rate": 0.3})
        for i in range(200):
            _churn(sx, "bob", i)
        faults.update({"ws_drop_rate": 0.0})
        ws.send({"id": 5, "cmd": "list_subscriptions"})
        seqs = []
        while (message := json.loads(ws.conn.recv(timeout=5))).get("id") != 5:
            seqs.append(message["seq"])
        assert seqs == sorted(seqs) and len(seqs) < seqs[-1], "drops must leave gaps in seq"
        assert faults.counts()["ws_dropped"] == seqs[-1] - 1 - len(seqs)  # seq 1 was the snapshot
        counted = traffic.snapshot()["alice"]["ws_messages"]["orderbook_delta"]
        assert counted == len(seqs) + 1  # + the snapshot


def test_scheduled_disconnect_closes_normally() -> None:
    faults = FaultInjector(FaultConfig(ws_disconnect_every_s=0.3))
    with SmallExchange(n_markets=1, faults=faults) as sx, sx.client("alice") as ws:
        start = CLOCK.monotonic()
        with pytest.raises(ConnectionClosedOK) as info:
            ws.conn.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1000
        assert 0.2 < CLOCK.monotonic() - start < 3
        assert faults.counts()["ws_disconnect"] == 1


def test_idle_connections_are_pinged() -> None:
    with SmallExchange(n_markets=1, ping_interval_s=0.1) as sx:
        access_key, key = sx.accounts["alice"]
        headers = signed_headers(access_key, key, sx.clock)
        conn = websocket.create_connection(sx.ws.url, header=[f"{k}: {v}" for k, v in headers.items()], timeout=5)
        try:
            opcode, _ = conn.recv_data(control_frame=True)
            assert opcode == websocket.ABNF.OPCODE_PING
        finally:
            conn.close()
