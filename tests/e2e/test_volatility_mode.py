"""The default run as a user runs it: ``runner.py --config config.yaml --exchange sim --duration 120`` (volatility
mode, the config's default) against the embedded exchange's default scenario.

Issue #8's acceptance: volatility events for the mean-reverting markets and none for the directional sports
markets; sessions that quote and end with a recorded reason; ``volatility_sessions`` rows consistent with
``strategy_runs``; orders and fills; nothing of ours resting after exit.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DURATION_S = 120
# The default scenario's mean-reverting bursts ("chop" news) are on these series; sports swings are directional.
MEAN_REVERTING_SERIES = ("KXJOBLESSCLAIMS", "KXHIGHNY")
SWEEP_LINE = re.compile(r"sweep: (?P<ticker>\S+) \[(?P<category>[^\]]*)\] .* n=\d+ regime=\S+ (?P<outcome>.*)$")


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("default_run")
    db, log_dir = tmp / "run.db", tmp / "logs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    command = [sys.executable, "runner.py", "--config", "config.yaml", "--exchange", "sim"]
    command += ["--duration", str(DURATION_S), "--db", str(db), "--log-dir", str(log_dir), "--ops-port", "0"]
    proc = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DURATION_S + 120,
    )
    sweep_files = sorted(log_dir.glob("volatility_sweep_details_*.log"))
    sweep = [m for f in sweep_files for line in f.read_text().splitlines() if (m := SWEEP_LINE.search(line))]
    return {"proc": proc, "db": db, "sweep": sweep}


def test_exits_cleanly_in_volatility_mode(default_run: dict[str, Any]) -> None:
    proc = default_run["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "mode=volatility exchange=sim" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The shutdown sweep confirmed by a REST read that nothing of ours rests on the exchange (else exit 1).
    assert re.search(r"volatility mode stopped: \d+ event\(s\), [1-9]\d* session\(s\) started", proc.stderr)


def test_events_in_mean_reverting_markets_none_in_sports(default_run: dict[str, Any]) -> None:
    events = rows(default_run["db"], "SELECT market_ticker, ts, signal_strength FROM volatility_events")
    assert events, "no volatility event in the default run"
    assert any(e["market_ticker"].startswith(MEAN_REVERTING_SERIES) for e in events)
    sweep = default_run["sweep"]
    category = {m["ticker"]: m["category"] for m in sweep}
    assert all(category.get(e["market_ticker"]) not in (None, "sports") for e in events)
    assert all(0 < e["signal_strength"] <= 1 for e in events)
    # Sports markets were scanned (they are in the sweep log) and every one of their samples was refused.
    sports = [m for m in sweep if m["category"] == "sports"]
    assert sports
    assert not [m for m in sports if "EVENT" in m["outcome"]]
    assert any("category_excluded" in m["outcome"] for m in sports)


def test_sessions_quote_fill_and_end_with_a_recorded_reason(default_run: dict[str, Any]) -> None:
    db = default_run["db"]
    sessions = rows(
        db,
        "SELECT s.*, e.market_ticker AS event_ticker, e.ts AS event_ts, e.run_id AS event_run_id,"
        " r.market_ticker AS run_ticker, r.status, r.end_reason, r.start_ts AS run_start, r.end_ts AS run_end,"
        " r.final_position_e2 AS run_position"
        " FROM volatility_sessions s JOIN volatility_events e USING (event_id)"
        " JOIN strategy_runs r ON r.run_id = s.run_id",
    )
    assert sessions
    assert len(sessions) == rows(db, "SELECT COUNT(*) AS n FROM volatility_sessions")[0]["n"]
    for s in sessions:
        assert s["kill_reason"], s
        assert s["end_ts"] is not None and s["start_ts"] >= s["event_ts"]
        assert s["event_ticker"] == s["run_ticker"] and s["event_run_id"] == s["run_id"]
        assert s["status"] == "completed" and s["end_reason"]
        assert s["run_start"] <= s["start_ts"] + 1 and s["end_ts"] <= s["run_end"] + 1
        assert s["final_position_e2"] == s["run_position"]
    # Every volatility-mode strategy run belongs to exactly one volatility session.
    runs = rows(db, "SELECT run_id FROM strategy_runs")
    assert sorted(r["run_id"] for r in runs) == sorted(s["run_id"] for s in sessions)

    orders = rows(db, "SELECT status, COUNT(*) AS n FROM orders GROUP BY status")
    by_status = {o["status"]: o["n"] for o in orders}
    assert sum(by_status.values()) > 0
    assert not by_status.get("placed") and not by_status.get("partially_filled"), by_status
    fills = rows(
        db, "SELECT f.run_id, f.count_e2, o.run_id AS order_run FROM order_fills f JOIN orders o USING (order_id)"
    )
    assert fills, "no fill in two minutes of quoting"
    assert all(f["run_id"] == f["order_run"] for f in fills)
    # The session's final position is the sum of its fills (bids buy YES, asks sell it).
    net = rows(
        db,
        "SELECT run_id, SUM(CASE WHEN book_side = 'bid' THEN count_e2 ELSE -count_e2 END) AS net"
        " FROM order_fills GROUP BY run_id",
    )
    final = {s["run_id"]: s["final_position_e2"] for s in sessions}
    assert all(final[n["run_id"]] == n["net"] for n in net)
