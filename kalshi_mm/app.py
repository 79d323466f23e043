"""Composition root: command line -> validated config -> credentials -> endpoint -> (trading).

``runner.py`` is a thin shim over :func:`main`. Exit statuses: 0 success (a clean ``--duration`` run or a
clean shutdown on SIGINT/SIGTERM), 1 a fatal error while trading (credentials refused, database unusable,
orders of ours left resting after shutdown), 2 bad config, credentials or arguments (with a message naming
the problem, never a traceback); a second SIGINT/SIGTERM during shutdown exits at once (128 + signal).

For ``--exchange sim`` the embedded exchange is started here with a paper account and WebSocket streaming
enabled (see :func:`with_sim_websocket`), and handed to the :class:`~kalshi_mm.runtime.Runtime`, which
stops it last.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from kalshi_mm.api.errors import ApiError, FatalError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.clock import Clock, LiveClock
from kalshi_mm.config.credentials import (
    Credentials,
    CredentialsError,
    EndpointKind,
    ExchangeEndpoint,
    load_credentials,
    mask_key_id,
    resolve_endpoint,
)
from kalshi_mm.config.settings import AppConfig, ConfigError, config_to_dict, load_config, validate_config
from kalshi_mm.logs import configure_logging, register_secret
from kalshi_mm.runtime import ApiFactory, Runtime, StartupError
from kalshi_mm.sim.server import EmbeddedExchange

log = logging.getLogger("kalshi_mm.app")

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_USAGE = 2

PROD_BANNER = """
################################################################################
#  PRODUCTION: kalshi_mm is connected to Kalshi's live exchange with REAL MONEY. #
#  Every order it places is a real order. Stop with Ctrl+C / SIGTERM.           #
################################################################################"""


def build_parser() -> argparse.ArgumentParser:
    commands = "\n".join(f"  {name:<11} {help_text}" for name, (_, help_text) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="runner.py",
        description="kalshi_mm market-making daemon",
        epilog=f"commands (runner.py <command> --help):\n{commands}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default="config.yaml", help="path to the YAML config (default: config.yaml)")
    parser.add_argument("--mode", choices=["volatility", "discovery"], help="override config 'mode'")
    parser.add_argument(
        "--exchange",
        choices=["auto", "sim", "demo", "prod"],
        help="override config exchange.environment (auto: embedded exchange without credentials)",
    )
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="run this long, then shut down cleanly")
    parser.add_argument("--db", metavar="PATH", help="override analytics.db_path")
    parser.add_argument("--log-dir", metavar="DIR", help="override logging.log_dir")
    parser.add_argument("--ops-bind", metavar="ADDR", help="override ops_http.bind (0.0.0.0 in a container)")
    parser.add_argument("--ops-port", type=int, metavar="PORT", help="override ops_http.port (0 = any free port)")
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the config and credentials, print the effective config (secrets masked), exit",
    )
    return parser


def apply_overrides(cfg: AppConfig, args: argparse.Namespace) -> AppConfig:
    """Return ``cfg`` with the command-line overrides applied (each one validated like the YAML value)."""
    data = config_to_dict(cfg)
    if args.mode:
        data["mode"] = args.mode
    if args.exchange:
        data["exchange"]["environment"] = args.exchange
    if args.db:
        data["analytics"]["db_path"] = args.db
    if args.log_dir:
        data["logging"]["log_dir"] = args.log_dir
    if args.ops_bind is not None:
        data["ops_http"]["bind"] = args.ops_bind
    if args.ops_port is not None:
        data["ops_http"]["port"] = args.ops_port
    return validate_config(data, source="command line")


def environment(env_file: Path | None) -> dict[str, str]:
    """The process environment over the values of ``.env`` (the real environment wins, as python-dotenv's default)."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return merged


def describe_credentials(credentials: Credentials | None) -> dict[str, Any]:
    if credentials is None:
        return {"configured": False}
    return {
        "configured": True,
        "access_key": mask_key_id(credentials.access_key),
        "private_key": f"<RSA {credentials.key_bits}-bit key, loaded and checked>",
    }


def describe_endpoint(endpoint: ExchangeEndpoint) -> dict[str, Any]:
    if endpoint.kind is EndpointKind.SIM:
        return {"kind": "sim", "rest_url": "(embedded exchange on 127.0.0.1, port chosen at start)"}
    return {"kind": endpoint.kind.value, "rest_url": endpoint.rest_url, "ws_url": endpoint.ws_url}


# Operator commands: ``runner.py <command> [options]``; each module has ``main(argv, env) -> int``. Imported
# only when used, so ``report`` does not load the trading stack and a daemon run does not load matplotlib.
COMMANDS: dict[str, tuple[str, str]] = {
    "report": ("kalshi_mm.cli.report", "P&L, fills and session report from the analytics DB"),
    "status": ("kalshi_mm.cli.control", "a running daemon's state (via its HTTP endpoint)"),
    "halt": ("kalshi_mm.cli.control", "halt a running daemon's trading (cancels only)"),
    "resume": ("kalshi_mm.cli.control", "resume a halted daemon"),
    "cancel-all": ("kalshi_mm.cli.cancel_all", "cancel every resting order of the account on the exchange"),
}


def run_command(name: str, argv: Sequence[str], env: Mapping[str, str] | None) -> int:
    import importlib

    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(name, list(argv), env))


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return run_command(argv[0], argv[1:], env)
    args = build_parser().parse_args(argv)
    if args.duration is not None and not args.duration > 0:
        print(
            f"runner.py: error: --duration must be a positive number of seconds, got {args.duration}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        cfg = apply_overrides(load_config(args.config), args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    env = environment(Path(".env")) if env is None else dict(env)
    try:
        credentials = load_credentials(env)
        if credentials is not None:
            for secret in credentials.secret_texts:
                register_secret(secret)
        endpoint = resolve_endpoint(
            cfg.exchange.environment,
            credentials,
            env,
            {
                "demo": (cfg.exchange.demo.rest_url, cfg.exchange.demo.ws_url),
                "prod": (cfg.exchange.prod.rest_url, cfg.exchange.prod.ws_url),
            },
        )
    except CredentialsError as exc:
        print(f"credentials error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    if args.check_config:
        effective = {
            "config_file": str(args.config),
            "config": config_to_dict(cfg),
            "credentials": describe_credentials(credentials),
            "exchange_endpoint": describe_endpoint(endpoint),
        }
        print(json.dumps(effective, indent=2, default=str))
        return EXIT_OK

    configure_logging(cfg.logging.level, Path(cfg.logging.log_dir))
    if endpoint.real_money:
        log.warning(PROD_BANNER)
    log.info("mode=%s exchange=%s credentials=%s", cfg.mode, endpoint.kind.value, describe_credentials(credentials))
    log.debug("effective config: %s", json.dumps(config_to_dict(cfg), default=str))
    clock = LiveClock()
    embedded = None
    if endpoint.kind is EndpointKind.SIM:
        embedded, endpoint, credentials = start_embedded_exchange(cfg.exchange.rate_limit_tier)
        cfg = with_sim_websocket(cfg)
    return run_trading(cfg, endpoint, credentials, clock, exchange=embedded, duration_s=args.duration, env=env)


def with_sim_websocket(cfg: AppConfig) -> AppConfig:
    """The config with the WebSocket feed on: the embedded exchange serves it on 127.0.0.1, so a paper run
    exercises the same streaming path (books, fills, liveness checks) as production instead of REST polling."""
    if cfg.websockets.enabled:
        return cfg
    data = config_to_dict(cfg)
    data["websockets"]["enabled"] = True
    log.info("embedded exchange: websockets.enabled set to true for this run (the exchange streams locally)")
    return validate_config(data, source="embedded exchange")


def run_trading(
    cfg: AppConfig,
    endpoint: ExchangeEndpoint,
    credentials: Credentials | None,
    clock: Clock,
    *,
    exchange: EmbeddedExchange | None = None,
    duration_s: float | None = None,
    install_signals: bool = True,
    api_factory: ApiFactory = KalshiTradingAPI,
    env: Mapping[str, str] | None = None,
) -> int:
    """Build the runtime, run the configured mode on it, shut down in order; the process exit status.

    ``exchange`` (the embedded exchange of a sim run) is handed to the runtime, which stops it last.
    ``env``: the environment the alert webhook URL is read from (None: alerts off).
    """
    # Imported here: a mode's dependencies (numpy for scoring, ...) load only when that mode runs.
    from kalshi_mm.modes.discovery_mode import run_discovery_mode
    from kalshi_mm.modes.volatility_mode import run_volatility_mode

    run_mode = run_volatility_mode if cfg.mode == "volatility" else run_discovery_mode

    try:
        rt = Runtime.build(cfg, endpoint, credentials, clock, exchange=exchange, api_factory=api_factory, env=env)
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        if exchange is not None:
            exchange.stop()
        return EXIT_FATAL
    code = EXIT_FATAL
    try:
        if install_signals:
            rt.install_signal_handlers()
        if duration_s is not None:  # also bounds a start-up that keeps retrying a failing exchange
            threading.Thread(target=_stop_after, args=(rt, duration_s), name="duration", daemon=True).start()
        # start() is False when a stop came while the exchange was still failing: nothing ran, exit 0.
        code = run_mode(rt, duration_s) if rt.start() else EXIT_OK
        if rt.fatal_reason is not None:
            code = EXIT_FATAL
    except FatalError as exc:
        log.error("fatal: %s; shutting down", exc)
        code = EXIT_FATAL
    except ApiError as exc:
        # A transient or rejected error that exhausted its retries where nothing handles it (e.g. the start-up
        # balance check in a burst of 429s): a logged exit 1, not a traceback.
        log.error("exchange error, retries exhausted: %s; shutting down", exc)
        code = EXIT_FATAL
    finally:
        if not rt.close():
            code = code or EXIT_FATAL
    log.info("exit status %d", code)
    return code


def _stop_after(rt: Runtime, duration_s: float) -> None:
    if not rt.clock.wait(duration_s, rt.stop_event):
        rt.request_stop(f"--duration of {duration_s:g} s elapsed")


def start_embedded_exchange(tier: str) -> tuple[EmbeddedExchange, ExchangeEndpoint, Credentials]:
    """Start the embedded exchange in-process on ephemeral ports, with a funded paper account."""
    embedded = EmbeddedExchange(LiveClock(), scenario="default", tier=tier).start()
    account = embedded.create_account("paper-trader")
    assert account.private_key is not None  # generated by create_account
    credentials = Credentials(access_key=account.access_key, private_key=account.private_key)
    endpoint = ExchangeEndpoint(EndpointKind.SIM, embedded.rest_url, embedded.ws_url)
    log.info("paper trading against the embedded exchange at %s", embedded.rest_url)
    return embedded, endpoint, credentials
