"""Shared helpers for the WebSocket tests (no tests here): a signed client, a book replica, a small exchange."""

from __future__ import annotations

import functools
import json
import socket
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.sync.client import ClientConnection, connect

from kalshi_mm.api.auth import auth_headers
from kalshi_mm.clock import Clock, SimClock
from kalshi_mm.sim.auth import KeyRegistry
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import Event, Market, Series
from kalshi_mm.sim.ws import WsServer
from kalshi_mm.testing.conformance import SchemaViolationError, validate_ws_message
from kalshi_mm.units import ONE_DOLLAR, parse_count, parse_price, parse_signed_count

WS_PATH = "/trade-api/ws/v2"
TICKER_FIELDS = ("market_ticker", "ticker", "market_tickers")
T0 = 1_795_000_000.0
SEQUENCED_TYPES = {"orderbook_snapshot", "orderbook_delta", "trade", "market_lifecycle_v2", "order_group_updates"}


def validate(message: dict[str, Any]) -> None:
    """Validate against the AsyncAPI subset, ignoring the spec's own ticker-pattern bug (README: real tickers
    contain '.')."""
    try:
        validate_ws_message(message)
    except SchemaViolationError as exc:
        real = [v for v in exc.violations if not (v.keyword == "pattern" and any(f in v.path for f in TICKER_FIELDS))]
        if real:
            raise SchemaViolationError(exc.subject, real) from None


class WsClient:
    """A signed ``websockets`` sync client that validates every frame both ways and checks ``seq`` per sid."""

    def __init__(self, conn: ClientConnection, *, validate: bool = True):
        self.conn = conn
        self.validate = validate
        self.received: list[dict[str, Any]] = []
        self.last_seq: dict[int, int] = {}
        self._next_id = 1000
        self.last_id = 0

    def send(self, command: dict[str, Any], *, check: bool = True) -> None:
        if check:
            validate(command)
        self.conn.send(json.dumps(command))

    def send_raw(self, text: str) -> None:
        self.conn.send(text)

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        message = json.loads(self.conn.recv(timeout=timeout))
        if self.validate:
            validate(message)
        if message["type"] in SEQUENCED_TYPES:
            sid, seq = message["sid"], message["seq"]
            expected = self.last_seq.get(sid, 0) + 1
            assert seq == expected, f"sid {sid}: seq {seq} after {expected - 1}: {message}"
            self.last_seq[sid] = seq
        self.received.append(message)
        return message

    def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> list[dict[str, Any]]:
        """Messages up to and including the first one matching ``predicate``."""
        out = []
        while True:
            message = self.recv(timeout)
            out.append(message)
            if predicate(message):
                return out

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def command(
        self, cmd: str, params: dict[str, Any] | None = None, *, cmd_id: int | None = None, check: bool = True
    ) -> list[dict[str, Any]]:
        """Send a command and return every message that follows it (initial snapshots included) up to the
        reply to a ``list_subscriptions`` marker sent right after it (the marker's reply is left out)."""
        self.last_id = cmd_id if cmd_id is not None else self._new_id()
        command: dict[str, Any] = {"id": self.last_id, "cmd": cmd}
        if params is not None:
            command["params"] = params
        self.send(command, check=check)
        return self.sync()

    def reply(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The first message answering the last command (carrying its id)."""
        return next(m for m in messages if m.get("id") == self.last_id)

    def sync(self) -> list[dict[str, Any]]:
        """Everything received until the reply to a ``list_subscriptions`` marker. The server applies every
        pending exchange event before it answers a command, so this includes all messages for events so far."""
        marker = self._new_id()
        self.send({"id": marker, "cmd": "list_subscriptions"})
        return self.until(lambda m: m.get("id") == marker and m["type"] == "ok")[:-1]


def signed_headers(access_key: str, key: rsa.RSAPrivateKey, clock: Clock) -> dict[str, str]:
    return auth_headers(access_key, key, clock.time_ms(), "GET", WS_PATH)


@contextmanager
def ws_client(
    url: str, access_key: str, key: rsa.RSAPrivateKey, clock: Clock, *, validate: bool = True, **kwargs: Any
) -> Iterator[WsClient]:
    """``validate=False`` skips schema checks of received frames (they cost ~0.5 ms each); seq is still checked."""
    with connect(url, additional_headers=signed_headers(access_key, key, clock), open_timeout=5, **kwargs) as conn:
        yield WsClient(conn, validate=validate)


def small_socket(host: str, port: int, rcvbuf: int = 4096) -> socket.socket:
    """A connected socket with a tiny receive buffer, so a client that stops reading is felt at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((host, port))
    return sock


class BookReplica:
    """A client's order books rebuilt from ``orderbook_snapshot`` + ``orderbook_delta`` messages of one sid:
    {ticker: {(side, price_e4): size_e2}} in the wire's pricing."""

    def __init__(self, sid: int):
        self.sid = sid
        self.books: dict[str, dict[tuple[str, int], int]] = defaultdict(dict)

    def apply(self, message: dict[str, Any]) -> None:
        if message.get("sid") != self.sid:
            return
        body = message["msg"]
        if message["type"] == "orderbook_snapshot":
            book = self.books[body["market_ticker"]] = {}
            for side in ("yes", "no"):
                for price, size in body.get(f"{side}_dollars_fp", []):
                    book[(side, parse_price(price))] = parse_count(size)
        elif message["type"] == "orderbook_delta":
            book = self.books[body["market_ticker"]]
            key = (body["side"], parse_price(body["price_dollars"]))
            size = book.get(key, 0) + parse_signed_count(body["delta_fp"])
            assert size >= 0, (key, size, message)
            if size:
                book[key] = size
            else:
                book.pop(key)


def expected_book(exchange: Exchange, ticker: str, use_yes_price: bool) -> dict[tuple[str, int], int]:
    """The exchange's bids-only book in the wire's pricing."""
    view = exchange.orderbook(ticker)
    book = {("yes", p): size for p, size in view.yes}
    book.update({("no", ONE_DOLLAR - q if use_yes_price else q): size for q, size in view.no})
    return book


@functools.cache
def throwaway_key(index: int) -> rsa.RSAPrivateKey:
    """Throwaway RSA keys, generated once per process (key generation dominates a small test otherwise)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class SmallExchange:
    """An exchange with a few open markets and funded accounts, and its WebSocket server (no REST)."""

    def __init__(self, n_markets: int = 3, users: tuple[str, ...] = ("alice", "bob", "carol"), **ws_kwargs: Any):
        self.clock = SimClock(start=T0)
        self.exchange = Exchange(self.clock, seed=11)
        self.exchange.add_series(Series("KXWS", title="WebSocket test"))
        self.exchange.add_event(Event("KXWS-26DEC31", "KXWS"))
        self.tickers = [f"KXWS-26DEC31-T{i}.5" for i in range(n_markets)]
        for ticker in self.tickers:
            self.exchange.add_market(
                Market(
                    ticker,
                    "KXWS-26DEC31",
                    open_ts=int(T0) - 60,
                    close_ts=int(T0) + 86_400,
                    title=f"Test market {ticker}",
                    settlement_timer_seconds=60,
                )
            )
        self.exchange.tick()
        self.keys = KeyRegistry()
        self.accounts: dict[str, tuple[str, rsa.RSAPrivateKey]] = {}
        for i, user in enumerate(users):
            self.exchange.create_account(user, 10**10)
            key = throwaway_key(i)
            self.accounts[user] = (self.keys.register(user, key.public_key()), key)
        self.ws = WsServer(self.exchange, self.keys, auth_clock=self.clock, **ws_kwargs)

    def __enter__(self) -> SmallExchange:
        self.ws.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ws.stop()

    def client(self, user: str, **kwargs: Any) -> Any:
        access_key, key = self.accounts[user]
        return ws_client(self.ws.url, access_key, key, self.clock, **kwargs)
