"""What a volatility session reads of its market's regime each cycle (issue #8 §2): freeze on stale regime data,
and scale γ and k by the regime's multipliers as the regime changes during the session.

The scanner publishes a :class:`~kalshi_mm.volatility.regime.RegimeState` per market (regime name and the clock
time of the classification). A session's generated config already carries the multipliers of the regime it was
started in (:func:`~kalshi_mm.config.dynamic.generate_config_for_market`), so a later regime applies the *ratio*
of its multiplier to the start regime's: back in the start regime the factors are exactly 1.

:func:`regime_adjustment` is pure; :class:`RegimeFeed` only binds the reader and the config to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = ["RegimeAdjustment", "RegimeFeed", "RegimeReading", "regime_adjustment"]


class RegimeReading(Protocol):
    """The scanner's published regime of one market (``RegimeState`` satisfies it)."""

    @property
    def regime(self) -> object: ...  # a Regime (StrEnum) or its name

    @property
    def observed_ts(self) -> float: ...


@dataclass(frozen=True, slots=True)
class RegimeAdjustment:
    """``frozen``: a reason to quote nothing this cycle (None: quote); γ and k factors to apply to the config's."""

    frozen: str | None
    gamma_factor: float = 1.0
    k_factor: float = 1.0
    regime: str | None = None


def regime_adjustment(
    reading: RegimeReading | None,
    now: float,
    *,
    max_age_s: float,
    base_regime: str | None,
    gamma_multipliers: Mapping[str, float],
    k_multipliers: Mapping[str, float],
) -> RegimeAdjustment:
    """Freeze (``regime_stale``) when there is no reading or it is older than ``max_age_s`` clock seconds at
    ``now``; otherwise the γ and k factors of the current regime relative to ``base_regime`` (the regime the
    session's config was built for; None: the config has no regime multiplier in it)."""
    if reading is None or now - reading.observed_ts > max_age_s:
        return RegimeAdjustment("regime_stale")
    regime = str(reading.regime)
    gamma_x, k_x = gamma_multipliers.get(regime, 1.0), k_multipliers.get(regime, 1.0)
    if base_regime is not None:
        gamma_x /= gamma_multipliers.get(base_regime, 1.0)
        k_x /= k_multipliers.get(base_regime, 1.0)
    return RegimeAdjustment(None, gamma_x, k_x, regime)


class RegimeFeed:
    """Binds a regime reader (the scanner's ``regime(ticker)``) to the config of one session. Read on the
    session's thread; the reader itself must be thread-safe (the scanner guards its regimes with a lock)."""

    def __init__(
        self,
        read: Callable[[], RegimeReading | None],
        *,
        max_age_s: float,
        base_regime: str | None,
        gamma_multipliers: Mapping[str, float],
        k_multipliers: Mapping[str, float],
    ) -> None:
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s!r}")
        self._read = read
        self._max_age_s = max_age_s
        self._base = base_regime
        self._gamma = dict(gamma_multipliers)
        self._k = dict(k_multipliers)

    def adjust(self, now: float) -> RegimeAdjustment:
        return regime_adjustment(
            self._read(),
            now,
            max_age_s=self._max_age_s,
            base_regime=self._base,
            gamma_multipliers=self._gamma,
            k_multipliers=self._k,
        )
