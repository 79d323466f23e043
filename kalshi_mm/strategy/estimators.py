"""Model inputs estimated from data: σ in log-odds space, and the fill intensity λ(δ) = A·e^(−kδ) of our quotes.

Pure functions over arrays the caller collects (timestamps are floats in seconds given by the caller), plus
:class:`FillIntensityTable`, a small accumulator of exposure time and fills per distance bucket. Every estimate
says whether it is a fallback to configured values, and why, so a warming-up market quotes on known defaults
instead of stalling (the Hummingbot failure mode, STRATEGY §3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FillIntensityTable",
    "IntensityEstimate",
    "SigmaEstimate",
    "blend_sigma",
    "estimate_logit_sigma",
    "fit_intensity",
    "logit",
    "sigma_proxy_logit",
]

# Log-odds of 0 or 1 are infinite; clip to half a deci-cent, the finest Kalshi tick.
_P_CLIP = 0.0005


def logit(p: np.ndarray | float) -> np.ndarray:
    """Log-odds ln(p/(1−p)) with p clipped into [0.0005, 0.9995]."""
    p = np.clip(np.asarray(p, dtype=float), _P_CLIP, 1.0 - _P_CLIP)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True, slots=True)
class SigmaEstimate:
    """Log-odds volatility per √s; ``fallback`` is True when it is the configured proxy, with ``reason``."""

    sigma_logit: float
    n_increments: int
    fallback: bool
    reason: str = ""

    def price_sigma(self, p: float) -> float:
        """The same volatility in price space at probability p: p(1−p)·σ_logit ($ per √s)."""
        return p * (1.0 - p) * self.sigma_logit


def sigma_proxy_logit(p: float, baseline: float, horizon_s: float) -> float:
    """The seed's proxy σ = baseline·(1 + 2p(1−p)) read as $ per √horizon, converted to log-odds per √s.

    ``baseline`` is config ``as_model.sigma.baseline`` ($ over one risk horizon, e.g. 5¢ an hour).
    """
    p = min(max(p, _P_CLIP), 1.0 - _P_CLIP)
    price_sigma = baseline * (1.0 + 2.0 * p * (1.0 - p)) / math.sqrt(horizon_s)
    return price_sigma / (p * (1.0 - p))


def estimate_logit_sigma(
    times_s: Sequence[float] | np.ndarray,
    mids: Sequence[float] | np.ndarray,
    *,
    fallback: float,
    min_increments: int = 20,
) -> SigmaEstimate:
    """Realised log-odds volatility per √s from a mid history: sqrt(Σ Δx² / Σ Δt) with x = logit(mid).

    ``times_s`` ascending seconds, ``mids`` in $ (probabilities). Pairs with Δt ≤ 0 are skipped. With fewer than
    ``min_increments`` usable increments the ``fallback`` (log-odds per √s, e.g. :func:`sigma_proxy_logit`) is
    returned with ``fallback=True``. Sampling every observed mid change overstates σ by the bid-ask bounce, so
    callers sample at a fixed cadence.
    """
    t = np.asarray(times_s, dtype=float)
    x = logit(np.asarray(mids, dtype=float))
    if t.shape != x.shape or t.ndim != 1:
        raise ValueError("times_s and mids must be 1-D arrays of the same length")
    dt, dx = np.diff(t), np.diff(x)
    ok = (dt > 0) & np.isfinite(dt) & np.isfinite(dx)
    n = int(ok.sum())
    if n < min_increments:
        return SigmaEstimate(fallback, n, True, f"{n} increments < {min_increments}")
    var_rate = float(np.sum(dx[ok] ** 2) / np.sum(dt[ok]))
    return SigmaEstimate(math.sqrt(var_rate), n, False)


def blend_sigma(estimated: float, event: float, weight: float, floor: float, cap: float) -> float:
    """The seed's blend (1 − w)·estimated + w·event, clamped to [floor, cap] (all in one σ unit)."""
    if not 0 <= weight <= 1 or floor > cap:
        raise ValueError("need weight in [0, 1] and floor ≤ cap")
    return min(max((1.0 - weight) * estimated + weight * event, floor), cap)


@dataclass(frozen=True, slots=True)
class IntensityEstimate:
    """λ(δ) = a·e^(−kδ): ``k`` per $, ``a`` fills per second per quoted side at δ = 0.

    ``fallback`` is True when the values are the configured defaults (``reason`` says why); ``n_fills`` and
    ``exposure_s`` describe the data the fit saw.
    """

    k: float
    a: float
    fallback: bool
    n_fills: int
    exposure_s: float
    reason: str = ""


def fit_intensity(
    distances: Sequence[float] | np.ndarray,
    exposure_s: Sequence[float] | np.ndarray,
    fills: Sequence[float] | np.ndarray,
    *,
    fallback_k: float,
    fallback_a: float,
    min_fills: int = 30,
    min_buckets: int = 3,
    k_bounds: tuple[float, float] = (1.0, 2000.0),
) -> IntensityEstimate:
    """Fit λ(δ) = A·e^(−kδ) to fill counts per distance bucket (Poisson regression with a log-exposure offset).

    ``distances`` $ from the mid of each bucket, ``exposure_s`` seconds our quotes rested there (summed over
    sides), ``fills`` counts. The maximum-likelihood fit is the regression of log(count/exposure) on distance
    weighted by counts, but it also uses buckets with zero fills. Falls back to (``fallback_k``, ``fallback_a``)
    with ``fallback=True`` when there are fewer than ``min_fills`` fills or ``min_buckets`` exposed buckets, or when
    the fit leaves ``k_bounds`` (no decay with distance means the data cannot identify k).
    """
    d = np.asarray(distances, dtype=float)
    e = np.asarray(exposure_s, dtype=float)
    n = np.asarray(fills, dtype=float)
    if not d.shape == e.shape == n.shape or d.ndim != 1:
        raise ValueError("distances, exposure_s and fills must be 1-D arrays of the same length")
    used = e > 0
    d, e, n = d[used], e[used], n[used]
    total, exposure = round(float(n.sum())), float(e.sum())

    def fallback(reason: str) -> IntensityEstimate:
        return IntensityEstimate(fallback_k, fallback_a, True, total, exposure, reason)

    if total < min_fills:
        return fallback(f"{total} fills < {min_fills}")
    if d.size < min_buckets or float(np.ptp(d)) <= 0:
        return fallback(f"{d.size} distinct exposed buckets < {min_buckets}")
    # Start from the weighted log-linear fit on buckets with fills, then Newton steps on the Poisson likelihood.
    hit = n > 0
    if hit.sum() >= 2 and float(np.ptp(d[hit])) > 0:
        slope, intercept = np.polyfit(d[hit], np.log(n[hit] / e[hit]), 1, w=np.sqrt(n[hit]))
        beta = np.array([intercept, slope])
    else:
        beta = np.array([math.log(n.sum() / e.sum()), 0.0])
    design = np.column_stack([np.ones_like(d), d])
    for _ in range(50):
        mu = e * np.exp(np.clip(design @ beta, -700, 700))
        grad = design.T @ (n - mu)
        hess = design.T @ (design * mu[:, None])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return fallback("singular fit")
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    k, a = -float(beta[1]), math.exp(float(beta[0]))
    if not (math.isfinite(k) and math.isfinite(a)) or not k_bounds[0] <= k <= k_bounds[1]:
        return fallback(f"fitted k={k:.4g} outside {k_bounds}")
    return IntensityEstimate(k, a, False, total, exposure)


class FillIntensityTable:
    """Accumulates, per distance bucket, how long our quotes rested there and how many fills they got.

    Owned by one market-maker thread (not thread-safe). Distances are $ from the mid at the time; buckets are
    ``bucket_width`` $ wide starting at 0 (a quote inside the mid counts in bucket 0); anything beyond
    ``max_distance`` goes in the last bucket.
    """

    def __init__(self, bucket_width: float = 0.01, max_distance: float = 0.10):
        if not (bucket_width > 0 and max_distance > 0):
            raise ValueError("bucket_width and max_distance must be > 0")
        self._width = bucket_width
        self._n = max(1, math.ceil(max_distance / bucket_width))
        self._exposure = np.zeros(self._n)
        self._fills = np.zeros(self._n)

    def _bucket(self, distance: float) -> int:
        return min(max(int(distance / self._width), 0), self._n - 1)

    def add_exposure(self, distance: float, seconds: float) -> None:
        """A quote rested ``seconds`` at ``distance`` $ from the mid."""
        if seconds > 0:
            self._exposure[self._bucket(distance)] += seconds

    def add_fill(self, distance: float, count: float = 1.0) -> None:
        """A quote at ``distance`` $ from the mid was filled (``count`` fills, not contracts)."""
        self._fills[self._bucket(distance)] += count

    def fit(self, *, fallback_k: float, fallback_a: float, min_fills: int = 30) -> IntensityEstimate:
        """:func:`fit_intensity` over the buckets (bucket centres as distances)."""
        centres = (np.arange(self._n) + 0.5) * self._width
        return fit_intensity(
            centres, self._exposure, self._fills, fallback_k=fallback_k, fallback_a=fallback_a, min_fills=min_fills
        )
