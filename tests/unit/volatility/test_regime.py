"""Regime classifier: features, rule order on synthetic series, per-profile thresholds, stability, staleness,
multipliers and category-profile overrides."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kalshi_mm.config.sections_trading import default_category_profiles
from kalshi_mm.config.sections_volatility import RegimesConfig
from kalshi_mm.volatility.regime import (
    Regime,
    RegimeFeatures,
    RegimeParams,
    RegimeState,
    RegimeTracker,
    classify,
    compute_features,
    drift_threshold_for,
    gamma_multiplier,
    is_stale,
    k_multiplier,
    mean_reversion_score,
    profile_for_regime,
)

CFG = RegimesConfig()
PARAMS = RegimeParams.from_config(CFG)
N = 80
TIGHT_SPREAD_E4 = 200  # 2¢, below the NOISE band
DEEP_E2 = 100 * 100  # 100 contracts, above depth_threshold


def _e4(dollars: np.ndarray) -> list[int]:
    return [round(x * 10_000) for x in dollars]


def _ou(seed: int, theta: float = 0.9, sigma: float = 0.02, mu: float = 0.5) -> list[int]:
    """Ornstein-Uhlenbeck mids in e4: each step closes ``theta`` of the gap to ``mu`` plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    x = np.empty(N)
    x[0] = mu
    for i in range(1, N):
        x[i] = x[i - 1] + theta * (mu - x[i - 1]) + sigma * rng.standard_normal()
    return _e4(x)


def _walk(seed: int, drift: float, sigma: float, start: float = 0.2, n: int = N) -> list[int]:
    """Gaussian random walk mids in e4 (unbounded: the classifier does not care about the [0, 1] range)."""
    rng = np.random.default_rng(seed)
    return _e4(start + np.concatenate([[0.0], np.cumsum(drift + sigma * rng.standard_normal(n - 1))]))


def _classify(mids: list[int], spread_e4: int = TIGHT_SPREAD_E4, depth_e2: int = DEEP_E2) -> Regime:
    return classify(compute_features(mids, [spread_e4] * len(mids), [depth_e2] * len(mids)), PARAMS)


BASE_FEATURES = RegimeFeatures(
    n_observations=50,
    sigma=0.02,
    drift=0.0,
    mean_reversion=0.5,
    spread_e4=float(TIGHT_SPREAD_E4),
    depth_contracts=100.0,
)


# --- synthetic series, one per regime -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_ou_process_is_mean_reverting(seed: int) -> None:
    assert _classify(_ou(seed)) is Regime.MEAN_REVERTING


@pytest.mark.parametrize("seed", range(5))
def test_drifted_walk_is_trending(seed: int) -> None:
    assert _classify(_walk(seed, drift=0.02, sigma=0.02)) is Regime.TRENDING


def test_flat_series_is_quiet() -> None:
    assert _classify([5000] * N) is Regime.QUIET


def test_tiny_wiggle_below_min_sigma_is_quiet() -> None:
    assert _classify(_ou(1, sigma=0.002)) is Regime.QUIET


def test_thin_book_is_chaotic_even_when_mean_reverting() -> None:
    thin = round(CFG.depth_threshold * 100) - 1
    assert _classify(_ou(0), depth_e2=thin) is Regime.CHAOTIC


def test_depth_uses_median_so_one_empty_snapshot_does_not_flip() -> None:
    mids = _ou(0)
    depths = [DEEP_E2] * len(mids)
    depths[-1] = 0
    assert classify(compute_features(mids, [TIGHT_SPREAD_E4] * len(mids), depths), PARAMS) is Regime.MEAN_REVERTING


@pytest.mark.parametrize("spread_e4", [CFG.noise_spread_min, 1000, CFG.noise_spread_max])
def test_spread_inside_noise_band_is_noise(spread_e4: int) -> None:
    assert _classify(_ou(0), spread_e4=spread_e4) is Regime.NOISE


def test_spread_above_noise_band_is_chaotic() -> None:
    assert _classify(_ou(0), spread_e4=CFG.noise_spread_max + 1) is Regime.CHAOTIC


def test_spread_just_below_noise_band_is_classified_on_prices() -> None:
    assert _classify(_ou(0), spread_e4=CFG.noise_spread_min - 1) is Regime.MEAN_REVERTING


def test_too_few_points_is_unknown() -> None:
    assert _classify(_ou(0)[: CFG.min_observations - 1]) is Regime.UNKNOWN
    assert _classify(_ou(0)[: CFG.min_observations]) is not Regime.UNKNOWN


def test_missing_book_samples_is_unknown() -> None:
    mids = _ou(0)
    assert classify(compute_features(mids, [], [DEEP_E2]), PARAMS) is Regime.UNKNOWN
    assert classify(compute_features(mids, [TIGHT_SPREAD_E4], []), PARAMS) is Regime.UNKNOWN


def test_driftless_random_walk_is_neither_trending_nor_mean_reverting() -> None:
    # A long window pins the score near 0.5, between mean_reversion_bad and _good, whatever the sample drift.
    for seed in range(3):
        assert _classify(_walk(seed, drift=0.0, sigma=0.02, start=0.5, n=2000)) is Regime.UNKNOWN


# --- features and score -----------------------------------------------------------------------------------------


def test_features_units() -> None:
    f = compute_features([5000, 5100, 5200, 5300], [100, 300, 200], [4000, 6000])
    assert f.n_observations == 4
    assert f.drift == pytest.approx(0.01)  # dollars per observation
    assert f.sigma == pytest.approx(0.0)
    assert f.spread_e4 == 200.0
    assert f.depth_contracts == 50.0


def test_features_of_empty_and_single_windows() -> None:
    f = compute_features([], [], [])
    assert (f.n_observations, f.sigma, f.drift, f.mean_reversion) == (0, 0.0, 0.0, 0.5)
    assert f.spread_e4 is None and f.depth_contracts is None
    assert compute_features([5000], [100], [100]).sigma == 0.0


def test_mean_reversion_score_extremes_and_zero_moves() -> None:
    assert mean_reversion_score([1, -1, 1, -1, 1]) == pytest.approx(1.0)
    assert mean_reversion_score([1, 1, 1, 1]) == pytest.approx(0.0)
    # Pauses on the price grid are ignored: a bounce with pauses is still a perfect bounce.
    assert mean_reversion_score([1, 0, -1, 0, 1, 0, -1]) == pytest.approx(1.0)
    assert mean_reversion_score([1, 0, -1]) == 0.5  # too few moves: neutral


# --- per-profile drift thresholds -------------------------------------------------------------------------------


def test_drift_threshold_for_profiles() -> None:
    assert drift_threshold_for(CFG, None) == 0.08
    assert drift_threshold_for(CFG, "mean_reverting") == 0.06
    assert drift_threshold_for(CFG, "medium_trending") == 0.10
    assert drift_threshold_for(CFG, "hard_trending") == 0.08  # not listed: global value


@pytest.mark.parametrize(
    ("normalized_drift", "profile", "expected"),
    [
        (0.07, "mean_reverting", Regime.TRENDING),
        (0.07, None, Regime.UNKNOWN),
        (0.09, None, Regime.TRENDING),
        (0.09, "medium_trending", Regime.UNKNOWN),
        (0.11, "medium_trending", Regime.TRENDING),
    ],
)
def test_per_profile_drift_threshold(normalized_drift: float, profile: str | None, expected: Regime) -> None:
    features = replace(BASE_FEATURES, sigma=0.02, drift=-normalized_drift * 0.02, mean_reversion=0.3)
    assert classify(features, RegimeParams.from_config(CFG, profile)) is expected


def test_high_drift_without_persistence_is_not_trending() -> None:
    assert classify(replace(BASE_FEATURES, drift=0.02, mean_reversion=0.45), PARAMS) is Regime.UNKNOWN
    assert classify(replace(BASE_FEATURES, drift=0.02, mean_reversion=0.7), PARAMS) is Regime.MEAN_REVERTING


def test_drift_normalization_floor() -> None:
    # min_sigma_for_regime 0 lets a tiny sigma past QUIET, so only the normalization floor keeps it sane.
    params = RegimeParams.from_config(RegimesConfig(min_sigma_for_regime=0.0, drift_normalization_min_sigma=0.01))
    # 0.0007 / max(0.0001, 0.01) = 0.07 < 0.08: the floor, not the tiny sigma, normalizes the drift.
    assert classify(replace(BASE_FEATURES, sigma=0.0001, drift=0.0007, mean_reversion=0.1), params) is Regime.UNKNOWN
    assert classify(replace(BASE_FEATURES, sigma=0.0001, drift=0.0009, mean_reversion=0.1), params) is Regime.TRENDING


# --- stability and staleness ------------------------------------------------------------------------------------


def test_tracker_starts_unknown_and_publishes_after_n() -> None:
    tracker = RegimeTracker(stability_required=3)
    s1 = tracker.update("T", Regime.MEAN_REVERTING, 10.0)
    s2 = tracker.update("T", Regime.MEAN_REVERTING, 11.0)
    assert (s1.regime, s1.stable, s1.since_ts) == (Regime.UNKNOWN, False, 10.0)
    assert (s2.regime, s2.stable) == (Regime.UNKNOWN, False)
    s3 = tracker.update("T", Regime.MEAN_REVERTING, 12.0)
    assert s3 == RegimeState(Regime.MEAN_REVERTING, True, 12.0, 12.0)


def test_tracker_flips_only_after_n_consecutive() -> None:
    tracker = RegimeTracker(stability_required=3)
    for ts in range(3):
        tracker.update("T", Regime.QUIET, float(ts))
    # An interrupted run does not count: TRENDING, QUIET, TRENDING, TRENDING keeps QUIET published.
    for ts, regime in enumerate([Regime.TRENDING, Regime.QUIET, Regime.TRENDING, Regime.TRENDING], start=3):
        state = tracker.update("T", regime, float(ts))
        assert state.regime is Regime.QUIET
        assert not state.stable
    state = tracker.update("T", Regime.TRENDING, 7.0)
    assert state == RegimeState(Regime.TRENDING, True, 7.0, 7.0)
    assert tracker.update("T", Regime.TRENDING, 8.0) == RegimeState(Regime.TRENDING, True, 7.0, 8.0)


def test_tracker_returning_to_published_regime_restabilizes_after_n() -> None:
    tracker = RegimeTracker(stability_required=2)
    tracker.update("T", Regime.QUIET, 0.0)
    tracker.update("T", Regime.QUIET, 1.0)
    assert not tracker.update("T", Regime.NOISE, 2.0).stable
    back = tracker.update("T", Regime.QUIET, 3.0)
    assert (back.regime, back.stable, back.since_ts) == (Regime.QUIET, False, 1.0)
    assert tracker.update("T", Regime.QUIET, 4.0).stable


def test_tracker_keeps_tickers_apart_and_forgets() -> None:
    tracker = RegimeTracker(stability_required=1)
    assert tracker.update("A", Regime.QUIET, 1.0).regime is Regime.QUIET
    assert tracker.update("B", Regime.CHAOTIC, 1.0).regime is Regime.CHAOTIC
    assert tracker.state("A") == RegimeState(Regime.QUIET, True, 1.0, 1.0)
    tracker.forget("A")
    assert tracker.state("A") is None
    assert tracker.state("B") is not None


def test_tracker_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        RegimeTracker(stability_required=0)
    tracker = RegimeTracker(stability_required=3)
    tracker.update("T", Regime.QUIET, 5.0)
    with pytest.raises(ValueError, match="earlier"):
        tracker.update("T", Regime.QUIET, 4.0)


def test_staleness() -> None:
    max_age = CFG.max_shared_state_age_seconds
    state = RegimeState(Regime.MEAN_REVERTING, True, 100.0, 100.0)
    assert not is_stale(state, 100.0 + max_age, max_age)  # exactly at the limit: still fresh
    assert is_stale(state, 100.0 + max_age + 0.001, max_age)
    assert is_stale(None, 0.0, max_age)


def test_staleness_tracks_latest_observation_not_publication() -> None:
    tracker = RegimeTracker(stability_required=1)
    tracker.update("T", Regime.QUIET, 0.0)
    state = tracker.update("T", Regime.QUIET, 10.0)
    assert state.since_ts == 0.0
    assert not is_stale(state, 12.0, 4.0)


# --- multipliers and profiles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regime", "gamma", "k"),
    [
        (Regime.MEAN_REVERTING, 1.0, 1.0),
        (Regime.QUIET, 0.8, 0.7),
        (Regime.TRENDING, 1.5, 0.5),
        (Regime.CHAOTIC, 2.0, 0.3),
        (Regime.NOISE, 1.2, 0.6),
        (Regime.UNKNOWN, 1.5, 0.5),
    ],
)
def test_multipliers(regime: Regime, gamma: float, k: float) -> None:
    assert gamma_multiplier(regime, CFG) == gamma
    assert k_multiplier(regime, CFG) == k


def test_regime_names_match_config() -> None:
    assert {r.value for r in Regime} == set(CFG.gamma_multipliers) == set(CFG.k_multipliers)


def test_profile_for_regime_applies_by_regime_overrides() -> None:
    profiles = default_category_profiles()
    mean_reverting = profiles["mean_reverting"]
    quiet = profile_for_regime(mean_reverting, Regime.QUIET)
    assert quiet.spread_tight == 150  # 1.5¢ override, e4
    assert quiet.spread_wide == mean_reverting.spread_wide  # inherited
    trending = profile_for_regime(mean_reverting, Regime.TRENDING)
    assert trending.exclude and trending.max_position_factor == 0.3
    medium_trending = profile_for_regime(profiles["medium_trending"], Regime.MEAN_REVERTING)
    assert medium_trending.sigma_blend == 0.3
    assert profile_for_regime(profiles["hard_trending"], Regime.QUIET).exclude  # no override: base value
