"""The pure planning of the start-up recovery and the drift check's books (kalshi_mm.recovery.plan / .drift)."""

from __future__ import annotations

import threading

import pytest

from kalshi_mm.api.errors import NotFoundError, PostOnlyCrossError, RejectedError, ServerError, TradingPausedError
from kalshi_mm.api.types import BookSide, Fill, Order
from kalshi_mm.recovery.drift import DriftConfirmer, PositionLedger
from kalshi_mm.recovery.plan import (
    OUR_ORDER_PREFIX,
    PendingIntent,
    fill_import_since,
    intent_lookup_windows,
    is_ours,
    new_fills,
    plan_orphans,
    position_deltas,
    resolve_intents,
    signed_count,
)
from kalshi_mm.strategy.order_group import group_limit_e2, is_group_trip
from kalshi_mm.strategy.session import ClientIds, session_prefix


def order(order_id: str, cid: str, ticker: str = "KX-A", status: str = "resting") -> Order:
    return Order(
        order_id=order_id,
        client_order_id=cid,
        ticker=ticker,
        side=BookSide.BID,
        status=status,
        price_e4=4500,
        initial_count_e2=500,
        fill_count_e2=0,
        remaining_count_e2=500,
        taker_fees_e4=0,
        maker_fees_e4=0,
        taker_fill_cost_e4=0,
        maker_fill_cost_e4=0,
        created_ts=None,
        last_update_ts=None,
        expiration_ts=None,
        order_group_id=None,
        received_ts=0.0,
    )


def fill(fill_id: str, ts: float, side: BookSide = BookSide.BID, count_e2: int = 100) -> Fill:
    return Fill(fill_id, "o1", "KX-A", side, count_e2, 4500, False, 0, ts)


def intent(cid: str, ticker: str = "KX-A", created_ts: float = 1000.0) -> PendingIntent:
    return PendingIntent(cid, ticker, "bid", 4500, 500, created_ts, run_id=7)


# --- ours or not ------------------------------------------------------------------------------------------------


def test_every_session_client_order_id_carries_our_prefix() -> None:
    ids = ClientIds("KXSOME-26-T1", "no")
    assert session_prefix("KXSOME-26-T1", "no").startswith(OUR_ORDER_PREFIX)
    assert is_ours(ids.next()) and is_ours(ids.next())


@pytest.mark.parametrize("cid", ["", None, "kmm-0123", "manual-1", "MM-abc"])
def test_ids_without_our_prefix_are_not_ours(cid: str | None) -> None:
    assert not is_ours(cid)


def test_signed_count_bids_add_asks_subtract() -> None:
    assert signed_count(BookSide.BID, 250) == 250
    assert signed_count(BookSide.ASK, 250) == -250


# --- orphans ------------------------------------------------------------------------------------------------------


def test_at_start_up_every_order_of_ours_is_an_orphan_and_foreign_orders_are_left_alone() -> None:
    a = ClientIds("KX-A", "yes").next()
    b = ClientIds("KX-B", "no").next()
    resting = [order("o2", b, "KX-B"), order("o1", a), order("o3", "manual-7"), order("o4", "")]
    plan = plan_orphans(resting, (), "cancel")
    assert [o.order_id for o in plan.cancel] == ["o1", "o2"]  # sorted by market, then id
    assert plan.adopt == () and plan.owned == ()
    assert sorted(o.order_id for o in plan.foreign) == ["o3", "o4"]


def test_adopt_policy_keeps_the_same_orders_resting() -> None:
    a = ClientIds("KX-A", "yes").next()
    plan = plan_orphans([order("o1", a), order("o3", "manual")], (), "adopt")
    assert [o.order_id for o in plan.adopt] == ["o1"] and plan.cancel == ()


def test_orders_of_a_live_session_are_not_orphans() -> None:
    live, dead = ClientIds("KX-A", "yes"), ClientIds("KX-A", "no")
    resting = [order("o1", live.next()), order("o2", dead.next())]
    plan = plan_orphans(resting, {live.prefix}, "cancel")
    assert [o.order_id for o in plan.owned] == ["o1"]
    assert [o.order_id for o in plan.cancel] == ["o2"]


def test_an_unknown_orphan_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="orphan policy"):
        plan_orphans([], (), "keep")  # type: ignore[arg-type]


# --- intents ------------------------------------------------------------------------------------------------------


def test_intents_resolve_to_the_order_found_under_their_client_order_id_else_not_found() -> None:
    pending = [intent("mm-x-1"), intent("mm-x-2"), intent("mm-y-1", ticker="KX-B")]
    found = {"mm-x-1": order("o1", "mm-x-1", status="executed"), "mm-y-1": order("o9", "mm-y-1", ticker="KX-Z")}
    out = resolve_intents(pending, found)
    assert [(r.intent.client_order_id, r.outcome) for r in out] == [
        ("mm-x-1", "placed"),
        ("mm-x-2", "not_found"),
        ("mm-y-1", "not_found"),  # same id on another market is not this create
    ]
    assert out[0].order is not None and out[0].order.order_id == "o1"


def test_one_lookup_per_market_from_its_earliest_intent_minus_slack() -> None:
    pending = [intent("a", created_ts=1000.7), intent("b", created_ts=900.2), intent("c", "KX-B", created_ts=50.0)]
    assert intent_lookup_windows(pending, 300.0) == {"KX-A": 600, "KX-B": 0}


def test_pending_intent_from_a_database_row() -> None:
    row = {
        "client_order_id": "mm-1",
        "run_id": None,
        "market_ticker": "KX-A",
        "book_side": "ask",
        "price_e4": 5100,
        "count_e2": 300,
        "created_ts": 12.5,
    }
    assert PendingIntent.from_row(row) == PendingIntent("mm-1", "KX-A", "ask", 5100, 300, 12.5, None)


# --- fills --------------------------------------------------------------------------------------------------------


def test_fill_import_starts_an_overlap_before_the_newest_recorded_fill_or_at_the_beginning() -> None:
    assert fill_import_since(None, 60.0) == 0.0
    assert fill_import_since(1000.0, 60.0) == 940.0
    assert fill_import_since(10.0, 60.0) == 0.0


def test_new_fills_are_unrecorded_deduplicated_and_oldest_first() -> None:
    fills = [fill("f3", 30.0), fill("f1", 10.0), fill("f2", 20.0), fill("f3", 30.0), fill("f0", 5.0)]
    assert [f.fill_id for f in new_fills(fills, {"f0"})] == ["f1", "f2", "f3"]


# --- positions ----------------------------------------------------------------------------------------------------


def test_position_deltas_are_exchange_minus_ours_nonzero_only() -> None:
    ours = {"A": 300, "B": -200, "C": 100}
    exchange = {"A": 300, "B": -100, "D": 500}
    assert position_deltas(ours, exchange) == {"B": 100, "C": -100, "D": 500}
    assert position_deltas(ours, exchange, tickers=["A", "B"]) == {"B": 100}


# --- order group limit --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("multiple", "max_position_e2", "expected"),
    [(0.0, 1000, None), (3.0, 1000, 3000), (2.5, 150, 400), (0.01, 100, 100)],
)
def test_order_group_limit_is_whole_contracts_rounded_up(
    multiple: float, max_position_e2: int, expected: int | None
) -> None:
    assert group_limit_e2(multiple, max_position_e2) == expected


# --- the drift check's books --------------------------------------------------------------------------------------


def test_ledger_counts_each_fill_once_from_its_baseline() -> None:
    ledger = PositionLedger()
    assert not ledger.record("f0", "A", 100)  # no baseline yet: nothing counts
    ledger.reset({"A": 500, "B": 0}, covered_fill_ids={"f1"})
    assert not ledger.record("f1", "A", 100)  # already in the baseline
    assert ledger.record("f2", "A", -200) and not ledger.record("f2", "A", -200)
    assert ledger.record("f3", "C", 100)
    assert ledger.positions() == {"A": 300, "C": 100}
    ledger.set_position("C", 0)
    assert ledger.positions() == {"A": 300} and ledger.knows("f2") and not ledger.knows("f9")


def test_ledger_is_safe_to_feed_from_many_threads() -> None:
    ledger = PositionLedger()
    ledger.reset({}, ())

    def feed(base: int) -> None:
        for i in range(500):
            ledger.record(f"f{base + i}", "A", 1)
            ledger.record(f"f{i}", "A", 1)  # the same 500 ids from every thread: counted once

    threads = [threading.Thread(target=feed, args=(k * 10_000,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.positions() == {"A": 4 * 500 + 500}


def test_drift_is_confirmed_only_by_the_same_difference_on_consecutive_checks() -> None:
    confirmer = DriftConfirmer(3)
    assert confirmer.observe({"A": 100}) == {}
    assert confirmer.observe({"A": 100, "B": 200}) == {}
    assert confirmer.observe({"A": 100, "B": 300}) == {"A": 100}  # B changed: a fill in flight, not drift
    assert confirmer.observe({"B": 300}) == {}  # A gone: its streak ends
    assert confirmer.observe({"A": 100, "B": 300}) == {"B": 300}  # B's third in a row; A starts again
    assert confirmer.observe({"A": 100}) == {}


def test_forgotten_streaks_start_again() -> None:
    confirmer = DriftConfirmer(2)
    confirmer.observe({"A": 1, "B": 1})
    confirmer.forget(["A"])
    assert confirmer.observe({"A": 1, "B": 1}) == {"B": 1}
    confirmer.forget()
    assert confirmer.observe({"A": 1, "B": 1}) == {}


def test_drift_confirmer_needs_at_least_one_check() -> None:
    with pytest.raises(ValueError, match="confirm_checks"):
        DriftConfirmer(0)


@pytest.mark.parametrize(
    ("error", "is_trip"),
    [
        (RejectedError("order_group_triggered: order group triggered", code="order_group_triggered"), True),
        (RejectedError("conflict", code="invalid_order", details="order group is triggered"), True),
        (NotFoundError("not_found: order group g1", code="not_found"), False),  # a missing group is no trip
        (PostOnlyCrossError("post only cross", code="invalid_order"), False),
        (TradingPausedError("trading_is_paused", code="trading_is_paused"), False),
        (ServerError("503 order group service", status=503), False),  # not a rejection
    ],
)
def test_a_refused_create_is_read_as_a_group_trip_only_when_it_says_so(error: Exception, is_trip: bool) -> None:
    assert is_group_trip(error) is is_trip
