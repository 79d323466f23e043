"""``MarketScorer``: rank discovery candidates by a weighted sum of min-max normalised features (seed §3.4).

    score = w_volume_24h · norm(24h volume $) + w_recent_volume_1h · norm(last-hour volume $)
          + w_book_liquidity · norm(book depth, contracts) + w_spread · norm(spread)      (w_spread ≤ 0)
          + w_time_penalty · time_penalty                                                 (w_time_penalty ≤ 0)

``norm(x) = (x − min) / (max − min)`` over all candidates scored together (0 for every market when all values
are equal: the feature then tells nothing apart). ``time_penalty`` is already in [0, 1]: 1 under one day to
expiry, 0 over sixty days, linear between. Both volumes are in dollars (the hour's contracts valued at the
mid), so the two volume features measure the same thing over different windows. Computed with numpy so ten
thousand markets score in milliseconds; the scoring itself is pure.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from kalshi_mm.config.sections_trading import ScoringConfig
from kalshi_mm.discovery.models import MarketCandidate, ScoredMarket
from kalshi_mm.units import format_dollars

__all__ = ["FEATURES", "TIME_PENALTY_FULL_DAYS", "TIME_PENALTY_ZERO_DAYS", "MarketScorer", "time_penalty"]

FEATURES = ("volume_24h", "recent_volume_1h", "book_liquidity", "spread", "time_penalty")
TIME_PENALTY_FULL_DAYS = 1.0  # at or under this many days to expiry the penalty is 1
TIME_PENALTY_ZERO_DAYS = 60.0  # at or over this many days it is 0
_DAY_S = 86_400.0
_BAND_NAMES = ("very_low", "low", "medium", "high")


def time_penalty(days_to_expiry: np.ndarray) -> np.ndarray:
    """1.0 at ≤ 1 day, 0.0 at ≥ 60 days, linear between (days may be fractional)."""
    span = TIME_PENALTY_ZERO_DAYS - TIME_PENALTY_FULL_DAYS
    return np.clip((TIME_PENALTY_ZERO_DAYS - days_to_expiry) / span, 0.0, 1.0)


def _min_max(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    low, high = values.min(), values.max()
    if high <= low:
        return np.zeros_like(values)
    return (values - low) / (high - low)


class MarketScorer:
    """Scores candidates with ``scoring`` config (weights, volume bands, minimum 24h volume). Stateless."""

    def __init__(self, scoring_config: ScoringConfig):
        self.config = scoring_config
        w = scoring_config.weights
        self._weights = np.array([w.volume_24h, w.recent_volume_1h, w.book_liquidity, w.spread, w.time_penalty])
        b = scoring_config.volume_bands
        self._band_edges = np.array([b.very_low, b.low, b.medium])

    def describe(self) -> dict[str, Any]:
        """Thresholds and weights, JSON-ready, for start-up logging."""
        b = self.config.volume_bands
        return {
            "weights": dict(zip(FEATURES, self._weights.tolist(), strict=True)),
            "normalisation": "min-max over the candidates scored together",
            "time_penalty_days": {"full": TIME_PENALTY_FULL_DAYS, "zero": TIME_PENALTY_ZERO_DAYS},
            "volume_bands": {"very_low": b.very_low, "low": b.low, "medium": b.medium, "high": b.high},
            "min_volume_24h_dollars": format_dollars(self.config.min_volume_24h),
        }

    def feature_matrix(self, candidates: Sequence[MarketCandidate]) -> np.ndarray:
        """Raw features, one row per candidate, columns as :data:`FEATURES` (volumes $, depth contracts,
        spread $, days to expiry in the time_penalty column)."""
        # attrgetter runs in C: half the cost of a Python-level tuple per market.
        get = operator.attrgetter(
            "volume_24h_e4",
            "volume_1h_e2",
            "mid_e4",
            "depth_bid_e2",
            "depth_ask_e2",
            "depth_levels_e2",
            "spread_e4",
            "time_to_expiry_s",
        )
        cols = np.array([get(c.metrics) for c in candidates], dtype=np.float64).reshape(len(candidates), 8)
        raw = np.empty((len(candidates), len(FEATURES)))
        raw[:, 0] = cols[:, 0] / 10_000.0  # dollars
        # The hour's contracts valued at the mid, rounded down to 1/10,000 $ as the exact-int metric would be.
        raw[:, 1] = np.floor(cols[:, 1] * cols[:, 2] / 100.0) / 10_000.0
        raw[:, 2] = (cols[:, 3] + cols[:, 4] + cols[:, 5]) / 100.0  # contracts
        raw[:, 3] = cols[:, 6] / 10_000.0  # dollars
        raw[:, 4] = cols[:, 7] / _DAY_S  # days
        return raw

    def score_matrix(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(normalised features, scores) of a raw feature matrix; pure numpy, no Python loop over markets."""
        norm = np.empty_like(raw)
        for j in range(4):
            norm[:, j] = _min_max(raw[:, j])
        norm[:, 4] = time_penalty(raw[:, 4])
        return norm, norm @ self._weights

    def score(self, candidates: Sequence[MarketCandidate]) -> list[ScoredMarket]:
        """Every candidate scored, best first: markets at or above ``min_volume_24h`` (eligible) by score,
        ties by ticker, then the ineligible ones the same way."""
        if not candidates:
            return []
        raw = self.feature_matrix(candidates)
        norm, scores = self.score_matrix(raw)
        eligible = np.array([c.metrics.volume_24h_e4 >= self.config.min_volume_24h for c in candidates])
        bands = np.searchsorted(self._band_edges, norm[:, 0], side="right")
        tickers = np.array([c.ticker for c in candidates])
        order = np.lexsort((tickers, -scores, ~eligible))
        min_vol = self.config.min_volume_24h / 10_000.0
        below = f"below minimum 24h volume ${min_vol:,.0f}"
        # Python lists, not numpy scalars, in the per-market loop: element access on arrays is ~10x slower.
        raw_rows, norm_rows = raw[order].tolist(), norm[order].tolist()
        score_list, elig_list = scores[order].tolist(), eligible[order].tolist()
        band_list = [_BAND_NAMES[b] for b in bands[order].tolist()]
        out: list[ScoredMarket] = []
        for k, i in enumerate(order.tolist()):
            r, n, band = raw_rows[k], norm_rows[k], band_list[k]
            reasons = (
                f"24h volume ${r[0]:,.0f} ({band})",
                f"1h volume ${r[1]:,.0f}",
                f"book {r[2]:,.0f} contracts",
                f"spread {r[3] * 100:.1f}¢",
                f"expires in {r[4]:.1f} d (time penalty {n[4]:.2f})",
            )
            if not elig_list[k]:
                reasons = (*reasons, below)
            features = {
                "volume_24h": n[0],
                "recent_volume_1h": n[1],
                "book_liquidity": n[2],
                "spread": n[3],
                "time_penalty": n[4],
                "volume_24h_raw": r[0],
                "recent_volume_1h_raw": r[1],
                "book_liquidity_raw": r[2],
                "spread_raw": r[3],
                "days_to_expiry_raw": r[4],
            }
            out.append(ScoredMarket(candidates[i], score_list[k], features, reasons, band, elig_list[k]))
        return out

    @staticmethod
    def top(scored: Sequence[ScoredMarket], n: int) -> list[ScoredMarket]:
        """The best ``n`` eligible markets of a :meth:`score` result (already sorted)."""
        return [s for s in scored if s.eligible][: max(0, n)]
