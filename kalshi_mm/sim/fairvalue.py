"""Fair-value processes of the simulated market: where the "true" probability of each market goes next.

Pure and seeded: no I/O, no clock reads. A :class:`FairValueProcess` holds one market's fair value in
**log-odds** ``x`` (probability ``p = 1 / (1 + e^-x)``) and moves it forward by ``dt`` seconds that the caller
passes in, drawing every random number from the ``random.Random`` it was given, so the same seed and the same
sequence of ``advance`` calls give the same path on every machine.

The log-odds are the sum of two parts:

* ``base`` — diffusion (σ per √s) plus a regime: **mean-reverting** (an Ornstein–Uhlenbeck pull toward an
  anchor) or **trending** (a constant drift whose sign is drawn when the regime starts). The regime is a
  two-state Markov chain whose stationary share of mean-reverting time is a per-category weight.
* ``transient`` — news jumps that fade: each one decays with a half-life. A jump is transient with a
  per-category probability (rates/economic releases overreact and come back) and otherwise lands in ``base``
  and moves the anchor with it (a sports score does not come back). Sports jumps are also *directional*:
  the next jump repeats the last one's sign with a probability above one half.

Why log-odds: a probability-space random walk leaves [0, 1]; in log-odds the same shock moves a 50¢ market
more than a 3¢ one (dp ≈ p(1−p)·dx), as real prediction markets do, and extremes stay extreme.

An :class:`EventFairValue` ties the markets of one event together. A strike ladder ("above 3.50",
"above 3.75", ...) and a single binary market share **one** process whose log-odds *shift* is added to each
market's initial log-odds, so strikes move together and stay ordered. Mutually exclusive events (exactly one
market resolves YES) keep one process per market and read their probabilities through
:func:`mutually_exclusive_probs` (a softmax), so the prices of an event always sum to 1.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

__all__ = [
    "LOGIT_CAP",
    "EventFairValue",
    "FairValueParams",
    "FairValueProcess",
    "Jump",
    "Regime",
    "logit",
    "mutually_exclusive_probs",
    "sigmoid",
]

# |log-odds| never exceeds logit(0.999): beyond it a price would sit under the finest grid tick anyway, and
# an unbounded trending drift would otherwise run off to infinity over a long simulation.
LOGIT_CAP = math.log(0.999 / 0.001)
_LN2 = math.log(2.0)


def sigmoid(x: float) -> float:
    """Probability from log-odds, numerically safe for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def logit(p: float) -> float:
    """Log-odds of a probability in (0, 1); raises ValueError outside it."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability must lie strictly between 0 and 1, got {p!r}")
    return math.log(p / (1.0 - p))


def mutually_exclusive_probs(logits: Sequence[float]) -> list[float]:
    """Probabilities of the markets of a mutually exclusive event: softmax of their log-odds (sums to 1).

    For two markets this is ``sigmoid(x0 − x1)``; for a single market it would be 1, so callers pass at least
    two. Shifted by the maximum so large log-odds cannot overflow.
    """
    if len(logits) < 2:
        raise ValueError("a mutually exclusive event needs at least two markets")
    top = max(logits)
    weights = [math.exp(x - top) for x in logits]
    total = sum(weights)
    return [w / total for w in weights]


class Regime(enum.Enum):
    """The drift regime of a fair-value process."""

    MEAN_REVERTING = "mean_reverting"
    TRENDING = "trending"


@dataclass(frozen=True, slots=True)
class FairValueParams:
    """Dynamics of one market's fair value. Log-odds units throughout; times in seconds.

    * ``sigma_logit_per_sqrt_s`` — diffusion: the log-odds standard deviation after one second.
    * ``mean_reverting_weight`` — long-run share of time in the mean-reverting regime, in [0, 1].
    * ``regime_mean_duration_s`` — scale of regime lengths: a mean-reverting spell lasts on average
      ``D / (1 − w)`` and a trending one ``D / w`` (which gives the stationary share ``w``).
    * ``ou_half_life_s`` — in the mean-reverting regime, deviations from the anchor halve in this time.
    * ``trend_drift_logit_per_s`` — in the trending regime, |drift| of the log-odds per second.
    * ``jump_rate_per_s`` — Poisson intensity of news jumps.
    * ``jump_mean_logit`` — mean |jump| (exponentially distributed) in log-odds.
    * ``jump_revert_prob`` — probability that a jump is transient (fades) rather than persistent.
    * ``jump_revert_half_life_s`` — half-life of a transient jump.
    * ``jump_direction_persistence`` — probability a jump repeats the previous jump's sign (0.5 = independent).
    """

    sigma_logit_per_sqrt_s: float
    mean_reverting_weight: float
    regime_mean_duration_s: float
    ou_half_life_s: float
    trend_drift_logit_per_s: float
    jump_rate_per_s: float
    jump_mean_logit: float
    jump_revert_prob: float
    jump_revert_half_life_s: float
    jump_direction_persistence: float = 0.5

    def __post_init__(self) -> None:
        for name in ("sigma_logit_per_sqrt_s", "trend_drift_logit_per_s", "jump_rate_per_s", "jump_mean_logit"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be a finite number ≥ 0, got {value!r}")
        for name in ("regime_mean_duration_s", "ou_half_life_s", "jump_revert_half_life_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        for name in ("mean_reverting_weight", "jump_revert_prob", "jump_direction_persistence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")


@dataclass(frozen=True, slots=True)
class Jump:
    """A news jump that happened during :meth:`FairValueProcess.advance` (log-odds; signed)."""

    size_logit: float
    transient: bool


class FairValueProcess:
    """One market's fair value, advanced in seconds. Not thread-safe: one owner (the simulation) drives it."""

    __slots__ = (
        "_anchor",
        "_base",
        "_chop",
        "_chop_half_life_s",
        "_chop_left_s",
        "_chop_sd_logit",
        "_drift",
        "_last_sign",
        "_params",
        "_regime",
        "_rng",
        "_transient",
    )

    def __init__(self, params: FairValueParams, initial_logit: float, rng: random.Random):
        if not math.isfinite(initial_logit):
            raise ValueError(f"initial log-odds must be finite, got {initial_logit!r}")
        self._params = params
        self._rng = rng
        self._base = _clamp(initial_logit)
        self._anchor = self._base
        self._transient = 0.0
        # A volatility burst ("chop" news): a fast OU term around 0, active while _chop_left_s > 0, then fading.
        self._chop = 0.0
        self._chop_sd_logit = 0.0
        self._chop_half_life_s = 1.0
        self._chop_left_s = 0.0
        self._last_sign = 0  # no jump yet: the first jump's sign is a fair coin
        # Start in a regime drawn from the stationary mix so a fresh catalogue already shows both kinds.
        self._regime = Regime.MEAN_REVERTING
        self._drift = 0.0
        if rng.random() >= params.mean_reverting_weight:
            self._enter_trending()

    @classmethod
    def from_probability(cls, params: FairValueParams, p0: float, rng: random.Random) -> FairValueProcess:
        """A process starting at probability ``p0`` (0 < p0 < 1)."""
        return cls(params, logit(p0), rng)

    @property
    def params(self) -> FairValueParams:
        return self._params

    @property
    def logit(self) -> float:
        """Current log-odds (persistent part plus fading jumps), within ±:data:`LOGIT_CAP`."""
        return _clamp(self._base + self._transient + self._chop)

    @property
    def probability(self) -> float:
        """Current fair probability in (0, 1), for an event that is not mutually exclusive."""
        return sigmoid(self.logit)

    @property
    def regime(self) -> Regime:
        return self._regime

    @property
    def transient_logit(self) -> float:
        """The part of the log-odds that is still-fading news (0 when no transient jump is pending)."""
        return self._transient

    def advance(self, dt_s: float) -> tuple[Jump, ...]:
        """Move forward ``dt_s`` seconds (≥ 0); returns the jumps that happened, in order.

        Regime switches are checked once per call, so ``dt_s`` should be small against regime durations
        (seconds against minutes); diffusion and decay are exact for any ``dt_s``.
        """
        if not (math.isfinite(dt_s) and dt_s >= 0.0):
            raise ValueError(f"dt must be a finite number of seconds ≥ 0, got {dt_s!r}")
        if dt_s == 0.0:
            return ()
        p = self._params
        rng = self._rng
        self._maybe_switch_regime(dt_s)
        z = rng.gauss(0.0, 1.0)
        if self._regime is Regime.MEAN_REVERTING:
            # Exact OU step: the mean decays toward the anchor, the variance is the stationary-limited one.
            kappa = _LN2 / p.ou_half_life_s
            decay = math.exp(-kappa * dt_s)
            sd = p.sigma_logit_per_sqrt_s * math.sqrt((1.0 - decay * decay) / (2.0 * kappa))
            self._base = self._anchor + (self._base - self._anchor) * decay + sd * z
        else:
            self._base += self._drift * dt_s + p.sigma_logit_per_sqrt_s * math.sqrt(dt_s) * z
            if abs(self._base) >= LOGIT_CAP:
                # A trend that reaches the cap has nowhere to go: it ends there instead of pinning the price.
                self._enter_mean_reverting()
        self._base = _clamp(self._base)
        self._transient *= math.exp(-_LN2 * dt_s / p.jump_revert_half_life_s)
        if self._chop_left_s > 0.0 or self._chop != 0.0:
            self._advance_chop(dt_s)
        return self._draw_jumps(dt_s)

    def start_chop(self, sd_logit: float, half_life_s: float, duration_s: float) -> None:
        """Start a burst of mean-reverting volatility: for ``duration_s`` seconds the log-odds whipsaw around
        their level (an OU term of stationary standard deviation ``sd_logit`` and half-life ``half_life_s``),
        then the term fades with the same half-life. Draws random numbers only while a burst is on, so paths
        without chop news are unchanged."""
        for name, value in (("sd_logit", sd_logit), ("half_life_s", half_life_s), ("duration_s", duration_s)):
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        self._chop_sd_logit = sd_logit
        self._chop_half_life_s = half_life_s
        self._chop_left_s = duration_s

    def _advance_chop(self, dt_s: float) -> None:
        decay = math.exp(-_LN2 * dt_s / self._chop_half_life_s)
        if self._chop_left_s > 0.0:
            # Exact OU step with stationary sd: the noise variance is sd² (1 - decay²).
            sd = self._chop_sd_logit * math.sqrt(1.0 - decay * decay)
            self._chop = self._chop * decay + sd * self._rng.gauss(0.0, 1.0)
            self._chop_left_s = max(0.0, self._chop_left_s - dt_s)
        else:
            self._chop *= decay
            if abs(self._chop) < 1e-6:  # faded: stop drawing
                self._chop = 0.0

    def shock(self, delta_logit: float, transient: bool) -> Jump:
        """Apply a scheduled news jump of ``delta_logit`` now (transient ones fade like random jumps)."""
        if not math.isfinite(delta_logit):
            raise ValueError(f"shock must be finite, got {delta_logit!r}")
        return self._apply_jump(delta_logit, transient)

    # --- internals ---------------------------------------------------------------------------------------

    def _maybe_switch_regime(self, dt_s: float) -> None:
        p = self._params
        w = p.mean_reverting_weight
        leave_share = (1.0 - w) if self._regime is Regime.MEAN_REVERTING else w
        rate = leave_share / p.regime_mean_duration_s
        if rate > 0.0 and self._rng.random() < -math.expm1(-rate * dt_s):
            if self._regime is Regime.MEAN_REVERTING:
                self._enter_trending()
            else:
                self._enter_mean_reverting()

    def _enter_trending(self) -> None:
        self._regime = Regime.TRENDING
        sign = 1.0 if self._rng.random() < 0.5 else -1.0
        self._drift = sign * self._params.trend_drift_logit_per_s

    def _enter_mean_reverting(self) -> None:
        # The new anchor is where the trend left the price: a mean-reverting market forgets the old level.
        self._regime = Regime.MEAN_REVERTING
        self._drift = 0.0
        self._anchor = _clamp(self._base)

    def _draw_jumps(self, dt_s: float) -> tuple[Jump, ...]:
        p = self._params
        if p.jump_rate_per_s <= 0.0 or p.jump_mean_logit <= 0.0:
            return ()
        jumps: list[Jump] = []
        t = self._rng.expovariate(p.jump_rate_per_s)
        while t < dt_s:
            if self._last_sign == 0:
                sign = 1 if self._rng.random() < 0.5 else -1
            else:
                sign = self._last_sign if self._rng.random() < p.jump_direction_persistence else -self._last_sign
            size = self._rng.expovariate(1.0 / p.jump_mean_logit)
            transient = self._rng.random() < p.jump_revert_prob
            jumps.append(self._apply_jump(sign * size, transient))
            t += self._rng.expovariate(p.jump_rate_per_s)
        return tuple(jumps)

    def _apply_jump(self, delta: float, transient: bool) -> Jump:
        if delta != 0.0:
            self._last_sign = 1 if delta > 0 else -1
        if transient:
            # Cap the fading part so base + transient stays meaningful near the edges.
            self._transient = max(-2.0 * LOGIT_CAP, min(2.0 * LOGIT_CAP, self._transient + delta))
        else:
            self._base = _clamp(self._base + delta)
            self._anchor = _clamp(self._anchor + delta)
        return Jump(size_logit=delta, transient=transient)


def _clamp(x: float) -> float:
    return max(-LOGIT_CAP, min(LOGIT_CAP, x))


class EventFairValue:
    """The fair probabilities of the markets of one event, driven by one or more :class:`FairValueProcess`.

    ``initial_probs`` are the markets' starting probabilities, in market order. ``mutually_exclusive``
    events get one process per market (normalised so the probabilities sum to 1), each with the event's jump
    rate divided by the number of markets; otherwise one shared process shifts every market's log-odds by the
    same amount. Not thread-safe.
    """

    __slots__ = ("_exclusive", "_offsets", "_processes")

    def __init__(
        self, params: FairValueParams, initial_probs: Sequence[float], mutually_exclusive: bool, rng: random.Random
    ):
        if not initial_probs:
            raise ValueError("an event needs at least one market")
        for p in initial_probs:
            if not 0.0 < p < 1.0:
                raise ValueError(f"initial probabilities must lie strictly between 0 and 1, got {p!r}")
        self._exclusive = mutually_exclusive
        if mutually_exclusive:
            if len(initial_probs) < 2:
                raise ValueError("a mutually exclusive event needs at least two markets")
            # News arrives per event, not per outcome: split the jump rate over the markets so a four-way
            # Fed decision is no jumpier than a single binary.
            per_market = replace(params, jump_rate_per_s=params.jump_rate_per_s / len(initial_probs))
            # Softmax inputs: log-probabilities relative to the favourite, so the largest starts at 0.
            top = max(initial_probs)
            self._offsets: tuple[float, ...] = ()
            self._processes = tuple(FairValueProcess(per_market, math.log(p / top), rng) for p in initial_probs)
        else:
            self._offsets = tuple(logit(p) for p in initial_probs)
            self._processes = (FairValueProcess(params, 0.0, rng),)

    @property
    def mutually_exclusive(self) -> bool:
        return self._exclusive

    @property
    def processes(self) -> tuple[FairValueProcess, ...]:
        return self._processes

    def probabilities(self) -> tuple[float, ...]:
        """Current fair probability of each market, in market order."""
        if self._exclusive:
            return tuple(mutually_exclusive_probs([proc.logit for proc in self._processes]))
        shift = self._processes[0].logit
        return tuple(sigmoid(offset + shift) for offset in self._offsets)

    def advance(self, dt_s: float) -> tuple[Jump, ...]:
        """Advance every process by ``dt_s`` seconds, in market order; returns all jumps that happened."""
        jumps: list[Jump] = []
        for proc in self._processes:
            jumps.extend(proc.advance(dt_s))
        return tuple(jumps)

    def shock(self, move: float, transient: bool) -> Jump:
        """Move the event by ``move`` in probability (−1 < move < 1) at its pivot market, now.

        The pivot is the market nearest 50¢ (where a move in log-odds shows most); the log-odds change that
        moves it by ``move`` (clipped to stay in (0.005, 0.995)) goes to the pivot's own process in a mutually
        exclusive event, or to the shared process of a ladder, whose other strikes then move consistently.
        """
        probs = self.probabilities()
        index = min(range(len(probs)), key=lambda i: abs(probs[i] - 0.5))
        proc = self._processes[index] if self._exclusive else self._processes[0]
        p = probs[index]
        target = min(0.995, max(0.005, p + move))
        # In a softmax, raising one input by d raises that market's log-odds by exactly d (the others'
        # weights are unchanged), so the same delta is right for both kinds.
        return proc.shock(logit(target) - logit(p), transient)

    def chop(self, sd: float, half_life_s: float, duration_s: float) -> None:
        """Start a volatility burst of standard deviation ``sd`` (probability) at the pivot market (as
        :meth:`shock`); the log-odds sd is ``sd / (p (1 - p))`` there, so other strikes of a ladder move
        consistently, less far from 50¢."""
        probs = self.probabilities()
        index = min(range(len(probs)), key=lambda i: abs(probs[i] - 0.5))
        proc = self._processes[index] if self._exclusive else self._processes[0]
        p = probs[index]
        proc.start_chop(sd / (p * (1.0 - p)), half_life_s, duration_s)

    def draw_results(self, rng: random.Random) -> tuple[bool, ...]:
        """Draw which markets resolve YES from the current probabilities (one uniform for a ladder, so a
        higher-probability strike is YES whenever a lower one is; one categorical draw for an exclusive event)."""
        probs = self.probabilities()
        u = rng.random()
        if not self._exclusive:
            return tuple(u < p for p in probs)
        cumulative = 0.0
        winner = len(probs) - 1
        for i, p in enumerate(probs):
            cumulative += p
            if u < cumulative:
                winner = i
                break
        return tuple(i == winner for i in range(len(probs)))
