"""Accounts, netted positions and collateral of the embedded exchange: the money side, exact in e6.

**Money model (fully collateralized).** Every account has *available* cash and, per market, *reserved*
collateral for its resting orders. A held contract is backed by the market's escrow: whenever a YES and a NO
contract come into existence together (both parties open), their buyers pay p and 1 − p, $1 in total, into the
escrow; when a YES and a NO are retired together the escrow pays $1 back; and a transfer (one party opens,
the other closes) moves cash between the two accounts only. So at every instant, per market,
``escrow = open interest × $1`` and, across the exchange::

    Σ available + Σ reserved + Σ escrow + fees collected == Σ funding          (exact, in 1/1,000,000 $)

A fill on the bid side of ``c`` contracts at YES price ``p`` changes the buyer's cash by ``$1 × k − p × c``,
where ``k`` is the part that retires NO contracts the buyer held (buying YES while holding NO releases $1 per
pair); the ask side symmetrically by ``$1 × k − (1 − p) × c`` with ``k`` the YES contracts retired.

**Reservation.** An account's reservation in a market is brought up to date after every change
(:meth:`RestingOrders.required_e6`): a bid reserves ``p × remaining``, an ask ``(1 − p) × remaining``, except
the part that would close what the account holds (asks against YES held, bids against NO held), which needs no
new collateral. That cover is given to the orders with the highest unit collateral first, which minimizes the
reservation and guarantees a maker's fill never needs more than it releases. Resting orders also reserve the
maker fee they could still be charged (zero for series that do not charge makers).

Recomputing that sum over every resting order after every change made each operation O(resting orders), so
:class:`RestingOrders` keeps running totals instead. Unit collateral is a strictly monotone function of price
on each side, so the cover only depends on the *size per price level* of the covering side (orders tied at one
price have the same unit collateral, whichever of them gets the cover): it is a walk over the best levels
until the position is used up.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from kalshi_mm.sim.model import E6_PER_E4, Position, Side, notional_e6
from kalshi_mm.units import ONE_DOLLAR

__all__ = [
    "Account",
    "PositionState",
    "ReservedOrder",
    "RestingOrders",
    "unit_collateral_e4",
]


def unit_collateral_e4(side: Side, price_e4: int) -> int:
    """Collateral per contract of opening on ``side`` at YES price ``price_e4``: p for a bid, 1 − p for an ask."""
    return price_e4 if side is Side.BID else ONE_DOLLAR - price_e4


@dataclass(frozen=True, slots=True)
class ReservedOrder:
    """What the reservation needs to know of one resting order."""

    side: Side
    price_e4: int
    remaining_e2: int
    fee_reserve_e4: int


class RestingOrders:
    """One account's resting orders in one market with the running totals its reservation needs.

    ``orders`` keeps placement order (re-resting after an amend moves an order to the end; a size change keeps
    its place). Every mutation updates the totals in O(log levels); :meth:`required_e6` costs one walk over
    the covering side's best levels.
    """

    __slots__ = ("_fees_e4", "_levels", "_notional_e6", "_prices", "orders")

    def __init__(self) -> None:
        self.orders: dict[str, ReservedOrder] = {}
        self._notional_e6 = 0  # Σ unit collateral × remaining, cover ignored
        self._fees_e4 = 0  # Σ maker fee reserves
        self._levels: dict[Side, dict[int, int]] = {Side.BID: {}, Side.ASK: {}}  # price -> Σ remaining
        self._prices: dict[Side, list[int]] = {Side.BID: [], Side.ASK: []}  # ascending

    def __len__(self) -> int:
        return len(self.orders)

    def add(self, order_id: str, order: ReservedOrder) -> None:
        """Track a newly resting order (placed last)."""
        if order_id in self.orders:
            raise ValueError(f"order {order_id} is already tracked")
        self.orders[order_id] = order
        self._account(order, 1)

    def update(self, order_id: str, remaining_e2: int, fee_reserve_e4: int) -> None:
        """Change a tracked order's remaining size and fee reserve, keeping its place."""
        old = self.orders[order_id]
        new = ReservedOrder(old.side, old.price_e4, remaining_e2, fee_reserve_e4)
        self.orders[order_id] = new
        self._account(old, -1)
        self._account(new, 1)

    def remove(self, order_id: str) -> ReservedOrder | None:
        """Stop tracking an order; returns what it reserved (None if it was not tracked)."""
        order = self.orders.pop(order_id, None)
        if order is not None:
            self._account(order, -1)
        return order

    def required_e6(
        self, position_e2: int, without: Iterable[ReservedOrder] = (), extra: ReservedOrder | None = None
    ) -> int:
        """Collateral (e6) the tracked orders need given ``position_e2`` (module docstring), as if the orders
        in ``without`` (tracked ones) were gone and ``extra`` rested too; a what-if that changes nothing."""
        covering = Side.ASK if position_e2 > 0 else Side.BID
        total = self._notional_e6 + self._fees_e4 * E6_PER_E4
        adjust: dict[int, int] = {}  # covering-side level size changes of the what-if
        changes = [(order, -1) for order in without]
        if extra is not None:
            changes.append((extra, 1))
        for order, sign in changes:
            total += sign * (
                notional_e6(unit_collateral_e4(order.side, order.price_e4), order.remaining_e2)
                + order.fee_reserve_e4 * E6_PER_E4
            )
            if order.side is covering:
                adjust[order.price_e4] = adjust.get(order.price_e4, 0) + sign * order.remaining_e2
        cover = abs(position_e2)
        if cover:
            total -= self._covered_e6(covering, cover, adjust)
        return total

    def _covered_e6(self, side: Side, cover: int, adjust: dict[int, int]) -> int:
        """Collateral the position saves: ``cover`` given to the highest-unit-collateral levels of ``side``."""
        levels = self._levels[side]
        saved = 0
        for price in self._by_collateral(side, [p for p in adjust if p not in levels]):
            size = levels.get(price, 0) + adjust.get(price, 0)
            if size <= 0:
                continue
            covered = min(cover, size)
            saved += notional_e6(unit_collateral_e4(side, price), covered)
            cover -= covered
            if not cover:
                break
        return saved

    def _by_collateral(self, side: Side, new_prices: list[int]) -> Iterator[int]:
        """Prices of ``side`` (tracked plus ``new_prices``), highest unit collateral first: asks from the
        lowest price, bids from the highest. Lazy, so a walk that stops early stays cheap."""
        prices = self._prices[side]
        if side is Side.ASK:
            return heapq.merge(prices, sorted(new_prices)) if new_prices else iter(prices)
        if new_prices:
            return heapq.merge(reversed(prices), sorted(new_prices, reverse=True), reverse=True)
        return reversed(prices)

    def _account(self, order: ReservedOrder, sign: int) -> None:
        self._notional_e6 += sign * notional_e6(unit_collateral_e4(order.side, order.price_e4), order.remaining_e2)
        self._fees_e4 += sign * order.fee_reserve_e4
        levels = self._levels[order.side]
        size = levels.get(order.price_e4, 0) + sign * order.remaining_e2
        if size:
            if order.price_e4 not in levels:
                bisect.insort(self._prices[order.side], order.price_e4)
            levels[order.price_e4] = size
        elif order.price_e4 in levels:
            del levels[order.price_e4]
            prices = self._prices[order.side]
            del prices[bisect.bisect_left(prices, order.price_e4)]


@dataclass(slots=True)
class PositionState:
    """A user's net position in one market and its bookkeeping (mutable; snapshot with :meth:`snapshot`).

    ``cost_e6`` is the cost basis of what is held (YES at YES prices when long, NO at NO prices when short).
    Reducing a position removes cost pro rata (floored, with the remainder removed when the position closes),
    so ``realized_pnl_e6`` + ``cost_e6`` stays exact.
    """

    user_id: str
    ticker: str
    event_ticker: str
    position_e2: int = 0
    cost_e6: int = 0
    realized_pnl_e6: int = 0
    total_traded_e6: int = 0
    fees_paid_e4: int = 0
    volume_e2: int = 0
    last_updated_ts_ms: int = 0

    def apply_fill(self, side: Side, price_e4: int, count_e2: int, ts_ms: int) -> int:
        """Book a fill of ``count_e2`` on ``side`` at YES price ``price_e4``; returns the cash change (e6, fees
        excluded): proceeds of contracts retired minus the cost of contracts opened."""
        unit_open = unit_collateral_e4(side, price_e4)
        held_opposite = max(0, -self.position_e2) if side is Side.BID else max(0, self.position_e2)
        closed = min(held_opposite, count_e2)
        cash = 0
        if closed:
            # Retiring a held contract against the one just bought frees $1; net of this price that is the
            # held contract's own price (1 − unit_open), i.e. selling it.
            proceeds = notional_e6(ONE_DOLLAR - unit_open, closed)
            removed = self.cost_e6 * closed // held_opposite
            self.realized_pnl_e6 += proceeds - removed
            self.cost_e6 -= removed
            cash += proceeds
        opened = count_e2 - closed
        if opened:
            self.cost_e6 += notional_e6(unit_open, opened)
            cash -= notional_e6(unit_open, opened)
        self.position_e2 += count_e2 if side is Side.BID else -count_e2
        self.total_traded_e6 += notional_e6(unit_open, count_e2)
        self.volume_e2 += count_e2
        self.last_updated_ts_ms = ts_ms
        return cash

    def copy(self) -> PositionState:
        return PositionState(
            self.user_id,
            self.ticker,
            self.event_ticker,
            self.position_e2,
            self.cost_e6,
            self.realized_pnl_e6,
            self.total_traded_e6,
            self.fees_paid_e4,
            self.volume_e2,
            self.last_updated_ts_ms,
        )

    def snapshot(self, resting_orders_count: int) -> Position:
        return Position(
            user_id=self.user_id,
            ticker=self.ticker,
            event_ticker=self.event_ticker,
            position_e2=self.position_e2,
            market_exposure_e6=self.cost_e6,
            total_traded_e6=self.total_traded_e6,
            realized_pnl_e6=self.realized_pnl_e6,
            fees_paid_e4=self.fees_paid_e4,
            volume_e2=self.volume_e2,
            resting_orders_count=resting_orders_count,
            last_updated_ts_ms=self.last_updated_ts_ms,
        )


@dataclass(slots=True)
class Account:
    """One user's money. ``cash_e6`` is available cash; ``reserved_e6[ticker]`` the collateral held for resting
    orders there; ``positions`` the unsettled markets the user has traded; ``resting`` the user's resting orders
    per market (placement order) with their reservation totals."""

    user_id: str
    cash_e6: int
    funded_e6: int
    reserved_e6: dict[str, int] = field(default_factory=dict)
    positions: dict[str, PositionState] = field(default_factory=dict)
    resting: dict[str, RestingOrders] = field(default_factory=dict)

    def position(self, ticker: str, event_ticker: str) -> PositionState:
        """The position state in ``ticker``, created on first use."""
        state = self.positions.get(ticker)
        if state is None:
            state = self.positions[ticker] = PositionState(self.user_id, ticker, event_ticker)
        return state

    def position_e2(self, ticker: str) -> int:
        state = self.positions.get(ticker)
        return 0 if state is None else state.position_e2

    def resting_in(self, ticker: str) -> list[str]:
        """Ids of the resting orders in ``ticker``, oldest first (a copy: safe to cancel while iterating)."""
        orders = self.resting.get(ticker)
        return [] if orders is None else list(orders.orders)

    def resting_count(self, ticker: str) -> int:
        orders = self.resting.get(ticker)
        return 0 if orders is None else len(orders)

    def add_resting(self, ticker: str, order_id: str, order: ReservedOrder) -> None:
        orders = self.resting.get(ticker)
        if orders is None:
            orders = self.resting[ticker] = RestingOrders()
        orders.add(order_id, order)

    def update_resting(self, ticker: str, order_id: str, remaining_e2: int, fee_reserve_e4: int) -> None:
        self.resting[ticker].update(order_id, remaining_e2, fee_reserve_e4)

    def remove_resting(self, ticker: str, order_id: str) -> None:
        orders = self.resting.get(ticker)
        if orders is not None:
            orders.remove(order_id)
            if not orders:
                del self.resting[ticker]

    def required_e6(self, ticker: str) -> int:
        """Collateral the resting orders in ``ticker`` need now, given the position there."""
        orders = self.resting.get(ticker)
        return 0 if orders is None else orders.required_e6(self.position_e2(ticker))

    @property
    def total_reserved_e6(self) -> int:
        return sum(self.reserved_e6.values())
