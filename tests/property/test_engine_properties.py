"""Hypothesis state machine over the embedded exchange: random place/cancel/amend/decrease/time/settle by several
accounts on two markets, with the exchange's invariants checked after every step.

Invariants: money is conserved exactly (available + reserved + escrow + fees == funding, in 1/1,000,000 $);
contracts are conserved (per market, YES held == NO held == open interest); the resting book is never crossed
and agrees with the order records; no account's available cash is negative; a post-only order never takes;
settlement pays exactly $1 per winning contract. The engine's incremental reservation and its integer fee
accumulators equal a from-scratch recomputation with Fractions (:func:`reference_reservation_e6`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.accounts import ReservedOrder, RestingOrders, unit_collateral_e4
from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import (
    Event,
    FeeType,
    Market,
    MarketStatus,
    OrderRequest,
    OrderStatus,
    SelfTradePrevention,
    Series,
    Side,
    TimeInForce,
    notional_e6,
)
from kalshi_mm.units import PriceGrid

T0 = 1_767_225_600
USERS = ("u0", "u1", "u2")
MARKETS = ("A-E-M1", "B-E-M2")
# Mostly valid prices on both grids, a few only on the deci-cent tail, some off every grid.
PRICES = (4000, 4100, 4200, 4300, 4400, 4500, 4600, 4700, 950, 930, 9050, 4550, 4555)
NEAR_MID = (4300, 4400, 4500, 4600, 4700)
COUNTS = st.integers(min_value=1, max_value=800)
TIFS = st.sampled_from(list(TimeInForce))
STPS = st.sampled_from(list(SelfTradePrevention))


def reference_reservation_e6(position_e2: int, orders: Iterable[ReservedOrder]) -> int:
    """The collateral rule of kalshi_mm.sim.accounts, slowly and from scratch: each resting order reserves its
    unit collateral × remaining plus its fee reserve, except that what the position can close (asks against YES
    held, bids against NO held) is covered, highest unit collateral first."""
    covering_side = Side.ASK if position_e2 > 0 else Side.BID
    cover = abs(position_e2)
    total = 0
    for order in sorted(orders, key=lambda o: -unit_collateral_e4(o.side, o.price_e4)):  # stable
        uncovered = order.remaining_e2
        if cover and order.side is covering_side:
            covered = min(cover, uncovered)
            cover -= covered
            uncovered -= covered
        total += notional_e6(unit_collateral_e4(order.side, order.price_e4), uncovered)
        total += order.fee_reserve_e4 * 100
    return total


RESERVED = st.builds(
    ReservedOrder,
    st.sampled_from(list(Side)),
    st.integers(1, 99).map(lambda c: c * 100),
    st.integers(1, 600),
    st.integers(0, 9),
)


@given(orders=st.lists(RESERVED, max_size=12), data=st.data(), position=st.integers(-2000, 2000))
def test_incremental_reservation_matches_reference(
    orders: list[ReservedOrder], data: st.DataObject, position: int
) -> None:
    resting = RestingOrders()
    for i, order in enumerate(orders):
        resting.add(str(i), order)
    current = dict(enumerate(orders))
    for i in data.draw(st.lists(st.sampled_from(range(len(orders))), unique=True)) if orders else []:
        if data.draw(st.booleans()):  # remove, or shrink in place with a new fee reserve
            resting.remove(str(i))
            del current[i]
        else:
            old = current[i]
            new = ReservedOrder(
                old.side, old.price_e4, data.draw(st.integers(1, old.remaining_e2)), data.draw(st.integers(0, 9))
            )
            resting.update(str(i), new.remaining_e2, new.fee_reserve_e4)
            current[i] = new
    assert resting.required_e6(position) == reference_reservation_e6(position, current.values())
    # The what-if of order entry: some tracked orders gone and a new one resting.
    gone = data.draw(st.lists(st.sampled_from(sorted(current)), unique=True)) if current else []
    extra = data.draw(st.none() | RESERVED)
    after = [o for i, o in current.items() if i not in gone] + ([extra] if extra is not None else [])
    assert resting.required_e6(position, [current[i] for i in gone], extra) == reference_reservation_e6(position, after)
    assert resting.required_e6(position) == reference_reservation_e6(position, current.values())


class ExchangeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = SimClock(start=T0)
        self.ex = Exchange(self.clock, seed=1)
        self.groups: dict[str, str] = {}
        self.settled: set[str] = set()
        self.steps = 0

    @initialize(
        cash=st.lists(st.sampled_from([100_0000, 30_0000, 5_0000, 1_0000]), min_size=3, max_size=3),
        multiplier=st.sampled_from(["1", "0.5", "1.3"]),
        limit=st.sampled_from([300, 1000, 5000]),
    )
    def setup(self, cash: list[int], multiplier: str, limit: int) -> None:
        self.ex.add_series(Series("A", fee_type=FeeType.QUADRATIC_WITH_MAKER_FEES, fee_multiplier=Fraction(multiplier)))
        self.ex.add_series(Series("B", fee_type=FeeType.QUADRATIC))
        self.ex.add_event(Event("A-E", "A"))
        self.ex.add_event(Event("B-E", "B"))
        self.ex.add_market(Market(MARKETS[0], "A-E", open_ts=T0 - 1, close_ts=T0 + 10_000))
        self.ex.add_market(
            Market(
                MARKETS[1],
                "B-E",
                open_ts=T0 - 1,
                close_ts=T0 + 10_000,
                grid=PriceGrid.tapered_deci_cent(),
                price_level_structure="tapered_deci_cent",
            )
        )
        for user, amount in zip(USERS, cash, strict=True):
            self.ex.create_account(user, amount)
            self.groups[user] = self.ex.create_order_group(user, limit).group_id

    # --- actions --------------------------------------------------------------------------------------

    @rule(
        user=st.sampled_from(USERS),
        ticker=st.sampled_from(MARKETS),
        side=st.sampled_from(list(Side)),
        price=st.sampled_from(PRICES),
        count=COUNTS,
        tif=TIFS,
        stp=STPS,
        post_only=st.booleans(),
        reduce_only=st.booleans(),
        in_group=st.booleans(),
        expiry=st.sampled_from([None, 5, 30]),
    )
    def place(
        self,
        user: str,
        ticker: str,
        side: Side,
        price: int,
        count: int,
        tif: TimeInForce,
        stp: SelfTradePrevention,
        post_only: bool,
        reduce_only: bool,
        in_group: bool,
        expiry: int | None,
    ) -> None:
        self._place(user, ticker, side, price, count, tif, stp, post_only, reduce_only, in_group, expiry)

    # Two narrower rules make plain quoting and taking common enough for books to fill and cross.
    @rule(
        user=st.sampled_from(USERS),
        ticker=st.sampled_from(MARKETS),
        side=st.sampled_from(list(Side)),
        price=st.sampled_from(NEAR_MID),
        count=COUNTS,
        in_group=st.booleans(),
    )
    def quote(self, user: str, ticker: str, side: Side, price: int, count: int, in_group: bool) -> None:
        self._place(
            user,
            ticker,
            side,
            price,
            count,
            TimeInForce.GOOD_TILL_CANCELED,
            SelfTradePrevention.MAKER,
            False,
            False,
            in_group,
            None,
        )

    @rule(
        user=st.sampled_from(USERS),
        ticker=st.sampled_from(MARKETS),
        side=st.sampled_from(list(Side)),
        count=COUNTS,
        tif=TIFS,
        stp=STPS,
    )
    def take(self, user: str, ticker: str, side: Side, count: int, tif: TimeInForce, stp: SelfTradePrevention) -> None:
        price = NEAR_MID[-1] if side is Side.BID else NEAR_MID[0]  # crosses every quote
        self._place(user, ticker, side, price, count, tif, stp, False, False, False, None)

    def _place(
        self,
        user: str,
        ticker: str,
        side: Side,
        price: int,
        count: int,
        tif: TimeInForce,
        stp: SelfTradePrevention,
        post_only: bool,
        reduce_only: bool,
        in_group: bool,
        expiry: int | None,
    ) -> None:
        request = OrderRequest(
            ticker,
            side,
            price,
            count,
            time_in_force=tif,
            self_trade_prevention_type=stp,
            post_only=post_only and tif is TimeInForce.GOOD_TILL_CANCELED,
            reduce_only=reduce_only and tif is TimeInForce.IMMEDIATE_OR_CANCEL,
            order_group_id=self.groups[user] if in_group else None,
            expiration_ts=int(self.clock.time()) + expiry if expiry and tif is TimeInForce.GOOD_TILL_CANCELED else None,
        )
        before = self.ex.ledger()
        try:
            result = self.ex.place_order(user, request)
        except ExchangeError:
            assert self.ex.ledger() == before  # a rejection changes nothing
            return
        assert result.order.fill_count_e2 == result.fill_count_e2
        if request.post_only:
            assert result.fills == ()

    @rule(
        data=st.data(),
        action=st.sampled_from(["cancel", "amend", "decrease"]),
        price=st.sampled_from(PRICES),
        extra=st.integers(min_value=-300, max_value=300),
    )
    def modify(self, data: st.DataObject, action: str, price: int, extra: int) -> None:
        resting = self._resting()
        if not resting:
            return
        user, order_id = data.draw(st.sampled_from(resting))
        order = self.ex.get_order(user, order_id)
        if action == "cancel":
            assert self.ex.cancel_order(user, order_id).reduced_by_e2 == order.remaining_count_e2
        elif action == "decrease":
            self.ex.decrease_order(user, order_id, reduce_by_e2=abs(extra) or 1)
        else:
            try:
                self.ex.amend_order(
                    user,
                    order_id,
                    ticker=order.ticker,
                    side=order.side,
                    price_e4=price,
                    count_e2=order.initial_count_e2 + extra,
                )
            except ExchangeError:
                assert self.ex.get_order(user, order_id) == order  # a rejected amend changes nothing

    @rule(seconds=st.sampled_from([0, 1, 4, 16]), reset=st.sampled_from([None, *USERS]))
    def pass_time(self, seconds: int, reset: str | None) -> None:
        self.clock.advance(seconds)
        self.ex.tick()
        if reset is not None:
            self.ex.reset_order_group(reset, self.groups[reset])

    # Settling ends trading in a market, so let a run trade for a while first.
    @precondition(lambda self: self.steps >= 30 and len(self.settled) < len(MARKETS))
    @rule(data=st.data(), result=st.sampled_from(["yes", "no"]))
    def settle(self, data: st.DataObject, result: str) -> None:
        ticker = data.draw(st.sampled_from([t for t in MARKETS if t not in self.settled]))
        held = {u: {p.ticker: p.position_e2 for p in self.ex.positions(u)}.get(ticker, 0) for u in USERS}
        before = {u: self.ex.balance_e6(u) + self.ex.reserved_e6(u) for u in USERS}
        self.ex.determine(ticker, result)
        self.settled.add(ticker)
        assert self.ex.market(ticker).status is MarketStatus.FINALIZED
        for user in USERS:
            won = max(0, held[user]) if result == "yes" else max(0, -held[user])
            assert self.ex.balance_e6(user) + self.ex.reserved_e6(user) == before[user] + won * 10_000
            assert ticker not in {p.ticker for p in self.ex.positions(user)}

    def teardown(self) -> None:
        # Coverage signal for --hypothesis-show-statistics: how much trading a run actually did.
        trades = len(self.ex.trade_log())
        event(f"trades: {'0' if not trades else '1-5' if trades <= 5 else '6-20' if trades <= 20 else '>20'}")
        event(f"settled markets: {len(self.settled)}")

    def _resting(self) -> list[tuple[str, str]]:
        return [(u, o.order_id) for u in USERS for o in self.ex.orders(u, status=OrderStatus.RESTING)]

    # --- invariants ---------------------------------------------------------------------------------------

    @invariant()
    def count_steps(self) -> None:
        self.steps += 1

    @invariant()
    def money_is_conserved(self) -> None:
        if self.ex.accounts():
            assert self.ex.ledger().balanced

    @invariant()
    def contracts_are_conserved(self) -> None:
        for market in self.ex.markets():
            positions = [
                p.position_e2 for u in self.ex.accounts() for p in self.ex.positions(u) if p.ticker == market.ticker
            ]
            assert sum(positions) == 0
            assert market.open_interest_e2 == sum(p for p in positions if p > 0)

    @invariant()
    def no_negative_available_cash(self) -> None:
        for user in self.ex.accounts():
            assert self.ex.balance_e6(user) >= 0

    @invariant()
    def book_never_crossed_and_matches_orders(self) -> None:
        for market in self.ex.markets():
            top = self.ex.top_of_book(market.ticker)
            if top.yes_bid_e4 is not None and top.yes_ask_e4 is not None:
                assert top.yes_bid_e4 < top.yes_ask_e4
            levels: dict[tuple[Side, int], int] = {}
            for user in self.ex.accounts():
                for order in self.ex.orders(user, ticker=market.ticker, status=OrderStatus.RESTING):
                    assert order.remaining_count_e2 > 0
                    assert order.fill_count_e2 + order.remaining_count_e2 == order.initial_count_e2
                    key = (order.side, order.price_e4)
                    levels[key] = levels.get(key, 0) + order.remaining_count_e2
            view = self.ex.orderbook(market.ticker)
            shown = {(Side.BID, p): n for p, n in view.yes} | {(Side.ASK, 10_000 - p): n for p, n in view.no}
            assert shown == levels

    @invariant()
    def reservation_and_fees_match_a_recomputation(self) -> None:
        engine = self.ex._engine  # white box: the per-market figures the public API only sums
        for user in self.ex.accounts():
            exact: dict[str, Fraction] = {}  # order id -> exact fees of its fills
            paid: dict[str, int] = {}
            for fill in self.ex.fills(user):
                schedule = self.ex.fee_schedule(fill.ticker)
                exact[fill.order_id] = exact.get(fill.order_id, Fraction(0)) + schedule.exact_e4(
                    fill.yes_price_e4, fill.count_e2, is_taker=fill.is_taker
                )
                paid[fill.order_id] = paid.get(fill.order_id, 0) + fill.fee_e4
            # Whatever the fill sizes, an order has paid ceil(exact fees of all its fills) in total.
            assert paid == {order_id: math.ceil(fees) for order_id, fees in exact.items()}
            reserved: dict[str, list[ReservedOrder]] = {ticker: [] for ticker in MARKETS}
            for order in reversed(self.ex.orders(user, status=OrderStatus.RESTING)):
                acc = exact.get(order.order_id, Fraction(0))
                unfilled = self.ex.fee_schedule(order.ticker).exact_e4(
                    order.price_e4, order.remaining_count_e2, is_taker=False
                )
                fee = math.ceil(acc + unfilled) - math.ceil(acc)
                reserved[order.ticker].append(ReservedOrder(order.side, order.price_e4, order.remaining_count_e2, fee))
            account = engine.accounts[user]
            for ticker, orders in reserved.items():
                expected = reference_reservation_e6(account.position_e2(ticker), orders)
                assert account.reserved_e6.get(ticker, 0) == expected
                assert account.required_e6(ticker) == expected

    @invariant()
    def post_only_never_takes(self) -> None:
        for user in self.ex.accounts():
            for fill in self.ex.fills(user):
                if fill.is_taker:
                    assert not self.ex.get_order(user, fill.order_id).post_only


ExchangeMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestExchangeMachine = ExchangeMachine.TestCase
