"""The chaos run itself: the daemon, SIGKILLed and restarted on one database, against an exchange injecting
every fault kind; afterwards the exchange's records must agree with the database (kalshi_mm.testing.chaos_checks)
and nothing the daemon wrote (database, logs, captured stdout/stderr) may hold the private key, the access key or
a request signature."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kalshi_mm.testing.chaos import ChaosProfile, run_chaos
from kalshi_mm.testing.secret_scan import Secret, pem_secrets, scan_paths_for_secrets

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

# The exchange runs in another process, so the signatures the daemon sent are not known here. An RSA-2048
# signature is 256 bytes: 344 characters of base64, and nothing else the daemon writes has a run that long.
SIGNATURE_LIKE = re.compile(rb"[A-Za-z0-9+/]{300,}={0,2}")


def signature_like(root: Path) -> list[str]:
    return [str(p) for p in sorted(root.rglob("*")) if p.is_file() and SIGNATURE_LIKE.search(p.read_bytes())]


def test_daemon_survives_chaos(chaos_profile: ChaosProfile, chaos_workdir: Path) -> None:
    result = run_chaos(chaos_profile, chaos_workdir)
    summary = result.summary()
    (chaos_workdir / "summary.txt").write_text(summary + "\n")
    print("\n" + summary + f"\n\nworkdir: {chaos_workdir}")

    assert not result.violations, summary
    assert not result.shortfalls(), f"fault goals not reached {result.shortfalls()}\n{summary}"
    assert result.report.fills >= 10, f"the daemon barely traded, so the checks prove little\n{summary}"

    credentials = chaos_workdir / "exchange" / "credentials"
    env = dict(line.split("=", 1) for line in (credentials / "sim.env").read_text().splitlines() if "=" in line)
    secrets = [
        *pem_secrets(Path(env["KALSHI_PRIVATE_KEY"]).read_text()),
        Secret("access key", env["KALSHI_ACCESS_KEY"]),
    ]
    leaks = scan_paths_for_secrets([result.daemon_dir], secrets)
    assert not leaks, [str(f) for f in leaks]
    assert not signature_like(result.daemon_dir)
