"""Order intents on the trading path: every create is recorded in ``order_intents`` before it is sent and resolved
once its outcome is known, also when the exchange drops the create's response."""

from __future__ import annotations

from kalshi_mm.sim.model import Side

from .conftest import TICKER, Harness


def quoting_market(h: Harness) -> None:
    h.list_market(TICKER)
    h.lp_quote(TICKER, Side.BID, 4700)
    h.lp_quote(TICKER, Side.ASK, 5300)


def intents_vs_orders(h: Harness) -> tuple[list[dict], list[dict]]:
    intents = h.rows("SELECT client_order_id, outcome, order_id, run_id FROM order_intents ORDER BY client_order_id")
    orders = h.rows("SELECT client_order_id, order_id, run_id FROM orders ORDER BY client_order_id")
    return intents, orders


def test_every_order_placed_has_its_intent_resolved_placed(harness: Harness) -> None:
    h = harness
    quoting_market(h)
    mm = h.session()
    h.start(mm)
    h.step(2)
    intents, orders = intents_vs_orders(h)
    assert len(orders) == 2
    assert intents == [{**o, "outcome": "placed"} for o in orders]


def test_a_dropped_create_response_still_resolves_its_intent(harness: Harness) -> None:
    h = harness
    quoting_market(h)
    h.server.faults.update({"drop_create_response_rate": 1.0})
    mm = h.session()
    h.start(mm)
    assert h.server.faults.snapshot()["injected"].get("dropped_create_response", 0) >= 2
    h.server.faults.update({"drop_create_response_rate": 0.0})
    intents, orders = intents_vs_orders(h)
    assert len(orders) == 2 and {i["outcome"] for i in intents} == {"placed"}
    assert {i["order_id"] for i in intents} == {o["order_id"] for o in orders}
