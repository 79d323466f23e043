"""Average-cost P&L of one session's fills on the YES leg, in exact integers (pure; no I/O, no clock).

Units: prices and cash 1/10,000 $ (``_e4``), counts 1/100 contract (``_e2``). Inside the book money is held in
``price_e4 × count_e2`` units (1/1,000,000 $, ``_e6``) so a fill's notional is exact; a position that is
partly closed gives up its cost pro rata, rounded down (below 1/1,000,000 $ per fill). Amounts leave the book in
``_e4``, rounded down (towards −∞: a P&L figure is never flattering).

The position is signed like the exchange's (+ YES, − NO): a bid fill (buy YES at p) adds, an ask fill (sell YES
at p ≡ buy NO at 1 − p) subtracts. ``basis_e6`` is the signed cost of the open position (+ paid for a long,
− received for a short), so the unrealized P&L at a YES mark m is ``position × m − basis``. Fees are realized
when paid.

Only the session's own fills enter the book: a position inherited from an earlier run (whose cost this session
never saw) is not part of its P&L.
"""

from __future__ import annotations

from dataclasses import dataclass

from kalshi_mm.units import COUNT_SCALE

__all__ = ["PnlBook", "PnlFigures"]


@dataclass(frozen=True)
class PnlFigures:
    """A book's figures at one mark (1/10,000 $; counts 1/100 contract)."""

    position_e2: int
    realized_pnl_e4: int
    unrealized_pnl_e4: int | None  # None without a mark (one-sided or empty book) while a position is open
    fees_e4: int

    @property
    def total_pnl_e4(self) -> int | None:
        return None if self.unrealized_pnl_e4 is None else self.realized_pnl_e4 + self.unrealized_pnl_e4


class PnlBook:
    """Mutable average-cost book; owned by one thread (the session's), read through :meth:`figures`."""

    def __init__(self) -> None:
        self.position_e2 = 0
        self.basis_e6 = 0
        self.realized_e6 = 0
        self.fees_e4 = 0

    def apply(self, *, buy_yes: bool, yes_price_e4: int, count_e2: int, fee_e4: int = 0) -> None:
        """Account one fill: ``buy_yes`` for a bid fill, YES-leg price (1/10,000 $), size (1/100), fee (1/10,000 $)."""
        if count_e2 <= 0:
            raise ValueError(f"fill count must be positive, got {count_e2}")
        signed = count_e2 if buy_yes else -count_e2
        notional = yes_price_e4 * signed  # e6, signed like the position change
        pos = self.position_e2
        if pos == 0 or (pos > 0) == (signed > 0):
            self.basis_e6 += notional  # opening or adding: cost accumulates
        else:
            closed = min(abs(signed), abs(pos))
            # The closed part's share of the basis (floor division keeps the remainder in the open position).
            released = self.basis_e6 * closed // abs(pos)
            # Selling `closed` of a long at p realizes closed·p − cost; buying a short back, cost − closed·p.
            proceeds = yes_price_e4 * closed if pos > 0 else -yes_price_e4 * closed
            self.realized_e6 += proceeds - released
            self.basis_e6 -= released
            rest = abs(signed) - closed
            if rest:  # the fill flipped the position: the remainder opens at this price
                self.basis_e6 += yes_price_e4 * (rest if signed > 0 else -rest)
        self.position_e2 = pos + signed
        if self.position_e2 == 0:
            self.realized_e6 += self.basis_e6  # nothing open: any rounding crumb belongs to realized
            self.basis_e6 = 0
        self.realized_e6 -= fee_e4 * COUNT_SCALE
        self.fees_e4 += fee_e4

    def figures(self, mark_yes_e4: int | None) -> PnlFigures:
        """The book at a YES-leg mark (1/10,000 $; None when there is none)."""
        realized = self.realized_e6 // COUNT_SCALE
        if self.position_e2 == 0:
            unrealized: int | None = 0
        elif mark_yes_e4 is None:
            unrealized = None
        else:
            unrealized = (self.position_e2 * mark_yes_e4 - self.basis_e6) // COUNT_SCALE
        return PnlFigures(self.position_e2, realized, unrealized, self.fees_e4)
