"""Config sections of the volatility-driven mode and regime detection: regimes, volatility_scanner,
volatility_mm. Defaults are the seed README's unless config.yaml says why not.

Money attributes are ints of 1/10,000 dollar; the seed's ``*_cents`` keys are exposed as ``*_e4``
attributes (``price_jump_threshold_cents: 12`` -> ``price_jump_threshold_e4 == 1200``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from kalshi_mm.config.base import (
    REGIMES,
    CentsE4,
    ConfigModel,
    Conflicts,
    Dollars,
    FrozenMap,
    PositiveCentsE4,
    PositiveDollars,
    PositivePriceDollars,
    PriceDollars,
    ReadOnlyMap,
    Regime,
    RegimeTuple,
    StrTuple,
    ZeroToOne,
    dollars,
    show_dollars,
)

__all__ = [
    "DEFAULT_SIGMA_FLOOR",
    "Guardrails",
    "ProfileRegimeOverride",
    "RegimeFilters",
    "RegimeKill",
    "RegimesConfig",
    "VolatilityMMConfig",
    "VolatilityScannerConfig",
]

KillMode = Literal["soft", "hard"]
DEFAULT_SIGMA_FLOOR = 0.005


def _duplicates(items: tuple[str, ...]) -> list[str]:
    return sorted({x for x in items if items.count(x) > 1})


def _check_all_regimes(conflicts: Conflicts, field: str, table: FrozenMap[str, float]) -> None:
    # The detector can emit any regime; a missing multiplier would be a KeyError mid-session.
    for regime in REGIMES:
        if regime not in table:
            conflicts.add((field, regime), "required key is missing: give a value for every regime")


# --- regimes --------------------------------------------------------------------------------------------------


class ProfileRegimeOverride(ConfigModel):
    """Regime-detection overrides for one category profile; an absent key inherits the global value."""

    drift_threshold: PositiveFloat | None = None


class RegimesConfig(ConfigModel):
    """Regime classifier thresholds (QUIET, MEAN_REVERTING, TRENDING, CHAOTIC, NOISE, UNKNOWN)."""

    min_observations: PositiveInt = 5
    drift_threshold: PositiveFloat = 0.08
    drift_normalization_min_sigma: PositiveFloat = 0.001
    min_sigma_for_regime: NonNegativeFloat = 0.01
    mean_reversion_good: ZeroToOne = 0.6
    mean_reversion_bad: ZeroToOne = 0.4
    depth_threshold: NonNegativeFloat = 50.0
    stability_required: PositiveInt = 3
    noise_spread_min: PriceDollars = dollars("0.07")
    noise_spread_max: PriceDollars = dollars("0.12")
    max_shared_state_age_seconds: PositiveFloat = 4.0
    by_profile: ReadOnlyMap[str, ProfileRegimeOverride] = Field(
        default_factory=lambda: FrozenMap(
            {
                "mean_reverting": ProfileRegimeOverride(drift_threshold=0.06),
                "medium_trending": ProfileRegimeOverride(drift_threshold=0.10),
            }
        )
    )
    gamma_multipliers: ReadOnlyMap[Regime, PositiveFloat] = Field(
        default_factory=lambda: FrozenMap(
            {"MEAN_REVERTING": 1.0, "QUIET": 0.8, "TRENDING": 1.5, "CHAOTIC": 2.0, "NOISE": 1.2, "UNKNOWN": 1.5}
        )
    )
    k_multipliers: ReadOnlyMap[Regime, PositiveFloat] = Field(
        default_factory=lambda: FrozenMap(
            {"MEAN_REVERTING": 1.0, "QUIET": 0.7, "TRENDING": 0.5, "CHAOTIC": 0.3, "NOISE": 0.6, "UNKNOWN": 0.5}
        )
    )

    @model_validator(mode="after")
    def _check(self) -> RegimesConfig:
        conflicts = Conflicts()
        if self.mean_reversion_bad > self.mean_reversion_good:
            conflicts.add(
                "mean_reversion_bad",
                f"must be ≤ mean_reversion_good ({self.mean_reversion_good})",
                self.mean_reversion_bad,
            )
        if self.noise_spread_min > self.noise_spread_max:
            conflicts.add(
                "noise_spread_min",
                f"must be ≤ noise_spread_max ({show_dollars(self.noise_spread_max)})",
                show_dollars(self.noise_spread_min),
            )
        _check_all_regimes(conflicts, "gamma_multipliers", self.gamma_multipliers)
        _check_all_regimes(conflicts, "k_multipliers", self.k_multipliers)
        conflicts.raise_if_any()
        return self

    def drift_threshold_for(self, profile: str) -> float:
        """Trending drift threshold of a category profile, else the global one."""
        override = self.by_profile.get(profile)
        if override is None or override.drift_threshold is None:
            return self.drift_threshold
        return override.drift_threshold


# --- volatility scanner -------------------------------------------------------------------------------------------


class RegimeFilters(ConfigModel):
    """Regimes in which a volatility event may start a session; a regime in neither list is disallowed."""

    allowed_for_events: RegimeTuple = ("MEAN_REVERTING", "QUIET")
    disallowed_for_events: RegimeTuple = ("TRENDING", "CHAOTIC", "NOISE", "UNKNOWN")

    @model_validator(mode="after")
    def _check(self) -> RegimeFilters:
        conflicts = Conflicts()
        if not self.allowed_for_events:
            conflicts.add("allowed_for_events", "list at least one regime, or no event would ever fire", [])
        both = sorted(set(self.allowed_for_events) & set(self.disallowed_for_events))
        if both:
            conflicts.add(
                "disallowed_for_events",
                f"regime(s) {', '.join(both)} also in allowed_for_events",
                list(self.disallowed_for_events),
            )
        for field in ("allowed_for_events", "disallowed_for_events"):
            dup = _duplicates(getattr(self, field))
            if dup:
                conflicts.add(field, f"regime(s) {', '.join(dup)} listed twice", list(getattr(self, field)))
        conflicts.raise_if_any()
        return self


class VolatilityScannerConfig(ConfigModel):
    """Volatility event detection over a round-robin sweep of tracked markets."""

    refresh_interval_seconds: PositiveFloat = 3.0
    rolling_window_minutes: PositiveFloat = 15.0
    volatility_window_minutes: PositiveFloat = 10.0
    price_jump_threshold_e4: PositiveCentsE4 = Field(default=1200, alias="price_jump_threshold_cents")
    price_jump_window_minutes: PositiveFloat = 5.0
    sigma_threshold: PositiveFloat = 0.02
    mean_reversion_tolerance_e4: CentsE4 = Field(default=600, alias="mean_reversion_tolerance_cents")
    exclude_categories: StrTuple = ("sports",)
    regime_filters: RegimeFilters = Field(default_factory=RegimeFilters)
    orderbook_depth: PositiveInt = 10
    min_orderbook_levels_required: NonNegativeInt = 1
    max_time_to_expiry_hours: PositiveFloat = 24.0
    min_liquidity_spread: PositivePriceDollars = dollars("0.10")
    regime_staleness_seconds: PositiveFloat = 4.0

    @model_validator(mode="after")
    def _check(self) -> VolatilityScannerConfig:
        conflicts = Conflicts()
        # Market state is trimmed to the rolling window, so a longer look-back could never fill.
        for key in ("volatility_window_minutes", "price_jump_window_minutes"):
            if getattr(self, key) > self.rolling_window_minutes:
                conflicts.add(
                    key, f"must be ≤ rolling_window_minutes ({self.rolling_window_minutes})", getattr(self, key)
                )
        if self.min_orderbook_levels_required > self.orderbook_depth:
            conflicts.add(
                "min_orderbook_levels_required",
                f"must be ≤ orderbook_depth ({self.orderbook_depth})",
                self.min_orderbook_levels_required,
            )
        conflicts.raise_if_any()
        return self


# --- volatility MM sessions ---------------------------------------------------------------------------------------


class RegimeKill(ConfigModel):
    """Kill switches of a running session when its market turns into a bad regime."""

    enabled: bool = True
    bad_regimes: RegimeTuple = ("TRENDING", "CHAOTIC")
    require_adverse_selection: bool = True
    kill_modes: ReadOnlyMap[Regime, KillMode] = Field(
        default_factory=lambda: FrozenMap({"TRENDING": "soft", "CHAOTIC": "hard"})
    )

    @model_validator(mode="after")
    def _check(self) -> RegimeKill:
        conflicts = Conflicts()
        for regime in self.bad_regimes:
            if regime not in self.kill_modes:
                conflicts.add(("kill_modes", regime), "required key is missing: every bad regime needs soft|hard")
        dup = _duplicates(self.bad_regimes)
        if dup:
            conflicts.add("bad_regimes", f"regime(s) {', '.join(dup)} listed twice", list(self.bad_regimes))
        conflicts.raise_if_any()
        return self


class Guardrails(ConfigModel):
    """The three session guardrails."""

    expiration_danger_window_seconds: NonNegativeFloat = 180.0
    illiquidity_timeout_seconds: PositiveFloat = 15.0
    min_volatility_threshold: NonNegativeFloat = 0.01


class VolatilityMMConfig(ConfigModel):
    """Short-lived market-making sessions spawned by volatility events."""

    max_concurrent_sessions: PositiveInt = 3
    session_ttl_minutes: PositiveFloat = 5.0
    quote_refresh_seconds: PositiveFloat = 3.0
    max_position_contracts: PositiveFloat = 3.0
    passive_exit: bool = True
    ttl_soft_stop: bool = True
    ttl_close_if_small: NonNegativeFloat = 2.0
    close_positions_on_exit: bool = False
    allowed_regimes_for_sessions: RegimeTuple = ("MEAN_REVERTING", "QUIET")
    require_regime_stability: PositiveInt = 3
    delay_before_session_start_seconds: NonNegativeFloat = 5.0
    regime_kill: RegimeKill = Field(default_factory=RegimeKill)
    sigma_blend_weight: ZeroToOne = 0.5
    sigma_cap: PositiveFloat = 0.08
    sigma_floor: PositiveFloat = DEFAULT_SIGMA_FLOOR
    min_sigma_after_blending: PositiveFloat = DEFAULT_SIGMA_FLOOR
    jump_magnitude_threshold_e4: PositiveCentsE4 = Field(default=1000, alias="jump_magnitude_threshold_cents")
    # Seed: 4 s, equal to the freeze limit, so one late sweep (3 s cadence) killed every session at once; the
    # freeze at regime_staleness_seconds already stops quoting on stale data, the kill is for a scanner gone silent.
    regime_stale_kill_seconds: PositiveFloat = 15.0
    soft_exit_max_wait_seconds: PositiveFloat = 20.0
    max_slippage_for_limit_exit_e4: CentsE4 = Field(default=400, alias="max_slippage_for_limit_exit_cents")
    disallow_new_sessions_if_open_positions_exist: bool = True
    min_available_balance: Dollars = dollars(100)
    max_resting_order_value: PositiveDollars = dollars(10000)
    balance_hysteresis_ratio: float = Field(default=0.85, gt=0, le=1)
    guardrails: Guardrails = Field(default_factory=Guardrails)

    @model_validator(mode="before")
    @classmethod
    def _derive_sigma_alias(cls, data: Any) -> Any:
        # min_sigma_after_blending is the seed's alias of sigma_floor: when only sigma_floor is given, follow
        # it, so changing one key never trips the "must be equal" check below.
        if isinstance(data, dict) and "min_sigma_after_blending" not in data:
            floor = data.get("sigma_floor", DEFAULT_SIGMA_FLOOR)
            if isinstance(floor, int | float) and not isinstance(floor, bool):
                return {**data, "min_sigma_after_blending": floor}
        return data

    @model_validator(mode="after")
    def _check(self) -> VolatilityMMConfig:
        conflicts = Conflicts()
        if self.sigma_floor > self.sigma_cap:
            conflicts.add("sigma_floor", f"must be ≤ sigma_cap ({self.sigma_cap})", self.sigma_floor)
        if self.min_sigma_after_blending != self.sigma_floor:
            conflicts.add(
                "min_sigma_after_blending",
                f"is an alias of sigma_floor and must equal it ({self.sigma_floor}), or be left out",
                self.min_sigma_after_blending,
            )
        if self.close_positions_on_exit and self.passive_exit:
            conflicts.add(
                "close_positions_on_exit",
                "deprecated, and contradicts passive_exit: true (set it to false, use passive_exit)",
                True,
            )
        if not self.allowed_regimes_for_sessions:
            conflicts.add("allowed_regimes_for_sessions", "list at least one regime, or no session would start", [])
        killed = sorted(set(self.allowed_regimes_for_sessions) & set(self.regime_kill.bad_regimes))
        if self.regime_kill.enabled and killed:
            conflicts.add(
                "allowed_regimes_for_sessions",
                f"regime(s) {', '.join(killed)} also in regime_kill.bad_regimes: sessions would be killed",
                list(self.allowed_regimes_for_sessions),
            )
        conflicts.raise_if_any()
        return self
