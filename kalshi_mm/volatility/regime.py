"""Market regime classification: pure features and rules over a window of book snapshots, plus a small
stability tracker that decides what regime is *published* to market makers.

Units
-----
* Mids and spreads come in as ints of 1/10,000 dollar (``e4``, see :mod:`kalshi_mm.units`); mids are converted
  to float dollars inside the model math because the seed's thresholds (``min_sigma_for_regime: 0.01``) are in
  dollars.
* Depths come in as ints of 1/100 contract (``e2``) and are compared with ``depth_threshold`` in contracts.
* ``sigma`` and ``drift`` are dollars *per observation* of the window: the caller's sampling cadence sets the
  time scale, exactly as it does for the seed's thresholds.
* Timestamps are float seconds from the injected :class:`kalshi_mm.clock.Clock`; nothing here reads a clock.

Rule order of :func:`classify` (first match wins)
-------------------------------------------------
1. ``n_observations < min_observations``                     -> UNKNOWN  (too little data to say anything)
2. no spread or depth sample                                  -> UNKNOWN  (cannot judge the book)
3. ``depth_contracts < depth_threshold``                      -> CHAOTIC  (one order can move a thin book)
4. ``spread_e4 > noise_spread_max``                           -> CHAOTIC  (a book wider than the NOISE band is
   dislocated; letting it fall through to the drift rules could call it MEAN_REVERTING)
5. ``noise_spread_min <= spread_e4 <= noise_spread_max``      -> NOISE    (inside a wide spread the mid moves
   with every quote flicker, so sigma and drift measured on it are the noise itself; no sigma condition)
6. ``sigma < min_sigma_for_regime``                           -> QUIET    (the seed: "minimum sigma to exit QUIET")
7. ``|drift| / max(sigma, drift_normalization_min_sigma) > drift_threshold(profile)``
   and ``mean_reversion < mean_reversion_bad``                -> TRENDING
8. ``mean_reversion > mean_reversion_good``                   -> MEAN_REVERTING
9. otherwise                                                  -> UNKNOWN  (a plain random walk lands here)

Mean-reversion score
--------------------
``(1 - rho) / 2`` clipped to [0, 1], where ``rho`` is the *uncentred* lag-1 autocorrelation of the non-zero
mid changes: ``sum(r[i] * r[i-1]) / sqrt(sum(r[i]**2) * sum(r[i-1]**2))``.

* Zero changes are dropped first: Kalshi mids sit on a cent grid and pause between moves; a pause says nothing
  about the direction of the next move, and keeping it would dilute a clean bounce (+1, 0, -1, 0, +1) to 0.5.
* Uncentred, so a persistent drift counts as positive correlation (a drifted walk with drift = sigma scores
  about 0.25) while an oscillation around a level scores above 0.5 (an OU process with full reversion per step
  about 0.75). A driftless random walk scores about 0.5.
* Fewer than 3 non-zero changes give the neutral 0.5: no evidence either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from kalshi_mm.config.sections_trading import CategoryProfile, ProfileParams
from kalshi_mm.config.sections_volatility import RegimesConfig

__all__ = [
    "Regime",
    "RegimeFeatures",
    "RegimeParams",
    "RegimeState",
    "RegimeTracker",
    "classify",
    "compute_features",
    "drift_threshold_for",
    "gamma_multiplier",
    "is_stale",
    "k_multiplier",
    "mean_reversion_score",
    "profile_for_regime",
]

_E4_PER_DOLLAR = 10_000
_E2_PER_CONTRACT = 100
_NEUTRAL_SCORE = 0.5
# Two products of consecutive changes is the least that can show a direction pattern.
_MIN_MOVES_FOR_SCORE = 3


class Regime(StrEnum):
    """Market regime; values equal the config's regime names, so a member keys ``RegimesConfig`` maps directly."""

    QUIET = "QUIET"
    MEAN_REVERTING = "MEAN_REVERTING"
    TRENDING = "TRENDING"
    CHAOTIC = "CHAOTIC"
    NOISE = "NOISE"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class RegimeFeatures:
    """Features of one window of observations.

    Attributes:
        n_observations: number of mids in the window.
        sigma: sample standard deviation of mid changes, dollars per observation (0.0 with < 2 changes).
        drift: mean mid change, dollars per observation (0.0 with no change).
        mean_reversion: score in [0, 1]; above 0.5 oscillating, below 0.5 persistent (see module docstring).
        spread_e4: median spread over the window, 1/10,000 $ (may be a half-integer); None without samples.
        depth_contracts: median book depth over the window, contracts; None without samples. The median, not
            the minimum, so one empty snapshot does not flip the market to CHAOTIC.
    """

    n_observations: int
    sigma: float
    drift: float
    mean_reversion: float
    spread_e4: float | None
    depth_contracts: float | None


@dataclass(frozen=True, slots=True)
class RegimeParams:
    """Classifier thresholds with the category profile's overrides already resolved (see :meth:`from_config`).

    Units as in :class:`RegimesConfig`: sigma and drift thresholds in dollars per observation, ``drift_threshold``
    dimensionless (drift in sigmas), spreads in 1/10,000 $, depth in contracts.
    """

    min_observations: int
    drift_threshold: float
    drift_normalization_min_sigma: float
    min_sigma_for_regime: float
    mean_reversion_good: float
    mean_reversion_bad: float
    depth_threshold: float
    noise_spread_min_e4: int
    noise_spread_max_e4: int

    @classmethod
    def from_config(cls, cfg: RegimesConfig, profile: str | None = None) -> RegimeParams:
        """Thresholds for markets of category profile ``profile`` (None or an unlisted profile: global values)."""
        return cls(
            min_observations=cfg.min_observations,
            drift_threshold=drift_threshold_for(cfg, profile),
            drift_normalization_min_sigma=cfg.drift_normalization_min_sigma,
            min_sigma_for_regime=cfg.min_sigma_for_regime,
            mean_reversion_good=cfg.mean_reversion_good,
            mean_reversion_bad=cfg.mean_reversion_bad,
            depth_threshold=cfg.depth_threshold,
            noise_spread_min_e4=cfg.noise_spread_min,
            noise_spread_max_e4=cfg.noise_spread_max,
        )


def drift_threshold_for(cfg: RegimesConfig, profile: str | None) -> float:
    """The normalized-drift threshold for ``profile``: its ``by_profile`` override, else the global value."""
    override = cfg.by_profile.get(profile) if profile is not None else None
    if override is not None and override.drift_threshold is not None:
        return override.drift_threshold
    return cfg.drift_threshold


def mean_reversion_score(changes: Sequence[float] | np.ndarray) -> float:
    """Mean-reversion score in [0, 1] of a series of mid changes (any unit; the score is scale-free)."""
    moves = np.asarray(changes, dtype=float)
    moves = moves[moves != 0.0]
    if moves.size < _MIN_MOVES_FOR_SCORE:
        return _NEUTRAL_SCORE
    head, tail = moves[:-1], moves[1:]
    # Non-zero by construction, so the denominator is positive.
    rho = float(np.dot(head, tail) / math.sqrt(float(np.dot(head, head)) * float(np.dot(tail, tail))))
    return min(1.0, max(0.0, (1.0 - rho) / 2.0))


def compute_features(mids_e4: Sequence[int], spreads_e4: Sequence[int], depths_e2: Sequence[int]) -> RegimeFeatures:
    """Features of one window, oldest observation first.

    Args:
        mids_e4: mid prices, 1/10,000 $ (``(best_bid + best_ask) / 2`` rounded by the caller).
        spreads_e4: best-ask minus best-bid, 1/10,000 $; may be sampled at a different count than the mids.
        depths_e2: resting size near the touch as the caller measures it (e.g. best-bid plus best-ask size),
            1/100 contract.
    """
    mids = np.asarray(mids_e4, dtype=float) / _E4_PER_DOLLAR
    changes = np.diff(mids) if mids.size >= 2 else np.zeros(0)
    sigma = float(np.std(changes, ddof=1)) if changes.size >= 2 else 0.0
    drift = float(np.mean(changes)) if changes.size >= 1 else 0.0
    return RegimeFeatures(
        n_observations=int(mids.size),
        sigma=sigma,
        drift=drift,
        mean_reversion=mean_reversion_score(changes),
        spread_e4=float(np.median(spreads_e4)) if len(spreads_e4) else None,
        depth_contracts=float(np.median(depths_e2)) / _E2_PER_CONTRACT if len(depths_e2) else None,
    )


def classify(features: RegimeFeatures, params: RegimeParams) -> Regime:
    """The regime of one window by the module docstring's rule order (first match wins)."""
    if features.n_observations < params.min_observations:
        return Regime.UNKNOWN
    if features.spread_e4 is None or features.depth_contracts is None:
        return Regime.UNKNOWN
    if features.depth_contracts < params.depth_threshold:
        return Regime.CHAOTIC
    if features.spread_e4 > params.noise_spread_max_e4:
        return Regime.CHAOTIC
    if features.spread_e4 >= params.noise_spread_min_e4:
        return Regime.NOISE
    if features.sigma < params.min_sigma_for_regime:
        return Regime.QUIET
    normalized_drift = abs(features.drift) / max(features.sigma, params.drift_normalization_min_sigma)
    if normalized_drift > params.drift_threshold and features.mean_reversion < params.mean_reversion_bad:
        return Regime.TRENDING
    if features.mean_reversion > params.mean_reversion_good:
        return Regime.MEAN_REVERTING
    return Regime.UNKNOWN


@dataclass(frozen=True, slots=True)
class RegimeState:
    """A market's published regime; frozen, so the scanner can hand it to market-maker threads as is.

    Attributes:
        regime: the published regime.
        stable: True when the latest ``stability_required`` classifications all equal ``regime``; False while a
            different classification is pending or the initial UNKNOWN has not been confirmed.
        since_ts: clock seconds of the update that published ``regime`` (the first update for the initial UNKNOWN).
        observed_ts: clock seconds of the latest classification; staleness is measured from here.
    """

    regime: Regime
    stable: bool
    since_ts: float
    observed_ts: float


@dataclass(slots=True)
class _Track:
    published: Regime
    since_ts: float
    candidate: Regime
    run: int
    observed_ts: float


class RegimeTracker:
    """Publishes a regime per ticker only after ``stability_required`` consecutive identical classifications.

    A market starts published as UNKNOWN, so nothing trades on a first impression. Owned by one thread (the
    scanner); it holds no lock. Reads no clock: timestamps come with each update.
    """

    def __init__(self, stability_required: int) -> None:
        """``stability_required``: consecutive identical classifications needed to switch (>= 1)."""
        if stability_required < 1:
            raise ValueError(f"stability_required must be >= 1, got {stability_required}")
        self._required = stability_required
        self._tracks: dict[str, _Track] = {}

    def update(self, ticker: str, regime: Regime, ts: float) -> RegimeState:
        """Record one classification of ``ticker`` at clock seconds ``ts`` and return its published state.

        Raises:
            ValueError: ``ts`` is earlier than the ticker's previous update (a clock bug, not data to absorb).
        """
        track = self._tracks.get(ticker)
        if track is None:
            track = _Track(published=Regime.UNKNOWN, since_ts=ts, candidate=regime, run=1, observed_ts=ts)
            self._tracks[ticker] = track
        else:
            if ts < track.observed_ts:
                raise ValueError(f"{ticker}: update at {ts} is earlier than the previous one at {track.observed_ts}")
            if regime == track.candidate:
                track.run += 1
            else:
                track.candidate, track.run = regime, 1
            track.observed_ts = ts
        stable = track.run >= self._required
        if stable and track.candidate != track.published:
            track.published, track.since_ts = track.candidate, ts
        return self._state(track, stable=stable and track.candidate == track.published)

    def state(self, ticker: str) -> RegimeState | None:
        """The ticker's current published state, or None if it was never updated (or was forgotten)."""
        track = self._tracks.get(ticker)
        if track is None:
            return None
        return self._state(track, stable=track.run >= self._required and track.candidate == track.published)

    def forget(self, ticker: str) -> None:
        """Drop a ticker's history (market closed or left the scan); a later update starts over at UNKNOWN."""
        self._tracks.pop(ticker, None)

    @staticmethod
    def _state(track: _Track, *, stable: bool) -> RegimeState:
        return RegimeState(track.published, stable, track.since_ts, track.observed_ts)


def is_stale(state: RegimeState | None, now: float, max_age: float) -> bool:
    """True when regime data is missing or older than ``max_age`` seconds at clock seconds ``now``.

    Market makers freeze on True (``regimes.max_shared_state_age_seconds``). An age of exactly ``max_age`` is
    still fresh: the seed freezes when data is *older* than the limit.
    """
    if state is None:
        return True
    return now - state.observed_ts > max_age


def gamma_multiplier(regime: Regime, cfg: RegimesConfig) -> float:
    """Risk-aversion multiplier for ``regime`` (config validation guarantees every regime has one)."""
    return cfg.gamma_multipliers[regime.value]


def k_multiplier(regime: Regime, cfg: RegimesConfig) -> float:
    """Order-intensity multiplier for ``regime`` (config validation guarantees every regime has one)."""
    return cfg.k_multipliers[regime.value]


def profile_for_regime(profile: CategoryProfile, regime: Regime) -> ProfileParams:
    """The category profile's parameters with its ``by_regime`` overrides for ``regime`` applied."""
    return profile.for_regime(regime.value)
