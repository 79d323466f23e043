"""The WebSocket upgrade is authenticated like REST: a signature over ``timestamp + GET + /trade-api/ws/v2``,
checked against the server's auth clock. Anything else is refused with HTTP 401 (unknown paths 404)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from kalshi_mm.api.auth import HEADER_KEY, auth_headers

from .test_ws_support import WS_PATH, SmallExchange, WsClient, signed_headers, throwaway_key


@pytest.fixture(scope="module")
def sx() -> Iterator[SmallExchange]:
    with SmallExchange(n_markets=1) as server:
        yield server


def _status(url: str, headers: dict[str, str]) -> int:
    with pytest.raises(InvalidStatus) as info:
        connect(url, additional_headers=headers, open_timeout=5)
    return info.value.response.status_code


def test_signed_upgrade_is_accepted(sx: SmallExchange) -> None:
    access_key, key = sx.accounts["alice"]
    with connect(sx.ws.url, additional_headers=signed_headers(access_key, key, sx.clock), open_timeout=5) as conn:
        assert WsClient(conn).command("list_subscriptions")[-1] == {"type": "ok", "msg": [], "id": 1001}


def test_query_string_is_not_signed(sx: SmallExchange) -> None:
    access_key, key = sx.accounts["alice"]
    with connect(
        sx.ws.url + "?x=1", additional_headers=signed_headers(access_key, key, sx.clock), open_timeout=5
    ) as conn:
        assert WsClient(conn).command("list_subscriptions")[-1]["type"] == "ok"


def test_bad_upgrades_are_refused(sx: SmallExchange) -> None:
    access_key, key = sx.accounts["alice"]
    now = sx.clock.time_ms()
    assert _status(sx.ws.url, {}) == 401
    assert _status(sx.ws.url, auth_headers("not-a-registered-key", key, now, "GET", WS_PATH)) == 401
    assert _status(sx.ws.url, auth_headers(access_key, throwaway_key(99), now, "GET", WS_PATH)) == 401  # wrong key
    assert _status(sx.ws.url, auth_headers(access_key, key, now, "GET", "/trade-api/v2")) == 401  # REST path signed
    assert _status(sx.ws.url, auth_headers(access_key, key, now, "POST", WS_PATH)) == 401
    assert _status(sx.ws.url, auth_headers(access_key, key, now - 120_000, "GET", WS_PATH)) == 401  # stale
    assert _status(sx.ws.url, {**signed_headers(access_key, key, sx.clock), HEADER_KEY: ""}) == 401
    other = sx.ws.url.replace(WS_PATH, "/trade-api/ws/v1")
    assert _status(other, signed_headers(access_key, key, sx.clock)) == 404
    assert sx.ws.connection_count() == 0
