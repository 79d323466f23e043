"""``runner.py status | halt | resume``: talk to a running daemon through its ops HTTP endpoint.

* ``status``: the daemon's ``/status`` as aligned tables (``--json``: the JSON as the daemon sent it).
* ``halt --reason TEXT``: trading HALTED (sessions cancel and place nothing until a resume).
* ``resume --reason TEXT``: trading ACTIVE again.

The endpoint is ``--url``, or the config's ``ops_http`` bind and port (``--config``, default ``config.yaml``;
a wildcard bind is reached on loopback). When the environment (or ``.env``) holds the control token named by
``ops_http.control_token_env``, halt and resume send it as ``Authorization: Bearer``.

Exit statuses: 0 done; 1 no daemon answers at the URL, or it refused or failed the request (the message says
which); 2 bad arguments or config.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from kalshi_mm.config.settings import ConfigError, load_config
from kalshi_mm.units import format_count, format_dollars, format_price

__all__ = ["build_parser", "default_url", "format_status", "main", "table"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_TOKEN_ENV = "KALSHI_MM_CONTROL_TOKEN"
_WILDCARD_BINDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class CommandError(Exception):
    """A failure to report on stderr with an exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


def build_parser(name: str) -> argparse.ArgumentParser:
    about = {
        "status": "Show a running daemon's trading state, sessions, positions, P&L, fills and health.",
        "halt": "Halt a running daemon's trading: sessions cancel their orders and place none until resumed.",
        "resume": "Resume a halted (or reducing) daemon's trading.",
    }
    parser = argparse.ArgumentParser(prog=f"runner.py {name}", description=about[name])
    parser.add_argument("--url", help="the daemon's ops endpoint (default: from the config's ops_http bind and port)")
    parser.add_argument("--config", default="config.yaml", help="config for the default URL (default: config.yaml)")
    parser.add_argument("--json", action="store_true", help="print the daemon's JSON answer instead of tables")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for the daemon")
    if name in ("halt", "resume"):
        parser.add_argument("--reason", default=f"operator {name} (runner.py {name})", help="why (recorded)")
    return parser


def default_url(bind: str, port: int) -> str:
    """The URL a client on this machine uses for a server bound to ``bind:port``."""
    host = _WILDCARD_BINDS.get(bind, bind)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _environment(env: Mapping[str, str] | None) -> Mapping[str, str]:
    if env is not None:
        return env
    from kalshi_mm.app import environment  # the daemon's own rule: process environment over .env

    return environment(Path(".env"))


def _resolve(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[str, str | None]:
    """(base URL, control token or None)."""
    token_env = DEFAULT_TOKEN_ENV
    url = args.url
    if url is None or Path(args.config).is_file():
        try:
            cfg = load_config(args.config)
        except ConfigError as exc:
            if url is None:
                raise CommandError(f"config error: {exc}", EXIT_USAGE) from exc
        else:
            token_env = cfg.ops_http.control_token_env
            if url is None:
                if not cfg.ops_http.enabled:
                    raise CommandError(f"{args.config}: ops_http.enabled is false: the daemon serves no endpoint")
                if cfg.ops_http.port == 0:
                    raise CommandError(
                        f"{args.config}: ops_http.port is 0 (a free port chosen at start): pass --url", EXIT_USAGE
                    )
                url = default_url(cfg.ops_http.bind, cfg.ops_http.port)
    return url.rstrip("/"), env.get(token_env) or None


def _call(method: str, url: str, timeout_s: float, **kwargs: Any) -> requests.Response:
    try:
        return requests.request(method, url, timeout=timeout_s, **kwargs)
    except requests.ConnectionError as exc:
        raise CommandError(
            f"no kalshi_mm daemon is answering at {url} (is it running? is --url right?): {exc}"
        ) from exc
    except requests.Timeout as exc:
        raise CommandError(f"the daemon at {url} did not answer within {timeout_s:g} s") from exc
    except requests.RequestException as exc:
        raise CommandError(f"request to {url} failed: {exc}") from exc


def _json_of(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise CommandError(
            f"{response.url} answered {response.status_code} with non-JSON (not a kalshi_mm daemon?)"
        ) from exc
    if not isinstance(data, dict):
        raise CommandError(f"{response.url} answered {response.status_code} with unexpected JSON")
    return data


def main(name: str, argv: list[str], env: Mapping[str, str] | None) -> int:
    args = build_parser(name).parse_args(argv)
    if not args.timeout > 0:
        print(f"runner.py {name}: error: --timeout must be positive, got {args.timeout}", file=sys.stderr)
        return EXIT_USAGE
    try:
        url, token = _resolve(args, _environment(env))
        if name == "status":
            data = _json_of(_call("GET", f"{url}/status", args.timeout))
            print(json.dumps(data, indent=2) if args.json else format_status(data, url))
            return EXIT_OK
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = _call("POST", f"{url}/control/{name}", args.timeout, json={"reason": args.reason}, headers=headers)
        data = _json_of(response)
        if response.status_code != 200 or not data.get("ok"):
            raise CommandError(f"the daemon refused {name} ({response.status_code}): {data.get('error', data)}")
    except CommandError as exc:
        print(f"runner.py {name}: {exc}", file=sys.stderr)
        return exc.status
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        trading = data["trading"]
        verb = "now" if data.get("changed") else "already"
        print(f"trading {verb} {trading['state'].upper()} ({trading['reason']}) at {url}")
    return EXIT_OK


# --- status as text --------------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> str:
    """Columns padded to their widest cell; the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = (c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
        return "  ".join(padded)

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r).rstrip() for r in rows)])


def _opt(value: int | None, fmt: Callable[[int], str]) -> str:
    return "-" if value is None else fmt(value)


def _usd(value: int | None) -> str:
    return _opt(value, lambda v: ("-$" if v < 0 else "$") + format_dollars(abs(v)))


def _utc(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_status(data: Mapping[str, Any], url: str) -> str:
    """The ``/status`` document as text: a summary block and one table per list."""
    trading, health, pnl = data["trading"], data["health"], data["pnl"]
    ws, rest, db = data["websocket"], data["rest"], data["db"]
    since = _utc(trading["since_ms"] / 1000) if trading.get("since_ms") is not None else "-"
    lines = [
        f"kalshi_mm at {url} ({data['mode']} mode, exchange {data['exchange']['rest_url']}) "
        f"at {_utc(data['now_ts'])} UTC",
        "",
    ]
    summary = [
        ("Trading", f"{trading['state'].upper()} since {since} UTC ({trading['reason']})"),
        ("Health", "ok" if health["ok"] else "NOT OK: " + "; ".join(health["reasons"])),
        (
            "P&L",
            f"total {_usd(pnl['total_e4'])}, realized {_usd(pnl['realized_e4'])}, "
            f"unrealized {_usd(pnl['unrealized_e4'])}; {data['fills_total']} fill(s)",
        ),
        ("Sessions", f"{len(data['sessions'])} running, {data['sessions_started']} started"),
    ]
    if ws.get("enabled"):
        stats = ws.get("stats", {})
        state = "connected" if ws["healthy"] else ("gave up" if ws["failed"] else "NOT connected")
        summary.append(
            (
                "WebSocket",
                f"{state}, {ws['markets']} market(s), {stats.get('messages', 0)} messages, "
                f"{stats.get('gaps', 0)} seq gaps, {stats.get('reconnects', 0)} reconnects",
            )
        )
    else:
        summary.append(("WebSocket", "disabled (REST polling)"))
    rs, budget = rest["stats"], rest["rate_budget"]
    summary.append(
        (
            "REST",
            f"{rs.get('attempts', 0)} requests, {rs.get('RateLimitedError', 0)} answered 429, "
            f"{rs.get('transient', 0)}/{rs.get('rejected', 0)}/{rs.get('fatal', 0)} transient/rejected/fatal; "
            f"budget used read {budget['read']['used_ratio']:.0%}, write {budget['write']['used_ratio']:.0%}",
        )
    )
    summary.append(("Database", f"queue {db['queue_depth']}, {db['failed']} failed, {db['dropped']} dropped writes"))
    width = max(len(k) for k, _ in summary)
    lines += [f"{k.ljust(width)}  {v}" for k, v in summary]

    sessions = [*data["sessions"], *reversed(data.get("finished_sessions", []))]
    lines += ["", "Sessions"]
    if sessions:
        rows = [
            [
                s["ticker"],
                s["side"],
                s["state"],
                format_count(s["inventory_e2"]),
                _opt(s["bid_e4"], format_price),
                _opt(s["ask_e4"], format_price),
                _opt(s["market_bid_e4"], format_price),
                _opt(s["market_ask_e4"], format_price),
                _usd(s["realized_pnl_e4"]),
                _usd(s["unrealized_pnl_e4"]),
                str(s["fills"]),
            ]
            for s in sessions
        ]
        headers = ["MARKET", "SIDE", "STATE", "INVENTORY", "BID", "ASK", "BOOK BID", "BOOK ASK", "REALIZED"]
        lines.append(table([*headers, "UNREALIZED", "FILLS"], rows, left=3))
    else:
        lines.append("  (none)")

    lines += ["", "Positions"]
    if data["positions"]:
        rows = [
            [p["ticker"], format_count(p["position_e2"]), _usd(p["realized_pnl_e4"]), _usd(p["unrealized_pnl_e4"])]
            for p in data["positions"]
        ]
        lines.append(table(["MARKET", "CONTRACTS", "REALIZED", "UNREALIZED"], rows))
    else:
        lines.append("  (none)")

    lines += ["", "Recent fills"]
    if data["fills"]:
        rows = [
            [
                _utc(f["ts"]),
                f["ticker"],
                "buy YES" if f["book_side"] == "bid" else "sell YES",
                format_price(f["yes_price_e4"]),
                format_count(f["count_e2"]),
                _usd(f["fee_e4"]),
            ]
            for f in reversed(data["fills"])
        ]
        lines.append(table(["TIME (UTC)", "MARKET", "SIDE", "YES PRICE", "CONTRACTS", "FEE"], rows, left=3))
    else:
        lines.append("  (none)")

    exposure = data.get("exposure")
    if isinstance(exposure, dict) and "global" in exposure and "markets" in exposure:
        rows = [["global", "", exposure["global"]["worst_case_e4"], exposure["global"]["budget_e4"]]]
        rows += [["category", c["category"], c["worst_case_e4"], c["cap_e4"]] for c in exposure.get("categories", [])]
        rows += [["market", m["ticker"], m["worst_case_e4"], m["cap_e4"]] for m in exposure["markets"]]
        cells = [
            [scope, name, _usd(worst), _usd(cap), f"{worst / cap:.1%}" if cap else "-"]
            for scope, name, worst, cap in rows
        ]
        lines += [
            "",
            "Exposure vs budgets (worst case)",
            table(["SCOPE", "NAME", "WORST CASE", "LIMIT", "USED"], cells, left=2),
        ]
    elif exposure is not None:
        lines += ["", "Exposure", json.dumps(exposure, indent=2)]
    if data.get("errors"):
        lines += ["", "Recent warnings and errors"]
        lines += [f"  {_utc(e['ts'])} {e['level']:<7} {e['logger']}: {e['message']}" for e in data["errors"]]
    return "\n".join(lines)
