"""Fault injection and traffic accounting for the embedded exchange, for chaos tests and API-efficiency benches.

:class:`FaultInjector` holds the faults in force (set at start-up, changed at run time through the admin endpoint)
and counts every fault it injects; :class:`TrafficStats` counts what each account did. Both are read by the
admin endpoint (``/admin/faults``, ``/admin/traffic``), outside ``/trade-api`` so no Kalshi client ever hits it.

Faults (all off by default):

* ``rest_latency_ms``: extra real-time delay before every REST request is handled.
* ``rest_429_burst``: the next N authenticated requests answer 429 (nothing is executed).
* ``rest_5xx_rate``: probability that a request answers 500/503 before it is executed.
* ``drop_create_response_rate``: probability that an order create is executed but its response is never sent
  (the connection is closed), so the client must look the order up by ``client_order_id``.
* ``ws_disconnect_every_s``: close every WebSocket connection that long after it opened.
* ``ws_drop_rate`` / ``ws_duplicate_rate`` / ``ws_reorder_rate``: per outgoing WebSocket message.
* ``exchange_paused``: a full exchange pause (applied through the exchange, see :meth:`FaultInjector.apply`).

Random choices come from one seeded RNG so a chaos run is repeatable. ``_lock`` guards every field.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["FaultConfig", "FaultConfigError", "FaultInjector", "TrafficStats"]


class FaultConfigError(ValueError):
    """A fault setting is unknown or out of range; the message names it."""


@dataclass(frozen=True)
class FaultConfig:
    rest_latency_ms: float = 0.0
    rest_429_burst: int = 0
    rest_5xx_rate: float = 0.0
    drop_create_response_rate: float = 0.0
    ws_disconnect_every_s: float | None = None
    ws_drop_rate: float = 0.0
    ws_duplicate_rate: float = 0.0
    ws_reorder_rate: float = 0.0
    exchange_paused: bool = False

    def updated(self, changes: dict[str, Any]) -> FaultConfig:
        """A copy with ``changes`` applied and validated (raises :class:`FaultConfigError`)."""
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise FaultConfigError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
            if name == "exchange_paused":
                if not isinstance(value, bool):
                    raise FaultConfigError("exchange_paused must be true or false")
                continue
            if name == "ws_disconnect_every_s" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultConfigError(f"{name} must be a number, got {value!r}")
            if name.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise FaultConfigError(f"{name} must be a probability in [0, 1], got {value}")
            if value < 0 or (name == "ws_disconnect_every_s" and value == 0):
                raise FaultConfigError(f"{name} must be positive, got {value}")
            if name == "rest_429_burst" and value != int(value):
                raise FaultConfigError(f"rest_429_burst must be a whole number of requests, got {value}")
        merged = replace(self, **changes)
        return replace(merged, rest_429_burst=int(merged.rest_429_burst))


class FaultInjector:
    """The faults in force and the count of each fault injected. Thread-safe; ``_lock`` guards all fields."""

    def __init__(self, config: FaultConfig | None = None, seed: int = 0, traffic: TrafficStats | None = None):
        self._lock = threading.Lock()
        self._traffic = traffic
        self._config = config or FaultConfig()
        self._rng = random.Random(f"faults/{seed}")
        self._counts: Counter[str] = Counter()

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return self._config

    def update(self, changes: dict[str, Any]) -> FaultConfig:
        """Apply changes (validated); the remaining 429 burst restarts at the new value when it is given."""
        with self._lock:
            self._config = self._config.updated(changes)
            return self._config

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"config": asdict(self._config), "injected": dict(self._counts)}

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    # --- REST -------------------------------------------------------------------------------------------

    def rest_latency_s(self) -> float:
        with self._lock:
            latency = self._config.rest_latency_ms / 1000
            if latency > 0:
                self._counts["rest_latency"] += 1
            return latency

    def rest_reject(self, authenticated: bool) -> int | None:
        """A status to answer instead of executing the request (429 or 5xx), or None to execute it."""
        with self._lock:
            if authenticated and self._config.rest_429_burst > 0:
                self._config = replace(self._config, rest_429_burst=self._config.rest_429_burst - 1)
                self._counts["rest_429"] += 1
                return 429
            if self._roll(self._config.rest_5xx_rate):
                status = self._rng.choice((500, 503))
                self._counts[f"rest_{status}"] += 1
                return status
            return None

    def drop_create_response(self) -> bool:
        """True when an executed order create should lose its response."""
        with self._lock:
            if self._roll(self._config.drop_create_response_rate):
                self._counts["dropped_create_response"] += 1
                return True
            return False

    # --- WebSocket --------------------------------------------------------------------------------------

    def ws_disconnect_every_s(self) -> float | None:
        with self._lock:
            return self._config.ws_disconnect_every_s

    def record_ws_disconnect(self) -> None:
        with self._lock:
            self._counts["ws_disconnect"] += 1

    def ws_outgoing(self, connection: object, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The messages to actually send on one connection: some dropped, duplicated or swapped with the next."""
        del connection  # one RNG for all connections keeps a run repeatable regardless of connection identity
        with self._lock:
            cfg = self._config
            if not (cfg.ws_drop_rate or cfg.ws_duplicate_rate or cfg.ws_reorder_rate):
                return messages
            out: list[dict[str, Any]] = []
            for message in messages:
                if self._roll(cfg.ws_drop_rate):
                    self._counts["ws_dropped"] += 1
                    continue
                out.append(message)
                if self._roll(cfg.ws_duplicate_rate):
                    self._counts["ws_duplicated"] += 1
                    out.append(message)
            i = 0
            while i + 1 < len(out):
                if self._roll(cfg.ws_reorder_rate):
                    out[i], out[i + 1] = out[i + 1], out[i]
                    self._counts["ws_reordered"] += 1
                    i += 2
                else:
                    i += 1
            return out

    def record_exchange_pause(self) -> None:
        with self._lock:
            self._counts["exchange_pause"] += 1

    # --- traffic accounting shortcut for the WebSocket server ---------------------------------------------

    def record_ws_message(self, user_id: str, channel: str) -> None:
        """Count one WebSocket message actually sent to ``user_id`` on ``channel`` (traffic statistics)."""
        if self._traffic is not None:
            self._traffic.record_ws(user_id, channel)


class TrafficStats:
    """Per-account traffic as the exchange saw it. ``_lock`` guards every counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rest: dict[str, Counter[str]] = defaultdict(Counter)  # user -> "METHOD template status" -> n
        self._tokens: Counter[str] = Counter()
        self._ws: dict[str, Counter[str]] = defaultdict(Counter)
        self._orders: dict[str, Counter[str]] = defaultdict(Counter)

    def record_rest(self, user_id: str, method: str, template: str, status: int, tokens: int) -> None:
        with self._lock:
            self._rest[user_id][f"{method} {template} {status}"] += 1
            self._tokens[user_id] += tokens

    def record_orders(self, user_id: str, action: str, n: int = 1) -> None:
        """``action`` is created, amended, decreased or cancelled."""
        if n:
            with self._lock:
                self._orders[user_id][action] += n

    def record_ws(self, user_id: str, channel: str) -> None:
        with self._lock:
            self._ws[user_id][channel] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            users = set(self._rest) | set(self._ws) | set(self._orders) | set(self._tokens)
            return {
                user: {
                    "rest": dict(self._rest.get(user, {})),
                    "tokens_spent": self._tokens.get(user, 0),
                    "ws_messages": dict(self._ws.get(user, {})),
                    "orders": dict(self._orders.get(user, {})),
                }
                for user in sorted(users)
            }
