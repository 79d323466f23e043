"""B1's simulator (bench/mm_sim.py) reproduces published Avellaneda–Stoikov cells on a small fixed-seed run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from mm_sim import ASDraws, ASSetup, as_average_spread, as_inventory, simulate_as, symmetric

N_PATHS, SEED = 4000, 7


@pytest.mark.parametrize(
    ("gamma", "mean_profit", "std_profit"),
    [(0.1, 65.0, 6.6), (1.0, 31.4, 5.0)],  # published inventory-strategy cells
)
def test_inventory_strategy_cells(gamma: float, mean_profit: float, std_profit: float) -> None:
    setup = ASSetup()
    res = simulate_as(setup, as_inventory(setup, gamma), ASDraws(N_PATHS, SEED))
    # Tolerances: STRATEGY.md's Monte-Carlo spread of a 1000-path estimate (±0.4 mean, ±0.3 std).
    assert res.pnl.mean() == pytest.approx(mean_profit, abs=0.4)
    assert res.pnl.std() == pytest.approx(std_profit, abs=0.3)


def test_symmetric_cell_and_average_spread() -> None:
    setup = ASSetup()
    spread = as_average_spread(setup, 0.1)
    assert round(spread, 2) == 1.49
    res = simulate_as(setup, symmetric(spread), ASDraws(N_PATHS, SEED))
    assert res.pnl.mean() == pytest.approx(68.4, abs=0.8)
    assert res.q_final.std() == pytest.approx(8.4, abs=0.4)


def test_common_random_numbers_are_deterministic() -> None:
    setup = ASSetup()
    a = simulate_as(setup, as_inventory(setup, 0.1), ASDraws(200, 1))
    b = simulate_as(setup, as_inventory(setup, 0.1), ASDraws(200, 1))
    assert (a.pnl == b.pnl).all()
