"""Round trips of the real KalshiTradingAPI against a real EmbeddedExchange on 127.0.0.1: market data, order
entry (place, amend, decrease, cancel, batches, cancel-all, order groups), positions, fills, settlements.
Every request and response is checked against Kalshi's OpenAPI subset on the way."""

from __future__ import annotations

import pytest

from kalshi_mm.api.errors import AuthenticationError, NotFoundError, OrderAlreadyExistsError, RejectedError
from kalshi_mm.api.ratelimit import RateLimiter, TierBudget
from kalshi_mm.api.types import BookSide, OrderRequest, OrderStatus, SelfTradePrevention, TimeInForce
from kalshi_mm.units import PriceGrid

from .conftest import EVENT, OTHER_TICKER, SERIES, TICKER, Venue, conform


def test_market_data(venue: Venue) -> None:
    maker = venue.client("md-maker")
    public = venue.client(None)
    log = conform(public)
    maker.place_order(TICKER, BookSide.BID, 4500, 1000, post_only=True)
    maker.place_order(TICKER, BookSide.ASK, 4800, 300, post_only=True)

    assert public.get_exchange_status().trading_active is True
    market = public.get_market(TICKER)
    assert (market.event_ticker, market.status, market.grid) == (EVENT, "active", PriceGrid.linear_cent())
    price = public.get_price(TICKER)
    assert (price.yes_bid_e4, price.yes_ask_e4, price.no_bid_e4, price.no_ask_e4) == (4500, 4800, 5200, 5500)
    assert price.yes_mid_e4 == 4650 and price.no_mid_e4 == 5350
    assert public.get_price(OTHER_TICKER).yes_bid_e4 is None  # an empty book has no sides
    book = public.get_orderbook(TICKER)
    assert book.yes_bids == ((4500, 1000),) and book.yes_asks == ((4800, 300),)
    books = public.get_orderbooks([OTHER_TICKER, TICKER])
    assert [b.ticker for b in books] == [OTHER_TICKER, TICKER] and books[1].yes_bids == book.yes_bids
    page = public.get_markets(status="open", limit=1)
    assert len(page.items) == 1 and page.cursor
    assert {m.ticker for m in public.get_all_open_markets()} == {TICKER, OTHER_TICKER}
    series = public.get_series(SERIES)
    assert series.category == "Economics"
    assert [s.ticker for s in public.get_series_list(category="Economics")] == [SERIES]
    event = public.get_event(EVENT)
    assert event.series_ticker == SERIES and {m.ticker for m in event.markets} == {TICKER, OTHER_TICKER}
    assert [e.event_ticker for e in public.get_events(status="open").items] == [EVENT]

    taker = venue.client("md-taker")
    taker.place_order(TICKER, BookSide.BID, 4800, 100, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL)
    (trade,) = public.get_trades(TICKER).items
    assert (trade.yes_price_e4, trade.count_e2, trade.taker_book_side) == (4800, 100, BookSide.BID)
    venue.clock.advance(120)
    now = int(venue.clock.time())
    candles = public.get_candlesticks(SERIES, TICKER, start_ts=now - 600, end_ts=now, period_interval_min=1)
    assert len(candles) == 10 and any(c.price is not None and c.price.close_e4 == 4800 for c in candles)
    assert all(status == 200 for _, _, status in log)

    with pytest.raises(AuthenticationError):
        public.get_balance()  # public data works without a key; the portfolio does not


def test_single_order_lifecycle(venue: Venue) -> None:
    api = venue.client("life")
    conform(api)
    balance = api.get_balance().balance_e4
    ack = api.place_order(
        TICKER, BookSide.BID, 4000, 500, post_only=True, self_trade_prevention=SelfTradePrevention.MAKER
    )
    assert ack.client_order_id.startswith("kmm-") and (ack.fill_count_e2, ack.remaining_count_e2) == (0, 500)
    assert not ack.recovered
    assert api.get_balance().balance_e4 == balance - 4000 * 5  # collateral reserved at placement
    (order,) = api.get_orders(TICKER)
    assert (order.order_id, order.client_order_id, order.side, order.price_e4) == (
        ack.order_id,
        ack.client_order_id,
        BookSide.BID,
        4000,
    )
    assert api.get_order(ack.order_id).remaining_count_e2 == 500

    amended = api.amend_order(ack.order_id, TICKER, BookSide.BID, 4100, 800)
    assert amended.remaining_count_e2 == 800 and api.get_price(TICKER).yes_bid_e4 == 4100
    decreased = api.decrease_order(ack.order_id, reduce_by_e2=300, ticker=TICKER)
    assert decreased.remaining_count_e2 == 500
    assert api.decrease_order(ack.order_id, reduce_to_e2=200).remaining_count_e2 == 200
    cancelled = api.cancel_order(ack.order_id, TICKER)
    assert cancelled.reduced_by_e2 == 200
    assert api.get_orders(TICKER) == []
    assert api.get_orders(TICKER, status=OrderStatus.CANCELED)[0].order_id == ack.order_id
    assert api.get_balance().balance_e4 == balance
    with pytest.raises(NotFoundError):
        api.cancel_order(ack.order_id, TICKER)  # no longer resting


def test_client_order_id_reuse(venue: Venue) -> None:
    api = venue.client("cid")
    request = OrderRequest(TICKER, BookSide.ASK, 6000, 100, post_only=True, client_order_id="caller-1")
    first = api.create_order(request)
    assert first.client_order_id == "caller-1"
    # The same request again (a caller's retry after an unknown outcome) resolves to the existing order...
    again = api.create_order(request)
    assert again.recovered and again.order_id == first.order_id
    # ...but a different order under the same id is refused, not silently merged.
    with pytest.raises(OrderAlreadyExistsError) as caught:
        api.create_order(OrderRequest(TICKER, BookSide.ASK, 6100, 100, client_order_id="caller-1"))
    assert caught.value.code == "order_already_exists" and caught.value.status == 409
    assert len(venue.exchange.orders("cid")) == 1


def test_batches_and_cancel_all(venue: Venue) -> None:
    # A write bucket of 50 tokens, 45 of them planned for, holds 4 creates: 13 orders go in 4 batches.
    budget = TierBudget(read_per_s=4000, write_per_s=4000, read_capacity=4000, write_capacity=50)
    api = venue.client("batcher", limiter=RateLimiter(budget, venue.clock))
    conform(api)
    requests_ = [OrderRequest(TICKER, BookSide.BID, 1000 + 100 * i, 100, post_only=True) for i in range(12)]
    requests_.append(OrderRequest(TICKER, BookSide.ASK, 1500, 100, post_only=True))  # crosses our own bids
    results = api.batch_create_orders(requests_)
    assert [r.ack is not None for r in results] == [True] * 12 + [False]
    assert isinstance(results[-1].error, RejectedError) and results[-1].error.details == "post only cross"
    batched = [k for k in venue.traffic("batcher")["rest"] if k.startswith("POST /portfolio/events/orders/batched")]
    assert venue.traffic("batcher")["rest"][batched[0]] == 4
    ids = [r.ack.order_id for r in results if r.ack is not None]
    assert {o.order_id for o in api.get_orders(TICKER)} == set(ids)

    cancelled = api.batch_cancel_orders([*ids[:4], "no-such-order"], ticker=TICKER)
    assert [c.ack is not None for c in cancelled] == [True] * 4 + [False]
    assert isinstance(cancelled[-1].error, NotFoundError)
    assert len(api.get_orders(TICKER)) == 8
    api.cancel_all_orders()
    assert api.get_orders() == []


def test_order_groups(venue: Venue) -> None:
    api = venue.client("grouper")
    conform(api)
    group_id = api.create_order_group(500)
    assert [g.order_group_id for g in api.get_order_groups()] == [group_id]
    ack = api.place_order(TICKER, BookSide.BID, 3000, 100, post_only=True, order_group_id=group_id)
    group = api.get_order_group(group_id)
    assert group.order_ids == (ack.order_id,) and group.contracts_limit_e2 == 500 and group.is_auto_cancel_enabled
    api.set_order_group_limit(group_id, 1000)
    assert api.get_order_group(group_id).contracts_limit_e2 == 1000
    api.trigger_order_group(group_id)
    assert api.get_orders(TICKER) == []  # tripping the group cancelled its orders
    with pytest.raises(RejectedError):
        api.place_order(TICKER, BookSide.BID, 3000, 100, order_group_id=group_id)
    api.reset_order_group(group_id)
    api.place_order(TICKER, BookSide.BID, 3000, 100, order_group_id=group_id)
    api.delete_order_group(group_id)
    assert api.get_orders(TICKER) == []
    with pytest.raises(NotFoundError):
        api.get_order_group(group_id)


def test_positions_fills_and_settlement(venue: Venue) -> None:
    maker, taker = venue.client("pos-maker"), venue.client("pos-taker")
    conform(maker)
    start_cash = maker.get_balance().balance_e4
    bid = maker.place_order(TICKER, BookSide.BID, 5000, 1000, post_only=True)
    taker.place_order(TICKER, BookSide.ASK, 5000, 400, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL)
    venue.clock.advance(100)
    between = venue.clock.time()
    venue.clock.advance(100)
    taker.place_order(TICKER, BookSide.ASK, 5000, 600, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL)

    position = maker.get_position(TICKER)
    assert position.position_e2 == 1000 and position.market_exposure_e4 == 5000 * 10
    assert taker.get_position(TICKER).position_e2 == -1000
    assert maker.get_position(OTHER_TICKER).position_e2 == 0
    fills = maker.get_fills(TICKER).items
    assert [f.count_e2 for f in fills] == [600, 400]  # newest first
    assert all(f.order_id == bid.order_id and not f.is_taker and f.side is BookSide.BID for f in fills)
    assert [f.count_e2 for f in maker.iter_fills_since(between)] == [600]
    assert [f.count_e2 for f in maker.iter_fills_since(between - 1000)] == [600, 400]
    taker_fills = taker.get_fills().items
    assert all(f.is_taker and f.fee_e4 > 0 for f in taker_fills)  # quadratic fee: takers pay, rounded up
    assert sum(f.fee_e4 for f in taker_fills) == taker.get_position(TICKER).fees_paid_e4
    assert maker.get_orders(TICKER, status=OrderStatus.EXECUTED)[0].fill_count_e2 == 1000

    venue.exchange.determine(TICKER, "yes")
    (settlement,) = maker.get_settlements()
    assert (settlement.ticker, settlement.market_result, settlement.yes_count_e2) == (TICKER, "yes", 1000)
    assert settlement.revenue_e4 == 10 * 10_000 and settlement.yes_total_cost_e4 == 5 * 10_000
    assert maker.get_positions().markets == ()  # settled positions leave the list
    assert maker.get_balance().balance_e4 == start_cash + 5 * 10_000
    assert taker.get_settlements(TICKER)[0].revenue_e4 == 0
