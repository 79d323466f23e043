"""Scheduled trading pauses over REST: place/amend refused with 409, cancels allowed, schedule published."""

from __future__ import annotations

from pathlib import Path

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.server import EmbeddedExchange

from .conftest import SignedSession

SCENARIOS = Path(__file__).resolve().parents[3] / "kalshi_mm" / "sim" / "scenarios"


def test_scheduled_pause_rejects_orders_but_allows_cancels(tmp_path: Path) -> None:
    scenario = tmp_path / "paused.yaml"
    scenario.write_text(
        f"extends: {SCENARIOS / 'default.yaml'}\nname: paused\ntrading_pauses:\n  - {{at_s: 10, duration_s: 30}}\n"
    )
    clock = SimClock(start=1_795_000_000.0)
    server = EmbeddedExchange(clock, scenario=scenario, seed=5).start()
    try:
        account = server.create_account("pauser")
        session = SignedSession(server.rest_url, account, clock)
        ticker = sorted(m.ticker for m in server.exchange.markets() if m.filter_status == "open")[0]
        order = {
            "ticker": ticker,
            "side": "bid",
            "price": "0.0100",
            "count": "1",
            "post_only": True,
            "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "maker",
        }
        resting = session.post("/portfolio/events/orders", json=order, expect=201)
        flagged = session.post("/portfolio/events/orders", json={**order, "cancel_order_on_pause": True}, expect=201)
        windows = session.get("/exchange/schedule", expect=200)["schedule"]["maintenance_windows"]
        assert len(windows) == 1

        assert server.simulation is not None
        clock.advance(15)
        server.simulation.step(clock.time())  # deterministic: do not wait for the background thread
        assert session.get("/exchange/status", expect=200)["trading_active"] is False
        refused = session.post("/portfolio/events/orders", json=order, expect=409)
        assert refused["error"]["code"] == "trading_is_paused"
        assert server.exchange.get_order("pauser", flagged["order_id"]).status.value == "canceled"
        session.delete(f"/portfolio/events/orders/{resting['order_id']}", expect=200)

        clock.advance(30)
        server.simulation.step(clock.time())
        assert session.get("/exchange/status", expect=200)["trading_active"] is True
        session.post("/portfolio/events/orders", json=order, expect=201)
    finally:
        server.stop()
