"""Kalshi authentication and token-bucket rate limiting on the embedded exchange's REST server."""

from __future__ import annotations

import base64

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_mm.api.auth import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, auth_headers
from kalshi_mm.clock import SimClock
from kalshi_mm.sim.server import EmbeddedExchange

BALANCE = "/portfolio/balance"


def _get(embedded: EmbeddedExchange, path: str, headers: dict[str, str], **kw: object) -> requests.Response:
    return requests.get(embedded.rest_url + path, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]


def test_signed_request_passes_and_tampering_gets_401(embedded: EmbeddedExchange, sim_clock: SimClock) -> None:
    account = embedded.create_account("alice")
    assert account.private_key is not None
    now = sim_clock.time_ms()
    good = auth_headers(account.access_key, account.private_key, now, "GET", "/trade-api/v2" + BALANCE)
    ok = _get(embedded, BALANCE, good, params={"subaccount": 0})  # the query string is not signed
    assert ok.status_code == 200 and ok.json()["balance_dollars"] == "10000.0000"

    cases = {
        "method": auth_headers(account.access_key, account.private_key, now, "POST", "/trade-api/v2" + BALANCE),
        "path": auth_headers(account.access_key, account.private_key, now, "GET", "/trade-api/v2/portfolio/fills"),
        "timestamp": {**good, HEADER_TIMESTAMP: str(now + 1)},
        "stale": auth_headers(account.access_key, account.private_key, now - 120_000, "GET", "/trade-api/v2" + BALANCE),
        "unknown key": {**good, HEADER_KEY: "00000000-0000-0000-0000-000000000000"},
        "other key": auth_headers(
            account.access_key,
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            now,
            "GET",
            "/trade-api/v2" + BALANCE,
        ),
        "garbage signature": {**good, HEADER_SIGNATURE: base64.b64encode(b"x" * 256).decode()},
        "missing headers": {},
    }
    for name, headers in cases.items():
        response = _get(embedded, BALANCE, headers)
        assert response.status_code == 401, name
        assert response.json()["error"]["code"] == "authentication_error", name


def test_body_is_not_signed(embedded: EmbeddedExchange, sim_clock: SimClock) -> None:
    account = embedded.create_account("bob")
    assert account.private_key is not None
    path = "/trade-api/v2/portfolio/order_groups/create"
    headers = auth_headers(account.access_key, account.private_key, sim_clock.time_ms(), "POST", path)
    first = requests.post(
        embedded.rest_url + "/portfolio/order_groups/create", json={"contracts_limit": 5}, headers=headers, timeout=10
    )
    second = requests.post(
        embedded.rest_url + "/portfolio/order_groups/create", json={"contracts_limit": 9}, headers=headers, timeout=10
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["order_group_id"] != second.json()["order_group_id"]


def test_public_market_data_needs_no_key(embedded: EmbeddedExchange) -> None:
    assert _get(embedded, "/markets", {}, params={"limit": 1}).status_code == 200
    assert _get(embedded, BALANCE, {}).status_code == 401


def test_token_buckets_answer_429_and_refill(embedded: EmbeddedExchange, sim_clock: SimClock) -> None:
    account = embedded.create_account("carol")
    assert account.private_key is not None
    session = requests.Session()

    def get_balance() -> requests.Response:
        headers = auth_headers(
            account.access_key, account.private_key, sim_clock.time_ms(), "GET", "/trade-api/v2" + BALANCE
        )
        return session.get(embedded.rest_url + BALANCE, headers=headers, timeout=10)

    # Basic tier: read bucket 200 tokens, 10 per GET -> 20 requests, then 429 until the clock refills it.
    statuses = [get_balance().status_code for _ in range(21)]
    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429
    assert get_balance().json() == {"error": "too many requests"}
    sim_clock.advance(0.06)  # 0.06 s x 200 tokens/s = 12 tokens: one more GET, not two
    assert get_balance().status_code == 200
    assert get_balance().status_code == 429


def test_batch_bills_per_item_and_is_refused_whole(embedded: EmbeddedExchange, sim_clock: SimClock) -> None:
    account = embedded.create_account("dave")
    assert account.private_key is not None
    path = "/trade-api/v2/portfolio/events/orders/batched"
    ticker = sorted(m.ticker for m in embedded.exchange.markets() if m.filter_status == "open")[0]
    order = {
        "ticker": ticker,
        "side": "bid",
        "price": "0.0100",
        "count": "1",
        "time_in_force": "good_till_canceled",
        "self_trade_prevention_type": "maker",
        "post_only": True,
    }
    # Basic write bucket: 100 tokens; 11 creates x 10 tokens cannot fit, so nothing is created.
    headers = auth_headers(account.access_key, account.private_key, sim_clock.time_ms(), "POST", path)
    too_big = requests.post(
        embedded.rest_url + "/portfolio/events/orders/batched",
        json={"orders": [order] * 11},
        headers=headers,
        timeout=10,
    )
    assert too_big.status_code == 429
    assert embedded.exchange.orders("dave") == []
    fits = requests.post(
        embedded.rest_url + "/portfolio/events/orders/batched",
        json={"orders": [order] * 10},
        headers=headers,
        timeout=10,
    )
    assert fits.status_code == 201
    assert len(embedded.exchange.orders("dave")) == 10
