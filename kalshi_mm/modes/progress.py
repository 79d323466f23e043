"""Discovery progress: markets fetched / filtered / scored, as a bar on a terminal or as plain log lines.

:class:`DiscoveryProgress` is the ``progress`` callback handed to ``MarketDiscovery`` (and called by the mode
for the scoring and config stages). On a terminal (``stream.isatty()``) it redraws one line per stage with a
carriage return; otherwise (a service, a pipe, a test) it logs a line when a stage starts, about every tenth
of the way, and when it completes, so logs stay readable and bounded whatever the market count.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["DiscoveryProgress"]

log = logging.getLogger("kalshi_mm.discovery.progress")

BAR_WIDTH = 30
# Without a known total, a log line every this many items.
UNBOUNDED_LOG_EVERY = 1000


class DiscoveryProgress:
    """Progress reporter; call it as ``progress(stage, done, total)`` (``total`` None when unknown)."""

    def __init__(self, stream: TextIO | None = None, *, interactive: bool | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        if interactive is None:
            isatty = getattr(self._stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self._stage: str | None = None
        self._last_bucket = -1
        self.updates = 0  # calls received (for tests and the summary line)

    def __call__(self, stage: str, done: int, total: int | None = None) -> None:
        self.updates += 1
        if stage != self._stage:
            self._end_line()
            self._stage, self._last_bucket = stage, -1
        if self.interactive:
            self._draw(stage, done, total)
        else:
            self._log(stage, done, total)

    def finish(self, summary: str) -> None:
        """End the current bar (if any) and log the one-line summary of the discovery run."""
        self._end_line()
        self._stage = None
        log.info("discovery: %s", summary)

    # --- terminal ---------------------------------------------------------------------------------------------

    def _draw(self, stage: str, done: int, total: int | None) -> None:
        if total:
            frac = min(1.0, max(0.0, done / total))
            filled = round(frac * BAR_WIDTH)
            line = f"\r{stage:<10} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} {frac:4.0%}"
        else:
            line = f"\r{stage:<10} {done} markets"
        self._stream.write(line)
        self._stream.flush()

    def _end_line(self) -> None:
        if self.interactive and self._stage is not None:
            self._stream.write("\n")
            self._stream.flush()

    # --- log lines --------------------------------------------------------------------------------------------

    def _log(self, stage: str, done: int, total: int | None) -> None:
        bucket = min(10, done * 10 // total) if total else done // UNBOUNDED_LOG_EVERY
        if bucket == self._last_bucket:
            return
        self._last_bucket = bucket
        shown = f"{done}/{total}" if total else str(done)
        log.info("discovery %s: %s markets", stage, shown)
