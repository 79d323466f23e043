"""A session's Kalshi order group: the exchange-side kill switch (NOTES.md §3.10).

Every order a session places belongs to its own order group, created when the session starts with a contracts
limit of ``order_group_limit_multiple`` × the session's maximum position. When the group's orders match that
many contracts within Kalshi's rolling 15-second window, the *exchange* cancels all of them and refuses new
ones in the group: a runaway (a loop re-placing orders that keep filling) is cut even if this process is stuck.

Detecting the trip, so the session ends with the reason ``order_group_tripped``:

* WebSocket: the private channel ``order_group_updates`` (subscribed with the user fills) delivers
  ``event_type: triggered``; the store keeps the latest event per group and :meth:`SessionOrderGroup.tripped`
  reads it every cycle (no request).
* REST: ``GET /portfolio/order_groups/{id}`` carries no trip flag in Kalshi's spec (``is_auto_cancel_enabled``,
  ``orders``, ``contracts_limit_fp`` only), so without the WebSocket the trip is seen where it bites: the next
  create in the group is refused (409; the code is ``order_group_triggered`` in the embedded exchange, UNCONFIRMED
  for Kalshi), which :func:`is_group_trip` recognises. Until then the tripped group holds no order of ours.

The group is deleted when the session ends (Kalshi caps groups per user); a crash leaves it behind, and the
start-up recovery deletes the groups our database knows of. Owned by the session thread.
"""

from __future__ import annotations

import logging
import math
import threading

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.errors import ApiError, FatalError, NotFoundError, RejectedError, TransientError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.clock import Clock
from kalshi_mm.state.store import MarketStateStore

__all__ = ["SessionOrderGroup", "group_limit_e2", "is_group_trip"]

OPEN_ATTEMPTS = 4  # creates of a session's order group before the session gives up (faults)
OPEN_BACKOFF_S = 1.0  # clock seconds before the first retry, doubling


def group_limit_e2(multiple: float, max_position_e2: int) -> int | None:
    """The group's contracts limit (1/100 contract, whole contracts, at least one): ``multiple`` × the session's
    maximum position, rounded up; None (no group) when ``multiple`` is 0."""
    if multiple <= 0:
        return None
    contracts = max(1, math.ceil(multiple * max_position_e2 / 100))
    return contracts * 100


def is_group_trip(exc: BaseException) -> bool:
    """A create refused because its order group has tripped (see the module docstring)."""
    if not isinstance(exc, RejectedError) or isinstance(exc, NotFoundError):
        return False
    text = f"{exc.code} {exc.details} {exc.message}".lower()
    return "order_group" in text or "order group" in text


class SessionOrderGroup:
    """Creates, watches and deletes one session's order group (module docstring)."""

    def __init__(
        self,
        api: KalshiTradingAPI,
        store: MarketStateStore,
        db: AnalyticsDB,
        ticker: str,
        run_id: int | None,
        logger: logging.Logger,
        limit_e2: int,
    ) -> None:
        self._api, self._store, self._db = api, store, db
        self._ticker, self._run_id, self._log = ticker, run_id, logger
        self.limit_e2 = limit_e2
        self.group_id: str | None = None
        self.trip_source: str | None = None

    def open(self, clock: Clock, stop: threading.Event | None = None) -> str:
        """Create the group; a session must not quote without its kill switch, so errors propagate — after
        :data:`OPEN_ATTEMPTS` tries on transient ones (5xx, 429, timeouts), ``OPEN_BACKOFF_S`` clock seconds apart
        (doubling). The create is not idempotent: a retry after a lost response leaves an extra, empty group on
        the exchange, which holds no order and so can cut nothing; start-up recovery deletes the groups it knows."""
        backoff = OPEN_BACKOFF_S
        for attempt in range(1, OPEN_ATTEMPTS + 1):
            try:
                self.group_id = self._api.create_order_group(self.limit_e2)
                break
            except TransientError as exc:
                if attempt == OPEN_ATTEMPTS:
                    raise
                self._log.warning("%s: order group create failed (%s); retry %d", self._ticker, exc, attempt)
                if clock.wait(backoff, stop):
                    raise
                backoff *= 2
        assert self.group_id is not None
        self._log.info("%s: order group %s (limit %d e2 per 15 s)", self._ticker, self.group_id, self.limit_e2)
        return self.group_id

    def tripped(self) -> bool:
        """Whether the WebSocket reported the group triggered (cheap: a store read)."""
        if self.group_id is None or self.trip_source is not None:
            return self.trip_source is not None
        update = self._store.get_order_group(self.group_id)
        if update is not None and update.event_type == "triggered":
            self.record_trip("order_group_updates")
        return self.trip_source is not None

    def record_trip(self, source: str) -> None:
        """Note the trip once: log it and write a ``risk_events`` row (kind 'order_group')."""
        if self.trip_source is not None:
            return
        self.trip_source = source
        self._log.error(
            "%s: order group %s tripped (limit %d e2 matched within 15 s; seen via %s): the exchange cancelled "
            "its orders",
            self._ticker,
            self.group_id,
            self.limit_e2,
            source,
        )
        self._db.log_risk_event(
            kind="order_group",
            rule="triggered",
            market_ticker=self._ticker,
            run_id=self._run_id,
            detail={"order_group_id": self.group_id, "contracts_limit_e2": self.limit_e2, "source": source},
        )

    def close(self) -> None:
        """Delete the group (it cancels any order still in it). Never raises: this runs on every ending."""
        if self.group_id is None:
            return
        try:
            self._api.delete_order_group(self.group_id)
        except NotFoundError:
            pass
        except FatalError:
            self._log.exception("%s: deleting order group %s failed", self._ticker, self.group_id)
        except ApiError as exc:
            self._log.warning("%s: deleting order group %s failed: %s", self._ticker, self.group_id, exc)
        else:
            self._log.info("%s: order group %s deleted", self._ticker, self.group_id)
