"""``--mode discovery``: discover → pre-filter → score → configure the top N → record → market-make.

Flow of :class:`DiscoveryMode` (issue "runner flow for --mode discovery"):

1. :class:`~kalshi_mm.discovery.discovery.MarketDiscovery` lists and pre-filters the open markets (progress
   through :class:`~kalshi_mm.modes.progress.DiscoveryProgress`), :class:`MarketScorer` scores the candidates
   and keeps the top ``discovery.max_markets_to_trade``.
2. :func:`generate_config_for_market` builds a config per top market × ``discovery.sides_to_trade``; a
   config that fails (``DynamicConfigError``, or sizes/spreads the quoting step refuses) skips that
   market/side and is recorded in the market's ``reasons``.
3. One ``discovery_sessions`` row with the funnel counts and model version; one ``discovered_markets`` row
   per scored market (metrics, reasons, generated config, selected flag, trade side). ``discovered_markets``
   is unique per (session, ticker): with one side the row's ``generated_config`` is that side's config, with
   several it is ``{"by_side": {side: config}}``.
4. One :class:`~kalshi_mm.strategy.market_maker.AvellanedaMarketMaker` per config in a thread pool
   (:class:`~kalshi_mm.modes.sessions.SessionPool`); the WebSocket client streams the selected markets.
5. Every ``discovery.discovery_interval_seconds`` a re-discovery starts sessions for new markets and winds
   dropped ones down gracefully (stop quoting, passive exit). Sessions that end by themselves are reaped.

A discovery that fails (network, exchange 5xx, a bug in a filter) is logged, recorded as a
``discovery_sessions`` row with zero counts and ``model_version`` suffixed ``[failed: <error>]``, and retried
with capped exponential backoff; the process keeps running. Only a fatal API error (credentials refused)
ends the mode. Shutdown (stop event: signal or ``--duration``): every session hard-stopped, then the
runtime's order sweep over every session prefix used; the exit status is 0 when the sweep found the
exchange clean, 1 otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kalshi_mm.api.errors import FatalError
from kalshi_mm.config.dynamic import DynamicConfigError, MarketStrategyConfig, generate_config_for_market
from kalshi_mm.discovery.discovery import MarketDiscovery
from kalshi_mm.discovery.models import DiscoveryResult, MarketCandidate, ScoredMarket
from kalshi_mm.discovery.scorer import MarketScorer
from kalshi_mm.modes.progress import DiscoveryProgress
from kalshi_mm.modes.sessions import SessionPool, config_json, session_config_for
from kalshi_mm.risk.gate import SessionRefused
from kalshi_mm.runtime import Runtime

__all__ = ["DiscoveryMode", "DiscoveryTools", "Selection", "default_tools", "run_discovery_mode"]

log = logging.getLogger("kalshi_mm.modes.discovery")

EXIT_OK = 0
EXIT_UNCLEAN = 1

# Clock seconds: first retry delay after a failed discovery, doubling up to the cap.
RETRY_BASE_S = 5.0
RETRY_CAP_S = 300.0
# Clock seconds between checks of the sessions (reaping, deadline, re-discovery due).
POLL_S = 1.0


@dataclass(frozen=True)
class DiscoveryTools:
    """The pipeline's steps as callables, so a test can stand in for one (the daemon uses :func:`default_tools`)."""

    discover: Callable[[], DiscoveryResult]
    score: Callable[[Sequence[MarketCandidate]], list[ScoredMarket]]
    top: Callable[[list[ScoredMarket], int], list[ScoredMarket]]
    make_config: Callable[[ScoredMarket, str, int], MarketStrategyConfig]


def default_tools(rt: Runtime, progress: DiscoveryProgress | None) -> DiscoveryTools:
    """The real pipeline over the runtime's REST client and config."""
    discovery = MarketDiscovery(rt.api, rt.cfg, rt.clock, progress=progress)
    scorer = MarketScorer(rt.cfg.scoring)
    log.info("scoring: %s", scorer.describe())

    def make_config(scored: ScoredMarket, side: str, active_markets: int) -> MarketStrategyConfig:
        return generate_config_for_market(scored, side, rt.cfg, active_markets=active_markets)

    return DiscoveryTools(
        discover=lambda: discovery.discover(mode="scoring"),
        score=scorer.score,
        top=scorer.top,
        make_config=make_config,
    )


@dataclass(frozen=True)
class Selection:
    """One successful discovery: its session id and the configs to trade (one per market/side)."""

    session_id: int
    configs: tuple[MarketStrategyConfig, ...]
    scored: int = 0
    skipped: tuple[tuple[str, str, str], ...] = field(default=())  # (ticker, side, reason)
    mids_e4: dict[str, int] = field(default_factory=dict)  # discovery mid per selected ticker


class DiscoveryMode:
    """Runs discovery mode on a started :class:`Runtime` until its stop event (see the module docstring)."""

    def __init__(
        self,
        rt: Runtime,
        *,
        tools: DiscoveryTools | None = None,
        progress: DiscoveryProgress | None = None,
        retry_base_s: float = RETRY_BASE_S,
        retry_cap_s: float = RETRY_CAP_S,
        poll_s: float = POLL_S,
    ) -> None:
        self._rt = rt
        self._cfg = rt.cfg.discovery
        self._progress = progress if progress is not None else DiscoveryProgress()
        self._tools = tools if tools is not None else default_tools(rt, self._progress)
        self._retry_base_s, self._retry_cap_s, self._poll_s = retry_base_s, retry_cap_s, poll_s
        per_round = self._cfg.max_markets_to_trade * len(self._cfg.sides_to_trade)
        # Twice a round's sessions: dropped markets wind down while their replacements already quote.
        self.pool = SessionPool(rt, max_workers=2 * per_round)
        self.failures = 0
        self.selections: list[Selection] = []

    # --- the loop ---------------------------------------------------------------------------------------------

    def run(self, duration_s: float | None = None) -> int:
        """Trade until a stop is requested or ``duration_s`` clock seconds pass; returns the exit status."""
        rt = self._rt
        deadline = None if duration_s is None else rt.clock.time() + duration_s
        try:
            next_discovery = rt.clock.time()
            failures_in_row = 0
            while not rt.stop_event.is_set():
                now = rt.clock.time()
                if deadline is not None and now >= deadline:
                    rt.request_stop(f"--duration of {duration_s:g} s elapsed")
                    break
                self._reap()
                if now >= next_discovery:
                    selection = self.discover_once()
                    if selection is None:
                        failures_in_row += 1
                        delay = min(self._retry_cap_s, self._retry_base_s * 2 ** (failures_in_row - 1))
                        log.warning("discovery failed %d time(s) in a row; retrying in %.0f s", failures_in_row, delay)
                        next_discovery = now + delay
                    else:
                        failures_in_row = 0
                        self.apply(selection)
                        next_discovery = now + self._cfg.discovery_interval_seconds
                wake = next_discovery if deadline is None else min(next_discovery, deadline)
                rt.wait(max(0.0, min(self._poll_s, wake - rt.clock.time())))
        finally:
            clean = self.shutdown()
        return EXIT_OK if clean else EXIT_UNCLEAN

    def shutdown(self) -> bool:
        """Hard-stop every session and sweep the exchange for our orders. True when nothing of ours rests."""
        stopped = self.pool.stop_all()
        sweep = self._rt.sweep_orders(self.pool.prefixes)
        log.info(
            "discovery mode stopped: %d discovery session(s), %d failed discoveries, %d market sessions run "
            "(%d faulted), %d orders swept at shutdown",
            len(self.selections),
            self.failures,
            self.pool.started,
            self.pool.faulted,
            sweep.cancelled,
        )
        return stopped and sweep.clean

    def _reap(self) -> None:
        self.pool.reap()
        ws = self._rt.ws
        if ws is not None:
            trading = {ticker for ticker, _ in self.pool.keys}
            ws.remove_markets([t for t in ws.markets() if t not in trading])

    # --- one discovery ----------------------------------------------------------------------------------------

    def discover_once(self) -> Selection | None:
        """Discover, score, configure and record; None (logged and recorded) when discovery failed."""
        try:
            result = self._tools.discover()
            scored = self._tools.score(result.candidates)
            top = self._tools.top(scored, self._cfg.max_markets_to_trade)
        except FatalError:
            raise  # refused credentials: retrying cannot help, the daemon must stop
        except Exception as exc:
            self.failures += 1
            log.error("discovery failed: %s: %s", type(exc).__name__, exc, exc_info=True)
            self._rt.db.create_discovery_session(
                total_markets=0,
                binary_markets=0,
                pre_filtered=0,
                scored=0,
                top_markets_count=0,
                configs_generated=0,
                model_version=f"{self._cfg.model_version} [failed: {type(exc).__name__}: {exc}]"[:500],
            )
            return None
        configs, by_ticker, skipped = self._configure(top)
        selection = self._record(result, scored, top, configs, by_ticker, skipped)
        self.selections.append(selection)
        self._progress.finish(
            f"{result.total_markets} markets, {result.binary_markets} binary, {len(result.candidates)} candidates, "
            f"{len(scored)} scored, top {len(top)}, {len(configs)} configs, {len(skipped)} skipped "
            f"(session {selection.session_id})"
        )
        return selection

    def _configure(
        self, top: list[ScoredMarket]
    ) -> tuple[list[MarketStrategyConfig], dict[str, list[MarketStrategyConfig]], list[tuple[str, str, str]]]:
        configs: list[MarketStrategyConfig] = []
        by_ticker: dict[str, list[MarketStrategyConfig]] = {}
        skipped: list[tuple[str, str, str]] = []
        for scored in top:
            for side in self._cfg.sides_to_trade:
                try:
                    config = self._tools.make_config(scored, side, len(top))
                    # The quoting step's own checks, before anything starts.
                    session_config_for(self._rt, config, scored.candidate.metrics.mid_e4)
                except DynamicConfigError as exc:
                    reason = getattr(exc, "reason", str(exc))
                    skipped.append((scored.ticker, side, f"config rejected: {reason}"))
                    continue
                except ValueError as exc:
                    skipped.append((scored.ticker, side, f"config unusable: {exc}"))
                    continue
                configs.append(config)
                by_ticker.setdefault(scored.ticker, []).append(config)
        for ticker, side, reason in skipped:
            log.warning("%s/%s skipped: %s", ticker, side, reason)
        return configs, by_ticker, skipped

    def _record(
        self,
        result: DiscoveryResult,
        scored: list[ScoredMarket],
        top: list[ScoredMarket],
        configs: list[MarketStrategyConfig],
        by_ticker: dict[str, list[MarketStrategyConfig]],
        skipped: list[tuple[str, str, str]],
    ) -> Selection:
        db = self._rt.db
        session_id = db.create_discovery_session(
            total_markets=result.total_markets,
            binary_markets=result.binary_markets,
            pre_filtered=len(result.candidates),
            scored=len(scored),
            top_markets_count=len(top),
            configs_generated=len(configs),
            model_version=self._cfg.model_version,
        )
        skip_reasons: dict[str, list[str]] = {}
        for ticker, side, reason in skipped:
            skip_reasons.setdefault(ticker, []).append(f"{side}: {reason}")
        for market in scored:
            metrics = market.candidate.metrics
            chosen = by_ticker.get(market.ticker, [])
            db.log_discovered_market(
                session_id=session_id,
                ticker=market.ticker,
                score=market.score,
                title=market.candidate.title,
                category=market.candidate.category,
                volume_24h_e2=metrics.volume_24h_e2,
                spread_e4=metrics.spread_e4,
                mid_price_e4=metrics.mid_e4,
                liquidity_e4=metrics.book_value_e4,
                reasons=[*market.reasons, *skip_reasons.get(market.ticker, [])],
                generated_config=_row_config(chosen, len(self._cfg.sides_to_trade)),
                selected_for_trading=bool(chosen),
                trade_side="yes" if chosen and chosen[0].side == "yes" else ("no" if chosen else None),
            )
        mids = {m.ticker: m.candidate.metrics.mid_e4 for m in top}
        return Selection(session_id, tuple(configs), len(scored), tuple(skipped), mids)

    # --- applying a selection ---------------------------------------------------------------------------------

    def apply(self, selection: Selection) -> None:
        """Start sessions for newly selected market/sides; wind down the ones no longer selected."""
        wanted = {(c.ticker, c.side): c for c in selection.configs}
        running = self.pool.keys
        dropped = running - wanted.keys()
        if dropped:
            self.pool.wind_down(sorted(dropped))
        new = [wanted[key] for key in wanted if key not in running]
        if self._rt.ws is not None and new:
            self._rt.ws.add_markets(dict.fromkeys(c.ticker for c in new))
        for config in new:
            try:
                self.pool.start(
                    config, discovery_session_id=selection.session_id, mid_e4=selection.mids_e4.get(config.ticker)
                )
            except SessionRefused as exc:  # the account's risk state, not a fault: no traceback
                log.warning("%s/%s: session not started: %s", config.ticker, config.side, exc)
            except Exception:  # one market's start-up failure must not stop the others
                log.exception("%s/%s: could not start its session", config.ticker, config.side)
        log.info(
            "discovery session %d: %d sessions running (%d new, %d winding down)",
            selection.session_id,
            len(self.pool.keys),
            len(new),
            len(dropped),
        )


def _row_config(chosen: list[MarketStrategyConfig], sides: int) -> dict[str, Any] | None:
    if not chosen:
        return None
    if sides == 1:
        return config_json(chosen[0])
    return {"by_side": {c.side: config_json(c) for c in chosen}}


def run_discovery_mode(
    rt: Runtime,
    duration_s: float | None = None,
    *,
    tools: DiscoveryTools | None = None,
    progress: DiscoveryProgress | None = None,
    retry_base_s: float = RETRY_BASE_S,
) -> int:
    """Run discovery mode on a started runtime until it is stopped; the exit status (see the module docstring)."""
    return DiscoveryMode(rt, tools=tools, progress=progress, retry_base_s=retry_base_s).run(duration_s)
