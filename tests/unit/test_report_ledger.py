"""The report's FIFO ledger (kalshi_mm/report/ledger.py): exact integer P&L over YES-leg fills."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_mm.report.ledger import (
    Fill,
    Lot,
    MarkedPoint,
    RoundTrip,
    div_round,
    e6_to_e4,
    mark_from_book,
    marked_path,
    replay,
)
from kalshi_mm.units import Rounding


def buy(price_e4: int, count_e2: int, fee_e4: int = 0, ts: float = 0.0) -> Fill:
    return Fill(ts, True, price_e4, count_e2, fee_e4)


def sell(price_e4: int, count_e2: int, fee_e4: int = 0, ts: float = 0.0) -> Fill:
    return Fill(ts, False, price_e4, count_e2, fee_e4)


def test_a_round_trip_realizes_the_spread_and_leaves_nothing_open() -> None:
    ledger = replay([buy(4000, 100, ts=1), sell(4700, 100, ts=2)])
    assert ledger.realized_gross_e6 == 700 * 100  # $0.07 on one contract
    assert e6_to_e4(ledger.realized_gross_e6) == 700
    assert ledger.position_e2 == 0 and ledger.open_lots == ()
    assert ledger.round_trips == (RoundTrip(1, 2, True, 4000, 4700, 100),)
    assert ledger.round_trips[0].captured_e4 == 700
    assert ledger.cash_flow_e6 == (4700 - 4000) * 100
    assert ledger.unrealized_e6(1234) == 0


def test_partial_closes_take_the_oldest_lot_first() -> None:
    ledger = replay([buy(4000, 200, ts=1), buy(5000, 100, ts=2), sell(4500, 100, ts=3), sell(6000, 150, ts=4)])
    # sell 1 @ .45 closes 1 of the .40 lot; sell 1.5 @ .60 closes the other .40 contract, then 0.5 of the .50 lot.
    assert [(rt.buy_price_e4, rt.sell_price_e4, rt.count_e2) for rt in ledger.round_trips] == [
        (4000, 4500, 100),
        (4000, 6000, 100),
        (5000, 6000, 50),
    ]
    assert ledger.realized_gross_e6 == 500 * 100 + 2000 * 100 + 1000 * 50
    assert ledger.open_lots == (Lot(2, True, 5000, 50),)
    assert ledger.position_e2 == 50
    assert ledger.matched_e2 == 250
    assert ledger.max_abs_position_e2 == 300
    assert [p.position_e2 for p in ledger.path] == [200, 300, 200, 50]
    # The open half contract bought at .50, marked at .55: +$0.025.
    assert ledger.unrealized_e6(5500) == 500 * 50


def test_a_fill_through_zero_closes_the_long_and_opens_a_short() -> None:
    fills = [buy(4000, 200, fee_e4=14, ts=1), sell(4500, 500, fee_e4=30, ts=2)]
    ledger = replay(fills)
    assert ledger.round_trips == (RoundTrip(1, 2, True, 4000, 4500, 200),)
    assert ledger.open_lots == (Lot(2, False, 4500, 300),)
    assert ledger.position_e2 == -300
    assert ledger.max_abs_position_e2 == 300
    assert ledger.realized_gross_e6 == 500 * 200
    # A short gains when the mark falls below its price.
    assert ledger.unrealized_e6(4000) == 500 * 300
    assert ledger.unrealized_e6(5000) == -500 * 300
    # Then short -> long: buy 4 at .42 closes the 3 short at .45 and opens 1 long.
    ledger = replay([*fills, buy(4200, 400, ts=3)])
    assert ledger.round_trips[-1] == RoundTrip(2, 3, False, 4200, 4500, 300)
    assert ledger.open_lots == (Lot(3, True, 4200, 100),)
    assert ledger.realized_gross_e6 == 500 * 200 + 300 * 300
    assert [p.position_e2 for p in ledger.path] == [200, -300, 100]


def test_fees_come_off_realized_including_those_of_open_lots() -> None:
    ledger = replay([buy(4000, 200, fee_e4=14), sell(4700, 100, fee_e4=9)])
    assert ledger.fees_e4 == 23
    assert ledger.realized_gross_e6 == 700 * 100
    assert ledger.realized_net_e6 == 700 * 100 - 23 * 100
    assert ledger.path[-1].fees_e4 == 23


def test_fractional_counts_stay_exact_in_e6_and_round_down_once() -> None:
    ledger = replay([buy(4701, 1), sell(4702, 1)])  # 0.01 contract, $0.0001 apart: $0.000001
    assert ledger.realized_gross_e6 == 1
    assert e6_to_e4(ledger.realized_gross_e6) == 0
    assert e6_to_e4(-1) == -1  # a loss rounds away from zero: P&L is never overstated
    assert e6_to_e4(-100) == -1 and e6_to_e4(250) == 2


def test_empty_ledger() -> None:
    ledger = replay([])
    assert (ledger.fill_count, ledger.position_e2, ledger.realized_gross_e6, ledger.max_abs_position_e2) == (0, 0, 0, 0)
    assert ledger.path == () and ledger.round_trips == ()


@pytest.mark.parametrize(
    ("n", "d", "rounding", "expected"),
    [
        (7, 2, None, 4),
        (5, 2, None, 2),
        (-5, 2, None, -2),
        (-7, 2, None, -4),
        (7, 3, None, 2),
        (8, 3, None, 3),
        (7, 2, Rounding.DOWN, 3),
        (-7, 2, Rounding.DOWN, -4),
        (7, 2, Rounding.UP, 4),
        (-7, 2, Rounding.UP, -3),
        (6, 2, Rounding.UP, 3),
    ],
)
def test_div_round(n: int, d: int, rounding: Rounding | None, expected: int) -> None:
    assert div_round(n, d, rounding) == expected


def test_a_half_tick_mid_is_rounded_against_the_position() -> None:
    assert mark_from_book(4700, 4800, 100) == 4750
    assert mark_from_book(4700, 4701, 100) == 4700  # long: down
    assert mark_from_book(4700, 4701, -100) == 4701  # short: up
    assert mark_from_book(4700, 4701, 0) == 4700


@pytest.mark.parametrize(
    "fill",
    [
        lambda: Fill(0, True, 0, 100),
        lambda: Fill(0, True, 10_000, 100),
        lambda: Fill(0, True, 5000, 0),
        lambda: Fill(0, True, 5000, 100, -1),
    ],
)
def test_impossible_fills_are_refused(fill) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        fill()


def test_marked_path_marks_the_position_at_the_latest_book() -> None:
    ledger = replay([buy(4000, 100, fee_e4=7, ts=10), sell(4600, 100, ts=30)])
    points = marked_path(ledger.path, [(5, 3900, 4100), (20, 4400, 4500)])
    assert points == [
        MarkedPoint(5, 0, 0),  # flat: no mark needed
        MarkedPoint(10, 100, -400_000 - 700 + 100 * 4000),  # bought at .40, marked at the .40 mid
        MarkedPoint(20, 100, -400_000 - 700 + 100 * 4450),
        MarkedPoint(30, 0, 60_000 - 700),
    ]
    # An open position before any book has no mark.
    assert marked_path(ledger.path[:1], [])[0].pnl_e6 is None


fills_strategy = st.lists(
    st.builds(
        Fill,
        ts=st.floats(0, 1e6, allow_nan=False),
        buy=st.booleans(),
        price_e4=st.integers(1, 9999),
        count_e2=st.integers(1, 10_000),
        fee_e4=st.integers(0, 500),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(fills=fills_strategy, mark_e4=st.integers(0, 10_000))
def test_realized_plus_unrealized_is_cash_flow_plus_marked_position_minus_fees(fills: list[Fill], mark_e4: int) -> None:
    ledger = replay(fills)
    cash_e6 = sum(-f.price_e4 * f.count_e2 if f.buy else f.price_e4 * f.count_e2 for f in fills)
    fees_e4 = sum(f.fee_e4 for f in fills)
    position_e2 = sum(f.count_e2 if f.buy else -f.count_e2 for f in fills)
    assert ledger.position_e2 == position_e2
    assert ledger.cash_flow_e6 == cash_e6
    assert ledger.realized_net_e6 + ledger.unrealized_e6(mark_e4) == cash_e6 + position_e2 * mark_e4 - fees_e4 * 100
    # The open lots are all on one side and add up to the position; every contract is matched or open.
    assert len({lot.long for lot in ledger.open_lots}) <= 1
    assert sum(lot.count_e2 if lot.long else -lot.count_e2 for lot in ledger.open_lots) == position_e2
    open_long = sum(lot.count_e2 for lot in ledger.open_lots if lot.long)
    open_short = sum(lot.count_e2 for lot in ledger.open_lots if not lot.long)
    assert ledger.bought_e2 == ledger.matched_e2 + open_long
    assert ledger.sold_e2 == ledger.matched_e2 + open_short
    assert ledger.realized_gross_e6 == sum(rt.pnl_e6 for rt in ledger.round_trips)
    assert ledger.max_abs_position_e2 == max((abs(p.position_e2) for p in ledger.path), default=0)
    assert ledger.max_abs_position_e2 >= abs(position_e2)
