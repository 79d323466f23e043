"""Quote throttles with hysteresis: pure, stateful objects owned by one market-maker thread (not thread-safe).

Each throttle turns a stream of checks into an engaged/released state: it engages after ``trigger_threshold``
consecutive bad checks and releases after ``recovery_threshold`` consecutive good ones (config ``throttling``),
so one noisy observation never flips quoting. While engaged it asks the order-turning step to widen each side by
a number of grid ticks. Nothing here reads a clock: the caller passes timestamps (seconds, floats).

* :class:`SpreadThrottle` — the market's spread is wider than ``max_spread_threshold``.
* :class:`BookHealthThrottle` — depth at the touch is thinner than ``min_book_depth`` contracts.
* :class:`AdverseSelectionThrottle` — over the last ``adverse_selection_window_seconds``, at least
  ``adverse_selection_threshold`` of our fills were followed by a mid move against us (bought, then the mid fell;
  sold, then it rose). It also measures the mean adverse move per fill, the GLFT ξ estimate.
* :class:`Throttles` — all three; :meth:`Throttles.check` returns a :class:`ThrottleDecision`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kalshi_mm.config.sections_trading import ThrottlingConfig
from kalshi_mm.units import COUNT_SCALE

__all__ = [
    "AdverseSelectionThrottle",
    "BookHealthThrottle",
    "Hysteresis",
    "SpreadThrottle",
    "ThrottleDecision",
    "Throttles",
]


class Hysteresis:
    """Engage after ``trigger`` consecutive bad checks, release after ``recover`` consecutive good checks."""

    __slots__ = ("_bad", "_good", "engaged", "recover", "trigger")

    def __init__(self, trigger: int, recover: int):
        if trigger < 1 or recover < 1:
            raise ValueError("trigger and recover must be ≥ 1")
        self.trigger, self.recover = trigger, recover
        self.engaged = False
        self._bad = self._good = 0

    def update(self, bad: bool) -> bool:
        """Record one check; return whether the throttle is engaged afterwards."""
        if bad:
            self._bad, self._good = self._bad + 1, 0
            if self._bad >= self.trigger:
                self.engaged = True
        else:
            self._good, self._bad = self._good + 1, 0
            if self._good >= self.recover:
                self.engaged = False
        return self.engaged


class SpreadThrottle:
    """Widen by ``widen_ticks`` while the market spread (1/10,000 $) stays above ``max_spread_e4``."""

    def __init__(self, max_spread_e4: int, widen_ticks: int, trigger: int, recover: int):
        self.max_spread_e4, self.widen_ticks = max_spread_e4, widen_ticks
        self.state = Hysteresis(trigger, recover)

    def check(self, market_spread_e4: int | None) -> int:
        """One check; an empty side (None) counts as too wide. Returns the ticks to widen now."""
        bad = market_spread_e4 is None or market_spread_e4 > self.max_spread_e4
        return self.widen_ticks if self.state.update(bad) else 0


class BookHealthThrottle:
    """Widen by ``widen_ticks`` while depth at the touch (1/100 contract, smaller side) is below the minimum."""

    def __init__(self, min_depth_e2: int, widen_ticks: int, trigger: int, recover: int):
        self.min_depth_e2, self.widen_ticks = min_depth_e2, widen_ticks
        self.state = Hysteresis(trigger, recover)

    def check(self, bid_depth_e2: int, ask_depth_e2: int) -> int:
        """One check of the best-level sizes; returns the ticks to widen now."""
        bad = min(bid_depth_e2, ask_depth_e2) < self.min_depth_e2
        return self.widen_ticks if self.state.update(bad) else 0


@dataclass(frozen=True, slots=True)
class _Fill:
    ts: float
    buy: bool
    mid: float


class AdverseSelectionThrottle:
    """Tracks our fills and flags when too many were followed by an adverse mid move.

    A fill counts once it is at least ``min_age_s`` old (its mid has had time to move) and while it is inside the
    window. ``bad`` when, among at least ``min_fills`` such fills, the adverse share is ≥ ``threshold``. A fill whose
    mid has not moved is neither adverse nor favourable but still counts in the denominator.
    """

    def __init__(
        self,
        window_s: float,
        threshold: float,
        widen_ticks: int,
        trigger: int,
        recover: int,
        *,
        min_fills: int = 5,
        min_age_s: float = 0.0,
    ):
        if window_s <= 0 or not 0 <= threshold <= 1:
            raise ValueError("window_s must be > 0 and threshold in [0, 1]")
        self.window_s, self.threshold, self.widen_ticks = window_s, threshold, widen_ticks
        self.min_fills, self.min_age_s = min_fills, min_age_s
        self.state = Hysteresis(trigger, recover)
        self._fills: deque[_Fill] = deque()
        self.adverse_share = 0.0
        self.mean_adverse_move = 0.0

    def record_fill(self, ts: float, buy: bool, mid: float) -> None:
        """Our order was filled at time ``ts`` (s); ``buy`` for a YES buy; ``mid`` ($) just before the fill."""
        self._fills.append(_Fill(ts, buy, mid))

    def check(self, now: float, mid: float) -> int:
        """One check at time ``now`` with the current ``mid`` ($); returns the ticks to widen now.

        Also updates :attr:`adverse_share` and :attr:`mean_adverse_move` ($ per fill, ≥ 0: the mean of
        max(0, move against us) over the counted fills — ξ for the GLFT model).
        """
        while self._fills and self._fills[0].ts < now - self.window_s:
            self._fills.popleft()
        moves = [(mid - f.mid) if not f.buy else (f.mid - mid) for f in self._fills if now - f.ts >= self.min_age_s]
        if len(moves) >= self.min_fills:
            self.adverse_share = sum(1 for m in moves if m > 0) / len(moves)
            self.mean_adverse_move = max(0.0, sum(moves) / len(moves))
            bad = self.adverse_share >= self.threshold
        else:
            self.adverse_share, self.mean_adverse_move, bad = 0.0, 0.0, False
        return self.widen_ticks if self.state.update(bad) else 0


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    """Total ticks to widen each side, and which throttles are engaged."""

    widen_ticks: int
    spread: bool
    book: bool
    adverse: bool


class Throttles:
    """The three throttles built from config ``throttling``; one instance per market."""

    def __init__(self, cfg: ThrottlingConfig, *, adverse_widen_ticks: int | None = None, adverse_min_fills: int = 5):
        trig, rec = cfg.trigger_threshold, cfg.recovery_threshold
        self.spread = SpreadThrottle(cfg.max_spread_threshold, cfg.spread_widen_ticks, trig, rec)
        self.book = BookHealthThrottle(round(cfg.min_book_depth * COUNT_SCALE), cfg.book_thin_widen_ticks, trig, rec)
        # The config has no ticks for adverse selection; the spread throttle's widening is the seed's default.
        ticks = cfg.spread_widen_ticks if adverse_widen_ticks is None else adverse_widen_ticks
        self.adverse = AdverseSelectionThrottle(
            cfg.adverse_selection_window_seconds,
            cfg.adverse_selection_threshold,
            ticks,
            trig,
            rec,
            min_fills=adverse_min_fills,
        )

    def check(
        self, now: float, mid: float, market_spread_e4: int | None, bid_depth_e2: int, ask_depth_e2: int
    ) -> ThrottleDecision:
        """Run all three checks once (``now`` s, ``mid`` $, depths in 1/100 contract) and sum the widening."""
        s = self.spread.check(market_spread_e4)
        b = self.book.check(bid_depth_e2, ask_depth_e2)
        a = self.adverse.check(now, mid)
        engaged = (self.spread.state.engaged, self.book.state.engaged, self.adverse.state.engaged)
        return ThrottleDecision(s + b + a, *engaged)
