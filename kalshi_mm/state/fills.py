"""Our fills, deduplicated by fill id (Kalshi's ``trade_id``), in a bounded log with cursors.

Kalshi's ``fill`` channel has no ``seq`` and a reconnect can replay fills; REST reconciliation may deliver
the same fills again. A fill whose id was seen before never enters twice. Both the log and the dedupe memory
are bounded: the id memory is kept much longer than the log (default 10x), so a replay would have to be very
old to slip through, and the consumer learns about fills it never read through ``missed``.
"""

from __future__ import annotations

import threading
from collections import deque
from itertools import islice
from typing import NamedTuple

from kalshi_mm.api.ws_types import FillMsg

__all__ = ["FillBatch", "FillLog"]


class FillBatch(NamedTuple):
    """Fills after a cursor, oldest first. Pass ``cursor`` back next time. ``missed`` > 0 means fills were
    evicted before this reader saw them: reconcile from REST."""

    fills: tuple[FillMsg, ...]
    cursor: int
    missed: int


class FillLog:
    """Bounded, deduplicated fill log. Cursors count fills ever accepted (the n-th accepted fill has cursor n).

    Lock: ``_lock`` guards ``_fills``, ``_ids``, ``_id_order``, ``_total``, ``_drain_cursor`` and
    ``duplicates``. :meth:`add` is called by the writer (WebSocket thread, or a REST reconciler: dedupe makes
    both safe together); any thread may read with :meth:`since`; :meth:`drain` is for one designated consumer.
    """

    def __init__(self, max_fills: int = 10_000, max_ids: int | None = None) -> None:
        if max_fills < 1:
            raise ValueError(f"max_fills must be ≥ 1, got {max_fills}")
        max_ids = 10 * max_fills if max_ids is None else max_ids
        if max_ids < max_fills:
            raise ValueError(f"max_ids ({max_ids}) must be ≥ max_fills ({max_fills})")
        self._lock = threading.Lock()
        self._fills: deque[FillMsg] = deque(maxlen=max_fills)
        self._ids: set[str] = set()
        self._id_order: deque[str] = deque()
        self._max_ids = max_ids
        self._total = 0
        self._drain_cursor = 0
        self.duplicates = 0

    def add(self, fill: FillMsg) -> bool:
        """Append ``fill`` unless its fill id was seen; True if it was new."""
        fill_id = fill.trade_id
        with self._lock:
            if fill_id in self._ids:
                self.duplicates += 1
                return False
            self._ids.add(fill_id)
            self._id_order.append(fill_id)
            if len(self._id_order) > self._max_ids:
                self._ids.discard(self._id_order.popleft())
            self._fills.append(fill)
            self._total += 1
            return True

    def seen(self, fill_id: str) -> bool:
        with self._lock:
            return fill_id in self._ids

    def since(self, cursor: int = 0, ticker: str | None = None) -> FillBatch:
        """Fills accepted after ``cursor`` (0 = from the oldest kept), optionally for one market."""
        with self._lock:
            return self._since_locked(cursor, ticker)

    def drain(self) -> list[FillMsg]:
        """Fills not yet drained, oldest first (the designated consumer's own cursor; the log is unchanged)."""
        with self._lock:
            batch = self._since_locked(self._drain_cursor, None)
            self._drain_cursor = batch.cursor
            return list(batch.fills)

    @property
    def cursor(self) -> int:
        """The cursor of the newest fill (a reader starting now passes this to skip history)."""
        with self._lock:
            return self._total

    def __len__(self) -> int:
        with self._lock:
            return len(self._fills)

    def _since_locked(self, cursor: int, ticker: str | None) -> FillBatch:
        first_kept = self._total - len(self._fills) + 1  # cursor number of _fills[0]
        start = max(cursor + 1, first_kept)
        missed = start - (cursor + 1)
        fills = islice(self._fills, start - first_kept, None) if start <= self._total else ()
        picked = tuple(f for f in fills if ticker is None or f.market_ticker == ticker)
        return FillBatch(picked, self._total, missed)
