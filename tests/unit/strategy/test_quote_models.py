"""Quote-model math: GLFT anchor numbers, AS formulas and the published table's spreads, binary CARA prices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kalshi_mm.strategy.quote_models import (
    ModelParams,
    as_quotes,
    as_reservation_price,
    as_total_spread,
    binary_ce,
    binary_reservation_prices,
    binary_variance_rate,
    dynamic_gamma,
    glft_base_half_spread,
    glft_offsets,
    glft_quotes,
    glft_skew_coefficient,
    model_prices,
)

# STRATEGY.md §2's unit anchor.
SIGMA, A, K, GAMMA = 0.3, 0.9, 0.3, 0.01


def test_glft_anchor_numbers() -> None:
    h = glft_base_half_spread(GAMMA, K)
    c = glft_skew_coefficient(GAMMA, SIGMA, K, A)
    assert round(h, 3) == 3.279
    assert round(c, 4) == 0.0679
    assert round(2 * h + c, 3) == 6.626
    delta_b, delta_a = glft_offsets(10, GAMMA, SIGMA, K, A)
    assert round(delta_b, 3) == 3.992
    assert round(delta_a, 3) == 2.634


def test_glft_total_spread_is_independent_of_inventory_and_skew_is_q_times_c() -> None:
    c = glft_skew_coefficient(GAMMA, SIGMA, K, A)
    for q in (-7, 0, 3, 10):
        bid, ask = glft_quotes(50.0, q, GAMMA, SIGMA, K, A)
        assert ask - bid == pytest.approx(2 * glft_base_half_spread(GAMMA, K) + c)
        assert (bid + ask) / 2 == pytest.approx(50.0 - q * c)


def test_glft_adverse_selection_term() -> None:
    xi = 0.5
    b0, a0 = glft_offsets(2, GAMMA, SIGMA, K, A)
    b1, a1 = glft_offsets(2, GAMMA, SIGMA, K, A, xi)
    c0, c1 = glft_skew_coefficient(GAMMA, SIGMA, K, A), glft_skew_coefficient(GAMMA, SIGMA, K, A, xi)
    assert c1 == pytest.approx(c0 * math.exp(K * xi / 4))
    assert b1 == pytest.approx(glft_base_half_spread(GAMMA, K) + xi / 2 + 2.5 * c1)
    assert a1 == pytest.approx(glft_base_half_spread(GAMMA, K) + xi / 2 - 1.5 * c1)
    assert b1 > b0 and (b1 + a1) > (b0 + a0)


def test_glft_small_gamma_limit_is_one_over_k() -> None:
    assert glft_base_half_spread(1e-9, 60.0) == pytest.approx(1 / 60.0, rel=1e-6)
    assert math.isfinite(glft_skew_coefficient(1e-9, 0.01, 60.0, 0.05))


def test_as_formulas() -> None:
    assert as_reservation_price(100.0, 3, 0.1, 2.0, 0.5) == pytest.approx(100.0 - 3 * 0.1 * 4 * 0.5)
    assert as_total_spread(0.1, 2.0, 0.5, 1.5) == pytest.approx(0.1 * 4 * 0.5 + 20 * math.log(1 + 0.1 / 1.5))
    bid, ask = as_quotes(100.0, -2, 0.1, 2.0, 0.5, 1.5)
    r = as_reservation_price(100.0, -2, 0.1, 2.0, 0.5)
    assert (bid + ask) / 2 == pytest.approx(r)
    assert ask - bid == pytest.approx(as_total_spread(0.1, 2.0, 0.5, 1.5))


@pytest.mark.parametrize(("gamma", "published"), [(0.1, 1.49), (0.01, 1.35), (1.0, 3.02)])
def test_as_average_spread_matches_the_published_table(gamma: float, published: float) -> None:
    # The time average of γσ²(T−t) over [0, 1] is γσ²/2: the spread at τ = ½.
    assert round(as_total_spread(gamma, 2.0, 0.5, 1.5), 2) == published


def test_as_quotes_vectorise_and_cross_the_mid_at_gamma_one() -> None:
    bid, ask = as_quotes(np.array([100.0, 100.0]), np.array([0.0, 1.0]), 1.0, 2.0, 1.0, 1.5)
    assert bid.shape == (2,)
    assert ask[1] < 100.0  # the γ = 1 collapse the published table depends on; not "fixed"


def test_dynamic_gamma() -> None:
    assert dynamic_gamma(0.3, 0, 10) == pytest.approx(0.3)
    assert dynamic_gamma(0.3, -10, 10) == pytest.approx(0.3 / math.e)
    assert dynamic_gamma(0.3, 5, 10) > dynamic_gamma(0.3, 6, 10)


def test_binary_ce_and_reservation_prices() -> None:
    assert binary_ce(0.0, 0.4, 0.5) == pytest.approx(0.0)
    assert binary_ce(3.0, 0.4, 1e-9) == pytest.approx(1.2, rel=1e-6)  # risk-neutral: q·p
    bid, ask = binary_reservation_prices(0.0, 0.5, 1.0)
    assert bid == pytest.approx(-math.log(0.5 + 0.5 * math.exp(-1)))
    assert ask == pytest.approx(math.log(0.5 + 0.5 * math.e))
    assert bid < 0.5 < ask
    assert bid + ask == pytest.approx(1.0)  # symmetric at 50¢


def test_binary_reservation_prices_chain_and_approximation() -> None:
    p, g = 0.3, 0.005  # small γ: the second-order expansion's error is O(γ²q²)
    for q in range(-5, 6):
        bid, ask = binary_reservation_prices(float(q), p, g)
        next_ask = binary_reservation_prices(float(q + 1), p, g)[1]
        assert next_ask == pytest.approx(bid)  # buying the (q+1)th contract = selling it back
        assert bid == pytest.approx(p - g * (2 * q + 1) * p * (1 - p) / 2, abs=1e-4)
        assert ask == pytest.approx(p - g * (2 * q - 1) * p * (1 - p) / 2, abs=1e-4)


def test_binary_reservation_prices_yes_no_symmetry_and_overflow() -> None:
    bid, ask = binary_reservation_prices(4.0, 0.2, 0.7)
    no_bid, no_ask = binary_reservation_prices(-4.0, 0.8, 0.7)
    assert bid == pytest.approx(1 - no_ask)
    assert ask == pytest.approx(1 - no_bid)
    assert math.isfinite(binary_ce(-5000.0, 0.5, 1.0))


def test_binary_variance_rate_is_capped_by_settlement_risk() -> None:
    assert binary_variance_rate(0.5, 0.01, 3600.0) == pytest.approx((0.25 * 0.01) ** 2)
    assert binary_variance_rate(0.5, 10.0, 3600.0) == pytest.approx(0.25 / 3600.0)
    with pytest.raises(ValueError):
        binary_variance_rate(1.0, 0.01, 10.0)


def test_model_prices_glft_binary_adds_the_maker_fee_per_side() -> None:
    base = ModelParams(gamma=0.05, k=60.0, a=0.05, max_position=10, risk_horizon=3600.0)
    fee = ModelParams(gamma=0.05, k=60.0, a=0.05, max_position=10, risk_horizon=3600.0, fee_rate=0.0175)
    b0, a0 = model_prices(0.4, 0.0, 0.01, math.inf, base)
    b1, a1 = model_prices(0.4, 0.0, 0.01, math.inf, fee)
    assert b0 - b1 == pytest.approx(0.0175 * 0.4 * 0.6)
    assert a1 - a0 == pytest.approx(0.0175 * 0.4 * 0.6)


def test_model_prices_settlement_bound_only_inside_the_horizon() -> None:
    params = ModelParams(gamma=0.5, k=60.0, a=0.05, max_position=10, risk_horizon=3600.0)
    far = model_prices(0.5, 4.0, 0.001, 10 * 3600.0, params)
    near = model_prices(0.5, 4.0, 0.001, 600.0, params)
    settle_bid, _ = binary_reservation_prices(4.0, 0.5, 0.5)
    assert far[0] > settle_bid  # intraday risk alone: small skew
    assert near[0] <= settle_bid - glft_base_half_spread(0.5, 60.0) + 1e-12


def test_model_prices_as_kind_uses_the_shorter_of_horizon_and_expiry() -> None:
    params = ModelParams(kind="as", gamma=0.1, k=1.5, a=1.0, max_position=50, risk_horizon=0.5, binary=False)
    assert model_prices(100.0, 2.0, 2.0, 10.0, params) == pytest.approx(as_quotes(100.0, 2.0, 0.1, 2.0, 0.5, 1.5))
    assert model_prices(100.0, 2.0, 2.0, 0.2, params) == pytest.approx(as_quotes(100.0, 2.0, 0.1, 2.0, 0.2, 1.5))


def test_model_params_validation() -> None:
    with pytest.raises(ValueError):
        ModelParams(gamma=0.0)
    with pytest.raises(ValueError):
        ModelParams(kind="xyz")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ModelParams(xi=-0.1)
