"""Bounded rolling window of one market's observations for the volatility scanner (seed §3.6 "Market State Tracking").

Each observation is ``(ts, mid_e4, spread_e4, depth_e2)``:

* ``ts`` — seconds (any epoch, float), supplied by the caller from its Clock; this module never reads time.
* ``mid_e4`` / ``spread_e4`` — YES mid price and bid-ask spread in 1/10,000 dollar (see :mod:`kalshi_mm.units`).
* ``depth_e2`` — book depth in 1/100 contract.

The window keeps only observations no older than ``rolling_window_s`` before the newest timestamp (appending trims),
plus a hard cap on the number of points so a caller that stops advancing time cannot grow it without bound.

σ (:meth:`MarketWindow.sigma`) is the population standard deviation of consecutive mid changes, **in dollars per
observation** (a mid move 0.47 -> 0.50 is a change of 0.03). That is the unit of the seed's
``volatility_scanner.sigma_threshold: 0.02``. It is not time-normalised: the scanner samples each market once per
sweep, so σ is "typical move between two sweeps".
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from kalshi_mm.units import PRICE_SCALE

__all__ = ["DEFAULT_MAX_POINTS", "MarketWindow", "Observation"]

# 15 minutes of sweeps every ~3 s is 300 points; 4096 leaves room for faster feeds while bounding memory.
DEFAULT_MAX_POINTS = 4096


@dataclass(frozen=True, slots=True)
class Observation:
    """One sample of a market: ts in seconds, mid and spread in 1/10,000 $, depth in 1/100 contract."""

    ts: float
    mid_e4: int
    spread_e4: int
    depth_e2: int


class MarketWindow:
    """Rolling window of one market's observations, trimmed by caller-supplied timestamps.

    Not thread-safe: one owner (the scanner's sweep thread) appends and reads it.
    """

    def __init__(self, rolling_window_s: float, max_points: int = DEFAULT_MAX_POINTS) -> None:
        """``rolling_window_s``: seconds of history to keep; ``max_points``: hard cap on stored observations."""
        if rolling_window_s <= 0:
            raise ValueError(f"rolling_window_s must be > 0, got {rolling_window_s}")
        if max_points < 1:
            raise ValueError(f"max_points must be ≥ 1, got {max_points}")
        self._rolling_window_s = float(rolling_window_s)
        self._points: deque[Observation] = deque(maxlen=max_points)

    @property
    def rolling_window_s(self) -> float:
        """Seconds of history kept."""
        return self._rolling_window_s

    def __len__(self) -> int:
        return len(self._points)

    def __iter__(self) -> Iterator[Observation]:
        return iter(self._points)

    def append(self, ts: float, mid_e4: int, spread_e4: int, depth_e2: int) -> None:
        """Add an observation (ts in seconds) and drop those older than the rolling window before ``ts``.

        Raises ValueError if ``ts`` is earlier than the newest stored timestamp: the windows below assume time
        order, and a clock going backwards is a caller bug worth surfacing rather than silently reordering.
        """
        if self._points and ts < self._points[-1].ts:
            raise ValueError(f"timestamp went backwards: {ts} < {self._points[-1].ts}")
        self._points.append(Observation(ts, mid_e4, spread_e4, depth_e2))
        self.trim(ts)

    def trim(self, now: float) -> None:
        """Drop observations older than ``now - rolling_window_s`` (now in seconds); lets a quiet market age out."""
        cutoff = now - self._rolling_window_s
        while self._points and self._points[0].ts < cutoff:
            self._points.popleft()

    def latest(self) -> Observation | None:
        """The newest observation, or None when empty."""
        return self._points[-1] if self._points else None

    def since(self, now: float, seconds: float) -> list[Observation]:
        """Observations with ``now - seconds <= ts <= now``, oldest first (both in seconds)."""
        cutoff = now - seconds
        # Walk from the newest end: the windows asked for are usually much shorter than the whole deque.
        out: list[Observation] = []
        for point in reversed(self._points):
            if point.ts < cutoff:
                break
            if point.ts <= now:
                out.append(point)
        out.reverse()
        return out

    def mean_mid_e4(self, now: float, seconds: float) -> float | None:
        """Mean mid over the last ``seconds`` before ``now``, in 1/10,000 $ (float), or None with no points."""
        points = self.since(now, seconds)
        if not points:
            return None
        return sum(p.mid_e4 for p in points) / len(points)

    def mid_range_e4(self, now: float, seconds: float) -> int | None:
        """Max minus min mid within the last ``seconds`` before ``now``, in 1/10,000 $, or None with no points."""
        points = self.since(now, seconds)
        if not points:
            return None
        mids = [p.mid_e4 for p in points]
        return max(mids) - min(mids)

    def net_move_e4(self, now: float, seconds: float) -> int | None:
        """Newest minus oldest mid within the last ``seconds`` before ``now``, in 1/10,000 $, or None if empty."""
        points = self.since(now, seconds)
        if not points:
            return None
        return points[-1].mid_e4 - points[0].mid_e4

    def sigma(self, now: float, seconds: float) -> float | None:
        """Population std of consecutive mid changes within the last ``seconds``, in dollars per observation.

        None when fewer than 3 points (2 changes) fall in the window: one change has no spread to measure.
        """
        points = self.since(now, seconds)
        if len(points) < 3:
            return None
        changes = [(b.mid_e4 - a.mid_e4) / PRICE_SCALE for a, b in pairwise(points)]
        mean = sum(changes) / len(changes)
        return math.sqrt(sum((c - mean) ** 2 for c in changes) / len(changes))
