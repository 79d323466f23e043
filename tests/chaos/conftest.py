"""The chaos suite (issue #9): the real daemon against the embedded exchange with injected faults.

Tests marked ``chaos`` run a profile chosen by the environment variable ``CHAOS_PROFILE``: ``short`` (the default,
about two minutes, run by CI) or ``long`` (``make chaos``, 15-20 minutes; its fault counts go in the release
note). ``pytest -m "not chaos"`` leaves them out. A run's files (the daemon's database, logs and captured output,
the exchange's output) go to pytest's temporary directory, or to a new directory under ``$CHAOS_WORKDIR`` when set
(``make chaos`` keeps them under ``data/chaos``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from kalshi_mm.testing.chaos import PROFILES, ChaosProfile, profile_named

PROFILE_ENV = "CHAOS_PROFILE"
WORKDIR_ENV = "CHAOS_WORKDIR"


@pytest.fixture(scope="session")
def chaos_profile() -> ChaosProfile:
    """The profile named by ``$CHAOS_PROFILE`` (default ``short``); a bad name stops the run naming the options."""
    name = os.environ.get(PROFILE_ENV, "short").strip() or "short"
    try:
        return profile_named(name)
    except ValueError:
        raise pytest.UsageError(
            f"{PROFILE_ENV}={name!r} is not a chaos profile; use one of: {', '.join(sorted(PROFILES))}"
        ) from None


@pytest.fixture
def chaos_workdir(chaos_profile: ChaosProfile, tmp_path: Path) -> Path:
    """Where the run's files go: a fresh directory under ``$CHAOS_WORKDIR`` (kept), else ``tmp_path``."""
    root = os.environ.get(WORKDIR_ENV, "").strip()
    if not root:
        return tmp_path
    Path(root).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{chaos_profile.name}-", dir=root)).resolve()
