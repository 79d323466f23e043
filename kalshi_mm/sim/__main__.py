"""Run the embedded exchange on its own: ``python -m kalshi_mm.sim --port 0 --credentials-out DIR``.

Creates a funded account with a fresh RSA key pair (or registers ``--public-key``), writes ``DIR/sim.env``
with ``KALSHI_ACCESS_KEY``, ``KALSHI_PRIVATE_KEY`` (the PEM's path), ``KALSHI_BASE_URL`` and ``KALSHI_WS_URL``,
prints the URLs one per line, and serves until SIGINT/SIGTERM. Point the daemon at it with
``set -a; . DIR/sim.env; python runner.py --config config.yaml``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from kalshi_mm.api.ratelimit import TIERS
from kalshi_mm.clock import Clock, LiveClock, SimClock
from kalshi_mm.sim.faults import FaultConfig, FaultConfigError
from kalshi_mm.sim.scenario import ScenarioError, available_scenarios
from kalshi_mm.sim.server import DEFAULT_ACCOUNT_CASH_E4, EmbeddedExchange
from kalshi_mm.units import UnitError, format_dollars, parse_config_dollars


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m kalshi_mm.sim", description="Kalshi-compatible embedded exchange")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="REST port; 0 = ephemeral (default)")
    p.add_argument("--ws-port", type=int, default=0, help="WebSocket port; 0 = ephemeral (default)")
    p.add_argument("--scenario", default="default", help=f"scenario name ({', '.join(available_scenarios())}) or path")
    p.add_argument("--seed", type=int, default=0, help="random seed of the simulated market")
    p.add_argument("--tier", default="basic", choices=sorted(TIERS), help="rate-limit tier of accounts")
    p.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per real second (default 1)")
    p.add_argument("--cash", default=format_dollars(DEFAULT_ACCOUNT_CASH_E4), help="account funding in dollars")
    p.add_argument("--user", default="trader", help="user id of the account to create")
    p.add_argument("--credentials-out", type=Path, help="directory for sim.env (and the generated private key)")
    p.add_argument("--public-key", type=Path, help="register this RSA public key (PEM) instead of generating one")
    p.add_argument(
        "--faults",
        default="{}",
        help="faults to inject from the start, as JSON, e.g. '{\"rest_5xx_rate\": 0.05}' "
        "(change them later with POST /admin/faults)",
    )
    return p


def _write_env(directory: Path, values: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "sim.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.time_scale <= 0:
        print("error: --time-scale must be positive", file=sys.stderr)
        return 2
    try:
        cash_e4 = parse_config_dollars(args.cash, "--cash")
    except UnitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    public_key = None
    if args.public_key is not None:
        try:
            key = load_pem_public_key(args.public_key.read_bytes())
        except (OSError, ValueError) as exc:
            print(
                f"error: --public-key {args.public_key}: not a readable PEM public key ({type(exc).__name__})",
                file=sys.stderr,
            )
            return 2
        if not isinstance(key, rsa.RSAPublicKey):
            print(f"error: --public-key {args.public_key}: Kalshi signing needs an RSA key", file=sys.stderr)
            return 2
        public_key = key
    try:
        faults = FaultConfig().updated(json.loads(args.faults))
    except (json.JSONDecodeError, FaultConfigError, TypeError, AttributeError) as exc:
        print(f"error: --faults: {exc}", file=sys.stderr)
        return 2
    live = LiveClock()
    # Scaled time moves the market N× faster, but clients sign with real time: check signatures on real time.
    clock: Clock = live if args.time_scale == 1.0 else SimClock(start=live.time(), scale=args.time_scale)
    try:
        server = EmbeddedExchange(
            clock,
            scenario=args.scenario,
            seed=args.seed,
            tier=args.tier,
            host=args.host,
            port=args.port,
            ws_port=args.ws_port,
            auth_clock=live,
            faults=faults,
        )
    except (ScenarioError, FileNotFoundError) as exc:
        print(f"error: scenario: {exc}", file=sys.stderr)
        return 2
    account = server.create_account(args.user, cash_e4, public_key)
    server.start()
    ws_url = server.ws_url
    if args.credentials_out is not None:
        env = {"KALSHI_ACCESS_KEY": account.access_key}
        if account.private_key is not None:
            key_path = args.credentials_out / "sim_private_key.pem"
            args.credentials_out.mkdir(parents=True, exist_ok=True)
            key_path.write_bytes(account.private_pem())
            os.chmod(key_path, 0o600)
            env["KALSHI_PRIVATE_KEY"] = str(key_path.resolve())
        env.update({"KALSHI_BASE_URL": server.rest_url, "KALSHI_WS_URL": ws_url})
        _write_env(args.credentials_out, env)
    print(f"KALSHI_BASE_URL={server.rest_url}", flush=True)
    print(f"KALSHI_WS_URL={ws_url}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
