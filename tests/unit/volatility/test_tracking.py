"""Pure tracking helpers of the volatility scanner: activity score, top-N selection and sweep chunk size."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kalshi_mm.api.types import Market
from kalshi_mm.units import PriceGrid
from kalshi_mm.volatility.tracking import activity_score, chunk_size, qualifies, select_top

NOW = 1_767_225_600.0


def market(**overrides: Any) -> Market:
    """An open binary market quoted 0.48/0.52 (10 contracts a side), $5,000 of 24h volume, half its lifetime's."""
    base = Market(
        ticker="KXTEST-26JAN-T1",
        event_ticker="KXTEST-26JAN",
        status="active",
        market_type="binary",
        title="Test",
        yes_sub_title="",
        no_sub_title="",
        open_ts=NOW - 86_400,
        close_ts=NOW + 3600,
        expected_expiration_ts=None,
        yes_bid_e4=4800,
        yes_bid_size_e2=1000,
        yes_ask_e4=5200,
        yes_ask_size_e2=1000,
        last_price_e4=5000,
        previous_yes_bid_e4=None,
        previous_yes_ask_e4=None,
        previous_price_e4=None,
        volume_e2=20_000_00,
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


def test_score_terms() -> None:
    # log10(1 + 5000) + log10(1 + 20) + 0.5 - 0.4
    assert activity_score(market()) == pytest.approx(3.69906 + 1.32222 + 0.5 - 0.4, abs=1e-4)
    assert activity_score(market(volume_24h_e2=20_000_00)) > activity_score(market())  # volume and recency
    assert activity_score(market(yes_bid_size_e2=100_00)) > activity_score(market())  # liquidity
    assert activity_score(market(yes_ask_e4=5800)) < activity_score(market())  # spread
    assert activity_score(market(volume_e2=0, volume_24h_e2=0)) < activity_score(market())


@pytest.mark.parametrize(
    "overrides",
    [
        {"market_type": "scalar"},
        {"status": "paused"},
        {"yes_bid_e4": None},
        {"yes_ask_e4": 4800},
        {"close_ts": NOW},
    ],
)
def test_unqualified_markets_are_not_tracked(overrides: dict[str, Any]) -> None:
    assert not qualifies(market(**overrides), NOW)
    assert select_top([market(**overrides)], NOW, 10) == []


def test_select_top_orders_by_score_and_limits() -> None:
    markets = [market(ticker=f"M{i}", volume_24h_e2=(i + 1) * 1_000_00) for i in range(5)]
    top = select_top(markets, NOW, 3)
    assert [s.market.ticker for s in top] == ["M4", "M3", "M2"]
    assert top[0].volume_24h_e4 == 5_000_00 * 5000 // 100
    assert select_top(markets, NOW, 0) == []


def test_chunk_size_targets_a_30s_cycle_within_the_budget() -> None:
    assert chunk_size(0, 3.0, 20.0) == 0
    assert chunk_size(200, 3.0, 400.0) == 20  # 200 markets in 10 sweeps of 3 s
    assert chunk_size(5, 3.0, 400.0) == 1
    assert chunk_size(200, 3.0, 4.0) == 5  # basic-tier budget share: 4 req/s · 3 s · 0.5 − 1 listing
    assert chunk_size(200, 3.0, 0.1) == 1  # always progress
