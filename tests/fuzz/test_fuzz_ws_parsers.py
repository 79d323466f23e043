"""The WebSocket message parsers on hostile frames: the result is a typed message whose money fields are exact
ints in range, or a WireMessageError naming the message type and field. Nothing else ever escapes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_mm.api.ws_messages import (
    PARSED_MESSAGE_TYPES,
    LifecycleMsg,
    OrderbookDelta,
    OrderbookSnapshot,
    TickerUpdate,
    UnknownMsg,
    WireMessageError,
    parse_message,
)
from kalshi_mm.units import ONE_DOLLAR

from .fuzz_support import FUZZ, WS_FIXTURES, FuzzStats, hostile_scalars, json_values, mutated

pytestmark = pytest.mark.fuzz

T = 1_795_000_000.0

frames = st.one_of(
    mutated(WS_FIXTURES).map(lambda named: named[1]),
    # An envelope of a known type around anything at all.
    st.fixed_dictionaries(
        {"type": st.sampled_from(sorted(PARSED_MESSAGE_TYPES))},
        optional={"sid": hostile_scalars, "seq": hostile_scalars, "id": hostile_scalars, "msg": json_values},
    ),
    json_values,
)


def _check(msg: Any) -> None:
    """Typed output only: ids are ints (never bools), money is exact ints in range, books are proper books."""
    for name, value in msg._asdict().items():
        if name in ("sid", "seq", "cmd_id") or name.endswith(("_e4", "_e2", "_ms")):
            assert value is None or type(value) is int, (name, value)
        if name.endswith("_price_e4") or name in ("price_e4", "yes_bid_e4", "yes_ask_e4", "settlement_value_e4"):
            assert value is None or 0 <= value <= ONE_DOLLAR, (name, value)
        if name.endswith(("count_e2", "size_e2", "volume_e2", "interest_e2")):
            assert value is None or value >= 0, (name, value)
    assert msg.received_ts == T
    if isinstance(msg, OrderbookSnapshot):
        for levels, best_first in ((msg.yes_bids, True), (msg.yes_asks, False)):
            prices = [p for p, _ in levels]
            assert prices == sorted(prices, reverse=best_first) and len(set(prices)) == len(prices)
            assert all(0 < p < ONE_DOLLAR and type(s) is int and s > 0 for p, s in levels)
    elif isinstance(msg, OrderbookDelta):
        assert 0 < msg.price_e4 < ONE_DOLLAR
    elif isinstance(msg, TickerUpdate):
        assert all(p is None or 0 < p < ONE_DOLLAR for p in (msg.yes_bid_e4, msg.yes_ask_e4))
    elif isinstance(msg, LifecycleMsg):
        assert msg.price_grid is None or 0 < msg.price_grid.min_price <= msg.price_grid.max_price < ONE_DOLLAR
    elif isinstance(msg, UnknownMsg):
        assert type(msg.type) is str and msg.type not in PARSED_MESSAGE_TYPES


@FUZZ
@given(frame=frames, use_yes_price=st.booleans())
def test_hostile_frames_parse_or_name_the_field(frame: Any, use_yes_price: bool, fuzz_stats: FuzzStats) -> None:
    try:
        msg = parse_message(frame, T, use_yes_price=use_yes_price)
    except WireMessageError as exc:
        fuzz_stats.case("ws parse_message", rejected=True)
        assert exc.message_type and exc.field and exc.problem
        assert repr(exc.field) in str(exc)
        return
    fuzz_stats.case("ws parse_message")
    _check(msg)
