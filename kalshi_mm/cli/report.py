"""``runner.py report``: P&L, fills and sessions from the analytics database, as text, JSON or a PNG.

The database is opened read-only, so the report is safe to run while the daemon is writing. Exit statuses:
0 a report was printed (also "nothing recorded yet"), 2 bad arguments, a bad config, or a database that is
missing or is not an analytics database (a message names it, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from kalshi_mm.config.settings import ConfigError, load_config
from kalshi_mm.report import Report, ReportError, RunFilter, load_report, queries
from kalshi_mm.report.queries import Book
from kalshi_mm.report.render import render_json, render_text

__all__ = ["build_parser", "main", "parse_since"]

EXIT_OK = 0
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runner.py report",
        description="Report P&L (FIFO over fills, open position marked at the last mid), fills, fill rate, spreads, "
        "inventory and session outcomes from the analytics database (opened read-only).",
    )
    parser.add_argument("--db", metavar="PATH", help="the analytics database (default: analytics.db_path of --config)")
    parser.add_argument("--config", default="config.yaml", help="config whose analytics.db_path is read when no --db")
    parser.add_argument(
        "--since",
        metavar="DATE",
        help="only runs starting at/after this ISO date or datetime (UTC unless it has an offset)",
    )
    parser.add_argument("--run", type=int, metavar="ID", help="only the strategy run with this run_id")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw cumulative P&L and inventory per market")
    return parser


def parse_since(text: str) -> float:
    """An ISO date (``2025-01-31``) or datetime (``2025-01-31T14:00``, ``...Z``, ``...+02:00``) as Unix seconds;
    without an offset it is UTC. Raises ValueError naming the expected forms."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO date or datetime (e.g. 2025-01-31, 2025-01-31T14:00:00, 2025-01-31T14:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _error(message: str) -> int:
    print(f"runner.py report: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _db_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db)
    return Path(load_config(args.config).analytics.db_path)


def main(name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Run the report command; the process exit status. ``env`` is unused (the report needs no credentials)."""
    del name, env
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed by argparse)
        return int(exc.code or 0)
    since_ts = None
    if args.since is not None:
        try:
            since_ts = parse_since(args.since)
        except ValueError as exc:
            return _error(f"--since: {exc}")
    try:
        db_path = _db_path(args)
    except ConfigError as exc:
        return _error(f"config error (the database path comes from it; or pass --db): {exc}")

    flt = RunFilter(since_ts=since_ts, run_id=args.run)
    books: dict[str, list[Book]] = {}
    try:
        conn = queries.open_readonly(db_path)
        try:
            report = load_report(conn, db_path, flt, args.since)
            if args.plot:
                books = queries.books_by_ticker(conn, flt)
        finally:
            conn.close()
    except ReportError as exc:
        return _error(str(exc))

    sys.stdout.write(render_json(report) if args.json else render_text(report))
    sys.stdout.flush()
    if args.plot:
        return _plot(report, books, Path(args.plot))
    return EXIT_OK


def _plot(report: Report, books: Mapping[str, Sequence[Book]], path: Path) -> int:
    from kalshi_mm.report.plot import market_series, write_plot

    title = f"kalshi_mm: {report.db_path.name}"
    try:
        write_plot(market_series(report.runs, books), path, title)
    except ImportError as exc:  # matplotlib is imported only here, for --plot
        return _error(f"--plot needs matplotlib ({exc}); install it with: pip install -r requirements.txt")
    except OSError as exc:
        return _error(f"--plot: cannot write {path}: {exc}")
    print(f"plot written to {path}", file=sys.stderr)
    return EXIT_OK
