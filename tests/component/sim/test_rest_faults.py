"""Fault injection through the admin endpoint: every REST fault is observable by a plain client and counted;
traffic statistics report what each account did."""

from __future__ import annotations

import pytest
import requests

from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.sim.model import Event, Market, Series
from kalshi_mm.sim.server import EmbeddedExchange

from .conftest import SignedSession


def admin_url(server: EmbeddedExchange, what: str) -> str:
    return server.rest_url.replace("/trade-api/v2", f"/admin/{what}")


def set_faults(server: EmbeddedExchange, **changes: object) -> dict:
    response = requests.post(admin_url(server, "faults"), json=changes, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def injected(server: EmbeddedExchange) -> dict[str, int]:
    return requests.get(admin_url(server, "faults"), timeout=10).json()["injected"]


def status_of(session: SignedSession, path: str) -> int:
    session.get(path)
    return session.responses[-1][2]


@pytest.fixture
def quiet_exchange(sim_clock: SimClock):  # type: ignore[no-untyped-def]
    """One listed market, no simulated traders: only the test's own requests happen."""
    server = EmbeddedExchange(sim_clock, scenario=None, tier="prime").start()
    server.exchange.add_series(Series("KXF", title="Faults", category="Economics"))
    server.exchange.add_event(Event("KXF-26DEC31", "KXF"))
    now = int(sim_clock.time())
    server.exchange.add_market(Market("KXF-26DEC31-T1", "KXF-26DEC31", open_ts=now - 60, close_ts=now + 86_400))
    server.exchange.tick()
    try:
        yield server
    finally:
        server.stop()


ORDER = {
    "ticker": "KXF-26DEC31-T1",
    "side": "bid",
    "price": "0.4000",
    "count": "2.00",
    "time_in_force": "good_till_canceled",
    "self_trade_prevention_type": "maker",
    "post_only": True,
}


def test_bad_fault_settings_are_refused(quiet_exchange: EmbeddedExchange) -> None:
    for bad in ({"rest_5xx_rate": 2}, {"no_such_fault": 1}, {"ws_disconnect_every_s": 0}, {"exchange_paused": 1}):
        response = requests.post(admin_url(quiet_exchange, "faults"), json=bad, timeout=10)
        assert response.status_code == 400
        assert next(iter(bad)) in response.json()["error"]["message"]


def test_latency_429_burst_and_5xx(quiet_exchange: EmbeddedExchange, sim_clock: SimClock) -> None:
    session = SignedSession(quiet_exchange.rest_url, quiet_exchange.create_account("f1"), sim_clock)
    live = LiveClock()
    set_faults(quiet_exchange, rest_latency_ms=150)
    t0 = live.monotonic()
    session.get("/portfolio/balance", expect=200)
    assert live.monotonic() - t0 >= 0.15
    set_faults(quiet_exchange, rest_latency_ms=0, rest_429_burst=3)
    assert [status_of(session, "/portfolio/balance") for _ in range(4)] == [429, 429, 429, 200]
    set_faults(quiet_exchange, rest_5xx_rate=1.0)
    for _ in range(3):
        assert status_of(session, "/portfolio/balance") in (500, 503)
    set_faults(quiet_exchange, rest_5xx_rate=0.0)
    counts = injected(quiet_exchange)
    assert counts["rest_latency"] >= 1 and counts["rest_429"] == 3
    assert counts.get("rest_500", 0) + counts.get("rest_503", 0) == 3


def test_dropped_create_response_leaves_the_order_on_the_exchange(
    quiet_exchange: EmbeddedExchange, sim_clock: SimClock
) -> None:
    account = quiet_exchange.create_account("f2")
    session = SignedSession(quiet_exchange.rest_url, account, sim_clock, validate=False)
    set_faults(quiet_exchange, drop_create_response_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        session.post("/portfolio/events/orders", json={**ORDER, "client_order_id": "lost-1"})
    set_faults(quiet_exchange, drop_create_response_rate=0.0)
    fresh = SignedSession(quiet_exchange.rest_url, account, sim_clock)
    orders = fresh.get("/portfolio/orders", params={"status": "resting"}, expect=200)["orders"]
    assert [o["client_order_id"] for o in orders] == ["lost-1"]
    # The retry with the same client_order_id is refused, so the order is never doubled.
    assert fresh.post("/portfolio/events/orders", json={**ORDER, "client_order_id": "lost-1"}, expect=409)
    assert injected(quiet_exchange)["dropped_create_response"] == 1


def test_exchange_pause_set_through_admin(quiet_exchange: EmbeddedExchange, sim_clock: SimClock) -> None:
    session = SignedSession(quiet_exchange.rest_url, quiet_exchange.create_account("f3"), sim_clock)
    set_faults(quiet_exchange, exchange_paused=True)
    status = session.get("/exchange/status", expect=200)
    assert status == {"exchange_active": False, "trading_active": False, "exchange_estimated_resume_time": None}
    session.post("/portfolio/events/orders", json=ORDER)
    assert session.responses[-1][2] == 503
    set_faults(quiet_exchange, exchange_paused=False)
    session.post("/portfolio/events/orders", json=ORDER, expect=201)
    assert injected(quiet_exchange)["exchange_pause"] == 1


def test_traffic_reports_requests_tokens_and_orders(quiet_exchange: EmbeddedExchange, sim_clock: SimClock) -> None:
    session = SignedSession(quiet_exchange.rest_url, quiet_exchange.create_account("f4"), sim_clock)
    created = session.post("/portfolio/events/orders", json=ORDER, expect=201)
    session.post(
        f"/portfolio/events/orders/{created['order_id']}/amend",
        json={"ticker": ORDER["ticker"], "side": "bid", "price": "0.4100", "count": "2"},
        expect=200,
    )
    session.delete(f"/portfolio/events/orders/{created['order_id']}", expect=200)
    session.get("/portfolio/balance", expect=200)
    traffic = requests.get(admin_url(quiet_exchange, "traffic"), timeout=10).json()["f4"]
    assert traffic["orders"] == {"created": 1, "amended": 1, "cancelled": 1}
    assert traffic["rest"]["POST /portfolio/events/orders 201"] == 1
    assert traffic["rest"]["GET /portfolio/balance 200"] == 1
    assert traffic["tokens_spent"] == 10 + 10 + 2 + 10
