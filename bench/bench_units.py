"""Throughput of the exact-units hot paths: parsing wire strings and snapping prices onto a grid.

Prints figures; never asserts on time. Run with `make bench`.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kalshi_mm.clock import LiveClock
from kalshi_mm.units import PriceGrid, Rounding, format_price, parse_count, parse_price

N = 200_000


def measure(label: str, fn, items) -> None:  # type: ignore[no-untyped-def]
    clock = LiveClock()
    t0 = clock.monotonic()
    for item in items:
        fn(item)
    elapsed = clock.monotonic() - t0
    print(f"{label:<40} {len(items) / elapsed:>12,.0f} ops/s  ({elapsed * 1e9 / len(items):,.0f} ns/op)")


def main() -> None:
    rng = random.Random(7)
    prices = [format_price(rng.randint(0, 10_000)) for _ in range(N)]
    counts = [f"{rng.randint(0, 100_000) / 100:.2f}" for _ in range(N)]
    raw = [rng.randint(-500, 10_500) for _ in range(N)]
    measure("parse_price", parse_price, prices)
    measure("parse_count", parse_count, counts)
    for name, grid in (
        ("linear_cent", PriceGrid.linear_cent()),
        ("tapered_deci_cent", PriceGrid.tapered_deci_cent()),
        ("deci_cent", PriceGrid.deci_cent()),
    ):
        measure(f"snap DOWN ({name})", lambda p, g=grid: g.snap(p, Rounding.DOWN), raw)
    clock = LiveClock()
    t0 = clock.monotonic()
    for _ in range(1000):
        PriceGrid.deci_cent()
    print(f"{'build PriceGrid (deci_cent)':<40} {(clock.monotonic() - t0) * 1e3:>12,.3f} us/grid")


if __name__ == "__main__":
    main()
