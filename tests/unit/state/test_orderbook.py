"""OrderBook: applying snapshots and deltas, derived reads, views; Hypothesis properties."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_mm.api.ws_messages import OrderbookDelta, parse_message
from kalshi_mm.state.orderbook import BookSide, OrderBook, mid_e4, spread_e4
from kalshi_mm.units import ONE_DOLLAR, Rounding, format_count, format_price

BID, ASK = BookSide.BID, BookSide.ASK


def book() -> OrderBook:
    return OrderBook.from_levels("T", [(4700, 300), (4600, 100), (4500, 50)], [(5200, 50), (5300, 10)])


def test_top_of_book_and_derived_reads() -> None:
    b = book()
    assert (b.best_bid, b.best_bid_size, b.best_ask, b.best_ask_size) == (4700, 300, 5200, 50)
    assert b.best_no_bid == 4800  # the NO bid behind the best YES ask
    assert b.spread_e4 == 500
    assert b.mid() == Fraction(4950)
    assert b.mid_e4(Rounding.DOWN) == b.mid_e4(Rounding.UP) == 4950
    assert b.depth(BID, 2) == 400 and b.depth(ASK, 5) == 60 and b.depth(BID, 0) == 0
    assert b.levels(BID, 2) == ((4700, 300), (4600, 100))
    assert b.no_bids() == ((4800, 50), (4700, 10))
    assert b.to_levels() == (((4700, 300), (4600, 100), (4500, 50)), ((5200, 50), (5300, 10)))
    assert len(b) == 5 and not b.crossed and b.consistent


def test_mid_on_a_half_unit_rounds_as_asked() -> None:
    b = OrderBook.from_levels("T", [(4701, 1)], [(4704, 1)])
    assert b.mid() == Fraction(9405, 2)
    assert (b.mid_e4(Rounding.DOWN), b.mid_e4(Rounding.UP)) == (4702, 4703)
    assert mid_e4(None, 10, Rounding.UP) is None and spread_e4(1, None) is None


def test_empty_sides() -> None:
    b = OrderBook("T")
    assert (b.best_bid, b.best_ask, b.best_bid_size, b.mid(), b.spread_e4, b.best_no_bid) == (None,) * 6
    assert b.to_levels() == ((), ())


def test_delta_changes_creates_and_removes_levels() -> None:
    b = book()
    assert b.apply_delta(BID, 4700, -300)  # best bid emptied: the next level is best
    assert (b.best_bid, b.best_bid_size) == (4600, 100)
    assert b.apply_delta(BID, 4800, 25)  # a better bid
    assert (b.best_bid, b.best_bid_size) == (4800, 25)
    assert b.apply_delta(ASK, 5300, 5)
    assert b.size_at(ASK, 5300) == 15
    assert b.apply_delta(ASK, 5200, -50)
    assert b.best_ask == 5300
    assert b.apply_delta(ASK, 5250, 0)  # a zero delta on an absent level stores nothing
    assert b.size_at(ASK, 5250) == 0 and b.levels(ASK) == ((5300, 15),)


def test_negative_level_marks_inconsistent_and_stores_nothing_negative() -> None:
    b = book()
    version = b.version
    assert not b.apply_delta(BID, 4600, -101)
    assert not b.consistent
    assert b.size_at(BID, 4600) == 0 and all(size > 0 for _, size in b.levels(BID))
    assert not b.apply_delta(ASK, 9000, -1)  # removing from a level that is not there at all
    assert b.version > version
    b.apply_snapshot([(4000, 1)], [])
    assert b.consistent and b.to_levels() == (((4000, 1),), ())


def test_crossed_book_is_reported() -> None:
    b = book()
    b.apply_delta(BID, 5200, 10)
    assert b.crossed and b.spread_e4 == 0


@pytest.mark.parametrize(
    ("bids", "asks", "match"),
    [
        ([(4700, -1)], [], "negative"),
        ([(4700, 1), (4700, 2)], [], "twice"),
        ([], [(ONE_DOLLAR, 1)], "inside"),
        ([(0, 1)], [], "inside"),
    ],
)
def test_snapshot_validation(bids: list[tuple[int, int]], asks: list[tuple[int, int]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        OrderBook.from_levels("T", bids, asks)


def test_view_is_an_immutable_copy_with_the_same_reads() -> None:
    b = book()
    v = b.view(sid=3, seq=9, received_ts=12.5)
    b.apply_delta(BID, 4700, -300)
    assert v.best_bid == 4700 and v.yes_bids[0] == (4700, 300)
    assert (v.sid, v.seq, v.received_ts, v.source) == (3, 9, 12.5, "ws")
    assert v.to_levels() == book().to_levels()
    assert v.levels(BID, 1) == ((4700, 300),) and v.levels(ASK, -1) == ()
    assert (v.mid(), v.spread_e4, v.best_no_bid, v.depth(BID, 2)) == (Fraction(4950), 500, 4800, 400)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.ticker = "X"  # type: ignore[misc]


# --- properties -------------------------------------------------------------------------------------------------

prices = st.integers(min_value=1, max_value=ONE_DOLLAR - 1)
sides = st.sampled_from([BID, ASK])


@st.composite
def valid_delta_streams(draw: st.DrawFn) -> tuple[dict, list[tuple[BookSide, int, int]]]:
    """An initial book and deltas that never take a level below zero (as a consistent feed never does)."""
    initial = {
        BID: draw(st.dictionaries(prices, st.integers(1, 10**6), max_size=20)),
        ASK: draw(st.dictionaries(prices, st.integers(1, 10**6), max_size=20)),
    }
    shadow = {side: dict(levels) for side, levels in initial.items()}
    deltas = []
    for _ in range(draw(st.integers(0, 120))):
        side = draw(sides)
        levels = shadow[side]
        # Half the time hit an existing level (size changes and removals), else any price (new levels).
        price = draw(st.sampled_from(sorted(levels))) if levels and draw(st.booleans()) else draw(prices)
        current = levels.get(price, 0)
        delta = draw(st.integers(-current, 10**5))
        deltas.append((side, price, delta))
        if current + delta:
            levels[price] = current + delta
        else:
            levels.pop(price, None)
    return initial, deltas


def _final(initial: dict, deltas: list[tuple[BookSide, int, int]]) -> dict:
    shadow = {side: dict(levels) for side, levels in initial.items()}
    for side, price, delta in deltas:
        new = shadow[side].get(price, 0) + delta
        if new:
            shadow[side][price] = new
        else:
            shadow[side].pop(price, None)
    return shadow


@settings(max_examples=100, deadline=None)
@given(valid_delta_streams())
def test_applying_deltas_equals_rebuilding_from_final_levels(stream: tuple[dict, list]) -> None:
    initial, deltas = stream
    b = OrderBook.from_levels("T", initial[BID].items(), initial[ASK].items())
    for side, price, delta in deltas:
        assert b.apply_delta(side, price, delta)
    final = _final(initial, deltas)
    rebuilt = OrderBook.from_levels("T", final[BID].items(), final[ASK].items())
    assert b.to_levels() == rebuilt.to_levels()
    assert b.best_bid == (max(final[BID]) if final[BID] else None)
    assert b.best_ask == (min(final[ASK]) if final[ASK] else None)
    assert b.consistent


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(sides, prices, st.integers(-(10**4), 10**4)), max_size=150))
def test_the_book_never_stores_a_negative_size(deltas: list[tuple[BookSide, int, int]]) -> None:
    b = OrderBook("T")
    went_negative = False
    for side, price, delta in deltas:
        before = b.size_at(side, price)
        ok = b.apply_delta(side, price, delta)
        assert ok == (before + delta >= 0)
        went_negative |= not ok
        bids, asks = b.to_levels()
        assert all(size > 0 for _, size in bids + asks)
        assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
        assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    assert b.consistent == (not went_negative)


@settings(max_examples=100, deadline=None)
@given(valid_delta_streams(), st.booleans())
def test_wire_round_trip_in_both_price_conventions(stream: tuple[dict, list], use_yes_price: bool) -> None:
    """Deltas encoded as Kalshi would (NO side at NO price unless use_yes_price) rebuild the same book."""
    initial, deltas = stream
    b = OrderBook.from_levels("T", initial[BID].items(), initial[ASK].items())
    for seq, (side, price, delta) in enumerate(deltas, start=1):
        wire_price = price if side is BID or use_yes_price else ONE_DOLLAR - price
        raw = {
            "type": "orderbook_delta",
            "sid": 1,
            "seq": seq,
            "msg": {
                "market_ticker": "T",
                "market_id": "9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1",
                "price_dollars": format_price(wire_price),
                "delta_fp": format_count(delta),
                "side": "yes" if side is BID else "no",
            },
        }
        d = parse_message(raw, 0.0, use_yes_price=use_yes_price)
        assert isinstance(d, OrderbookDelta) and (d.side, d.price_e4, d.delta_e2) == (side, price, delta)
        b.apply_delta(d.side, d.price_e4, d.delta_e2)
    final = _final(initial, deltas)
    assert b.to_levels() == OrderBook.from_levels("T", final[BID].items(), final[ASK].items()).to_levels()
