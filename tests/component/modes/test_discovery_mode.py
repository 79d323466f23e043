"""Discovery mode in-process, the runner's code path, against the embedded exchange on a 10× clock: the DB's
orders and fills equal the exchange's, and nothing of ours rests on the exchange after shutdown."""

from __future__ import annotations

import json

from kalshi_mm.modes.discovery_mode import run_discovery_mode
from kalshi_mm.sim.model import OrderStatus

from .conftest import USER, Env

DURATION_S = 150.0  # simulated: 15 real seconds


def test_discovery_run_records_what_the_exchange_saw(env: Env) -> None:
    rt = env.runtime()
    try:
        code = run_discovery_mode(rt, DURATION_S)
    finally:
        assert rt.close()
    assert code == 0

    exchange = env.server.exchange
    assert exchange.orders(USER, status=OrderStatus.RESTING) == []

    [session] = env.rows("SELECT * FROM discovery_sessions")
    assert session["total_markets"] >= session["binary_markets"] >= session["pre_filtered"] >= session["scored"]
    assert session["scored"] >= session["top_markets_count"] >= session["configs_generated"] > 0
    assert session["top_markets_count"] <= 6
    markets = env.rows("SELECT * FROM discovered_markets WHERE session_id = ?", session["session_id"])
    assert len(markets) == session["scored"]
    selected = [m for m in markets if m["selected_for_trading"]]
    assert len(selected) == session["configs_generated"]
    for market in selected:
        generated = json.loads(market["generated_config"])
        assert generated["ticker"] == market["ticker"] and generated["side"] == market["trade_side"] == "yes"

    runs = env.rows("SELECT * FROM strategy_runs")
    assert sorted((r["market_ticker"], r["trade_side"]) for r in runs) == sorted((m["ticker"], "yes") for m in selected)
    for run in runs:
        assert run["status"] == "completed" and run["end_ts"] is not None, run
        params = json.loads(run["config_params"])
        assert params["discovery_session_id"] == session["session_id"]
        assert params["generated_config"]["ticker"] == run["market_ticker"]

    # Orders: every order the exchange has for us is in the DB, none left 'placed' (a partial fill logged after
    # its cancel can leave 'partially_filled': the exchange, checked above, is the authority on resting).
    ours = {o.order_id: o for o in exchange.orders(USER)}
    db_orders = {r["order_id"]: r for r in env.rows("SELECT * FROM orders")}
    assert ours, "the sessions placed no orders"
    assert set(db_orders) == set(ours)
    assert all(r["status"] != "placed" for r in db_orders.values()), db_orders
    # Fills: same ids, sizes and prices.
    exchange_fills = {(f.fill_id, f.order_id, f.count_e2, f.yes_price_e4) for f in exchange.fills(USER)}
    db_fills = {
        (r["fill_id"], r["order_id"], r["count_e2"], r["price_e4"])
        for r in env.rows("SELECT fill_id, order_id, count_e2, price_e4 FROM order_fills")
    }
    assert db_fills == exchange_fills
