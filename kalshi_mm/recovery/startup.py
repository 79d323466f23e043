"""Start-up recovery, run once per process before any session quotes: the thin executor of
:mod:`kalshi_mm.recovery.plan`.

Crash-only design: a clean start and a start after a crash (SIGKILL, power loss, OOM) take this same path; a
clean shutdown merely leaves it less to do. Steps, in order:

1. **Runs** the previous process left 'running' are closed as faulted (it never got to end them).
2. **Pending order intents** (creates whose outcome was never recorded: the process died between sending and
   hearing back, or the response was dropped) are looked up on the exchange by client_order_id, one order
   listing per market: found -> ``placed`` and its ``orders`` row written (so its fills are attributed to its
   run); absent -> ``not_found``.
3. **Orphan orders**: every resting order carrying our client_order_id prefix belongs to no live session (none
   runs yet), so it is cancelled (``recovery.orphan_orders: cancel``, confirmed by re-reading, else start-up
   fails) or left for the session of its market/side to adopt (``adopt``; see
   :mod:`kalshi_mm.recovery.monitor` for the claim deadline). Orders without our prefix are never touched.
4. **Order groups** our database knows of and the exchange still has are deleted (a crashed session could not),
   except those of adopted orders.
5. **Fills**: every fill of the account since the newest one recorded (minus an overlap) is imported,
   deduplicated by fill_id, oldest first, so the database's ledger equals the exchange's.
6. **Positions**: the recorded fills are summed per market and compared with ``GET /portfolio/positions``; a
   market that disagrees gets its whole fill history imported, and what still disagrees (history older than the
   database, a settlement) is recorded as a ``risk_events`` row.

Every action is recorded (``risk_events`` kind ``reconcile``). A failed exchange read fails the start-up
(:class:`RecoveryError`, fatal): trading must not start on a state it could not see.

**Why intents are not committed synchronously.** ``log_order_intent`` only queues the row (the writer thread
batches commits, ≤ ``analytics.commit_interval_seconds``); it is queued before the create is sent and the writer
commits in queue order, so the executor's ``orders`` row of that create can never be stored ahead of its intent.
A crash can lose the last uncommitted batch, intent included, while the create already reached the exchange.
That loss is harmless here: steps 3 and 5 do not start from the intents but from the exchange — every resting
order with our prefix is found by listing, every fill by the account's fill history — so the order is still
cancelled (or adopted) and its fills still booked; only its run attribution is lost. A blocking commit
(``flush()``) per create measured 0.07 ms median, ≤ 2.3 ms worst of 300, on ext4 with WAL and
``synchronous=NORMAL``, also with 10,000 snapshot rows/s queued: cheap, but it would put the disk on the trading
path (DESIGN.md #10) to protect only that attribution, so it is not done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.errors import ApiError, FatalError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import Fill, Order, OrderStatus
from kalshi_mm.clock import Clock
from kalshi_mm.config.sections_recovery import RecoveryConfig
from kalshi_mm.recovery.cancel import cancel_until_clean
from kalshi_mm.recovery.plan import (
    PendingIntent,
    fill_import_since,
    intent_lookup_windows,
    new_fills,
    plan_orphans,
    position_deltas,
    resolve_intents,
)
from kalshi_mm.strategy.order_executor import db_sides

__all__ = ["RecoveryError", "RecoveryReport", "record_fills", "recover"]

log = logging.getLogger("kalshi_mm.recovery")

T = TypeVar("T")

# Seconds before the earliest pending intent to list orders from (our clock vs the exchange's).
INTENT_LOOKUP_SLACK_S = 300.0
ORPHAN_CANCEL_ATTEMPTS = 3
# Orders read one by one (to learn whether an imported fill finished its order): beyond this many, a fresh
# database importing a long history records the fills without the orders' final status.
MAX_ORDER_READS = 200


class RecoveryError(FatalError):
    """The start-up recovery could not see or clean the exchange's state: trading must not start."""


@dataclass
class RecoveryReport:
    """What the start-up recovery found and did (counts; ids for the tests and the log)."""

    started_ts: float
    runs_closed: int = 0
    intents_placed: int = 0
    intents_not_found: int = 0
    orphans_cancelled: list[str] = field(default_factory=list)
    orphans_gone: list[str] = field(default_factory=list)
    orphans_adopted: list[Order] = field(default_factory=list)
    foreign_orders: int = 0
    groups_deleted: int = 0
    fills_imported: int = 0
    exchange_positions: dict[str, int] = field(default_factory=dict)
    position_mismatches: dict[str, int] = field(default_factory=dict)  # exchange − database, after the import

    def summary(self) -> dict[str, object]:
        return {
            "runs_closed": self.runs_closed,
            "intents_placed": self.intents_placed,
            "intents_not_found": self.intents_not_found,
            "orphans_cancelled": len(self.orphans_cancelled),
            "orphans_gone": len(self.orphans_gone),
            "orphans_adopted": len(self.orphans_adopted),
            "foreign_orders": self.foreign_orders,
            "groups_deleted": self.groups_deleted,
            "fills_imported": self.fills_imported,
            "position_mismatches": self.position_mismatches,
        }


def _log_order(db: AnalyticsDB, order: Order, run_id: int | None) -> None:
    outcome_side, book_side = db_sides(order.side)
    db.log_order_placed(
        order_id=order.order_id,
        market_ticker=order.ticker,
        outcome_side=outcome_side,
        book_side=book_side,
        price_e4=order.price_e4,
        count_e2=order.initial_count_e2,
        run_id=run_id,
        client_order_id=order.client_order_id or None,
        order_group_id=order.order_group_id,
        ts=order.created_ts,
    )


def record_fills(api: KalshiTradingAPI, db: AnalyticsDB, fills: Sequence[Fill]) -> int:
    """Book ``fills`` (new ones, oldest first) like a session does: ``order_fills``, ``trades`` and the order's
    filled counts; an order row we never wrote (its create response was lost) is written from the exchange's
    copy first. Returns how many were booked."""
    orders: dict[str, Order | None] = {}
    for order_id in dict.fromkeys(f.order_id for f in fills):
        if len(orders) >= MAX_ORDER_READS:
            break
        try:
            orders[order_id] = api.get_order(order_id)
        except FatalError:
            raise
        except ApiError as exc:
            log.warning("recovery: order %s of an imported fill could not be read: %s", order_id, exc)
            orders[order_id] = None
    last_fill = {f.order_id: f.fill_id for f in fills}  # each order's newest new fill (fills are oldest first)
    for order in orders.values():
        if order is not None:
            _log_order(db, order, None)  # idempotent: an existing row (with its run) is kept
    for fill in fills:
        order = orders.get(fill.order_id)
        outcome_side, book_side = db_sides(fill.side)
        finished = order is not None and order.status == OrderStatus.EXECUTED.value
        db.book_fill(
            fill_id=fill.fill_id,
            order_id=fill.order_id,
            market_ticker=fill.ticker,
            outcome_side=outcome_side,
            book_side=book_side,
            price_e4=fill.yes_price_e4,
            count_e2=fill.count_e2,
            is_taker=fill.is_taker,
            fee_e4=fill.fee_e4,
            fully_filled=finished and last_fill[fill.order_id] == fill.fill_id,
            ts=fill.created_ts,
        )
    return len(fills)


def _read(what: str, call: Callable[[], T]) -> T:
    """Run a REST step of the recovery; an API failure becomes a RecoveryError naming the step."""
    try:
        return call()
    except RecoveryError:
        raise
    except ApiError as exc:
        raise RecoveryError(f"start-up recovery: {what} failed: {exc}") from exc


def recover(
    api: KalshiTradingAPI,
    db: AnalyticsDB,
    clock: Clock,
    settings: RecoveryConfig,
    *,
    live_prefixes: Iterable[str] = (),
) -> RecoveryReport:
    """Run the start-up recovery (module docstring); raises :class:`RecoveryError` when it cannot complete."""
    report = RecoveryReport(started_ts=clock.time())
    live = tuple(live_prefixes)
    _close_runs(db, clock, report)
    _resolve_intents(api, db, report)
    _orphans(api, db, settings, live, report)
    _delete_groups(api, db, report)
    _import_fills(api, db, settings, report)
    _compare_positions(api, db, report)
    db.log_risk_event(kind="reconcile", rule="startup", detail=report.summary())
    log.info("start-up recovery: %s", report.summary())
    return report


def _close_runs(db: AnalyticsDB, clock: Clock, report: RecoveryReport) -> None:
    for run in db.open_runs():
        db.end_strategy_run(
            int(run["run_id"]),
            status="faulted",
            reason="left running by a process that did not shut down (crash or kill); closed at restart",
            end_ts=clock.time(),
        )
        report.runs_closed += 1
    if report.runs_closed:
        log.warning("recovery: closed %d run(s) a previous process left running", report.runs_closed)


def _resolve_intents(api: KalshiTradingAPI, db: AnalyticsDB, report: RecoveryReport) -> None:
    pending = [PendingIntent.from_row(row) for row in db.pending_order_intents()]
    if not pending:
        return
    found: dict[str, Order] = {}
    for ticker, min_ts in intent_lookup_windows(pending, INTENT_LOOKUP_SLACK_S).items():
        orders = _read(f"listing orders of {ticker}", lambda t=ticker, m=min_ts: list(api.iter_orders(t, min_ts=m)))
        found.update((o.client_order_id, o) for o in orders if o.client_order_id)
    for resolution in resolve_intents(pending, found):
        intent, order = resolution.intent, resolution.order
        if order is not None:
            _log_order(db, order, intent.run_id)
            db.resolve_order_intent(intent.client_order_id, "placed", order.order_id)
            report.intents_placed += 1
        else:
            db.resolve_order_intent(intent.client_order_id, "not_found")
            report.intents_not_found += 1
        db.log_risk_event(
            kind="reconcile",
            rule=f"intent_{resolution.outcome}",
            market_ticker=intent.market_ticker,
            run_id=intent.run_id,
            detail={
                "client_order_id": intent.client_order_id,
                "order_id": None if order is None else order.order_id,
                "status": None if order is None else order.status,
            },
        )
    log.warning(
        "recovery: %d pending order intent(s): %d placed, %d not found",
        len(pending),
        report.intents_placed,
        report.intents_not_found,
    )


def _orphans(
    api: KalshiTradingAPI, db: AnalyticsDB, settings: RecoveryConfig, live: tuple[str, ...], report: RecoveryReport
) -> None:
    resting = _read("listing resting orders", lambda: api.get_orders(status=OrderStatus.RESTING))
    plan = plan_orphans(resting, live, settings.orphan_orders)
    report.foreign_orders = len(plan.foreign)
    for order in plan.adopt:
        report.orphans_adopted.append(order)
        db.log_risk_event(
            kind="reconcile",
            rule="orphan_adopted",
            market_ticker=order.ticker,
            detail={"order_id": order.order_id, "client_order_id": order.client_order_id},
        )
    if not plan.cancel:
        return

    def select(orders: list[Order]) -> list[Order]:
        return list(plan_orphans(orders, live, "cancel").cancel)

    tally = _read("cancelling orphan orders", lambda: cancel_until_clean(api, select, attempts=ORPHAN_CANCEL_ATTEMPTS))
    report.orphans_cancelled = list(tally.cancelled)
    report.orphans_gone = list(tally.gone)
    by_id = {o.order_id: o for o in plan.cancel}
    for order_id in report.orphans_cancelled:
        db.log_order_cancelled(order_id, reason="orphan at restart")
        order = by_id.get(order_id)
        db.log_risk_event(
            kind="reconcile",
            rule="orphan_cancelled",
            market_ticker=None if order is None else order.ticker,
            detail={"order_id": order_id, "client_order_id": None if order is None else order.client_order_id},
        )
    log.warning("recovery: cancelled %d orphan order(s) of ours", len(report.orphans_cancelled))
    remaining = tally.remaining
    if remaining:
        raise RecoveryError(
            f"start-up recovery: {len(remaining)} orphan order(s) still resting after {ORPHAN_CANCEL_ATTEMPTS} "
            f"cancel rounds: {', '.join(o.order_id for o in remaining[:10])}"
        )


def _delete_groups(api: KalshiTradingAPI, db: AnalyticsDB, report: RecoveryReport) -> None:
    ours = db.order_group_ids()
    if not ours:
        return
    keep = {o.order_group_id for o in report.orphans_adopted if o.order_group_id}
    try:
        existing = {g.order_group_id for g in api.get_order_groups()}
    except FatalError:
        raise
    except ApiError as exc:  # a leftover group is clutter, not risk: its orders were handled above
        log.warning("recovery: cannot list order groups: %s", exc)
        return
    for group_id in sorted((ours & existing) - keep):
        try:
            api.delete_order_group(group_id)
        except FatalError:
            raise
        except ApiError as exc:
            log.warning("recovery: deleting order group %s failed: %s", group_id, exc)
            continue
        report.groups_deleted += 1
    if report.groups_deleted:
        log.info("recovery: deleted %d order group(s) left by an earlier process", report.groups_deleted)


def _import(api: KalshiTradingAPI, db: AnalyticsDB, since: float, ticker: str | None) -> int:
    what = f"reading fills since {since:.0f}" + (f" of {ticker}" if ticker else "")
    fills = _read(what, lambda: list(api.iter_fills_since(since, ticker)))
    fresh = new_fills(fills, db.fill_ids_since(since))
    try:
        return record_fills(api, db, fresh)
    except ApiError as exc:
        raise RecoveryError(f"start-up recovery: booking imported fills failed: {exc}") from exc


def _import_fills(api: KalshiTradingAPI, db: AnalyticsDB, settings: RecoveryConfig, report: RecoveryReport) -> None:
    since = fill_import_since(db.last_fill_ts(), settings.fill_import_overlap_seconds)
    report.fills_imported += _import(api, db, since, None)
    if report.fills_imported:
        log.warning("recovery: imported %d fill(s) the database did not have", report.fills_imported)
        db.log_risk_event(
            kind="reconcile",
            rule="fills_imported",
            detail={"fills": report.fills_imported, "since_ts": since},
        )


def _exchange_positions(api: KalshiTradingAPI) -> dict[str, int]:
    positions = _read("reading positions", api.get_positions)
    return {p.ticker: p.position_e2 for p in positions.markets}


def _compare_positions(api: KalshiTradingAPI, db: AnalyticsDB, report: RecoveryReport) -> None:
    exchange = _exchange_positions(api)
    deltas = position_deltas(db.fill_positions(), exchange, exchange.keys())
    if deltas:
        # History older than the import window: take each disagreeing market's whole fill history once.
        for ticker in deltas:
            report.fills_imported += _import(api, db, 0.0, ticker)
        deltas = position_deltas(db.fill_positions(), exchange, exchange.keys())
    report.exchange_positions = exchange
    report.position_mismatches = deltas
    for ticker, delta in deltas.items():
        log.error("recovery: %s: recorded fills and the exchange's position differ by %d e2", ticker, delta)
        db.log_risk_event(
            kind="reconcile",
            rule="position_mismatch",
            market_ticker=ticker,
            detail={"exchange_e2": exchange.get(ticker, 0), "difference_e2": delta},
        )
