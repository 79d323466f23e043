"""The REST parsers: strict on money (errors name the object and field), lenient on everything evolving, exact
rounding of 6-decimal money fields, and the fixtures are real-shaped (they validate against Kalshi's spec)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from kalshi_mm.api.errors import PostOnlyCrossError, WireError
from kalshi_mm.api.types import BookSide, OrderRequest, SelfTradePrevention, TimeInForce
from kalshi_mm.api.wire import parse_market, parse_orderbook, parse_series, parse_time, parse_trade
from kalshi_mm.api.wire_portfolio import (
    encode_order,
    parse_balance,
    parse_batch_create,
    parse_fill,
    parse_order,
    parse_order_ack,
    parse_positions,
    parse_settlement,
)
from kalshi_mm.testing.conformance import validate_schema
from kalshi_mm.units import PriceGrid, UnitError

FIXTURES = json.loads((Path(__file__).parents[2] / "fixtures" / "kalshi_rest" / "payloads.json").read_text())
T = 1_795_000_000.0  # a receive time


def payload(name: str) -> Any:
    return copy.deepcopy(FIXTURES[name])


@pytest.mark.parametrize(
    ("name", "schema"),
    [
        ("market", "GetMarketResponse"),
        ("orderbook", "GetMarketOrderbookResponse"),
        ("trade", "Trade"),
        ("series", "GetSeriesResponse"),
        ("order", "Order"),
        ("fill", "Fill"),
        ("positions", "GetPositionsResponse"),
        ("settlement", "Settlement"),
        ("create_ack", "CreateOrderV2Response"),
    ],
)
def test_fixtures_are_real_shaped(name: str, schema: str) -> None:
    validate_schema(schema, payload(name))


def test_market_in_internal_units_unknown_fields_ignored() -> None:
    market = parse_market(payload("market")["market"], T)
    assert (market.ticker, market.event_ticker, market.status) == ("KXCPI-26DEC-T3.0", "KXCPI-26DEC", "active")
    assert (market.yes_bid_e4, market.yes_bid_size_e2, market.yes_ask_e4, market.yes_ask_size_e2) == (
        4700,
        12000,
        4900,
        3550,
    )
    assert (market.last_price_e4, market.volume_e2, market.open_interest_e2) == (4800, 1_523_000, 902_100)
    assert market.close_ts == parse_time("2026-12-10T13:25:00Z")
    assert market.grid == PriceGrid.tapered_deci_cent()
    assert market.received_ts == T
    price = market.price
    assert (price.no_bid_e4, price.no_ask_e4) == (5100, 5300)
    assert price.yes_mid_e4 == 4800 and price.no_mid_e4 == 5200


def test_empty_sides_are_none_and_the_grid_comes_from_the_structure_name() -> None:
    market = parse_market(payload("market_empty_book"), T)  # deprecated title/subtitle/previous_* all absent
    assert market.yes_bid_e4 is None and market.yes_ask_e4 is None
    assert market.price.yes_mid_e4 is None and market.price.no_bid_e4 is None
    assert market.previous_price_e4 is None and market.title == ""
    assert market.grid == PriceGrid.linear_cent()


def test_half_unit_mid_is_exact() -> None:
    raw = payload("market")["market"] | {"yes_bid_dollars": "0.4701", "yes_ask_dollars": "0.4702"}
    assert parse_market(raw, T).price.yes_mid_e4 == Fraction(9403, 2)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("yes_bid_dollars", "abc", "market KXCPI-26DEC-T3.0: yes_bid_dollars: malformed decimal string 'abc'"),
        ("yes_ask_dollars", None, "market KXCPI-26DEC-T3.0: yes_ask_dollars: missing"),
        ("yes_bid_size_fp", "1e3", "market KXCPI-26DEC-T3.0: yes_bid_size_fp: malformed decimal string '1e3'"),
        ("last_price_dollars", "1.5000", "market KXCPI-26DEC-T3.0: last_price_dollars: price '1.5000' is above $1"),
        ("yes_bid_dollars", "0.47001", "market KXCPI-26DEC-T3.0: yes_bid_dollars: '0.47001' has 5 decimals"),
        ("volume_fp", 12.5, "market KXCPI-26DEC-T3.0: volume_fp: expected a decimal string, got float 12.5"),
        ("close_time", "soon", "market KXCPI-26DEC-T3.0: close_time: malformed time 'soon'"),
    ],
)
def test_money_errors_name_the_market_and_field(field: str, value: object, message: str) -> None:
    raw = payload("market")["market"]
    if value is None:
        del raw[field]
    else:
        raw[field] = value
    with pytest.raises(WireError) as caught:
        parse_market(raw, T)
    assert str(caught.value).startswith(message)


def test_malformed_price_ranges_is_an_error_naming_the_band() -> None:
    raw = payload("market")["market"]
    raw["price_ranges"][1]["step"] = "zero"
    with pytest.raises(WireError, match=r"price_ranges\[1\]\.step: malformed decimal string 'zero'"):
        parse_market(raw, T)


def test_orderbook_sorted_best_last_and_legs_converted() -> None:
    body = payload("orderbook")
    body["orderbook_fp"]["yes_dollars"].reverse()  # best-to-worst, as the endpoint text describes
    book = parse_orderbook(body, "KXCPI-26DEC-T3.0", T)
    assert book.yes_bids == ((4500, 30000), (4600, 1300), (4700, 12000))
    assert (book.best_yes_bid_e4, book.best_yes_ask_e4) == (4700, 4900)
    assert book.yes_asks == ((4900, 3550), (5000, 2000))
    bad = payload("orderbook")
    bad["orderbook_fp"]["no_dollars"][1][1] = "lots"
    with pytest.raises(WireError, match=r"orderbook KX-1: orderbook_fp: no_dollars\[1\]\[1\]: malformed"):
        parse_orderbook(bad, "KX-1", T)


def test_trade_and_series() -> None:
    trade = parse_trade(payload("trade"))
    assert (trade.count_e2, trade.yes_price_e4, trade.taker_book_side) == (500, 4800, BookSide.ASK)
    legacy = payload("trade")
    del legacy["taker_book_side"], legacy["taker_outcome_side"]
    assert parse_trade(legacy).taker_book_side is BookSide.ASK  # deprecated taker_side "no"
    series = parse_series(payload("series")["series"])
    assert series.category == "Economics" and series.categories == ("Economics", "Inflation")
    assert series.fee_multiplier == Decimal("0.5") and series.fee_type == "quadratic_with_maker_fees"


def test_order_fees_and_costs_round_up() -> None:
    order = parse_order(payload("order"), T)
    assert (order.side, order.price_e4, order.initial_count_e2, order.fill_count_e2) == (BookSide.BID, 4700, 1000, 200)
    assert order.maker_fees_e4 == 44  # $0.004368 -> $0.0044
    assert order.maker_fill_cost_e4 == 9400 and order.is_resting


def test_fill_fee_six_decimals_rounds_up() -> None:
    fill = parse_fill(payload("fill"))
    assert fill.fee_e4 == 1751  # $0.175001 -> $0.1751, never understated
    assert (fill.side, fill.count_e2, fill.yes_price_e4, fill.is_taker) == (BookSide.ASK, 1000, 5000, True)
    missing_fee = payload("fill")
    del missing_fee["fee_cost"]
    with pytest.raises(WireError, match="fill f-1: fee_cost: missing"):
        parse_fill(missing_fee)


def test_fill_with_only_deprecated_fields() -> None:
    fill = parse_fill(payload("fill_legacy_sides_only"))
    # sell YES is an ask on the YES leg; trade_id stands in for fill_id, market_ticker for ticker, ts for time.
    assert (fill.fill_id, fill.ticker, fill.side, fill.created_ts) == (
        "f-2",
        "KXCPI-26DEC-T3.0",
        BookSide.ASK,
        1795512612.0,
    )


def test_positions_round_costs_up_and_pnl_down() -> None:
    positions, cursor = parse_positions(payload("positions"), T)
    (position,) = positions.markets
    assert cursor == "" and position.position_e2 == -1200
    assert position.market_exposure_e4 == 62401  # 6.240001 up
    assert position.realized_pnl_e4 == -1235  # -0.123456 down (more negative)
    assert position.fees_paid_e4 == 501
    assert positions.events[0].event_exposure_e4 == 62400


def test_settlement_balance_and_acks() -> None:
    settlement = parse_settlement(payload("settlement"))
    assert (settlement.revenue_e4, settlement.value_e4, settlement.yes_total_cost_e4) == (100_000, 10_000, 47_000)
    balance = parse_balance(payload("balance"), T)
    assert balance.balance_e4 == 12_345_678  # 1234.567891 rounded DOWN: cash is never overstated
    no_dollars = payload("balance")
    del no_dollars["balance_dollars"]
    assert parse_balance(no_dollars, T).balance_e4 == 12_345_600
    bid = parse_order_ack(payload("create_ack"), BookSide.BID)
    ask = parse_order_ack(payload("create_ack"), BookSide.ASK)
    assert (bid.fill_count_e2, bid.remaining_count_e2, bid.average_fee_paid_e4) == (300, 700, 44)
    assert (bid.average_fill_price_e4, ask.average_fill_price_e4) == (4734, 4733)  # rounded against us


def test_batch_create_items_carry_their_own_errors() -> None:
    request = OrderRequest("KX-1", BookSide.BID, 4700, 100, post_only=True)
    results = parse_batch_create(payload("batch_create"), [(request, "c-1"), (request, "c-2")], "/batched")
    assert results[0].ack is not None and results[0].ack.order_id == "o-1" and results[0].error is None
    assert isinstance(results[1].error, PostOnlyCrossError) and results[1].ack is None
    with pytest.raises(WireError, match="2 results for 1 orders"):
        parse_batch_create(payload("batch_create"), [(request, "c-1")], "/batched")


def test_encode_order_is_a_valid_v2_body_and_refuses_impossible_orders() -> None:
    request = OrderRequest(
        "KX-1",
        BookSide.ASK,
        55,
        150,
        TimeInForce.IMMEDIATE_OR_CANCEL,
        SelfTradePrevention.MAKER,
        reduce_only=True,
        order_group_id="g-1",
    )
    body = encode_order(request, "kmm-1")
    assert body == {
        "ticker": "KX-1",
        "side": "ask",
        "price": "0.0055",
        "count": "1.50",
        "time_in_force": "immediate_or_cancel",
        "self_trade_prevention_type": "maker",
        "client_order_id": "kmm-1",
        "reduce_only": True,
        "order_group_id": "g-1",
    }
    validate_schema("CreateOrderV2Request", body)
    for price, count in ((0, 100), (10_000, 100), (5000, 0)):
        with pytest.raises(UnitError):
            encode_order(OrderRequest("KX-1", BookSide.BID, price, count), "kmm-2")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T00:45:00Z", 1795653900.0),
        ("2026-11-26T00:45:00.5Z", 1795653900.5),
        ("2026-11-26T00:45:00.123456789Z", 1795653900.123456),
        ("2026-11-26T00:45:00", 1795653900.0),
        (1795653900, 1795653900.0),
        (1795653900500, 1795653900.5),
    ],
)
def test_times_of_any_precision(text: object, expected: float) -> None:
    assert parse_time(text) == pytest.approx(expected, abs=1e-6)
