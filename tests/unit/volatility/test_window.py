"""MarketWindow: trimming by caller timestamps, bounded size, and the mean / range / σ helpers (units documented)."""

from __future__ import annotations

import math

import pytest

from kalshi_mm.volatility.window import MarketWindow


def _window(mids: list[int], step_s: float = 10.0, start: float = 1000.0, keep_s: float = 900.0) -> MarketWindow:
    w = MarketWindow(keep_s)
    for i, mid in enumerate(mids):
        w.append(start + i * step_s, mid, 200, 1000)
    return w


def test_append_trims_to_rolling_window_by_supplied_timestamps() -> None:
    w = MarketWindow(60.0)
    for ts in (0.0, 30.0, 60.0, 61.0, 90.0):
        w.append(ts, 5000, 100, 500)
    # Newest ts 90 keeps [30, 90]; 0 is older than 60 s.
    assert [p.ts for p in w] == [30.0, 60.0, 61.0, 90.0]


def test_trim_ages_out_a_quiet_market() -> None:
    w = _window([5000, 5100, 5200], step_s=10.0, start=0.0, keep_s=60.0)
    w.trim(now=75.0)
    assert [p.ts for p in w] == [20.0]
    w.trim(now=1000.0)
    assert len(w) == 0
    assert w.latest() is None


def test_max_points_caps_memory_even_without_time_advancing() -> None:
    w = MarketWindow(900.0, max_points=5)
    for _ in range(20):
        w.append(1.0, 5000, 100, 500)
    assert len(w) == 5


def test_timestamp_going_backwards_is_rejected() -> None:
    w = _window([5000])
    with pytest.raises(ValueError, match="backwards"):
        w.append(0.0, 5000, 100, 500)


@pytest.mark.parametrize(("keep_s", "max_points"), [(0.0, 10), (60.0, 0)])
def test_invalid_construction(keep_s: float, max_points: int) -> None:
    with pytest.raises(ValueError):
        MarketWindow(keep_s, max_points=max_points)


def test_latest_holds_all_fields() -> None:
    w = MarketWindow(60.0)
    w.append(5.0, 4700, 300, 1250)
    latest = w.latest()
    assert latest is not None
    assert (latest.ts, latest.mid_e4, latest.spread_e4, latest.depth_e2) == (5.0, 4700, 300, 1250)


def test_since_mean_range_and_net_move_over_last_seconds() -> None:
    w = _window([5000, 6000, 4000, 4600], step_s=60.0, start=0.0)  # ts 0, 60, 120, 180
    assert [p.ts for p in w.since(180.0, 120.0)] == [60.0, 120.0, 180.0]
    assert w.mean_mid_e4(180.0, 120.0) == pytest.approx((6000 + 4000 + 4600) / 3)
    assert w.mid_range_e4(180.0, 120.0) == 2000
    assert w.mid_range_e4(180.0, 0.0) == 0
    assert w.net_move_e4(180.0, 180.0) == -400
    # Points after `now` are not in a window ending at `now`.
    assert [p.ts for p in w.since(100.0, 1000.0)] == [0.0, 60.0]


def test_helpers_on_empty_window_return_none() -> None:
    w = MarketWindow(60.0)
    assert w.mean_mid_e4(0.0, 60.0) is None
    assert w.mid_range_e4(0.0, 60.0) is None
    assert w.net_move_e4(0.0, 60.0) is None
    assert w.sigma(0.0, 60.0) is None


def test_sigma_is_std_of_mid_changes_in_dollars() -> None:
    # Changes +0.03, -0.03, +0.03, -0.03 dollars: mean 0, population std 0.03.
    w = _window([5000, 5300, 5000, 5300, 5000])
    assert w.sigma(1040.0, 600.0) == pytest.approx(0.03)
    # A steady drift has changes all equal: zero σ (drift is not volatility).
    drift = _window([5000, 5100, 5200, 5300])
    assert drift.sigma(1030.0, 600.0) == pytest.approx(0.0)


def test_sigma_needs_three_points_in_its_window() -> None:
    w = _window([5000, 5300])
    assert w.sigma(1010.0, 600.0) is None
    w3 = _window([5000, 5300, 5000])
    assert w3.sigma(1020.0, 600.0) is not None
    # Only the last two points fall within 15 s of now.
    assert w3.sigma(1020.0, 15.0) is None


def test_sigma_uneven_changes() -> None:
    w = _window([5000, 5100, 5400])  # changes 0.01, 0.03 -> mean 0.02, std 0.01
    assert math.isclose(w.sigma(1020.0, 600.0) or 0.0, 0.01, rel_tol=1e-9)
