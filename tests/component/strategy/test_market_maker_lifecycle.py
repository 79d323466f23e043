"""Session lifecycle against the embedded exchange: start-up reconciliation, stop requests (hard, and soft with
the passive exit), a crash isolated to its session, freeze and stop on stale WebSocket data, the guardrail
before close, an exchange trading pause."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import Fill
from kalshi_mm.api.ws_types import OrderbookSnapshot
from kalshi_mm.config.sections_infra import WebsocketsConfig
from kalshi_mm.sim.model import OrderRequest, Side
from kalshi_mm.state.store import MarketStateStore
from kalshi_mm.strategy.session import SessionState, session_prefix

from .conftest import MM_USER, OTHER, START_TS, TICKER, Harness


def two_sided_market(h: Harness, ticker: str = TICKER, close_in_s: float = 86_400.0) -> None:
    h.list_market(ticker, close_in_s)
    h.lp_quote(ticker, Side.BID, 4700)
    h.lp_quote(ticker, Side.ASK, 5300)


def run_row(h: Harness, run_id: int | None) -> dict:
    (row,) = h.rows("SELECT * FROM strategy_runs WHERE run_id = ?", run_id)
    return row


def test_start_cancels_strays_of_an_earlier_run_and_starts_from_the_exchange_position(harness: Harness) -> None:
    h = harness
    two_sided_market(h)
    # An earlier incarnation of this market/side session left a quote behind and bought 2 YES.
    stray = h.exchange.place_order(
        MM_USER, OrderRequest(TICKER, Side.BID, 4500, 300, client_order_id=session_prefix(TICKER, "yes") + "old-1")
    ).order
    h.exchange.place_order(MM_USER, OrderRequest(TICKER, Side.BID, 5300, 200))  # lifts 2 from the LP's ask
    unrelated = h.exchange.place_order(
        MM_USER, OrderRequest(TICKER, Side.BID, 4000, 100, client_order_id="manual-order")
    ).order
    mm = h.session()
    h.start(mm)
    resting = {o.order_id: o for o in h.resting()}
    assert stray.order_id not in resting  # cancelled before the first quote
    assert unrelated.order_id in resting  # not ours by prefix: left alone
    assert mm._tracker is not None and mm._tracker.position_e2 == 200
    first = h.rows("SELECT position_e2 FROM position_history WHERE run_id = ? ORDER BY id", mm.run_id)[0]
    assert first["position_e2"] == 200
    quotes = [o for o in resting.values() if o.order_id != unrelated.order_id]
    assert len(quotes) == 2 and {o.side for o in quotes} == {Side.BID, Side.ASK}


def test_hard_stop_cancels_every_order_and_records_the_final_inventory(harness: Harness) -> None:
    h = harness
    two_sided_market(h)
    mm = h.session()
    h.start(mm)
    bid = next(o for o in h.resting() if o.side is Side.BID)
    h.take(TICKER, Side.ASK, bid.price_e4, 300)
    h.step()
    assert len(h.resting()) == 2
    mm.request_stop(hard=True)
    h.finish(mm)
    assert mm.state is SessionState.DONE and mm.end_reason == "hard_stop"
    assert h.resting() == []
    assert mm.final_position_e2 == h.position() == 300
    row = run_row(h, mm.run_id)
    assert row["status"] == "completed" and row["end_reason"] == "hard_stop"
    assert row["final_position_e2"] == 300 and row["end_ts"] is not None
    statuses = {r["status"] for r in h.rows("SELECT status FROM orders WHERE run_id = ?", mm.run_id)}
    assert statuses <= {"cancelled", "partially_filled", "filled"} and "placed" not in statuses


def test_soft_stop_closes_a_small_position_at_the_touch(harness: Harness) -> None:
    h = harness
    two_sided_market(h)
    mm = h.session()
    h.start(mm)
    bid = next(o for o in h.resting() if o.side is Side.BID)
    h.take(TICKER, Side.ASK, bid.price_e4, 100)  # 1 contract < ttl_close_if_small (2)
    h.step()
    assert h.position() == 100
    mm.request_stop()
    h.finish(mm)
    # Sold back into the LP's 0.47 bid (within 4¢ of the 0.50 mid), then flat.
    assert mm.state is SessionState.DONE and mm.end_reason == "stop_requested"
    assert h.position() == 0 and mm.final_position_e2 == 0
    assert h.resting() == []
    exit_fill = h.rows("SELECT * FROM order_fills WHERE run_id = ? AND book_side = 'ask'", mm.run_id)
    assert [(r["price_e4"], r["count_e2"], r["is_taker"]) for r in exit_fill] == [(4700, 100, 1)]
    assert run_row(h, mm.run_id)["final_position_e2"] == 0


def test_soft_stop_offers_a_large_position_passively_then_gives_up_on_time(harness: Harness) -> None:
    h = harness
    two_sided_market(h)
    mm = h.session()
    h.start(mm)
    bid = next(o for o in h.resting() if o.side is Side.BID)
    h.take(TICKER, Side.ASK, bid.price_e4, 500)  # 5 contracts: passive exit
    h.step()
    mm.request_stop()
    h.step()
    (offer,) = h.resting()
    assert offer.side is Side.ASK and offer.post_only and offer.remaining_count_e2 == 500
    assert offer.price_e4 == 5200  # improves the 0.53 ask by a tick, never below the 0.46 slippage floor
    h.take(TICKER, Side.BID, offer.price_e4, 200)  # someone lifts part of it
    h.finish(mm)  # soft_exit_max_wait_seconds (20 s) runs out
    assert mm.state is SessionState.DONE
    assert h.resting() == []
    assert mm.final_position_e2 == h.position() == 300
    assert run_row(h, mm.run_id)["final_position_e2"] == 300


class ExplodingAPI(KalshiTradingAPI):
    """A client whose fill reads fail once armed: a crash inside one session (this test only)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.armed = threading.Event()

    def iter_fills_since(self, min_ts: float, ticker: str | None = None) -> Iterator[Fill]:
        if self.armed.is_set():
            raise RuntimeError("injected failure")
        return super().iter_fills_since(min_ts, ticker)


def test_a_crash_cancels_that_sessions_orders_and_leaves_the_other_session_alone(harness: Harness) -> None:
    h = harness
    two_sided_market(h, TICKER)
    two_sided_market(h, OTHER)
    broken_api = h.client(ExplodingAPI)
    assert isinstance(broken_api, ExplodingAPI)
    broken = h.session(TICKER, api=broken_api)
    healthy = h.session(OTHER)
    h.start(broken, healthy)
    assert len(h.resting(TICKER)) == 2
    other_orders = {o.order_id for o in h.resting(OTHER)}
    assert len(other_orders) == 2
    broken_api.armed.set()
    h.step_until(lambda: broken.state.finished)
    assert broken.state is SessionState.FAULTED
    assert h.resting(TICKER) == []
    row = run_row(h, broken.run_id)
    assert row["status"] == "faulted" and "RuntimeError" in row["end_reason"] and row["final_position_e2"] == 0
    # The other session never noticed: same orders, still quoting, still cycling.
    h.step(2)
    assert healthy.state is SessionState.QUOTING
    assert {o.order_id for o in h.resting(OTHER)} == other_orders
    assert run_row(h, healthy.run_id)["status"] == "running"


def test_an_unknown_market_faults_in_pending(harness: Harness) -> None:
    h = harness
    mm = h.session("KXMM-NO-SUCH-MARKET")
    h.start(mm)
    assert mm.wait_finished(5)
    assert mm.state is SessionState.FAULTED
    row = run_row(h, mm.run_id)
    assert row["status"] == "faulted" and "NotFoundError" in row["end_reason"]


def test_stale_websocket_data_freezes_quotes_then_stops_the_session(harness: Harness) -> None:
    h = harness
    two_sided_market(h)
    ws = WebsocketsConfig(enabled=True, orderbook_staleness_seconds=30.0, ticker_staleness_seconds=30.0)
    h.store = MarketStateStore(h.clock, ws)  # no REST fallback: the book comes from the "WebSocket" only
    seq = iter(range(1, 1_000))

    def publish() -> None:
        """Play the WebSocket thread: a snapshot of the exchange's book (our own orders included)."""
        ob = h.api.get_orderbook(TICKER)
        snap = OrderbookSnapshot(
            1, next(seq), TICKER, None, tuple(reversed(ob.yes_bids)), ob.yes_asks, None, h.clock.time()
        )
        h.store.apply(snap)
        h.store.set_ws_healthy(True)

    publish()
    mm = h.session(ws_enabled=True, ws_freeze_s=3.0, ws_stop_s=8.0)
    h.start(mm)
    quotes = {o.order_id: o.price_e4 for o in h.resting()}
    assert sorted(quotes.values()) == [4800, 5200]
    publish()  # the book now shows our own quotes: they must not be chased
    h.step()
    assert {o.order_id: o.price_e4 for o in h.resting()} == quotes
    assert h.traffic()["orders"] == {"created": 2}
    h.step(4)  # no message for 4 s > 3 s: frozen, quotes pulled, session still alive
    assert h.resting() == [] and mm.state is SessionState.QUOTING
    publish()
    h.step()
    assert len(h.resting()) == 2  # fresh data: quoting again
    h.finish(mm)  # silence beyond 8 s: the session ends
    assert mm.end_reason == "ws_stale" and mm.state is SessionState.DONE
    assert h.resting() == []


def test_guardrail_stops_quoting_before_the_market_closes(harness: Harness) -> None:
    h = harness
    two_sided_market(h, close_in_s=185.0)  # danger window: 180 s
    mm = h.session()
    h.start(mm)
    assert len(h.resting()) == 2
    h.finish(mm)
    assert mm.end_reason == "near_close" and mm.state is SessionState.DONE
    assert h.resting() == []
    assert h.exchange.market(TICKER).close_ts - h.clock.time() >= 170  # stopped at the window, not at close
    assert run_row(h, mm.run_id)["end_reason"] == "near_close"


def test_a_trading_pause_ends_the_session(harness: Harness) -> None:
    h = harness
    two_sided_market(h)
    mm = h.session(market_refresh_interval_s=1.0)
    h.start(mm)
    h.exchange.set_market_paused(TICKER, True)
    h.finish(mm)
    assert mm.end_reason == "trading_paused" and mm.state is SessionState.DONE
    assert h.resting() == []


def test_no_trades_for_the_illiquidity_timeout_freezes_until_the_market_trades(harness: Harness) -> None:
    h = harness
    two_sided_market(h)
    mm = h.session(illiquidity_timeout_s=4.0)
    h.start(mm)
    assert len(h.resting()) == 2
    h.step(5)
    assert h.resting() == [] and mm.state is SessionState.QUOTING
    h.take(TICKER, Side.BID, 5300, 100)  # someone else trades with the LP
    h.step()
    assert len(h.resting()) == 2


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"max_duration_s": 3.0}, "ttl"),
        ({"min_volatility": 0.001, "volatility_warmup_s": 3.0}, "min_volatility"),  # a static book: σ = 0
    ],
)
def test_session_ttl_and_minimum_volatility_end_the_session(
    harness: Harness, overrides: dict[str, float], reason: str
) -> None:
    h = harness
    two_sided_market(h)
    mm = h.session(**overrides)
    h.start(mm)
    assert len(h.resting()) == 2
    h.finish(mm)
    assert mm.end_reason == reason and mm.state is SessionState.DONE
    assert h.resting() == []
    assert h.clock.time() - START_TS <= 6.0
