"""A pure FIFO ledger of one strategy run's fills on the YES leg, in exact integers (no I/O).

Units follow kalshi_mm/units.py: prices in 1/10,000 $ (e4), counts in 1/100 contract (e2), and a price × count
product in 1/1,000,000 $ (e6). Every amount a fill produces is kept in e6, which is exact for fractional counts;
:func:`e6_to_e4` rounds to e4 once, at the end, in an explicit direction.

Sign convention (the ``run_pnl`` view of schema.sql): a bid fill buys YES and pays ``price × count``, an ask
fill sells YES and receives it; a position is + long YES / − short YES (long NO). At a mark ``m`` (YES price)

    realized_gross + unrealized(m) == cash_flow + position × m          (all e6, exact)

and the net P&L subtracts every fee paid, whether its lot is closed or still open.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kalshi_mm.units import ONE_DOLLAR, Rounding

__all__ = [
    "E6_PER_E4",
    "Fill",
    "Ledger",
    "Lot",
    "MarkedPoint",
    "PathPoint",
    "RoundTrip",
    "div_round",
    "e6_to_e4",
    "mark_from_book",
    "marked_path",
    "replay",
]

E6_PER_E4 = 100  # 1/1,000,000 $ per 1/10,000 $


@dataclass(frozen=True, slots=True)
class Fill:
    """One fill on the YES leg: ``buy`` is True for a bid (buys YES); ``price_e4`` 1..9999, ``count_e2`` > 0,
    ``fee_e4`` ≥ 0; ``ts`` Unix seconds (only carried through to the path and round trips)."""

    ts: float
    buy: bool
    price_e4: int
    count_e2: int
    fee_e4: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.price_e4 < ONE_DOLLAR:
            raise ValueError(f"fill price {self.price_e4} e4 is outside (0, {ONE_DOLLAR})")
        if self.count_e2 <= 0:
            raise ValueError(f"fill count {self.count_e2} e2 is not positive")
        if self.fee_e4 < 0:
            raise ValueError(f"fill fee {self.fee_e4} e4 is negative")

    @property
    def cash_flow_e6(self) -> int:
        """Money in (+, a sale) or out (−, a purchase) for the contracts, fees excluded (e6)."""
        notional = self.price_e4 * self.count_e2
        return -notional if self.buy else notional


@dataclass(frozen=True, slots=True)
class Lot:
    """Contracts still open from one fill: ``long`` when it bought YES; ``count_e2`` is what is left of it."""

    ts: float
    long: bool
    price_e4: int
    count_e2: int


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """An opening lot matched FIFO against a later closing fill, for ``count_e2`` contracts.

    ``long`` is True when the YES buy came first. ``captured_e4`` is sell − buy price per contract (e4) and
    ``pnl_e6`` the gross P&L of the match (e6), fees excluded.
    """

    open_ts: float
    close_ts: float
    long: bool
    buy_price_e4: int
    sell_price_e4: int
    count_e2: int

    @property
    def captured_e4(self) -> int:
        return self.sell_price_e4 - self.buy_price_e4

    @property
    def pnl_e6(self) -> int:
        return self.captured_e4 * self.count_e2


@dataclass(frozen=True, slots=True)
class PathPoint:
    """The ledger just after one fill: signed position (e2), cumulative cash flow (e6), realized gross (e6)
    and fees (e4)."""

    ts: float
    position_e2: int
    cash_flow_e6: int
    realized_e6: int
    fees_e4: int


@dataclass(frozen=True, slots=True)
class Ledger:
    """The result of replaying fills in time order. All figures exact integers; see the module docstring."""

    fill_count: int
    bought_e2: int
    sold_e2: int
    cash_flow_e6: int
    realized_gross_e6: int
    fees_e4: int
    open_lots: tuple[Lot, ...]
    round_trips: tuple[RoundTrip, ...]
    path: tuple[PathPoint, ...]
    max_abs_position_e2: int

    @property
    def position_e2(self) -> int:
        return self.bought_e2 - self.sold_e2

    @property
    def realized_net_e6(self) -> int:
        """Realized P&L after every fee paid (e6)."""
        return self.realized_gross_e6 - self.fees_e4 * E6_PER_E4

    @property
    def matched_e2(self) -> int:
        """Contracts closed FIFO (the sum of the round trips' counts)."""
        return sum(rt.count_e2 for rt in self.round_trips)

    def unrealized_e6(self, mark_e4: int) -> int:
        """P&L of the open lots at YES price ``mark_e4`` (e6): long lots gain when the mark is above their
        price, short lots when it is below."""
        total = 0
        for lot in self.open_lots:
            move = (mark_e4 - lot.price_e4) if lot.long else (lot.price_e4 - mark_e4)
            total += move * lot.count_e2
        return total


def replay(fills: Iterable[Fill]) -> Ledger:
    """Replay ``fills`` (already in time order) FIFO; a fill larger than the open position closes it and opens
    the rest the other way (a flip through zero)."""
    lots: deque[Lot] = deque()
    trips: list[RoundTrip] = []
    path: list[PathPoint] = []
    count = bought = sold = cash = realized = fees = max_abs = 0
    for fill in fills:
        count += 1
        fees += fill.fee_e4
        cash += fill.cash_flow_e6
        if fill.buy:
            bought += fill.count_e2
        else:
            sold += fill.count_e2
        remaining = fill.count_e2
        # Open lots are all on one side; a fill against them closes the oldest first.
        while remaining and lots and lots[0].long != fill.buy:
            lot = lots[0]
            matched = min(remaining, lot.count_e2)
            buy_price, sell_price = (fill.price_e4, lot.price_e4) if fill.buy else (lot.price_e4, fill.price_e4)
            trip = RoundTrip(lot.ts, fill.ts, lot.long, buy_price, sell_price, matched)
            trips.append(trip)
            realized += trip.pnl_e6
            remaining -= matched
            if matched == lot.count_e2:
                lots.popleft()
            else:
                lots[0] = Lot(lot.ts, lot.long, lot.price_e4, lot.count_e2 - matched)
        if remaining:
            lots.append(Lot(fill.ts, fill.buy, fill.price_e4, remaining))
        position = bought - sold
        max_abs = max(max_abs, abs(position))
        path.append(PathPoint(fill.ts, position, cash, realized, fees))
    return Ledger(
        fill_count=count,
        bought_e2=bought,
        sold_e2=sold,
        cash_flow_e6=cash,
        realized_gross_e6=realized,
        fees_e4=fees,
        open_lots=tuple(lots),
        round_trips=tuple(trips),
        path=tuple(path),
        max_abs_position_e2=max_abs,
    )


def div_round(numerator: int, denominator: int, rounding: Rounding | None = None) -> int:
    """``numerator / denominator`` as an integer: toward −∞ (DOWN), +∞ (UP), or None = to nearest, ties to even."""
    if denominator <= 0:
        raise ValueError(f"denominator must be positive, got {denominator}")
    quotient, rest = divmod(numerator, denominator)  # floor division: 0 <= rest < denominator
    if rounding is Rounding.DOWN or rest == 0:
        return quotient
    if rounding is Rounding.UP:
        return quotient + 1
    twice = 2 * rest
    if twice > denominator or (twice == denominator and quotient % 2):
        return quotient + 1
    return quotient


def e6_to_e4(amount_e6: int) -> int:
    """An e6 amount in e4, rounded toward −∞ so a reported P&L is never more than what was made."""
    return div_round(amount_e6, E6_PER_E4, Rounding.DOWN)


def mark_from_book(yes_bid_e4: int, yes_ask_e4: int, position_e2: int) -> int:
    """The YES mid as a price in e4. A half-tick mid is rounded against the position (down when long, up when
    short), so the mark never flatters the open position."""
    return div_round(yes_bid_e4 + yes_ask_e4, 2, Rounding.UP if position_e2 < 0 else Rounding.DOWN)


@dataclass(frozen=True, slots=True)
class MarkedPoint:
    """Cumulative P&L of a market at ``ts``: net of fees, open position marked at the latest mid (e6); None
    while a position is open and no mark is known yet."""

    ts: float
    position_e2: int
    pnl_e6: int | None


def marked_path(path: Sequence[PathPoint], books: Sequence[tuple[float, int, int]]) -> list[MarkedPoint]:
    """Merge a ledger path with book tops ``(ts, yes_bid_e4, yes_ask_e4)`` (both in time order) into the
    cumulative marked P&L after every fill and every book: cash flow − fees + position × mark."""
    events: list[tuple[float, int, int, object]] = [(p.ts, 0, i, p) for i, p in enumerate(path)]
    # Fills sort before a book at the same instant: the book then marks the position they left.
    events += [(ts, 1, i, (bid, ask)) for i, (ts, bid, ask) in enumerate(books)]
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    position = cash = fees = 0
    book: tuple[int, int] | None = None
    out: list[MarkedPoint] = []
    for ts, kind, _, item in events:
        if kind == 0:
            assert isinstance(item, PathPoint)
            position, cash, fees = item.position_e2, item.cash_flow_e6, item.fees_e4
        else:
            assert isinstance(item, tuple)
            book = item
        base = cash - fees * E6_PER_E4
        if position == 0:
            out.append(MarkedPoint(ts, 0, base))
        elif book is None:
            out.append(MarkedPoint(ts, position, None))
        else:
            out.append(MarkedPoint(ts, position, base + position * mark_from_book(book[0], book[1], position)))
    return out
