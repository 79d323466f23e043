"""The REST response parsers on hostile bodies: a typed result in internal units, or a WireError whose message
names the object and the field. Never a bare KeyError/TypeError/ValueError/OverflowError; never a float where an
exact int belongs, never a non-finite time. Error bodies of any shape map to an ApiError."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_mm.api import wire, wire_portfolio
from kalshi_mm.api.errors import ApiError, WireError, classify_item_error, classify_response, parse_error_body
from kalshi_mm.api.types import BookSide, OrderRequest

from .fuzz_support import FUZZ, REST_FIXTURES, FuzzStats, json_values, mutated

pytestmark = pytest.mark.fuzz

T = 1_795_000_000.0
REQ = OrderRequest(ticker="KXCPI-26DEC-T3.0", side=BookSide.BID, price_e4=4700, count_e2=100)


def _member(key: str) -> Callable[[Any], Any]:
    return lambda body: body.get(key) if isinstance(body, dict) else body


# Fixture name -> the parser of that response body (as the REST client calls it).
PARSERS: dict[str, Callable[[Any], Any]] = {
    "market": lambda b: wire.parse_market(_member("market")(b), T),
    "market_empty_book": lambda b: wire.parse_market(b, T),
    "orderbook": lambda b: wire.parse_orderbook(b, "KXCPI-26DEC-T3.0", T),
    "trade": wire.parse_trade,
    "series": lambda b: wire.parse_series(_member("series")(b)),
    "order": lambda b: wire_portfolio.parse_order(b, T),
    "fill": wire_portfolio.parse_fill,
    "fill_legacy_sides_only": wire_portfolio.parse_fill,
    "positions": lambda b: wire_portfolio.parse_positions(b, T),
    "settlement": wire_portfolio.parse_settlement,
    "balance": lambda b: wire_portfolio.parse_balance(b, T),
    "create_ack": lambda b: wire_portfolio.parse_order_ack(b, BookSide.ASK, "kmm-abc"),
    "batch_create": lambda b: wire_portfolio.parse_batch_create(b, [(REQ, "c-1"), (REQ, "c-2")], "/batched"),
}
# Parsers without a fixture of their own, fed mutated fixtures of every kind and arbitrary JSON.
EXTRA: dict[str, Callable[[Any], Any]] = {
    "event": lambda b: wire.parse_event(b, T),
    "candlesticks": lambda b: wire.parse_candlesticks(b, "KX"),
    "exchange_status": lambda b: wire.parse_exchange_status(b, T),
    "order_group": wire_portfolio.parse_order_group,
    "cancel_ack": wire_portfolio.parse_cancel_ack,
    "decrease_ack": wire_portfolio.parse_decrease_ack,
    "batch_cancel": lambda b: wire_portfolio.parse_batch_cancel(b, ["o-1", "o-2"], "/batched"),
}
assert set(PARSERS) == set(REST_FIXTURES), "a new REST fixture needs its parser here"

# "<object> <id>: <field>: <problem>" (or "<object>: <problem>" for whole-body problems such as a batch's length);
# the id is the server's and may hold anything, colons included.
_NAMED = re.compile(r"^[a-z]+.*?: \S", re.S)


def _check(value: Any) -> None:
    """Exact units all the way down: *_e4/*_e2 are ints (never bool/float), *_ts finite floats."""
    if isinstance(value, tuple | list):
        for item in value:
            _check(item)
        return
    if not dataclasses.is_dataclass(value):
        return
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if f.name.endswith(("_e4", "_e2")):
            assert item is None or type(item) is int, (f.name, item)
            assert item is None or abs(item) < 10**20, (f.name, item)
        elif f.name.endswith("_ts"):
            assert item is None or (type(item) is float and math.isfinite(item)), (f.name, item)
        else:
            _check(item)


def _run(target: str, parse: Callable[[Any], Any], body: Any, stats: FuzzStats) -> None:
    try:
        result = parse(body)
    except WireError as exc:
        stats.case(target, rejected=True)
        assert _NAMED.match(str(exc)), str(exc)
        return
    stats.case(target)
    _check(result)


@FUZZ
@given(named=mutated(REST_FIXTURES))
def test_mutated_bodies_parse_or_raise_wire_error(named: tuple[str, Any], fuzz_stats: FuzzStats) -> None:
    name, body = named
    _run("rest parsers (mutated fixtures)", PARSERS[name], body, fuzz_stats)


@FUZZ
@given(
    parser=st.sampled_from(sorted({**PARSERS, **EXTRA})),
    body=st.one_of(json_values, mutated(REST_FIXTURES).map(lambda named: named[1])),
)
def test_any_body_through_any_parser_parses_or_raises_wire_error(parser: str, body: Any, fuzz_stats: FuzzStats) -> None:
    _run("rest parsers (any body)", {**PARSERS, **EXTRA}[parser], body, fuzz_stats)


@FUZZ
@given(
    status=st.integers(100, 599),
    body=st.one_of(
        json_values,
        st.text(max_size=60),
        st.binary(max_size=60),
        # What the transport hands over when a body is not JSON: nesting too deep, a 5,000-digit number, ...
        st.sampled_from(["[" * 50_000, "1" * 5000, '{"error": {"code": NaN}}', "<html>502</html>", b"\xff{"]),
    ),
)
def test_error_bodies_of_any_shape_map_to_an_api_error(status: int, body: Any, fuzz_stats: FuzzStats) -> None:
    fuzz_stats.case("rest error bodies", rejected=True)  # every one becomes a typed ApiError
    parse_error_body(body)
    error = classify_response(status, body, method="GET", path="/x")
    assert isinstance(error, ApiError) and error.status == status
    if not isinstance(body, bytes):
        assert isinstance(classify_item_error(body, method="POST", path="/x"), ApiError)
