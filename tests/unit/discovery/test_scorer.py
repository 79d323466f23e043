"""MarketScorer against hand-computed scores of three markets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kalshi_mm.config.settings import AppConfig
from kalshi_mm.discovery.scorer import MarketScorer, time_penalty

DAY = 86_400.0


def _three(build: Any) -> list[Any]:
    # mid 0.50 everywhere, so 1h volume in dollars = contracts × 0.5.
    a = build.candidate(
        "A",
        volume_24h_e4=10_000_0000,
        volume_1h_e2=100_00,
        depth_bid_e2=100_00,
        depth_ask_e2=100_00,
        depth_levels_e2=800_00,
        spread_e4=400,
        time_to_expiry_s=10 * DAY,
    )
    b = build.candidate(
        "B",
        volume_24h_e4=20_000_0000,
        volume_1h_e2=300_00,
        depth_bid_e2=100_00,
        depth_ask_e2=100_00,
        depth_levels_e2=300_00,
        spread_e4=200,
        time_to_expiry_s=0.5 * DAY,
    )
    c = build.candidate(
        "C",
        volume_24h_e4=4_000_0000,
        volume_1h_e2=0,
        depth_bid_e2=500_00,
        depth_ask_e2=500_00,
        depth_levels_e2=1000_00,
        spread_e4=600,
        time_to_expiry_s=90 * DAY,
    )
    return [a, b, c]


def test_hand_computed_scores_order_bands_and_eligibility(build: Any) -> None:
    scored = MarketScorer(AppConfig().scoring).score(_three(build))
    by = {s.ticker: s for s in scored}
    # Normalised (vol24, vol1h, book, spread, time penalty):
    # A (0.375, 1/3, 1/3, 0.5, 50/59), B (1, 1, 0, 0, 1), C (0, 0, 1, 1, 0).
    assert by["A"].score == pytest.approx(0.3 * 0.375 + 0.25 / 3 + 0.2 / 3 - 0.15 * 0.5 - 0.1 * 50 / 59)
    assert by["B"].score == pytest.approx(0.30 + 0.25 - 0.10)
    assert by["C"].score == pytest.approx(0.20 - 0.15)
    assert [s.ticker for s in scored] == ["B", "A", "C"]
    assert [s.volume_band for s in scored] == ["high", "low", "very_low"]
    assert [s.eligible for s in scored] == [True, True, False]  # C is below $5,000 of 24h volume
    assert by["A"].features["volume_24h"] == pytest.approx(0.375)
    assert by["A"].features["recent_volume_1h_raw"] == pytest.approx(50.0)
    assert by["A"].features["days_to_expiry_raw"] == pytest.approx(10.0)
    assert any("below minimum 24h volume $5,000" in r for r in by["C"].reasons)
    assert by["B"].reasons[0] == "24h volume $20,000 (high)"


def test_top_takes_only_eligible_markets(build: Any) -> None:
    scorer = MarketScorer(AppConfig().scoring)
    scored = scorer.score(_three(build))
    assert [s.ticker for s in scorer.top(scored, 1)] == ["B"]
    assert [s.ticker for s in scorer.top(scored, 3)] == ["B", "A"]
    assert scorer.top(scored, 0) == []


def test_equal_values_normalise_to_zero_and_ties_break_by_ticker(build: Any) -> None:
    scored = MarketScorer(AppConfig().scoring).score([build.candidate("Z"), build.candidate("Y")])
    assert [s.ticker for s in scored] == ["Y", "Z"]
    assert scored[0].features["volume_24h"] == 0.0
    assert scored[0].score == pytest.approx(-0.1 * 50 / 59)


def test_empty_input() -> None:
    assert MarketScorer(AppConfig().scoring).score([]) == []


def test_time_penalty_edges() -> None:
    days = np.array([0.0, 1.0, 30.5, 60.0, 100.0])
    assert time_penalty(days).tolist() == pytest.approx([1.0, 1.0, 0.5, 0.0, 0.0])


def test_describe_lists_weights_and_thresholds() -> None:
    d = MarketScorer(AppConfig().scoring).describe()
    assert d["weights"]["spread"] == -0.15 and d["min_volume_24h_dollars"] == "5000.0000"
    assert d["volume_bands"]["medium"] == 0.75
