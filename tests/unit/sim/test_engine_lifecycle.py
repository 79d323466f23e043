"""Order groups, GTT expiry, market close, pauses, settlement, events and determinism of the exchange."""

from __future__ import annotations

import random
import threading

import pytest

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.events import (
    BookDelta,
    ExchangeEvent,
    FillEvent,
    LifecycleKind,
    MarketLifecycle,
    OrderGroupEventKind,
    OrderGroupUpdate,
    OrderUpdate,
    PositionUpdate,
    SettlementEvent,
    TradeEvent,
)
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import (
    Event,
    Market,
    MarketResult,
    MarketStatus,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Series,
    Side,
    TimeInForce,
    UpdateReason,
)

T0 = 1_767_225_600
M = "S-E-M"
CASH = 1_000 * 10_000


def world(
    *, open_ts: int = T0 - 60, close_ts: int = T0 + 3600, timer_s: int = 0, seed: int = 5
) -> tuple[Exchange, SimClock]:
    clock = SimClock(start=T0)
    ex = Exchange(clock, seed=seed)
    ex.add_series(Series("S"))
    ex.add_event(Event("S-E", "S"))
    ex.add_market(Market(M, "S-E", open_ts=open_ts, close_ts=close_ts, settlement_timer_seconds=timer_s))
    for user in ("a", "b", "c"):
        ex.create_account(user, CASH)
    return ex, clock


def bid(ex: Exchange, user: str, price: int, count: int, **kw: object) -> OrderResult:
    return ex.place_order(user, OrderRequest(M, Side.BID, price, count, **kw))  # type: ignore[arg-type]


def ask(ex: Exchange, user: str, price: int, count: int, **kw: object) -> OrderResult:
    return ex.place_order(user, OrderRequest(M, Side.ASK, price, count, **kw))  # type: ignore[arg-type]


# --- order groups ---------------------------------------------------------------------------------------


def test_order_group_trips_within_window_and_reset_reopens_it() -> None:
    ex, clock = world()
    group = ex.create_order_group("a", 500)
    first = bid(ex, "a", 4000, 300, order_group_id=group.group_id).order.order_id
    other = bid(ex, "a", 3900, 1000, order_group_id=group.group_id).order.order_id
    outside = bid(ex, "a", 3000, 100).order.order_id
    ask(ex, "b", 4000, 300)
    assert ex.get_order_group("a", group.group_id).matched_in_window_e2 == 300
    clock.advance(10)
    ask(ex, "b", 3900, 200)  # 500 matched within 15 s -> trip
    state = ex.get_order_group("a", group.group_id)
    assert state.triggered and state.order_ids == ()
    cancelled = ex.get_order("a", other)
    assert (cancelled.status, cancelled.last_update_reason) == (OrderStatus.CANCELED, UpdateReason.ORDER_GROUP_CANCEL)
    assert ex.get_order("a", first).status is OrderStatus.EXECUTED
    assert ex.get_order("a", outside).status is OrderStatus.RESTING
    with pytest.raises(ExchangeError) as exc:
        bid(ex, "a", 4000, 100, order_group_id=group.group_id)
    assert (exc.value.http_status, exc.value.code) == (409, "order_group_triggered")
    ex.reset_order_group("a", group.group_id)
    assert bid(ex, "a", 4000, 100, order_group_id=group.group_id).order.status is OrderStatus.RESTING


def test_order_group_window_rolls_off_after_15_seconds() -> None:
    ex, clock = world()
    group = ex.create_order_group("a", 500)
    bid(ex, "a", 4000, 1000, order_group_id=group.group_id)
    ask(ex, "b", 4000, 300)
    clock.advance(15)
    ask(ex, "b", 4000, 300)
    state = ex.get_order_group("a", group.group_id)
    assert not state.triggered and state.matched_in_window_e2 == 300


def test_order_group_limit_trigger_and_delete() -> None:
    ex, _ = world()
    group = ex.create_order_group("a", 1000)
    gid = group.group_id
    bid(ex, "a", 4000, 1000, order_group_id=gid)
    ask(ex, "b", 4000, 400)
    ex.set_order_group_limit("a", gid, 400)  # already matched 400 -> trips
    assert ex.get_order_group("a", gid).triggered
    ex.reset_order_group("a", gid)
    resting = bid(ex, "a", 3000, 100, order_group_id=gid).order.order_id
    ex.trigger_order_group("a", gid)
    assert ex.get_order("a", resting).last_update_reason is UpdateReason.ORDER_GROUP_CANCEL
    ex.reset_order_group("a", gid)
    again = bid(ex, "a", 3000, 100, order_group_id=gid).order.order_id
    ex.delete_order_group("a", gid)
    assert ex.get_order("a", again).status is OrderStatus.CANCELED and ex.order_groups("a") == []
    with pytest.raises(ExchangeError) as exc:
        ex.get_order_group("a", gid)
    assert exc.value.http_status == 404


# --- expiry, close, pauses ------------------------------------------------------------------------------


def test_gtt_order_expires_at_its_time() -> None:
    ex, clock = world()
    order_id = bid(ex, "a", 4000, 100, expiration_ts=T0 + 30).order.order_id
    clock.advance(29)
    ex.tick()
    assert ex.get_order("a", order_id).status is OrderStatus.RESTING
    clock.advance(1)
    ex.tick()
    order = ex.get_order("a", order_id)
    assert (order.status, order.last_update_reason) == (OrderStatus.CANCELED, UpdateReason.EXPIRY_CANCEL)
    assert ex.balance("a") == CASH


def test_expiry_is_applied_before_matching_even_without_tick() -> None:
    ex, clock = world()
    bid(ex, "a", 4000, 100, expiration_ts=T0 + 30)
    clock.advance(31)
    res = ask(ex, "b", 4000, 100, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL)
    assert res.fills == ()


def test_bad_expirations_are_rejected() -> None:
    ex, _ = world()
    with pytest.raises(ExchangeError, match="future"):
        bid(ex, "a", 4000, 100, expiration_ts=T0)
    with pytest.raises(ExchangeError, match="immediate_or_cancel"):
        bid(ex, "a", 4000, 100, expiration_ts=T0 + 60, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL)


def test_market_opens_on_time_and_close_cancels_resting_orders() -> None:
    ex, clock = world(open_ts=T0 + 10, close_ts=T0 + 100)
    assert ex.market(M).status is MarketStatus.INITIALIZED
    with pytest.raises(ExchangeError, match="market_closed"):
        bid(ex, "a", 4000, 100)
    clock.advance(10)
    ex.tick()
    assert ex.market(M).status is MarketStatus.ACTIVE
    order_id = bid(ex, "a", 4000, 100).order.order_id
    clock.advance(90)
    ex.tick()
    assert ex.market(M).status is MarketStatus.CLOSED
    order = ex.get_order("a", order_id)
    assert (order.status, order.last_update_reason) == (OrderStatus.CANCELED, UpdateReason.CLOSE_CANCEL)
    with pytest.raises(ExchangeError) as exc:
        bid(ex, "a", 4000, 100)
    assert (exc.value.http_status, exc.value.code) == (409, "market_closed")


def test_lifecycle_steps_come_due_in_phase_then_listing_order() -> None:
    # Markets listed in an order unrelated to their due times; one late tick applies opens, then closes,
    # then settlements, each in listing order, exactly once. Early changes leave no stale step behind.
    ex, clock = world(open_ts=T0 + 30, close_ts=T0 + 40, timer_s=20)
    for name, open_ts, close_ts in (
        ("S-E-A", T0 + 20, T0 + 500),
        ("S-E-B", T0 + 5, T0 + 25),
        ("S-E-C", T0 - 1, T0 + 10),
        ("S-E-D", T0 - 1, T0 + 15),
    ):
        ex.add_market(Market(name, "S-E", open_ts=open_ts, close_ts=close_ts, settlement_timer_seconds=20))
    ex.close_market("S-E-D")  # early: its scheduled close at T0 + 15 must not fire again
    seen: list[tuple[str, LifecycleKind]] = []
    ex.add_listener(lambda e: seen.append((e.ticker, e.kind)) if isinstance(e, MarketLifecycle) else None)
    clock.advance(4)
    ex.tick()
    assert seen == []
    ex.determine("S-E-D", "yes")  # settles at T0 + 24
    seen.clear()
    clock.advance(60)
    ex.tick()
    opened, closed = LifecycleKind.ACTIVATED, LifecycleKind.CLOSED
    assert seen == [
        (M, opened),
        ("S-E-A", opened),
        ("S-E-B", opened),
        (M, closed),
        ("S-E-B", closed),
        ("S-E-C", closed),
        ("S-E-D", LifecycleKind.SETTLED),
    ]
    assert ex.market("S-E-A").status is MarketStatus.ACTIVE
    seen.clear()
    clock.advance(1000)
    ex.tick()
    assert seen == [("S-E-A", closed)]


def test_trading_pause_rejects_place_and_amend_allows_cancel() -> None:
    ex, _ = world()
    keep = bid(ex, "a", 4000, 100).order.order_id
    fragile = bid(ex, "a", 3900, 100, cancel_order_on_pause=True).order.order_id
    ex.set_trading_paused(True)
    assert not ex.status().trading_active and ex.status().exchange_active
    assert ex.get_order("a", fragile).last_update_reason is UpdateReason.PAUSE_CANCEL
    with pytest.raises(ExchangeError) as exc:
        bid(ex, "a", 4000, 100)
    assert (exc.value.http_status, exc.value.code) == (409, "trading_is_paused")
    with pytest.raises(ExchangeError, match="trading_is_paused"):
        ex.amend_order("a", keep, ticker=M, side=Side.BID, price_e4=4100, count_e2=100)
    assert ex.cancel_order("a", keep).order.status is OrderStatus.CANCELED
    ex.set_trading_paused(False)
    assert bid(ex, "a", 4000, 100).order.status is OrderStatus.RESTING


def test_market_pause_and_exchange_pause() -> None:
    ex, _ = world()
    order_id = bid(ex, "a", 4000, 100).order.order_id
    ex.set_market_paused(M, True)
    assert ex.market(M).filter_status == "paused"
    with pytest.raises(ExchangeError, match="trading_is_paused"):
        bid(ex, "a", 4000, 100)
    ex.set_market_paused(M, False)
    ex.set_exchange_paused(True)
    with pytest.raises(ExchangeError) as exc:
        ex.cancel_order("a", order_id)
    assert exc.value.http_status == 503
    ex.set_exchange_paused(False)
    assert ex.cancel_order("a", order_id).reduced_by_e2 == 100


# --- settlement -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("result", "winner", "loser"), [("yes", "a", "b"), ("no", "b", "a")])
def test_settlement_pays_one_dollar_per_winning_contract(result: str, winner: str, loser: str) -> None:
    ex, clock = world(timer_s=60)
    bid(ex, "a", 4000, 300)  # a: long 3 YES at $0.40 (maker, no fee)
    ask(ex, "b", 4000, 300)  # b: long 3 NO at $0.60 (taker fee 0.07*3*0.24 = $0.0504)
    cash = {u: ex.balance(u) for u in ("a", "b")}
    ex.determine(M, result)
    assert ex.market(M).status is MarketStatus.DETERMINED and len(ex.positions("a")) == 1
    clock.advance(60)
    ex.tick()
    market = ex.market(M)
    assert (market.status, market.result, market.open_interest_e2) == (MarketStatus.FINALIZED, MarketResult(result), 0)
    assert ex.balance(winner) == cash[winner] + 3_0000 and ex.balance(loser) == cash[loser]
    assert ex.positions("a") == [] and ex.positions("b") == []
    (won,) = ex.settlements(winner)
    assert won.revenue_e6 == 3_000_000 and won.market_result is MarketResult(result)
    assert (won.yes_count_e2, won.no_count_e2) == ((300, 0) if winner == "a" else (0, 300))
    assert ex.settlements(loser)[0].revenue_e6 == 0
    assert ex.settlements("b")[0].fee_cost_e4 == 504
    ledger = ex.ledger()
    assert ledger.balanced and ledger.escrow_e6 == 0 and ledger.reserved_e6 == 0
    assert ledger.available_e6 + ledger.fees_e6 == 3 * CASH * 100


def test_determine_closes_an_open_market_and_cancels_its_orders() -> None:
    ex, _ = world()
    order_id = bid(ex, "a", 4000, 100).order.order_id
    ex.determine(M, "no")
    assert ex.market(M).status is MarketStatus.FINALIZED
    assert ex.get_order("a", order_id).last_update_reason is UpdateReason.CLOSE_CANCEL
    assert ex.balance("a") == CASH and ex.settlements("a") == []


# --- events and determinism -----------------------------------------------------------------------------


def test_events_follow_state_changes_in_order() -> None:
    ex, _ = world()
    seen: list[ExchangeEvent] = []
    ex.add_listener(seen.append)
    bid(ex, "a", 4000, 300)
    assert [type(e) for e in seen] == [BookDelta, OrderUpdate]
    assert seen[0] == BookDelta(M, Side.BID, 4000, 300, T0 * 1000, "a", "")
    seen.clear()
    ask(ex, "b", 4000, 100)
    kinds = [type(e) for e in seen]
    assert kinds[0] is TradeEvent and kinds.count(FillEvent) == 2 and kinds.count(PositionUpdate) == 2
    assert kinds[-1] is OrderUpdate and isinstance(seen[-1], OrderUpdate) and seen[-1].user_id == "b"
    assert any(isinstance(e, BookDelta) and e.delta_e2 == -100 for e in seen)
    seen.clear()
    ex.determine(M, "yes")
    kinds = [type(e) for e in seen]
    assert SettlementEvent in kinds and kinds[-1] is MarketLifecycle
    assert isinstance(seen[-1], MarketLifecycle) and seen[-1].kind is LifecycleKind.SETTLED


def test_a_failing_listener_does_not_break_the_exchange() -> None:
    ex, _ = world()
    seen: list[ExchangeEvent] = []

    def broken(event: ExchangeEvent) -> None:
        raise RuntimeError("listener bug")

    ex.add_listener(broken)
    ex.add_listener(seen.append)
    group = ex.create_order_group("a", 100)
    assert bid(ex, "a", 4000, 100).order.status is OrderStatus.RESTING
    assert isinstance(seen[0], OrderGroupUpdate) and seen[0].kind is OrderGroupEventKind.CREATED
    assert seen[0].group_id == group.group_id


def _script(seed: int) -> Exchange:
    ex, clock = world(seed=seed)
    for i in range(20):
        price = 4000 + 100 * (i % 5)
        bid(ex, "a", price, 100 + i)
        ask(ex, "b", 4200, 150)
        if i % 3 == 0:
            ask(ex, "c", 3900, 80, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL)
        clock.advance(0.25)
    return ex


def test_same_inputs_and_clock_give_identical_trade_log() -> None:
    one, two = _script(11), _script(11)
    assert one.trade_log() == two.trade_log() and len(one.trade_log()) > 10
    assert one.fills("a") == two.fills("a") and one.ledger() == two.ledger()
    other = _script(12)
    assert [t.trade_id for t in other.trade_log()] != [t.trade_id for t in one.trade_log()]
    assert [(t.yes_price_e4, t.count_e2) for t in other.trade_log()] == [
        (t.yes_price_e4, t.count_e2) for t in one.trade_log()
    ]


def test_concurrent_callers_leave_a_consistent_exchange() -> None:
    ex, _ = world()
    errors: list[BaseException] = []

    def trader(user: str, seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(150):
                side = rng.choice([Side.BID, Side.ASK])
                try:
                    res = ex.place_order(
                        user, OrderRequest(M, side, rng.choice([4800, 4900, 5000, 5100, 5200]), rng.randint(1, 300))
                    )
                    if rng.random() < 0.3 and res.order.status is OrderStatus.RESTING:
                        ex.cancel_order(user, res.order.order_id)
                except ExchangeError:
                    pass  # e.g. the order filled before the cancel: expected under concurrency
        except BaseException as exc:  # surface anything unexpected in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=trader, args=(u, i)) for i, u in enumerate(("a", "b", "c"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ledger = ex.ledger()
    assert ledger.balanced and ledger.open_yes_e2 == ledger.open_no_e2 > 0
    top = ex.top_of_book(M)
    assert top.yes_bid_e4 is None or top.yes_ask_e4 is None or top.yes_bid_e4 < top.yes_ask_e4
