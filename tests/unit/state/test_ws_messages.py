"""WebSocket parsers: real-shaped fixtures (NOTES §7, AsyncAPI examples), units, conventions, strictness."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kalshi_mm.api.ws_messages import (
    CHANNEL_TO_INTERNAL,
    INTERNAL_TO_CHANNEL,
    MESSAGE_TYPE_CHANNEL,
    PARSED_MESSAGE_TYPES,
    BookSide,
    ErrorMsg,
    FillMsg,
    LifecycleMsg,
    MarketPositionMsg,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupMsg,
    Subscribed,
    TickerUpdate,
    TradeMsg,
    UnknownMsg,
    Unsubscribed,
    UserOrderMsg,
    WireMessageError,
    internal_channel,
    kalshi_channel,
    orderbook_snapshot_from_rest,
    parse_message,
)
from kalshi_mm.testing.conformance import validate_ws_message
from kalshi_mm.units import PriceGrid

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ws"
T = 1_767_225_600.25  # a local receive time


def _load() -> dict[str, dict[str, Any]]:
    frames: dict[str, dict[str, Any]] = {}
    for path in sorted(FIXTURES.glob("*.json")):
        for name, frame in json.loads(path.read_text()).items():
            frames[f"{path.stem}/{name}"] = frame
    return frames


FRAMES = _load()


def frame(key: str) -> dict[str, Any]:
    return copy.deepcopy(FRAMES[key])


EXPECTED_TYPE = {
    "orderbook_snapshot": OrderbookSnapshot,
    "orderbook_delta": OrderbookDelta,
    "ticker": TickerUpdate,
    "trade": TradeMsg,
    "fill": FillMsg,
    "market_position": MarketPositionMsg,
    "user_order": UserOrderMsg,
    "order_group_updates": OrderGroupMsg,
    "market_lifecycle_v2": LifecycleMsg,
    "event_lifecycle": LifecycleMsg,
    "event_fee_update": LifecycleMsg,
    "subscribed": Subscribed,
    "unsubscribed": Unsubscribed,
    "ok": Ok,
    "error": ErrorMsg,
}


@pytest.mark.parametrize("key", sorted(FRAMES))
def test_fixture_is_real_shaped_and_parses_to_its_type(key: str) -> None:
    raw = frame(key)
    validate_ws_message(raw)  # the fixture conforms to Kalshi's AsyncAPI
    message = parse_message(raw, T)
    assert type(message) is EXPECTED_TYPE[raw["type"]]
    assert message.received_ts == T
    assert getattr(message, "sid", None) == raw.get("sid", getattr(message, "sid", None))


def test_every_fixture_file_covers_the_parsed_channel_types() -> None:
    seen = {raw["type"] for raw in FRAMES.values()}
    assert set(MESSAGE_TYPE_CHANNEL) <= seen
    assert set(MESSAGE_TYPE_CHANNEL) <= PARSED_MESSAGE_TYPES


# --- orderbook: NO bids become YES asks -------------------------------------------------------------------------


def test_snapshot_default_pricing_converts_no_bids_to_yes_asks() -> None:
    snap = parse_message(frame("orderbook/snapshot_both_sides"), T)
    assert isinstance(snap, OrderbookSnapshot)
    assert (snap.sid, snap.seq, snap.market_ticker) == (2, 2, "FED-23DEC-T3.00")
    assert snap.market_id == "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1"
    assert snap.yes_bids == ((2200, 33300), (800, 30000))  # best (highest) first
    # NO bids at 0.54 / 0.56 are YES asks at 0.46 / 0.44: best (lowest) first.
    assert snap.yes_asks == ((4400, 14600), (4600, 2000))
    assert snap.cmd_id is None


def test_snapshot_use_yes_price_reads_no_side_on_the_yes_scale() -> None:
    snap = parse_message(frame("orderbook/snapshot_both_sides"), T, use_yes_price=True)
    assert snap.yes_asks == ((5400, 2000), (5600, 14600))
    assert snap.yes_bids == ((2200, 33300), (800, 30000))


def test_observed_rest_example_best_ask_is_one_minus_no_bid() -> None:
    # NOTES §3.3 [obs]: yes [["0.4700","3.00"]], no [["0.4800","3.00"]] -> best YES bid 0.47, best YES ask 0.52.
    snap = parse_message(frame("orderbook/snapshot_get_snapshot_reply"), T)
    assert snap.yes_bids == ((4700, 300),)
    assert snap.yes_asks == ((5200, 300),)
    assert snap.cmd_id == 7


def test_snapshot_omitted_sides_are_empty() -> None:
    one = parse_message(frame("orderbook/snapshot_no_side_omitted"), T)
    assert one.yes_bids == ((4700, 300), (4500, 1250)) and one.yes_asks == ()
    empty = parse_message(frame("orderbook/snapshot_empty_book"), T)
    assert empty.yes_bids == () and empty.yes_asks == ()


def test_snapshot_subpenny_levels_and_zero_levels_dropped() -> None:
    raw = frame("orderbook/snapshot_subpenny")
    raw["msg"]["yes_dollars_fp"].append(["0.0200", "0.00"])
    snap = parse_message(raw, T)
    assert snap.yes_bids == ((100, 25025), (55, 100000))
    assert snap.yes_asks == ((150, 4000),)


def test_snapshot_sorts_whatever_the_wire_order() -> None:
    raw = frame("orderbook/snapshot_both_sides")
    raw["msg"]["yes_dollars_fp"].reverse()
    raw["msg"]["no_dollars_fp"].reverse()
    assert parse_message(raw, T) == parse_message(frame("orderbook/snapshot_both_sides"), T)


def test_delta_yes_side() -> None:
    d = parse_message(frame("orderbook/delta_yes_remove"), T)
    assert d == OrderbookDelta(2, 3, "FED-23DEC-T3.00", BookSide.BID, 9600, -5400, None, 1669149841000, T)


def test_delta_no_side_both_conventions_and_own_order() -> None:
    d = parse_message(frame("orderbook/delta_no_add_own_order"), T)
    assert (d.side, d.price_e4, d.delta_e2) == (BookSide.ASK, 4600, 1000)
    assert d.client_order_id == "mm-FED-23DEC-T3.00-000017"
    d_yes = parse_message(frame("orderbook/delta_no_add_own_order"), T, use_yes_price=True)
    assert (d_yes.side, d_yes.price_e4) == (BookSide.ASK, 5400)


def test_delta_without_optional_fields() -> None:
    d = parse_message(frame("orderbook/delta_minimal"), T)
    assert (d.price_e4, d.delta_e2, d.client_order_id, d.ts_ms) == (2200, 50, None, None)


def test_rest_orderbook_body_becomes_a_snapshot() -> None:
    body = {"yes_dollars": [["0.4700", "3.00"]], "no_dollars": [["0.4800", "3.00"], ["0.4000", "1.00"]]}
    snap = orderbook_snapshot_from_rest("T1", body, T)
    assert snap == OrderbookSnapshot(None, None, "T1", None, ((4700, 300),), ((5200, 300), (6000, 100)), None, T)


# --- other channels ---------------------------------------------------------------------------------------------


def test_ticker() -> None:
    t = parse_message(frame("market_data/ticker"), T)
    assert t == TickerUpdate(
        11,
        "FED-23DEC-T3.00",
        "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",
        4800,
        4500,
        5300,
        30000,
        15000,
        2500,
        3389600,
        2042200,
        16948,
        10211,
        1669149841000,
        T,
    )


def test_ticker_empty_sides_read_as_none() -> None:
    t = parse_message(frame("market_data/ticker_empty_sides"), T)
    assert (t.yes_bid_e4, t.yes_ask_e4, t.last_price_e4) == (None, None, 0)


def test_trade_direction_and_prices() -> None:
    t = parse_message(frame("market_data/trade"), T)
    assert (t.trade_id, t.yes_price_e4, t.no_price_e4, t.count_e2) == (
        "d91bc706-ee49-470d-82d8-11418bda6fed",
        3600,
        6400,
        13600,
    )
    assert (t.taker_side, t.is_block_trade, t.seq) == (BookSide.ASK, False, 2)
    assert parse_message(frame("market_data/trade_taker_bid"), T).taker_side is BookSide.BID


def test_trade_direction_falls_back_to_older_fields() -> None:
    raw = frame("market_data/trade")
    for key in ("taker_book_side", "taker_outcome_side"):  # newest first; the deprecated taker_side remains
        del raw["msg"][key]
        assert parse_message(raw, T).taker_side is BookSide.ASK
    del raw["msg"]["taker_side"]
    assert parse_message(raw, T).taker_side is None  # direction unknown, the trade is still usable


def test_fill_units_and_fee_rounding() -> None:
    f = parse_message(frame("private/fill"), T)
    assert (f.fill_id, f.order_id, f.client_order_id) == (
        "d91bc706-ee49-470d-82d8-11418bda6fed",
        "ee587a1c-8b87-4dcf-b721-9f6f790619fa",
        "my-order-1",
    )
    assert (f.side, f.is_taker, f.yes_price_e4, f.count_e2, f.fee_e4, f.post_position_e2) == (
        BookSide.BID,
        True,
        7500,
        27800,
        100,
        50000,
    )
    maker = parse_message(frame("private/fill_maker_ask_subcent_fee"), T)
    assert (maker.side, maker.is_taker, maker.fee_e4, maker.post_position_e2) == (BookSide.ASK, False, 18, -1000)


@pytest.mark.parametrize(
    ("side", "action", "expected"),
    [
        ("yes", "buy", BookSide.BID),
        ("no", "sell", BookSide.BID),
        ("no", "buy", BookSide.ASK),
        ("yes", "sell", BookSide.ASK),
    ],
)
def test_fill_legacy_direction(side: str, action: str, expected: BookSide) -> None:
    raw = frame("private/fill")
    for key in ("book_side", "outcome_side"):
        del raw["msg"][key]
    raw["msg"].update(side=side, action=action)
    assert parse_message(raw, T).side is expected


def test_fill_without_any_direction_is_rejected() -> None:
    raw = frame("private/fill")
    for key in ("book_side", "outcome_side", "side", "action"):
        del raw["msg"][key]
    with pytest.raises(WireMessageError) as info:
        parse_message(raw, T)
    assert (info.value.message_type, info.value.field) == ("fill", "book_side")


def test_market_position_money_rounding() -> None:
    p = parse_message(frame("private/market_position"), T)
    assert (p.position_e2, p.position_cost_e4, p.realized_pnl_e4, p.fees_paid_e4) == (10000, 500000, 100000, 10000)
    assert (p.position_fee_cost_e4, p.volume_e2, p.subaccount) == (5000, 1500, None)
    short = parse_message(frame("private/market_position_short"), T)
    # 6-decimal wire values: costs and fees round up, P&L rounds down (never overstates what we have).
    assert (short.position_e2, short.position_cost_e4, short.realized_pnl_e4, short.fees_paid_e4) == (
        -1250,
        78125,
        -1235,
        877,
    )


def test_user_order_states() -> None:
    o = parse_message(frame("private/user_order"), T)
    assert (o.order_id, o.market_ticker, o.status, o.side, o.yes_price_e4) == (
        "ee587a1c-8b87-4dcf-b721-9f6f790619fa",
        "FED-23DEC-T3.00",
        "resting",
        BookSide.BID,
        3500,
    )
    assert (o.initial_count_e2, o.fill_count_e2, o.remaining_count_e2, o.order_group_id) == (1000, 0, 1000, "og_123")
    assert (o.created_ts_ms, o.expiration_ts_ms, o.last_updated_ts_ms, o.is_terminal) == (
        1733047200000,
        1733050800000,
        None,
        False,
    )
    c = parse_message(frame("private/user_order_canceled"), T)
    assert (c.status, c.is_terminal, c.last_update_reason, c.maker_fill_cost_e4, c.maker_fees_e4) == (
        "canceled",
        True,
        "PostOnlyCrossCancel",
        14000,
        44,
    )


def test_order_group_updates() -> None:
    g = parse_message(frame("private/order_group_limit_updated"), T)
    assert g == OrderGroupMsg(21, 7, "limit_updated", "og_123", 15000, 1733047200000, T)
    assert parse_message(frame("private/order_group_triggered"), T).contracts_limit_e2 is None


def test_lifecycle_messages() -> None:
    created = parse_message(frame("lifecycle/market_created"), T)
    assert (created.event_type, created.market_ticker, created.event_ticker) == (
        "created",
        "INXD-23SEP14-B4487",
        "INXD-23SEP14",
    )
    assert (created.open_ts, created.close_ts, created.price_level_structure) == (1694635200, 1694721600, "linear_cent")
    assert created.fields["additional_metadata"]["floor_strike"] == 4487
    with pytest.raises(TypeError):
        created.fields["event_type"] = "x"  # type: ignore[index]
    plsu = parse_message(frame("lifecycle/price_level_structure_updated"), T)
    assert plsu.price_grid == PriceGrid.deci_cent()
    determined = parse_message(frame("lifecycle/determined"), T)
    assert (determined.result, determined.settlement_value_e4, determined.determination_ts) == (
        "yes",
        10000,
        1694721700,
    )
    assert parse_message(frame("lifecycle/deactivated"), T).is_deactivated is True
    event = parse_message(frame("lifecycle/event_created"), T)
    assert (event.message_type, event.event_type, event.market_ticker, event.event_ticker) == (
        "event_lifecycle",
        "event_lifecycle",
        None,
        "KXQUICKSETTLE-26JAN25H2150",
    )
    fee = parse_message(frame("lifecycle/event_fee_override_set"), T)
    assert (fee.event_type, fee.fields["fee_type_override"]) == ("event_fee_update", "quadratic")


# --- control messages -------------------------------------------------------------------------------------------


def test_control_messages() -> None:
    assert parse_message(frame("control/subscribed"), T) == Subscribed(1, "orderbook_delta", 1, T)
    assert parse_message(frame("control/unsubscribed"), T) == Unsubscribed(3, 2, 7, T)
    assert parse_message(frame("control/ok_update"), T) == Ok(
        123, 456, 222, ("MARKET-1", "MARKET-2", "MARKET-3"), None, T
    )
    listed = parse_message(frame("control/ok_list_subscriptions"), T)
    assert listed.subscriptions == (("orderbook_delta", 1), ("ticker", 2), ("fill", 3))
    assert listed.market_tickers is None


def test_error_messages_and_terminal_codes() -> None:
    unknown = parse_message(frame("control/error_unknown_channel"), T)
    assert (unknown.cmd_id, unknown.code, unknown.message, unknown.terminal) == (124, 8, "Unknown channel name", False)
    overflow = parse_message(frame("control/error_buffer_overflow"), T)
    assert (overflow.code, overflow.sid, overflow.seq, overflow.terminal) == (25, 2, 41, True)
    assert overflow.market_tickers == ("FED-23DEC-T3.00",)
    channel = parse_message(frame("control/error_channel"), T)
    assert (channel.terminal, channel.market_tickers) == (True, ("KXHIGHNY-26JAN01-B53.5",))


def test_unknown_type_keeps_sid_and_seq() -> None:
    raw = {"type": "communications", "sid": 9, "seq": 4, "msg": {"rfq_id": "x"}}
    assert parse_message(raw, T) == UnknownMsg("communications", 9, 4, T)


def test_channel_name_map() -> None:
    assert internal_channel("trade") == "trades"
    assert internal_channel("market_positions") == "positions"
    assert internal_channel("market_lifecycle_v2") == "lifecycle"
    assert all(kalshi_channel(internal_channel(c)) == c for c in CHANNEL_TO_INTERNAL)
    assert set(INTERNAL_TO_CHANNEL.values()) == set(CHANNEL_TO_INTERNAL)
    with pytest.raises(KeyError, match="trades"):
        internal_channel("trades")


def test_messages_are_immutable() -> None:
    d = parse_message(frame("orderbook/delta_minimal"), T)
    with pytest.raises(AttributeError):
        d.price_e4 = 1  # type: ignore[misc]


# --- leniency and strictness ------------------------------------------------------------------------------------


def test_unknown_and_missing_deprecated_fields_are_tolerated() -> None:
    raw = frame("market_data/ticker")
    for key in ("ts", "time", "market_id", "dollar_volume"):
        del raw["msg"][key]
    raw["msg"]["brand_new_field"] = {"x": 1}
    raw["msg"]["ts_ms"] = "not-an-int"
    t = parse_message(raw, T)
    assert (t.market_id, t.dollar_volume, t.ts_ms, t.yes_bid_e4) == (None, None, None, 4500)


@pytest.mark.parametrize(
    ("key", "field", "value"),
    [
        ("orderbook/delta_minimal", "price_dollars", None),
        ("orderbook/delta_minimal", "price_dollars", "abc"),
        ("orderbook/delta_minimal", "price_dollars", "1.5000"),
        ("orderbook/delta_minimal", "price_dollars", "0.00001"),
        ("orderbook/delta_minimal", "price_dollars", ["0.5"]),
        ("orderbook/delta_minimal", "price_dollars", 0.5),
        ("orderbook/delta_minimal", "price_dollars", "0.0000"),
        ("orderbook/delta_minimal", "delta_fp", None),
        ("orderbook/delta_minimal", "delta_fp", "1.234"),
        ("orderbook/delta_minimal", "delta_fp", {"x": 1}),
        ("orderbook/delta_minimal", "side", "maybe"),
        ("market_data/ticker", "yes_bid_dollars", None),
        ("market_data/ticker", "volume_fp", "-1.00"),
        ("market_data/trade", "count_fp", "lots"),
        ("private/fill", "fee_cost", None),
        ("private/fill", "yes_price_dollars", "0.75000001"),
        ("private/fill", "post_position_fp", "x"),
        ("private/market_position", "position_fp", None),
        ("private/market_position", "realized_pnl_dollars", "1e3"),
        ("private/user_order", "yes_price_dollars", None),
        ("private/user_order", "remaining_count_fp", "ten"),
        ("private/order_group_limit_updated", "contracts_limit_fp", "1.0.0"),
        ("lifecycle/determined", "settlement_value", "2.0000"),
        ("lifecycle/price_level_structure_updated", "price_ranges", [{"start": "0.5"}]),
    ],
)
def test_money_is_strict(key: str, field: str, value: object) -> None:
    raw = frame(key)
    if value is None:
        del raw["msg"][field]
    else:
        raw["msg"][field] = value
    with pytest.raises(WireMessageError) as info:
        parse_message(raw, T)
    assert info.value.message_type == raw["type"]
    assert info.value.field == field
    assert raw["type"] in str(info.value) and field in str(info.value)


def test_no_side_level_at_zero_no_price_is_rejected() -> None:
    # A NO bid at $0 would be a YES ask at $1: no such book level exists.
    raw = frame("orderbook/delta_no_add_own_order")
    raw["msg"]["price_dollars"] = "0.0000"
    with pytest.raises(WireMessageError, match="price_dollars"):
        parse_message(raw, T)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: m["msg"]["yes_dollars_fp"].append(["0.0800", "1.00"]), "yes_dollars_fp[2]"),
        (lambda m: m["msg"]["no_dollars_fp"].append(["0.5000"]), "no_dollars_fp[2]"),
        (lambda m: m["msg"]["no_dollars_fp"].append(["0.5000", "-1.00"]), "no_dollars_fp[2][1]"),
        (lambda m: m["msg"]["yes_dollars_fp"].append(["x", "1.00"]), "yes_dollars_fp[2][0]"),
        (lambda m: m["msg"].__setitem__("yes_dollars_fp", "0.5"), "yes_dollars_fp"),
        (lambda m: m.pop("seq"), "seq"),
        (lambda m: m["msg"].pop("market_ticker"), "market_ticker"),
    ],
)
def test_snapshot_strictness(mutate: Any, field: str) -> None:
    raw = frame("orderbook/snapshot_both_sides")
    mutate(raw)
    with pytest.raises(WireMessageError) as info:
        parse_message(raw, T)
    assert info.value.field == field


@pytest.mark.parametrize("drop", ["sid", "seq", "msg"])
def test_delta_requires_envelope(drop: str) -> None:
    raw = frame("orderbook/delta_minimal")
    del raw[drop]
    with pytest.raises(WireMessageError, match=drop):
        parse_message(raw, T)


@pytest.mark.parametrize("raw", [[], "text", {"sid": 1}, {"type": 5}])
def test_frames_without_a_type_are_rejected(raw: Any) -> None:
    with pytest.raises(WireMessageError):
        parse_message(raw, T)
