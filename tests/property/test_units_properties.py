"""Hypothesis properties of the exact-units module: round trips, grid snapping, direction, YES/NO symmetry."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from kalshi_mm.units import (
    ONE_DOLLAR,
    PriceBand,
    PriceGrid,
    Rounding,
    format_count,
    format_dollars,
    format_price,
    no_price,
    parse_cash,
    parse_count,
    parse_price,
    parse_signed_count,
    price_from_float,
    yes_price,
)

NAMED_GRIDS = [PriceGrid.linear_cent(), PriceGrid.tapered_deci_cent(), PriceGrid.deci_cent()]

prices = st.integers(min_value=0, max_value=ONE_DOLLAR)
any_price_units = st.integers(min_value=-2 * ONE_DOLLAR, max_value=3 * ONE_DOLLAR)


@st.composite
def random_grids(draw: st.DrawFn) -> PriceGrid:
    """Contiguous bands covering [0, 1] with steps that divide their band, like Kalshi's structures."""
    steps = [1, 5, 10, 50, 100, 500]
    cuts = sorted(set(draw(st.lists(st.integers(1, 99), max_size=4)))) or []
    edges = [0, *[c * 100 for c in cuts], ONE_DOLLAR]
    bands = []
    for lo, hi in pairwise(edges):
        step = draw(st.sampled_from([s for s in steps if (hi - lo) % s == 0]))
        bands.append(PriceBand(lo, hi, step))
    return PriceGrid(bands)


grids = st.one_of(st.sampled_from(NAMED_GRIDS), random_grids())


@given(prices)
def test_price_round_trip(p: int) -> None:
    assert parse_price(format_price(p)) == p


@given(st.integers(min_value=0, max_value=10**9))
def test_count_round_trip(c: int) -> None:
    assert parse_count(format_count(c)) == c


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_signed_count_and_cash_round_trip(x: int) -> None:
    assert parse_signed_count(format_count(x)) == x
    assert parse_cash(format_dollars(x)) == x


@given(prices)
def test_yes_no_conversion_is_an_involution(p: int) -> None:
    assert yes_price(no_price(p)) == p
    assert no_price(p) + p == ONE_DOLLAR


@given(grids, any_price_units, st.sampled_from(list(Rounding)))
def test_snap_lands_on_grid_inside_open_interval_in_direction(grid: PriceGrid, p: int, rounding: Rounding) -> None:
    snapped = grid.snap(p, rounding)
    if snapped is None:
        # Only allowed when nothing valid lies in that direction.
        if rounding is Rounding.DOWN:
            assert p < grid.min_price
        else:
            assert p > grid.max_price
        return
    assert grid.contains(snapped)
    assert 0 < snapped < ONE_DOLLAR
    if rounding is Rounding.DOWN:
        assert snapped <= p
        assert grid.tick_above(snapped) is None or grid.tick_above(snapped) > p  # nearest from below
    else:
        assert snapped >= p
        assert grid.tick_below(snapped) is None or grid.tick_below(snapped) < p  # nearest from above


@given(grids, prices)
def test_on_grid_price_is_fixed_point_of_snapping(grid: PriceGrid, p: int) -> None:
    if grid.contains(p):
        assert grid.snap(p, Rounding.DOWN) == p == grid.snap(p, Rounding.UP)


@given(grids)
def test_grid_wire_round_trip(grid: PriceGrid) -> None:
    assert PriceGrid.from_wire(grid.to_wire()) == grid


@given(st.floats(min_value=-2.0, max_value=3.0, allow_nan=False))
def test_price_from_float_respects_direction(x: float) -> None:
    down, up = price_from_float(x, Rounding.DOWN), price_from_float(x, Rounding.UP)
    assert down <= up <= down + 1
    assert down / ONE_DOLLAR <= x + 1e-12 and up / ONE_DOLLAR >= x - 1e-12
