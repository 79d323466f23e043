"""One market's order book on the YES leg: bids and asks in price-time priority, integers only.

A bid at p (buy YES) crosses asks at a ≤ p; an ask at p (sell YES ≡ buy NO at 1 − p) crosses bids at b ≥ p.
Each price level is an insertion-ordered dict ``order_id -> BookEntry``: appending joins the back of the queue,
an in-place size change keeps the place, removing and re-adding loses it. The book holds no money and knows
nothing of accounts; :meth:`OrderBook.plan_match` only *plans* a match (who would trade how much), so the
exchange can check the taker's funds and FOK/post-only rules before anything changes.

Not thread-safe: the owning :class:`~kalshi_mm.sim.exchange.Exchange` guards it with its lock.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

from kalshi_mm.sim.model import SelfTradePrevention, Side

__all__ = ["BookEntry", "MatchPlan", "OrderBook"]


@dataclass(slots=True)
class BookEntry:
    """A resting order's place in the book. ``remaining_e2`` is its open size in 1/100 contract."""

    order_id: str
    user_id: str
    side: Side
    price_e4: int
    remaining_e2: int


@dataclass(slots=True)
class MatchPlan:
    """The outcome of matching an incoming order against the book, computed without changing it.

    ``steps``: (maker entry, count_e2) in execution order; a fill executes at the maker's price, and a count
    of 0 marks the user's own resting entry that ``maker`` self-trade prevention cancels at that point.
    ``stopped_by_self``: matching stopped at the user's own order under ``taker_at_cross`` (the incoming
    remainder is cancelled; fills before it stand).
    """

    steps: list[tuple[BookEntry, int]] = field(default_factory=list)
    stopped_by_self: bool = False

    @property
    def fills(self) -> list[tuple[BookEntry, int]]:
        return [(entry, count) for entry, count in self.steps if count]

    @property
    def stp_cancels(self) -> list[BookEntry]:
        return [entry for entry, count in self.steps if not count]

    @property
    def filled_e2(self) -> int:
        return sum(count for _, count in self.steps)


class OrderBook:
    """Bids and asks of one market in price-time priority."""

    def __init__(self, ticker: str):
        self.ticker = ticker
        self._levels: dict[Side, dict[int, dict[str, BookEntry]]] = {Side.BID: {}, Side.ASK: {}}
        self._totals: dict[Side, dict[int, int]] = {Side.BID: {}, Side.ASK: {}}
        self._prices: dict[Side, list[int]] = {Side.BID: [], Side.ASK: []}  # ascending
        self._index: dict[str, BookEntry] = {}

    # --- queries ---------------------------------------------------------------------------------------

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._index

    def __len__(self) -> int:
        return len(self._index)

    def get(self, order_id: str) -> BookEntry | None:
        return self._index.get(order_id)

    def best(self, side: Side) -> int | None:
        """Best price on ``side``: highest bid or lowest ask (e4), None if that side is empty."""
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side is Side.BID else prices[0]

    def best_size(self, side: Side) -> int:
        """Total size (e2) at the best price of ``side``; 0 if empty."""
        best = self.best(side)
        return 0 if best is None else self._totals[side][best]

    def is_crossed(self) -> bool:
        """True if the best bid is at or above the best ask (a correct book never is)."""
        bid, ask = self.best(Side.BID), self.best(Side.ASK)
        return bid is not None and ask is not None and bid >= ask

    def depth(self, side: Side) -> list[tuple[int, int]]:
        """Levels of ``side`` as (price_e4, total_e2), ascending by price."""
        totals = self._totals[side]
        return [(p, totals[p]) for p in self._prices[side]]

    def level_size(self, side: Side, price_e4: int) -> int:
        """Total resting size (e2) at one level; 0 if none."""
        return self._totals[side].get(price_e4, 0)

    def queue_position(self, order_id: str) -> int:
        """Contracts (e2) ahead of the order at its price level; 0 = first in queue (Kalshi's 0-indexed view)."""
        entry = self._index[order_id]
        ahead = 0
        for other in self._levels[entry.side][entry.price_e4].values():
            if other.order_id == order_id:
                return ahead
            ahead += other.remaining_e2
        raise KeyError(order_id)

    def entries(self) -> Iterator[BookEntry]:
        """Every resting entry (bids then asks, each in priority order)."""
        for side in (Side.BID, Side.ASK):
            for price in self._priority_prices(side):
                yield from self._levels[side][price].values()

    def crossing(self, taker_side: Side, limit_e4: int) -> Iterator[BookEntry]:
        """Resting entries an incoming ``taker_side`` order at ``limit_e4`` would meet, in priority order.

        Do not mutate the book while iterating.
        """
        maker_side = taker_side.opposite
        for price in self._priority_prices(maker_side):
            if not _crosses(taker_side, limit_e4, price):
                return
            yield from self._levels[maker_side][price].values()

    def crossing_size(self, taker_side: Side, limit_e4: int) -> int:
        """Total size (e2) resting at prices an incoming order at ``limit_e4`` would cross (any owner)."""
        maker_side = taker_side.opposite
        total = 0
        for price in self._priority_prices(maker_side):
            if not _crosses(taker_side, limit_e4, price):
                break
            total += self._totals[maker_side][price]
        return total

    def would_cross(self, taker_side: Side, limit_e4: int) -> bool:
        """True if an order at ``limit_e4`` on ``taker_side`` would take liquidity now."""
        best = self.best(taker_side.opposite)
        return best is not None and _crosses(taker_side, limit_e4, best)

    def plan_match(
        self, user_id: str, taker_side: Side, limit_e4: int, count_e2: int, stp: SelfTradePrevention
    ) -> MatchPlan:
        """Plan matching ``count_e2`` of an incoming order of ``user_id`` without changing the book."""
        plan = MatchPlan()
        left = count_e2
        for entry in self.crossing(taker_side, limit_e4):
            if left <= 0:
                break
            if entry.user_id == user_id:
                if stp is SelfTradePrevention.TAKER_AT_CROSS:
                    plan.stopped_by_self = True
                    break
                plan.steps.append((entry, 0))
                continue
            take = min(left, entry.remaining_e2)
            plan.steps.append((entry, take))
            left -= take
        return plan

    # --- mutations ---------------------------------------------------------------------------------------

    def add(self, order_id: str, user_id: str, side: Side, price_e4: int, count_e2: int) -> BookEntry:
        """Rest an order at the back of its price level."""
        if count_e2 <= 0:
            raise ValueError(f"cannot rest {count_e2} e2")
        if order_id in self._index:
            raise ValueError(f"order {order_id} already rests in {self.ticker}")
        entry = BookEntry(order_id, user_id, side, price_e4, count_e2)
        level = self._levels[side].get(price_e4)
        if level is None:
            level = self._levels[side][price_e4] = {}
            self._totals[side][price_e4] = 0
            bisect.insort(self._prices[side], price_e4)
        level[order_id] = entry
        self._totals[side][price_e4] += count_e2
        self._index[order_id] = entry
        return entry

    def remove(self, order_id: str) -> BookEntry:
        """Take an order out of the book; returns its entry (with the size it had)."""
        entry = self._index.pop(order_id)
        level = self._levels[entry.side][entry.price_e4]
        del level[order_id]
        self._totals[entry.side][entry.price_e4] -= entry.remaining_e2
        if not level:
            del self._levels[entry.side][entry.price_e4]
            del self._totals[entry.side][entry.price_e4]
            prices = self._prices[entry.side]
            del prices[bisect.bisect_left(prices, entry.price_e4)]
        return entry

    def set_remaining(self, order_id: str, remaining_e2: int) -> BookEntry:
        """Shrink a resting order in place (keeps its queue position); 0 removes it.

        Growing an order is not a queue-preserving change: remove and re-add instead.
        """
        entry = self._index[order_id]
        if remaining_e2 > entry.remaining_e2 or remaining_e2 < 0:
            raise ValueError(f"set_remaining {order_id}: {entry.remaining_e2} -> {remaining_e2} e2 not allowed")
        if remaining_e2 == 0:
            return self.remove(order_id)
        self._totals[entry.side][entry.price_e4] -= entry.remaining_e2 - remaining_e2
        entry.remaining_e2 = remaining_e2
        return entry

    # --- internals ---------------------------------------------------------------------------------------

    def _priority_prices(self, side: Side) -> Iterator[int]:
        prices = self._prices[side]
        # Copy: callers may remove levels while walking (e.g. sweeping expired orders).
        return iter(reversed(prices[:])) if side is Side.BID else iter(prices[:])


def _crosses(taker_side: Side, limit_e4: int, maker_price_e4: int) -> bool:
    return maker_price_e4 <= limit_e4 if taker_side is Side.BID else maker_price_e4 >= limit_e4
