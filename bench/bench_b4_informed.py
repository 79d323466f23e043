"""B4 — informed flow, news and expiry on a binary contract (STRATEGY.md §3, §4).

B3's market (last 300 steps of 10 s before expiry, linear 1¢ grid, maker fees, γ = 0.05 per $) plus:

* informed takers, a fraction α ∈ {0, 0.05, 0.1, 0.2} of arrivals, who know p 5 steps (50 s) ahead — in the last
  5 steps that is the outcome itself — and trade only where that beats our price by more than their taker fee;
* news jumps: with probability 1% a step, S jumps by ±√(T−t+R) (≈ ±34¢ at 50¢), which the informed see coming.

p0 ∈ {0.1, 0.5, 0.9}; 200 paths, common random numbers across α and strategies. Production (make_quotes + the
adverse-selection throttle, whose mean adverse move feeds GLFT's ξ; binary variance cap and CARA settlement bound
inside the risk horizon) vs fixed-spread AS. Goal: production's mean P&L per filled contract ≥ 0 for α ≤ 0.1.

Sanity check of the simulator (Glosten–Milgrom): at p0 = 0.5 with informed takers who know the *outcome*
(``oracle``), a maker with a fixed symmetric spread earns ≈ h − α·E|V − p| − fee per fill, i.e. loses ≈ ½ per unit
of α (E|V − p| = E[2p(1−p)] ≈ ½ near 50¢). The fixed-AS and production rows show how much of that inventory
skewing passes on to uninformed takers here, because in this simulator the public price does not learn from flow.

Runs on 2 processes; prints tables and writes bench/results/b4_informed.json. Figures, not assertions.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
from binary_sim import BinarySetup, Market
from binary_strategies import Cell, run_cell
from mm_sim import write_json

N_PATHS, SEED, GAMMA = 200, 4, 0.05
ALPHAS = (0.0, 0.05, 0.1, 0.2)
P0S = (0.1, 0.5, 0.9)
NEWS = {"lookahead": 5, "jump_rate": 0.01, "jump_size": 1.0}


def cells() -> list[Cell]:
    out = []
    for p0 in P0S:
        for a in ALPHAS:
            setup = BinarySetup(p0=p0, alpha=a, **NEWS)
            seed = SEED + int(100 * p0)
            out += [Cell(setup, kind, GAMMA, N_PATHS, seed, "main") for kind in ("production", "fixed_as")]
    for a in ALPHAS:
        setup = BinarySetup(p0=0.5, alpha=a, oracle=True)
        out += [Cell(setup, k, GAMMA, N_PATHS, SEED, "oracle") for k in ("fixed_symmetric", "fixed_as", "production")]
    return out


def _slope(rows: list[dict], r: dict) -> float | None:
    """Change of P&L per fill (¢) per unit α against the same strategy and p0 at α = 0."""
    if r["alpha"] == 0:
        return None
    base = next(
        x
        for x in rows
        if x["tag"] == r["tag"] and x["strategy"] == r["strategy"] and x["p0"] == r["p0"] and x["alpha"] == 0
    )
    return (r["pnl_per_fill_c"] - base["pnl_per_fill_c"]) / r["alpha"] / 100


def main() -> None:
    todo = cells()
    with ProcessPoolExecutor(max_workers=2) as pool:
        rows = list(pool.map(run_cell, todo))
    for cell, row in zip(todo, rows, strict=True):
        row["tag"] = cell.tag
    for r in rows:
        r["slope_per_alpha"] = _slope(rows, r)
    head = (
        f"{'p0':>4} {'α':>5} {'strategy':<15} {'P&L/fill¢':>11} {'$/α':>6} {'mark¢':>6} {'fills':>6} {'P&L$':>6} "
        f"{'std$':>5} {'CE.2':>6} {'max|q|':>7} {'1-side':>6} {'thr%':>5} {'ξ¢':>5}"
    )

    def line(r: dict) -> str:
        slope = "" if r["slope_per_alpha"] is None else f"{r['slope_per_alpha']:+.2f}"
        return (
            f"{r['p0']:>4} {r['alpha']:>5} {r['strategy']:<15} "
            f"{r['pnl_per_fill_c']:>6.2f}±{r['pnl_per_fill_se_c']:<4.2f} "
            f"{slope:>6} {r['markout_c']:>6.2f} {r['fills_per_path']:>6.1f} {r['pnl_mean']:>6.2f} {r['pnl_std']:>5.2f} "
            f"{r['ce_0.2']:>6.2f} {r['max_abs_q_mean']:>7.1f} {r['one_sided_share']:>6.3f} "
            f"{100 * r.get('throttled_share', 0.0):>5.1f} {r.get('xi_mean_c', 0.0):>5.2f}"
        )

    print(f"B4: informed know p {NEWS['lookahead']} steps ahead; news jumps {NEWS['jump_rate']:.0%}/step; γ = {GAMMA}")
    print("$/α: change of P&L per fill per unit α, in $ (Glosten–Milgrom at 50¢ with an oracle: ≈ −0.5)")
    print(head)
    for r in (r for r in rows if r["tag"] == "main"):
        print(line(r))
    market = Market.make(BinarySetup(p0=0.5), N_PATHS, SEED)
    e_abs = float(np.mean(2 * market.p[:300] * (1 - market.p[:300])))
    print(f"\nSanity (oracle informed, p0 = 0.5): predicted $/α for a fixed symmetric spread = −E|V−p| = {-e_abs:.3f}")
    print(head)
    for r in (r for r in rows if r["tag"] == "oracle"):
        print(line(r))
    goal = {
        p0: all(
            r["pnl_per_fill_c"] >= 0
            for r in rows
            if r["tag"] == "main" and r["strategy"] == "production" and r["p0"] == p0 and r["alpha"] <= 0.1
        )
        for p0 in P0S
    }
    print(
        "\nGoal production P&L per fill ≥ 0 for α ≤ 0.1: "
        + ", ".join(f"p0={p}: {'met' if ok else 'MISSED'}" for p, ok in goal.items())
    )
    invalid = sum(int(r["invalid_quotes"]) for r in rows)
    print(f"invalid (off-grid / outside (0,1)) quotes across all cells: {invalid}")
    path = write_json(
        "b4_informed",
        {
            "paths": N_PATHS,
            "gamma": GAMMA,
            "news": NEWS,
            "oracle_predicted_slope": -e_abs,
            "goal_met": {str(k): v for k, v in goal.items()},
            "invalid_quotes": invalid,
            "rows": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
