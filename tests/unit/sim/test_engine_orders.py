"""Order entry on the embedded exchange: matching, time in force, post-only, STP, ids, collateral, views."""

from __future__ import annotations

import pytest

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import (
    Event,
    FeeType,
    Market,
    OrderRequest,
    OrderResult,
    OrderStatus,
    OutcomeSide,
    SelfTradePrevention,
    Series,
    Side,
    TimeInForce,
    UpdateReason,
)
from kalshi_mm.units import PriceGrid

T0 = 1_767_225_600
M = "S-E-M"
GTC, IOC, FOK = TimeInForce.GOOD_TILL_CANCELED, TimeInForce.IMMEDIATE_OR_CANCEL, TimeInForce.FILL_OR_KILL


def world(
    *, fee_type: FeeType = FeeType.QUADRATIC, grid: PriceGrid | None = None, cash_e4: int = 1_000 * 10_000
) -> Exchange:
    ex = Exchange(SimClock(start=T0), seed=7)
    ex.add_series(Series("S", fee_type=fee_type))
    ex.add_event(Event("S-E", "S"))
    ex.add_market(Market(M, "S-E", open_ts=T0 - 60, close_ts=T0 + 3600, grid=grid or PriceGrid.linear_cent()))
    for user in ("a", "b", "c", "d"):
        ex.create_account(user, cash_e4)
    return ex


def bid(ex: Exchange, user: str, price: int, count: int, **kw: object) -> OrderResult:
    return ex.place_order(user, OrderRequest(M, Side.BID, price, count, **kw))  # type: ignore[arg-type]


def ask(ex: Exchange, user: str, price: int, count: int, **kw: object) -> OrderResult:
    return ex.place_order(user, OrderRequest(M, Side.ASK, price, count, **kw))  # type: ignore[arg-type]


def test_same_price_fills_in_time_order() -> None:
    ex = world()
    first = bid(ex, "a", 4000, 100)
    second = bid(ex, "b", 4000, 100)
    res = ask(ex, "c", 4000, 100)
    assert [f.count_e2 for f in res.fills] == [100]
    assert ex.get_order("a", first.order.order_id).status is OrderStatus.EXECUTED
    assert ex.get_order("b", second.order.order_id).status is OrderStatus.RESTING


def test_better_price_fills_before_earlier_order() -> None:
    ex = world()
    early = bid(ex, "a", 4000, 100)
    better = bid(ex, "b", 4100, 100)
    ask(ex, "c", 4000, 100)
    assert ex.get_order("b", better.order.order_id).status is OrderStatus.EXECUTED
    assert ex.get_order("a", early.order.order_id).remaining_count_e2 == 100


def test_partial_fill_leaves_resting_remainder() -> None:
    ex = world()
    resting = ask(ex, "a", 5000, 1000)
    res = bid(ex, "b", 5000, 400)
    assert res.order.status is OrderStatus.EXECUTED and res.fill_count_e2 == 400
    maker = ex.get_order("a", resting.order.order_id)
    assert (maker.status, maker.fill_count_e2, maker.remaining_count_e2) == (OrderStatus.RESTING, 400, 600)
    assert ex.orderbook(M).no == ((5000, 600),)


def test_trade_executes_at_resting_price() -> None:
    ex = world()
    ask(ex, "a", 4500, 100)
    res = bid(ex, "b", 6000, 100)
    assert [f.yes_price_e4 for f in res.fills] == [4500]
    assert ex.trade_log()[0].yes_price_e4 == 4500
    assert res.order.taker_fill_cost_e6 == 4500 * 100  # paid $0.45, not the $0.60 limit
    assert ex.positions("b")[0].market_exposure_e6 == 450_000


def test_crossing_bid_sweeps_levels_then_rests() -> None:
    ex = world()
    ask(ex, "a", 4500, 100)
    ask(ex, "b", 4600, 200)
    ask(ex, "c", 4800, 300)
    res = bid(ex, "d", 4700, 500)
    assert [(f.yes_price_e4, f.count_e2) for f in res.fills] == [(4500, 100), (4600, 200)]
    assert res.order.status is OrderStatus.RESTING and res.order.remaining_count_e2 == 200
    view = ex.orderbook(M)
    assert view.yes == ((4700, 200),) and view.no == ((5200, 300),)
    assert res.average_fill_price_e4() == 4567  # (4500*1 + 4600*2) / 3 = 4566.67, half up


def test_off_grid_price_and_bad_size_rejected() -> None:
    ex = world()
    with pytest.raises(ExchangeError) as exc:
        bid(ex, "a", 4550, 100)
    assert (exc.value.http_status, exc.value.code) == (400, "invalid_price")
    for price in (0, 10_000):
        with pytest.raises(ExchangeError, match="invalid_price"):
            bid(ex, "a", price, 100)
    with pytest.raises(ExchangeError) as exc:
        bid(ex, "a", 4500, 0)
    assert exc.value.code == "invalid_order_size"
    assert ex.orders("a") == []


def test_tapered_grid_accepts_sub_cent_only_at_the_tails() -> None:
    ex = world(grid=PriceGrid.tapered_deci_cent())
    assert bid(ex, "a", 950, 100).order.status is OrderStatus.RESTING
    with pytest.raises(ExchangeError, match="invalid_price"):
        bid(ex, "a", 1050, 100)


def test_post_only_cross_is_rejected_and_never_rests() -> None:
    ex = world()
    ask(ex, "a", 5000, 100)
    before = ex.balance("b")
    with pytest.raises(ExchangeError) as exc:
        bid(ex, "b", 5000, 100, post_only=True)
    assert exc.value.body() == {
        "error": {"code": "invalid_order", "message": "invalid order", "details": "post only cross"}
    }
    assert ex.orders("b") == [] and ex.orderbook(M).yes == () and ex.balance("b") == before
    assert bid(ex, "b", 4900, 100, post_only=True).order.status is OrderStatus.RESTING


def test_fill_or_kill_is_all_or_nothing() -> None:
    ex = world()
    ask(ex, "a", 5000, 100)
    ask(ex, "b", 5100, 100)
    short = bid(ex, "c", 5100, 300, time_in_force=FOK)
    assert short.fills == () and short.order.status is OrderStatus.CANCELED
    assert short.order.remaining_count_e2 == 0 and ex.orderbook(M).no == ((4900, 100), (5000, 100))
    full = bid(ex, "c", 5100, 200, time_in_force=FOK)
    assert full.fill_count_e2 == 200 and full.order.status is OrderStatus.EXECUTED
    assert ex.orderbook(M).no == ()


def test_ioc_remainder_is_cancelled() -> None:
    ex = world()
    ask(ex, "a", 5000, 300)
    res = bid(ex, "b", 5000, 500, time_in_force=IOC)
    assert res.fill_count_e2 == 300
    assert (res.order.status, res.order.remaining_count_e2) == (OrderStatus.CANCELED, 0)
    assert res.order.last_update_reason is UpdateReason.IMMEDIATE_CANCEL
    assert ex.orderbook(M).yes == ()


def _stp_book(ex: Exchange) -> str:
    ask(ex, "b", 4900, 100)
    own = ask(ex, "a", 5000, 100).order.order_id
    ask(ex, "c", 5000, 100)
    return own


def test_stp_taker_at_cross_cancels_incoming_and_keeps_prior_fills() -> None:
    ex = world()
    own = _stp_book(ex)
    res = bid(ex, "a", 5000, 300, self_trade_prevention_type=SelfTradePrevention.TAKER_AT_CROSS)
    assert [(f.yes_price_e4, f.count_e2) for f in res.fills] == [(4900, 100)]
    assert res.order.status is OrderStatus.CANCELED
    assert res.order.last_update_reason is UpdateReason.SELF_TRADE_CANCEL
    assert ex.get_order("a", own).status is OrderStatus.RESTING
    assert ex.orderbook(M).no == ((5000, 200),)


def test_stp_maker_cancels_own_resting_and_keeps_matching() -> None:
    ex = world()
    own = _stp_book(ex)
    res = bid(ex, "a", 5000, 300, self_trade_prevention_type=SelfTradePrevention.MAKER)
    assert [(f.yes_price_e4, f.count_e2) for f in res.fills] == [(4900, 100), (5000, 100)]
    cancelled = ex.get_order("a", own)
    assert (cancelled.status, cancelled.last_update_reason) == (OrderStatus.CANCELED, UpdateReason.SELF_TRADE_CANCEL)
    assert res.order.remaining_count_e2 == 100 and ex.orderbook(M).yes == ((5000, 100),)
    assert all(t.count_e2 for t in ex.trade_log()) and len(ex.trade_log()) == 2


def test_duplicate_client_order_id_is_409() -> None:
    ex = world()
    first = bid(ex, "a", 4000, 100, client_order_id="q-1")
    with pytest.raises(ExchangeError) as exc:
        bid(ex, "a", 4100, 100, client_order_id="q-1")
    assert (exc.value.http_status, exc.value.code) == (409, "order_already_exists")
    ex.cancel_order("a", first.order.order_id)
    with pytest.raises(ExchangeError, match="order_already_exists"):
        bid(ex, "a", 4100, 100, client_order_id="q-1")  # ids stay taken: a retried create never doubles
    assert bid(ex, "b", 4000, 100, client_order_id="q-1").order.client_order_id == "q-1"


def test_collateral_reserved_at_placement_and_released_on_cancel() -> None:
    ex = world()
    start = ex.balance("a")
    res = bid(ex, "a", 4000, 1000)  # 10 contracts at $0.40
    assert ex.balance("a") == start - 4_0000
    no_side = ask(ex, "a", 7000, 1000)  # buying NO at $0.30
    assert ex.balance("a") == start - 4_0000 - 3_0000
    ex.cancel_order("a", res.order.order_id)
    ex.cancel_order("a", no_side.order.order_id)
    assert ex.balance("a") == start and ex.reserved_e6("a") == 0


def test_insufficient_balance_rejected_but_closing_needs_no_collateral() -> None:
    ex = world(cash_e4=1_0000)  # $1 each
    with pytest.raises(ExchangeError) as exc:
        bid(ex, "a", 5000, 300)  # $1.50
    assert (exc.value.http_status, exc.value.code) == (400, "available_balance_too_low")
    bid(ex, "a", 5000, 200)  # a rests as maker (no maker fee in a quadratic series)
    ex.deposit("b", 10_0000)
    ask(ex, "b", 5000, 200)  # a: long 2 YES, $0 left
    assert ex.balance("a") == 0
    assert ask(ex, "a", 6000, 200).order.status is OrderStatus.RESTING  # selling what it holds
    with pytest.raises(ExchangeError, match="available_balance_too_low"):
        ask(ex, "a", 6000, 100)  # a third contract would open NO at $0.40


def test_fee_is_part_of_the_funds_check() -> None:
    ex = world(cash_e4=5000)  # exactly $0.50
    ask(ex, "b", 5000, 100)
    with pytest.raises(ExchangeError, match="available_balance_too_low"):
        bid(ex, "a", 5000, 100)  # $0.50 + $0.0175 taker fee
    ex.deposit("a", 175)
    assert bid(ex, "a", 5000, 100).fees_e4 == 175 and ex.balance("a") == 0


def test_reduce_only_requires_ioc_and_caps_to_position() -> None:
    ex = world()
    with pytest.raises(ExchangeError, match="invalid_order"):
        ask(ex, "a", 5000, 100, reduce_only=True)
    nothing = ask(ex, "a", 5000, 100, reduce_only=True, time_in_force=IOC)
    assert nothing.fills == () and nothing.order.last_update_reason is UpdateReason.REDUCE_ONLY_CANCEL
    ask(ex, "b", 5000, 200)
    bid(ex, "a", 5000, 200)  # a long 2
    bid(ex, "c", 5000, 1000)
    res = ask(ex, "a", 5000, 500, reduce_only=True, time_in_force=IOC)
    assert res.fill_count_e2 == 200 and res.order.last_update_reason is UpdateReason.REDUCE_ONLY_CANCEL
    assert (res.order.status, res.order.initial_count_e2, res.order.remaining_count_e2) == (
        OrderStatus.CANCELED,
        500,
        0,
    )
    assert ex.positions("a")[0].position_e2 == 0


def test_fills_carry_both_sides_of_a_trade() -> None:
    ex = world(fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES)
    ask(ex, "a", 4000, 1000, client_order_id="mk")
    bid(ex, "b", 4000, 1000)
    (maker,), (taker,) = ex.fills("a"), ex.fills("b")
    trade = ex.trades(M)[0]
    assert maker.fill_id == taker.fill_id == trade.trade_id
    assert (maker.is_taker, taker.is_taker) == (False, True)
    assert (maker.side, maker.outcome_side, taker.side, taker.outcome_side) == (
        Side.ASK,
        OutcomeSide.NO,
        Side.BID,
        OutcomeSide.YES,
    )
    assert maker.yes_price_e4 == taker.yes_price_e4 == 4000 and maker.no_price_e4 == 6000
    assert (maker.post_position_e2, taker.post_position_e2) == (-1000, 1000)
    assert taker.fee_e4 == 1680 and maker.fee_e4 == 420  # 0.07/0.0175 * 10 * 0.24
    assert trade.taker_side is Side.BID and trade.taker_outcome_side is OutcomeSide.YES
    assert maker.client_order_id == "mk"


def test_orderbook_view_is_bids_only_ascending_best_last() -> None:
    ex = world()
    bid(ex, "a", 4000, 100)
    bid(ex, "a", 4200, 200)
    ask(ex, "b", 4700, 300)
    ask(ex, "b", 4500, 400)
    view = ex.orderbook(M)
    assert view.yes == ((4000, 100), (4200, 200))
    assert view.no == ((5300, 300), (5500, 400))  # asks at 0.47 / 0.45 as NO bids at 0.53 / 0.55
    top = ex.orderbook(M, depth=1)
    assert top.yes == ((4200, 200),) and top.no == ((5500, 400),)
    tob = ex.top_of_book(M)
    assert (tob.yes_bid_e4, tob.yes_ask_e4, tob.yes_ask_size_e2) == (4200, 4500, 400)


def test_trades_newest_first_with_cursor_and_time_filter() -> None:
    ex = world()
    clock = ex.clock
    assert isinstance(clock, SimClock)
    for _ in range(3):
        ask(ex, "a", 5000, 100)
        bid(ex, "b", 5000, 100)
        clock.advance(10)
    trades = ex.trades(M)
    assert [t.seq for t in trades] == [3, 2, 1]
    assert [t.seq for t in ex.trades(M, before_seq=3)] == [2, 1]
    assert [t.seq for t in ex.trades(min_ts=T0 + 10, max_ts=T0 + 10)] == [2]
    assert [f.seq for f in ex.fills("b")] == sorted((f.seq for f in ex.fills("b")), reverse=True)


def test_unknown_market_account_and_order_are_404() -> None:
    ex = world()
    for call in (
        lambda: ex.place_order("a", OrderRequest("NOPE", Side.BID, 5000, 100)),
        lambda: bid(ex, "ghost", 5000, 100),
        lambda: ex.cancel_order("a", "no-such-order"),
        lambda: ex.get_order("b", bid(ex, "a", 4000, 100).order.order_id),
    ):
        with pytest.raises(ExchangeError) as exc:
            call()
        assert exc.value.http_status == 404


@pytest.mark.parametrize(("fee_type", "maker_fee"), [(FeeType.QUADRATIC, 0), (FeeType.QUADRATIC_WITH_MAKER_FEES, 4375)])
def test_makers_pay_only_where_the_series_charges_them(fee_type: FeeType, maker_fee: int) -> None:
    ex = world(fee_type=fee_type)
    ask(ex, "a", 5000, 100_00)
    taker = bid(ex, "b", 5000, 100_00)
    assert taker.fees_e4 == 1_7500  # 100 contracts at $0.50: $1.75
    assert ex.fills("a")[0].fee_e4 == maker_fee
    assert ex.positions("a")[0].fees_paid_e4 == maker_fee
    assert ex.ledger().fees_e6 == (1_7500 + maker_fee) * 100


def test_an_order_pays_the_ceiling_of_its_total_fee_not_of_each_fill() -> None:
    ex = world()
    for user in ("a", "c", "d", "a"):
        ask(ex, user, 5000, 1)  # 0.01 contract each: exact taker fee 1.75 e4 per fill
    res = bid(ex, "b", 5000, 4)
    assert [f.fee_e4 for f in res.fills] == [2, 2, 2, 1]  # ceil(1.75), ceil(3.5)-2, ceil(5.25)-4, 7-6
    assert res.fees_e4 == 7 and res.order.taker_fees_e4 == 7


def test_fill_or_kill_that_self_crosses_keeps_its_partial_fills() -> None:
    ex = world()
    ask(ex, "b", 4900, 100)
    ask(ex, "a", 5000, 100)  # a's own liquidity counts toward the FOK check (NOTES §8 exception)
    res = bid(ex, "a", 5000, 200, time_in_force=FOK)
    assert [(f.yes_price_e4, f.count_e2) for f in res.fills] == [(4900, 100)]
    assert res.order.status is OrderStatus.CANCELED
    assert res.order.last_update_reason is UpdateReason.SELF_TRADE_CANCEL


def test_maker_stp_inside_a_sweep_and_bought_yes_covering_a_resting_ask() -> None:
    # "poor" has $2.50 and two resting asks. Its bid takes b's ask at $0.30, cancels its own ask at $0.40 (maker
    # STP), then takes c's ask at $0.40. The 4 YES bought cover its other ask (2 at $0.60), whose collateral
    # is released: 2.50 - 0.60 - 0.80 - fees 0.0294 - 0.0336 = $1.0370 free, nothing reserved.
    ex = world()
    ex.create_account("poor", 2_5000)
    ask(ex, "poor", 6000, 200)
    own = ask(ex, "poor", 4000, 100).order.order_id
    ask(ex, "b", 3000, 200)
    ask(ex, "c", 4000, 200)
    res = ex.place_order(
        "poor",
        OrderRequest(M, Side.BID, 4000, 400, time_in_force=IOC, self_trade_prevention_type=SelfTradePrevention.MAKER),
    )
    assert [(f.yes_price_e4, f.count_e2, f.fee_e4) for f in res.fills] == [(3000, 200, 294), (4000, 200, 336)]
    assert ex.get_order("poor", own).last_update_reason is UpdateReason.SELF_TRADE_CANCEL
    assert ex.balance("poor") == 1_0370 and ex.reserved_e6("poor") == 0
    assert ex.orderbook(M).no == ((4000, 200),) and ex.ledger().balanced
