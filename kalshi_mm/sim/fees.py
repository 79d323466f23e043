"""Trading fees, exact: pure functions over integers and Fractions (NOTES §6).

* taker fee = round_up(M × 0.07 × C × P × (1 − P))
* maker fee = round_up(M × 0.0175 × C × P × (1 − P)) only for ``quadratic_with_maker_fees``
  (``quadratic_with_combo_maker_fees``: maker coefficient 0.035; ``quadratic``: makers pay nothing)
* ``flat``: ``Series.flat_fee_e4`` per contract, taker only (Kalshi's table is UNCONFIRMED)

C = contracts, P = price in dollars, M = the series (or event override) fee multiplier.

**Rounding.** A fee is rounded UP to $0.0001, our cash unit (NOTES §6: "trade fee is ceiled to a small unit
($0.0001)"; the older whole-cent rounding is gone). Kalshi then keeps a per-order accumulator that rebates
overpaid rounding across fills; we model that exactly: an order carries the exact (unrounded) fee of all its
fills, and a fill is charged ``ceil(total after) − ceil(total before)``. So an order filled in many small pieces
pays ``ceil(exact total)``, never one rounding per fill, and a single fill pays exactly the formula above
(1 contract at $0.50 taker: 0.0175 → $0.0175; 100 contracts: $1.75). The unit of every Fraction here is
1/10,000 dollar.

**Integer form.** The matching engine charges fees on every fill and re-prices resting orders' fee reserves on
every change, where Fraction arithmetic dominated the run time. Every exact fee of one schedule is a multiple of
``1 / FeeSchedule.denominator`` e4, so the engine keeps accumulators as integer numerators over that denominator
(:meth:`FeeSchedule.exact_units`, :meth:`FeeSchedule.charge_e4`): the same exact values, ints only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from kalshi_mm.sim.model import Event, FeeType, Series
from kalshi_mm.units import ONE_DOLLAR

__all__ = [
    "COMBO_MAKER_COEFF",
    "MAKER_COEFF",
    "TAKER_COEFF",
    "FeeSchedule",
    "ceil_e4",
    "exact_fee_e4",
    "fee_e4",
    "maker_fee_e4",
    "taker_fee_e4",
]

TAKER_COEFF = Fraction(7, 100)  # 0.07
MAKER_COEFF = Fraction(7, 400)  # 0.0175 = 0.25 × taker
COMBO_MAKER_COEFF = Fraction(7, 200)  # 0.035 = 0.5 × taker

# C × P × (1 − P) in e4 units of dollars: (c/10^2) × (p/10^4) × ((10^4 − p)/10^4) × 10^4 = c·p·(10^4 − p) / 10^6
_QUAD_DENOM = 10**6


def ceil_e4(exact_e4: Fraction) -> int:
    """Round an exact amount of 1/10,000 dollar up to a whole unit."""
    return math.ceil(exact_e4)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """The fee terms of one market: coefficients already multiplied by the fee multiplier.

    For quadratic kinds, a fill of C contracts at P costs ``coeff × C × P × (1 − P)``; for ``flat``,
    ``coeff`` is dollars-in-e4 per contract and the price does not matter.
    """

    fee_type: FeeType
    taker_coeff: Fraction
    maker_coeff: Fraction
    # Derived integer form (see the module docstring): exact fee = k × C·P·(1 − P) (or k × C for flat) units of
    # 1/denominator e4, with k the integer per-side factor.
    denominator: int = field(init=False, repr=False, compare=False)
    _taker_k: int = field(init=False, repr=False, compare=False)
    _maker_k: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Quadratic: coeff × c·p·(10^4 − p) / 10^6; flat: coeff × c / 10^2 (c in e2, p in e4).
        base = 100 if self.fee_type is FeeType.FLAT else _QUAD_DENOM
        lcm = math.lcm(self.taker_coeff.denominator, self.maker_coeff.denominator)
        object.__setattr__(self, "denominator", lcm * base)
        object.__setattr__(self, "_taker_k", self.taker_coeff.numerator * (lcm // self.taker_coeff.denominator))
        object.__setattr__(self, "_maker_k", self.maker_coeff.numerator * (lcm // self.maker_coeff.denominator))

    @classmethod
    def for_market(cls, series: Series, event: Event | None = None) -> FeeSchedule:
        """The schedule for a market of ``series``, honouring the event's fee overrides when present."""
        fee_type = series.fee_type
        multiplier = series.fee_multiplier
        if event is not None and event.fee_type_override is not None:
            fee_type = event.fee_type_override
        if event is not None and event.fee_multiplier_override is not None:
            multiplier = event.fee_multiplier_override
        return cls.of(fee_type, multiplier, flat_fee_e4=series.flat_fee_e4)

    @classmethod
    def of(cls, fee_type: FeeType, multiplier: Fraction | int = 1, *, flat_fee_e4: int = 0) -> FeeSchedule:
        """Build from a fee type and an exact multiplier."""
        m = Fraction(multiplier)
        if fee_type is FeeType.FLAT:
            return cls(fee_type, m * flat_fee_e4, Fraction(0))
        maker = {
            FeeType.QUADRATIC: Fraction(0),
            FeeType.QUADRATIC_WITH_MAKER_FEES: MAKER_COEFF,
            FeeType.QUADRATIC_WITH_COMBO_MAKER_FEES: COMBO_MAKER_COEFF,
        }[fee_type]
        return cls(fee_type, m * TAKER_COEFF, m * maker)

    def coeff(self, is_taker: bool) -> Fraction:
        return self.taker_coeff if is_taker else self.maker_coeff

    def exact_e4(self, price_e4: int, count_e2: int, *, is_taker: bool) -> Fraction:
        """The unrounded fee of one fill in 1/10,000 dollar."""
        return exact_fee_e4(self.fee_type, self.coeff(is_taker), price_e4, count_e2)

    def fee_e4(self, price_e4: int, count_e2: int, *, is_taker: bool) -> int:
        """The fee of one stand-alone fill, rounded up to $0.0001."""
        return ceil_e4(self.exact_e4(price_e4, count_e2, is_taker=is_taker))

    def exact_units(self, price_e4: int, count_e2: int, *, is_taker: bool) -> int:
        """:meth:`exact_e4` as an integer number of 1/:attr:`denominator` e4 (exactly equal, no Fraction)."""
        if count_e2 < 0 or not 0 <= price_e4 <= ONE_DOLLAR:
            raise ValueError(f"fee of {count_e2} e2 at {price_e4} e4: out of range")
        k = self._taker_k if is_taker else self._maker_k
        if self.fee_type is FeeType.FLAT:
            return k * count_e2
        return k * count_e2 * price_e4 * (ONE_DOLLAR - price_e4)

    def charge_e4(self, acc_units: int, exact_units: int) -> int:
        """What a fill of ``exact_units`` costs (e4) on an order whose earlier fills total ``acc_units``:
        ``ceil(acc + exact) − ceil(acc)`` over :attr:`denominator` (the accumulator rule of the docstring)."""
        d = self.denominator
        return (acc_units // -d) - ((acc_units + exact_units) // -d)  # a // -d == -ceil(a / d)


def exact_fee_e4(fee_type: FeeType, coeff: Fraction, price_e4: int, count_e2: int) -> Fraction:
    """Unrounded fee in 1/10,000 dollar of ``count_e2`` (1/100 contract) at ``price_e4``."""
    if count_e2 < 0 or not 0 <= price_e4 <= ONE_DOLLAR:
        raise ValueError(f"fee of {count_e2} e2 at {price_e4} e4: out of range")
    if fee_type is FeeType.FLAT:
        return coeff * count_e2 / 100
    return coeff * Fraction(count_e2 * price_e4 * (ONE_DOLLAR - price_e4), _QUAD_DENOM)


def fee_e4(
    fee_type: FeeType,
    price_e4: int,
    count_e2: int,
    *,
    is_taker: bool,
    multiplier: Fraction | int = 1,
    flat_fee_e4: int = 0,
) -> int:
    """Fee of one fill in 1/10,000 dollar, rounded up: the formula of the module docstring."""
    schedule = FeeSchedule.of(fee_type, multiplier, flat_fee_e4=flat_fee_e4)
    return schedule.fee_e4(price_e4, count_e2, is_taker=is_taker)


def taker_fee_e4(price_e4: int, count_e2: int, multiplier: Fraction | int = 1) -> int:
    """ceil(M × 0.07 × C × P × (1 − P)) in 1/10,000 dollar."""
    return ceil_e4(Fraction(multiplier) * exact_fee_e4(FeeType.QUADRATIC, TAKER_COEFF, price_e4, count_e2))


def maker_fee_e4(price_e4: int, count_e2: int, multiplier: Fraction | int = 1) -> int:
    """ceil(M × 0.0175 × C × P × (1 − P)) in 1/10,000 dollar (for series that charge makers)."""
    return ceil_e4(Fraction(multiplier) * exact_fee_e4(FeeType.QUADRATIC, MAKER_COEFF, price_e4, count_e2))
