"""Parsers of the private (user-scoped) WebSocket channels: fill, market_positions, user_orders, order groups.

Same rules as :mod:`kalshi_mm.api.ws_messages` (which dispatches to these): strict on money, lenient on the
rest. Portfolio money fields may carry 6 decimals; costs and fees round UP and P&L rounds DOWN to 1/10,000 $,
so the daemon never overstates what it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kalshi_mm.api.ws_fields import (
    WireMessageError,
    body_of,
    direction,
    legacy_direction,
    opt_bool,
    opt_cash,
    opt_count,
    opt_int,
    opt_signed_count,
    opt_str,
    req_cash,
    req_count,
    req_price,
    req_signed_count,
    req_str,
)
from kalshi_mm.api.ws_types import BookSide, FillMsg, MarketPositionMsg, OrderGroupMsg, UserOrderMsg
from kalshi_mm.units import Rounding

__all__ = ["parse_fill", "parse_market_position", "parse_order_group", "parse_user_order"]


def parse_fill(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> FillMsg:
    mtype = "fill"
    body = body_of(raw, mtype)
    side = direction(body, mtype, "book_side", "outcome_side") or legacy_direction(body, mtype)
    return FillMsg(
        opt_int(raw, "sid"),
        req_str(body, "trade_id", mtype),
        req_str(body, "order_id", mtype),
        opt_str(body, "client_order_id"),
        req_str(body, "market_ticker", mtype),
        side,
        opt_bool(body, "is_taker") or False,
        req_price(body, "yes_price_dollars", mtype),
        req_count(body, "count_fp", mtype),
        req_cash(body, "fee_cost", mtype, Rounding.UP),
        opt_signed_count(body, "post_position_fp", mtype),
        opt_int(body, "ts_ms"),
        received_ts,
    )


def parse_market_position(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> MarketPositionMsg:
    mtype = "market_position"
    body = body_of(raw, mtype)
    return MarketPositionMsg(
        opt_int(raw, "sid"),
        req_str(body, "market_ticker", mtype),
        req_signed_count(body, "position_fp", mtype),
        req_cash(body, "position_cost_dollars", mtype, Rounding.UP),
        req_cash(body, "realized_pnl_dollars", mtype, Rounding.DOWN),
        req_cash(body, "fees_paid_dollars", mtype, Rounding.UP),
        opt_cash(body, "position_fee_cost_dollars", mtype, Rounding.UP),
        opt_count(body, "volume_fp", mtype),
        opt_int(body, "subaccount"),
        received_ts,
    )


def parse_user_order(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> UserOrderMsg:
    mtype = "user_order"
    body = body_of(raw, mtype)
    side = direction(body, mtype, "book_side", "outcome_side")
    if side is None:
        is_yes = opt_bool(body, "is_yes")  # deprecated fallback: is_yes marks a bid
        if is_yes is None:
            raise WireMessageError(mtype, "book_side", "missing (and no outcome_side or is_yes)")
        side = BookSide.BID if is_yes else BookSide.ASK
    return UserOrderMsg(
        opt_int(raw, "sid"),
        req_str(body, "order_id", mtype),
        opt_str(body, "client_order_id") or None,
        req_str(body, "ticker", mtype),
        opt_str(body, "status") or "unknown",
        side,
        req_price(body, "yes_price_dollars", mtype),
        opt_count(body, "initial_count_fp", mtype),
        req_count(body, "fill_count_fp", mtype),
        req_count(body, "remaining_count_fp", mtype),
        opt_cash(body, "taker_fill_cost_dollars", mtype, Rounding.UP),
        opt_cash(body, "maker_fill_cost_dollars", mtype, Rounding.UP),
        opt_cash(body, "taker_fees_dollars", mtype, Rounding.UP),
        opt_cash(body, "maker_fees_dollars", mtype, Rounding.UP),
        opt_str(body, "order_group_id"),
        opt_str(body, "last_update_reason"),
        opt_int(body, "created_ts_ms"),
        opt_int(body, "last_updated_ts_ms"),
        opt_int(body, "expiration_ts_ms"),
        received_ts,
    )


def parse_order_group(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> OrderGroupMsg:
    mtype = "order_group_updates"
    body = body_of(raw, mtype)
    return OrderGroupMsg(
        opt_int(raw, "sid"),
        opt_int(raw, "seq"),
        req_str(body, "event_type", mtype),
        req_str(body, "order_group_id", mtype),
        opt_count(body, "contracts_limit_fp", mtype),
        opt_int(body, "ts_ms"),
        received_ts,
    )
