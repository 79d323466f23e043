"""Kalshi REST payloads -> :mod:`kalshi_mm.api.types`, pure (DESIGN.md #9): market data and the shared helpers.

Lenient where Kalshi is evolving: unknown fields are ignored, deprecated fields may be missing, free-text and
enum-like strings are kept as sent. Strict where money is concerned: a missing or malformed price, count or
amount raises :class:`~kalshi_mm.api.errors.WireError` naming the object and the field
(``market KX-1: yes_bid_dollars: malformed decimal string 'abc'``). Every number goes through
:mod:`kalshi_mm.units`, the one module that converts wire strings. Portfolio and order-entry payloads are in
:mod:`kalshi_mm.api.wire_portfolio`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kalshi_mm.api.errors import WireError
from kalshi_mm.api.types import (
    BookSide,
    Candlestick,
    Event,
    ExchangeStatus,
    Market,
    Ohlc,
    Orderbook,
    Series,
    Trade,
)
from kalshi_mm.units import (
    ONE_DOLLAR,
    PriceGrid,
    Rounding,
    UnitError,
    parse_cash,
    parse_count,
    parse_price,
    parse_signed_count,
)

__all__ = [
    "Fields",
    "items_of",
    "parse_candlesticks",
    "parse_event",
    "parse_exchange_status",
    "parse_market",
    "parse_orderbook",
    "parse_series",
    "parse_time",
    "parse_trade",
]

_MISSING = object()
_MAX_CENTS = 10**16  # $10^14, the bound units.py puts on decimal amounts
# Grids Kalshi names but may not spell out in price_ranges (NOTES §2).
_NAMED_GRIDS = {
    "linear_cent": PriceGrid.linear_cent,
    "tapered_deci_cent": PriceGrid.tapered_deci_cent,
    "deci_cent": PriceGrid.deci_cent,
}


def parse_time(value: object) -> float:
    """RFC 3339 (any number of fractional digits; naive = UTC) or Unix seconds/milliseconds -> Unix seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        # NaN/Infinity literals and huge integers are JSON too; float() of the latter raises OverflowError.
        if not -1e15 < value < 1e15:
            raise ValueError(f"not a time: {value!r:.40}")
        return float(value) / 1000 if value > 100_000_000_000 else float(value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a time: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class Fields:
    """One JSON object being parsed; ``what`` ("market KX-1") prefixes every error."""

    __slots__ = ("raw", "what")

    def __init__(self, raw: object, what: str):
        if not isinstance(raw, Mapping):
            raise WireError(f"{what}: expected a JSON object, got {type(raw).__name__}")
        self.raw: Mapping[str, Any] = raw
        self.what = what

    def fail(self, field: str, problem: str) -> WireError:
        return WireError(f"{self.what}: {field}: {problem}")

    def _get(self, key: str, required: bool) -> Any:
        value = self.raw.get(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                raise self.fail(key, "missing")
            return None
        return value

    def _unit(self, key: str, required: bool, convert: Any) -> Any:
        value = self._get(key, required)
        if value is None:
            return None
        try:
            return convert(value)
        except UnitError as exc:  # its message already starts with the field name
            raise WireError(f"{self.what}: {exc}") from None

    # --- money: strict -------------------------------------------------------------------------------------

    def price(self, key: str) -> int:
        return self._unit(key, True, lambda v: parse_price(v, key))

    def opt_price(self, key: str) -> int | None:
        return self._unit(key, False, lambda v: parse_price(v, key))

    def count(self, key: str) -> int:
        return self._unit(key, True, lambda v: parse_count(_count_text(v), key))

    def opt_count(self, key: str) -> int | None:
        return self._unit(key, False, lambda v: parse_count(_count_text(v), key))

    def signed_count(self, key: str) -> int:
        """A signed count (positions: + YES, − NO)."""
        return self._unit(key, True, lambda v: parse_signed_count(_count_text(v), key))

    def cash(self, key: str, rounding: Rounding, *, required: bool = True) -> int:
        """A dollar amount of up to 6 decimals, rounded to 1/10,000 in ``rounding``'s direction."""
        value = self._unit(key, required, lambda v: parse_cash(v, key, rounding=rounding))
        return 0 if value is None else value

    def opt_cash(self, key: str, rounding: Rounding) -> int | None:
        return self._unit(key, False, lambda v: parse_cash(v, key, rounding=rounding))

    def cents(self, key: str, *, required: bool = True) -> int | None:
        """An integer-cent field (balance, settlement revenue) in 1/10,000 dollar."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected integer cents, got {value!r}")
        if not -_MAX_CENTS <= value <= _MAX_CENTS:  # as units.py bounds decimal strings: no real amount is larger
            raise self.fail(key, f"{value} cents is out of range")
        return value * 100

    # --- identity and time ---------------------------------------------------------------------------------

    def ident(self, key: str) -> str:
        """A required non-empty identifier (ticker, order id)."""
        value = self._get(key, True)
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def opt_time(self, key: str) -> float | None:
        """Lenient: a missing or malformed optional time is None (times here are informational)."""
        try:
            return self.time(key)
        except WireError:
            return None

    def time(self, key: str) -> float:
        value = self._get(key, True)
        try:
            return parse_time(value)
        except (ValueError, TypeError):
            raise self.fail(key, f"malformed time {value!r}") from None

    def opt_int(self, key: str) -> int | None:
        value = self._get(key, False)
        return None if value is None else self._check_int(key, value)

    def int(self, key: str) -> int:
        return self._check_int(key, self._get(key, True))

    def _check_int(self, key: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {value!r}")
        return value

    # --- lenient -------------------------------------------------------------------------------------------

    def text(self, key: str, default: str = "") -> str:
        value = self.raw.get(key)
        return value if isinstance(value, str) else default

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.raw.get(key)
        return value if isinstance(value, bool) else default

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.raw.get(key)
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _count_text(value: object) -> object:
    # Counts are fixed-point strings today; an integer from an older payload is the same count.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def items_of(body: object, key: str, what: str) -> list[Any]:
    """The list under ``key`` of a response body (absent or null = empty)."""
    fields = Fields(body, what)
    value = fields.raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise fields.fail(key, f"expected a list, got {type(value).__name__}")
    return value


def book_side(f: Fields) -> BookSide:
    """``book_side`` (May 2026+), else derived from the deprecated ``side``/``action`` (NOTES §8 table)."""
    raw = f.raw.get("book_side")
    if raw is not None:
        try:
            return BookSide(raw)
        except ValueError:
            raise f.fail("book_side", f"expected bid or ask, got {raw!r}") from None
    legacy_side, action = f.raw.get("side"), f.raw.get("action") or "buy"
    if legacy_side in ("bid", "ask"):
        return BookSide(legacy_side)
    if legacy_side in ("yes", "no") and action in ("buy", "sell"):
        buys_yes = (legacy_side == "yes") == (action == "buy")
        return BookSide.BID if buys_yes else BookSide.ASK
    raise f.fail("book_side", "missing (and no usable legacy side/action)")


# --- market data ----------------------------------------------------------------------------------------------


def parse_exchange_status(body: object, received_ts: float) -> ExchangeStatus:
    f = Fields(body, "exchange status")
    return ExchangeStatus(f.flag("exchange_active"), f.flag("trading_active"), received_ts)


def _grid(f: Fields) -> PriceGrid | None:
    raw = f.raw.get("price_ranges")
    if raw:
        try:
            return PriceGrid.from_wire(raw)
        except UnitError as exc:
            raise WireError(f"{f.what}: {exc}") from None
    named = _NAMED_GRIDS.get(f.text("price_level_structure"))
    return named() if named is not None else None


def parse_market(raw: object, received_ts: float) -> Market:
    """A ``Market``. An empty side arrives as bid ``0.0000`` / ask ``1.0000`` with size 0: it becomes None."""
    what = f"market {raw.get('ticker', '?') if isinstance(raw, Mapping) else '?'}"
    f = Fields(raw, what)
    bid, ask = f.price("yes_bid_dollars"), f.price("yes_ask_dollars")
    return Market(
        ticker=f.ident("ticker"),
        event_ticker=f.ident("event_ticker"),
        status=f.text("status"),
        market_type=f.text("market_type", "binary"),
        title=f.text("title"),
        yes_sub_title=f.text("yes_sub_title"),
        no_sub_title=f.text("no_sub_title"),
        open_ts=f.opt_time("open_time"),
        close_ts=f.time("close_time"),
        expected_expiration_ts=f.opt_time("expected_expiration_time"),
        yes_bid_e4=bid or None,
        yes_bid_size_e2=f.count("yes_bid_size_fp"),
        yes_ask_e4=ask if ask < ONE_DOLLAR else None,
        yes_ask_size_e2=f.count("yes_ask_size_fp"),
        last_price_e4=f.price("last_price_dollars"),
        previous_yes_bid_e4=f.opt_price("previous_yes_bid_dollars"),
        previous_yes_ask_e4=f.opt_price("previous_yes_ask_dollars"),
        previous_price_e4=f.opt_price("previous_price_dollars"),
        volume_e2=f.count("volume_fp"),
        volume_24h_e2=f.count("volume_24h_fp"),
        open_interest_e2=f.count("open_interest_fp"),
        result=f.text("result"),
        settlement_value_e4=f.opt_price("settlement_value_dollars"),
        can_close_early=f.flag("can_close_early"),
        price_level_structure=f.text("price_level_structure"),
        grid=_grid(f),
        received_ts=received_ts,
    )


def _levels(f: Fields, key: str) -> tuple[tuple[int, int], ...]:
    raw = f.raw.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise f.fail(key, f"expected a list of [price, count] levels, got {type(raw).__name__}")
    levels = []
    for i, level in enumerate(raw):
        if not isinstance(level, Sequence) or isinstance(level, str) or len(level) < 2:
            raise f.fail(f"{key}[{i}]", f"expected [price, count], got {level!r}")
        try:
            price = parse_price(level[0], f"{key}[{i}][0]")
            levels.append((price, parse_count(_count_text(level[1]), f"{key}[{i}][1]")))
        except UnitError as exc:
            raise WireError(f"{f.what}: {exc}") from None
    # The guide says ascending, the endpoint text says best-to-worst: sort so the best bid is last either way.
    return tuple(sorted(levels))


def parse_orderbook(body: object, ticker: str, received_ts: float) -> Orderbook:
    """``{"orderbook_fp": {"yes_dollars": [[p, c]...], "no_dollars": [...]}}`` (or one ``orderbooks`` item)."""
    outer = Fields(body, f"orderbook {ticker}")
    inner = outer.raw.get("orderbook_fp")
    if inner is None:
        raise outer.fail("orderbook_fp", "missing")
    f = Fields(inner, f"orderbook {ticker}: orderbook_fp")
    return Orderbook(ticker, _levels(f, "yes_dollars"), _levels(f, "no_dollars"), received_ts)


def parse_trade(raw: object) -> Trade:
    what = f"trade {raw.get('trade_id', '?') if isinstance(raw, Mapping) else '?'}"
    f = Fields(raw, what)
    side = f.raw.get("taker_book_side")
    if side not in ("bid", "ask"):
        # Deprecated taker_side names the outcome the taker bought: yes = a YES bid lifted the ask.
        legacy = f.raw.get("taker_outcome_side") or f.raw.get("taker_side")
        side = {"yes": "bid", "no": "ask"}.get(legacy) if isinstance(legacy, str) else None
        if side is None:
            raise f.fail("taker_book_side", "missing (and no taker_outcome_side/taker_side)")
    return Trade(
        trade_id=f.ident("trade_id"),
        ticker=f.ident("ticker"),
        count_e2=f.count("count_fp"),
        yes_price_e4=f.price("yes_price_dollars"),
        taker_book_side=BookSide(side),
        created_ts=f.time("created_time"),
        is_block_trade=f.flag("is_block_trade"),
    )


def parse_series(raw: object) -> Series:
    what = f"series {raw.get('ticker', '?') if isinstance(raw, Mapping) else '?'}"
    f = Fields(raw, what)
    multiplier = f.raw.get("fee_multiplier", 1)
    try:
        # str() first: a JSON float 0.5 must become Decimal("0.5"), not its binary expansion.
        fee_multiplier = Decimal(str(multiplier)) if not isinstance(multiplier, bool) else None
    except InvalidOperation:
        fee_multiplier = None
    if fee_multiplier is None or not fee_multiplier.is_finite() or fee_multiplier < 0:
        raise f.fail("fee_multiplier", f"expected a non-negative number, got {multiplier!r}")
    category = f.text("category")
    return Series(
        ticker=f.ident("ticker"),
        title=f.text("title"),
        category=category,
        categories=f.strings("categories") or ((category,) if category else ()),
        tags=f.strings("tags"),
        frequency=f.text("frequency"),
        fee_type=f.text("fee_type", "quadratic"),
        fee_multiplier=fee_multiplier,
        volume_e2=f.opt_count("volume_fp"),
    )


def parse_event(raw: object, received_ts: float, markets: Sequence[object] = ()) -> Event:
    """An ``EventData``; nested ``markets`` win over the deprecated top-level list passed as ``markets``."""
    what = f"event {raw.get('event_ticker', '?') if isinstance(raw, Mapping) else '?'}"
    f = Fields(raw, what)
    nested = f.raw.get("markets")
    source = nested if isinstance(nested, list) else markets
    return Event(
        event_ticker=f.ident("event_ticker"),
        series_ticker=f.text("series_ticker"),
        title=f.text("title"),
        sub_title=f.text("sub_title"),
        mutually_exclusive=f.flag("mutually_exclusive"),
        category=f.text("category"),
        markets=tuple(parse_market(m, received_ts) for m in source),
    )


def _ohlc(f: Fields, key: str) -> Ohlc:
    raw = f.raw.get(key)
    if raw is None:
        raise f.fail(key, "missing")
    o = Fields(raw, f"{f.what}: {key}")
    return Ohlc(o.price("open_dollars"), o.price("high_dollars"), o.price("low_dollars"), o.price("close_dollars"))


def _trade_ohlc(f: Fields) -> Ohlc | None:
    raw = f.raw.get("price")
    if raw is None or (isinstance(raw, Mapping) and raw.get("open_dollars") is None):
        return None  # a period without trades has a price object of nulls
    return _ohlc(f, "price")


def parse_candlesticks(body: object, ticker: str) -> list[Candlestick]:
    out = []
    for i, raw in enumerate(items_of(body, "candlesticks", f"candlesticks {ticker}")):
        f = Fields(raw, f"candlesticks {ticker}[{i}]")
        out.append(
            Candlestick(
                end_period_ts=f.int("end_period_ts"),
                yes_bid=_ohlc(f, "yes_bid"),
                yes_ask=_ohlc(f, "yes_ask"),
                price=_trade_ohlc(f),
                volume_e2=f.count("volume_fp"),
                open_interest_e2=f.count("open_interest_fp"),
            )
        )
    return out
