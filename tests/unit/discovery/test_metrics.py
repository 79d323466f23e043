"""Pure discovery metrics: category keys, σ from candles, proxy σ."""

from __future__ import annotations

import math

import pytest

from kalshi_mm.api.types import Candlestick, Ohlc
from kalshi_mm.discovery.metrics import category_key_for, proxy_sigma, sigma_from_candles


@pytest.mark.parametrize(
    ("category", "tags", "configured", "key"),
    [
        ("Economics", ("Interest Rates", "Fed"), (), "rates"),
        ("Economics", ("Inflation",), (), "economic"),
        ("Politics", ("Local",), (), "long-tail-politics"),
        ("Crypto", ("BTC",), (), "crypto"),
        ("Economics", ("Inflation",), ("inflation", "default"), "inflation"),  # a configured tag wins
        ("Mentions", (), ("mentions",), "mentions"),  # an unknown category routed by config
        ("Mentions", (), (), "default"),
    ],
)
def test_category_key_for(category: str, tags: tuple[str, ...], configured: tuple[str, ...], key: str) -> None:
    assert category_key_for(category, tags, configured) == key


def _candle(ts: int, bid: int, ask: int) -> Candlestick:
    return Candlestick(ts, Ohlc(bid, bid, bid, bid), Ohlc(ask, ask, ask, ask), None, 0, 0)


def test_sigma_from_alternating_candles() -> None:
    # Mid alternates 0.50 / 0.51: changes ±$0.01, sample std √(n/(n−1))·0.01, scaled by √60 to one hour.
    candles = [_candle(60 * i, 4900 + 100 * (i % 2), 5100 + 100 * (i % 2)) for i in range(21)]
    diffs = [0.01 * (-1) ** i for i in range(20)]
    mean = sum(diffs) / 20
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 19)
    assert sigma_from_candles(candles) == pytest.approx(std * math.sqrt(60))


def test_sigma_needs_history_and_skips_empty_quotes() -> None:
    assert sigma_from_candles([_candle(60 * i, 4900, 5100) for i in range(10)]) is None  # 9 returns
    assert sigma_from_candles([_candle(60 * i, 0, 10_000) for i in range(30)]) is None


def test_proxy_sigma() -> None:
    assert proxy_sigma(0.05, 5000) == pytest.approx(0.075)
    assert proxy_sigma(0.05, 1000) == pytest.approx(0.05 * (1 + 2 * 0.1 * 0.9))
