"""Order management as a pure diff: the orders a session has resting vs the orders it wants -> actions.

:func:`plan_order_actions` compares, per YES-leg book side, the session's live orders with the one order it
wants there (a :class:`~kalshi_mm.strategy.quoting.Quote`, or None) and returns :class:`Keep`, :class:`Amend`,
:class:`Cancel` and :class:`Place` actions. Rules for one side:

* nothing wanted: cancel every order on that side;
* nothing resting: place;
* the resting order already has the wanted price and size (within :class:`AmendPolicy`'s tolerances, which
  never make an order more aggressive than wanted): keep it, with its queue place;
* a size change at the same price, or a price move of at most ``max_amend_move_e4``: amend. V2 amend keeps the
  order id; a size-down at the same price keeps queue priority, and anything else goes to the back of the
  queue, where a cancel + create would land too, for one request and 10 tokens instead of two and 12;
* a bigger price move *away* from the other side of the book (a bid down, an ask up): amend too. Such an amend
  can never cross, and one request moves the order as fast as a cancel would pull it;
* a bigger price move *toward* the other side (a bid up, an ask down): cancel, then place. The market jumped
  our way: an amend is not post-only and could cross and take if the book moved again, while a post-only
  replacement cannot; and pulling the stale order first means that if the replacement is refused (post-only
  cross, pause) nothing stale is left resting;
* more than one order on a side (possible only after a lost response or a restart): the one nearest the
  wanted price is kept or amended, the others are cancelled.

Actions come out cancels first, then amends, then places, so a side never has two live orders even for a
moment, and collateral is freed before it is needed again. Pure and deterministic (DESIGN.md #3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kalshi_mm.api.types import BookSide
from kalshi_mm.strategy.quoting import Quote

__all__ = [
    "Amend",
    "AmendPolicy",
    "Cancel",
    "DesiredOrders",
    "Keep",
    "LiveOrder",
    "OrderAction",
    "Place",
    "plan_order_actions",
]


@dataclass(frozen=True, slots=True)
class LiveOrder:
    """One resting order of the session: YES-leg ``price_e4`` (1/10,000 $), ``count_e2`` the total fillable
    size (1/100 contract, what V2 amend calls ``count``: already filled + still resting), ``filled_e2`` filled."""

    order_id: str
    client_order_id: str
    side: BookSide
    price_e4: int
    count_e2: int
    filled_e2: int = 0

    @property
    def remaining_e2(self) -> int:
        """Size still resting (1/100 contract)."""
        return max(self.count_e2 - self.filled_e2, 0)


@dataclass(frozen=True, slots=True)
class DesiredOrders:
    """At most one wanted order per YES-leg side: ``bid`` buys YES, ``ask`` sells YES (≡ buys NO)."""

    bid: Quote | None = None
    ask: Quote | None = None

    def for_side(self, side: BookSide) -> Quote | None:
        return self.bid if side is BookSide.BID else self.ask


@dataclass(frozen=True, slots=True)
class AmendPolicy:
    """When an order is kept or amended rather than replaced.

    ``max_amend_move_e4``: the largest price move (1/10,000 $) done by amend; larger moves cancel and place.
    ``keep_tolerance_e4``: keep an order up to this far *less* aggressive than wanted (a bid below, an ask
    above) to save churn; 0 keeps only exact prices. ``size_slack``: keep an order whose resting size is short
    of the wanted size by at most this fraction (a partly filled order keeps its queue place instead of being
    topped up to the back of the queue); never keeps more than wanted.
    """

    max_amend_move_e4: int = 300
    keep_tolerance_e4: int = 0
    size_slack: float = 0.0

    def __post_init__(self) -> None:
        if self.max_amend_move_e4 < 0 or self.keep_tolerance_e4 < 0 or not 0.0 <= self.size_slack < 1.0:
            raise ValueError("need max_amend_move_e4 ≥ 0, keep_tolerance_e4 ≥ 0 and size_slack in [0, 1)")


@dataclass(frozen=True, slots=True)
class Keep:
    order: LiveOrder


@dataclass(frozen=True, slots=True)
class Amend:
    """Move ``order`` to ``price_e4`` with ``size_e2`` resting (1/100 contract)."""

    order: LiveOrder
    price_e4: int
    size_e2: int

    @property
    def side(self) -> BookSide:
        return self.order.side

    @property
    def total_count_e2(self) -> int:
        """V2 amend's ``count``: the order's total max fillable = already filled + the wanted resting size."""
        return self.order.filled_e2 + self.size_e2

    @property
    def keeps_priority(self) -> bool:
        """Size-down (or nothing) at the same price: the exchange keeps the order's place in the queue."""
        return self.price_e4 == self.order.price_e4 and self.size_e2 <= self.order.remaining_e2


@dataclass(frozen=True, slots=True)
class Cancel:
    order: LiveOrder
    reason: str

    @property
    def side(self) -> BookSide:
        return self.order.side


@dataclass(frozen=True, slots=True)
class Place:
    side: BookSide
    price_e4: int
    size_e2: int


OrderAction = Keep | Amend | Cancel | Place


def _keepable(order: LiveOrder, want: Quote, policy: AmendPolicy) -> bool:
    if order.side is BookSide.BID:
        price_ok = want.price_e4 - policy.keep_tolerance_e4 <= order.price_e4 <= want.price_e4
    else:
        price_ok = want.price_e4 <= order.price_e4 <= want.price_e4 + policy.keep_tolerance_e4
    size_ok = want.size_e2 * (1.0 - policy.size_slack) <= order.remaining_e2 <= want.size_e2
    return price_ok and size_ok


def _plan_side(
    side: BookSide, orders: list[LiveOrder], want: Quote | None, policy: AmendPolicy
) -> tuple[list[OrderAction], list[OrderAction], list[OrderAction]]:
    """(cancels, amends/keeps, places) for one side."""
    if want is None:
        return [Cancel(o, "not_wanted") for o in orders], [], []
    if not orders:
        return [], [], [Place(side, want.price_e4, want.size_e2)]
    # Nearest price first; ties go to the older id order so the choice is deterministic.
    ranked = sorted(orders, key=lambda o: (abs(o.price_e4 - want.price_e4), o.order_id))
    best, extra = ranked[0], ranked[1:]
    cancels: list[OrderAction] = [Cancel(o, "duplicate") for o in extra]
    if _keepable(best, want, policy):
        return cancels, [Keep(best)], []
    move = want.price_e4 - best.price_e4 if side is BookSide.BID else best.price_e4 - want.price_e4
    if move <= policy.max_amend_move_e4:  # a small move, or any move away from the other side (move < 0)
        return cancels, [Amend(best, want.price_e4, want.size_e2)], []
    return [*cancels, Cancel(best, "replace")], [], [Place(side, want.price_e4, want.size_e2)]


def plan_order_actions(
    current_orders: Iterable[LiveOrder], desired: DesiredOrders, policy: AmendPolicy = AmendPolicy()
) -> list[OrderAction]:
    """The actions that turn ``current_orders`` into ``desired`` (rules in the module docstring).

    Cancels first, then keeps/amends, then places; bids before asks within each group.
    """
    by_side: dict[BookSide, list[LiveOrder]] = {BookSide.BID: [], BookSide.ASK: []}
    for order in current_orders:
        by_side[order.side].append(order)
    cancels: list[OrderAction] = []
    middle: list[OrderAction] = []
    places: list[OrderAction] = []
    for side in (BookSide.BID, BookSide.ASK):
        c, m, p = _plan_side(side, by_side[side], desired.for_side(side), policy)
        cancels += c
        middle += m
        places += p
    return cancels + middle + places
