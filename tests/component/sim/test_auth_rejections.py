"""The embedded exchange's authentication edges that test_rest_auth_and_limits.py and test_ws_auth.py leave open:
the timestamp window in both directions and at its edge, malformed timestamps and signatures (which must be a
401, never a 500), partial headers, and the daemon's real clients arriving with a clock outside the window."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from kalshi_mm.api.auth import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, auth_headers
from kalshi_mm.api.errors import AuthenticationError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.websocket import KalshiWebsocketClient
from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.config.credentials import Credentials
from kalshi_mm.config.sections_infra import WebsocketsConfig
from kalshi_mm.sim.auth import DEFAULT_MAX_SKEW_MS
from kalshi_mm.sim.server import EmbeddedExchange, SimAccount
from kalshi_mm.state.store import MarketStateStore

T0 = 1_795_000_000.0
BALANCE = "/portfolio/balance"
REST_SIGNED = "/trade-api/v2" + BALANCE
WS_SIGNED = "/trade-api/ws/v2"
REAL = LiveClock()


@pytest.fixture(scope="module")
def venue() -> Iterator[tuple[EmbeddedExchange, SimAccount, SimClock]]:
    clock = SimClock(start=T0)  # manual: the exchange's notion of "now" stays put while the test runs
    server = EmbeddedExchange(clock, scenario=None).start()
    account = server.create_account("alice")
    try:
        yield server, account, clock
    finally:
        server.stop()


def _rest_status(server: EmbeddedExchange, headers: dict[str, str]) -> int:
    # HTTP headers are Latin-1: send non-ASCII values as such, as a hostile client could.
    raw = {k: v.encode("latin-1") for k, v in headers.items()}
    return requests.get(server.rest_url + BALANCE, headers=raw, timeout=10).status_code  # type: ignore[arg-type]


def _ws_status(server: EmbeddedExchange, headers: dict[str, str]) -> int:
    try:
        with connect(server.ws_url, additional_headers=headers, open_timeout=5):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def _signed(account: SimAccount, ts_ms: int, path: str) -> dict[str, str]:
    assert account.private_key is not None
    return auth_headers(account.access_key, account.private_key, ts_ms, "GET", path)


@pytest.mark.parametrize(
    ("path", "status_of"), [(REST_SIGNED, _rest_status), (WS_SIGNED, _ws_status)], ids=["rest", "ws"]
)
def test_the_timestamp_window_is_enforced_both_ways_and_at_its_edge(
    venue: tuple[EmbeddedExchange, SimAccount, SimClock], path: str, status_of: object
) -> None:
    server, account, clock = venue
    now = clock.time_ms()
    ok = 200 if path == REST_SIGNED else 101
    inside, outside = DEFAULT_MAX_SKEW_MS - 1_000, DEFAULT_MAX_SKEW_MS + 1_000
    for offset, expected in ((0, ok), (-inside, ok), (inside, ok), (-outside, 401), (outside, 401), (86_400_000, 401)):
        assert status_of(server, _signed(account, now + offset, path)) == expected, offset  # type: ignore[operator]


@pytest.mark.parametrize(
    ("path", "status_of"), [(REST_SIGNED, _rest_status), (WS_SIGNED, _ws_status)], ids=["rest", "ws"]
)
def test_malformed_headers_are_401_never_500(
    venue: tuple[EmbeddedExchange, SimAccount, SimClock], path: str, status_of: object
) -> None:
    server, account, clock = venue
    good = _signed(account, clock.time_ms(), path)
    cases = {
        "superscript digit timestamp": {**good, HEADER_TIMESTAMP: "\u00b2"},  # isdigit() but not int()-able
        "5000-digit timestamp": {**good, HEADER_TIMESTAMP: "9" * 5000},  # past int()'s digit limit
        "negative timestamp": {**good, HEADER_TIMESTAMP: "-" + good[HEADER_TIMESTAMP]},
        "seconds, not milliseconds": {**good, HEADER_TIMESTAMP: str(int(T0))},
        "fractional timestamp": {**good, HEADER_TIMESTAMP: good[HEADER_TIMESTAMP] + ".5"},
        "signature not base64": {**good, HEADER_SIGNATURE: "!!not base64!!"},
        "signature truncated": {**good, HEADER_SIGNATURE: good[HEADER_SIGNATURE][:100]},
        "no signature": {k: v for k, v in good.items() if k != HEADER_SIGNATURE},
        "no timestamp": {k: v for k, v in good.items() if k != HEADER_TIMESTAMP},
        "no key": {k: v for k, v in good.items() if k != HEADER_KEY},
    }
    statuses = {name: status_of(server, headers) for name, headers in cases.items()}  # type: ignore[operator]
    assert statuses == dict.fromkeys(cases, 401)


def test_the_real_clients_with_a_clock_outside_the_window_are_refused(
    venue: tuple[EmbeddedExchange, SimAccount, SimClock],
) -> None:
    server, account, clock = venue
    assert account.private_key is not None
    credentials = Credentials(account.access_key, account.private_key)
    # Two minutes slow (at real pace, so the WebSocket client's backoff waits pass): every signature is stale.
    skewed = SimClock(start=T0 - 120, scale=1.0)
    with KalshiTradingAPI(server.rest_url, credentials, skewed, max_retries=2) as api:
        with pytest.raises(AuthenticationError) as info:
            api.get_balance()
        assert info.value.status == 401 and "timestamp" in str(info.value)
        assert api.stats().get("retries", 0) == 0  # fatal: never retried
    with KalshiTradingAPI(server.rest_url, credentials, clock) as api:
        assert api.get_balance().balance_e4 > 0  # the same key with a good clock is accepted

    config = WebsocketsConfig(enabled=True, reconnect_base_delay_seconds=0.05, reconnect_max_retries=2)
    store = MarketStateStore(skewed, config)
    client = KalshiWebsocketClient(server.ws_url, credentials, skewed, store, config, rng=random.Random(1))
    client.start()
    try:
        deadline = REAL.monotonic() + 10
        while client.running and REAL.monotonic() < deadline:
            REAL.wait(0.02)
        stats = client.stats()
        assert client.failed and stats["connections"] == 0 and stats["connect_failures"] == 3
    finally:
        client.stop()
