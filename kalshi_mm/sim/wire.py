"""The embedded exchange's objects in Kalshi's current JSON shapes (OpenAPI 3.31 / NOTES.md §3), pure.

Prices are 4-decimal dollar strings, counts 2-decimal strings, portfolio money 4-6 decimals; times RFC 3339
with trailing fractional zeros trimmed, as Kalshi emits them. ``exchange_index`` is always 0 (one shard).
Deprecated fields that Kalshi still sends (``side``/``action`` on orders and fills, ``taker_side`` on trades,
``title``/``subtitle``/``expiration_time`` on markets) are included so older clients keep working.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from kalshi_mm.sim.model import (
    Event,
    Fill,
    Market,
    MarketStatus,
    Order,
    OrderGroup,
    Position,
    Series,
    Settlement,
    Side,
    TopOfBook,
    Trade,
    format_dollars_e6,
)
from kalshi_mm.units import ONE_DOLLAR, format_count, format_dollars, format_price

__all__ = [
    "event_json",
    "event_position_json",
    "fill_json",
    "market_json",
    "order_group_json",
    "order_json",
    "position_json",
    "rfc3339",
    "series_json",
    "settlement_json",
    "trade_json",
]

EXCHANGE_INDEX = 0


def rfc3339(ts_s: float) -> str:
    """``2026-11-26T00:45:00Z`` / ``…:00.5Z``: UTC, fractional seconds only when present, zeros trimmed."""
    dt = datetime.fromtimestamp(ts_s, UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def _legacy_side(side: Side) -> str:
    # Legacy (deprecated) fields: a bid is "buy yes", an ask is "buy no" (NOTES §8 equivalence table).
    return "yes" if side is Side.BID else "no"


def _wire_status(market: Market) -> str:
    if market.status is MarketStatus.ACTIVE and market.paused:
        return "inactive"
    return market.status.value


def market_json(
    market: Market,
    top: TopOfBook,
    *,
    volume_24h_e2: int,
    previous: tuple[int, int, int] = (0, 0, 0),
) -> dict[str, Any]:
    """A ``Market``; ``previous`` is (yes_bid, yes_ask, last price) a day ago, in 1/10,000 dollar."""
    bid, ask = top.yes_bid_e4, top.yes_ask_e4
    expected = market.expected_expiration_ts or market.close_ts
    latest = market.latest_expiration_ts or max(expected, market.close_ts)
    body: dict[str, Any] = {
        "ticker": market.ticker,
        "event_ticker": market.event_ticker,
        "market_type": market.market_type,
        "title": market.title,
        "subtitle": market.subtitle,
        "yes_sub_title": market.yes_sub_title,
        "no_sub_title": market.no_sub_title,
        "created_time": rfc3339(market.created_ts if market.created_ts is not None else market.open_ts),
        "updated_time": rfc3339(market.updated_ts_ms / 1000 if market.updated_ts_ms else market.open_ts),
        "open_time": rfc3339(market.open_ts),
        "close_time": rfc3339(market.close_ts),
        "expected_expiration_time": rfc3339(expected),
        "latest_expiration_time": rfc3339(latest),
        "expiration_time": rfc3339(latest),
        "settlement_timer_seconds": market.settlement_timer_seconds,
        "status": _wire_status(market),
        # An empty side reads as $0 bid / $1 ask with size 0, so a spread computed from it is never negative.
        "yes_bid_dollars": format_price(bid if bid is not None else 0),
        "yes_bid_size_fp": format_count(top.yes_bid_size_e2 if bid is not None else 0),
        "yes_ask_dollars": format_price(ask if ask is not None else ONE_DOLLAR),
        "yes_ask_size_fp": format_count(top.yes_ask_size_e2 if ask is not None else 0),
        "no_bid_dollars": format_price(ONE_DOLLAR - ask if ask is not None else 0),
        "no_ask_dollars": format_price(ONE_DOLLAR - bid if bid is not None else ONE_DOLLAR),
        "last_price_dollars": format_price(market.last_price_e4),
        "previous_yes_bid_dollars": format_price(previous[0]),
        "previous_yes_ask_dollars": format_price(previous[1]),
        "previous_price_dollars": format_price(previous[2]),
        "volume_fp": format_count(market.volume_e2),
        "volume_24h_fp": format_count(volume_24h_e2),
        "open_interest_fp": format_count(market.open_interest_e2),
        "notional_value_dollars": format_price(ONE_DOLLAR),
        "liquidity_dollars": "0.0000",  # deprecated by Kalshi; always zero there too
        "result": market.result.value if market.result is not None else "",
        "can_close_early": market.can_close_early,
        "expiration_value": "",
        "settlement_bounds_type": "default",
        "rules_primary": market.rules_primary,
        "rules_secondary": market.rules_secondary,
        "price_level_structure": market.price_level_structure,
        "price_ranges": market.grid.to_wire(),
        "exchange_index": EXCHANGE_INDEX,
    }
    if market.settlement_value_e4 is not None:
        body["settlement_value_dollars"] = format_price(market.settlement_value_e4)
    if market.settlement_ts is not None:
        body["settlement_ts"] = rfc3339(market.settlement_ts)
    if market.strike_type is not None:
        body["strike_type"] = market.strike_type
    if market.floor_strike is not None:
        body["floor_strike"] = market.floor_strike
    if market.cap_strike is not None:
        body["cap_strike"] = market.cap_strike
    return body


def series_json(series: Series, volume_e2: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ticker": series.ticker,
        "title": series.title,
        "frequency": series.frequency,
        "category": series.category,
        "categories": list(series.categories or ((series.category,) if series.category else ())),
        "tags": list(series.tags),
        "settlement_sources": [{"name": s, "url": ""} for s in series.settlement_sources],
        "contract_url": series.contract_url,
        "contract_terms_url": series.contract_terms_url,
        "fee_type": series.fee_type.value,
        "fee_multiplier": float(series.fee_multiplier),  # the spec types it as a number
        "additional_prohibitions": list(series.additional_prohibitions),
        "exchange_index": EXCHANGE_INDEX,
    }
    if volume_e2 is not None:
        body["volume_fp"] = format_count(volume_e2)
    return body


def event_json(event: Event, markets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_ticker": event.event_ticker,
        "series_ticker": event.series_ticker,
        "title": event.title,
        "sub_title": event.sub_title,
        "collateral_return_type": event.collateral_return_type,
        "mutually_exclusive": event.mutually_exclusive,
        "settlement_sources": [],
        "exchange_index": EXCHANGE_INDEX,
    }
    if event.strike_date is not None:
        body["strike_date"] = rfc3339(event.strike_date)
    if event.strike_period is not None:
        body["strike_period"] = event.strike_period
    if event.fee_type_override is not None:
        body["fee_type_override"] = event.fee_type_override.value
    if event.fee_multiplier_override is not None:
        body["fee_multiplier_override"] = float(event.fee_multiplier_override)
    if markets is not None:
        body["markets"] = markets
    return body


def order_json(order: Order) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order.order_id,
        "user_id": order.user_id,
        "client_order_id": order.client_order_id,
        "ticker": order.ticker,
        "side": _legacy_side(order.side),
        "action": "buy",
        "outcome_side": order.outcome_side.value,
        "book_side": order.side.value,
        "type": "limit",
        "status": order.status.value,
        "yes_price_dollars": format_price(order.price_e4),
        "no_price_dollars": format_price(order.no_price_e4),
        "fill_count_fp": format_count(order.fill_count_e2),
        "remaining_count_fp": format_count(order.remaining_count_e2),
        "initial_count_fp": format_count(order.initial_count_e2),
        "taker_fees_dollars": format_dollars(order.taker_fees_e4),
        "maker_fees_dollars": format_dollars(order.maker_fees_e4),
        "taker_fill_cost_dollars": format_dollars_e6(order.taker_fill_cost_e6),
        "maker_fill_cost_dollars": format_dollars_e6(order.maker_fill_cost_e6),
        "created_time": rfc3339(order.created_ts_ms / 1000),
        "last_update_time": rfc3339(order.last_update_ts_ms / 1000),
        "self_trade_prevention_type": order.self_trade_prevention_type.value,
        "order_group_id": order.order_group_id,
        "cancel_order_on_pause": order.cancel_order_on_pause,
        "exchange_index": EXCHANGE_INDEX,
    }
    if order.expiration_ts is not None:
        body["expiration_time"] = rfc3339(order.expiration_ts)
    return body


def fill_json(fill: Fill) -> dict[str, Any]:
    return {
        "fill_id": fill.fill_id,
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "ticker": fill.ticker,
        "market_ticker": fill.ticker,
        "side": _legacy_side(fill.side),
        "action": "buy",
        "outcome_side": fill.outcome_side.value,
        "book_side": fill.side.value,
        "count_fp": format_count(fill.count_e2),
        "yes_price_dollars": format_price(fill.yes_price_e4),
        "no_price_dollars": format_price(fill.no_price_e4),
        "is_taker": fill.is_taker,
        "fee_cost": format_dollars(fill.fee_e4),
        "created_time": rfc3339(fill.ts_ms / 1000),
        "ts": fill.ts_ms // 1000,
        "exchange_index": EXCHANGE_INDEX,
    }


def trade_json(trade: Trade) -> dict[str, Any]:
    return {
        "trade_id": trade.trade_id,
        "ticker": trade.ticker,
        "count_fp": format_count(trade.count_e2),
        "yes_price_dollars": format_price(trade.yes_price_e4),
        "no_price_dollars": format_price(trade.no_price_e4),
        "taker_outcome_side": trade.taker_outcome_side.value,
        "taker_book_side": trade.taker_side.value,
        "taker_side": trade.taker_outcome_side.value,
        "created_time": rfc3339(trade.ts_ms / 1000),
        "is_block_trade": trade.is_block_trade,
    }


def position_json(position: Position) -> dict[str, Any]:
    return {
        "ticker": position.ticker,
        "position_fp": format_count(position.position_e2),
        "market_exposure_dollars": format_dollars_e6(position.market_exposure_e6),
        "total_traded_dollars": format_dollars_e6(position.total_traded_e6),
        "realized_pnl_dollars": format_dollars_e6(position.realized_pnl_e6),
        "fees_paid_dollars": format_dollars(position.fees_paid_e4),
        "last_updated_ts": rfc3339(position.last_updated_ts_ms / 1000),
        "exchange_index": EXCHANGE_INDEX,
    }


def event_position_json(event_ticker: str, positions: Iterable[Position]) -> dict[str, Any]:
    """Kalshi's per-event aggregate of the market positions above."""
    items = list(positions)
    return {
        "event_ticker": event_ticker,
        "event_exposure_dollars": format_dollars_e6(sum(p.market_exposure_e6 for p in items)),
        "total_cost_dollars": format_dollars_e6(sum(p.total_traded_e6 for p in items)),
        "total_cost_shares_fp": format_count(sum(p.volume_e2 for p in items)),
        "realized_pnl_dollars": format_dollars_e6(sum(p.realized_pnl_e6 for p in items)),
        "fees_paid_dollars": format_dollars(sum(p.fees_paid_e4 for p in items)),
    }


def settlement_json(settlement: Settlement) -> dict[str, Any]:
    return {
        "ticker": settlement.ticker,
        "event_ticker": settlement.event_ticker,
        "market_result": settlement.market_result.value,
        "yes_count_fp": format_count(settlement.yes_count_e2),
        "yes_total_cost_dollars": format_dollars_e6(settlement.yes_total_cost_e6),
        "no_count_fp": format_count(settlement.no_count_e2),
        "no_total_cost_dollars": format_dollars_e6(settlement.no_total_cost_e6),
        # The spec keeps revenue and value as integer cents: $1 per winning contract = 100.
        "revenue": settlement.revenue_e6 // 10_000,
        "value": settlement.value_e4 // 100,
        "fee_cost": format_dollars(settlement.fee_cost_e4),
        "settled_time": rfc3339(settlement.settled_ts_ms / 1000),
        "exchange_index": EXCHANGE_INDEX,
    }


def order_group_json(group: OrderGroup) -> dict[str, Any]:
    return {
        "id": group.group_id,
        "is_auto_cancel_enabled": group.is_auto_cancel_enabled,
        "contracts_limit_fp": format_count(group.contracts_limit_e2),
        "exchange_index": EXCHANGE_INDEX,
    }
