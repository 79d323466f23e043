"""Config sections for choosing markets and sizing quotes: discovery, scoring, risk, as_model, extreme_prices,
throttling and category_profiles. Defaults are the seed README's unless config.yaml says why not.

Money attributes are ints of 1/10,000 dollar (see :mod:`kalshi_mm.config.base`); contract counts are plain
numbers of contracts, converted by the app.
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from kalshi_mm.config.base import (
    ConfigModel,
    Conflicts,
    Dollars,
    FrozenMap,
    ListOf,
    PositiveDollars,
    PositivePriceDollars,
    PriceBand,
    ReadOnlyMap,
    Regime,
    StrTuple,
    ZeroToOne,
    build,
    dollars,
    show_dollars,
)
from kalshi_mm.units import ONE_DOLLAR

__all__ = [
    "AsModelConfig",
    "CategoryProfile",
    "CircuitBreakerConfig",
    "DiscoveryConfig",
    "ExecutionActivity",
    "ExtremePricesConfig",
    "ProfileParams",
    "RateGuardConfig",
    "RecentActivity",
    "RegimeOverride",
    "RiskConfig",
    "ScoringActivity",
    "ScoringConfig",
    "ScoringWeights",
    "SigmaConfig",
    "ThrottlingConfig",
    "TimeWindow",
    "VolumeBands",
    "default_category_profiles",
]

Side = Literal["yes", "no"]
PriceBandClass = Literal["normal", "soft", "hard"]

_HOUR_S = 3600.0
_DAY_S = 86400.0


def _require_default(conflicts: Conflicts, mapping: object, field: str) -> None:
    # A per-category table without "default" would raise KeyError on the first unlisted category.
    if isinstance(mapping, FrozenMap) and "default" not in mapping:
        conflicts.add((field, "default"), "required key is missing (used for categories not listed)")


# --- discovery ------------------------------------------------------------------------------------------------


class TimeWindow(ConfigModel):
    """Allowed time-to-expiry of a category: exactly one ``min_*`` and one ``max_*`` key, in hours or days."""

    min_hours: NonNegativeFloat | None = None
    min_days: NonNegativeFloat | None = None
    max_hours: PositiveFloat | None = None
    max_days: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_bound_each(self) -> TimeWindow:
        conflicts = Conflicts()
        for side in ("min", "max"):
            given = [k for k in (f"{side}_hours", f"{side}_days") if getattr(self, k) is not None]
            if not given:
                conflicts.add(f"{side}_days", f"set one of {side}_hours or {side}_days")
            elif len(given) > 1:
                conflicts.add(given[1], f"set only one of {side}_hours or {side}_days", getattr(self, given[1]))
        conflicts.raise_if_any()
        if self.min_seconds > self.max_seconds:
            min_key = "min_hours" if self.min_hours is not None else "min_days"
            max_key = "max_hours" if self.max_hours is not None else "max_days"
            conflicts.add(
                min_key,
                f"window starts after it ends: above {max_key} ({getattr(self, max_key):g})",
                getattr(self, min_key),
            )
        conflicts.raise_if_any()
        return self

    @property
    def min_seconds(self) -> float:
        """Shortest allowed time to expiry, in seconds."""
        return self.min_hours * _HOUR_S if self.min_hours is not None else (self.min_days or 0.0) * _DAY_S

    @property
    def max_seconds(self) -> float:
        """Longest allowed time to expiry, in seconds."""
        return self.max_hours * _HOUR_S if self.max_hours is not None else (self.max_days or 0.0) * _DAY_S

    def bounds_seconds(self) -> tuple[float, float]:
        """(min, max) allowed time to expiry in seconds, both inclusive."""
        return self.min_seconds, self.max_seconds


class ScoringActivity(ConfigModel):
    """Recent-activity filter used while scoring (soft)."""

    min_trades_last_minutes: NonNegativeInt = 0
    min_volume_24h_for_bypass: Dollars = dollars(10000)


class ExecutionActivity(ConfigModel):
    """Recent-activity filter used before quoting (strict)."""

    min_trades_last_minutes: NonNegativeInt = 10
    throttle_if_no_trades_minutes: NonNegativeFloat = 30.0
    min_recent_trades_for_event_markets: NonNegativeInt = 3


class RecentActivity(ConfigModel):
    """Recent-activity filters: softer for scoring, stricter for execution."""

    scoring: ScoringActivity = Field(default_factory=ScoringActivity)
    execution: ExecutionActivity = Field(default_factory=ExecutionActivity)


class DiscoveryConfig(ConfigModel):
    """Which markets discovery considers and how many it trades."""

    model_version: str = Field(default="AS-v1.0", min_length=1)
    max_markets_to_trade: PositiveInt = 20
    sides_to_trade: ListOf[Side] = ("yes",)
    discovery_interval_seconds: PositiveFloat = 600.0
    time_windows: ReadOnlyMap[str, TimeWindow] = Field(
        default_factory=lambda: build(
            ReadOnlyMap[str, TimeWindow],
            {
                "default": {"min_days": 1, "max_days": 60},
                "sports": {"min_hours": 1, "max_days": 7},
                "rates": {"min_days": 1, "max_days": 90},
                "crypto": {"min_days": 1, "max_days": 90},
            },
        )
    )
    excluded_categories: StrTuple = ("long-tail-politics", "niche-rankings")
    recent_activity: RecentActivity = Field(default_factory=RecentActivity)

    @model_validator(mode="after")
    def _check(self) -> DiscoveryConfig:
        conflicts = Conflicts()
        if not self.sides_to_trade:
            conflicts.add("sides_to_trade", "list at least one of 'yes', 'no'", list(self.sides_to_trade))
        elif len(set(self.sides_to_trade)) != len(self.sides_to_trade):
            conflicts.add("sides_to_trade", "a side is listed twice", list(self.sides_to_trade))
        _require_default(conflicts, self.time_windows, "time_windows")
        conflicts.raise_if_any()
        return self

    def time_window_for(self, category: str) -> TimeWindow:
        """The time-to-expiry window of ``category``, else the ``default`` window."""
        return self.time_windows.get(category, self.time_windows["default"])


# --- scoring --------------------------------------------------------------------------------------------------


class ScoringWeights(ConfigModel):
    """Weights of the normalised features: rewards ≥ 0, penalties ≤ 0 (0 switches a feature off)."""

    volume_24h: NonNegativeFloat = 0.30
    recent_volume_1h: NonNegativeFloat = 0.25
    book_liquidity: NonNegativeFloat = 0.20
    spread: float = Field(default=-0.15, le=0)
    time_penalty: float = Field(default=-0.10, le=0)

    @model_validator(mode="after")
    def _something_rewarded(self) -> ScoringWeights:
        conflicts = Conflicts()
        if self.volume_24h + self.recent_volume_1h + self.book_liquidity == 0:
            conflicts.add("volume_24h", "all positive weights are 0: every market would score ≤ 0", 0.0)
        conflicts.raise_if_any()
        return self


class VolumeBands(ConfigModel):
    """Upper edges of the volume labels on the normalised [0, 1] volume scale, strictly ascending."""

    very_low: ZeroToOne = 0.25
    low: ZeroToOne = 0.5
    medium: ZeroToOne = 0.75
    high: ZeroToOne = 1.0

    @model_validator(mode="after")
    def _ascending(self) -> VolumeBands:
        conflicts = Conflicts()
        names = ("very_low", "low", "medium", "high")
        for lower, upper in itertools.pairwise(names):
            if getattr(self, upper) <= getattr(self, lower):
                conflicts.add(
                    upper,
                    f"bands must be strictly ascending: must be > {lower} ({getattr(self, lower)})",
                    getattr(self, upper),
                )
        conflicts.raise_if_any()
        return self


class ScoringConfig(ConfigModel):
    """Market scoring: feature weights, volume labels and the minimum 24h volume."""

    weights: ScoringWeights = Field(default_factory=ScoringWeights)
    volume_bands: VolumeBands = Field(default_factory=VolumeBands)
    min_volume_24h: Dollars = dollars(5000)


# --- risk -----------------------------------------------------------------------------------------------------


class CircuitBreakerConfig(ConfigModel):
    """Account circuit breaker (kalshi_mm/risk/breaker.py): any limit reached halts trading until a resume."""

    max_daily_loss: PositiveDollars = dollars(20)
    max_drawdown: PositiveDollars = dollars(30)  # above max_daily_loss: the peak starts at 0
    max_consecutive_losing_sessions: NonNegativeInt = 5  # 0 = off


class RateGuardConfig(ConfigModel):
    """Cancel discipline (kalshi_mm/risk/rate_guard.py): write tokens order entry leaves for cancels."""

    reserve_cancels: NonNegativeInt = 5


class RiskConfig(ConfigModel):
    """Dollar exposure limits: max_exposure = min(alpha·√liquidity, per_market_cap, budget/n, category cap);
    the same caps are enforced account-wide before every order (kalshi_mm/risk/), with the breaker below."""

    global_risk_budget: PositiveDollars = dollars(60)
    per_market_cap: PositiveDollars = dollars(8)
    alpha: PositiveFloat = 0.1
    category_caps: ReadOnlyMap[str, PositiveDollars] = Field(
        default_factory=lambda: FrozenMap({c: dollars(8) for c in ("crypto", "rates", "sports", "default")})
    )
    long_dated_penalty_days: NonNegativeFloat = 30.0
    long_dated_penalty_factor: ZeroToOne = 0.7
    position_limit_buffer: float = Field(default=0.1, gt=0, le=1)
    # Each session's Kalshi order group (exchange-side kill switch) trips at this multiple of the session's max
    # position matched within 15 s; 0 = no order group.
    order_group_limit_multiple: float = Field(default=10.0, ge=0, le=100)
    circuit_breaker: CircuitBreakerConfig = Field(default_factory=CircuitBreakerConfig)
    min_balance_for_new_sessions: Dollars = dollars(10)
    rate_guard: RateGuardConfig = Field(default_factory=RateGuardConfig)
    account_poll_seconds: PositiveFloat = 5.0

    @model_validator(mode="after")
    def _check(self) -> RiskConfig:
        conflicts = Conflicts()
        _require_default(conflicts, self.category_caps, "category_caps")
        conflicts.raise_if_any()
        return self

    def category_cap_for(self, category: str) -> int:
        """Dollar cap (1/10,000 $) of ``category``, else the ``default`` cap."""
        return self.category_caps.get(category, self.category_caps["default"])


# --- Avellaneda-Stoikov -----------------------------------------------------------------------------------------


class SigmaConfig(ConfigModel):
    """Volatility estimate used before enough history exists."""

    baseline: PositiveFloat = 0.05
    use_proxy: bool = True
    cache_ttl_hours: PositiveFloat = 1.0


class AsModelConfig(ConfigModel):
    """Avellaneda-Stoikov parameters; total spread is clamped to [min_total_spread, max_total_spread]."""

    risk_horizon_seconds: PositiveFloat = 3600.0
    k_by_category: ReadOnlyMap[str, PositiveFloat] = Field(
        default_factory=lambda: FrozenMap({"default": 60.0, "sports": 80.0, "rates": 48.0, "crypto": 72.0})
    )
    # Fills per second at zero distance until our own fills give an estimate (the seed has no A).
    a_fallback_per_s: PositiveFloat = 0.05
    # Per $; the seed's 0.3 let the settlement bound dominate in benchmark B3 (see config.yaml).
    base_gamma: PositiveFloat = 0.05
    min_total_spread: PositivePriceDollars = dollars("0.02")
    # The seed's 0.02 equalled min_total_spread and turned the model's spread into a constant.
    max_total_spread: PositivePriceDollars = dollars("0.10")
    sigma: SigmaConfig = Field(default_factory=SigmaConfig)

    @model_validator(mode="after")
    def _check(self) -> AsModelConfig:
        conflicts = Conflicts()
        if self.min_total_spread > self.max_total_spread:
            conflicts.add(
                "min_total_spread",
                f"must be ≤ max_total_spread ({show_dollars(self.max_total_spread)})",
                show_dollars(self.min_total_spread),
            )
        _require_default(conflicts, self.k_by_category, "k_by_category")
        conflicts.raise_if_any()
        return self

    def k_for(self, category: str) -> float:
        """Order-arrival intensity k of ``category``, else the ``default`` k."""
        return self.k_by_category.get(category, self.k_by_category["default"])


# --- extreme prices -----------------------------------------------------------------------------------------------


class ExtremePricesConfig(ConfigModel):
    """Price bands (dollars): hard | soft | normal | soft | hard must tile [0, 1] in that order, edge to edge."""

    normal_band: PriceBand = (dollars("0.15"), dollars("0.85"))
    soft_extreme_band: ListOf[PriceBand] = ((dollars("0.05"), dollars("0.15")), (dollars("0.85"), dollars("0.95")))
    hard_extreme_band: ListOf[PriceBand] = ((dollars(0), dollars("0.05")), (dollars("0.95"), dollars(1)))
    soft_extreme_factor: ZeroToOne = 0.3
    hard_extreme_factor: ZeroToOne = 0.1
    hard_extreme_one_sided: bool = True
    # The seed's 0.15 froze quoting before throttling.max_spread_threshold (0.20) could engage.
    spread_shock_threshold: PositivePriceDollars = dollars("0.25")

    @model_validator(mode="after")
    def _check(self) -> ExtremePricesConfig:
        conflicts = Conflicts()
        for name in ("soft_extreme_band", "hard_extreme_band"):
            bands = getattr(self, name)
            if len(bands) != 2:
                shown = [[show_dollars(low), show_dollars(high)] for low, high in bands]
                conflicts.add(name, "give exactly two bands: [[low side], [high side]]", shown)
        conflicts.raise_if_any()
        segments: list[tuple[tuple[str | int, ...], tuple[int, int]]] = [
            (("hard_extreme_band", 0), self.hard_extreme_band[0]),
            (("soft_extreme_band", 0), self.soft_extreme_band[0]),
            (("normal_band",), self.normal_band),
            (("soft_extreme_band", 1), self.soft_extreme_band[1]),
            (("hard_extreme_band", 1), self.hard_extreme_band[1]),
        ]
        for where, (low, high) in segments:
            if low > high or (where == ("normal_band",) and low == high):
                conflicts.add(
                    where, "band's low edge must be below its high edge", [show_dollars(low), show_dollars(high)]
                )
        if segments[0][1][0] != 0:
            conflicts.add((*segments[0][0], 0), "the lowest band must start at 0", show_dollars(segments[0][1][0]))
        if segments[-1][1][1] != ONE_DOLLAR:
            conflicts.add((*segments[-1][0], 1), "the highest band must end at 1", show_dollars(segments[-1][1][1]))
        for (prev_where, (_, prev_high)), (where, (low, _)) in itertools.pairwise(segments):
            if low != prev_high:
                kind = "overlaps" if low < prev_high else "leaves a gap after"
                prev_name = ".".join(str(p) for p in prev_where)
                conflicts.add(
                    (*where, 0), f"{kind} {prev_name}, which ends at {show_dollars(prev_high)}", show_dollars(low)
                )
        if self.hard_extreme_factor > self.soft_extreme_factor:
            conflicts.add(
                "hard_extreme_factor",
                f"must be ≤ soft_extreme_factor ({self.soft_extreme_factor})",
                self.hard_extreme_factor,
            )
        conflicts.raise_if_any()
        return self

    def classify(self, price_e4: int) -> PriceBandClass:
        """Band of a price (1/10,000 $). A price on a shared edge belongs to the band nearer the middle,
        so with the defaults 0.15 is normal and 0.05 is soft, as in the seed (hard is < 5¢ or > 95¢)."""
        if self.normal_band[0] <= price_e4 <= self.normal_band[1]:
            return "normal"
        if price_e4 < self.soft_extreme_band[0][0] or price_e4 > self.soft_extreme_band[1][1]:
            return "hard"
        return "soft"


# --- throttling -----------------------------------------------------------------------------------------------------


class ThrottlingConfig(ConfigModel):
    """Quote widening on wide spreads, thin books and adverse selection, with hysteresis."""

    trigger_threshold: PositiveInt = 3
    recovery_threshold: PositiveInt = 5
    max_spread_threshold: PositivePriceDollars = dollars("0.20")
    spread_widen_ticks: NonNegativeInt = 5
    max_total_widened_spread: PositivePriceDollars = dollars("0.15")
    min_book_depth: NonNegativeFloat = 100.0
    book_thin_widen_ticks: NonNegativeInt = 3
    adverse_selection_window_seconds: PositiveFloat = 300.0
    adverse_selection_threshold: ZeroToOne = 0.7


# --- category profiles ------------------------------------------------------------------------------------------------


class ProfileParams(ConfigModel):
    """A category profile's effective parameters in one regime (see :meth:`CategoryProfile.for_regime`)."""

    sigma_blend: ZeroToOne
    spread_tight: PositivePriceDollars
    spread_wide: PositivePriceDollars
    exclude: bool
    max_position_factor: ZeroToOne = 1.0


class RegimeOverride(ConfigModel):
    """Per-regime overrides of a profile; an absent key inherits the profile's value."""

    sigma_blend: ZeroToOne | None = None
    spread_tight: PositivePriceDollars | None = None
    spread_wide: PositivePriceDollars | None = None
    exclude: bool | None = None
    max_position_factor: ZeroToOne | None = None


class CategoryProfile(ProfileParams):
    """Behavioural class of a market category with its per-regime overrides."""

    by_regime: ReadOnlyMap[Regime, RegimeOverride] = Field(default_factory=FrozenMap)

    @model_validator(mode="after")
    def _check(self) -> CategoryProfile:
        conflicts = Conflicts()
        if self.spread_tight > self.spread_wide:
            conflicts.add(
                "spread_tight",
                f"must be ≤ spread_wide ({show_dollars(self.spread_wide)})",
                show_dollars(self.spread_tight),
            )
        else:
            for regime in self.by_regime:
                params = self.for_regime(regime)
                if params.spread_tight > params.spread_wide:
                    key = "spread_tight" if self.by_regime[regime].spread_tight is not None else "spread_wide"
                    conflicts.add(
                        ("by_regime", regime, key),
                        f"effective spread_tight ({show_dollars(params.spread_tight)}) is above effective "
                        f"spread_wide ({show_dollars(params.spread_wide)}) in this regime",
                        show_dollars(getattr(params, key)),
                    )
        conflicts.raise_if_any()
        return self

    def for_regime(self, regime: str) -> ProfileParams:
        """The profile's parameters with ``regime``'s overrides applied (the base values if none)."""
        merged = {name: getattr(self, name) for name in ProfileParams.model_fields}
        override = self.by_regime.get(regime)
        if override is not None:
            merged.update({k: v for k in ProfileParams.model_fields if (v := getattr(override, k)) is not None})
        # Values are already validated units; re-validating would read 1/10,000-$ ints as dollars.
        return ProfileParams.model_construct(**merged)


_NO_TRADE = {"exclude": True, "max_position_factor": 0.0}

# The seed README's four profiles, in config.yaml's units (dollars).
_SEED_PROFILES = {
    "mean_reverting": {
        "sigma_blend": 0.5,
        "spread_tight": 0.02,
        "spread_wide": 0.04,
        "exclude": False,
        "max_position_factor": 1.0,
        "by_regime": {
            "QUIET": {"spread_tight": 0.015},
            "MEAN_REVERTING": {"spread_tight": 0.02, "spread_wide": 0.04},
            "TRENDING": {"exclude": True, "max_position_factor": 0.3},
            "CHAOTIC": {"exclude": True},
            "NOISE": _NO_TRADE,
            "UNKNOWN": _NO_TRADE,
        },
    },
    "medium_trending": {
        "sigma_blend": 0.25,
        "spread_tight": 0.03,
        "spread_wide": 0.08,
        "exclude": False,
        "max_position_factor": 1.0,
        "by_regime": {
            "MEAN_REVERTING": {"spread_tight": 0.03, "sigma_blend": 0.3},
            "TRENDING": {"spread_tight": 0.06, "spread_wide": 0.12, "max_position_factor": 0.5},
            "CHAOTIC": {"exclude": True},
            "NOISE": _NO_TRADE,
            "UNKNOWN": _NO_TRADE,
        },
    },
    "hard_trending": {
        "sigma_blend": 0.2,
        "spread_tight": 0.10,
        "spread_wide": 0.20,
        "exclude": True,
        "max_position_factor": 1.0,
        "by_regime": {
            "TRENDING": {"exclude": True},
            "CHAOTIC": {"exclude": True},
            "NOISE": _NO_TRADE,
            "UNKNOWN": _NO_TRADE,
        },
    },
    "low_liquidity": {
        "sigma_blend": 0.1,
        "spread_tight": 0.04,
        "spread_wide": 0.12,
        "exclude": False,
        "max_position_factor": 1.0,
        "by_regime": {
            "TRENDING": {"exclude": True},
            "CHAOTIC": {"exclude": True},
            "NOISE": _NO_TRADE,
            "UNKNOWN": _NO_TRADE,
        },
    },
}


def default_category_profiles() -> FrozenMap[str, CategoryProfile]:
    """The seed's category profiles (mean_reverting, medium_trending, hard_trending, low_liquidity)."""
    return build(ReadOnlyMap[str, CategoryProfile], _SEED_PROFILES)
