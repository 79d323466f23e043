"""The chaos suite (issue #9): the real daemon against the embedded exchange with injected faults.

Tests marked ``chaos`` run a profile chosen by the environment variable ``CHAOS_PROFILE``: ``short`` (the default,
about two minutes, run by CI) or ``long`` (``make chaos``, 15-20 minutes; its fault counts go in the release
note). ``pytest -m "not chaos"`` leaves them out.
"""

from __future__ import annotations

import os

import pytest

from kalshi_mm.testing.chaos import PROFILES, ChaosProfile, profile_named

PROFILE_ENV = "CHAOS_PROFILE"


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
