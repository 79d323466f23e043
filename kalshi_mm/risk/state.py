"""The account's trading state: ACTIVE, REDUCING (only exposure-reducing orders) or HALTED (cancels only).

One :class:`TradingStateMachine` per process, held by the :class:`~kalshi_mm.runtime.Runtime`. Every session
reads it before sending an order; the circuit breaker, the kill switch (``runner.py halt``) and the drift check
write it. A HALTED state is sticky: only an explicit :meth:`TradingStateMachine.resume` (an operator's
``runner.py resume``) leaves it, never an automatic check.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kalshi_mm.clock import Clock

__all__ = ["TradingState", "TradingStateChange", "TradingStateMachine"]

log = logging.getLogger("kalshi_mm.risk.state")


class TradingState(enum.Enum):
    ACTIVE = "active"  # quoting allowed within limits
    REDUCING = "reducing"  # only orders that reduce exposure (and cancels)
    HALTED = "halted"  # cancels only; left only by an explicit resume

    def allows_new_exposure(self) -> bool:
        return self is TradingState.ACTIVE

    def allows_reducing_orders(self) -> bool:
        return self is not TradingState.HALTED


@dataclass(frozen=True)
class TradingStateChange:
    """One transition, as published to listeners and kept in :attr:`TradingStateMachine.history`."""

    previous: TradingState
    state: TradingState
    reason: str
    source: str  # who asked: "operator", "circuit_breaker", "drift_check", ...
    at_ms: int


Listener = Callable[[TradingStateChange], None]


class TradingStateMachine:
    """Thread-safe holder of the trading state. ``_lock`` guards ``_state``, ``_reason``, ``history`` and
    ``_listeners``; listeners are called after the lock is released (they may log, alert or write the DB)."""

    def __init__(self, clock: Clock, initial: TradingState = TradingState.ACTIVE):
        self._clock = clock
        self._lock = threading.Lock()
        self._state = initial
        self._reason = "start"
        self._since_ms = clock.time_ms()
        self.history: list[TradingStateChange] = []
        self._listeners: list[Listener] = []

    @property
    def state(self) -> TradingState:
        with self._lock:
            return self._state

    def snapshot(self) -> dict[str, object]:
        """State, reason and since (ms) for status output."""
        with self._lock:
            return {"state": self._state.value, "reason": self._reason, "since_ms": self._since_ms}

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def halt(self, reason: str, source: str) -> bool:
        """Enter HALTED (from any state). Returns whether the state changed."""
        return self._set(TradingState.HALTED, reason, source)

    def reduce_only(self, reason: str, source: str) -> bool:
        """Enter REDUCING from ACTIVE; a HALTED state stays HALTED (only resume leaves it)."""
        return self._set(TradingState.REDUCING, reason, source, unless=TradingState.HALTED)

    def resume(self, reason: str, source: str) -> bool:
        """Back to ACTIVE (the operator's resume, or the end of a REDUCING condition)."""
        return self._set(TradingState.ACTIVE, reason, source)

    def _set(self, state: TradingState, reason: str, source: str, unless: TradingState | None = None) -> bool:
        with self._lock:
            # ``unless`` is checked under the same lock as the change: a halt landing in between cannot be undone.
            if self._state is state or self._state is unless:
                return False
            change = TradingStateChange(self._state, state, reason, source, self._clock.time_ms())
            self._state = state
            self._reason = reason
            self._since_ms = change.at_ms
            self.history.append(change)
            listeners = list(self._listeners)
        log.warning("trading state %s -> %s (%s: %s)", change.previous.value, state.value, source, reason)
        for listener in listeners:
            try:
                listener(change)
            except Exception:  # a failing listener (alert, DB) must not block a halt
                log.exception("trading-state listener failed")
        return True
