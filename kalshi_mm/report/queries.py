"""Read-only SQL over the analytics database (schema.sql), for the report.

The database is opened with ``mode=ro`` (a URI), so the report can never write to it, and every read of one
report runs inside one read transaction: under WAL (the daemon's journal mode) that is a consistent snapshot
taken while the daemon keeps committing, and readers never block the writer. Amounts stay integers (e4 / e2);
nothing here rounds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kalshi_mm.report.ledger import Fill

__all__ = [
    "Book",
    "DiscoverySummary",
    "ReportError",
    "RunFilter",
    "RunRow",
    "VolatilitySummary",
    "books_by_ticker",
    "discovery_summary",
    "fills_by_run",
    "last_books",
    "open_readonly",
    "order_counts",
    "quoted_spreads",
    "run_exists",
    "runs",
    "schema_version",
    "volatility_summary",
]

_BUSY_TIMEOUT_S = 10.0


class ReportError(Exception):
    """The database cannot be reported on (missing, unreadable, not an analytics database); names the path."""


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which strategy runs to report: started at or after ``since_ts`` (Unix seconds), and/or one ``run_id``."""

    since_ts: float | None = None
    run_id: int | None = None

    def params(self) -> dict[str, Any]:
        return {"since": self.since_ts, "run": self.run_id}


# Appended to queries over ``strategy_runs AS r``; parameters from RunFilter.params().
_RUN_WHERE = "(:since IS NULL OR r.start_ts >= :since) AND (:run IS NULL OR r.run_id = :run)"


@dataclass(frozen=True, slots=True)
class RunRow:
    """One ``strategy_runs`` row (times Unix seconds; ``reported_realized_pnl_e4`` is what the strategy logged)."""

    run_id: int
    strategy_name: str
    market_ticker: str
    trade_side: str | None
    start_ts: float
    end_ts: float | None
    status: str
    end_reason: str | None
    final_position_e2: int | None
    reported_realized_pnl_e4: int | None


@dataclass(frozen=True, slots=True)
class Book:
    """A snapshot's two-sided YES book top (e4) at ``ts``."""

    ts: float
    yes_bid_e4: int
    yes_ask_e4: int


def open_readonly(path: Path) -> sqlite3.Connection:
    """Open ``path`` read-only and start the read transaction the whole report runs in.

    Raises :class:`ReportError` for a missing file, a directory, or a file SQLite cannot read.
    """
    if not path.exists():
        raise ReportError(f"analytics database not found: {path}")
    if not path.is_file():
        raise ReportError(f"analytics database path is not a file: {path}")
    try:
        conn = sqlite3.connect(
            path.resolve().as_uri() + "?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise ReportError(f"cannot open analytics database {path}: {exc}") from None
    try:
        conn.execute("BEGIN")  # deferred: the snapshot is taken at the first read
        conn.execute("SELECT COUNT(*) FROM sqlite_schema").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        raise ReportError(f"cannot read {path} as an SQLite database: {exc}") from None
    return conn


def schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The database's schema version; :class:`ReportError` unless it has one (≥ 1)."""
    has_table = conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if has_table is None:
        raise ReportError(f"{path} has no schema_version table: not a kalshi_mm analytics database (or never opened)")
    version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    if not version:
        raise ReportError(f"{path} has an empty schema_version table: its schema was never applied")
    return int(version)


def run_exists(conn: sqlite3.Connection, run_id: int) -> bool:
    return conn.execute("SELECT 1 FROM strategy_runs WHERE run_id = ?", (run_id,)).fetchone() is not None


def runs(conn: sqlite3.Connection, flt: RunFilter) -> list[RunRow]:
    """The runs the filter selects, oldest first."""
    rows = conn.execute(
        "SELECT run_id, strategy_name, market_ticker, trade_side, start_ts, end_ts, status, end_reason, "
        f"final_position_e2, realized_pnl_e4 FROM strategy_runs AS r WHERE {_RUN_WHERE} ORDER BY start_ts, run_id",
        flt.params(),
    )
    return [RunRow(*row) for row in rows]


def fills_by_run(conn: sqlite3.Connection, flt: RunFilter) -> dict[int, list[Fill]]:
    """Each selected run's fills in time order (exchange fill time, then arrival order). A fill without a
    run_id belongs to its order's run, as in the ``run_pnl`` view."""
    rows = conn.execute(
        f"""
        SELECT COALESCE(f.run_id, o.run_id) AS rid, f.ts, f.book_side, f.price_e4, f.count_e2, f.fee_e4
        FROM order_fills AS f
        LEFT JOIN orders AS o ON o.order_id = f.order_id
        JOIN strategy_runs AS r ON r.run_id = COALESCE(f.run_id, o.run_id)
        WHERE {_RUN_WHERE}
        ORDER BY rid, f.ts, f.id""",
        flt.params(),
    )
    out: dict[int, list[Fill]] = {}
    for run_id, ts, book_side, price_e4, count_e2, fee_e4 in rows:
        out.setdefault(run_id, []).append(Fill(ts, book_side == "bid", price_e4, count_e2, fee_e4))
    return out


def order_counts(conn: sqlite3.Connection, flt: RunFilter) -> dict[int, tuple[int, int]]:
    """Per run: (orders placed, orders with at least one fill). An order counts as filled when the fill
    bookkeeping on it says so or a fill row names it (either may be logged without the other)."""
    rows = conn.execute(
        f"""
        SELECT o.run_id, COUNT(*),
               SUM(o.filled_count_e2 > 0 OR EXISTS (SELECT 1 FROM order_fills AS f WHERE f.order_id = o.order_id))
        FROM orders AS o
        JOIN strategy_runs AS r ON r.run_id = o.run_id
        WHERE {_RUN_WHERE}
        GROUP BY o.run_id""",
        flt.params(),
    )
    return {run_id: (placed, filled) for run_id, placed, filled in rows}


def quoted_spreads(conn: sqlite3.Connection, flt: RunFilter) -> dict[int, tuple[int, int]]:
    """Per run: (sum of the model's quoted spreads ``computed_ask − computed_bid`` in e4, number of snapshots
    that quoted both sides)."""
    rows = conn.execute(
        f"""
        SELECT s.run_id, COALESCE(SUM(s.spread_e4), 0), COUNT(s.spread_e4)
        FROM market_snapshots AS s
        JOIN strategy_runs AS r ON r.run_id = s.run_id
        WHERE {_RUN_WHERE}
        GROUP BY s.run_id""",
        flt.params(),
    )
    return {run_id: (total, count) for run_id, total, count in rows}


_LAST_BOOK = """
SELECT s.ts, s.yes_bid_e4, s.yes_ask_e4
FROM market_snapshots AS s
JOIN strategy_runs AS r ON r.run_id = s.run_id
WHERE r.market_ticker = ? AND s.yes_bid_e4 IS NOT NULL AND s.yes_ask_e4 IS NOT NULL AND (? IS NULL OR s.ts <= ?)
ORDER BY s.ts DESC, s.id DESC
LIMIT 1"""


def last_books(conn: sqlite3.Connection, selected: Iterable[RunRow]) -> dict[int, Book | None]:
    """Per run: the latest two-sided book of its ticker (from any run's snapshots) at or before the run's end
    (no bound for a run still going), or None when there is none."""
    out: dict[int, Book | None] = {}
    for run in selected:
        row = conn.execute(_LAST_BOOK, (run.market_ticker, run.end_ts, run.end_ts)).fetchone()
        out[run.run_id] = None if row is None else Book(*row)
    return out


def books_by_ticker(conn: sqlite3.Connection, flt: RunFilter) -> dict[str, list[Book]]:
    """The selected runs' two-sided book snapshots, per ticker, in time order (for the plot)."""
    rows = conn.execute(
        f"""
        SELECT r.market_ticker, s.ts, s.yes_bid_e4, s.yes_ask_e4
        FROM market_snapshots AS s
        JOIN strategy_runs AS r ON r.run_id = s.run_id
        WHERE {_RUN_WHERE} AND s.yes_bid_e4 IS NOT NULL AND s.yes_ask_e4 IS NOT NULL
        ORDER BY s.ts, s.id""",
        flt.params(),
    )
    out: dict[str, list[Book]] = {}
    for ticker, ts, bid, ask in rows:
        out.setdefault(ticker, []).append(Book(ts, bid, ask))
    return out


@dataclass(frozen=True, slots=True)
class DiscoverySummary:
    """Discovery sessions in the window: funnel counts summed over them, the latest session's funnel, and the
    markets they selected (``selected`` counts selections, ``selected_tickers`` distinct tickers)."""

    sessions: int
    funnel_totals: dict[str, int]
    latest: dict[str, Any] | None
    selected: int
    selected_tickers: int
    latest_selected: list[dict[str, Any]]


FUNNEL = ("total_markets", "binary_markets", "pre_filtered", "scored", "top_markets_count", "configs_generated")


def discovery_summary(conn: sqlite3.Connection, since_ts: float | None) -> DiscoverySummary:
    where = "(:since IS NULL OR d.ts >= :since)"
    params = {"since": since_ts}
    sums = ", ".join(f"COALESCE(SUM(d.{c}), 0)" for c in FUNNEL)
    row = conn.execute(f"SELECT COUNT(*), {sums} FROM discovery_sessions AS d WHERE {where}", params).fetchone()
    sessions, totals = row[0], dict(zip(FUNNEL, row[1:], strict=True))
    latest_row = conn.execute(
        f"SELECT session_id, ts, model_version, {', '.join(FUNNEL)} FROM discovery_sessions AS d WHERE {where} "
        "ORDER BY d.ts DESC, d.session_id DESC LIMIT 1",
        params,
    ).fetchone()
    latest = None
    latest_selected: list[dict[str, Any]] = []
    if latest_row is not None:
        latest = dict(zip(("session_id", "ts", "model_version", *FUNNEL), latest_row, strict=True))
        latest_selected = [
            {"ticker": t, "trade_side": side, "score": score}
            for t, side, score in conn.execute(
                "SELECT ticker, trade_side, score FROM discovered_markets WHERE session_id = ? "
                "AND selected_for_trading = 1 ORDER BY score DESC, ticker",
                (latest["session_id"],),
            )
        ]
    selected, tickers = conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT m.ticker) FROM discovered_markets AS m "
        f"JOIN discovery_sessions AS d ON d.session_id = m.session_id WHERE m.selected_for_trading = 1 AND {where}",
        params,
    ).fetchone()
    return DiscoverySummary(sessions, totals, latest, selected, tickers, latest_selected)


@dataclass(frozen=True, slots=True)
class VolatilitySummary:
    """Volatility events and sessions in the window. ``kill_reasons`` maps a reason (None = still running) to
    (sessions, summed final P&L e4 of those that recorded one); ``pnl_e4`` sums every recorded final P&L."""

    events: int
    sessions: int
    running: int
    sessions_with_pnl: int
    pnl_e4: int
    kill_reasons: dict[str | None, tuple[int, int]]


def volatility_summary(conn: sqlite3.Connection, flt: RunFilter) -> VolatilitySummary:
    params = flt.params()
    events = conn.execute(
        "SELECT COUNT(*) FROM volatility_events AS e "
        "WHERE (:since IS NULL OR e.ts >= :since) AND (:run IS NULL OR e.run_id = :run)",
        params,
    ).fetchone()[0]
    where = "(:since IS NULL OR s.start_ts >= :since) AND (:run IS NULL OR s.run_id = :run)"
    kill_reasons: dict[str | None, tuple[int, int]] = {}
    for reason, count, pnl in conn.execute(
        f"SELECT s.kill_reason, COUNT(*), COALESCE(SUM(s.final_pnl_e4), 0) FROM volatility_sessions AS s "
        f"WHERE {where} GROUP BY s.kill_reason ORDER BY COUNT(*) DESC, s.kill_reason",
        params,
    ):
        kill_reasons[reason] = (count, pnl)
    sessions, running, with_pnl, pnl = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(s.end_ts IS NULL), 0), COUNT(s.final_pnl_e4), COALESCE(SUM(s.final_pnl_e4), 0) "
        f"FROM volatility_sessions AS s WHERE {where}",
        params,
    ).fetchone()
    return VolatilitySummary(events, sessions, running, with_pnl, pnl, kill_reasons)
