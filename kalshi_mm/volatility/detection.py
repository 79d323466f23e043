"""Pure volatility-event detection (seed §3.6 "Volatility Event Detection", DESIGN.md convention 3).

:func:`detect` looks at one market's :class:`~kalshi_mm.volatility.window.MarketWindow` plus a frozen
:class:`MarketContext` and returns either a :class:`VolatilityEvent` or a :class:`Rejection` naming the first rule
that failed (for the sweep log). Rules, in order:

1. ``warmup`` — at least 3 observations in the window.
2. ``category_excluded`` — category not in ``exclude_categories`` (sports by default; case-insensitive).
3. ``spread_too_wide`` — current spread ≤ ``min_liquidity_spread``.
4. ``no_volatility`` / ``not_mean_reverting`` — at least one trigger fires: price range ≥ ``price_jump_threshold``
   within ``price_jump_window_minutes``, or σ ≥ ``sigma_threshold`` over ``volatility_window_minutes``; and, for
   either trigger, the current mid is within ``mean_reversion_tolerance`` of the 3-minute mean mid.
5. ``low_volume`` — 24h volume ≥ the minimum (scoring.min_volume_24h, $5,000 by default).
6. ``too_few_trades`` — recent trades ≥ ``min_recent_trades_for_event_markets``.
7. ``session_active`` — no session already running for the ticker.
8. ``regime_disallowed`` — regime in ``regime_filters.allowed_for_events`` (None or unlisted is disallowed).
9. ``market_closed`` / ``expiry_too_far`` — close time, when known, is after ``now`` and within
   ``max_time_to_expiry_hours``.

Times are seconds (float, the caller's clock); prices are ints of 1/10,000 $; σ is dollars per observation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kalshi_mm.config.base import dollars
from kalshi_mm.config.sections_trading import ExecutionActivity
from kalshi_mm.config.sections_volatility import VolatilityScannerConfig
from kalshi_mm.volatility.window import MarketWindow

__all__ = [
    "DetectionParams",
    "Direction",
    "MarketContext",
    "Rejection",
    "VolatilityEndedEvent",
    "VolatilityEvent",
    "detect",
    "detect_ended",
    "signal_strength",
]

Direction = Literal["up", "down"]

_MINUTE_S = 60.0
_HOUR_S = 3600.0

# Seed constants that the config does not expose.
_MIN_POINTS = 3  # warm-up
_MEAN_REVERSION_WINDOW_S = 180.0  # "mean price over last 3 minutes"
_DIRECTION_THRESHOLD_E4 = 500  # "Direction (up/down) if price moved > 5¢"
_DEFAULT_MIN_VOLUME_24H_E4 = dollars(5000)


@dataclass(frozen=True, slots=True)
class DetectionParams:
    """Thresholds of :func:`detect`; windows in seconds, prices in 1/10,000 $, σ in dollars per observation."""

    min_points: int = _MIN_POINTS
    exclude_categories: frozenset[str] = frozenset({"sports"})  # lower-case
    max_spread_e4: int = 1000
    price_jump_threshold_e4: int = 1200
    price_jump_window_s: float = 5 * _MINUTE_S
    sigma_threshold: float = 0.02
    volatility_window_s: float = 10 * _MINUTE_S
    mean_reversion_tolerance_e4: int = 600
    mean_reversion_window_s: float = _MEAN_REVERSION_WINDOW_S
    min_volume_24h_e4: int = _DEFAULT_MIN_VOLUME_24H_E4
    min_recent_trades: int = 3
    allowed_regimes: frozenset[str] = frozenset({"MEAN_REVERTING", "QUIET"})
    max_time_to_expiry_s: float = 24 * _HOUR_S
    direction_threshold_e4: int = _DIRECTION_THRESHOLD_E4

    @classmethod
    def from_config(
        cls,
        scanner_cfg: VolatilityScannerConfig,
        execution_cfg: ExecutionActivity,
        min_volume_24h_e4: int = _DEFAULT_MIN_VOLUME_24H_E4,
    ) -> DetectionParams:
        """Build from ``volatility_scanner`` and ``discovery.recent_activity.execution``.

        ``min_volume_24h_e4`` (1/10,000 $) comes from ``scoring.min_volume_24h``, which neither section holds.
        """
        return cls(
            exclude_categories=frozenset(c.lower() for c in scanner_cfg.exclude_categories),
            max_spread_e4=scanner_cfg.min_liquidity_spread,
            price_jump_threshold_e4=scanner_cfg.price_jump_threshold_e4,
            price_jump_window_s=scanner_cfg.price_jump_window_minutes * _MINUTE_S,
            sigma_threshold=scanner_cfg.sigma_threshold,
            volatility_window_s=scanner_cfg.volatility_window_minutes * _MINUTE_S,
            mean_reversion_tolerance_e4=scanner_cfg.mean_reversion_tolerance_e4,
            min_volume_24h_e4=min_volume_24h_e4,
            min_recent_trades=execution_cfg.min_recent_trades_for_event_markets,
            allowed_regimes=frozenset(scanner_cfg.regime_filters.allowed_for_events),
            max_time_to_expiry_s=scanner_cfg.max_time_to_expiry_hours * _HOUR_S,
        )


@dataclass(frozen=True, slots=True)
class MarketContext:
    """What detection needs beyond the price window: volume in 1/10,000 $, close time in seconds (None unknown)."""

    ticker: str
    category: str | None
    volume_24h_e4: int
    close_ts: float | None
    has_active_session: bool
    regime: str | None
    recent_trades: int


@dataclass(frozen=True, slots=True)
class VolatilityEvent:
    """A detected volatility spike; ts/close_ts in seconds, jump in 1/10,000 $ (None if the jump rule did not fire).

    ``reasons`` lists the triggers that fired: ``"jump"`` and/or ``"sigma"``.
    """

    ticker: str
    ts: float
    signal_strength: float
    sigma: float
    jump_magnitude_e4: int | None
    direction: Direction | None
    close_ts: float | None
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VolatilityEndedEvent:
    """Volatility of an active event's market subsided (ts in seconds)."""

    ticker: str
    ts: float
    reason: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """No event: ``rule`` is the first failing rule (see module docstring), ``detail`` the numbers behind it."""

    ticker: str
    ts: float
    rule: str
    detail: str


def signal_strength(jump_e4: int | None, sigma: float | None, jump_threshold_e4: int, sigma_threshold: float) -> float:
    """Seed formula: 0.5·min(1, jump/(2·threshold)) + 0.5·min(1, σ/(2·threshold)), in [0, 1].

    ``jump_e4`` in 1/10,000 $ (None counts as 0), σ in dollars per observation (None counts as 0).
    """
    jump_score = min(1.0, max(0, jump_e4 or 0) / (jump_threshold_e4 * 2))
    sigma_score = min(1.0, max(0.0, sigma or 0.0) / (sigma_threshold * 2))
    return jump_score * 0.5 + sigma_score * 0.5


def _direction(net_move_e4: int | None, threshold_e4: int) -> Direction | None:
    if net_move_e4 is None or abs(net_move_e4) <= threshold_e4:
        return None
    return "up" if net_move_e4 > 0 else "down"


def detect(
    window: MarketWindow, context: MarketContext, params: DetectionParams, now: float
) -> VolatilityEvent | Rejection:
    """Apply the rules of the module docstring in order; ``now`` in seconds from the caller's clock."""

    def reject(rule: str, detail: str) -> Rejection:
        return Rejection(context.ticker, now, rule, detail)

    latest = window.latest()
    if latest is None or len(window) < params.min_points:
        return reject("warmup", f"{len(window)} < {params.min_points} points")
    if context.category is not None and context.category.lower() in params.exclude_categories:
        return reject("category_excluded", f"category {context.category!r}")
    if latest.spread_e4 > params.max_spread_e4:
        return reject("spread_too_wide", f"spread {latest.spread_e4} > {params.max_spread_e4} e4")

    jump_range = window.mid_range_e4(now, params.price_jump_window_s) or 0
    sigma = window.sigma(now, params.volatility_window_s) or 0.0
    jump_fired = jump_range >= params.price_jump_threshold_e4
    sigma_fired = sigma >= params.sigma_threshold
    if not (jump_fired or sigma_fired):
        return reject(
            "no_volatility",
            f"jump {jump_range} < {params.price_jump_threshold_e4} e4 and sigma {sigma:.4f} < {params.sigma_threshold}",
        )
    # Both triggers share one mean-reversion test: a pure one-way move (injury, score) is toxic to a market maker.
    mean_e4 = window.mean_mid_e4(now, params.mean_reversion_window_s)
    deviation = abs(latest.mid_e4 - mean_e4) if mean_e4 is not None else float("inf")
    if deviation > params.mean_reversion_tolerance_e4:
        return reject(
            "not_mean_reverting",
            f"mid {latest.mid_e4} is {deviation:.0f} e4 from 3-min mean, tolerance "
            f"{params.mean_reversion_tolerance_e4}",
        )

    if context.volume_24h_e4 < params.min_volume_24h_e4:
        return reject("low_volume", f"24h volume {context.volume_24h_e4} < {params.min_volume_24h_e4} e4")
    if context.recent_trades < params.min_recent_trades:
        return reject("too_few_trades", f"{context.recent_trades} < {params.min_recent_trades} recent trades")
    if context.has_active_session:
        return reject("session_active", "a session is already running for this ticker")
    if context.regime not in params.allowed_regimes:
        return reject("regime_disallowed", f"regime {context.regime!r}")
    if context.close_ts is not None:
        if context.close_ts <= now:
            return reject("market_closed", f"close_ts {context.close_ts} ≤ now {now}")
        if context.close_ts - now > params.max_time_to_expiry_s:
            return reject(
                "expiry_too_far", f"{context.close_ts - now:.0f} s to close > {params.max_time_to_expiry_s:.0f} s"
            )

    jump_e4 = jump_range if jump_fired else None
    reasons = tuple(name for name, fired in (("jump", jump_fired), ("sigma", sigma_fired)) if fired)
    return VolatilityEvent(
        ticker=context.ticker,
        ts=now,
        signal_strength=signal_strength(jump_e4, sigma, params.price_jump_threshold_e4, params.sigma_threshold),
        sigma=sigma,
        jump_magnitude_e4=jump_e4,
        direction=_direction(window.net_move_e4(now, params.price_jump_window_s), params.direction_threshold_e4),
        close_ts=context.close_ts,
        reasons=reasons,
    )


def detect_ended(
    window: MarketWindow, params: DetectionParams, now: float, *, ticker: str
) -> VolatilityEndedEvent | None:
    """Volatility ended: σ < threshold and no jump ≥ threshold within the jump window (``now`` in seconds).

    Returns None while either trigger still fires, and also while the window holds fewer than ``min_points``
    observations: too little data is "cannot tell", and an inactive or untracked market is the scanner's call.
    """
    if len(window) < params.min_points:
        return None
    sigma = window.sigma(now, params.volatility_window_s) or 0.0
    jump_range = window.mid_range_e4(now, params.price_jump_window_s) or 0
    if sigma >= params.sigma_threshold or jump_range >= params.price_jump_threshold_e4:
        return None
    return VolatilityEndedEvent(
        ticker,
        now,
        f"volatility_subsided: sigma {sigma:.4f} < {params.sigma_threshold}, "
        f"jump {jump_range} < {params.price_jump_threshold_e4} e4",
    )
