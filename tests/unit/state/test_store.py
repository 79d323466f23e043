"""MarketStateStore with a manual SimClock: books, staleness, resync signals, fills, orders, history, REST."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kalshi_mm.api.ws_messages import (
    BookSide,
    ErrorMsg,
    FillMsg,
    LifecycleMsg,
    MarketPositionMsg,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupMsg,
    Subscribed,
    TickerUpdate,
    TradeMsg,
    UnknownMsg,
    Unsubscribed,
    UserOrderMsg,
)
from kalshi_mm.clock import SimClock
from kalshi_mm.config.sections_infra import WebsocketsConfig
from kalshi_mm.state.store import DataKind, MarketStateStore, TopOfBook
from kalshi_mm.units import Rounding

BID, ASK = BookSide.BID, BookSide.ASK


def config(**overrides: Any) -> WebsocketsConfig:
    values: dict[str, Any] = {"enabled": True, "max_price_history": 50, "max_trades_per_ticker": 3} | overrides
    return WebsocketsConfig(**values)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start=1_000.0)


@pytest.fixture
def store(clock: SimClock) -> MarketStateStore:
    s = MarketStateStore(clock, config())
    s.set_ws_healthy(True)
    return s


Levels = tuple[tuple[int, int], ...]


def snap(
    clock: SimClock,
    ticker: str = "T",
    bids: Levels = ((4700, 300),),
    asks: Levels = ((5200, 50),),
    sid: int | None = 1,
    seq: int | None = 1,
) -> OrderbookSnapshot:
    return OrderbookSnapshot(sid, seq, ticker, None, bids, asks, None, clock.time())


def delta(
    clock: SimClock, side: BookSide, price: int, size: int, ticker: str = "T", sid: int = 1, seq: int = 2
) -> OrderbookDelta:
    return OrderbookDelta(sid, seq, ticker, side, price, size, None, None, clock.time())


def ticker_msg(clock: SimClock, ticker: str = "T", bid: int | None = 4500, ask: int | None = 5300) -> TickerUpdate:
    return TickerUpdate(11, ticker, None, 4800, bid, ask, 100, 200, 10, 1000, 500, None, None, None, clock.time())


def fill(clock: SimClock, trade_id: str, ticker: str = "T") -> FillMsg:
    return FillMsg(13, trade_id, "o1", None, ticker, BID, False, 4700, 100, 1, 100, None, clock.time())


def position(clock: SimClock, ticker: str = "T", pos: int = 500) -> MarketPositionMsg:
    return MarketPositionMsg(14, ticker, pos, 2350, 0, 10, None, None, None, clock.time())


def order(
    clock: SimClock, oid: str, status: str = "resting", updated: int | None = 1, ticker: str = "T"
) -> UserOrderMsg:
    return UserOrderMsg(
        22, oid, None, ticker, status, BID, 4700, 100, 0, 100, None, None, None, None, None, None, 1, updated, None,
        clock.time(),
    )  # fmt: skip


# --- books ------------------------------------------------------------------------------------------------------


def test_snapshot_then_deltas(store: MarketStateStore, clock: SimClock) -> None:
    assert store.apply(snap(clock)) == ()
    assert store.apply(delta(clock, BID, 4800, 20, seq=2)) == ()
    view = store.get_orderbook("T")
    assert view is not None
    assert view.to_levels() == (((4800, 20), (4700, 300)), ((5200, 50),))
    assert (view.sid, view.seq, view.source, view.received_ts) == (1, 2, "ws", clock.time())
    assert store.best_bid_ask("T") == TopOfBook(4800, 20, 5200, 50, clock.time())
    assert store.get_orderbook("T") is view  # cached until the book changes
    store.apply(delta(clock, ASK, 5200, -50, seq=3))
    assert store.get_orderbook("T").best_ask is None
    assert store.stats()["deltas_applied"] == 2


def test_delta_before_any_snapshot_asks_once_for_a_snapshot(store: MarketStateStore, clock: SimClock) -> None:
    assert store.apply(delta(clock, BID, 4800, 20)) == ("T",)
    assert store.apply(delta(clock, BID, 4800, 20, seq=3)) == ()  # already asked
    assert store.get_orderbook("T") is None and store.is_stale(DataKind.ORDERBOOK, "T")
    assert store.stale_books() == (("T", 1),)
    store.apply(snap(clock, seq=4))
    assert store.get_orderbook("T") is not None and store.stale_books() == ()


def test_negative_level_makes_the_book_stale_until_a_snapshot(store: MarketStateStore, clock: SimClock) -> None:
    store.apply(snap(clock))
    assert store.apply(delta(clock, BID, 4700, -301)) == ("T",)
    assert store.get_orderbook("T") is None and store.best_bid_ask("T") is None
    assert store.apply(delta(clock, BID, 4600, 5, seq=3)) == ()  # ignored while stale
    assert store.stats()["books_inconsistent"] == 1 and store.stats()["deltas_ignored"] == 1
    store.apply(snap(clock, bids=((4600, 7),), seq=4))
    assert store.get_orderbook("T").to_levels() == (((4600, 7),), ((5200, 50),))


def test_sid_gap_marks_only_that_sids_books(store: MarketStateStore, clock: SimClock) -> None:
    store.apply(snap(clock, "A", sid=1))
    store.apply(snap(clock, "B", sid=1, seq=2))
    store.apply(snap(clock, "C", sid=2))
    assert sorted(store.mark_sid_stale(1)) == ["A", "B"]
    assert store.get_orderbook("A") is None and store.get_orderbook("C") is not None
    store.apply(delta(clock, BID, 4800, 1, ticker="A", seq=4))
    assert store.stats()["deltas_applied"] == 0
    store.apply(snap(clock, "A", sid=1, seq=5))  # get_snapshot reply
    assert store.get_orderbook("A") is not None and store.get_orderbook("B") is None


def test_mark_stale_and_deltas_from_another_sid(store: MarketStateStore, clock: SimClock) -> None:
    store.apply(snap(clock, "A", sid=1))
    store.apply(delta(clock, BID, 4800, 1, ticker="A", sid=9))  # an old subscription's late delta
    assert store.get_orderbook("A").best_bid == 4700
    assert store.mark_stale(["A", "NOPE"]) == ("A",)
    assert store.get_orderbook("A") is None


def test_control_messages(store: MarketStateStore, clock: SimClock) -> None:
    store.apply(snap(clock, "A", sid=1))
    store.apply(snap(clock, "B", sid=2))
    t = clock.time()
    for msg in (Subscribed(1, "ticker", 5, t), Ok(2, 1, 3, ("A",), None, t), UnknownMsg("x", 5, 1, t)):
        assert store.apply(msg) == ()
    assert store.apply(ErrorMsg(3, 8, "Unknown channel name", None, None, (), t)) == ()
    assert store.apply(ErrorMsg(None, 25, "Subscription buffer overflow", 2, 9, (), t)) == ("B",)
    assert store.get_orderbook("B") is None
    assert store.apply(Unsubscribed(4, 1, 3, t)) == ()  # deliberate: no resnapshot wanted
    assert store.get_orderbook("A") is None


def test_rest_snapshot_is_not_taken_into_the_stream(store: MarketStateStore, clock: SimClock) -> None:
    store.apply(snap(clock, sid=None, seq=None))
    assert store.get_orderbook("T") is None


# --- staleness --------------------------------------------------------------------------------------------------


def test_data_expires_one_threshold_after_the_last_proof_of_life(store: MarketStateStore, clock: SimClock) -> None:
    store.apply(snap(clock))
    store.apply(ticker_msg(clock))
    store.apply(position(clock))
    clock.advance(9.0)
    store.note_alive()  # a heartbeat: a quiet stream is still a current stream
    clock.advance(9.5)
    assert store.get_orderbook("T") is not None and store.get_ticker("T") is not None
    clock.advance(0.6)  # 10.1 s after the last proof of life
    assert store.get_orderbook("T") is None and store.best_bid_ask("T") is None
    assert store.get_ticker("T") is None and store.is_stale("ticker", "T")
    assert store.get_position("T") is not None and not store.is_stale(DataKind.POSITION, "T")  # 30 s threshold
    clock.advance(20.0)
    assert store.get_position("T") is None and store.is_stale("position", "T")
    store.apply(snap(clock, seq=2))  # new data is fresh again
    assert not store.is_stale("orderbook", "T")


def test_custom_thresholds_and_missing_data(clock: SimClock) -> None:
    s = MarketStateStore(clock, config(ticker_staleness_seconds=1.0))
    s.apply(ticker_msg(clock))
    clock.advance(1.5)
    assert s.get_ticker("T") is None
    assert s.is_stale("ticker", "NOPE") and s.is_stale("orderbook", "NOPE") and s.is_stale("position", "NOPE")
    with pytest.raises(ValueError):
        s.is_stale("volume", "T")


def test_health_flags(store: MarketStateStore, clock: SimClock) -> None:
    fresh = MarketStateStore(clock, config())
    assert not fresh.ws_healthy and fresh.last_message_time is None and fresh.seconds_since_last_message() is None
    store.apply(ticker_msg(clock))
    assert store.last_message_time == clock.time()
    clock.advance(2.0)
    assert store.seconds_since_last_message() == 2.0
    store.note_alive(clock.time() - 0.5)
    assert store.last_message_time == clock.time() - 0.5
    store.set_ws_healthy(False)
    assert not store.ws_healthy


# --- REST fallback ----------------------------------------------------------------------------------------------


class StubRest:
    def __init__(self, clock: SimClock, fail: bool = False) -> None:
        self.clock, self.calls, self.fail = clock, 0, fail
        self.gate: threading.Event | None = None

    def get_orderbook(self, ticker: str) -> OrderbookSnapshot:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail:
            raise ConnectionError("REST down")
        return OrderbookSnapshot(
            None, None, ticker, None, ((4000 + self.calls, 100),), ((6000, 10),), None, self.clock.time()
        )


def test_rest_fallback_fetches_caches_and_expires(clock: SimClock) -> None:
    rest = StubRest(clock)
    s = MarketStateStore(clock, config(), rest_fallback=rest, rest_orderbook_ttl_s=1.0)
    s.set_ws_healthy(True)
    assert s.get_orderbook("T") is None and rest.calls == 0  # REST only when asked for
    view = s.get_orderbook("T", allow_rest=True)
    assert (view.source, view.sid, view.best_bid, view.best_ask) == ("rest", None, 4001, 6000)
    assert s.get_orderbook("T", allow_rest=True) is view and rest.calls == 1
    clock.advance(1.5)
    assert s.get_orderbook("T", allow_rest=True).best_bid == 4002 and s.stats()["rest_fetches"] == 2
    s.apply(snap(clock))
    assert s.get_orderbook("T", allow_rest=True).source == "ws"  # a live book wins


def test_rest_when_websocket_disabled_or_unhealthy(clock: SimClock) -> None:
    rest = StubRest(clock)
    disabled = MarketStateStore(clock, config(enabled=False), rest_fallback=rest)
    disabled.apply(snap(clock))
    assert disabled.get_orderbook("T") is None
    assert disabled.get_orderbook("T", allow_rest=True).source == "rest"
    unhealthy = MarketStateStore(clock, config(), rest_fallback=rest)
    unhealthy.apply(snap(clock))  # fresh, but the connection is not known healthy
    assert unhealthy.get_orderbook("T").source == "ws"
    assert unhealthy.get_orderbook("T", allow_rest=True).source == "rest"
    stays = MarketStateStore(clock, config(ws_fallback_on_unhealthy=False), rest_fallback=rest)
    stays.apply(snap(clock))
    assert stays.get_orderbook("T", allow_rest=True).source == "ws"


def test_rest_errors_propagate(clock: SimClock) -> None:
    s = MarketStateStore(clock, config(), rest_fallback=StubRest(clock, fail=True))
    with pytest.raises(ConnectionError):
        s.get_orderbook("T", allow_rest=True)


def test_concurrent_readers_share_one_rest_fetch(clock: SimClock) -> None:
    rest = StubRest(clock)
    rest.gate = threading.Event()
    s = MarketStateStore(clock, config(), rest_fallback=rest)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(s.get_orderbook("T", allow_rest=True))) for _ in range(4)]
    for t in threads:
        t.start()
    rest.gate.set()
    for t in threads:
        t.join(5)
    assert rest.calls == 1 and len(results) == 4 and len({id(v) for v in results}) == 1


# --- fills, trades, positions, orders, lifecycle ----------------------------------------------------------------


def test_fills_are_deduplicated_and_drained_once(store: MarketStateStore, clock: SimClock) -> None:
    for trade_id in ("f1", "f2", "f1", "f3", "f2"):
        store.apply(fill(clock, trade_id, ticker="A" if trade_id != "f3" else "B"))
    assert [f.fill_id for f in store.drain_fills()] == ["f1", "f2", "f3"]
    assert store.drain_fills() == []
    assert store.record_fill(fill(clock, "f1")) is False  # REST reconciliation sees the same dedupe
    assert store.record_fill(fill(clock, "f4")) is True
    batch = store.fills_since(0)
    assert [f.fill_id for f in batch.fills] == ["f1", "f2", "f3", "f4"] and (batch.cursor, batch.missed) == (4, 0)
    assert [f.fill_id for f in store.fills_since(1, ticker="B").fills] == ["f3"]
    assert store.fills_since(batch.cursor).fills == ()
    assert store.stats()["fills_duplicate"] == 2
    assert [f.fill_id for f in store.drain_fills()] == ["f4"]


def test_trades_ring_buffer(store: MarketStateStore, clock: SimClock) -> None:
    for i in range(5):
        store.apply(TradeMsg(11, i + 1, f"t{i}", "T", 4700, 100, BID, False, None, clock.time()))
        clock.advance(1.0)
    trades = store.recent_trades("T")
    assert [t.trade_id for t in trades] == ["t2", "t3", "t4"]  # max_trades_per_ticker=3
    assert [t.trade_id for t in store.recent_trades("T", since=clock.time() - 2.5)] == ["t3", "t4"]
    assert store.recent_trades("NOPE") == ()


def test_positions_keep_the_latest(store: MarketStateStore, clock: SimClock) -> None:
    store.apply(position(clock, pos=500))
    store.apply(position(clock, pos=-200))
    assert store.get_position("T").position_e2 == -200 and store.get_position("X") is None


def test_orders_latest_state_and_late_replays(store: MarketStateStore, clock: SimClock) -> None:
    store.apply(order(clock, "o1", "resting", updated=10))
    store.apply(order(clock, "o1", "canceled", updated=20))
    store.apply(order(clock, "o1", "resting", updated=15))  # a late replay of an older state
    assert store.get_order("o1").status == "canceled"
    assert store.stats()["orders_out_of_order"] == 1
    store.apply(order(clock, "o2", "resting", updated=None, ticker="U"))
    assert [o.order_id for o in store.orders(resting_only=True)] == ["o2"]
    assert [o.order_id for o in store.orders(ticker="T")] == ["o1"]
    store.apply(OrderGroupMsg(21, 1, "triggered", "g1", None, None, clock.time()))
    assert store.get_order_group("g1").event_type == "triggered" and store.get_order_group("g2") is None


def test_order_table_evicts_finished_orders_first(clock: SimClock) -> None:
    s = MarketStateStore(clock, config(), max_orders=3)
    s.apply(order(clock, "r1"))
    s.apply(order(clock, "d1", "executed"))
    s.apply(order(clock, "r2"))
    s.apply(order(clock, "r3"))
    assert {o.order_id for o in s.orders()} == {"r1", "r2", "r3"}
    s.apply(order(clock, "r4"))  # only resting left: the least recently updated goes
    assert {o.order_id for o in s.orders()} == {"r2", "r3", "r4"}


def test_lifecycle_latest_and_log(store: MarketStateStore, clock: SimClock) -> None:
    def lc(event_type: str, ticker: str | None, mtype: str = "market_lifecycle_v2") -> LifecycleMsg:
        return LifecycleMsg(
            13, 1, mtype, event_type, ticker, None, None, None, None, None, None, None, None, None, None, {},
            clock.time(),
        )  # fmt: skip

    store.apply(lc("created", "T"))
    clock.advance(1)
    store.apply(lc("deactivated", "T"))
    store.apply(lc("event_lifecycle", None, "event_lifecycle"))
    assert store.get_lifecycle("T").event_type == "deactivated"
    assert [e.event_type for e in store.lifecycle_events()] == ["created", "deactivated", "event_lifecycle"]
    assert len(store.lifecycle_events(since=clock.time() - 0.5)) == 2


# --- price history ----------------------------------------------------------------------------------------------


def test_history_records_top_of_book_price_changes(store: MarketStateStore, clock: SimClock) -> None:
    store.apply(snap(clock, bids=((4700, 300), (4600, 100)), asks=((5200, 50),)))
    clock.advance(1)
    store.apply(delta(clock, BID, 4700, 5))  # size only: no new point
    store.apply(delta(clock, BID, 4800, 10, seq=3))
    points = store.price_history("T")
    assert [(p.bid_e4, p.ask_e4, p.source) for p in points] == [(4700, 5200, "book"), (4800, 5200, "book")]
    last = points[-1]
    assert (last.bid_size_e2, last.ask_size_e2, last.bid_depth_e2, last.ask_depth_e2) == (10, 50, 415, 50)
    assert (last.spread_e4, last.mid_e4(Rounding.DOWN)) == (400, 5000)
    assert store.price_history("T", since=clock.time() - 0.5) == (last,)


def test_history_from_ticker_only_without_a_live_book(store: MarketStateStore, clock: SimClock) -> None:
    store.apply(ticker_msg(clock, "A", 4500, 5300))
    store.apply(ticker_msg(clock, "A", 4500, 5300))  # unchanged top: no point
    store.apply(ticker_msg(clock, "A", None, 5300))
    assert [(p.bid_e4, p.bid_size_e2, p.source) for p in store.price_history("A")] == [
        (4500, 100, "ticker"),
        (None, 0, "ticker"),
    ]
    store.apply(snap(clock, "B"))
    store.apply(ticker_msg(clock, "B", 4000, 6000))
    assert [p.source for p in store.price_history("B")] == ["book"]


def test_history_is_bounded_and_can_coalesce(clock: SimClock) -> None:
    s = MarketStateStore(clock, config(max_price_history=3))
    s.apply(snap(clock))
    for i in range(10):
        s.apply(delta(clock, BID, 4800 + i, 1, seq=2 + i))
    assert [p.bid_e4 for p in s.price_history("T")] == [4807, 4808, 4809]
    c = MarketStateStore(clock, config(), history_min_interval_s=1.0)
    c.apply(snap(clock))
    c.apply(delta(clock, BID, 4800, 1))
    clock.advance(1.0)
    c.apply(delta(clock, BID, 4900, 1, seq=3))
    assert [p.bid_e4 for p in c.price_history("T")] == [4800, 4900]  # the burst kept its newest point


def test_forget_drops_a_market(store: MarketStateStore, clock: SimClock) -> None:
    store.apply(snap(clock))
    store.apply(ticker_msg(clock))
    store.apply(position(clock))
    store.forget("T")
    assert store.get_orderbook("T") is None and store.get_ticker("T") is None and store.get_position("T") is None
    assert store.price_history("T") == ()
