"""A recorded CSV drives markets' top of book: the simulation on a real exchange with a manual clock, for a
catalogue ticker replayed in place and a new KXREPLAY ticker, in loops and at speed, with takers trading
against the quoter; and the same best bid/ask published over REST."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.catalogue import build_catalogue
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import MarketStatus, OrderRequest, Side
from kalshi_mm.sim.replay import ReplayError, ReplayRow
from kalshi_mm.sim.replay_market import REPLAY_SERIES
from kalshi_mm.sim.scenario import SCENARIO_DIR, load_scenario
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.sim.simulation import MarketSimulation
from kalshi_mm.units import format_price

from .conftest import SignedSession

START = 1_795_000_000.0  # 2026-11-18T11:06:40Z
NEW = "KXREPLAY-TEST-T50"
TIERS = ("deep", "normal", "thin", "illiquid")
# Economics only: KXFEDDECISION (linear_cent, months away) and KXJOBLESSCLAIMS (tapered, hours away).
CATALOGUE = {
    c: 0
    for c in (
        "Financials",
        "Crypto",
        "Sports",
        "Entertainment",
        "Climate and Weather",
        "Politics",
        "Science and Technology",
    )
} | {"Economics": 2}


def catalogue_ticker() -> str:
    """A far-dated linear_cent market of the test scenario's catalogue (tickers carry date codes of START)."""
    for spec in build_catalogue(load_scenario("default"), START).markets():
        if spec.ticker.startswith("KXFEDDECISION") and spec.market.price_level_structure == "linear_cent":
            return spec.ticker
    raise AssertionError("no KXFEDDECISION market in the catalogue")


def recording(cat: str) -> str:
    """Both tickers over 60 s; the catalogue one starts 5 s in; cents, dollars, RFC 3339, sizes, empty sides."""
    t0 = int(START) - 86_400  # recorded a day before the run: only relative time matters
    rows = [
        f"{t0},{NEW},47,49,120,80",
        f"{t0 + 5},{cat},30,33,,",
        f"{t0 + 10},{NEW},0.48,0.5,,25.5",
        f"{datetime.fromtimestamp(t0 + 15, UTC):%Y-%m-%dT%H:%M:%SZ},{cat},31,34,10,",
        f"{t0 + 20},{NEW},0.4850,,70,",
        f"{t0 + 30},{NEW},40,45,5,6",
        f"{t0 + 40},{cat},,35,,",
        f"{t0 + 60},{NEW},46,47,,",
    ]
    return "timestamp,ticker,yes_bid,yes_ask,yes_bid_size,yes_ask_size\n" + "\n".join(rows) + "\n"


def write_scenario(
    tmp_path: Path,
    *,
    loop: bool = False,
    speed: float = 1.0,
    noise_per_min: float = 0.0,
    csv_text: str | None = None,
    extra: str = "",
) -> Path:
    (tmp_path / "rec.csv").write_text(csv_text if csv_text is not None else recording(catalogue_ticker()))
    flow = "".join(f"  {t}: {{noise_rate_per_min: {noise_per_min}, informed_rate_per_min: 0}}\n" for t in TIERS)
    series = ", ".join(f"{k}: {v}" for k, v in CATALOGUE.items())
    path = tmp_path / "replay-test.yaml"
    path.write_text(
        f"extends: {SCENARIO_DIR / 'default.yaml'}\nname: replay-test\nnews: []\ntrading_pauses: []\n"
        f"catalogue: {{series_per_category: {{{series}}}}}\nliquidity:\n{flow}"
        f"replay: {{file: rec.csv, loop: {str(loop).lower()}, speed: {speed}}}\n{extra}"
    )
    return path


def make(scenario: Path) -> tuple[SimClock, Exchange, MarketSimulation]:
    clock = SimClock(start=START)
    exchange = Exchange(clock, seed=1)
    return clock, exchange, MarketSimulation(exchange, clock, load_scenario(scenario))


def top(exchange: Exchange, ticker: str) -> tuple[int | None, int, int | None, int]:
    t = exchange.top_of_book(ticker)
    return t.yes_bid_e4, t.yes_bid_size_e2, t.yes_ask_e4, t.yes_ask_size_e2


def recorded(row: ReplayRow | None) -> tuple[int | None, int, int | None, int]:
    if row is None:
        return None, 0, None, 0
    return row.yes_bid_e4, row.yes_bid_size_e2, row.yes_ask_e4, row.yes_ask_size_e2


def step_to(clock: SimClock, sim: MarketSimulation, offset_s: float) -> None:
    clock.set_time(START + offset_s)
    sim.step(clock.time())


def test_the_file_drives_the_top_of_book_of_a_catalogue_and_a_new_market(tmp_path: Path) -> None:
    cat = catalogue_ticker()
    clock, exchange, sim = make(write_scenario(tmp_path))
    assert sim.replay is not None
    new_market = exchange.market(NEW)
    assert exchange.event(new_market.event_ticker).series_ticker == REPLAY_SERIES
    assert exchange.series(REPLAY_SERIES).category == "Economics"
    assert new_market.price_level_structure == "deci_cent"  # 0.4850 is not a whole cent
    assert new_market.close_ts == int(START) + 60 + 86_400
    expected = {  # offset -> (new ticker's row, catalogue ticker's row), as (bid, bid size, ask, ask size)
        0.0: ((4700, 12_000, 4900, 8_000), (None, 0, None, 0)),
        4.5: ((4700, 12_000, 4900, 8_000), (None, 0, None, 0)),
        5.0: ((4700, 12_000, 4900, 8_000), (3000, 5_000, 3300, 5_000)),
        12.0: ((4800, 5_000, 5000, 2_550), (3000, 5_000, 3300, 5_000)),
        15.0: ((4800, 5_000, 5000, 2_550), (3100, 1_000, 3400, 5_000)),
        25.0: ((4850, 7_000, None, 0), (3100, 1_000, 3400, 5_000)),
        30.0: ((4000, 500, 4500, 600), (3100, 1_000, 3400, 5_000)),
        45.0: ((4000, 500, 4500, 600), (None, 0, 3500, 5_000)),
        61.0: ((4600, 5_000, 4700, 5_000), (None, 0, 3500, 5_000)),
        500.0: ((4600, 5_000, 4700, 5_000), (None, 0, 3500, 5_000)),  # the last row stays in force
    }
    for offset, (want_new, want_cat) in expected.items():
        step_to(clock, sim, offset)
        assert top(exchange, NEW) == want_new, offset
        assert top(exchange, cat) == want_cat, offset
        assert recorded(sim.replay.row(NEW, clock.time())) == want_new
        # Exactly one resting order per recorded side, all the quoter's: the LPs stay out of replayed markets.
        book = exchange.orderbook(cat)
        assert len(book.yes) == (want_cat[0] is not None) and len(book.no) == (want_cat[2] is not None)
        for lp in sim.lps:
            assert exchange.orders(lp.user_id, ticker=NEW) == [] and exchange.orders(lp.user_id, ticker=cat) == []
    assert sim.fair_value(NEW) == pytest.approx(0.465)
    assert sim.fair_value(cat) == pytest.approx(0.35)  # only an ask: the ask
    # Markets the file does not name keep their simulated liquidity providers.
    others = [m.ticker for m in sim.market_specs() if m.ticker not in (NEW, cat)]
    assert any(exchange.top_of_book(t).yes_bid_e4 is not None for t in others)


def test_loop_wraps_and_speed_scales_time(tmp_path: Path) -> None:
    clock, exchange, sim = make(write_scenario(tmp_path, loop=True, speed=2.0))
    assert exchange.market(NEW).close_ts > START + 300 * 86_400  # a looping replay stays listed
    for sim_offset, file_offset in [
        (0.0, 0.0),
        (6.0, 12.0),
        (15.0, 30.0),
        (29.0, 58.0),
        (30.5, 1.0),
        (36.0, 12.0),
        (92.0, 4.0),
    ]:
        step_to(clock, sim, sim_offset)
        track = sim.replay.file.tracks[NEW] if sim.replay else None
        assert track is not None
        assert top(exchange, NEW) == recorded(track.at(file_offset)), sim_offset
    # Second pass, 4 s in: the catalogue ticker's first row (5 s) has not come yet, its last row stays.
    assert top(exchange, catalogue_ticker()) == (None, 0, 3500, 5_000)


def test_takers_trade_with_the_quoter_and_the_recorded_size_comes_back(tmp_path: Path) -> None:
    clock, exchange, sim = make(write_scenario(tmp_path, noise_per_min=600.0))
    assert sim.quoter is not None
    for i in range(1, 41):
        step_to(clock, sim, i * 0.5)
        assert sim.replay is not None
        # The quoter acts after the takers in every step: the recorded size is back when the step ends.
        assert top(exchange, NEW) == recorded(sim.replay.row(NEW, clock.time())), i
    assert sim.stats()[sim.quoter.user_id].filled_e2 > 0
    assert any(t.ticker == NEW for t in exchange.trade_log())
    assert exchange.ledger().balanced


def test_a_better_quote_shows_until_it_is_gone(tmp_path: Path) -> None:
    clock, exchange, sim = make(write_scenario(tmp_path))
    exchange.create_account("daemon", 10_000 * 10_000)
    step_to(clock, sim, 1.0)
    placed = exchange.place_order("daemon", OrderRequest(NEW, Side.BID, 4800, 300, post_only=True))
    step_to(clock, sim, 2.0)
    assert top(exchange, NEW) == (4800, 300, 4900, 8_000)  # the daemon improves the bid; the ask stays recorded
    exchange.cancel_order("daemon", placed.order.order_id)
    step_to(clock, sim, 3.0)
    assert top(exchange, NEW) == (4700, 12_000, 4900, 8_000)


def test_a_replayed_market_closes_and_is_determined(tmp_path: Path) -> None:
    clock, exchange, sim = make(write_scenario(tmp_path, extra="step_s: 10\n"))
    close = exchange.market(NEW).close_ts
    step_to(clock, sim, close - START + 1)
    assert exchange.market(NEW).status is not MarketStatus.ACTIVE
    assert sim.quoter is not None and sim.quoter.resting(NEW) == {}
    step_to(clock, sim, close - START + 200)
    assert exchange.market(NEW).result is not None


def test_an_off_grid_price_for_a_catalogue_market_is_refused(tmp_path: Path) -> None:
    cat = catalogue_ticker()
    text = f"timestamp,ticker,yes_bid,yes_ask\n{int(START)},{cat},0.305,0.33\n"
    clock = SimClock(start=START)
    exchange = Exchange(clock, seed=1)
    with pytest.raises(ReplayError) as info:
        MarketSimulation(exchange, clock, load_scenario(write_scenario(tmp_path, csv_text=text)))
    assert (info.value.line, info.value.column) == (2, "yes_bid")
    assert exchange.markets() == []  # a bad recording lists nothing


def test_the_published_book_over_rest_shows_the_recorded_best_bid_and_ask(tmp_path: Path) -> None:
    cat = catalogue_ticker()
    clock = SimClock(start=START)
    server = EmbeddedExchange(clock, scenario=write_scenario(tmp_path), seed=3).start()
    try:
        assert server.simulation is not None
        session = SignedSession(server.rest_url, None, clock)
        for offset in (0.0, 15.0, 25.0, 45.0):
            clock.set_time(START + offset)
            server.simulation.step(clock.time())  # deterministic: do not wait for the background thread
            for ticker in (NEW, cat):
                market = session.get(f"/markets/{ticker}", expect=200)["market"]
                row = server.simulation.replay.row(ticker, clock.time()) if server.simulation.replay else None
                bid = row.yes_bid_e4 if row is not None and row.yes_bid_e4 is not None else 0
                ask = row.yes_ask_e4 if row is not None and row.yes_ask_e4 is not None else 10_000
                assert (market["yes_bid_dollars"], market["yes_ask_dollars"]) == (
                    format_price(bid),
                    format_price(ask),
                ), (offset, ticker)
        assert market["yes_bid_dollars"] == "0.0000" and market["yes_ask_dollars"] == "0.3500"  # cat at 45 s
        listed = session.get("/markets", params={"series_ticker": REPLAY_SERIES}, expect=200)["markets"]
        assert [m["ticker"] for m in listed] == [NEW]
    finally:
        server.stop()


def test_the_shipped_replay_scenario_runs() -> None:
    clock = SimClock(start=START)
    exchange = Exchange(clock, seed=1)
    sim = MarketSimulation(exchange, clock, load_scenario("replay"))
    sim.step(clock.time())
    assert top(exchange, "KXREPLAY-CPI-T0.3")[0] == 4700 and top(exchange, "KXREPLAY-CPI-T0.4")[0] == 2000
    assert "sim-replay" in sim.user_ids
