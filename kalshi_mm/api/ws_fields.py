"""Field readers for WebSocket message bodies: strict on money, lenient on everything else.

Money and counts go through :mod:`kalshi_mm.units` (the one module that converts wire strings); a missing or
malformed money field raises :class:`WireMessageError` naming the message type and the field. Timestamps,
flags and optional strings that are absent or of the wrong type read as None, because Kalshi adds, deprecates
and removes such fields without notice (NOTES.md §0) and none of them can make us misprice an order.

The orderbook stream is the hot path (≥ 100,000 deltas/s target), and ``units.parse_price`` costs ~1.3 µs
per call, so successful parses are memoised per distinct wire string. The caches are bounded (cleared when
full) so hostile or unusual input cannot grow them without limit; they are referentially transparent, so the
parsers stay pure. Plain dict get/set is atomic under the GIL, so concurrent parsers may share them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kalshi_mm.api.ws_types import BookSide
from kalshi_mm.units import Rounding, UnitError, parse_cash, parse_count, parse_price, parse_signed_count

__all__ = [
    "WireMessageError",
    "body_of",
    "cached_price",
    "cached_signed_count",
    "direction",
    "legacy_direction",
    "opt_bool",
    "opt_cash",
    "opt_count",
    "opt_int",
    "opt_price",
    "opt_signed_count",
    "opt_str",
    "req_cash",
    "req_count",
    "req_int",
    "req_price",
    "req_signed_count",
    "req_str",
]

# Distinct price strings are few (at most ~10,001 canonical 4-decimal forms); counts vary more.
_PRICE_CACHE_MAX = 32_768
_COUNT_CACHE_MAX = 65_536
_price_cache: dict[str, int] = {}
_count_cache: dict[str, int] = {}
_signed_count_cache: dict[str, int] = {}

# Direct memo lookups for the hot path (the caches are cleared in place, never replaced, so these stay valid).
# They return None on a miss and raise TypeError for an unhashable key; fall back to req_* in both cases.
cached_price = _price_cache.get
cached_signed_count = _signed_count_cache.get


class WireMessageError(ValueError):
    """A WebSocket message is malformed where it matters: ``message_type`` and ``field`` say where."""

    def __init__(self, message_type: str, field: str, problem: str) -> None:
        super().__init__(f"{message_type} message: field {field!r}: {problem}")
        self.message_type = message_type
        self.field = field
        self.problem = problem


def _cached(
    body: Mapping[str, Any], key: str, mtype: str, cache: dict[str, int], limit: int, parse: Any, **kwargs: Any
) -> int:
    text = body.get(key)
    try:
        value = cache.get(text)  # type: ignore[arg-type]
    except TypeError:  # an unhashable value (list, dict) where a string belongs
        value = None
    if value is not None:
        return value
    if text is None:
        raise WireMessageError(mtype, key, "missing")
    try:
        value = parse(text, key, **kwargs)
    except UnitError as exc:
        raise WireMessageError(mtype, key, str(exc)) from None
    if len(cache) >= limit:
        cache.clear()
    cache[text] = value
    return value


def req_price(body: Mapping[str, Any], key: str, mtype: str) -> int:
    """A required dollar price string -> 1/10,000 $ (0..10,000 inclusive)."""
    return _cached(body, key, mtype, _price_cache, _PRICE_CACHE_MAX, parse_price)


def req_count(body: Mapping[str, Any], key: str, mtype: str) -> int:
    """A required non-negative fixed-point count string -> 1/100 contract."""
    return _cached(body, key, mtype, _count_cache, _COUNT_CACHE_MAX, parse_count)


def req_signed_count(body: Mapping[str, Any], key: str, mtype: str) -> int:
    """A required signed fixed-point count string (deltas, positions) -> 1/100 contract."""
    return _cached(body, key, mtype, _signed_count_cache, _COUNT_CACHE_MAX, parse_signed_count)


def req_cash(body: Mapping[str, Any], key: str, mtype: str, rounding: Rounding) -> int:
    """A required dollar amount (up to 6 decimals on portfolio fields) -> 1/10,000 $, rounded as given."""
    text = body.get(key)
    if text is None:
        raise WireMessageError(mtype, key, "missing")
    try:
        return parse_cash(text, key, rounding=rounding)
    except UnitError as exc:
        raise WireMessageError(mtype, key, str(exc)) from None


def opt_price(body: Mapping[str, Any], key: str, mtype: str) -> int | None:
    """An optional price: None when absent or null; malformed still raises (strict on money)."""
    return None if body.get(key) is None else req_price(body, key, mtype)


def opt_count(body: Mapping[str, Any], key: str, mtype: str) -> int | None:
    return None if body.get(key) is None else req_count(body, key, mtype)


def opt_signed_count(body: Mapping[str, Any], key: str, mtype: str) -> int | None:
    return None if body.get(key) is None else req_signed_count(body, key, mtype)


def opt_cash(body: Mapping[str, Any], key: str, mtype: str, rounding: Rounding) -> int | None:
    return None if body.get(key) is None else req_cash(body, key, mtype, rounding)


def req_str(body: Mapping[str, Any], key: str, mtype: str) -> str:
    """A required non-empty string (identifiers the store is keyed by: tickers, order and trade ids)."""
    value = body.get(key)
    if type(value) is not str or not value:
        raise WireMessageError(
            mtype, key, "missing" if value is None else f"expected a non-empty string, got {value!r}"
        )
    return value


def req_int(body: Mapping[str, Any], key: str, mtype: str) -> int:
    """A required integer (sid, seq on sequenced channels, error code); bool is rejected."""
    value = body.get(key)
    if type(value) is not int:
        raise WireMessageError(mtype, key, "missing" if value is None else f"expected an integer, got {value!r}")
    return value


def opt_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if type(value) is str else None


def opt_int(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    return value if type(value) is int else None


def opt_bool(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    return value if type(value) is bool else None


# --- envelope and direction -------------------------------------------------------------------------------------


def body_of(raw: Mapping[str, Any], mtype: str) -> Mapping[str, Any]:
    body = raw.get("msg")
    if not isinstance(body, Mapping):
        raise WireMessageError(mtype, "msg", "missing" if body is None else f"expected an object, got {body!r:.80}")
    return body


def _book_side(value: object, mtype: str, field: str) -> BookSide:
    if value == "bid":
        return BookSide.BID
    if value == "ask":
        return BookSide.ASK
    raise WireMessageError(mtype, field, f"expected 'bid' or 'ask', got {value!r}")


def direction(body: Mapping[str, Any], mtype: str, book_key: str, outcome_key: str) -> BookSide | None:
    """Order direction from ``book_side``, else ``outcome_side`` (yes = bid), else None."""
    book = body.get(book_key)
    if book is not None:
        return _book_side(book, mtype, book_key)
    outcome = body.get(outcome_key)
    if outcome is None:
        return None
    if outcome in ("yes", "no"):
        return BookSide.BID if outcome == "yes" else BookSide.ASK
    raise WireMessageError(mtype, outcome_key, f"expected 'yes' or 'no', got {outcome!r}")


def legacy_direction(body: Mapping[str, Any], mtype: str) -> BookSide:
    """Direction from the deprecated ``side`` + ``action`` (buy yes / sell no = bid) when the new fields are gone."""
    side, action = body.get("side"), body.get("action")
    if side in ("yes", "no") and action in ("buy", "sell"):
        return BookSide.BID if (side == "yes") == (action == "buy") else BookSide.ASK
    raise WireMessageError(mtype, "book_side", "missing (and no usable outcome_side or side/action)")
