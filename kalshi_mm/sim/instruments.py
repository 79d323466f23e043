"""Catalogue types of the embedded exchange: series, events and markets, with their enums.

Split out of :mod:`kalshi_mm.sim.model` (which re-exports everything here) to keep modules small; the unit
conventions of that module apply. ``fee_multiplier`` values are exact rationals, never floats.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from kalshi_mm.units import PriceGrid, UnitError

__all__ = ["Event", "FeeType", "Market", "MarketResult", "MarketStatus", "Series", "to_fraction"]


def to_fraction(value: Fraction | int | str | Decimal | float, what: str = "value") -> Fraction:
    """An exact rational from an int, decimal string, Decimal or (YAML/JSON) float.

    A float goes through its shortest repr (``1.2`` -> 6/5), never its binary expansion, so a fee multiplier
    read from JSON is the decimal the publisher wrote.
    """
    if isinstance(value, bool):
        raise UnitError(f"{what}: expected a number, got {value!r}")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        return Fraction(repr(value))
    if isinstance(value, int | str | Decimal):
        try:
            return Fraction(value)
        except (ValueError, ZeroDivisionError):
            raise UnitError(f"{what}: {value!r} is not a number") from None
    raise UnitError(f"{what}: expected a number, got {type(value).__name__} {value!r}")


class MarketStatus(enum.Enum):
    """Response status of a market (``Market.status``). A trading pause is the separate ``Market.paused`` flag."""

    INITIALIZED = "initialized"
    ACTIVE = "active"
    CLOSED = "closed"
    DETERMINED = "determined"
    FINALIZED = "finalized"


class MarketResult(enum.Enum):
    YES = "yes"
    NO = "no"
    SCALAR = "scalar"


class FeeType(enum.Enum):
    """Series fee structure (OpenAPI ``FeeType``); see kalshi_mm.sim.fees for the formulas."""

    QUADRATIC = "quadratic"
    QUADRATIC_WITH_MAKER_FEES = "quadratic_with_maker_fees"
    QUADRATIC_WITH_COMBO_MAKER_FEES = "quadratic_with_combo_maker_fees"
    FLAT = "flat"


# --- catalogue ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    """A series (where category and fees live). ``fee_multiplier`` is an exact rational (wire: a float).

    ``flat_fee_e4`` is the per-contract taker fee used when ``fee_type`` is ``flat``: Kalshi's "specific
    trading fees" table is UNCONFIRMED (NOTES §10), so the simulator takes the value from whoever builds the
    catalogue.
    """

    ticker: str
    title: str = ""
    category: str = ""
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    frequency: str = ""
    fee_type: FeeType = FeeType.QUADRATIC
    fee_multiplier: Fraction = Fraction(1)
    flat_fee_e4: int = 0
    contract_url: str = ""
    contract_terms_url: str = ""
    settlement_sources: tuple[str, ...] = ()
    additional_prohibitions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fee_multiplier", to_fraction(self.fee_multiplier, "fee_multiplier"))
        if self.fee_multiplier < 0 or self.flat_fee_e4 < 0:
            raise UnitError(f"series {self.ticker}: fees cannot be negative")


@dataclass(frozen=True, slots=True)
class Event:
    """An event groups markets; ``fee_*_override`` take precedence over the series' fee for its markets."""

    event_ticker: str
    series_ticker: str
    title: str = ""
    sub_title: str = ""
    mutually_exclusive: bool = False
    collateral_return_type: str = ""  # MECNET | DIRECNET | "" (netting across markets is not simulated)
    strike_date: int | None = None  # Unix seconds
    strike_period: str | None = None
    fee_type_override: FeeType | None = None
    fee_multiplier_override: Fraction | None = None

    def __post_init__(self) -> None:
        if self.fee_multiplier_override is not None:
            object.__setattr__(
                self, "fee_multiplier_override", to_fraction(self.fee_multiplier_override, "fee_multiplier_override")
            )


@dataclass(frozen=True, slots=True)
class Market:
    """A binary market: definition plus the state the exchange maintains (status, result, counters).

    Times are Unix seconds (int). The exchange moves ``status`` along initialized → active (at ``open_ts``) →
    closed (at ``close_ts`` or an early close) → determined (:meth:`Exchange.determine`) → finalized (settled,
    ``settlement_timer_seconds`` after determination). ``paused`` is a per-market trading halt.
    ``last_price_e4`` is 0 before the first trade. Volume and open interest are in 1/100 contract.
    """

    ticker: str
    event_ticker: str
    open_ts: int
    close_ts: int
    title: str = ""
    subtitle: str = ""
    yes_sub_title: str = ""
    no_sub_title: str = ""
    market_type: str = "binary"
    expected_expiration_ts: int | None = None
    latest_expiration_ts: int | None = None
    grid: PriceGrid = field(default_factory=PriceGrid.linear_cent)
    price_level_structure: str = "linear_cent"
    settlement_timer_seconds: int = 0
    can_close_early: bool = False
    rules_primary: str = ""
    rules_secondary: str = ""
    strike_type: str | None = None
    floor_strike: float | None = None  # strikes describe the underlying, not money
    cap_strike: float | None = None
    # --- state maintained by the exchange ---
    status: MarketStatus = MarketStatus.INITIALIZED
    paused: bool = False
    result: MarketResult | None = None
    settlement_value_e4: int | None = None  # payout per YES contract once determined
    determination_ts: float | None = None
    settlement_ts: float | None = None
    created_ts: float | None = None
    updated_ts_ms: int = 0
    volume_e2: int = 0
    open_interest_e2: int = 0
    last_price_e4: int = 0

    def __post_init__(self) -> None:
        if self.close_ts < self.open_ts:
            raise UnitError(f"market {self.ticker}: close_ts {self.close_ts} is before open_ts {self.open_ts}")
        if self.settlement_timer_seconds < 0:
            raise UnitError(f"market {self.ticker}: settlement_timer_seconds cannot be negative")

    @property
    def is_tradable(self) -> bool:
        """True when orders may be placed or amended (active and not paused)."""
        return self.status is MarketStatus.ACTIVE and not self.paused

    @property
    def filter_status(self) -> str:
        """The ``status`` query-filter value this market matches (NOTES §3.2): unopened|open|paused|closed|settled."""
        if self.status is MarketStatus.INITIALIZED:
            return "unopened"
        if self.status is MarketStatus.ACTIVE:
            return "paused" if self.paused else "open"
        if self.status is MarketStatus.FINALIZED:
            return "settled"
        return "closed"
