"""Portfolio and V2 order-entry payloads <-> :mod:`kalshi_mm.api.types`, pure (same rules as
:mod:`kalshi_mm.api.wire`: lenient on evolving fields, strict on money).

Rounding of Kalshi's up-to-6-decimal money fields into 1/10,000 dollar is explicit and conservative: fees and
costs round UP (never understated), cash balance and realized P&L round DOWN (never overstated), an average
fill price rounds against us (UP for a bid, DOWN for an ask).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kalshi_mm.api.errors import WireError, classify_item_error
from kalshi_mm.api.types import (
    Balance,
    BatchCancelResult,
    BatchCreateResult,
    BookSide,
    CancelAck,
    DecreaseAck,
    EventPosition,
    Fill,
    MarketPosition,
    Order,
    OrderAck,
    OrderGroup,
    OrderRequest,
    Positions,
    Settlement,
)
from kalshi_mm.api.wire import Fields, book_side, items_of
from kalshi_mm.units import (
    Rounding,
    UnitError,
    format_count,
    format_price,
    is_tradable_price,
)

__all__ = [
    "ack_from_order",
    "encode_order",
    "parse_balance",
    "parse_batch_cancel",
    "parse_batch_create",
    "parse_cancel_ack",
    "parse_decrease_ack",
    "parse_fill",
    "parse_order",
    "parse_order_ack",
    "parse_order_group",
    "parse_positions",
    "parse_settlement",
]

UP, DOWN = Rounding.UP, Rounding.DOWN


def _name(raw: object, key: str) -> str:
    return str(raw.get(key, "?")) if isinstance(raw, Mapping) else "?"


# --- reads ----------------------------------------------------------------------------------------------------


def parse_balance(body: object, received_ts: float) -> Balance:
    """``balance_dollars`` (exact, May 2026+) when present, else the integer-cent ``balance``."""
    f = Fields(body, "balance")
    exact = f.raw.get("balance_dollars") is not None
    balance = f.cash("balance_dollars", DOWN) if exact else (f.cents("balance") or 0)
    # Lenient like every informational time (Unix s): a malformed or absurd one reads as None.
    return Balance(balance, f.cents("portfolio_value", required=False), f.opt_time("updated_ts"), received_ts)


def parse_market_position(raw: object) -> MarketPosition:
    f = Fields(raw, f"position {_name(raw, 'ticker')}")
    return MarketPosition(
        ticker=f.ident("ticker"),
        position_e2=f.signed_count("position_fp"),
        market_exposure_e4=f.cash("market_exposure_dollars", UP),
        total_traded_e4=f.cash("total_traded_dollars", UP, required=False),
        realized_pnl_e4=f.cash("realized_pnl_dollars", DOWN, required=False),
        fees_paid_e4=f.cash("fees_paid_dollars", UP, required=False),
        last_updated_ts=f.opt_time("last_updated_ts"),
    )


def parse_positions(body: object, received_ts: float) -> tuple[Positions, str]:
    """One page of ``GET /portfolio/positions`` and its cursor."""
    markets = tuple(parse_market_position(p) for p in items_of(body, "market_positions", "positions"))
    events = []
    for raw in items_of(body, "event_positions", "positions"):
        f = Fields(raw, f"event position {_name(raw, 'event_ticker')}")
        events.append(
            EventPosition(
                event_ticker=f.ident("event_ticker"),
                event_exposure_e4=f.cash("event_exposure_dollars", UP),
                total_cost_e4=f.cash("total_cost_dollars", UP, required=False),
                realized_pnl_e4=f.cash("realized_pnl_dollars", DOWN, required=False),
                fees_paid_e4=f.cash("fees_paid_dollars", UP, required=False),
            )
        )
    return Positions(markets, tuple(events), received_ts), Fields(body, "positions").text("cursor")


def parse_order(raw: object, received_ts: float) -> Order:
    f = Fields(raw, f"order {_name(raw, 'order_id')}")
    return Order(
        order_id=f.ident("order_id"),
        client_order_id=f.text("client_order_id"),
        ticker=f.ident("ticker"),
        side=book_side(f),
        status=f.text("status"),
        price_e4=f.price("yes_price_dollars"),
        initial_count_e2=f.count("initial_count_fp"),
        fill_count_e2=f.count("fill_count_fp"),
        remaining_count_e2=f.count("remaining_count_fp"),
        taker_fees_e4=f.cash("taker_fees_dollars", UP, required=False),
        maker_fees_e4=f.cash("maker_fees_dollars", UP, required=False),
        taker_fill_cost_e4=f.cash("taker_fill_cost_dollars", UP, required=False),
        maker_fill_cost_e4=f.cash("maker_fill_cost_dollars", UP, required=False),
        created_ts=f.opt_time("created_time"),
        last_update_ts=f.opt_time("last_update_time"),
        expiration_ts=f.opt_time("expiration_time"),
        order_group_id=f.text("order_group_id") or None,
        received_ts=received_ts,
    )


def parse_fill(raw: object) -> Fill:
    """A ``Fill``; ``fee_cost`` (Jan 2026+) is required: a fill without its fee would understate costs."""
    # The dedupe key: a non-string id (a null one would have become "None") must not stand in for it.
    ids = [raw.get(key) for key in ("fill_id", "trade_id")] if isinstance(raw, Mapping) else []
    fill_id = next((i for i in ids if isinstance(i, str) and i), "?")
    f = Fields(raw, f"fill {fill_id}")
    if fill_id == "?":
        raise f.fail("fill_id", "missing (and no trade_id)")
    # created_time (RFC 3339) is current; the legacy integer ts (Unix s) stands in when it is missing.
    created_key = "created_time" if f.raw.get("created_time") is not None else "ts"
    return Fill(
        fill_id=fill_id,
        order_id=f.ident("order_id"),
        ticker=f.text("ticker") or f.ident("market_ticker"),
        side=book_side(f),
        count_e2=f.count("count_fp"),
        yes_price_e4=f.price("yes_price_dollars"),
        is_taker=f.flag("is_taker"),
        fee_e4=f.cash("fee_cost", UP),
        created_ts=f.time(created_key),
    )


def parse_settlement(raw: object) -> Settlement:
    f = Fields(raw, f"settlement {_name(raw, 'ticker')}")
    revenue = f.cents("revenue")
    return Settlement(
        ticker=f.ident("ticker"),
        event_ticker=f.text("event_ticker"),
        market_result=f.text("market_result"),
        yes_count_e2=f.count("yes_count_fp"),
        no_count_e2=f.count("no_count_fp"),
        yes_total_cost_e4=f.cash("yes_total_cost_dollars", UP),
        no_total_cost_e4=f.cash("no_total_cost_dollars", UP),
        revenue_e4=revenue or 0,
        fee_e4=f.cash("fee_cost", UP, required=False),
        value_e4=f.cents("value", required=False),
        settled_ts=f.time("settled_time"),
    )


def parse_order_group(raw: object, order_group_id: str | None = None) -> OrderGroup:
    """An item of ``GET /portfolio/order_groups`` (``id``) or the body of ``GET .../{id}`` (id passed in)."""
    f = Fields(raw, f"order group {order_group_id or _name(raw, 'id')}")
    return OrderGroup(
        order_group_id=order_group_id or f.ident("id"),
        is_auto_cancel_enabled=f.flag("is_auto_cancel_enabled", True),
        contracts_limit_e2=f.opt_count("contracts_limit_fp"),
        order_ids=f.strings("orders"),
    )


# --- order entry ----------------------------------------------------------------------------------------------


def encode_order(request: OrderRequest, client_order_id: str) -> dict[str, Any]:
    """A ``CreateOrderV2Request`` body. A price outside ($0, $1) or a count ≤ 0 is a caller bug: UnitError."""
    if not is_tradable_price(request.price_e4):
        raise UnitError(f"order {client_order_id}: price {request.price_e4} units is not strictly inside ($0, $1)")
    if request.count_e2 <= 0:
        raise UnitError(f"order {client_order_id}: count must be positive, got {request.count_e2} units")
    body: dict[str, Any] = {
        "ticker": request.ticker,
        "side": request.side.value,
        "price": format_price(request.price_e4),
        "count": format_count(request.count_e2),
        "time_in_force": request.time_in_force.value,
        "self_trade_prevention_type": request.self_trade_prevention.value,
        "client_order_id": client_order_id,
    }
    for flag in ("post_only", "reduce_only", "cancel_order_on_pause"):
        if getattr(request, flag):
            body[flag] = True
    if request.expiration_ts is not None:
        body["expiration_time"] = int(request.expiration_ts)
    if request.order_group_id:
        body["order_group_id"] = request.order_group_id
    return body


def parse_order_ack(body: object, side: BookSide, client_order_id: str = "") -> OrderAck:
    """A create or amend response. Amend may omit the counts (None then)."""
    f = Fields(body, f"order {_name(body, 'order_id')}")
    average_rounding = UP if side is BookSide.BID else DOWN
    return OrderAck(
        order_id=f.ident("order_id"),
        client_order_id=f.text("client_order_id") or client_order_id,
        fill_count_e2=f.opt_count("fill_count"),
        remaining_count_e2=f.opt_count("remaining_count"),
        average_fill_price_e4=f.opt_cash("average_fill_price", average_rounding),
        average_fee_paid_e4=f.opt_cash("average_fee_paid", UP),
        ts_ms=f.opt_int("ts_ms"),
    )


def ack_from_order(order: Order) -> OrderAck:
    """The ack of a create whose response was lost, rebuilt from the order found by ``client_order_id``."""
    return OrderAck(
        order.order_id,
        order.client_order_id,
        order.fill_count_e2,
        order.remaining_count_e2,
        None,
        None,
        None,
        recovered=True,
    )


def parse_cancel_ack(body: object) -> CancelAck:
    f = Fields(body, f"cancel {_name(body, 'order_id')}")
    return CancelAck(f.ident("order_id"), f.text("client_order_id"), f.count("reduced_by"), f.opt_int("ts_ms"))


def parse_decrease_ack(body: object) -> DecreaseAck:
    f = Fields(body, f"decrease {_name(body, 'order_id')}")
    return DecreaseAck(f.ident("order_id"), f.text("client_order_id"), f.count("remaining_count"), f.opt_int("ts_ms"))


def _item_error(raw: Mapping[str, Any], method: str, path: str) -> Exception | None:
    error = raw.get("error")
    return None if error is None else classify_item_error(error, method=method, path=path)


def parse_batch_create(
    body: object, requests: Sequence[tuple[OrderRequest, str]], path: str
) -> list[BatchCreateResult]:
    """Per-item results, matched to ``requests`` ((request, client_order_id) pairs) by position."""
    items = items_of(body, "orders", "batch create")
    if len(items) != len(requests):
        raise WireError(f"batch create: {len(items)} results for {len(requests)} orders")
    out = []
    for raw, (request, client_order_id) in zip(items, requests, strict=True):
        f = Fields(raw, f"batch create item {client_order_id}")
        error = _item_error(f.raw, "POST", path)
        ack = None if error is not None else parse_order_ack(raw, request.side, client_order_id)
        out.append(BatchCreateResult(client_order_id, ack, error))
    return out


def parse_batch_cancel(body: object, order_ids: Sequence[str], path: str) -> list[BatchCancelResult]:
    items = items_of(body, "orders", "batch cancel")
    if len(items) != len(order_ids):
        raise WireError(f"batch cancel: {len(items)} results for {len(order_ids)} orders")
    out = []
    for raw, order_id in zip(items, order_ids, strict=True):
        f = Fields(raw, f"batch cancel item {order_id}")
        error = _item_error(f.raw, "DELETE", path)
        out.append(BatchCancelResult(order_id, None if error is not None else parse_cancel_ack(raw), error))
    return out
