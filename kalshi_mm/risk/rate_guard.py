"""Cancel discipline: when the write budget runs low, new creates and amends are vetoed so that what is left of
it stays available for cancels (pulling an order is the one request that always reduces risk).

The client's :class:`~kalshi_mm.api.ratelimit.RateLimiter` queues requests until their tokens are there; without a
guard, a burst of creates from many sessions would drain the write bucket and a cancel that matters (a halt, a
market that jumped) would wait behind them. The guard keeps ``reserve_cancels`` cancels' worth of tokens
(:data:`~kalshi_mm.api.ratelimit.CANCEL_COST` each) untouched by order entry, and treats every request already
queued on the write bucket as a create (its tokens are spoken for).

:func:`rate_veto` is the pure rule; :class:`RateGuard` reads the limiter's state for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from kalshi_mm.api.ratelimit import CANCEL_COST, DEFAULT_COST, RateLimiter, cost_of

__all__ = ["ORDER_COSTS", "RateGuard", "RateStatus", "rate_veto"]

OrderKind = Literal["place", "amend"]

# What a create and an amend cost on Kalshi's write bucket (NOTES.md §5): both the default 10 tokens.
ORDER_COSTS: dict[OrderKind, int] = {
    "place": cost_of("POST", "/portfolio/events/orders")[1],
    "amend": cost_of("POST", "/portfolio/events/orders/x/amend")[1],
}


@dataclass(frozen=True, slots=True)
class RateStatus:
    """The write bucket as the order path sees it: ``available`` tokens now, requests ``queued`` for it, the
    ``cost`` of the proposed request and the ``reserve`` (tokens) kept for cancels."""

    available: float
    queued: int
    cost: int
    reserve: int

    @property
    def spare(self) -> float:
        """Tokens left after the queued requests (each counted as a create) and this one."""
        return self.available - self.queued * DEFAULT_COST - self.cost


def rate_veto(status: RateStatus) -> dict[str, object] | None:
    """None when the request leaves at least the reserve for cancels; else the veto's detail."""
    spare = status.spare
    if spare >= status.reserve:
        return None
    return {
        "available_tokens": math.floor(status.available),
        "queued_requests": status.queued,
        "cost": status.cost,
        "reserve_tokens": status.reserve,
    }


class RateGuard:
    """Reads the shared :class:`RateLimiter`'s write bucket for :func:`rate_veto`. Thread-safe: the limiter
    guards its own state; the guard holds none."""

    def __init__(self, limiter: RateLimiter | None, reserve_cancels: int):
        if reserve_cancels < 0:
            raise ValueError(f"reserve_cancels must be ≥ 0, got {reserve_cancels}")
        self._limiter = limiter
        self.reserve_tokens = reserve_cancels * CANCEL_COST

    def status(self, kind: OrderKind) -> RateStatus | None:
        """The write bucket's state for a ``kind`` request; None without a limiter or a reserve (rule off)."""
        if self._limiter is None or self.reserve_tokens == 0:
            return None
        return RateStatus(
            available=self._limiter.available("write"),
            queued=self._limiter.queued("write"),
            cost=ORDER_COSTS[kind],
            reserve=self.reserve_tokens,
        )
