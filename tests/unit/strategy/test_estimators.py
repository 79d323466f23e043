"""Estimators recover known σ (log-odds), k and A from synthetic data, and fall back with a flag on too little data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kalshi_mm.strategy.estimators import (
    FillIntensityTable,
    blend_sigma,
    estimate_logit_sigma,
    fit_intensity,
    logit,
    sigma_proxy_logit,
)


def _logit_walk(sigma: float, n: int, dt: float, p0: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = math.log(p0 / (1 - p0)) + np.concatenate([[0.0], np.cumsum(rng.normal(0, sigma * math.sqrt(dt), n))])
    return np.arange(n + 1) * dt, 1 / (1 + np.exp(-x))


@pytest.mark.parametrize(("sigma", "p0"), [(0.01, 0.5), (0.003, 0.2), (0.02, 0.85)])
def test_sigma_recovered_in_log_odds_space(sigma: float, p0: float) -> None:
    times, mids = _logit_walk(sigma, 3000, 10.0, p0, seed=1)
    est = estimate_logit_sigma(times, mids, fallback=99.0)
    assert not est.fallback
    assert est.n_increments == 3000
    assert est.sigma_logit == pytest.approx(sigma, rel=0.05)
    assert est.price_sigma(0.5) == pytest.approx(0.25 * est.sigma_logit)


def test_sigma_irregular_sampling_and_duplicates() -> None:
    rng = np.random.default_rng(2)
    dts = rng.uniform(1.0, 30.0, 4000)
    x = np.concatenate([[0.0], np.cumsum(rng.normal(0, 0.01 * np.sqrt(dts)))])
    times = np.concatenate([[0.0], np.cumsum(dts)])
    mids = 1 / (1 + np.exp(-x))
    # A repeated timestamp (Δt = 0) must be skipped, not divide by zero.
    times, mids = np.insert(times, 10, times[10]), np.insert(mids, 10, mids[10])
    est = estimate_logit_sigma(times, mids, fallback=1.0)
    assert est.sigma_logit == pytest.approx(0.01, rel=0.06)


def test_sigma_falls_back_with_flag_on_little_data() -> None:
    est = estimate_logit_sigma([0.0, 10.0, 20.0], [0.5, 0.51, 0.5], fallback=0.007, min_increments=20)
    assert est.fallback and est.sigma_logit == 0.007 and "2 increments" in est.reason


def test_logit_clips_certain_prices() -> None:
    assert math.isfinite(float(logit(0.0))) and math.isfinite(float(logit(1.0)))
    assert float(logit(0.5)) == pytest.approx(0.0)


def test_sigma_proxy_and_blend() -> None:
    # Seed proxy: baseline·(1 + 2p(1−p)) $ per √horizon → log-odds per √s.
    assert sigma_proxy_logit(0.5, 0.05, 3600.0) == pytest.approx(0.05 * 1.5 / 60.0 / 0.25)
    assert blend_sigma(0.02, 0.06, 0.5, 0.001, 0.08) == pytest.approx(0.04)
    assert blend_sigma(0.2, 0.2, 0.5, 0.001, 0.08) == 0.08
    with pytest.raises(ValueError):
        blend_sigma(0.1, 0.1, 1.5, 0.0, 1.0)


def _synthetic_buckets(k: float, a: float, exposure: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = np.arange(0.005, 0.10, 0.01)
    e = np.full_like(d, exposure)
    return d, e, rng.poisson(a * np.exp(-k * d) * e).astype(float)


@pytest.mark.parametrize(("k", "a"), [(60.0, 0.05), (30.0, 0.2), (120.0, 0.5)])
def test_intensity_recovers_k_and_a(k: float, a: float) -> None:
    d, e, n = _synthetic_buckets(k, a, exposure=20_000.0, seed=3)
    est = fit_intensity(d, e, n, fallback_k=1.5, fallback_a=1.0)
    assert not est.fallback
    assert est.k == pytest.approx(k, rel=0.1)
    assert est.a == pytest.approx(a, rel=0.1)
    assert est.n_fills == int(n.sum())


def test_intensity_uses_buckets_without_fills() -> None:
    # Far buckets see no fills at all; the Poisson fit still uses their exposure (pushing k up, correctly).
    d, e, n = _synthetic_buckets(120.0, 0.5, exposure=3000.0, seed=4)
    assert (n == 0).any()
    est = fit_intensity(d, e, n, fallback_k=1.5, fallback_a=1.0)
    assert not est.fallback and est.k == pytest.approx(120.0, rel=0.25)


def test_intensity_fallback_flags() -> None:
    d, e, n = _synthetic_buckets(60.0, 0.05, exposure=100.0, seed=5)
    few = fit_intensity(d, e, n, fallback_k=1.5, fallback_a=0.3, min_fills=30)
    assert few.fallback and (few.k, few.a) == (1.5, 0.3) and "fills" in few.reason
    one_bucket = fit_intensity([0.01], [1e6], [500], fallback_k=1.5, fallback_a=0.3)
    assert one_bucket.fallback and "buckets" in one_bucket.reason
    flat = fit_intensity(
        np.linspace(0.005, 0.095, 10), np.full(10, 1000.0), np.full(10, 50.0), fallback_k=2, fallback_a=1
    )
    assert flat.fallback and "outside" in flat.reason  # no decay with distance: k not identifiable


def test_fill_intensity_table_end_to_end() -> None:
    rng = np.random.default_rng(6)
    k, a = 60.0, 0.05
    table = FillIntensityTable(bucket_width=0.01, max_distance=0.10)
    assert table.fit(fallback_k=1.5, fallback_a=0.01).fallback
    for _ in range(60_000):
        dist = rng.uniform(0.0, 0.08)
        table.add_exposure(dist, 1.0)
        if rng.random() < a * math.exp(-k * dist):
            table.add_fill(dist)
    est = table.fit(fallback_k=1.5, fallback_a=0.01)
    assert not est.fallback
    # Bucket centres stand in for the distances inside each bucket: a small, known bias.
    assert est.k == pytest.approx(k, rel=0.15)
    assert est.a == pytest.approx(a, rel=0.2)
