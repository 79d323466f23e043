"""Clock: SimClock manual/scaled/auto-advance behaviour, LiveClock sanity, and the ruff ban on wall-clock reads."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from datetime import UTC
from pathlib import Path

import pytest

from kalshi_mm.clock import Clock, ClockError, LiveClock, SimClock

ROOT = Path(__file__).resolve().parents[2]


def test_manual_clock_moves_only_when_advanced() -> None:
    clock = SimClock(start=1000.0)
    assert clock.time() == 1000.0 and clock.time() == 1000.0
    clock.advance(2.5)
    assert clock.time() == 1002.5
    assert clock.time_ms() == 1_002_500
    assert clock.now().tzinfo is UTC and clock.now().timestamp() == 1002.5
    with pytest.raises(ClockError):
        clock.advance(-1)
    with pytest.raises(ClockError):
        clock.set_time(1000.0)
    clock.set_time(2000.0)
    assert clock.monotonic() == 2000.0


def test_manual_wait_blocks_until_another_thread_advances() -> None:
    clock = SimClock(start=0.0)
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(clock.wait(10.0)))
    waiter.start()
    clock.advance(5.0)
    waiter.join(timeout=0.2)
    assert waiter.is_alive(), "wait returned before its deadline"
    clock.advance(5.0)
    waiter.join(timeout=5)
    assert not waiter.is_alive() and result == [False]


def test_manual_wait_is_interrupted_by_stop_event() -> None:
    clock = SimClock(start=0.0)
    stop = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(clock.wait(3600.0, stop)))
    waiter.start()
    stop.set()
    waiter.join(timeout=5)
    assert result == [True]
    assert clock.time() == 0.0


def test_auto_advance_runs_a_single_threaded_loop_instantly() -> None:
    clock = SimClock(start=0.0, auto_advance=True)
    for _ in range(1000):
        assert clock.wait(3.0) is False
    assert clock.time() == 3000.0


def test_scaled_clock_runs_faster_than_real_time() -> None:
    clock = SimClock(start=0.0, scale=1000.0)
    real = LiveClock()
    r0 = real.monotonic()
    clock.wait(2.0)  # two simulated seconds = 2 ms real
    elapsed_real = real.monotonic() - r0
    assert clock.time() >= 2.0
    assert elapsed_real < 1.0
    with pytest.raises(ClockError):
        SimClock(scale=0)


def test_live_clock_satisfies_protocol_and_is_interruptible() -> None:
    clock = LiveClock()
    assert isinstance(clock, Clock) and isinstance(SimClock(), Clock)
    stop = threading.Event()
    stop.set()
    t0 = clock.monotonic()
    assert clock.wait(30.0, stop) is True
    assert clock.monotonic() - t0 < 1.0
    assert abs(clock.time() - clock.now().timestamp()) < 1.0


def _ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "ruff"]


def test_ruff_bans_wall_clock_reads_outside_clock_module(tmp_path: Path) -> None:
    # Copy the deliberate violation into the package tree's config scope, but outside clock.py.
    target = tmp_path / "violation.py"
    target.write_text((ROOT / "tests/fixtures/ruff_banned/violation.py").read_text())
    proc = subprocess.run(
        [
            *_ruff(),
            "check",
            "--no-cache",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--select",
            "TID251",
            "--output-format",
            "concise",
            str(target),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for banned in ("time.time", "time.monotonic", "datetime.datetime.now", "datetime.datetime.utcnow"):
        assert f"`{banned}` is banned" in proc.stdout, proc.stdout
    assert proc.stdout.count("TID251") == 4


def test_clock_module_itself_is_allowed() -> None:
    proc = subprocess.run(
        [*_ruff(), "check", "--no-cache", "--select", "TID251", "kalshi_mm/clock.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout
