"""The chaos suite's invariants: the exchange's own records of the account against the daemon's database (pure).

Inputs are the embedded exchange's ``GET /admin/ledger`` document (every order and fill of the account, its open
positions; see :func:`kalshi_mm.sim.admin.account_ledger`) and :class:`DbRecords` read from the daemon's SQLite
file. :func:`check_run` returns every violation found; a correct daemon yields none, however many faults it met.

Invariants (units: counts in 1/100 contract, prices in 1/10,000 $ on the YES leg):

* ``duplicate_client_order_id``: no client_order_id names two orders on the exchange.
* ``duplicate_resting_order``: no two of our orders rested at once on the same market and book side. The daemon
  quotes at most one order per side; a second one means a create was repeated (e.g. after a lost response) or an
  orphan outlived a restart.
* ``fill_missing_in_db`` / ``fill_duplicated_in_db`` / ``fill_not_on_exchange`` / ``fill_differs``: every fill
  of the account is in ``order_fills`` exactly once, with the exchange's order, market, side, price and count, and
  the table holds no other fill.
* ``position_mismatch``: per market, the database's net position (sum of its fills) equals the exchange's.
* ``position_over_max``: replaying the exchange's fill log in sequence, no fill takes |position| above the
  ``max_position_e2`` of the session that placed the order (read from ``strategy_runs.config_params``) while
  growing it. A fill that shrinks |position| never violates: a restarted session may inherit more than its own,
  freshly computed maximum and may only work it down. Orders the database cannot attribute to a run are held to
  the largest maximum any session of that market had.
* ``position_replay``: the replay from zero agrees with the exchange's ``post_position_e2`` after every fill (the
  account started flat, so the log is complete).
* ``resting_after_shutdown`` (only after a clean shutdown): the account has no resting order left.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CheckReport", "DbRecords", "Violation", "check_run", "format_table", "read_db_records"]

_OPEN_ENDED_MS = 2**63


@dataclass(frozen=True)
class Violation:
    """One broken invariant: its name (see the module docstring) and what exactly broke it."""

    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.detail}"


@dataclass(frozen=True)
class DbRecords:
    """What the checks need of the daemon's database.

    ``fills``: one mapping per ``order_fills`` row (fill_id, order_id, market_ticker, book_side, price_e4,
    count_e2). ``order_runs``: order_id -> run_id for the orders rows that have one. ``run_max_position_e2``:
    run_id -> the session's max position; ``run_tickers``: run_id -> market.
    """

    fills: tuple[Mapping[str, Any], ...]
    order_runs: Mapping[str, int]
    run_max_position_e2: Mapping[int, int]
    run_tickers: Mapping[int, str]


@dataclass
class CheckReport:
    """Violations plus the figures behind them (printed in the summary)."""

    violations: list[Violation] = field(default_factory=list)
    orders: int = 0
    fills: int = 0
    db_fills: int = 0
    max_abs_position_e2: dict[str, int] = field(default_factory=dict)
    unattributed_fills: int = 0  # fills whose order the database cannot tie to a session run

    @property
    def ok(self) -> bool:
        return not self.violations

    def counts(self) -> dict[str, int]:
        """Violations per invariant."""
        return dict(Counter(v.invariant for v in self.violations))


def _max_position_of(config_params: str | None) -> int | None:
    if not config_params:
        return None
    try:
        params = json.loads(config_params)
    except ValueError:
        return None
    value = (params.get("session") or {}).get("max_position_e2") if isinstance(params, dict) else None
    return value if isinstance(value, int) else None


def read_db_records(db_path: Path) -> DbRecords:
    """Read the daemon's analytics database read-only (the daemon must have exited)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        fills = tuple(
            dict(r)
            for r in conn.execute(
                "SELECT fill_id, order_id, market_ticker, book_side, price_e4, count_e2 FROM order_fills ORDER BY id"
            )
        )
        order_runs = {
            str(r["order_id"]): int(r["run_id"])
            for r in conn.execute("SELECT order_id, run_id FROM orders WHERE run_id IS NOT NULL")
        }
        maxima: dict[int, int] = {}
        tickers: dict[int, str] = {}
        for r in conn.execute("SELECT run_id, market_ticker, config_params FROM strategy_runs"):
            tickers[int(r["run_id"])] = str(r["market_ticker"])
            value = _max_position_of(r["config_params"])
            if value is not None:
                maxima[int(r["run_id"])] = value
    finally:
        conn.close()
    return DbRecords(fills, order_runs, maxima, tickers)


def _signed(side: str, count_e2: int) -> int:
    return count_e2 if side == "bid" else -count_e2


def _check_client_ids(orders: Sequence[Mapping[str, Any]], out: list[Violation]) -> None:
    ids = Counter(o["client_order_id"] for o in orders if o["client_order_id"])
    for cid, n in sorted(ids.items()):
        if n > 1:
            out.append(Violation("duplicate_client_order_id", f"{cid} names {n} orders"))


def _check_overlaps(orders: Sequence[Mapping[str, Any]], out: list[Violation]) -> None:
    by_side: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for order in orders:
        by_side[(order["ticker"], order["side"])].append(order)
    for (ticker, side), group in sorted(by_side.items()):
        group = sorted(group, key=lambda o: (o["created_ts_ms"], o["order_id"]))
        open_order: Mapping[str, Any] | None = None
        open_until = -1
        for order in group:
            end = _OPEN_ENDED_MS if order["status"] == "resting" else order["last_update_ts_ms"]
            if open_order is not None and order["created_ts_ms"] < open_until:
                out.append(
                    Violation(
                        "duplicate_resting_order",
                        f"{ticker} {side}: {order['order_id']} ({order['client_order_id']}) created at "
                        f"{order['created_ts_ms']} while {open_order['order_id']} ({open_order['client_order_id']}) "
                        f"rested until {open_until if open_until != _OPEN_ENDED_MS else 'now'}",
                    )
                )
            if end > open_until:
                open_order, open_until = order, end


def _check_fills(ledger_fills: Sequence[Mapping[str, Any]], db: DbRecords, out: list[Violation]) -> None:
    db_by_id: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in db.fills:
        db_by_id[str(row["fill_id"])].append(row)
    exchange_ids = set()
    for fill in ledger_fills:
        exchange_ids.add(fill["fill_id"])
        rows = db_by_id.get(fill["fill_id"], [])
        if not rows:
            out.append(
                Violation(
                    "fill_missing_in_db",
                    f"{fill['fill_id']} ({fill['ticker']} {fill['side']} {fill['count_e2']} @ {fill['yes_price_e4']}, "
                    f"order {fill['order_id']})",
                )
            )
            continue
        if len(rows) > 1:  # the schema's UNIQUE makes this impossible; checked so a schema change cannot hide it
            out.append(Violation("fill_duplicated_in_db", f"{fill['fill_id']} recorded {len(rows)} times"))
        row = rows[0]
        expected = (fill["order_id"], fill["ticker"], fill["side"], fill["yes_price_e4"], fill["count_e2"])
        got = (row["order_id"], row["market_ticker"], row["book_side"], row["price_e4"], row["count_e2"])
        if expected != got:
            out.append(Violation("fill_differs", f"{fill['fill_id']}: exchange {expected}, database {got}"))
    for fill_id in sorted(set(db_by_id) - exchange_ids):
        out.append(Violation("fill_not_on_exchange", f"{fill_id} is in order_fills but not in the account's fills"))


def _check_positions(ledger: Mapping[str, Any], db: DbRecords, out: list[Violation]) -> None:
    settled = set(ledger.get("settled_tickers", ()))
    exchange = {p["ticker"]: p["position_e2"] for p in ledger["positions"]}
    recorded: Counter[str] = Counter()
    for row in db.fills:
        recorded[str(row["market_ticker"])] += _signed(str(row["book_side"]), int(row["count_e2"]))
    for ticker in sorted((set(exchange) | set(recorded)) - settled):
        if exchange.get(ticker, 0) != recorded.get(ticker, 0):
            out.append(
                Violation(
                    "position_mismatch",
                    f"{ticker}: exchange {exchange.get(ticker, 0)} e2, database fills sum to {recorded.get(ticker, 0)}",
                )
            )


def _replay_positions(ledger_fills: Sequence[Mapping[str, Any]], db: DbRecords, report: CheckReport) -> None:
    ticker_max: dict[str, int] = {}
    for run_id, value in db.run_max_position_e2.items():
        ticker = db.run_tickers.get(run_id)
        if ticker is not None:
            ticker_max[ticker] = max(value, ticker_max.get(ticker, 0))
    position: Counter[str] = Counter()
    for fill in sorted(ledger_fills, key=lambda f: f["seq"]):
        ticker = fill["ticker"]
        before = position[ticker]
        after = before + _signed(fill["side"], fill["count_e2"])
        position[ticker] = after
        report.max_abs_position_e2[ticker] = max(abs(after), report.max_abs_position_e2.get(ticker, 0))
        run_id = db.order_runs.get(fill["order_id"])
        bound = db.run_max_position_e2.get(run_id) if run_id is not None else None
        if bound is None:
            report.unattributed_fills += 1
            bound = ticker_max.get(ticker)
        if bound is None:
            report.violations.append(
                Violation("position_over_max", f"{ticker}: fill {fill['fill_id']} in a market no session traded")
            )
        elif abs(after) > bound and abs(after) > abs(before):
            report.violations.append(
                Violation(
                    "position_over_max",
                    f"{ticker}: fill {fill['fill_id']} (order {fill['order_id']}, run {run_id}) took the position "
                    f"from {before} to {after} e2, max {bound} e2",
                )
            )
        if fill.get("post_position_e2") is not None and fill["post_position_e2"] != after:
            # The replay starts from zero: a position held before the log began would make it wrong everywhere.
            report.violations.append(
                Violation(
                    "position_replay",
                    f"{ticker}: replayed {after} e2 after fill {fill['fill_id']}, exchange says "
                    f"{fill['post_position_e2']} e2",
                )
            )


def check_run(ledger: Mapping[str, Any], db: DbRecords, *, clean_shutdown: bool) -> CheckReport:
    """Every invariant of the module docstring; ``clean_shutdown``: the daemon's last exit was a clean SIGTERM,
    so nothing of the account may rest."""
    report = CheckReport(orders=len(ledger["orders"]), fills=len(ledger["fills"]), db_fills=len(db.fills))
    _check_client_ids(ledger["orders"], report.violations)
    _check_overlaps(ledger["orders"], report.violations)
    _check_fills(ledger["fills"], db, report.violations)
    _check_positions(ledger, db, report.violations)
    _replay_positions(ledger["fills"], db, report)
    if clean_shutdown:
        for order in ledger["orders"]:
            if order["status"] == "resting":
                report.violations.append(
                    Violation(
                        "resting_after_shutdown",
                        f"{order['order_id']} ({order['client_order_id']}) {order['ticker']} {order['side']} "
                        f"{order['remaining_count_e2']} @ {order['price_e4']}",
                    )
                )
    return report


def format_table(title: str, rows: Iterable[tuple[str, object]]) -> str:
    """A two-column text table (name, value) under ``title``."""
    rows = list(rows)
    width = max([len(name) for name, _ in rows] + [len(title)])
    lines = [title, "-" * (width + 12)]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines)
