"""The two strategies B3/B4 compare on a binary contract: fixed-spread AS and the daemon's production quoting.

* :class:`FixedAS` — the seed's approach: :func:`as_quotes` with σ frozen at its starting value and the configured
  risk horizon, snapped to the grid (bid DOWN, ask UP); nothing else (no fees, no bound, no one-sided rule,
  no throttle). Its spread is constant; only the reservation skew moves.
  With ``skew=False`` it is a fixed symmetric spread (the Glosten–Milgrom sanity check's quoting).
* :class:`Production` — per path, exactly what the daemon does each loop: σ re-estimated in log-odds space from
  the recent book mids (:func:`estimate_logit_sigma`), the adverse-selection throttle fed with our fills (its
  widening and its mean adverse move ξ), then :func:`make_quotes` (GLFT + inventory bound + binary terms + maker
  fee, grid, NBBO, one-sided and size rules). k and A are the configured fallbacks (= the simulator's true values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from binary_sim import BinarySetup, Market, StepView, certainty_equivalent, per_fill, run, snap

from kalshi_mm.strategy.estimators import estimate_logit_sigma
from kalshi_mm.strategy.quote_models import ModelParams, as_quotes
from kalshi_mm.strategy.quoting import QuoteInputs, QuoteParams, make_quotes
from kalshi_mm.strategy.throttling import AdverseSelectionThrottle

RISK_HORIZON_S = 3600.0


class FixedAS:
    """AS with fixed σ (the starting p-space volatility) and τ = the risk horizon; ``size`` contracts a side."""

    def __init__(self, setup: BinarySetup, gamma: float, size: int = 2, *, skew: bool = True):
        self.name = "fixed AS" if skew else "fixed symmetric"
        self.setup, self.gamma, self.size, self.skew = setup, gamma, size, skew
        self.sigma_p = setup.p0 * (1 - setup.p0) * setup.sigma_logit0()

    def quote(self, view: StepView) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        both = (view.best_bid > 0) & (view.best_ask > 0)
        mid = np.where(both, (view.best_bid + view.best_ask) / 2e4, 0.5)
        bid, ask = as_quotes(mid, view.q if self.skew else 0.0, self.gamma, self.sigma_p, RISK_HORIZON_S, self.setup.k)
        grid = self.setup.price_grid
        bid_e4, ask_e4 = snap(grid, np.asarray(bid) * 1e4, up=False), snap(grid, np.asarray(ask) * 1e4, up=True)
        bsz = np.where(both & (bid_e4 > 0), self.size, 0)
        asz = np.where(both & (ask_e4 > 0), self.size, 0)
        return bid_e4, ask_e4, bsz, asz

    def on_fills(self, view: StepView, bought: np.ndarray, sold: np.ndarray, mid: np.ndarray) -> None:
        """Fixed AS learns nothing."""


class Production:
    """The daemon's per-market loop, one instance of its state per path."""

    def __init__(
        self,
        setup: BinarySetup,
        n_paths: int,
        params: QuoteParams,
        *,
        sigma_window: int = 30,
        sigma_every: int = 5,
        window_s: float = 300.0,
        threshold: float = 0.7,
        widen_ticks: int = 5,
        markout_s: float = 30.0,
        trigger: int = 3,
        recover: int = 5,
    ):
        self.name = "production"
        self.setup, self.params, self.n = setup, params, n_paths
        self.sigma_window, self.sigma_every = sigma_window, sigma_every
        self.throttles = [
            AdverseSelectionThrottle(window_s, threshold, widen_ticks, trigger, recover, min_age_s=markout_s)
            for _ in range(n_paths)
        ]
        self.sigma = np.full(n_paths, setup.sigma_logit0())
        self.mids = np.zeros((setup.n_steps, n_paths))
        self.widen = np.zeros(n_paths, dtype=int)
        self.widened_steps = 0
        self.xi_sum = 0.0

    def quote(self, view: StepView) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        t, dt = view.t, self.setup.dt_s
        both = (view.best_bid > 0) & (view.best_ask > 0)
        mid = np.where(both, (view.best_bid + view.best_ask) / 2e4, np.nan)
        self.mids[t] = mid
        if t >= 2 and t % self.sigma_every == 0:
            lo = max(0, t - self.sigma_window)
            times = np.arange(lo, t + 1) * dt
            for i in range(self.n):
                hist = self.mids[lo : t + 1, i]
                ok = np.isfinite(hist)
                est = estimate_logit_sigma(times[ok], hist[ok], fallback=self.sigma[i], min_increments=5)
                self.sigma[i] = est.sigma_logit
        out = np.zeros((4, self.n), dtype=np.int64)
        grid = self.setup.price_grid
        now = t * dt
        for i in range(self.n):
            thr = self.throttles[i]
            if math.isfinite(mid[i]):
                self.widen[i] = thr.check(now, float(mid[i]))
            bb, ba = int(view.best_bid[i]), int(view.best_ask[i])
            quotes = make_quotes(
                QuoteInputs(
                    grid,
                    bb or None,
                    ba or None,
                    round(view.q[i] * 100),
                    float(self.sigma[i]),
                    time_to_expiry_s=max(view.tau_s, 1e-6),
                    widen_ticks=int(self.widen[i]),
                    xi=thr.mean_adverse_move,
                ),
                self.params,
            )
            self.xi_sum += thr.mean_adverse_move
            if quotes.bid is not None:
                out[0, i], out[2, i] = quotes.bid.price_e4, quotes.bid.size_e2 // 100
            if quotes.ask is not None:
                out[1, i], out[3, i] = quotes.ask.price_e4, quotes.ask.size_e2 // 100
        self.widened_steps += int(np.sum(self.widen > 0))
        return out[0], out[1], out[2], out[3]

    def on_fills(self, view: StepView, bought: np.ndarray, sold: np.ndarray, mid: np.ndarray) -> None:
        now = view.t * self.setup.dt_s
        for i in np.flatnonzero((bought + sold) > 0):
            for _ in range(int(bought[i])):
                self.throttles[i].record_fill(now, True, float(mid[i]))
            for _ in range(int(sold[i])):
                self.throttles[i].record_fill(now, False, float(mid[i]))


def production_params(
    setup: BinarySetup,
    gamma: float,
    *,
    k: float | None = None,
    min_spread_e4: int = 200,
    max_spread_e4: int = 1000,
    max_position: int = 10,
    order_size: int = 2,
) -> QuoteParams:
    """QuoteParams of the production strategy on ``setup``: k (per $) defaults to the simulator's true k (a
    misspecified fallback can be passed), A per second is the simulator's."""
    model = ModelParams(
        kind="glft",
        gamma=gamma,
        k=setup.k if k is None else k,
        a=setup.a / setup.dt_s,
        risk_horizon=RISK_HORIZON_S,
        max_position=float(max_position),
        binary=True,
        fee_rate=setup.maker_fee,
    )
    return QuoteParams(
        model=model,
        order_size_e2=order_size * 100,
        max_position_e2=max_position * 100,
        min_total_spread_e4=min_spread_e4,
        max_total_spread_e4=max_spread_e4,
        max_widened_spread_e4=1500,
    )


# --- running cells (picklable, for a process pool) ---------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One (setup, strategy) run: ``kind`` is "fixed_as", "fixed_symmetric" or "production"; ``tag`` labels it."""

    setup: BinarySetup
    kind: str
    gamma: float
    n_paths: int
    seed: int
    tag: str = ""
    k_fallback: float | None = None
    min_spread_e4: int = 200
    max_spread_e4: int = 1000

    def key(self) -> tuple[object, ...]:
        """Identity of the simulation (the tag is only a label)."""
        return (
            self.setup,
            self.kind,
            self.gamma,
            self.n_paths,
            self.seed,
            self.k_fallback,
            self.min_spread_e4,
            self.max_spread_e4,
        )


def run_cell(cell: Cell, gamma_ref: tuple[float, ...] = (0.2, 1.0)) -> dict[str, object]:
    """Simulate one cell and summarise it (figures in ¢ per contract and $ per path)."""
    setup = cell.setup
    market = Market.make(setup, cell.n_paths, cell.seed)
    strat: FixedAS | Production
    if cell.kind == "production":
        params = production_params(
            setup, cell.gamma, k=cell.k_fallback, min_spread_e4=cell.min_spread_e4, max_spread_e4=cell.max_spread_e4
        )
        strat = Production(setup, cell.n_paths, params)
    else:
        strat = FixedAS(setup, cell.gamma, skew=cell.kind == "fixed_as")
    out = run(setup, market, strat)
    pf, pf_se = per_fill(out)
    steps = cell.n_paths * setup.n_steps
    row: dict[str, object] = {
        "tag": cell.tag,
        "strategy": strat.name,
        "p0": setup.p0,
        "grid": setup.grid,
        "alpha": setup.alpha,
        "gamma": cell.gamma,
        "k_fallback": cell.k_fallback or setup.k,
        "min_spread_e4": cell.min_spread_e4,
        "max_spread_e4": cell.max_spread_e4,
        "fills_per_path": float(out.fills.mean()),
        "net_capture_c": 100 * out.capture,
        "markout_c": 100 * out.markout,
        "pnl_per_fill_c": 100 * pf,
        "pnl_per_fill_se_c": 100 * pf_se,
        "pnl_mean": float(out.pnl.mean()),
        "pnl_std": float(out.pnl.std()),
        "p_loss": float(np.mean(out.pnl < 0)),
        "max_abs_q_mean": float(out.max_abs_q.mean()),
        "max_abs_q_max": float(out.max_abs_q.max()),
        "one_sided_share": out.one_sided_share,
        "no_quote_share": out.no_quote_share,
        "invalid_quotes": out.off_grid,
    }
    for g in gamma_ref:
        row[f"ce_{g:g}"] = certainty_equivalent(out.pnl, g)
    if isinstance(strat, Production):
        row["throttled_share"] = strat.widened_steps / steps
        row["xi_mean_c"] = 100 * strat.xi_sum / steps
    return row
