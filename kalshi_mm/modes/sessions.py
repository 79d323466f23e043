"""SessionPool: one :class:`AvellanedaMarketMaker` per (market, side) in a ThreadPoolExecutor.

The pool turns a generated :class:`~kalshi_mm.config.dynamic.MarketStrategyConfig` into a running session —
its own strategy log file, a ``strategy_runs`` row carrying the generated config, QuoteParams from
:func:`~kalshi_mm.strategy.quoting.params_from_config` with the generated sizes, k, γ and spreads, a
SessionConfig from the app config — and watches the futures: a session that ends on its own (market closed,
guardrail, crash) is reaped, logged and, should it have left anything resting, swept by its client_order_id
prefix, while the others keep running.

Threading: only the mode's thread calls the pool's methods; each session thread alone touches its session
(DESIGN.md #1). ``request_stop`` is the one cross-thread call, and the session documents it as safe.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kalshi_mm.logs import close_strategy_logger, strategy_logger
from kalshi_mm.runtime import Runtime
from kalshi_mm.strategy.legs import OutcomeSide
from kalshi_mm.strategy.market_maker import AvellanedaMarketMaker
from kalshi_mm.strategy.quoting import QuoteParams, params_from_config
from kalshi_mm.strategy.session import SessionConfig, SessionState, session_prefix
from kalshi_mm.units import ONE_DOLLAR

__all__ = ["MarketConfig", "RunningSession", "SessionPool", "config_json"]

log = logging.getLogger("kalshi_mm.modes.sessions")

Key = tuple[str, str]  # (ticker, side)

# Real seconds a hard-stopped session gets to cancel its orders and record its end.
STOP_TIMEOUT_S = 30.0


class MarketConfig(Protocol):
    """The fields of ``kalshi_mm.config.dynamic.MarketStrategyConfig`` a session is built from."""

    ticker: str
    side: str
    category: str
    order_size_e2: int
    max_position_e2: int
    k: float
    sigma: float
    gamma: float
    min_total_spread_e4: int
    max_total_spread_e4: int

    def to_json(self) -> Any: ...


def config_json(config: MarketConfig) -> dict[str, Any]:
    """The generated config as a JSON object (``to_json`` may give text or a mapping)."""
    value = config.to_json()
    return json.loads(value) if isinstance(value, str | bytes) else dict(value)


@dataclass
class RunningSession:
    """A submitted session and what the pool needs to reap it."""

    mm: AvellanedaMarketMaker
    future: Future[SessionState]
    config: MarketConfig
    run_id: int
    logger: logging.Logger
    winding_down: bool = False

    @property
    def key(self) -> Key:
        return (self.mm.ticker, self.mm.side)


def quote_params_for(rt: Runtime, config: MarketConfig) -> QuoteParams:
    """QuoteParams from the app config with the market's generated sizes, k, γ and spread bounds."""
    app = rt.cfg
    base = params_from_config(
        app.as_model,
        app.extreme_prices,
        app.throttling,
        app.risk,
        category=config.category,
        order_size_e2=config.order_size_e2,
        max_position_e2=config.max_position_e2,
    )
    model = dataclasses.replace(base.model, k=config.k, gamma=config.gamma)
    return dataclasses.replace(
        base,
        model=model,
        min_total_spread_e4=config.min_total_spread_e4,
        max_total_spread_e4=config.max_total_spread_e4,
        max_widened_spread_e4=max(base.max_widened_spread_e4, config.max_total_spread_e4),
    )


def sigma_baseline_for(sigma_per_sqrt_hour: float, mid_e4: int, horizon_s: float) -> float:
    """The session's σ baseline ($ per √horizon, before the proxy's 1 + 2p(1 − p) factor) that reproduces the
    generated σ ($ per √hour) at the discovery mid: the session then starts from the market's own estimate."""
    p = min(max(mid_e4 / ONE_DOLLAR, 0.01), 0.99)
    return sigma_per_sqrt_hour * math.sqrt(horizon_s / 3600.0) / (1.0 + 2.0 * p * (1.0 - p))


def session_config_for(rt: Runtime, config: MarketConfig, mid_e4: int | None = None) -> SessionConfig:
    """A discovery-mode SessionConfig: runs until re-discovery drops the market or the daemon stops (no TTL).

    With the discovery ``mid_e4`` the generated σ seeds the session's σ fallback (until its own samples
    suffice); without it the config's ``as_model.sigma.baseline`` does.
    """
    # min_volatility is a guardrail of the short volatility-mode sessions (volatility_mm.guardrails): a discovery
    # session trades a market chosen for liquidity, where a quiet hour is normal, not a reason to stop.
    overrides: dict[str, Any] = {"max_duration_s": None, "ws_enabled": rt.ws is not None, "min_volatility": 0.0}
    if mid_e4 is not None and config.sigma > 0:
        overrides["sigma_baseline"] = sigma_baseline_for(config.sigma, mid_e4, rt.cfg.as_model.risk_horizon_seconds)
    return SessionConfig.from_app_config(rt.cfg, quote_params_for(rt, config), **overrides)


class SessionPool:
    """Runs and reaps the market-making sessions of one mode (see the module docstring)."""

    def __init__(self, rt: Runtime, max_workers: int, *, strategy_name: str = "discovery_mm") -> None:
        self._rt = rt
        self._strategy_name = strategy_name
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="mm")
        self._running: dict[Key, RunningSession] = {}
        self._prefixes: set[str] = set()  # every session prefix ever used: the shutdown sweep's scope
        self.started = 0
        self.faulted = 0
        self.finished = 0

    @property
    def keys(self) -> set[Key]:
        return set(self._running)

    @property
    def prefixes(self) -> frozenset[str]:
        return frozenset(self._prefixes)

    def sessions(self) -> list[RunningSession]:
        return list(self._running.values())

    def start(self, config: MarketConfig, *, discovery_session_id: int, mid_e4: int | None = None) -> RunningSession:
        """Open the run, build the session and submit it. Raises ValueError when the config cannot quote, and
        :class:`~kalshi_mm.risk.gate.SessionRefused` (a ValueError) when account risk allows no new session."""
        rt = self._rt
        side: OutcomeSide = "yes" if config.side == "yes" else "no"
        rt.risk.require_session_start(config.ticker)  # account risk (state, breaker, balance): SessionRefused
        session_cfg = session_config_for(rt, config, mid_e4)  # raises ValueError on sizes/spreads QuoteParams refuses
        name = f"{config.ticker}-{side}"
        logger = strategy_logger(name, Path(rt.cfg.logging.log_dir))
        params = {
            "discovery_session_id": discovery_session_id,
            "generated_config": config_json(config),
            "session": session_cfg.summary(),
        }
        run_id = rt.db.create_strategy_run(
            strategy_name=name, market_ticker=config.ticker, trade_side=side, config_params=params
        )
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
            risk=rt.risk.session(config.ticker, side, category=config.category, run_id=run_id),
        )
        self._prefixes.add(session_prefix(config.ticker, side))
        future = self._pool.submit(mm.run)
        running = RunningSession(mm, future, config, run_id, logger)
        self._running[running.key] = running
        self.started += 1
        logger.info("%s: session started (run %d, discovery session %d)", name, run_id, discovery_session_id)
        alerts = getattr(rt, "alerts", None)  # kalshi_mm.ops.alerts.Alerts: queues only, never blocks
        if alerts is not None:
            alerts.session_started(config.ticker, side, run_id, self._strategy_name)
        return running

    def wind_down(self, keys: Iterable[Key]) -> None:
        """Ask these sessions to stop gracefully: stop quoting, work the position off passively, end."""
        for key in keys:
            running = self._running.get(key)
            if running is not None and not running.winding_down:
                running.winding_down = True
                running.logger.info("%s/%s: dropped by re-discovery, winding down", *key)
                running.mm.request_stop(hard=False)

    def reap(self) -> list[RunningSession]:
        """Collect sessions that have ended; a faulted one is recorded and its orders swept. Returns them."""
        ended = [r for r in self._running.values() if r.future.done()]
        for running in ended:
            del self._running[running.key]
            self._settle(running)
        return ended

    def _settle(self, running: RunningSession) -> None:
        ticker, side = running.key
        self.finished += 1
        error = running.future.exception()
        if error is not None:
            # run() never raises by contract; if it did, the run row was not ended by the session: end it here.
            self.faulted += 1
            log.error("%s/%s: session thread raised %s: %s", ticker, side, type(error).__name__, error)
            self._rt.db.end_strategy_run(running.run_id, status="faulted", reason=f"thread raised: {error!r}"[:500])
        elif running.mm.state is SessionState.FAULTED:
            self.faulted += 1
            reason = running.mm.end_reason
            log.error("%s/%s: session faulted (%s); the other sessions keep running", ticker, side, reason)
        else:
            log.info("%s/%s: session ended (%s)", ticker, side, running.mm.end_reason)
        if error is not None or running.mm.state is SessionState.FAULTED:
            sweep = self._rt.sweep_orders([session_prefix(ticker, side)], reason="session faulted")
            if not sweep.clean:
                # Orders of ours may still rest that no session tracks (and the risk book no longer counts): no new
                # exposure until an operator has looked (runner.py cancel-all, then resume).
                self._rt.trading.halt(
                    f"{ticker}/{side}: {len(sweep.remaining)} order(s) not confirmed cancelled", "sweep"
                )
        if running.mm.fatal_error is not None:
            self._rt.fatal_stop(f"{ticker}/{side}: {running.mm.fatal_error}")
        alerts = getattr(self._rt, "alerts", None)
        if alerts is not None:
            alerts.session_ended(
                ticker,
                side,
                running.run_id,
                f"thread raised {type(error).__name__}: {error}" if error is not None else running.mm.end_reason,
                faulted=error is not None or running.mm.state is SessionState.FAULTED,
                final_position_e2=running.mm.final_position_e2,
                order_group_id=running.mm.order_group_id,
            )
        close_strategy_logger(running.logger)

    def stop_all(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """Hard-stop every session, wait for them, shut the executor down. True when all ended in time."""
        for running in self._running.values():
            running.mm.request_stop(hard=True)
        all_done = True
        for running in list(self._running.values()):
            if not running.mm.wait_finished(timeout_s):
                all_done = False
                log.error("%s/%s: session did not finish within %.0f s", *running.key, timeout_s)
        self.reap()
        self._pool.shutdown(wait=all_done, cancel_futures=True)
        return all_done
