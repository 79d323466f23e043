"""Pure pieces of market discovery: category keys, book depth, trade activity and σ estimation.

Units: prices 1/10,000 dollar (``_e4``), counts 1/100 contract (``_e2``), times Unix seconds, σ in dollars
per √hour.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from kalshi_mm.api.types import Candlestick, Orderbook, Trade
from kalshi_mm.units import ONE_DOLLAR

__all__ = [
    "KALSHI_CATEGORY_KEYS",
    "KALSHI_TAG_KEYS",
    "MIN_SIGMA_RETURNS",
    "Activity",
    "BookDepth",
    "activity_of",
    "book_depth",
    "category_key_for",
    "proxy_sigma",
    "sigma_from_candles",
    "slug",
    "volume_value_e4",
]

# Kalshi Series category -> the seed's category key. (category, tag) pairs refine it. These mirror how the
# simulator labels its catalogue, but the daemon owns its copy: the simulator is not a production dependency.
KALSHI_CATEGORY_KEYS: dict[str, str] = {
    "Economics": "economic",
    "Financials": "economic",
    "Crypto": "crypto",
    "Sports": "sports",
    "Entertainment": "entertainment",
    "Climate and Weather": "weather",
    "Politics": "politics",
    "Science and Technology": "tech",
}
KALSHI_TAG_KEYS: dict[tuple[str, str], str] = {
    ("Economics", "Interest Rates"): "rates",
    ("Politics", "Local"): "long-tail-politics",
}
_RESERVED_MAPPING_KEYS = frozenset({"default", "fallback"})

# Fewer 1-minute returns than this make a standard deviation too noisy to beat the proxy.
MIN_SIGMA_RETURNS = 10
_MINUTES_PER_HOUR = 60.0


def slug(text: str) -> str:
    """``"Interest Rates"`` -> ``"interest-rates"``: how a Kalshi label is spelled as a config key."""
    return "-".join(text.lower().split())


def category_key_for(category: str, tags: Sequence[str] = (), configured: Collection[str] = ()) -> str:
    """The seed category key of a Series with Kalshi ``category`` and ``tags``.

    Order: a built-in (category, tag) refinement; a tag whose slug is a key of ``config.category_mapping``
    (``configured``), so operators can route a tag to a profile without code; the built-in category table;
    the category's own slug when configured; else ``default``.
    """
    for tag in tags:
        refined = KALSHI_TAG_KEYS.get((category, tag))
        if refined is not None:
            return refined
    usable = set(configured) - _RESERVED_MAPPING_KEYS
    for tag in tags:
        if slug(tag) in usable:
            return slug(tag)
    known = KALSHI_CATEGORY_KEYS.get(category)
    if known is not None:
        return known
    if slug(category) in usable:
        return slug(category)
    return "default"


@dataclass(frozen=True, slots=True)
class BookDepth:
    """Sizes (1/100 contract) at the best YES bid / ask and on the next ``levels`` levels of both sides."""

    yes_bid_e4: int | None
    yes_ask_e4: int | None
    best_bid_e2: int
    best_ask_e2: int
    next_levels_e2: int


def book_depth(book: Orderbook, levels: int) -> BookDepth:
    """Depth of an orderbook. Kalshi lists bids ascending, best LAST; a NO bid at q is a YES ask at 1 − q."""
    yes = book.yes_bids[::-1]
    no = book.no_bids[::-1]
    return BookDepth(
        yes_bid_e4=yes[0][0] if yes else None,
        yes_ask_e4=ONE_DOLLAR - no[0][0] if no else None,
        best_bid_e2=yes[0][1] if yes else 0,
        best_ask_e2=no[0][1] if no else 0,
        next_levels_e2=sum(c for _, c in yes[1 : 1 + levels]) + sum(c for _, c in no[1 : 1 + levels]),
    )


@dataclass(frozen=True, slots=True)
class Activity:
    """Public trades of one market before ``now``: counts in the last 5 / 15 minutes, contracts in the last
    hour (1/100 contract) and every trade's time, newest first (Unix s)."""

    trades_5m: int
    trades_15m: int
    volume_1h_e2: int
    trade_ts: tuple[float, ...]

    def trades_within(self, minutes: float, now: float) -> int:
        """How many trades are at most ``minutes`` old at ``now``."""
        return sum(1 for ts in self.trade_ts if now - ts <= minutes * 60.0)


def activity_of(trades: Iterable[Trade], now: float) -> Activity:
    """Summarise trades (any order); trades stamped after ``now`` count as just now (clock skew)."""
    t5 = t15 = 0
    vol_1h = 0
    stamps: list[float] = []
    for trade in trades:
        age = max(0.0, now - trade.created_ts)
        if age <= 300.0:
            t5 += 1
        if age <= 900.0:
            t15 += 1
        if age <= 3600.0:
            vol_1h += trade.count_e2
        stamps.append(min(trade.created_ts, now))
    return Activity(t5, t15, vol_1h, tuple(sorted(stamps, reverse=True)))


def volume_value_e4(volume_e2: int, yes_bid_e4: int, yes_ask_e4: int) -> int:
    """Contracts valued at the mid, 1/10,000 dollar, rounded down: ``volume_e2 · (bid + ask) / 200`` exactly."""
    return volume_e2 * (yes_bid_e4 + yes_ask_e4) // 200


def proxy_sigma(baseline: float, mid_e4: int) -> float:
    """The seed's proxy σ = σ_baseline · (1 + 2p(1 − p)), p the YES mid in dollars; units of ``baseline``."""
    p = mid_e4 / ONE_DOLLAR
    return baseline * (1.0 + 2.0 * p * (1.0 - p))


def _candle_price_e4(candle: Candlestick) -> int | None:
    # The quote mid tracks the market even without trades; 0 / $1 quotes mean an empty side (no mid).
    bid, ask = candle.yes_bid.close_e4, candle.yes_ask.close_e4
    if 0 < bid < ONE_DOLLAR and 0 < ask < ONE_DOLLAR and bid <= ask:
        return (bid + ask) // 2
    if candle.price is not None:
        return candle.price.close_e4
    return None


def sigma_from_candles(candles: Sequence[Candlestick], period_min: int = 1) -> float | None:
    """Sample standard deviation of close-to-close price changes (dollars), scaled to one hour (√(60/period));
    None with fewer than :data:`MIN_SIGMA_RETURNS` returns."""
    closes = [p for p in (_candle_price_e4(c) for c in candles) if p is not None]
    diffs = [(b - a) / ONE_DOLLAR for a, b in itertools.pairwise(closes)]
    if len(diffs) < MIN_SIGMA_RETURNS:
        return None
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
    return math.sqrt(var) * math.sqrt(_MINUTES_PER_HOUR / period_min)
