"""Chaos harness: the real daemon (``runner.py``) against the standalone embedded exchange with injected faults.

:func:`run_chaos` starts ``python -m kalshi_mm.sim`` as a subprocess (a scenario whose quotes the daemon leads, so
it trades within seconds), switches on the profile's steady faults through ``POST /admin/faults`` (5xx, dropped
create responses, WebSocket disconnects, dropped / duplicated / reordered WebSocket messages), and runs the daemon
in discovery mode on one database: ``kills`` times for a random lifetime followed by SIGKILL and a restart, then
once more ending with a clean SIGTERM. Meanwhile a :class:`FaultDriver` thread fires 429 bursts at a fixed cadence
and full exchange pauses at planned moments. Afterwards the exchange's own records (``GET /admin/ledger``) are
checked against the database (:mod:`kalshi_mm.testing.chaos_checks`) and the fault counts are read from
``GET /admin/faults``. A daemon that exits on its own is restarted like a supervisor would; dying of an uncaught
exception counts as a violation (``daemon_crash``), a logged fatal exit is reported (:class:`DaemonSupervisor`).

Profiles: ``short`` (CI: about two minutes on two slow cores) and ``long`` (``make chaos``: 15-20 minutes, enough
for the goals of issue #9: ≥ 100 WebSocket disconnects, ≥ 500 429s, ≥ 100 5xx, ≥ 50 dropped create responses,
≥ 10 SIGKILL restarts). Everything the daemon writes (database, logs, captured stdout/stderr) lands in
``<workdir>/daemon``; the exchange's files (with the account's private key, and at the end ``ledger.json``,
``faults.json``, ``traffic.json``) in ``<workdir>/exchange``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests
import yaml

from kalshi_mm.clock import Clock, LiveClock
from kalshi_mm.testing.chaos_checks import CheckReport, Violation, check_run, format_table, read_db_records

__all__ = [
    "PROFILES",
    "ChaosProfile",
    "ChaosResult",
    "DaemonSupervisor",
    "ExchangeProcess",
    "FaultDriver",
    "daemon_config",
    "profile_named",
    "run_chaos",
]

log = logging.getLogger("kalshi_mm.testing.chaos")

ROOT = Path(__file__).resolve().parents[2]
USER = "chaos-trader"
ADMIN_TIMEOUT_S = 10.0
EXCHANGE_START_TIMEOUT_S = 60.0
SHUTDOWN_TIMEOUT_S = 90.0  # a clean SIGTERM under faults: sessions stop, sweep, database flush
POLL_S = 0.5
MIN_UPTIME_S = 15.0  # a daemon restarted after exiting on its own runs at least this long
FAULTS_OFF: dict[str, Any] = {
    "rest_latency_ms": 0,
    "rest_429_burst": 0,
    "rest_5xx_rate": 0.0,
    "drop_create_response_rate": 0.0,
    "ws_disconnect_every_s": None,
    "ws_drop_rate": 0.0,
    "ws_duplicate_rate": 0.0,
    "ws_reorder_rate": 0.0,
    "exchange_paused": False,
}

# The default market with wider liquidity-provider quotes and brisk small noise flow: the daemon's quotes lead the
# book, so noise takers fill them within seconds and every fault meets live orders and fills.
SCENARIO_YAML = """\
extends: default
name: chaos
description: wide liquidity-provider quotes and brisk small noise flow, so the daemon's quotes lead and fill
liquidity:
  deep: {lp_half_spread_cents: 3, noise_rate_per_min: 60, noise_size_contracts: [1, 5]}
  normal: {lp_half_spread_cents: 3, noise_rate_per_min: 60, noise_size_contracts: [1, 5]}
"""


@dataclass(frozen=True)
class ChaosProfile:
    """One chaos run's plan. Seconds of real time; fault settings are :class:`kalshi_mm.sim.faults.FaultConfig`
    keys; ``goals`` are the minimum counts of each fault kind (see :meth:`ChaosResult.injected`) a run must reach
    for its result to mean anything."""

    name: str
    seed: int
    kills: int  # SIGKILL + restart cycles before the final run
    segment_s: tuple[float, float]  # a killed daemon's lifetime, drawn uniformly from this range
    final_s: float  # the last daemon's lifetime before the clean SIGTERM
    faults: Mapping[str, Any]  # steady faults, in force from the exchange's start to the end
    burst_every_s: float  # a rest_429_burst every this many seconds ...
    burst_size: int  # ... of this many requests
    pauses: int  # full exchange pauses, spread over the killed daemons' lifetimes
    pause_s: float
    goals: Mapping[str, int] = field(default_factory=dict)
    early_kills: int = 0  # of the kills, this many land during start-up and recovery instead ...
    early_kill_s: tuple[float, float] = (1.5, 8.0)  # ... this long after the daemon was started


PROFILES: dict[str, ChaosProfile] = {
    "short": ChaosProfile(
        name="short",
        seed=1,
        kills=2,
        segment_s=(25.0, 40.0),
        final_s=40.0,
        faults={
            "rest_5xx_rate": 0.04,
            "drop_create_response_rate": 0.2,
            "ws_disconnect_every_s": 8.0,
            "ws_drop_rate": 0.02,
            "ws_duplicate_rate": 0.02,
            "ws_reorder_rate": 0.02,
        },
        burst_every_s=10.0,
        burst_size=5,
        pauses=1,
        pause_s=4.0,
        goals={
            "ws_disconnect": 5,
            "rest_429": 20,
            "rest_5xx": 5,
            "dropped_create_response": 2,
            "ws_dropped": 5,
            "ws_duplicated": 5,
            "ws_reordered": 5,
            "exchange_pause": 1,
            "sigkill_restart": 2,
        },
    ),
    "long": ChaosProfile(
        name="long",
        seed=7,
        kills=14,
        segment_s=(45.0, 90.0),
        final_s=90.0,
        faults={
            "rest_5xx_rate": 0.05,
            "drop_create_response_rate": 0.35,
            "ws_disconnect_every_s": 6.0,
            "ws_drop_rate": 0.02,
            "ws_duplicate_rate": 0.02,
            "ws_reorder_rate": 0.02,
        },
        burst_every_s=10.0,
        burst_size=8,
        pauses=4,
        pause_s=5.0,
        early_kills=3,
        goals={
            "ws_disconnect": 100,
            "rest_429": 500,
            "rest_5xx": 100,
            "dropped_create_response": 50,
            "ws_dropped": 50,
            "ws_duplicated": 50,
            "ws_reordered": 50,
            "exchange_pause": 4,
            "sigkill_restart": 10,
        },
    ),
}


def profile_named(name: str) -> ChaosProfile:
    """The profile called ``name``; ValueError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown chaos profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None


def daemon_config(daemon_dir: Path) -> dict[str, Any]:
    """The daemon's config: discovery mode (it quotes within seconds of starting), small explicit position limits
    (per-market cap $2: at most a few contracts per market), the WebSocket feed, no ops port (restarts must not
    collide on it), a frequent drift check. Everything else is config.yaml's default."""
    return {
        "mode": "discovery",
        "analytics": {"db_path": str(daemon_dir / "chaos.db")},
        "logging": {"level": "INFO", "log_dir": str(daemon_dir / "logs")},
        "discovery": {"max_markets_to_trade": 8},
        "risk": {"per_market_cap": 2, "global_risk_budget": 20},
        "websockets": {"enabled": True},
        "ops_http": {"enabled": False},
        "recovery": {"drift_check_interval_seconds": 10},
    }


def _child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """A clean environment: no KALSHI_* or webhook variables of the caller, the project importable."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def _read_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


class ExchangeProcess:
    """``python -m kalshi_mm.sim`` in a subprocess, and a client of its admin endpoints."""

    def __init__(self, directory: Path, *, seed: int, user: str = USER, clock: Clock | None = None):
        self.directory = directory
        self.seed = seed
        self.user = user
        self._clock = clock or LiveClock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._files: list[IO[bytes]] = []
        self.env: dict[str, str] = {}  # sim.env: KALSHI_ACCESS_KEY, KALSHI_PRIVATE_KEY (a path), URLs

    def start(self) -> ExchangeProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        scenario = self.directory / "chaos_scenario.yaml"
        scenario.write_text(SCENARIO_YAML)
        credentials = self.directory / "credentials"
        args = [sys.executable, "-m", "kalshi_mm.sim", "--port", "0", "--ws-port", "0", "--seed", str(self.seed),
                "--scenario", str(scenario), "--user", self.user, "--credentials-out", str(credentials)]  # fmt: skip
        out, err = (open(self.directory / name, "wb") for name in ("exchange.out", "exchange.err"))  # noqa: SIM115
        self._files = [out, err]
        self._proc = subprocess.Popen(args, cwd=ROOT, env=_child_env({}), stdout=out, stderr=err)
        # The URLs are printed after sim.env is written: once they are out, the file is complete.
        printed = self.directory / "exchange.out"
        deadline = self._clock.monotonic() + EXCHANGE_START_TIMEOUT_S
        while "KALSHI_WS_URL=" not in printed.read_text(errors="replace"):
            if self._proc.poll() is not None or self._clock.monotonic() > deadline:
                self.stop()
                detail = (self.directory / "exchange.err").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the embedded exchange did not start: {detail}")
            self._clock.wait(0.1)
        self.env = _read_env_file(credentials / "sim.env")
        return self

    @property
    def admin_url(self) -> str:
        return self.env["KALSHI_BASE_URL"].removesuffix("/trade-api/v2")

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        # No shared requests.Session: the fault driver's thread and the caller's may both call.
        response = requests.request(method, self.admin_url + path, timeout=ADMIN_TIMEOUT_S, **kwargs)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json()

    def faults(self) -> dict[str, Any]:
        """``{"config": {...}, "injected": {fault: count}}``."""
        return self._call("GET", "/admin/faults")

    def set_faults(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/admin/faults", json=dict(changes))

    def traffic(self) -> dict[str, Any]:
        return self._call("GET", "/admin/traffic")

    def ledger(self) -> dict[str, Any]:
        """The exchange's records of the account (kalshi_mm.sim.admin.account_ledger)."""
        return self._call("GET", "/admin/ledger", params={"user": self.user})

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for f in self._files:
            f.close()

    def __enter__(self) -> ExchangeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FaultDriver:
    """The time-varying faults, from its own thread: a ``rest_429_burst`` every ``burst_every_s`` and full
    exchange pauses of ``pause_s`` starting ``pause_starts_s`` after :meth:`start`. :meth:`stop` lifts a pause in
    force. ``errors`` counts admin calls that failed (the run goes on)."""

    def __init__(self, exchange: ExchangeProcess, profile: ChaosProfile, pause_starts_s: list[float], clock: Clock):
        self._exchange, self._profile, self._clock = exchange, profile, clock
        self._pause_starts = sorted(pause_starts_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-faults", daemon=True)
        self.bursts = 0
        self.errors = 0
        self._paused = False  # owned by the driver thread until stop() joins it

    def start(self) -> FaultDriver:
        self._thread.start()
        return self

    def _set(self, changes: dict[str, Any]) -> bool:
        try:
            self._exchange.set_faults(changes)
            return True
        except (requests.RequestException, RuntimeError) as exc:
            self.errors += 1
            log.warning("chaos: setting faults %s failed: %s", changes, exc)
            return False

    def _run(self) -> None:
        start = self._clock.monotonic()
        next_burst = start + self._profile.burst_every_s
        pending = list(self._pause_starts)
        paused_until = 0.0
        while not self._clock.wait(0.25, self._stop):
            now = self._clock.monotonic()
            if now >= next_burst:
                if self._set({"rest_429_burst": self._profile.burst_size}):
                    self.bursts += 1
                next_burst += self._profile.burst_every_s
            if not self._paused and pending and now - start >= pending[0]:
                pending.pop(0)
                if self._set({"exchange_paused": True}):
                    self._paused, paused_until = True, now + self._profile.pause_s
            if self._paused and now >= paused_until and self._set({"exchange_paused": False}):
                self._paused = False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=ADMIN_TIMEOUT_S * 2)
        if self._paused:
            self._set({"exchange_paused": False})
            self._paused = False


class DaemonSupervisor:
    """Runs ``runner.py`` incarnations one after the other on one config (and so one database), like a process
    supervisor: an incarnation that exits on its own is restarted and recorded, in ``crashes`` when it died of an
    uncaught exception (a traceback on stderr: a bug), else in ``fatal_exits`` (a logged fatal error, e.g. the
    start-up recovery could not read the exchange through a burst of faults)."""

    def __init__(
        self, config: Path, env: Mapping[str, str], directory: Path, clock: Clock, echo: Callable[[str], None]
    ):
        self._config, self._env, self._dir, self._clock, self._echo = config, dict(env), directory, clock, echo
        self._proc: subprocess.Popen[bytes] | None = None
        self._files: list[IO[bytes]] = []
        self.incarnations = 0
        self.kills = 0
        self.crashes: list[str] = []
        self.fatal_exits: list[str] = []

    def _start(self) -> None:
        self.incarnations += 1
        n = self.incarnations
        out, err = (open(self._dir / f"daemon-{n}.{ext}", "wb") for ext in ("out", "err"))  # noqa: SIM115
        self._files += [out, err]
        args = [sys.executable, str(ROOT / "runner.py"), "--config", str(self._config)]
        # cwd: the daemon's own directory, so no stray .env of the checkout is read.
        self._proc = subprocess.Popen(args, cwd=self._dir, env=_child_env(self._env), stdout=out, stderr=err)

    def _exited(self, code: int) -> None:
        n = self.incarnations
        lines = (self._dir / f"daemon-{n}.err").read_text(errors="replace").splitlines()
        crashed = any(line.startswith("Traceback (most recent call last)") for line in lines)
        errors = [line for line in lines if " ERROR " in line or " CRITICAL " in line]
        last = (lines[-3:] if crashed else errors[-2:]) or lines[-2:]
        what = f"incarnation {n} exited with {code}: " + " | ".join(line[-300:] for line in last)
        (self.crashes if crashed else self.fatal_exits).append(what)
        self._echo(f"chaos: daemon {what}; restarting")

    def run_for(self, seconds: float) -> None:
        """Keep a daemon running for ``seconds`` (starting one if none runs)."""
        if self._proc is None:
            self._start()
        deadline = self._clock.monotonic() + seconds
        while self._clock.monotonic() < deadline:
            self._clock.wait(min(POLL_S, max(0.0, deadline - self._clock.monotonic())))
            assert self._proc is not None
            code = self._proc.poll()
            if code is not None:
                self._exited(code)
                self._start()
                # The replacement gets time to start up, so a planned SIGTERM never lands before its signal
                # handlers exist (Python's default would end it without a shutdown: a harness artefact).
                deadline = max(deadline, self._clock.monotonic() + MIN_UPTIME_S)

    def kill(self) -> None:
        """SIGKILL the running daemon (no shutdown path runs at all)."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait()
        self._proc = None
        self.kills += 1

    def terminate(self, timeout_s: float) -> int | None:
        """SIGTERM (a clean shutdown) and its exit status; None when it did not exit in time (then killed)."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            code = None
        self._proc = None
        for f in self._files:
            f.close()
        return code

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
        for f in self._files:
            if not f.closed:
                f.close()


@dataclass
class ChaosResult:
    """A finished run: faults injected (:attr:`injected`), the invariant checks, how the daemon ended."""

    profile: ChaosProfile
    injected: dict[str, int]
    report: CheckReport
    final_exit_code: int | None
    crashes: list[str]  # daemons that died of an uncaught exception (violations)
    fatal_exits: list[str]  # daemons that stopped on a logged fatal error and were restarted (reported)
    daemon_seconds: float
    wall_s: float
    daemon_dir: Path
    traffic: dict[str, Any]

    @property
    def violations(self) -> list[Violation]:
        """The invariant violations, plus an unclean final shutdown and daemons that crashed."""
        out = list(self.report.violations)
        if self.final_exit_code != 0:
            out.append(
                Violation("unclean_shutdown", f"the final SIGTERM ended with exit status {self.final_exit_code}")
            )
        out += [Violation("daemon_crash", what) for what in self.crashes]
        return out

    def shortfalls(self) -> dict[str, tuple[int, int]]:
        """Fault kinds injected fewer times than the profile's goal: kind -> (injected, goal)."""
        return {
            k: (self.injected.get(k, 0), goal)
            for k, goal in self.profile.goals.items()
            if self.injected.get(k, 0) < goal
        }

    def summary(self) -> str:
        """The printed report: faults injected (and survived when there is no violation), violations, figures."""
        survived = not self.violations
        faults = [
            (kind, f"{n}" + (f" (goal {self.profile.goals[kind]})" if kind in self.profile.goals else ""))
            for kind, n in sorted(self.injected.items())
        ]
        invariants = ["duplicate_client_order_id", "duplicate_resting_order", "fill_missing_in_db",
                      "fill_duplicated_in_db", "fill_not_on_exchange", "fill_differs", "position_mismatch",
                      "position_over_max", "position_replay", "resting_after_shutdown", "unclean_shutdown",
                      "daemon_crash"]  # fmt: skip
        by_kind = {v.invariant: 0 for v in self.violations}
        for v in self.violations:
            by_kind[v.invariant] += 1
        rows = [(name, by_kind.get(name, 0)) for name in invariants]
        rows += [(name, n) for name, n in sorted(by_kind.items()) if name not in invariants]
        worst = ", ".join(f"{t} {p // 100}" for t, p in sorted(self.report.max_abs_position_e2.items()))
        head = [
            f"chaos profile {self.profile.name} (seed {self.profile.seed}): {self.daemon_seconds:.0f} s of daemon "
            f"time, {self.wall_s:.0f} s wall, final exit status {self.final_exit_code}",
            format_table(f"faults injected ({'all survived' if survived else 'NOT all survived'})", faults),
            format_table("invariant violations", rows),
        ]
        tail = [
            f"exchange orders {self.report.orders}, exchange fills {self.report.fills}, database fills "
            f"{self.report.db_fills}, fills not attributable to a session {self.report.unattributed_fills}",
            f"max |position| per market (contracts): {worst or 'none'}",
            self._traffic_line(),
            f"daemons restarted after a logged fatal exit (not a violation): {len(self.fatal_exits)}",
        ]
        tail += [f"  fatal exit: {what}" for what in self.fatal_exits]
        tail += [f"  VIOLATION {v}" for v in self.violations[:50]]
        return "\n\n".join(head) + "\n\n" + "\n".join(tail)

    def _traffic_line(self) -> str:
        mine = self.traffic.get(USER, {})
        rest: dict[str, int] = mine.get("rest", {})
        by_status: dict[str, int] = {}
        for key, n in rest.items():
            status = key.rsplit(" ", 1)[-1]
            by_status[status] = by_status.get(status, 0) + n
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(by_status.items()))
        orders = ", ".join(f"{k} {v}" for k, v in sorted(mine.get("orders", {}).items()))
        ws = sum(mine.get("ws_messages", {}).values())
        return f"exchange traffic: REST {sum(rest.values())} requests ({statuses}); orders {orders}; WS {ws} messages"


def _injected(faults: Mapping[str, Any], kills: int) -> dict[str, int]:
    raw = dict(faults.get("injected", {}))
    raw.pop("rest_latency", None)
    out = {k: int(v) for k, v in raw.items() if k not in ("rest_500", "rest_503")}
    out["rest_5xx"] = int(raw.get("rest_500", 0)) + int(raw.get("rest_503", 0))
    out["sigkill_restart"] = kills
    return out


def _pause_starts(profile: ChaosProfile, segments: list[float]) -> list[float]:
    """Evenly spread over the killed daemons' lifetimes (all of it before the final daemon starts), or over the
    first half of the final run when nothing is killed."""
    span = sum(segments) if segments else profile.final_s / 2
    return [span * (i + 1) / (profile.pauses + 1) for i in range(profile.pauses)]


def run_chaos(profile: ChaosProfile, workdir: Path, *, echo: Callable[[str], None] = print) -> ChaosResult:
    """Run ``profile`` in ``workdir`` (created) and check the outcome; see the module docstring."""
    clock = LiveClock()
    started = clock.monotonic()
    rng = random.Random(f"chaos/{profile.seed}")
    early = set(rng.sample(range(profile.kills), min(profile.early_kills, profile.kills)))
    segments = [rng.uniform(*(profile.early_kill_s if i in early else profile.segment_s)) for i in range(profile.kills)]
    daemon_dir = workdir / "daemon"
    daemon_dir.mkdir(parents=True, exist_ok=True)
    config = daemon_dir / "chaos.yaml"
    config.write_text(yaml.safe_dump(daemon_config(daemon_dir), sort_keys=False))
    with ExchangeProcess(workdir / "exchange", seed=profile.seed, clock=clock) as exchange:
        exchange.set_faults(profile.faults)
        driver = FaultDriver(exchange, profile, _pause_starts(profile, segments), clock).start()
        daemons = DaemonSupervisor(config, exchange.env, daemon_dir, clock, echo)
        try:
            for i, seconds in enumerate(segments):
                n = daemons.incarnations + 1
                echo(f"chaos: daemon {n} runs {seconds:.0f} s, then SIGKILL ({i + 1}/{len(segments)})")
                daemons.run_for(seconds)
                daemons.kill()
            echo(f"chaos: final daemon runs {profile.final_s:.0f} s, then SIGTERM")
            daemons.run_for(profile.final_s)
            code = daemons.terminate(SHUTDOWN_TIMEOUT_S)
        finally:
            driver.stop()
            daemons.close()
        exchange.set_faults(FAULTS_OFF)
        ledger, faults, traffic = exchange.ledger(), exchange.faults(), exchange.traffic()
    for name, document in (("ledger", ledger), ("faults", faults), ("traffic", traffic)):  # for a post-mortem
        (workdir / "exchange" / f"{name}.json").write_text(json.dumps(document, indent=1))
    report = check_run(ledger, read_db_records(daemon_dir / "chaos.db"), clean_shutdown=code == 0)
    return ChaosResult(
        profile=profile,
        injected=_injected(faults, daemons.kills),
        report=report,
        final_exit_code=code,
        crashes=daemons.crashes,
        fatal_exits=daemons.fatal_exits,
        daemon_seconds=sum(segments) + profile.final_s,
        wall_s=clock.monotonic() - started,
        daemon_dir=daemon_dir,
        traffic=traffic,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m kalshi_mm.testing.chaos [short|long] [WORKDIR]``: run a profile, print the summary; 0 when no
    invariant was violated and every fault goal was reached."""
    import tempfile

    args = list(sys.argv[1:] if argv is None else argv)
    profile = profile_named(args[0] if args else "short")
    workdir = Path(args[1]) if len(args) > 1 else Path(tempfile.mkdtemp(prefix="kalshi-chaos-"))
    result = run_chaos(profile, workdir)
    print(result.summary())
    print(f"\nworkdir: {workdir}")
    return 0 if not result.violations and not result.shortfalls() else 1


if __name__ == "__main__":
    sys.exit(main())
