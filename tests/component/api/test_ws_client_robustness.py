"""What a misbehaving server cannot do to the WebSocket client: kill its thread with garbage, leave it on a dead
subscription after a terminal error, or keep it on a silent link; and the thread stops promptly.

The hostile servers here are test doubles of the *server* (a tiny ``websockets`` server, a raw socket); the
client under test is the real one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from kalshi_mm.api.websocket import KalshiWebsocketClient, backoff_delay
from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.config.credentials import Credentials
from kalshi_mm.state.store import MarketStateStore

from .ws_client_support import T0, wait_until, ws_config, ws_venue

REAL = LiveClock()
TICKER = "KXFAKE-26DEC31-T1"
ONLY_BOOKS = {f"subscribe_{c}": False for c in ("ticker", "trades", "user_fills", "positions", "lifecycle")}

GARBAGE: list[str | bytes] = [
    "not json at all",
    b"\x00\xff\xfe binary junk",
    "[1, 2, 3]",
    "{}",
    '{"type": 5}',
    '{"type": "subscribed", "msg": {"channel": 7, "sid": "one"}}',
    '{"type": "error", "msg": {"code": "ten"}}',
    '{"type": "orderbook_snapshot", "sid": "x", "seq": 1, "msg": {}}',
    '{"type": "orderbook_delta", "sid": 1, "seq": 1, "msg": {"market_ticker": "' + TICKER + '", '
    '"price_dollars": "abc", "delta_fp": "1.00", "side": "yes"}}',
    '{"type": "orderbook_delta", "sid": 1, "seq": 1, "msg": {"market_ticker": "' + TICKER + '", '
    '"price_dollars": "1.5000", "delta_fp": "1.00", "side": "maybe"}}',
    "[" * 100_000 + "]" * 100_000,  # nesting deep enough to exhaust the JSON decoder's recursion
    '{"type": "ok", "id": 99, "msg": {"market_tickers": [1, 2]}}',
    '{"type": "communications", "sid": 44, "msg": {}}',
    " " * 200_000 + "{",
]
MALFORMED = len(GARBAGE) - 2  # all but the stray ``ok`` and the unmodelled ``communications`` message


def _snapshot(sid: int, seq: int, yes: list[list[str]], cmd_id: int | None = None) -> str:
    message: dict[str, Any] = {
        "type": "orderbook_snapshot",
        "sid": sid,
        "seq": seq,
        "msg": {"market_ticker": TICKER, "yes_dollars_fp": yes},
    }
    if cmd_id is not None:
        message["id"] = cmd_id
    return json.dumps(message)


def _delta(sid: int, seq: int, price: str, delta: str) -> str:
    return json.dumps(
        {
            "type": "orderbook_delta",
            "sid": sid,
            "seq": seq,
            "msg": {"market_ticker": TICKER, "price_dollars": price, "delta_fp": delta, "side": "yes"},
        }
    )


class FakeServer:
    """A scripted Kalshi look-alike: ``script(conn, commands)`` runs per connection; ``commands`` yields the
    client's commands as dicts. Records every command received."""

    def __init__(self, script: Callable[[ServerConnection, Iterator[dict[str, Any]], int], None]):
        self.script = script
        self.commands: list[dict[str, Any]] = []
        self.connections = 0
        self._server = serve(self._handle, "127.0.0.1", 0, max_size=None, compression=None)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/trade-api/ws/v2"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handle(self, conn: ServerConnection) -> None:
        self.connections += 1
        number = self.connections

        def commands() -> Iterator[dict[str, Any]]:
            while True:
                command = json.loads(conn.recv())
                self.commands.append(command)
                yield command

        try:
            self.script(conn, commands(), number)
            for _ in commands():  # keep reading until the client leaves
                pass
        except ConnectionClosed:
            pass

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


def _client(url: str, store: MarketStateStore, clock: Any, **overrides: Any) -> KalshiWebsocketClient:
    config = ws_config(**{**ONLY_BOOKS, **overrides})
    return KalshiWebsocketClient(url, None, clock, store, config, rng=random.Random(1), snapshot_timeout_s=0.5)


def _store(clock: Any) -> MarketStateStore:
    return MarketStateStore(clock, ws_config())


def _serve_books(conn: ServerConnection, commands: Iterator[dict[str, Any]], sid: int, seq: list[int]) -> None:
    """Answer the book commands: get_snapshot gets the current one-level book (0.40 x 10)."""
    for command in commands:
        if command.get("params", {}).get("action") == "get_snapshot":
            seq[0] += 1
            conn.send(_snapshot(sid, seq[0], [["0.4000", "10.00"]], command["id"]))


def test_garbage_cannot_kill_the_thread() -> None:
    def script(conn: ServerConnection, commands: Iterator[dict[str, Any]], number: int) -> None:
        subscribe = next(commands)
        for frame in GARBAGE:
            conn.send(frame)
        conn.send(
            json.dumps({"id": subscribe["id"], "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}})
        )
        conn.send(_snapshot(1, 1, [["0.4000", "10.00"]]))
        for frame in GARBAGE:
            conn.send(frame)
        conn.send(_delta(77, 1, "0.4100", "5.00"))  # a sid nobody subscribed
        conn.send(_delta(1, 2, "0.3000", "-3.00"))  # a level that does not exist: the book is inconsistent
        seq = [2]
        _serve_books(conn, commands, 1, seq)

    server = FakeServer(script)
    clock = SimClock(start=T0, scale=1.0)
    store = _store(clock)
    client = _client(server.url, store, clock)
    try:
        client.add_markets([TICKER])
        client.start()
        wait_until(lambda: client.stats()["malformed"] == 2 * MALFORMED, what="the garbage")
        wait_until(
            lambda: client.stats()["resyncs"] >= 1 and not client.waiting_snapshots(),
            what="the inconsistent book to be resnapshotted",
        )
        assert store.get_orderbook(TICKER).to_levels() == (((4000, 1000),), ())
        stats = client.stats()
        assert client.running and client.healthy
        assert stats["handler_errors"] == 0 and stats["connections"] == 1
        assert stats["unexpected"] >= 3  # the unknown sid, the unmodelled type (twice)
        assert stats["resyncs"] >= 1  # the inconsistent book was resnapshotted
        assert any(c.get("params", {}).get("action") == "get_snapshot" for c in server.commands)
    finally:
        client.stop()
        server.stop()
    assert not client.running


def test_terminal_errors_resubscribe() -> None:
    """Error 10 ends a subscription: subscribe again. Error 25 (buffer overflow) ends the connection too."""

    def script(conn: ServerConnection, commands: Iterator[dict[str, Any]], number: int) -> None:
        sid = 10 * number + 1
        subscribe = next(commands)
        conn.send(
            json.dumps({"id": subscribe["id"], "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": sid}})
        )
        conn.send(_snapshot(sid, 1, [["0.2000", "1.00"]]))
        if number == 1:
            conn.send(json.dumps({"type": "error", "sid": sid, "msg": {"code": 10, "msg": "Channel error"}}))
            again = next(commands)
            assert again["cmd"] == "subscribe" and again["params"]["channels"] == ["orderbook_delta"]
            conn.send(
                json.dumps(
                    {"id": again["id"], "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": sid + 1}}
                )
            )
            conn.send(_snapshot(sid + 1, 1, [["0.3000", "2.00"]]))
            conn.send(json.dumps({"type": "error", "sid": sid + 1, "msg": {"code": 25, "msg": "overflow"}}))
            conn.close(1008, "subscription buffer overflow")
            return
        conn.send(_delta(sid, 2, "0.2000", "4.00"))

    server = FakeServer(script)
    clock = SimClock(start=T0, scale=1.0)
    store = _store(clock)
    client = _client(server.url, store, clock)
    try:
        client.add_markets([TICKER])
        client.start()
        wait_until(lambda: server.connections == 2, what="a new connection after error 25")
        wait_until(
            lambda: (
                (store.get_orderbook(TICKER) or None) is not None
                and store.get_orderbook(TICKER).to_levels() == (((2000, 500),), ())
            ),
            what="the new book",
        )
        stats = client.stats()
        assert stats["resubscribes"] >= 1 and stats["reconnects"] == 1 and stats["errors"] == 2
    finally:
        client.stop()
        server.stop()


@contextmanager
def silent_server() -> Iterator[tuple[str, list[int]]]:
    """Completes the WebSocket handshake, then never sends a byte (no pongs either): a dead link."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []
    stop = threading.Event()

    def run() -> None:
        listener.settimeout(0.1)
        held = []
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
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
            held.append(sock)  # read nothing, answer nothing
        for sock in held:
            sock.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}/trade-api/ws/v2", accepted
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_silent_link_is_dropped_after_the_idle_timeout() -> None:
    clock = SimClock(start=T0, scale=1.0)
    store = _store(clock)
    with silent_server() as (url, accepted):
        client = _client(url, store, clock, ping_interval_seconds=0.1, idle_timeout_seconds=0.4)
        try:
            client.add_markets([TICKER])
            client.start()
            wait_until(lambda: client.stats()["idle_timeouts"] >= 2, timeout_s=10, what="idle timeouts")
            stats = client.stats()
            assert stats["connections"] >= 2 and len(accepted) >= 2 and stats["reconnects"] >= 1
            assert stats["pings_sent"] >= 2 and stats["messages"] == 0
        finally:
            client.stop()


def test_stop_is_prompt_and_retries_are_bounded() -> None:
    clock = SimClock(start=T0, scale=1.0)
    closed = socket.create_server(("127.0.0.1", 0))
    url = f"ws://127.0.0.1:{closed.getsockname()[1]}/trade-api/ws/v2"
    closed.close()  # nothing listens: every connect is refused

    waiting = _client(url, _store(clock), clock, reconnect_base_delay_seconds=20, reconnect_max_delay_seconds=40)
    waiting.start()
    wait_until(lambda: waiting.stats()["connect_failures"] >= 1, what="the first failure")
    started = REAL.monotonic()
    waiting.stop()  # in the middle of a ≥ 10 s backoff wait
    assert REAL.monotonic() - started < 1.0 and not waiting.running

    giving_up = _client(url, _store(clock), clock, reconnect_max_retries=2)
    giving_up.start()
    wait_until(lambda: not giving_up.running, what="the thread to give up")
    assert giving_up.failed and giving_up.stats()["connect_failures"] == 3


def test_a_refused_handshake_is_retried_with_backoff() -> None:
    """A key the exchange does not know gets 401 on the upgrade: counted, retried, never healthy."""
    with ws_venue(n_markets=1) as venue:
        stranger = Credentials("not-a-registered-key", rsa.generate_private_key(public_exponent=65537, key_size=2048))
        config = ws_config()
        store = venue.store(config)
        client = KalshiWebsocketClient(venue.server.ws_url, stranger, venue.clock, store, config)
        venue.clients.append(client)
        client.add_markets(venue.tickers)
        client.start()
        wait_until(lambda: client.stats()["connect_failures"] >= 3, what="refused handshakes")
        assert not client.healthy and not store.ws_healthy and client.stats()["connections"] == 0


def test_backoff_grows_to_the_cap_with_jitter() -> None:
    rng = random.Random(0)
    for failures in range(12):
        step = min(5.0, 0.5 * 2**failures)
        delays = [backoff_delay(failures, 0.5, 5.0, rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step / 4  # jittered, not a fixed schedule
