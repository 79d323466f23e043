"""Volatility mode (issue #8): the daemon tracking 200 markets with 20 concurrent sessions, measured from outside.

The embedded exchange runs as its own process (``python -m kalshi_mm.sim``, scenario
``bench/scenarios/volatility_200.yaml``: ~285 open markets, chop on every short-dated series), and the daemon
runs as another (``runner.py --duration N``, volatility mode, WebSocket on, ``max_concurrent_sessions: 20``,
risk limits opened up so they never refuse a session), so every figure is the daemon's own:

* CPU share of one core: the daemon's utime + stime (``/proc/<pid>/stat``, and the exact total from
  ``wait4``'s rusage) over wall seconds, for the whole run and for the steady state (first session start to the
  end of ``--duration``). Goal ≤ 30 %.
* Peak RSS: max of VmHWM / VmRSS sampled every 0.25 s and ``ru_maxrss``. Goal ≤ 300 MB.
* REST reads per quoted market-minute with the WebSocket healthy, counted by the exchange per request template
  (``GET /admin/traffic``): market-data reads (``/markets...``, ``/series...``, ``/events...``) split into the
  scanner's, those a session start costs, and those made while quoting; portfolio reads apart. A quoted
  market-minute is one session quoting for one minute (first to last quoting cycle in ``market_snapshots``, plus
  one refresh). Goal 0 market-data reads while quoting.
* Writes per requote: a requote is a quoting cycle whose desired quotes (``market_snapshots.computed_bid_e4`` /
  ``computed_ask_e4``) differ from the previous cycle of the same session, a session's first quotes included.
  Writes are the order-entry requests the exchange answered (create, amend, decrease, cancel, batched). Goal ≤ 1.
  Also per side requote (one order's wanted price changed), with side changes binned by the size of the move:
  moves over 3¢ are cancel + create by design (``AmendPolicy.max_amend_move_e4``), smaller ones one amend.
* Sessions concurrently active (``volatility_sessions``): max and time-weighted mean over the steady state, and
  the tracked-market count from the daemon's ``volatility scan: N open markets, tracking M`` line.

Prints the figures with each goal met or not and writes ``bench/results/bench_volatility.json``; never asserts.
``python bench/bench_volatility.py [--duration 180 | --quick] [--keep DIR] [--profile]``; ``--profile`` adds a
``py-spy record --gil`` of the daemon's steady state and prints its top frames (needs ``pip install py-spy``).
Both processes are always stopped (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
import yaml

from kalshi_mm.clock import LiveClock

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "bench" / "scenarios" / "volatility_200.yaml"
RESULTS = ROOT / "bench" / "results" / "bench_volatility.json"
LIVE = LiveClock()
TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_S = 0.25
TRAFFIC_EVERY_S = 2.0
SIM_USER = "trader"  # python -m kalshi_mm.sim --user default
GOAL_CPU = 0.30
GOAL_RSS_MB = 300.0
GOAL_READS = 0.0
GOAL_WRITES = 1.0
# Order-entry requests (writes) and market-data read templates, as the exchange names its routes.
WRITE_TEMPLATES = {
    ("POST", "/portfolio/events/orders"): "create",
    ("POST", "/portfolio/events/orders/batched"): "batch_create",
    ("DELETE", "/portfolio/events/orders/{order_id}"): "cancel",
    ("DELETE", "/portfolio/events/orders/batched"): "batch_cancel",
    ("DELETE", "/portfolio/events/orders"): "cancel_all",
    ("POST", "/portfolio/events/orders/{order_id}/amend"): "amend",
    ("POST", "/portfolio/events/orders/{order_id}/decrease"): "decrease",
}
MARKET_DATA_PREFIXES = ("/markets", "/series", "/events", "/exchange")
# Cancels the plan makes while quoting (kalshi_mm/strategy/order_manager.py, order_executor.py); anything else
# (exit:*, the session's final cancel_all, strays) is the session's ending.
PLAN_CANCEL_REASONS = {"not_wanted", "duplicate", "replace", "risk_state"}


# --- processes -------------------------------------------------------------------------------------------------


def stop_process(proc: subprocess.Popen[bytes], name: str, grace_s: float = 15.0) -> None:
    """SIGTERM, wait, then SIGKILL: never leave a child behind."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        print(f"  {name} ignored SIGTERM for {grace_s:.0f} s: SIGKILL")
        proc.kill()
        proc.wait(10)


def start_exchange(work: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    cred = work / "cred"
    cmd = [
        sys.executable,
        "-m",
        "kalshi_mm.sim",
        "--scenario",
        str(args.scenario),
        "--port",
        "0",
        "--ws-port",
        "0",
        "--tier",
        args.tier,
        "--seed",
        str(args.seed),
        "--credentials-out",
        str(cred),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (work / "exchange.log").open("wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    env_file = cred / "sim.env"
    deadline = LIVE.monotonic() + 120
    while not env_file.is_file():
        if proc.poll() is not None or LIVE.monotonic() > deadline:
            stop_process(proc, "exchange")
            raise RuntimeError(f"the exchange did not start; see {work / 'exchange.log'}")
        LIVE.wait(0.2)
    LIVE.wait(0.2)  # the file is written in one call; give the server a moment to print its URLs too
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return proc, values


def bench_config(work: Path, args: argparse.Namespace) -> Path:
    """config.yaml with volatility mode, the WebSocket, 20 sessions, and risk limits that never refuse."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text())
    overrides: dict[str, Any] = {
        "mode": "volatility",
        "exchange": {"environment": "auto", "rate_limit_tier": args.tier},
        "analytics": {"db_path": str(work / "analytics.db")},
        "logging": {"log_dir": str(work / "logs")},
        "websockets": {"enabled": True},
        "volatility_mm": {"max_concurrent_sessions": args.sessions, "min_available_balance": 100},
        # The bench measures cost, not risk: budgets large enough that no cap vetoes a quote or a session.
        "risk": {
            "global_risk_budget": 5000,
            "per_market_cap": 100,
            "category_caps": {k: 5000 for k in data.get("risk", {}).get("category_caps", {})},
            "circuit_breaker": {"max_daily_loss": 5000, "max_drawdown": 5000, "max_consecutive_losing_sessions": 0},
            "min_balance_for_new_sessions": 0,
        },
        "ops_http": {"port": 0},  # never collide with a daemon someone else is running on 8790
    }
    skipped: list[str] = []
    _merge_known(data, overrides, "", skipped)
    if skipped:
        print(f"  (config.yaml has no {', '.join(skipped)}: not set)")
    path = work / "bench_config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _merge_known(base: dict[str, Any], over: dict[str, Any], prefix: str, skipped: list[str]) -> None:
    """Set only keys config.yaml has (sections other engineers are still adding may be absent)."""
    for key, value in over.items():
        if key not in base:
            skipped.append(prefix + key)
        elif isinstance(value, dict) and isinstance(base[key], dict):
            _merge_known(base[key], value, f"{prefix}{key}.", skipped)
        else:
            base[key] = value


@dataclass
class Samples:
    """What the watcher saw of the daemon: (wall ts, utime+stime ticks, VmRSS kB) and traffic snapshots."""

    cpu: list[tuple[float, int, int]] = field(default_factory=list)
    hwm_kb: int = 0
    traffic: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    loadavg: list[float] = field(default_factory=list)  # the host's 1-minute load average, every traffic snapshot
    rusage: Any = None
    exit_status: int | None = None
    wall_s: float = 0.0


class Profiler:
    """Optional ``py-spy record`` of the daemon over the steady state (``--profile``): started ``at_s`` seconds
    after the daemon, for ``duration_s``, non-blocking, raw collapsed stacks for :func:`hotspots`."""

    def __init__(self, out: Path, at_s: float, duration_s: float) -> None:
        self.out, self.at_s, self.duration_s = out, at_s, duration_s
        self.proc: subprocess.Popen[bytes] | None = None

    def maybe_start(self, pid: int, elapsed_s: float) -> None:
        if self.proc is not None or elapsed_s < self.at_s:
            return
        spy = Path(sys.executable).with_name("py-spy")
        cmd = [str(spy), "record", "-p", str(pid), "-d", str(int(self.duration_s)), "-f", "raw"]
        # --gil: only the thread holding the GIL is sampled, so threads blocked in socket reads do not count.
        cmd += ["-o", str(self.out), "--nonblocking", "--gil"]
        with self.out.with_suffix(".log").open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is not None:
            try:
                self.proc.wait(30)  # it stops by itself at -d or when the daemon exits, and writes its file then
            except subprocess.TimeoutExpired:
                stop_process(self.proc, "py-spy")


def hotspots(raw: Path, top: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Shares of py-spy samples: by leaf frame (self) and by function anywhere on the stack (inclusive)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";")[1:]]  # the first element names the thread
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if total == 0:
        return {"self": [], "inclusive": []}
    return {
        "self": [(f, n / total) for f, n in own.most_common(top)],
        "inclusive": [(f, n / total) for f, n in inclusive.most_common(top)],
        "samples": [("total", float(total))],
    }


def _proc_cpu_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))


def _proc_mem_kb(pid: int) -> tuple[int, int]:
    rss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def traffic_of(rest_url: str) -> dict[str, int]:
    url = rest_url.replace("/trade-api/v2", "/admin/traffic")
    return requests.get(url, timeout=10).json().get(SIM_USER, {}).get("rest", {})


def watch(proc: subprocess.Popen[bytes], rest_url: str, limit_s: float, profiler: Profiler | None) -> Samples:
    """Sample the daemon until it exits (reaped here with wait4 for its exact rusage) or ``limit_s`` passes."""
    out = Samples()
    started = LIVE.monotonic()
    next_traffic = 0.0
    while True:
        if profiler is not None:
            profiler.maybe_start(proc.pid, LIVE.monotonic() - started)
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            out.rusage, out.exit_status = rusage, os.waitstatus_to_exitcode(status)
            proc.returncode = out.exit_status  # reaped here: Popen must not wait for it again
            break
        now = LIVE.time()
        ticks = _proc_cpu_ticks(proc.pid)
        rss, hwm = _proc_mem_kb(proc.pid)
        if ticks is not None:
            out.cpu.append((now, ticks, rss))
        out.hwm_kb = max(out.hwm_kb, hwm, rss)
        if LIVE.monotonic() >= next_traffic:
            next_traffic = LIVE.monotonic() + TRAFFIC_EVERY_S
            with contextlib.suppress(requests.RequestException):  # the next snapshot will do
                out.traffic.append((now, traffic_of(rest_url)))
            out.loadavg.append(os.getloadavg()[0])
        if LIVE.monotonic() - started > limit_s:
            print(f"  the daemon is still running {limit_s:.0f} s after start: stopping it")
            break
        LIVE.wait(SAMPLE_S)
    out.wall_s = LIVE.monotonic() - started
    return out


# --- analysis --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    run_id: int
    ticker: str
    start_ts: float
    end_ts: float
    quoting_s: float  # first to last quoting cycle, plus one refresh
    cycles: int
    requotes: int
    side_requotes: int
    kill_reason: str
    moves: Counter[str]  # side changes by size of the price move (1/10,000 $)


def read_sessions(db_path: Path, refresh_s: float, end_fallback: float) -> list[Session]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT s.run_id, r.market_ticker, s.start_ts, COALESCE(s.end_ts, r.end_ts), COALESCE(s.kill_reason, '')"
            " FROM volatility_sessions s JOIN strategy_runs r USING (run_id) ORDER BY s.start_ts"
        ).fetchall()
        sessions = []
        for run_id, ticker, start, end, reason in rows:
            snaps = db.execute(
                "SELECT ts, computed_bid_e4, computed_ask_e4 FROM market_snapshots WHERE run_id = ? ORDER BY ts, id",
                (run_id,),
            ).fetchall()
            requotes = side_requotes = 0
            moves: Counter[str] = Counter()
            previous: tuple[Any, Any] = (None, None)
            for _, bid, ask in snaps:
                changed = 0
                for before, now in zip(previous, (bid, ask), strict=True):
                    if before != now:
                        changed += 1
                        moves[_move_class(before, now)] += 1
                requotes += changed > 0
                side_requotes += changed
                previous = (bid, ask)
            quoting = (snaps[-1][0] - snaps[0][0] + refresh_s) if snaps else 0.0
            sessions.append(
                Session(
                    run_id,
                    ticker,
                    start,
                    end if end is not None else end_fallback,
                    quoting,
                    len(snaps),
                    requotes,
                    side_requotes,
                    reason,
                    moves,
                )
            )
        return sessions
    finally:
        db.close()


def _move_class(before: int | None, now: int | None) -> str:
    if before is None or now is None:
        return "quote appears" if before is None else "quote withdrawn"
    move = abs(now - before)
    # AmendPolicy.max_amend_move_e4 (300): larger moves are cancel + create
    return "<= 1c" if move <= 100 else "<= 3c (amend)" if move <= 300 else "> 3c (replace)"


def cancel_reasons(db_path: Path) -> Counter[str]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT cancel_reason, COUNT(*) FROM orders WHERE status = 'cancelled' GROUP BY 1")
        return Counter({str(reason): n for reason, n in rows})
    finally:
        db.close()


def concurrency(sessions: list[Session], t0: float, t1: float) -> tuple[int, float]:
    """Max and time-weighted mean number of sessions alive in [t0, t1]."""
    if t1 <= t0:
        return 0, 0.0
    edges = sorted([(s.start_ts, 1) for s in sessions] + [(s.end_ts, -1) for s in sessions])
    alive = peak = 0
    area = 0.0
    last = t0
    for ts, step in edges:
        if ts > t0:
            span_end = min(ts, t1)
            if span_end > last:
                area += alive * (span_end - last)
                last = span_end
        alive += step
        if t0 <= ts <= t1:
            peak = max(peak, alive)
    if t1 > last:
        area += alive * (t1 - last)
    return peak, area / (t1 - t0)


def timeline(sessions: list[Session], t0: float, t1: float, step_s: float) -> list[int]:
    """Sessions alive at t0, t0 + step, ... up to t1."""
    out = []
    t = t0
    while t <= t1:
        out.append(sum(1 for s in sessions if s.start_ts <= t < s.end_ts))
        t += step_s
    return out


def cpu_between(samples: list[tuple[float, int, int]], t0: float, t1: float) -> float | None:
    """CPU share of one core between the samples nearest after ``t0`` and before ``t1``."""
    inside = [s for s in samples if t0 <= s[0] <= t1]
    if len(inside) < 2:
        return None
    (a_ts, a_ticks, _), (b_ts, b_ticks, _) = inside[0], inside[-1]
    return (b_ticks - a_ticks) / TICKS / (b_ts - a_ts)


def traffic_at(traffic: list[tuple[float, dict[str, int]]], ts: float) -> dict[str, int]:
    """The last traffic snapshot taken at or before ``ts`` (empty before the first)."""
    before = [snap for t, snap in traffic if t <= ts]
    return before[-1] if before else {}


def classify(rest: dict[str, int]) -> dict[str, Counter[str]]:
    """Requests by class (market_data, portfolio, writes, other) and route ("METHOD template" -> count)."""
    out: dict[str, Counter[str]] = {k: Counter() for k in ("market_data", "portfolio", "writes", "other")}
    for key, n in rest.items():
        method, template, _status = key.split(" ")
        route = f"{method} {template}"
        if (method, template) in WRITE_TEMPLATES:
            out["writes"][route] += n
        elif method == "GET" and template.startswith(MARKET_DATA_PREFIXES):
            out["market_data"][route] += n
        elif method == "GET" and template.startswith(("/portfolio", "/account")):
            out["portfolio"][route] += n
        else:
            out["other"][route] += n
    return out


def sweep_periods(log_dir: Path) -> list[float]:
    """Seconds between the starts of consecutive scanner sweeps, from the sweep log's line times (a sweep writes
    one line per market within a fraction of a second; sweeps are refresh_interval_seconds apart)."""
    times: list[float] = []
    for path in sorted(log_dir.glob("volatility_sweep_details_*.log")):
        for line in path.read_text(errors="replace").splitlines():
            m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ", line)
            if m:
                stamp = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
                times.append(stamp + int(m.group(2)) / 1000)
    starts = [t for i, t in enumerate(times) if i == 0 or t - times[i - 1] > 1.0]
    return [b - a for a, b in itertools.pairwise(starts)]


def tracked_markets(log_text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in re.findall(r"volatility scan: (\d+) open markets, tracking (\d+)", log_text)]


# --- the run ---------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print(f"volatility mode, {args.duration:.0f} s, up to {args.sessions} sessions, scenario {args.scenario.name}")
    exchange, sim_env = start_exchange(work, args)
    daemon: subprocess.Popen[bytes] | None = None
    profiler = None
    if args.profile:
        # Sessions start 30-40 s in; the last 5 s before --duration ends are left out (shutdown).
        profiler = Profiler(work / "py-spy.txt", at_s=45.0, duration_s=max(5.0, args.duration - 50.0))
    try:
        config = bench_config(work, args)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "PYTHONPATH"))}
        env.update(sim_env)
        cmd = [sys.executable, str(ROOT / "runner.py"), "--config", str(config), "--duration", str(args.duration)]
        started_ts = LIVE.time()
        deadline_ts = started_ts + args.duration
        # cwd = the work directory: no .env of the checkout is read, relative paths land here.
        with (work / "daemon.log").open("wb") as log:
            daemon = subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, env=env)
        print(f"  exchange pid {exchange.pid}, daemon pid {daemon.pid}; work directory {work}")
        samples = watch(daemon, sim_env["KALSHI_BASE_URL"], args.duration + 120, profiler)
        final_traffic = traffic_of(sim_env["KALSHI_BASE_URL"])
    finally:
        if daemon is not None:
            stop_process(daemon, "daemon")
        if profiler is not None:
            profiler.stop()
        stop_process(exchange, "exchange")
    (work / "samples.json").write_text(
        json.dumps({"cpu": samples.cpu, "traffic": samples.traffic, "loadavg": samples.loadavg, "ticks_per_s": TICKS})
    )
    results = analyse(args, work, samples, final_traffic, started_ts, deadline_ts)
    if profiler is not None and profiler.out.is_file():
        spots = hotspots(profiler.out)
        results["profile"] = {k: [[f, round(x, 4)] for f, x in v] for k, v in spots.items()}
        print(f"  py-spy, {profiler.duration_s:.0f} s of the steady state: top frames by own samples")
        for frame, share in spots["self"]:
            print(f"    {share:6.1%}  {frame}")
        print("  ... and by samples anywhere on the stack")
        for frame, share in spots["inclusive"]:
            print(f"    {share:6.1%}  {frame}")
    return results


def analyse(
    args: argparse.Namespace,
    work: Path,
    samples: Samples,
    final_traffic: dict[str, int],
    started_ts: float,
    deadline_ts: float,
) -> dict[str, Any]:
    cfg = yaml.safe_load((work / "bench_config.yaml").read_text())
    refresh_s = float(cfg["volatility_mm"]["quote_refresh_seconds"])
    log_text = (work / "daemon.log").read_text(errors="replace")
    db_path = work / "analytics.db"
    sessions = read_sessions(db_path, refresh_s, deadline_ts) if db_path.is_file() else []
    first_start = min((s.start_ts for s in sessions), default=None)
    steady_end = min(deadline_ts, samples.cpu[-1][0]) if samples.cpu else deadline_ts

    # CPU and memory
    ru = samples.rusage
    cpu_total_s = (ru.ru_utime + ru.ru_stime) if ru is not None else None
    cpu_whole = cpu_total_s / samples.wall_s if cpu_total_s is not None and samples.wall_s > 0 else None
    cpu_steady = cpu_between(samples.cpu, first_start, steady_end) if first_start is not None else None
    peak_kb = max(samples.hwm_kb, ru.ru_maxrss if ru is not None else 0)
    peak_mb = peak_kb / 1024

    # sessions
    peak_conc, mean_conc = concurrency(sessions, first_start, steady_end) if first_start is not None else (0, 0.0)
    market_minutes = sum(s.quoting_s for s in sessions) / 60
    requotes = sum(s.requotes for s in sessions)
    side_requotes = sum(s.side_requotes for s in sessions)
    cycles = sum(s.cycles for s in sessions)
    starts = len(sessions)
    scans = tracked_markets(log_text)
    periods = sweep_periods(work / "logs")
    stale_after = float(cfg["volatility_mm"]["regime_stale_kill_seconds"])
    ws_health = {
        "connections": log_text.count("WebSocket connected to"),
        "losses": log_text.count("WebSocket connection lost") + log_text.count("WebSocket closed by the server"),
        "capped_markets": log_text.count("max_markets_per_connection"),
    }

    # requests, by class; before the first session the scanner is alone
    classes = classify(final_traffic)
    warmup = classify(traffic_at(samples.traffic, first_start)) if first_start is not None else classes
    warmup_min = (first_start - started_ts) / 60 if first_start is not None else None
    md = classes["market_data"]
    md_total = sum(md.values())
    md_scanner = sum(n for r, n in md.items() if r in ("GET /markets", "GET /series/{series_ticker}"))
    # Per session start (kalshi_mm/modes/volatility_mode.py make_config: get_market + get_orderbook;
    # kalshi_mm/strategy/market_watch.py MarketWatch.refresh at the session's start: get_market). A start whose
    # config is refused ("could not start a session", e.g. a budget below one contract) paid make_config's two.
    failed = log_text.count("could not start a session")
    md_starts = min(md["GET /markets/{ticker}"], 2 * starts + failed)
    md_starts += min(md["GET /markets/{ticker}/orderbook"], starts + failed)
    md_quoting = md_total - md_scanner - md_starts
    portfolio_total = sum(classes["portfolio"].values())
    writes = classes["writes"]
    writes_total = sum(writes.values())
    cancels = cancel_reasons(db_path) if db_path.is_file() else Counter()
    exit_cancels = sum(n for reason, n in cancels.items() if reason not in PLAN_CANCEL_REASONS)
    quoting_writes = writes_total - min(exit_cancels, writes.get("DELETE /portfolio/events/orders/{order_id}", 0))

    def per(n: float, d: float) -> float | None:
        return n / d if d > 0 else None

    reads_per_mm = per(md_quoting, market_minutes)
    writes_per_requote = per(writes_total, requotes)
    results: dict[str, Any] = {
        "bench": "volatility",
        "duration_s": args.duration,
        "scenario": str(args.scenario.relative_to(ROOT)) if args.scenario.is_relative_to(ROOT) else str(args.scenario),
        "tier": args.tier,
        "max_concurrent_sessions": args.sessions,
        "daemon_exit_status": samples.exit_status,
        "daemon_wall_s": round(samples.wall_s, 1),
        # Other work on the host slows the daemon's threads (not its CPU time): a late scanner sweep can make
        # every session's regime data stale at once (regime_stale kills).
        "host": {
            "cpus": os.cpu_count(),
            "load_1min_min": _r(min(samples.loadavg, default=0.0), 2),
            "load_1min_max": _r(max(samples.loadavg, default=0.0), 2),
        },
        "scans": [{"open_markets": a, "tracked": b} for a, b in scans],
        "websocket": ws_health,
        "scanner_sweeps": {
            "count": len(periods) + 1 if periods else 0,
            "period_mean_s": _r(sum(periods) / len(periods), 3) if periods else None,
            "period_max_s": _r(max(periods), 3) if periods else None,
            "periods_over_regime_stale_kill_s": sum(1 for x in periods if x > stale_after),
            "regime_stale_kill_seconds": stale_after,
        },
        "sessions": {
            "started": starts,
            "first_start_after_s": round(first_start - started_ts, 1) if first_start is not None else None,
            "max_concurrent": peak_conc,
            "mean_concurrent_steady": round(mean_conc, 2),
            "quoted_market_minutes": round(market_minutes, 2),
            "longest_quoting_s": round(max((s.quoting_s for s in sessions), default=0.0), 1),
            "quoting_cycles": cycles,
            "requotes": requotes,
            "side_requotes": side_requotes,
            "end_reasons": dict(Counter(s.kill_reason.split(":", 1)[0].split(" ", 1)[0] for s in sessions)),
            "side_changes_by_move": dict(sum((s.moves for s in sessions), Counter())),
            "concurrency_every_15s": timeline(sessions, first_start, steady_end, 15.0) if first_start else [],
        },
        "cpu": {
            "whole_run_share": _r(cpu_whole),
            "steady_share": _r(cpu_steady),
            "cpu_seconds": _r(cpu_total_s),
        },
        "memory": {"peak_rss_mb": round(peak_mb, 1)},
        "rest": {
            "by_class": {k: dict(sorted(v.items())) for k, v in classes.items()},
            "before_first_session": {k: dict(sorted(v.items())) for k, v in warmup.items()},
            "before_first_session_minutes": _r(warmup_min),
            "market_data_reads": {
                "total": md_total,
                "scanner": md_scanner,
                "session_starts": md_starts,
                "per_session_start": _r(per(md_starts, starts + failed)),
                "refused_starts": failed,
                "while_quoting": md_quoting,
                "while_quoting_per_market_minute": _r(reads_per_mm),
                # MarketWatch re-reads GET /markets/{ticker} every market_refresh_interval_s (60 s) while quoting
                "expected_from_60s_market_refresh": sum(int(s.quoting_s // 60) for s in sessions),
            },
            "portfolio_reads": {
                "total": portfolio_total,
                "per_market_minute": _r(per(portfolio_total, market_minutes)),
            },
            "writes": {
                "total": writes_total,
                "by_route": dict(writes),
                "cancel_reasons": dict(cancels),
                "per_requote": _r(writes_per_requote),
                "per_side_requote": _r(per(writes_total, side_requotes)),
                "quoting_only_per_requote": _r(per(quoting_writes, requotes)),
            },
        },
    }
    goals = {
        "cpu_share_steady <= 30%": (cpu_steady, cpu_steady is not None and cpu_steady <= GOAL_CPU),
        "peak_rss <= 300 MB": (peak_mb, peak_mb <= GOAL_RSS_MB),
        "market-data reads while quoting per market-minute == 0": (
            reads_per_mm,
            reads_per_mm is not None and reads_per_mm <= GOAL_READS,
        ),
        "writes per requote <= 1": (writes_per_requote, writes_per_requote is not None and writes_per_requote <= 1),
        "writes per side requote <= 1 (one order's quote changed)": (
            per(writes_total, side_requotes),
            side_requotes > 0 and writes_total <= side_requotes,
        ),
    }
    results["goals"] = {name: {"value": _r(v), "met": met} for name, (v, met) in goals.items()}
    report(results, sessions)
    return results


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def _fmt(x: float | None, pattern: str = "{:.3f}") -> str:
    return "n/a" if x is None else pattern.format(x)


def report(res: dict[str, Any], sessions: list[Session]) -> None:
    s, cpu, rest = res["sessions"], res["cpu"], res["rest"]
    scans = res["scans"]
    scan = f"{scans[0]['open_markets']} open markets, tracking {scans[0]['tracked']}" if scans else "no scan line"
    ws, host = res["websocket"], res["host"]
    print(f"  host: {host['cpus']} CPUs, 1-min load average {host['load_1min_min']}-{host['load_1min_max']}")
    sw = res["scanner_sweeps"]
    print(
        f"  scanner sweeps: {sw['count']}, every {_fmt(sw['period_mean_s'], '{:.2f}')} s on average, longest gap"
        f" {_fmt(sw['period_max_s'], '{:.2f}')} s; {sw['periods_over_regime_stale_kill_s']} gap(s) longer than"
        f" regime_stale_kill_seconds ({sw['regime_stale_kill_seconds']:g} s), each of which can hard-stop every session"
    )
    print(f"  daemon exit status {res['daemon_exit_status']}, {res['daemon_wall_s']} s; scanner: {scan}")
    print(
        f"  WebSocket: {ws['connections']} connection(s), {ws['losses']} lost, {ws['capped_markets']} cap warnings"
        " (healthy throughout when 1, 0, 0)"
    )
    print(
        f"  sessions: {s['started']} started (first after {s['first_start_after_s']} s), concurrent max"
        f" {s['max_concurrent']}, mean {s['mean_concurrent_steady']} in the steady state;"
        f" {s['quoted_market_minutes']} quoted market-minutes, {s['quoting_cycles']} cycles, {s['requotes']}"
        f" requotes ({s['side_requotes']} side changes); ends {s['end_reasons']}"
    )
    print(f"  sessions alive every 15 s from the first start: {s['concurrency_every_15s']}")
    print(f"  side changes by price move: {s['side_changes_by_move']}")
    md = rest["market_data_reads"]
    print(
        f"  market-data REST reads: {md['total']} = scanner {md['scanner']} + session starts {md['session_starts']}"
        f" ({_fmt(md['per_session_start'], '{:.1f}')}/start, {md['refused_starts']} refused at config)"
        f" + while quoting {md['while_quoting']} (a 60 s GET /markets/{{ticker}} refresh per session would make"
        f" {md['expected_from_60s_market_refresh']})"
    )
    if s["longest_quoting_s"] < 60:
        print("    (no session quoted for 60 s: the sessions' 60 s market refresh cannot show in so short a run)")
    for route, n in sorted(rest["by_class"]["market_data"].items()):
        print(f"    {route:<44} {n}")
    warm = rest["before_first_session"]
    if rest["before_first_session_minutes"]:
        minutes = rest["before_first_session_minutes"]
        print(
            f"  before the first session ({minutes * 60:.0f} s): {sum(warm['market_data'].values())} market-data reads,"
            f" {sum(warm['portfolio'].values())} portfolio reads {warm['portfolio']}"
        )
    pf = rest["portfolio_reads"]
    print(f"  portfolio REST reads: {pf['total']} ({_fmt(pf['per_market_minute'], '{:.2f}')} per market-minute)")
    for route, n in sorted(rest["by_class"]["portfolio"].items()):
        print(f"    {route:<44} {n}")
    w = rest["writes"]
    print(
        f"  writes: {w['total']} {w['by_route']}; {_fmt(w['per_side_requote'])} per side change,"
        f" {_fmt(w['quoting_only_per_requote'])} per requote without the sessions' exit cancels;"
        f" cancel reasons {w['cancel_reasons']}"
    )
    if rest["by_class"]["other"]:
        print(f"  other requests (order groups, ...): {rest['by_class']['other']}")
    print(f"  CPU: whole run {_fmt(cpu['whole_run_share'], '{:.1%}')} of a core ({cpu['cpu_seconds']} s)")
    print(f"  {'figure':<58} {'value':>10}  goal")
    for name, goal in res["goals"].items():
        value = goal["value"]
        shown = _fmt(value, "{:.1%}") if name.startswith("cpu") else _fmt(value, "{:.3f}")
        if name.startswith("peak"):
            shown = _fmt(value, "{:.0f} MB")
        print(f"  {name:<58} {shown:>10}  {'met' if goal['met'] else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0, help="daemon --duration, seconds (default 180)")
    parser.add_argument("--quick", action="store_true", help="a 60 s run")
    parser.add_argument("--sessions", type=int, default=20, help="volatility_mm.max_concurrent_sessions")
    parser.add_argument("--tier", default="premier", help="rate-limit tier of the exchange account and the daemon")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated market")
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    parser.add_argument("--keep", type=Path, help="keep logs and the database in this directory")
    parser.add_argument("--profile", action="store_true", help="py-spy the daemon's steady state (pip install py-spy)")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results/bench_volatility.json")
    args = parser.parse_args()
    if args.quick:
        args.duration = 60.0
    args.scenario = args.scenario.resolve()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        results = run(args, args.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="bench_volatility_") as tmp:
            results = run(args, Path(tmp))
    if not args.no_results:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"  wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
