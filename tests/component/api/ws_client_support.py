"""Helpers for the WebSocket client's component tests (no tests here): a venue with several markets and
accounts on a real EmbeddedExchange, a random order flow through the in-process exchange, book comparison."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.rest_fallback import RestOrderbookFallback
from kalshi_mm.api.websocket import KalshiWebsocketClient
from kalshi_mm.clock import Clock, LiveClock, SimClock
from kalshi_mm.config.credentials import Credentials
from kalshi_mm.config.sections_infra import WebsocketsConfig
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import Event, Market, Series
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.state.store import MarketStateStore
from kalshi_mm.units import ONE_DOLLAR

T0 = 1_795_000_000.0
SERIES = "KXWSC"
EVENT = "KXWSC-26DEC31"
MM = "mm"  # the account the client streams for
TAKERS = ("alice", "bob", "carol")
REAL = LiveClock()  # real time for test deadlines only (the venue runs on its own SimClock)

Levels = tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]


def ws_config(**overrides: Any) -> WebsocketsConfig:
    """Test settings: enabled, fast reconnects, short pings (the real defaults are seconds apart)."""
    values: dict[str, Any] = {
        "enabled": True,
        "reconnect_base_delay_seconds": 0.05,
        "reconnect_max_delay_seconds": 0.5,
        "ping_interval_seconds": 1.0,
        "idle_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return WebsocketsConfig(**values)


@dataclass
class WsVenue:
    """A running exchange with open markets, a funded ``mm`` account with an API key, and taker accounts."""

    server: EmbeddedExchange
    clock: Clock
    tickers: list[str]
    credentials: Credentials
    clients: list[KalshiWebsocketClient] = field(default_factory=list)

    @property
    def exchange(self) -> Exchange:
        return self.server.exchange

    def rest(self, **kw: Any) -> KalshiTradingAPI:
        kw.setdefault("tier", "prime")
        return KalshiTradingAPI(self.server.rest_url, self.credentials, self.clock, **kw)

    def store(self, config: WebsocketsConfig, rest: KalshiTradingAPI | None = None, **kw: Any) -> MarketStateStore:
        fallback = RestOrderbookFallback(rest) if rest is not None else None
        return MarketStateStore(self.clock, config, rest_fallback=fallback, **kw)

    def client(
        self, store: MarketStateStore, config: WebsocketsConfig, rest: KalshiTradingAPI | None = None, **kw: Any
    ) -> KalshiWebsocketClient:
        """A client for the ``mm`` account, stopped at the end of the test."""
        client = KalshiWebsocketClient(
            self.server.ws_url, self.credentials, self.clock, store, config, rest=rest, rng=random.Random(5), **kw
        )
        self.clients.append(client)
        return client

    def admin(self, what: str) -> str:
        return self.server.rest_url.replace("/trade-api/v2", f"/admin/{what}")

    def set_faults(self, **changes: object) -> None:
        response = requests.post(self.admin("faults"), json=changes, timeout=10)
        assert response.status_code == 200, response.text

    def injected(self) -> dict[str, int]:
        return requests.get(self.admin("faults"), timeout=10).json()["injected"]

    def rest_calls(self, user_id: str = MM) -> dict[str, int]:
        """``"METHOD template status" -> count`` of the account's REST requests, as the exchange saw them."""
        return requests.get(self.admin("traffic"), timeout=10).json().get(user_id, {}).get("rest", {})


@contextmanager
def ws_venue(n_markets: int = 4, *, seed: int = 3) -> Iterator[WsVenue]:
    """``n_markets`` open markets, no simulated traders; the clock runs at real pace from a fixed instant."""
    clock = SimClock(start=T0, scale=1.0)
    server = EmbeddedExchange(clock, scenario=None, tier="prime", seed=seed).start()
    venue = None
    try:
        exchange = server.exchange
        exchange.add_series(Series(SERIES, title="WS client tests", category="Economics", categories=("Economics",)))
        exchange.add_event(Event(EVENT, SERIES, title="WS client test event"))
        now = int(clock.time())
        tickers = [f"{EVENT}-T{i}" for i in range(n_markets)]
        for ticker in tickers:
            exchange.add_market(Market(ticker, EVENT, open_ts=now - 60, close_ts=now + 86_400))
        exchange.tick()
        account = server.create_account(MM)
        assert account.private_key is not None
        for user in TAKERS:
            exchange.create_account(user, 10**11)
        venue = WsVenue(server, clock, tickers, Credentials(account.access_key, account.private_key))
        yield venue
    finally:
        for client in venue.clients if venue is not None else ():
            client.stop()
        server.stop()


def paced(rate_per_s: float) -> Callable[[int], None]:
    """A ``pace`` for :func:`random_flow`: at most ``rate_per_s`` operations per real second."""
    start = REAL.monotonic()

    def pace(i: int) -> None:
        due = start + i / rate_per_s
        delay = due - REAL.monotonic()
        if delay > 0:
            threading.Event().wait(delay)

    return pace


def exchange_levels(exchange: Exchange, ticker: str) -> Levels:
    """The exchange's book as (YES bids best first, YES asks best first), like ``OrderBookView.to_levels()``."""
    view = exchange.orderbook(ticker)
    return tuple(reversed(view.yes)), tuple((ONE_DOLLAR - q, size) for q, size in reversed(view.no))


def book_mismatches(store: MarketStateStore, exchange: Exchange, tickers: list[str]) -> list[str]:
    """Tickers whose live store book is missing or differs from the exchange's."""
    bad = []
    for ticker in tickers:
        view = store.get_orderbook(ticker)
        if view is None or view.to_levels() != exchange_levels(exchange, ticker):
            bad.append(ticker)
    return bad


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = REAL.monotonic() + timeout_s
    while not predicate():
        if REAL.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        threading.Event().wait(0.02)


def wait_books_equal(store: MarketStateStore, exchange: Exchange, tickers: list[str], timeout_s: float = 10.0) -> None:
    """Wait until every book in the store equals the exchange's (the exchange must be quiet meanwhile)."""
    last: list[list[str]] = [[]]

    def equal() -> bool:
        last[0] = book_mismatches(store, exchange, tickers)
        return not last[0]

    try:
        wait_until(equal, timeout_s, "books to match the exchange")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; differing: {last[0]}") from None


def fill_ids(store: MarketStateStore) -> list[str]:
    return [f.fill_id for f in store.fills_since(0).fills]
