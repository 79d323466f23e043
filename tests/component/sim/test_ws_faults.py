"""Issue-4 acceptance: a plain WebSocket client (``websocket-client``, no kalshi_mm client code) observes each
injected WebSocket fault of the embedded exchange, and each is counted in ``GET /admin/faults``."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import websocket

from kalshi_mm.api.auth import auth_headers
from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.sim.model import Event, Market, OrderRequest, Series, Side
from kalshi_mm.sim.server import EmbeddedExchange, SimAccount

T0 = 1_795_000_000.0
TICKER = "KXFLT-26DEC31-T50"
WS_PATH = "/trade-api/ws/v2"
REAL = LiveClock()


@pytest.fixture
def venue() -> Iterator[tuple[EmbeddedExchange, SimAccount]]:
    clock = SimClock(start=T0)
    server = EmbeddedExchange(clock, scenario=None, seed=5).start()
    try:
        exchange = server.exchange
        exchange.add_series(Series("KXFLT", title="faults"))
        exchange.add_event(Event("KXFLT-26DEC31", "KXFLT"))
        exchange.add_market(Market(TICKER, "KXFLT-26DEC31", open_ts=int(T0) - 60, close_ts=int(T0) + 86_400))
        exchange.tick()
        exchange.create_account("maker", 10**10)
        yield server, server.create_account("watcher")
    finally:
        server.stop()


def _admin(server: EmbeddedExchange) -> str:
    return server.rest_url.replace("/trade-api/v2", "/admin/faults")


def set_faults(server: EmbeddedExchange, **changes: object) -> None:
    assert requests.post(_admin(server), json=changes, timeout=10).status_code == 200


def injected(server: EmbeddedExchange) -> dict[str, int]:
    return requests.get(_admin(server), timeout=10).json()["injected"]


def connect(server: EmbeddedExchange, account: SimAccount) -> websocket.WebSocket:
    assert account.private_key is not None
    headers = auth_headers(account.access_key, account.private_key, server.clock.time_ms(), "GET", WS_PATH)
    return websocket.create_connection(server.ws_url, header=headers, timeout=5)


def subscribe_book(ws: websocket.WebSocket) -> None:
    ws.send(
        json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_ticker": TICKER}})
    )
    assert json.loads(ws.recv())["type"] == "subscribed"
    assert json.loads(ws.recv())["type"] == "orderbook_snapshot"  # seq 1


def churn(server: EmbeddedExchange, n: int) -> None:
    """``n`` book changes: place and cancel resting bids (one delta each)."""
    for i in range(n):
        price = 3000 + (i % 20) * 100
        order = server.exchange.place_order("maker", OrderRequest(TICKER, Side.BID, price, 100)).order
        if i % 2:
            server.exchange.cancel_order("maker", order.order_id)


def seqs_until_marker(ws: websocket.WebSocket) -> list[int]:
    """``seq`` of every sequenced message up to the reply to a list_subscriptions marker (sent with no faults)."""
    ws.send(json.dumps({"id": 99, "cmd": "list_subscriptions"}))
    seqs = []
    while (message := json.loads(ws.recv())).get("id") != 99:
        seqs.append(message["seq"])
    return seqs


def _faulty_stream(server: EmbeddedExchange, account: SimAccount, **faults: Any) -> list[int]:
    ws = connect(server, account)
    try:
        subscribe_book(ws)
        set_faults(server, **faults)
        churn(server, 300)
        # The server sends from its own loop: under load the churned messages may still be queued. Faults apply at
        # send time, so wait until they have started to bite before turning them off again.
        counter = {
            "ws_drop_rate": "ws_dropped",
            "ws_duplicate_rate": "ws_duplicated",
            "ws_reorder_rate": "ws_reordered",
        }
        deadline = REAL.monotonic() + 10.0
        while REAL.monotonic() < deadline and not all(injected(server)[counter[name]] > 0 for name in faults):
            REAL.wait(0.02)
        set_faults(server, **dict.fromkeys(faults, 0.0))
        churn(server, 4)  # fault-free messages after the last faulty one: a drop at the very end shows too
        return [1, *seqs_until_marker(ws)]
    finally:
        ws.close()


def test_dropped_messages_leave_gaps_in_seq(venue: tuple[EmbeddedExchange, SimAccount]) -> None:
    server, account = venue
    seqs = _faulty_stream(server, account, ws_drop_rate=0.2)
    gaps = [b for a, b in itertools.pairwise(seqs) if b > a + 1]
    assert gaps, "a dropped message shows as a jump in seq"
    assert injected(server)["ws_dropped"] == max(seqs) - len(seqs) > 0


def test_duplicated_messages_repeat_a_seq(venue: tuple[EmbeddedExchange, SimAccount]) -> None:
    server, account = venue
    seqs = _faulty_stream(server, account, ws_duplicate_rate=0.2)
    repeats = [b for a, b in itertools.pairwise(seqs) if b == a]
    assert repeats, "a duplicated message carries the seq of the one before it"
    assert injected(server)["ws_duplicated"] == len(seqs) - len(set(seqs)) > 0


def test_reordered_messages_go_back_in_seq(venue: tuple[EmbeddedExchange, SimAccount]) -> None:
    server, account = venue
    seqs = _faulty_stream(server, account, ws_reorder_rate=0.2)
    late = [s for i, s in enumerate(seqs) if i and s < max(seqs[:i])]
    assert late, "a reordered message arrives after one with a higher seq"
    assert sorted(seqs) == list(range(1, len(seqs) + 1))  # reordering loses and repeats nothing
    assert injected(server)["ws_reordered"] == len(late) > 0


def test_scheduled_disconnects_close_the_connection(venue: tuple[EmbeddedExchange, SimAccount]) -> None:
    server, account = venue
    set_faults(server, ws_disconnect_every_s=0.5)
    for _ in range(2):
        ws = connect(server, account)
        started = REAL.monotonic()
        try:
            subscribe_book(ws)
            opcode, frame = ws.recv_data_frame(control_frame=True)
            while opcode != websocket.ABNF.OPCODE_CLOSE:  # pings may come first
                opcode, frame = ws.recv_data_frame(control_frame=True)
            assert int.from_bytes(frame.data[:2], "big") == 1000
            assert 0.3 < REAL.monotonic() - started < 5
        finally:
            ws.close()
    assert injected(server)["ws_disconnect"] == 2
