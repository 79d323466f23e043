"""A small REST layer for the embedded exchange on the standard library's threaded HTTP server.

Routing, JSON bodies, authentication, token-bucket rate limiting and Kalshi's error bodies live here; the
endpoints themselves are plain functions ``(ctx: RequestContext) -> Reply`` registered by ``rest_*.py``.
HTTP/1.1 keep-alive is on, so a client's ``requests.Session`` reuses one connection as it would with Kalshi.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kalshi_mm.api.ratelimit import TIERS, TierBudget, TokenBucket, cost_of
from kalshi_mm.clock import Clock
from kalshi_mm.sim.auth import AuthError, KeyRegistry
from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.faults import FaultInjector, TrafficStats

__all__ = ["API_PREFIX", "Reply", "RequestContext", "RestApp", "RestServer", "Route", "bad_request"]

API_PREFIX = "/trade-api/v2"
MAX_BODY_BYTES = 4 * 1024 * 1024

log = logging.getLogger("kalshi_mm.sim.http")


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-serialisable; None with 204
    drop: bool = False  # fault injection: close the connection instead of sending this reply


@dataclass
class RequestContext:
    method: str
    path: str  # relative to /trade-api/v2
    query: dict[str, list[str]]
    body: Any
    params: dict[str, str] = field(default_factory=dict)
    user_id: str | None = None

    def q(self, name: str, default: str | None = None) -> str | None:
        """The last value of a query parameter (Kalshi takes one), or ``default``."""
        values = self.query.get(name)
        return values[-1] if values else default

    def q_all(self, name: str) -> list[str]:
        """All values of a repeated or comma-separated query parameter."""
        return [v for raw in self.query.get(name, []) for v in raw.split(",") if v]

    def q_int(
        self, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise bad_request(f"query parameter {name} must be an integer, got {raw!r}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise bad_request(f"query parameter {name}={value} out of range [{lo}, {hi}]")
        return value

    def q_bool(self, name: str, default: bool = False) -> bool:
        raw = self.q(name)
        if raw is None:
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise bad_request(f"query parameter {name} must be true or false, got {raw!r}")

    def require_user(self) -> str:
        if self.user_id is None:  # routes marked auth=True never get here unauthenticated
            raise ExchangeError(401, "authentication_error", "authentication required")
        return self.user_id

    def json_body(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise bad_request("request body must be a JSON object")
        return self.body


def bad_request(message: str, code: str = "bad_request") -> ExchangeError:
    return ExchangeError(400, code, message)


Handler = Callable[[RequestContext], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # e.g. "/markets/{ticker}/orderbook"
    handler: Handler
    auth: bool  # True: a signed request is required; False: public, auth optional

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


class RestApp:
    """Dispatches requests to routes; owns authentication and rate limiting. Thread-safe."""

    def __init__(
        self,
        clock: Clock,
        keys: KeyRegistry,
        *,
        tier: str = "basic",
        auth_clock: Clock | None = None,
        faults: FaultInjector | None = None,
        traffic: TrafficStats | None = None,
    ):
        self.clock = clock
        self.auth_clock = auth_clock or clock
        self.keys = keys
        self.budget: TierBudget = TIERS[tier]
        self.traffic = traffic or TrafficStats()
        self.faults = faults or FaultInjector(traffic=self.traffic)
        self._routes: list[tuple[Route, re.Pattern[str]]] = []
        # Operator endpoints outside /trade-api (fault injection, traffic): exact paths, no auth, no rate limit.
        self._admin: dict[tuple[str, str], Handler] = {}
        # Guarded by _buckets_lock: (user_id, "read"|"write") -> bucket, created on first use.
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._buckets_lock = threading.Lock()

    def add(self, method: str, template: str, handler: Handler, *, auth: bool) -> None:
        route = Route(method.upper(), template, handler, auth)
        self._routes.append((route, route.regex))

    def add_admin(self, method: str, path: str, handler: Handler) -> None:
        self._admin[(method.upper(), path)] = handler

    def routes(self) -> list[Route]:
        return [route for route, _ in self._routes]

    def _bucket(self, user_id: str, kind: str) -> TokenBucket:
        with self._buckets_lock:
            bucket = self._buckets.get((user_id, kind))
            if bucket is None:
                capacity = self.budget.read_capacity if kind == "read" else self.budget.write_capacity
                refill = self.budget.read_per_s if kind == "read" else self.budget.write_per_s
                bucket = TokenBucket(capacity, refill, self.clock.monotonic())
                self._buckets[(user_id, kind)] = bucket
            return bucket

    def tokens_available(self, user_id: str) -> dict[str, float]:
        now = self.clock.monotonic()
        return {kind: self._bucket(user_id, kind).available(now) for kind in ("read", "write")}

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """Literal templates win over parameterised ones (``/markets/trades`` is not a ticker)."""
        candidates = []
        for route, regex in self._routes:
            if route.method == method and (m := regex.match(path)):
                candidates.append((route.template.count("{"), route, m.groupdict()))
        if not candidates:
            return None
        candidates.sort(key=lambda c: c[0])
        return candidates[0][1], candidates[0][2]

    def dispatch(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> Reply:
        parts = urlsplit(raw_path)
        admin = self._admin.get((method, parts.path))
        if admin is not None:
            ctx = RequestContext(method, parts.path, parse_qs(parts.query), body)
            try:
                return admin(ctx)
            except ExchangeError as exc:
                return error_reply(exc)
        if not parts.path.startswith(API_PREFIX):
            return error_reply(ExchangeError(404, "not_found", f"no such endpoint: {parts.path}"))
        path = parts.path[len(API_PREFIX) :] or "/"
        found = self.match(method, path)
        if found is None:
            allowed = any(r.regex.match(path) for r in self.routes())
            status = 405 if allowed else 404
            return error_reply(ExchangeError(status, "not_found", f"no such endpoint: {method} {parts.path}"))
        route, params = found
        latency = self.faults.rest_latency_s()
        if latency > 0:
            time.sleep(latency)  # injected network latency is real time, whatever clock the market runs on
        ctx = RequestContext(method, path, parse_qs(parts.query, keep_blank_values=True), body, params)
        tokens = 0
        try:
            if route.auth or any(h.lower() == "kalshi-access-key" for h in headers):
                ctx.user_id = self.keys.authenticate(
                    _kalshi_headers(headers), method, parts.path, self.auth_clock.time_ms()
                )
            injected = self.faults.rest_reject(ctx.user_id is not None)
            if injected == 429:
                reply = Reply(429, {"error": "too many requests"})
            elif injected is not None:
                reply = error_reply(ExchangeError(injected, "internal_server_error", "injected fault"))
            else:
                reply, tokens = self._execute(route, ctx, body, method, path)
        except AuthError as exc:
            reply = error_reply(ExchangeError(401, "authentication_error", exc.reason))
        except ExchangeError as exc:
            reply = error_reply(exc)
        if ctx.user_id is not None:
            self.traffic.record_rest(ctx.user_id, method, route.template, reply.status, tokens)
            self._count_orders(ctx.user_id, method, route.template, reply)
        if (method, route.template) == ("POST", "/portfolio/events/orders") and reply.status == 201:
            reply.drop = self.faults.drop_create_response()
        return reply

    def _execute(self, route: Route, ctx: RequestContext, body: Any, method: str, path: str) -> tuple[Reply, int]:
        """Charge the account's token bucket, then run the handler: (reply, tokens spent)."""
        cost = 0
        if ctx.user_id is not None:
            kind, cost = cost_of(method, path, _batch_items(body))
            if not self._bucket(ctx.user_id, kind).try_take(cost, self.clock.monotonic()):
                return Reply(429, {"error": "too many requests"}), 0
        try:
            return route.handler(ctx), cost
        except ExchangeError as exc:  # a rejected request still spent its tokens, as on Kalshi
            return error_reply(exc), cost

    def _count_orders(self, user_id: str, method: str, template: str, reply: Reply) -> None:
        if reply.status >= 300:
            return
        if template == "/portfolio/events/orders/batched":
            ok = sum(1 for item in reply.body.get("orders", []) if item.get("error") is None)
            self.traffic.record_orders(user_id, "created" if method == "POST" else "cancelled", ok)
            return
        action = {
            ("POST", "/portfolio/events/orders"): "created",
            ("DELETE", "/portfolio/events/orders/{order_id}"): "cancelled",
            ("POST", "/portfolio/events/orders/{order_id}/amend"): "amended",
            ("POST", "/portfolio/events/orders/{order_id}/decrease"): "decreased",
            ("DELETE", "/portfolio/events/orders"): "cancel_all",
        }.get((method, template))
        if action is not None:
            self.traffic.record_orders(user_id, action)


def _batch_items(body: Any) -> int:
    return len(body.get("orders", [])) if isinstance(body, dict) and isinstance(body.get("orders"), list) else 0


def _kalshi_headers(headers: dict[str, str]) -> dict[str, str]:
    # HTTP header names are case-insensitive; the registry looks them up in Kalshi's spelling.
    return {k.upper(): v for k, v in headers.items() if k.upper().startswith("KALSHI-ACCESS-")}


def error_reply(exc: ExchangeError) -> Reply:
    """Kalshi's nested error form (NOTES.md §4)."""
    return Reply(exc.http_status, {"error": {"code": exc.code, "message": exc.message, "details": exc.details}})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Kalshi's edge serves
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and the client's
    # delayed ACK add ~40 ms to every response.
    disable_nagle_algorithm = True
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(error_reply(bad_request("request body too large")))
            return
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._send(error_reply(bad_request("request body is not valid JSON")))
            return
        try:
            reply = self.server.app.dispatch(self.command, self.path, dict(self.headers.items()), body)
        except Exception:  # a simulator bug must surface as a 500, as a real exchange would, and be logged
            log.exception("internal error handling %s %s", self.command, self.path)
            reply = error_reply(ExchangeError(500, "internal_server_error", "internal server error"))
        if reply.drop:
            # Injected fault: the request took effect but the client never hears back.
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body, separators=(",", ":")).encode()
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: RestApp


class RestServer:
    """Serves a :class:`RestApp` on ``host:port`` (0 = ephemeral) in a background thread."""

    def __init__(self, app: RestApp, host: str = "127.0.0.1", port: int = 0):
        self._httpd = _Server((host, port), _Handler)
        self._httpd.app = app
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{host}:{self.port}{API_PREFIX}"

    def start(self) -> RestServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sim-rest", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
