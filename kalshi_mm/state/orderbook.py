"""The order book of one market: YES bids and YES asks on the YES price scale, exact integers.

Prices are 1/10,000 $ (``_e4``), sizes 1/100 contract (``_e2``). Kalshi publishes bids only; a NO bid at NO
price q is a YES ask at 1 − q, and :mod:`kalshi_mm.api.ws_messages` converts before anything reaches here,
so this book never sees NO prices (:meth:`OrderBook.no_bids` converts back for display or REST parity).

Speed (target: ≥ 100,000 parse+apply per second, p99 ≤ 50 µs): each side is a dict price -> size plus a
sorted list of its prices. A delta that changes a level's size is one dict update; only a delta that creates
or removes a level touches the list (bisect + a C-level memmove), and the best price is the list's end, so
nothing is sorted or scanned per delta.

:class:`OrderBook` is mutable and not thread-safe: one owner (the WebSocket thread, through the state store)
mutates it. Readers get an :class:`OrderBookView`, an immutable copy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from kalshi_mm.api.ws_types import BookSide, Level
from kalshi_mm.units import ONE_DOLLAR, Rounding

__all__ = ["BookSide", "Level", "OrderBook", "OrderBookView", "mid_e4", "mid_exact", "spread_e4"]


def mid_exact(bid_e4: int | None, ask_e4: int | None) -> Fraction | None:
    """Exact mid price in 1/10,000 $ as a Fraction (half units possible), or None when a side is empty."""
    if bid_e4 is None or ask_e4 is None:
        return None
    return Fraction(bid_e4 + ask_e4, 2)


def mid_e4(bid_e4: int | None, ask_e4: int | None, rounding: Rounding) -> int | None:
    """Mid price in whole 1/10,000 $, rounded in the given direction when it falls on a half unit."""
    if bid_e4 is None or ask_e4 is None:
        return None
    total = bid_e4 + ask_e4
    return total // 2 if rounding is Rounding.DOWN else -(-total // 2)


def spread_e4(bid_e4: int | None, ask_e4: int | None) -> int | None:
    """Ask − bid in 1/10,000 $ (≤ 0 means a locked or crossed book), or None when a side is empty."""
    if bid_e4 is None or ask_e4 is None:
        return None
    return ask_e4 - bid_e4


class _Reads(ABC):
    """Derived reads shared by the live book and its views; subclasses provide best prices and levels."""

    __slots__ = ()

    @property
    @abstractmethod
    def best_bid(self) -> int | None: ...

    @property
    @abstractmethod
    def best_ask(self) -> int | None: ...

    @abstractmethod
    def levels(self, side: BookSide, n: int | None = None) -> tuple[Level, ...]: ...

    @property
    def best_no_bid(self) -> int | None:
        """The best NO bid at NO price: 1 − best YES ask."""
        ask = self.best_ask
        return None if ask is None else ONE_DOLLAR - ask

    def no_bids(self, n: int | None = None) -> tuple[Level, ...]:
        """The ask side as Kalshi publishes it: NO bids at NO price, best (highest) first."""
        return tuple((ONE_DOLLAR - price, size) for price, size in self.levels(BookSide.ASK, n))

    def mid(self) -> Fraction | None:
        """Exact mid in 1/10,000 $ units (a Fraction); None when a side is empty."""
        return mid_exact(self.best_bid, self.best_ask)

    def mid_e4(self, rounding: Rounding) -> int | None:
        """Mid in whole 1/10,000 $, rounded in ``rounding``'s direction on a half unit."""
        return mid_e4(self.best_bid, self.best_ask, rounding)

    @property
    def spread_e4(self) -> int | None:
        return spread_e4(self.best_bid, self.best_ask)

    @property
    def crossed(self) -> bool:
        """True when best bid ≥ best ask, which a consistent Kalshi book never shows."""
        bid, ask = self.best_bid, self.best_ask
        return bid is not None and ask is not None and bid >= ask

    def depth(self, side: BookSide, n: int) -> int:
        """Total size (1/100 contract) over the best ``n`` levels of ``side``."""
        return sum(size for _, size in self.levels(side, n))

    def to_levels(self) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """``(yes_bids best first, yes_asks best first)``: the whole book, for comparisons and tests."""
        return self.levels(BookSide.BID), self.levels(BookSide.ASK)


class OrderBook(_Reads):
    """A mutable YES-leg book of one market. Sizes are always > 0; a removed level is absent."""

    __slots__ = ("_ask_px", "_asks", "_bid_px", "_bids", "_consistent", "ticker", "version")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._bid_px: list[int] = []  # ascending; best bid is the last
        self._ask_px: list[int] = []  # ascending; best ask is the first
        self._consistent = True
        self.version = 0  # bumped on every change, so readers can cache views

    @classmethod
    def from_levels(cls, ticker: str, yes_bids: Iterable[Level], yes_asks: Iterable[Level]) -> OrderBook:
        book = cls(ticker)
        book.apply_snapshot(yes_bids, yes_asks)
        return book

    @property
    def consistent(self) -> bool:
        """False after a delta would have made a level negative (a missed message); a snapshot restores it."""
        return self._consistent

    def mark_inconsistent(self) -> None:
        self._consistent = False
        self.version += 1

    def apply_snapshot(self, yes_bids: Iterable[Level], yes_asks: Iterable[Level]) -> None:
        """Replace the whole book. Zero-size levels are skipped; a negative size or duplicate price raises."""
        bids, asks = _side_from_levels(yes_bids, "bid"), _side_from_levels(yes_asks, "ask")
        self._bids, self._asks = bids, asks
        self._bid_px, self._ask_px = sorted(bids), sorted(asks)
        self._consistent = True
        self.version += 1

    def apply_delta(self, side: BookSide, price_e4: int, delta_e2: int) -> bool:
        """Add signed ``delta_e2`` at ``price_e4``; the level disappears at 0.

        Returns False (and marks the book inconsistent, leaving the level removed rather than negative) when
        the delta would take the level below zero: the book has missed a message and needs a snapshot.
        """
        if side is BookSide.BID:
            sizes, prices = self._bids, self._bid_px
        else:
            sizes, prices = self._asks, self._ask_px
        old = sizes.get(price_e4, 0)
        new = old + delta_e2
        self.version += 1
        if new > 0:
            sizes[price_e4] = new
            if not old:
                insort(prices, price_e4)
            return True
        if old:
            del sizes[price_e4]
            del prices[bisect_left(prices, price_e4)]
        if new < 0:
            self._consistent = False
            return False
        return True

    def clear(self) -> None:
        self.apply_snapshot((), ())

    # --- reads (O(1) for the top of book) ----------------------------------------------------------------------

    @property
    def best_bid(self) -> int | None:
        return self._bid_px[-1] if self._bid_px else None

    @property
    def best_ask(self) -> int | None:
        return self._ask_px[0] if self._ask_px else None

    @property
    def best_bid_size(self) -> int | None:
        return self._bids[self._bid_px[-1]] if self._bid_px else None

    @property
    def best_ask_size(self) -> int | None:
        return self._asks[self._ask_px[0]] if self._ask_px else None

    def size_at(self, side: BookSide, price_e4: int) -> int:
        """Resting size at one level (0 when absent)."""
        return (self._bids if side is BookSide.BID else self._asks).get(price_e4, 0)

    def levels(self, side: BookSide, n: int | None = None) -> tuple[Level, ...]:
        """Levels of ``side``, best first; the best ``n`` when given."""
        if side is BookSide.BID:
            prices = self._bid_px if n is None else self._bid_px[-n:] if n > 0 else []
            return tuple((p, self._bids[p]) for p in reversed(prices))
        prices = self._ask_px if n is None else self._ask_px[:n] if n > 0 else []
        return tuple((p, self._asks[p]) for p in prices)

    def __len__(self) -> int:
        """Number of price levels on both sides."""
        return len(self._bids) + len(self._asks)

    def view(
        self, sid: int | None = None, seq: int | None = None, received_ts: float = 0.0, source: str = "ws"
    ) -> OrderBookView:
        """An immutable copy, stamped with where it came from (the store passes sid/seq/receive time)."""
        return OrderBookView(
            self.ticker,
            self.levels(BookSide.BID),
            self.levels(BookSide.ASK),
            sid,
            seq,
            received_ts,
            source,
        )

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.ticker!r}, bid={self.best_bid}x{self.best_bid_size}, "
            f"ask={self.best_ask}x{self.best_ask_size}, levels={len(self)}, consistent={self._consistent})"
        )


def _side_from_levels(levels: Iterable[Level], what: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for price, size in levels:
        if size < 0:
            raise ValueError(f"{what} level {price} has negative size {size}")
        if price in out:
            raise ValueError(f"{what} level {price} appears twice")
        if not 0 < price < ONE_DOLLAR:
            raise ValueError(f"{what} level price {price} e4 is not strictly inside ($0, $1)")
        if size:
            out[price] = size
    return out


@dataclass(frozen=True, slots=True)
class OrderBookView(_Reads):
    """An immutable book: ``yes_bids`` best (highest) first, ``yes_asks`` best (lowest) first.

    ``received_ts`` is the local receive time (Unix s) of the last message applied to the book (or of the
    REST response); ``sid``/``seq`` are those of that message (None for REST); ``source`` is ``"ws"`` or
    ``"rest"``.
    """

    ticker: str
    yes_bids: tuple[Level, ...]
    yes_asks: tuple[Level, ...]
    sid: int | None
    seq: int | None
    received_ts: float
    source: str = "ws"

    @property
    def best_bid(self) -> int | None:
        return self.yes_bids[0][0] if self.yes_bids else None

    @property
    def best_ask(self) -> int | None:
        return self.yes_asks[0][0] if self.yes_asks else None

    @property
    def best_bid_size(self) -> int | None:
        return self.yes_bids[0][1] if self.yes_bids else None

    @property
    def best_ask_size(self) -> int | None:
        return self.yes_asks[0][1] if self.yes_asks else None

    def levels(self, side: BookSide, n: int | None = None) -> tuple[Level, ...]:
        levels = self.yes_bids if side is BookSide.BID else self.yes_asks
        return levels if n is None else levels[: max(n, 0)]
