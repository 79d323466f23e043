"""Discovery's pre-filters, each accepting and rejecting with its reason, and MarketDiscovery on a stub API."""

from __future__ import annotations

from typing import Any

import pytest

from kalshi_mm.api.errors import NotFoundError
from kalshi_mm.api.types import BookSide, Candlestick, Orderbook, Page, Series, Trade
from kalshi_mm.clock import SimClock
from kalshi_mm.config.settings import AppConfig, validate_config
from kalshi_mm.discovery.discovery import (
    MarketDiscovery,
    check_activity,
    check_age,
    check_binary,
    check_category,
    check_expiry,
    check_extreme,
    check_quotes,
    check_status,
    series_ticker_of,
)
from kalshi_mm.discovery.metrics import Activity

CFG = AppConfig()
NOW = 1_767_225_600.0
DAY = 86_400.0


def test_binary(build: Any) -> None:
    assert check_binary(build.market()) is None
    assert check_binary(build.market(market_type="scalar")) == "not binary: market_type 'scalar'"


@pytest.mark.parametrize("status", ["open", "active"])
def test_status_accepts_open_and_active(build: Any, status: str) -> None:
    assert check_status(build.market(status=status)) is None


def test_status_rejects_others(build: Any) -> None:
    assert check_status(build.market(status="paused")) == "status: 'paused' is not open/active"


def test_age(build: Any) -> None:
    assert check_age(build.market(open_ts=NOW - 60), NOW) is None
    assert check_age(build.market(open_ts=None), NOW) is None
    assert check_age(build.market(open_ts=NOW - 59), NOW) == "too new: opened 59 s ago (< 60 s)"


def test_category_exclusion() -> None:
    excluded = CFG.discovery.excluded_categories
    assert check_category("rates", excluded) is None
    assert check_category("long-tail-politics", excluded) == "excluded category: long-tail-politics"


@pytest.mark.parametrize(
    ("category", "ttx_s", "ok"),
    [
        ("default", 1 * DAY, True),
        ("default", 60 * DAY, True),
        ("default", 1 * DAY - 1, False),
        ("default", 60 * DAY + 1, False),
        ("sports", 3600, True),  # sports: 1 hour .. 7 days
        ("sports", 3599, False),
        ("sports", 8 * DAY, False),
        ("rates", 90 * DAY, True),
        ("crypto", 91 * DAY, False),
        ("weather", 12 * 3600, False),  # unlisted -> default window
    ],
)
def test_expiry_windows(build: Any, category: str, ttx_s: float, ok: bool) -> None:
    reason = check_expiry(build.market(close_ts=NOW + ttx_s), category, NOW, CFG.discovery)
    assert (reason is None) is ok
    if not ok:
        assert reason is not None and reason.startswith("expiry too") and f"({category})" in reason


def test_quotes() -> None:
    assert check_quotes(4800, 5200) is None
    assert check_quotes(None, 5200) == "one-sided book: no YES bid"
    assert check_quotes(4800, None) == "one-sided book: no YES ask"
    assert check_quotes(5200, 5200) == "crossed book: bid 0.5200 >= ask 0.5200"


@pytest.mark.parametrize(("mid", "band"), [(1500, None), (8500, None), (1499, "soft"), (9000, "soft"), (400, "hard")])
def test_extreme(mid: int, band: str | None) -> None:
    reason = check_extreme(mid, CFG.extreme_prices)
    assert reason is None if band is None else reason is not None and reason.endswith(f"in the {band} band")


def _activity(*ages_s: float) -> Activity:
    return Activity(0, 0, 0, tuple(NOW - a for a in ages_s))


def _activity_config(scoring_minutes: int, execution_minutes: int = 10) -> AppConfig:
    return validate_config(
        {
            "discovery": {
                "recent_activity": {
                    "scoring": {"min_trades_last_minutes": scoring_minutes, "min_volume_24h_for_bypass": 10000},
                    "execution": {"min_trades_last_minutes": execution_minutes},
                }
            }
        }
    )


def test_scoring_activity_window_zero_means_no_requirement() -> None:
    assert check_activity("scoring", _activity(), 0, NOW, _activity_config(0)) is None


def test_scoring_activity_bypass_by_volume_or_trade() -> None:
    cfg = _activity_config(15)
    assert check_activity("scoring", _activity(), 10_001_0000, NOW, cfg) is None  # > $10,000 bypasses
    assert check_activity("scoring", _activity(14 * 60), 0, NOW, cfg) is None
    reason = check_activity("scoring", _activity(16 * 60), 10_000_0000, NOW, cfg)  # not strictly above
    assert reason == "inactive: 0 trades in the last 15 min (< 1), 24h volume $10000.0000"


def test_execution_activity_requires_n_trades_without_bypass() -> None:
    cfg = _activity_config(0, execution_minutes=10)
    assert check_activity("execution", _activity(60, 120), 0, NOW, cfg, min_trades=2) is None
    reason = check_activity("execution", _activity(60, 11 * 60), 99_999_0000, NOW, cfg, min_trades=2)
    assert reason is not None and reason.startswith("inactive: 1 trades in the last 10 min (< 2)")


def test_series_ticker_of() -> None:
    assert series_ticker_of("KXFEDDECISION-26JAN") == "KXFEDDECISION"


# --- MarketDiscovery on a stub API ------------------------------------------------------------------------------


class StubApi:
    """Serves fixed markets; records which per-market endpoints were called."""

    def __init__(self, markets: list[Any], series: dict[str, Series], trades: dict[str, list[Trade]]):
        self.markets = markets
        self.series = series
        self.trades = trades
        self.calls: list[tuple[str, str]] = []

    def get_all_open_markets(self) -> list[Any]:
        return list(self.markets)

    def get_series(self, series_ticker: str) -> Series:
        self.calls.append(("series", series_ticker))
        if series_ticker not in self.series:
            raise NotFoundError("no such series")
        return self.series[series_ticker]

    def get_orderbook(self, ticker: str, depth: int = 0) -> Orderbook:
        self.calls.append(("orderbook", ticker))
        yes = ((4600, 300_00), (4700, 200_00), (4800, 100_00))
        no = ((5000, 50_00), (5100, 70_00), (5200, 90_00))  # shifted to 0.48..0.50: best YES ask 0.50
        return Orderbook(ticker, yes, tuple((p - 200, c) for p, c in no), NOW)

    def get_trades(
        self, ticker: str | None = None, *, min_ts: int | None = None, limit: int = 1000, cursor: str = ""
    ) -> Page[Trade]:
        self.calls.append(("trades", ticker or ""))
        return Page(tuple(self.trades.get(ticker or "", [])), "")

    def get_candlesticks(
        self, series_ticker: str, ticker: str, *, start_ts: int, end_ts: int, period_interval_min: int = 1
    ) -> list[Candlestick]:
        self.calls.append(("candles", ticker))
        return []


def _series(ticker: str, category: str, tags: tuple[str, ...] = ()) -> Series:
    from decimal import Decimal

    return Series(ticker, ticker, category, (category,), tags, "daily", "quadratic", Decimal("1"), None)


def _trade(ticker: str, age_s: float) -> Trade:
    return Trade(f"t{age_s}", ticker, 500, 5000, BookSide.BID, NOW - age_s, False)


def test_discover_filters_cheaply_then_measures_survivors(build: Any) -> None:
    good = build.market(ticker="KXFED-26MAR-T1", event_ticker="KXFED-26MAR", volume_24h_e2=0)
    too_far = build.market(ticker="KXFED-26MAR-T2", event_ticker="KXFED-26MAR", close_ts=NOW + 200 * DAY)
    scalar = build.market(ticker="KXFED-26MAR-S", event_ticker="KXFED-26MAR", market_type="scalar")
    local = build.market(ticker="KXMAYOR-26-A", event_ticker="KXMAYOR-26")
    unknown = build.market(ticker="KXGONE-26-A", event_ticker="KXGONE-26")
    quiet = build.market(ticker="KXFED-26MAR-T3", event_ticker="KXFED-26MAR", volume_24h_e2=0)
    api = StubApi(
        [good, too_far, scalar, local, unknown, quiet],
        {
            "KXFED": _series("KXFED", "Economics", ("Interest Rates",)),
            "KXMAYOR": _series("KXMAYOR", "Politics", ("Local",)),
        },
        {
            "KXFED-26MAR-T1": [
                _trade("KXFED-26MAR-T1", 60),
                _trade("KXFED-26MAR-T1", 700),
                _trade("KXFED-26MAR-T1", 2000),
            ]
        },
    )
    seen: list[tuple[str, int, int]] = []
    discovery = MarketDiscovery(api, _activity_config(30), SimClock(NOW), progress=lambda *a: seen.append(a))
    result = discovery.discover("scoring")

    assert (result.total_markets, result.binary_markets, result.fetched_ts) == (6, 5, NOW)
    assert [c.ticker for c in result.candidates] == ["KXFED-26MAR-T1"]
    reasons = dict(result.rejected)
    assert reasons["KXFED-26MAR-T2"].startswith("expiry too far")
    assert reasons["KXFED-26MAR-S"].startswith("not binary")
    assert reasons["KXMAYOR-26-A"] == "excluded category: long-tail-politics"
    assert reasons["KXGONE-26-A"] == "series lookup failed: KXGONE"
    assert reasons["KXFED-26MAR-T3"].startswith("inactive")
    # Books and candles only for markets that passed the cheap filters and the activity check; series cached.
    assert {t for kind, t in api.calls if kind == "orderbook"} == {"KXFED-26MAR-T1"}
    assert {t for kind, t in api.calls if kind == "trades"} == {"KXFED-26MAR-T1", "KXFED-26MAR-T3"}
    assert sum(1 for kind, t in api.calls if kind == "series" and t == "KXFED") == 1
    assert seen[0] == ("fetch", 6, 6) and ("filter", 6, 6) in seen and seen[-1] == ("metrics", 2, 2)

    m = result.candidates[0].metrics
    assert result.candidates[0].category == "rates"
    assert (m.yes_bid_e4, m.yes_ask_e4, m.spread_e4, m.mid_e4) == (4800, 5000, 200, 4900)
    assert (m.depth_bid_e2, m.depth_ask_e2, m.depth_levels_e2) == (100_00, 90_00, 200_00 + 300_00 + 70_00 + 50_00)
    assert (m.trades_5m, m.trades_15m, m.volume_1h_e2) == (1, 2, 15_00)
    assert m.time_to_expiry_s == 10 * DAY
    assert m.sigma_is_proxy and m.sigma == pytest.approx(0.05 * (1 + 2 * 0.49 * 0.51))
