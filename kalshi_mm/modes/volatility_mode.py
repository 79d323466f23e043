"""``--mode volatility``: the volatility scanner on its own thread, the session manager on the mode thread.

Flow of :class:`VolatilityMode` (issue §3):

1. :class:`~kalshi_mm.volatility.scanner.VolatilityScanner` tracks the most active markets, publishes their
   regimes and emits volatility events; it runs on its own thread until the mode stops it.
2. :class:`~kalshi_mm.volatility.manager.VolatilityMMManager` receives the events, runs the spawn checks and
   starts one short :class:`~kalshi_mm.strategy.market_maker.AvellanedaMarketMaker` session per event, with the
   config :func:`generate_config_for_market` builds in ``mode="volatility"`` from a fresh book read plus the
   event's σ and jump. The mode thread ticks the manager every :data:`POLL_S`.
3. Shutdown (stop event: SIGINT, SIGTERM or ``--duration``): the scanner stops, every session is hard-stopped
   and its end recorded (``shutdown``), the runtime sweeps the exchange for any order of ours by the sessions'
   client_order_id prefixes. The exit status is 0 when the sweep found the exchange clean, 1 otherwise; the
   runtime then flushes and closes the database. A second SIGINT/SIGTERM while that runs exits the process at
   once (status 128 + signal number), without the sweep or the flush: the operator asked twice.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any, cast

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.errors import FatalError
from kalshi_mm.config.dynamic import MarketStrategyConfig, generate_config_for_market
from kalshi_mm.discovery.metrics import book_depth, proxy_sigma, volume_value_e4
from kalshi_mm.discovery.models import MarketCandidate, MarketMetrics, ScoredMarket
from kalshi_mm.logs import sweep_logger
from kalshi_mm.runtime import Runtime
from kalshi_mm.volatility.detection import VolatilityEvent
from kalshi_mm.volatility.manager import VolatilityMMManager
from kalshi_mm.volatility.scanner import VolatilityScanner

__all__ = ["VolatilityMode", "run_volatility_mode"]

log = logging.getLogger("kalshi_mm.modes.volatility")

EXIT_OK = 0
EXIT_UNCLEAN = 1
# Clock seconds between manager ticks (spawn checks, kill rules, reaping).
POLL_S = 1.0
# Real seconds the scanner thread gets to finish its sweep at shutdown.
SCANNER_JOIN_S = 30.0
# Book levels beyond the best read for sizing, as discovery does.
DEPTH_LEVELS = 5
_HOUR_S = 3600.0


class _EventIdTap:
    """The analytics database as the scanner sees it, passing each ``volatility_events`` row id to the manager.

    Every other attribute is the database's own: the tap only observes ``log_volatility_event``.
    """

    def __init__(self, db: AnalyticsDB, manager: VolatilityMMManager) -> None:
        self._db = db
        self._manager = manager

    def log_volatility_event(self, **fields: Any) -> int:
        event_id = self._db.log_volatility_event(**fields)
        self._manager.record_event_id(fields["market_ticker"], fields.get("ts"), event_id)
        return event_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class VolatilityMode:
    """Runs volatility mode on a started :class:`Runtime` until its stop event (see the module docstring)."""

    def __init__(self, rt: Runtime, *, poll_s: float = POLL_S, max_tracked: int = 200) -> None:
        self._rt = rt
        self._poll_s = poll_s
        self.scanner: VolatilityScanner | None = None
        self.manager = VolatilityMMManager(
            rt,
            make_config=self.make_config,
            regime_of=self._regime_of,
            regime_cadence_slack_s=self._regime_cadence_slack_s,
        )
        self.scanner = VolatilityScanner(
            rt.api,
            rt.store,
            rt.ws,
            cast(AnalyticsDB, _EventIdTap(rt.db, self.manager)),
            rt.clock,
            rt.cfg,
            sweep_log=sweep_logger(Path(rt.cfg.logging.log_dir), rt.clock),
            max_tracked=max_tracked,
            on_event=self.manager.on_event,
            on_ended=self.manager.on_ended,
            active_sessions=self.manager.active_tickers,
        )
        self._scan_stop = threading.Event()
        self._scan_thread: threading.Thread | None = None
        self.scanner_error: BaseException | None = None

    def _regime_cadence_slack_s(self) -> float:
        if self.scanner is None:
            return 0.0
        refresh_s = self._rt.cfg.volatility_scanner.refresh_interval_seconds
        return max(0.0, self.scanner.observation_interval_s() - refresh_s)

    def _regime_of(self, ticker: str) -> Any:
        return self.scanner.regime(ticker) if self.scanner is not None else None

    # --- config of one event ----------------------------------------------------------------------------------

    def make_config(self, event: VolatilityEvent, regime: str | None) -> tuple[MarketStrategyConfig, int | None]:
        """The volatility config for the event's market from a fresh listing and book; also the mid it used.

        Raises ``DynamicConfigError`` / ``ValueError`` when the market cannot be quoted now (the manager logs it).
        """
        rt = self._rt
        now = rt.clock.time()
        market = rt.api.get_market(event.ticker)
        depth = book_depth(rt.api.get_orderbook(event.ticker, DEPTH_LEVELS + 1), DEPTH_LEVELS)
        if depth.yes_bid_e4 is None or depth.yes_ask_e4 is None:
            raise ValueError("one-sided book")
        mid = (depth.yes_bid_e4 + depth.yes_ask_e4) // 2
        tracked = self.scanner.market(event.ticker) if self.scanner is not None else None
        # A str field read across threads is atomic; the scanner's category is the one its detection used.
        category = tracked.category if tracked is not None else "default"
        # The event's σ is dollars per observation of that market: every sweep with the WebSocket, about every
        # 30 s in REST round robin. generate_config_for_market wants $/√hour.
        interval = (
            self.scanner.observation_interval_s()
            if self.scanner is not None
            else rt.cfg.volatility_scanner.refresh_interval_seconds
        )
        event_sigma = event.sigma * math.sqrt(_HOUR_S / interval) if event.sigma > 0 else None
        metrics = MarketMetrics(
            spread_e4=depth.yes_ask_e4 - depth.yes_bid_e4,
            mid_e4=mid,
            yes_bid_e4=depth.yes_bid_e4,
            yes_ask_e4=depth.yes_ask_e4,
            depth_bid_e2=depth.best_bid_e2,
            depth_ask_e2=depth.best_ask_e2,
            depth_levels_e2=depth.next_levels_e2,
            time_to_expiry_s=market.close_ts - now,
            volume_24h_e4=volume_value_e4(market.volume_24h_e2, depth.yes_bid_e4, depth.yes_ask_e4),
            volume_24h_e2=market.volume_24h_e2,
            trades_5m=0,
            trades_15m=0,
            volume_1h_e2=0,
            # The market's own σ estimate is the proxy: the event σ is blended in by the config generator.
            sigma=proxy_sigma(rt.cfg.as_model.sigma.baseline, mid),
            sigma_is_proxy=True,
            grid=market.grid,
        )
        candidate = MarketCandidate(market.ticker, market.title, market.event_ticker, "", category, metrics)
        scored = ScoredMarket(candidate, score=event.signal_strength, features={}, reasons=(), volume_band="event")
        sides = rt.cfg.discovery.sides_to_trade
        side = sides[0] if sides else "yes"
        config = generate_config_for_market(
            scored,
            side,
            rt.cfg,
            active_markets=rt.cfg.volatility_mm.max_concurrent_sessions,
            regime=regime,
            event_sigma=event_sigma,
            jump_magnitude_e4=event.jump_magnitude_e4,
            mode="volatility",
        )
        return config, mid

    # --- the loop ---------------------------------------------------------------------------------------------

    def _scan(self) -> None:
        assert self.scanner is not None
        try:
            self.scanner.run(self._scan_stop)
        except FatalError as exc:
            self.scanner_error = exc
            self._rt.request_stop(f"scanner: fatal API error: {exc}")
        except Exception as exc:  # without a scanner no event can come: stop rather than idle silently
            self.scanner_error = exc
            log.exception("volatility scanner crashed")
            self._rt.request_stop(f"scanner crashed: {type(exc).__name__}: {exc}")

    def _install_second_signal_exit(self) -> None:
        """Wrap the runtime's SIGINT/SIGTERM handlers: the first signal still asks for the clean shutdown, a
        signal arriving once that is under way ends the process immediately. Main thread only (Python's rule);
        :meth:`Runtime.close` restores the original handlers, which drops these wrappers too."""
        if threading.current_thread() is not threading.main_thread():
            return
        stop_event = self._rt.stop_event
        for signum in (signal.SIGINT, signal.SIGTERM):
            inner = signal.getsignal(signum)
            if not callable(inner):
                continue  # the runtime installed no handler (tests, embedding): leave the default behaviour

            def handler(num: int, frame: FrameType | None, _inner: Any = inner) -> None:
                if stop_event.is_set():
                    log.error("%s received during shutdown: exiting immediately", signal.Signals(num).name)
                    os._exit(128 + num)
                _inner(num, frame)

            signal.signal(signum, handler)

    def run(self, duration_s: float | None = None) -> int:
        """Trade until a stop is requested or ``duration_s`` clock seconds pass; returns the exit status."""
        rt = self._rt
        self._install_second_signal_exit()
        deadline = None if duration_s is None else rt.clock.time() + duration_s
        self._scan_thread = threading.Thread(target=self._scan, name="vol-scanner", daemon=True)
        self._scan_thread.start()
        try:
            while not rt.stop_event.is_set():
                now = rt.clock.time()
                if deadline is not None and now >= deadline:
                    rt.request_stop(f"--duration of {duration_s:g} s elapsed")
                    break
                self.manager.tick()
                wake = self._poll_s if deadline is None else min(self._poll_s, deadline - rt.clock.time())
                rt.wait(max(0.0, wake))
        finally:
            clean = self.shutdown()
        if isinstance(self.scanner_error, FatalError):
            raise self.scanner_error
        return EXIT_OK if clean else EXIT_UNCLEAN

    def shutdown(self) -> bool:
        """Stop the scanner, hard-stop and record every session, sweep our orders. True when all is clean."""
        self._scan_stop.set()
        if self._scan_thread is not None:
            self._scan_thread.join(SCANNER_JOIN_S)
            if self._scan_thread.is_alive():
                log.error("volatility scanner did not stop within %.0f s", SCANNER_JOIN_S)
        stopped = self.manager.shutdown()
        sweep = self._rt.sweep_orders(self.manager.prefixes)
        m = self.manager
        log.info(
            "volatility mode stopped: %d event(s), %d session(s) started, ends %s, refusals %s, "
            "%d order(s) swept at shutdown",
            m.events,
            m.started,
            dict(sorted(m.ends.items())),
            dict(sorted(m.refusals.items())),
            sweep.cancelled,
        )
        return stopped and sweep.clean


def run_volatility_mode(rt: Runtime, duration_s: float | None = None) -> int:
    """Run volatility mode on a started runtime until it is stopped; the exit status (see the module docstring)."""
    return VolatilityMode(rt).run(duration_s)
