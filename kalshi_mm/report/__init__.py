"""The ``runner.py report`` command's engine: P&L, fills and sessions from the analytics database.

ledger.py replays fills FIFO (pure), queries.py reads the database read-only, summary.py turns rows into
figures (pure), render.py prints text tables or JSON, plot.py draws a PNG (matplotlib, loaded only for it).
:func:`load_report` reads everything one report needs inside one read transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from kalshi_mm.report import queries
from kalshi_mm.report.queries import DiscoverySummary, ReportError, RunFilter, VolatilitySummary
from kalshi_mm.report.summary import RunReport, Totals, build_runs, build_totals

__all__ = ["Report", "ReportError", "RunFilter", "load_report"]


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one report shows. ``discovery`` is None when the report is about one run (``--run``):
    discovery sessions are not tied to a run."""

    db_path: Path
    schema_version: int
    filter: RunFilter
    since_text: str | None
    runs: list[RunReport]
    totals: Totals
    discovery: DiscoverySummary | None
    volatility: VolatilitySummary

    @property
    def empty(self) -> bool:
        """Nothing recorded in the window: no run, discovery session or volatility event/session."""
        discovery_empty = self.discovery is None or self.discovery.sessions == 0
        return not self.runs and discovery_empty and self.volatility.events == 0 and self.volatility.sessions == 0


def load_report(conn: sqlite3.Connection, db_path: Path, flt: RunFilter, since_text: str | None = None) -> Report:
    """Read the report for ``flt`` from ``conn`` (opened by :func:`queries.open_readonly`).

    Raises :class:`ReportError` for a database without a schema, or a ``run_id`` it does not hold.
    """
    try:
        version = queries.schema_version(conn, db_path)
        if flt.run_id is not None and not queries.run_exists(conn, flt.run_id):
            raise ReportError(f"no strategy run with run_id {flt.run_id} in {db_path}")
        runs = queries.runs(conn, flt)
        reports = build_runs(
            runs,
            queries.fills_by_run(conn, flt),
            queries.order_counts(conn, flt),
            queries.quoted_spreads(conn, flt),
            queries.last_books(conn, runs),
        )
        discovery = None if flt.run_id is not None else queries.discovery_summary(conn, flt.since_ts)
        volatility = queries.volatility_summary(conn, flt)
    except sqlite3.Error as exc:
        # E.g. a table missing from a damaged or foreign file that still has a schema_version table.
        raise ReportError(f"cannot read the report from {db_path}: {exc}") from None
    return Report(db_path, version, flt, since_text, reports, build_totals(reports), discovery, volatility)
