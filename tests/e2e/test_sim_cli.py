"""``python -m kalshi_mm.sim`` standalone: ephemeral ports, a funded account and sim.env a client can use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from dotenv import dotenv_values

from kalshi_mm.api.auth import auth_headers
from kalshi_mm.clock import LiveClock

ROOT = Path(__file__).resolve().parents[2]


def test_standalone_exchange_writes_usable_credentials(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kalshi_mm.sim",
            "--port",
            "0",
            "--ws-port",
            "0",
            "--seed",
            "3",
            "--credentials-out",
            str(tmp_path),
            "--cash",
            "2500",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(2)]
        printed = dict(line.split("=", 1) for line in lines)
        env = dotenv_values(tmp_path / "sim.env")
        assert printed["KALSHI_BASE_URL"] == env["KALSHI_BASE_URL"]
        assert printed["KALSHI_WS_URL"] == env["KALSHI_WS_URL"]
        assert env["KALSHI_BASE_URL"].startswith("http://127.0.0.1:")
        assert env["KALSHI_WS_URL"].endswith("/trade-api/ws/v2")
        key = load_pem_private_key(Path(env["KALSHI_PRIVATE_KEY"]).read_bytes(), password=None)
        assert oct(Path(env["KALSHI_PRIVATE_KEY"]).stat().st_mode & 0o777) == "0o600"
        url = env["KALSHI_BASE_URL"] + "/portfolio/balance"
        headers = auth_headers(env["KALSHI_ACCESS_KEY"], key, LiveClock().time_ms(), "GET", url)  # type: ignore[arg-type]
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 200
        assert response.json()["balance_dollars"] == "2500.0000"
        markets = requests.get(env["KALSHI_BASE_URL"] + "/markets", params={"limit": 1000}, timeout=10).json()
        assert len(markets["markets"]) > 20
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_bad_arguments_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kalshi_mm.sim", "--scenario", "no-such-scenario"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_public_key_registers_the_callers_own_key(tmp_path: Path, rsa_key) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization

    public = tmp_path / "mine.pub.pem"
    public.write_bytes(
        rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kalshi_mm.sim",
            "--port",
            "0",
            "--public-key",
            str(public),
            "--credentials-out",
            str(tmp_path / "out"),
            "--scenario",
            "quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip().split("=", 1)[1]
        env = dotenv_values(tmp_path / "out" / "sim.env")
        assert "KALSHI_PRIVATE_KEY" not in env  # the exchange never held our private key
        url = base_url + "/portfolio/balance"
        headers = auth_headers(env["KALSHI_ACCESS_KEY"], rsa_key, LiveClock().time_ms(), "GET", url)
        assert requests.get(url, headers=headers, timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
