"""B2 — risk-adjusted edge on the AS market (STRATEGY.md §2, §4): symmetric, AS, GLFT and the production model.

B1's market, 10,000 paths, common random numbers, γ ∈ {0.01, 0.1, 1}. Per strategy: mean and std of P&L, the CARA
certainty equivalent CE = −(1/γ)·ln mean(e^(−γ·PnL)) at the strategy's own γ, std(q_T) and P(PnL < 0).
"production" is what the daemon's order-turning step asks the model for (:func:`model_prices`: GLFT closed form,
inventory bound Q — no bid at q ≥ Q, no ask at q ≤ −Q); there is no price grid and the price is not a probability
here, so its raw prices are used and the binary terms are off. Q = 20 is loose (≥ 4 std of q_T at every γ); the
Q = 10 row shows what a binding bound costs. CE differences to GLFT come with a paired bootstrap standard error.

Published CE (STRATEGY §2): γ = 0.1 — symmetric 52.4, AS 62.8, GLFT 65.2; γ = 1 — symmetric −0.8, AS 22.9,
GLFT 52.1. Goal: production ≥ GLFT on CE at every γ. Prints a table and writes bench/results/b2_edge.json.
"""

from __future__ import annotations

import numpy as np
from mm_sim import (
    ASDraws,
    ASSetup,
    as_average_spread,
    as_inventory,
    bootstrap_se,
    certainty_equivalent,
    glft,
    production,
    simulate_as,
    symmetric,
    write_json,
)

N_PATHS, SEED = 10_000, 2013
PUBLISHED_CE = {(0.1, "symmetric"): 52.4, (0.1, "AS"): 62.8, (0.1, "GLFT"): 65.2, (1.0, "symmetric"): -0.8}
PUBLISHED_CE |= {(1.0, "AS"): 22.9, (1.0, "GLFT"): 52.1}
Q_LOOSE, Q_TIGHT = 20, 10


def main() -> None:
    setup = ASSetup()
    draws = ASDraws(N_PATHS, SEED)
    out = []
    print(f"{N_PATHS} paths, common random numbers, seed {SEED}")
    print(
        f"{'γ':>5} {'strategy':<16} {'mean':>8} {'std':>7} {'CE':>8} {'pub CE':>7} {'std q_T':>8} "
        f"{'P(PnL<0)':>9} {'CE − GLFT (se)':>16}"
    )
    for gamma in (0.01, 0.1, 1.0):
        strategies = {
            "symmetric": symmetric(as_average_spread(setup, gamma)),
            "AS": as_inventory(setup, gamma),
            "GLFT": glft(setup, gamma),
            f"production Q={Q_LOOSE}": production(setup, gamma, Q_LOOSE),
            f"production Q={Q_TIGHT}": production(setup, gamma, Q_TIGHT),
        }
        results = {name: simulate_as(setup, fn, draws) for name, fn in strategies.items()}
        base = results["GLFT"].pnl
        for name, res in results.items():
            pnl = res.pnl
            ce = certainty_equivalent(pnl, gamma)
            diff = ce - certainty_equivalent(base, gamma)
            se = bootstrap_se(
                N_PATHS,
                lambda i, p=pnl, b=base, g=gamma: certainty_equivalent(p[i], g) - certainty_equivalent(b[i], g),
            )
            pub = PUBLISHED_CE.get((gamma, name))
            row = {
                "gamma": gamma,
                "strategy": name,
                "mean": float(pnl.mean()),
                "std": float(pnl.std()),
                "ce": ce,
                "published_ce": pub,
                "std_q_final": float(res.q_final.std()),
                "p_loss": float(np.mean(pnl < 0)),
                "ce_minus_glft": diff,
                "ce_minus_glft_se": se,
            }
            out.append(row)
            print(
                f"{gamma:>5g} {name:<16} {row['mean']:>8.2f} {row['std']:>7.2f} {ce:>8.2f} "
                f"{'' if pub is None else f'{pub:.1f}':>7} {row['std_q_final']:>8.2f} {row['p_loss']:>9.4f} "
                f"{diff:>+8.2f} ({se:.2f})"
            )
    goal = {
        g: next(r for r in out if r["gamma"] == g and r["strategy"] == f"production Q={Q_LOOSE}")["ce_minus_glft"] >= 0
        for g in (0.01, 0.1, 1.0)
    }
    print(
        "\nGoal production (Q=20) CE ≥ GLFT CE: "
        + ", ".join(f"γ={g:g}: {'met' if ok else 'MISSED'}" for g, ok in goal.items())
    )
    path = write_json(
        "b2_edge",
        {
            "setup": setup.__dict__,
            "paths": N_PATHS,
            "seed": SEED,
            "rows": out,
            "goal_met": {str(k): v for k, v in goal.items()},
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
