"""Daemon plumbing shared by the trading modes: build the long-lived objects, start them, stop them in order.

:class:`Runtime` owns, for one process: the REST client (:class:`KalshiTradingAPI`), the market-state store
(:class:`MarketStateStore`, with the REST order-book fallback), the WebSocket client feeding it (when
``websockets.enabled``), the analytics database and, for ``--exchange sim``, the embedded exchange. A mode
(``kalshi_mm.modes``) runs its sessions on top of it and waits on :attr:`Runtime.stop_event`, which SIGINT,
SIGTERM and the ``--duration`` deadline all set.

Shutdown order (:meth:`Runtime.close`), after the mode has stopped its sessions: sweep the exchange for any
order of ours still resting (by the sessions' client_order_id prefixes) and cancel it, confirmed by a REST
``get_orders``; stop the WebSocket; close the REST client; flush and close the database; stop the embedded
exchange last, so every cancel and every final fill read above still had an exchange to talk to. The alert
sender (:mod:`kalshi_mm.ops.alerts`) then posts "stopped" and what is still queued, for at most 10 s.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.errors import ApiError, NotFoundError, TransientError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.rest_fallback import RestOrderbookFallback
from kalshi_mm.api.types import Order
from kalshi_mm.api.websocket import KalshiWebsocketClient
from kalshi_mm.clock import Clock
from kalshi_mm.config.credentials import Credentials, ExchangeEndpoint
from kalshi_mm.config.settings import AppConfig
from kalshi_mm.logs import register_secret
from kalshi_mm.ops.alerts import AlertConfigError, Alerts
from kalshi_mm.ops.http_server import OpsServer, start_ops_server
from kalshi_mm.ops.registry import SessionRegistry
from kalshi_mm.recovery.monitor import SafetyMonitor, start_recovery
from kalshi_mm.recovery.startup import RecoveryError
from kalshi_mm.risk.gate import RiskGate
from kalshi_mm.risk.monitor import RiskMonitor
from kalshi_mm.risk.state import TradingStateChange, TradingStateMachine
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.state.store import MarketStateStore

__all__ = ["ApiFactory", "Runtime", "StartupError", "SweepResult"]

log = logging.getLogger("kalshi_mm.runtime")

ApiFactory = Callable[..., KalshiTradingAPI]

# Real seconds: bounds on the shutdown steps, so a wedged disk or exchange cannot hang the process forever.
DB_CLOSE_TIMEOUT_S = 30.0
WS_STOP_TIMEOUT_S = 5.0
ALERTS_CLOSE_TIMEOUT_S = 10.0
SWEEP_ATTEMPTS = 3
# Clock seconds between start-up attempts while the exchange fails transiently (doubling up to the maximum).
START_RETRY_FIRST_S = 2.0
START_RETRY_MAX_S = 30.0


class StartupError(Exception):
    """The runtime could not be built or started (bad endpoint, unreadable database, refused credentials)."""


@dataclass(frozen=True)
class SweepResult:
    """Outcome of the shutdown order sweep: orders cancelled, and orders of ours still resting afterwards."""

    cancelled: int
    remaining: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.remaining


@dataclass
class Runtime:
    """The process's long-lived objects (see the module docstring). Build with :meth:`build`."""

    cfg: AppConfig
    clock: Clock
    api: KalshiTradingAPI
    store: MarketStateStore
    db: AnalyticsDB
    ws: KalshiWebsocketClient | None = None
    exchange: EmbeddedExchange | None = None
    # ACTIVE / REDUCING / HALTED for the whole account (thread-safe; see kalshi_mm.risk.state).
    trading: TradingStateMachine = field(init=False)
    # The account-level pre-trade gate every session consults (exposure book, caps, breaker; kalshi_mm.risk) and
    # the thread feeding it balance and positions (started by start(), stopped by close()).
    risk: RiskGate = field(init=False)
    risk_monitor: RiskMonitor = field(init=False)
    # The start-up recovery's result and the drift check (kalshi_mm.recovery): set by start() before any session.
    recovery: SafetyMonitor | None = None
    # Webhook alerts (kalshi_mm.ops.alerts); build() always sets one, a no-op without a webhook URL.
    alerts: Alerts | None = None
    # What the ops endpoint shows of the sessions (thread-safe; sessions publish, kalshi_mm.ops.registry).
    sessions_view: SessionRegistry = field(init=False)
    # The ops HTTP endpoint (ops_http section), started by start(); its control token from the environment.
    ops: OpsServer | None = None
    ops_token: str | None = field(default=None, repr=False)
    stop_event: threading.Event = field(default_factory=threading.Event)
    stop_reason: str | None = None
    fatal_reason: str | None = None  # set by fatal_stop(): the run ends with exit status 1
    _previous_handlers: dict[int, Any] = field(default_factory=dict)
    _closed: bool = False

    def __post_init__(self) -> None:
        self.trading = TradingStateMachine(self.clock)
        self.risk = RiskGate.from_config(
            self.cfg.risk, clock=self.clock, trading=self.trading, db=self.db, api=self.api
        )
        self.risk_monitor = RiskMonitor(self.risk)
        self.sessions_view = SessionRegistry(self.clock)
        if self.alerts is not None:
            self.trading.add_listener(self.alerts.on_trading_state)
        self.trading.add_listener(self._record_trading_state)
        self._restore_halt()

    def _restore_halt(self) -> None:
        """A halt outlives the process: if the last recorded trading state is HALTED (circuit breaker, drift check,
        operator, unconfirmed cancels), start HALTED, so a crash or a redeploy cannot silently resume trading.
        Only ``runner.py resume`` lifts it. A halt that was only the shutdown of a fatal error is not restored."""
        try:
            last = self.db.last_trading_state()
            detail = json.loads(last["detail"]) if last is not None and last["detail"] else {}
        except Exception:  # an unreadable record must not stop the start; the monitors still guard trading
            log.exception("could not read the last trading state; starting ACTIVE")
            return
        if last is None or detail.get("to") != "halted" or last["rule"] == "fatal_error":
            return
        self.trading.halt(f"still halted from the previous run: {detail.get('reason', '?')}", str(last["rule"]))

    def _record_trading_state(self, change: TradingStateChange) -> None:
        """Every trading-state change (halt, reduce-only, resume: who and why) is a ``risk_events`` row."""
        self.db.log_risk_event(
            "state",
            rule=change.source,
            detail={"from": change.previous.value, "to": change.state.value, "reason": change.reason},
            ts=change.at_ms / 1000,
        )

    @classmethod
    def build(
        cls,
        cfg: AppConfig,
        endpoint: ExchangeEndpoint,
        credentials: Credentials | None,
        clock: Clock,
        *,
        exchange: EmbeddedExchange | None = None,
        api_factory: ApiFactory = KalshiTradingAPI,
        env: Mapping[str, str] | None = None,
    ) -> Runtime:
        """Create (not start) every object from the config and the resolved endpoint.

        ``exchange``: the embedded exchange the app started for ``--exchange sim``; the runtime stops it last.
        ``api_factory``: the REST client class (tests pass a subclass standing in for a flaky network).
        ``env``: the environment (with .env) holding the alert webhook URL; None or without it, alerts are off.
        """
        if endpoint.rest_url is None:
            raise StartupError(f"endpoint {endpoint.kind.value} has no REST URL (was the exchange started?)")
        try:
            alerts = Alerts.from_config(
                cfg.alerts, env or {}, clock, db_path=cfg.analytics.db_path, label=endpoint.kind.value
            )
        except AlertConfigError as exc:
            raise StartupError(f"alerts: {exc}") from exc
        try:
            db = AnalyticsDB(
                cfg.analytics.db_path,
                clock,
                commit_interval_s=cfg.analytics.commit_interval_seconds,
                max_batch_rows=cfg.analytics.max_batch_rows,
                max_queue_rows=cfg.analytics.max_queue_rows,
            )
        except Exception as exc:  # sqlite3 errors, schema newer than this code, unwritable directory
            raise StartupError(f"analytics database {cfg.analytics.db_path}: {type(exc).__name__}: {exc}") from exc
        api = api_factory(endpoint.rest_url, credentials, clock, tier=cfg.exchange.rate_limit_tier)
        fallback = RestOrderbookFallback(api)
        store = MarketStateStore(
            clock,
            cfg.websockets,
            rest_fallback=fallback,
            rest_orderbook_ttl_s=1.0,
        )
        ws = None
        if cfg.websockets.enabled:
            if endpoint.ws_url is None:
                db.close(DB_CLOSE_TIMEOUT_S)
                raise StartupError(f"websockets.enabled but endpoint {endpoint.kind.value} has no WebSocket URL")
            ws = KalshiWebsocketClient(endpoint.ws_url, credentials, clock, store, cfg.websockets, rest=api)
        token = (os.environ if env is None else env).get(cfg.ops_http.control_token_env) or None
        if token is not None:
            register_secret(token)  # a bearer token: redacted from every log line like the private key
        return cls(
            cfg=cfg, clock=clock, api=api, store=store, db=db, ws=ws, exchange=exchange, alerts=alerts, ops_token=token
        )

    # --- start ------------------------------------------------------------------------------------------------

    def start(self) -> bool:
        """Check the account answers (a refused key is fatal here, not in every session), reconcile the exchange's
        state, start the WebSocket and the monitors. False when a stop was requested before that was done (the
        exchange kept failing transiently until SIGINT/SIGTERM): nothing was started, nothing can have traded."""
        if self.alerts is not None:
            self.alerts.start()  # first, so a refused key below still gets its "stopped" alert out at close()
        if not self._reach_and_recover():
            return False
        if self.ws is not None:
            self.ws.start()
        self.risk_monitor.start()
        if self.cfg.ops_http.enabled:
            self.ops = start_ops_server(self, self.ops_token)  # None (logged) when the port cannot be bound
        if self.alerts is not None:
            self.alerts.daemon_started(self.cfg.mode, self.api.base_url)
        return True

    def _reach_and_recover(self) -> bool:
        """Balance check, then start-up recovery (crash-only: every start reconciles the exchange's state before
        the first quote). Transient failures (429 bursts, 5xx, timeouts, an exchange pause) are retried with
        backoff until the exchange answers or a stop is requested: a start during an exchange hiccup must not
        exit. A refused key (AuthenticationError, PermissionDeniedError) and any other fatal error propagate."""
        backoff = START_RETRY_FIRST_S
        while True:
            try:
                balance = self.api.get_balance()
                log.info("account reachable at %s (balance %s e4)", self.api.base_url, balance.balance_e4)
                self.recovery = start_recovery(self.api, self.db, self.clock, self.trading, self.cfg.recovery)
                # The risk book learns the account's positions and balance before any session can quote (the
                # monitor thread keeps them fresh afterwards).
                self.risk.poll()
                return True
            except (TransientError, RecoveryError) as exc:
                if isinstance(exc, RecoveryError) and not isinstance(exc.__cause__, TransientError):
                    raise
                log.warning("start-up: exchange not answering (%s); retrying in %.0f s", exc, backoff)
            if self.clock.wait(backoff, self.stop_event):
                log.info("start-up: stop requested before the exchange answered")
                return False
            backoff = min(backoff * 2, START_RETRY_MAX_S)

    @property
    def ops_url(self) -> str | None:
        """The ops endpoint's bound URL (``http://127.0.0.1:8790``), None when it is not running."""
        return self.ops.url if self.ops is not None else None

    def install_signal_handlers(self) -> None:
        """SIGINT/SIGTERM set :attr:`stop_event` (a clean shutdown). Only possible from the main thread."""
        if threading.current_thread() is not threading.main_thread():
            log.debug("not the main thread: signal handlers not installed")
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.stop_event.is_set():
            log.warning("%s received while already shutting down; still stopping cleanly", name)
            return
        self.request_stop(f"signal {name}")

    def fatal_stop(self, reason: str) -> None:
        """A fatal error (the exchange refused our credentials or permissions): halt trading (cancels only), stop
        the daemon; the process then exits 1 after the usual shutdown (every order cancelled, DB flushed)."""
        if self.fatal_reason is None:
            self.fatal_reason = reason
        log.error("fatal: %s; halting and shutting down", reason)
        self.trading.halt(reason, "fatal_error")
        self.request_stop(f"fatal: {reason}")

    def request_stop(self, reason: str) -> None:
        """Ask the mode to shut down (any thread, signal handler included)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        log.info("shutdown requested: %s", reason)
        self.stop_event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` on the clock, waking early (True) when a stop is requested."""
        return self.clock.wait(seconds, self.stop_event)

    # --- shutdown ---------------------------------------------------------------------------------------------

    def resting_orders(self, prefixes: Iterable[str]) -> list[Order]:
        """Our resting orders: those whose client_order_id starts with one of ``prefixes`` (REST read)."""
        wanted = tuple(prefixes)
        if not wanted:
            return []
        return [o for o in self.api.get_orders() if o.client_order_id and o.client_order_id.startswith(wanted)]

    def sweep_orders(self, prefixes: Iterable[str], reason: str = "shutdown") -> SweepResult:
        """Cancel every resting order of ours (by client_order_id prefix) and confirm with ``get_orders``.

        Orders on the account without one of our prefixes (placed by hand or another program) are left alone.
        Never raises: a failed read or cancel is logged and the order reported as remaining.
        """
        wanted = tuple(prefixes)
        cancelled = 0
        remaining: tuple[str, ...] = ()
        for _attempt in range(SWEEP_ATTEMPTS):
            try:
                resting = self.resting_orders(wanted)
            except ApiError as exc:
                log.error("order sweep: cannot list resting orders: %s", exc)
                return SweepResult(cancelled, ("<unknown: get_orders failed>",))
            remaining = tuple(o.order_id for o in resting)
            if not resting:
                break
            for order in resting:
                try:
                    self.api.cancel_order(order.order_id, order.ticker)
                except NotFoundError:
                    continue  # filled or cancelled meanwhile: gone either way
                except ApiError as exc:
                    log.warning("order sweep: cancel of %s failed: %s", order.order_id, exc)
                    continue
                cancelled += 1
                self.db.log_order_cancelled(order.order_id, reason=reason)
        else:
            try:
                remaining = tuple(o.order_id for o in self.resting_orders(wanted))
            except ApiError as exc:
                log.error("order sweep: cannot confirm: %s", exc)
                remaining = ("<unknown: get_orders failed>",)
        if cancelled:
            log.warning("order sweep cancelled %d order(s) the sessions left resting", cancelled)
        if remaining:
            log.error("order sweep: %d order(s) of ours still resting: %s", len(remaining), ", ".join(remaining))
        return SweepResult(cancelled, remaining)

    def close(self) -> bool:
        """Stop everything in order (see the module docstring); idempotent. True when the database closed cleanly."""
        if self._closed:
            return True
        self._closed = True
        if self.ops is not None:
            self.ops.stop()
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()
        if self.recovery is not None:
            self.recovery.stop()  # the drift check reads through the REST client too
        self.risk_monitor.stop(WS_STOP_TIMEOUT_S)  # before the REST client it reads through closes
        if self.ws is not None:
            self.ws.stop(WS_STOP_TIMEOUT_S)
        self.api.close()
        db_ok = self.db.close(DB_CLOSE_TIMEOUT_S)
        if not db_ok:
            log.error("analytics database did not finish writing within %.0f s", DB_CLOSE_TIMEOUT_S)
        stats = self.db.stats()
        log.info("analytics: %s", stats)
        if self.exchange is not None:
            self.exchange.stop()
        if self.alerts is not None:
            self.alerts.daemon_stopped(self.stop_reason, None if db_ok else "analytics database did not close cleanly")
            self.alerts.close(ALERTS_CLOSE_TIMEOUT_S)
        return db_ok
