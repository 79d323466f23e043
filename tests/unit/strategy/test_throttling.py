"""Throttles: hysteresis (N bad checks to engage, M good to release) and what each one counts as bad."""

from __future__ import annotations

import pytest

from kalshi_mm.config.sections_trading import ThrottlingConfig
from kalshi_mm.strategy.throttling import (
    AdverseSelectionThrottle,
    BookHealthThrottle,
    Hysteresis,
    SpreadThrottle,
    Throttles,
)


def test_hysteresis_needs_consecutive_bad_checks() -> None:
    h = Hysteresis(trigger=3, recover=5)
    assert [h.update(b) for b in (True, True, False, True, True)] == [False] * 5  # the good check reset the count
    assert h.update(True) is True


def test_hysteresis_needs_consecutive_good_checks_to_release() -> None:
    h = Hysteresis(trigger=2, recover=3)
    h.update(True)
    assert h.update(True)
    assert [h.update(b) for b in (False, False, True, False, False)] == [True] * 5  # a bad check resets recovery
    assert h.update(False) is False


def test_hysteresis_validation() -> None:
    with pytest.raises(ValueError):
        Hysteresis(0, 1)


def test_spread_throttle_with_config_defaults() -> None:
    cfg = ThrottlingConfig()
    t = SpreadThrottle(cfg.max_spread_threshold, cfg.spread_widen_ticks, cfg.trigger_threshold, cfg.recovery_threshold)
    wide, narrow = cfg.max_spread_threshold + 100, cfg.max_spread_threshold
    assert [t.check(wide) for _ in range(3)] == [0, 0, 5]
    assert [t.check(narrow) for _ in range(5)] == [5, 5, 5, 5, 0]
    assert [t.check(None) for _ in range(3)] == [0, 0, 5]  # an empty side counts as too wide


def test_book_health_throttle() -> None:
    t = BookHealthThrottle(min_depth_e2=10_000, widen_ticks=3, trigger=2, recover=2)
    assert [t.check(50_000, 5_000) for _ in range(2)] == [0, 3]
    assert [t.check(50_000, 10_000) for _ in range(2)] == [3, 0]


def test_adverse_selection_engages_on_picked_off_fills() -> None:
    t = AdverseSelectionThrottle(window_s=300, threshold=0.7, widen_ticks=4, trigger=2, recover=2, min_fills=5)
    for i in range(5):
        t.record_fill(float(i), buy=True, mid=0.50)  # we bought, then the mid fell
    assert t.check(10.0, 0.47) == 0
    assert t.adverse_share == 1.0
    assert t.mean_adverse_move == pytest.approx(0.03)
    assert t.check(11.0, 0.47) == 4
    # Fills age out of the window: too few left to judge is a good check.
    assert t.check(400.0, 0.47) == 4
    assert t.check(401.0, 0.47) == 0
    assert t.adverse_share == 0.0 and t.mean_adverse_move == 0.0


def test_adverse_selection_mixed_fills_below_threshold() -> None:
    t = AdverseSelectionThrottle(window_s=300, threshold=0.7, widen_ticks=4, trigger=1, recover=1, min_fills=4)
    t.record_fill(0.0, buy=True, mid=0.50)  # adverse (mid fell)
    t.record_fill(1.0, buy=False, mid=0.50)  # favourable for a sale
    t.record_fill(2.0, buy=True, mid=0.48)  # mid unchanged: neither
    t.record_fill(3.0, buy=False, mid=0.46)  # adverse for a sale (mid rose)
    assert t.check(5.0, 0.48) == 0
    assert t.adverse_share == pytest.approx(0.5)
    assert t.mean_adverse_move == pytest.approx((0.02 - 0.02 + 0.0 + 0.02) / 4)


def test_adverse_selection_min_age() -> None:
    t = AdverseSelectionThrottle(
        window_s=300, threshold=0.5, widen_ticks=1, trigger=1, recover=1, min_fills=1, min_age_s=30
    )
    t.record_fill(100.0, buy=True, mid=0.5)
    assert t.check(110.0, 0.4) == 0  # too young to judge
    assert t.check(130.0, 0.4) == 1


def test_throttles_combine_and_report_engagement() -> None:
    cfg = ThrottlingConfig(trigger_threshold=1, recovery_threshold=1)
    throttles = Throttles(cfg, adverse_widen_ticks=2, adverse_min_fills=1)
    d = throttles.check(0.0, 0.5, market_spread_e4=3000, bid_depth_e2=100, ask_depth_e2=100)
    assert (d.spread, d.book, d.adverse) == (True, True, False)
    assert d.widen_ticks == cfg.spread_widen_ticks + cfg.book_thin_widen_ticks
    throttles.adverse.record_fill(1.0, buy=False, mid=0.5)
    d = throttles.check(2.0, 0.6, market_spread_e4=200, bid_depth_e2=1_000_000, ask_depth_e2=1_000_000)
    assert (d.spread, d.book, d.adverse, d.widen_ticks) == (False, False, True, 2)
