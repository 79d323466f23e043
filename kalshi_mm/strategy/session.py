"""The pieces of a market-making session that are not the loop: lifecycle, stop reasons, configuration,
client order ids and the time-based guardrails.

Lifecycle (DESIGN.md #11)::

    PENDING ──> QUOTING ──> EXITING ──> DONE
       └──────────────────────┘    └──> FAULTED

Every path to the end goes through EXITING, where the session's orders are cancelled and its final
inventory recorded; FAULTED means the session ended on an error, or could not confirm that its orders are
gone. Each transition is logged with its reason.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import math
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from kalshi_mm.config.sections_trading import ThrottlingConfig
from kalshi_mm.config.settings import AppConfig
from kalshi_mm.strategy.exits import ExitPolicy
from kalshi_mm.strategy.order_manager import AmendPolicy
from kalshi_mm.strategy.quoting import QuoteParams
from kalshi_mm.units import COUNT_SCALE

__all__ = [
    "ClientIds",
    "Lifecycle",
    "SessionConfig",
    "SessionState",
    "StopReason",
    "session_prefix",
    "time_guard",
]


class SessionState(enum.Enum):
    PENDING = "pending"
    QUOTING = "quoting"
    EXITING = "exiting"
    DONE = "done"
    FAULTED = "faulted"

    @property
    def finished(self) -> bool:
        return self in (SessionState.DONE, SessionState.FAULTED)


_ALLOWED: dict[SessionState, frozenset[SessionState]] = {
    SessionState.PENDING: frozenset({SessionState.QUOTING, SessionState.EXITING}),
    SessionState.QUOTING: frozenset({SessionState.EXITING}),
    SessionState.EXITING: frozenset({SessionState.DONE, SessionState.FAULTED}),
    SessionState.DONE: frozenset(),
    SessionState.FAULTED: frozenset(),
}


class StopReason(enum.Enum):
    """Why a session stopped quoting. ``exits_position``: whether the passive exit may run afterwards
    (not when the market cannot be traded, the data cannot be trusted, or the stop must be immediate)."""

    STOP_REQUESTED = "stop_requested"
    HARD_STOP = "hard_stop"
    TTL = "ttl"
    NEAR_CLOSE = "near_close"
    MIN_VOLATILITY = "min_volatility"
    WS_STALE = "ws_stale"
    MARKET_CLOSED = "market_closed"
    TRADING_PAUSED = "trading_paused"
    ORDER_GROUP_TRIPPED = "order_group_tripped"  # the exchange cut our orders (strategy/order_group.py)
    FAULT = "fault"

    @property
    def exits_position(self) -> bool:
        return self in (StopReason.STOP_REQUESTED, StopReason.TTL, StopReason.NEAR_CLOSE, StopReason.MIN_VOLATILITY)


class Lifecycle:
    """The session's state. Written only by the session thread; ``state`` may be read from any thread (a
    single attribute read is atomic). An illegal transition raises: it is a bug in the loop."""

    def __init__(self, logger: logging.Logger, name: str):
        self._log = logger
        self._name = name
        self.state = SessionState.PENDING
        self.reason: str | None = None
        self.changed = threading.Event()  # set on reaching DONE/FAULTED, for whoever waits on the session

    def to(self, new: SessionState, reason: str) -> None:
        old = self.state
        if new not in _ALLOWED[old]:
            raise RuntimeError(f"{self._name}: illegal session transition {old.value} -> {new.value} ({reason})")
        self.state, self.reason = new, reason
        level = logging.ERROR if new is SessionState.FAULTED else logging.INFO
        self._log.log(level, "%s: %s -> %s (%s)", self._name, old.value, new.value, reason)
        if new.finished:
            self.changed.set()


def session_prefix(ticker: str, side: str) -> str:
    """The client_order_id prefix of every order the session for (``ticker``, ``side``) ever places.

    Deterministic, so a restarted daemon recognises (and cancels) orders a previous incarnation of the same
    market/side session left resting; distinct per market and side, so sessions never touch each other's
    orders. A hash keeps ids within Kalshi's 64 characters of ``[-\\w:+=/]`` whatever the ticker.
    """
    digest = hashlib.sha256(f"{ticker}|{side}".encode()).hexdigest()[:12]
    return f"mm-{digest}-"


class ClientIds:
    """Unique client_order_ids: ``<session prefix><nonce>-<n>``; the random nonce keeps ids of two runs of
    the same market/side apart (Kalshi refuses a duplicate id while the first order is open)."""

    def __init__(self, ticker: str, side: str, nonce: str | None = None):
        self.prefix = session_prefix(ticker, side)
        self._base = f"{self.prefix}{nonce or uuid.uuid4().hex[:8]}-"
        self._n = 0

    def next(self) -> str:
        self._n += 1
        return f"{self._base}{self._n}"

    def owns(self, client_order_id: str | None) -> bool:
        """True for any id of this market/side session, of this run or an earlier one."""
        return bool(client_order_id) and client_order_id.startswith(self.prefix)

    def this_run(self, client_order_id: str | None) -> bool:
        """True for ids this instance handed out."""
        return bool(client_order_id) and client_order_id.startswith(self._base)


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Everything one session reads. Money 1/10,000 $, counts 1/100 contract, times seconds.

    ``quote_params``: the pure quoting step's parameters (sizes and Q per market, from the caller).
    ``refresh_s``: the loop period dt. ``max_duration_s``: the session's time to live (None: until stopped).
    ``throttling``: None disables the hysteresis throttles. ``ws_enabled``: the store is WebSocket-fed, so its
    liveness is checked (freeze beyond ``ws_freeze_s``, stop beyond ``ws_stop_s``); otherwise the store reads
    REST. Guardrails: ``expiration_danger_window_s`` before close stops quoting; no trade for
    ``illiquidity_timeout_s`` (None: off) freezes quotes until one comes; a realised standard deviation of the
    mid ($) over ``volatility_window_s`` below ``min_volatility`` (0: off), measured once at least
    ``volatility_warmup_s`` of samples exist, stops the session. Intervals: REST fill reconciliation while the
    WebSocket is healthy (every cycle otherwise), resting-order sync, position check, market refresh.
    ``verify_position``: adopt the exchange's position when it disagrees with our fills (turn off when two
    sessions share one market, whose positions are netted by the exchange). ``order_group_limit_multiple``: the
    session's orders go into their own Kalshi order group tripping at this × ``max_position_e2`` contracts matched
    within 15 s (0: no group). ``adopt_orphans``: at start adopt resting orders an earlier run of this market/side
    left (``recovery.orphan_orders: adopt``) instead of cancelling them.
    """

    quote_params: QuoteParams
    refresh_s: float = 3.0
    max_duration_s: float | None = None
    amend: AmendPolicy = field(default_factory=AmendPolicy)
    exit: ExitPolicy = field(default_factory=ExitPolicy)
    throttling: ThrottlingConfig | None = field(default_factory=ThrottlingConfig)
    ws_enabled: bool = False
    # The store receives market_lifecycle_v2 (close time, price grid, pauses, determination) for this market: while
    # the WebSocket is healthy the periodic GET /markets/{ticker} is skipped (one read after each reconnect).
    lifecycle_stream: bool = False
    ws_freeze_s: float = 5.0
    ws_stop_s: float = 15.0
    expiration_danger_window_s: float = 180.0
    illiquidity_timeout_s: float | None = 15.0
    min_volatility: float = 0.0
    volatility_window_s: float = 600.0
    volatility_warmup_s: float = 60.0
    sigma_baseline: float = 0.05
    sigma_horizon_s: float = 3600.0
    sigma_min_increments: int = 20
    estimate_intensity: bool = True
    fill_reconcile_interval_s: float = 30.0
    order_sync_interval_s: float = 30.0
    position_check_interval_s: float = 15.0
    market_refresh_interval_s: float = 60.0
    verify_position: bool = True
    cancel_order_on_pause: bool = True
    order_group_limit_multiple: float = 0.0
    adopt_orphans: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.refresh_s) and self.refresh_s > 0):
            raise ValueError(f"refresh_s must be > 0, got {self.refresh_s!r}")
        if self.ws_freeze_s > self.ws_stop_s:
            raise ValueError("ws_freeze_s must be ≤ ws_stop_s")
        if self.max_duration_s is not None and self.max_duration_s <= 0:
            raise ValueError("max_duration_s must be > 0 or None")

    def summary(self) -> dict[str, object]:
        """The settings worth recording with a run (``strategy_runs.config_params``); no secrets live here."""
        qp = self.quote_params
        return {
            "refresh_s": self.refresh_s,
            "max_duration_s": self.max_duration_s,
            "order_size_e2": qp.order_size_e2,
            "max_position_e2": qp.max_position_e2,
            "model": qp.model.kind,
            "gamma": qp.model.gamma,
            "k": qp.model.k,
            "a": qp.model.a,
            "ws_enabled": self.ws_enabled,
        }

    @classmethod
    def from_app_config(cls, app: AppConfig, quote_params: QuoteParams, **overrides: Any) -> SessionConfig:
        """A volatility-mode session from the validated config; ``overrides`` replace single fields."""
        vmm, ws, guard = app.volatility_mm, app.websockets, app.volatility_mm.guardrails
        values: dict[str, Any] = {
            "quote_params": quote_params,
            "refresh_s": vmm.quote_refresh_seconds,
            "max_duration_s": vmm.session_ttl_minutes * 60.0,
            "exit": ExitPolicy(
                passive_exit=vmm.passive_exit,
                close_if_small_e2=round(vmm.ttl_close_if_small * COUNT_SCALE),
                close_positions_on_exit=vmm.close_positions_on_exit,
                max_slippage_e4=vmm.max_slippage_for_limit_exit_e4,
                max_wait_s=vmm.soft_exit_max_wait_seconds,
            ),
            "throttling": app.throttling,
            "ws_enabled": ws.enabled,
            "lifecycle_stream": ws.enabled and ws.subscribe_lifecycle,
            "ws_freeze_s": ws.ws_staleness_freeze_seconds,
            "ws_stop_s": ws.ws_staleness_stop_seconds,
            "expiration_danger_window_s": guard.expiration_danger_window_seconds,
            "illiquidity_timeout_s": guard.illiquidity_timeout_seconds,
            "min_volatility": guard.min_volatility_threshold,
            "volatility_window_s": app.volatility_scanner.volatility_window_minutes * 60.0,
            "sigma_baseline": app.as_model.sigma.baseline,
            "sigma_horizon_s": app.as_model.risk_horizon_seconds,
            "order_group_limit_multiple": app.risk.order_group_limit_multiple,
            "adopt_orphans": app.recovery.orphan_orders == "adopt",
        }
        values.update(overrides)
        return cls(**values)


def time_guard(now: float, started_ts: float, close_ts: float | None, config: SessionConfig) -> StopReason | None:
    """The clock-driven stops: inside the expiration danger window, or past the session's time to live."""
    if close_ts is not None and close_ts - now <= config.expiration_danger_window_s:
        return StopReason.NEAR_CLOSE
    if config.max_duration_s is not None and now - started_ts >= config.max_duration_s:
        return StopReason.TTL
    return None
