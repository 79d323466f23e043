"""The pure order diff: plan_order_actions (keep / amend / cancel+place, ordering, duplicates, tolerances)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_mm.api.types import BookSide
from kalshi_mm.strategy.order_manager import (
    Amend,
    AmendPolicy,
    Cancel,
    DesiredOrders,
    Keep,
    LiveOrder,
    Place,
    plan_order_actions,
)
from kalshi_mm.strategy.quoting import Quote

BID, ASK = BookSide.BID, BookSide.ASK


def order(oid: str, side: BookSide, price: int, count: int = 500, filled: int = 0) -> LiveOrder:
    return LiveOrder(oid, f"cid-{oid}", side, price, count, filled)


def test_nothing_resting_places_both_sides_bid_first() -> None:
    actions = plan_order_actions([], DesiredOrders(Quote(4800, 500), Quote(5200, 300)))
    assert actions == [Place(BID, 4800, 500), Place(ASK, 5200, 300)]


def test_matching_orders_are_kept() -> None:
    bid, ask = order("b", BID, 4800), order("a", ASK, 5200)
    actions = plan_order_actions([bid, ask], DesiredOrders(Quote(4800, 500), Quote(5200, 500)))
    assert actions == [Keep(bid), Keep(ask)]


def test_nothing_wanted_cancels() -> None:
    bid, ask = order("b", BID, 4800), order("a", ASK, 5200)
    actions = plan_order_actions([bid, ask], DesiredOrders(None, Quote(5200, 500)))
    assert actions == [Cancel(bid, "not_wanted"), Keep(ask)]


def test_size_down_is_an_amend_that_keeps_priority_and_counts_the_filled_part() -> None:
    bid = order("b", BID, 4800, count=500, filled=200)  # 3 resting
    (action,) = plan_order_actions([bid], DesiredOrders(Quote(4800, 100), None))
    assert isinstance(action, Amend)
    assert action.keeps_priority
    assert action.total_count_e2 == 300  # V2 amend's count: filled 2 + resting 1


def test_size_up_and_small_price_move_are_amends_without_priority() -> None:
    bid, ask = order("b", BID, 4800), order("a", ASK, 5200)
    actions = plan_order_actions([bid, ask], DesiredOrders(Quote(4800, 700), Quote(5100, 500)))
    assert actions == [Amend(bid, 4800, 700), Amend(ask, 5100, 500)]
    assert not any(a.keeps_priority for a in actions if isinstance(a, Amend))


def test_big_price_move_toward_the_other_side_cancels_first_then_places() -> None:
    bid, ask = order("b", BID, 4800), order("a", ASK, 5200)
    policy = AmendPolicy(max_amend_move_e4=200)
    # The bid moves up 3c (toward the asks): post-only replacement. The ask moves down 2c: within the amend limit.
    actions = plan_order_actions([bid, ask], DesiredOrders(Quote(5100, 500), Quote(5000, 500)), policy)
    assert actions == [Cancel(bid, "replace"), Amend(ask, 5000, 500), Place(BID, 5100, 500)]
    # The ask moves down 3c (toward the bids): replaced too.
    actions = plan_order_actions([ask], DesiredOrders(None, Quote(4900, 500)), policy)
    assert actions == [Cancel(ask, "replace"), Place(ASK, 4900, 500)]


def test_big_price_move_away_from_the_other_side_is_one_amend() -> None:
    # An amend away from the touch cannot cross: one request instead of a cancel and a create.
    bid, ask = order("b", BID, 4800), order("a", ASK, 5200)
    policy = AmendPolicy(max_amend_move_e4=200)
    actions = plan_order_actions([bid, ask], DesiredOrders(Quote(4000, 500), Quote(6000, 500)), policy)
    assert actions == [Amend(bid, 4000, 500), Amend(ask, 6000, 500)]


def test_zero_amend_move_replaces_any_price_change_but_still_amends_size() -> None:
    bid = order("b", BID, 4800)
    policy = AmendPolicy(max_amend_move_e4=0)
    assert plan_order_actions([bid], DesiredOrders(Quote(4900, 500)), policy) == [
        Cancel(bid, "replace"),
        Place(BID, 4900, 500),
    ]
    assert plan_order_actions([bid], DesiredOrders(Quote(4700, 500)), policy) == [Amend(bid, 4700, 500)]
    assert plan_order_actions([bid], DesiredOrders(Quote(4800, 400)), policy) == [Amend(bid, 4800, 400)]


def test_duplicates_on_one_side_keep_the_nearest_and_cancel_the_rest() -> None:
    far, near = order("x", BID, 4500), order("y", BID, 4800)
    actions = plan_order_actions([far, near], DesiredOrders(Quote(4800, 500)))
    assert actions == [Cancel(far, "duplicate"), Keep(near)]


def test_keep_tolerance_never_keeps_a_more_aggressive_price() -> None:
    policy = AmendPolicy(keep_tolerance_e4=100)
    lower_bid, higher_bid = order("l", BID, 4700), order("h", BID, 4900)
    want = DesiredOrders(Quote(4800, 500))
    assert plan_order_actions([lower_bid], want, policy) == [Keep(lower_bid)]
    assert plan_order_actions([higher_bid], want, policy) == [Amend(higher_bid, 4800, 500)]
    lower_ask, higher_ask = order("la", ASK, 5100), order("ha", ASK, 5300)
    want_ask = DesiredOrders(None, Quote(5200, 500))
    assert plan_order_actions([higher_ask], want_ask, policy) == [Keep(higher_ask)]
    assert plan_order_actions([lower_ask], want_ask, policy) == [Amend(lower_ask, 5200, 500)]


def test_size_slack_keeps_a_partly_filled_order_but_never_more_than_wanted() -> None:
    policy = AmendPolicy(size_slack=0.5)
    partly = order("p", BID, 4800, count=500, filled=200)  # 3 resting of 5 wanted
    assert plan_order_actions([partly], DesiredOrders(Quote(4800, 500)), policy) == [Keep(partly)]
    assert plan_order_actions([partly], DesiredOrders(Quote(4800, 200)), policy) == [Amend(partly, 4800, 200)]


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        AmendPolicy(size_slack=1.0)
    with pytest.raises(ValueError):
        AmendPolicy(max_amend_move_e4=-1)


# --- property: applying the plan yields exactly the wanted book, one order per side, cancels first ----------

prices = st.integers(100, 9900)
sizes = st.integers(1, 20).map(lambda n: n * 100)


@st.composite
def live_orders(draw: st.DrawFn) -> list[LiveOrder]:
    out = []
    for i in range(draw(st.integers(0, 4))):
        count = draw(sizes)
        filled = draw(st.integers(0, count // 100 - 1)) * 100
        out.append(LiveOrder(f"o{i}", f"c{i}", draw(st.sampled_from([BID, ASK])), draw(prices), count, filled))
    return out


@given(
    live_orders(),
    st.none() | st.builds(Quote, prices, sizes),
    st.none() | st.builds(Quote, prices, sizes),
    st.integers(0, 500),
)
def test_plan_reaches_the_wanted_book(
    current: list[LiveOrder], bid: Quote | None, ask: Quote | None, max_move: int
) -> None:
    actions = plan_order_actions(current, DesiredOrders(bid, ask), AmendPolicy(max_amend_move_e4=max_move))
    rank = {Cancel: 0, Keep: 1, Amend: 1, Place: 2}
    ranks = [rank[type(a)] for a in actions]
    assert ranks == sorted(ranks)  # cancels, then keeps/amends, then places
    book = {o.order_id: (o.side, o.price_e4, o.remaining_e2) for o in current}
    live_per_side_max = {BID: 0, ASK: 0}
    for i, action in enumerate(actions):
        if isinstance(action, Cancel):
            del book[action.order.order_id]
        elif isinstance(action, Amend):
            # Only moves toward the other side are bounded: away from it an amend cannot cross.
            toward = (
                action.price_e4 - action.order.price_e4
                if action.side is BID
                else action.order.price_e4 - action.price_e4
            )
            assert toward <= max_move
            book[action.order.order_id] = (action.side, action.price_e4, action.size_e2)
        elif isinstance(action, Place):
            book[f"new{i}"] = (action.side, action.price_e4, action.size_e2)
        for side in (BID, ASK):
            live_per_side_max[side] = max(live_per_side_max[side], sum(1 for s, _, _ in book.values() if s is side))
    wanted = {side: q for side, q in ((BID, bid), (ASK, ask)) if q is not None}
    assert sorted((s.value, p, n) for s, p, n in book.values()) == sorted(
        (s.value, q.price_e4, q.size_e2) for s, q in wanted.items()
    )
    # Once the duplicates a plan starts from are gone, a side never holds two orders: a place always comes
    # after the cancel of the order it replaces.
    starting = {side: sum(1 for o in current if o.side is side) for side in (BID, ASK)}
    for side in (BID, ASK):
        assert live_per_side_max[side] <= max(starting[side], 1)
