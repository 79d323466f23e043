"""Account-level risk: the worst-case exposure arithmetic, the pure ordered checks (each rule on and off, the fixed
order, REDUCING and HALTED), the shared ExposureBook (reserve/ack/reject/fill/cancel, amend in flight, mirror,
positions and balance from the exchange, threads racing for the budget) and a Hypothesis property: any sequence of
reservations, fills, acks, rejects and cancels keeps every limit, never raises exposure except through a checked
reservation, and keeps the book's running totals equal to a recomputation from scratch."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_mm.api.types import BookSide
from kalshi_mm.clock import SimClock
from kalshi_mm.risk.breaker import BreakerLimits
from kalshi_mm.risk.checks import (
    RULES,
    Allow,
    ExposureSnapshot,
    OrderLeg,
    Proposal,
    RiskLimits,
    Veto,
    check_order,
    in_flight_contribution,
    market_after,
)
from kalshi_mm.risk.exposure import ExposureBook
from kalshi_mm.risk.gate import RiskGate
from kalshi_mm.risk.model import Contribution, MarketExposure, Position, notional_e6
from kalshi_mm.risk.rate_guard import RateStatus
from kalshi_mm.risk.state import TradingState, TradingStateMachine
from kalshi_mm.strategy.order_manager import LiveOrder

BID, ASK = BookSide.BID, BookSide.ASK
ACTIVE, REDUCING, HALTED = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
D = 1_000_000  # one dollar in 1/1,000,000 $

LIMITS = RiskLimits(per_market_cap_e4=80_000, global_budget_e4=200_000, category_caps_e4={"default": 120_000})
OK_RATE = RateStatus(available=100.0, queued=0, cost=10, reserve=10)


def orders(market: MarketExposure, *legs: tuple[BookSide, int, int]) -> MarketExposure:
    """``market`` with resting orders (side, price e4, count e2) added."""
    for i, (side, price, count) in enumerate(legs):
        market = market.with_order(f"o{i}-{len(market.orders)}", Contribution.of(side, price, count))
    return market


def place(side: BookSide, price_e4: int, count_e2: int, ticker: str = "M1", category: str = "default") -> Proposal:
    return Proposal(ticker, category, OrderLeg(side, price_e4, count_e2))


def snap(
    market: MarketExposure | None = None, category: int = 0, total: int = 0, free: int | None = None
) -> ExposureSnapshot:
    # Category and total include the market's own worst case, as the book's totals do.
    market = market or MarketExposure()
    worst = market.worst_case_e6
    return ExposureSnapshot(market, category + worst, total + worst, free)


# --- the arithmetic -----------------------------------------------------------------------------------------------


def test_order_exposure_is_p_times_c_for_a_bid_and_one_minus_p_for_an_ask() -> None:
    assert notional_e6(BID, 4_700, 1_000) == 47 * D // 10  # 10 contracts at $0.47 -> $4.70
    assert notional_e6(ASK, 4_700, 1_000) == 53 * D // 10  # selling YES at 0.47 risks $0.53 each
    with pytest.raises(ValueError, match="strictly between"):
        notional_e6(BID, 10_000, 100)


def test_two_sided_quotes_cannot_both_lose_so_the_worst_case_is_the_larger_side() -> None:
    market = orders(MarketExposure(), (BID, 4_800, 500), (ASK, 5_200, 500))
    assert market.worst_case_e6 == 2_400_000  # max($2.40, $2.40), not their sum
    assert market.collateral_e6 == 4_800_000  # the cash both would lock without netting


def test_an_ask_that_only_sells_a_held_position_adds_no_exposure() -> None:
    long = MarketExposure(Position(1_000, 5_000_000))  # 10 YES bought at $0.50
    assert long.worst_case_e6 == 5 * D
    with_ask = orders(long, (ASK, 5_200, 1_000))
    assert with_ask.worst_case_e6 == 5 * D and with_ask.only_reduces(ASK)
    flipping = orders(long, (ASK, 5_200, 1_500))  # 15 > 10 held: opens 5 NO
    assert not flipping.only_reduces(ASK)
    assert flipping.worst_case_e6 == 5 * D  # the 5 NO risk $2.40, the YES gain covers them


def test_a_profitable_closing_order_counts_the_offset_it_would_give_up() -> None:
    # Long 1 YES bought at $0.01, and an ask for 100 at $0.02: 99 of them open NO. If YES wins, the held contract's
    # $0.99 gain offsets the asks' $98 loss; once the ask sells that contract (for $0.02), the offset is gone.
    market = orders(MarketExposure(Position(100, 100 * 100)), (ASK, 200, 10_000))
    after_fill, _ = market.position.after_fill(ASK, 200, 100)
    reached = MarketExposure(after_fill).with_order("a", Contribution.of(ASK, 200, 9_900))
    assert reached.worst_case_e6 == 9_900 * 9_800  # $97.02 once the held contract is sold
    assert market.worst_case_e6 >= reached.worst_case_e6  # already counted before the fill


def exchange_loss(position: Position, legs: list[OrderLeg], yes_wins: bool) -> int:
    """The loss on one outcome as the exchange's records show it: position cost basis and resting orders."""
    against = ASK if yes_wins else BID
    return position.loss_if(yes_wins) + sum(leg.exposure_e6 for leg in legs if leg.side is against)


def brute_reachable_worst(position: Position, legs: list[OrderLeg]) -> int:
    """Every order of fills of every subset of the orders (filled whole), then every outcome: the largest loss the
    exchange's records could show (an independent check of the formula)."""
    worst = 0
    for n in range(len(legs) + 1):
        for filled in itertools.permutations(range(len(legs)), n):
            pos = position
            for i in filled:
                pos, _ = pos.after_fill(legs[i].side, legs[i].price_e4, legs[i].count_e2)
            left = [leg for i, leg in enumerate(legs) if i not in filled]
            worst = max(worst, exchange_loss(pos, left, False), exchange_loss(pos, left, True))
    return worst


@settings(max_examples=200)
@given(
    st.integers(-2_000, 2_000),
    st.integers(1, 9_999),
    st.lists(st.tuples(st.sampled_from([BID, ASK]), st.integers(1, 9_999), st.integers(1, 1_000)), max_size=4),
)
def test_the_worst_case_bounds_every_state_fills_can_reach(pos: int, avg: int, raw: list[tuple[Any, int, int]]) -> None:
    position = Position(pos, abs(pos) * (avg if pos > 0 else 10_000 - avg))
    legs = [OrderLeg(s, p, c) for s, p, c in raw]
    market = orders(MarketExposure(position), *raw)
    brute = brute_reachable_worst(position, legs)
    closers = sum(c for s, _, c in raw if (s is ASK) == (pos > 0))
    # An upper bound, and tight up to the 1/1,000,000 $ per closed 1/100 contract kept for the exchange's rounding.
    assert brute <= market.worst_case_e6 <= brute + min(abs(pos), closers)
    if not closers or pos == 0:
        plain = max(0, exchange_loss(position, legs, False), exchange_loss(position, legs, True))
        assert market.worst_case_e6 == plain


def test_fills_follow_the_exchange_cost_basis_rule() -> None:
    pos, cash = Position().after_fill(BID, 4_000, 1_000)  # buy 10 YES at 0.40
    assert pos == Position(1_000, 4 * D) and cash == -4 * D
    pos, cash = pos.after_fill(ASK, 5_000, 300)  # sell 3 at 0.50: 3 closed, cost removed pro rata
    assert pos == Position(700, 2_800_000) and cash == 1_500_000
    pos, cash = pos.after_fill(ASK, 5_000, 1_000)  # sell 10 more: 7 close, 3 NO opened at 0.50
    assert pos == Position(-300, 1_500_000) and cash == 3_500_000 - 1_500_000


# --- the ordered checks ---------------------------------------------------------------------------------------------


def test_allowed_order_within_every_limit() -> None:
    assert check_order(snap(), place(BID, 5_000, 1_000), LIMITS, ACTIVE, OK_RATE) == Allow()


def test_halted_vetoes_every_create_and_amend() -> None:
    long = MarketExposure(Position(1_000, 5 * D))
    reducing_ask = place(ASK, 5_500, 500)
    for proposal in (place(BID, 5_000, 100), reducing_ask):
        decision = check_order(snap(long), proposal, LIMITS, HALTED, OK_RATE)
        assert isinstance(decision, Veto) and decision.rule == "trading_state"


def test_reducing_allows_only_orders_that_reduce_the_position() -> None:
    long = MarketExposure(Position(1_000, 5 * D))
    assert check_order(snap(long), place(ASK, 5_500, 500), LIMITS, REDUCING, OK_RATE) == Allow()
    assert check_order(snap(long), place(ASK, 5_500, 1_000), LIMITS, REDUCING, OK_RATE) == Allow()  # to flat
    for proposal in (place(BID, 4_500, 100), place(ASK, 5_500, 1_100)):  # adds; flips the position
        decision = check_order(snap(long), proposal, LIMITS, REDUCING, OK_RATE)
        assert isinstance(decision, Veto) and decision.rule == "trading_state", proposal
    flat = MarketExposure()
    assert isinstance(check_order(snap(flat), place(ASK, 5_500, 100), LIMITS, REDUCING, OK_RATE), Veto)
    # An amend that makes an adding order smaller and cheaper reduces exposure; growing it does not.
    resting = flat.with_order("b", Contribution.of(BID, 4_500, 500))
    old_c = resting.contribution("b")
    smaller = Proposal("M1", "default", OrderLeg(BID, 4_400, 300), old_c, "b")
    bigger = Proposal("M1", "default", OrderLeg(BID, 4_500, 600), old_c, "b")
    assert check_order(snap(resting), smaller, LIMITS, REDUCING, OK_RATE) == Allow()
    assert isinstance(check_order(snap(resting), bigger, LIMITS, REDUCING, OK_RATE), Veto)


def test_rate_guard_keeps_the_cancel_reserve() -> None:
    def rate(available: float, queued: int = 0) -> RateStatus:
        return RateStatus(available=available, queued=queued, cost=10, reserve=10)

    assert check_order(snap(), place(BID, 5_000, 100), LIMITS, ACTIVE, rate(20.0)) == Allow()
    decision = check_order(snap(), place(BID, 5_000, 100), LIMITS, ACTIVE, rate(19.5))
    assert isinstance(decision, Veto) and decision.rule == "rate_guard" and decision.detail["reserve_tokens"] == 10
    assert isinstance(
        check_order(snap(), place(BID, 5_000, 100), LIMITS, ACTIVE, rate(45.0, queued=3)), Veto
    )  # 3 queued take 30
    assert check_order(snap(), place(BID, 5_000, 100), LIMITS, ACTIVE, None) == Allow()  # no limiter: off


@pytest.mark.parametrize(
    ("rule", "snapshot", "proposal"),
    [
        # $8 cap: $7 resting + $1.50 more.
        ("per_market_cap", snap(orders(MarketExposure(), (BID, 5_000, 1_400))), place(BID, 5_000, 300)),
        # $12 category: $11 in other markets of the category + $1.50 here.
        ("category_cap", snap(category=11 * D), place(BID, 5_000, 300)),
        # $20 global: $19 elsewhere (another category) + $1.50.
        ("global_budget", snap(total=19 * D), place(BID, 5_000, 300)),
        # $1 of free cash for $1.50 of collateral.
        ("balance", snap(free=1 * D), place(BID, 5_000, 300)),
    ],
)
def test_each_limit_vetoes_an_order_that_would_exceed_it(rule: str, snapshot: Any, proposal: Proposal) -> None:
    decision = check_order(snapshot, proposal, LIMITS, ACTIVE, OK_RATE)
    assert isinstance(decision, Veto) and decision.rule == rule
    if rule != "balance":
        assert decision.detail["exposure_after_e6"] > decision.detail["limit_e6"]
    smaller = place(proposal.new.side, proposal.new.price_e4, 100)  # 50¢ of exposure fits under each limit
    assert check_order(snapshot, smaller, LIMITS, ACTIVE, OK_RATE) == Allow()


def test_limits_never_veto_an_order_that_does_not_raise_exposure() -> None:
    # Far above every cap (a position from before), selling what is held is still allowed.
    big = MarketExposure(Position(10_000, 50 * D))
    decision = check_order(snap(big, total=100 * D, free=0), place(ASK, 5_000, 1_000), LIMITS, ACTIVE, OK_RATE)
    assert decision == Allow()
    assert isinstance(check_order(snap(big), place(BID, 5_000, 100), LIMITS, ACTIVE, OK_RATE), Veto)


def test_balance_rule_is_skipped_while_the_balance_is_unknown() -> None:
    assert check_order(snap(free=None), place(BID, 5_000, 300), LIMITS, ACTIVE, OK_RATE) == Allow()
    assert check_order(snap(free=2 * D), place(BID, 5_000, 300), LIMITS, ACTIVE, OK_RATE) == Allow()


def test_rules_run_in_the_fixed_order() -> None:
    # One proposal that breaks every rule; relaxing the first failing rule each time reveals the next in order.
    failing = {
        "trading_state": HALTED,
        "rate_guard": RateStatus(available=0.0, queued=0, cost=10, reserve=10),
        "per_market_cap": orders(MarketExposure(), (BID, 5_000, 1_580)),
        "category_cap": 115 * D // 10,
        "global_budget": 195 * D // 10,
        "balance": 0,
    }
    passing: dict[str, Any] = {
        "trading_state": ACTIVE,
        "rate_guard": OK_RATE,
        "per_market_cap": MarketExposure(),
        "category_cap": 0,
        "global_budget": 0,
        "balance": None,
    }
    seen = []
    for relaxed in range(len(RULES) + 1):
        v = {rule: (passing if i < relaxed else failing)[rule] for i, rule in enumerate(RULES)}
        market = v["per_market_cap"]
        snapshot = snap(market, category=v["category_cap"], total=v["global_budget"], free=v["balance"])
        decision = check_order(snapshot, place(BID, 5_000, 200), LIMITS, v["trading_state"], v["rate_guard"])
        seen.append(decision.rule if isinstance(decision, Veto) else "allow")
    assert seen == [*RULES, "allow"]


def test_an_amend_in_flight_counts_the_larger_of_old_and_new() -> None:
    market = orders(MarketExposure(), (BID, 5_000, 1_000))  # $5
    key, old = market.orders[0]
    down = market_after(market, Proposal("M1", "default", OrderLeg(BID, 4_000, 500), old, key))
    up = market_after(market, Proposal("M1", "default", OrderLeg(BID, 6_000, 1_000), old, key))
    grow = market_after(market, Proposal("M1", "default", OrderLeg(BID, 4_000, 2_000), old, key))
    assert down.worst_case_e6 == 5 * D  # the exchange may still hold the old order
    assert up.worst_case_e6 == 6 * D
    assert grow.worst_case_e6 == 9 * D  # the old 10 may fill at $0.50 before the amend adds 10 more at $0.40


@given(
    st.integers(1, 9_999),
    st.integers(1, 2_000),
    st.integers(1, 9_999),
    st.integers(1, 2_000),
    st.sampled_from([BID, ASK]),
)
def test_an_amend_in_flight_bounds_every_fill_then_resize_sequence(
    old_price: int, old_count: int, new_price: int, new_count: int, side: BookSide
) -> None:
    old = Contribution.of(side, old_price, old_count)
    bound = in_flight_contribution(old, OrderLeg(side, new_price, new_count)).exposure_e6
    # The exchange fills f of the old order, then (if the order still lives) re-sizes it to new_count in total.
    reachable = [notional_e6(side, old_price, old_count)]
    for f in {0, min(old_count - 1, new_count), old_count // 2}:
        if 0 <= f < old_count:
            reachable.append(notional_e6(side, old_price, f) + notional_e6(side, new_price, max(0, new_count - f)))
    assert max(reachable) <= bound


# --- the book -------------------------------------------------------------------------------------------------------


def judge(state: TradingState = ACTIVE, limits: RiskLimits = LIMITS):
    return lambda snapshot, proposal: check_order(snapshot, proposal, limits, state, None)


def test_book_counts_in_flight_orders_until_rejected_or_cancelled() -> None:
    book = ExposureBook()
    s = book.new_session()
    assert book.reserve(s, "c1", "M1", OrderLeg(BID, 5_000, 1_000), judge()) == Allow()
    assert book.totals().global_e6 == 5 * D  # counted before any request was sent
    book.on_reject("c1")
    assert book.totals().global_e6 == 0
    book.reserve(s, "c2", "M1", OrderLeg(BID, 5_000, 1_000), judge())
    book.on_ack("c2")
    assert book.totals().global_e6 == 5 * D
    book.on_cancel("c2")
    assert book.totals().global_e6 == 0 and book.session_entries(s) == 0


def test_book_moves_fills_from_the_order_to_the_position() -> None:
    book = ExposureBook()
    s = book.new_session()
    book.reserve(s, "c1", "M1", OrderLeg(BID, 5_000, 1_000), judge())
    book.on_ack("c1")
    cash = book.on_fill("M1", "c1", BID, 5_000, 400, fee_e4=70)
    assert cash == -2 * D - 7_000
    market = book.market("M1")
    assert market.position == Position(400, 2 * D) and (market.bid_e6, market.side_e2(BID)) == (3 * D, 600)
    assert book.totals().global_e6 == 5 * D  # the same $5 at risk, now partly as a position
    book.on_fill("M1", "c1", BID, 5_000, 600)
    assert book.session_entries(s) == 0 and book.totals().global_e6 == 5 * D


def test_book_vetoes_without_reserving_and_a_veto_leaves_totals_unchanged() -> None:
    book = ExposureBook()
    s = book.new_session()
    book.reserve(s, "c1", "M1", OrderLeg(BID, 5_000, 1_500), judge())  # $7.50 of the $8 market cap
    decision = book.reserve(s, "c2", "M1", OrderLeg(BID, 5_000, 200), judge())
    assert isinstance(decision, Veto) and decision.rule == "per_market_cap"
    assert book.totals().global_e6 == 75 * D // 10 and book.session_entries(s) == 1


def test_mirror_makes_the_session_entries_its_live_orders() -> None:
    book = ExposureBook()
    s, other = book.new_session(), book.new_session()
    book.reserve(s, "a", "M1", OrderLeg(BID, 4_000, 1_000), judge())
    book.reserve(s, "lost", "M1", OrderLeg(ASK, 6_000, 1_000), judge())  # create whose answer was lost
    book.reserve(s, "gone", "M1", OrderLeg(ASK, 6_000, 500), judge())
    book.reserve(other, "x", "M2", OrderLeg(BID, 5_000, 200), judge())
    book.mirror(s, "M1", [("a", OrderLeg(BID, 4_000, 700))], keep={"lost"})
    kept, fresh = book.audit()
    assert kept == fresh
    assert book.market("M1").side_e2(BID) == 700 and book.market("M1").side_e2(ASK) == 1_000
    assert book.market("M2").side_e2(BID) == 200  # another session is untouched
    assert book.release_session(s) == 2 and book.market("M1") == MarketExposure()


def test_positions_from_the_exchange_are_adopted_unless_a_fill_raced_the_read() -> None:
    book = ExposureBook()
    marker = book.marker()
    assert book.sync_positions({"M1": Position(500, 2 * D)}, marker) == ["M1"]
    assert book.totals().global_e6 == 2 * D
    marker = book.marker()
    book.on_fill("M1", None, BID, 5_000, 100)  # applied after the read started
    assert book.sync_positions({}, marker) == []  # the read may predate the fill: keep ours
    assert book.market("M1").position == Position(600, 25 * D // 10)
    assert book.sync_positions({}, book.marker()) == ["M1"]  # flat on the exchange (settled, sold elsewhere)
    assert book.totals().global_e6 == 0


def test_free_balance_estimate_follows_orders_and_fills_since_the_read() -> None:
    book = ExposureBook()
    assert book.free_balance_e6() is None
    book.set_balance(100_000, book.marker())  # $10
    s = book.new_session()
    book.reserve(s, "c1", "M1", OrderLeg(BID, 5_000, 1_000), judge())
    assert book.free_balance_e6() == 5 * D  # $5 locked by the new order
    book.on_fill("M1", "c1", BID, 5_000, 1_000, fee_e4=100)
    assert book.free_balance_e6() == 5 * D - 10_000  # collateral became the position; the fee was paid
    decision = book.reserve(s, "c2", "M2", OrderLeg(BID, 5_000, 1_000), judge())
    assert isinstance(decision, Veto) and decision.rule == "balance"


def test_racing_threads_never_share_the_last_of_the_budget() -> None:
    # 8 threads × 50 orders of $1 each against a $20 global budget: exactly 20 fit, whatever the interleaving.
    limits = RiskLimits(per_market_cap_e4=1_000_000, global_budget_e4=200_000, category_caps_e4={"default": 10**7})
    book = ExposureBook()
    allowed: list[int] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        s = book.new_session()
        start.wait()
        ok = 0
        for i in range(50):
            if isinstance(
                book.reserve(s, f"{n}-{i}", f"M{i % 5}", OrderLeg(BID, 5_000, 200), judge(limits=limits)), Allow
            ):
                ok += 1
        allowed.append(ok)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 20 and book.totals().global_e6 == 20 * D


# --- the property ---------------------------------------------------------------------------------------------------

TICKERS = {"A1": "alpha", "A2": "alpha", "B1": "beta"}
P_LIMITS = RiskLimits(per_market_cap_e4=30_000, global_budget_e4=50_000, category_caps_e4={"default": 40_000})

place_op = st.tuples(
    st.just("place"),
    st.integers(0, 2),
    st.sampled_from(sorted(TICKERS)),
    st.sampled_from([BID, ASK]),
    st.integers(1, 99).map(lambda c: c * 100),
    st.integers(1, 8).map(lambda n: n * 100),
)
amend_op = st.tuples(
    st.just("amend"), st.integers(0, 50), st.integers(1, 99).map(lambda c: c * 100), st.integers(1, 800)
)
op = st.one_of(
    place_op,
    amend_op,
    place_op,
    amend_op,
    st.tuples(st.just("fill"), st.integers(0, 50), st.integers(1, 2000), st.booleans(), st.integers(0, 300)),
    st.tuples(st.just("ack"), st.integers(0, 50)),
    st.tuples(st.just("reject"), st.integers(0, 50)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("end"), st.integers(0, 2)),
    st.tuples(st.just("state"), st.sampled_from([ACTIVE, REDUCING])),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=10, max_size=60))
def test_any_sequence_keeps_every_limit_and_totals_match_a_recomputation(ops: list[tuple[Any, ...]]) -> None:
    book = ExposureBook()
    for ticker, category in TICKERS.items():
        book.register_market(ticker, category)
    sessions = [book.new_session() for _ in range(3)]
    # The model of what the exchange holds: key -> (session, ticker, current leg, amend in flight).
    orders: list[tuple[str, int, str, OrderLeg, OrderLeg | None]] = []
    state = ACTIVE
    for step in ops:
        kind = step[0]
        before = book.totals()
        if kind == "state":
            state = step[1]
        elif kind == "place":
            _, s, ticker, side, price, count = step
            key, leg = f"k{len(orders)}", OrderLeg(side, price, count)
            if isinstance(book.reserve(sessions[s], key, ticker, leg, judge(state, P_LIMITS)), Allow):
                orders.append((key, s, ticker, leg, None))
        elif orders and kind in ("amend", "fill", "ack", "reject", "cancel"):
            i = step[1] % len(orders)
            key, s, ticker, leg, pending = orders[i]
            gone = OrderLeg(leg.side, leg.price_e4, 0)
            if kind == "amend" and pending is None and leg.count_e2:
                new = OrderLeg(leg.side, step[2], step[3])
                if isinstance(book.reserve(sessions[s], key, ticker, new, judge(state, P_LIMITS), amend=True), Allow):
                    orders[i] = (key, s, ticker, leg, new)
            elif kind == "fill" and pending is None:  # sessions apply fills between requests, never mid-amend
                _, _, count, _, better = step
                actual = leg
                count = min(count, actual.count_e2)
                if count:
                    # A maker fill at the order's price, or a better one (lower for a bid, higher for an ask).
                    if actual.side is BID:
                        price = actual.price_e4 - min(better, actual.price_e4 - 1)
                    else:
                        price = actual.price_e4 + min(better, 9_999 - actual.price_e4)
                    book.on_fill(ticker, key, actual.side, price, count)

                    def shrink(g: OrderLeg, n: int = count) -> OrderLeg:
                        return OrderLeg(g.side, g.price_e4, max(0, g.count_e2 - n))

                    orders[i] = (key, s, ticker, shrink(leg), None)
            elif kind == "ack":
                book.on_ack(key)
                orders[i] = (key, s, ticker, pending or leg, None)
            elif kind == "reject":
                book.on_reject(key)
                orders[i] = (key, s, ticker, leg if pending else gone, None)
            elif kind == "cancel":
                book.on_cancel(key)
                orders[i] = (key, s, ticker, gone, None)
        elif kind == "end":
            book.release_session(sessions[step[1]])
            orders = [o if o[1] != step[1] else (o[0], o[1], o[2], OrderLeg(o[3].side, 1, 0), None) for o in orders]
        totals = book.totals()
        if kind not in ("place", "amend"):  # only a checked reservation may raise exposure; nothing else does
            assert totals.global_e6 <= before.global_e6, step
            assert all(v <= before.markets.get(t, 0) for t, v in totals.markets.items()), step
        assert totals.global_e6 <= P_LIMITS.global_budget_e4 * 100
        assert all(v <= P_LIMITS.per_market_cap_e4 * 100 for v in totals.markets.values())
        assert all(v <= P_LIMITS.cap_for(c) * 100 for c, v in totals.categories.items())
        kept, fresh = book.audit()
        assert kept == fresh


# --- the gate's session handle ----------------------------------------------------------------------------------------


def test_session_handle_pulls_what_the_state_no_longer_allows_and_releases_at_the_end() -> None:
    clock = SimClock(start=1_767_225_600.0)
    trading = TradingStateMachine(clock)
    gate = RiskGate(LIMITS, clock=clock, trading=trading, breaker_limits=BreakerLimits(200_000, 150_000, 5))
    risk = gate.session("M1", "yes", category="default", run_id=None)
    assert risk.check_place("c1", BID, 4_800, 500) == Allow()
    bid = LiveOrder("o1", "c1", BID, 4_800, 500)
    risk.mirror([bid])
    risk.on_fill("c1", BID, 4_800, 200)  # now long 2
    bid = LiveOrder("o1", "c1", BID, 4_800, 500, 200)
    assert risk.check_place("c2", ASK, 5_200, 200, [bid]) == Allow()
    ask = LiveOrder("o2", "c2", ASK, 5_200, 200)
    assert risk.must_pull([bid, ask]) == []
    trading.reduce_only("test", "operator")
    assert risk.must_pull([bid, ask]) == ["o1"]  # the bid adds to the long position; the ask only sells it
    trading.halt("test", "operator")
    assert risk.must_pull([bid, ask]) == ["o1", "o2"]
    assert isinstance(risk.check_place("c3", ASK, 5_200, 100, [bid, ask]), Veto)
    assert gate.veto_counts["trading_state"] == 1
    pnl = risk.close(mark_e4=5_000)
    assert pnl == 2 * (5_000 - 4_800)  # 2 contracts bought at 0.48, marked at 0.50: +$0.04
    assert gate.book.session_entries(risk.id) == 0
    assert gate.book.totals().global_e6 == 960_000  # only the position is left: 2 × $0.48
