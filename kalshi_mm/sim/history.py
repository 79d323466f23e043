"""Per-market history the REST API reports but the matching engine does not keep: top-of-book over time,
trailing 24h volume, day-ago prices and candlesticks.

:class:`MarketHistory` listens to the exchange's events (it is called under the exchange lock, in event
order) and keeps its own lock, ``_lock``, guarding ``_tops`` and ``_trades`` for readers on other threads.
Times are Unix milliseconds internally; prices in 1/10,000 dollar; counts in 1/100 contract.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from kalshi_mm.sim.events import BookDelta, ExchangeEvent, TradeEvent
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.units import ONE_DOLLAR, format_count, format_price

__all__ = ["MarketHistory", "TopSample"]

DAY_MS = 86_400_000
# Kalshi's candlestick periods, in minutes.
PERIODS_MIN = (1, 60, 1440)
MAX_CANDLES = 5000


@dataclass(frozen=True, slots=True)
class TopSample:
    ts_ms: int
    yes_bid_e4: int  # 0 = no bid
    yes_ask_e4: int  # ONE_DOLLAR = no ask


class MarketHistory:
    """Top-of-book samples (on change) and trades per market, with the queries the REST layer needs."""

    def __init__(self, exchange: Exchange):
        self._exchange = exchange
        self._lock = threading.Lock()
        self._tops: dict[str, list[TopSample]] = defaultdict(list)
        self._trades: dict[str, list[tuple[int, int, int]]] = defaultdict(list)  # (ts_ms, price_e4, count_e2)
        exchange.add_listener(self._on_event)

    def _on_event(self, event: ExchangeEvent) -> None:
        if isinstance(event, BookDelta):
            top = self._exchange.top_of_book(event.ticker)  # re-entrant: we are under the exchange lock
            sample = TopSample(
                event.ts_ms, top.yes_bid_e4 or 0, top.yes_ask_e4 if top.yes_ask_e4 is not None else ONE_DOLLAR
            )
            with self._lock:
                samples = self._tops[event.ticker]
                if not samples or (samples[-1].yes_bid_e4, samples[-1].yes_ask_e4) != (
                    sample.yes_bid_e4,
                    sample.yes_ask_e4,
                ):
                    samples.append(sample)
        elif isinstance(event, TradeEvent):
            t = event.trade
            with self._lock:
                self._trades[t.ticker].append((t.ts_ms, t.yes_price_e4, t.count_e2))

    def volume_24h_e2(self, ticker: str, now_ms: int) -> int:
        """Contracts traded on this exchange in the 24h before ``now_ms``."""
        since = now_ms - DAY_MS
        with self._lock:
            trades = self._trades.get(ticker, [])
            i = bisect.bisect_left(trades, (since, -1, -1))
            return sum(c for _, _, c in trades[i:])

    def _top_at(self, ticker: str, ts_ms: int) -> TopSample | None:
        samples = self._tops.get(ticker, [])
        i = bisect.bisect_right([s.ts_ms for s in samples], ts_ms)
        return samples[i - 1] if i else None

    def previous(self, ticker: str, now_ms: int, last_price_e4: int) -> tuple[int, int, int]:
        """(yes_bid, yes_ask, last trade price) 24h ago; the earliest known values before that."""
        then = now_ms - DAY_MS
        with self._lock:
            top = self._top_at(ticker, then) or (self._tops[ticker][0] if self._tops.get(ticker) else None)
            trades = self._trades.get(ticker, [])
            i = bisect.bisect_right(trades, (then, ONE_DOLLAR + 1, 0))
            price = trades[i - 1][1] if i else (trades[0][1] if trades else last_price_e4)
        if top is None:
            return 0, 0, price
        return top.yes_bid_e4, top.yes_ask_e4, price

    def candlesticks(
        self, ticker: str, start_s: int, end_s: int, period_min: int, open_interest_e2: int
    ) -> list[dict[str, Any]]:
        """``MarketCandlestick`` objects for periods ending in (start_s, end_s], oldest first."""
        period_ms = period_min * 60_000
        first_end = (start_s * 1000 // period_ms + 1) * period_ms
        ends = range(first_end, end_s * 1000 + 1, period_ms)
        out: list[dict[str, Any]] = []
        with self._lock:
            samples = self._tops.get(ticker, [])
            sample_ts = [s.ts_ms for s in samples]
            trades = self._trades.get(ticker, [])
            for end in list(ends)[-MAX_CANDLES:]:
                begin = end - period_ms
                i0 = bisect.bisect_right(sample_ts, begin)
                i1 = bisect.bisect_right(sample_ts, end)
                opening = samples[i0 - 1] if i0 else None
                window = ([opening] if opening else []) + samples[i0:i1]
                t0 = bisect.bisect_right(trades, (begin, ONE_DOLLAR + 1, 0))
                t1 = bisect.bisect_right(trades, (end, ONE_DOLLAR + 1, 0))
                period_trades = trades[t0:t1]
                out.append(
                    {
                        "end_period_ts": end // 1000,
                        "yes_bid": _ohlc([s.yes_bid_e4 for s in window], 0),
                        "yes_ask": _ohlc([s.yes_ask_e4 for s in window], ONE_DOLLAR),
                        "price": _price_distribution(period_trades),
                        "volume_fp": format_count(sum(c for _, _, c in period_trades)),
                        "open_interest_fp": format_count(open_interest_e2),
                    }
                )
        return out


def _ohlc(values: list[int], empty: int) -> dict[str, str]:
    if not values:
        values = [empty]
    return {
        "open_dollars": format_price(values[0]),
        "high_dollars": format_price(max(values)),
        "low_dollars": format_price(min(values)),
        "close_dollars": format_price(values[-1]),
    }


def _price_distribution(trades: list[tuple[int, int, int]]) -> dict[str, str | None]:
    if not trades:
        return {
            "open_dollars": None,
            "high_dollars": None,
            "low_dollars": None,
            "close_dollars": None,
            "mean_dollars": None,
        }
    prices = [p for _, p, _ in trades]
    volume = sum(c for _, _, c in trades)
    mean = (2 * sum(p * c for _, p, c in trades) + volume) // (2 * volume) if volume else prices[-1]
    return {
        "open_dollars": format_price(prices[0]),
        "high_dollars": format_price(max(prices)),
        "low_dollars": format_price(min(prices)),
        "close_dollars": format_price(prices[-1]),
        "mean_dollars": format_price(mean),
    }
