"""Exact units: wire-string parsing, malformed input, grid structures from Kalshi's documentation."""

from __future__ import annotations

import pytest

from kalshi_mm.units import (
    PriceGrid,
    Rounding,
    UnitError,
    format_count,
    format_price,
    parse_cash,
    parse_config_dollars,
    parse_count,
    parse_price,
    parse_signed_count,
)


@pytest.mark.parametrize(
    ("text", "units"),
    [("0.4700", 4700), ("0.47", 4700), ("0.0055", 55), ("1.0000", 10000), ("0.0000", 0), ("0.1", 1000)],
)
def test_parse_price_wire_strings(text: str, units: int) -> None:
    assert parse_price(text) == units


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "abc",
        "0.47000",
        "-0.10",
        "+0.10",
        "1.0001",
        "2",
        "0.4e1",
        " 0.47",
        "nan",
        "inf",
        "0,47",
        None,
        0.47,
        47,
    ],
)
def test_parse_price_rejects_malformed(bad: object) -> None:
    with pytest.raises(UnitError):
        parse_price(bad, "yes_bid_dollars")


def test_error_names_the_field() -> None:
    with pytest.raises(UnitError, match="yes_bid_dollars"):
        parse_price("0.12345", "yes_bid_dollars")


@pytest.mark.parametrize(("text", "units"), [("10.00", 1000), ("3", 300), ("0.5", 50), ("0.01", 1)])
def test_parse_count(text: str, units: int) -> None:
    assert parse_count(text) == units


@pytest.mark.parametrize("bad", ["-1.00", "1.001", "ten", "", "1e3"])
def test_parse_count_rejects(bad: str) -> None:
    with pytest.raises(UnitError):
        parse_count(bad)


def test_signed_count_and_formats() -> None:
    assert parse_signed_count("-12.50") == -1250
    assert format_count(-1250) == "-12.50"
    assert format_count(1000) == "10.00"
    assert format_price(55) == "0.0055"
    with pytest.raises(UnitError):
        format_price(10001)
    with pytest.raises(UnitError):
        format_price(True)  # a bool is never a price


def test_cash_with_six_decimals_needs_explicit_rounding() -> None:
    assert parse_cash("0.012300") == 123  # zero excess digits are exact
    with pytest.raises(UnitError):
        parse_cash("0.012345")
    assert parse_cash("0.012345", rounding=Rounding.UP) == 124
    assert parse_cash("0.012345", rounding=Rounding.DOWN) == 123
    assert parse_cash("-0.012345", rounding=Rounding.DOWN) == -124
    with pytest.raises(UnitError):
        parse_cash("-1.00", allow_negative=False)


def test_config_dollars_exact() -> None:
    assert parse_config_dollars(0.02) == 200
    assert parse_config_dollars(60) == 600000
    assert parse_config_dollars("0.0055") == 55
    for bad in (0.00001, "x", float("nan"), True, None):
        with pytest.raises(UnitError):
            parse_config_dollars(bad)


def test_grid_structures_match_kalshi_descriptions() -> None:
    linear, tapered, deci = PriceGrid.linear_cent(), PriceGrid.tapered_deci_cent(), PriceGrid.deci_cent()
    assert (linear.min_price, linear.max_price) == (100, 9900)
    assert (tapered.min_price, tapered.max_price) == (10, 9990)
    assert tapered.contains(550) and not tapered.contains(5550) and tapered.contains(5500)
    assert deci.contains(5550) and not deci.contains(5555)
    # tapered: sub-cent ticks only in the tails
    assert tapered.snap(4755, Rounding.DOWN) == 4700 and tapered.snap(4755, Rounding.UP) == 4800
    assert tapered.snap(955, Rounding.DOWN) == 950 and tapered.snap(955, Rounding.UP) == 960
    # never $0 or $1: nothing below the first tick for a bid, nothing above the last for an ask
    assert linear.snap(50, Rounding.DOWN) is None and linear.snap(50, Rounding.UP) == 100
    assert linear.snap(9950, Rounding.UP) is None and linear.snap(9950, Rounding.DOWN) == 9900


def test_grid_from_wire_and_errors() -> None:
    wire = [{"start": "0.0000", "end": "1.0000", "step": "0.0010"}]
    assert PriceGrid.from_wire(wire) == PriceGrid.deci_cent()
    with pytest.raises(UnitError, match=r"price_ranges\[0\]: missing step"):
        PriceGrid.from_wire([{"start": "0.0000", "end": "1.0000"}])
    with pytest.raises(UnitError):
        PriceGrid.from_wire([])
    with pytest.raises(UnitError):
        PriceGrid.from_wire([{"start": "0.5000", "end": "0.4000", "step": "0.0100"}])
    with pytest.raises(UnitError):
        PriceGrid.from_wire("0.01")
