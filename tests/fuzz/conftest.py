"""The fuzz suite's session-wide case counter and the terminal summary it prints (cases run per target and how
many of them were rejected with our typed error). Every test module here sets ``pytestmark = pytest.mark.fuzz``.

Under pytest-xdist each worker counts its own cases and hands them to the controller when it finishes, so the
summary covers the whole run (when the controller loads this conftest, i.e. ``pytest -n N tests/fuzz``).
"""

from __future__ import annotations

from typing import Any

import pytest

from .fuzz_support import PROFILE, FuzzStats

_STATS = FuzzStats()
_KEY = "kalshi_mm_fuzz_stats"


@pytest.fixture(scope="session")
def fuzz_stats() -> FuzzStats:
    return _STATS


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)  # set on xdist workers only
    if output is not None:
        output[_KEY] = (dict(_STATS.cases), dict(_STATS.rejected))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    cases, rejected = getattr(node, "workeroutput", {}).get(_KEY, ({}, {}))
    for target, n in cases.items():
        _STATS.case(target, n=n - rejected.get(target, 0))
        _STATS.case(target, rejected=True, n=rejected.get(target, 0))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _STATS.cases:
        return
    terminalreporter.section(f"fuzz summary (Hypothesis profile {PROFILE!r})")
    for line in _STATS.lines():
        terminalreporter.write_line(line)
