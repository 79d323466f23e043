"""ExposureBook: the account's exposure, one book shared by every session of the process.

Per market it holds the position (from our fills, re-synchronised from the exchange's positions) and every order
from the moment it is decided until it is gone:

* **in flight** — reserved before the create is sent, until the exchange answers (a create whose answer was lost
  stays reserved until a re-read resolves it);
* **resting** — acknowledged, counted for what is still unfilled;
* **amending** — an amend in flight counts what the old and the new order could cost together.

Semantics: :meth:`reserve` (check and reserve in one step), :meth:`on_ack`, :meth:`on_reject`, :meth:`on_fill`
(the order shrinks, the position grows: a fill never raises the exposure, see :mod:`kalshi_mm.risk.model`),
:meth:`on_cancel` / :meth:`release`, :meth:`release_session`, and :meth:`mirror`, which makes a session's entries
equal to its executor's table of live orders (what sessions use after each batch of requests). Worst-case loss per
market, per category and in total (:mod:`kalshi_mm.risk.model`) is kept incrementally; :meth:`audit` recomputes it
from scratch.

Thread safety: one lock, ``_lock``, guards every attribute below. :meth:`reserve` runs the caller's pure decision
function and records the reservation under that lock, so two sessions can never both fit under a limit that only
one of them fits.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from kalshi_mm.api.types import BookSide
from kalshi_mm.risk.checks import Allow, Decision, ExposureSnapshot, OrderLeg, Proposal, in_flight_contribution
from kalshi_mm.risk.model import Contribution, MarketExposure, Position, e4_to_e6

__all__ = ["BookMarker", "BookTotals", "ExposureBook"]

DEFAULT_CATEGORY = "default"


@dataclass(frozen=True, slots=True)
class BookTotals:
    """Worst-case loss (1/1,000,000 $) in total, per category and per market; order collateral in total."""

    global_e6: int
    categories: Mapping[str, int]
    markets: Mapping[str, int]
    collateral_e6: int


@dataclass(frozen=True, slots=True)
class BookMarker:
    """The book's counters when an exchange read started (see :meth:`ExposureBook.marker`)."""

    fill_seqs: Mapping[str, int]
    collateral_e6: int
    cash_e6: int


@dataclass(slots=True)
class _Entry:
    session: int
    ticker: str
    leg: OrderLeg
    pending: OrderLeg | None = None  # an amend in flight
    in_flight: bool = True

    def contribution(self) -> Contribution:
        leg = Contribution.of(self.leg.side, self.leg.price_e4, self.leg.count_e2)
        return leg if self.pending is None else in_flight_contribution(leg, self.pending)


@dataclass(slots=True)
class _Market:
    category: str
    exposure: MarketExposure = field(default_factory=MarketExposure)
    fill_seq: int = 0  # fills applied: a position read that raced a fill must not overwrite it


class ExposureBook:
    """The shared exposure book (module docstring). Every public method takes ``_lock``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._markets: dict[str, _Market] = {}
        self._entries: dict[str, _Entry] = {}
        self._by_session: dict[int, set[str]] = {}
        self._category_e6: dict[str, int] = {}
        self._total_e6 = 0
        self._collateral_e6 = 0
        self._cash_e6 = 0  # cash change of every fill applied (fees included), since the book started
        self._balance: tuple[int, int, int] | None = None  # (balance e6 read, collateral and cash when read)
        self._session_ids = itertools.count(1)

    # --- registration ---------------------------------------------------------------------------------------------

    def new_session(self) -> int:
        """A fresh id for one session's entries."""
        with self._lock:
            return next(self._session_ids)

    def register_market(self, ticker: str, category: str) -> None:
        """Set ``ticker``'s category (for the category caps); a market seen before keeps its totals, moved."""
        with self._lock:
            market = self._markets.get(ticker)
            if market is None:
                self._markets[ticker] = _Market(category)
                return
            if market.category != category:
                worst = market.exposure.worst_case_e6
                self._category_e6[market.category] = self._category_e6.get(market.category, 0) - worst
                self._category_e6[category] = self._category_e6.get(category, 0) + worst
                market.category = category

    # --- check and reserve ------------------------------------------------------------------------------------------

    def reserve(
        self,
        session: int,
        key: str,
        ticker: str,
        new: OrderLeg,
        decide: Callable[[ExposureSnapshot, Proposal], Decision],
        *,
        amend: bool = False,
    ) -> Decision:
        """Build the proposal (a create of ``new``, or an amend of order ``key`` to ``new``), let ``decide`` judge
        it against the book as it is, and on :class:`Allow` record it in flight: all under the lock."""
        with self._lock:
            market = self._market(ticker)
            entry = self._entries.get(key) if amend else None
            old = entry.contribution() if entry is not None else None
            proposal = Proposal(ticker, market.category, new, old, key)
            snapshot = ExposureSnapshot(
                market.exposure,
                self._category_e6.get(market.category, 0),
                self._total_e6,
                self._free_balance_locked(),
            )
            decision = decide(snapshot, proposal)
            if not isinstance(decision, Allow):
                return decision
            self._remove_locked(key)
            if entry is not None:
                # Keep the larger old leg; a second amend before the first was answered stays bounded by both.
                old_leg = entry.leg
                if entry.pending is not None and entry.pending.exposure_e6 > old_leg.exposure_e6:
                    old_leg = entry.pending
                self._insert_locked(key, _Entry(session, ticker, old_leg, pending=new, in_flight=entry.in_flight))
            else:
                self._insert_locked(key, _Entry(session, ticker, new))
            return decision

    # --- order lifecycle --------------------------------------------------------------------------------------------

    def on_ack(self, key: str, remaining_e2: int | None = None) -> None:
        """The exchange accepted the create or amend of ``key``: it rests, with ``remaining_e2`` when known."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            leg = entry.pending or entry.leg
            if remaining_e2 is not None:
                leg = OrderLeg(leg.side, leg.price_e4, max(0, remaining_e2))
            self._remove_locked(key)
            if leg.count_e2 > 0:
                self._insert_locked(key, _Entry(entry.session, entry.ticker, leg, in_flight=False))

    def on_reject(self, key: str) -> None:
        """The exchange refused the create (the entry goes) or the amend (the order keeps its old terms)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            self._remove_locked(key)
            if entry.pending is not None:
                self._insert_locked(key, _Entry(entry.session, entry.ticker, entry.leg, in_flight=entry.in_flight))

    def on_cancel(self, key: str) -> None:
        """The order is cancelled (or otherwise gone): its exposure is released."""
        self.release(key)

    def release(self, key: str) -> None:
        with self._lock:
            self._remove_locked(key)

    def release_session(self, session: int) -> int:
        """Release every entry of ``session`` (its end); returns how many there were."""
        with self._lock:
            keys = list(self._by_session.get(session, ()))
            for key in keys:
                self._remove_locked(key)
            self._by_session.pop(session, None)
            return len(keys)

    def mirror(self, session: int, ticker: str, orders: Iterable[tuple[str, OrderLeg]], keep: Collection[str]) -> None:
        """Make ``session``'s entries its live ``orders`` (key, leg still to fill), which rest; entries in ``keep``
        (creates whose outcome is unknown) stay as they are; any other entry of the session is released."""
        wanted = dict(orders)
        with self._lock:
            for key in list(self._by_session.get(session, ())):
                if key not in wanted and key not in keep:
                    self._remove_locked(key)
            for key, leg in wanted.items():
                entry = self._entries.get(key)
                if entry is not None and entry.pending is None and not entry.in_flight and entry.leg == leg:
                    continue
                self._remove_locked(key)
                if leg.count_e2 > 0:
                    self._insert_locked(key, _Entry(session, ticker, leg, in_flight=False))

    def on_fill(
        self, ticker: str, key: str | None, side: BookSide, price_e4: int, count_e2: int, fee_e4: int = 0
    ) -> int:
        """A fill of ours: order ``key`` (when known) shrinks, the position changes. Returns the cash change
        (1/1,000,000 $, fee included)."""
        with self._lock:
            entry = self._entries.get(key) if key is not None else None
            if key is not None and entry is not None:
                # Sessions apply fills between their requests (after mirroring), so an amend is rarely in flight
                # here; if one is, both terms shrink: the old order lost the fill, or the amended one did.
                self._remove_locked(key)
                leg = _shrink(entry.leg, count_e2)
                pending = _shrink(entry.pending, count_e2) if entry.pending is not None else None
                if leg.count_e2 > 0 or (pending is not None and pending.count_e2 > 0):
                    self._insert_locked(key, _Entry(entry.session, ticker, leg, pending, entry.in_flight))
            market = self._market(ticker)
            position, cash = market.exposure.position.after_fill(side, price_e4, count_e2)
            self._set_exposure(market, market.exposure.with_position(position))
            market.fill_seq += 1
            cash -= e4_to_e6(fee_e4)
            self._cash_e6 += cash
            return cash

    # --- exchange truth -----------------------------------------------------------------------------------------

    def marker(self) -> BookMarker:
        """Take before reading positions or the balance from the exchange; pass to :meth:`sync_positions` /
        :meth:`set_balance` after the read."""
        with self._lock:
            seqs = {t: m.fill_seq for t, m in self._markets.items()}
            return BookMarker(seqs, self._collateral_e6, self._cash_e6)

    def sync_positions(self, positions: Mapping[str, Position], marker: BookMarker) -> list[str]:
        """Adopt the exchange's positions (markets absent from ``positions`` are flat), except in markets where a
        fill was applied since ``marker`` (the read may predate it). Returns the tickers whose position changed."""
        changed: list[str] = []
        with self._lock:
            for ticker in set(positions) | set(self._markets):
                market = self._market(ticker)
                if market.fill_seq != marker.fill_seqs.get(ticker, 0):
                    continue
                position = positions.get(ticker, Position())
                if position != market.exposure.position:
                    self._set_exposure(market, market.exposure.with_position(position))
                    changed.append(ticker)
        return sorted(changed)

    def set_balance(self, balance_e4: int, marker: BookMarker) -> None:
        """The available balance the exchange reported for a read started at ``marker``."""
        with self._lock:
            self._balance = (e4_to_e6(balance_e4), marker.collateral_e6, marker.cash_e6)

    # --- views ----------------------------------------------------------------------------------------------------

    def market(self, ticker: str) -> MarketExposure:
        with self._lock:
            market = self._markets.get(ticker)
            return market.exposure if market is not None else MarketExposure()

    def totals(self) -> BookTotals:
        with self._lock:
            return BookTotals(
                self._total_e6,
                {c: v for c, v in self._category_e6.items() if v},
                {t: w for t, m in self._markets.items() if (w := m.exposure.worst_case_e6)},
                self._collateral_e6,
            )

    def free_balance_e6(self) -> int | None:
        """Available cash now, estimated from the last balance read and the orders and fills since (None before
        the first read): each order added since locks its collateral, each fill changes cash."""
        with self._lock:
            return self._free_balance_locked()

    def session_entries(self, session: int) -> int:
        with self._lock:
            return len(self._by_session.get(session, ()))

    def audit(self) -> tuple[BookTotals, BookTotals]:
        """(the incrementally kept totals, the same recomputed from positions and entries): they must be equal."""
        with self._lock:
            kept = BookTotals(
                self._total_e6,
                {c: v for c, v in self._category_e6.items() if v},
                {t: w for t, m in self._markets.items() if (w := m.exposure.worst_case_e6)},
                self._collateral_e6,
            )
            per_market = {t: MarketExposure(m.exposure.position) for t, m in self._markets.items()}
            for key, entry in self._entries.items():
                per_market[entry.ticker] = per_market[entry.ticker].with_order(key, entry.contribution())
            categories: dict[str, int] = {}
            for ticker, exposure in per_market.items():
                category = self._markets[ticker].category
                categories[category] = categories.get(category, 0) + exposure.worst_case_e6
            fresh = BookTotals(
                sum(e.worst_case_e6 for e in per_market.values()),
                {c: v for c, v in categories.items() if v},
                {t: w for t, e in per_market.items() if (w := e.worst_case_e6)},
                sum(e.collateral_e6 for e in per_market.values()),
            )
            return kept, fresh

    # --- internals (caller holds _lock) ---------------------------------------------------------------------------

    def _market(self, ticker: str) -> _Market:
        market = self._markets.get(ticker)
        if market is None:
            market = self._markets[ticker] = _Market(DEFAULT_CATEGORY)
        return market

    def _set_exposure(self, market: _Market, exposure: MarketExposure) -> None:
        old = market.exposure
        delta = exposure.worst_case_e6 - old.worst_case_e6
        self._category_e6[market.category] = self._category_e6.get(market.category, 0) + delta
        self._total_e6 += delta
        self._collateral_e6 += exposure.collateral_e6 - old.collateral_e6
        market.exposure = exposure

    def _insert_locked(self, key: str, entry: _Entry) -> None:
        market = self._market(entry.ticker)
        self._set_exposure(market, market.exposure.with_order(key, entry.contribution()))
        self._entries[key] = entry
        self._by_session.setdefault(entry.session, set()).add(key)

    def _remove_locked(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        market = self._market(entry.ticker)
        self._set_exposure(market, market.exposure.without(key))
        keys = self._by_session.get(entry.session)
        if keys is not None:
            keys.discard(key)

    def _free_balance_locked(self) -> int | None:
        if self._balance is None:
            return None
        balance, collateral_then, cash_then = self._balance
        return balance - (self._collateral_e6 - collateral_then) + (self._cash_e6 - cash_then)


def _shrink(leg: OrderLeg, filled_e2: int) -> OrderLeg:
    return OrderLeg(leg.side, leg.price_e4, max(0, leg.count_e2 - filled_e2))
