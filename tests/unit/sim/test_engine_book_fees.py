"""OrderBook price-time priority and queue positions; exact fee functions and their rounding."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kalshi_mm.sim.book import OrderBook
from kalshi_mm.sim.fees import FeeSchedule, ceil_e4, fee_e4, maker_fee_e4, taker_fee_e4
from kalshi_mm.sim.model import Event, FeeType, SelfTradePrevention, Series, Side

STP = SelfTradePrevention


def test_book_best_prices_depth_and_queue_position() -> None:
    book = OrderBook("T")
    book.add("b1", "u1", Side.BID, 4000, 500)
    book.add("b2", "u2", Side.BID, 4100, 300)
    book.add("b3", "u3", Side.BID, 4100, 200)
    book.add("a1", "u4", Side.ASK, 4500, 700)
    assert book.best(Side.BID) == 4100 and book.best(Side.ASK) == 4500
    assert book.best_size(Side.BID) == 500
    assert book.depth(Side.BID) == [(4000, 500), (4100, 500)]
    assert book.queue_position("b2") == 0 and book.queue_position("b3") == 300
    assert not book.is_crossed()


def test_plan_match_walks_price_then_time_and_leaves_book_unchanged() -> None:
    book = OrderBook("T")
    book.add("a1", "u1", Side.ASK, 5100, 100)
    book.add("a2", "u2", Side.ASK, 5000, 100)
    book.add("a3", "u3", Side.ASK, 5000, 100)
    book.add("a4", "u4", Side.ASK, 5300, 100)
    plan = book.plan_match("me", Side.BID, 5100, 250, STP.TAKER_AT_CROSS)
    assert [(e.order_id, n) for e, n in plan.fills] == [("a2", 100), ("a3", 100), ("a1", 50)]
    assert book.depth(Side.ASK) == [(5000, 200), (5100, 100), (5300, 100)]


def test_plan_match_self_trade_modes() -> None:
    book = OrderBook("T")
    book.add("a1", "other", Side.ASK, 5000, 100)
    book.add("mine", "me", Side.ASK, 5000, 100)
    book.add("a3", "other", Side.ASK, 5000, 100)
    stop = book.plan_match("me", Side.BID, 5000, 300, STP.TAKER_AT_CROSS)
    assert stop.stopped_by_self and [e.order_id for e, _ in stop.fills] == ["a1"]
    skip = book.plan_match("me", Side.BID, 5000, 300, STP.MAKER)
    assert not skip.stopped_by_self
    assert [e.order_id for e in skip.stp_cancels] == ["mine"]
    assert [(e.order_id, n) for e, n in skip.fills] == [("a1", 100), ("a3", 100)]


def test_set_remaining_keeps_place_and_remove_cleans_level() -> None:
    book = OrderBook("T")
    book.add("x", "u", Side.BID, 4000, 500)
    book.add("y", "u", Side.BID, 4000, 500)
    book.set_remaining("x", 100)
    assert book.queue_position("y") == 100
    with pytest.raises(ValueError):
        book.set_remaining("x", 200)  # growing is not queue-preserving
    book.remove("x")
    book.remove("y")
    assert book.best(Side.BID) is None and book.depth(Side.BID) == []


def test_taker_fee_examples_at_ten_thousandth_rounding() -> None:
    assert taker_fee_e4(5000, 100_00) == 1_7500  # 100 contracts at $0.50 -> $1.75
    assert taker_fee_e4(5000, 1_00) == 175  # 1 contract -> 0.0175 exactly
    assert taker_fee_e4(4500, 4_00) == 693  # 0.07*4*0.2475 = 0.0693
    assert taker_fee_e4(100, 1) == 1  # 0.07*0.01*0.0099 = 0.00000693 -> rounds UP to $0.0001
    assert maker_fee_e4(5000, 1_00) == 44  # 0.004375 -> 0.0044


def test_fee_types_and_multipliers() -> None:
    assert fee_e4(FeeType.QUADRATIC, 5000, 1_00, is_taker=False) == 0
    assert fee_e4(FeeType.QUADRATIC_WITH_MAKER_FEES, 5000, 100_00, is_taker=False) == 4375
    assert fee_e4(FeeType.QUADRATIC_WITH_COMBO_MAKER_FEES, 5000, 100_00, is_taker=False) == 8750
    assert fee_e4(FeeType.QUADRATIC, 5000, 100_00, is_taker=True, multiplier=Fraction(1, 2)) == 8750
    assert fee_e4(FeeType.FLAT, 3000, 10_00, is_taker=True, flat_fee_e4=20) == 200
    assert fee_e4(FeeType.FLAT, 3000, 10_00, is_taker=False, flat_fee_e4=20) == 0


def test_event_override_beats_series_fee() -> None:
    series = Series("S", fee_type=FeeType.QUADRATIC, fee_multiplier=2)
    plain = FeeSchedule.for_market(series)
    assert plain.fee_e4(5000, 1_00, is_taker=True) == 350 and plain.maker_coeff == 0
    event = Event("E", "S", fee_type_override=FeeType.QUADRATIC_WITH_MAKER_FEES, fee_multiplier_override="0.5")
    over = FeeSchedule.for_market(series, event)
    assert over.fee_e4(5000, 1_00, is_taker=True) == 88  # 0.00875 -> 0.0088
    assert over.fee_e4(5000, 1_00, is_taker=False) == 22  # 0.0021875 -> 0.0022


def test_float_multiplier_is_read_as_its_decimal() -> None:
    assert Series("S", fee_multiplier=1.1).fee_multiplier == Fraction(11, 10)
    assert ceil_e4(Fraction(1, 3)) == 1 and ceil_e4(Fraction(3)) == 3
