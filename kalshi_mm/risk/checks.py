"""Pre-trade risk checks (pure): a proposed create or amend, against an exposure snapshot, the limits and the
trading state -> :class:`Allow`, or :class:`Veto` naming the first rule that failed.

Checks only veto; they never resize an order. They run in this fixed order (:data:`RULES`):

1. ``trading_state`` — ACTIVE allows anything; REDUCING only orders that reduce exposure (the side's orders all
   only close the position, or an amend that makes its order smaller and no more costly); HALTED nothing (cancels
   never reach the checks: pulling an order is always allowed).
2. ``rate_guard`` — the write budget must keep its reserve for cancels (:mod:`kalshi_mm.risk.rate_guard`).
3. ``per_market_cap`` — the market's worst-case loss after the order ≤ ``risk.per_market_cap``.
4. ``category_cap`` — the sum over the market's category ≤ its ``risk.category_caps`` entry (``default`` when the
   category is not listed).
5. ``global_budget`` — the sum over every market ≤ ``risk.global_risk_budget``.
6. ``balance`` — the cash the order may lock ≤ the estimated free balance (skipped while unknown, and for orders
   that only reduce the position, which the exchange covers with the position itself).

Rules 3–5 veto only an order that *raises* the exposure they measure: an account already above a cap (a position
from before, a lowered cap) may still reduce it. Exposure (:mod:`kalshi_mm.risk.model`) counts positions, resting
orders and in-flight orders; an amend in flight counts what the old order and the new one could cost together
(:func:`in_flight_contribution`), since the exchange may fill the old one before it applies the amend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from kalshi_mm.api.types import BookSide
from kalshi_mm.config.sections_trading import RiskConfig
from kalshi_mm.risk.model import Contribution, MarketExposure, e4_to_e6, notional_e6, unit_cost_e4
from kalshi_mm.risk.rate_guard import RateStatus, rate_veto
from kalshi_mm.risk.state import TradingState

__all__ = [
    "RULES",
    "Allow",
    "Decision",
    "ExposureSnapshot",
    "OrderLeg",
    "Proposal",
    "RiskLimits",
    "Veto",
    "check_order",
    "in_flight_contribution",
    "market_after",
]

RULES = ("trading_state", "rate_guard", "per_market_cap", "category_cap", "global_budget", "balance")


@dataclass(frozen=True, slots=True)
class Allow:
    """Every rule passed."""


@dataclass(frozen=True, slots=True)
class Veto:
    """``rule`` (one of :data:`RULES`) refused the order; ``detail`` holds the numbers behind it (JSON-ready)."""

    rule: str
    detail: Mapping[str, object] = field(default_factory=dict)


Decision = Allow | Veto


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Exposure limits in 1/10,000 $; ``category_caps_e4`` must hold ``default``."""

    per_market_cap_e4: int
    global_budget_e4: int
    category_caps_e4: Mapping[str, int]

    def __post_init__(self) -> None:
        if "default" not in self.category_caps_e4:
            raise ValueError("category_caps_e4 needs a 'default' entry")
        if self.per_market_cap_e4 <= 0 or self.global_budget_e4 <= 0:
            raise ValueError("per_market_cap_e4 and global_budget_e4 must be > 0")

    def cap_for(self, category: str) -> int:
        """The category's cap (1/10,000 $), else the ``default`` cap."""
        return self.category_caps_e4.get(category, self.category_caps_e4["default"])

    @classmethod
    def from_config(cls, risk: RiskConfig) -> RiskLimits:
        return cls(risk.per_market_cap, risk.global_risk_budget, dict(risk.category_caps))


@dataclass(frozen=True, slots=True)
class OrderLeg:
    """One order on the YES leg: price 1/10,000 $, count (still to fill) 1/100 contract."""

    side: BookSide
    price_e4: int
    count_e2: int

    @property
    def exposure_e6(self) -> int:
        return notional_e6(self.side, self.price_e4, self.count_e2)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A create of order ``key`` (``old`` None), or an amend of order ``key``, whose current contribution to the
    market is ``old``, to ``new``."""

    ticker: str
    category: str
    new: OrderLeg
    old: Contribution | None = None
    key: str = "proposed"

    def __post_init__(self) -> None:
        if self.old is not None and self.old.side is not self.new.side:
            raise ValueError("an amend cannot change the order's side")
        if self.new.count_e2 <= 0:
            raise ValueError(f"order count must be > 0, got {self.new.count_e2}")

    @property
    def kind(self) -> Literal["place", "amend"]:
        return "place" if self.old is None else "amend"


@dataclass(frozen=True, slots=True)
class ExposureSnapshot:
    """The book as one proposal sees it, before the proposal: its market, its category's total, the account's
    total (1/1,000,000 $, worst-case loss) and the estimated free balance (None: unknown)."""

    market: MarketExposure
    category_e6: int
    global_e6: int
    free_balance_e6: int | None = None


def in_flight_contribution(old: Contribution | None, new: OrderLeg) -> Contribution:
    """What an order counts for while its create or amend is in flight. For an amend: the exchange may fill the old
    order for a while and then re-size it to the new total (V2 amend sets filled + remaining), so the order can
    cost the old order's exposure plus the new one's for whatever it adds beyond the old count."""
    fresh = Contribution.of(new.side, new.price_e4, new.count_e2)
    if old is None:
        return fresh
    mixed = old.exposure_e6 + max(0, new.count_e2 - old.count_e2) * unit_cost_e4(new.side, new.price_e4)
    merged = old.merge(fresh)
    return Contribution(new.side, max(merged.exposure_e6, mixed), merged.count_e2, merged.sell_e4)


def market_after(market: MarketExposure, proposal: Proposal) -> MarketExposure:
    """The market with the proposal reserved (an amended order's contribution replaced)."""
    return market.with_order(proposal.key, in_flight_contribution(proposal.old, proposal.new))


def _reduces(after: MarketExposure, proposal: Proposal) -> bool:
    if after.only_reduces(proposal.new.side):
        return True
    old, new = proposal.old, proposal.new
    return old is not None and new.exposure_e6 <= old.exposure_e6 and new.count_e2 <= old.count_e2


def _cap_detail(before_e6: int, after_e6: int, limit_e4: int, **extra: object) -> dict[str, object]:
    return {"exposure_before_e6": before_e6, "exposure_after_e6": after_e6, "limit_e6": e4_to_e6(limit_e4), **extra}


def check_order(
    snapshot: ExposureSnapshot,
    proposal: Proposal,
    limits: RiskLimits,
    state: TradingState,
    rate: RateStatus | None = None,
) -> Decision:
    """Run the rules in order (module docstring); ``rate`` None switches the rate guard off."""
    after = market_after(snapshot.market, proposal)
    reducing = _reduces(after, proposal)
    if state is TradingState.HALTED or (state is TradingState.REDUCING and not reducing):
        return Veto("trading_state", {"state": state.value, "kind": proposal.kind, "reducing": reducing})
    if rate is not None and (detail := rate_veto(rate)) is not None:
        return Veto("rate_guard", detail)
    before_e6, after_e6 = snapshot.market.worst_case_e6, after.worst_case_e6
    delta = after_e6 - before_e6
    if delta > 0:
        if after_e6 > e4_to_e6(limits.per_market_cap_e4):
            return Veto("per_market_cap", _cap_detail(before_e6, after_e6, limits.per_market_cap_e4))
        cap = limits.cap_for(proposal.category)
        if snapshot.category_e6 + delta > e4_to_e6(cap):
            detail = _cap_detail(snapshot.category_e6, snapshot.category_e6 + delta, cap, category=proposal.category)
            return Veto("category_cap", detail)
        if snapshot.global_e6 + delta > e4_to_e6(limits.global_budget_e4):
            return Veto(
                "global_budget", _cap_detail(snapshot.global_e6, snapshot.global_e6 + delta, limits.global_budget_e4)
            )
    need = after.collateral_e6 - snapshot.market.collateral_e6
    free = snapshot.free_balance_e6
    if free is not None and not reducing and need > 0 and need > free:
        return Veto("balance", {"needed_e6": need, "free_balance_e6": free})
    return Allow()
