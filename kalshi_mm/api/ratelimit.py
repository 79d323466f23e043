"""Token buckets, Kalshi's rate-limit scheme since 2026-04-23 (NOTES.md §5).

Two independent buckets per account, read and write; each request costs tokens (default 10; cancels 2; batches
bill per item) and a request that does not fit the bucket is refused whole. The same :class:`TokenBucket`
serves the client (wait until a request fits) and the embedded exchange (answer 429 when it does not).
Time is passed in, never read: the caller owns the clock. :class:`RateLimiter` is the client's side: both
buckets, shared by every thread, waiting on the injected clock, with priorities.
"""

from __future__ import annotations

import enum
import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field

from kalshi_mm.clock import Clock

__all__ = ["TIERS", "Priority", "RateLimiter", "TierBudget", "TokenBucket", "cost_of"]


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


# --- the client's limiter -------------------------------------------------------------------------------------


class Priority(enum.IntEnum):
    """Who goes first when a bucket is short; lower is more urgent."""

    CANCEL = 0  # cancels and decreases: they reduce risk
    ORDER = 1  # creates, amends, and the reads order entry depends on (portfolio, look-ups by client_order_id)
    MARKET_DATA = 2  # discovery and scanning: only uses the bucket above a reserve, and waits behind the others


# The exchange refills on its own clock and may have seen other traffic on the key: plan for 90% of the budget.
DEFAULT_SAFETY = 0.9
# Share of each bucket that market-data reads leave untouched, so an order-path read never queues behind a scan.
DEFAULT_MARKET_DATA_RESERVE = 0.25
# How long a waiter that is not at the head of its queue sleeps before re-checking (it is woken on every change).
_IDLE_WAIT_S = 1.0
# Float refill arithmetic can leave a bucket a hair short after an exact wait; never spin on a zero wait.
_MIN_WAIT_S = 1e-4


@dataclass(eq=False)
class _Waiter:
    priority: int
    seq: int
    wake: threading.Event = field(default_factory=threading.Event)


class _Lane:
    """One bucket and its queue of waiters; ``lock`` guards ``waiters`` and the statistics."""

    def __init__(self, bucket: TokenBucket, reserve: float):
        self.bucket = bucket
        self.reserve = reserve
        self.lock = threading.Lock()
        self.waiters: list[_Waiter] = []
        self.granted: Counter[str] = Counter()
        self.waited_s: Counter[str] = Counter()


class RateLimiter:
    """Client-side mirror of the exchange's read and write token buckets, shared by all threads.

    ``acquire`` blocks (on the injected clock) until the request's tokens are available, so the client waits
    instead of collecting 429s. Each bucket serves its waiters strictly by (priority, arrival): a cheap request
    never overtakes a queued expensive one of the same priority, market-data reads wait while any order-path
    request is queued on the read bucket, and they only use the bucket above ``market_data_reserve`` of its
    capacity. Capacity and refill are ``safety`` × the tier's: the exchange charges a request when it arrives,
    later than we took its tokens, and refills on its own clock; while its bucket sits full during that delay,
    its refill is clipped but ours is not, so the missing ``1 − safety`` of capacity is what absorbs latency
    jitter (10% of a bucket is 0.1 s of refill). A batch must therefore fit ``safety`` × capacity (Basic: 9
    creates).
    """

    def __init__(
        self,
        tier: str | TierBudget,
        clock: Clock,
        *,
        safety: float = DEFAULT_SAFETY,
        market_data_reserve: float = DEFAULT_MARKET_DATA_RESERVE,
    ):
        if not 0 < safety <= 1 or not 0 <= market_data_reserve < 1:
            raise ValueError(f"safety must be in (0, 1] and reserve in [0, 1), got {safety}, {market_data_reserve}")
        budget = TIERS[tier] if isinstance(tier, str) else tier
        self.budget = budget
        self._clock = clock
        self._seq = itertools.count()
        now = clock.monotonic()
        self._lanes: dict[str, _Lane] = {}
        for kind, capacity, rate in (
            ("read", budget.read_capacity, budget.read_per_s),
            ("write", budget.write_capacity, budget.write_per_s),
        ):
            bucket = TokenBucket(capacity * safety, rate * safety, now)
            self._lanes[kind] = _Lane(bucket, bucket.capacity * market_data_reserve)

    def capacity(self, kind: str) -> float:
        """Tokens our ``kind`` bucket holds when full (``safety`` × the tier's): the most one request may cost."""
        return self._lanes[kind].bucket.capacity

    def acquire(self, method: str, path: str, batch_items: int = 0, priority: Priority = Priority.ORDER) -> float:
        """Wait until the request ``method path`` (relative to /trade-api/v2) may be sent; seconds waited."""
        kind, cost = cost_of(method, path, batch_items)
        return self.acquire_tokens(kind, cost, priority)

    def acquire_tokens(self, kind: str, cost: float, priority: Priority = Priority.ORDER) -> float:
        """Take ``cost`` tokens from the ``kind`` ("read"/"write") bucket, waiting on the clock; seconds waited."""
        lane = self._lanes[kind]
        if cost > lane.bucket.capacity:
            raise ValueError(f"a request of {cost} tokens can never fit the {kind} bucket of {lane.bucket.capacity}")
        start = self._clock.monotonic()
        me = _Waiter(int(priority), next(self._seq))
        with lane.lock:
            lane.waiters.append(me)
        try:
            while True:
                with lane.lock:
                    delay = self._try_take_locked(lane, me, cost)
                    if delay is None:
                        break
                    me.wake.clear()  # under the lock: any later change to the queue sets it again
                self._clock.wait(delay, me.wake)
        finally:
            with lane.lock:
                lane.waiters.remove(me)
                for other in lane.waiters:
                    other.wake.set()  # the head may have changed
        waited = self._clock.monotonic() - start
        with lane.lock:
            lane.granted[priority.name] += 1
            lane.waited_s[priority.name] += waited
        return waited

    def _try_take_locked(self, lane: _Lane, me: _Waiter, cost: float) -> float | None:
        """None when taken; else how long to wait before trying again."""
        head = min(lane.waiters, key=lambda w: (w.priority, w.seq))
        if head is not me:
            return _IDLE_WAIT_S
        floor = 0.0
        if me.priority >= Priority.MARKET_DATA:
            floor = min(lane.reserve, lane.bucket.capacity - cost)
        now = self._clock.monotonic()
        wait = lane.bucket.wait_time(cost + floor, now)
        if wait <= 0 and lane.bucket.try_take(cost, now):
            return None
        return max(wait, _MIN_WAIT_S)

    def penalize(self, kind: str) -> None:
        """After a 429: the exchange's bucket is emptier than ours thinks, so empty ours and let it refill."""
        lane = self._lanes[kind]
        now = self._clock.monotonic()
        lane.bucket.try_take(lane.bucket.available(now), now)

    def queued(self, kind: str) -> int:
        """Requests waiting on the ``kind`` bucket right now."""
        lane = self._lanes[kind]
        with lane.lock:
            return len(lane.waiters)

    def available(self, kind: str) -> float:
        return self._lanes[kind].bucket.available(self._clock.monotonic())

    def stats(self) -> dict[str, dict[str, float]]:
        """Per bucket and priority: requests granted and total seconds waited."""
        out: dict[str, dict[str, float]] = {}
        for kind, lane in self._lanes.items():
            with lane.lock:
                for name, n in lane.granted.items():
                    out.setdefault(kind, {})[f"{name}_granted"] = n
                    out[kind][f"{name}_waited_s"] = lane.waited_s[name]
        return out
