"""The books the drift check compares with the exchange: an in-memory position ledger and a mismatch confirmer.

**What is compared.** :class:`PositionLedger` holds, per market, the position the start-up recovery found on the
exchange plus every fill the process has *booked* since (each ``AnalyticsDB.log_fill_event``, deduplicated by
fill_id). The periodic check (:mod:`kalshi_mm.recovery.monitor`) compares it with ``GET /portfolio/positions``.

**How this sits with the sessions' ``verify_position``.** A session's fill tracker adopts the exchange's position
when its own fills disagree: that repairs the *inventory it quotes with*, at once, and is right to do. But it
hides the cause: a fill nobody booked (the classic one: an order whose create response was lost and which
filled later). Adoption does not touch this ledger, so such a fill still shows here as drift: the session keeps
its quoting sane, the drift check stops the account and says the books are wrong.

**Races.** A fill is on the exchange a moment before a session books it (a WebSocket hop, or up to one refresh
period in REST mode), so one mismatch means nothing. :class:`DriftConfirmer` confirms a market only when the
*same* nonzero difference is seen on ``confirm_checks`` consecutive checks: a fill in flight gives a different
difference each time (or none), a missed fill a constant one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

__all__ = ["DriftConfirmer", "PositionLedger"]


class PositionLedger:
    """Signed YES-leg positions (1/100 contract) per market from booked fills. Thread-safe: ``_lock`` guards
    ``_positions``, ``_seen`` and ``_baselined``; any thread may record (sessions book fills on their own).

    ``_seen`` holds every fill id counted or covered by the baseline; it grows by one short string per fill
    (a busy day is a few thousand), which is the price of exact deduplication across sources.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._positions: dict[str, int] = {}
        self._seen: set[str] = set()
        self._baselined = False

    def reset(self, positions: Mapping[str, int], covered_fill_ids: Iterable[str]) -> None:
        """Start again from the exchange's ``positions``; ``covered_fill_ids`` are fills those already include
        (a session may book them again, e.g. its start-up fill read looks a few seconds back)."""
        with self._lock:
            self._positions = {t: p for t, p in positions.items() if p != 0}
            self._seen = set(covered_fill_ids)
            self._baselined = True

    def record(self, fill_id: str, ticker: str, signed_e2: int) -> bool:
        """Count one booked fill; False when it was already counted (or the ledger has no baseline yet)."""
        with self._lock:
            if not self._baselined or fill_id in self._seen:
                return False
            self._seen.add(fill_id)
            position = self._positions.get(ticker, 0) + signed_e2
            if position:
                self._positions[ticker] = position
            else:
                self._positions.pop(ticker, None)
            return True

    def set_position(self, ticker: str, position_e2: int) -> None:
        """Overwrite one market (a settlement took the position away without a fill)."""
        with self._lock:
            if position_e2:
                self._positions[ticker] = position_e2
            else:
                self._positions.pop(ticker, None)

    def knows(self, fill_id: str) -> bool:
        with self._lock:
            return fill_id in self._seen

    def positions(self) -> dict[str, int]:
        """A copy of the nonzero positions."""
        with self._lock:
            return dict(self._positions)


class DriftConfirmer:
    """Confirms a market's drift once the same nonzero difference was seen on ``confirm_checks`` consecutive
    checks (module docstring). Pure state, owned by the monitor thread."""

    def __init__(self, confirm_checks: int) -> None:
        if confirm_checks < 1:
            raise ValueError(f"confirm_checks must be ≥ 1, got {confirm_checks}")
        self._confirm = confirm_checks
        self._streaks: dict[str, tuple[int, int]] = {}  # ticker -> (difference, consecutive checks)

    def observe(self, deltas: Mapping[str, int]) -> dict[str, int]:
        """Feed one check's differences (exchange − ours, nonzero only); returns the confirmed ones."""
        streaks: dict[str, tuple[int, int]] = {}
        for ticker, delta in deltas.items():
            if delta == 0:
                continue
            previous = self._streaks.get(ticker)
            count = previous[1] + 1 if previous is not None and previous[0] == delta else 1
            streaks[ticker] = (delta, count)
        self._streaks = streaks
        return {t: d for t, (d, n) in sorted(streaks.items()) if n >= self._confirm}

    def forget(self, tickers: Iterable[str] | None = None) -> None:
        """Drop the streaks of ``tickers`` (all when None): after a repair or a new baseline."""
        if tickers is None:
            self._streaks.clear()
            return
        for ticker in tickers:
            self._streaks.pop(ticker, None)
