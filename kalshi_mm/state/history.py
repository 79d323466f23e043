"""Rolling top-of-book history per market, for the volatility scanner (prices e4, sizes e2, local time).

A point is recorded when the best bid or best ask *price* of a market changes (size-only changes do not add
points, or a busy book would fill the window with noise in milliseconds). ``min_interval_s`` > 0 coalesces
bursts: a point closer than that to the previous one replaces it, so the window spans more time while the
newest state is always present.
"""

from __future__ import annotations

import threading
from collections import deque
from fractions import Fraction
from typing import NamedTuple

from kalshi_mm.state.orderbook import mid_e4, mid_exact, spread_e4
from kalshi_mm.units import Rounding

__all__ = ["PriceHistory", "PricePoint"]


class PricePoint(NamedTuple):
    """Top of book at ``ts`` (local receive time, Unix s). ``*_depth_e2``: size over the best N levels."""

    ts: float
    bid_e4: int | None
    ask_e4: int | None
    bid_size_e2: int
    ask_size_e2: int
    bid_depth_e2: int
    ask_depth_e2: int
    source: str  # "book" (orderbook stream) or "ticker" (ticker channel, when no live book)

    def mid(self) -> Fraction | None:
        """Exact mid in 1/10,000 $ units."""
        return mid_exact(self.bid_e4, self.ask_e4)

    def mid_e4(self, rounding: Rounding) -> int | None:
        return mid_e4(self.bid_e4, self.ask_e4, rounding)

    @property
    def spread_e4(self) -> int | None:
        return spread_e4(self.bid_e4, self.ask_e4)


class PriceHistory:
    """Bounded per-market windows of :class:`PricePoint`.

    Lock: ``_lock`` guards ``_series`` (the dict and every deque in it). Writers: the WebSocket thread through
    the store; readers: any thread. Reads return tuples copied under the lock.
    """

    def __init__(self, max_points: int, min_interval_s: float = 0.0) -> None:
        if max_points < 1:
            raise ValueError(f"max_points must be ≥ 1, got {max_points}")
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s must be ≥ 0, got {min_interval_s}")
        self._max_points = max_points
        self._min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._series: dict[str, deque[PricePoint]] = {}

    def record(self, ticker: str, point: PricePoint) -> None:
        with self._lock:
            series = self._series.get(ticker)
            if series is None:
                series = self._series[ticker] = deque(maxlen=self._max_points)
            if series and self._min_interval_s and point.ts - series[-1].ts < self._min_interval_s:
                series[-1] = point
            else:
                series.append(point)

    def get(self, ticker: str, since: float | None = None) -> tuple[PricePoint, ...]:
        """Points of ``ticker``, oldest first; only those with ``ts > since`` when given."""
        with self._lock:
            series = self._series.get(ticker)
            if not series:
                return ()
            if since is None:
                return tuple(series)
            return tuple(p for p in series if p.ts > since)

    def last(self, ticker: str) -> PricePoint | None:
        with self._lock:
            series = self._series.get(ticker)
            return series[-1] if series else None

    def forget(self, ticker: str) -> None:
        with self._lock:
            self._series.pop(ticker, None)

    def tickers(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._series)
