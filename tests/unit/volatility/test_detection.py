"""Pure volatility-event detection: each seed rule on and off, signal strength, direction, volatility ended."""

from __future__ import annotations

import dataclasses
from itertools import pairwise

import pytest

from kalshi_mm.config.sections_trading import ExecutionActivity
from kalshi_mm.config.sections_volatility import VolatilityScannerConfig
from kalshi_mm.volatility.detection import (
    DetectionParams,
    MarketContext,
    Rejection,
    VolatilityEndedEvent,
    VolatilityEvent,
    detect,
    detect_ended,
    signal_strength,
)
from kalshi_mm.volatility.window import MarketWindow

NOW = 100_000.0
PARAMS = DetectionParams()  # the seed defaults: 12¢/5 min jump, σ 0.02/10 min, 6¢ tolerance, 10¢ spread, $5,000
CTX = MarketContext(
    ticker="KXTEST-1",
    category="politics",
    volume_24h_e4=PARAMS.min_volume_24h_e4,
    close_ts=NOW + 3600.0,
    has_active_session=False,
    regime="MEAN_REVERTING",
    recent_trades=PARAMS.min_recent_trades,
)


def _win(mids: list[int], step_s: float, spread_e4: int = 300) -> MarketWindow:
    """Window whose last observation is at NOW, one every step_s seconds (mids in 1/10,000 $)."""
    w = MarketWindow(900.0)
    n = len(mids)
    for i, mid in enumerate(mids):
        w.append(NOW - (n - 1 - i) * step_s, mid, spread_e4, 1000)
    return w


def _oscillating(n: int = 121, step_s: float = 5.0, spread_e4: int = 300) -> MarketWindow:
    """Mid 0.50 <-> 0.54: σ = 0.04 $/obs, range 4¢ (no jump), current within 2¢ of the 3-min mean."""
    return _win([5000 if i % 2 == 0 else 5400 for i in range(n)], step_s, spread_e4)


def _spike_and_back() -> MarketWindow:
    """Flat 0.50 with one 13¢ spike 2 minutes ago: jump fires, σ ≈ 0.017 does not, price has reverted."""
    mids = [5000] * 121
    mids[-25] = 6300
    return _win(mids, 5.0)


def _step_up() -> MarketWindow:
    """Flat 0.50 then 0.63 for the last minute: jump fires, σ does not, price is far from its 3-min mean."""
    return _win([5000] * 109 + [6300] * 12, 5.0)


def _sigma_drift() -> MarketWindow:
    """Choppy then a 9¢ step at the end: σ fires, no 12¢ jump, current 6.75¢ from the 3-min mean."""
    return _win([5000, 5300, 5000, 5300, 5000, 5000, 5000, 5900], 60.0)


def _event(result: VolatilityEvent | Rejection) -> VolatilityEvent:
    assert isinstance(result, VolatilityEvent), result
    return result


def _rejected(result: VolatilityEvent | Rejection, rule: str) -> None:
    assert isinstance(result, Rejection), result
    assert result.rule == rule
    assert result.ticker == CTX.ticker
    assert result.ts == NOW


# --- params ---------------------------------------------------------------------------------------------------------


def test_params_from_default_config_are_the_seed_defaults() -> None:
    assert DetectionParams.from_config(VolatilityScannerConfig(), ExecutionActivity()) == DetectionParams()


def test_params_from_config_converts_units() -> None:
    scanner = VolatilityScannerConfig.model_validate(
        {
            "price_jump_threshold_cents": 10,
            "price_jump_window_minutes": 3,
            "volatility_window_minutes": 8,
            "exclude_categories": ["Sports", "crypto"],
            "min_liquidity_spread": 0.05,
            "max_time_to_expiry_hours": 2,
            "regime_filters": {"allowed_for_events": ["QUIET"], "disallowed_for_events": ["TRENDING"]},
        }
    )
    execution = ExecutionActivity.model_validate({"min_recent_trades_for_event_markets": 7})
    params = DetectionParams.from_config(scanner, execution, min_volume_24h_e4=123)
    assert params.price_jump_threshold_e4 == 1000
    assert params.price_jump_window_s == 180.0
    assert params.volatility_window_s == 480.0
    assert params.exclude_categories == frozenset({"sports", "crypto"})
    assert params.max_spread_e4 == 500
    assert params.max_time_to_expiry_s == 7200.0
    assert params.allowed_regimes == frozenset({"QUIET"})
    assert params.min_recent_trades == 7
    assert params.min_volume_24h_e4 == 123


# --- the event itself -----------------------------------------------------------------------------------------------


def test_sigma_only_event_fields() -> None:
    window = _oscillating()
    event = _event(detect(window, CTX, PARAMS, NOW))
    assert event.ticker == CTX.ticker
    assert event.ts == NOW
    assert event.close_ts == CTX.close_ts
    assert event.reasons == ("sigma",)
    assert event.sigma == pytest.approx(0.04)
    assert event.jump_magnitude_e4 is None
    assert event.direction is None
    assert event.signal_strength == pytest.approx(signal_strength(None, 0.04, 1200, 0.02))
    assert len(window) == 121  # detection is pure: the window is untouched


def test_detect_is_deterministic() -> None:
    window = _oscillating()
    assert detect(window, CTX, PARAMS, NOW) == detect(window, CTX, PARAMS, NOW)


# --- warm-up ------------------------------------------------------------------------------------------------------


def test_warmup_needs_three_points() -> None:
    _rejected(detect(_oscillating(n=2), CTX, PARAMS, NOW), "warmup")
    _rejected(detect(MarketWindow(900.0), CTX, PARAMS, NOW), "warmup")
    _event(detect(_oscillating(n=3), CTX, PARAMS, NOW))


# --- category exclusion -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", ["sports", "Sports", "SPORTS"])
def test_sports_excluded_by_default(category: str) -> None:
    ctx = dataclasses.replace(CTX, category=category)
    _rejected(detect(_oscillating(), ctx, PARAMS, NOW), "category_excluded")


@pytest.mark.parametrize("category", ["politics", "crypto", None])
def test_other_categories_pass(category: str | None) -> None:
    _event(detect(_oscillating(), dataclasses.replace(CTX, category=category), PARAMS, NOW))


def test_category_exclusion_off_lets_sports_through() -> None:
    params = dataclasses.replace(PARAMS, exclude_categories=frozenset())
    _event(detect(_oscillating(), dataclasses.replace(CTX, category="sports"), params, NOW))


def test_first_failing_rule_is_reported() -> None:
    ctx = dataclasses.replace(CTX, category="sports", has_active_session=True)
    _rejected(detect(_oscillating(spread_e4=5000), ctx, PARAMS, NOW), "category_excluded")


# --- spread filter ------------------------------------------------------------------------------------------------


def test_spread_filter() -> None:
    _rejected(detect(_oscillating(spread_e4=1001), CTX, PARAMS, NOW), "spread_too_wide")
    _event(detect(_oscillating(spread_e4=1000), CTX, PARAMS, NOW))  # ≤ 10¢ passes


# --- jump rule ----------------------------------------------------------------------------------------------------


def test_jump_rule_fires_alone() -> None:
    event = _event(detect(_spike_and_back(), CTX, PARAMS, NOW))
    assert event.reasons == ("jump",)
    assert event.jump_magnitude_e4 == 1300
    assert event.sigma < PARAMS.sigma_threshold


def test_jump_rule_off_above_threshold() -> None:
    params = dataclasses.replace(PARAMS, price_jump_threshold_e4=1400)
    _rejected(detect(_spike_and_back(), CTX, params, NOW), "no_volatility")


def test_jump_outside_its_window_does_not_count() -> None:
    params = dataclasses.replace(PARAMS, price_jump_window_s=60.0)  # the spike was 2 minutes ago
    _rejected(detect(_spike_and_back(), CTX, params, NOW), "no_volatility")


def test_jump_requires_mean_reversion() -> None:
    _rejected(detect(_step_up(), CTX, PARAMS, NOW), "not_mean_reverting")
    loose = dataclasses.replace(PARAMS, mean_reversion_tolerance_e4=1000)
    event = _event(detect(_step_up(), CTX, loose, NOW))
    assert event.reasons == ("jump",)


# --- σ rule -------------------------------------------------------------------------------------------------------


def test_sigma_rule_off_above_threshold() -> None:
    params = dataclasses.replace(PARAMS, sigma_threshold=0.05)
    _rejected(detect(_oscillating(), CTX, params, NOW), "no_volatility")


def test_sigma_requires_mean_reversion() -> None:
    _rejected(detect(_sigma_drift(), CTX, PARAMS, NOW), "not_mean_reverting")
    loose = dataclasses.replace(PARAMS, mean_reversion_tolerance_e4=700)
    event = _event(detect(_sigma_drift(), CTX, loose, NOW))
    assert event.reasons == ("sigma",)


def test_both_triggers_reported() -> None:
    event = _event(detect(_win([5600, 5000, 5600, 6200] * 15 + [5600], 5.0), CTX, PARAMS, NOW))
    assert event.reasons == ("jump", "sigma")
    assert event.jump_magnitude_e4 == 1200


def test_flat_market_has_no_volatility() -> None:
    _rejected(detect(_win([5000] * 50, 5.0), CTX, PARAMS, NOW), "no_volatility")


# --- context rules ------------------------------------------------------------------------------------------------


def test_min_24h_volume() -> None:
    low = dataclasses.replace(CTX, volume_24h_e4=PARAMS.min_volume_24h_e4 - 1)
    _rejected(detect(_oscillating(), low, PARAMS, NOW), "low_volume")
    _event(detect(_oscillating(), dataclasses.replace(CTX, volume_24h_e4=PARAMS.min_volume_24h_e4), PARAMS, NOW))


def test_min_recent_trades() -> None:
    thin = dataclasses.replace(CTX, recent_trades=PARAMS.min_recent_trades - 1)
    _rejected(detect(_oscillating(), thin, PARAMS, NOW), "too_few_trades")
    _event(detect(_oscillating(), thin, dataclasses.replace(PARAMS, min_recent_trades=0), NOW))


def test_active_session_blocks_a_second_event() -> None:
    _rejected(detect(_oscillating(), dataclasses.replace(CTX, has_active_session=True), PARAMS, NOW), "session_active")


@pytest.mark.parametrize("regime", ["MEAN_REVERTING", "QUIET"])
def test_allowed_regimes(regime: str) -> None:
    _event(detect(_oscillating(), dataclasses.replace(CTX, regime=regime), PARAMS, NOW))


@pytest.mark.parametrize("regime", ["TRENDING", "CHAOTIC", "NOISE", "UNKNOWN", None])
def test_disallowed_regimes(regime: str | None) -> None:
    _rejected(detect(_oscillating(), dataclasses.replace(CTX, regime=regime), PARAMS, NOW), "regime_disallowed")


def test_regime_allow_list_from_params() -> None:
    params = dataclasses.replace(PARAMS, allowed_regimes=frozenset({"TRENDING"}))
    _event(detect(_oscillating(), dataclasses.replace(CTX, regime="TRENDING"), params, NOW))
    _rejected(detect(_oscillating(), CTX, params, NOW), "regime_disallowed")


def test_close_time_rules() -> None:
    far = dataclasses.replace(CTX, close_ts=NOW + PARAMS.max_time_to_expiry_s + 1)
    _rejected(detect(_oscillating(), far, PARAMS, NOW), "expiry_too_far")
    _rejected(detect(_oscillating(), dataclasses.replace(CTX, close_ts=NOW), PARAMS, NOW), "market_closed")
    _event(detect(_oscillating(), dataclasses.replace(CTX, close_ts=None), PARAMS, NOW))


# --- direction ----------------------------------------------------------------------------------------------------


def _shifted(up: bool) -> MarketWindow:
    """Flat, then oscillating 8¢ away from where it started: a mean-reverting event with a > 5¢ net move."""
    mids = [4600] * 11 + [5400 if i % 2 == 0 else 5000 for i in range(11, 21)]  # ends at 0.54
    if not up:
        mids = [10_000 - m for m in mids]
    return _win(mids, 30.0)


@pytest.mark.parametrize(("up", "direction"), [(True, "up"), (False, "down")])
def test_direction_when_moved_more_than_5_cents(up: bool, direction: str) -> None:
    assert _event(detect(_shifted(up), CTX, PARAMS, NOW)).direction == direction


def test_no_direction_for_small_net_move() -> None:
    params = dataclasses.replace(PARAMS, direction_threshold_e4=800)  # net move is exactly 8¢: not > 8¢
    assert _event(detect(_shifted(True), CTX, params, NOW)).direction is None


# --- signal strength ----------------------------------------------------------------------------------------------


def test_signal_strength_bounds() -> None:
    assert signal_strength(None, None, 1200, 0.02) == 0.0
    assert signal_strength(0, 0.0, 1200, 0.02) == 0.0
    assert signal_strength(-500, -0.1, 1200, 0.02) == 0.0
    assert signal_strength(2400, 0.04, 1200, 0.02) == 1.0
    assert signal_strength(10_000, 5.0, 1200, 0.02) == 1.0
    assert signal_strength(1200, 0.02, 1200, 0.02) == pytest.approx(0.5)  # both exactly at threshold


def test_signal_strength_monotone_in_each_input() -> None:
    jumps = [signal_strength(j, 0.01, 1200, 0.02) for j in range(0, 4000, 100)]
    sigmas = [signal_strength(600, s / 1000, 1200, 0.02) for s in range(0, 80)]
    for series in (jumps, sigmas):
        assert all(a <= b for a, b in pairwise(series))
        assert all(0.0 <= x <= 1.0 for x in series)
        assert series[0] < series[-1]


def test_event_strength_grows_with_volatility() -> None:
    small = _event(detect(_oscillating(), CTX, PARAMS, NOW))
    big = _event(detect(_win([5000 if i % 2 == 0 else 5600 for i in range(121)], 5.0), CTX, PARAMS, NOW))
    assert 0.0 < small.signal_strength < big.signal_strength <= 1.0


# --- volatility ended ---------------------------------------------------------------------------------------------


def test_ended_when_quiet() -> None:
    ended = detect_ended(_win([5000, 5010, 5000, 5010] * 10, 5.0), PARAMS, NOW, ticker="KXTEST-1")
    assert isinstance(ended, VolatilityEndedEvent)
    assert ended.ticker == "KXTEST-1"
    assert ended.ts == NOW
    assert ended.reason.startswith("volatility_subsided")


def test_not_ended_while_sigma_high() -> None:
    assert detect_ended(_oscillating(), PARAMS, NOW, ticker="KXTEST-1") is None


def test_not_ended_while_a_jump_is_in_the_window() -> None:
    assert detect_ended(_spike_and_back(), PARAMS, NOW, ticker="KXTEST-1") is None


def test_not_ended_without_enough_data() -> None:
    assert detect_ended(_win([5000, 5000], 5.0), PARAMS, NOW, ticker="KXTEST-1") is None
