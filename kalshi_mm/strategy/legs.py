"""A session's outcome leg (YES or NO) and the YES-leg book every order actually lives on. Pure.

Kalshi keeps one book per market on the YES leg (NOTES.md §8): buying YES at p is a YES **bid** at p, and
buying NO at q is a YES **ask** at 1 − q (selling NO at q is a YES bid at 1 − q). A session quotes one outcome:

* ``yes``: its bid/ask are YES bids/asks at the same prices; its inventory is the YES position.
* ``no``: the model works in NO prices. The NO book is the YES book turned over (NO bid = 1 − YES ask, NO ask
  = 1 − YES bid, sizes carried across), the NO grid is the YES grid mirrored, the NO inventory is minus the
  YES position (Kalshi's positions are + YES, − NO), and the resulting NO bid at q is sent as a YES **ask** at
  1 − q, the NO ask at q as a YES **bid** at 1 − q. Because the NO grid is the exact mirror, a NO bid rounded
  down is a YES ask rounded up: every rounding stays on the conservative side.

Also here: the top of a book with the session's own orders taken out (the quoting step must not see them,
or it would chase its own quotes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

from kalshi_mm.api.types import BookSide
from kalshi_mm.state.orderbook import BookSide as WsBookSide
from kalshi_mm.state.orderbook import OrderBookView
from kalshi_mm.strategy.order_manager import DesiredOrders, LiveOrder
from kalshi_mm.strategy.quoting import Quote, Quotes
from kalshi_mm.units import ONE_DOLLAR, PriceBand, PriceGrid

__all__ = ["BookTop", "Leg", "OutcomeSide", "mirror_grid", "top_excluding_own"]

OutcomeSide = Literal["yes", "no"]


class BookTop(NamedTuple):
    """Best bid / ask (1/10,000 $) and their sizes (1/100 contract); an empty side has price None, size 0."""

    bid_e4: int | None
    bid_size_e2: int
    ask_e4: int | None
    ask_size_e2: int

    @property
    def mid_e4(self) -> float | None:
        """Mid in 1/10,000 $ (may be a half unit); None unless both sides are present."""
        if self.bid_e4 is None or self.ask_e4 is None:
            return None
        return (self.bid_e4 + self.ask_e4) / 2

    @property
    def spread_e4(self) -> int | None:
        if self.bid_e4 is None or self.ask_e4 is None:
            return None
        return self.ask_e4 - self.bid_e4


def mirror_grid(grid: PriceGrid) -> PriceGrid:
    """The grid of 1 − p for every valid p of ``grid`` (exact, also for bands whose length is not a whole
    number of steps: each mirrored band is anchored on the original's start)."""
    bands = []
    for band in grid.bands:
        steps = (band.end_e4 - band.start_e4) // band.step_e4
        if steps == 0:
            continue  # a one-price band: its price is also the end of a neighbour or untradable ($0/$1)
        top = ONE_DOLLAR - band.start_e4
        bands.append(PriceBand(top - steps * band.step_e4, top, band.step_e4))
    return PriceGrid(bands)


def _best_excluding(levels: Iterable[tuple[int, int]], own: dict[int, int]) -> tuple[int | None, int]:
    for price, size in levels:
        rest = size - own.get(price, 0)
        if rest > 0:
            return price, rest
    return None, 0


def top_excluding_own(view: OrderBookView, own_orders: Iterable[LiveOrder]) -> BookTop:
    """The YES-leg top of ``view`` without the session's own resting size.

    Our remaining size is subtracted at its price level; a level that held only our orders disappears. When
    the view lags behind an order just placed, that level loses someone else's size instead, which can only
    make the next quote less aggressive (a bid never improves on a level it wrongly thinks is empty: the
    quoting step caps improvement at one tick of the best price left).
    """
    own_bids: dict[int, int] = {}
    own_asks: dict[int, int] = {}
    for order in own_orders:
        book = own_bids if order.side is BookSide.BID else own_asks
        book[order.price_e4] = book.get(order.price_e4, 0) + order.remaining_e2
    bid, bid_size = _best_excluding(view.levels(WsBookSide.BID), own_bids)
    ask, ask_size = _best_excluding(view.levels(WsBookSide.ASK), own_asks)
    return BookTop(bid, bid_size, ask, ask_size)


class Leg:
    """Translation between the session's outcome (YES or NO) and the YES leg (module docstring)."""

    def __init__(self, outcome: OutcomeSide, yes_grid: PriceGrid):
        if outcome not in ("yes", "no"):
            raise ValueError(f"side must be 'yes' or 'no', got {outcome!r}")
        self.outcome: OutcomeSide = outcome
        self.yes_grid = yes_grid
        self.grid = yes_grid if outcome == "yes" else mirror_grid(yes_grid)

    @property
    def is_yes(self) -> bool:
        return self.outcome == "yes"

    def top(self, yes_top: BookTop) -> BookTop:
        """The outcome's book top from the YES-leg top."""
        if self.is_yes:
            return yes_top
        bid = None if yes_top.ask_e4 is None else ONE_DOLLAR - yes_top.ask_e4
        ask = None if yes_top.bid_e4 is None else ONE_DOLLAR - yes_top.bid_e4
        return BookTop(bid, yes_top.ask_size_e2, ask, yes_top.bid_size_e2)

    def inventory(self, yes_position_e2: int) -> int:
        """Outcome contracts held (1/100 contract; negative = short the outcome) from the YES-leg position."""
        return yes_position_e2 if self.is_yes else -yes_position_e2

    def yes_price(self, outcome_price_e4: int) -> int:
        return outcome_price_e4 if self.is_yes else ONE_DOLLAR - outcome_price_e4

    def yes_price_float(self, outcome_price: float) -> float:
        """The same conversion for model prices in dollars."""
        return outcome_price if self.is_yes else 1.0 - outcome_price

    def is_buy(self, yes_side: BookSide) -> bool:
        """Whether a fill on ``yes_side`` bought the outcome (for a NO session a YES ask buys NO)."""
        return (yes_side is BookSide.BID) == self.is_yes

    def desired(self, quotes: Quotes) -> DesiredOrders:
        """The outcome quotes as YES-leg orders: a NO bid at q is a YES ask at 1 − q, a NO ask a YES bid."""
        if self.is_yes:
            return DesiredOrders(quotes.bid, quotes.ask)
        bid = None if quotes.ask is None else Quote(ONE_DOLLAR - quotes.ask.price_e4, quotes.ask.size_e2)
        ask = None if quotes.bid is None else Quote(ONE_DOLLAR - quotes.bid.price_e4, quotes.bid.size_e2)
        return DesiredOrders(bid, ask)
