"""Hostile frames through the real :class:`KalshiWebsocketClient`, on its own thread, over a real socket.

A tiny scripted WebSocket server (a test double of the *server*; the client is the real one) confirms the
subscription, sends a snapshot, then valid deltas with malformed frames in between — as text and as binary
frames, invalid UTF-8 included. The client's thread must survive every example (no exception escapes it), count
each malformed frame once in ``stats()["malformed"]`` and end with exactly the book the valid frames describe.
"""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from kalshi_mm.api.websocket import KalshiWebsocketClient
from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.config.sections_infra import WebsocketsConfig
from kalshi_mm.state.store import MarketStateStore

from .fuzz_support import FuzzStats, fuzz_settings, malformed_frames

pytestmark = pytest.mark.fuzz

REAL = LiveClock()  # test deadlines only
T0 = 1_795_000_000.0
TICKER = "KXFUZZ-26DEC31-T1"
SID = 3
# Sent after the script: once the client has counted it, every earlier frame has been handled completely (one
# thread handles frames in order, and counts each one before handling it).
END = '{"type": "fuzz_script_end"}'
ONLY_BOOKS = {f"subscribe_{c}": False for c in ("ticker", "trades", "user_fills", "positions", "lifecycle")}


class ScriptedServer:
    """Serves one connection at a time: answers the subscribe, then sends ``frames`` (set before connecting)."""

    def __init__(self) -> None:
        self.frames: list[str | bytes] = []
        self.sent = threading.Event()
        self._server = serve(self._handle, "127.0.0.1", 0, max_size=None, compression=None)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/trade-api/ws/v2"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fuzz-ws-server", daemon=True)
        self._thread.start()

    def _handle(self, conn: ServerConnection) -> None:
        try:
            subscribe = json.loads(conn.recv())
            conn.send(
                json.dumps(
                    {"id": subscribe["id"], "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": SID}}
                )
            )
            for frame in [*self.frames, END]:
                # Bytes that look like JSON go out as *text* frames (invalid UTF-8 included): the client skips
                # websocket-client's UTF-8 validation, so it must catch bad text itself. Other bytes: binary frames.
                as_text = isinstance(frame, str) or frame[:1] == b"{"
                conn.send(frame, text=as_text)
            self.sent.set()
            while True:
                conn.recv()
        except ConnectionClosed:
            pass

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


_SERVER: list[ScriptedServer] = []


def _server() -> ScriptedServer:
    """One server for the whole module (a server per example would cost more than the example)."""
    if not _SERVER:
        _SERVER.append(ScriptedServer())
    return _SERVER[0]


def teardown_module() -> None:
    for server in _SERVER:
        server.stop()


def _count(size_e2: int) -> str:
    sign = "-" if size_e2 < 0 else ""
    return f"{sign}{abs(size_e2) // 100}.{abs(size_e2) % 100:02d}"


def _frame(mtype: str, seq: int, msg: dict[str, Any]) -> str:
    return json.dumps({"type": mtype, "sid": SID, "seq": seq, "msg": {"market_ticker": TICKER, **msg}})


def _wait_until(predicate: Any, timeout_s: float = 10.0) -> bool:
    deadline = REAL.monotonic() + timeout_s
    while not predicate():
        if REAL.monotonic() > deadline:
            return False
        REAL.wait(0.005)
    return True


@fuzz_settings(0.1)
@given(data=st.data())
def test_the_client_thread_survives_hostile_frames_and_keeps_the_right_book(
    data: st.DataObject, fuzz_stats: FuzzStats
) -> None:
    bids = data.draw(st.dictionaries(st.integers(1, 49).map(lambda c: c * 100), st.integers(1, 10_000), max_size=5))
    frames: list[str | bytes] = []
    valid = [_frame("orderbook_snapshot", 1, {"yes_dollars_fp": [[f"0.{p:04d}", _count(s)] for p, s in bids.items()]})]
    frames.append(valid[0])
    seq, junk = 1, 0
    for _ in range(data.draw(st.integers(1, 40))):
        if data.draw(st.booleans()):
            frames.append(data.draw(malformed_frames(valid)))
            junk += 1
            continue
        price = data.draw(st.integers(1, 49)) * 100
        if price in bids and data.draw(st.booleans()):
            delta = -data.draw(st.integers(1, bids[price]))
        else:
            delta = data.draw(st.integers(1, 10_000))
        seq += 1
        valid.append(
            _frame(
                "orderbook_delta", seq, {"price_dollars": f"0.{price:04d}", "delta_fp": _count(delta), "side": "yes"}
            )
        )
        frames.append(valid[-1])
        bids[price] = bids.get(price, 0) + delta
        if not bids[price]:
            del bids[price]

    server = _server()
    server.frames, server.sent = frames, threading.Event()
    clock = SimClock(start=T0, scale=1.0)
    config = WebsocketsConfig(enabled=True, reconnect_base_delay_seconds=0.05, **ONLY_BOOKS)
    store = MarketStateStore(clock, config)
    client = KalshiWebsocketClient(server.url, None, clock, store, config, rng=random.Random(1))
    client.add_markets([TICKER])
    client.start()
    try:
        # The subscribed reply, each frame in turn, then END: all but END handled completely.
        assert _wait_until(lambda: server.sent.is_set() and client.stats()["messages"] >= len(frames) + 2)
        stats = client.stats()
        assert client.running and client.healthy and not client.failed
        assert stats["handler_errors"] == 0 and stats["connections"] == 1
        assert stats["malformed"] == junk
        assert stats["gaps"] == stats["duplicates"] == 0
        view = store.get_orderbook(TICKER)
        assert view is not None and view.to_levels() == (tuple(sorted(bids.items(), reverse=True)), ())
    finally:
        client.stop()
    assert not client.running
    fuzz_stats.case("ws client thread: frames", n=len(frames) - junk)
    fuzz_stats.case("ws client thread: frames", rejected=True, n=junk)
