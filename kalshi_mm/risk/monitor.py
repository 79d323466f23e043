"""RiskMonitor: the thread that runs :meth:`RiskGate.poll` (balance, positions, breaker) every
``risk.account_poll_seconds`` on the injected clock, from :meth:`~kalshi_mm.runtime.Runtime.start` to
:meth:`~kalshi_mm.runtime.Runtime.close`.

A failed read is logged and retried at the next interval: the breaker then works from the last equity it saw,
and new sessions are refused while the balance is unknown (:meth:`RiskGate.can_start_session`).
"""

from __future__ import annotations

import logging
import threading

from kalshi_mm.risk.gate import RiskGate

__all__ = ["RiskMonitor"]

log = logging.getLogger("kalshi_mm.risk.monitor")


class RiskMonitor:
    """Start with :meth:`start`, stop with :meth:`stop`. ``polls`` and ``failures`` are written by the thread
    only (plain int updates; readers just watch them)."""

    def __init__(self, gate: RiskGate, interval_s: float | None = None):
        self._gate = gate
        self._interval_s = interval_s if interval_s is not None else gate.poll_interval_s
        if self._interval_s <= 0:
            raise ValueError(f"poll interval must be > 0, got {self._interval_s}")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls = 0
        self.failures = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="risk-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop the thread; True when it ended within ``timeout_s`` real seconds."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        clock = self._gate.clock
        while not self._stop.is_set():
            try:
                self._gate.poll()
                self.polls += 1
            except Exception as exc:  # a network blip must not end the monitor
                self.failures += 1
                log.warning("risk monitor: account read failed: %s: %s", type(exc).__name__, exc)
            if clock.wait(self._interval_s, self._stop):
                return
