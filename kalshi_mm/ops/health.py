"""``/health``: is the daemon connected to its exchange and allowed to trade? Read-only, no network calls.

Healthy means all of:

* trading is not HALTED (REDUCING is still healthy: the daemon works, on purpose more carefully);
* no shutdown is under way;
* with the WebSocket enabled, it is connected (and has not given up reconnecting);
* REST answers: :class:`RestHealth` calls REST unhealthy when every attempt since its previous check failed on
  the connection (network errors, 5xx, 429: ``transient``; refused credentials or unreadable answers:
  ``fatal``). A 4xx business rejection is an answer, so it counts as a working connection. With no attempt
  since the previous check the previous verdict stands.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kalshi_mm.risk.state import TradingState

if TYPE_CHECKING:
    from kalshi_mm.runtime import Runtime

__all__ = ["HealthReport", "RestHealth", "check_health"]


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    reasons: tuple[str, ...]  # why not healthy (empty when ok)
    notes: tuple[str, ...] = ()  # worth knowing, not failing (e.g. REDUCING)


class RestHealth:
    """REST verdict from the client's counters between checks (module docstring). ``_lock`` guards the rest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts = 0
        self._failures = 0
        self._ok = True
        self._detail = ""

    def check(self, stats: Mapping[str, int]) -> tuple[bool, str]:
        """(healthy, detail) from ``KalshiTradingAPI.stats()``."""
        # Completed attempts only (answered or failed): an attempt still in flight (counted in "attempts" when it
        # starts) would otherwise look like a success between two checks.
        failures = stats.get("transient", 0) + stats.get("fatal", 0)
        attempts = failures + stats.get("ok", 0) + stats.get("rejected", 0)
        with self._lock:
            new_attempts = attempts - self._attempts
            new_failures = failures - self._failures
            self._attempts, self._failures = attempts, failures
            if new_attempts > 0:
                self._ok = new_failures < new_attempts
                self._detail = f"{new_failures} of the last {new_attempts} REST attempt(s) failed"
            return self._ok, self._detail


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
