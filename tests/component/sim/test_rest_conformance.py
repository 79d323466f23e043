"""A scripted session against the embedded exchange over HTTP; every response is validated against Kalshi's
OpenAPI subset (via the committed schema bundle) by the SignedSession fixture."""

from __future__ import annotations

import pytest

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.testing.conformance import covered_operations
from kalshi_mm.units import PriceGrid, Rounding, format_price, parse_count, parse_price

from .conftest import SignedSession


def _liquid_open_market(embedded: EmbeddedExchange) -> str:
    """A non-extreme open market with both sides quoted, for deterministic crossing."""
    for market in sorted(embedded.exchange.markets(), key=lambda m: m.ticker):
        top = embedded.exchange.top_of_book(market.ticker)
        if (
            market.filter_status == "open"
            and top.yes_bid_e4
            and top.yes_ask_e4
            and 2000 < top.yes_bid_e4 < 8000
            and market.price_level_structure == "linear_cent"
        ):
            return market.ticker
    raise AssertionError("the default scenario has no liquid mid-priced linear_cent market")


@pytest.mark.slow
def test_scripted_session_validates_against_openapi(embedded: EmbeddedExchange, sim_clock: SimClock) -> None:
    maker_account = embedded.create_account("maker")
    taker_account = embedded.create_account("taker")
    public = SignedSession(embedded.rest_url, None, sim_clock)
    maker = SignedSession(embedded.rest_url, maker_account, sim_clock)
    taker = SignedSession(embedded.rest_url, taker_account, sim_clock)

    # --- public market data ---
    status = public.get("/exchange/status", expect=200)
    assert status["trading_active"] is True
    public.get("/exchange/schedule", expect=200)
    first = public.get("/markets", params={"limit": 5, "status": "open"}, expect=200)
    assert len(first["markets"]) == 5 and first["cursor"]
    second = public.get("/markets", params={"limit": 5, "status": "open", "cursor": first["cursor"]}, expect=200)
    assert {m["ticker"] for m in first["markets"]}.isdisjoint(m["ticker"] for m in second["markets"])
    ticker = _liquid_open_market(embedded)
    market = public.get(f"/markets/{ticker}", expect=200)["market"]
    grid = PriceGrid.from_wire(market["price_ranges"])
    event_ticker = market["event_ticker"]
    event = public.get(f"/events/{event_ticker}", params={"with_nested_markets": "true"}, expect=200)
    series_ticker = event["event"]["series_ticker"]
    assert ticker in {m["ticker"] for m in event["event"]["markets"]}
    public.get("/events", params={"limit": 3, "status": "open", "with_nested_markets": "true"}, expect=200)
    series = public.get(f"/series/{series_ticker}", expect=200)["series"]
    assert series["category"] and series["fee_type"]
    assert any(s["ticker"] == series_ticker for s in public.get("/series", expect=200)["series"])
    book = public.get(f"/markets/{ticker}/orderbook", params={"depth": 5}, expect=200)["orderbook_fp"]
    assert book["yes_dollars"] and book["no_dollars"]
    prices = [parse_price(p) for p, _ in book["yes_dollars"]]
    assert prices == sorted(prices)  # ascending, best bid last
    public.get("/markets/orderbooks", params={"tickers": [ticker, second["markets"][0]["ticker"]]}, expect=200)
    public.get("/markets/NO-SUCH-MARKET", expect=404)

    # --- trading: a maker bid, then the taker sells into it ---
    best_bid = prices[-1]
    inside = grid.snap(best_bid + 100, Rounding.DOWN)
    assert inside is not None
    assert maker.get("/portfolio/balance", expect=200)["balance_dollars"] == "10000.0000"
    group = maker.post("/portfolio/order_groups/create", json={"contracts_limit": 50}, expect=201)
    created = maker.post(
        "/portfolio/events/orders",
        json={
            "ticker": ticker,
            "side": "bid",
            "price": format_price(inside),
            "count": "10.00",
            "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "maker",
            "post_only": True,
            "client_order_id": "mk-1",
            "order_group_id": group["order_group_id"],
        },
        expect=201,
    )
    order_id = created["order_id"]
    assert created["remaining_count"] == "10.00"
    dup = maker.post(
        "/portfolio/events/orders",
        json={
            "ticker": ticker,
            "side": "bid",
            "price": format_price(inside),
            "count": "1",
            "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "maker",
            "client_order_id": "mk-1",
        },
        expect=409,
    )
    assert dup["error"]["code"] == "order_already_exists"
    amended = maker.post(
        f"/portfolio/events/orders/{order_id}/amend",
        json={"ticker": ticker, "side": "bid", "price": format_price(inside), "count": "8.00"},
        expect=200,
    )
    assert amended["remaining_count"] == "8.00"
    decreased = maker.post(f"/portfolio/events/orders/{order_id}/decrease", json={"reduce_by": "2"}, expect=200)
    assert decreased["remaining_count"] == "6.00"
    taken = taker.post(
        "/portfolio/events/orders",
        json={
            "ticker": ticker,
            "side": "ask",
            "price": format_price(inside),
            "count": "4.00",
            "time_in_force": "immediate_or_cancel",
            "self_trade_prevention_type": "taker_at_cross",
        },
        expect=201,
    )
    assert taken["fill_count"] == "4.00" and taken["average_fill_price"] == format_price(inside)
    fills = maker.get("/portfolio/fills", params={"ticker": ticker}, expect=200)["fills"]
    assert [f["count_fp"] for f in fills] == ["4.00"] and fills[0]["is_taker"] is False
    assert taker.get("/portfolio/fills", expect=200)["fills"][0]["trade_id"] == fills[0]["trade_id"]
    positions = maker.get("/portfolio/positions", expect=200)
    assert [p["position_fp"] for p in positions["market_positions"]] == ["4.00"]
    orders = maker.get("/portfolio/orders", params={"status": "resting"}, expect=200)["orders"]
    assert [o["order_id"] for o in orders] == [order_id] and orders[0]["remaining_count_fp"] == "2.00"
    maker.get(f"/portfolio/orders/{order_id}", expect=200)
    trades = public.get("/markets/trades", params={"ticker": ticker, "limit": 10}, expect=200)["trades"]
    assert trades[0]["trade_id"] == fills[0]["trade_id"]
    maker.get("/portfolio/order_groups", expect=200)
    got_group = maker.get(f"/portfolio/order_groups/{group['order_group_id']}", expect=200)
    assert got_group["orders"] == [order_id]
    maker.put(f"/portfolio/order_groups/{group['order_group_id']}/limit", json={"contracts_limit": 100}, expect=200)
    maker.put(f"/portfolio/order_groups/{group['order_group_id']}/reset", expect=200)
    cancelled = maker.delete(f"/portfolio/events/orders/{order_id}", params={"market_ticker": ticker}, expect=200)
    assert cancelled["reduced_by"] == "2.00"
    maker.delete(f"/portfolio/events/orders/{order_id}", expect=404)

    # --- batches: one good order, one post-only cross, then batch cancel ---
    sim_clock.advance(1.0)  # Basic tier: 100 write tokens a second; the steps above spent most of them
    low = grid.snap(best_bid - 500, Rounding.DOWN)
    batch = maker.post(
        "/portfolio/events/orders/batched",
        json={
            "orders": [
                {
                    "ticker": ticker,
                    "side": "bid",
                    "price": format_price(low),
                    "count": "1",
                    "time_in_force": "good_till_canceled",
                    "self_trade_prevention_type": "maker",
                    "post_only": True,
                },
                {
                    "ticker": ticker,
                    "side": "bid",
                    "price": "0.9900",
                    "count": "1",
                    "time_in_force": "good_till_canceled",
                    "self_trade_prevention_type": "maker",
                    "post_only": True,
                },
            ]
        },
        expect=201,
    )["orders"]
    assert batch[0]["error"] is None and batch[1]["error"]["details"] == "post only cross"
    cancel = maker.delete(
        "/portfolio/events/orders/batched",
        json={"orders": [{"order_id": batch[0]["order_id"]}, {"order_id": "nope"}]},
        expect=200,
    )
    assert cancel["orders"][0]["error"] is None and cancel["orders"][1]["error"]["code"] == "not_found"
    sim_clock.advance(1.0)
    maker.post(
        "/portfolio/events/orders",
        json={
            "ticker": ticker,
            "side": "bid",
            "price": format_price(low),
            "count": "1",
            "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "maker",
        },
        expect=201,
    )
    maker.delete("/portfolio/events/orders", expect=204)
    assert maker.get("/portfolio/orders", params={"status": "resting"}, expect=200)["orders"] == []
    maker.put(f"/portfolio/order_groups/{group['order_group_id']}/trigger", expect=200)
    maker.delete(f"/portfolio/order_groups/{group['order_group_id']}", expect=200)
    maker.get("/account/limits", expect=200)
    public.get("/account/endpoint_costs", expect=200)

    # --- candlesticks over the last hour ---
    now = int(sim_clock.time())
    candles = public.get(
        f"/series/{series_ticker}/markets/{ticker}/candlesticks",
        params={"start_ts": now - 3600, "end_ts": now, "period_interval": 1},
        expect=200,
    )
    assert len(candles["candlesticks"]) == 60

    # --- close, determine YES, settle: the maker's 4 YES contracts pay $4 ---
    embedded.exchange.determine(ticker, "yes")
    sim_clock.advance(embedded.exchange.market(ticker).settlement_timer_seconds + 1)
    embedded.exchange.tick()
    settlements = maker.get("/portfolio/settlements", expect=200)["settlements"]
    assert len(settlements) == 1 and settlements[0]["revenue"] == 400
    assert parse_count(settlements[0]["yes_count_fp"]) == 400
    assert maker.get("/portfolio/positions", expect=200)["market_positions"] == []
    closed = public.get(f"/markets/{ticker}", expect=200)["market"]
    assert closed["result"] == "yes" and closed["status"] in ("determined", "finalized")

    # Every documented operation was exercised with a validated response.
    exercised = {(m, p) for s in (public, maker, taker) for m, p, _ in s.responses}
    assert len(exercised) >= 30
    assert len(covered_operations()) >= 30
