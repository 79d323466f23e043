"""DiscoveryProgress: a redrawn bar on a terminal, a bounded number of log lines otherwise."""

from __future__ import annotations

import io
import logging

import pytest

from kalshi_mm.modes.progress import DiscoveryProgress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def feed(progress: DiscoveryProgress) -> None:
    progress("fetch", 500, 500)
    for i in range(1, 501):
        progress("filter", i, 500)
    progress("metrics", 0, 0)
    progress.finish("500 markets")


def test_terminal_gets_a_bar_per_stage() -> None:
    stream = Tty()
    progress = DiscoveryProgress(stream)
    assert progress.interactive
    feed(progress)
    text = stream.getvalue()
    assert text.count("\n") == 3  # one finished line per stage
    assert "[" + "#" * 30 + "] 500/500 100%" in text


def test_pipe_gets_bounded_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    progress = DiscoveryProgress(stream)
    assert not progress.interactive
    with caplog.at_level(logging.INFO, logger="kalshi_mm.discovery.progress"):
        feed(progress)
    assert stream.getvalue() == ""
    filter_lines = [r for r in caplog.records if r.args and r.args[0] == "filter"]
    assert 10 <= len(filter_lines) <= 11  # about every tenth of the way, not 500 lines
    assert progress.updates == 502
