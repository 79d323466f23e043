"""Exposure arithmetic (pure): the worst-case loss of one market from its position and its orders.

Money here is exact integers in 1/1,000,000 dollar (``_e6``): a YES-leg price in 1/10,000 $ times a count in
1/100 contract is exactly that unit, so no product is ever rounded.

Worst-case loss of one market, per outcome (a YES-leg bid buys YES, an ask buys NO):

* a bid at p for c contracts loses p×c if it fills and NO wins; when YES wins, not filling is its worst case (0);
* an ask at p for c loses (1−p)×c if it fills and YES wins; 0 when NO wins;
* a position loses its cost basis when it settles worthless, and gains $1 per contract (less its cost) otherwise.

So ``loss_if_no = position loss + Σ bids`` and ``loss_if_yes = position loss + Σ asks`` and the market's exposure is
the larger of the two (never below 0). An ask that only sells a held YES position (or a bid that only buys back a
NO position) therefore adds nothing: it cannot make the worse outcome worse. Markets settle independently, so the
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
    "MarketExposure",
    "Position",
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
class MarketExposure:
    """One market: its position and the totals of its resting and in-flight orders per YES-leg side
    (``*_e6`` worst-case loss if they all fill, ``*_e2`` contracts)."""

    position: Position = Position()
    bid_e6: int = 0
    ask_e6: int = 0
    bid_e2: int = 0
    ask_e2: int = 0

    @property
    def worst_case_e6(self) -> int:
        """The market's worst-case loss (module docstring), never below 0."""
        loss_no = self.position.loss_if(yes_wins=False) + self.bid_e6
        loss_yes = self.position.loss_if(yes_wins=True) + self.ask_e6
        return max(0, loss_no, loss_yes)

    @property
    def collateral_e6(self) -> int:
        """Cash the orders would lock if none were covered by the position (an upper bound of what the exchange
        reserves)."""
        return self.bid_e6 + self.ask_e6

    def add(self, side: BookSide, exposure_e6: int, count_e2: int) -> MarketExposure:
        """These totals with one order contribution added (negative values remove one)."""
        if side is BookSide.BID:
            return MarketExposure(
                self.position, self.bid_e6 + exposure_e6, self.ask_e6, self.bid_e2 + count_e2, self.ask_e2
            )
        return MarketExposure(
            self.position, self.bid_e6, self.ask_e6 + exposure_e6, self.bid_e2, self.ask_e2 + count_e2
        )

    def with_position(self, position: Position) -> MarketExposure:
        return MarketExposure(position, self.bid_e6, self.ask_e6, self.bid_e2, self.ask_e2)

    def side_e2(self, side: BookSide) -> int:
        return self.bid_e2 if side is BookSide.BID else self.ask_e2

    def only_reduces(self, side: BookSide) -> bool:
        """Whether every order on ``side`` together only closes the position (never opens the opposite one):
        bids against a NO position, asks against a YES position, in total at most its size."""
        pos = self.position.position_e2
        opposes = pos < 0 if side is BookSide.BID else pos > 0
        return opposes and self.side_e2(side) <= abs(pos)
