"""The simulated catalogue: variety, Kalshi-like shape, determinism."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import yaml

from kalshi_mm.sim.catalogue import TEMPLATES, build_catalogue, category_key
from kalshi_mm.sim.model import FeeType
from kalshi_mm.sim.scenario import KALSHI_CATEGORIES, SCENARIO_DIR, load_scenario, parse_scenario

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HOUR, DAY = 3600, 86_400
TICKER = re.compile(r"^[A-Z0-9]+-[A-Z0-9]+-[A-Z0-9.]+$")


@pytest.fixture(scope="module")
def catalogue():
    return build_catalogue(load_scenario("default"), NOW)


def test_every_category_is_listed_with_its_seed_key(catalogue) -> None:
    categories = {s.series.category for s in catalogue.series}
    assert categories == set(KALSHI_CATEGORIES)
    keys = {m.category_key for m in catalogue.markets()}
    assert {"rates", "economic", "crypto", "sports", "entertainment", "weather", "politics"} <= keys


def test_category_mapping() -> None:
    assert category_key("Economics", ("Interest Rates", "Fed")) == "rates"
    assert category_key("Economics", ("Jobs",)) == "economic"
    assert category_key("Crypto") == "crypto"
    assert category_key("Sports", ("NFL",)) == "sports"
    assert category_key("Entertainment") == "entertainment"
    assert category_key("Politics", ("Local",)) == "long-tail-politics"
    assert category_key("Something new") == "default"


def test_tickers_look_like_kalshi_and_are_unique(catalogue) -> None:
    tickers = [m.ticker for m in catalogue.markets()]
    assert len(tickers) == len(set(tickers))
    for m in catalogue.markets():
        assert TICKER.match(m.ticker), m.ticker
        assert m.ticker.startswith(m.market.event_ticker + "-")
    assert any("." in t for t in tickers)
    assert "KXHIGHNY-26JAN01-B34.5" in tickers
    assert any(t.startswith("KXFEDDECISION-26JAN-") for t in tickers)
    for s in catalogue.series:
        for e in s.events:
            assert e.event.series_ticker == s.series.ticker
            assert e.event.event_ticker.startswith(s.series.ticker + "-")


def test_prices_span_the_extremes_and_events_are_coherent(catalogue) -> None:
    p0 = [m.p0 for m in catalogue.markets()]
    assert any(p < 0.05 for p in p0)
    assert any(p > 0.95 for p in p0)
    assert any(0.3 < p < 0.7 for p in p0)
    exclusive = [e for e in catalogue.events() if e.event.mutually_exclusive]
    ladders = [e for e in catalogue.events() if not e.event.mutually_exclusive and len(e.markets) > 1]
    assert exclusive and ladders
    for e in exclusive:
        assert sum(m.p0 for m in e.markets) == pytest.approx(1.0)
    for e in ladders:
        probs = [m.p0 for m in e.markets]
        assert probs == sorted(probs, reverse=True), e.event.event_ticker


def test_grids_fees_and_tiers_are_mixed(catalogue) -> None:
    structures = {m.market.price_level_structure for m in catalogue.markets()}
    assert structures == {"linear_cent", "tapered_deci_cent", "deci_cent"}
    fee_types = {s.series.fee_type for s in catalogue.series}
    assert {FeeType.QUADRATIC, FeeType.QUADRATIC_WITH_MAKER_FEES} <= fee_types
    tiers = {m.tier for m in catalogue.markets()}
    assert tiers == {"deep", "normal", "thin", "illiquid"}


def test_close_times_span_under_an_hour_to_months(catalogue) -> None:
    to_close = [m.market.close_ts - NOW for m in catalogue.markets()]
    assert min(to_close) < HOUR
    assert max(to_close) > 30 * DAY
    assert any(HOUR < t < DAY for t in to_close)  # volatility mode: short-dated markets
    for m in catalogue.markets():
        assert m.market.open_ts < NOW < m.market.close_ts  # open (and older than a minute) at the start


def test_volume_and_open_interest_follow_the_tier(catalogue) -> None:
    scenario = load_scenario("default")
    for m in catalogue.markets():
        tier = scenario.liquidity[m.tier]
        lo, hi = tier.volume_24h_e2
        assert lo <= m.volume_24h_e2 <= hi
        assert m.market.volume_e2 >= m.volume_24h_e2
        lo, hi = tier.open_interest_e2
        assert lo <= m.market.open_interest_e2 <= hi


def test_same_seed_same_catalogue_other_seed_other_prices() -> None:
    scenario = load_scenario("default")
    a = build_catalogue(scenario, NOW)
    b = build_catalogue(scenario, NOW)
    c = build_catalogue(scenario, NOW, seed=scenario.seed + 1)
    assert a == b
    assert [m.ticker for m in a.markets()] == [m.ticker for m in c.markets()]
    assert [m.p0 for m in a.markets()] != [m.p0 for m in c.markets()]


def test_scenario_picks_the_first_series_of_each_category() -> None:
    quiet = load_scenario("quiet")
    catalogue = build_catalogue(quiet, NOW)
    per_category: dict[str, list[str]] = defaultdict(list)
    for s in catalogue.series:
        per_category[s.series.category].append(s.series.ticker)
    for category, wanted in quiet.catalogue.series_per_category.items():
        expected = [t.ticker for t in TEMPLATES if t.category == category][:wanted]
        assert per_category.get(category, []) == expected


def test_rolling_series_list_events_ahead() -> None:
    catalogue = build_catalogue(load_scenario("default"), NOW)
    btc = next(s for s in catalogue.series if s.series.ticker == "KXBTCD")
    assert [e.close_ts - int(NOW) for e in btc.events] == [40 * 60, 40 * 60 + HOUR]
    assert btc.events[0].event.event_ticker == "KXBTCD-26JAN0100"


def test_copies_list_every_series_again_under_its_own_ticker() -> None:
    raw = yaml.safe_load((SCENARIO_DIR / "default.yaml").read_text())
    raw["catalogue"]["copies"] = 3
    tripled = build_catalogue(parse_scenario(raw), NOW)
    single = build_catalogue(load_scenario("default"), NOW)
    tickers = [s.series.ticker for s in tripled.series]
    base = [s.series.ticker for s in single.series]
    assert tickers == base + [f"{t}2" for t in base] + [f"{t}3" for t in base]
    markets = [m.ticker for m in tripled.markets()]
    assert len(markets) == 3 * len(list(single.markets())) == len(set(markets))
    btc, btc2 = (next(s for s in tripled.series if s.series.ticker == t) for t in ("KXBTCD", "KXBTCD2"))
    assert btc2.events[0].event.event_ticker == "KXBTCD2-26JAN0100"
    assert [m.p0 for e in btc.events for m in e.markets] != [m.p0 for e in btc2.events for m in e.markets]
