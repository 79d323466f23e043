"""Exposure arithmetic (pure): the worst-case loss of one market from its position and its orders.

Money here is exact integers in 1/1,000,000 dollar (``_e6``): a YES-leg price in 1/10,000 $ times a count in
1/100 contract is exactly that unit, so no product is ever rounded.

Worst-case loss of one market, per outcome (a YES-leg bid buys YES, an ask buys NO):

* a bid at p for c contracts loses p×c if it fills and NO wins; when YES wins, not filling is its worst case (0);
* an ask at p for c loses (1−p)×c if it fills and YES wins; 0 when NO wins;
* a position loses its cost basis when it settles worthless, and gains $1 per contract (less its cost) otherwise.

So ``loss_if_no = position loss + Σ bids`` and ``loss_if_yes = position loss + Σ asks``, and the market's exposure is
the larger of the two (never below 0): bids and asks cannot both lose. Orders that close a held position count one
more term: filling at a profit, they give up part of the position's offsetting gain, so each outcome also counts what
such fills could still add (:func:`closing_gain_e6`). The result is the largest worst case the market can reach by
any of its orders filling, so no fill ever raises it (only new orders do, and those are checked), and an order that
only sells what is held never raises it above the position's own cost. Markets settle independently, so the
account's worst case is the sum over markets.

Cost basis follows the exchange's rule (``kalshi_mm/sim/accounts.py``): closing ``k`` of ``h`` held contracts
removes ``cost × k // h`` (floored), so the remaining basis is never under-stated.
"""

from __future__ import annotations

from dataclasses import dataclass

from kalshi_mm.api.types import BookSide
from kalshi_mm.units import COUNT_SCALE, ONE_DOLLAR

__all__ = [
    "E6_PER_E4",
    "Contribution",
    "MarketExposure",
    "Position",
    "closing_gain_e6",
    "e4_to_e6",
    "notional_e6",
    "unit_cost_e4",
]

# 1/10,000 $ × 1/100 contract = 1/1,000,000 $: one contract (COUNT_SCALE e2) at $1 (ONE_DOLLAR e4) is 10^6 e6, so
# an e4 amount becomes e6 by multiplying with COUNT_SCALE.
E6_PER_E4 = COUNT_SCALE


def e4_to_e6(amount_e4: int) -> int:
    """1/10,000 $ -> 1/1,000,000 $ (exact)."""
    return amount_e4 * E6_PER_E4


def unit_cost_e4(side: BookSide, price_e4: int) -> int:
    """Worst-case loss per contract (1/10,000 $) of a YES-leg order at ``price_e4``: p for a bid, 1 − p for an ask."""
    if not 0 < price_e4 < ONE_DOLLAR:
        raise ValueError(f"price must be strictly between 0 and {ONE_DOLLAR} (1/10,000 $), got {price_e4}")
    return price_e4 if side is BookSide.BID else ONE_DOLLAR - price_e4


def notional_e6(side: BookSide, price_e4: int, count_e2: int) -> int:
    """Worst-case loss (1/1,000,000 $) of ``count_e2`` (1/100 contract) on ``side`` at ``price_e4``."""
    if count_e2 < 0:
        raise ValueError(f"count must be ≥ 0, got {count_e2}")
    return unit_cost_e4(side, price_e4) * count_e2


@dataclass(frozen=True, slots=True)
class Position:
    """Net position in one market: ``position_e2`` (+ YES / − NO, 1/100 contract) and ``cost_e6`` the cost basis
    of what is held (YES at YES prices when long, NO at NO prices when short)."""

    position_e2: int = 0
    cost_e6: int = 0

    def loss_if(self, yes_wins: bool) -> int:
        """Loss (1/1,000,000 $, negative = gain) when the market settles YES (``yes_wins``) or NO."""
        held = abs(self.position_e2)
        loses = (self.position_e2 > 0) != yes_wins  # long YES loses on NO; long NO loses on YES
        return self.cost_e6 if loses or held == 0 else self.cost_e6 - held * ONE_DOLLAR

    def after_fill(self, side: BookSide, price_e4: int, count_e2: int) -> tuple[Position, int]:
        """The position after a fill of ``count_e2`` on ``side`` at YES price ``price_e4``, and the cash change
        (1/1,000,000 $, fees excluded): proceeds of contracts closed minus the cost of contracts opened."""
        if count_e2 <= 0:
            raise ValueError(f"fill count must be > 0, got {count_e2}")
        unit = unit_cost_e4(side, price_e4)
        held_opposite = max(0, -self.position_e2) if side is BookSide.BID else max(0, self.position_e2)
        closed = min(held_opposite, count_e2)
        cost, cash = self.cost_e6, 0
        if closed:
            # Retiring a held contract against the one just bought frees $1: net of this price, that is the held
            # contract sold at (1 − unit).
            removed = cost * closed // held_opposite
            cost -= removed
            cash += (ONE_DOLLAR - unit) * closed
        opened = count_e2 - closed
        if opened:
            cost += unit * opened
            cash -= unit * opened
        signed = count_e2 if side is BookSide.BID else -count_e2
        return Position(self.position_e2 + signed, cost), cash


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one order adds to its market (or an order whose amend is in flight: the larger of old and new).

    ``exposure_e6``: its loss if it fills and the outcome goes against its side; ``count_e2`` contracts;
    ``sell_e4``: what each contract it fills would fetch if it closes a held contract (1 − unit cost: p for an ask
    selling YES, 1 − p for a bid buying back NO).
    """

    side: BookSide
    exposure_e6: int
    count_e2: int
    sell_e4: int

    @classmethod
    def of(cls, side: BookSide, price_e4: int, count_e2: int) -> Contribution:
        return cls(side, notional_e6(side, price_e4, count_e2), count_e2, ONE_DOLLAR - unit_cost_e4(side, price_e4))

    def merge(self, other: Contribution) -> Contribution:
        """Either of the two may be what the exchange holds: the larger of each part bounds both."""
        return Contribution(
            self.side,
            max(self.exposure_e6, other.exposure_e6),
            max(self.count_e2, other.count_e2),
            max(self.sell_e4, other.sell_e4),
        )


def closing_gain_e6(held_e2: int, cost_e6: int, closers: list[Contribution]) -> int:
    """The most a market's worst case can still rise when orders fill that close a held position.

    A fill closing ``c`` held contracts (average cost a) with an order selling them at s raises the loss on the
    outcome the orders bet on by about c × (s − a): the position's offsetting gain is given up, the order's own
    exposure goes. Orders are taken best price first, up to the position, while s > a. One 1/1,000,000 $ per
    1/100 contract covers the exchange's floored cost removal (at most that much per partial fill).
    """
    if held_e2 <= 0:
        return 0
    left, proceeds, closed = held_e2, 0, 0
    for order in sorted(closers, key=lambda o: -o.sell_e4):
        if (order.sell_e4 + 1) * held_e2 <= cost_e6:
            break
        take = min(order.count_e2, left)
        proceeds += order.sell_e4 * take
        closed += take
        left -= take
        if not left:
            break
    return max(0, proceeds - cost_e6 * closed // held_e2 + closed)


@dataclass(frozen=True, slots=True)
class MarketExposure:
    """One market: its position and its resting and in-flight orders (key -> contribution)."""

    position: Position = Position()
    orders: tuple[tuple[str, Contribution], ...] = ()

    def _side(self, side: BookSide) -> list[Contribution]:
        return [c for _, c in self.orders if c.side is side]

    @property
    def bid_e6(self) -> int:
        return sum(c.exposure_e6 for c in self._side(BookSide.BID))

    @property
    def ask_e6(self) -> int:
        return sum(c.exposure_e6 for c in self._side(BookSide.ASK))

    def side_e2(self, side: BookSide) -> int:
        return sum(c.count_e2 for c in self._side(side))

    @property
    def worst_case_e6(self) -> int:
        """The largest worst-case loss (module docstring) the market can reach by any of its orders filling:
        per outcome, the position's loss, the orders betting against that outcome, and what fills of those orders
        that close the position could still add (:func:`closing_gain_e6`). Never below 0."""
        pos = self.position
        bids, asks = self._side(BookSide.BID), self._side(BookSide.ASK)
        gain_no = closing_gain_e6(-pos.position_e2, pos.cost_e6, bids)  # bids buy back a held NO position
        gain_yes = closing_gain_e6(pos.position_e2, pos.cost_e6, asks)  # asks sell a held YES position
        loss_no = pos.loss_if(yes_wins=False) + sum(c.exposure_e6 for c in bids) + gain_no
        loss_yes = pos.loss_if(yes_wins=True) + sum(c.exposure_e6 for c in asks) + gain_yes
        return max(0, loss_no, loss_yes)

    @property
    def collateral_e6(self) -> int:
        """Cash the orders would lock if none were covered by the position (an upper bound of what the exchange
        reserves)."""
        return sum(c.exposure_e6 for _, c in self.orders)

    def with_order(self, key: str, contribution: Contribution) -> MarketExposure:
        """These orders with ``key``'s contribution set (added or replaced)."""
        return MarketExposure(self.position, (*((k, c) for k, c in self.orders if k != key), (key, contribution)))

    def without(self, key: str) -> MarketExposure:
        return MarketExposure(self.position, tuple((k, c) for k, c in self.orders if k != key))

    def contribution(self, key: str) -> Contribution | None:
        return next((c for k, c in self.orders if k == key), None)

    def with_position(self, position: Position) -> MarketExposure:
        return MarketExposure(position, self.orders)

    def only_reduces(self, side: BookSide) -> bool:
        """Whether every order on ``side`` together only closes the position (never opens the opposite one):
        bids against a NO position, asks against a YES position, in total at most its size."""
        pos = self.position.position_e2
        opposes = pos < 0 if side is BookSide.BID else pos > 0
        return opposes and self.side_e2(side) <= abs(pos)
