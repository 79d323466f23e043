"""The report as aligned plain-text tables or as one JSON document.

Dollars print with 4 decimals and contracts with 2, through kalshi_mm/units.py's exact integer formatters. The
JSON carries every amount twice: the integer (``*_e4``, ``*_e2``, ``*_e6``) and its exact decimal string.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from kalshi_mm.report import Report
from kalshi_mm.report.queries import FUNNEL, DiscoverySummary, VolatilitySummary
from kalshi_mm.report.summary import RunReport, Totals
from kalshi_mm.units import format_count, format_dollars

__all__ = ["format_table", "render_json", "render_text", "report_document", "utc_text"]

_MAX_REASON_CHARS = 60
NO_MARK = "no mark"


def utc_text(ts: float | None) -> str | None:
    """Unix seconds as ``YYYY-MM-DD HH:MM:SS`` UTC (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _dollars(e4: int | None, missing: str = "-") -> str:
    return missing if e4 is None else format_dollars(e4)


def _pct(bp: int | None) -> str:
    """Basis points as a percentage with 2 decimals (exact: 1 bp = 0.01 %)."""
    return "-" if bp is None else format_count(bp) + "%"


def _short(text: str) -> str:
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 1] + "…"


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1, *, text_last: bool = False
) -> list[str]:
    """Lines of an aligned table: the first ``left`` columns (and the last with ``text_last``) left-aligned,
    the others (numbers) right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(width) if i < left or (text_last and i == len(cells) - 1) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)]


# --- text ---------------------------------------------------------------------------------------------------


def _window(report: Report) -> str:
    parts = []
    if report.since_text is not None:
        parts.append(f"runs starting at/after {utc_text(report.filter.since_ts)} UTC (--since {report.since_text})")
    if report.filter.run_id is not None:
        parts.append(f"run {report.filter.run_id}")
    return ", ".join(parts) if parts else "everything recorded"


def _pnl_rows(report: Report) -> list[list[str]]:
    rows = []
    for r in report.runs:
        unrealized = r.unrealized_e4
        rows.append(
            [
                str(r.run.run_id),
                r.run.market_ticker,
                r.run.trade_side or "-",
                r.run.status,
                str(r.ledger.fill_count),
                format_count(r.ledger.position_e2),
                _dollars(r.mark_e4, NO_MARK if r.ledger.position_e2 else "-"),
                format_dollars(r.realized_e4),
                _dollars(unrealized, NO_MARK),
                format_dollars(r.ledger.fees_e4),
                _dollars(r.net_e4, NO_MARK),
            ]
        )
    t = report.totals
    unmarked = f"{NO_MARK} ({t.unmarked_runs})"
    rows.append(
        [
            "total",
            "",
            "",
            "",
            str(t.fills),
            "",
            "",
            format_dollars(t.realized_e4),
            _dollars(t.unrealized_e4, unmarked),
            format_dollars(t.fees_e4),
            _dollars(t.net_e4, unmarked),
        ]
    )
    return rows


def _trading_rows(runs: Sequence[RunReport], totals: Totals) -> list[list[str]]:
    rows = [
        [
            str(r.run.run_id),
            utc_text(r.run.start_ts) or "-",
            utc_text(r.run.end_ts) or "-",
            str(r.orders_placed),
            str(r.orders_filled),
            _pct(r.fill_rate_bp),
            _dollars(r.avg_quoted_spread_e4),
            str(len(r.ledger.round_trips)),
            _dollars(r.avg_captured_spread_e4),
            format_count(r.ledger.max_abs_position_e2),
            _short(r.end_reason_label),
        ]
        for r in runs
    ]
    rows.append(
        [
            "total",
            "",
            "",
            str(totals.orders_placed),
            str(totals.orders_filled),
            _pct(totals.fill_rate_bp),
            _dollars(totals.avg_quoted_spread_e4),
            str(totals.round_trips),
            _dollars(totals.avg_captured_spread_e4),
            format_count(totals.max_abs_position_e2),
            "",
        ]
    )
    return rows


def _discovery_lines(d: DiscoverySummary) -> list[str]:
    lines = ["Discovery", f"  sessions: {d.sessions}"]
    if not d.sessions:
        return lines
    funnel = " -> ".join(f"{name} {d.funnel_totals[name]}" for name in FUNNEL)
    lines.append(f"  funnel (summed over sessions): {funnel}")
    lines.append(f"  markets selected: {d.selected} ({d.selected_tickers} distinct tickers)")
    if d.latest is not None:
        latest = " -> ".join(str(d.latest[name]) for name in FUNNEL)
        lines.append(
            f"  latest session {d.latest['session_id']} at {utc_text(d.latest['ts'])} UTC "
            f"(model {d.latest['model_version']}): {latest}"
        )
        if d.latest_selected:
            picks = ", ".join(f"{m['ticker']}/{m['trade_side'] or '-'}" for m in d.latest_selected)
            lines.append(f"    selected: {picks}")
    return lines


def _volatility_lines(v: VolatilitySummary) -> list[str]:
    lines = [
        "Volatility",
        f"  events: {v.events}   sessions: {v.sessions} (running {v.running})   "
        f"P&L: {format_dollars(v.pnl_e4)} (over {v.sessions_with_pnl} sessions that recorded one)",
    ]
    if v.kill_reasons:
        rows = [
            [_short(reason or "(still running)"), str(count), format_dollars(pnl)]
            for reason, (count, pnl) in v.kill_reasons.items()
        ]
        lines += ["  " + line for line in format_table(["kill reason", "sessions", "P&L"], rows)]
    return lines


def render_text(report: Report) -> str:
    """The report as a terminal reads it."""
    out = [
        f"kalshi_mm report: {report.db_path} (schema version {report.schema_version})",
        f"Window: {_window(report)}",
    ]
    if report.empty:
        what = "yet" if report.since_text is None and report.filter.run_id is None else "in this window"
        out += ["", f"Nothing recorded {what}: no strategy runs, discovery sessions or volatility events."]
        return "\n".join(out) + "\n"
    out += [
        "Dollars on the YES leg, P&L FIFO over fills; net = realized + unrealized - fees; unrealized marks the open",
        "position at the ticker's last mid at or before the run's end.",
        "",
    ]
    t = report.totals
    if report.runs:
        statuses = ", ".join(f"{status} {n}" for status, n in sorted(t.statuses.items()))
        out += [f"Strategy runs: {t.runs} ({statuses})", "", "P&L per run"]
        headers = ["run", "market", "side", "status", "fills", "position", "mark", "realized", "unrealized", "fees"]
        out += format_table([*headers, "net"], _pnl_rows(report), left=4)
        out += ["", "Trading per run"]
        headers = ["run", "started (UTC)", "ended (UTC)", "orders", "filled", "fill rate", "avg quoted spread"]
        headers += ["round trips", "avg captured spread", "max |inventory|", "end reason"]
        out += format_table(headers, _trading_rows(report.runs, t), left=3, text_last=True)
        out += ["", "Session end reasons"]
        out += format_table(
            ["count", "end reason"], [[str(n), _short(reason)] for reason, n in t.end_reasons], left=0, text_last=True
        )
    else:
        out.append("Strategy runs: none in this window")
    if report.discovery is not None:
        out += ["", *_discovery_lines(report.discovery)]
    out += ["", *_volatility_lines(report.volatility)]
    return "\n".join(out) + "\n"


# --- JSON ---------------------------------------------------------------------------------------------------


def _money(name: str, e4: int | None) -> dict[str, Any]:
    return {f"{name}_e4": e4, name: None if e4 is None else format_dollars(e4)}


def _count(name: str, e2: int | None) -> dict[str, Any]:
    return {f"{name}_e2": e2, name: None if e2 is None else format_count(e2)}


def _pct_json(name: str, bp: int | None) -> dict[str, Any]:
    return {f"{name}_bp": bp, f"{name}_pct": None if bp is None else format_count(bp)}


def _run_doc(r: RunReport) -> dict[str, Any]:
    run, ledger, book = r.run, r.ledger, r.book
    mark = None
    if book is not None:
        mark = {
            "ts": book.ts,
            "at": utc_text(book.ts),
            **_money("yes_bid", book.yes_bid_e4),
            **_money("yes_ask", book.yes_ask_e4),
            **_money("mark", r.mark_e4),
        }
    return {
        "run_id": run.run_id,
        "strategy_name": run.strategy_name,
        "market_ticker": run.market_ticker,
        "trade_side": run.trade_side,
        "status": run.status,
        "end_reason": run.end_reason,
        "start_ts": run.start_ts,
        "started_at": utc_text(run.start_ts),
        "end_ts": run.end_ts,
        "ended_at": utc_text(run.end_ts),
        "fills": ledger.fill_count,
        "orders_placed": r.orders_placed,
        "orders_filled": r.orders_filled,
        **_pct_json("fill_rate", r.fill_rate_bp),
        **_count("bought", ledger.bought_e2),
        **_count("sold", ledger.sold_e2),
        **_count("position", ledger.position_e2),
        **_count("max_abs_position", ledger.max_abs_position_e2),
        "cash_flow_e6": ledger.cash_flow_e6,
        "realized_pnl_e6": ledger.realized_gross_e6,
        **_money("realized_pnl", r.realized_e4),
        **_money("fees", ledger.fees_e4),
        "mark": mark,
        "unrealized_pnl_e6": r.unrealized_e6,
        **_money("unrealized_pnl", r.unrealized_e4),
        "net_pnl_e6": r.net_e6,
        **_money("net_pnl", r.net_e4),
        "round_trips": len(ledger.round_trips),
        **_count("matched", ledger.matched_e2),
        **_money("avg_captured_spread", r.avg_captured_spread_e4),
        "quoted_snapshots": r.quoted_snapshots,
        **_money("avg_quoted_spread", r.avg_quoted_spread_e4),
        **_money("reported_realized_pnl", run.reported_realized_pnl_e4),
        **_count("reported_final_position", run.final_position_e2),
    }


def _totals_doc(t: Totals) -> dict[str, Any]:
    return {
        "runs": t.runs,
        "statuses": t.statuses,
        "fills": t.fills,
        "orders_placed": t.orders_placed,
        "orders_filled": t.orders_filled,
        **_pct_json("fill_rate", t.fill_rate_bp),
        "realized_pnl_e6": t.realized_e6,
        **_money("realized_pnl", t.realized_e4),
        **_money("fees", t.fees_e4),
        **_money("unrealized_pnl", t.unrealized_e4),
        "net_pnl_e6": t.net_e6,
        **_money("net_pnl", t.net_e4),
        "unmarked_runs": t.unmarked_runs,
        "round_trips": t.round_trips,
        **_count("matched", t.matched_e2),
        **_money("avg_captured_spread", t.avg_captured_spread_e4),
        "quoted_snapshots": t.quoted_snapshots,
        **_money("avg_quoted_spread", t.avg_quoted_spread_e4),
        **_count("max_abs_position", t.max_abs_position_e2),
    }


def report_document(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data."""
    d, v = report.discovery, report.volatility
    discovery = None
    if d is not None:
        discovery = {
            "sessions": d.sessions,
            "funnel_totals": d.funnel_totals,
            "markets_selected": d.selected,
            "distinct_tickers_selected": d.selected_tickers,
            "latest_session": None if d.latest is None else {**d.latest, "at": utc_text(d.latest["ts"])},
            "latest_selected": d.latest_selected,
        }
    return {
        "db_path": str(report.db_path),
        "schema_version": report.schema_version,
        "filter": {
            "since": report.since_text,
            "since_ts": report.filter.since_ts,
            "run_id": report.filter.run_id,
        },
        "empty": report.empty,
        "runs": [_run_doc(r) for r in report.runs],
        "totals": _totals_doc(report.totals),
        "end_reasons": [{"end_reason": reason, "runs": n} for reason, n in report.totals.end_reasons],
        "discovery": discovery,
        "volatility": {
            "events": v.events,
            "sessions": v.sessions,
            "running": v.running,
            "sessions_with_pnl": v.sessions_with_pnl,
            **_money("pnl", v.pnl_e4),
            "kill_reasons": [
                {"kill_reason": reason, "sessions": count, **_money("pnl", pnl)}
                for reason, (count, pnl) in v.kill_reasons.items()
            ],
        },
    }


def render_json(report: Report) -> str:
    return json.dumps(report_document(report), indent=2, ensure_ascii=False) + "\n"
