"""Scoring speed: MarketScorer.score over 10,000 synthetic candidates (target ≤ 100 ms). Prints figures only.

Run: ``.venv/bin/python bench/bench_scorer.py``
"""

from __future__ import annotations

import gc
import random
import time

from kalshi_mm.config.settings import AppConfig
from kalshi_mm.discovery.models import MarketCandidate, MarketMetrics
from kalshi_mm.discovery.scorer import MarketScorer
from kalshi_mm.units import PriceGrid

N = 10_000
REPEATS = 7


def candidates(n: int, seed: int = 1) -> list[MarketCandidate]:
    rng = random.Random(seed)
    grid = PriceGrid.linear_cent()
    out = []
    for i in range(n):
        bid = rng.randrange(1500, 8000, 100)
        ask = bid + rng.choice((100, 200, 300, 500))
        m = MarketMetrics(
            spread_e4=ask - bid,
            mid_e4=(bid + ask) // 2,
            yes_bid_e4=bid,
            yes_ask_e4=ask,
            depth_bid_e2=rng.randrange(0, 100_000),
            depth_ask_e2=rng.randrange(0, 100_000),
            depth_levels_e2=rng.randrange(0, 500_000),
            time_to_expiry_s=rng.uniform(3600, 90 * 86400),
            volume_24h_e4=rng.randrange(0, 10**9),
            volume_24h_e2=rng.randrange(0, 10**7),
            trades_5m=rng.randrange(5),
            trades_15m=rng.randrange(15),
            volume_1h_e2=rng.randrange(0, 10**6),
            sigma=0.05,
            sigma_is_proxy=True,
            grid=grid,
        )
        out.append(MarketCandidate(f"KXBENCH-{i:05d}", "bench", "KXBENCH", "KXBENCH", "default", m))
    return out


def main() -> None:
    data = candidates(N)
    scorer = MarketScorer(AppConfig().scoring)
    timings = []
    for _ in range(REPEATS):
        scored = []
        gc.collect()  # start each run clean: garbage of the previous run is not this run's cost
        start = time.perf_counter()
        scored = scorer.score(data)
        timings.append(time.perf_counter() - start)
    raw = scorer.feature_matrix(data)
    start = time.perf_counter()
    scorer.score_matrix(raw)
    matrix_ms = (time.perf_counter() - start) * 1000
    timings.sort()
    print(
        f"score({N:,} candidates): best {timings[0] * 1000:.1f} ms, median {timings[len(timings) // 2] * 1000:.1f} ms"
    )
    print(f"  numpy scoring core alone: {matrix_ms:.2f} ms; top market {scored[0].ticker} score {scored[0].score:.3f}")


if __name__ == "__main__":
    main()
