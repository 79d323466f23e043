"""Order groups: a per-group kill switch on contracts matched over a rolling 15-second window (NOTES §3.10).

This module holds the group's state and window arithmetic; cancelling the group's orders is the exchange's
job (:mod:`kalshi_mm.sim.engine`), because it touches books and accounts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from kalshi_mm.sim.model import OrderGroup

__all__ = ["WINDOW_S", "GroupState"]

WINDOW_S = 15.0  # seconds of matched contracts that count toward the limit


@dataclass(slots=True)
class GroupState:
    """Mutable state of one order group. ``orders`` holds the group's resting order ids (insertion order)."""

    group_id: str
    user_id: str
    contracts_limit_e2: int
    created_ts_ms: int
    triggered: bool = False
    orders: dict[str, None] = field(default_factory=dict)
    _window: deque[tuple[float, int]] = field(default_factory=deque)  # (clock seconds, count_e2)
    _window_e2: int = 0  # Σ count_e2 of _window, kept so a check after every fill is not O(window)

    def record_match(self, now_s: float, count_e2: int) -> None:
        """Count ``count_e2`` contracts matched by one of the group's orders at clock time ``now_s``."""
        self._window.append((now_s, count_e2))
        self._window_e2 += count_e2

    def matched_in_window(self, now_s: float) -> int:
        """Contracts (e2) matched in the last 15 s: fills at t with now − 15 < t ≤ now."""
        while self._window and self._window[0][0] <= now_s - WINDOW_S:
            self._window_e2 -= self._window.popleft()[1]
        return self._window_e2

    def limit_reached(self, now_s: float) -> bool:
        return self.matched_in_window(now_s) >= self.contracts_limit_e2

    def reset(self) -> None:
        """Zero the matched counter and accept orders again."""
        self._window.clear()
        self._window_e2 = 0
        self.triggered = False

    def snapshot(self, now_s: float) -> OrderGroup:
        return OrderGroup(
            group_id=self.group_id,
            user_id=self.user_id,
            contracts_limit_e2=self.contracts_limit_e2,
            triggered=self.triggered,
            order_ids=tuple(self.orders),
            matched_in_window_e2=self.matched_in_window(now_s),
            created_ts_ms=self.created_ts_ms,
        )
