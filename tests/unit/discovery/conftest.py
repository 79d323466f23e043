"""Builders for discovery tests: markets, candidates and scored markets with only the fields a test cares about."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kalshi_mm.api.types import Market
from kalshi_mm.discovery.models import MarketCandidate, MarketMetrics, ScoredMarket
from kalshi_mm.units import PriceGrid

NOW = 1_767_225_600.0
DAY = 86_400.0


def market(**overrides: Any) -> Market:
    """An open binary market 10 days from close, quoted 0.48/0.52, opened a day ago."""
    base = Market(
        ticker="KXTEST-26JAN-T1",
        event_ticker="KXTEST-26JAN",
        status="active",
        market_type="binary",
        title="Test",
        yes_sub_title="",
        no_sub_title="",
        open_ts=NOW - DAY,
        close_ts=NOW + 10 * DAY,
        expected_expiration_ts=None,
        yes_bid_e4=4800,
        yes_bid_size_e2=1000,
        yes_ask_e4=5200,
        yes_ask_size_e2=1000,
        last_price_e4=5000,
        previous_yes_bid_e4=None,
        previous_yes_ask_e4=None,
        previous_price_e4=None,
        volume_e2=0,
        volume_24h_e2=10_000_00,
        open_interest_e2=0,
        result="",
        settlement_value_e4=None,
        can_close_early=False,
        price_level_structure="linear_cent",
        grid=PriceGrid.linear_cent(),
        received_ts=NOW,
    )
    return dataclasses.replace(base, **overrides)


def metrics(**overrides: Any) -> MarketMetrics:
    """A 0.48/0.52 market: 4¢ spread, 10 days out, $10,000 of 24h volume, 1,000 contracts of book."""
    base = MarketMetrics(
        spread_e4=400,
        mid_e4=5000,
        yes_bid_e4=4800,
        yes_ask_e4=5200,
        depth_bid_e2=200_00,
        depth_ask_e2=200_00,
        depth_levels_e2=600_00,
        time_to_expiry_s=10 * DAY,
        volume_24h_e4=10_000_0000,
        volume_24h_e2=20_000_00,
        trades_5m=1,
        trades_15m=3,
        volume_1h_e2=100_00,
        sigma=0.03,
        sigma_is_proxy=False,
        grid=PriceGrid.linear_cent(),
    )
    return dataclasses.replace(base, **overrides)


def candidate(ticker: str = "KXTEST-26JAN-T1", category: str = "rates", **metric_overrides: Any) -> MarketCandidate:
    return MarketCandidate(ticker, "Test", "KXTEST-26JAN", "KXTEST", category, metrics(**metric_overrides))


def scored(ticker: str = "KXTEST-26JAN-T1", category: str = "rates", **metric_overrides: Any) -> ScoredMarket:
    return ScoredMarket(candidate(ticker, category, **metric_overrides), 0.5, {}, (), "medium")


@pytest.fixture
def build() -> Any:
    """The builders, as a namespace (conftest modules are not importable under --import-mode=importlib)."""
    return type(
        "Build",
        (),
        {
            "market": staticmethod(market),
            "metrics": staticmethod(metrics),
            "candidate": staticmethod(candidate),
            "scored": staticmethod(scored),
            "NOW": NOW,
            "DAY": DAY,
        },
    )
