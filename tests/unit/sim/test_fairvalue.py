"""Fair-value processes: determinism, dynamics per regime and category, event coupling."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace

import pytest

from kalshi_mm.sim.fairvalue import (
    LOGIT_CAP,
    EventFairValue,
    FairValueParams,
    FairValueProcess,
    Regime,
    logit,
    mutually_exclusive_probs,
    sigmoid,
)
from kalshi_mm.sim.scenario import load_scenario

CALM = FairValueParams(
    sigma_logit_per_sqrt_s=0.002,
    mean_reverting_weight=1.0,
    regime_mean_duration_s=600.0,
    ou_half_life_s=300.0,
    trend_drift_logit_per_s=0.0,
    jump_rate_per_s=0.0,
    jump_mean_logit=0.0,
    jump_revert_prob=0.0,
    jump_revert_half_life_s=60.0,
)


def path(params: FairValueParams, seed: int, steps: int = 500, dt: float = 1.0) -> list[float]:
    proc = FairValueProcess.from_probability(params, 0.4, random.Random(seed))
    out = []
    for _ in range(steps):
        proc.advance(dt)
        out.append(proc.logit)
    return out


def test_same_seed_same_path_different_seed_different_path() -> None:
    params = replace(CALM, jump_rate_per_s=0.01, jump_mean_logit=0.5, jump_revert_prob=0.5, mean_reverting_weight=0.5)
    assert path(params, 7) == path(params, 7)
    assert path(params, 7) != path(params, 8)


def test_zero_dt_changes_nothing_and_bad_input_is_rejected() -> None:
    proc = FairValueProcess.from_probability(CALM, 0.3, random.Random(1))
    before = proc.logit
    assert proc.advance(0.0) == ()
    assert proc.logit == before
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            proc.advance(bad)
    with pytest.raises(ValueError):
        replace(CALM, mean_reverting_weight=1.5)
    with pytest.raises(ValueError):
        replace(CALM, ou_half_life_s=0.0)
    with pytest.raises(ValueError):
        FairValueProcess.from_probability(CALM, 1.0, random.Random(1))


def test_mean_reverting_regime_stays_near_its_anchor() -> None:
    # Stationary OU sd = σ·sqrt(half_life / (2 ln 2)) ≈ 0.029 log-odds; allow a wide margin.
    finals = [path(CALM, seed, steps=1200)[-1] for seed in range(40)]
    spread = max(abs(x - logit(0.4)) for x in finals)
    assert spread < 0.2


def test_trending_regime_drifts_in_one_direction() -> None:
    params = replace(CALM, mean_reverting_weight=0.0, trend_drift_logit_per_s=0.001, sigma_logit_per_sqrt_s=0.0)
    proc = FairValueProcess.from_probability(params, 0.5, random.Random(3))
    assert proc.regime is Regime.TRENDING
    proc.advance(100.0)
    assert abs(proc.logit) == pytest.approx(0.1)


def test_regime_mix_matches_the_category_weight() -> None:
    params = replace(CALM, mean_reverting_weight=0.3, regime_mean_duration_s=60.0, trend_drift_logit_per_s=1e-4)
    proc = FairValueProcess.from_probability(params, 0.5, random.Random(11))
    steps = 40_000
    mean_reverting = 0
    for _ in range(steps):
        proc.advance(1.0)
        mean_reverting += proc.regime is Regime.MEAN_REVERTING
    assert mean_reverting / steps == pytest.approx(0.3, abs=0.08)


def test_logit_never_leaves_the_cap() -> None:
    params = replace(
        CALM,
        mean_reverting_weight=0.0,
        trend_drift_logit_per_s=0.05,
        jump_rate_per_s=0.05,
        jump_mean_logit=3.0,
        jump_revert_prob=0.5,
    )
    for x in path(params, 5, steps=2000):
        assert -LOGIT_CAP <= x <= LOGIT_CAP


def _retracement_after_first_jump(params: FairValueParams, seed: int) -> float | None:
    """Share of the first jump (≥ 0.3 log-odds) undone 10 minutes later; None when no such jump came."""
    proc = FairValueProcess.from_probability(params, 0.5, random.Random(seed))
    for _ in range(2000):  # up to 10,000 s in 5 s steps
        before = proc.logit
        jumps = proc.advance(5.0)
        if jumps and abs(proc.logit - before) >= 0.3:
            after = proc.logit
            proc.advance(600.0)
            return (after - proc.logit) / (after - before)
    return None


def test_rates_jumps_revert_and_sports_jumps_stay() -> None:
    scenario = load_scenario("default")
    results = {}
    for key in ("rates", "sports"):
        params = scenario.dynamics_for(key).params()
        shares = [r for seed in range(150) if (r := _retracement_after_first_jump(params, seed)) is not None]
        assert len(shares) >= 80, key
        results[key] = sum(shares) / len(shares)
    assert results["rates"] > 0.6
    assert results["sports"] < 0.3
    assert results["rates"] - results["sports"] > 0.4


def test_sports_jumps_are_directional() -> None:
    params = load_scenario("default").dynamics_for("sports").params()
    params = replace(params, jump_rate_per_s=0.05)
    proc = FairValueProcess.from_probability(params, 0.5, random.Random(2))
    signs = []
    for _ in range(4000):
        signs.extend(1 if j.size_logit > 0 else -1 for j in proc.advance(1.0))
    repeats = sum(a == b for a, b in itertools.pairwise(signs)) / (len(signs) - 1)
    assert len(signs) > 100
    assert repeats == pytest.approx(0.7, abs=0.08)


def test_mutually_exclusive_probs_is_a_softmax() -> None:
    assert sum(mutually_exclusive_probs([0.3, -1.0, 2.0])) == pytest.approx(1.0)
    assert mutually_exclusive_probs([1.2, 0.2])[0] == pytest.approx(sigmoid(1.0))
    with pytest.raises(ValueError):
        mutually_exclusive_probs([0.0])


def test_exclusive_event_sums_to_one_and_ladder_stays_ordered() -> None:
    params = replace(
        CALM,
        jump_rate_per_s=0.02,
        jump_mean_logit=0.6,
        jump_revert_prob=0.5,
        mean_reverting_weight=0.5,
        trend_drift_logit_per_s=0.001,
    )
    exclusive = EventFairValue(params, [0.6, 0.3, 0.1], True, random.Random(1))
    ladder = EventFairValue(params, [0.95, 0.7, 0.4, 0.1, 0.02], False, random.Random(1))
    assert exclusive.probabilities() == pytest.approx((0.6, 0.3, 0.1))
    assert ladder.probabilities() == pytest.approx((0.95, 0.7, 0.4, 0.1, 0.02))
    for _ in range(500):
        exclusive.advance(2.0)
        ladder.advance(2.0)
        assert sum(exclusive.probabilities()) == pytest.approx(1.0)
        probs = ladder.probabilities()
        assert all(a >= b for a, b in itertools.pairwise(probs))


def test_shock_moves_the_market_nearest_fifty_cents() -> None:
    ladder = EventFairValue(CALM, [0.9, 0.52, 0.1], False, random.Random(1))
    ladder.shock(0.15, transient=True)
    probs = ladder.probabilities()
    assert probs[1] == pytest.approx(0.67)
    assert probs[0] > 0.9 and probs[2] > 0.1  # the other strikes follow
    exclusive = EventFairValue(CALM, [0.2, 0.45, 0.35], True, random.Random(1))
    exclusive.shock(-0.2, transient=False)
    assert exclusive.probabilities()[1] == pytest.approx(0.25)
    assert sum(exclusive.probabilities()) == pytest.approx(1.0)


def test_transient_shock_fades_with_its_half_life() -> None:
    params = replace(CALM, sigma_logit_per_sqrt_s=0.0, jump_revert_half_life_s=60.0)
    proc = FairValueProcess.from_probability(params, 0.5, random.Random(1))
    proc.shock(1.0, transient=True)
    proc.advance(60.0)
    assert proc.logit == pytest.approx(0.5)
    proc.shock(1.0, transient=False)
    proc.advance(6000.0)
    assert proc.logit == pytest.approx(1.0, abs=1e-6)


def test_results_are_consistent_with_the_event_kind() -> None:
    rng = random.Random(4)
    exclusive = EventFairValue(CALM, [0.5, 0.3, 0.2], True, random.Random(1))
    ladder = EventFairValue(CALM, [0.9, 0.5, 0.1], False, random.Random(1))
    wins = [0, 0, 0]
    for _ in range(2000):
        result = exclusive.draw_results(rng)
        assert sum(result) == 1
        wins[result.index(True)] += 1
        yes = ladder.draw_results(rng)
        assert list(yes) == sorted(yes, reverse=True)  # a YES strike implies every lower strike is YES
    assert wins[0] / 2000 == pytest.approx(0.5, abs=0.05)


def test_chop_whipsaws_around_the_level_with_negative_autocorrelation_then_calms() -> None:
    # No diffusion: every move is the burst's. 3 s samples of a 2 s half-life OU: changes alternate more than not.
    params = replace(CALM, sigma_logit_per_sqrt_s=0.0)
    event = EventFairValue(params, [0.5], False, random.Random(7))
    event.chop(0.04, half_life_s=2.0, duration_s=600.0)
    prices = []
    for _ in range(200):
        event.advance(3.0)
        prices.append(event.probabilities()[0])
    changes = [b - a for a, b in itertools.pairwise(prices)]
    sd = math.sqrt(sum(c * c for c in changes) / len(changes))
    lag1 = sum(a * b for a, b in itertools.pairwise(changes)) / sum(c * c for c in changes)
    level_sd = math.sqrt(sum((p - 0.5) ** 2 for p in prices) / len(prices))
    assert 0.03 < level_sd < 0.05  # about the asked 4 cents around 50
    assert sd > 0.03  # each 3 s observation moves cents: the scanner's σ rule (0.02) fires
    assert lag1 < -0.2  # mean-reverting: the regime classifier's score (1 - rho) / 2 is above 0.6
    # After the burst the term fades with its half-life and stops drawing random numbers.
    event.advance(1.0)
    for _ in range(60):
        event.advance(3.0)
    assert event.probabilities()[0] == pytest.approx(0.5, abs=1e-6)
    assert event.processes[0].logit == 0.0


def test_chop_parameters_are_checked() -> None:
    proc = FairValueProcess.from_probability(CALM, 0.5, random.Random(1))
    with pytest.raises(ValueError, match="duration_s"):
        proc.start_chop(0.1, 2.0, 0.0)
    with pytest.raises(ValueError, match="sd_logit"):
        proc.start_chop(float("nan"), 2.0, 10.0)
