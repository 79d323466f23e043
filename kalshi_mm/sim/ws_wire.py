"""The WebSocket API's wire format (NOTES.md §7, AsyncAPI subset), pure: command parsing, message bodies, encoding.

Bodies are built once per exchange event and shared by every subscription that receives it (an envelope dict
per subscription carries its own ``sid``/``seq``), so they must never be mutated after construction;
:class:`Encoder` relies on that to serialise each body once per flush.

Identifiers Kalshi types as UUIDs but the simulator keys by name (``market_id``, ``user_id``) are derived with
``uuid5`` so they are stable across runs and connections.
"""

from __future__ import annotations

import enum
import functools
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kalshi_mm.sim.events import BookDelta, LifecycleKind, MarketLifecycle, OrderGroupEventKind, OrderGroupUpdate
from kalshi_mm.sim.model import E6_PER_E4, Fill, Order, Position, Side, Trade, UpdateReason, format_dollars_e6
from kalshi_mm.sim.wire import EXCHANGE_INDEX, rfc3339
from kalshi_mm.units import ONE_DOLLAR, format_count, format_dollars, format_price

__all__ = [
    "CHANNELS",
    "SEQUENCED",
    "WS_PATH",
    "CommandError",
    "ErrorCode",
    "SubscribeParams",
    "TickerFields",
    "UpdateParams",
    "market_uuid",
    "parse_command",
    "parse_subscribe",
    "parse_unsubscribe",
    "parse_update",
    "user_uuid",
]

WS_PATH = "/trade-api/ws/v2"

# The channels the simulator publishes. Kalshi's others (communications, multivariate lifecycle, index feeds)
# have nothing to carry here, so subscribing to them is answered like an unknown channel.
CHANNELS = (
    "orderbook_delta",
    "ticker",
    "trade",
    "fill",
    "market_positions",
    "user_orders",
    "order_group_updates",
    "market_lifecycle_v2",
)
SEQUENCED = frozenset({"orderbook_delta", "trade", "market_lifecycle_v2", "order_group_updates"})
# Channels that take a market filter; the others (lifecycle, order groups) ignore one, as Kalshi's do.
MARKET_FILTERED = frozenset({"orderbook_delta", "ticker", "trade", "fill", "market_positions", "user_orders"})
UPDATE_ACTIONS = ("add_markets", "delete_markets", "get_snapshot")

# Message type -> channel it belongs to, for traffic statistics; responses count under their own type.
TYPE_CHANNEL = {
    "orderbook_snapshot": "orderbook_delta",
    "orderbook_delta": "orderbook_delta",
    "ticker": "ticker",
    "trade": "trade",
    "fill": "fill",
    "market_position": "market_positions",
    "user_order": "user_orders",
    "order_group_updates": "order_group_updates",
    "market_lifecycle_v2": "market_lifecycle_v2",
}

_NAMESPACE = uuid.UUID("5d1f3c8e-9a0b-4c6e-8f2a-6b7c1d2e3f40")


class ErrorCode(enum.IntEnum):
    """Kalshi's WebSocket error codes (AsyncAPI ``x-error-codes``) that the simulator emits."""

    UNABLE_TO_PROCESS = 1
    PARAMS_REQUIRED = 2
    CHANNELS_REQUIRED = 3
    SIDS_REQUIRED = 4
    UNKNOWN_COMMAND = 5
    UNKNOWN_SID = 7
    UNKNOWN_CHANNEL = 8
    INVALID_PARAMETER = 11
    EXACTLY_ONE_SID = 12
    UNSUPPORTED_ACTION = 13
    MARKET_TICKER_REQUIRED = 14
    ACTION_REQUIRED = 15
    BUFFER_OVERFLOW = 25


# Kalshi's names for the codes above, in the same order.
ERROR_TEXT = dict(
    zip(
        ErrorCode,
        (
            "Unable to process message",
            "Params required",
            "Channels required",
            "Subscription IDs required",
            "Unknown command",
            "Unknown subscription ID",
            "Unknown channel name",
            "Invalid parameter",
            "Exactly one subscription ID is required",
            "Unsupported action",
            "Market Ticker required",
            "Action required",
            "Subscription buffer overflow",
        ),
        strict=True,
    )
)


@functools.lru_cache(maxsize=65_536)
def market_uuid(ticker: str) -> str:
    """The stable ``market_id`` of a ticker."""
    return str(uuid.uuid5(_NAMESPACE, "market/" + ticker))


def user_uuid(user_id: str) -> str:
    """``user_id`` as the UUID Kalshi's ``user_order`` requires (unchanged if it already is one)."""
    try:
        return str(uuid.UUID(user_id))
    except ValueError:
        return str(uuid.uuid5(_NAMESPACE, "user/" + user_id))


# --- commands ------------------------------------------------------------------------------------------------


class CommandError(Exception):
    """A command the server answers with an ``error`` message; ``extra`` goes into its ``msg`` (e.g. tickers)."""

    def __init__(self, code: ErrorCode, detail: str = "", *, sid: int | None = None, cmd_id: int = 0, **extra: Any):
        super().__init__(detail or ERROR_TEXT[code])
        self.code = code
        self.detail = detail or ERROR_TEXT[code]
        self.sid = sid
        self.cmd_id = cmd_id
        self.extra = extra


@dataclass(frozen=True, slots=True)
class SubscribeParams:
    channels: tuple[str, ...]
    tickers: tuple[str, ...] | None  # None = no market filter given
    market_ids: tuple[str, ...] | None
    use_yes_price: bool = False
    send_initial_snapshot: bool = False
    skip_ticker_ack: bool = False


@dataclass(frozen=True, slots=True)
class UpdateParams:
    sid: int
    action: str
    tickers: tuple[str, ...] | None
    market_ids: tuple[str, ...] | None
    send_initial_snapshot: bool = False


def parse_command(raw: str | bytes) -> tuple[int, str, Any]:
    """``(id, cmd, params)`` of one client frame; ``params`` is None when absent. Raises :class:`CommandError`
    (carrying the ``id`` when it was readable) on anything that is not a command object."""
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise CommandError(ErrorCode.UNABLE_TO_PROCESS, "Unable to process message: not JSON") from None
    if not isinstance(message, dict):
        raise CommandError(ErrorCode.UNABLE_TO_PROCESS, "Unable to process message: not a JSON object")
    cmd_id = 0 if message.get("id") is None else message["id"]
    if isinstance(cmd_id, bool) or not isinstance(cmd_id, int) or cmd_id < 0:
        raise CommandError(ErrorCode.INVALID_PARAMETER, "id must be a non-negative integer")
    cmd = message.get("cmd")
    if not isinstance(cmd, str) or not cmd:
        raise CommandError(ErrorCode.UNKNOWN_COMMAND, cmd_id=cmd_id)
    return cmd_id, cmd, message.get("params")


def _require_params(params: Any) -> Mapping[str, Any]:
    if not isinstance(params, dict):
        raise CommandError(ErrorCode.PARAMS_REQUIRED)
    return params


def _flag(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if not isinstance(value, bool):
        raise CommandError(ErrorCode.INVALID_PARAMETER, f"{name} must be a boolean")
    return value


def _strings(params: Mapping[str, Any], one: str, many: str) -> tuple[str, ...] | None:
    """The values of a ``market_ticker`` / ``market_tickers`` style pair (mutually exclusive), deduplicated."""
    single, multiple = params.get(one), params.get(many)
    if single is not None and multiple is not None:
        raise CommandError(ErrorCode.INVALID_PARAMETER, f"{one} and {many} are mutually exclusive")
    if single is not None:
        if not isinstance(single, str) or not single:
            raise CommandError(ErrorCode.INVALID_PARAMETER, f"{one} must be a non-empty string")
        return (single,)
    if multiple is None:
        return None
    if not isinstance(multiple, list) or not all(isinstance(t, str) and t for t in multiple):
        raise CommandError(ErrorCode.INVALID_PARAMETER, f"{many} must be a list of non-empty strings")
    # The spec's ticker pattern rejects the "." real tickers contain (README), so it is not enforced.
    return tuple(dict.fromkeys(multiple))


def _market_spec(params: Mapping[str, Any]) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    tickers = _strings(params, "market_ticker", "market_tickers")
    ids = _strings(params, "market_id", "market_ids")
    if tickers is not None and ids is not None:
        raise CommandError(ErrorCode.INVALID_PARAMETER, "give market tickers or market ids, not both")
    return tickers, ids


def parse_subscribe(params: Any) -> SubscribeParams:
    """Validate ``subscribe`` params (channel names are checked here; market existence by the caller)."""
    p = _require_params(params)
    channels = p.get("channels")
    if channels is None or channels == []:
        raise CommandError(ErrorCode.CHANNELS_REQUIRED)
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise CommandError(ErrorCode.INVALID_PARAMETER, "channels must be a list of channel names")
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise CommandError(ErrorCode.UNKNOWN_CHANNEL, f"Unknown channel name: {', '.join(unknown)}")
    tickers, ids = _market_spec(p)
    wanted = tuple(dict.fromkeys(channels))
    if ids is not None and wanted != ("ticker",):
        raise CommandError(ErrorCode.INVALID_PARAMETER, "market_id/market_ids are supported on the ticker channel only")
    if "orderbook_delta" in wanted and tickers is None:
        raise CommandError(ErrorCode.MARKET_TICKER_REQUIRED)
    return SubscribeParams(
        wanted, tickers, ids, _flag(p, "use_yes_price"), _flag(p, "send_initial_snapshot"), _flag(p, "skip_ticker_ack")
    )


def _sid(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CommandError(ErrorCode.INVALID_PARAMETER, "a subscription id is a positive integer")
    return value


def parse_unsubscribe(params: Any) -> list[int]:
    p = _require_params(params)
    sids = p.get("sids")
    if sids is None or sids == []:
        raise CommandError(ErrorCode.SIDS_REQUIRED)
    if not isinstance(sids, list):
        raise CommandError(ErrorCode.INVALID_PARAMETER, "sids must be a list of subscription ids")
    return list(dict.fromkeys(_sid(s) for s in sids))


def parse_update(params: Any) -> UpdateParams:
    p = _require_params(params)
    sid, sids = p.get("sid"), p.get("sids")
    if (sid is None) == (sids is None) or (sids is not None and (not isinstance(sids, list) or len(sids) != 1)):
        raise CommandError(ErrorCode.EXACTLY_ONE_SID)
    the_sid = _sid(sid if sid is not None else sids[0])
    action = p.get("action")
    if action is None or action == "":
        raise CommandError(ErrorCode.ACTION_REQUIRED, sid=the_sid)
    if action not in UPDATE_ACTIONS:
        raise CommandError(ErrorCode.UNSUPPORTED_ACTION, f"Unsupported action: {action!r}", sid=the_sid)
    tickers, ids = _market_spec(p)
    if tickers is None and ids is None:
        raise CommandError(ErrorCode.MARKET_TICKER_REQUIRED, sid=the_sid)
    return UpdateParams(the_sid, action, tickers, ids, _flag(p, "send_initial_snapshot"))


# --- responses ---------------------------------------------------------------------------------------------


def _with_id(message: dict[str, Any], cmd_id: int) -> dict[str, Any]:
    if cmd_id:
        message["id"] = cmd_id
    return message


def error_message(
    code: ErrorCode, detail: str = "", *, cmd_id: int = 0, sid: int | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": int(code), "msg": detail or ERROR_TEXT[code], **extra}
    message: dict[str, Any] = {"type": "error", "msg": body}
    if sid is not None:
        message["sid"] = sid
    return _with_id(message, cmd_id)


def subscribed_message(cmd_id: int, channel: str, sid: int) -> dict[str, Any]:
    return _with_id({"type": "subscribed", "msg": {"channel": channel, "sid": sid}}, cmd_id)


def unsubscribed_message(cmd_id: int, sid: int, seq: int) -> dict[str, Any]:
    return _with_id({"type": "unsubscribed", "sid": sid, "seq": seq}, cmd_id)


def ok_message(cmd_id: int, sid: int, seq: int, tickers: Iterable[str] | None) -> dict[str, Any]:
    """Reply to an update; ``seq`` (the sid's last, not consumed) is omitted before the first message."""
    message: dict[str, Any] = {"type": "ok", "sid": sid, "msg": {}}
    if seq:
        message["seq"] = seq
    if tickers is not None:
        message["msg"] = {"market_tickers": sorted(tickers)}
    return _with_id(message, cmd_id)


def list_message(cmd_id: int, subs: Iterable[tuple[str, int]]) -> dict[str, Any]:
    return _with_id({"type": "ok", "msg": [{"channel": c, "sid": s} for c, s in subs]}, cmd_id)


# --- channel bodies ------------------------------------------------------------------------------------------


def _levels(levels: Iterable[tuple[int, int]]) -> list[list[str]]:
    return [[format_price(p), format_count(size)] for p, size in levels]


def snapshot_body(
    ticker: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]], use_yes_price: bool
) -> dict[str, Any]:
    """``orderbook_snapshot`` from YES-leg levels ascending by price. Bids are the ``yes`` side; asks are the
    ``no`` side, at NO price 1 − p (or p with ``use_yes_price``), best level last as in REST. Empty sides are
    omitted."""
    body: dict[str, Any] = {"market_ticker": ticker, "market_id": market_uuid(ticker)}
    if bids:
        body["yes_dollars_fp"] = _levels(bids)
    if asks:
        no = [(p if use_yes_price else ONE_DOLLAR - p, size) for p, size in reversed(asks)]
        body["no_dollars_fp"] = _levels(no)
    return body


def delta_body(event: BookDelta, use_yes_price: bool, client_order_id: str | None) -> dict[str, Any]:
    """``orderbook_delta``; ``client_order_id`` is given only for the subscriber whose order caused it."""
    price = event.price_e4 if event.side is Side.BID or use_yes_price else event.no_price_e4
    body: dict[str, Any] = {
        "market_ticker": event.ticker,
        "market_id": market_uuid(event.ticker),
        "price_dollars": format_price(price),
        "delta_fp": format_count(event.delta_e2),
        "side": event.wire_side,
        "ts": rfc3339(event.ts_ms / 1000),
        "ts_ms": event.ts_ms,
    }
    if client_order_id:
        body["client_order_id"] = client_order_id
    return body


@dataclass(frozen=True, slots=True)
class TickerFields:
    """What a ``ticker`` message reports; a message goes out when these change. Prices e4, sizes e2."""

    last_price_e4: int
    yes_bid_e4: int | None
    yes_bid_size_e2: int
    yes_ask_e4: int | None
    yes_ask_size_e2: int
    last_trade_size_e2: int
    volume_e2: int
    open_interest_e2: int
    notional_e6: int  # cumulative traded notional


def ticker_body(ticker: str, f: TickerFields, ts_ms: int) -> dict[str, Any]:
    # An empty side reads as $0 bid / $1 ask with size 0, as REST's Market does.
    return {
        "market_id": market_uuid(ticker),
        "market_ticker": ticker,
        "price_dollars": format_price(f.last_price_e4),
        "yes_bid_dollars": format_price(f.yes_bid_e4 if f.yes_bid_e4 is not None else 0),
        "yes_ask_dollars": format_price(f.yes_ask_e4 if f.yes_ask_e4 is not None else ONE_DOLLAR),
        "yes_bid_size_fp": format_count(f.yes_bid_size_e2 if f.yes_bid_e4 is not None else 0),
        "yes_ask_size_fp": format_count(f.yes_ask_size_e2 if f.yes_ask_e4 is not None else 0),
        "last_trade_size_fp": format_count(f.last_trade_size_e2),
        "volume_fp": format_count(f.volume_e2),
        "open_interest_fp": format_count(f.open_interest_e2),
        "dollar_volume": f.notional_e6 // 1_000_000,
        # Open interest valued at the last trade price, in whole dollars.
        "dollar_open_interest": f.open_interest_e2 * f.last_price_e4 // 1_000_000,
        "ts": ts_ms // 1000,
        "ts_ms": ts_ms,
        "time": rfc3339(ts_ms / 1000),
    }


def trade_body(trade: Trade) -> dict[str, Any]:
    return {
        "trade_id": trade.trade_id,
        "market_ticker": trade.ticker,
        "yes_price_dollars": format_price(trade.yes_price_e4),
        "no_price_dollars": format_price(trade.no_price_e4),
        "count_fp": format_count(trade.count_e2),
        "taker_side": trade.taker_outcome_side.value,
        "taker_outcome_side": trade.taker_outcome_side.value,
        "taker_book_side": trade.taker_side.value,
        "is_block_trade": trade.is_block_trade,
        "ts": trade.ts_ms // 1000,
        "ts_ms": trade.ts_ms,
    }


def fill_body(fill: Fill) -> dict[str, Any]:
    outcome = fill.outcome_side.value
    body: dict[str, Any] = {
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "market_ticker": fill.ticker,
        "exchange_index": EXCHANGE_INDEX,
        "is_taker": fill.is_taker,
        "side": outcome,
        "yes_price_dollars": format_price(fill.yes_price_e4),
        "count_fp": format_count(fill.count_e2),
        "fee_cost": format_dollars(fill.fee_e4),
        "action": "buy",  # V2 orders are bids/asks; the legacy view of both is "buy" of the outcome side
        "ts": fill.ts_ms // 1000,
        "ts_ms": fill.ts_ms,
        "post_position_fp": format_count(fill.post_position_e2),
        "purchased_side": outcome,
        "outcome_side": outcome,
        "book_side": fill.side.value,
    }
    if fill.client_order_id:
        body["client_order_id"] = fill.client_order_id
    return body


def position_body(
    user_id: str,
    ticker: str,
    position: Position | None,
    realized_pnl_e6: int = 0,
    fees_paid_e4: int = 0,
    volume_e2: int = 0,
) -> dict[str, Any]:
    """``market_position``; ``position`` None (settled) reports a flat position with the given totals.
    ``position_fee_cost_dollars`` repeats the fees paid: the simulator does not split fees per open lot."""
    if position is not None:
        realized_pnl_e6, fees_paid_e4, volume_e2 = position.realized_pnl_e6, position.fees_paid_e4, position.volume_e2
    fees = format_dollars(fees_paid_e4)
    return {
        "user_id": user_uuid(user_id),
        "market_ticker": ticker,
        "position_fp": format_count(position.position_e2 if position is not None else 0),
        "position_cost_dollars": format_dollars_e6(position.market_exposure_e6 if position is not None else 0),
        "realized_pnl_dollars": format_dollars_e6(realized_pnl_e6),
        "fees_paid_dollars": fees,
        "position_fee_cost_dollars": fees,
        "volume_fp": format_count(volume_e2),
    }


# Kalshi's documented last_update_reason values; the simulator's own (UserCancel, ...) are left out of the
# message rather than sent as values the schema does not allow.
_KALSHI_REASONS = frozenset(
    {
        "Decrease",
        "Amend",
        "MarginCancel",
        "SelfTradeCancel",
        "ExpiryCancel",
        "CloseCancel",
        "HaltCancel",
        "Trade",
        "PostOnlyCrossCancel",
        "ReduceOnlyCancel",
    }
)


def _dollars6(amount_e6: int) -> str:
    """A 6-decimal dollar string (``user_order`` money fields), exact."""
    sign = "-" if amount_e6 < 0 else ""
    whole, frac = divmod(abs(amount_e6), 1_000_000)
    return f"{sign}{whole}.{frac:06d}"


def user_order_body(order: Order) -> dict[str, Any]:
    outcome = order.outcome_side.value
    body: dict[str, Any] = {
        "order_id": order.order_id,
        "user_id": user_uuid(order.user_id),
        "ticker": order.ticker,
        "exchange_index": EXCHANGE_INDEX,
        "status": order.status.value,
        "side": outcome,
        "is_yes": order.side is Side.BID,
        "outcome_side": outcome,
        "book_side": order.side.value,
        "yes_price_dollars": format_price(order.price_e4),
        "fill_count_fp": format_count(order.fill_count_e2),
        "remaining_count_fp": format_count(order.remaining_count_e2),
        "initial_count_fp": format_count(order.initial_count_e2),
        "taker_fill_cost_dollars": _dollars6(order.taker_fill_cost_e6),
        "maker_fill_cost_dollars": _dollars6(order.maker_fill_cost_e6),
        "taker_fees_dollars": _dollars6(order.taker_fees_e4 * E6_PER_E4),
        "maker_fees_dollars": _dollars6(order.maker_fees_e4 * E6_PER_E4),
        "client_order_id": order.client_order_id,
        "self_trade_prevention_type": order.self_trade_prevention_type.value,
        "created_time": rfc3339(order.created_ts_ms / 1000),
        "created_ts_ms": order.created_ts_ms,
        "last_update_time": rfc3339(order.last_update_ts_ms / 1000),
        "last_updated_ts_ms": order.last_update_ts_ms,
        "subaccount_number": 0,
    }
    if order.order_group_id is not None:
        body["order_group_id"] = order.order_group_id
    if order.expiration_ts is not None:
        body["expiration_time"] = rfc3339(order.expiration_ts)
        body["expiration_ts_ms"] = order.expiration_ts * 1000
    if order.last_update_reason is not UpdateReason.CREATED and order.last_update_reason.value in _KALSHI_REASONS:
        body["last_update_reason"] = order.last_update_reason.value
    return body


def order_group_body(event: OrderGroupUpdate) -> dict[str, Any]:
    body: dict[str, Any] = {"event_type": event.kind.value, "order_group_id": event.group_id, "ts_ms": event.ts_ms}
    if event.contracts_limit_e2 is not None and event.kind in (
        OrderGroupEventKind.CREATED,
        OrderGroupEventKind.LIMIT_UPDATED,
    ):
        body["contracts_limit_fp"] = format_count(event.contracts_limit_e2)
    return body


def lifecycle_body(event: MarketLifecycle) -> dict[str, Any]:
    """``market_lifecycle_v2``. A pause is ``deactivated`` (``is_deactivated: true``) and its end ``activated``
    (false). Kalshi announces no separate "closed" event; the simulator's close is sent as
    ``close_date_updated`` carrying the effective close time."""
    market = event.market
    body: dict[str, Any] = {"market_ticker": event.ticker}
    kind = event.kind
    if kind is LifecycleKind.CREATED:
        body.update(
            event_type="created",
            exchange_index=EXCHANGE_INDEX,
            open_ts=market.open_ts,
            close_ts=market.close_ts,
            price_level_structure=market.price_level_structure,
            price_ranges=market.grid.to_wire(),
            additional_metadata=_metadata(event),
        )
    elif kind is LifecycleKind.DEACTIVATED:
        body.update(
            event_type="deactivated" if event.is_deactivated else "activated", is_deactivated=bool(event.is_deactivated)
        )
    elif kind is LifecycleKind.ACTIVATED:
        body["event_type"] = "activated"
    elif kind is LifecycleKind.CLOSED:
        body.update(event_type="close_date_updated", close_ts=event.ts_ms // 1000)
    elif kind is LifecycleKind.DETERMINED:
        body.update(
            event_type="determined",
            determination_ts=int(market.determination_ts or event.ts_ms // 1000),
            result=market.result.value if market.result is not None else "",
            settlement_value=format_price(market.settlement_value_e4 or 0),
        )
    else:
        body.update(event_type="settled", settled_ts=int(market.settlement_ts or event.ts_ms // 1000))
    return body


def _metadata(event: MarketLifecycle) -> dict[str, Any]:
    market = event.market
    meta: dict[str, Any] = {
        "name": market.title,
        "title": market.title,
        "yes_sub_title": market.yes_sub_title,
        "no_sub_title": market.no_sub_title,
        "rules_primary": market.rules_primary,
        "rules_secondary": market.rules_secondary,
        "can_close_early": market.can_close_early,
        "event_ticker": market.event_ticker,
        "expected_expiration_ts": market.expected_expiration_ts or market.close_ts,
    }
    for key in ("strike_type", "floor_strike", "cap_strike"):
        value = getattr(market, key)
        if value is not None:
            meta[key] = value
    return meta
