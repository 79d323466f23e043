"""``MarketDiscovery``: list every open Kalshi market, keep the binary ones worth market making, and measure them.

Two passes keep the API budget small: cheap pre-filters use only the listing and one cached Series lookup per
series (status, age, category, time to expiry, two-sided quotes, extreme prices); only the survivors cost a
trades page, an orderbook and a candlestick request each (activity, depth, σ).

Every filter is a pure function returning ``None`` (accept) or a reason ``"kind: detail"``; rejected markets are
reported with their reason. Units as in :mod:`kalshi_mm.discovery.models`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from kalshi_mm.api.errors import RejectedError, TransientError
from kalshi_mm.api.types import Candlestick, Market, Orderbook, Page, Series, Trade
from kalshi_mm.clock import Clock
from kalshi_mm.config.sections_trading import DiscoveryConfig, ExtremePricesConfig
from kalshi_mm.config.settings import AppConfig
from kalshi_mm.discovery.metrics import (
    Activity,
    activity_of,
    book_depth,
    category_key_for,
    proxy_sigma,
    sigma_from_candles,
    volume_value_e4,
)
from kalshi_mm.discovery.models import DiscoveryMode, DiscoveryResult, MarketCandidate, MarketMetrics
from kalshi_mm.units import format_dollars, format_price

__all__ = [
    "MIN_MARKET_AGE_S",
    "DiscoveryApi",
    "MarketDiscovery",
    "Progress",
    "check_activity",
    "check_age",
    "check_binary",
    "check_category",
    "check_expiry",
    "check_extreme",
    "check_quotes",
    "check_status",
    "series_ticker_of",
]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

MIN_MARKET_AGE_S = 60.0  # a newborn market's book is still garbage (seed §3.3)
_TRADABLE_STATUSES = frozenset({"open", "active"})
_TRADES_WINDOW_S = 3600  # the longest metric window (volume in the last hour)
_MAX_TRADE_PAGES = 5  # 5,000 trades an hour is far past "active"; stop paying for more pages
_SIGMA_LOOKBACK_S = 3600


class DiscoveryApi(Protocol):
    """The part of :class:`~kalshi_mm.api.rest.KalshiTradingAPI` discovery uses (stubs implement this)."""

    def get_all_open_markets(self) -> list[Market]: ...

    def get_series(self, series_ticker: str) -> Series: ...

    def get_orderbook(self, ticker: str, depth: int = 0) -> Orderbook: ...

    def get_trades(
        self, ticker: str | None = None, *, min_ts: int | None = None, limit: int = 1000, cursor: str = ""
    ) -> Page[Trade]: ...

    def get_candlesticks(
        self, series_ticker: str, ticker: str, *, start_ts: int, end_ts: int, period_interval_min: int = 1
    ) -> list[Candlestick]: ...


# --- pure pre-filters -------------------------------------------------------------------------------------------


def series_ticker_of(event_ticker: str) -> str:
    """Kalshi event tickers start with their series ticker: ``KXFEDDECISION-26JAN`` -> ``KXFEDDECISION``."""
    return event_ticker.split("-", 1)[0]


def check_binary(market: Market) -> str | None:
    return None if market.market_type == "binary" else f"not binary: market_type {market.market_type!r}"


def check_status(market: Market) -> str | None:
    return None if market.status in _TRADABLE_STATUSES else f"status: {market.status!r} is not open/active"


def check_age(market: Market, now: float, min_age_s: float = MIN_MARKET_AGE_S) -> str | None:
    """Reject markets opened less than ``min_age_s`` seconds ago; a listing without ``open_ts`` passes."""
    if market.open_ts is None:
        return None
    age = now - market.open_ts
    return None if age >= min_age_s else f"too new: opened {age:.0f} s ago (< {min_age_s:.0f} s)"


def check_category(category: str, excluded: Sequence[str]) -> str | None:
    return f"excluded category: {category}" if category in excluded else None


def check_expiry(market: Market, category: str, now: float, discovery: DiscoveryConfig) -> str | None:
    """Time to close must lie in the category's window (``discovery.time_windows``, else ``default``)."""
    low, high = discovery.time_window_for(category).bounds_seconds()
    ttx = market.close_ts - now
    if ttx < low:
        return f"expiry too soon: {ttx / 3600:.2f} h < {low / 3600:.2f} h ({category})"
    if ttx > high:
        return f"expiry too far: {ttx / 86400:.1f} d > {high / 86400:.1f} d ({category})"
    return None


def check_quotes(yes_bid_e4: int | None, yes_ask_e4: int | None) -> str | None:
    """Both sides must be quoted and uncrossed: spread and mid need them."""
    if yes_bid_e4 is None or yes_ask_e4 is None:
        side = "bid" if yes_bid_e4 is None else "ask"
        return f"one-sided book: no YES {side}"
    if yes_bid_e4 >= yes_ask_e4:
        return f"crossed book: bid {format_price(yes_bid_e4)} >= ask {format_price(yes_ask_e4)}"
    return None


def check_extreme(mid_e4: int, extreme: ExtremePricesConfig) -> str | None:
    """Discovery skips soft and hard extreme prices (the volatility mode handles them separately)."""
    band = extreme.classify(mid_e4)
    return None if band == "normal" else f"extreme price: mid {format_price(mid_e4)} is in the {band} band"


def check_activity(
    mode: DiscoveryMode, activity: Activity, volume_24h_e4: int, now: float, config: AppConfig, min_trades: int = 1
) -> str | None:
    """Recent-activity filter (``discovery.recent_activity``; a window of 0 minutes means no requirement).

    scoring: pass when 24h volume (dollars) exceeds ``min_volume_24h_for_bypass`` or ``min_trades`` trades
    happened in the last ``scoring.min_trades_last_minutes``; execution: ``min_trades`` trades in the last
    ``execution.min_trades_last_minutes`` are required, with no volume bypass.
    """
    recent = config.discovery.recent_activity
    if mode == "scoring":
        minutes = recent.scoring.min_trades_last_minutes
        if minutes == 0 or volume_24h_e4 > recent.scoring.min_volume_24h_for_bypass:
            return None
    else:
        minutes = recent.execution.min_trades_last_minutes
        if minutes == 0:
            return None
    count = activity.trades_within(minutes, now)
    if count >= min_trades:
        return None
    return (
        f"inactive: {count} trades in the last {minutes} min (< {min_trades}), "
        f"24h volume ${format_dollars(volume_24h_e4)}"
    )


def _listing_mid(market: Market) -> int:
    assert market.yes_bid_e4 is not None and market.yes_ask_e4 is not None  # check_quotes ran first
    return (market.yes_bid_e4 + market.yes_ask_e4) // 2


# --- the discovery object ---------------------------------------------------------------------------------------


class MarketDiscovery:
    """Fetch, pre-filter and measure open markets. ``depth_levels`` is N of "best level plus the next N levels";
    ``min_recent_trades`` is the trades required inside the recent-activity window. Series (and so categories)
    are cached for the object's life: a series' category does not change. Not thread-safe: one owner."""

    def __init__(
        self,
        api: DiscoveryApi,
        config: AppConfig,
        clock: Clock,
        *,
        progress: Progress | None = None,
        depth_levels: int = 5,
        min_recent_trades: int = 1,
    ):
        self.api = api
        self.config = config
        self.clock = clock
        self.depth_levels = depth_levels
        self.min_recent_trades = min_recent_trades
        self._progress = progress
        self._series: dict[str, Series | None] = {}

    def _report(self, stage: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(stage, done, total)

    def category_of(self, series_ticker: str) -> str | None:
        """The seed category key of a series (cached), or None when the series cannot be fetched."""
        if series_ticker not in self._series:
            try:
                self._series[series_ticker] = self.api.get_series(series_ticker)
            except (TransientError, RejectedError) as exc:
                log.warning("series %s lookup failed: %s", series_ticker, exc)
                return None  # not cached: a transient failure may succeed on the next run
        series = self._series[series_ticker]
        if series is None:
            return None
        return category_key_for(series.category, series.tags, self.config.category_mapping.keys())

    def discover(self, mode: DiscoveryMode = "scoring") -> DiscoveryResult:
        """One full run: listing -> cheap filters -> per-market fetches -> candidates with metrics."""
        fetched_ts = self.clock.time()
        markets = self.api.get_all_open_markets()
        total = len(markets)
        self._report("fetch", total, total)
        rejected: list[tuple[str, str]] = []
        survivors: list[tuple[Market, str]] = []
        binary = 0
        for i, market in enumerate(markets, 1):
            if (reason := check_binary(market)) is None:
                binary += 1
                category = self.category_of(series_ticker_of(market.event_ticker))
                reason = self._cheap_reason(market, category, fetched_ts)
                if reason is None and category is not None:
                    survivors.append((market, category))
            if reason is not None:
                rejected.append((market.ticker, reason))
            self._report("filter", i, total)
        candidates: list[MarketCandidate] = []
        for i, (market, category) in enumerate(survivors, 1):
            outcome = self._measure(market, category, mode)
            if isinstance(outcome, str):
                rejected.append((market.ticker, outcome))
            else:
                candidates.append(outcome)
            self._report("metrics", i, len(survivors))
        log.info(
            "discovery (%s): %d markets, %d binary, %d passed cheap filters, %d candidates",
            mode,
            total,
            binary,
            len(survivors),
            len(candidates),
        )
        return DiscoveryResult(total, binary, tuple(candidates), tuple(rejected), fetched_ts)

    def _cheap_reason(self, market: Market, category: str | None, now: float) -> str | None:
        if category is None:
            return f"series lookup failed: {series_ticker_of(market.event_ticker)}"
        return (
            check_status(market)
            or check_age(market, now)
            or check_category(category, self.config.discovery.excluded_categories)
            or check_expiry(market, category, now, self.config.discovery)
            or check_quotes(market.yes_bid_e4, market.yes_ask_e4)
            or check_extreme(_listing_mid(market), self.config.extreme_prices)
        )

    def _measure(self, market: Market, category: str, mode: DiscoveryMode) -> MarketCandidate | str:
        """Fetch trades, the book and candles of one market: a candidate, or the reason it was dropped."""
        series = series_ticker_of(market.event_ticker)
        try:
            now = self.clock.time()
            activity = activity_of(self._recent_trades(market.ticker, now), now)
            assert market.yes_bid_e4 is not None and market.yes_ask_e4 is not None
            vol24_e4 = volume_value_e4(market.volume_24h_e2, market.yes_bid_e4, market.yes_ask_e4)
            reason = check_activity(mode, activity, vol24_e4, now, self.config, self.min_recent_trades)
            if reason is not None:
                return reason
            depth = book_depth(self.api.get_orderbook(market.ticker, self.depth_levels + 1), self.depth_levels)
            # The book is fresher than the listing: re-check with its prices.
            reason = check_quotes(depth.yes_bid_e4, depth.yes_ask_e4)
            if reason is not None:
                return reason
            assert depth.yes_bid_e4 is not None and depth.yes_ask_e4 is not None
            mid = (depth.yes_bid_e4 + depth.yes_ask_e4) // 2
            reason = check_extreme(mid, self.config.extreme_prices)
            if reason is not None:
                return reason
            sigma = self._sigma(series, market.ticker, now)
        except (TransientError, RejectedError) as exc:
            return f"fetch failed: {type(exc).__name__}: {exc}"
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
            trades_5m=activity.trades_5m,
            trades_15m=activity.trades_15m,
            volume_1h_e2=activity.volume_1h_e2,
            sigma=sigma if sigma is not None else proxy_sigma(self.config.as_model.sigma.baseline, mid),
            sigma_is_proxy=sigma is None,
            grid=market.grid,
        )
        return MarketCandidate(market.ticker, market.title, market.event_ticker, series, category, metrics)

    def _recent_trades(self, ticker: str, now: float) -> list[Trade]:
        recent = self.config.discovery.recent_activity
        minutes = max(recent.scoring.min_trades_last_minutes, recent.execution.min_trades_last_minutes)
        min_ts = int(now - max(_TRADES_WINDOW_S, minutes * 60))
        trades: list[Trade] = []
        cursor = ""
        for _ in range(_MAX_TRADE_PAGES):
            page = self.api.get_trades(ticker, min_ts=min_ts, cursor=cursor)
            trades.extend(page.items)
            cursor = page.cursor
            if not cursor:
                break
        return trades

    def _sigma(self, series: str, ticker: str, now: float) -> float | None:
        """σ ($/√hour) from the last hour of 1-minute candles; None (use the proxy) when history is short."""
        end = int(now)
        candles = self.api.get_candlesticks(
            series, ticker, start_ts=end - _SIGMA_LOOKBACK_S, end_ts=end, period_interval_min=1
        )
        return sigma_from_candles(candles, period_min=1)
