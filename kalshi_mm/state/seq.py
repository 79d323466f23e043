"""Per-subscription sequence checking for Kalshi's sequenced WebSocket channels (pure, no I/O, no clock).

Kalshi numbers the messages of each subscription (``sid``) 1, 2, 3, ... across all its markets, snapshot
included (NOTES §7.3). A gap means a lost message: the books of that sid are stale until resnapshotted. A
number at or below the last one seen is a duplicate (or arrived out of order after a gap was already
declared) and must be dropped, never applied twice.

Only channel messages are observed; the ``seq`` on ``ok``/``unsubscribed``/``error`` replies is the sid's
last number, not a new one, and feeding it here would make the next real message look like a duplicate.

Not thread-safe: it belongs to the WebSocket thread, the only reader of the stream.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = ["SeqCheck", "SeqStatus", "SeqTracker"]


class SeqStatus(enum.Enum):
    OK = "ok"  # the expected next number (or the first seen on an unannounced sid)
    GAP = "gap"  # numbers were skipped: mark the sid's books stale, resnapshot; the message itself is usable
    DUPLICATE = "duplicate"  # at or below the last accepted number: drop the message


class SeqCheck(NamedTuple):
    status: SeqStatus
    sid: int
    expected: int | None  # the number that was due (None on the first message of an unannounced sid)
    got: int

    @property
    def ok(self) -> bool:
        return self.status is SeqStatus.OK

    @property
    def gap(self) -> bool:
        return self.status is SeqStatus.GAP

    @property
    def duplicate(self) -> bool:
        return self.status is SeqStatus.DUPLICATE

    @property
    def missed(self) -> int:
        """How many numbers were skipped (0 unless a gap)."""
        return self.got - self.expected if self.status is SeqStatus.GAP and self.expected is not None else 0


class SeqTracker:
    """Tracks the next expected ``seq`` per ``sid``.

    Call :meth:`start` when a subscription is confirmed (``subscribed``): its first message must then be 1.
    A sid never started takes its first observed number as the baseline, because a tracker created mid-stream
    cannot know what came before (the store still refuses deltas for a book it has no snapshot of).
    :meth:`forget` on ``unsubscribed`` or a terminal error; resubscribing gives a new sid anyway.
    """

    __slots__ = ("_next", "duplicates", "gaps")

    def __init__(self) -> None:
        self._next: dict[int, int] = {}
        self.gaps = 0
        self.duplicates = 0

    def start(self, sid: int, first_seq: int = 1) -> None:
        """Expect ``first_seq`` next on ``sid`` (a new or re-established subscription)."""
        self._next[sid] = first_seq

    def forget(self, sid: int) -> None:
        self._next.pop(sid, None)

    def reset(self) -> None:
        """Forget every sid (a new connection: Kalshi's sids do not survive a reconnect)."""
        self._next.clear()

    def expected(self, sid: int) -> int | None:
        """The next number due on ``sid`` (None if unknown or not yet baselined)."""
        return self._next.get(sid)

    def observe(self, sid: int, seq: int) -> SeqCheck:
        """Check one channel message's ``seq``; the tracker advances on OK and GAP, not on DUPLICATE."""
        expected = self._next.get(sid)
        if expected is None or seq == expected:
            self._next[sid] = seq + 1
            return SeqCheck(SeqStatus.OK, sid, expected, seq)
        if seq > expected:
            self._next[sid] = seq + 1
            self.gaps += 1
            return SeqCheck(SeqStatus.GAP, sid, expected, seq)
        self.duplicates += 1
        return SeqCheck(SeqStatus.DUPLICATE, sid, expected, seq)
