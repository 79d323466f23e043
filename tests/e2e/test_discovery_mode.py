"""``runner.py --mode discovery --exchange sim --duration 60`` as a user runs it: exit 0, and the analytics DB
holds one discovery session with consistent stage counts, every scored market with its generated config, and a
strategy run per selected market/side, each ended."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DURATION_S = 60


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def test_discovery_mode_against_the_embedded_exchange(tmp_path: Path) -> None:
    db, log_dir = tmp_path / "run.db", tmp_path / "logs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    proc = subprocess.run(
        [sys.executable, "runner.py", "--config", "config.yaml", "--mode", "discovery", "--exchange", "sim",
         "--duration", str(DURATION_S), "--db", str(db), "--log-dir", str(log_dir), "--ops-port", "0"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=DURATION_S + 60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr

    [session] = rows(db, "SELECT * FROM discovery_sessions")
    assert session["model_version"] == "AS-v1.0"
    assert session["total_markets"] >= session["binary_markets"] >= session["pre_filtered"] >= session["scored"]
    assert session["scored"] >= session["top_markets_count"] >= session["configs_generated"] > 0

    markets = rows(db, "SELECT * FROM discovered_markets")
    assert len(markets) == session["scored"]
    selected = [m for m in markets if m["selected_for_trading"]]
    assert len(selected) == session["configs_generated"]
    for market in selected:
        config = json.loads(market["generated_config"])
        assert config["ticker"] == market["ticker"] and config["order_size_e2"] > 0
        assert json.loads(market["reasons"])

    runs = rows(db, "SELECT * FROM strategy_runs")
    assert sorted((r["market_ticker"], r["trade_side"]) for r in runs) == sorted(
        (m["ticker"], m["trade_side"]) for m in selected
    )
    assert all(r["status"] == "completed" and r["end_ts"] is not None for r in runs), runs
    assert all((log_dir / f"{r['strategy_name']}.log").is_file() for r in runs)

    orders = rows(db, "SELECT status, COUNT(*) AS n FROM orders GROUP BY status")
    assert orders and all(o["status"] != "placed" for o in orders), orders
