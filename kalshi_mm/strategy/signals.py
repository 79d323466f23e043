"""Market measurements a session keeps between cycles: sampled mids (σ for the model, realised volatility for
the minimum-volatility guardrail) and the fill intensity of its own quotes (k and A for the model). No I/O and
no clock: the caller passes times (Unix s), mids and distances ($).

Owned by one session thread (not thread-safe).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence

from kalshi_mm.strategy.estimators import FillIntensityTable, SigmaEstimate, estimate_logit_sigma

__all__ = ["IntensityEstimator", "MidSampler", "resample"]


def resample(points: Sequence[tuple[float, float]], step_s: float, end_ts: float) -> list[tuple[float, float]]:
    """Sample a step function given by change points ``(ts, value)`` (ascending) every ``step_s`` seconds from
    its first point up to ``end_ts``: each sample carries the last value at or before its time.

    Change-point histories oversample busy moments (and so overstate σ with the bid-ask bounce); a fixed
    cadence is what :func:`~kalshi_mm.strategy.estimators.estimate_logit_sigma` expects.
    """
    if not points or step_s <= 0:
        return []
    out: list[tuple[float, float]] = []
    i, value = 0, points[0][1]
    t = points[0][0]
    while t <= end_ts:
        while i < len(points) and points[i][0] <= t:
            value = points[i][1]
            i += 1
        out.append((t, value))
        t += step_s
    return out


class MidSampler:
    """The session's mid samples ($, one per cycle, bounded). ``warm_start`` prepends resampled history (the
    store's price history, fed by the WebSocket before the session existed) so σ is not a fallback at first.
    """

    def __init__(self, max_samples: int = 2000):
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples)

    def warm_start(self, history: Sequence[tuple[float, float]], step_s: float, end_ts: float) -> int:
        """Add ``history`` (change points) resampled at ``step_s``; returns the samples added."""
        for sample in resample(history, step_s, end_ts):
            self._samples.append(sample)
        return len(self._samples)

    def add(self, ts: float, mid: float) -> None:
        if self._samples and ts <= self._samples[-1][0]:
            self._samples[-1] = (self._samples[-1][0], mid)  # same instant: the newest mid wins
            return
        self._samples.append((ts, mid))

    @property
    def last_mid(self) -> float | None:
        return self._samples[-1][1] if self._samples else None

    def span_s(self) -> float:
        """Seconds between the oldest and newest sample."""
        return self._samples[-1][0] - self._samples[0][0] if len(self._samples) > 1 else 0.0

    def sigma(self, fallback: float, min_increments: int) -> SigmaEstimate:
        """Log-odds σ per √s of the samples (``fallback`` until ``min_increments`` increments exist)."""
        times = [t for t, _ in self._samples]
        mids = [m for _, m in self._samples]
        return estimate_logit_sigma(times, mids, fallback=fallback, min_increments=min_increments)

    def price_std(self, now: float, window_s: float) -> float | None:
        """Standard deviation of the mid ($) over the last ``window_s`` seconds; None with < 2 samples."""
        recent = [m for t, m in self._samples if t >= now - window_s]
        if len(recent) < 2:
            return None
        mean = sum(recent) / len(recent)
        return math.sqrt(sum((m - mean) ** 2 for m in recent) / (len(recent) - 1))


class IntensityEstimator:
    """λ(δ) = A·e^(−kδ) of the session's own quotes: exposure and fills per distance from the mid, refitted
    every ``refit_every`` exposure updates. ``k`` (per $) and ``a`` (fills/s) stay None while the fit falls back
    to the configured values (too few fills), so the quoting step keeps using its parameters."""

    def __init__(self, fallback_k: float, fallback_a: float, refit_every: int = 20):
        self._table = FillIntensityTable()
        self._fallback = (fallback_k, fallback_a)
        self._refit_every = refit_every
        self._updates = 0
        self.k: float | None = None
        self.a: float | None = None

    def fill(self, distance: float) -> None:
        """One of our quotes ``distance`` $ from the mid was filled."""
        self._table.add_fill(distance)

    def exposure(self, distances: Iterable[float], seconds: float) -> None:
        """Quotes rested ``seconds`` at these distances ($) from the mid."""
        for distance in distances:
            self._table.add_exposure(distance, seconds)
        self._updates += 1
        if self._updates % self._refit_every == 0:
            fit = self._table.fit(fallback_k=self._fallback[0], fallback_a=self._fallback[1])
            self.k, self.a = (None, None) if fit.fallback else (fit.k, fit.a)
