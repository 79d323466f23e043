"""Helpers shared by the embedded exchange's REST endpoints: cursors and strict request-field parsing."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.http import RequestContext, bad_request
from kalshi_mm.units import UnitError, parse_count, parse_price

__all__ = ["body_bool", "body_count", "body_price", "body_str", "page", "parse_cursor"]

T = TypeVar("T")

DEFAULT_LIMIT = 100


def _encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def parse_cursor(raw: str | None) -> Any:
    """The key a cursor stands for, or None for the first page; a garbled cursor is a 400."""
    if not raw:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, UnicodeDecodeError):
        raise bad_request(f"invalid cursor {raw!r}") from None


def page(
    ctx: RequestContext,
    items: Sequence[T],
    key: Callable[[T], Any],
    *,
    max_limit: int,
    default_limit: int = DEFAULT_LIMIT,
) -> tuple[list[T], str]:
    """Keyset pagination over ``items`` (already in response order, keys strictly monotone in that order).

    The cursor holds the last key returned, so items appended while a client pages never shift a page;
    an empty cursor marks the last page, as Kalshi does.
    """
    limit = ctx.q_int("limit", default_limit, lo=1, hi=max_limit) or default_limit
    after = parse_cursor(ctx.q("cursor"))
    start = 0
    if after is not None:
        keys = [key(item) for item in items]
        # Order may be ascending or descending; find the first item strictly past the cursor key.
        ascending = len(keys) < 2 or keys[0] <= keys[-1]
        start = next((i for i, k in enumerate(keys) if (k > after if ascending else k < after)), len(keys))
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    return chunk, (_encode_cursor(key(chunk[-1])) if more and chunk else "")


def body_str(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"missing field {name}", "invalid_parameters")
        return None
    if not isinstance(value, str):
        raise bad_request(f"field {name} must be a string", "invalid_parameters")
    return value


def body_bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"field {name} must be a boolean", "invalid_parameters")
    return value


def body_price(body: dict[str, Any], name: str) -> int:
    raw = body_str(body, name)
    try:
        price = parse_price(raw, name)
    except UnitError as exc:
        raise ExchangeError(400, "invalid_price", str(exc)) from None
    return price


def body_count(body: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    raw = body.get(name)
    if raw is None and not required:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # Kalshi accepts integer counts where fixed-point strings are documented
    try:
        return parse_count(raw, name)
    except UnitError as exc:
        raise ExchangeError(400, "invalid_order_size", str(exc)) from None


def body_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_request(f"field {name} must be an integer", "invalid_parameters")
    return value
