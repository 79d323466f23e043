"""The volatility manager in-process against the embedded exchange on a 10× clock, with the mode's own config
factory: sessions start on events, end with recorded reasons (volatility ended, shutdown), volatility_sessions
agrees with strategy_runs, and nothing of ours rests on the exchange after shutdown.

Events and regimes are injected (the scanner has its own tests): a default-scenario market rarely spikes within
a test's few simulated minutes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kalshi_mm.clock import SimClock
from kalshi_mm.config.credentials import Credentials, EndpointKind, ExchangeEndpoint
from kalshi_mm.config.settings import config_to_dict, load_config, validate_config
from kalshi_mm.modes.volatility_mode import VolatilityMode
from kalshi_mm.runtime import Runtime
from kalshi_mm.sim.model import OrderStatus
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.volatility.detection import VolatilityEndedEvent, VolatilityEvent
from kalshi_mm.volatility.manager import VolatilityMMManager
from kalshi_mm.volatility.regime import Regime, RegimeState

ROOT = Path(__file__).resolve().parents[3]
USER = "paper-trader"
SCALE = 10.0  # simulated seconds per real second


def rows(db_path: Path, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[tuple[Runtime, EmbeddedExchange, Path]]:
    data = config_to_dict(load_config(ROOT / "config.yaml"))
    data["mode"] = "volatility"
    data["analytics"]["db_path"] = str(tmp_path / "analytics.db")
    data["analytics"]["commit_interval_seconds"] = 0.2
    data["logging"]["log_dir"] = str(tmp_path / "logs")
    data["websockets"]["enabled"] = True
    data["exchange"]["rate_limit_tier"] = "prime"
    data["volatility_mm"]["delay_before_session_start_seconds"] = 2.0
    data["volatility_mm"]["require_regime_stability"] = 2
    cfg = validate_config(data, source="test")
    clock = SimClock(scale=SCALE)
    server = EmbeddedExchange(clock, scenario="default", tier="prime").start()
    account = server.create_account(USER)
    assert account.private_key is not None
    endpoint = ExchangeEndpoint(EndpointKind.SIM, server.rest_url, server.ws_url)
    rt = Runtime.build(cfg, endpoint, Credentials(account.access_key, account.private_key), clock, exchange=server)
    rt.start()
    try:
        yield rt, server, tmp_path / "analytics.db"
    finally:
        rt.close()
        server.stop()


def quotable_tickers(rt: Runtime, n: int) -> list[str]:
    """Open, two-sided, mid-priced, non-sports markets far from close: what a real event would pick."""
    now = rt.clock.time()
    out = []
    for market in rt.api.get_all_open_markets():
        if market.yes_bid_e4 is None or market.yes_ask_e4 is None or market.close_ts - now < 3600:
            continue
        mid = (market.yes_bid_e4 + market.yes_ask_e4) // 2
        if 2_500 <= mid <= 7_500 and market.yes_ask_e4 - market.yes_bid_e4 <= 800 and "GAME" not in market.ticker:
            out.append(market.ticker)
    return out[:n]


def run_until(rt: Runtime, manager: VolatilityMMManager, done: Any, limit_s: float = 200.0) -> None:
    """Tick the manager once per clock second until ``done()``; fail after ``limit_s`` clock seconds."""
    deadline = rt.clock.time() + limit_s
    while not done():
        assert rt.clock.time() < deadline, "condition not reached in time"
        manager.tick()
        rt.wait(1.0)


def test_sessions_start_on_events_and_end_recorded(runtime: tuple[Runtime, EmbeddedExchange, Path]) -> None:
    rt, server, db_path = runtime
    mode = VolatilityMode(rt)  # its scanner never runs here: events come from the test

    def regime_of(_ticker: str) -> RegimeState:
        now = rt.clock.time()  # a fresh classification at every read: stable windows accumulate
        return RegimeState(Regime.MEAN_REVERTING, stable=True, since_ts=now - 60.0, observed_ts=now)

    manager = VolatilityMMManager(rt, make_config=mode.make_config, regime_of=regime_of)
    tickers = quotable_tickers(rt, 2)
    assert len(tickers) == 2, tickers
    now = rt.clock.time()
    for ticker in tickers:
        manager.on_event(VolatilityEvent(ticker, now, 0.6, 0.03, None, None, now + 6 * 3600, ("sigma",)))

    manager.tick()
    assert manager.running == {} and set(manager.pending) == set(tickers)  # start delay first
    run_until(rt, manager, lambda: len(manager.running) == 2)
    assert manager.active_tickers() == set(tickers)
    rt.wait(15.0)  # let them quote a little

    # Volatility ends on the first market: a soft stop, recorded as such.
    manager.on_ended(VolatilityEndedEvent(tickers[0], rt.clock.time(), "sigma below threshold"))
    run_until(rt, manager, lambda: tickers[0] not in manager.running)
    assert set(manager.running) == {tickers[1]}

    assert manager.shutdown()
    sweep = rt.sweep_orders(manager.prefixes)
    assert sweep.clean
    assert rt.close()

    assert server.exchange.orders(USER, status=OrderStatus.RESTING) == []
    sessions = {r["run_id"]: r for r in rows(db_path, "SELECT * FROM volatility_sessions")}
    runs = {r["run_id"]: r for r in rows(db_path, "SELECT * FROM strategy_runs")}
    events = rows(db_path, "SELECT * FROM volatility_events")
    assert len(events) == 2 and len(sessions) == 2
    assert set(sessions) == set(runs)
    by_ticker = {runs[run_id]["market_ticker"]: s for run_id, s in sessions.items()}
    assert by_ticker[tickers[0]]["kill_reason"].startswith("volatility_ended")
    assert by_ticker[tickers[1]]["kill_reason"].startswith("shutdown")
    for run_id, session in sessions.items():
        run = runs[run_id]
        assert run["end_ts"] is not None and session["end_ts"] is not None
        assert session["final_position_e2"] == run["final_position_e2"]
        assert session["event_id"] in {e["event_id"] for e in events}
