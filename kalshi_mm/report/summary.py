"""The report's figures, per strategy run and in total, from the rows the queries read (pure, no I/O).

Each run's P&L comes from :func:`kalshi_mm.report.ledger.replay` of its fills. Amounts are exact integers: the
e6 figures are exact, the e4 ones are rounded toward −∞ once per run (:func:`~kalshi_mm.report.ledger.e6_to_e4`)
and the totals add the per-run e4 figures, so the printed table adds up. ``net = realized + unrealized − fees``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kalshi_mm.report.ledger import Fill, Ledger, div_round, e6_to_e4, mark_from_book, replay
from kalshi_mm.report.queries import Book, RunRow

__all__ = ["RUNNING", "RunReport", "Totals", "build_runs", "build_totals", "ratio_bp"]

RUNNING = "(running)"  # the end-reason label of a run that has not ended


def ratio_bp(numerator: int, denominator: int) -> int | None:
    """``numerator / denominator`` in basis points (1/100 of a percent), to nearest; None when nothing to divide."""
    return None if denominator <= 0 else div_round(numerator * 10_000, denominator)


@dataclass(frozen=True, slots=True)
class RunReport:
    """One run's figures. ``book`` is the mark source (None: no mark); ``unrealized_e6`` is 0 for a flat
    position and None for an open position without a mark."""

    run: RunRow
    fills: tuple[Fill, ...]
    ledger: Ledger
    orders_placed: int
    orders_filled: int
    quoted_spread_sum_e4: int
    quoted_snapshots: int
    book: Book | None

    @property
    def mark_e4(self) -> int | None:
        if self.book is None:
            return None
        return mark_from_book(self.book.yes_bid_e4, self.book.yes_ask_e4, self.ledger.position_e2)

    @property
    def unrealized_e6(self) -> int | None:
        mark = self.mark_e4
        if mark is None:
            return 0 if self.ledger.position_e2 == 0 else None
        return self.ledger.unrealized_e6(mark)

    @property
    def realized_e4(self) -> int:
        """FIFO realized P&L before fees."""
        return e6_to_e4(self.ledger.realized_gross_e6)

    @property
    def unrealized_e4(self) -> int | None:
        value = self.unrealized_e6
        return None if value is None else e6_to_e4(value)

    @property
    def net_e4(self) -> int | None:
        unrealized = self.unrealized_e4
        return None if unrealized is None else self.realized_e4 + unrealized - self.ledger.fees_e4

    @property
    def net_e6(self) -> int | None:
        unrealized = self.unrealized_e6
        return None if unrealized is None else self.ledger.realized_net_e6 + unrealized

    @property
    def fill_rate_bp(self) -> int | None:
        return ratio_bp(self.orders_filled, self.orders_placed)

    @property
    def avg_quoted_spread_e4(self) -> int | None:
        return None if not self.quoted_snapshots else div_round(self.quoted_spread_sum_e4, self.quoted_snapshots)

    @property
    def avg_captured_spread_e4(self) -> int | None:
        """Sell − buy price per contract over the FIFO round trips, weighted by contracts (e6 / e2 = e4)."""
        matched = self.ledger.matched_e2
        return None if not matched else div_round(self.ledger.realized_gross_e6, matched)

    @property
    def end_reason_label(self) -> str:
        if self.run.end_ts is None and self.run.status == "running":
            return RUNNING
        return self.run.end_reason or "(none recorded)"


def build_runs(
    runs: Sequence[RunRow],
    fills: Mapping[int, Sequence[Fill]],
    orders: Mapping[int, tuple[int, int]],
    spreads: Mapping[int, tuple[int, int]],
    books: Mapping[int, Book | None],
) -> list[RunReport]:
    """A :class:`RunReport` per run, in the order of ``runs``."""
    out = []
    for run in runs:
        placed, filled = orders.get(run.run_id, (0, 0))
        run_fills = tuple(fills.get(run.run_id, ()))
        spread_sum, spread_n = spreads.get(run.run_id, (0, 0))
        out.append(
            RunReport(
                run=run,
                fills=run_fills,
                ledger=replay(run_fills),
                orders_placed=placed,
                orders_filled=filled,
                quoted_spread_sum_e4=spread_sum,
                quoted_snapshots=spread_n,
                book=books.get(run.run_id),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Totals:
    """All selected runs together. ``unrealized_e4``/``net_e4`` are None when ``unmarked_runs`` (runs with an
    open position and no mark) is not zero: a total that silently left them out would mislead."""

    runs: int
    statuses: dict[str, int]
    end_reasons: list[tuple[str, int]]
    fills: int
    orders_placed: int
    orders_filled: int
    realized_e6: int
    realized_e4: int
    fees_e4: int
    unrealized_e4: int | None
    net_e4: int | None
    net_e6: int | None
    unmarked_runs: int
    round_trips: int
    matched_e2: int
    max_abs_position_e2: int
    quoted_spread_sum_e4: int
    quoted_snapshots: int

    @property
    def fill_rate_bp(self) -> int | None:
        return ratio_bp(self.orders_filled, self.orders_placed)

    @property
    def avg_quoted_spread_e4(self) -> int | None:
        return None if not self.quoted_snapshots else div_round(self.quoted_spread_sum_e4, self.quoted_snapshots)

    @property
    def avg_captured_spread_e4(self) -> int | None:
        return None if not self.matched_e2 else div_round(self.realized_e6, self.matched_e2)


def build_totals(reports: Sequence[RunReport]) -> Totals:
    unmarked = sum(1 for r in reports if r.unrealized_e6 is None)
    end_reasons = Counter(r.end_reason_label for r in reports)
    marked = unmarked == 0
    return Totals(
        runs=len(reports),
        statuses=dict(Counter(r.run.status for r in reports)),
        end_reasons=sorted(end_reasons.items(), key=lambda item: (-item[1], item[0])),
        fills=sum(r.ledger.fill_count for r in reports),
        orders_placed=sum(r.orders_placed for r in reports),
        orders_filled=sum(r.orders_filled for r in reports),
        realized_e6=sum(r.ledger.realized_gross_e6 for r in reports),
        realized_e4=sum(r.realized_e4 for r in reports),
        fees_e4=sum(r.ledger.fees_e4 for r in reports),
        unrealized_e4=sum(r.unrealized_e4 or 0 for r in reports) if marked else None,
        net_e4=sum(r.net_e4 or 0 for r in reports) if marked else None,
        net_e6=sum(r.net_e6 or 0 for r in reports) if marked else None,
        unmarked_runs=unmarked,
        round_trips=sum(len(r.ledger.round_trips) for r in reports),
        matched_e2=sum(r.ledger.matched_e2 for r in reports),
        max_abs_position_e2=max((r.ledger.max_abs_position_e2 for r in reports), default=0),
        quoted_spread_sum_e4=sum(r.quoted_spread_sum_e4 for r in reports),
        quoted_snapshots=sum(r.quoted_snapshots for r in reports),
    )
