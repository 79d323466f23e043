"""The analytics writer thread: the only owner of the SQLite write connection.

Callers hand it :class:`WriteOp` objects through a ``queue.Queue`` and return at once. The thread groups
ops into batches and commits a batch when it reaches ``max_batch_rows`` ops, when the oldest op in it has
waited ``commit_interval_s`` (real seconds: this is disk cadence, not business time), or when a
:meth:`AnalyticsWriter.flush` marker arrives. A batch that fails is rolled back and replayed one op per
transaction, so a single bad row is logged and counted while the rest of its batch is stored. Nothing
here raises into a caller.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, Literal

from kalshi_mm.clock import LiveClock

__all__ = ["AnalyticsWriter", "Statement", "WriteOp", "WriterStats"]

log = logging.getLogger("kalshi_mm.analytics")

Params = Mapping[str, Any]
# What a statement changing no rows means: "ok" (nothing), "duplicate" (an idempotent insert met an
# existing key: skip the op's remaining statements), "unmatched" (an update found no row: counted).
OnNoChange = Literal["ok", "duplicate", "unmatched"]

# Failures are logged one by one up to this many, then every _LOG_EVERY-th, so a systematic bug cannot
# flood the log while every failure is still counted.
_LOG_FIRST = 100
_LOG_EVERY = 1000


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    params: Params
    on_no_change: OnNoChange = "ok"


@dataclass(frozen=True, slots=True)
class WriteOp:
    """One logical row (possibly several statements) written in one transaction, all or nothing."""

    what: str  # short label for logs, e.g. "order_fills.insert"
    statements: tuple[Statement, ...]

    def batchable_sql(self) -> str | None:
        """The SQL text when this op can share an ``executemany`` with neighbours of the same SQL."""
        if len(self.statements) == 1 and self.statements[0].on_no_change == "ok":
            return self.statements[0].sql
        return None


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters since open. ``written`` + ``failed`` + ops still queued == ``enqueued``."""

    enqueued: int  # ops accepted by the queue
    written: int  # ops committed (duplicates included: they completed without error)
    failed: int  # ops rejected by SQLite (constraint, type, I/O); logged at WARNING
    dropped: int  # ops refused before queueing: writer closed or queue full
    batches: int  # successful commits
    duplicates: int  # idempotent inserts that found their key already stored
    unmatched: int  # updates that found no row to change (e.g. cancelling an order never logged)


@dataclass(slots=True)
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)


class _Stop:
    """Queue marker: commit what is pending, then end the thread."""


class AnalyticsWriter:
    """Background thread owning the write connection to ``path``.

    Locks: ``_submit_lock`` guards ``_closed``, ``_enqueued`` and ``_dropped`` (so no op can be queued
    behind the stop marker); ``_stats_lock`` guards ``_written``, ``_failed``, ``_batches``,
    ``_duplicates`` and ``_unmatched``. The connection and ``_pending`` belong to the thread alone.
    """

    def __init__(
        self,
        path: Path,
        *,
        commit_interval_s: float,
        max_batch_rows: int,
        max_queue_rows: int,
    ) -> None:
        if commit_interval_s <= 0:
            raise ValueError(f"commit_interval_s must be positive, got {commit_interval_s!r}")
        if max_batch_rows < 1 or max_queue_rows < 1:
            raise ValueError("max_batch_rows and max_queue_rows must be at least 1")
        self._path = path
        self._commit_interval_s = commit_interval_s
        self._max_batch_rows = max_batch_rows
        self._max_queue_rows = max_queue_rows
        # Unbounded so flush/stop markers never block; ops are bounded by the qsize check in submit().
        self._queue: queue.Queue[WriteOp | _Flush | _Stop] = queue.Queue()
        self._submit_lock = threading.Lock()
        self._closed = False
        self._enqueued = 0
        self._dropped = 0
        self._stats_lock = threading.Lock()
        self._written = 0
        self._failed = 0
        self._batches = 0
        self._duplicates = 0
        self._unmatched = 0
        self._pending: list[WriteOp] = []
        # Real elapsed time for the commit cadence only (an injected SimClock may stand still).
        self._io_clock = LiveClock()
        self._thread = threading.Thread(target=self._run, name="analytics-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # ---- caller side -------------------------------------------------------------------------------

    def submit(self, op: WriteOp) -> bool:
        """Queue ``op``; False (and counted as dropped) when closed or the queue is full. Never raises."""
        with self._submit_lock:
            if self._closed or self._queue.qsize() >= self._max_queue_rows:
                self._dropped += 1
                dropped, closed = self._dropped, self._closed
            else:
                self._queue.put_nowait(op)
                self._enqueued += 1
                return True
        if dropped <= _LOG_FIRST or dropped % _LOG_EVERY == 0:
            reason = "writer is closed" if closed else f"queue holds {self._max_queue_rows} ops"
            log.warning("analytics: dropped %s (%s; %d dropped so far)", op.what, reason, dropped)
        return False

    def flush(self, timeout_s: float | None = None) -> bool:
        """Block until every op queued before this call is committed (or failed); False on timeout."""
        marker = _Flush()
        with self._submit_lock:
            if self._closed:
                return True  # stop() already committed everything
            self._queue.put_nowait(marker)
        deadline = None if timeout_s is None else self._io_clock.monotonic() + timeout_s
        # Poll so a writer thread that died cannot hang the caller forever.
        while not marker.done.wait(0.05):
            if not self._thread.is_alive():
                return marker.done.is_set()
            if deadline is not None and self._io_clock.monotonic() >= deadline:
                return False
        return True

    def stop(self, timeout_s: float | None = None) -> bool:
        """Commit everything queued, stop the thread and close the connection. Idempotent.

        Returns False if the thread is still writing after ``timeout_s`` real seconds (it keeps going).
        """
        with self._submit_lock:
            already = self._closed
            self._closed = True
            if not already:
                self._queue.put_nowait(_Stop())
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def stats(self) -> WriterStats:
        with self._submit_lock:
            enqueued, dropped = self._enqueued, self._dropped
        with self._stats_lock:
            return WriterStats(
                enqueued=enqueued,
                written=self._written,
                failed=self._failed,
                dropped=dropped,
                batches=self._batches,
                duplicates=self._duplicates,
                unmatched=self._unmatched,
            )

    # ---- writer thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = _connect(self._path)
        except sqlite3.Error:
            log.exception("analytics: writer cannot open %s; every queued row will be counted failed", self._path)
            conn = None
        try:
            self._loop(conn)
        finally:
            if conn is not None:
                conn.close()

    def _loop(self, conn: sqlite3.Connection | None) -> None:
        deadline = 0.0  # real monotonic time by which _pending must be committed
        while True:
            timeout = None
            if self._pending:
                timeout = max(0.0, deadline - self._io_clock.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._commit(conn)
                continue
            if isinstance(item, WriteOp):
                if not self._pending:
                    deadline = self._io_clock.monotonic() + self._commit_interval_s
                self._pending.append(item)
                # The clock check matters under a steady trickle that never lets get() time out.
                if len(self._pending) >= self._max_batch_rows or self._io_clock.monotonic() >= deadline:
                    self._commit(conn)
            elif isinstance(item, _Flush):
                self._commit(conn)
                item.done.set()
            else:
                self._commit(conn)
                return

    def _commit(self, conn: sqlite3.Connection | None) -> None:
        """Write ``_pending`` in one transaction; on any error replay it op by op."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        if conn is None:
            self._record_failures(batch, "no database connection")
            return
        duplicates = unmatched = 0
        try:
            conn.execute("BEGIN")
            for sql, group in groupby(batch, key=WriteOp.batchable_sql):
                if sql is not None:
                    conn.executemany(sql, (op.statements[0].params for op in group))
                else:
                    for op in group:
                        dup, unm = _execute_op(conn, op)
                        duplicates += dup
                        unmatched += unm
            conn.execute("COMMIT")
        except Exception as exc:  # any failure (constraint, bad type, I/O) falls back to one-by-one
            _rollback(conn)
            log.debug("analytics: batch of %d failed (%s); replaying row by row", len(batch), exc)
            self._replay(conn, batch)
            return
        with self._stats_lock:
            self._written += len(batch)
            self._batches += 1
            self._duplicates += duplicates
            self._unmatched += unmatched

    def _replay(self, conn: sqlite3.Connection, batch: Sequence[WriteOp]) -> None:
        for op in batch:
            try:
                conn.execute("BEGIN")
                duplicates, unmatched = _execute_op(conn, op)
                conn.execute("COMMIT")
            except Exception as exc:
                _rollback(conn)
                self._record_failures([op], f"{type(exc).__name__}: {exc}")
                continue
            with self._stats_lock:
                self._written += 1
                self._batches += 1
                self._duplicates += duplicates
                self._unmatched += unmatched

    def _record_failures(self, ops: Sequence[WriteOp], reason: str) -> None:
        for op in ops:
            with self._stats_lock:
                self._failed += 1
                failed = self._failed
            if failed <= _LOG_FIRST or failed % _LOG_EVERY == 0:
                log.warning(
                    "analytics: failed to write %s: %s; params=%s (%d failed so far)",
                    op.what,
                    reason,
                    _short(op.statements[0].params if op.statements else {}),
                    failed,
                )


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: the writer issues BEGIN/COMMIT itself, so a batch is exactly one transaction.
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives a process crash; only an OS crash may lose the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _execute_op(conn: sqlite3.Connection, op: WriteOp) -> tuple[int, int]:
    """Run ``op``'s statements; return (duplicates, unmatched) counts for it."""
    unmatched = 0
    for statement in op.statements:
        changed = conn.execute(statement.sql, statement.params).rowcount
        if changed == 0 and statement.on_no_change == "duplicate":
            return 1, unmatched
        if changed == 0 and statement.on_no_change == "unmatched":
            log.info("analytics: %s matched no row (params=%s)", op.what, _short(statement.params))
            unmatched += 1
    return 0, unmatched


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("analytics: ROLLBACK failed")


def _short(params: Params, limit: int = 300) -> str:
    text = repr(dict(params))
    return text if len(text) <= limit else text[:limit] + "..."
