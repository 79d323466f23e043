"""Time, injected: the only module in kalshi_mm that reads the machine's clocks.

Everything that needs "now" or has to wait takes a :class:`Clock`. Production passes :class:`LiveClock`;
tests pass a manual :class:`SimClock` and advance it by hand; simulations and benchmarks pass a scaled
:class:`SimClock` that runs N times faster than real time. Ruff's banned-API rule (TID251, see
pyproject.toml) rejects ``time.time``, ``time.monotonic``, ``datetime.now`` and ``datetime.utcnow``
anywhere else.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ClockError", "LiveClock", "SimClock"]


class ClockError(RuntimeError):
    """Raised on a misuse of a clock, such as moving a simulated clock backwards."""


@runtime_checkable
class Clock(Protocol):
    """Wall time, monotonic time and an interruptible wait."""

    def time(self) -> float:
        """Wall time as Unix seconds (UTC)."""
        ...

    def time_ms(self) -> int:
        """Wall time as whole Unix milliseconds (what Kalshi's signature timestamp uses)."""
        ...

    def now(self) -> datetime:
        """Wall time as a timezone-aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; only differences are meaningful."""
        ...

    def wait(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait ``seconds`` of this clock's time, or until ``stop`` is set.

        Returns True when interrupted by ``stop`` (the caller should wind down), False on timeout.
        """
        ...


class LiveClock:
    """The real clocks of the machine."""

    def time(self) -> float:
        return time.time()

    def time_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if stop is None:
            # An Event that nobody sets gives the same timed wait as sleep, without a second code path.
            stop = threading.Event()
        return stop.wait(max(0.0, seconds))


# How often a manual-mode wait re-checks its stop event. Real seconds; it only bounds how quickly a
# stop set by another thread is noticed, since advance() wakes waiters directly.
_STOP_POLL_REAL_S = 0.01


class SimClock:
    """A simulated clock, in one of two modes.

    * manual (``scale=None``, the default): time moves only through :meth:`advance` / :meth:`set_time`.
      A :meth:`wait` from another thread blocks until the clock is advanced past its deadline. With
      ``auto_advance=True`` a wait instead moves the clock to its own deadline at once, which lets a
      single-threaded loop run deterministically as fast as the CPU allows.
    * scaled (``scale=N``): simulated time runs N times faster than real time, starting at ``start``;
      :meth:`advance` still adds a jump on top.

    Simulated time never goes backwards (as NautilusTrader's TestClock refuses to).
    The lock ``_cond`` guards ``_offset`` and ``_real_anchor``.
    """

    def __init__(self, start: float = 1_767_225_600.0, scale: float | None = None, auto_advance: bool = False):
        # Default start: 2026-01-01T00:00:00Z, a fixed instant so runs are reproducible.
        if scale is not None and scale <= 0:
            raise ClockError(f"SimClock scale must be positive, got {scale!r}")
        if scale is not None and auto_advance:
            raise ClockError("SimClock auto_advance only applies to manual mode (scale=None)")
        self._scale = scale
        self._auto_advance = auto_advance
        self._cond = threading.Condition()
        self._offset = float(start)  # simulated time at the real anchor
        self._real_anchor = time.monotonic()

    @property
    def scale(self) -> float | None:
        return self._scale

    def _now_locked(self) -> float:
        if self._scale is None:
            return self._offset
        return self._offset + (time.monotonic() - self._real_anchor) * self._scale

    def time(self) -> float:
        with self._cond:
            return self._now_locked()

    def time_ms(self) -> int:
        return int(self.time() * 1000)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def monotonic(self) -> float:
        # Simulated wall time never goes backwards, so it serves as the monotonic clock too.
        return self.time()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds`` and wake waiters whose deadline has passed."""
        if seconds < 0:
            raise ClockError(f"cannot advance a SimClock by a negative amount ({seconds!r} s)")
        with self._cond:
            self._offset += seconds
            self._cond.notify_all()

    def set_time(self, t: float) -> None:
        """Jump to absolute Unix time ``t``; refuses to go backwards."""
        with self._cond:
            now = self._now_locked()
            if t < now:
                raise ClockError(f"cannot move a SimClock backwards from {now!r} to {t!r}")
            self._offset += t - now
            self._cond.notify_all()

    def wait(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return True
        seconds = max(0.0, seconds)
        if self._scale is not None:
            real = seconds / self._scale
            if stop is None:
                threading.Event().wait(real)
                return False
            return stop.wait(real)
        with self._cond:
            deadline = self._offset + seconds
            if self._auto_advance:
                self._offset = deadline
                self._cond.notify_all()
                return bool(stop is not None and stop.is_set())
            while self._offset < deadline:
                if stop is not None and stop.is_set():
                    return True
                self._cond.wait(_STOP_POLL_REAL_S if stop is not None else None)
        return bool(stop is not None and stop.is_set())
