"""B3 — market making a binary contract on Kalshi's grid with maker fees (STRATEGY.md §3, §4).

Market (bench/binary_sim.py): the last 300 steps of 10 s before expiry, fair value p_t = Φ(S_t/√(T−t+R)) with
R = 900 steps of variance left to the final announcement (≈1.2¢ a step at 50¢), settlement at V; uninformed takers
only (α = 0), λ(δ) = a·e^(−kδ) with a = 0.5 per side per step (0.05/s), k = 60 per $; maker fee 0.0175·P(1−P)
rounded up to $0.0001; fills of one contract; 200 paths, common random numbers per (p0, grid).

Strategies: production (:class:`binary_strategies.Production`: make_quotes with GLFT + bound Q = 10 + binary terms +
fee, σ re-estimated in log-odds space, adverse-selection throttle) vs fixed-spread AS (σ frozen, τ = 1 h, snapped to
the grid), both at γ = 0.05 per $, p0 ∈ {0.1, 0.5, 0.9}, linear (1¢) and tapered (0.1¢ beyond 10¢/90¢) grids.

Reported per cell: fills per path; net capture per filled contract (vs p at the fill, after the maker fee); markout
5 steps later; P&L per filled contract (settled, ± bootstrap se); settlement P&L per path (mean, std); CE at
γ_ref = 0.2 and 1 per $; P(P&L < 0); max |q| (mean over paths / worst); share of steps one-sided and with no quotes;
quotes off the grid or outside (0, 1) (must be 0). Then the sweeps behind the recommended defaults (production at
p0 = 0.5 and 0.1, linear grid): γ, the k fallback when the true k is 60, min_ and max_total_spread.

Runs the cells on 2 processes; prints tables and writes bench/results/b3_binary.json. Figures, not assertions.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from binary_sim import BinarySetup
from binary_strategies import Cell, run_cell
from mm_sim import write_json

N_PATHS, SEED = 200, 3
GAMMA = 0.05
P0S = (0.1, 0.5, 0.9)
GAMMAS = (0.02, 0.05, 0.1, 0.2, 0.5)
K_FALLBACKS = (30.0, 60.0, 120.0)
MIN_SPREADS_E4 = (200, 400, 600)
MAX_SPREADS_E4 = (600, 1000, 2000)


def cells() -> list[Cell]:
    out = []
    for grid in ("linear", "tapered"):
        for p0 in P0S:
            setup = BinarySetup(p0=p0, grid=grid)
            seed = SEED + int(100 * p0)
            out += [
                Cell(setup, "production", GAMMA, N_PATHS, seed, "main"),
                Cell(setup, "fixed_as", GAMMA, N_PATHS, seed, "main"),
            ]
    for p0 in (0.5, 0.1):
        setup = BinarySetup(p0=p0)
        seed = SEED + int(100 * p0)
        for g in GAMMAS:
            out += [
                Cell(setup, "production", g, N_PATHS, seed, "gamma"),
                Cell(setup, "fixed_as", g, N_PATHS, seed, "gamma"),
            ]
    setup = BinarySetup(p0=0.5)
    for k in K_FALLBACKS:
        out.append(Cell(setup, "production", GAMMA, N_PATHS, SEED + 50, "k_fallback", k_fallback=k))
    for m in MIN_SPREADS_E4:
        out.append(Cell(setup, "production", GAMMA, N_PATHS, SEED + 50, "min_spread", min_spread_e4=m))
    for m in MAX_SPREADS_E4:
        out.append(Cell(setup, "production", GAMMA, N_PATHS, SEED + 50, "max_spread", max_spread_e4=m))
    return out


def run_all(todo: list[Cell]) -> list[dict]:
    """Run each distinct simulation once on 2 processes; every cell gets a copy of its row with its own tag."""
    unique = {c.key(): c for c in todo}
    with ProcessPoolExecutor(max_workers=2) as pool:
        done = dict(zip(unique, pool.map(run_cell, unique.values()), strict=True))
    return [done[c.key()] | {"tag": c.tag} for c in todo]


def _fmt(r: dict) -> str:
    return (
        f"{r['fills_per_path']:>6.1f} {r['net_capture_c']:>6.2f} {r['markout_c']:>6.2f} "
        f"{r['pnl_per_fill_c']:>6.2f}±{r['pnl_per_fill_se_c']:<4.2f} {r['pnl_mean']:>6.2f} {r['pnl_std']:>5.2f} "
        f"{r['ce_0.2']:>6.2f} {r['ce_1']:>6.2f} {r['p_loss']:>5.2f} "
        f"{r['max_abs_q_mean']:>4.1f}/{r['max_abs_q_max']:<3.0f}"
        f"{r['one_sided_share']:>6.3f} {r['no_quote_share']:>6.3f} {r['invalid_quotes']:>4d}"
    )


HEAD = (
    f"{'fills':>6} {'cap¢':>6} {'mark¢':>6} {'P&L/fill¢':>11} {'P&L$':>6} {'std$':>5} {'CE.2':>6} {'CE1':>6} "
    f"{'P<0':>5} {'max|q|':>8}{'1-side':>6} {'none':>6} {'bad':>4}"
)


def main() -> None:
    rows = run_all(cells())
    print(f"B3 main: γ = {GAMMA}, {N_PATHS} paths, α = 0, maker fees; ¢ per filled contract, $ per path")
    print(f"{'grid':<8} {'p0':>4} {'strategy':<11} " + HEAD)
    for r in (r for r in rows if r["tag"] == "main"):
        print(f"{r['grid']:<8} {r['p0']:>4} {r['strategy']:<11} " + _fmt(r))
    print("\nγ sweep (linear grid): CE at γ_ref = 0.2 and 1 per $")
    print(f"{'p0':>4} {'γ':>5} {'strategy':<11} " + HEAD)
    for r in (r for r in rows if r["tag"] == "gamma"):
        print(f"{r['p0']:>4} {r['gamma']:>5g} {r['strategy']:<11} " + _fmt(r))
    print("\nk fallback (true k = 60 per $), min/max_total_spread: production at p0 = 0.5, γ = 0.05")
    print(f"{'setting':<22} " + HEAD)
    for r in (r for r in rows if r["tag"] in ("k_fallback", "min_spread", "max_spread")):
        label = {
            "k_fallback": f"k fallback {r['k_fallback']:g}",
            "min_spread": f"min spread {r['min_spread_e4'] / 100:g}¢",
            "max_spread": f"max spread {r['max_spread_e4'] / 100:g}¢",
        }[str(r["tag"])]
        print(f"{label:<22} " + _fmt(r))
    invalid = sum(int(r["invalid_quotes"]) for r in rows)
    print(f"\ninvalid (off-grid / outside (0,1)) quotes across all cells: {invalid}")
    path = write_json("b3_binary", {"paths": N_PATHS, "gamma": GAMMA, "invalid_quotes": invalid, "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
