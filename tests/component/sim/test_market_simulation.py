"""The simulated market on a real exchange with a manual clock: determinism, flow, events, lifecycle, invariants."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

import pytest
import yaml

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import MarketStatus, OrderStatus, Side
from kalshi_mm.sim.scenario import SCENARIO_DIR, Scenario, ScenarioError, load_scenario, parse_scenario
from kalshi_mm.sim.simulation import MarketSimulation

HOUR, DAY = 3600, 86_400
JUMP_E4, BACK_E4 = 1200, 600  # the seed's volatility scanner: 12¢ jump, 6¢ mean-reversion tolerance
JUMP_WINDOW_S = 300


def scenario_with(**changes: Any) -> Scenario:
    raw = yaml.safe_load((SCENARIO_DIR / "default.yaml").read_text())
    raw.update(changes)
    return parse_scenario(raw)


def make(scenario: Scenario, seed: int | None = None) -> tuple[SimClock, Exchange, MarketSimulation]:
    clock = SimClock()
    exchange = Exchange(clock, seed=1)
    return clock, exchange, MarketSimulation(exchange, clock, scenario, seed=seed)


def run(clock: SimClock, sim: MarketSimulation, seconds: float, every: Any = None) -> None:
    steps = round(seconds / sim.scenario.step_s)
    for i in range(steps):
        clock.advance(sim.scenario.step_s)
        sim.step(clock.time())
        if every is not None:
            every(i)


def check_invariants(exchange: Exchange, sim: MarketSimulation) -> None:
    for user in sim.user_ids:
        assert exchange.balance_e6(user) >= 0, user
    ledger = exchange.ledger()
    assert ledger.balanced
    assert ledger.open_yes_e2 == ledger.open_no_e2


def trade_tuples(exchange: Exchange) -> list[tuple]:
    return [(t.trade_id, t.ticker, t.yes_price_e4, t.count_e2, t.taker_side, t.ts_ms) for t in exchange.trade_log()]


class ComeBackDetector:
    """A ≥12¢ move of the mid within 5 minutes that then comes back within 6¢ of where it started, sampled
    like the seed's scanner sweeps (every few seconds) on markets it would watch: not sports, closing within
    24 h, spread ≤ 10¢."""

    def __init__(self) -> None:
        self.history: dict[str, deque[tuple[float, float]]] = {}
        self.events: list[tuple[float, str, float, float]] = []  # (time, ticker, start mid, extreme mid)

    def sample(self, exchange: Exchange, sim: MarketSimulation, now: float) -> None:
        for spec in sim.market_specs():
            if spec.category_key == "sports" or not now < spec.market.close_ts <= now + DAY:
                continue
            top = exchange.top_of_book(spec.ticker)
            if top.yes_bid_e4 is None or top.yes_ask_e4 is None or top.yes_ask_e4 - top.yes_bid_e4 > 1000:
                continue
            mid = (top.yes_bid_e4 + top.yes_ask_e4) / 2
            window = self.history.setdefault(spec.ticker, deque())
            window.append((now, mid))
            while window[0][0] < now - JUMP_WINDOW_S:
                window.popleft()
            start = window[0][1]
            extreme = max((m for _, m in window), key=lambda m: abs(m - start))
            if abs(extreme - start) >= JUMP_E4 and abs(mid - start) <= BACK_E4:
                self.events.append((now, spec.ticker, start, extreme))
                window.clear()


@pytest.fixture(scope="module")
def default_minute() -> tuple[SimClock, Exchange, MarketSimulation]:
    """The default scenario run for one simulated minute, checking invariants as it goes."""
    clock, exchange, sim = make(load_scenario("default"))
    run(clock, sim, 60.0, every=lambda i: check_invariants(exchange, sim) if i % 20 == 0 else None)
    return clock, exchange, sim


def test_same_seed_same_trades_other_seed_other_trades() -> None:
    scenario = load_scenario("default")
    logs = []
    for seed in (None, None, scenario.seed + 1):
        clock, exchange, sim = make(scenario, seed=seed)
        run(clock, sim, 10.0)
        logs.append(trade_tuples(exchange))
    assert len(logs[0]) > 100
    assert logs[0] == logs[1]
    assert logs[0] != logs[2]


def test_every_liquid_market_trades_within_a_minute(default_minute) -> None:
    _, exchange, sim = default_minute
    traded = Counter(t.ticker for t in exchange.trade_log())
    liquid = [m.ticker for m in sim.market_specs() if m.tier in ("deep", "normal")]
    assert len(liquid) > 40
    assert [t for t in liquid if not traded[t]] == []
    assert sum(traded.values()) > 500
    check_invariants(exchange, sim)


def test_books_are_two_sided_and_tight_in_liquid_markets(default_minute) -> None:
    _, exchange, sim = default_minute
    for spec in sim.market_specs():
        fair = sim.fair_value(spec.ticker)
        if spec.tier != "deep" or fair is None or not 0.1 < fair < 0.9:
            continue
        top = exchange.top_of_book(spec.ticker)
        assert top.yes_bid_e4 is not None and top.yes_ask_e4 is not None, spec.ticker
        assert 0 < top.yes_ask_e4 - top.yes_bid_e4 <= 500, spec.ticker


def test_discovery_finds_markets_that_pass_the_seed_prefilters(default_minute) -> None:
    # The seed README's discovery pre-filters: time-to-expiry window per category (default 1-60 d, sports
    # 1 h-7 d, rates and crypto 1-90 d), not soft/hard extreme (mid within 15-85¢), 24h volume ≥ $5,000.
    clock, exchange, sim = default_minute
    windows = {"sports": (HOUR, 7 * DAY), "rates": (DAY, 90 * DAY), "crypto": (DAY, 90 * DAY)}
    now = clock.time()
    passing = set()
    for spec in sim.market_specs():
        lo, hi = windows.get(spec.category_key, (DAY, 60 * DAY))
        if spec.tier == "illiquid" or not lo <= spec.market.close_ts - now <= hi:
            continue
        top = exchange.top_of_book(spec.ticker)
        if top.yes_bid_e4 is None or top.yes_ask_e4 is None:
            continue
        mid_e4 = (top.yes_bid_e4 + top.yes_ask_e4) // 2
        volume_dollars = sim.volume_24h_e2(spec.ticker) * mid_e4 // 1_000_000
        if 1500 <= mid_e4 <= 8500 and volume_dollars >= 5000 and top.yes_ask_e4 - top.yes_bid_e4 <= 500:
            passing.add((spec.category_key, spec.ticker))
    assert len(passing) >= 8
    assert len({key for key, _ in passing}) >= 4


def test_volume_24h_adds_trades_to_the_catalogue_figure(default_minute) -> None:
    _, exchange, sim = default_minute
    spec = next(m for m in sim.market_specs() if m.tier == "deep")
    traded = sum(t.count_e2 for t in exchange.trade_log() if t.ticker == spec.ticker)
    carried = int(spec.volume_24h_e2 * (1 - 60 / DAY))
    assert sim.volume_24h_e2(spec.ticker) == carried + traded
    assert sim.volume_24h_e2("NOPE") == 0


def test_a_volatility_style_event_comes_within_fifteen_minutes() -> None:
    clock, exchange, sim = make(load_scenario("default"))
    detector = ComeBackDetector()
    for _ in range(15 * 20):  # sample every 3 simulated seconds, like the scanner's sweep
        run(clock, sim, 3.0)
        detector.sample(exchange, sim, clock.time())
        if detector.events:
            break
    assert detector.events, "no ≥12¢ move that came back within 15 simulated minutes"
    _, ticker, start, extreme = detector.events[0]
    spec = next(m for m in sim.market_specs() if m.ticker == ticker)
    assert spec.category_key != "sports"
    assert abs(extreme - start) >= JUMP_E4
    check_invariants(exchange, sim)


def test_closed_events_are_determined_and_hourly_series_roll() -> None:
    scenario = scenario_with(
        catalogue={"series_per_category": {"Crypto": 1}, "events_ahead": 2, "determination_delay_s": 60},
        news=[],
    )
    clock, exchange, sim = make(scenario)
    first = [m.ticker for m in sim.market_specs() if m.market.event_ticker == "KXBTCD-26JAN0100"]
    run(clock, sim, 10.0)
    assert exchange.trade_log()
    clock.set_time(sim.start_s + 40 * 60 + 1)  # past the first event's close
    sim.step(clock.time())
    assert all(exchange.market(t).status is MarketStatus.CLOSED for t in first)
    rolled = [m.ticker for m in sim.market_specs() if m.market.event_ticker == "KXBTCD-26JAN0102"]
    assert rolled
    run(clock, sim, 130.0)  # determination after 60 s, settlement 60 s later
    results = [exchange.market(t).result for t in first]
    assert all(exchange.market(t).status is MarketStatus.FINALIZED for t in first)
    yes = [r.value == "yes" for r in results]
    assert yes == sorted(yes, reverse=True)  # a ladder: every strike below a YES strike is YES too
    for user in sim.user_ids:
        assert not {p.ticker for p in exchange.positions(user)} & set(first)
    assert all(exchange.market(t).status is MarketStatus.ACTIVE for t in rolled)
    assert any(t.ticker in rolled for t in exchange.trade_log())  # the next hour's markets trade
    check_invariants(exchange, sim)


def test_news_must_name_a_listed_series() -> None:
    scenario = scenario_with(
        catalogue={"series_per_category": {"Crypto": 1}},
        news=[{"at_s": 1, "series": "KXJOBLESSCLAIMS", "move_cents": 10}],
    )
    with pytest.raises(ScenarioError) as info:
        make(scenario)
    assert "news[0].series" in dict(info.value.problems)


def test_run_thread_follows_the_clock_and_stops() -> None:
    scenario = scenario_with(catalogue={"series_per_category": {"Crypto": 1, "Sports": 1}}, news=[])
    clock, exchange, sim = make(scenario)
    stop = threading.Event()
    thread = threading.Thread(target=sim.run, args=(stop,), daemon=True)
    thread.start()
    for _ in range(40):
        clock.advance(scenario.step_s)
        threading.Event().wait(0.002)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert exchange.trade_log()
    check_invariants(exchange, sim)


def test_lp_quotes_are_on_the_grid_and_never_crossed(default_minute) -> None:
    _, exchange, sim = default_minute
    grids = {m.ticker: m.market.grid for m in sim.market_specs()}
    for lp in sim.lps:
        resting = exchange.orders(lp.user_id, status=OrderStatus.RESTING)
        assert resting, lp.user_id
        best: dict[str, dict[Side, list[int]]] = {}
        for order in resting:
            assert grids[order.ticker].contains(order.price_e4), order
            assert order.post_only
            best.setdefault(order.ticker, {Side.BID: [], Side.ASK: []})[order.side].append(order.price_e4)
        for ticker, sides in best.items():
            if sides[Side.BID] and sides[Side.ASK]:
                assert max(sides[Side.BID]) < min(sides[Side.ASK]), ticker
    # Near $0 a ladder is one-sided: no bid can sit below the lowest tick.
    cheap = [m.ticker for m in sim.market_specs() if (sim.fair_value(m.ticker) or 1.0) < 0.012]
    assert cheap
    for ticker in cheap:
        assert exchange.top_of_book(ticker).yes_ask_e4 is not None
