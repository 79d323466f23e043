"""Binary-contract market simulation shared by the B3/B4 benchmarks (STRATEGY.md §3, §4).

Fair value: a latent Brownian S (variance 1 per step) and a resolution shock ε ~ N(0, R) revealed at expiry T, so
V = 1{S_T + ε > 0} and p_t = Φ(S_t/√(T − t + R)) is a martingale that ends at V. R sets how much of the outcome is
decided at the final announcement (event markets) rather than by drift before it: with R ≫ 0 the price moves about
1¢ a step all session and then jumps to 0 or 1, instead of the pure-diffusion explosion of volatility into expiry.
Optional news jumps move S by ±``jump_size``·√(T − t + R) (about ±34¢ at 50¢ for size 1). The maker sees a
background book ±~1.5¢ around p on the market's grid and quotes once per step; prices are ints in 1/10,000 $.

Takers, per step and side: a taker arrives with probability π = min(1, a·e^(−k·δ)) where δ is the quote's distance
from p. An arrival is uninformed with probability 1 − α (it trades) or informed with probability α: an informed
taker knows p ``lookahead`` steps ahead (V itself in the last steps before expiry), or V all along (``oracle``,
Glosten–Milgrom's setting), and trades only where that beats our price by more than its taker fee. Every fill is
one contract (at most the quoted size per side per step); maker fees ⌈0.0175·P(1−P)⌉ to $0.0001; inventory is
settled at V. Random numbers come from the seed alone, so strategies compare on common random numbers.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Protocol

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kalshi_mm.units import PriceGrid

GRIDS = {"linear": PriceGrid.linear_cent(), "tapered": PriceGrid.tapered_deci_cent()}
_ERFC = np.frompyfunc(math.erfc, 1, 1)


def norm_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF, elementwise (numpy has no erf)."""
    return 0.5 * _ERFC(-np.asarray(x, dtype=float) / math.sqrt(2.0)).astype(float)


@dataclass(frozen=True)
class BinarySetup:
    """One benchmark cell. Time in steps of ``dt_s`` seconds; the session is the last ``n_steps`` before expiry;
    ``resolution_steps`` = R, the variance (in steps of S) decided at expiry. ``a``: arrival probability per side
    per step at δ = 0; ``k`` per $."""

    p0: float = 0.5
    grid: str = "linear"
    n_steps: int = 300
    resolution_steps: int = 900
    dt_s: float = 10.0
    a: float = 0.5
    k: float = 60.0
    alpha: float = 0.0
    lookahead: int = 5
    oracle: bool = False
    jump_rate: float = 0.0
    jump_size: float = 1.0
    maker_fee: float = 0.0175
    taker_fee: float = 0.07
    lp_half_spread: float = 0.015

    @property
    def price_grid(self) -> PriceGrid:
        return GRIDS[self.grid]

    def sigma_logit0(self) -> float:
        """Log-odds volatility per √s at the start: (dp/dS)/(p(1−p)) per √step, over √dt_s."""
        z = NormalDist().inv_cdf(self.p0)
        p = self.p0
        per_step = NormalDist().pdf(z) / math.sqrt(self.n_steps + self.resolution_steps)
        return per_step / (p * (1 - p)) / math.sqrt(self.dt_s)


@dataclass
class Market:
    """Per-path fair values p[t] for t = 0 .. n_steps + lookahead (V after expiry), settlement values V, and the
    background book's best prices (e4, 0 = empty side) for each quoting step."""

    p: np.ndarray
    settle: np.ndarray
    best_bid: np.ndarray
    best_ask: np.ndarray
    uniforms: np.ndarray  # (n_steps, 3, paths): uninformed ask, uninformed bid, informed arrival

    @classmethod
    def make(cls, setup: BinarySetup, n_paths: int, seed: int) -> Market:
        rng = np.random.default_rng(seed)
        n, r = setup.n_steps, setup.resolution_steps
        s0 = math.sqrt(n + r) * NormalDist().inv_cdf(setup.p0)
        scale = np.sqrt(n - np.arange(n) + r)[:, None]  # √(T − t + R) at the start of each step
        signs = np.where(rng.random((n, n_paths)) < 0.5, 1.0, -1.0)
        jumps = (rng.random((n, n_paths)) < setup.jump_rate) * signs * setup.jump_size * scale
        s = s0 + np.vstack([np.zeros((1, n_paths)), np.cumsum(rng.standard_normal((n, n_paths)) + jumps, axis=0)])
        settle = (s[n] + math.sqrt(r) * rng.standard_normal(n_paths) > 0).astype(float)
        p = norm_cdf(s / np.sqrt(n - np.arange(n + 1) + r)[:, None])
        # After expiry the price is the outcome: an informed taker looking past T knows V.
        p = np.vstack([p, np.repeat(settle[None, :], setup.lookahead, axis=0)])
        uniforms = rng.random((n, 3, n_paths))
        grid = setup.price_grid
        w = np.minimum(setup.lp_half_spread, 0.5 * np.minimum(p[:n], 1 - p[:n]))
        best_bid = snap(grid, (p[:n] - w) * 1e4, up=False)
        best_ask = snap(grid, (p[:n] + w) * 1e4, up=True)
        return cls(p, settle, best_bid, best_ask, uniforms)


_GRID_CACHE: dict[PriceGrid, np.ndarray] = {}


def grid_array(grid: PriceGrid) -> np.ndarray:
    """All valid order prices of ``grid`` (1/10,000 $), ascending."""
    if grid not in _GRID_CACHE:
        _GRID_CACHE[grid] = np.array([p for p in range(1, 10_000) if grid.contains(p)])
    return _GRID_CACHE[grid]


def snap(grid: PriceGrid, price_e4: np.ndarray, *, up: bool) -> np.ndarray:
    """Vectorised :meth:`PriceGrid.snap` (bid DOWN / ask UP); 0 where no grid price lies in that direction."""
    prices = grid_array(grid)
    x = np.asarray(price_e4, dtype=float)
    if up:
        i = np.searchsorted(prices, np.ceil(x - 1e-9), side="left")
        return np.where(i < len(prices), prices[np.minimum(i, len(prices) - 1)], 0)
    i = np.searchsorted(prices, np.floor(x + 1e-9), side="right") - 1
    return np.where(i >= 0, prices[np.maximum(i, 0)], 0)


@dataclass
class StepView:
    """What a strategy sees at step ``t``: book (e4, 0 = empty side), inventory (contracts), seconds to expiry."""

    t: int
    best_bid: np.ndarray
    best_ask: np.ndarray
    q: np.ndarray
    tau_s: float


class Strategy(Protocol):
    name: str

    def quote(self, view: StepView) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(bid_e4, ask_e4, bid_size, ask_size) per path; size 0 = no order on that side."""
        ...

    def on_fills(self, view: StepView, bought: np.ndarray, sold: np.ndarray, mid: np.ndarray) -> None:
        """Contracts bought/sold this step; ``mid`` ($) the book mid the strategy saw."""
        ...


@dataclass
class Outcome:
    """Everything the B3/B4 tables report for one strategy on one cell."""

    pnl: np.ndarray
    fills: np.ndarray
    capture: float
    markout: float
    max_abs_q: np.ndarray
    one_sided_share: float
    no_quote_share: float
    off_grid: int
    extra: dict[str, float] = field(default_factory=dict)


def maker_fee(setup: BinarySetup, price_e4: np.ndarray) -> np.ndarray:
    """Maker fee $ per contract, rounded up to $0.0001."""
    p = price_e4 / 1e4
    return np.ceil(setup.maker_fee * p * (1 - p) * 1e4 - 1e-9) / 1e4


def run(setup: BinarySetup, market: Market, strategy: Strategy) -> Outcome:
    """Simulate one strategy on ``market`` (shared across strategies for common random numbers)."""
    n = market.p.shape[1]
    valid = grid_array(setup.price_grid)
    q, cash = np.zeros(n), np.zeros(n)
    fills, max_q = np.zeros(n), np.zeros(n)
    cap_sum = mark_sum = 0.0
    one_sided = no_quote = off_grid = 0
    for t in range(setup.n_steps):
        p, bb, ba = market.p[t], market.best_bid[t], market.best_ask[t]
        view = StepView(t, bb, ba, q.copy(), (setup.n_steps - t) * setup.dt_s)
        bid, ask, bsz, asz = strategy.quote(view)
        has_b, has_a = bsz > 0, asz > 0
        one_sided += int(np.sum(has_b != has_a))
        no_quote += int(np.sum(~has_b & ~has_a))
        # Every quoted price must be a valid order price: on the grid, strictly inside ($0, $1).
        off_grid += int(np.sum(~np.isin(bid[has_b], valid))) + int(np.sum(~np.isin(ask[has_a], valid)))
        bid_d, ask_d = p - bid / 1e4, ask / 1e4 - p
        with np.errstate(over="ignore"):
            pi_b = np.where(has_b, np.minimum(1.0, setup.a * np.exp(-setup.k * bid_d)), 0.0)
            pi_a = np.where(has_a, np.minimum(1.0, setup.a * np.exp(-setup.k * ask_d)), 0.0)
        u = market.uniforms[t]
        unin_sell_to_us = u[1] < (1 - setup.alpha) * pi_b  # a taker sells to our bid
        unin_buy_from_us = u[0] < (1 - setup.alpha) * pi_a
        informed = u[2] < np.minimum(1.0, setup.alpha * (pi_a + pi_b))
        info = market.settle if setup.oracle else market.p[t + setup.lookahead]
        fee_t = lambda px: setup.taker_fee * (px / 1e4) * (1 - px / 1e4)  # noqa: E731
        inf_buy = informed & has_a & (info - ask / 1e4 > fee_t(ask))
        inf_sell = informed & ~inf_buy & has_b & (bid / 1e4 - info > fee_t(bid))
        bought = np.minimum(unin_sell_to_us.astype(int) + inf_sell, bsz)
        sold = np.minimum(unin_buy_from_us.astype(int) + inf_buy, asz)
        fb, fa = maker_fee(setup, bid), maker_fee(setup, ask)
        cash += sold * (ask / 1e4 - fa) - bought * (bid / 1e4 + fb)
        q += bought - sold
        fills += bought + sold
        max_q = np.maximum(max_q, np.abs(q))
        cap_sum += float(np.sum(bought * (bid_d - fb) + sold * (ask_d - fa)))
        p_later = market.p[min(t + setup.lookahead, market.p.shape[0] - 1)]
        mark_sum += float(np.sum(bought * (p_later - bid / 1e4 - fb) + sold * (ask / 1e4 - p_later - fa)))
        mid = np.where((bb > 0) & (ba > 0), (bb + ba) / 2e4, p)
        strategy.on_fills(view, bought, sold, mid)
    pnl = cash + q * market.settle
    total = max(float(fills.sum()), 1.0)
    steps = setup.n_steps * n
    return Outcome(pnl, fills, cap_sum / total, mark_sum / total, max_q, one_sided / steps, no_quote / steps, off_grid)


def certainty_equivalent(pnl: np.ndarray, gamma: float) -> float:
    """CARA certainty equivalent −(1/γ)·ln mean(e^(−γ·PnL)) in $."""
    z = -gamma * pnl
    m = float(z.max())
    return -(m + math.log(float(np.mean(np.exp(z - m))))) / gamma


def per_fill(outcome: Outcome, n_boot: int = 200, seed: int = 3) -> tuple[float, float]:
    """Mean P&L per filled contract ($, total P&L / total fills) and its bootstrap standard error over paths."""
    pnl, fills = outcome.pnl, outcome.fills
    est = float(pnl.sum() / max(fills.sum(), 1.0))
    rng = np.random.default_rng(seed)
    n = len(pnl)
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, n, n)
        boots.append(pnl[i].sum() / max(fills[i].sum(), 1.0))
    return est, float(np.std(boots))
