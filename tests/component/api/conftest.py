"""Fixtures for the REST client's component tests: a real EmbeddedExchange on 127.0.0.1 with markets added
directly (no simulated traders), real KalshiTradingAPI clients, and the exchange's admin endpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.clock import Clock, SimClock
from kalshi_mm.config.credentials import Credentials
from kalshi_mm.sim.model import Event, Market, Series
from kalshi_mm.sim.server import EmbeddedExchange, SimAccount
from kalshi_mm.testing.conformance import validate_rest_request, validate_rest_response

SERIES = "KXAPI"
EVENT = "KXAPI-26DEC31"
TICKER = "KXAPI-26DEC31-T50"
OTHER_TICKER = "KXAPI-26DEC31-T60"


@dataclass
class Venue:
    """A running exchange and the clock both sides share."""

    server: EmbeddedExchange
    clock: Clock

    @property
    def exchange(self) -> Any:
        return self.server.exchange

    def client(self, user_id: str | None, **kw: Any) -> KalshiTradingAPI:
        """A client for a fresh funded account (None: unauthenticated)."""
        credentials = None
        if user_id is not None:
            credentials = credentials_of(self.server.create_account(user_id))
        kw.setdefault("tier", "prime")
        return KalshiTradingAPI(self.server.rest_url, credentials, self.clock, **kw)

    def admin(self, what: str) -> str:
        return self.server.rest_url.replace("/trade-api/v2", f"/admin/{what}")

    def set_faults(self, **changes: object) -> None:
        response = requests.post(self.admin("faults"), json=changes, timeout=10)
        assert response.status_code == 200, response.text

    def injected(self) -> dict[str, int]:
        return requests.get(self.admin("faults"), timeout=10).json()["injected"]

    def traffic(self, user_id: str) -> dict[str, Any]:
        return requests.get(self.admin("traffic"), timeout=10).json().get(user_id, {})


def credentials_of(account: SimAccount) -> Credentials:
    assert account.private_key is not None
    return Credentials(account.access_key, account.private_key)


def list_markets(
    server: EmbeddedExchange,
    clock: Clock,
    tickers: list[str],
    *,
    series: str = SERIES,
    event: str = EVENT,
    category: str = "Economics",
) -> None:
    """Add a series, an event and open markets directly to the exchange, then list them with a tick."""
    exchange = server.exchange
    if series not in {s.ticker for s in exchange.series_list()}:
        exchange.add_series(Series(series, title="API tests", category=category, categories=(category,)))
    if event not in {e.event_ticker for e in exchange.events()}:
        exchange.add_event(Event(event, series, title="API test event"))
    now = int(clock.time())
    for ticker in tickers:
        exchange.add_market(Market(ticker, event, open_ts=now - 60, close_ts=now + 86_400))
    exchange.tick()


def start_venue(clock: Clock, *, tier: str = "prime", seed: int = 3) -> EmbeddedExchange:
    server = EmbeddedExchange(clock, scenario=None, tier=tier, seed=seed).start()
    list_markets(server, clock, [TICKER, OTHER_TICKER])
    return server


@pytest.fixture
def sim_clock() -> SimClock:
    # Real-time pace from a fixed instant: the client's waits (rate limiter, backoff) pass on their own, and a
    # test can still jump ahead with advance().
    return SimClock(start=1_795_000_000.0, scale=1.0)


@pytest.fixture
def venue(sim_clock: SimClock) -> Iterator[Venue]:
    """Two open markets, no simulated traders, prime tier, one clock shared by client and server."""
    server = start_venue(sim_clock)
    try:
        yield Venue(server, sim_clock)
    finally:
        server.stop()


def conform(api: KalshiTradingAPI) -> list[tuple[str, str, int]]:
    """Check every request the client sends and every response it gets against Kalshi's OpenAPI subset (a
    response hook on the client's session: observation, not a stub); returns the log of (method, path, status)."""
    seen: list[tuple[str, str, int]] = []

    def check(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        method, url = request.method or "", request.url or ""
        raw = request.body
        validate_rest_request(method, url, json.loads(raw) if raw else None)
        validate_rest_response(method, url, response.status_code, response.json() if response.content else None)
        seen.append((method, urlsplit(url).path, response.status_code))

    api._http.session.hooks["response"].append(check)
    return seen
