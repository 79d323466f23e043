"""``/health``: is the daemon connected to its exchange and allowed to trade? Read-only, no network calls.

Healthy means all of:

* trading is not HALTED (REDUCING is still healthy: the daemon works, on purpose more carefully);
* no shutdown is under way;
* with the WebSocket enabled, it is connected (and has not given up reconnecting);
* REST answers: :class:`RestHealth` calls REST unhealthy once the client's last ``FAILURE_STREAK_LIMIT``
  attempts in a row failed on the connection (network errors, 5xx, 429: ``transient``; refused credentials or
  unreadable answers: ``fatal``) with no answer since. A 4xx business rejection is an answer, so it counts as a
  working connection. With no attempt since, the verdict stands; a single stray 5xx does not flip it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kalshi_mm.risk.state import TradingState

if TYPE_CHECKING:
    from kalshi_mm.runtime import Runtime

__all__ = ["FAILURE_STREAK_LIMIT", "HealthReport", "RestHealth", "check_health"]

FAILURE_STREAK_LIMIT = 3  # REST attempts failed in a row (no answer between) that make /health fail


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    reasons: tuple[str, ...]  # why not healthy (empty when ok)
    notes: tuple[str, ...] = ()  # worth knowing, not failing (e.g. REDUCING)


class RestHealth:
    """REST verdict from the client's ``failure_streak`` (module docstring). Stateless; kept as a class so the
    server and the status payload share one object and its threshold."""

    def __init__(self, failure_streak_limit: int = FAILURE_STREAK_LIMIT) -> None:
        self._limit = failure_streak_limit

    def check(self, stats: Mapping[str, int]) -> tuple[bool, str]:
        """(healthy, detail) from ``KalshiTradingAPI.stats()``."""
        streak = stats.get("failure_streak", 0)
        if streak >= self._limit:
            return False, f"the last {streak} REST attempt(s) failed, with no answer since"
        return True, ""


def check_health(rt: Runtime, rest: RestHealth) -> HealthReport:
    """The daemon's health now (module docstring)."""
    reasons: list[str] = []
    notes: list[str] = []
    trading = rt.trading.snapshot()
    if trading["state"] == TradingState.HALTED.value:
        reasons.append(f"trading halted: {trading['reason']}")
    elif trading["state"] == TradingState.REDUCING.value:
        notes.append(f"trading reducing only: {trading['reason']}")
    if rt.stop_event.is_set():
        reasons.append(f"shutting down: {rt.stop_reason or 'stop requested'}")
    ws = rt.ws
    if ws is not None and ws.enabled:
        if ws.failed:
            reasons.append("websocket gave up reconnecting")
        elif not ws.healthy:
            reasons.append("websocket not connected")
    rest_ok, detail = rest.check(rt.api.stats())
    if not rest_ok:
        reasons.append(f"REST failing: {detail}")
    return HealthReport(not reasons, tuple(reasons), tuple(notes))
