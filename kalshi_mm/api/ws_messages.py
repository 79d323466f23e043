"""Kalshi WebSocket v2 messages -> frozen typed messages in internal units (pure; NOTES.md §7, AsyncAPI subset).

Call :func:`parse_message` with a decoded frame (``json.loads`` output) and the local receive time read from
the injected clock; it returns one of the message types below, each carrying ``sid``/``seq`` where the wire
has them and ``received_ts`` (Unix seconds, local clock). Prices are integers in 1/10,000 $ (YES leg), counts
in 1/100 contract, cash in 1/10,000 $ (see :mod:`kalshi_mm.units`).

Rules:

* Lenient on unknown and deprecated fields (ignored); unknown message types parse to :class:`UnknownMsg`
  (which keeps ``sid``/``seq``, because such a message still consumes a sequence number).
* Strict on money: a missing or malformed price/count raises :class:`WireMessageError` naming the field and
  message type. Spec-optional money fields may be absent (None) but never malformed.
* Orderbook levels are always YES bids and YES asks on the YES price scale. Kalshi publishes bids only: the
  ``yes`` side holds YES bids; the ``no`` side holds NO bids, which are YES asks (NOTES §3.3, §8). With the
  default ``use_yes_price: false`` a ``no`` level at NO price q is a YES ask at 1 − q; with
  ``use_yes_price: true`` the AsyncAPI says no-side levels "are reported in yes-leg pricing ... so a single
  ``price_dollars`` scale applies to both sides", i.e. a ``no`` level at p is already a YES ask at p. The
  parser must be told which convention the subscription asked for (the flag is per subscribe command).
* Snapshot levels are sorted here (best first) whatever order the wire used: the docs disagree on it.

Message types live in :mod:`kalshi_mm.api.ws_types` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from kalshi_mm.api.ws_channels import (
    CHANNEL_TO_INTERNAL,
    INTERNAL_TO_CHANNEL,
    MESSAGE_TYPE_CHANNEL,
    TERMINAL_ERROR_CODES,
    internal_channel,
    kalshi_channel,
)
from kalshi_mm.api.ws_fields import (
    WireMessageError,
    body_of,
    cached_price,
    cached_signed_count,
    direction,
    opt_bool,
    opt_int,
    opt_price,
    opt_str,
    req_count,
    req_int,
    req_price,
    req_signed_count,
    req_str,
)
from kalshi_mm.api.ws_private import parse_fill, parse_market_position, parse_order_group, parse_user_order
from kalshi_mm.api.ws_types import (
    BookSide,
    ErrorMsg,
    FillMsg,
    Level,
    LifecycleMsg,
    MarketPositionMsg,
    Ok,
    OrderbookDelta,
    OrderbookSnapshot,
    OrderGroupMsg,
    Subscribed,
    TickerUpdate,
    TradeMsg,
    UnknownMsg,
    Unsubscribed,
    UserOrderMsg,
    WsMessage,
)
from kalshi_mm.units import ONE_DOLLAR, PriceGrid, UnitError

__all__ = [
    "CHANNEL_TO_INTERNAL",
    "INTERNAL_TO_CHANNEL",
    "MESSAGE_TYPE_CHANNEL",
    "PARSED_MESSAGE_TYPES",
    "TERMINAL_ERROR_CODES",
    "BookSide",
    "ErrorMsg",
    "FillMsg",
    "Level",
    "LifecycleMsg",
    "MarketPositionMsg",
    "Ok",
    "OrderGroupMsg",
    "OrderbookDelta",
    "OrderbookSnapshot",
    "Subscribed",
    "TickerUpdate",
    "TradeMsg",
    "UnknownMsg",
    "Unsubscribed",
    "UserOrderMsg",
    "WireMessageError",
    "WsMessage",
    "internal_channel",
    "kalshi_channel",
    "orderbook_snapshot_from_rest",
    "parse_message",
]


# --- parsers --------------------------------------------------------------------------------------------------


def _book_price(price: int, mtype: str, field: str) -> int:
    if not 0 < price < ONE_DOLLAR:
        raise WireMessageError(mtype, field, f"book level price {price} e4 is not strictly inside ($0, $1)")
    return price


def _snapshot_side(body: Mapping[str, Any], key: str, mtype: str, is_no: bool, use_yes_price: bool) -> dict[int, int]:
    levels = body.get(key)
    if levels is None:  # Kalshi omits an empty side
        return {}
    if not isinstance(levels, list):
        raise WireMessageError(mtype, key, f"expected a list of [price, count], got {levels!r:.80}")
    out: dict[int, int] = {}
    for i, level in enumerate(levels):
        field = f"{key}[{i}]"
        if not isinstance(level, list | tuple) or len(level) != 2:
            raise WireMessageError(mtype, field, f"expected [price_dollars, count_fp], got {level!r:.80}")
        pkey, ckey = f"{field}[0]", f"{field}[1]"
        pair = {pkey: level[0], ckey: level[1]}
        price = req_price(pair, pkey, mtype)
        count = req_count(pair, ckey, mtype)
        if is_no and not use_yes_price:
            price = ONE_DOLLAR - price
        _book_price(price, mtype, field)
        if price in out:
            raise WireMessageError(mtype, field, f"price level {price} e4 appears twice")
        if count:  # a zero level carries no information; the book never stores one
            out[price] = count
    return out


def parse_orderbook_snapshot(
    raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False
) -> OrderbookSnapshot:
    """``orderbook_snapshot`` -> YES bids (best first) and YES asks (best first)."""
    mtype = "orderbook_snapshot"
    body = body_of(raw, mtype)
    bids = _snapshot_side(body, "yes_dollars_fp", mtype, False, use_yes_price)
    asks = _snapshot_side(body, "no_dollars_fp", mtype, True, use_yes_price)
    return OrderbookSnapshot(
        req_int(raw, "sid", mtype),
        req_int(raw, "seq", mtype),
        req_str(body, "market_ticker", mtype),
        opt_str(body, "market_id"),
        tuple(sorted(bids.items(), reverse=True)),
        tuple(sorted(asks.items())),
        opt_int(raw, "id"),
        received_ts,
    )


def orderbook_snapshot_from_rest(ticker: str, orderbook_fp: Mapping[str, Any], received_ts: float) -> OrderbookSnapshot:
    """The REST ``GET /markets/{ticker}/orderbook`` body's ``orderbook_fp`` as a snapshot (sid/seq None).

    REST levels are ``[price_dollars, count_fp]`` bids like the WebSocket's, with NO bids at the NO price
    (NOTES §3.3; REST has no ``use_yes_price``). For the REST-fallback adapter of the state store.
    """
    mtype = "rest orderbook"
    bids = _snapshot_side(orderbook_fp, "yes_dollars", mtype, False, False)
    asks = _snapshot_side(orderbook_fp, "no_dollars", mtype, True, False)
    return OrderbookSnapshot(
        None,
        None,
        ticker,
        None,
        tuple(sorted(bids.items(), reverse=True)),
        tuple(sorted(asks.items())),
        None,
        received_ts,
    )


def parse_orderbook_delta(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> OrderbookDelta:
    """``orderbook_delta`` -> a signed size change at one YES-scale level. The hot path: keep it lean."""
    body = raw.get("msg")
    if type(body) is not dict:
        body = body_of(raw, "orderbook_delta")
    sid, seq = raw.get("sid"), raw.get("seq")
    if type(sid) is not int or type(seq) is not int:
        sid, seq = req_int(raw, "sid", "orderbook_delta"), req_int(raw, "seq", "orderbook_delta")
    ticker = body.get("market_ticker")
    if type(ticker) is not str or not ticker:
        ticker = req_str(body, "market_ticker", "orderbook_delta")
    try:  # memo hits skip two calls; a miss (None) or an unhashable value takes the strict path
        price = cached_price(body.get("price_dollars"))
        delta = cached_signed_count(body.get("delta_fp"))
    except TypeError:
        price = delta = None
    if price is None:
        price = req_price(body, "price_dollars", "orderbook_delta")
    if delta is None:
        delta = req_signed_count(body, "delta_fp", "orderbook_delta")
    side = body.get("side")
    if side == "yes":
        book_side = BookSide.BID
    elif side == "no":
        book_side = BookSide.ASK
        if not use_yes_price:
            price = ONE_DOLLAR - price
    else:
        raise WireMessageError("orderbook_delta", "side", f"expected 'yes' or 'no', got {side!r}")
    if not 0 < price < ONE_DOLLAR:
        _book_price(price, "orderbook_delta", "price_dollars")
    coid = body.get("client_order_id")
    ts_ms = body.get("ts_ms")
    return OrderbookDelta(
        sid,
        seq,
        ticker,
        book_side,
        price,
        delta,
        coid if type(coid) is str else None,
        ts_ms if type(ts_ms) is int else None,
        received_ts,
    )


def parse_ticker(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> TickerUpdate:
    mtype = "ticker"
    body = body_of(raw, mtype)
    bid = req_price(body, "yes_bid_dollars", mtype)
    ask = req_price(body, "yes_ask_dollars", mtype)
    return TickerUpdate(
        opt_int(raw, "sid"),
        req_str(body, "market_ticker", mtype),
        opt_str(body, "market_id"),
        req_price(body, "price_dollars", mtype),
        bid if 0 < bid < ONE_DOLLAR else None,
        ask if 0 < ask < ONE_DOLLAR else None,
        req_count(body, "yes_bid_size_fp", mtype),
        req_count(body, "yes_ask_size_fp", mtype),
        req_count(body, "last_trade_size_fp", mtype),
        req_count(body, "volume_fp", mtype),
        req_count(body, "open_interest_fp", mtype),
        opt_int(body, "dollar_volume"),
        opt_int(body, "dollar_open_interest"),
        opt_int(body, "ts_ms"),
        received_ts,
    )


def parse_trade(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> TradeMsg:
    mtype = "trade"
    body = body_of(raw, mtype)
    taker = direction(body, mtype, "taker_book_side", "taker_outcome_side")
    if taker is None and body.get("taker_side") in ("yes", "no"):  # deprecated: taker bought that outcome
        taker = BookSide.BID if body["taker_side"] == "yes" else BookSide.ASK
    return TradeMsg(
        opt_int(raw, "sid"),
        opt_int(raw, "seq"),
        req_str(body, "trade_id", mtype),
        req_str(body, "market_ticker", mtype),
        req_price(body, "yes_price_dollars", mtype),
        req_count(body, "count_fp", mtype),
        taker,
        opt_bool(body, "is_block_trade") or False,
        opt_int(body, "ts_ms"),
        received_ts,
    )


def parse_lifecycle(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> LifecycleMsg:
    """``market_lifecycle_v2``, ``event_lifecycle`` and ``event_fee_update`` (all on the lifecycle channel)."""
    mtype = str(raw.get("type"))
    body = body_of(raw, mtype)
    is_market = mtype == "market_lifecycle_v2"
    grid = None
    if body.get("price_ranges") is not None:
        try:
            grid = PriceGrid.from_wire(body["price_ranges"])
        except UnitError as exc:
            raise WireMessageError(mtype, "price_ranges", str(exc)) from None
    meta = body.get("additional_metadata")
    event_ticker = opt_str(body, "event_ticker") or (
        opt_str(meta, "event_ticker") if isinstance(meta, Mapping) else None
    )
    return LifecycleMsg(
        opt_int(raw, "sid"),
        opt_int(raw, "seq"),
        mtype,
        req_str(body, "event_type", mtype) if is_market else mtype,
        req_str(body, "market_ticker", mtype) if is_market else None,
        event_ticker,
        opt_bool(body, "is_deactivated"),
        opt_int(body, "open_ts"),
        opt_int(body, "close_ts"),
        opt_int(body, "determination_ts"),
        opt_int(body, "settled_ts"),
        opt_str(body, "result"),
        opt_price(body, "settlement_value", mtype),
        opt_str(body, "price_level_structure"),
        grid,
        MappingProxyType(dict(body)),
        received_ts,
    )


def parse_subscribed(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> Subscribed:
    body = body_of(raw, "subscribed")
    return Subscribed(
        opt_int(raw, "id"), req_str(body, "channel", "subscribed"), req_int(body, "sid", "subscribed"), received_ts
    )


def parse_unsubscribed(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> Unsubscribed:
    return Unsubscribed(opt_int(raw, "id"), req_int(raw, "sid", "unsubscribed"), opt_int(raw, "seq"), received_ts)


def _tickers(value: object) -> tuple[str, ...]:
    return tuple(t for t in value if type(t) is str) if isinstance(value, list) else ()


def parse_ok(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> Ok:
    body = raw.get("msg")
    tickers: tuple[str, ...] | None = None
    subs: tuple[tuple[str, int], ...] | None = None
    if isinstance(body, list):  # list_subscriptions
        subs = tuple(
            (s["channel"], s["sid"])
            for s in body
            if isinstance(s, Mapping) and type(s.get("channel")) is str and type(s.get("sid")) is int
        )
    elif isinstance(body, Mapping) and "market_tickers" in body:
        tickers = _tickers(body["market_tickers"])
    return Ok(opt_int(raw, "id"), opt_int(raw, "sid"), opt_int(raw, "seq"), tickers, subs, received_ts)


def parse_error(raw: Mapping[str, Any], received_ts: float, use_yes_price: bool = False) -> ErrorMsg:
    body = body_of(raw, "error")
    tickers = _tickers(body.get("market_tickers"))
    single = opt_str(body, "market_ticker")
    if single and single not in tickers:
        tickers = (single, *tickers)
    return ErrorMsg(
        opt_int(raw, "id"),
        req_int(body, "code", "error"),
        opt_str(body, "msg") or "",
        opt_int(raw, "sid"),
        opt_int(raw, "seq"),
        tickers,
        received_ts,
    )


_Parser = Callable[[Mapping[str, Any], float, bool], WsMessage]

_PARSERS: dict[str, _Parser] = {
    "orderbook_delta": parse_orderbook_delta,
    "orderbook_snapshot": parse_orderbook_snapshot,
    "ticker": parse_ticker,
    "trade": parse_trade,
    "fill": parse_fill,
    "market_position": parse_market_position,
    "user_order": parse_user_order,
    "order_group_updates": parse_order_group,
    "market_lifecycle_v2": parse_lifecycle,
    "event_lifecycle": parse_lifecycle,
    "event_fee_update": parse_lifecycle,
    "subscribed": parse_subscribed,
    "unsubscribed": parse_unsubscribed,
    "ok": parse_ok,
    "error": parse_error,
}
# The message types with a dedicated parser (everything else parses to UnknownMsg).
PARSED_MESSAGE_TYPES = frozenset(_PARSERS)


def parse_message(raw: Mapping[str, Any], received_ts: float, *, use_yes_price: bool = False) -> WsMessage:
    """Parse one decoded frame. ``received_ts``: local receive time (Unix s) from the injected clock.

    ``use_yes_price`` must match the flag of the subscribe command that created the frame's orderbook sid.
    Raises :class:`WireMessageError` on a malformed frame; an unknown ``type`` gives :class:`UnknownMsg`.
    """
    if type(raw) is not dict and not isinstance(raw, Mapping):  # the exact-type test is the fast common case
        raise WireMessageError("?", "$", f"a frame must be a JSON object, got {type(raw).__name__}")
    mtype = raw.get("type")
    parser = _PARSERS.get(mtype) if type(mtype) is str else None
    if parser is None:
        if type(mtype) is not str:
            raise WireMessageError("?", "type", "missing" if mtype is None else f"expected a string, got {mtype!r}")
        return UnknownMsg(mtype, opt_int(raw, "sid"), opt_int(raw, "seq"), received_ts)
    return parser(raw, received_ts, use_yes_price)
