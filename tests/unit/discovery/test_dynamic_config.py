"""generate_config_for_market: every band, cap and haircut, σ blending, validation."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from kalshi_mm.config.dynamic import DynamicConfigError, MarketStrategyConfig, generate_config_for_market
from kalshi_mm.config.settings import AppConfig, validate_config

CFG = AppConfig()
DAY = 86_400.0
BIG_BOOK = {"depth_levels_e2": 100_000_00}  # $50,000 of book at 0.50: alpha·√L = $22.36, above every cap


def gen(s: Any, side: str = "yes", cfg: AppConfig = CFG, **kw: Any) -> MarketStrategyConfig:
    kw.setdefault("active_markets", 1)
    kw.setdefault("mode", "discovery")
    return generate_config_for_market(s, side, cfg, **kw)  # type: ignore[arg-type]


def test_normal_band_alpha_sqrt_liquidity_binds(build: Any) -> None:
    # Book 1,000 contracts at 0.50 = $500; 0.1·√500 = $2.2360 -> 4 contracts at a worst loss of $0.50.
    c = gen(build.scored())
    assert (c.band, c.one_sided, c.risk_budget_e4, c.max_position_e2, c.order_size_e2) == (
        "normal",
        None,
        22360,
        400,
        100,
    )
    assert (c.category, c.profile, c.k, c.gamma) == ("rates", "mean_reverting", 48.0, 0.05)
    assert (c.min_total_spread_e4, c.max_total_spread_e4) == (200, 400)
    assert not c.long_dated_haircut_applied
    assert any("alpha·√liquidity" in r for r in c.reasons)


def test_per_market_cap(build: Any) -> None:
    c = gen(build.scored(**BIG_BOOK))
    assert c.risk_budget_e4 == 80000 and c.max_position_e2 == 1600
    assert any("per-market cap" in r for r in c.reasons)


def test_global_budget_divided_by_active_markets(build: Any) -> None:
    c = gen(build.scored(**BIG_BOOK), active_markets=20)
    assert c.risk_budget_e4 == 30000 and c.max_position_e2 == 600


def test_category_cap(build: Any) -> None:
    cfg = validate_config({"risk": {"category_caps": {"rates": 2, "default": 8}}})
    c = gen(build.scored(**BIG_BOOK), cfg=cfg)
    assert c.risk_budget_e4 == 20000
    assert any("rates cap" in r for r in c.reasons)


def test_soft_band_scales_size(build: Any) -> None:
    c = gen(build.scored(mid_e4=1000, yes_bid_e4=900, yes_ask_e4=1100, **BIG_BOOK))
    # $8 × 0.3 = $2.40; worst loss two-sided at 0.10 is $0.90 -> 2 contracts.
    assert (c.band, c.one_sided, c.risk_budget_e4, c.max_position_e2) == ("soft", None, 24000, 200)


def test_hard_band_skipped_in_discovery(build: Any) -> None:
    with pytest.raises(DynamicConfigError) as err:
        gen(build.scored(mid_e4=300, **BIG_BOOK))
    assert err.value.ticker == "KXTEST-26JAN-T1" and "hard extreme" in err.value.reason


@pytest.mark.parametrize(("mid", "side", "one_sided"), [(300, "yes", "bid"), (9700, "yes", "ask"), (9700, "no", "bid")])
def test_hard_band_one_sided_in_volatility_mode(build: Any, mid: int, side: str, one_sided: str) -> None:
    # A 3¢ market needs a deeper book to reach the $8 cap: 1,000,000 contracts at $0.03 = $30,000.
    c = gen(build.scored(mid_e4=mid, depth_levels_e2=1_000_000_00), side, mode="volatility")
    assert (c.band, c.one_sided, c.risk_budget_e4) == ("hard", one_sided, 8000)
    # $0.80 / $0.03 worst loss = 26 contracts, capped by volatility_mm.max_position_contracts (3).
    assert c.max_position_e2 == 300


def test_hard_band_not_one_sided_is_skipped(build: Any) -> None:
    cfg = validate_config({"extreme_prices": {"hard_extreme_one_sided": False}})
    with pytest.raises(DynamicConfigError, match="hard extreme"):
        gen(build.scored(mid_e4=300, **BIG_BOOK), cfg=cfg, mode="volatility")


def test_long_dated_haircut(build: Any) -> None:
    c = gen(build.scored(time_to_expiry_s=45 * DAY, **BIG_BOOK))
    assert c.long_dated_haircut_applied and c.risk_budget_e4 == 56000
    assert not gen(build.scored(time_to_expiry_s=30 * DAY, **BIG_BOOK)).long_dated_haircut_applied


def test_haircuts_multiply(build: Any) -> None:
    c = gen(build.scored(mid_e4=1000, time_to_expiry_s=45 * DAY, **BIG_BOOK))
    assert c.risk_budget_e4 == 16800  # $8 × 0.3 × 0.7


def test_zero_budget_and_sub_contract_budget_raise(build: Any) -> None:
    with pytest.raises(DynamicConfigError, match="zero risk budget"):
        gen(build.scored(depth_bid_e2=0, depth_ask_e2=0, depth_levels_e2=0))
    with pytest.raises(DynamicConfigError, match="less than one contract"):
        gen(build.scored(depth_bid_e2=200, depth_ask_e2=0, depth_levels_e2=0))  # $1 of book -> $0.10
    with pytest.raises(DynamicConfigError, match="active_markets"):
        gen(build.scored(), active_markets=0)


def test_profile_exclusion_and_regime_overrides(build: Any) -> None:
    with pytest.raises(DynamicConfigError, match="hard_trending excludes"):
        gen(build.scored(category="sports"))
    with pytest.raises(DynamicConfigError, match="mean_reverting excludes"):
        gen(build.scored(), regime="TRENDING")
    c = gen(build.scored(category="crypto", **BIG_BOOK), regime="TRENDING")
    # TRENDING: k × 0.5 (72 -> 36), γ × 1.5 (regimes.k_multipliers / gamma_multipliers).
    assert (c.profile, c.k, c.min_total_spread_e4, c.max_total_spread_e4) == ("medium_trending", 36.0, 600, 1200)
    assert c.gamma == pytest.approx(CFG.as_model.base_gamma * 1.5)
    assert c.risk_budget_e4 == 40000  # max_position_factor 0.5
    quiet = gen(build.scored(), regime="QUIET")
    assert quiet.min_total_spread_e4 == 150
    assert (quiet.gamma, quiet.k) == (
        pytest.approx(CFG.as_model.base_gamma * 0.8),
        pytest.approx(gen(build.scored()).k * 0.7),
    )
    with pytest.raises(DynamicConfigError, match="no gamma/k multiplier"):
        gen(build.scored(), regime="SIDEWAYS")


def test_sigma_blending(build: Any) -> None:
    s = build.scored(sigma=0.02)
    assert gen(s).sigma == pytest.approx(0.02)
    assert gen(s, event_sigma=0.06).sigma == pytest.approx(0.04)  # mean_reverting blend 0.5
    assert gen(s, event_sigma=0.06, jump_magnitude_e4=1000).sigma == pytest.approx(0.02)  # jump: ignore event σ
    assert gen(s, event_sigma=0.5).sigma == pytest.approx(0.08)  # clamped to sigma_cap
    assert gen(build.scored(sigma=0.0)).sigma == pytest.approx(CFG.volatility_mm.sigma_floor)


def test_inventory_skew_grows_on_thin_books_and_small_limits(build: Any) -> None:
    thin = gen(build.scored())
    deep = gen(build.scored(depth_levels_e2=20_000_00))
    assert 0 < deep.inventory_skew_factor < thin.inventory_skew_factor <= 1


def test_to_json_and_validation(build: Any) -> None:
    c = gen(build.scored())
    data = json.loads(json.dumps(c.to_json()))
    assert data["risk_budget_e4"] == 22360 and data["reasons"] == list(c.reasons)
    with pytest.raises(ValueError, match="order_size_e2"):
        dataclasses.replace(c, order_size_e2=c.max_position_e2 + 100)
    with pytest.raises(ValueError, match="one_sided"):
        dataclasses.replace(c, one_sided="both")  # type: ignore[arg-type]
