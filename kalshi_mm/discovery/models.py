"""Frozen results of market discovery and scoring.

Units (as in :mod:`kalshi_mm.api.types`):

* ``*_e4``: prices and money in 1/10,000 dollar; prices are on the YES leg.
* ``*_e2``: contract counts in 1/100 contract.
* ``*_s`` / ``*_ts``: seconds / Unix seconds.
* ``sigma``: volatility of the YES price in dollars per √hour (a price move of ``sigma`` dollars is one
  standard deviation over one hour).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kalshi_mm.units import PriceGrid

__all__ = ["DiscoveryMode", "DiscoveryResult", "MarketCandidate", "MarketMetrics", "ScoredMarket"]

DiscoveryMode = Literal["scoring", "execution"]

_DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class MarketMetrics:
    """What discovery measured about one market, at ``DiscoveryResult.fetched_ts``.

    * ``spread_e4``: best YES ask − best YES bid (equal to the NO leg's spread on a binary market, so it is
      also the tightest of the two).
    * ``mid_e4``: (bid + ask) / 2 rounded down to 1/10,000 dollar.
    * ``depth_bid_e2`` / ``depth_ask_e2``: size resting at the best YES bid / best YES ask.
    * ``depth_levels_e2``: size resting on the next N levels of both sides (N = ``MarketDiscovery.depth_levels``).
    * ``time_to_expiry_s``: close time − now, seconds.
    * ``volume_24h_e2``: contracts traded in the last 24 h; ``volume_24h_e4`` the same valued at the mid
      (``volume_24h_e2 · (bid + ask) / 200``, rounded down: exact integers).
    * ``trades_5m`` / ``trades_15m``: public trades in the last 5 / 15 minutes; ``volume_1h_e2``: contracts
      traded in the last hour.
    * ``sigma`` ($/√hour) from 1-minute candles of the last hour; ``sigma_is_proxy`` when too few candles
      existed and the seed's proxy σ_baseline·(1 + 2p(1 − p)) was used instead.
    """

    spread_e4: int
    mid_e4: int
    yes_bid_e4: int
    yes_ask_e4: int
    depth_bid_e2: int
    depth_ask_e2: int
    depth_levels_e2: int
    time_to_expiry_s: float
    volume_24h_e4: int
    volume_24h_e2: int
    trades_5m: int
    trades_15m: int
    volume_1h_e2: int
    sigma: float
    sigma_is_proxy: bool
    grid: PriceGrid | None

    @property
    def book_depth_e2(self) -> int:
        """Best bid + best ask + next-N-levels size, 1/100 contract (the scorer's book liquidity)."""
        return self.depth_bid_e2 + self.depth_ask_e2 + self.depth_levels_e2

    @property
    def book_value_e4(self) -> int:
        """The visible book valued at the mid, 1/10,000 dollar (rounded down): the 'liquidity' that sizes risk."""
        return self.book_depth_e2 * self.mid_e4 // 100

    @property
    def volume_1h_e4(self) -> int:
        """Last-hour volume valued at the mid, 1/10,000 dollar (rounded down)."""
        return self.volume_1h_e2 * self.mid_e4 // 100

    @property
    def time_to_expiry_days(self) -> float:
        return self.time_to_expiry_s / _DAY_S


@dataclass(frozen=True, slots=True)
class MarketCandidate:
    """A market that passed discovery's pre-filters. ``category`` is the seed's key (``rates``, ``crypto``,
    ``sports``, ...), derived from the market's Series."""

    ticker: str
    title: str
    event_ticker: str
    series_ticker: str
    category: str
    metrics: MarketMetrics


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    """One discovery run. ``rejected`` holds ``(ticker, reason)`` for every market that did not become a candidate
    (non-binary markets included); ``fetched_ts`` is the clock's time when the listing was fetched."""

    total_markets: int
    binary_markets: int
    candidates: tuple[MarketCandidate, ...]
    rejected: tuple[tuple[str, str], ...]
    fetched_ts: float

    def rejection_counts(self) -> dict[str, int]:
        """How many markets each kind of reason rejected (the reason's text before the first ':')."""
        counts: dict[str, int] = {}
        for _, reason in self.rejected:
            kind = reason.split(":", 1)[0]
            counts[kind] = counts.get(kind, 0) + 1
        return counts


@dataclass(frozen=True, slots=True)
class ScoredMarket:
    """A candidate with its score. ``features`` are the normalised [0, 1] inputs plus raw figures (keys ending
    ``_raw``); ``eligible`` is False when the market is below ``scoring.min_volume_24h`` (never selected)."""

    candidate: MarketCandidate
    score: float
    features: dict[str, float]
    reasons: tuple[str, ...]
    volume_band: str
    eligible: bool = True

    @property
    def ticker(self) -> str:
        return self.candidate.ticker
