"""Pure pieces of the volatility scanner's market tracking: activity score, top-N selection, sweep chunk size.

Units: prices 1/10,000 $ (``_e4``), sizes and volumes 1/100 contract (``_e2``), times Unix seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from kalshi_mm.api.types import Market
from kalshi_mm.discovery.discovery import check_binary, check_quotes, check_status
from kalshi_mm.discovery.metrics import volume_value_e4
from kalshi_mm.units import PRICE_SCALE

__all__ = ["SWEEP_CYCLE_S", "ScoredMarket", "activity_score", "chunk_size", "select_top"]

# Seed §3.6: round-robin in chunks sized so every tracked market is visited about every 30 s.
SWEEP_CYCLE_S = 30.0
# Share of the account's read budget the scanner may use: quoting threads and discovery need the rest.
_READ_BUDGET_SHARE = 0.5
_ONE_CENT_E4 = PRICE_SCALE // 100


@dataclass(frozen=True, slots=True)
class ScoredMarket:
    """A listed market that qualifies for tracking, with its activity score (higher is more active)."""

    market: Market
    score: float
    volume_24h_e4: int


def activity_score(market: Market) -> float:
    """volume + liquidity + recency − spread, each term on a comparable, unit-free scale.

    * volume: log10(1 + 24h volume in dollars) — a $10,000 market scores 4, so one whale market cannot
      swamp the ranking.
    * liquidity: log10(1 + contracts resting at the best bid plus best ask).
    * recency: share of the market's lifetime volume traded in the last 24 h (0..1): the listing carries no
      last-trade time, and a market whose volume is all old has gone quiet.
    * spread: the quoted spread in 10-cent units, so a 10¢ spread cancels one decade of volume.

    The market must have both quotes (see :func:`qualifies`).
    """
    assert market.yes_bid_e4 is not None and market.yes_ask_e4 is not None
    volume_dollars = volume_value_e4(market.volume_24h_e2, market.yes_bid_e4, market.yes_ask_e4) / PRICE_SCALE
    liquidity_contracts = (market.yes_bid_size_e2 + market.yes_ask_size_e2) / 100
    recency = min(1.0, market.volume_24h_e2 / market.volume_e2) if market.volume_e2 > 0 else 0.0
    spread_tens_of_cents = (market.yes_ask_e4 - market.yes_bid_e4) / (10 * _ONE_CENT_E4)
    return math.log10(1 + volume_dollars) + math.log10(1 + liquidity_contracts) + recency - spread_tens_of_cents


def qualifies(market: Market, now: float) -> bool:
    """Binary, open, two-sided uncrossed quotes and not yet closed: the only markets worth a sweep slot."""
    return (
        check_binary(market) is None
        and check_status(market) is None
        and check_quotes(market.yes_bid_e4, market.yes_ask_e4) is None
        and market.close_ts > now
    )


def select_top(markets: Iterable[Market], now: float, limit: int) -> list[ScoredMarket]:
    """The ``limit`` qualifying markets with the highest activity score, best first (ties by ticker)."""
    scored = []
    for market in markets:
        if not qualifies(market, now):
            continue
        assert market.yes_bid_e4 is not None and market.yes_ask_e4 is not None
        volume = volume_value_e4(market.volume_24h_e2, market.yes_bid_e4, market.yes_ask_e4)
        scored.append(ScoredMarket(market, activity_score(market), volume))
    scored.sort(key=lambda s: (-s.score, s.market.ticker))
    return scored[: max(0, limit)]


def chunk_size(tracked: int, interval_s: float, read_requests_per_s: float, requests_per_market: float = 1.0) -> int:
    """Markets per REST sweep: enough to visit all ``tracked`` in about 30 s, capped by the rate budget.

    ``interval_s`` is the sweep period; ``read_requests_per_s`` the account's read rate in requests; each
    market costs ``requests_per_market`` requests and each chunk one more (the listing refresh).
    """
    if tracked <= 0:
        return 0
    wanted = math.ceil(tracked * interval_s / SWEEP_CYCLE_S)
    budget = int((read_requests_per_s * interval_s * _READ_BUDGET_SHARE - 1) / requests_per_market)
    return max(1, min(tracked, wanted, budget))
