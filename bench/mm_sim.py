"""Avellaneda–Stoikov market simulation shared by the B1/B2 benchmarks (STRATEGY.md §1, §4), vectorised across paths.

Setup (AS 2008 §3.3): s0 = 100, T = 1, σ = 2, dt = 0.005 (200 steps), k = 1.5, A = 140, q0 = 0. Each step the
strategy quotes from the pre-move mid; the ask fills with probability min(1, A·e^(−k·δᵃ)·dt) and the bid likewise,
independently; then the mid moves ±σ√dt with probability ½. P&L = X_T + q_T·S_T. A quote of NaN means "no order".
The random numbers are drawn once per (paths, seed) so strategies compare on common random numbers.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kalshi_mm.strategy.quote_models import ModelParams, as_quotes, as_total_spread, glft_quotes, model_prices

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# (mid, q, tau) -> (bid, ask), arrays over paths; NaN = no quote on that side.
QuoteFn = Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ASSetup:
    """The AS paper's market; prices in its own units (mid 100), time in units of T."""

    s0: float = 100.0
    horizon: float = 1.0
    sigma: float = 2.0
    dt: float = 0.005
    k: float = 1.5
    a: float = 140.0

    @property
    def n_steps(self) -> int:
        return round(self.horizon / self.dt)

    def tau(self, step: int) -> float:
        """Time left used for the quotes of ``step``: measured at the step's midpoint.

        The published table's average spread is deterministic, and only the midpoint convention reproduces it at
        γ = 1 (3.02: the time average of γσ²(T−t) + (2/γ)ln(1+γ/k) over [0, T]); quoting with the time left at the
        start of the step gives 3.03, at its end 3.01. The convention also moves the γ = 1 inventory strategy's
        std(q_T) (1.64 / 1.70 / 1.76 for start / midpoint / end; published 1.7).
        """
        return self.horizon - (step + 0.5) * self.dt


@dataclass(frozen=True)
class ASDraws:
    """Common random numbers: every strategy simulated with the same (paths, seed) sees the same fill uniforms
    and mid moves. Drawn step by step (three arrays of ``n_paths`` per step) to keep memory flat."""

    n_paths: int
    seed: int

    def steps(self, setup: ASSetup) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per step: (ask uniforms, bid uniforms, ±1 moves)."""
        rng = np.random.default_rng(self.seed)
        for _ in range(setup.n_steps):
            yield rng.random(self.n_paths), rng.random(self.n_paths), np.where(rng.random(self.n_paths) < 0.5, 1, -1)


@dataclass(frozen=True)
class ASResult:
    """Per-path final P&L and inventory, and the average quoted spread (both sides quoted)."""

    pnl: np.ndarray
    q_final: np.ndarray
    avg_spread: float


def simulate_as(setup: ASSetup, quote: QuoteFn, draws: ASDraws) -> ASResult:
    """Run one strategy over all paths of ``draws``."""
    n = draws.n_paths
    s = np.full(n, setup.s0)
    q = np.zeros(n)
    x = np.zeros(n)
    spread_sum, spread_n = 0.0, 0
    step_sd = setup.sigma * math.sqrt(setup.dt)
    for i, (u_ask, u_bid, moves) in enumerate(draws.steps(setup)):
        bid, ask = quote(s, q, setup.tau(i))
        bid = np.broadcast_to(np.asarray(bid, dtype=float), s.shape)
        ask = np.broadcast_to(np.asarray(ask, dtype=float), s.shape)
        both = ~(np.isnan(bid) | np.isnan(ask))
        spread_sum += float(np.sum(ask[both] - bid[both]))
        spread_n += int(both.sum())
        with np.errstate(invalid="ignore", over="ignore"):
            p_ask = np.where(np.isnan(ask), 0.0, np.minimum(1.0, setup.a * np.exp(-setup.k * (ask - s)) * setup.dt))
            p_bid = np.where(np.isnan(bid), 0.0, np.minimum(1.0, setup.a * np.exp(-setup.k * (s - bid)) * setup.dt))
        sold = u_ask < p_ask
        bought = u_bid < p_bid
        x += np.where(sold, ask, 0.0) - np.where(bought, bid, 0.0)
        q += bought.astype(float) - sold.astype(float)
        s = s + moves * step_sd
    return ASResult(x + q * s, q, spread_sum / max(spread_n, 1))


# --- strategies -----------------------------------------------------------------------------------------------------


def as_inventory(setup: ASSetup, gamma: float) -> QuoteFn:
    """AS's "inventory" strategy: the project's :func:`as_quotes` with the full time-varying horizon."""
    return lambda s, q, tau: as_quotes(s, q, gamma, setup.sigma, tau, setup.k)


def as_average_spread(setup: ASSetup, gamma: float) -> float:
    """Time average over the quoting steps of the inventory strategy's total spread."""
    return float(np.mean([as_total_spread(gamma, setup.sigma, setup.tau(i), setup.k) for i in range(setup.n_steps)]))


def symmetric(spread: float) -> QuoteFn:
    """A constant total ``spread`` centred on the mid."""
    return lambda s, q, tau: (s - 0.5 * spread, s + 0.5 * spread)


def glft(setup: ASSetup, gamma: float, xi: float = 0.0) -> QuoteFn:
    """The GLFT closed form (:func:`glft_quotes`), no inventory bound."""
    return lambda s, q, tau: glft_quotes(s, q, gamma, setup.sigma, setup.k, setup.a, xi)


def production(setup: ASSetup, gamma: float, max_position: float) -> QuoteFn:
    """The daemon's model (:func:`model_prices`, GLFT + inventory bound) on the AS market.

    No grid here, so raw model prices; the binary terms are off (this price is not a probability). The model's
    offsets do not depend on the mid, so it is evaluated once per distinct inventory and mapped onto the paths.
    """
    params = ModelParams(
        kind="glft", gamma=gamma, k=setup.k, a=setup.a, max_position=max_position, binary=False, risk_horizon=1e9
    )

    def quote(s: np.ndarray, q: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
        levels, index = np.unique(q, return_inverse=True)
        offsets = np.array([model_prices(0.0, float(lv), setup.sigma, tau, params) for lv in levels])
        bid = s + offsets[index, 0]
        ask = s + offsets[index, 1]
        # The order-turning step's bound: no bid at q ≥ +Q, no ask at q ≤ −Q.
        return np.where(q >= max_position, np.nan, bid), np.where(q <= -max_position, np.nan, ask)

    return quote


# --- statistics -----------------------------------------------------------------------------------------------------


def certainty_equivalent(pnl: np.ndarray, gamma: float) -> float:
    """CARA certainty equivalent −(1/γ)·ln mean(e^(−γ·PnL)), computed stably."""
    z = -gamma * np.asarray(pnl, dtype=float)
    m = float(z.max())
    return -(m + math.log(float(np.mean(np.exp(z - m))))) / gamma


def bootstrap_se(n: int, stat: Callable[[np.ndarray], float], n_boot: int = 200, seed: int = 1) -> float:
    """Bootstrap standard error of ``stat(indices)`` over ``n`` paths (pass indices so paired statistics of
    several strategies on common random numbers resample the same paths)."""
    rng = np.random.default_rng(seed)
    return float(np.std([stat(rng.integers(0, n, n)) for _ in range(n_boot)]))


def write_json(name: str, payload: object) -> Path:
    """Write ``payload`` to bench/results/<name>.json and return the path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path
