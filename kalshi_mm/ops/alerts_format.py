"""Alert texts, the client-side send gate and the daily-summary arithmetic: pure, no I/O, no clock reads.

Everything here takes its inputs (times included) as arguments, so tests call it directly; the sending thread
and the database read live in :mod:`kalshi_mm.ops.alerts`. Money is integer 1/10,000 $ and counts integer
1/100 contract, rendered only through :mod:`kalshi_mm.units`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from kalshi_mm.risk.state import TradingState, TradingStateChange
from kalshi_mm.units import format_count, format_dollars

__all__ = [
    "DAY_S",
    "DISCORD_MAX_CONTENT",
    "AlertKind",
    "DailySummary",
    "PnlMark",
    "SendGate",
    "clip",
    "format_daemon_started",
    "format_daemon_stopped",
    "format_daily_summary",
    "format_order_group_tripped",
    "format_repeated_error",
    "format_session_ended",
    "format_session_started",
    "format_suppressed",
    "format_trading_state",
    "next_daily_at",
    "realized_pnl_in_window",
]

# Discord rejects (400) a message whose content is longer than this.
DISCORD_MAX_CONTENT = 2000
_ELLIPSIS = " …"
DAY_S = 86_400


class AlertKind(enum.StrEnum):
    """What an alert is about; the suppressed-count line groups by it."""

    DAEMON = "daemon"
    SESSION = "session"
    TRADING_STATE = "trading_state"
    ORDER_GROUP = "order_group"
    REPEATED_ERROR = "repeated_error"
    DAILY_SUMMARY = "daily_summary"


def clip(content: str, limit: int = DISCORD_MAX_CONTENT) -> str:
    """``content`` cut to at most ``limit`` characters (an ellipsis marks the cut)."""
    if len(content) <= limit:
        return content
    return content[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def _money(amount_e4: int) -> str:
    """Signed dollars: +$1.2300, -$0.0050, $0.0000."""
    if amount_e4 == 0:
        return "$" + format_dollars(0)
    return ("+$" if amount_e4 > 0 else "-$") + format_dollars(abs(amount_e4))


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- one function per alert kind --------------------------------------------------------------------------------


def format_daemon_started(mode: str, exchange: str) -> str:
    return f"kalshi_mm started: mode {mode}, exchange {exchange}"


def format_daemon_stopped(reason: str | None, problem: str | None = None) -> str:
    text = f"kalshi_mm stopped: {reason or 'no reason given'}"
    return f"{text}; PROBLEM: {problem}" if problem else text


def format_session_started(ticker: str, side: str, run_id: int, strategy: str) -> str:
    return f"Session started: {ticker} {side} (run {run_id}, {strategy})"


def format_session_ended(
    ticker: str,
    side: str,
    run_id: int,
    reason: str | None,
    *,
    faulted: bool,
    final_position_e2: int | None = None,
    realized_pnl_e4: int | None = None,
) -> str:
    """End of a session; position in contracts (signed, + = long YES), P&L the exchange's realized figure."""
    head = "Session FAULTED" if faulted else "Session ended"
    parts = [f"{head}: {ticker} {side} (run {run_id}): {reason or 'unknown reason'}"]
    if final_position_e2 is not None:
        parts.append(f"final position {format_count(final_position_e2)}")
    if realized_pnl_e4 is not None:
        parts.append(f"realized P&L {_money(realized_pnl_e4)}")
    return "; ".join(parts)


# Who changes the trading state (TradingStateChange.source), as an operator reads it.
_SOURCES = {
    "operator": "kill switch (operator)",
    "circuit_breaker": "circuit breaker",
    "drift_check": "position drift check",
}
_STATE_HEADS = {
    TradingState.HALTED: "TRADING HALTED",
    TradingState.REDUCING: "Trading REDUCE-ONLY",
    TradingState.ACTIVE: "Trading resumed (ACTIVE)",
}


def format_trading_state(change: TradingStateChange) -> str:
    """A circuit-breaker trip, kill switch or resume: the new state, who asked and why."""
    source = _SOURCES.get(change.source, change.source)
    return (
        f"{_STATE_HEADS[change.state]} (was {change.previous.value}) by {source}: {change.reason}"
        f" at {_utc(change.at_ms / 1000)}"
    )


def format_order_group_tripped(ticker: str, group_id: str, detail: str) -> str:
    return f"Order group tripped: {ticker} (group {group_id}): {detail}"


def format_repeated_error(logger_name: str, message: str, count: int, window_s: float) -> str:
    """``message`` is the latest record's text (already redacted by the caller)."""
    return f"Repeated error: {count}× within {window_s:g} s from {logger_name}: {message}"


def format_suppressed(counts: Mapping[str, int]) -> str:
    """The one line standing for alerts the rate limit or a full queue dropped, by kind."""
    total = sum(counts.values())
    detail = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()) if n)
    return f"{total} alert{'s' if total != 1 else ''} suppressed by the alert rate limit ({detail})"


# --- daily summary ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailySummary:
    """Activity in [start_ts, end_ts) (Unix s). ``error`` set: the database could not be read (counts are 0)."""

    start_ts: float
    end_ts: float
    sessions_started: int = 0
    sessions_ended: int = 0
    sessions_faulted: int = 0
    fills: int = 0
    contracts_e2: int = 0
    fees_e4: int = 0
    realized_pnl_e4: int = 0
    pnl_markets: int = 0
    error: str | None = None


def format_daily_summary(summary: DailySummary, alert_stats: Mapping[str, int] | None = None) -> str:
    head = f"Daily summary, {_utc(summary.start_ts)} to {_utc(summary.end_ts)}"
    if summary.error is not None:
        return f"{head}: analytics database unreadable ({summary.error})"
    lines = [
        head,
        f"sessions: {summary.sessions_started} started, {summary.sessions_ended} ended "
        f"({summary.sessions_faulted} faulted)",
        f"fills: {summary.fills}, {format_count(summary.contracts_e2)} contracts, "
        f"fees {_money(summary.fees_e4).lstrip('+')}",
        f"realized P&L: {_money(summary.realized_pnl_e4)} over {summary.pnl_markets} market"
        f"{'s' if summary.pnl_markets != 1 else ''} (exchange figures recorded at session ends, before fees)",
    ]
    if alert_stats:
        lines.append("alerts: " + ", ".join(f"{k} {v}" for k, v in alert_stats.items()))
    return "\n".join(lines)


@dataclass(frozen=True)
class PnlMark:
    """A session's end as recorded: the market's cumulative realized P&L (1/10,000 $) at ``end_ts``."""

    market_ticker: str
    end_ts: float
    realized_pnl_e4: int


def realized_pnl_in_window(marks: Iterable[PnlMark], start_ts: float, end_ts: float) -> tuple[int, int]:
    """Realized P&L earned in [start_ts, end_ts) and the number of markets it came from.

    The exchange's realized P&L of a market position is cumulative, and every session on the market (yes and
    no side, one after another) records that same running figure when it ends. Summing the sessions' figures
    would count a market's earlier gains again; the exact figure is, per market, the last mark in the window
    minus the last mark before it (0 when there is none). Markets without a mark in the window add nothing.
    """
    before: dict[str, PnlMark] = {}
    inside: dict[str, PnlMark] = {}
    for mark in marks:
        if mark.end_ts >= end_ts:
            continue
        book = inside if mark.end_ts >= start_ts else before
        held = book.get(mark.market_ticker)
        if held is None or mark.end_ts >= held.end_ts:
            book[mark.market_ticker] = mark
    total = 0
    for ticker, last in inside.items():
        base = before.get(ticker)
        total += last.realized_pnl_e4 - (base.realized_pnl_e4 if base is not None else 0)
    return total, len(inside)


def next_daily_at(now_ts: float, hour: int, minute: int) -> float:
    """The first instant strictly after ``now_ts`` (Unix s) whose UTC time of day is ``hour:minute``."""
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"daily time must be 00:00-23:59, got {hour:02d}:{minute:02d}")
    day_start = (int(now_ts) // DAY_S) * DAY_S  # Unix time has no leap seconds: UTC days are 86,400 s
    at = float(day_start + hour * 3600 + minute * 60)
    return at if at > now_ts else at + DAY_S


# --- rate limit -------------------------------------------------------------------------------------------------


class SendGate:
    """Client-side rate limit: a token bucket holding up to ``max_per_minute`` sends, refilled at
    ``max_per_minute`` per 60 s, plus per-kind counts of the alerts it turned away, which go out later as one
    :func:`format_suppressed` line. Times are the caller's monotonic seconds.

    Owned by the sending thread alone; not thread-safe.
    """

    def __init__(self, max_per_minute: int, now: float) -> None:
        if max_per_minute < 1:
            raise ValueError(f"max_per_minute must be ≥ 1, got {max_per_minute}")
        self._capacity = float(max_per_minute)
        self._per_s = max_per_minute / 60.0
        self._tokens = self._capacity
        self._at = now
        self._suppressed: dict[str, int] = {}

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._per_s)
            self._at = now

    def try_take(self, now: float) -> bool:
        """Take one send if the bucket has one."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def seconds_until_token(self, now: float) -> float:
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self._per_s)

    def suppress(self, kind: str, count: int = 1) -> None:
        """Count ``count`` alerts of ``kind`` that will not be sent."""
        if count > 0:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + count

    @property
    def suppressed(self) -> int:
        """Alerts counted but not yet reported by a suppressed line."""
        return sum(self._suppressed.values())

    def take_suppressed_line(self, now: float, *, force: bool = False) -> str | None:
        """The suppressed-count line when there is one and a send is available (``force``: regardless of the
        bucket, for the final flush at shutdown); resets the counts. None otherwise."""
        if not self._suppressed or not (force or self.try_take(now)):
            return None
        line = format_suppressed(self._suppressed)
        self._suppressed = {}
        return line
