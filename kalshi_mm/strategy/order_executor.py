"""The thin executor under :func:`~kalshi_mm.strategy.order_manager.plan_order_actions`: sends a plan's
actions through the REST client, keeps the session's table of live orders, and records order events.

Owned by one session thread (DESIGN.md #1): nothing else mutates the table, so it has no lock.

Error handling per action (the taxonomy of :mod:`kalshi_mm.api.errors`):

* :class:`PostOnlyCrossError` — the book moved under us: skip that side this cycle.
* :class:`TradingPausedError`, :class:`MarketClosedError` — stop: reported as the outcome's ``halt``.
* :class:`NotFoundError` on amend/cancel — the order is gone (filled or cancelled by the exchange): drop it
  and re-read resting orders next cycle.
* :class:`OrderOutcomeUnknownError` on create — the order may exist: its side gets no new order until a
  re-read by client_order_id resolves it (so a side never carries two orders).
* any other rejection or transient error — skip the side, retry next cycle (after a re-read when our view
  may be wrong). A failed cancel also blocks the place behind it on that side. Cancels themselves are never
  blocked: pulling an order is always safe.
* fatal errors propagate: the session faults.

Risk (optional ``risk``, a :class:`~kalshi_mm.risk.gate.SessionRisk`): every create and amend is checked (and
reserved) just before it is sent; a veto skips the side this cycle. Orders the trading state no longer allows to rest
are cancelled first, and after each batch the account's exposure book mirrors the live table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.errors import (
    ApiError,
    FatalError,
    MarketClosedError,
    NotFoundError,
    OrderOutcomeUnknownError,
    PostOnlyCrossError,
    RejectedError,
    TradingPausedError,
    TransientError,
)
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import BookSide, Order, OrderAck, OrderStatus, SelfTradePrevention, TimeInForce
from kalshi_mm.risk.checks import Veto
from kalshi_mm.risk.gate import SessionRisk
from kalshi_mm.strategy.order_group import is_group_trip
from kalshi_mm.strategy.order_manager import Amend, Cancel, Keep, LiveOrder, OrderAction, Place
from kalshi_mm.strategy.session import ClientIds, StopReason

__all__ = ["ExecOutcome", "OrderExecutor", "db_sides"]

# Seconds before a failed create that the look-up of its client_order_id starts (exchange vs our clock skew).
LOOKUP_SLACK_S = 120


@dataclass
class ExecOutcome:
    """What one plan's execution left: sides skipped this cycle, the halt reason if the market stopped us,
    and counts of the requests sent (for logs and tests)."""

    skipped: set[BookSide] = field(default_factory=set)
    halt: StopReason | None = None
    sent: dict[str, int] = field(default_factory=lambda: {"place": 0, "amend": 0, "cancel": 0})
    vetoed: int = 0  # creates/amends the risk gate refused (not sent)


class RiskVetoed(Exception):
    """The risk gate refused a create or amend (raised before anything is sent)."""

    def __init__(self, veto: Veto):
        super().__init__(veto.rule)
        self.veto = veto


def db_sides(side: BookSide) -> tuple[Literal["yes", "no"], Literal["bid", "ask"]]:
    """The analytics database's (outcome_side, book_side) of a YES-leg side: a bid buys YES, an ask buys NO."""
    return ("yes", "bid") if side is BookSide.BID else ("no", "ask")


class OrderExecutor:
    """The session's orders on one market (YES leg); see the module docstring."""

    def __init__(
        self,
        api: KalshiTradingAPI,
        ticker: str,
        ids: ClientIds,
        db: AnalyticsDB,
        run_id: int,
        logger: logging.Logger,
        *,
        cancel_order_on_pause: bool = True,
        risk: SessionRisk | None = None,
        order_group_id: str | None = None,
    ):
        self._api = api
        self.order_group_id = order_group_id  # the session's Kalshi order group: every create joins it
        self._risk = risk
        self._ticker = ticker
        self.ids = ids
        self._db = db
        self._run_id = run_id
        self._log = logger
        self._cancel_on_pause = cancel_order_on_pause
        self._live: dict[str, LiveOrder] = {}
        self._applied: dict[str, int] = {}  # fill size seen per order id, so acks and fills never double count
        self._known: set[str] = set()  # every order id this run placed (fills of finished orders still count)
        self._unresolved: dict[str, BookSide] = {}  # client ids of creates whose outcome is unknown
        self._unresolved_since: dict[str, float] = {}  # ... and when each failed (the client's clock, Unix s)
        self.needs_sync = False
        self.newly_known: set[str] = set()  # ids learned by a re-read; the fill tracker rescans for them

    # --- reads ---------------------------------------------------------------------------------------------

    def orders(self) -> tuple[LiveOrder, ...]:
        return tuple(self._live.values())

    def owns(self, order_id: str, client_order_id: str | None = None) -> bool:
        """Whether a fill of ``order_id`` (carrying ``client_order_id`` when the WebSocket gave one) belongs to
        this run's orders: one it placed or adopted, or a create whose response was lost."""
        return order_id in self._known or self.ids.this_run(client_order_id)

    def apply_fill(
        self,
        order_id: str,
        count_e2: int,
        *,
        side: BookSide | None = None,
        price_e4: int | None = None,
        fee_e4: int = 0,
        client_order_id: str | None = None,
    ) -> bool:
        """Account a fill of one of our orders; True when the order is now fully filled. With ``side`` and
        ``price_e4`` (YES leg) the fill also reaches the risk book."""
        if self._risk is not None and side is not None and price_e4 is not None:
            known = self._live.get(order_id)
            key = (known.client_order_id or known.order_id) if known is not None else client_order_id
            self._risk.on_fill(key, side, price_e4, count_e2, fee_e4)
        applied = self._applied.get(order_id, 0) + count_e2
        self._applied[order_id] = applied
        order = self._live.get(order_id)
        if order is None:
            return False
        order = replace(order, filled_e2=max(order.filled_e2, applied))
        if order.remaining_e2 <= 0:
            del self._live[order_id]
            return True
        self._live[order_id] = order
        return False

    # --- writes --------------------------------------------------------------------------------------------

    def execute(
        self,
        actions: Sequence[OrderAction],
        *,
        post_only: bool = True,
        time_in_force: TimeInForce = TimeInForce.GOOD_TILL_CANCELED,
    ) -> ExecOutcome:
        """Run a plan in order (cancels, amends, places). Stops at the first halt; fatal errors propagate."""
        out = ExecOutcome()
        actions = self._with_risk_pulls(actions)
        blocked = set(self._unresolved.values())  # a create of unknown outcome may be resting there
        for action in actions:
            if isinstance(action, Keep):
                continue
            side = action.side
            if side in blocked and not isinstance(action, Cancel):  # pulling an order is always allowed
                out.skipped.add(side)
                continue
            try:
                if isinstance(action, Cancel):
                    out.sent["cancel"] += 1
                    self._cancel(action.order, action.reason)
                elif isinstance(action, Amend):
                    out.sent["amend"] += 1
                    self._amend(action)
                else:
                    out.sent["place"] += 1
                    self._place(action, post_only, time_in_force)
            except RiskVetoed:
                out.skipped.add(side)
                out.vetoed += 1
            except (TradingPausedError, MarketClosedError) as exc:
                paused = isinstance(exc, TradingPausedError)
                out.halt = StopReason.TRADING_PAUSED if paused else StopReason.MARKET_CLOSED
                self._log.warning("%s: %s on %s: %s", self._ticker, type(action).__name__.lower(), side.value, exc)
                break
            except FatalError:
                raise
            except ApiError as exc:
                if is_group_trip(exc):  # the exchange tripped our order group: nothing more can be placed
                    out.halt = StopReason.ORDER_GROUP_TRIPPED
                    self._log.error("%s: %s refused, order group tripped: %s", self._ticker, side.value, exc)
                    break
                self._on_error(action, exc)
                out.skipped.add(side)
                blocked.add(side)
        self._mirror_risk()
        return out

    # --- risk (kalshi_mm.risk) -----------------------------------------------------------------------------

    def _with_risk_pulls(self, actions: Sequence[OrderAction]) -> Sequence[OrderAction]:
        """Cancels first for live orders the trading state no longer allows to rest (HALTED: all; REDUCING:
        those adding exposure); the plan's other actions on those orders are dropped."""
        if self._risk is None:
            return actions
        pull = set(self._risk.must_pull(self._live.values()))
        if not pull:
            return actions
        cancels: list[OrderAction] = [Cancel(o, "risk_state") for o in self._live.values() if o.order_id in pull]
        rest = [a for a in actions if isinstance(a, Place) or a.order.order_id not in pull]
        return cancels + rest

    def _check_risk(
        self, side: BookSide, price_e4: int, size_e2: int, cid: str, order: LiveOrder | None = None
    ) -> None:
        """Check (and reserve) a create under ``cid``, or an amend of ``order``; raise :class:`RiskVetoed`."""
        if self._risk is None:
            return
        live, in_flight = self._live.values(), self._unresolved.keys()
        if order is None:
            decision = self._risk.check_place(cid, side, price_e4, size_e2, live, in_flight)
        else:
            decision = self._risk.check_amend(order, price_e4, size_e2, live, in_flight)
        if isinstance(decision, Veto):
            raise RiskVetoed(decision)

    def _mirror_risk(self) -> None:
        if self._risk is not None:
            self._risk.mirror(self._live.values(), self._unresolved.keys())

    def _on_error(self, action: OrderAction, exc: ApiError) -> None:
        what = type(action).__name__.lower()
        if isinstance(exc, PostOnlyCrossError):
            self._log.info("%s: %s would cross (post-only); skipping the side this cycle", self._ticker, what)
            return
        if isinstance(exc, NotFoundError) and isinstance(action, (Cancel, Amend)):
            self._live.pop(action.order.order_id, None)  # filled or cancelled by the exchange meanwhile
        if isinstance(exc, OrderOutcomeUnknownError):
            self._unresolved[exc.client_order_id] = action.side
            now = self._now()
            if now is not None:
                self._unresolved_since.setdefault(exc.client_order_id, now)
        # A rejected amend or a lost response leaves our view of the side uncertain: re-read before acting.
        self.needs_sync = self.needs_sync or isinstance(exc, (RejectedError, TransientError))
        level = logging.INFO if isinstance(exc, NotFoundError) else logging.WARNING
        self._log.log(level, "%s: %s on %s failed: %s", self._ticker, what, action.side.value, exc)

    def _place(self, action: Place, post_only: bool, tif: TimeInForce) -> None:
        cid = self.ids.next()
        self._check_risk(action.side, action.price_e4, action.size_e2, cid)
        # The intent is queued before the create is sent (see kalshi_mm.analytics.safety): a crash or a lost
        # response leaves a record the start-up recovery resolves on the exchange.
        self._db.log_order_intent(
            client_order_id=cid,
            market_ticker=self._ticker,
            book_side=db_sides(action.side)[1],
            price_e4=action.price_e4,
            count_e2=action.size_e2,
            run_id=self._run_id,
        )
        try:
            ack = self._api.place_order(
                self._ticker,
                action.side,
                action.price_e4,
                action.size_e2,
                time_in_force=tif,
                self_trade_prevention=SelfTradePrevention.TAKER_AT_CROSS,
                post_only=post_only,
                client_order_id=cid,
                cancel_order_on_pause=self._cancel_on_pause,
                order_group_id=self.order_group_id,
            )
        except (RejectedError, TransientError) as exc:
            # Refused, or certainly never executed (429, refused connection): no order. An unknown outcome
            # (OrderOutcomeUnknownError) stays pending until sync() or the next start-up resolves it.
            if isinstance(exc, RejectedError) or exc.executed is False:
                self._db.resolve_order_intent(cid, "rejected" if isinstance(exc, RejectedError) else "not_found")
            raise
        self._db.resolve_order_intent(cid, "placed", ack.order_id)
        self._adopt(ack, action.side, action.price_e4, action.size_e2)

    def _adopt(self, ack: OrderAck, side: BookSide, price_e4: int, count_e2: int) -> None:
        self._known.add(ack.order_id)
        filled = max(ack.fill_count_e2 or 0, self._applied.get(ack.order_id, 0))
        order = LiveOrder(ack.order_id, ack.client_order_id, side, price_e4, count_e2, filled)
        resting = ack.remaining_count_e2 if ack.remaining_count_e2 is not None else order.remaining_e2
        if resting > 0 and order.remaining_e2 > 0:
            self._live[ack.order_id] = order
        self._log_placed(ack.order_id, ack.client_order_id, side, price_e4, count_e2, self.order_group_id)
        self._log.debug("%s: placed %s %d @ %d (%s)", self._ticker, side.value, count_e2, price_e4, ack.order_id)

    def _log_placed(
        self,
        order_id: str,
        client_order_id: str,
        side: BookSide,
        price_e4: int,
        count_e2: int,
        order_group_id: str | None = None,
    ) -> None:
        outcome_side, book_side = db_sides(side)
        self._db.log_order_placed(
            order_id=order_id,
            market_ticker=self._ticker,
            outcome_side=outcome_side,
            book_side=book_side,
            price_e4=price_e4,
            count_e2=count_e2,
            run_id=self._run_id,
            client_order_id=client_order_id or None,
            order_group_id=order_group_id,
        )

    def _amend(self, action: Amend) -> None:
        order = action.order
        self._check_risk(order.side, action.price_e4, action.size_e2, order.client_order_id, order)
        self._api.amend_order(
            order.order_id,
            self._ticker,
            order.side,
            action.price_e4,
            action.total_count_e2,
            client_order_id=order.client_order_id or None,
        )
        self._live[order.order_id] = LiveOrder(
            order.order_id, order.client_order_id, order.side, action.price_e4, action.total_count_e2, order.filled_e2
        )
        self._db.log_order_amended(order.order_id, price_e4=action.price_e4, count_e2=action.total_count_e2)
        self._log.debug(
            "%s: amended %s %s -> %d @ %d (queue kept: %s)",
            self._ticker,
            order.order_id,
            order.side.value,
            action.size_e2,
            action.price_e4,
            action.keeps_priority,
        )

    def _cancel(self, order: LiveOrder, reason: str) -> None:
        self._api.cancel_order(order.order_id, self._ticker)
        self._live.pop(order.order_id, None)
        self._db.log_order_cancelled(order.order_id, reason=reason)

    # --- reconciliation ------------------------------------------------------------------------------------

    def _resting_of_session(self) -> list[Order]:
        resting = self._api.get_orders(self._ticker, status=OrderStatus.RESTING)
        return [o for o in resting if self.ids.owns(o.client_order_id)]

    def _now(self) -> float | None:
        clock = getattr(self._api, "clock", None)  # the REST client's injected clock
        return clock.time() if clock is not None else None

    def sync(self) -> None:
        """Replace the live table with the exchange's resting orders of this session, and resolve creates
        whose outcome was unknown (by client_order_id, any status). Transient errors leave the flag set."""
        try:
            resting = self._resting_of_session()
            for cid in list(self._unresolved):
                # Orders created from a little before the failed create on: not the market's whole history.
                since = self._unresolved_since.get(cid)
                min_ts = None if since is None else int(since) - LOOKUP_SLACK_S
                found = self._api.find_order_by_client_id(self._ticker, cid, min_ts=min_ts)
                if found is None:
                    self._db.resolve_order_intent(cid, "not_found")
                else:
                    self._db.resolve_order_intent(cid, "placed", found.order_id)
                if found is not None and found.order_id not in self._known:
                    self._known.add(found.order_id)
                    self.newly_known.add(found.order_id)
                    self._log_placed(
                        found.order_id, cid, found.side, found.price_e4, found.initial_count_e2, found.order_group_id
                    )
                    self._log.info("%s: create %s resolved: order %s", self._ticker, cid, found.order_id)
                del self._unresolved[cid]
                self._unresolved_since.pop(cid, None)
        except TransientError as exc:
            self._log.warning("%s: resting-order sync failed, retrying next cycle: %s", self._ticker, exc)
            self.needs_sync = True
            return
        live: dict[str, LiveOrder] = {}
        for o in resting:
            if o.order_id not in self._known:
                # Ours by prefix but not this run's (unknown create, or a previous incarnation): adopt it, so
                # the plan keeps, amends or cancels it like any other, and its fills count.
                self._known.add(o.order_id)
                self.newly_known.add(o.order_id)
                self._log_placed(
                    o.order_id, o.client_order_id, o.side, o.price_e4, o.initial_count_e2, o.order_group_id
                )
            filled = max(o.fill_count_e2, self._applied.get(o.order_id, 0))
            live[o.order_id] = LiveOrder(
                o.order_id, o.client_order_id, o.side, o.price_e4, o.fill_count_e2 + o.remaining_count_e2, filled
            )
        self._live = {k: v for k, v in live.items() if v.remaining_e2 > 0}
        self.needs_sync = False
        self._mirror_risk()

    def cancel_strays(self) -> int:
        """Cancel every resting order carrying this market/side's prefix (left by an earlier run); count."""
        strays = self._resting_of_session()
        for order in strays:
            self._cancel_quietly(order.order_id, "stray")
        if strays:
            self._log.warning("%s: cancelled %d stray order(s) of an earlier session", self._ticker, len(strays))
        return len(strays)

    def _cancel_quietly(self, order_id: str, reason: str) -> bool:
        try:
            self._api.cancel_order(order_id, self._ticker)
        except NotFoundError:
            self._live.pop(order_id, None)
            return True
        except ApiError as exc:
            self._log.warning("%s: cancel of %s failed: %s", self._ticker, order_id, exc)
            return False
        self._live.pop(order_id, None)
        self._db.log_order_cancelled(order_id, reason=reason)
        return True

    def cancel_all(self, reason: str, *, attempts: int = 3) -> bool:
        """Cancel every order of this session: the known ones, then whatever the exchange still shows with
        our prefix (creates never confirmed). True once the exchange shows none; errors are logged, not raised,
        because this is the path every ending takes."""
        for attempt in range(attempts):
            for order in list(self._live.values()):
                self._cancel_quietly(order.order_id, reason)
            try:
                left = self._resting_of_session()
            except ApiError as exc:
                self._log.warning("%s: listing resting orders failed (attempt %d): %s", self._ticker, attempt + 1, exc)
                continue
            if not left:
                self._live.clear()
                self._unresolved.clear()
                self._unresolved_since.clear()
                self._mirror_risk()
                return True
            for o in left:
                self._live[o.order_id] = LiveOrder(
                    o.order_id,
                    o.client_order_id,
                    o.side,
                    o.price_e4,
                    o.fill_count_e2 + o.remaining_count_e2,
                    o.fill_count_e2,
                )
                self._known.add(o.order_id)
        self._log.error("%s: could not confirm that all session orders are cancelled", self._ticker)
        return False

    def forget_newly_known(self) -> Iterable[str]:
        ids, self.newly_known = self.newly_known, set()
        return ids
