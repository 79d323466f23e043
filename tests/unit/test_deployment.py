"""No Docker engine runs here: check that the Dockerfile, fly.toml and README agree with each other."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def docker_cmd() -> list[str]:
    cmds = [rest for word, rest in dockerfile_instructions() if word == "CMD"]
    assert len(cmds) == 1, "exactly one CMD"
    return json.loads(cmds[0])  # exec form, so SIGTERM reaches python rather than a shell


def option(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_image_base_user_and_command() -> None:
    instructions = dockerfile_instructions()
    base = next(rest for word, rest in instructions if word == "FROM")
    assert re.fullmatch(r"python:3\.(1[1-9])-slim(-\w+)?", base), base
    users = [rest for word, rest in instructions if word == "USER"]
    assert users and users[-1] not in ("root", "0"), "the daemon must not run as root"
    assert any(word == "RUN" and "requirements.txt" in rest for word, rest in instructions)
    cmd = docker_cmd()
    assert cmd[:4] == ["python", "runner.py", "--config", "config.yaml"]
    assert option(cmd, "--db").startswith("/data/") and option(cmd, "--log-dir").startswith("/data/")


def test_fly_mounts_the_data_path_and_allows_a_clean_shutdown() -> None:
    fly = tomllib.loads((ROOT / "fly.toml").read_text())
    mounts = fly["mounts"] if isinstance(fly["mounts"], list) else [fly["mounts"]]
    destinations = {m["destination"] for m in mounts}
    cmd = docker_cmd()
    for path in (option(cmd, "--db"), option(cmd, "--log-dir")):
        assert any(path == d or path.startswith(d.rstrip("/") + "/") for d in destinations), path
    assert fly["kill_signal"] == "SIGTERM"
    assert int(fly["kill_timeout"]) >= 30
    stop = [rest for word, rest in dockerfile_instructions() if word == "STOPSIGNAL"]
    assert stop in ([], ["SIGTERM"])


def test_readme_documents_the_same_paths() -> None:
    readme = (ROOT / "README.md").read_text()
    cmd = docker_cmd()
    assert "/data" in readme
    assert option(cmd, "--db") in readme
    assert "kill_timeout" in readme
    assert "flyctl secrets set KALSHI_PRIVATE_KEY" in readme


def test_fly_checks_and_metrics_reach_the_ops_endpoint_the_image_serves() -> None:
    import yaml

    fly = tomllib.loads((ROOT / "fly.toml").read_text())
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    cmd = docker_cmd()
    port = int(option(cmd, "--ops-port")) if "--ops-port" in cmd else config["ops_http"]["port"]
    assert config["ops_http"]["enabled"] is True
    # Fly reaches the machine over its private network: the image must listen beyond loopback.
    assert option(cmd, "--ops-bind") in ("0.0.0.0", "::")
    checks = [c for c in fly["checks"].values() if c.get("path") == "/health"]
    assert checks and all(c["type"] == "http" and int(c["port"]) == port for c in checks)
    assert (int(fly["metrics"]["port"]), fly["metrics"]["path"]) == (port, "/metrics")
    exposed = [rest for word, rest in dockerfile_instructions() if word == "EXPOSE"]
    assert str(port) in " ".join(exposed)
    # The kill timeout covers the shutdown's cancel-all: the sweep's bounded attempts plus the DB flush.
    assert int(fly["kill_timeout"]) >= 30
