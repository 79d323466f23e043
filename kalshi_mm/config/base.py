"""Building blocks shared by every config section: the strict frozen base model, money types, read-only
collections and the cross-field conflict collector.

Units: every money attribute of the config is an ``int`` of 1/10,000 dollar (``kalshi_mm.units``), whatever
unit its YAML key is written in. Keys written in dollars (``min_total_spread: 0.02``) use :data:`Dollars`
and friends; the seed's ``*_cents`` keys use :data:`CentsE4` and are exposed under an ``*_e4`` attribute
name (``price_jump_threshold_cents: 12`` -> ``price_jump_threshold_e4 == 1200``). Dumped with
:func:`kalshi_mm.config.settings.config_to_dict`, dollars come back as 4-decimal strings (``"0.0200"``) and
cents as 2-decimal strings (``"12.00"``), both of which load again unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    WrapSerializer,
)
from pydantic_core import PydanticCustomError

from kalshi_mm.units import ONE_DOLLAR, UnitError, format_dollars, parse_config_dollars

__all__ = [
    "CONFLICT_ERROR",
    "REGIMES",
    "CentsE4",
    "ConfigModel",
    "Conflicts",
    "Dollars",
    "FrozenMap",
    "ListOf",
    "PositiveCentsE4",
    "PositiveDollars",
    "PositivePriceDollars",
    "PriceBand",
    "PriceDollars",
    "ReadOnlyMap",
    "Regime",
    "RegimeTuple",
    "StrTuple",
    "ZeroToOne",
    "build",
    "dollars",
    "show_dollars",
    "show_value",
]

K = TypeVar("K")
V = TypeVar("V")

# The regime names the scanner's classifier emits; any other name in config is a typo that would never match.
Regime = Literal["QUIET", "MEAN_REVERTING", "TRENDING", "CHAOTIC", "NOISE", "UNKNOWN"]
REGIMES: tuple[str, ...] = get_args(Regime)

# pydantic error type carrying a list of (relative path, message, shown value) found by a model validator;
# settings.py expands it into one problem line per entry.
CONFLICT_ERROR = "config_conflict"


class ConfigModel(BaseModel):
    """Base of every config section: unknown keys rejected, no coercion (``"5"`` is not 5), immutable.

    Ints are accepted where a float is expected (YAML ``3`` for ``3.0``); bools are never numbers; NaN and
    infinities are rejected.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class FrozenMap(Mapping[K, V]):
    """A read-only, hashable, picklable mapping: config maps cannot be mutated after validation."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[K, V] | None = None) -> None:
        self._data: dict[K, V] = dict(data or {})

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __reduce__(self) -> tuple[type[FrozenMap[K, V]], tuple[dict[K, V]]]:
        return (type(self), (self._data,))


def _thaw(value: Mapping[Any, Any], handler: Callable[[Any], Any]) -> Any:
    # The serializer of a Mapping schema wants a dict; the handler then applies the value type's serializers
    # (so Dollars inside a map still dump as dollar strings).
    return handler(dict(value))


def _list_to_tuple(value: Any) -> Any:
    # YAML gives lists; tuples keep the config immutable. Anything else falls through to the strict check.
    return tuple(value) if isinstance(value, list) else value


ReadOnlyMap = Annotated[Mapping[K, V], AfterValidator(FrozenMap), WrapSerializer(_thaw)]
ListOf = Annotated[tuple[V, ...], BeforeValidator(_list_to_tuple)]
StrTuple = ListOf[str]
RegimeTuple = ListOf[Regime]
# Factors, probabilities, blend weights: within [0, 1].
ZeroToOne = Annotated[float, Field(ge=0, le=1)]


def build(annotation: Any, raw: Any) -> Any:
    """Validate YAML-shaped ``raw`` data against ``annotation``: how nested defaults are written once, in
    the same units and shape as config.yaml (money in dollars), and checked like user input."""
    return TypeAdapter(annotation).validate_python(raw)


# --- money ----------------------------------------------------------------------------------------------------


def dollars(value: int | float | str) -> int:
    """Dollars (as written in YAML) -> 1/10,000-dollar units; for writing defaults: ``dollars("0.02") == 200``."""
    return parse_config_dollars(value)


def show_dollars(units: int) -> str:
    """1/10,000-dollar units as the dollar string config dumps and error messages use: 200 -> ``"0.0200"``."""
    return format_dollars(units)


def _dollar_parser(lo: int, hi: int | None, *, lo_inclusive: bool) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise PydanticCustomError("dollars_type", "expected a dollar amount (number or decimal string)")
        try:
            exact = Decimal(str(value).strip())
        except InvalidOperation:
            raise PydanticCustomError("dollars_type", "expected a dollar amount (number or decimal string)") from None
        if not exact.is_finite():
            raise PydanticCustomError("dollars_value", "must be a finite dollar amount")
        try:
            units = parse_config_dollars(value)
        except UnitError:
            raise PydanticCustomError("dollars_value", "finer than $0.0001: at most 4 decimals") from None
        if units < lo or (units == lo and not lo_inclusive):
            op = "≥" if lo_inclusive else ">"
            raise PydanticCustomError("dollars_range", "must be {op} {bound}", {"op": op, "bound": show_dollars(lo)})
        if hi is not None and units > hi:
            raise PydanticCustomError("dollars_range", "must be ≤ {bound}", {"bound": show_dollars(hi)})
        return units

    return parse


def _cents_parser(*, positive: bool) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise PydanticCustomError("cents_type", "expected a number of cents")
        try:
            cents = Decimal(str(value).strip())
        except InvalidOperation:
            raise PydanticCustomError("cents_type", "expected a number of cents") from None
        units = cents * (ONE_DOLLAR // 100)
        if not units.is_finite() or units != units.to_integral_value():
            raise PydanticCustomError("cents_value", "not an exact amount: at most 2 decimals of a cent, finite")
        if units < 0 or (positive and units == 0):
            raise PydanticCustomError("cents_range", "must be {op} 0 cents", {"op": ">" if positive else "≥"})
        if units > ONE_DOLLAR:
            raise PydanticCustomError("cents_range", "must be ≤ 100 cents (a contract's whole price range)")
        return int(units)

    return parse


def _show_cents(units: int) -> str:
    return str(Decimal(units).scaleb(-2).quantize(Decimal("0.01")))


# Only JSON-mode dumps (config_to_dict) show dollars; model_dump() in Python mode keeps the unit ints.
_DOLLAR_OUT = PlainSerializer(show_dollars, return_type=str, when_used="json")
_CENTS_OUT = PlainSerializer(_show_cents, return_type=str, when_used="json")

# Non-negative dollar amount (balances, budgets, volumes).
Dollars = Annotated[int, BeforeValidator(_dollar_parser(0, None, lo_inclusive=True)), _DOLLAR_OUT]
# Strictly positive dollar amount (caps that would block everything at 0).
PositiveDollars = Annotated[int, BeforeValidator(_dollar_parser(0, None, lo_inclusive=False)), _DOLLAR_OUT]
# A price or spread of a binary contract: within [$0, $1].
PriceDollars = Annotated[int, BeforeValidator(_dollar_parser(0, ONE_DOLLAR, lo_inclusive=True)), _DOLLAR_OUT]
# A spread or threshold in ($0, $1]: zero would make it meaningless.
PositivePriceDollars = Annotated[int, BeforeValidator(_dollar_parser(0, ONE_DOLLAR, lo_inclusive=False)), _DOLLAR_OUT]
# [low, high] price band, written as a 2-item YAML list of dollar prices.
PriceBand = Annotated[tuple[PriceDollars, PriceDollars], BeforeValidator(_list_to_tuple)]
# YAML value in cents within [0, 100] (may be fractional, e.g. 0.5 on deci-cent markets), stored as
# 1/10,000-dollar units.
CentsE4 = Annotated[int, BeforeValidator(_cents_parser(positive=False)), _CENTS_OUT]
PositiveCentsE4 = Annotated[int, BeforeValidator(_cents_parser(positive=True)), _CENTS_OUT]


# --- cross-field checks -----------------------------------------------------------------------------------------


def show_value(value: object, *, quote_strings: bool = True, limit: int = 80) -> str:
    """A config value as an error message shows it: YAML spelling for true/false/null, strings quoted."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, str):
        text = repr(value) if quote_strings else value
    elif isinstance(value, Mapping):
        text = repr(dict(value))
    elif isinstance(value, list | tuple):
        text = repr(list(value))
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Absent:
    """Marks a conflict about a key that is missing, so there is no value to show."""


ABSENT = _Absent()


class Conflicts:
    """Collects contradictions found by a model validator so they are all reported, each under its own key.

    Paths are relative to the model being validated (``("by_regime", "QUIET", "spread_tight")``); the loader
    prefixes the model's own location. Strings are shown as given, so pass dollar amounts through
    :func:`show_dollars`.
    """

    def __init__(self) -> None:
        self._items: list[tuple[tuple[str | int, ...], str, str | None]] = []

    def add(self, where: str | tuple[str | int, ...], message: str, shown: object = ABSENT) -> None:
        """Record that the value at ``where`` is wrong because of ``message``; ``shown`` is the offending value
        (leave it out for a missing key)."""
        path = (where,) if isinstance(where, str) else where
        text = None if isinstance(shown, _Absent) else show_value(shown, quote_strings=False)
        self._items.append((path, message, text))

    def raise_if_any(self) -> None:
        """Raise one pydantic error carrying every recorded conflict (no-op when there are none)."""
        if self._items:
            raise PydanticCustomError(
                CONFLICT_ERROR,
                "{count} conflicting value(s)",
                {"count": len(self._items), "problems": tuple(self._items)},
            )
