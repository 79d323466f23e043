"""Fixtures for the market maker's component tests: a real EmbeddedExchange on 127.0.0.1 driven by a manual
SimClock, a real KalshiTradingAPI, MarketStateStore (REST-only, or fed by the test playing the WebSocket
thread), AnalyticsDB, and sessions run in a ThreadPoolExecutor as the daemon runs them.

The clock only moves when a test calls :meth:`Harness.step`, which advances one refresh period and waits (real
time) for every running session to finish a cycle, so each test controls exactly what a session has seen.
Background liquidity and takers act directly on the exchange (its own API, not our code).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.ratelimit import Priority
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.rest_fallback import RestOrderbookFallback
from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.config.credentials import Credentials
from kalshi_mm.config.sections_infra import WebsocketsConfig
from kalshi_mm.config.sections_trading import ThrottlingConfig
from kalshi_mm.sim.model import Event, Market, OrderRequest, OrderStatus, Series, Side, TimeInForce
from kalshi_mm.sim.model import Order as SimOrder
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.state.store import MarketStateStore
from kalshi_mm.strategy.legs import OutcomeSide
from kalshi_mm.strategy.market_maker import AvellanedaMarketMaker
from kalshi_mm.strategy.quote_models import ModelParams
from kalshi_mm.strategy.quoting import QuoteParams
from kalshi_mm.strategy.regime_feed import RegimeFeed
from kalshi_mm.strategy.session import SessionConfig

SERIES, EVENT = "KXMM", "KXMM-26DEC31"
TICKER, OTHER = "KXMM-26DEC31-T50", "KXMM-26DEC31-T60"
MM_USER, LP_USER, TAKER_USER = "mm", "lp", "taker"
REFRESH_S = 1.0
START_TS = 1_795_000_000.0
REAL_TIMEOUT_S = 15.0

# Tight enough to quote inside a 0.47/0.53 book (k per $), skewed enough that 5 contracts move the bid
# (small A and a large σ baseline; σ stays the proxy: a static test book would estimate σ ≈ 0).
QUOTE_PARAMS = QuoteParams(
    ModelParams(kind="glft", gamma=0.3, k=100.0, a=0.01, max_position=10.0),
    order_size_e2=500,
    max_position_e2=1000,
    min_total_spread_e4=200,
    max_total_spread_e4=1000,
)


def session_config(**overrides: Any) -> SessionConfig:
    values: dict[str, Any] = {
        "refresh_s": REFRESH_S,
        "throttling": ThrottlingConfig(min_book_depth=0),
        "illiquidity_timeout_s": None,
        "sigma_baseline": 0.5,
        "sigma_min_increments": 10_000,
        "order_sync_interval_s": 3600.0,
        "position_check_interval_s": 3600.0,
        "market_refresh_interval_s": 3600.0,
    }
    values.update(overrides)
    return SessionConfig(QUOTE_PARAMS, **values)


def wait_until(predicate: Callable[[], bool], timeout_s: float = REAL_TIMEOUT_S) -> None:
    """Poll ``predicate`` in real time; fail the test after ``timeout_s``."""
    real = LiveClock()
    deadline = real.monotonic() + timeout_s
    pause = threading.Event()
    while not predicate():
        if real.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        pause.wait(0.005)


@dataclass
class Harness:
    clock: SimClock
    server: EmbeddedExchange
    api: KalshiTradingAPI
    store: MarketStateStore
    db: AnalyticsDB
    pool: ThreadPoolExecutor
    credentials: Credentials
    sessions: list[AvellanedaMarketMaker] = field(default_factory=list)
    futures: list[Future[Any]] = field(default_factory=list)
    clients: list[KalshiTradingAPI] = field(default_factory=list)

    @property
    def exchange(self) -> Any:
        return self.server.exchange

    def list_market(self, ticker: str, close_in_s: float = 86_400.0) -> None:
        now = int(self.clock.time())
        self.exchange.add_market(Market(ticker, EVENT, open_ts=now - 60, close_ts=int(now + close_in_s)))
        self.exchange.tick()

    def client(self, cls: type[KalshiTradingAPI] = KalshiTradingAPI) -> KalshiTradingAPI:
        """Another client (same account, own connection pool) of class ``cls``."""
        client = cls(self.server.rest_url, self.credentials, self.clock, tier="prime")
        self.clients.append(client)
        return client

    def session(
        self,
        ticker: str = TICKER,
        side: OutcomeSide = "yes",
        *,
        api: KalshiTradingAPI | None = None,
        regime_feed: RegimeFeed | None = None,
        **overrides: Any,
    ) -> AvellanedaMarketMaker:
        config = overrides.pop("config", None) or session_config(**overrides)
        mm = AvellanedaMarketMaker(
            ticker,
            side,
            api or self.api,
            self.store,
            self.db,
            self.clock,
            config,
            regime_feed=regime_feed,
        )
        self.sessions.append(mm)
        return mm

    def start(self, *sessions: AvellanedaMarketMaker) -> None:
        """Submit sessions to the pool and wait for each one's first cycle (or its end)."""
        for mm in sessions:
            self.futures.append(self.pool.submit(mm.run))
        for mm in sessions:
            wait_until(lambda mm=mm: mm.cycles >= 1 or mm.state.finished)

    def step(self, n: int = 1, dt: float = REFRESH_S) -> None:
        """Advance the clock ``n`` refresh periods, each time waiting for every live session to cycle.

        A session that had not yet entered its wait when the clock moved waits for the next move, so the
        clock is nudged again if no cycle follows promptly (time may then run a period ahead).
        """
        for _ in range(n):
            live = [(mm, mm.cycles) for mm in self.sessions if not mm.state.finished]
            self.clock.advance(dt)
            for mm, before in live:
                for _attempt in range(20):
                    try:
                        wait_until(lambda mm=mm, b=before: mm.cycles > b or mm.state.finished, timeout_s=0.5)
                        break
                    except AssertionError:
                        self.clock.advance(dt)
                else:
                    raise AssertionError(f"{mm.ticker}/{mm.side} did not cycle")

    def step_until(self, predicate: Callable[[], bool], max_steps: int = 60) -> None:
        for _ in range(max_steps):
            if predicate():
                return
            self.step()
        assert predicate(), "condition not reached within the steps allowed"

    def finish(self, mm: AvellanedaMarketMaker) -> None:
        """Step until ``mm`` has ended."""
        self.step_until(lambda: mm.state.finished)
        assert mm.wait_finished(REAL_TIMEOUT_S)

    # --- the exchange's side of things --------------------------------------------------------------------------

    def resting(self, ticker: str = TICKER, user: str = MM_USER) -> list[SimOrder]:
        return self.exchange.orders(user, ticker=ticker, status=OrderStatus.RESTING)

    def position(self, ticker: str = TICKER, user: str = MM_USER) -> int:
        return next((p.position_e2 for p in self.exchange.positions(user) if p.ticker == ticker), 0)

    def lp_quote(self, ticker: str, side: Side, price_e4: int, count_e2: int = 1000) -> SimOrder:
        """A resting order of the background liquidity provider."""
        return self.exchange.place_order(LP_USER, OrderRequest(ticker, side, price_e4, count_e2)).order

    def take(self, ticker: str, side: Side, price_e4: int, count_e2: int) -> None:
        """An immediate-or-cancel taker order (``side`` ASK sells YES into bids)."""
        request = OrderRequest(ticker, side, price_e4, count_e2, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL)
        self.exchange.place_order(TAKER_USER, request)

    def traffic(self, user: str = MM_USER) -> dict[str, Any]:
        return self.server.traffic.snapshot().get(user, {})

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        assert self.db.flush(REAL_TIMEOUT_S)
        conn = sqlite3.connect(self.db.path)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, args)]
        finally:
            conn.close()


def rest_store(clock: SimClock, api: KalshiTradingAPI) -> MarketStateStore:
    """REST-only mode: the store reads every book through the REST fallback."""
    fallback = RestOrderbookFallback(api, priority=Priority.ORDER)
    return MarketStateStore(clock, WebsocketsConfig(enabled=False), rest_fallback=fallback, rest_orderbook_ttl_s=0.5)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    clock = SimClock(start=START_TS)
    server = EmbeddedExchange(clock, scenario=None, tier="prime", seed=5).start()
    exchange = server.exchange
    exchange.add_series(Series(SERIES, title="MM tests", category="Economics", categories=("Economics",)))
    exchange.add_event(Event(EVENT, SERIES, title="MM test event"))
    account = server.create_account(MM_USER)
    for user in (LP_USER, TAKER_USER):
        exchange.create_account(user, 1_000_000 * 10_000)
    assert account.private_key is not None
    credentials = Credentials(account.access_key, account.private_key)
    api = KalshiTradingAPI(server.rest_url, credentials, clock, tier="prime")
    db = AnalyticsDB(tmp_path / "analytics.db", clock, commit_interval_s=0.05)
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mm")
    h = Harness(clock, server, api, rest_store(clock, api), db, pool, credentials)
    try:
        yield h
    finally:
        for mm in h.sessions:
            mm.request_stop(hard=True)
        for mm in h.sessions:
            if not mm.state.finished:
                # A session blocked on the manual clock needs time to move to see its stop.
                wait_until(lambda mm=mm: h.clock.advance(REFRESH_S) or mm.state.finished, timeout_s=REAL_TIMEOUT_S)
        pool.shutdown(wait=True)
        db.close(REAL_TIMEOUT_S)
        for client in (api, *h.clients):
            client.close()
        server.stop()
