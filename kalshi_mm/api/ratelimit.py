"""Token buckets, Kalshi's rate-limit scheme since 2026-04-23 (NOTES.md §5).

Two independent buckets per account, read and write; each request costs tokens (default 10; cancels 2; batches
bill per item) and a request that does not fit the bucket is refused whole. The same :class:`TokenBucket`
serves the client (wait until a request fits) and the embedded exchange (answer 429 when it does not).
Time is passed in, never read: the caller owns the clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["TIERS", "TierBudget", "TokenBucket", "cost_of"]


@dataclass(frozen=True)
class TierBudget:
    """Per-second refill and bucket capacity (tokens) of the read and write buckets of one usage tier."""

    read_per_s: int
    write_per_s: int
    read_capacity: int
    write_capacity: int


def _tier(read_per_s: int, write_per_s: int, write_burst_s: int) -> TierBudget:
    # Read capacity is one second of budget; write capacity is two seconds, except Basic (one).
    return TierBudget(read_per_s, write_per_s, read_per_s, write_per_s * write_burst_s)


TIERS: dict[str, TierBudget] = {
    "basic": _tier(200, 100, 1),
    "advanced": _tier(300, 300, 2),
    "premier": _tier(1000, 1000, 2),
    "paragon": _tier(2000, 2000, 2),
    "prime": _tier(4000, 4000, 2),
}

DEFAULT_COST = 10
CANCEL_COST = 2
SINGLE_ORDER_GET_COST = 2


def cost_of(method: str, path: str, batch_items: int = 0) -> tuple[str, int]:
    """``(bucket, tokens)`` for a request: bucket is "read" or "write"; ``path`` is relative to /trade-api/v2.

    Order entry (``/portfolio/events/orders*``) and order groups use the write bucket; everything else reads.
    Batches bill per item; single cancels and single-order GETs cost 2; the rest 10.
    """
    method = method.upper()
    path = path.split("?", 1)[0].rstrip("/")
    if method == "GET":
        single_order = path.startswith("/portfolio/orders/")
        return "read", SINGLE_ORDER_GET_COST if single_order else DEFAULT_COST
    if not (path.startswith("/portfolio/events/orders") or path.startswith("/portfolio/order_groups")):
        return "read", DEFAULT_COST
    if path == "/portfolio/events/orders/batched":
        per_item = CANCEL_COST if method == "DELETE" else DEFAULT_COST
        return "write", per_item * max(1, batch_items)
    is_single_cancel = method == "DELETE" and path.startswith("/portfolio/events/orders/")
    return "write", CANCEL_COST if is_single_cancel else DEFAULT_COST


class TokenBucket:
    """Continuous-refill token bucket. ``_lock`` guards ``_tokens`` and ``_last``.

    Capacity and refill are in tokens and tokens/second; ``now`` is any monotonic seconds the caller supplies.
    """

    def __init__(self, capacity: float, refill_per_s: float, now: float):
        if capacity <= 0 or refill_per_s <= 0:
            raise ValueError(f"token bucket needs positive capacity and refill, got {capacity}, {refill_per_s}")
        self.capacity = float(capacity)
        self.refill_per_s = float(refill_per_s)
        self._tokens = float(capacity)
        self._last = now
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.refill_per_s)
            self._last = now

    def try_take(self, cost: float, now: float) -> bool:
        """Take ``cost`` tokens if they are there; a cost above capacity can never succeed."""
        with self._lock:
            self._refill(now)
            if cost <= self._tokens:
                self._tokens -= cost
                return True
            return False

    def wait_time(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` tokens will be available (0 if now); infinite if cost exceeds capacity."""
        with self._lock:
            self._refill(now)
            if cost > self.capacity:
                return float("inf")
            return max(0.0, (cost - self._tokens) / self.refill_per_s)

    def available(self, now: float) -> float:
        with self._lock:
            self._refill(now)
            return self._tokens
