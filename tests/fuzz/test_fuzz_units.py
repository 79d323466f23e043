"""units.py's wire parsers on hostile input: every value is either a plain int in range or a UnitError (a
ValueError naming the field), never another exception, never a float, never a value out of range."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_mm.units import (
    ONE_DOLLAR,
    PriceGrid,
    Rounding,
    UnitError,
    parse_cash,
    parse_count,
    parse_price,
    parse_signed_count,
)

from .fuzz_support import FUZZ, FuzzStats, hostile_scalars, json_values

pytestmark = pytest.mark.fuzz

# Strings shaped like decimals (the interesting region: signs, lengths, precision), near misses, anything at all.
decimal_like = st.from_regex(r"\A[+-]?[0-9]{1,16}(\.[0-9]{0,7})?\Z")
near_misses = st.from_regex(r"\A[+-]?[0-9\u0660-\u0669]{0,18}(\.[0-9]{0,8})?[\n ]?\Z")
plain = st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{0,4})?\Z")
wire_values = st.one_of(plain, decimal_like, near_misses, hostile_scalars, json_values)
prices = st.integers(0, ONE_DOLLAR).map(lambda p: f"{p // ONE_DOLLAR}.{p % ONE_DOLLAR:04d}")

PARSERS = {
    "price": (parse_price, 0, ONE_DOLLAR),
    "count": (parse_count, 0, None),
    "signed_count": (parse_signed_count, None, None),
    "cash_up": (lambda v, f: parse_cash(v, f, rounding=Rounding.UP), None, None),
    "cash_exact": (parse_cash, None, None),
}


@FUZZ
@given(name=st.sampled_from(sorted(PARSERS)), value=wire_values)
def test_wire_numbers_parse_to_ints_in_range_or_raise_unit_error(name: str, value: Any, fuzz_stats: FuzzStats) -> None:
    parse, lo, hi = PARSERS[name]
    try:
        result = parse(value, "the_field")
    except UnitError as exc:
        fuzz_stats.case("units.parse_*", rejected=True)
        assert "the_field" in str(exc)  # the error names the field
        return
    fuzz_stats.case("units.parse_*")
    assert type(result) is int
    assert isinstance(value, str) and value.isascii() and "\n" not in value
    assert abs(result) < 10**20  # fits SQLite's 64-bit integers with room to spare
    assert lo is None or result >= lo
    assert hi is None or result <= hi


@pytest.mark.parametrize(
    "text",
    [
        "\u0660.\u0665",  # Arabic-Indic "0.5": \d in the old pattern took it
        "0.5000\n",  # $ in the old pattern let a trailing newline through
        "1" * 5000,  # int() raised a plain ValueError past 4,300 digits
        "9" * 15,  # 10^15 contracts or dollars: nothing real, and it would overflow SQLite once scaled
    ],
)
def test_regressions_found_by_fuzzing_are_unit_errors(text: str) -> None:
    for parse in (parse_price, parse_count, parse_signed_count, parse_cash):
        with pytest.raises(UnitError, match="the_field"):
            parse(text, "the_field")


@FUZZ
@given(
    ranges=st.one_of(
        json_values,
        st.lists(st.fixed_dictionaries({"start": prices, "end": prices, "step": prices}), max_size=4),
        st.lists(
            st.dictionaries(st.sampled_from(["start", "end", "step"]), st.one_of(prices, wire_values)), max_size=4
        ),
    )
)
def test_price_grid_from_wire_is_a_grid_or_a_unit_error(ranges: Any, fuzz_stats: FuzzStats) -> None:
    try:
        grid = PriceGrid.from_wire(ranges)
    except UnitError:
        fuzz_stats.case("units.PriceGrid.from_wire", rejected=True)
        return
    fuzz_stats.case("units.PriceGrid.from_wire")
    assert 0 < grid.min_price <= grid.max_price < ONE_DOLLAR
