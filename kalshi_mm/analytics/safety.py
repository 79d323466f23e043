"""The safety ledger part of :class:`~kalshi_mm.analytics.db.AnalyticsDB` (schema v2, issue #9): order intents,
the reads the start-up recovery needs, and fill observers.

A mixin so db.py stays one job and one size: the writes go through the same writer thread (``_insert`` /
``_submit``, in call order), the reads through the same flushed read-only connection (``_read``).

**Order intents.** :meth:`log_order_intent` is called *before* a create is sent, :meth:`resolve_order_intent`
once its outcome is known. "Before" means queued ahead of everything the create causes: the writer commits in
queue order, so no ``orders`` or fill row of that order can be stored without its intent. A crash can still lose
the last batch (at most ``commit_interval_s``) with the intent in it; the start-up recovery does not depend on
the intent to find such an order: it lists the exchange's resting orders by our client_order_id prefix and
imports every fill of the account, so a lost intent costs only the order's run attribution. See
:mod:`kalshi_mm.recovery.startup`.

**Fill observers** are told of every fill logged (in the caller's thread, after the row is queued): the drift
check's in-memory ledger (:class:`~kalshi_mm.recovery.drift.PositionLedger`) follows the books this way.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal

__all__ = ["FillObserver", "IntentOutcome", "SafetyLedgerMixin"]

log = logging.getLogger("kalshi_mm.analytics")

IntentOutcome = Literal["placed", "rejected", "not_found"]
# (fill_id, market_ticker, book_side 'bid'|'ask', count_e2)
FillObserver = Callable[[str, str, str, int], None]

# Only a pending intent is resolved: the first outcome learned is the one kept.
_RESOLVE_INTENT = """
UPDATE order_intents SET outcome = :outcome, order_id = COALESCE(:order_id, order_id), resolved_ts = :ts
WHERE client_order_id = :client_order_id AND outcome = 'pending'"""

_FILL_POSITIONS = """
SELECT market_ticker, SUM(CASE book_side WHEN 'bid' THEN count_e2 ELSE -count_e2 END) AS position_e2,
       COUNT(*) AS fills
FROM order_fills GROUP BY market_ticker"""


class SafetyLedgerMixin:
    """Methods mixed into AnalyticsDB, which provides ``_insert``, ``_submit``, ``_read`` and ``_ts``.

    ``log_risk_event`` is here so the recovery, drift check and order-group guard can record; should
    AnalyticsDB define its own, that one wins (same keyword arguments).
    """

    _ts: Callable[[float | None], float]
    _insert: Callable[..., None]
    _submit: Callable[..., None]
    _read: Callable[[str, Any], list[dict[str, Any]]]
    log_fill_event: Callable[..., None]
    log_order_filled: Callable[..., None]

    _observers_lock = threading.Lock()  # guards every instance's ``_fill_observers`` (rarely taken)
    _fill_observers: tuple[FillObserver, ...] = ()

    # ---- fills --------------------------------------------------------------------------------------

    def book_fill(
        self,
        *,
        fill_id: str,
        order_id: str,
        market_ticker: str,
        outcome_side: Literal["yes", "no"],
        book_side: Literal["bid", "ask"],
        price_e4: int,
        count_e2: int,
        is_taker: bool,
        fee_e4: int,
        fully_filled: bool,
        ts: float,
        **event_fields: Any,
    ) -> None:
        """One exchange fill into the ledger: the raw ``order_fills`` row (idempotent on ``fill_id``; extra
        ``event_fields`` such as run_id, client_order_id, trade_id, post_position_e2 go there) and the booked
        trade with the order's filled count and status. The two paths that book fills (a session's fill tracker
        and start-up recovery's import) both go through here."""
        self.log_fill_event(
            fill_id=fill_id,
            order_id=order_id,
            market_ticker=market_ticker,
            outcome_side=outcome_side,
            book_side=book_side,
            price_e4=price_e4,
            count_e2=count_e2,
            is_taker=is_taker,
            fee_e4=fee_e4,
            ts=ts,
            **event_fields,
        )
        self.log_order_filled(
            order_id=order_id,
            price_e4=price_e4,
            count_e2=count_e2,
            fee_e4=fee_e4,
            fully_filled=fully_filled,
            fill_id=fill_id,
            ts=ts,
        )

    # ---- order intents -------------------------------------------------------------------------------

    def log_order_intent(
        self,
        *,
        client_order_id: str,
        market_ticker: str,
        book_side: Literal["bid", "ask"],
        price_e4: int,
        count_e2: int,
        run_id: int | None = None,
        ts: float | None = None,
    ) -> None:
        """Record a create about to be sent: YES-leg ``price_e4`` (1/10,000 $), ``count_e2`` (1/100 contract).
        Idempotent on ``client_order_id`` (a re-send of the same create keeps the first row)."""
        self._insert(
            "order_intents",
            conflict=("client_order_id",),
            client_order_id=client_order_id,
            run_id=run_id,
            market_ticker=market_ticker,
            book_side=book_side,
            price_e4=price_e4,
            count_e2=count_e2,
            created_ts=self._ts(ts),
        )

    def resolve_order_intent(
        self, client_order_id: str, outcome: IntentOutcome, order_id: str | None = None, *, ts: float | None = None
    ) -> None:
        """Record a create's outcome: ``placed`` (with the exchange's ``order_id``), ``rejected`` (the exchange
        refused it) or ``not_found`` (the exchange never had it). Only a pending intent changes."""
        self._submit(
            "order_intents.resolve",
            _RESOLVE_INTENT,
            on_no_change="unmatched",
            client_order_id=client_order_id,
            outcome=outcome,
            order_id=order_id,
            ts=self._ts(ts),
        )

    def pending_order_intents(self) -> list[dict[str, Any]]:
        """Intents whose outcome was never recorded, oldest first (flushes first)."""
        return self._read(
            "SELECT client_order_id, run_id, market_ticker, book_side, price_e4, count_e2, created_ts "
            "FROM order_intents WHERE outcome = 'pending' ORDER BY created_ts, client_order_id",
            (),
        )

    # ---- risk events ---------------------------------------------------------------------------------

    def last_trading_state(self) -> dict[str, Any] | None:
        """The newest trading-state change on record (``risk_events`` kind 'state'): ``rule`` (who changed it)
        and ``detail`` (JSON: from, to, reason); None when there is none (flushes first)."""
        rows = self._read(
            "SELECT rule, detail, ts FROM risk_events WHERE kind = 'state' ORDER BY ts DESC, id DESC LIMIT 1", ()
        )
        return rows[0] if rows else None

    def log_risk_event(
        self,
        kind: str,
        *,
        rule: str | None = None,
        market_ticker: str | None = None,
        run_id: int | None = None,
        detail: Mapping[str, Any] | None = None,
        ts: float | None = None,
    ) -> None:
        """Record a risk or safety event (``risk_events``): ``kind`` e.g. 'drift', 'reconcile', 'order_group';
        ``rule`` the check or action; ``detail`` a JSON object (money e4, counts e2, like every column)."""
        self._insert(
            "risk_events",
            ts=self._ts(ts),
            kind=kind,
            rule=rule,
            market_ticker=market_ticker,
            run_id=run_id,
            detail=None if detail is None else json.dumps(detail, sort_keys=True, default=str, separators=(",", ":")),
        )

    # ---- reads for the start-up recovery -------------------------------------------------------------

    def open_runs(self) -> list[dict[str, Any]]:
        """``strategy_runs`` rows still 'running' (run_id, strategy_name, market_ticker, trade_side, start_ts)."""
        return self._read(
            "SELECT run_id, strategy_name, market_ticker, trade_side, start_ts FROM strategy_runs "
            "WHERE status = 'running' ORDER BY run_id",
            (),
        )

    def last_fill_ts(self) -> float | None:
        """The exchange time (Unix s) of the newest fill recorded, or None when there is none."""
        rows = self._read("SELECT MAX(ts) AS ts FROM order_fills", ())
        value = rows[0]["ts"] if rows else None
        return None if value is None else float(value)

    def fill_ids_since(self, min_ts: float) -> set[str]:
        """Ids of the fills recorded with an exchange time at or after ``min_ts`` (Unix s)."""
        return {str(r["fill_id"]) for r in self._read("SELECT fill_id FROM order_fills WHERE ts >= ?", (min_ts,))}

    def fill_positions(self) -> dict[str, int]:
        """Per market, the YES-leg position (1/100 contract) the recorded fills add up to (bids +, asks −)."""
        return {str(r["market_ticker"]): int(r["position_e2"]) for r in self._read(_FILL_POSITIONS, ())}

    def order_group_ids(self) -> set[str]:
        """Every order group id recorded on an order."""
        rows = self._read("SELECT DISTINCT order_group_id FROM orders WHERE order_group_id IS NOT NULL", ())
        return {str(r["order_group_id"]) for r in rows}

    # ---- fill observers ------------------------------------------------------------------------------

    def add_fill_observer(self, observer: FillObserver) -> None:
        """Call ``observer(fill_id, market_ticker, book_side, count_e2)`` for every fill logged from now on."""
        with self._observers_lock:
            self._fill_observers = (*self._fill_observers, observer)

    def remove_fill_observer(self, observer: FillObserver) -> None:
        with self._observers_lock:
            self._fill_observers = tuple(o for o in self._fill_observers if o is not observer)

    def _notify_fill(self, fill_id: str, market_ticker: str, book_side: str, count_e2: int) -> None:
        for observer in self._fill_observers:  # a tuple, replaced whole: safe to iterate without the lock
            try:
                observer(fill_id, market_ticker, book_side, count_e2)
            except Exception:  # an observer's bug must not break the caller's booking of a fill
                log.exception("analytics: fill observer failed on %s", fill_id)
