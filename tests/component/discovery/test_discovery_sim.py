"""MarketDiscovery with the real KalshiTradingAPI against the embedded exchange (default scenario, seed 1),
then the scorer and dynamic config on its candidates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.clock import SimClock
from kalshi_mm.config.dynamic import DynamicConfigError, generate_config_for_market
from kalshi_mm.config.settings import AppConfig
from kalshi_mm.discovery.discovery import MarketDiscovery
from kalshi_mm.discovery.models import DiscoveryResult
from kalshi_mm.discovery.scorer import MarketScorer
from kalshi_mm.sim.server import EmbeddedExchange


@pytest.fixture(scope="module")
def run() -> Iterator[tuple[DiscoveryResult, list[tuple[str, int, int]], int]]:
    clock = SimClock()
    with EmbeddedExchange(clock, scenario="default", seed=1) as server:
        assert server.simulation is not None
        for _ in range(60):  # a minute of simulated trading, one step a second
            clock.advance(1.0)
            server.simulation.step(clock.time())
        api = KalshiTradingAPI(server.rest_url, None, clock, tier="prime")
        seen: list[tuple[str, int, int]] = []
        result = MarketDiscovery(api, AppConfig(), clock, progress=lambda *a: seen.append(a)).discover("scoring")
        attempts = api.stats()["attempts"]
        api.close()
    yield result, seen, attempts


def test_candidates_in_several_categories_with_consistent_metrics(run: tuple[DiscoveryResult, list, int]) -> None:
    result, _, _ = run
    assert result.total_markets == result.binary_markets > 50
    assert len(result.candidates) >= 5
    assert len({c.category for c in result.candidates}) >= 3
    for c in result.candidates:
        m = c.metrics
        assert 0 < m.yes_bid_e4 < m.yes_ask_e4 < 10_000
        assert m.spread_e4 == m.yes_ask_e4 - m.yes_bid_e4 and m.mid_e4 == (m.yes_bid_e4 + m.yes_ask_e4) // 2
        assert 1500 <= m.mid_e4 <= 8500  # extreme prices were skipped
        assert m.volume_24h_e4 == m.volume_24h_e2 * (m.yes_bid_e4 + m.yes_ask_e4) // 200
        assert m.trades_5m <= m.trades_15m and m.sigma > 0
        assert c.category not in AppConfig().discovery.excluded_categories
    assert len(result.candidates) + len(result.rejected) == result.total_markets


def test_rejections_carry_reasons(run: tuple[DiscoveryResult, list, int]) -> None:
    result, _, _ = run
    kinds = result.rejection_counts()
    assert {"expiry too soon", "extreme price", "excluded category"} <= set(kinds)
    assert all(reason for _, reason in result.rejected)


def test_progress_and_api_budget(run: tuple[DiscoveryResult, list, int]) -> None:
    result, seen, attempts = run
    assert seen[0] == ("fetch", result.total_markets, result.total_markets)
    assert ("filter", result.total_markets, result.total_markets) in seen
    measured = max(done for stage, done, _ in seen if stage == "metrics")
    # Listing + one series per series + 3 calls per market that passed the cheap filters, nothing for the rest.
    assert measured < result.total_markets
    assert attempts <= 1 + 25 + 3 * measured


def test_scorer_top_n_and_configs(run: tuple[DiscoveryResult, list, int]) -> None:
    result, _, _ = run
    cfg = AppConfig()
    scorer = MarketScorer(cfg.scoring)
    scored = scorer.score(result.candidates)
    top = scorer.top(scored, 5)
    assert len(top) == 5 and all(s.eligible for s in top)
    assert [s.score for s in top] == sorted((s.score for s in top), reverse=True)
    configs = []
    for s in top:
        try:
            configs.append(generate_config_for_market(s, "yes", cfg, active_markets=len(top), mode="discovery"))
        except DynamicConfigError as exc:
            assert exc.reason  # e.g. sports excluded by its profile
    assert configs and all(c.max_position_e2 >= 100 and c.risk_budget_e4 > 0 for c in configs)
