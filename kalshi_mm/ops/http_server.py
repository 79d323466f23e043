"""The daemon's ops endpoint: health, Prometheus metrics, status JSON, a read-only dashboard, halt/resume.

Routes (``ops_http`` config section; default ``http://127.0.0.1:8790``):

=========================  ===================================================================================
``GET /health``            200 when healthy, else 503 (:mod:`kalshi_mm.ops.health`); JSON ``ok``, ``reasons``
``GET /metrics``           Prometheus text format (:mod:`kalshi_mm.ops.metrics`)
``GET /status``            JSON snapshot of the daemon (:mod:`kalshi_mm.ops.status`)
``GET /api/pnl``           JSON series of total P&L over time (the dashboard's chart)
``GET /``                  the dashboard: one self-contained HTML page (no external resources), read-only
``POST /control/halt``     ``{"reason": "..."}`` → trading HALTED (operator); JSON answer with the new state
``POST /control/resume``   ``{"reason": "..."}`` → trading ACTIVE again
=========================  ===================================================================================

Control requests can stop trading, so they are refused (403) unless they come from a loopback address, or, when
the environment variable named by ``ops_http.control_token_env`` is set, unless they carry
``Authorization: Bearer <that token>`` (401 otherwise; the token is then required from loopback too). They must
also be ``Content-Type: application/json`` and carry no foreign ``Origin``: a web page the operator visits
cannot send such a request to 127.0.0.1 without a CORS preflight, which this server never grants.

Threading: :class:`OpsServer` runs a :class:`ThreadingHTTPServer` on one daemon thread, a short-lived daemon
thread per request. Handlers only read snapshots (each source documents its lock) and the trading state machine
(thread-safe); none calls the exchange or the database, so the endpoint can never block trading.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import socket
import socketserver
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST

from kalshi_mm.ops.health import RestHealth, check_health
from kalshi_mm.ops.metrics import build_registry, render
from kalshi_mm.ops.recent_log import RecentErrors
from kalshi_mm.ops.status import pnl_payload, status_payload

if TYPE_CHECKING:
    from kalshi_mm.config.sections_infra import OpsHttpConfig
    from kalshi_mm.runtime import Runtime

__all__ = ["ControlDecision", "OpsServer", "control_allowed", "dashboard_page", "start_ops_server"]

log = logging.getLogger("kalshi_mm.ops.http")

DASHBOARD_FILE = Path(__file__).with_name("dashboard.html")
# The page loads nothing from anywhere: inline script and style, fetches to this server only.
DASHBOARD_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"
MAX_BODY_BYTES = 16 * 1024
MAX_REASON_CHARS = 500
# Real seconds a client may take to send its request: a stalled client holds only its own thread, and not forever.
REQUEST_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


class ControlDecision:
    """Whether a control request may act: ``status`` 0 when allowed, else the HTTP status and why."""

    __slots__ = ("reason", "status")

    def __init__(self, status: int = 0, reason: str = "") -> None:
        self.status, self.reason = status, reason

    @property
    def allowed(self) -> bool:
        return self.status == 0


def dashboard_page(template: bytes, status: Any, pnl: Any) -> bytes:
    """The dashboard with the first /status and /api/pnl answers embedded (drawn before any request)."""
    return template.replace(b"/*STATUS*/null", _script_json(status)).replace(b"/*PNL*/null", _script_json(pnl))


def _script_json(value: Any) -> bytes:
    # JSON inside <script>: escaping <, > and & keeps a string value from closing the element.
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def control_allowed(client_ip: str, authorization: str | None, token: str | None) -> ControlDecision:
    """The access rule for control POSTs (module docstring), as a pure function of the request's facts."""
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return ControlDecision(HTTPStatus.UNAUTHORIZED, "a valid 'Authorization: Bearer <token>' is required")
        return ControlDecision()
    try:
        loopback = ipaddress.ip_address(client_ip.split("%", 1)[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return ControlDecision(
            HTTPStatus.FORBIDDEN, "control requests are accepted from loopback only (or with a configured token)"
        )
    return ControlDecision()


class OpsServer:
    """The endpoint of one runtime (module docstring). :meth:`start` binds and serves; :meth:`stop` ends it."""

    def __init__(self, rt: Runtime, config: OpsHttpConfig, *, token: str | None = None) -> None:
        self.rt = rt
        self.config = config
        self.token = token or None
        self.rest_health = RestHealth()
        self.errors = RecentErrors()
        self.registry = build_registry(rt, self.errors)
        self.dashboard = DASHBOARD_FILE.read_bytes()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` actually bound (an IPv6 host in brackets)."""
        if self._httpd is None:
            raise RuntimeError("ops server not started")
        host, port = self._httpd.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> OpsServer:
        """Bind ``bind:port`` and serve on a daemon thread. Raises OSError when the address cannot be bound."""
        server_cls = _V6Server if ":" in self.config.bind else _Server
        httpd = server_cls((self.config.bind, self.config.port), _Handler)
        httpd.ops = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self.errors.install()
        self._thread = threading.Thread(target=httpd.serve_forever, name="ops-http", daemon=True)
        self._thread.start()
        log.info("ops endpoint at %s (health, metrics, status, dashboard, control)", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and release the port; idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.errors.uninstall()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a client holding a keep-alive connection must not hold up shutdown

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN (a DNS query, seconds when DNS is down) only to fill
        # server_name, which nothing here uses: bind without it so start-up never waits on DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _V6Server(_Server):
    address_family = socket.AF_INET6


def start_ops_server(rt: Runtime, token: str | None = None) -> OpsServer | None:
    """Start the runtime's endpoint when ``ops_http.enabled``; None when disabled or the address cannot be bound
    (logged as an error: trading goes on without the endpoint rather than not at all). ``token``: the control
    token (the value of the ``ops_http.control_token_env`` variable), None for loopback-only control."""
    config = rt.cfg.ops_http
    if not config.enabled:
        return None
    try:
        return OpsServer(rt, config, token=token).start()
    except OSError as exc:
        log.error("ops endpoint not started: cannot bind %s:%d: %s", config.bind, config.port, exc)
        return None


class _Handler(BaseHTTPRequestHandler):
    server_version = "kalshi_mm-ops"
    timeout = REQUEST_TIMEOUT_S
    protocol_version = "HTTP/1.1"

    @property
    def ops(self) -> OpsServer:
        return self.server.ops  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # --- GET --------------------------------------------------------------------------------------------------

    def do_GET(self) -> None:  # http.server's naming
        path = urlsplit(self.path).path
        ops = self.ops
        try:
            if path == "/health":
                report = check_health(ops.rt, ops.rest_health)
                body = {"ok": report.ok, "reasons": list(report.reasons), "notes": list(report.notes)}
                self._json(HTTPStatus.OK if report.ok else HTTPStatus.SERVICE_UNAVAILABLE, body)
            elif path == "/metrics":
                self._send(HTTPStatus.OK, render(ops.registry), CONTENT_TYPE_LATEST)
            elif path == "/status":
                self._json(HTTPStatus.OK, status_payload(ops.rt, ops.rest_health, ops.errors))
            elif path == "/api/pnl":
                self._json(HTTPStatus.OK, pnl_payload(ops.rt))
            elif path in ("/", "/index.html"):
                page = dashboard_page(
                    ops.dashboard, status_payload(ops.rt, ops.rest_health, ops.errors), pnl_payload(ops.rt)
                )
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8", content_security_policy=DASHBOARD_CSP)
            elif path.startswith("/control/"):
                self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"ok": False, "error": "use POST"}, allow="POST")
            else:
                self._json(HTTPStatus.NOT_FOUND, {"ok": False, "error": f"no such path: {path}"})
        except Exception as exc:  # a bug in a report must answer 500, not kill the connection silently
            log.exception("ops endpoint: GET %s failed", path)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})

    # --- POST -------------------------------------------------------------------------------------------------

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path not in ("/control/halt", "/control/resume"):
            self._drain_body()
            self._json(HTTPStatus.NOT_FOUND, {"ok": False, "error": f"no such control: {path}"})
            return
        decision = control_allowed(self.client_address[0], self.headers.get("Authorization"), self.ops.token)
        if decision.allowed:
            decision = self._browser_check()
        if not decision.allowed:
            self._drain_body()
            log.warning(
                "ops endpoint: %s %s refused from %s: %s", "POST", path, self.client_address[0], decision.reason
            )
            self._json(decision.status, {"ok": False, "error": decision.reason})
            return
        body = self._read_json()
        if isinstance(body, str):
            self._json(HTTPStatus.BAD_REQUEST, {"ok": False, "error": body})
            return
        reason = body.get("reason", "operator request")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON_CHARS:
            error = f"'reason' must be a non-empty string of at most {MAX_REASON_CHARS} characters"
            self._json(HTTPStatus.BAD_REQUEST, {"ok": False, "error": error})
            return
        trading = self.ops.rt.trading
        who = f"operator ({self.client_address[0]})"
        if path == "/control/halt":
            changed = trading.halt(reason.strip(), source="operator")
        else:
            changed = trading.resume(reason.strip(), source="operator")
        log.warning("ops endpoint: %s by %s (%s), changed=%s", path.rsplit("/", 1)[1], who, reason.strip(), changed)
        self._json(HTTPStatus.OK, {"ok": True, "changed": changed, "trading": trading.snapshot()})

    def _browser_check(self) -> ControlDecision:
        content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            return ControlDecision(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "control requests must be application/json")
        origin = self.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != (self.headers.get("Host") or ""):
            return ControlDecision(HTTPStatus.FORBIDDEN, f"cross-origin control request refused (Origin {origin})")
        return ControlDecision()

    def _content_length(self) -> int:
        try:
            return max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            return -1

    def _drain_body(self) -> None:
        length = self._content_length()
        if 0 < length <= MAX_BODY_BYTES:
            self.rfile.read(length)
        elif length != 0:
            self.close_connection = True  # unread or unreadable body: the connection cannot be reused

    def _read_json(self) -> dict[str, Any] | str:
        """The request's JSON object, or an error message."""
        length = self._content_length()
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            return f"Content-Length must be an integer in [0, {MAX_BODY_BYTES}]"
        if length == 0:
            return {}
        try:
            data = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError) as exc:
            return f"body is not JSON: {exc}"
        if not isinstance(data, dict):
            return "body must be a JSON object"
        return data

    # --- answers ----------------------------------------------------------------------------------------------

    def _json(self, status: int, body: Any, **headers: str) -> None:
        payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        self._send(status, payload, "application/json", **headers)

    def _send(self, status: int, payload: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
