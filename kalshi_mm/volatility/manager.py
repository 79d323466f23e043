"""VolatilityMMManager: short market-making sessions spawned by volatility events (seed §3.7, issue §3).

Flow
----
1. The scanner thread calls :meth:`VolatilityMMManager.on_event` / :meth:`~VolatilityMMManager.on_ended`; both
   only enqueue, so the scanner never blocks on the exchange or on a session.
2. The mode thread calls :meth:`VolatilityMMManager.tick` about once a second. A tick drains the queue, reaps
   ended sessions (recording each end in ``volatility_sessions``), applies the kill rules to running sessions,
   and re-evaluates every pending event with the pure :func:`spawn_decision`.
3. A pending event waits (``delay_before_session_start_seconds``, regime stability, balance, ...) until it
   spawns, until its market's volatility ends, or until :data:`PENDING_TIMEOUT_S` passes.

Spawn checks, in order (the first failure is the refusal's ``reason``)
--------------------------------------------------------------------
``already_active`` · ``max_concurrent`` · ``start_delay`` · ``low_balance`` (with hysteresis, see
:class:`BalanceGate`) · ``account_unknown`` (balance, orders or positions unreadable: no blind spawning) ·
``resting_order_value`` · ``open_position`` (when
``disallow_new_sessions_if_open_positions_exist``) · ``regime_unknown`` (no or stale regime data) ·
``regime_disallowed`` · ``regime_unstable`` (fewer than ``require_regime_stability`` consecutive stable windows,
counted by :class:`StabilityCounter`).

Ends (``kill_reason`` in ``volatility_sessions``)
-------------------------------------------------
The session itself ends on TTL (``session_ttl_minutes``, shortened so it ends ``expiration_danger_window``
before the market closes), on the danger window, on its guardrails, on a fault. The manager adds:
``volatility_ended`` (soft stop), ``regime_kill:<REGIME>`` (soft or hard per ``regime_kill.kill_modes``;
with ``require_adverse_selection`` only while the session also holds inventory, i.e. was filled into the move),
``regime_stale`` (hard, regime data older than ``regime_stale_kill_seconds``), ``soft_exit_timeout`` (a soft
stop still running ``soft_exit_max_wait_seconds`` plus a grace later is hard-stopped) and ``shutdown``.

Threading: :meth:`on_event`, :meth:`on_ended` and :meth:`active_tickers` are safe from any thread; every other
method is called by the mode thread only. A session thread alone touches its session (``request_stop`` is the
documented cross-thread call).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from kalshi_mm.logs import close_strategy_logger, strategy_logger
from kalshi_mm.modes.sessions import MarketConfig, config_json
from kalshi_mm.risk.checks import Veto
from kalshi_mm.runtime import Runtime
from kalshi_mm.strategy.market_maker import AvellanedaMarketMaker
from kalshi_mm.strategy.regime_feed import RegimeFeed
from kalshi_mm.strategy.session import SessionState, session_prefix
from kalshi_mm.volatility.detection import VolatilityEndedEvent, VolatilityEvent
from kalshi_mm.volatility.regime import RegimeState, is_stale
from kalshi_mm.volatility.spawn import (
    AccountSnapshot,
    BalanceGate,
    Refusal,
    Spawn,
    SpawnLimits,
    StabilityCounter,
    resting_order_value_e4,
    spawn_decision,
    volatility_session_config,
)

__all__ = [
    "AccountSnapshot",
    "BalanceGate",
    "PendingEvent",
    "Refusal",
    "Spawn",
    "SpawnLimits",
    "StabilityCounter",
    "VolatilityMMManager",
    "VolatilitySession",
    "resting_order_value_e4",
    "spawn_decision",
    "volatility_session_config",
]

log = logging.getLogger("kalshi_mm.volatility.manager")

# Clock seconds a pending event may wait for its spawn checks before it is dropped: volatility is short-lived,
# a session started minutes after the spike would trade a different market.
PENDING_TIMEOUT_S = 120.0
# Clock seconds a soft-stopped session gets beyond soft_exit_max_wait_seconds (its own passive-exit limit)
# before the manager hard-stops it: the session's limit should fire first, this is the backstop.
SOFT_EXIT_GRACE_S = 10.0
# Real seconds a hard-stopped session gets to cancel its orders and record its end at shutdown.
STOP_TIMEOUT_S = 30.0
# Clock seconds between account reads (balance, resting orders, positions) while events are pending.
ACCOUNT_REFRESH_S = 2.0


@dataclass
class PendingEvent:
    """An event waiting for its spawn checks; ``event_id`` is its ``volatility_events`` row."""

    event: VolatilityEvent
    event_id: int
    last_refusal: str | None = None


@dataclass
class VolatilitySession:
    """A running volatility session and what the manager needs to stop, reap and record it."""

    mm: AvellanedaMarketMaker
    future: Future[SessionState]
    config: MarketConfig
    run_id: int
    session_id: int
    event_id: int
    logger: logging.Logger
    kill_reason: str | None = None
    soft_since: float | None = None
    hard: bool = False


class ConfigFactory(Protocol):
    """Builds the generated market config for an event (the mode wraps ``generate_config_for_market``).

    Returns the config and the market mid (1/10,000 $) it was built at; raises on a market that cannot quote.
    """

    def __call__(self, event: VolatilityEvent, regime: str | None) -> tuple[MarketConfig, int | None]: ...


class VolatilityMMManager:
    """Spawns, watches, kills and records the volatility sessions (see the module docstring)."""

    def __init__(
        self,
        rt: Runtime,
        *,
        make_config: ConfigFactory,
        regime_of: Callable[[str], RegimeState | None],
        limits: SpawnLimits | None = None,
        pending_timeout_s: float = PENDING_TIMEOUT_S,
        regime_cadence_slack_s: Callable[[], float] = lambda: 0.0,
    ) -> None:
        """``regime_cadence_slack_s``: seconds by which the scanner's regime updates of one market are further
        apart than ``refresh_interval_seconds`` (0 with the WebSocket, where every market is classified every
        sweep; about 27 s in REST round robin). Both staleness limits are extended by it: otherwise a REST-only
        run would find every regime "stale" between two visits and kill or refuse every session."""
        self._rt = rt
        vmm = rt.cfg.volatility_mm
        self._vmm = vmm
        self.limits = limits or SpawnLimits.from_config(vmm, rt.cfg.volatility_scanner.regime_staleness_seconds)
        self._make_config = make_config
        self._regime_of = regime_of
        self._pending_timeout_s = pending_timeout_s
        self._cadence_slack_s = regime_cadence_slack_s
        self.balance = BalanceGate(vmm.min_available_balance, vmm.balance_hysteresis_ratio)
        self.stability = StabilityCounter()
        self._pool = ThreadPoolExecutor(max_workers=vmm.max_concurrent_sessions, thread_name_prefix="volmm")
        self._lock = threading.Lock()
        self._inbox: list[tuple[VolatilityEvent | VolatilityEndedEvent, int | None]] = []
        self._event_ids: dict[tuple[str, float], int] = {}  # (ticker, event ts) -> volatility_events row
        self._active_tickers: frozenset[str] = frozenset()
        self._pending: dict[str, PendingEvent] = {}
        self._running: dict[str, VolatilitySession] = {}
        self._ended_tickers: set[str] = set()
        self._prefixes: set[str] = set()
        self._account: AccountSnapshot | None = None
        self._account_ts = -math.inf
        self._balance_e4: int | None = None
        self.events = 0
        self.started = 0
        self.refusals: dict[str, int] = {}
        self.ends: dict[str, int] = {}

    # --- any thread -------------------------------------------------------------------------------------------

    def on_event(self, event: VolatilityEvent, event_id: int | None = None) -> None:
        """A detected event (scanner thread); ``event_id`` is its ``volatility_events`` row when already logged."""
        with self._lock:
            self._inbox.append((event, event_id))

    def on_ended(self, ended: VolatilityEndedEvent) -> None:
        """Volatility of a market subsided (scanner thread)."""
        with self._lock:
            self._inbox.append((ended, None))

    def record_event_id(self, ticker: str, ts: float | None, event_id: int) -> None:
        """The ``volatility_events`` row the scanner wrote for its event at ``ts`` (any thread).

        The scanner records an event before calling :meth:`on_event` but does not pass the row id on; the mode
        taps the scanner's database writes and hands the id here so the session links to the same row.
        """
        if ts is None:
            return
        with self._lock:
            self._event_ids[(ticker, ts)] = event_id

    def active_tickers(self) -> set[str]:
        """Tickers with a running session (the scanner's ``active_sessions``); a snapshot, any thread."""
        return set(self._active_tickers)

    # --- mode thread ------------------------------------------------------------------------------------------

    @property
    def prefixes(self) -> frozenset[str]:
        """Every session prefix used: the shutdown sweep's scope."""
        return frozenset(self._prefixes)

    @property
    def running(self) -> dict[str, VolatilitySession]:
        return dict(self._running)

    @property
    def pending(self) -> dict[str, PendingEvent]:
        return dict(self._pending)

    def tick(self) -> None:
        """One pass: drain the inbox, reap, apply kill rules, try the pending spawns."""
        now = self._rt.clock.time()
        self._drain(now)
        self.reap()
        self._apply_kills(now)
        self._try_spawns(now)
        self._active_tickers = frozenset(self._running)

    def _drain(self, now: float) -> None:
        with self._lock:
            inbox, self._inbox = self._inbox, []
        for item, event_id in inbox:
            if isinstance(item, VolatilityEndedEvent):
                self._pending.pop(item.ticker, None)
                self.stability.forget(item.ticker)
                session = self._running.get(item.ticker)
                if session is not None:
                    self._stop(session, f"volatility_ended: {item.reason}", hard=False, now=now)
                continue
            self.events += 1
            if event_id is None:
                with self._lock:
                    event_id = self._event_ids.pop((item.ticker, item.ts), None)
            if event_id is None:  # nobody recorded it (a test, another producer): record it here
                event_id = self._rt.db.log_volatility_event(
                    market_ticker=item.ticker,
                    signal_strength=item.signal_strength,
                    sigma=item.sigma,
                    jump_magnitude_e4=item.jump_magnitude_e4,
                    direction=item.direction,
                    close_ts=item.close_ts,
                    ts=item.ts,
                )
            if item.ticker in self._running:
                continue  # the scanner should not re-fire for an active market; if it does, the session runs on
            # A newer event replaces the pending one: its σ and close time are the current ones.
            self._pending[item.ticker] = PendingEvent(item, event_id)

    def _stop(self, session: VolatilitySession, reason: str, *, hard: bool, now: float) -> None:
        if session.hard or (session.kill_reason is not None and not hard):
            return  # already stopping at least this firmly; keep the first reason
        session.kill_reason = session.kill_reason or reason
        if hard:
            session.hard = True
        elif session.soft_since is None:
            session.soft_since = now
        session.logger.info("%s: stopping (%s, %s)", session.mm.ticker, reason, "hard" if hard else "soft")
        session.mm.request_stop(hard=hard)

    def _apply_kills(self, now: float) -> None:
        rk = self._vmm.regime_kill
        for ticker, session in self._running.items():
            if session.future.done():
                continue
            state = self._regime_of(ticker)
            if is_stale(state, now, self._vmm.regime_stale_kill_seconds + self._cadence_slack_s()):
                self._stop(session, "regime_stale", hard=True, now=now)
                continue
            assert state is not None  # is_stale is True for None
            regime = str(state.regime)
            bad = rk.enabled and state.stable and regime in {str(r) for r in rk.bad_regimes}
            # The position read runs only once the regime is bad (short-circuit): no REST call per tick otherwise.
            if bad and (not rk.require_adverse_selection or self._adverse(ticker)):
                mode = str(rk.kill_modes.get(state.regime, "hard"))
                self._stop(session, f"regime_kill:{regime}", hard=mode == "hard", now=now)
                continue
            limit = self._vmm.soft_exit_max_wait_seconds + SOFT_EXIT_GRACE_S
            if session.soft_since is not None and not session.hard and now - session.soft_since > limit:
                session.kill_reason = f"{session.kill_reason} -> soft_exit_timeout"
                self._stop(session, "soft_exit_timeout", hard=True, now=now)

    def _adverse(self, ticker: str) -> bool:
        """Adverse selection proxy: the session holds inventory while the market turned bad, i.e. it was filled
        by the flow that moves the price. No position means nothing was picked off yet, so the session keeps
        quoting (its own guardrails still apply)."""
        try:
            return self._rt.api.get_position(ticker).position_e2 != 0
        except Exception:
            # Unknown while the regime is already bad: the conservative answer is to stop the session.
            log.warning("%s: position read failed; treating as adverse", ticker, exc_info=True)
            return True

    def _refresh_account(self, now: float) -> AccountSnapshot | None:
        if now - self._account_ts < ACCOUNT_REFRESH_S:
            return self._account
        api = self._rt.api
        try:
            balance = api.get_balance().balance_e4
            resting = resting_order_value_e4(api.get_orders())
            positions = {p.ticker: p.position_e2 for p in api.get_positions().markets if p.position_e2 != 0}
        except Exception as exc:
            log.warning("account read failed: %s: %s", type(exc).__name__, exc)
            self._account, self._account_ts = None, now
            return None
        self.balance.update(balance)
        self._account, self._account_ts = AccountSnapshot(resting, positions), now
        self._balance_e4 = balance
        return self._account

    def _try_spawns(self, now: float) -> None:
        slack = self._cadence_slack_s()
        limits = replace(self.limits, regime_max_age_s=self.limits.regime_max_age_s + slack) if slack else self.limits
        for ticker, pending in list(self._pending.items()):
            if now - pending.event.ts > self._pending_timeout_s:
                log.info(
                    "%s: event dropped after %.0f s pending (%s)", ticker, now - pending.event.ts, pending.last_refusal
                )
                del self._pending[ticker]
                self.stability.forget(ticker)
                continue
            state = self._regime_of(ticker)
            windows = self.stability.observe(ticker, state)
            # The account is read only when the checks before it can pass (delay over, a free slot): with every slot
            # busy a pending event would otherwise cost three REST reads per refresh for a refusal known in advance.
            needs_account = (
                now - pending.event.ts >= self.limits.start_delay_s
                and len(self._running) < self.limits.max_concurrent_sessions
            )
            account = self._refresh_account(now) if needs_account else None
            decision = spawn_decision(
                ticker,
                now=now,
                event_ts=pending.event.ts,
                active=self._running.keys(),
                limits=limits,
                balance_open=self.balance.open,
                balance_detail=f"balance {self._balance_e4} e4 < {self.balance.threshold_e4} e4",
                account=account,
                regime=state,
                stable_windows=windows,
            )
            if not isinstance(decision, Refusal):  # [risk #9] account-level gate: trading state, breaker, balance
                veto = self._rt.risk.can_start_session(ticker)
                if isinstance(veto, Veto):
                    decision = Refusal(ticker, f"risk_{veto.rule}", str(dict(veto.detail)))
            if isinstance(decision, Refusal):
                if decision.reason != pending.last_refusal:
                    log.info("%s: not spawning yet: %s (%s)", ticker, decision.reason, decision.detail)
                    self.refusals[decision.reason] = self.refusals.get(decision.reason, 0) + 1
                pending.last_refusal = decision.reason
                continue
            del self._pending[ticker]
            self.stability.forget(ticker)
            try:
                self._start(pending, state, now)
            except Exception as exc:  # one market's failure must not stop the others
                self.refusals["config_failed"] = self.refusals.get("config_failed", 0) + 1
                log.warning("%s: could not start a session: %s: %s", ticker, type(exc).__name__, exc)
            # Positions and resting orders change once a session quotes: read them afresh for the next spawn.
            self._account_ts = -math.inf

    def _regime_feed(self, ticker: str, state: RegimeState | None) -> RegimeFeed:
        """The session's view of the scanner's regime of ``ticker``: it freezes quoting when the regime is older
        than ``regimes.max_shared_state_age_seconds`` (plus the REST cadence slack), and scales γ/k by the
        regime multipliers relative to the start regime (which the generated config already applied)."""
        regimes = self._rt.cfg.regimes
        return RegimeFeed(
            lambda: self._regime_of(ticker),
            max_age_s=regimes.max_shared_state_age_seconds + self._cadence_slack_s(),
            base_regime=str(state.regime) if state is not None else None,
            gamma_multipliers={str(r): x for r, x in regimes.gamma_multipliers.items()},
            k_multipliers={str(r): x for r, x in regimes.k_multipliers.items()},
        )

    def _start(self, pending: PendingEvent, state: RegimeState | None, now: float) -> VolatilitySession:
        rt, event = self._rt, pending.event
        config, mid_e4 = self._make_config(event, str(state.regime) if state is not None else None)
        side = "yes" if config.side == "yes" else "no"
        session_cfg = volatility_session_config(
            rt.cfg, rt, config, now=now, close_ts=event.close_ts, mid_e4=mid_e4, ws_enabled=rt.ws is not None
        )
        name = f"vol-{config.ticker}-{side}"
        logger = strategy_logger(name, Path(rt.cfg.logging.log_dir))
        params = {
            "volatility_event_id": pending.event_id,
            "event": {
                "sigma": event.sigma,
                "jump_magnitude_e4": event.jump_magnitude_e4,
                "signal_strength": event.signal_strength,
                "reasons": list(event.reasons),
                "regime": str(state.regime) if state is not None else None,
            },
            "generated_config": config_json(config),
            "session": session_cfg.summary(),
        }
        run_id = rt.db.create_strategy_run(
            strategy_name=name, market_ticker=config.ticker, trade_side=side, config_params=params
        )
        session_id = rt.db.log_volatility_session_start(event_id=pending.event_id, run_id=run_id)
        if rt.ws is not None:
            rt.ws.add_markets({config.ticker: None})
        mm = AvellanedaMarketMaker(
            config.ticker,
            side,
            rt.api,
            rt.store,
            rt.db,
            rt.clock,
            session_cfg,
            logger=logger,
            run_id=run_id,
            strategy_name=name,
            sessions_view=rt.sessions_view,
            risk=rt.risk.session(config.ticker, side, category=config.category, run_id=run_id),  # [risk #9]
            regime_feed=self._regime_feed(config.ticker, state),
        )
        self._prefixes.add(session_prefix(config.ticker, side))
        future = self._pool.submit(mm.run)
        session = VolatilitySession(mm, future, config, run_id, session_id, pending.event_id, logger)
        self._running[config.ticker] = session
        self.started += 1
        logger.info(
            "%s: volatility session started (run %d, session %d, event %d, TTL %.0f s)",
            name,
            run_id,
            session_id,
            pending.event_id,
            session_cfg.max_duration_s or 0.0,
        )
        alerts = getattr(rt, "alerts", None)  # kalshi_mm.ops.alerts.Alerts: queues only, never blocks
        if alerts is not None:
            alerts.session_started(config.ticker, side, run_id, "volatility_mm")
        return session

    def reap(self) -> list[VolatilitySession]:
        """Record and collect sessions that have ended; a faulted one gets its orders swept."""
        ended = [s for s in self._running.values() if s.future.done()]
        for session in ended:
            del self._running[session.mm.ticker]
            self._settle(session)
        if ended:
            self._active_tickers = frozenset(self._running)
            ws = self._rt.ws
            if ws is not None:
                ws.remove_markets([s.mm.ticker for s in ended if s.mm.ticker not in self._pending])
        return ended

    def _settle(self, session: VolatilitySession) -> None:
        mm = session.mm
        error = session.future.exception()
        if error is not None:
            log.error("%s: session thread raised %s: %s", mm.ticker, type(error).__name__, error)
            self._rt.db.end_strategy_run(session.run_id, status="faulted", reason=f"thread raised: {error!r}"[:500])
        own = mm.end_reason or "unknown"
        reason = session.kill_reason or own
        if session.kill_reason is not None and own not in reason:
            reason = f"{reason} ({own})"
        if error is not None or mm.state is SessionState.FAULTED:
            sweep = self._rt.sweep_orders([session_prefix(mm.ticker, mm.side)], reason="session faulted")
            if not sweep.clean:
                # Orders of ours may still rest that no session tracks (and the risk book no longer counts): no new
                # exposure until an operator has looked (runner.py cancel-all, then resume).
                self._rt.trading.halt(
                    f"{mm.ticker}/{mm.side}: {len(sweep.remaining)} order(s) not confirmed cancelled", "sweep"
                )
        if mm.fatal_error is not None:  # auth/permission refused: the whole daemon halts and exits 1
            self._rt.fatal_stop(f"{mm.ticker}/{mm.side}: {mm.fatal_error}")
        key = reason.split(":", 1)[0].split(" ", 1)[0]
        self.ends[key] = self.ends.get(key, 0) + 1
        self._rt.db.log_volatility_session_end(
            session.session_id,
            kill_reason=reason[:500],
            final_pnl_e4=_realized_pnl_e4(mm),
            final_position_e2=mm.final_position_e2,
        )
        session.logger.info("%s: volatility session ended (%s)", mm.ticker, reason)
        alerts = getattr(self._rt, "alerts", None)
        if alerts is not None:
            alerts.session_ended(
                mm.ticker,
                mm.side,
                session.run_id,
                reason,
                faulted=error is not None or mm.state is SessionState.FAULTED,
                final_position_e2=mm.final_position_e2,
                realized_pnl_e4=_realized_pnl_e4(mm),
                order_group_id=mm.order_group_id,
            )
        close_strategy_logger(session.logger)

    def shutdown(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """Hard-stop every session with kill reason ``shutdown``, wait, record them; True when all ended in time."""
        now = self._rt.clock.time()
        self._drain(now)
        self._pending.clear()
        for session in self._running.values():
            self._stop(session, "shutdown", hard=True, now=now)
        all_done = True
        for session in list(self._running.values()):
            if not session.mm.wait_finished(timeout_s):
                all_done = False
                log.error("%s: session did not finish within %.0f s", session.mm.ticker, timeout_s)
        self.reap()
        self._pool.shutdown(wait=all_done, cancel_futures=True)
        return all_done


def _realized_pnl_e4(mm: AvellanedaMarketMaker) -> int | None:
    """The session's realized P&L (1/10,000 $) from its fill tracker; None if it never got that far.

    The market maker exposes no public P&L attribute; its tracker is what it wrote to ``strategy_runs``, so the
    two tables agree.
    """
    tracker = getattr(mm, "_tracker", None)
    return getattr(tracker, "realized_pnl_e4", None) if tracker is not None else None
