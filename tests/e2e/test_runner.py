"""runner.py as a user runs it: exit statuses, the effective config, and no secret in any output, log or DB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kalshi_mm.analytics import AnalyticsDB
from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.sim.server import EmbeddedExchange

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env_extra: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "runner.py"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


def fragments(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if len(line) >= 16 and "-----" not in line]


def debug_config(tmp_path: Path) -> Path:
    data = yaml.safe_load((ROOT / "config.yaml").read_text())
    data["logging"]["level"] = "DEBUG"
    path = tmp_path / "debug.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_check_config_prints_effective_config_and_exits_zero() -> None:
    proc = run("--config", "config.yaml", "--check-config", "--mode", "discovery", "--db", "/tmp/x.db")
    assert proc.returncode == 0, proc.stderr
    effective = json.loads(proc.stdout)
    assert effective["config"]["mode"] == "discovery"
    assert effective["config"]["analytics"]["db_path"] == "/tmp/x.db"
    assert effective["exchange_endpoint"]["kind"] == "sim"
    assert effective["credentials"] == {"configured": False}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--config", "does-not-exist.yaml", "--check-config"), "does-not-exist.yaml"),
        (("--config", "config.yaml", "--duration", "-5"), "--duration"),
        (("--config", "config.yaml", "--exchange", "mainnet"), "--exchange"),
        (("--config", "config.yaml", "--exchange", "prod", "--check-config"), "needs credentials"),
    ],
)
def test_bad_invocations_exit_2_without_traceback(args: tuple[str, ...], needle: str) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_default_mode_runs_volatility_against_the_embedded_exchange(tmp_path: Path) -> None:
    # No credentials: exchange auto picks the embedded exchange; the default mode is volatility.
    proc = run(
        "--config",
        "config.yaml",
        "--duration",
        "8",
        "--log-dir",
        str(tmp_path / "logs"),
        "--db",
        str(tmp_path / "a.db"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "mode=volatility exchange=sim" in proc.stderr
    assert "volatility mode stopped" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_private_key_never_reaches_output_logs_or_db(tmp_path: Path, rsa_key, rsa_pem: str) -> None:  # type: ignore[no-untyped-def]
    # A local exchange that knows the test key stands in for Kalshi: nothing here may reach the network.
    server = EmbeddedExchange(LiveClock(), scenario="default", seed=3).start()
    try:
        account = server.create_account("keyholder", public_key=rsa_key.public_key())
        env = {
            "KALSHI_ACCESS_KEY": account.access_key,
            "KALSHI_PRIVATE_KEY": rsa_pem.replace("\n", "\\n"),
            "KALSHI_BASE_URL": server.rest_url,
            "KALSHI_WS_URL": server.ws_url,
        }
        log_dir, db_path = tmp_path / "logs", tmp_path / "run.db"
        config = debug_config(tmp_path)
        checked = run("--config", str(config), "--check-config", env_extra=env)
        assert checked.returncode == 0, checked.stderr
        ran = run(
            "--config",
            str(config),
            "--mode",
            "discovery",
            "--duration",
            "6",
            "--log-dir",
            str(log_dir),
            "--db",
            str(db_path),
            env_extra=env,
        )
    finally:
        server.stop()
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "DEBUG" in ran.stderr  # the run really logged at DEBUG, including the effective config
    effective = json.loads(checked.stdout)
    assert effective["credentials"]["configured"] is True
    assert effective["exchange_endpoint"]["kind"] == "custom"
    # The effective config is what strategy runs store in config_params: store it as they will.
    with AnalyticsDB(db_path, SimClock()) as db:
        db.create_strategy_run(
            strategy_name="KXTEST-yes", market_ticker="KXTEST", trade_side="yes", config_params=effective
        )
    outputs = {
        "check stdout": checked.stdout,
        "check stderr": checked.stderr,
        "run stderr": ran.stderr,
        "run stdout": ran.stdout,
    }
    for path in [*log_dir.rglob("*"), *tmp_path.glob("run.db*")]:
        if path.is_file():
            outputs[str(path)] = path.read_bytes().decode("latin-1")
    assert any(str(db_path) == name for name in outputs)
    for name, text in outputs.items():
        assert account.access_key not in text, name
        for fragment in fragments(rsa_pem):
            assert fragment not in text, f"key material in {name}"
