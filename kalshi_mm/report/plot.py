"""``--plot FILE.png``: cumulative P&L (realized + marked, net of fees) and inventory over time, per market.

matplotlib is imported inside :func:`write_plot` only, with the Agg backend (no display needed), so neither
the text report nor the daemon loads it. The series are built in exact integers by :func:`market_series`
(pure); they become floats only on the way into the plot, which is a picture, not a ledger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from kalshi_mm.report.ledger import Fill, MarkedPoint, marked_path, replay
from kalshi_mm.report.queries import Book
from kalshi_mm.report.summary import RunReport
from kalshi_mm.units import COUNT_SCALE

__all__ = ["FIGURE_DPI", "FIGURE_SIZE_IN", "market_series", "write_plot"]

FIGURE_SIZE_IN = (12.0, 7.0)
FIGURE_DPI = 100  # 1200 × 700 pixels
_E6_PER_DOLLAR = 1_000_000


def market_series(runs: Sequence[RunReport], books: Mapping[str, Sequence[Book]]) -> dict[str, list[MarkedPoint]]:
    """Per ticker: the marked P&L path of all its selected runs' fills together (positions and cash flows add
    up across runs of one market), marked at that ticker's book snapshots."""
    fills_by_ticker: dict[str, list[Fill]] = {}
    for report in runs:
        fills_by_ticker.setdefault(report.run.market_ticker, []).extend(report.fills)
    out: dict[str, list[MarkedPoint]] = {}
    for ticker in sorted(set(fills_by_ticker) | set(books)):
        fills = sorted(fills_by_ticker.get(ticker, []), key=lambda f: f.ts)  # stable: each run's order kept
        tops = [(b.ts, b.yes_bid_e4, b.yes_ask_e4) for b in books.get(ticker, ())]
        points = marked_path(replay(fills).path, tops)
        if points:
            out[ticker] = points
    return out


def write_plot(series: Mapping[str, Sequence[MarkedPoint]], path: Path, title: str) -> None:
    """Draw ``series`` to the PNG ``path``: P&L (dollars) above, inventory (YES contracts) below, one line per
    market. Raises OSError when the file cannot be written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_pnl, ax_inv) = plt.subplots(2, 1, sharex=True, figsize=FIGURE_SIZE_IN, dpi=FIGURE_DPI)
    try:
        fig.suptitle(title)
        for ticker, points in series.items():
            times = [datetime.fromtimestamp(p.ts, tz=UTC) for p in points]
            # NaN leaves a gap while a position is open and no mark is known yet.
            pnl = [float("nan") if p.pnl_e6 is None else p.pnl_e6 / _E6_PER_DOLLAR for p in points]
            (line,) = ax_pnl.plot(times, pnl, label=ticker)
            ax_inv.step(times, [p.position_e2 / COUNT_SCALE for p in points], where="post", color=line.get_color())
        if not series:
            ax_pnl.text(0.5, 0.5, "no fills or book snapshots to plot", ha="center", va="center")
        ax_pnl.set_ylabel("cumulative P&L, net of fees ($)")
        ax_inv.set_ylabel("inventory (YES contracts)")
        ax_inv.set_xlabel("time (UTC)")
        for ax in (ax_pnl, ax_inv):
            ax.grid(True, alpha=0.3)
            ax.axhline(0, color="grey", linewidth=0.8)
        if series:
            ax_pnl.legend(loc="best", fontsize="small")
        fig.autofmt_xdate()
        fig.savefig(path, format="png", dpi=FIGURE_DPI)
    finally:
        plt.close(fig)
