"""VolatilityScanner in REST mode against the embedded exchange (default scenario, seed 1): ten simulated minutes
of 3-second sweeps, with the simulation stepped every 0.5 s in between.

The default scenario puts fading news and jumps on short-dated non-sports series and directional jumps on sports,
so the scanner must find events outside sports and none inside it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.websocket import KalshiWebsocketClient
from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.config.credentials import Credentials
from kalshi_mm.config.settings import AppConfig
from kalshi_mm.logs import DailySweepFileHandler
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.state.store import MarketStateStore
from kalshi_mm.volatility.detection import VolatilityEndedEvent, VolatilityEvent
from kalshi_mm.volatility.regime import Regime
from kalshi_mm.volatility.scanner import VolatilityScanner
from kalshi_mm.volatility.tracking import chunk_size

SWEEP_S = 3.0  # volatility_scanner.refresh_interval_seconds default
STEP_S = 0.5  # the scenario's step
SWEEPS = 200  # ten simulated minutes


@dataclass
class Run:
    scanner: VolatilityScanner
    tracked: tuple[str, ...]
    events: list[VolatilityEvent]
    ended: list[VolatilityEndedEvent]
    db_rows: list[tuple[str, float, float]]
    log_dir: Path
    categories: dict[str, str] = field(default_factory=dict)
    sampled_per_sweep: list[int] = field(default_factory=list)


def _sweep_logger(name: str, log_dir: Path, clock: SimClock) -> logging.Logger:
    # A logger of our own: kalshi_mm.logs.sweep_logger is a process-wide singleton bound to its first log_dir.
    logger = logging.getLogger(f"test.volatility.sweep.{name}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(DailySweepFileHandler(log_dir, clock))
    return logger


def _step(server: EmbeddedExchange, clock: SimClock, seconds: float) -> None:
    assert server.simulation is not None
    for _ in range(round(seconds / STEP_S)):
        clock.advance(STEP_S)
        server.simulation.step(clock.time())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("scanner")
    clock = SimClock()
    cfg = AppConfig()
    events: list[VolatilityEvent] = []
    ended: list[VolatilityEndedEvent] = []
    logger = _sweep_logger("run", tmp / "logs", clock)
    with EmbeddedExchange(clock, scenario="default", seed=1) as server:
        _step(server, clock, 30.0)  # let the books fill before the first listing
        api = KalshiTradingAPI(server.rest_url, None, clock, tier="prime")
        store = MarketStateStore(clock, cfg.websockets)
        db = AnalyticsDB(tmp / "analytics.db", clock)
        scanner = VolatilityScanner(
            api,
            store,
            None,
            db,
            clock,
            cfg,
            sweep_log=logger,
            on_event=events.append,
            on_ended=ended.append,
            active_sessions=set,
        )
        tracked = scanner.initial_scan()
        result = Run(scanner, tracked, events, ended, [], tmp / "logs")
        result.categories = {t: m.category for t in tracked if (m := scanner.market(t)) is not None}
        for _ in range(SWEEPS):
            _step(server, clock, SWEEP_S)
            result.sampled_per_sweep.append(scanner.sweep(clock.time()))
        assert db.flush(10.0)
        db.close()
        api.close()
    with sqlite3.connect(tmp / "analytics.db") as conn:
        result.db_rows = conn.execute("SELECT market_ticker, ts, signal_strength FROM volatility_events").fetchall()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    yield result


def test_initial_scan_tracks_open_binary_markets_within_limit(run: Run) -> None:
    assert 20 < len(run.tracked) <= 200
    assert len(set(run.tracked)) == len(run.tracked)
    # Several categories, sports included: exclusion is detection's job, and it shows in the sweep log.
    assert {"sports", "crypto"} <= set(run.categories.values())


def test_sweeps_fill_windows_round_robin(run: Run) -> None:
    expected = chunk_size(len(run.tracked), SWEEP_S, 4000 / 10)
    assert max(run.sampled_per_sweep) <= expected
    # REST round robin: each market is sampled about every 30 s, the time base of an event's σ.
    assert 24.0 <= run.scanner.observation_interval_s() <= 33.0
    still_tracked = [t for t in run.tracked if run.scanner.market(t) is not None]
    assert still_tracked
    sizes = sorted(len(m.window) for t in still_tracked if (m := run.scanner.market(t)) is not None)
    # Each market is visited about every 30 s for ten minutes: ~20 samples, fewer for a book that went thin.
    assert sizes[0] >= 5 and sizes[len(sizes) // 2] >= 18
    assert sizes[-1] <= SWEEPS
    regimes = {run.scanner.regime(t) for t in still_tracked}
    assert None not in regimes
    assert any(state is not None and state.regime is not Regime.UNKNOWN for state in regimes)


def test_events_outside_sports_none_in_sports(run: Run) -> None:
    assert run.events, "no volatility event in ten simulated minutes"
    for event in run.events:
        assert run.categories[event.ticker] != "sports"
        assert 0.0 < event.signal_strength <= 1.0
        assert event.reasons and set(event.reasons) <= {"jump", "sigma"}
        assert event.close_ts is not None and event.close_ts > event.ts
    # One event per episode: a ticker emits again only after its previous event ended.
    emitted: dict[str, int] = {}
    for event in run.events:
        emitted[event.ticker] = emitted.get(event.ticker, 0) + 1
    ended_count = {t: sum(1 for e in run.ended if e.ticker == t) for t in emitted}
    assert all(emitted[t] <= ended_count[t] + 1 for t in emitted)
    assert set(run.scanner.active_events()) <= set(emitted)


def test_events_recorded_in_db(run: Run) -> None:
    assert sorted((t, ts) for t, ts, _ in run.db_rows) == sorted((e.ticker, e.ts) for e in run.events)


def test_sweep_log_has_a_line_per_sample_with_the_rule(run: Run) -> None:
    files = list(run.log_dir.glob("volatility_sweep_details_*.log"))
    assert len(files) == 1
    lines = files[0].read_text(encoding="utf-8").splitlines()
    assert len(lines) >= sum(run.sampled_per_sweep)
    sports = [line for line in lines if "[sports]" in line and " n=" in line]
    assert sports and all("EVENT" not in line for line in sports)
    assert any("rejected category_excluded" in line for line in sports)
    assert any("rejected no_volatility" in line for line in lines)
    assert sum(" EVENT " in line for line in lines) == len(run.events)


def test_max_tracked_rediscover_and_run_thread(tmp_path: Path) -> None:
    clock = SimClock()
    cfg = AppConfig()
    logger = _sweep_logger("small", tmp_path / "logs", clock)
    with EmbeddedExchange(clock, scenario="default", seed=1) as server:
        _step(server, clock, 10.0)
        api = KalshiTradingAPI(server.rest_url, None, clock, tier="prime")
        db = AnalyticsDB(tmp_path / "analytics.db", clock)
        scanner = VolatilityScanner(
            api,
            MarketStateStore(clock, cfg.websockets),
            None,
            db,
            clock,
            cfg,
            sweep_log=logger,
            max_tracked=10,
            on_event=lambda e: None,
            on_ended=lambda e: None,
            active_sessions=set,
        )
        first = scanner.initial_scan()
        assert len(first) == 10
        scanner.sweep(clock.time())
        kept = {t: len(m.window) for t in first if (m := scanner.market(t)) is not None}
        again = scanner.rediscover()
        assert len(again) == 10
        # Markets that stay tracked keep their history across rediscovery.
        for ticker in set(again) & set(kept):
            market = scanner.market(ticker)
            assert market is not None and len(market.window) == kept[ticker]

        scanner.sweep(clock.time())
        scanner.max_tracked = 4
        shrunk = scanner.rediscover()
        assert len(shrunk) == 4 and set(shrunk) <= set(again)
        for ticker in set(again) - set(shrunk):
            assert scanner.market(ticker) is None and scanner.regime(ticker) is None

        stop = threading.Event()
        thread = threading.Thread(target=scanner.run, args=(stop,), daemon=True)
        before = scanner.sweeps
        thread.start()
        for _ in range(3):
            deadline = scanner.sweeps + 1
            for _ in range(200):  # the thread sweeps, then waits SWEEP_S of simulated time
                if scanner.sweeps >= deadline:
                    break
                threading.Event().wait(0.01)
            _step(server, clock, SWEEP_S)
        stop.set()
        thread.join(5.0)
        assert not thread.is_alive()
        assert scanner.sweeps >= before + 3
        db.close()
        api.close()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def test_websocket_mode_reads_the_store(tmp_path: Path) -> None:
    clock = SimClock()
    cfg = AppConfig(websockets={"enabled": True, "subscribe_user_fills": False, "subscribe_positions": False})
    logger = _sweep_logger("ws", tmp_path / "logs", clock)
    real = LiveClock()
    with EmbeddedExchange(clock, scenario="default", seed=1, tier="prime") as server:
        _step(server, clock, 10.0)
        account = server.create_account("scanner")
        assert account.private_key is not None
        credentials = Credentials(account.access_key, account.private_key)
        api = KalshiTradingAPI(server.rest_url, credentials, clock, tier="prime")
        store = MarketStateStore(clock, cfg.websockets)
        client = KalshiWebsocketClient(server.ws_url, credentials, clock, store, cfg.websockets)
        db = AnalyticsDB(tmp_path / "analytics.db", clock)
        try:
            client.start()
            scanner = VolatilityScanner(
                api,
                store,
                client,
                db,
                clock,
                cfg,
                sweep_log=logger,
                max_tracked=15,
                on_event=lambda e: None,
                on_ended=lambda e: None,
                active_sessions=set,
            )
            tracked = scanner.initial_scan()
            assert set(client.markets()) == set(tracked)
            deadline = real.time() + 10.0
            while real.time() < deadline and not (
                store.ws_healthy and all(store.get_orderbook(t) is not None for t in tracked)
            ):
                threading.Event().wait(0.02)
            assert store.ws_healthy
            attempts = api.stats()["attempts"]
            # Every tracked market in one sweep, from the store: no REST request at all.
            assert scanner.sweep(clock.time()) == len(tracked)
            assert api.stats()["attempts"] == attempts
            assert all(len(m.window) == 1 for t in tracked if (m := scanner.market(t)) is not None)
            assert scanner.observation_interval_s() == SWEEP_S
        finally:
            client.stop()
            db.close()
            api.close()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
