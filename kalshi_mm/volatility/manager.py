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
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kalshi_mm.config.sections_volatility import VolatilityMMConfig
from kalshi_mm.config.settings import AppConfig
from kalshi_mm.logs import close_strategy_logger, strategy_logger
from kalshi_mm.modes.sessions import MarketConfig, config_json, quote_params_for, sigma_baseline_for
from kalshi_mm.runtime import Runtime
from kalshi_mm.strategy.market_maker import AvellanedaMarketMaker
from kalshi_mm.strategy.session import SessionConfig, SessionState, session_prefix
from kalshi_mm.volatility.detection import VolatilityEndedEvent, VolatilityEvent
from kalshi_mm.volatility.regime import RegimeState, is_stale

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
_ONE_DOLLAR_E4 = 10_000
_E2 = 100


# --- pure spawn checks --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spawn:
    """Every check passed: start a session for ``ticker``."""

    ticker: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """A check failed: ``reason`` is its name (see the module docstring), ``detail`` the numbers behind it."""

    ticker: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SpawnLimits:
    """The ``volatility_mm`` settings the spawn checks use; money in 1/10,000 $, times in clock seconds."""

    max_concurrent_sessions: int = 3
    max_resting_order_value_e4: int = 10_000 * _ONE_DOLLAR_E4
    disallow_open_positions: bool = True
    allowed_regimes: frozenset[str] = frozenset({"MEAN_REVERTING", "QUIET"})
    require_regime_stability: int = 3
    start_delay_s: float = 5.0
    regime_max_age_s: float = 4.0

    @classmethod
    def from_config(cls, vmm: VolatilityMMConfig, regime_max_age_s: float) -> SpawnLimits:
        """From ``volatility_mm``; ``regime_max_age_s`` is ``volatility_scanner.regime_staleness_seconds``."""
        return cls(
            max_concurrent_sessions=vmm.max_concurrent_sessions,
            max_resting_order_value_e4=vmm.max_resting_order_value,
            disallow_open_positions=vmm.disallow_new_sessions_if_open_positions_exist,
            allowed_regimes=frozenset(str(r) for r in vmm.allowed_regimes_for_sessions),
            require_regime_stability=vmm.require_regime_stability,
            start_delay_s=vmm.delay_before_session_start_seconds,
            regime_max_age_s=regime_max_age_s,
        )


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """What the exchange said about the account: resting value in 1/10,000 $, positions in 1/100 contract."""

    resting_order_value_e4: int
    positions_e2: dict[str, int] = field(default_factory=dict)


class BalanceGate:
    """Available-balance check with hysteresis, so a balance hovering at the minimum does not flap.

    Open while the balance is ≥ ``min_balance_e4``. Once it falls below, it stays closed until the balance is
    back to ``min_balance_e4 / ratio`` (``balance_hysteresis_ratio`` 0.85: $100 closes, $117.65 reopens): the
    minimum times 1/ratio is the re-enable threshold, and sessions that just returned their collateral do not
    immediately re-open the gate only to close it again on the next order.
    """

    def __init__(self, min_balance_e4: int, ratio: float) -> None:
        if not 0 < ratio <= 1:
            raise ValueError(f"balance hysteresis ratio must be in (0, 1], got {ratio}")
        self.min_balance_e4 = min_balance_e4
        self.reopen_e4 = math.ceil(min_balance_e4 / ratio)
        self.open = True

    def update(self, balance_e4: int | None) -> bool:
        """Feed the latest available balance (None: unknown, the gate keeps its state); return whether open."""
        if balance_e4 is None:
            return self.open
        if self.open and balance_e4 < self.min_balance_e4:
            self.open = False
        elif not self.open and balance_e4 >= self.reopen_e4:
            self.open = True
        return self.open

    @property
    def threshold_e4(self) -> int:
        """The balance the gate currently needs: the minimum while open, the re-enable level while closed."""
        return self.min_balance_e4 if self.open else self.reopen_e4


class StabilityCounter:
    """Consecutive regime windows per ticker in which the published regime was stable and unchanged.

    A window is one new classification (``observed_ts`` advanced); seeing the same state twice does not count
    twice. A change of regime, an unstable state or missing data resets the count.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, float, int]] = {}  # ticker -> (regime, observed_ts, count)

    def observe(self, ticker: str, state: RegimeState | None) -> int:
        """Record the ticker's current state; return its count of consecutive stable windows."""
        if state is None or not state.stable:
            self._seen.pop(ticker, None)
            return 0
        regime = str(state.regime)
        prev = self._seen.get(ticker)
        if prev is None or prev[0] != regime:
            count = 1
        elif state.observed_ts > prev[1]:
            count = prev[2] + 1
        else:
            count = prev[2]
        self._seen[ticker] = (regime, state.observed_ts, count)
        return count

    def forget(self, ticker: str) -> None:
        self._seen.pop(ticker, None)


def spawn_decision(
    ticker: str,
    *,
    now: float,
    event_ts: float,
    active: Collection[str],
    limits: SpawnLimits,
    balance_open: bool,
    balance_detail: str = "",
    account: AccountSnapshot | None,
    regime: RegimeState | None,
    stable_windows: int,
) -> Spawn | Refusal:
    """Apply the spawn checks of the module docstring in order; pure (reads no clock, calls nothing).

    ``active``: tickers with a running session. ``balance_open``: the :class:`BalanceGate`'s state.
    ``account``: None when the account could not be read, which refuses (no blind spawning).
    ``stable_windows``: the :class:`StabilityCounter`'s count for ``ticker``.
    """
    if ticker in active:
        return Refusal(ticker, "already_active")
    if len(active) >= limits.max_concurrent_sessions:
        return Refusal(ticker, "max_concurrent", f"{len(active)} of {limits.max_concurrent_sessions} running")
    waited = now - event_ts
    if waited < limits.start_delay_s:
        return Refusal(ticker, "start_delay", f"{waited:.1f} s of {limits.start_delay_s:g} s")
    if not balance_open:
        return Refusal(ticker, "low_balance", balance_detail)
    if account is None:
        return Refusal(ticker, "account_unknown", "balance/orders/positions could not be read")
    if account.resting_order_value_e4 >= limits.max_resting_order_value_e4:
        return Refusal(
            ticker,
            "resting_order_value",
            f"{account.resting_order_value_e4} e4 resting, cap {limits.max_resting_order_value_e4} e4",
        )
    position = account.positions_e2.get(ticker, 0)
    if limits.disallow_open_positions and position != 0:
        return Refusal(ticker, "open_position", f"position {position} e2")
    if regime is None or is_stale(regime, now, limits.regime_max_age_s):
        return Refusal(ticker, "regime_unknown", "no regime" if regime is None else f"observed {regime.observed_ts}")
    if str(regime.regime) not in limits.allowed_regimes:
        return Refusal(ticker, "regime_disallowed", str(regime.regime))
    if stable_windows < limits.require_regime_stability:
        return Refusal(
            ticker, "regime_unstable", f"{stable_windows} of {limits.require_regime_stability} stable windows"
        )
    return Spawn(ticker)


def resting_order_value_e4(orders: Iterable[Any]) -> int:
    """Money locked in resting orders: remaining count × the collateral per contract (1/10,000 $).

    ``price_e4`` is the YES price: a bid (buys YES) locks that price, an ask (sells YES ≡ buys NO) locks
    1 − that price per contract.
    """
    total = 0
    for order in orders:
        if not getattr(order, "is_resting", False):
            continue
        is_bid = getattr(order.side, "value", order.side) == "bid"
        price = order.price_e4 if is_bid else _ONE_DOLLAR_E4 - order.price_e4
        total += order.remaining_count_e2 * price // _E2
    return total


# --- session config ---------------------------------------------------------------------------------------


def volatility_session_config(
    app: AppConfig,
    rt: Runtime,
    config: MarketConfig,
    *,
    now: float,
    close_ts: float | None,
    mid_e4: int | None,
    ws_enabled: bool,
) -> SessionConfig:
    """The volatility SessionConfig: TTL from ``session_ttl_minutes`` capped by the market close minus the
    danger window (so the TTL exit, which is passive, starts before the hard danger-window stop), the
    volatility ``quote_refresh_seconds`` and guardrails, the generated (max-position 3, category spreads,
    blended σ) quote params. Raises ValueError when no time is left or the quote params are refused."""
    vmm = app.volatility_mm
    ttl = vmm.session_ttl_minutes * 60.0
    if close_ts is not None:
        ttl = min(ttl, close_ts - now - vmm.guardrails.expiration_danger_window_seconds)
    if ttl <= 0:
        raise ValueError(f"market closes too soon ({close_ts} at {now})")
    overrides: dict[str, Any] = {"max_duration_s": ttl, "ws_enabled": ws_enabled}
    if mid_e4 is not None and config.sigma > 0:
        overrides["sigma_baseline"] = sigma_baseline_for(config.sigma, mid_e4, app.as_model.risk_horizon_seconds)
    return SessionConfig.from_app_config(app, quote_params_for(rt, config), **overrides)


# --- the manager ------------------------------------------------------------------------------------------


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
    ) -> None:
        self._rt = rt
        vmm = rt.cfg.volatility_mm
        self._vmm = vmm
        self.limits = limits or SpawnLimits.from_config(vmm, rt.cfg.volatility_scanner.regime_staleness_seconds)
        self._make_config = make_config
        self._regime_of = regime_of
        self._pending_timeout_s = pending_timeout_s
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
            if is_stale(state, now, self._vmm.regime_stale_kill_seconds):
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
            account = self._refresh_account(now) if now - pending.event.ts >= self.limits.start_delay_s else None
            decision = spawn_decision(
                ticker,
                now=now,
                event_ts=pending.event.ts,
                active=self._running.keys(),
                limits=self.limits,
                balance_open=self.balance.open,
                balance_detail=f"balance {self._balance_e4} e4 < {self.balance.threshold_e4} e4",
                account=account,
                regime=state,
                stable_windows=windows,
            )
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
            self._rt.sweep_orders([session_prefix(mm.ticker, mm.side)], reason="session faulted")
        key = reason.split(":", 1)[0].split(" ", 1)[0]
        self.ends[key] = self.ends.get(key, 0) + 1
        self._rt.db.log_volatility_session_end(
            session.session_id,
            kill_reason=reason[:500],
            final_pnl_e4=_realized_pnl_e4(mm),
            final_position_e2=mm.final_position_e2,
        )
        session.logger.info("%s: volatility session ended (%s)", mm.ticker, reason)
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
