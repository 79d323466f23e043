"""Order entry of :class:`~kalshi_mm.api.rest.KalshiTradingAPI` through the V2 endpoints (NOTES.md §3.8): create,
amend, decrease, cancel, batches, cancel-all (order groups: :mod:`kalshi_mm.api.rest_groups`).

Idempotency, per call:

* **create** (single and batch) carries a ``client_order_id`` (generated when the caller gives none). When the
  outcome is unknown (timeout, dropped connection, 5xx) the order is looked up by ``client_order_id`` before
  anything is re-sent; a re-send reuses the id, so the exchange answers 409 ``order_already_exists`` rather than
  doubling the order, and a 409 on our own retry means "it exists: fetch it".
* **cancel**, batch cancel, cancel-all, decrease-to, order-group reset/trigger/limit/delete are idempotent and
  retried like GETs.
* **amend** is resolved by reading the order back (does it already carry the new price and size?).
* decrease-by and order-group create are retried only when the exchange certainly did not act (429, refused).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from kalshi_mm.api.errors import (
    ApiError,
    OrderAlreadyExistsError,
    OrderOutcomeUnknownError,
    TransientError,
)
from kalshi_mm.api.ratelimit import DEFAULT_COST, Priority
from kalshi_mm.api.rest_market import query
from kalshi_mm.api.rest_portfolio import PortfolioMixin
from kalshi_mm.api.types import (
    BatchCancelResult,
    BatchCreateResult,
    BookSide,
    CancelAck,
    DecreaseAck,
    Order,
    OrderAck,
    OrderRequest,
    SelfTradePrevention,
    TimeInForce,
)
from kalshi_mm.api.wire_portfolio import (
    ack_from_order,
    encode_order,
    parse_batch_cancel,
    parse_batch_create,
    parse_cancel_ack,
    parse_decrease_ack,
    parse_order_ack,
)
from kalshi_mm.units import format_count, format_price

__all__ = ["OrdersMixin", "new_client_order_id"]

log = logging.getLogger("kalshi_mm.api.rest")

ORDERS = "/portfolio/events/orders"
BATCH = "/portfolio/events/orders/batched"
# Kalshi caps batches (20 in the legacy API); the tier's write bucket may cap them lower (Basic: 10 creates).
MAX_BATCH_ITEMS = 20
# A lost create is searched among orders created since this long before we sent it (absorbs clock skew).
LOOKUP_WINDOW_S = 300


def new_client_order_id() -> str:
    """A fresh idempotency key: 36 characters of ``[a-z0-9-]``, inside Kalshi's 64-character limit."""
    return f"kmm-{uuid.uuid4().hex}"


def _matches(order: Order, request: OrderRequest) -> bool:
    """The order found under our client_order_id is the one we asked for (not a reused id's older order)."""
    return (
        order.side is request.side and order.price_e4 == request.price_e4 and order.initial_count_e2 == request.count_e2
    )


class OrdersMixin(PortfolioMixin):
    """Order-entry methods; the composing class provides ``_http``."""

    # --- create --------------------------------------------------------------------------------------------

    def place_order(
        self,
        ticker: str,
        side: BookSide,
        price_e4: int,
        count_e2: int,
        *,
        time_in_force: TimeInForce = TimeInForce.GOOD_TILL_CANCELED,
        self_trade_prevention: SelfTradePrevention = SelfTradePrevention.TAKER_AT_CROSS,
        post_only: bool = False,
        reduce_only: bool = False,
        client_order_id: str | None = None,
        expiration_ts: int | None = None,
        order_group_id: str | None = None,
        cancel_order_on_pause: bool = False,
    ) -> OrderAck:
        """A limit order on the YES leg: ``side`` bid buys YES, ask sells YES (≡ buys NO at 1 − price).
        ``price_e4`` in 1/10,000 dollar, ``count_e2`` in 1/100 contract, ``expiration_ts`` Unix seconds."""
        return self.create_order(
            OrderRequest(
                ticker=ticker,
                side=side,
                price_e4=price_e4,
                count_e2=count_e2,
                time_in_force=time_in_force,
                self_trade_prevention=self_trade_prevention,
                post_only=post_only,
                reduce_only=reduce_only,
                client_order_id=client_order_id,
                expiration_ts=expiration_ts,
                order_group_id=order_group_id,
                cancel_order_on_pause=cancel_order_on_pause,
            )
        )

    def create_order(self, request: OrderRequest) -> OrderAck:
        """Create ``request`` exactly once (see the module docstring) and return its ack.

        Re-sending a request with the ``client_order_id`` of an order that already exists (e.g. to resolve an
        earlier OrderOutcomeUnknownError) returns that order's ack with ``recovered=True``; an id held by a
        different order raises OrderAlreadyExistsError. Other rejections (post-only cross, balance too low, ...)
        raise as the exchange sent them; :class:`OrderOutcomeUnknownError` when retries ran out without the
        order being confirmed or ruled out."""
        cid = request.client_order_id or new_client_order_id()
        body = encode_order(request, cid)
        since = int(self._http.clock.time()) - LOOKUP_WINDOW_S
        last: TransientError | None = None
        for attempt in range(self._http.max_retries + 1):
            if last is not None:
                self._http.backoff(attempt - 1, last)
            try:
                reply = self._http.send("POST", ORDERS, body=body, priority=Priority.ORDER)
                return parse_order_ack(reply.data, request.side, cid)
            except OrderAlreadyExistsError:
                found = self._find_created(request, cid, since)
                if found is None:
                    raise  # a different order of ours holds this id: the caller's to resolve
                return ack_from_order(found)
            except TransientError as error:
                last = error
                if error.executed is False:
                    continue
                found = self._find_created(request, cid, since)
                if found is not None:
                    return ack_from_order(found)
        assert last is not None  # the loop runs at least once and only falls through after a transient error
        if last.executed is False:
            raise last
        raise OrderOutcomeUnknownError(
            f"create {cid} on {request.ticker} unconfirmed after retries ({last})",
            client_order_id=cid,
            ticker=request.ticker,
            method="POST",
            path=ORDERS,
        )

    def _find_created(self, request: OrderRequest, cid: str, since: int) -> Order | None:
        """Our order under ``cid`` if it exists and is the one requested; None when absent or not checkable."""
        try:
            found = self.find_order_by_client_id(request.ticker, cid, min_ts=since)
        except TransientError as error:
            log.warning("look-up of order %s on %s failed: %s", cid, request.ticker, error)
            return None
        if found is not None and not _matches(found, request):
            log.error("client_order_id %s on %s belongs to a different order %s", cid, request.ticker, found.order_id)
            return None
        return found

    # --- amend, decrease, cancel ---------------------------------------------------------------------------

    def amend_order(
        self,
        order_id: str,
        ticker: str,
        side: BookSide,
        price_e4: int,
        count_e2: int,
        *,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
        expiration_ts: int | None = None,
    ) -> OrderAck:
        """Move a resting order to ``price_e4`` with ``count_e2`` = total max fillable (already filled + the
        desired resting remainder). A lost response is resolved by reading the order back."""
        body: dict[str, Any] = {
            "ticker": ticker,
            "side": side.value,
            "price": format_price(price_e4),
            "count": format_count(count_e2),
        }
        if client_order_id:
            body["client_order_id"] = client_order_id
        if updated_client_order_id:
            body["updated_client_order_id"] = updated_client_order_id
        if expiration_ts is not None:
            body["expiration_time"] = int(expiration_ts)
        path = f"{ORDERS}/{order_id}/amend"
        last: TransientError | None = None
        for attempt in range(self._http.max_retries + 1):
            if last is not None:
                self._http.backoff(attempt - 1, last)
            try:
                reply = self._http.send("POST", path, body=body, priority=Priority.ORDER)
                return parse_order_ack(reply.data, side, client_order_id or "")
            except TransientError as error:
                last = error
                if error.executed is False:
                    continue
                try:
                    order = self.get_order(order_id)
                except TransientError:
                    continue
                amended = order.price_e4 == price_e4 and order.fill_count_e2 + order.remaining_count_e2 == count_e2
                if amended and (not updated_client_order_id or order.client_order_id == updated_client_order_id):
                    return ack_from_order(order)
        assert last is not None
        raise last

    def decrease_order(
        self,
        order_id: str,
        *,
        reduce_by_e2: int | None = None,
        reduce_to_e2: int | None = None,
        ticker: str | None = None,
    ) -> DecreaseAck:
        """Shrink a resting order by, or to, a count (1/100 contract); reducing to 0 cancels it."""
        if (reduce_by_e2 is None) == (reduce_to_e2 is None):
            raise ValueError("give exactly one of reduce_by_e2 and reduce_to_e2")
        body: dict[str, Any] = (
            {"reduce_by": format_count(reduce_by_e2)}
            if reduce_by_e2 is not None
            else {"reduce_to": format_count(reduce_to_e2 or 0)}
        )
        if ticker:
            body["market_ticker"] = ticker
        reply = self._http.request(
            "POST",
            f"{ORDERS}/{order_id}/decrease",
            body=body,
            priority=Priority.CANCEL,
            idempotent=reduce_to_e2 is not None,
        )  # "to" twice is "to" once; "by" is not
        return parse_decrease_ack(reply.data)

    def cancel_order(self, order_id: str, ticker: str | None = None) -> CancelAck:
        """Cancel a resting order; pass ``ticker`` so sharded markets route. NotFoundError when it is not
        resting (already cancelled or filled; also what a retry after a lost success sees)."""
        reply = self._http.request(
            "DELETE",
            f"{ORDERS}/{order_id}",
            params=query(market_ticker=ticker),
            idempotent=True,
            priority=Priority.CANCEL,
        )
        return parse_cancel_ack(reply.data)

    def cancel_all_orders(self) -> None:
        """Cancel every resting order of the account (orders placed within the next minute may go too)."""
        self._http.request("DELETE", ORDERS, idempotent=True, priority=Priority.CANCEL)

    # --- batches -------------------------------------------------------------------------------------------

    def _batch_size(self, cost_per_item: int) -> int:
        return max(1, min(MAX_BATCH_ITEMS, int(self._http.limiter.capacity("write") // cost_per_item)))

    def batch_create_orders(self, requests: Sequence[OrderRequest]) -> list[BatchCreateResult]:
        """Create many orders, in batches that fit the tier's write bucket; one result per request, in order.

        A rejected item carries its RejectedError; an item whose batch could not be sent or confirmed carries
        the transient error (:class:`OrderOutcomeUnknownError` when it may exist). Items are never doubled.
        """
        pairs = [(r, r.client_order_id or new_client_order_id()) for r in requests]
        size = self._batch_size(DEFAULT_COST)
        out: list[BatchCreateResult] = []
        for start in range(0, len(pairs), size):
            out.extend(self._batch_create_chunk(pairs[start : start + size]))
        return out

    def _batch_create_chunk(self, pairs: list[tuple[OrderRequest, str]]) -> list[BatchCreateResult]:
        since = int(self._http.clock.time()) - LOOKUP_WINDOW_S
        results: dict[str, BatchCreateResult] = {}
        pending = pairs
        last: TransientError | None = None
        for attempt in range(self._http.max_retries + 1):
            if not pending:
                break
            if last is not None:
                self._http.backoff(attempt - 1, last)
            body = {"orders": [encode_order(request, cid) for request, cid in pending]}
            try:
                reply = self._http.send("POST", BATCH, body=body, priority=Priority.ORDER, batch_items=len(pending))
            except TransientError as error:
                last = error
                if error.executed is not False:
                    pending = self._recover_created(pending, results, since)
                continue
            requested = {cid: request for request, cid in pending}
            for item in parse_batch_create(reply.data, pending, BATCH):
                if isinstance(item.error, OrderAlreadyExistsError):
                    found = self._find_created(requested[item.client_order_id], item.client_order_id, since)
                    if found is not None:
                        item = BatchCreateResult(item.client_order_id, ack_from_order(found), None)
                results[item.client_order_id] = item
            pending = []
        for request, cid in pending:
            error: ApiError = (
                last
                if last is not None and last.executed is False
                else OrderOutcomeUnknownError(
                    f"create {cid} on {request.ticker} unconfirmed after retries ({last})",
                    client_order_id=cid,
                    ticker=request.ticker,
                    method="POST",
                    path=BATCH,
                )
            )
            results[cid] = BatchCreateResult(cid, None, error)
        return [results[cid] for _, cid in pairs]

    def _recover_created(
        self, pending: list[tuple[OrderRequest, str]], results: dict[str, BatchCreateResult], since: int
    ) -> list[tuple[OrderRequest, str]]:
        """Look the pending creates up by client_order_id (one listing per market); record the ones found."""
        try:
            existing: dict[str, Order] = {}
            for ticker in sorted({request.ticker for request, _ in pending}):
                existing.update((o.client_order_id, o) for o in self.iter_orders(ticker, min_ts=since))
        except TransientError as error:
            log.warning("look-up of %d batched creates failed: %s", len(pending), error)
            return pending
        still = []
        for request, cid in pending:
            found = existing.get(cid)
            if found is not None and _matches(found, request):
                results[cid] = BatchCreateResult(cid, ack_from_order(found), None)
            else:
                still.append((request, cid))
        return still

    def batch_cancel_orders(self, order_ids: Sequence[str], *, ticker: str | None = None) -> list[BatchCancelResult]:
        """Cancel many orders (of ``ticker`` when given, for routing); one result per id, in order. An id that
        is no longer resting comes back with a NotFoundError."""
        size = self._batch_size(2)
        out: list[BatchCancelResult] = []
        for start in range(0, len(order_ids), size):
            chunk = list(order_ids[start : start + size])
            items = [{"order_id": order_id, **({"market_ticker": ticker} if ticker else {})} for order_id in chunk]
            reply = self._http.request(
                "DELETE",
                BATCH,
                body={"orders": items},
                idempotent=True,
                priority=Priority.CANCEL,
                batch_items=len(chunk),
            )
            out.extend(parse_batch_cancel(reply.data, chunk, BATCH))
        return out
