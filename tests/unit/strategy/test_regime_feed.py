"""regime_adjustment: freeze on missing or stale regime data; γ/k factors relative to the session's start regime."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kalshi_mm.strategy.regime_feed import RegimeFeed, regime_adjustment
from kalshi_mm.volatility.regime import Regime, RegimeState

GAMMA = {"MEAN_REVERTING": 1.0, "QUIET": 0.8, "TRENDING": 1.5}
K = {"MEAN_REVERTING": 1.0, "QUIET": 0.7, "TRENDING": 0.5}


def adjust(reading: object, now: float = 100.0, base: str | None = "QUIET", max_age: float = 4.0):  # type: ignore[no-untyped-def]
    return regime_adjustment(
        reading, now, max_age_s=max_age, base_regime=base, gamma_multipliers=GAMMA, k_multipliers=K
    )  # type: ignore[arg-type]


def test_missing_or_stale_regime_freezes_quoting() -> None:
    assert adjust(None).frozen == "regime_stale"
    assert adjust(SimpleNamespace(regime="QUIET", observed_ts=95.9)).frozen == "regime_stale"
    fresh = adjust(SimpleNamespace(regime="QUIET", observed_ts=96.0))  # exactly max_age old: still fresh
    assert fresh.frozen is None and fresh.regime == "QUIET"


def test_factors_are_relative_to_the_start_regime() -> None:
    same = adjust(SimpleNamespace(regime="QUIET", observed_ts=100.0))
    assert (same.gamma_factor, same.k_factor) == (1.0, 1.0)
    trending = adjust(RegimeState(Regime.TRENDING, True, 90.0, 99.0))
    assert trending.gamma_factor == pytest.approx(1.5 / 0.8)
    assert trending.k_factor == pytest.approx(0.5 / 0.7)
    absolute = adjust(SimpleNamespace(regime="TRENDING", observed_ts=100.0), base=None)
    assert (absolute.gamma_factor, absolute.k_factor) == (1.5, 0.5)
    unknown = adjust(SimpleNamespace(regime="NEW_REGIME", observed_ts=100.0), base=None)
    assert (unknown.gamma_factor, unknown.k_factor) == (1.0, 1.0)


def test_feed_reads_each_time_and_checks_its_limit() -> None:
    readings = [SimpleNamespace(regime="QUIET", observed_ts=0.0), None]
    feed = RegimeFeed(
        lambda: readings.pop(0), max_age_s=4.0, base_regime="QUIET", gamma_multipliers=GAMMA, k_multipliers=K
    )
    assert feed.adjust(1.0).frozen is None
    assert feed.adjust(2.0).frozen == "regime_stale"
    with pytest.raises(ValueError, match="max_age_s"):
        RegimeFeed(lambda: None, max_age_s=0.0, base_regime=None, gamma_multipliers={}, k_multipliers={})
