"""Three market makers on three markets of the embedded exchange, sharing one RiskGate with a $5 global budget
(REST-only, manual SimClock; the real KalshiTradingAPI, AnalyticsDB and AvellanedaMarketMaker).

What the exchange's own records show: the account's total worst-case exposure (positions at cost plus resting
orders, computed here independently of kalshi_mm.risk) never exceeds the budget, sampled continuously while the
sessions trade; the sessions that did not fit were vetoed and the vetoes are in ``risk_events``; after a fill the
book's position equals the exchange's; halting mid-run makes the sessions pull their quotes and send nothing but
cancels afterwards; at the end every reservation is released.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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
from kalshi_mm.risk.breaker import BreakerLimits
from kalshi_mm.risk.checks import Allow, RiskLimits, Veto
from kalshi_mm.risk.gate import RiskGate, SessionRefused
from kalshi_mm.risk.state import TradingStateMachine
from kalshi_mm.sim.model import Event, Market, OrderRequest, OrderStatus, Series, Side, TimeInForce
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.state.store import MarketStateStore
from kalshi_mm.strategy.market_maker import AvellanedaMarketMaker
from kalshi_mm.strategy.quote_models import ModelParams
from kalshi_mm.strategy.quoting import QuoteParams
from kalshi_mm.strategy.session import SessionConfig

SERIES, EVENT = "KXRISK", "KXRISK-26DEC31"
TICKERS = ("KXRISK-26DEC31-T40", "KXRISK-26DEC31-T50", "KXRISK-26DEC31-T60")
MM, LP, TAKER = "mm", "lp", "taker"
DOLLAR_E4 = 10_000
BUDGET_E4 = 5 * DOLLAR_E4
REAL_TIMEOUT_S = 15.0

# Quotes 5 contracts a side one tick inside a 0.47/0.53 book: $2.40 of worst case per market, so two markets fit
# the $5 budget and the third does not.
QUOTE_PARAMS = QuoteParams(
    ModelParams(kind="glft", gamma=0.3, k=100.0, a=0.01, max_position=10.0),
    order_size_e2=500,
    max_position_e2=1000,
    min_total_spread_e4=200,
    max_total_spread_e4=1000,
)
SESSION = SessionConfig(
    QUOTE_PARAMS,
    refresh_s=1.0,
    throttling=ThrottlingConfig(min_book_depth=0),
    illiquidity_timeout_s=None,
    sigma_baseline=0.5,
    sigma_min_increments=10_000,
    order_sync_interval_s=3600.0,
    position_check_interval_s=3600.0,
    market_refresh_interval_s=3600.0,
)


def wait_until(predicate: Callable[[], bool], timeout_s: float = REAL_TIMEOUT_S) -> None:
    real, pause = LiveClock(), threading.Event()
    deadline = real.monotonic() + timeout_s
    while not predicate():
        if real.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        pause.wait(0.005)


def exchange_worst_case_e6(server: EmbeddedExchange) -> int:
    """The account's worst-case loss from the exchange's records (an independent computation): per market, the
    larger of (position loss + bids) if NO wins and (position loss + asks) if YES wins; summed over markets."""
    exchange = server.exchange
    with exchange.lock:  # one consistent view of orders and positions
        positions = {p.ticker: p for p in exchange.positions(MM)}
        resting = exchange.orders(MM, status=OrderStatus.RESTING)
    total = 0
    for ticker in set(positions) | {o.ticker for o in resting}:
        pos = positions.get(ticker)
        held, cost = (pos.position_e2, pos.market_exposure_e6) if pos is not None else (0, 0)
        loss_no = cost - (-held * DOLLAR_E4 if held < 0 else 0)
        loss_yes = cost - (held * DOLLAR_E4 if held > 0 else 0)
        for o in resting:
            if o.ticker == ticker and o.side is Side.BID:
                loss_no += o.price_e4 * o.remaining_count_e2
            elif o.ticker == ticker:
                loss_yes += (DOLLAR_E4 - o.price_e4) * o.remaining_count_e2
        total += max(0, loss_no, loss_yes)
    return total


@dataclass
class Rig:
    clock: SimClock
    server: EmbeddedExchange
    api: KalshiTradingAPI
    db: AnalyticsDB
    gate: RiskGate
    pool: ThreadPoolExecutor
    sessions: list[AvellanedaMarketMaker] = field(default_factory=list)
    started: bool = False
    peak_e6: int = 0
    samples: int = 0
    _stop_sampling: threading.Event = field(default_factory=threading.Event)

    def sample_forever(self) -> None:
        """Background: watch the exchange's records the whole time the sessions trade."""
        while not self._stop_sampling.is_set():
            self.peak_e6 = max(self.peak_e6, exchange_worst_case_e6(self.server))
            self.samples += 1
            self._stop_sampling.wait(0.001)

    def start(self) -> None:
        """Run every session in the pool (as the daemon does) and wait for each one's first cycle."""
        self.started = True
        for mm in self.sessions:
            self.pool.submit(mm.run)
        for mm in self.sessions:
            wait_until(lambda mm=mm: mm.cycles >= 1)

    def step(self, n: int = 1) -> None:
        """Advance one refresh period n times, each time waiting for every live session to finish a cycle."""
        for _ in range(n):
            live = [(mm, mm.cycles) for mm in self.sessions if not mm.state.finished]
            self.clock.advance(1.0)
            for mm, before in live:
                for _attempt in range(20):
                    try:
                        wait_until(lambda mm=mm, b=before: mm.cycles > b or mm.state.finished, timeout_s=0.5)
                        break
                    except AssertionError:
                        self.clock.advance(1.0)
                else:
                    raise AssertionError(f"{mm.ticker} did not cycle")

    def resting(self, ticker: str | None = None) -> list[Any]:
        return self.server.exchange.orders(MM, ticker=ticker, status=OrderStatus.RESTING)

    def order_writes(self) -> dict[str, int]:
        """REST order-entry requests the exchange received from us, by method and route (any status)."""
        rest = self.server.traffic.snapshot().get(MM, {}).get("rest", {})
        return {k: v for k, v in rest.items() if "/portfolio/events/orders" in k}

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        assert self.db.flush(REAL_TIMEOUT_S)
        conn = sqlite3.connect(self.db.path)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, args)]
        finally:
            conn.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    clock = SimClock(start=1_795_000_000.0)
    server = EmbeddedExchange(clock, scenario=None, tier="prime", seed=9).start()
    exchange = server.exchange
    exchange.add_series(Series(SERIES, title="Risk tests", category="Economics", categories=("Economics",)))
    exchange.add_event(Event(EVENT, SERIES, title="Risk test event"))
    account = server.create_account(MM)
    for user in (LP, TAKER):
        exchange.create_account(user, 1_000_000 * DOLLAR_E4)
    now = int(clock.time())
    for ticker in TICKERS:
        exchange.add_market(Market(ticker, EVENT, open_ts=now - 60, close_ts=now + 86_400))
    exchange.tick()
    for ticker in TICKERS:
        for side, price in ((Side.BID, 4_700), (Side.ASK, 5_300)):
            exchange.place_order(LP, OrderRequest(ticker, side, price, 1_000))
    assert account.private_key is not None
    api = KalshiTradingAPI(server.rest_url, Credentials(account.access_key, account.private_key), clock, tier="prime")
    db = AnalyticsDB(tmp_path / "analytics.db", clock, commit_interval_s=0.05)
    trading = TradingStateMachine(clock)
    limits = RiskLimits(
        per_market_cap_e4=8 * DOLLAR_E4, global_budget_e4=BUDGET_E4, category_caps_e4={"default": 10**8}
    )
    gate = RiskGate(
        limits,
        clock=clock,
        trading=trading,
        breaker_limits=BreakerLimits(20 * DOLLAR_E4, 30 * DOLLAR_E4, 5),
        db=db,
        api=api,
        reserve_cancels=5,
    )
    store = MarketStateStore(
        clock,
        WebsocketsConfig(enabled=False),
        rest_fallback=RestOrderbookFallback(api, priority=Priority.ORDER),
        rest_orderbook_ttl_s=0.5,
    )
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mm")
    r = Rig(clock, server, api, db, gate, pool)
    for ticker in TICKERS:
        run_id = db.create_strategy_run(strategy_name="risk-test", market_ticker=ticker, trade_side="yes")
        risk = gate.session(ticker, "yes", category="default", run_id=run_id)
        r.sessions.append(
            AvellanedaMarketMaker(ticker, "yes", api, store, db, clock, SESSION, run_id=run_id, risk=risk)
        )
    sampler = threading.Thread(target=r.sample_forever, daemon=True)
    sampler.start()
    try:
        yield r
    finally:
        for mm in r.sessions:
            mm.request_stop(hard=True)
        for mm in r.sessions if r.started else ():
            if not mm.state.finished:
                wait_until(lambda mm=mm: clock.advance(1.0) or mm.state.finished)
        r._stop_sampling.set()
        sampler.join(5.0)
        pool.shutdown(wait=True)
        db.close(REAL_TIMEOUT_S)
        api.close()
        server.stop()


def test_shared_gate_keeps_the_account_inside_the_budget_and_a_halt_leaves_only_cancels(rig: Rig) -> None:
    r = rig
    r.start()
    r.step(2)
    r.gate.poll()  # balance and positions from the exchange, as the monitor thread would

    # Two markets fit the $5 budget ($2.40 each); the third session's quotes were vetoed.
    quoting = {t for t in TICKERS if r.resting(t)}
    assert len(quoting) == 2, [(o.ticker, o.side, o.price_e4) for o in r.resting()]
    assert exchange_worst_case_e6(r.server) == 2 * 2_400_000
    assert r.gate.book.totals().global_e6 >= exchange_worst_case_e6(r.server)
    (left_out,) = set(TICKERS) - quoting
    vetoes = r.rows("SELECT * FROM risk_events WHERE kind = 'veto' AND market_ticker = ?", left_out)
    assert vetoes and {v["rule"] for v in vetoes} == {"global_budget"}
    assert r.gate.veto_counts["global_budget"] >= 2  # every cycle asks again; repeats are counted, not re-written

    # A taker hits one quoting market's bid: 5 YES at $0.48. Exposure moved from the order to the position; the
    # session may not re-bid (that would need $2.35 more), only keep its ask, which sells the position.
    a = sorted(quoting)[0]
    bid = next(o for o in r.resting(a) if o.side is Side.BID)
    request = OrderRequest(
        a, Side.ASK, bid.price_e4, bid.remaining_count_e2, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL
    )
    r.server.exchange.place_order(TAKER, request)
    r.step(3)
    exchange_position = next(p for p in r.server.exchange.positions(MM) if p.ticker == a)
    assert exchange_position.position_e2 == 500
    assert r.gate.book.market(a).position.position_e2 == 500
    assert [o.side for o in r.resting(a)] == [Side.ASK]
    r.gate.poll()
    assert r.gate.book.market(a).position.cost_e6 == exchange_position.market_exposure_e6
    assert r.gate.book.free_balance_e6() is not None

    # The market moves: sessions would re-quote, but after the halt they may only cancel.
    before_halt = r.order_writes()
    r.gate.trading.halt("test: operator halt", "operator")
    for ticker in TICKERS:
        r.server.exchange.place_order(LP, OrderRequest(ticker, Side.BID, 4_900, 1_000))
    r.step(4)
    after = r.order_writes()
    new_requests = {k: after[k] - before_halt.get(k, 0) for k in after if after[k] != before_halt.get(k, 0)}
    assert new_requests, "the halted sessions should have cancelled their quotes"
    assert all(k.startswith("DELETE /portfolio/events/orders/") for k in new_requests), new_requests
    assert r.resting() == []
    halted = r.rows("SELECT * FROM risk_events WHERE kind = 'veto' AND rule = 'trading_state'")
    assert halted, "re-quotes while halted are vetoed and recorded"

    # Throughout, the exchange never showed more than the budget.
    assert r.samples > 20
    assert r.peak_e6 <= BUDGET_E4 * 100, r.peak_e6

    for mm in r.sessions:
        mm.request_stop(hard=True)
    r.step(2)
    for mm in r.sessions:
        assert mm.wait_finished(REAL_TIMEOUT_S)
    totals = r.gate.book.totals()
    assert totals.collateral_e6 == 0  # every order reservation released
    assert totals.global_e6 == 2_400_000  # what is left is the 5 YES held


def test_new_sessions_need_an_active_account_and_the_minimum_balance(rig: Rig) -> None:
    r = rig
    # The account holds $10,000 (the simulator's default): a $20,000 minimum refuses, read through REST.
    strict = RiskGate(
        r.gate.limits,
        clock=r.clock,
        trading=r.gate.trading,
        breaker_limits=r.gate.breaker.limits,
        db=r.db,
        api=r.api,
        min_balance_for_new_sessions_e4=20_000 * DOLLAR_E4,
    )
    refused = strict.can_start_session("KXRISK-26DEC31-T40")
    assert isinstance(refused, Veto) and refused.rule == "min_balance_for_new_sessions"
    assert refused.detail["balance_e4"] == 10_000 * DOLLAR_E4
    with pytest.raises(SessionRefused, match="min_balance_for_new_sessions"):
        strict.require_session_start("KXRISK-26DEC31-T40")
    assert isinstance(r.gate.can_start_session("KXRISK-26DEC31-T40"), Allow)
    r.gate.trading.reduce_only("test", "operator")
    refused = r.gate.can_start_session("KXRISK-26DEC31-T40")
    assert isinstance(refused, Veto) and refused.rule == "trading_state"
    rows = r.rows("SELECT rule, detail FROM risk_events WHERE kind = 'veto' ORDER BY id")
    # The repeated refusal of the same ticker and rule within a minute is counted, not written twice.
    assert [row["rule"] for row in rows] == ["min_balance_for_new_sessions", "trading_state"]
