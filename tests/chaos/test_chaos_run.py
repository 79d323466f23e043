"""The chaos run itself: the daemon, SIGKILLed and restarted on one database, against an exchange injecting
every fault kind; afterwards the exchange's records must agree with the database (kalshi_mm.testing.chaos_checks)
and nothing the daemon wrote may hold the private key, the access key or a request signature."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kalshi_mm.testing.chaos import ChaosProfile, run_chaos

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

# An RSA-2048 signature is 256 bytes: 344 characters of base64. Nothing else the daemon writes is that long.
SIGNATURE_LIKE = re.compile(rb"[A-Za-z0-9+/]{300,}={0,2}")


def pem_fragments(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if len(line) >= 16 and "-----" not in line]


def leaked_secrets(paths: list[Path], secrets: list[str]) -> list[str]:
    """Files under ``paths`` holding any of ``secrets`` or a signature-sized base64 run."""
    found = []
    for root in paths:
        for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            for secret in secrets:
                if secret.encode() in data:
                    found.append(f"{path}: secret text ({len(secret)} chars)")
            if SIGNATURE_LIKE.search(data):
                found.append(f"{path}: a signature-sized base64 string")
    return found


def test_daemon_survives_chaos(chaos_profile: ChaosProfile, tmp_path: Path) -> None:
    result = run_chaos(chaos_profile, tmp_path)
    summary = result.summary()
    (tmp_path / "summary.txt").write_text(summary + "\n")
    print("\n" + summary + f"\n\nworkdir: {tmp_path}")

    assert not result.violations, summary
    assert not result.shortfalls(), f"fault goals not reached {result.shortfalls()}\n{summary}"
    assert result.report.fills >= 10, f"the daemon barely traded, so the checks prove little\n{summary}"

    credentials = tmp_path / "exchange" / "credentials"
    pem = (credentials / "sim_private_key.pem").read_text()
    access_key = next(
        line.split("=", 1)[1]
        for line in (credentials / "sim.env").read_text().splitlines()
        if line.startswith("KALSHI_ACCESS_KEY=")
    )
    leaks = leaked_secrets([result.daemon_dir], [access_key, *pem_fragments(pem)])
    assert not leaks, leaks
