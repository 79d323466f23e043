"""The running half of the recovery: one background thread doing the periodic drift check and, in
``recovery.orphan_orders: adopt``, the claim deadline of adopted orders.

**Drift check** (every ``recovery.drift_check_interval_seconds`` of the clock): the in-memory
:class:`~kalshi_mm.recovery.drift.PositionLedger` (baseline: the exchange's positions right after the start-up
recovery; then every fill the process books) against ``GET /portfolio/positions``. A difference confirmed on
``drift_confirm_checks`` consecutive checks (:class:`~kalshi_mm.recovery.drift.DriftConfirmer`) is handled:

1. a market the exchange shows flat that has a settlement is not drift: the ledger takes the settlement;
2. otherwise the market's fills since the baseline are read from REST and any the process never booked are
   booked now (the database's ledger is repaired either way), and
3. trading is **halted** for the whole account (``Runtime.trading.halt(..., source="drift_check")``) and a
   ``risk_events`` row of kind ``drift`` records the market, both positions and what was repaired.

Why a global halt and not a freeze of the one session: a fill nobody booked means an order the daemon lost
track of, and the bugs that cause that (lost responses, a parser, the fill path) are not specific to one
market; the exposure limits of *every* session rely on the same books. HALTED still allows cancels, and is
sticky until an operator's ``runner.py resume``, after which the ledger is re-based on the exchange's figures
(the operator has looked at the difference and accepted it).

**Adopted orders** (``adopt``): left resting at start-up for the session of their market/side to take over
(its first order sync adopts them). Until the claim deadline (``recovery.adopt_claim_seconds`` after the
recovery) the monitor books their fills itself, since a session books its orders' fills only from its own start;
at the deadline those no running session has claimed are cancelled, and any still adopted at shutdown too, so no
order rests unmanaged.

Threading: the monitor's own thread runs the checks; :meth:`SafetyMonitor.stop` is called by the runtime's
close. The ledger is fed from the sessions' threads (fill observer) under its own lock.
"""

from __future__ import annotations

import logging
import threading

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.errors import ApiError, FatalError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import Order, OrderStatus
from kalshi_mm.clock import Clock
from kalshi_mm.config.sections_recovery import RecoveryConfig
from kalshi_mm.recovery.cancel import cancel_orders
from kalshi_mm.recovery.drift import DriftConfirmer, PositionLedger
from kalshi_mm.recovery.plan import new_fills, position_deltas
from kalshi_mm.recovery.startup import RecoveryError, RecoveryReport, record_fills, recover
from kalshi_mm.risk.state import TradingState, TradingStateChange, TradingStateMachine
from kalshi_mm.strategy.session import session_prefix

__all__ = ["SafetyMonitor", "start_recovery"]

log = logging.getLogger("kalshi_mm.recovery.monitor")

# Real seconds the monitor thread gets to finish a check at shutdown.
JOIN_TIMEOUT_S = 10.0
# Clock seconds before the baseline from which the fills it covers are read (a session looks ~5 s back).
BASELINE_LOOKBACK_S = 300.0


class SafetyMonitor:
    """Drift check and adopted-order deadline (module docstring). Build, :meth:`start`, :meth:`stop`."""

    def __init__(
        self,
        api: KalshiTradingAPI,
        db: AnalyticsDB,
        clock: Clock,
        trading: TradingStateMachine,
        report: RecoveryReport,
        *,
        drift_interval_s: float,
        confirm_checks: int,
        adopt_claim_s: float,
    ) -> None:
        self._api, self._db, self._clock, self._trading = api, db, clock, trading
        self.report = report
        self._interval_s = drift_interval_s
        self._claim_deadline = report.started_ts + adopt_claim_s
        self.ledger = PositionLedger()
        self.confirmer = DriftConfirmer(confirm_checks)
        self._baseline_ts = report.started_ts
        # Owned by the monitor thread after start(); set from the trading-state listener (any thread).
        self._rebase = threading.Event()
        self._stop = threading.Event()
        self._adopted: dict[str, Order] = {o.order_id: o for o in report.orphans_adopted}
        # Adopted orders whose fills the monitor books itself until the claim deadline: no session exists yet to
        # book them (a session books its orders' fills from its own start).
        self._adopted_fills: set[str] = set(self._adopted)
        self._adopted_lock = threading.Lock()  # guards _adopted and _adopted_fills (monitor thread and stop())
        self._thread: threading.Thread | None = None
        self.checks = 0
        self.drifts: list[dict[str, int]] = []  # confirmed drifts handled, for logs and tests

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Baseline the ledger, follow booked fills and trading-state changes, start the thread."""
        self.rebase()
        self._db.add_fill_observer(self._on_fill)
        self._trading.add_listener(self._on_trading_state)
        if self._interval_s > 0 or self._adopted:
            self._thread = threading.Thread(target=self._run, name="drift-check", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread, cancel adopted orders nobody claimed. Never raises (shutdown path)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                log.error("drift check did not stop within %.0f s", JOIN_TIMEOUT_S)
        self._db.remove_fill_observer(self._on_fill)
        try:
            self._expire_adopted(final=True)
        except Exception:
            log.exception("cancelling unclaimed adopted orders failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self._clock.time()
            waits = [self._interval_s] if self._interval_s > 0 else []
            with self._adopted_lock:
                if self._adopted:
                    waits.append(max(0.0, self._claim_deadline - now))
            if not waits or self._clock.wait(min(waits), self._stop):
                return
            try:
                if self._interval_s > 0:
                    self.check()
                self._expire_adopted(final=False)
            except FatalError as exc:
                log.error("drift check: fatal API error, halting trading: %s", exc)
                self._trading.halt(f"drift check: {exc}", source="drift_check")
                return
            except ApiError as exc:  # a missed check is retried at the next interval
                log.warning("drift check skipped: %s", exc)
            except Exception:
                log.exception("drift check failed")

    # --- the ledger ----------------------------------------------------------------------------------------

    def rebase(self) -> None:
        """Take the exchange's positions as the ledger's baseline (start-up, and after an operator's resume).

        Positions are read around the fill ids they cover and re-read until two reads agree, so a fill landing
        in between is neither lost nor counted twice."""
        positions = self._positions()
        for _ in range(3):
            covered = self._db.fill_ids_since(self._clock.time() - BASELINE_LOOKBACK_S)
            again = self._positions()
            if again == positions:
                break
            positions = again
        self.ledger.reset(positions, covered)
        self.confirmer.forget()
        self._baseline_ts = self._clock.time()
        log.info("drift check: ledger based on the exchange's positions in %d market(s)", len(positions))

    def _positions(self) -> dict[str, int]:
        return {p.ticker: p.position_e2 for p in self._api.get_positions().markets if p.position_e2}

    def _on_fill(self, fill_id: str, ticker: str, book_side: str, count_e2: int) -> None:
        self.ledger.record(fill_id, ticker, count_e2 if book_side == "bid" else -count_e2)

    def _on_trading_state(self, change: TradingStateChange) -> None:
        if change.previous is TradingState.HALTED and change.state is not TradingState.HALTED:
            self._rebase.set()  # the operator resumed: accept the exchange's figures as the new baseline

    # --- the check -----------------------------------------------------------------------------------------

    def check(self) -> dict[str, int]:
        """One drift check; returns the drifts confirmed (and handled) by it: ticker -> exchange − ledger."""
        if self._rebase.is_set():
            self._rebase.clear()
            self.rebase()
        self.checks += 1
        self._book_adopted_fills()
        exchange = self._positions()
        deltas = position_deltas(self.ledger.positions(), exchange)
        confirmed = self.confirmer.observe(deltas)
        if confirmed:
            self._handle(confirmed, exchange)
        return confirmed

    def _handle(self, confirmed: dict[str, int], exchange: dict[str, int]) -> None:
        drifting: dict[str, int] = {}
        for ticker, delta in confirmed.items():
            if exchange.get(ticker, 0) == 0 and self._api.get_settlements(ticker):
                self.ledger.set_position(ticker, 0)
                self._db.log_risk_event(kind="reconcile", rule="settled", market_ticker=ticker, detail={"delta": delta})
                continue
            drifting[ticker] = delta
        self.confirmer.forget(confirmed)
        if not drifting:
            return
        ours_before = self.ledger.positions()
        repaired: dict[str, int] = {}
        for ticker in drifting:
            fills = list(self._api.iter_fills_since(self._baseline_ts - BASELINE_LOOKBACK_S, ticker))
            fresh = [f for f in new_fills(fills, ()) if not self.ledger.knows(f.fill_id)]
            repaired[ticker] = record_fills(self._api, self._db, fresh)  # the observer books them in the ledger
        after = position_deltas(self.ledger.positions(), self._positions(), drifting)
        for ticker, delta in drifting.items():
            detail = {
                "ledger_e2": ours_before.get(ticker, 0),
                "exchange_e2": exchange.get(ticker, 0),
                "difference_e2": delta,
                "fills_booked_now": repaired[ticker],
                "difference_after_e2": after.get(ticker, 0),
            }
            log.error("drift check: %s: %s", ticker, detail)
            self._db.log_risk_event(kind="drift", rule="position_mismatch", market_ticker=ticker, detail=detail)
        self.drifts.append(drifting)
        self._trading.halt(
            f"position drift in {len(drifting)} market(s): {', '.join(sorted(drifting))}", source="drift_check"
        )

    # --- adopted orders ------------------------------------------------------------------------------------

    def _book_adopted_fills(self, *, last: bool = False) -> None:
        """Book the fills of adopted orders nobody has booked (``last``: then stop watching them)."""
        with self._adopted_lock:
            watched = sorted(self._adopted_fills)
            if last:
                self._adopted_fills = set()
        for order_id in watched:
            fills = [f for f in self._api.get_fills(order_id=order_id).items if not self.ledger.knows(f.fill_id)]
            record_fills(self._api, self._db, new_fills(fills, ()))

    def _expire_adopted(self, *, final: bool) -> None:
        """Cancel adopted orders no running session claimed, once the claim deadline passed (or at shutdown)."""
        with self._adopted_lock:
            if not self._adopted or (not final and self._clock.time() < self._claim_deadline):
                return
            adopted, self._adopted = self._adopted, {}
        self._book_adopted_fills(last=True)  # up to here; a claiming session started before now books the rest
        live = tuple(
            session_prefix(str(r["market_ticker"]), str(r["trade_side"]))
            for r in self._db.open_runs()
            if float(r["start_ts"]) >= self.report.started_ts and r["trade_side"] in ("yes", "no")
        )
        resting = [o for o in self._api.get_orders(status=OrderStatus.RESTING) if o.order_id in adopted]
        unclaimed = [o for o in resting if final or not (live and o.client_order_id.startswith(live))]
        if not unclaimed:
            return
        tally = cancel_orders(self._api, unclaimed)
        for order_id in tally.cancelled:
            self._db.log_order_cancelled(order_id, reason="adopted orphan unclaimed")
        self._db.log_risk_event(
            kind="reconcile",
            rule="adopted_unclaimed",
            detail={"cancelled": tally.cancelled, "gone": tally.gone, "failed": tally.failed},
        )
        log.warning("recovery: cancelled %d adopted order(s) no session claimed", len(tally.cancelled))


def start_recovery(
    api: KalshiTradingAPI, db: AnalyticsDB, clock: Clock, trading: TradingStateMachine, cfg: RecoveryConfig
) -> SafetyMonitor:
    """Run the start-up recovery, then start the monitor on its result; what ``Runtime.start`` calls once per
    process before any session exists. Raises :class:`RecoveryError` (fatal) when either cannot complete."""
    report = recover(api, db, clock, cfg)
    monitor = SafetyMonitor(
        api,
        db,
        clock,
        trading,
        report,
        drift_interval_s=cfg.drift_check_interval_seconds,
        confirm_checks=cfg.drift_confirm_checks,
        adopt_claim_s=cfg.adopt_claim_seconds,
    )
    try:
        monitor.start()
    except ApiError as exc:
        raise RecoveryError(f"start-up recovery: reading the baseline positions failed: {exc}") from exc
    return monitor
