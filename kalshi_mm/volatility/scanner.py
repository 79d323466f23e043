"""``VolatilityScanner``: track the most active open markets, sample them every sweep, publish regimes and emit
volatility events (seed §3.6).

* :meth:`VolatilityScanner.initial_scan` / :meth:`~VolatilityScanner.rediscover` list every open market, keep
  the top ``max_tracked`` by activity (:mod:`kalshi_mm.volatility.tracking`) and, with a WebSocket client,
  subscribe the added markets and unsubscribe the dropped ones.
* :meth:`VolatilityScanner.sweep` samples markets into their :class:`MarketWindow`: every tracked market from the
  store while the WebSocket is healthy, otherwise the next round-robin REST chunk (one ``GET /markets`` for the
  chunk plus one orderbook per market). Each sample updates the market's regime (:class:`RegimeTracker`) and
  runs :func:`detect` / :func:`detect_ended`; one line per sampled market goes to the sweep log.
* Trades (for the ``too_few_trades`` rule) cost a REST call per market, so in REST mode they are fetched only
  when every cheaper rule has passed.

Threads: :meth:`run` is the scanner thread's body and the only writer; :meth:`regime` and :meth:`tracked` are
safe from any thread (they read snapshots under ``_lock``). Times are seconds from the injected clock.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.errors import RejectedError, TransientError
from kalshi_mm.api.ratelimit import DEFAULT_COST, TIERS
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import Market
from kalshi_mm.api.websocket import KalshiWebsocketClient
from kalshi_mm.clock import Clock
from kalshi_mm.config.settings import AppConfig
from kalshi_mm.discovery.discovery import check_status, series_ticker_of
from kalshi_mm.discovery.metrics import category_key_for, volume_value_e4
from kalshi_mm.state.store import MarketStateStore
from kalshi_mm.volatility.detection import (
    DetectionParams,
    MarketContext,
    Rejection,
    VolatilityEndedEvent,
    VolatilityEvent,
    detect,
    detect_ended,
)
from kalshi_mm.volatility.regime import (
    RegimeParams,
    RegimeState,
    RegimeTracker,
    classify,
    compute_features,
)
from kalshi_mm.volatility.tracking import chunk_size, select_top
from kalshi_mm.volatility.window import MarketWindow

__all__ = ["REDISCOVERY_INTERVAL_S", "Sample", "TrackedMarket", "VolatilityScanner"]

log = logging.getLogger(__name__)

REDISCOVERY_INTERVAL_S = 600.0  # seed §3.6 "Every 10 minutes, re-runs full discovery"
# Rules of detect() that a trade count cannot change: when one of them rejects, the trades call is skipped.
_RULES_BEFORE_TRADES = frozenset(
    {"warmup", "category_excluded", "spread_too_wide", "no_volatility", "not_mean_reverting", "low_volume"}
)
# market_lifecycle_v2 event types after which a market cannot trade (until a later "activated").
_INACTIVE_LIFECYCLE = frozenset({"deactivated", "determined", "settled"})
_TRADES_PAGE = 100  # only "at least N trades" matters; N is single digits in any sane config


@dataclass(slots=True)
class TrackedMarket:
    """Per-market state of the scanner: listing facts (refreshed by sweeps and rediscovery) and the window."""

    ticker: str
    category: str
    volume_24h_e4: int
    close_ts: float
    window: MarketWindow


@dataclass(frozen=True, slots=True)
class Sample:
    """One observation of a market's book: prices 1/10,000 $, depth 1/100 contract (both sides, top levels)."""

    bid_e4: int
    ask_e4: int
    depth_e2: int


class VolatilityScanner:
    """Tracks active markets and turns their price windows into regimes and volatility events.

    ``on_event`` / ``on_ended`` are called on the scanner thread after the event is recorded; they should hand
    work off quickly. ``active_sessions`` returns the tickers with a running session (the manager's view).
    """

    def __init__(
        self,
        api: KalshiTradingAPI,
        store: MarketStateStore,
        ws_client: KalshiWebsocketClient | None,
        db: AnalyticsDB,
        clock: Clock,
        cfg: AppConfig,
        *,
        sweep_log: logging.Logger,
        max_tracked: int = 200,
        on_event: Callable[[VolatilityEvent], None],
        on_ended: Callable[[VolatilityEndedEvent], None],
        active_sessions: Callable[[], set[str]],
    ) -> None:
        self.api = api
        self.store = store
        self.ws_client = ws_client
        self.db = db
        self.clock = clock
        self.cfg = cfg
        self.sweep_log = sweep_log
        self.max_tracked = max_tracked
        self._on_event = on_event
        self._on_ended = on_ended
        self._active_sessions = active_sessions
        scanner = cfg.volatility_scanner
        self._interval_s = scanner.refresh_interval_seconds
        self._window_s = scanner.rolling_window_minutes * 60.0
        self._regime_window_s = scanner.volatility_window_minutes * 60.0
        self._trades_window_s = cfg.discovery.recent_activity.execution.min_trades_last_minutes * 60.0
        self._params = DetectionParams.from_config(
            scanner, cfg.discovery.recent_activity.execution, cfg.scoring.min_volume_24h
        )
        self._regime_tracker = RegimeTracker(cfg.regimes.stability_required)
        self._regime_params: dict[str, RegimeParams] = {}
        self._read_rps = TIERS[cfg.exchange.rate_limit_tier].read_per_s / DEFAULT_COST
        self._series_category: dict[str, str] = {}
        self._tracked: dict[str, TrackedMarket] = {}
        self._order: list[str] = []  # round-robin order of the REST sweep
        self._cursor = 0
        self._active_events: dict[str, VolatilityEvent] = {}
        self._last_discovery_ts: float | None = None
        self._lock = threading.Lock()  # guards _regimes (read by the manager thread)
        self._regimes: dict[str, RegimeState] = {}
        self.sweeps = 0
        self.events_emitted = 0

    # --- read side (any thread) ----------------------------------------------------------------------------------

    def regime(self, ticker: str) -> RegimeState | None:
        """The published regime of ``ticker``, or None when it is not tracked or never sampled."""
        with self._lock:
            return self._regimes.get(ticker)

    def tracked(self) -> tuple[str, ...]:
        """Tickers currently tracked, in round-robin order."""
        return tuple(self._order)

    def market(self, ticker: str) -> TrackedMarket | None:
        """The scanner's state of one tracked market (scanner thread only: the window is not locked)."""
        return self._tracked.get(ticker)

    def observation_interval_s(self) -> float:
        """Typical seconds between two samples of one market: the sweep period while the stream is healthy (every
        market every sweep), else one round-robin cycle. σ of events is per observation, so this is its time base."""
        total = len(self._order)
        if self._ws_mode() or total == 0:
            return self._interval_s
        per_sweep = chunk_size(total, self._interval_s, self._read_rps)
        return self._interval_s * math.ceil(total / per_sweep)

    def active_events(self) -> tuple[str, ...]:
        """Tickers with an emitted event that has not ended yet."""
        return tuple(self._active_events)

    # --- discovery -----------------------------------------------------------------------------------------------

    def initial_scan(self) -> tuple[str, ...]:
        """First full scan: track the top ``max_tracked`` open binary markets; returns the tracked tickers."""
        return self.rediscover()

    def rediscover(self) -> tuple[str, ...]:
        """List all open markets and replace the tracked set by the current top ``max_tracked``.

        Kept markets keep their windows; added ones start empty (and are subscribed on the WebSocket); dropped
        ones end their active event ("untracked"), lose their regime and are unsubscribed.
        """
        now = self.clock.time()
        markets = self.api.get_all_open_markets()
        top = select_top(markets, now, self.max_tracked)
        chosen: dict[str, tuple[Market, int, str]] = {}
        for scored in top:
            category = self._category_of(scored.market)
            if category is not None:  # a series lookup failed: retried at the next rediscovery
                chosen[scored.market.ticker] = (scored.market, scored.volume_24h_e4, category)
        added = [t for t in chosen if t not in self._tracked]
        removed = [t for t in self._tracked if t not in chosen]
        for ticker in removed:
            self._untrack(ticker, now, "untracked", unsubscribe=False)  # unsubscribed below, in one command
        for ticker, (market, volume_e4, category) in chosen.items():
            existing = self._tracked.get(ticker)
            if existing is None:
                self._tracked[ticker] = TrackedMarket(
                    ticker, category, volume_e4, market.close_ts, MarketWindow(self._window_s)
                )
            else:
                existing.volume_24h_e4, existing.close_ts = volume_e4, market.close_ts
        # Most active first, so a fresh cycle samples the best candidates before the tail.
        self._order = list(chosen)
        self._cursor = 0
        if self.ws_client is not None:
            # A running session still quotes from the stream: its market stays subscribed until it ends.
            busy = self._active_sessions()
            unsubscribe = [t for t in removed if t not in busy]
            if unsubscribe:
                self.ws_client.remove_markets(unsubscribe)
            if added:
                self.ws_client.add_markets(added)
        self._last_discovery_ts = now
        log.info(
            "volatility scan: %d open markets, tracking %d (+%d, -%d)",
            len(markets),
            len(chosen),
            len(added),
            len(removed),
        )
        return tuple(self._order)

    def _category_of(self, market: Market) -> str | None:
        """The seed category key of the market's series (cached per series), or None if the lookup failed."""
        series = series_ticker_of(market.event_ticker)
        cached = self._series_category.get(series)
        if cached is not None:
            return cached
        try:
            info = self.api.get_series(series)
        except (TransientError, RejectedError) as exc:
            log.warning("series %s lookup failed: %s", series, exc)
            return None
        category = category_key_for(info.category, info.tags, self.cfg.category_mapping.keys())
        self._series_category[series] = category
        return category

    def _untrack(self, ticker: str, now: float, reason: str, *, unsubscribe: bool = True) -> None:
        """Stop tracking ``ticker``: drop its window and regime, end its active event with ``reason``."""
        if unsubscribe and self.ws_client is not None and ticker not in self._active_sessions():
            self.ws_client.remove_markets([ticker])
        self._tracked.pop(ticker, None)
        if ticker in self._order:
            self._order.remove(ticker)
        self._regime_tracker.forget(ticker)
        with self._lock:
            self._regimes.pop(ticker, None)
        self._end(ticker, now, reason)

    # --- sweeping ------------------------------------------------------------------------------------------------

    def _ws_mode(self) -> bool:
        return self.ws_client is not None and self.store.ws_healthy

    def sweep(self, now: float) -> int:
        """One pass at clock seconds ``now``; returns how many markets were sampled.

        REST errors of one market are logged and skip that market; a failed chunk listing skips the sweep.
        """
        self.sweeps += 1
        if not self._order:
            return 0
        # A healthy stream has every tracked book at no request cost; REST pays per market, so it goes in chunks.
        samples = self._ws_samples(now) if self._ws_mode() else self._rest_samples(now)
        sampled = 0
        for ticker, sample in samples.items():
            market = self._tracked.get(ticker)
            if market is None:
                continue
            if isinstance(sample, str):
                self.sweep_log.info("%s skipped: %s", ticker, sample)
                continue
            sampled += 1
            self._process(market, sample, now)
        return sampled

    def _next_chunk(self) -> list[str]:
        total = len(self._order)
        n = chunk_size(total, self._interval_s, self._read_rps)
        # Wrap around instead of sending a short tail chunk, so every sweep uses its full share of the budget.
        chunk = [self._order[(self._cursor + i) % total] for i in range(n)]
        self._cursor = (self._cursor + n) % total
        return chunk

    def _rest_samples(self, now: float) -> dict[str, Sample | str]:
        """Sample the next round-robin chunk over REST; markets that left the listing or closed are untracked."""
        chunk = self._next_chunk()
        try:
            listed = {m.ticker: m for m in self.api.get_markets(tickers=chunk, limit=max(len(chunk), 1)).items}
        except (TransientError, RejectedError) as exc:
            log.warning("volatility sweep: chunk listing failed: %s", exc)
            return {}
        out: dict[str, Sample | str] = {}
        for ticker in chunk:
            listing = listed.get(ticker)
            if listing is None or check_status(listing) is not None or listing.close_ts <= now:
                self.sweep_log.info("%s untracked: market inactive", ticker)
                self._untrack(ticker, now, "market_inactive")
                continue
            self._refresh_listing(ticker, listing)
            try:
                book = self.api.get_orderbook(ticker, self.cfg.volatility_scanner.orderbook_depth)
            except (TransientError, RejectedError) as exc:
                out[ticker] = f"orderbook fetch failed: {exc}"
                continue
            out[ticker] = self._sample_from_levels(book.yes_bids[::-1], book.yes_asks)
        return out

    def _refresh_listing(self, ticker: str, listing: Market) -> None:
        market = self._tracked[ticker]
        market.close_ts = listing.close_ts
        if listing.yes_bid_e4 is not None and listing.yes_ask_e4 is not None:
            market.volume_24h_e4 = volume_value_e4(listing.volume_24h_e2, listing.yes_bid_e4, listing.yes_ask_e4)

    def _sample_from_levels(self, bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]]) -> Sample | str:
        """A sample from YES bids and asks ``(price_e4, count_e2)``, each best first; a reason string when the
        book is too thin or crossed to use. Depth sums both sides over ``orderbook_depth`` levels."""
        depth = self.cfg.volatility_scanner.orderbook_depth
        bid_levels = list(bids)[:depth]
        ask_levels = list(asks)[:depth]
        need = max(1, self.cfg.volatility_scanner.min_orderbook_levels_required)  # a mid needs both sides
        if len(bid_levels) < need or len(ask_levels) < need:
            return f"thin book: {len(bid_levels)} bid / {len(ask_levels)} ask levels (< {need})"
        bid, ask = bid_levels[0][0], ask_levels[0][0]
        if bid >= ask:
            return f"crossed book: bid {bid} >= ask {ask}"
        return Sample(bid, ask, sum(c for _, c in bid_levels) + sum(c for _, c in ask_levels))

    def _ws_samples(self, now: float) -> dict[str, Sample | str]:
        """Sample every tracked market from the store; markets the lifecycle feed or the clock closed are
        untracked (a paused market that reopens comes back at the next rediscovery)."""
        out: dict[str, Sample | str] = {}
        for ticker in list(self._order):
            lifecycle = self.store.get_lifecycle(ticker)
            if lifecycle is not None and lifecycle.close_ts is not None:
                self._tracked[ticker].close_ts = float(lifecycle.close_ts)
            closed = lifecycle is not None and (
                lifecycle.event_type in _INACTIVE_LIFECYCLE or bool(lifecycle.is_deactivated)
            )
            if closed or self._tracked[ticker].close_ts <= now:
                self.sweep_log.info("%s untracked: market inactive", ticker)
                self._untrack(ticker, now, "market_inactive")
                continue
            out[ticker] = self._ws_sample(ticker)
        return out

    def _ws_sample(self, ticker: str) -> Sample | str:
        view = self.store.get_orderbook(ticker)
        if view is None:
            return "no live book in the store"
        return self._sample_from_levels(view.yes_bids, view.yes_asks)

    def _recent_trades(self, ticker: str, now: float) -> int:
        since = now - self._trades_window_s
        if self._ws_mode():
            return len(self.store.recent_trades(ticker, since=since))
        try:
            page = self.api.get_trades(ticker, min_ts=int(since), limit=_TRADES_PAGE)
        except (TransientError, RejectedError) as exc:
            log.warning("trades of %s failed: %s", ticker, exc)
            return 0
        return sum(1 for t in page.items if t.created_ts >= since)

    def _process(self, market: TrackedMarket, sample: Sample, now: float) -> None:
        """Append one sample, update the regime, run detection and write the market's sweep-log line."""
        window = market.window
        window.append(now, (sample.bid_e4 + sample.ask_e4) // 2, sample.ask_e4 - sample.bid_e4, sample.depth_e2)
        state = self._update_regime(market, now)
        ticker = market.ticker
        # Prices e4, depth e2; a trailing "?" marks a published regime whose latest classifications disagree.
        head = (
            f"{ticker} [{market.category}] mid={(sample.bid_e4 + sample.ask_e4) // 2} "
            f"spread={sample.ask_e4 - sample.bid_e4} depth={sample.depth_e2} n={len(window)} "
            f"regime={state.regime.value}{'' if state.stable else '?'}"
        )
        if ticker in self._active_events:
            ended = detect_ended(window, self._params, now, ticker=ticker)
            if ended is None:
                self.sweep_log.info("%s event active", head)
            else:
                self.sweep_log.info("%s event ended: %s", head, ended.reason)
                self._end(ticker, now, ended.reason)
            return
        context = MarketContext(
            ticker=ticker,
            category=market.category,
            volume_24h_e4=market.volume_24h_e4,
            close_ts=market.close_ts,
            has_active_session=ticker in self._active_sessions(),
            regime=state.regime.value,
            # A placeholder that passes the trades rule: the real count costs a request, paid only if needed.
            recent_trades=max(self._params.min_recent_trades, 1),
        )
        result = detect(window, context, self._params, now)
        if not (isinstance(result, Rejection) and result.rule in _RULES_BEFORE_TRADES):
            trades = self._recent_trades(ticker, now)
            result = detect(window, _with_trades(context, trades), self._params, now)
        if isinstance(result, Rejection):
            self.sweep_log.info("%s rejected %s: %s", head, result.rule, result.detail)
            return
        self.sweep_log.info(
            "%s EVENT strength=%.3f sigma=%.4f jump=%s direction=%s reasons=%s",
            head,
            result.signal_strength,
            result.sigma,
            result.jump_magnitude_e4,
            result.direction,
            ",".join(result.reasons),
        )
        self._emit(result)

    def _update_regime(self, market: TrackedMarket, now: float) -> RegimeState:
        points = market.window.since(now, self._regime_window_s)
        features = compute_features(
            [p.mid_e4 for p in points], [p.spread_e4 for p in points], [p.depth_e2 for p in points]
        )
        params = self._regime_params.get(market.category)
        if params is None:
            params = RegimeParams.from_config(self.cfg.regimes, self.cfg.profile_name(market.category))
            self._regime_params[market.category] = params
        state = self._regime_tracker.update(market.ticker, classify(features, params), now)
        with self._lock:
            self._regimes[market.ticker] = state
        return state

    def _emit(self, event: VolatilityEvent) -> None:
        # Recorded before the callback: a session started by the manager links to this row by event id.
        self.db.log_volatility_event(
            market_ticker=event.ticker,
            signal_strength=event.signal_strength,
            sigma=event.sigma,
            jump_magnitude_e4=event.jump_magnitude_e4,
            direction=event.direction,
            close_ts=event.close_ts,
            ts=event.ts,
        )
        # One event per episode: it stays active (no re-emission) until detect_ended or untracking ends it.
        self._active_events[event.ticker] = event
        self.events_emitted += 1
        try:
            self._on_event(event)
        except Exception:  # a broken consumer must not stop the scanner
            log.exception("on_event callback failed for %s", event.ticker)

    def _end(self, ticker: str, now: float, reason: str) -> None:
        if self._active_events.pop(ticker, None) is None:
            return
        ended = VolatilityEndedEvent(ticker, now, reason)
        try:
            self._on_ended(ended)
        except Exception:  # as in _emit
            log.exception("on_ended callback failed for %s", ticker)

    # --- thread body ---------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Scanner thread: initial scan, then a sweep every ``refresh_interval_seconds`` and a rediscovery every
        10 minutes, until ``stop`` is set. API errors are logged and retried at the next tick."""
        while not stop.is_set():
            now = self.clock.time()
            try:
                if self._last_discovery_ts is None or now - self._last_discovery_ts >= REDISCOVERY_INTERVAL_S:
                    self.rediscover()
                self.sweep(now)
            except (TransientError, RejectedError) as exc:
                log.warning("volatility scanner: %s", exc)
            if self.clock.wait(self._interval_s, stop):
                break


def _with_trades(context: MarketContext, trades: int) -> MarketContext:
    return MarketContext(
        context.ticker,
        context.category,
        context.volume_24h_e4,
        context.close_ts,
        context.has_active_session,
        context.regime,
        trades,
    )
