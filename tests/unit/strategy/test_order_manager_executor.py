"""The executor under the order diff, against a hand-written exchange stub: error handling per action (post-only
cross, unknown create outcome, failed cancel, pause, not found), fill accounting, cancel-all."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import pytest

from kalshi_mm.api.errors import (
    NetworkError,
    NotFoundError,
    OrderOutcomeUnknownError,
    PostOnlyCrossError,
    TradingPausedError,
)
from kalshi_mm.api.types import BookSide, Order, OrderAck, OrderStatus
from kalshi_mm.clock import SimClock
from kalshi_mm.strategy.order_executor import OrderExecutor
from kalshi_mm.strategy.order_manager import DesiredOrders, plan_order_actions
from kalshi_mm.strategy.quoting import Quote
from kalshi_mm.strategy.session import ClientIds, StopReason

TICKER = "KX-T"
BID, ASK = BookSide.BID, BookSide.ASK


def _order(oid: str, cid: str, side: BookSide, price: int, count: int, filled: int = 0) -> Order:
    return Order(
        oid, cid, TICKER, side, "resting", price, count, filled, count - filled, 0, 0, 0, 0, None, None, None, None, 0.0
    )


class StubExchange:
    """Resting orders by id; ``fail[op]`` queues exceptions for the next calls of ``op``."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.fail: dict[str, list[Exception]] = defaultdict(list)
        self.calls: list[tuple[Any, ...]] = []
        self._n = 0
        self.lose_next_create = False  # the next create rests but its outcome is unknown to the client
        self.clock = SimClock(start=1_800_000_000.0)  # the real client's attribute: the executor dates lookups by it

    def _raise(self, op: str) -> None:
        if self.fail[op]:
            raise self.fail[op].pop(0)

    def place_order(self, ticker: str, side: BookSide, price_e4: int, count_e2: int, **kw: Any) -> OrderAck:
        cid = kw["client_order_id"]
        self.calls.append(("place", side, price_e4, count_e2, cid))
        self._n += 1
        oid = f"o{self._n}"
        self._raise("place")
        self.orders[oid] = _order(oid, cid, side, price_e4, count_e2)
        if self.lose_next_create:
            self.lose_next_create = False
            raise OrderOutcomeUnknownError("create unconfirmed", client_order_id=cid, ticker=ticker)
        return OrderAck(oid, cid, 0, count_e2, None, None, None)

    def amend_order(self, order_id: str, ticker: str, side: BookSide, price_e4: int, count_e2: int, **kw: Any) -> None:
        self.calls.append(("amend", order_id, price_e4, count_e2))
        self._raise("amend")
        old = self.orders[order_id]
        self.orders[order_id] = _order(order_id, old.client_order_id, side, price_e4, count_e2, old.fill_count_e2)

    def cancel_order(self, order_id: str, ticker: str | None = None) -> None:
        self.calls.append(("cancel", order_id))
        self._raise("cancel")
        if self.orders.pop(order_id, None) is None:
            raise NotFoundError("404 not_found", status=404)

    def get_orders(self, ticker: str | None = None, *, status: OrderStatus | None = None) -> list[Order]:
        self._raise("get_orders")
        return list(self.orders.values())

    def find_order_by_client_id(self, ticker: str, client_order_id: str, **kw: Any) -> Order | None:
        self.calls.append(("find", client_order_id, kw.get("min_ts")))
        return next((o for o in self.orders.values() if o.client_order_id == client_order_id), None)


class StubDB:
    def __init__(self, api: StubExchange | None = None) -> None:
        self.placed: list[dict[str, Any]] = []
        self.cancelled: list[str] = []
        self.intents: dict[str, tuple[str, str | None]] = {}  # client_order_id -> (outcome, order_id)
        self._api = api

    def log_order_intent(self, **kw: Any) -> None:
        # Recorded before the create is sent: the exchange has not seen a call for it yet.
        assert self._api is None or not any(c[0] == "place" and c[-1] == kw["client_order_id"] for c in self._api.calls)
        self.intents[kw["client_order_id"]] = ("pending", None)

    def resolve_order_intent(self, client_order_id: str, outcome: str, order_id: str | None = None) -> None:
        if self.intents.get(client_order_id, ("pending", None))[0] == "pending":
            self.intents[client_order_id] = (outcome, order_id)

    def log_order_placed(self, **kw: Any) -> None:
        self.placed.append(kw)

    def log_order_cancelled(self, order_id: str, **kw: Any) -> None:
        self.cancelled.append(order_id)


@pytest.fixture
def setup() -> tuple[OrderExecutor, StubExchange, StubDB]:
    api = StubExchange()
    db = StubDB(api)
    ex = OrderExecutor(api, TICKER, ClientIds(TICKER, "yes"), db, 7, logging.getLogger("test"))  # type: ignore[arg-type]
    return ex, api, db


def quote(ex: OrderExecutor, bid: int | None, ask: int | None, size: int = 500, **kw: Any) -> Any:
    want = DesiredOrders(None if bid is None else Quote(bid, size), None if ask is None else Quote(ask, size))
    return ex.execute(plan_order_actions(ex.orders(), want), **kw)


def test_places_and_records_both_sides(setup: tuple[OrderExecutor, StubExchange, StubDB]) -> None:
    ex, _, db = setup
    out = quote(ex, 4800, 5200)
    assert out.halt is None and not out.skipped and out.sent == {"place": 2, "amend": 0, "cancel": 0}
    assert sorted((o.side.value, o.price_e4) for o in ex.orders()) == [("ask", 5200), ("bid", 4800)]
    recorded = [(p["book_side"], p["outcome_side"], p["run_id"]) for p in db.placed]
    assert recorded == [("bid", "yes", 7), ("ask", "no", 7)]
    assert all(ex.ids.this_run(p["client_order_id"]) for p in db.placed)
    assert db.intents == {p["client_order_id"]: ("placed", p["order_id"]) for p in db.placed}


def test_post_only_cross_skips_only_that_side(setup: tuple[OrderExecutor, StubExchange, StubDB]) -> None:
    ex, api, db = setup
    api.fail["place"].append(PostOnlyCrossError("post only cross"))
    out = quote(ex, 4800, 5200)
    assert out.skipped == {BID} and [o.side for o in ex.orders()] == [ASK]
    assert sorted(outcome for outcome, _ in db.intents.values()) == ["placed", "rejected"]
    assert not ex.needs_sync  # nothing uncertain: the book simply moved


def test_unknown_create_blocks_its_side_until_a_reread_resolves_it(
    setup: tuple[OrderExecutor, StubExchange, StubDB],
) -> None:
    ex, api, db = setup
    api.lose_next_create = True
    out = quote(ex, 4800, None)
    assert out.skipped == {BID} and ex.orders() == () and ex.needs_sync
    out = quote(ex, 4800, None)  # the bid side stays blocked: no second bid
    assert out.skipped == {BID} and sum(1 for c in api.calls if c[0] == "place") == 1
    assert list(db.intents.values()) == [("pending", None)]  # outcome unknown: stays pending
    ex.sync()
    (adopted,) = ex.orders()
    # The look-up reads orders from shortly before the failed create on, not the market's whole history.
    assert [c[2] for c in api.calls if c[0] == "find"] == [1_800_000_000 - 120]
    assert list(db.intents.values()) == [("placed", adopted.order_id)]
    assert adopted.side is BID and adopted.price_e4 == 4800 and ex.newly_known == {adopted.order_id}
    assert ex.owns(adopted.order_id) and db.placed[-1]["order_id"] == adopted.order_id
    out = quote(ex, 4800, None)
    assert not out.skipped and out.sent == {"place": 0, "amend": 0, "cancel": 0}  # kept


def test_failed_cancel_blocks_the_replacement_on_that_side(setup: tuple[OrderExecutor, StubExchange, StubDB]) -> None:
    ex, api, _ = setup
    quote(ex, 4500, 5200)
    api.fail["cancel"].append(NetworkError("timed out"))
    out = quote(ex, 4900, 5200)  # a 4¢ move up, toward the asks: cancel + post-only place
    assert out.skipped == {BID}
    assert [c[0] for c in api.calls[2:]] == ["cancel"]  # no place behind the failed cancel
    assert sum(1 for o in api.orders.values() if o.side is BID) == 1 and ex.needs_sync


def test_a_pause_halts_the_plan(setup: tuple[OrderExecutor, StubExchange, StubDB]) -> None:
    ex, api, _ = setup
    quote(ex, 4800, 5200)
    api.fail["amend"].append(TradingPausedError("409 trading_is_paused", status=409))
    out = quote(ex, 4900, 5100)
    assert out.halt is StopReason.TRADING_PAUSED
    assert [c[0] for c in api.calls[2:]] == ["amend"]  # stopped at the first halt


def test_order_gone_on_cancel_is_dropped(setup: tuple[OrderExecutor, StubExchange, StubDB]) -> None:
    ex, api, db = setup
    quote(ex, 4800, 5200)
    bid = next(o for o in ex.orders() if o.side is BID)
    del api.orders[bid.order_id]  # filled or cancelled by the exchange meanwhile
    quote(ex, None, 5200)
    assert [o.side for o in ex.orders()] == [ASK] and bid.order_id not in db.cancelled


def test_fills_are_counted_once_and_finish_an_order(setup: tuple[OrderExecutor, StubExchange, StubDB]) -> None:
    ex, _, _ = setup
    quote(ex, 4800, 5200)
    bid = next(o for o in ex.orders() if o.side is BID)
    assert not ex.apply_fill(bid.order_id, 200)
    (now,) = [o for o in ex.orders() if o.order_id == bid.order_id]
    assert now.remaining_e2 == 300
    assert ex.apply_fill(bid.order_id, 300)  # fully filled: leaves the live table
    assert all(o.order_id != bid.order_id for o in ex.orders()) and ex.owns(bid.order_id)


def test_cancel_all_also_finds_orders_only_the_exchange_knows(
    setup: tuple[OrderExecutor, StubExchange, StubDB],
) -> None:
    ex, api, _ = setup
    quote(ex, 4800, 5200)
    stray_cid = ex.ids.prefix + "earlier-1"
    api.orders["x"] = _order("x", stray_cid, BID, 4500, 100)
    api.orders["other"] = _order("other", "someone-else", BID, 4000, 100)
    assert ex.cancel_all("stop")
    assert set(api.orders) == {"other"} and ex.orders() == ()
    api.orders["y"] = _order("y", stray_cid + "b", ASK, 5500, 100)
    api.fail["get_orders"] += [NetworkError("down")] * 3
    assert not ex.cancel_all("stop")  # cannot confirm: the caller ends FAULTED
