"""Quote models as pure float math: Avellaneda–Stoikov, Guéant–Lehalle–Fernandez-Tapia, binary-contract risk.

Units (STRATEGY.md §1–§3). Every function works in whatever price unit its inputs use, as long as they agree:
``mid`` and the returned prices share one unit (dollars in the daemon, the AS paper's price-100 scale in the
benchmarks); ``k`` is per price unit (intensity λ(δ) = A·e^(−kδ)); ``A`` is fills per time unit at δ = 0;
``sigma`` is price units per √time unit; ``tau`` is in the same time unit; ``gamma`` is CARA risk aversion per
price unit of P&L; ``q`` is inventory in contracts (positive = long YES). The daemon uses dollars and seconds.

Nothing here rounds, clamps or looks at a price grid: :mod:`kalshi_mm.strategy.quoting` turns model prices
into orders. Functions accept numpy arrays for ``mid`` and ``q`` so the benchmarks vectorise across paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np

__all__ = [
    "FloatOrArray",
    "ModelKind",
    "ModelParams",
    "as_quotes",
    "as_reservation_price",
    "as_total_spread",
    "binary_ce",
    "binary_reservation_prices",
    "binary_variance_rate",
    "dynamic_gamma",
    "glft_base_half_spread",
    "glft_offsets",
    "glft_quotes",
    "glft_skew_coefficient",
    "model_prices",
]

FloatOrArray: TypeAlias = float | np.ndarray
ModelKind = Literal["glft", "as"]


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


# --- Avellaneda–Stoikov (2008) ----------------------------------------------------------------------------------


def as_reservation_price(mid: FloatOrArray, q: FloatOrArray, gamma: float, sigma: float, tau: float) -> FloatOrArray:
    """AS reservation price r = s − q·γ·σ²·τ (eq. 29), in the units of ``mid``."""
    return mid - q * gamma * sigma * sigma * tau


def as_total_spread(gamma: float, sigma: float, tau: float, k: float) -> float:
    """AS optimal total spread δᵃ + δᵇ = γσ²τ + (2/γ)·ln(1 + γ/k) (eq. 30), in price units."""
    _check_positive(gamma=gamma, k=k)
    return gamma * sigma * sigma * tau + (2.0 / gamma) * math.log1p(gamma / k)


def as_quotes(
    mid: FloatOrArray, q: FloatOrArray, gamma: float, sigma: float, tau: float, k: float
) -> tuple[FloatOrArray, FloatOrArray]:
    """Raw AS (bid, ask): the total spread centred on the reservation price; no clamping, no rounding.

    Units of ``mid``. Deliberately unguarded: at large γ the quotes cross the mid when |q| ≥ 1 (the published
    γ = 1 row depends on it), and a negative distance simply means a certain fill in the AS simulation.
    """
    r = as_reservation_price(mid, q, gamma, sigma, tau)
    half = 0.5 * as_total_spread(gamma, sigma, tau, k)
    return r - half, r + half


def dynamic_gamma(gamma_base: float, q: FloatOrArray, max_position: float) -> FloatOrArray:
    """The seed's inventory-dependent risk aversion γ(q) = γ_base·exp(−|q|/max_position) (per price unit).

    Note the direction: it *lowers* risk aversion as inventory grows (the seed's choice). AS's reservation
    price stays monotone in q only while |q| ≤ max_position, which the inventory bound guarantees.
    """
    _check_positive(gamma_base=gamma_base, max_position=max_position)
    return gamma_base * np.exp(-np.abs(q) / max_position)


# --- Guéant–Lehalle–Fernandez-Tapia (2013) ------------------------------------------------------------------------


def glft_base_half_spread(gamma: float, k: float) -> float:
    """The inventory-free half-spread (1/γ)·ln(1 + γ/k), in price units (→ 1/k as γ → 0)."""
    _check_positive(gamma=gamma, k=k)
    return math.log1p(gamma / k) / gamma


def glft_skew_coefficient(gamma: float, sigma: float, k: float, a: float, xi: float = 0.0) -> float:
    """GLFT's C = sqrt(σ²γ/(2kA)·(1+γ/k)^(1+k/γ))·e^(kξ/4): the price shift per contract of inventory."""
    _check_positive(gamma=gamma, k=k, a=a)
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be finite and ≥ 0, got {sigma!r}")
    # (1+γ/k)^(1+k/γ) through log1p: it tends to e as γ/k → 0, where the naive power loses all precision.
    growth = math.exp((1.0 + k / gamma) * math.log1p(gamma / k))
    return math.sqrt(sigma * sigma * gamma / (2.0 * k * a) * growth) * math.exp(k * xi / 4.0)


def glft_offsets(
    q: FloatOrArray, gamma: float, sigma: float, k: float, a: float, xi: float = 0.0
) -> tuple[FloatOrArray, FloatOrArray]:
    """GLFT distances (δᵇ, δᵃ) from the mid, in price units.

    δᵇ = h + ξ/2 + ((2q+1)/2)·C and δᵃ = h + ξ/2 − ((2q−1)/2)·C with h = (1/γ)ln(1+γ/k) and C from
    :func:`glft_skew_coefficient` (ξ: adverse price move per fill, price units). Total spread 2h + ξ + C.
    """
    h = glft_base_half_spread(gamma, k) + 0.5 * xi
    c = glft_skew_coefficient(gamma, sigma, k, a, xi)
    return h + (q + 0.5) * c, h - (q - 0.5) * c


def glft_quotes(
    mid: FloatOrArray, q: FloatOrArray, gamma: float, sigma: float, k: float, A: float, xi: float = 0.0
) -> tuple[FloatOrArray, FloatOrArray]:
    """Raw GLFT closed-form (bid, ask) in the units of ``mid``; no inventory bound, clamping or rounding."""
    delta_b, delta_a = glft_offsets(q, gamma, sigma, k, A, xi)
    return mid - delta_b, mid + delta_a


# --- binary contracts (STRATEGY §3) ---------------------------------------------------------------------------------


def binary_variance_rate(p: float, sigma_logit: float, horizon: float) -> float:
    """Price-space variance rate of a binary at probability ``p`` ($²/time unit), capped by settlement risk.

    Intraday: σ_p = p(1−p)·σ_logit (log-odds volatility mapped to price). A binary's remaining variance is at
    most p(1−p) whatever the time left, so over ``horizon`` the rate is capped at p(1−p)/horizon.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be inside (0, 1), got {p!r}")
    _check_positive(horizon=horizon)
    if not (math.isfinite(sigma_logit) and sigma_logit >= 0):
        raise ValueError(f"sigma_logit must be finite and ≥ 0, got {sigma_logit!r}")
    settle = p * (1.0 - p)
    return min((settle * sigma_logit) ** 2, settle / horizon)


def _logaddexp(a: float, b: float) -> float:
    hi, lo = (a, b) if a >= b else (b, a)
    return hi + math.log1p(math.exp(lo - hi))


def binary_ce(q: FloatOrArray, p: float, gamma: float) -> FloatOrArray:
    """CARA certainty equivalent ($) of q contracts held to settlement: −(1/γ)·ln(1 − p + p·e^(−γq))."""
    _check_positive(gamma=gamma)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be inside (0, 1), got {p!r}")
    # log-sum-exp keeps large short positions (e^(−γq) huge) from overflowing; scalars skip numpy's overhead
    # because the order-turning step calls this on every quote.
    if isinstance(q, int | float):
        return -_logaddexp(math.log1p(-p), math.log(p) - gamma * q) / gamma
    return -np.logaddexp(math.log1p(-p), math.log(p) - gamma * np.asarray(q, dtype=float)) / gamma


def binary_reservation_prices(q: FloatOrArray, p: float, gamma: float) -> tuple[FloatOrArray, FloatOrArray]:
    """Exact CARA reservation (bid, ask) in $ for one more contract of a binary held to settlement.

    bid = CE(q+1) − CE(q), ask = CE(q) − CE(q−1); both fall as q grows and bid(q) < p < ask(q) at q = 0;
    for small γ they approach p − γ(2q ± 1)·p(1−p)/2, i.e. r ≈ p − γ·q·p(1−p).
    """
    ce_q = binary_ce(q, p, gamma)
    return binary_ce(q + 1.0, p, gamma) - ce_q, ce_q - binary_ce(q - 1.0, p, gamma)


# --- the production model ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelParams:
    """Parameters of :func:`model_prices`; units as in the module docstring (the daemon: $ and seconds).

    ``kind``: "glft" (closed form, time-free skew) or "as" (reservation price over the risk horizon).
    ``max_position``: inventory bound Q in contracts (used by dynamic γ; the bound itself is applied by the
    order-turning step). ``binary``: the price is a probability in (0, 1) — σ is then log-odds volatility,
    variance is capped by settlement risk, and close to expiry the exact CARA settlement prices bound the quotes.
    ``fee_rate``: maker fee coefficient (0.0175 on maker-fee series) — each side moves out by the fee it pays.
    """

    kind: ModelKind = "glft"
    gamma: float = 0.3
    k: float = 1.5
    a: float = 1.0
    xi: float = 0.0
    risk_horizon: float = 3600.0
    max_position: float = 10.0
    dynamic_gamma: bool = False
    binary: bool = True
    fee_rate: float = 0.0

    def __post_init__(self) -> None:
        _check_positive(gamma=self.gamma, k=self.k, a=self.a, risk_horizon=self.risk_horizon)
        _check_positive(max_position=self.max_position)
        if self.kind not in ("glft", "as"):
            raise ValueError(f"kind must be 'glft' or 'as', got {self.kind!r}")
        if not (math.isfinite(self.xi) and self.xi >= 0) or not (0 <= self.fee_rate < 1):
            raise ValueError("xi must be finite and ≥ 0; fee_rate in [0, 1)")


def model_prices(
    mid: float,
    q: float,
    sigma: float,
    time_to_expiry: float,
    params: ModelParams,
    *,
    k: float | None = None,
    a: float | None = None,
    xi: float | None = None,
) -> tuple[float, float]:
    """The production model's raw (bid, ask) in the units of ``mid``, before grid, NBBO and one-sided rules.

    ``sigma``: log-odds volatility per √time when ``params.binary`` (price volatility otherwise);
    ``time_to_expiry`` in the time unit (math.inf when unknown); ``k``/``a``/``xi`` override the params with
    estimates. The horizon is min(risk_horizon, time_to_expiry), so AS's risk term stops at settlement.
    """
    k = params.k if k is None else k
    a = params.a if a is None else a
    xi = params.xi if xi is None else xi
    horizon = max(min(params.risk_horizon, time_to_expiry), 1e-9)
    gamma = float(dynamic_gamma(params.gamma, q, params.max_position)) if params.dynamic_gamma else params.gamma
    variance = binary_variance_rate(mid, sigma, horizon) if params.binary else sigma * sigma
    sig = math.sqrt(variance)
    # A maker fee f per contract is a constant cost per fill: in the exponential-intensity model the optimal
    # distance moves out by exactly f (maximise (δ − f)·e^(−kδ)).
    fee = params.fee_rate * mid * (1.0 - mid) if params.binary else 0.0
    if params.kind == "glft":
        delta_b, delta_a = glft_offsets(q, gamma, sig, k, a, xi)
        bid, ask = mid - float(delta_b) - fee, mid + float(delta_a) + fee
    else:
        bid_as, ask_as = as_quotes(mid, q, gamma, sig, horizon, k)
        bid, ask = float(bid_as) - 0.5 * xi - fee, float(ask_as) + 0.5 * xi + fee
    if params.binary and time_to_expiry <= params.risk_horizon:
        # Inside the horizon the position will most likely be held to settlement: never bid above (or offer
        # below) what a CARA holder would pay for one more contract, less the model's own edge.
        edge = glft_base_half_spread(gamma, k) + 0.5 * xi + fee
        settle_bid, settle_ask = binary_reservation_prices(q, mid, gamma)
        bid, ask = min(bid, float(settle_bid) - edge), max(ask, float(settle_ask) + edge)
    return bid, ask
