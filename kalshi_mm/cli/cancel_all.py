"""``runner.py cancel-all``: cancel every resting order of the account, directly on the exchange.

The kill switch that needs nothing but the credentials: it works whether the daemon is running, wedged or
dead. It loads the config and credentials exactly as the daemon does (``config.yaml``, the environment over
``.env``, the same endpoint rules), lists the account's resting orders (every page), cancels them with V2 batch
cancels, and re-reads until none is left (a bounded number of rounds). Every resting order of the account goes,
not only the daemon's: this is the big red button.

Exit status: 0 when the exchange shows no resting order at the end, 1 when some remain (a daemon still quoting
re-places its orders: stop it, or ``runner.py halt`` it, first) or the exchange could not be read, 2 for a bad
config, credentials or argument.

``--exchange sim`` is refused: the embedded exchange of a paper run lives inside the daemon process and goes
away with it. To reach an exchange started on its own (``python -m kalshi_mm.sim``) or any other URL, pass
``--rest-url`` (or set ``KALSHI_BASE_URL``, as for the daemon).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from kalshi_mm.api.errors import ApiError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.clock import LiveClock
from kalshi_mm.config.credentials import (
    ENV_BASE_URL,
    ENV_WS_URL,
    CredentialsError,
    EndpointKind,
    load_credentials,
    resolve_endpoint,
)
from kalshi_mm.config.settings import ConfigError, load_config
from kalshi_mm.logs import register_secret
from kalshi_mm.recovery.cancel import cancel_until_clean

__all__ = ["main"]

EXIT_OK = 0
EXIT_LEFT = 1
EXIT_USAGE = 2
DEFAULT_ATTEMPTS = 5


def build_parser(name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"runner.py {name}",
        description="Cancel every resting order of the account on the exchange (works with or without the daemon).",
    )
    parser.add_argument("--config", default="config.yaml", help="path to the YAML config (default: config.yaml)")
    parser.add_argument(
        "--exchange",
        choices=["auto", "sim", "demo", "prod"],
        help="override config exchange.environment (sim is refused: that exchange lives inside the daemon)",
    )
    parser.add_argument(
        "--rest-url",
        metavar="URL",
        help=f"the exchange's REST base URL (ending in /trade-api/v2); overrides {ENV_BASE_URL}",
    )
    parser.add_argument(
        "--attempts",
        type=int,
        default=DEFAULT_ATTEMPTS,
        metavar="N",
        help=f"cancel rounds before giving up on orders that keep appearing (default {DEFAULT_ATTEMPTS})",
    )
    return parser


def _error(message: str) -> int:
    print(f"cancel-all: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(name: str, argv: list[str], env: Mapping[str, str] | None) -> int:
    args = build_parser(name).parse_args(argv)
    if args.attempts < 1:
        return _error(f"--attempts must be at least 1, got {args.attempts}")
    if args.exchange == "sim":
        return _error(
            "--exchange sim: the embedded exchange of a paper run lives inside the daemon and stops with it; "
            "for an exchange started on its own pass --rest-url (or set KALSHI_BASE_URL)"
        )
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from kalshi_mm.app import environment  # the daemon's own rule: process environment over .env

    values = environment(Path(".env")) if env is None else dict(env)
    if args.rest_url:
        values[ENV_BASE_URL] = args.rest_url
        values.pop(ENV_WS_URL, None)  # cancel-all never opens a WebSocket; a stale one must not fail validation
    try:
        credentials = load_credentials(values)
        if credentials is None:
            return _error(
                "no credentials: set KALSHI_ACCESS_KEY and KALSHI_PRIVATE_KEY (environment or .env); "
                "without them there is no account to cancel orders of"
            )
        for secret in credentials.secret_texts:
            register_secret(secret)
        endpoint = resolve_endpoint(
            args.exchange or cfg.exchange.environment,
            credentials,
            values,
            {
                "demo": (cfg.exchange.demo.rest_url, cfg.exchange.demo.ws_url),
                "prod": (cfg.exchange.prod.rest_url, cfg.exchange.prod.ws_url),
            },
        )
    except CredentialsError as exc:
        print(f"credentials error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if endpoint.kind is EndpointKind.SIM or endpoint.rest_url is None:
        return _error("exchange.environment is 'sim': that exchange lives inside the daemon; pass --rest-url")
    where = f"{endpoint.kind.value} ({endpoint.rest_url})"
    if endpoint.real_money:
        print(f"cancel-all: PRODUCTION exchange {endpoint.rest_url}: cancelling real orders", file=sys.stderr)
    api = KalshiTradingAPI(endpoint.rest_url, credentials, LiveClock(), tier=cfg.exchange.rate_limit_tier)
    try:
        tally = cancel_until_clean(api, lambda orders: orders, attempts=args.attempts)
    except ApiError as exc:
        print(f"cancel-all: {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_LEFT
    finally:
        api.close()
    print(
        f"cancel-all: {where}: {tally.found} resting order(s) found; {len(tally.cancelled)} cancelled, "
        f"{len(tally.gone)} already gone, {len(tally.failed)} cancel(s) failed; "
        f"{len(tally.remaining)} still resting after {tally.rounds} read(s)"
    )
    if tally.remaining:
        print(
            "cancel-all: orders are still resting (is a daemon still quoting? stop it or run `runner.py halt` "
            "first, then run cancel-all again): " + ", ".join(o.order_id for o in tally.remaining[:20]),
            file=sys.stderr,
        )
        return EXIT_LEFT
    return EXIT_OK
