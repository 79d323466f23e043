"""The last WARNING/ERROR log records, kept in memory for ``/status`` and the dashboard.

:class:`RecentErrors` is a logging handler on the root logger holding at most ``capacity`` records, each
redacted with :func:`kalshi_mm.logs.redact` (private keys, signatures, registered secrets) before it is stored,
so nothing the endpoint serves can carry a secret. ``_lock`` guards ``_records``; ``emit`` runs on whichever
thread logged and only formats and appends.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from kalshi_mm.logs import redact

__all__ = ["LogEntry", "RecentErrors"]

# Characters of one message kept (a traceback's text is not kept: the log files have it).
MAX_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class LogEntry:
    ts: float  # the record's creation time (Unix s, from the logging module)
    level: str
    logger: str
    message: str


class RecentErrors(logging.Handler):
    """Bounded in-memory handler (module docstring). Attach with :meth:`install`, detach with :meth:`uninstall`."""

    def __init__(self, capacity: int = 20, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self._records: deque[LogEntry] = deque(maxlen=capacity)
        self._records_lock = threading.Lock()
        self.count = 0  # records seen since install (guarded by _records_lock)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format: keep the template, never the raw arguments
            message = f"{record.msg!s} (log arguments could not be formatted)"
        entry = LogEntry(record.created, record.levelname, record.name, redact(message)[:MAX_MESSAGE_CHARS])
        with self._records_lock:
            self._records.append(entry)
            self.count += 1

    def entries(self) -> list[LogEntry]:
        """Oldest first."""
        with self._records_lock:
            return list(self._records)

    def install(self, logger: logging.Logger | None = None) -> RecentErrors:
        (logger or logging.getLogger()).addHandler(self)
        return self

    def uninstall(self, logger: logging.Logger | None = None) -> None:
        (logger or logging.getLogger()).removeHandler(self)
