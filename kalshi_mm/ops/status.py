"""``/status`` and ``/api/pnl``: JSON snapshots of the running daemon, built from in-memory reads only.

Every figure comes from an object the daemon already keeps (trading state, session registry, API and WebSocket
counters, rate limiter, analytics writer stats, recent log records, the optional risk exposure book); nothing here
calls the exchange or the database, so a status request costs no rate budget and cannot stall on I/O.

Money stays exact: prices and cash are ints of 1/10,000 $ (``_e4``), counts ints of 1/100 contract (``_e2``);
readers format them (the CLI with :mod:`kalshi_mm.units`, the dashboard for display only).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kalshi_mm.ops.health import RestHealth, check_health
from kalshi_mm.ops.recent_log import RecentErrors
from kalshi_mm.ops.registry import RegistryView, SessionSnapshot
from kalshi_mm.units import COUNT_SCALE

if TYPE_CHECKING:
    from kalshi_mm.runtime import Runtime

__all__ = ["db_status", "exposure_vs_budgets", "jsonable", "pnl_payload", "risk_snapshot", "status_payload"]

# Finished sessions and fills listed in /status (the registry keeps more; the dashboard needs no more).
FINISHED_SHOWN = 10
FILLS_SHOWN = 20


def jsonable(value: Any) -> Any:
    """``value`` as JSON-encodable data: dataclasses and mappings become objects, enums their value; an object
    that is none of the known shapes becomes its ``str``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def risk_snapshot(rt: Runtime) -> Any:
    """Exposure against its budgets from the runtime's risk gate (``rt.risk``), as JSON data; None without one.

    A gate with a ``snapshot()`` (on itself or its ``exposure``) gives that. Otherwise the figures are read from
    the gate's exposure book and limits (``book.totals()``, ``limits``) by :func:`exposure_vs_budgets`. Never
    raises: a failure is reported inside the result, so /status survives a bug there.
    """
    risk = getattr(rt, "risk", None)
    if risk is None:
        return None
    try:
        for holder in (risk, getattr(risk, "exposure", None)):
            snapshot = getattr(holder, "snapshot", None)
            if callable(snapshot):
                return jsonable(snapshot())
        return exposure_vs_budgets(risk)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def exposure_vs_budgets(risk: Any) -> dict[str, Any] | None:
    """Worst-case exposure (1/10,000 $, rounded up) next to its limits: global budget, per-market cap, category
    caps; plus order collateral, the circuit breaker's state and veto counts when the gate has them."""
    book, limits = getattr(risk, "book", None), getattr(risk, "limits", None)
    if book is None or limits is None:
        return None
    totals = book.totals()
    out: dict[str, Any] = {
        "global": {"worst_case_e4": _e6_to_e4_up(totals.global_e6), "budget_e4": limits.global_budget_e4},
        "markets": [
            {"ticker": t, "worst_case_e4": _e6_to_e4_up(v), "cap_e4": limits.per_market_cap_e4}
            for t, v in sorted(totals.markets.items())
        ],
        "categories": [
            {"category": c, "worst_case_e4": _e6_to_e4_up(v), "cap_e4": limits.cap_for(c)}
            for c, v in sorted(totals.categories.items())
        ],
        "collateral_e4": _e6_to_e4_up(totals.collateral_e6),
    }
    breaker = getattr(risk, "breaker", None)
    if breaker is not None:
        out["breaker"] = jsonable(breaker.state)
    snapshot = getattr(risk, "veto_counts_snapshot", None)
    if snapshot is not None:
        out["vetoes"] = snapshot()
    return out


def _e6_to_e4_up(amount_e6: int) -> int:
    # The book counts 1/1,000,000 $ (price_e4 × count_e2); a loss bound shown in e4 rounds up, never flatters.
    return -(-amount_e6 // COUNT_SCALE)


def db_status(rt: Runtime) -> dict[str, int]:
    """The analytics writer's counters plus ``queue_depth`` (ops accepted but not yet written or failed)."""
    stats = dataclasses.asdict(rt.db.stats())
    stats["queue_depth"] = max(0, stats["enqueued"] - stats["written"] - stats["failed"])
    return stats


def rate_budget(rt: Runtime) -> dict[str, dict[str, float]]:
    """Per token bucket (read, write): tokens available now, capacity, requests queued, share in use."""
    limiter = rt.api.limiter
    out: dict[str, dict[str, float]] = {}
    for kind in ("read", "write"):
        capacity = limiter.capacity(kind)
        available = limiter.available(kind)
        out[kind] = {
            "available": round(available, 3),
            "capacity": round(capacity, 3),
            "queued": limiter.queued(kind),
            "used_ratio": round(1.0 - available / capacity, 4) if capacity > 0 else 0.0,
        }
    return out


def session_row(snap: SessionSnapshot) -> dict[str, Any]:
    return dataclasses.asdict(snap)


def positions(view: RegistryView) -> list[dict[str, Any]]:
    """Net inventory per market over the running sessions (1/100 contract, + YES / − NO)."""
    by_ticker: dict[str, dict[str, Any]] = {}
    for snap in view.active:
        row = by_ticker.setdefault(
            snap.ticker,
            {"ticker": snap.ticker, "position_e2": 0, "sessions": 0, "unrealized_pnl_e4": 0, "realized_pnl_e4": 0},
        )
        row["position_e2"] += snap.inventory_e2
        row["sessions"] += 1
        row["realized_pnl_e4"] += snap.realized_pnl_e4
        row["unrealized_pnl_e4"] += snap.unrealized_pnl_e4 or 0
    return sorted(by_ticker.values(), key=lambda r: r["ticker"])


def status_payload(rt: Runtime, rest: RestHealth, errors: RecentErrors | None) -> dict[str, Any]:
    """The ``/status`` document (module docstring)."""
    view = rt.sessions_view.view()
    health = check_health(rt, rest)
    ws = rt.ws
    ws_status: dict[str, Any] = {"enabled": False}
    if ws is not None and ws.enabled:
        ws_status = {
            "enabled": True,
            "healthy": ws.healthy,
            "failed": ws.failed,
            "markets": len(ws.markets()),
            "last_message_ts": ws.last_message_time,
            "stats": ws.stats(),
        }
    return {
        "now_ts": rt.clock.time(),
        "trading": rt.trading.snapshot(),
        "health": {"ok": health.ok, "reasons": list(health.reasons), "notes": list(health.notes)},
        "mode": rt.cfg.mode,
        "exchange": {"rest_url": rt.api.base_url, "embedded": rt.exchange is not None},
        "pnl": {
            "realized_e4": view.realized_pnl_e4,
            "unrealized_e4": view.unrealized_pnl_e4,
            "total_e4": view.realized_pnl_e4 + view.unrealized_pnl_e4,
        },
        "sessions": [session_row(s) for s in view.active],
        "sessions_by_state": view.by_state,
        "sessions_started": view.started,
        "finished_sessions": [session_row(s) for s in view.finished[-FINISHED_SHOWN:]],
        "positions": positions(view),
        "fills": [dataclasses.asdict(f) for f in view.fills[-FILLS_SHOWN:]],
        "fills_total": view.fills_total,
        "exposure": risk_snapshot(rt),
        "websocket": ws_status,
        "rest": {"stats": rt.api.stats(), "rate_budget": rate_budget(rt)},
        "db": db_status(rt),
        "errors": [dataclasses.asdict(e) for e in errors.entries()] if errors is not None else [],
    }


def pnl_payload(rt: Runtime) -> dict[str, Any]:
    """The ``/api/pnl`` series: points of total P&L (1/10,000 $) over clock time (Unix s)."""
    view = rt.sessions_view.view()
    return {
        "points": [{"ts": ts, "total_e4": total} for ts, total in view.pnl_series],
        "realized_e4": view.realized_pnl_e4,
        "unrealized_e4": view.unrealized_pnl_e4,
    }
