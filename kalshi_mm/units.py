"""Exact units: the one place where Kalshi's wire strings become integers and back.

* Prices and cash are integers in 1/10,000 dollar ("e4" units): ``"0.4700"`` -> 4700, ``"0.0055"`` -> 55.
* Counts are integers in 1/100 contract ("e2" units): ``"10.00"`` -> 1000.

Floats appear only in model math (strategy/); a model price comes back through :func:`price_from_float`
with an explicit rounding direction. Database columns and config keys holding these integers end in
``_e4`` / ``_e2`` (or are typed as such) so a reader never has to guess the unit.

The valid price grid of a market comes from its ``price_ranges`` (NOTES.md §2): a list of bands
``{start, end, step}`` in dollar strings, both ends inclusive, valid prices ``start + k*step``. $0 and $1 are
never valid. :class:`PriceGrid` snaps a price onto that grid in an explicit direction: bids round down,
asks round up, so rounding never makes a quote more aggressive than the model asked for.
"""

from __future__ import annotations

import bisect
import enum
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = [
    "COUNT_SCALE",
    "ONE_DOLLAR",
    "PRICE_SCALE",
    "PriceBand",
    "PriceGrid",
    "Rounding",
    "UnitError",
    "count_from_float",
    "count_to_float",
    "format_count",
    "format_dollars",
    "format_price",
    "is_tradable_price",
    "no_price",
    "parse_cash",
    "parse_config_dollars",
    "parse_count",
    "parse_price",
    "parse_signed_count",
    "price_from_float",
    "price_to_float",
    "yes_price",
]

PRICE_SCALE = 10_000  # units per dollar, for prices and cash
COUNT_SCALE = 100  # units per contract
ONE_DOLLAR = PRICE_SCALE  # the settlement value of a winning contract, and the upper bound of any price

_PRICE_DECIMALS = 4
_COUNT_DECIMALS = 2
# Kalshi emits up to 6 decimals on portfolio money fields (fees, costs); we keep 4 and round explicitly.
_MAX_CASH_WIRE_DECIMALS = 6

# A plain fixed-point decimal: optional sign, digits, optional fraction. No exponents, spaces, "inf" or "nan":
# anything else on a money field is a malformed payload, not something to guess at. ASCII digits only (``\d``
# would take Arabic-Indic and other Unicode digits too), and matched whole (``$`` lets a trailing newline by).
_DECIMAL_RE = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]*))?")
# No real amount or count has more whole digits (10^14 $ or contracts); more would overflow SQLite's 64-bit
# integers once scaled, and past 4,300 digits int() raises a plain ValueError instead of our UnitError.
_MAX_WHOLE_DIGITS = 14


class UnitError(ValueError):
    """A wire or config value is malformed, negative where it cannot be, out of range, or too precise."""


class Rounding(enum.Enum):
    """Direction for turning an inexact value into a unit. Bids use DOWN, asks use UP."""

    DOWN = "down"  # toward -infinity
    UP = "up"  # toward +infinity


def _parse_fixed(
    text: object,
    decimals: int,
    what: str,
    *,
    max_decimals: int | None = None,
    rounding: Rounding | None = None,
) -> int:
    """Parse a fixed-point decimal string into an integer of 10**-decimals units."""
    if not isinstance(text, str):
        raise UnitError(f"{what}: expected a decimal string, got {type(text).__name__} {text!r}")
    match = _DECIMAL_RE.fullmatch(text)
    if match is None:
        raise UnitError(f"{what}: malformed decimal string {text[:40]!r}")
    sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
    if len(whole) > _MAX_WHOLE_DIGITS:
        raise UnitError(f"{what}: {len(whole)} whole digits in {text[:40]!r}, at most {_MAX_WHOLE_DIGITS} allowed")
    limit = decimals if max_decimals is None else max_decimals
    if len(frac) > limit:
        raise UnitError(f"{what}: {text!r} has {len(frac)} decimals, at most {limit} allowed")
    kept, excess = frac[:decimals].ljust(decimals, "0"), frac[decimals:]
    value = int(whole) * 10**decimals + int(kept or "0")
    if excess.strip("0"):
        if rounding is None:
            raise UnitError(f"{what}: {text!r} is finer than 1/{10**decimals} and no rounding was given")
        # Magnitude rounding adjusted for sign so UP/DOWN keep their toward-±infinity meaning.
        away_from_zero = (rounding is Rounding.UP) != (sign == "-")
        if away_from_zero:
            value += 1
    return -value if sign == "-" else value


def _format_fixed(value: int, decimals: int) -> str:
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"


def _require_int(value: object, what: str) -> int:
    # bool is an int subclass; True as a price is always a bug.
    if not isinstance(value, int) or isinstance(value, bool):
        raise UnitError(f"{what}: expected an integer number of units, got {type(value).__name__} {value!r}")
    return value


# --- prices -------------------------------------------------------------------------------------------------


def parse_price(text: object, field: str = "price") -> int:
    """Parse a dollar price string (``"0.47"``, ``"0.4700"``, ``"0.0055"``) into 1/10,000-dollar units.

    Accepts 0..1 inclusive, because market data uses ``"0.0000"`` for an empty side and settlement uses
    ``"1.0000"``; use :func:`is_tradable_price` to check an order price. More than 4 decimals, a sign,
    or a value above $1 raises :class:`UnitError` naming ``field``.
    """
    value = _parse_fixed(text, _PRICE_DECIMALS, field)
    if isinstance(text, str) and text.startswith(("-", "+")):
        raise UnitError(f"{field}: a price carries no sign, got {text!r}")
    if value > ONE_DOLLAR:
        raise UnitError(f"{field}: price {text!r} is above $1")
    return value


def format_price(price_e4: int, field: str = "price") -> str:
    """Format 1/10,000-dollar units as Kalshi's 4-decimal dollar string: 4700 -> ``"0.4700"``."""
    price_e4 = _require_int(price_e4, field)
    if not 0 <= price_e4 <= ONE_DOLLAR:
        raise UnitError(f"{field}: price {price_e4} units is outside [$0, $1]")
    return _format_fixed(price_e4, _PRICE_DECIMALS)


def is_tradable_price(price_e4: int) -> bool:
    """True for a price strictly inside ($0, $1); grid membership is :meth:`PriceGrid.contains`."""
    return 0 < price_e4 < ONE_DOLLAR


def no_price(yes_price_e4: int) -> int:
    """The NO-leg price equivalent to a YES-leg price: 1 − p (a NO bid at q is a YES ask at 1 − q)."""
    yes_price_e4 = _require_int(yes_price_e4, "yes price")
    if not 0 <= yes_price_e4 <= ONE_DOLLAR:
        raise UnitError(f"yes price: {yes_price_e4} units is outside [$0, $1]")
    return ONE_DOLLAR - yes_price_e4


def yes_price(no_price_e4: int) -> int:
    """The YES-leg price equivalent to a NO-leg price: 1 − q."""
    no_price_e4 = _require_int(no_price_e4, "no price")
    if not 0 <= no_price_e4 <= ONE_DOLLAR:
        raise UnitError(f"no price: {no_price_e4} units is outside [$0, $1]")
    return ONE_DOLLAR - no_price_e4


def price_to_float(price_e4: int) -> float:
    """Dollars as a float, for model math only (never stored, never sent)."""
    return price_e4 / PRICE_SCALE


def price_from_float(dollars: float, rounding: Rounding) -> int:
    """Round a model price in dollars to 1/10,000-dollar units in the given direction.

    The result is not clamped to (0, 1) or to a grid: :meth:`PriceGrid.snap` does that. A non-finite value
    raises, because a NaN quote is a model bug that must not reach the exchange.
    """
    if not math.isfinite(dollars):
        raise UnitError(f"model price is not finite: {dollars!r}")
    # Decimal(repr) keeps 0.47 as 0.47 instead of 0.46999999999999997 before rounding.
    scaled = Decimal(repr(dollars)) * PRICE_SCALE
    return int(scaled.to_integral_value(rounding="ROUND_FLOOR" if rounding is Rounding.DOWN else "ROUND_CEILING"))


# --- cash ---------------------------------------------------------------------------------------------------


def parse_cash(
    text: object, field: str = "amount", *, allow_negative: bool = True, rounding: Rounding | None = None
) -> int:
    """Parse a dollar amount (balance, cost, fee, P&L) into 1/10,000-dollar units.

    Kalshi sends up to 6 decimals on some portfolio fields; digits beyond the 4th must be zero unless a
    ``rounding`` is given (fees are rounded UP so costs are never understated).
    """
    value = _parse_fixed(text, _PRICE_DECIMALS, field, max_decimals=_MAX_CASH_WIRE_DECIMALS, rounding=rounding)
    if value < 0 and not allow_negative:
        raise UnitError(f"{field}: negative amount {text!r} not allowed")
    return value


def format_dollars(amount_e4: int, field: str = "amount") -> str:
    """Format 1/10,000-dollar units as a 4-decimal dollar string, any sign or size: -50 -> ``"-0.0050"``."""
    return _format_fixed(_require_int(amount_e4, field), _PRICE_DECIMALS)


def parse_config_dollars(value: object, field: str = "value") -> int:
    """Convert a config value in dollars (YAML int, float or decimal string) exactly to 1/10,000-dollar units.

    ``0.02`` -> 200. A value finer than $0.0001, non-finite, or not a number raises :class:`UnitError`.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise UnitError(f"{field}: expected a dollar amount, got {type(value).__name__} {value!r}")
    try:
        # str() of a YAML float is its shortest repr (0.02 -> "0.02"), so the decimal is the one the user wrote.
        dec = Decimal(str(value).strip())
    except InvalidOperation:
        raise UnitError(f"{field}: {value!r} is not a dollar amount") from None
    if not dec.is_finite():
        raise UnitError(f"{field}: {value!r} is not a finite dollar amount")
    scaled = dec * PRICE_SCALE
    if scaled != scaled.to_integral_value():
        raise UnitError(f"{field}: {value!r} is finer than $0.0001")
    return int(scaled)


# --- counts -------------------------------------------------------------------------------------------------


def parse_count(text: object, field: str = "count") -> int:
    """Parse a non-negative fixed-point contract count (``"10.00"``, ``"3"``, ``"0.5"``) into 1/100 contracts."""
    value = _parse_fixed(text, _COUNT_DECIMALS, field)
    if isinstance(text, str) and text.startswith(("-", "+")):
        raise UnitError(f"{field}: a count carries no sign, got {text!r}")
    return value


def parse_signed_count(text: object, field: str = "position") -> int:
    """Parse a signed fixed-point count (positions: + YES, − NO) into 1/100 contracts."""
    return _parse_fixed(text, _COUNT_DECIMALS, field)


def format_count(count_e2: int, field: str = "count") -> str:
    """Format 1/100-contract units as Kalshi's 2-decimal string: 1000 -> ``"10.00"`` (sign kept for positions)."""
    return _format_fixed(_require_int(count_e2, field), _COUNT_DECIMALS)


def count_to_float(count_e2: int) -> float:
    """Contracts as a float, for model math only."""
    return count_e2 / COUNT_SCALE


def count_from_float(contracts: float, rounding: Rounding) -> int:
    """Round a model size in contracts to 1/100-contract units in the given direction."""
    if not math.isfinite(contracts):
        raise UnitError(f"model size is not finite: {contracts!r}")
    scaled = Decimal(repr(contracts)) * COUNT_SCALE
    return int(scaled.to_integral_value(rounding="ROUND_FLOOR" if rounding is Rounding.DOWN else "ROUND_CEILING"))


# --- the price grid -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceBand:
    """One ``price_ranges`` entry in 1/10,000-dollar units: valid prices start + k*step, up to end inclusive."""

    start_e4: int
    end_e4: int
    step_e4: int

    def __post_init__(self) -> None:
        if self.step_e4 <= 0:
            raise UnitError(f"price range step must be positive, got {self.step_e4} units")
        if not 0 <= self.start_e4 < self.end_e4 <= ONE_DOLLAR:
            raise UnitError(f"price range [{self.start_e4}, {self.end_e4}] units is empty or outside [$0, $1]")


class PriceGrid:
    """The set of valid order prices of one market, built from its ``price_ranges``; immutable."""

    __slots__ = ("_bands", "_prices")

    def __init__(self, bands: Iterable[PriceBand]):
        self._bands = tuple(sorted(bands, key=lambda b: b.start_e4))
        if not self._bands:
            raise UnitError("price_ranges is empty: a market needs at least one price band")
        valid: set[int] = set()
        for band in self._bands:
            valid.update(p for p in range(band.start_e4, band.end_e4 + 1, band.step_e4) if is_tradable_price(p))
        if not valid:
            raise UnitError("price_ranges allow no price strictly between $0 and $1")
        # At most 9,999 entries (every 1/10,000 step); a sorted tuple makes snapping a bisect.
        self._prices: tuple[int, ...] = tuple(sorted(valid))

    @classmethod
    def from_wire(cls, price_ranges: object, field: str = "price_ranges") -> PriceGrid:
        """Build from a market's ``price_ranges`` JSON: a list of ``{"start", "end", "step"}`` dollar strings."""
        if not isinstance(price_ranges, Sequence) or isinstance(price_ranges, str):
            raise UnitError(f"{field}: expected a list of {{start, end, step}}, got {price_ranges!r}")
        bands = []
        for i, entry in enumerate(price_ranges):
            if not isinstance(entry, Mapping):
                raise UnitError(f"{field}[{i}]: expected an object with start/end/step, got {entry!r}")
            missing = [k for k in ("start", "end", "step") if k not in entry]
            if missing:
                raise UnitError(f"{field}[{i}]: missing {', '.join(missing)}")
            bands.append(
                PriceBand(
                    parse_price(entry["start"], f"{field}[{i}].start"),
                    parse_price(entry["end"], f"{field}[{i}].end"),
                    parse_price(entry["step"], f"{field}[{i}].step"),
                )
            )
        return cls(bands)

    # Kalshi's named structures (NOTES.md §2), for tests, the simulator and markets that omit price_ranges.
    @classmethod
    def linear_cent(cls) -> PriceGrid:
        """$0.01 everywhere."""
        return cls([PriceBand(0, ONE_DOLLAR, 100)])

    @classmethod
    def tapered_deci_cent(cls) -> PriceGrid:
        """$0.001 below $0.10 and above $0.90, $0.01 between."""
        return cls([PriceBand(0, 1000, 10), PriceBand(1000, 9000, 100), PriceBand(9000, ONE_DOLLAR, 10)])

    @classmethod
    def deci_cent(cls) -> PriceGrid:
        """$0.001 everywhere."""
        return cls([PriceBand(0, ONE_DOLLAR, 10)])

    def to_wire(self) -> list[dict[str, str]]:
        """The ``price_ranges`` JSON for this grid."""
        return [
            {
                "start": format_price(b.start_e4),
                "end": format_price(b.end_e4),
                "step": format_price(b.step_e4),
            }
            for b in self._bands
        ]

    @property
    def bands(self) -> tuple[PriceBand, ...]:
        return self._bands

    @property
    def min_price(self) -> int:
        return self._prices[0]

    @property
    def max_price(self) -> int:
        return self._prices[-1]

    def contains(self, price_e4: int) -> bool:
        """True if ``price_e4`` is a valid order price on this grid."""
        i = bisect.bisect_left(self._prices, price_e4)
        return i < len(self._prices) and self._prices[i] == price_e4

    def snap(self, price_e4: int, rounding: Rounding) -> int | None:
        """The nearest valid price at or below (DOWN, for bids) or at or above (UP, for asks) ``price_e4``.

        Returns None when no valid price lies in that direction (e.g. a bid below the lowest tick): the caller
        must not quote that side rather than be pushed to a more aggressive price. Never returns $0 or $1.
        """
        price_e4 = _require_int(price_e4, "price")
        if rounding is Rounding.DOWN:
            i = bisect.bisect_right(self._prices, price_e4)
            return self._prices[i - 1] if i > 0 else None
        i = bisect.bisect_left(self._prices, price_e4)
        return self._prices[i] if i < len(self._prices) else None

    def tick_above(self, price_e4: int) -> int | None:
        """The next valid price strictly above ``price_e4``, or None."""
        i = bisect.bisect_right(self._prices, price_e4)
        return self._prices[i] if i < len(self._prices) else None

    def tick_below(self, price_e4: int) -> int | None:
        """The next valid price strictly below ``price_e4``, or None."""
        i = bisect.bisect_left(self._prices, price_e4)
        return self._prices[i - 1] if i > 0 else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PriceGrid) and self._prices == other._prices

    def __hash__(self) -> int:
        return hash(self._prices)

    def __repr__(self) -> str:
        return f"PriceGrid({self.to_wire()!r})"
