"""``GET /admin/ledger``: the exchange's own records of one account, which the chaos checks trust."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.model import Event, Market, OrderRequest, Series, Side, TimeInForce
from kalshi_mm.sim.server import EmbeddedExchange

TICKER = "KXL-26DEC31-T1"


@pytest.fixture
def exchange() -> Iterator[EmbeddedExchange]:
    clock = SimClock(start=1_795_000_000.0)
    server = EmbeddedExchange(clock, scenario=None).start()
    server.exchange.add_series(Series("KXL", title="Ledger", category="Economics"))
    server.exchange.add_event(Event("KXL-26DEC31", "KXL"))
    now = int(clock.time())
    server.exchange.add_market(Market(TICKER, "KXL-26DEC31", open_ts=now - 60, close_ts=now + 86_400))
    server.create_account("maker")
    server.create_account("taker")
    try:
        yield server
    finally:
        server.stop()


def ledger(server: EmbeddedExchange, **params: str) -> requests.Response:
    return requests.get(server.rest_url.replace("/trade-api/v2", "/admin/ledger"), params=params, timeout=10)


def test_ledger_lists_the_accounts_orders_fills_and_positions_oldest_first(exchange: EmbeddedExchange) -> None:
    ex = exchange.exchange
    first = ex.place_order("maker", OrderRequest(TICKER, Side.BID, 4000, 300, client_order_id="m-1")).order
    second = ex.place_order("maker", OrderRequest(TICKER, Side.ASK, 6000, 100, client_order_id="m-2")).order
    ex.place_order("taker", OrderRequest(TICKER, Side.ASK, 4000, 200, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL))
    ex.cancel_order("maker", second.order_id)

    response = ledger(exchange, user="maker")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == "maker"
    orders = body["orders"]
    assert [o["client_order_id"] for o in orders] == ["m-1", "m-2"]  # the taker's order is not the maker's
    assert orders[0] | {"created_ts_ms": 0, "last_update_ts_ms": 0} == {
        "order_id": first.order_id,
        "client_order_id": "m-1",
        "ticker": TICKER,
        "side": "bid",
        "price_e4": 4000,
        "initial_count_e2": 300,
        "fill_count_e2": 200,
        "remaining_count_e2": 100,
        "status": "resting",
        "order_group_id": None,
        "created_ts_ms": 0,
        "last_update_ts_ms": 0,
        "last_update_reason": "Trade",
    }
    assert orders[1]["status"] == "canceled"
    [fill] = body["fills"]
    assert (fill["order_id"], fill["side"], fill["yes_price_e4"], fill["count_e2"]) == (
        first.order_id,
        "bid",
        4000,
        200,
    )
    assert fill["is_taker"] is False and fill["post_position_e2"] == 200 and fill["client_order_id"] == "m-1"
    assert body["positions"] == [{"ticker": TICKER, "position_e2": 200, "resting_orders_count": 1}]
    assert body["settled_tickers"] == []


def test_ledger_needs_a_known_user(exchange: EmbeddedExchange) -> None:
    missing = ledger(exchange)
    assert missing.status_code == 400 and "user" in missing.json()["error"]["message"]
    assert ledger(exchange, user="nobody").status_code == 404
