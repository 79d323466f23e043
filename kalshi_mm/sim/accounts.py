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

**Reservation.** An account's reservation in a market is recomputed from scratch after every change
(:func:`reservation_e6`): a bid reserves ``p × remaining``, an ask ``(1 − p) × remaining``, except the part
that would close what the account holds (asks against YES held, bids against NO held), which needs no new
collateral. That cover is given to the orders with the highest unit collateral first, which minimizes the
reservation and guarantees a maker's fill never needs more than it releases. Resting orders also reserve the
maker fee they could still be charged (zero for series that do not charge makers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kalshi_mm.sim.model import E6_PER_E4, Position, Side, notional_e6
from kalshi_mm.units import ONE_DOLLAR

__all__ = [
    "Account",
    "PositionState",
    "ReservedOrder",
    "reservation_e6",
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


def reservation_e6(position_e2: int, orders: Iterable[ReservedOrder]) -> int:
    """Collateral (e6) that an account's resting orders in one market need, given its position there.

    ``orders`` must come in a deterministic order (ties in unit collateral keep it). See the module docstring.
    """
    orders = list(orders)
    covering_side = Side.ASK if position_e2 > 0 else Side.BID
    cover = abs(position_e2)
    total = 0
    # Highest unit collateral first: asks at the lowest price, bids at the highest. sorted() is stable.
    ranked = sorted(orders, key=lambda o: -unit_collateral_e4(o.side, o.price_e4))
    for order in ranked:
        uncovered = order.remaining_e2
        if cover and order.side is covering_side:
            covered = min(cover, uncovered)
            cover -= covered
            uncovered -= covered
        total += notional_e6(unit_collateral_e4(order.side, order.price_e4), uncovered)
        total += order.fee_reserve_e4 * E6_PER_E4
    return total


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
        return PositionState(self.user_id, self.ticker, self.event_ticker, self.position_e2, self.cost_e6,
                             self.realized_pnl_e6, self.total_traded_e6, self.fees_paid_e4, self.volume_e2,
                             self.last_updated_ts_ms)

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
    orders there; ``positions`` the unsettled markets the user has traded; ``resting`` the user's resting order
    ids per market, in placement order (the reservation's deterministic tie-break)."""

    user_id: str
    cash_e6: int
    funded_e6: int
    reserved_e6: dict[str, int] = field(default_factory=dict)
    positions: dict[str, PositionState] = field(default_factory=dict)
    resting: dict[str, dict[str, None]] = field(default_factory=dict)

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
        return list(self.resting.get(ticker, ()))

    def add_resting(self, ticker: str, order_id: str) -> None:
        self.resting.setdefault(ticker, {})[order_id] = None

    def remove_resting(self, ticker: str, order_id: str) -> None:
        orders = self.resting.get(ticker)
        if orders is not None:
            orders.pop(order_id, None)
            if not orders:
                del self.resting[ticker]

    @property
    def total_reserved_e6(self) -> int:
        return sum(self.reserved_e6.values())
