"""Amend, decrease, batch create/cancel and cancel-all on the embedded exchange."""

from __future__ import annotations

import pytest

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import (
    CancelResult,
    Event,
    Market,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Series,
    Side,
    UpdateReason,
)

T0 = 1_767_225_600
M, M2 = "S-E-M", "S-E-M2"


def world(cash_e4: int = 1_000 * 10_000) -> Exchange:
    ex = Exchange(SimClock(start=T0), seed=3)
    ex.add_series(Series("S"))
    ex.add_event(Event("S-E", "S"))
    for ticker in (M, M2):
        ex.add_market(Market(ticker, "S-E", open_ts=T0 - 60, close_ts=T0 + 3600))
    for user in ("a", "b", "c"):
        ex.create_account(user, cash_e4)
    return ex


def bid(ex: Exchange, user: str, price: int, count: int, ticker: str = M, **kw: object) -> OrderResult:
    return ex.place_order(user, OrderRequest(ticker, Side.BID, price, count, **kw))  # type: ignore[arg-type]


def ask(ex: Exchange, user: str, price: int, count: int, ticker: str = M, **kw: object) -> OrderResult:
    return ex.place_order(user, OrderRequest(ticker, Side.ASK, price, count, **kw))  # type: ignore[arg-type]


def amend(ex: Exchange, user: str, order_id: str, price: int, count: int, **kw: object) -> OrderResult:
    return ex.amend_order(user, order_id, ticker=M, side=Side.BID, price_e4=price, count_e2=count, **kw)  # type: ignore[arg-type]


def two_in_queue(ex: Exchange) -> tuple[str, str]:
    first = bid(ex, "a", 4000, 500).order.order_id
    second = bid(ex, "b", 4000, 500).order.order_id
    return first, second


def test_size_down_keeps_queue_position() -> None:
    ex = world()
    first, second = two_in_queue(ex)
    res = amend(ex, "a", first, 4000, 300)
    assert res.order.remaining_count_e2 == 300 and res.order.last_update_reason is UpdateReason.AMEND
    assert ex.queue_position("a", first) == 0 and ex.queue_position("b", second) == 300
    ask(ex, "c", 4000, 300)
    assert ex.get_order("a", first).status is OrderStatus.EXECUTED
    assert ex.get_order("b", second).remaining_count_e2 == 500


def test_expiry_only_amend_keeps_queue_position() -> None:
    ex = world()
    first, _ = two_in_queue(ex)
    amend(ex, "a", first, 4000, 500, expiration_ts=T0 + 600)
    assert ex.queue_position("a", first) == 0
    assert ex.get_order("a", first).expiration_ts == T0 + 600
    amend(ex, "a", first, 4000, 500, expiration_ts=0)
    assert ex.get_order("a", first).expiration_ts is None and ex.queue_position("a", first) == 0


def test_size_up_loses_queue_position() -> None:
    ex = world()
    first, second = two_in_queue(ex)
    amend(ex, "a", first, 4000, 600)
    assert ex.queue_position("b", second) == 0 and ex.queue_position("a", first) == 500


def test_price_change_loses_queue_position_even_when_moved_back() -> None:
    ex = world()
    first, second = two_in_queue(ex)
    amend(ex, "a", first, 3900, 500)
    amend(ex, "a", first, 4000, 500)
    assert ex.queue_position("b", second) == 0 and ex.queue_position("a", first) == 500


def test_amend_count_is_total_including_filled() -> None:
    ex = world()
    order_id = bid(ex, "a", 4000, 1000).order.order_id
    ask(ex, "b", 4000, 400)
    res = amend(ex, "a", order_id, 4000, 800)
    assert (res.order.fill_count_e2, res.order.remaining_count_e2, res.order.initial_count_e2) == (400, 400, 800)
    assert ex.orderbook(M).yes == ((4000, 400),)
    with pytest.raises(ExchangeError) as exc:
        amend(ex, "a", order_id, 4000, 400)  # nothing left to rest
    assert exc.value.code == "invalid_order_size"


def test_amend_that_crosses_matches_like_a_new_order() -> None:
    ex = world()
    order_id = bid(ex, "a", 4000, 500).order.order_id
    ask(ex, "b", 4500, 200)
    res = amend(ex, "a", order_id, 4600, 500)
    assert [(f.yes_price_e4, f.count_e2, f.is_taker) for f in res.fills] == [(4500, 200, True)]
    assert res.order.remaining_count_e2 == 300 and res.order.price_e4 == 4600
    assert ex.orderbook(M).yes == ((4600, 300),) and ex.orderbook(M).no == ()


def test_amend_checks_identity_fields_and_client_ids() -> None:
    ex = world()
    order_id = bid(ex, "a", 4000, 500, client_order_id="c1").order.order_id
    bid(ex, "a", 3000, 100, client_order_id="taken")
    with pytest.raises(ExchangeError, match="order_ticker_mismatch"):
        ex.amend_order("a", order_id, ticker=M2, side=Side.BID, price_e4=4000, count_e2=400)
    with pytest.raises(ExchangeError, match="order_side_mismatch"):
        ex.amend_order("a", order_id, ticker=M, side=Side.ASK, price_e4=4000, count_e2=400)
    with pytest.raises(ExchangeError, match="order_id_and_client_order_id_mismatch"):
        amend(ex, "a", order_id, 4000, 400, client_order_id="other")
    with pytest.raises(ExchangeError, match="order_already_exists"):
        amend(ex, "a", order_id, 4000, 400, updated_client_order_id="taken")
    with pytest.raises(ExchangeError, match="invalid_price"):
        amend(ex, "a", order_id, 4050, 400)
    with pytest.raises(ExchangeError) as exc:
        amend(ex, "b", order_id, 4000, 400)
    assert exc.value.http_status == 404
    res = amend(ex, "a", order_id, 4000, 400, client_order_id="c1", updated_client_order_id="c2")
    assert res.order.client_order_id == "c2"
    assert ex.get_order("a", order_id).remaining_count_e2 == 400


def test_post_only_amend_into_the_book_is_rejected_and_order_unchanged() -> None:
    ex = world()
    order_id = bid(ex, "a", 4000, 500, post_only=True).order.order_id
    ask(ex, "b", 4500, 100)
    with pytest.raises(ExchangeError, match="post only cross"):
        amend(ex, "a", order_id, 4500, 500)
    order = ex.get_order("a", order_id)
    assert (order.price_e4, order.status, ex.queue_position("a", order_id)) == (4000, OrderStatus.RESTING, 0)


def test_amend_needing_more_cash_than_available_is_rejected() -> None:
    ex = world(cash_e4=3_0000)
    order_id = bid(ex, "a", 5000, 500).order.order_id  # $2.50 of $3
    with pytest.raises(ExchangeError, match="available_balance_too_low"):
        amend(ex, "a", order_id, 5000, 700)  # $3.50
    assert ex.get_order("a", order_id).remaining_count_e2 == 500 and ex.balance("a") == 5000
    amend(ex, "a", order_id, 5000, 600)
    assert ex.balance("a") == 0


def test_decrease_by_and_to_keep_priority_and_zero_cancels() -> None:
    ex = world()
    first, second = two_in_queue(ex)
    res = ex.decrease_order("a", first, reduce_by_e2=100)
    assert res.reduced_by_e2 == 100 and res.order.remaining_count_e2 == 400
    assert res.order.last_update_reason is UpdateReason.DECREASE
    assert ex.decrease_order("a", first, reduce_to_e2=250).order.remaining_count_e2 == 250
    assert ex.queue_position("a", first) == 0 and ex.queue_position("b", second) == 250
    with pytest.raises(ExchangeError, match="invalid_order"):
        ex.decrease_order("a", first)
    with pytest.raises(ExchangeError, match="invalid_order_size"):
        ex.decrease_order("a", first, reduce_to_e2=300)
    gone = ex.decrease_order("a", first, reduce_to_e2=0)
    assert gone.order.status is OrderStatus.CANCELED and gone.reduced_by_e2 == 250
    assert ex.orderbook(M).yes == ((4000, 500),)


def test_cancel_returns_reduced_by_and_releases_cash() -> None:
    ex = world()
    start = ex.balance("a")
    order_id = bid(ex, "a", 4000, 500).order.order_id
    ask(ex, "b", 4000, 200)
    res = ex.cancel_order("a", order_id, ticker=M)
    assert res.reduced_by_e2 == 300 and res.order.last_update_reason is UpdateReason.USER_CANCEL
    assert ex.balance("a") == start - 4000 * 2 and ex.reserved_e6("a") == 0
    with pytest.raises(ExchangeError) as exc:
        ex.cancel_order("a", order_id)
    assert exc.value.http_status == 404


def test_batch_create_reports_per_item_errors() -> None:
    ex = world()
    ask(ex, "b", 5000, 100)
    results = ex.batch_create(
        "a",
        [
            OrderRequest(M, Side.BID, 4000, 100),
            OrderRequest(M, Side.BID, 5000, 100, post_only=True),
            OrderRequest(M, Side.BID, 4050, 100),
            OrderRequest(M, Side.BID, 5000, 100),
        ],
    )
    assert isinstance(results[0], OrderResult) and results[0].order.status is OrderStatus.RESTING
    assert isinstance(results[1], ExchangeError) and results[1].details == "post only cross"
    assert isinstance(results[2], ExchangeError) and results[2].code == "invalid_price"
    assert isinstance(results[3], OrderResult) and results[3].fill_count_e2 == 100
    assert len(ex.orders("a")) == 2


def test_batch_cancel_reports_per_item_errors() -> None:
    ex = world()
    live = bid(ex, "a", 4000, 100).order.order_id
    done = bid(ex, "a", 3000, 100).order.order_id
    ex.cancel_order("a", done)
    results = ex.batch_cancel("a", [live, "missing", done])
    assert isinstance(results[0], CancelResult) and results[0].reduced_by_e2 == 100
    assert [isinstance(r, ExchangeError) and r.http_status == 404 for r in results[1:]] == [True, True]


def test_cancel_all_everywhere_or_one_market() -> None:
    ex = world()
    bid(ex, "a", 4000, 100)
    ask(ex, "a", 6000, 100)
    bid(ex, "a", 4000, 100, ticker=M2)
    keep = bid(ex, "b", 3000, 100).order.order_id
    assert len(ex.cancel_all("a", ticker=M2)) == 1
    assert ex.orderbook(M2).yes == ()
    assert {r.order.last_update_reason for r in ex.cancel_all("a")} == {UpdateReason.USER_CANCEL}
    assert ex.orders("a", status=OrderStatus.RESTING) == [] and ex.reserved_e6("a") == 0
    assert ex.get_order("b", keep).status is OrderStatus.RESTING
