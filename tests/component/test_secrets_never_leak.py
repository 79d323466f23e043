"""The private key and the request signatures never reach anything a run writes.

A real daemon (``runner.py`` in a subprocess, discovery mode, DEBUG logging, its own log directory and database)
trades against an embedded exchange in this process that knows the test key. The exchange is made unkind while
it runs — injected 5xx and 429 responses, then the key revoked mid-run so every request and the shutdown's
cancel-all fail with 401 — and records every signature the daemon sent. Then every byte written is scanned
(:mod:`kalshi_mm.testing.secret_scan`): log files, the SQLite database and its WAL, stdout and stderr, for the
PEM, any 40-character piece of its base64 body, and any 40-character piece of any captured signature. Start-up
refusals (``--check-config``, a key the exchange does not know, a corrupted key) and the REST client's own
exception chains are scanned the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_mm.api.auth import HEADER_SIGNATURE
from kalshi_mm.api.errors import AuthenticationError, NetworkError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import BookSide
from kalshi_mm.clock import LiveClock
from kalshi_mm.config.credentials import CredentialsError, load_credentials
from kalshi_mm.sim.auth import AuthError
from kalshi_mm.sim.faults import FaultConfig
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.testing.secret_scan import (
    Finding,
    Secret,
    pem_secrets,
    scan_paths_for_secrets,
    scan_text_for_secrets,
    signature_secrets,
)

ROOT = Path(__file__).resolve().parents[2]
REAL = LiveClock()
USER = "keyholder"


@dataclass
class Recorder:
    """Wraps the exchange's key registry: every signature presented, and how many requests were refused."""

    signatures: list[str] = field(default_factory=list)
    accepted: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, server: EmbeddedExchange) -> None:
        authenticate = server.keys.authenticate

        def recording(headers: Mapping[str, str], method: str, path: str, now_ms: int) -> str:
            signature = {k.upper(): v for k, v in headers.items()}.get(HEADER_SIGNATURE.upper())
            try:
                user = authenticate(headers, method, path, now_ms)
            except AuthError:
                with self.lock:
                    self.refused += 1
                    if signature:
                        self.signatures.append(signature)
                raise
            with self.lock:
                self.accepted += 1
                if signature:
                    self.signatures.append(signature)
            return user

        server.keys.authenticate = recording  # type: ignore[method-assign]  # both REST and WebSocket use it


@pytest.fixture
def exchange() -> Iterator[tuple[EmbeddedExchange, Recorder]]:
    # Injected faults from the start: the daemon's retry and error paths run (and log) while it trades.
    server = EmbeddedExchange(
        REAL, scenario="default", seed=5, tier="prime", faults=FaultConfig(rest_5xx_rate=0.03, rest_429_burst=3)
    ).start()
    recorder = Recorder()
    recorder.install(server)
    try:
        yield server, recorder
    finally:
        server.stop()


def _env(access_key: str, pem: str, server: EmbeddedExchange) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    env.update(
        {
            "KALSHI_ACCESS_KEY": access_key,
            "KALSHI_PRIVATE_KEY": pem.replace("\n", "\\n"),  # the one-line form of .env files and Fly secrets
            "KALSHI_BASE_URL": server.rest_url,
            "KALSHI_WS_URL": server.ws_url,
        }
    )
    return env


def _debug_config(tmp_path: Path) -> Path:
    data = yaml.safe_load((ROOT / "config.yaml").read_text())
    data["logging"]["level"] = "DEBUG"
    data["websockets"]["enabled"] = True
    data["exchange"]["rate_limit_tier"] = "prime"
    data["discovery"]["max_markets_to_trade"] = 4
    path = tmp_path / "debug.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _runner(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "runner.py"), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait(predicate: Any, timeout_s: float) -> bool:
    deadline = REAL.monotonic() + timeout_s
    while not predicate():
        if REAL.monotonic() > deadline:
            return False
        REAL.wait(0.05)
    return True


def _orders_created(server: EmbeddedExchange) -> int:
    return int(server.traffic.snapshot().get(USER, {}).get("orders", {}).get("created", 0))


def _report(findings: list[Finding]) -> str:
    return "secret material found:\n" + "\n".join(str(f) for f in findings[:20])


def _secrets(pem: str, recorder: Recorder, access_key: str) -> list[Secret]:
    with recorder.lock:
        signatures = list(recorder.signatures)
    return [*pem_secrets(pem), *signature_secrets(signatures), Secret("access key id", access_key)]


@pytest.mark.slow
def test_a_daemon_run_with_faults_and_revoked_credentials_writes_no_secret(
    tmp_path: Path, exchange: tuple[EmbeddedExchange, Recorder], rsa_key: rsa.RSAPrivateKey, rsa_pem: str
) -> None:
    server, recorder = exchange
    account = server.create_account(USER, public_key=rsa_key.public_key())
    log_dir, db = tmp_path / "logs", tmp_path / "run.db"
    proc = _runner(
        "--config",
        str(_debug_config(tmp_path)),
        "--mode",
        "discovery",
        "--duration",
        "20",
        "--log-dir",
        str(log_dir),
        "--db",
        str(db),
        env=_env(account.access_key, rsa_pem, server),
        cwd=tmp_path,  # anything the daemon writes by default lands in tmp_path, and is scanned
    )
    try:
        # Let it start and quote (signed requests, the WebSocket handshake, orders), then revoke the key: quoting,
        # amending and cancelling fail with 401 and the sessions fault; then a SIGTERM shutdown, whose order sweep
        # is refused too.
        assert _wait(lambda: _orders_created(server) >= 2 or proc.poll() is not None, 25), "the daemon never quoted"
        assert proc.poll() is None, "the daemon stopped before it was asked to"
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        server.keys.register(USER, other.public_key(), account.access_key)
        _wait(lambda: recorder.refused >= 5, 5)
        # A refused key is fatal (DESIGN.md #6): the daemon halts, cancels what it can and exits 1 by itself.
        stopped_by_itself = _wait(lambda: proc.poll() is not None, 20)
        if not stopped_by_itself:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert recorder.refused > 0, "the revoked key was never refused: the failure paths did not run"
    assert stopped_by_itself and proc.returncode == 1, (proc.returncode, err[-2000:])
    assert b"halting and shutting down" in err
    assert len(recorder.signatures) >= 40
    assert db.exists() and err  # the run wrote something to scan (and the scan below reads all of tmp_path)

    findings = scan_paths_for_secrets([tmp_path], _secrets(rsa_pem, recorder, account.access_key))
    findings += scan_paths_for_secrets({"stdout": out, "stderr": err}, _secrets(rsa_pem, recorder, account.access_key))
    assert not findings, _report(findings)


def _corrupted(pem: str) -> str:
    """The PEM with one base64 character of its body changed: PEM-shaped, but not a loadable key."""
    lines = pem.splitlines()
    middle = len(lines) // 2
    line = lines[middle]
    lines[middle] = line[:10] + ("A" if line[10] != "A" else "B") + line[11:]
    return "\n".join(lines) + "\n"


def test_start_up_refusals_and_check_config_write_no_secret(
    tmp_path: Path, exchange: tuple[EmbeddedExchange, Recorder], rsa_key: rsa.RSAPrivateKey, rsa_pem: str
) -> None:
    server, recorder = exchange
    account = server.create_account(USER, public_key=rsa_key.public_key())
    stranger = server.create_account("stranger")  # registered with a key of its own, not ours
    config = str(_debug_config(tmp_path))
    env = _env(account.access_key, rsa_pem, server)
    runs = {
        # The effective config, with the key loaded from the environment.
        "check-config": (["--check-config"], env),
        # A key the exchange does not hold for this key id: every signed request is refused from the start.
        "refused": (["--mode", "discovery", "--duration", "10"], _env(stranger.access_key, rsa_pem, server)),
        # Keys that cannot be loaded: their text must not be echoed in the error.
        "corrupted key": (["--duration", "10"], _env(account.access_key, _corrupted(rsa_pem), server)),
        "truncated key": (["--duration", "10"], _env(account.access_key, rsa_pem[: len(rsa_pem) // 2], server)),
    }
    procs = {}
    for name, (args, run_env) in runs.items():
        run_dir = tmp_path / name.replace(" ", "-")
        run_dir.mkdir()
        common = ["--config", config, "--log-dir", str(run_dir / "logs"), "--db", str(run_dir / "run.db")]
        procs[name] = _runner(*common, *args, env=run_env, cwd=run_dir)
    outputs: dict[str, bytes] = {}
    codes = {}
    for name, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        outputs[f"{name} stdout"], outputs[f"{name} stderr"] = out, err
        codes[name] = proc.returncode
    assert codes == {"check-config": 0, "refused": 1, "corrupted key": 2, "truncated key": 2}, codes
    assert b'"configured": true' in outputs["check-config stdout"]
    assert recorder.refused > 0 and recorder.signatures  # the refused run really signed and was refused

    secrets = _secrets(rsa_pem, recorder, account.access_key) + list(pem_secrets(_corrupted(rsa_pem), label="bad key"))
    findings = scan_paths_for_secrets([tmp_path], secrets) + scan_paths_for_secrets(outputs, secrets)
    assert not findings, _report(findings)


def test_client_errors_and_reprs_carry_no_secret(
    exchange: tuple[EmbeddedExchange, Recorder],
    rsa_key: rsa.RSAPrivateKey,
    rsa_pem: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What a caller sees of a failure — message, repr, the whole formatted chain — and what was logged (caught
    here before the app's redacting filter could hide it) hold neither key nor signature."""
    server, recorder = exchange
    account = server.create_account(USER, public_key=rsa_key.public_key())
    credentials = load_credentials({"KALSHI_ACCESS_KEY": account.access_key, "KALSHI_PRIVATE_KEY": rsa_pem})
    assert credentials is not None
    texts: dict[str, str] = {"credentials repr": repr(credentials)}
    caplog.set_level("DEBUG")
    # 401: the exchange no longer holds our key.
    server.keys.register(
        USER, rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(), account.access_key
    )
    failures: list[BaseException] = []
    with KalshiTradingAPI(server.rest_url, credentials, REAL, max_retries=1, backoff_base_s=0.01) as api:
        texts["api repr"] = repr(api)
        for call in (
            api.get_balance,
            lambda: api.place_order("KX-NONE", BookSide.BID, 4700, 100),
            api.cancel_all_orders,
        ):
            with pytest.raises(AuthenticationError) as info:
                call()
            failures.append(info.value)
    # No connection at all: a port nobody listens on.
    with KalshiTradingAPI(
        "http://127.0.0.1:9/trade-api/v2", credentials, REAL, max_retries=1, backoff_base_s=0.01
    ) as api:
        with pytest.raises(NetworkError) as net:
            api.get_balance()
        failures.append(net.value)
    # A key that cannot be loaded.
    with pytest.raises(CredentialsError) as bad:
        load_credentials({"KALSHI_ACCESS_KEY": account.access_key, "KALSHI_PRIVATE_KEY": _corrupted(rsa_pem)})
    failures.append(bad.value)
    for i, error in enumerate(failures):
        texts[f"failure {i} str"] = str(error)
        texts[f"failure {i} repr"] = repr(error)
        texts[f"failure {i} traceback"] = "".join(traceback.format_exception(error))
        texts[f"failure {i} attributes"] = repr(vars(error))
    texts["log records"] = caplog.text
    assert recorder.signatures and recorder.refused >= 3
    secrets = _secrets(rsa_pem, recorder, account.access_key) + list(pem_secrets(_corrupted(rsa_pem), label="bad key"))
    findings = scan_paths_for_secrets(texts, secrets)
    assert not findings, _report(findings)


# --- the scanner itself: it must find what it is for, and never print it ----------------------------------------


def test_the_scanner_finds_keys_and_signatures_however_they_were_written(tmp_path: Path, rsa_pem: str) -> None:
    body = pem_secrets(rsa_pem)[1].text
    signature = "Zm9v" * 86  # 344 characters, the length of a 2048-bit RSA-PSS signature in base64
    secrets = [*pem_secrets(rsa_pem), *signature_secrets([signature])]
    planted = {
        "whole.log": f"2026-01-01 INFO loaded\n{rsa_pem}\n",
        "one-line.env": "KALSHI_PRIVATE_KEY=" + rsa_pem.replace("\n", "\\n") + "\n",
        "json.txt": '{"key": "' + rsa_pem.replace("\n", "\\n").replace("/", "\\/") + '"}',
        "fragment.log": f"error near {body[500:541]} in request\n",  # 41 characters, mid-line
        "utf16.bin": ("x" + body[100:160]).encode("utf-16-le"),
        "signature.log": f"headers {{'KALSHI-ACCESS-SIGNATURE': '{signature[:45]}...'}}\n",
    }
    for name, content in planted.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "clean.log").write_text("nothing to see: " + body[:39] + "\n")  # 39 < 40 characters

    findings = scan_paths_for_secrets([tmp_path, tmp_path / "gone.db-wal"], secrets)
    found = {Path(f.where).name for f in findings}
    assert found == set(planted)
    assert all(body[:40] not in str(f) and body[:40] not in repr(f) for f in findings)  # reports never quote
    whole = next(f for f in findings if Path(f.where).name == "whole.log" and f.whole)
    assert whole.secret == "private key (PEM)"
    fragment = next(f for f in findings if Path(f.where).name == "fragment.log")
    assert (fragment.secret, fragment.length, fragment.whole) == ("private key (base64 body)", 41, False)
    assert scan_text_for_secrets(f"x{signature}y", secrets)[0].secret == "request signature #1"


def test_the_scanner_reports_nothing_for_other_keys_and_ordinary_text(rsa_pem: str) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    ordinary = "2026-01-01 INFO kalshi_mm.app: mode=discovery exchange=sim credentials={'configured': True}\n" * 50
    assert scan_text_for_secrets(other_pem + ordinary, pem_secrets(rsa_pem)) == []


def test_secrets_are_kept_out_of_the_image_and_the_repository() -> None:
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    gitignore = (ROOT / ".gitignore").read_text().splitlines()
    for pattern in (".env", "*.pem", "*.key", "keys/", ".venv/", "data/", "logs/", ".git", "__pycache__/"):
        assert pattern in dockerignore, f".dockerignore lacks {pattern}"
    for pattern in (".env", "*.pem", "*.key", "keys/"):
        assert pattern in gitignore, f".gitignore lacks {pattern}"
    assert "!.env.example" in dockerignore and "!.env.example" in gitignore  # the template has no values
