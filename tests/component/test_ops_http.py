"""The ops HTTP endpoint of a real Runtime against the embedded exchange: /health, /metrics, /status, /api/pnl,
the dashboard page, halt/resume (loopback rule and token), and ``runner.py status|halt|resume`` through
``kalshi_mm.app.main``. Each runtime binds port 0 (``ops_http.port``) and serves at ``rt.ops_url``."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from kalshi_mm import app
from kalshi_mm.api.types import BookSide
from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.config.credentials import Credentials, EndpointKind, ExchangeEndpoint
from kalshi_mm.config.settings import AppConfig, config_to_dict, load_config, validate_config
from kalshi_mm.logs import register_secret
from kalshi_mm.modes.discovery_mode import run_discovery_mode
from kalshi_mm.risk.state import TradingState
from kalshi_mm.runtime import Runtime
from kalshi_mm.sim.server import EmbeddedExchange

ROOT = Path(__file__).resolve().parents[2]
REAL = LiveClock()  # waits for the daemon are in real time
USER = "ops-trader"
JSON = {"Content-Type": "application/json"}
TOKEN = "ops-test-token-5b1f0c"


@dataclass
class Env:
    clock: SimClock
    server: EmbeddedExchange
    cfg: AppConfig
    credentials: Credentials
    tmp: Path

    def runtime(self, env: dict[str, str] | None = None, **ops: Any) -> Runtime:
        cfg = self.cfg
        if ops:
            data = config_to_dict(cfg)
            data["ops_http"].update(ops)
            cfg = validate_config(data, source="test")
        endpoint = ExchangeEndpoint(EndpointKind.SIM, self.server.rest_url, self.server.ws_url)
        rt = Runtime.build(cfg, endpoint, self.credentials, self.clock, exchange=self.server, env=env or {})
        rt.start()
        # /health is 503 until the WebSocket is up (rightly): tests start from a connected daemon.
        wait_for("the WebSocket to connect", lambda: rt.ws is not None and rt.ws.healthy)
        return rt


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    data = config_to_dict(load_config(ROOT / "config.yaml"))
    data["mode"] = "discovery"
    data["analytics"]["db_path"] = str(tmp_path / "analytics.db")
    data["analytics"]["commit_interval_seconds"] = 0.2
    data["logging"]["log_dir"] = str(tmp_path / "logs")
    data["websockets"]["enabled"] = True
    data["discovery"]["max_markets_to_trade"] = 3
    data["exchange"]["rate_limit_tier"] = "prime"
    data["ops_http"]["port"] = 0
    cfg = validate_config(data, source="test")
    clock = SimClock(scale=10.0)
    server = EmbeddedExchange(clock, scenario="default", tier="prime").start()
    account = server.create_account(USER)
    assert account.private_key is not None
    try:
        yield Env(clock, server, cfg, Credentials(account.access_key, account.private_key), tmp_path)
    finally:
        server.stop()


@pytest.fixture
def rt(env: Env) -> Iterator[Runtime]:
    runtime = env.runtime()
    try:
        yield runtime
    finally:
        runtime.close()


def url(rt: Runtime, path: str) -> str:
    assert rt.ops_url is not None
    return rt.ops_url + path


def metrics(rt: Runtime) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, parsed by prometheus_client's own parser: (name, labels) -> value."""
    response = requests.get(url(rt, "/metrics"), timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def metric(rt: Runtime, metric_name: str, **labels: str) -> float:
    return metrics(rt)[(f"kalshi_mm_{metric_name}", tuple(sorted(labels.items())))]


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    deadline = REAL.monotonic() + timeout_s
    while REAL.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def control(rt: Runtime, action: str, reason: str = "test", **kwargs: Any) -> requests.Response:
    headers = {**JSON, **kwargs.pop("headers", {})}
    return requests.post(url(rt, f"/control/{action}"), json={"reason": reason}, headers=headers, timeout=5, **kwargs)


def open_market(rt: Runtime) -> str:
    page = rt.api.get_markets(status="open", limit=50)
    return page.items[0].ticker


# --- endpoints on an idle daemon ------------------------------------------------------------------------------


def test_health_metrics_and_status_read_the_live_objects(rt: Runtime) -> None:
    health = requests.get(url(rt, "/health"), timeout=5)
    assert health.status_code == 200 and health.json()["ok"] is True

    before = metrics(rt)
    assert before[("kalshi_mm_trading_state", (("state", "active"),))] == 1.0
    assert before[("kalshi_mm_trading_state", (("state", "halted"),))] == 0.0
    assert before[("kalshi_mm_orders_placed_total", ())] == 0.0
    assert before[("kalshi_mm_ws_connected", ())] == 1.0

    # An order through the API moves the order counters, which equal the client's own and the exchange's.
    ticker = open_market(rt)
    ack = rt.api.place_order(ticker, BookSide.BID, 100, 100, post_only=True)
    assert metric(rt, "orders_placed_total") == 1.0
    rt.api.cancel_order(ack.order_id, ticker)
    after = metrics(rt)
    assert after[("kalshi_mm_orders_cancelled_total", ())] == 1.0
    traffic = rt.exchange.traffic.snapshot()[USER]["orders"]  # type: ignore[union-attr]
    assert traffic == {"created": 1, "cancelled": 1}
    stats = rt.api.stats()
    assert (
        after[("kalshi_mm_rest_requests_total", ())]
        == stats["attempts"]
        > before[("kalshi_mm_rest_requests_total", ())]
    )
    assert after[("kalshi_mm_rest_rate_limited_total", ())] == stats.get("RateLimitedError", 0) == 0
    db = rt.db.stats()
    assert after[("kalshi_mm_db_write_failures_total", ())] == db.failed == 0
    assert after[("kalshi_mm_db_queue_depth", ())] >= 0
    ws_messages = rt.ws.stats()["messages"]  # type: ignore[union-attr]
    assert after[("kalshi_mm_ws_messages_total", ())] <= ws_messages  # read before the client's, and it only grows
    assert after[("kalshi_mm_ws_seq_gaps_total", ())] == 0.0
    assert after[("kalshi_mm_sessions_active", ())] == 0.0

    status = requests.get(url(rt, "/status"), timeout=5).json()
    assert status["trading"]["state"] == "active"
    assert status["health"] == {"ok": True, "reasons": [], "notes": []}
    assert status["websocket"]["enabled"] and status["websocket"]["healthy"]
    assert status["rest"]["stats"]["orders_created"] == 1
    assert set(status["rest"]["rate_budget"]) == {"read", "write"}
    assert status["sessions"] == [] and status["fills"] == []
    if not callable(getattr(rt.risk, "snapshot", None)):  # exposure from the gate's book and limits
        budget = rt.cfg.risk.global_risk_budget
        assert status["exposure"]["global"] == {"worst_case_e4": 0, "budget_e4": budget}
        assert metric(rt, "exposure_limit_dollars", scope="global", name="") == budget / 10_000
    assert status["pnl"] == {"realized_e4": 0, "unrealized_e4": 0, "total_e4": 0}
    assert requests.get(url(rt, "/api/pnl"), timeout=5).json()["points"] == []
    assert requests.get(url(rt, "/nowhere"), timeout=5).status_code == 404


def test_dashboard_page_is_self_contained(rt: Runtime) -> None:
    page = requests.get(url(rt, "/"), timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.text
    for external in ("src=", "href=", "@import", "url("):
        assert external not in html, external
    assert "/*STATUS*/" not in html and "/*PNL*/" not in html
    start = html.index('<script id="initial-status" type="application/json">') + len(
        '<script id="initial-status" type="application/json">'
    )
    embedded = json.loads(html[start : html.index("</script>", start)])
    assert embedded["trading"]["state"] == "active"


def test_recent_errors_are_kept_redacted(rt: Runtime) -> None:
    secret = "SECRET-api-key-text-9f8e7d6c5b4a"
    register_secret(secret)
    logging.getLogger("kalshi_mm.test").error("order failed with key %s", secret)
    errors = requests.get(url(rt, "/status"), timeout=5).json()["errors"]
    [entry] = [e for e in errors if e["logger"] == "kalshi_mm.test"]
    assert entry["level"] == "ERROR" and secret not in entry["message"] and "[REDACTED]" in entry["message"]
    assert metric(rt, "log_warnings_total") >= 1


def test_health_fails_on_websocket_loss_and_rest_failures(env: Env, rt: Runtime) -> None:
    assert requests.get(url(rt, "/health"), timeout=5).status_code == 200
    env.server.faults.update({"rest_5xx_rate": 1.0})
    with pytest.raises(Exception):  # noqa: B017 - whichever transient error the retries end on
        rt.api.get_balance()
    health = requests.get(url(rt, "/health"), timeout=5)
    assert health.status_code == 503 and any(r.startswith("REST failing") for r in health.json()["reasons"])
    assert requests.get(url(rt, "/health"), timeout=5).status_code == 503  # no new attempt: the verdict stands
    env.server.faults.update({"rest_5xx_rate": 0.0})
    rt.api.get_balance()
    assert requests.get(url(rt, "/health"), timeout=5).status_code == 200

    rt.ws.stop()  # type: ignore[union-attr]
    health = requests.get(url(rt, "/health"), timeout=5)
    assert health.status_code == 503 and health.json()["reasons"] == ["websocket not connected"]
    assert metric(rt, "ws_connected") == 0.0


# --- control -------------------------------------------------------------------------------------------------


def test_halt_and_resume_over_http(rt: Runtime) -> None:
    halted = control(rt, "halt", "maintenance window")
    assert halted.status_code == 200 and halted.json()["changed"] is True
    assert rt.trading.state is TradingState.HALTED
    assert rt.trading.history[-1].source == "operator" and rt.trading.history[-1].reason == "maintenance window"
    health = requests.get(url(rt, "/health"), timeout=5)
    assert health.status_code == 503 and health.json()["reasons"] == ["trading halted: maintenance window"]
    assert metric(rt, "trading_state", state="halted") == 1.0
    assert control(rt, "halt").json()["changed"] is False  # already halted

    resumed = control(rt, "resume", "done")
    assert resumed.status_code == 200 and resumed.json()["trading"]["state"] == "active"
    assert rt.trading.state is TradingState.ACTIVE
    assert requests.get(url(rt, "/health"), timeout=5).status_code == 200
    # Both changes are on record for sqlite3 users: who, from what, to what, why.
    assert rt.db.flush(5.0)
    with sqlite3.connect(rt.db.path) as conn:
        rows = conn.execute("SELECT rule, detail FROM risk_events WHERE kind = 'state' ORDER BY id").fetchall()
    assert [(rule, json.loads(detail)) for rule, detail in rows[-2:]] == [
        ("operator", {"from": "active", "to": "halted", "reason": "maintenance window"}),
        ("operator", {"from": "halted", "to": "active", "reason": "done"}),
    ]


def test_control_requests_are_checked(rt: Runtime) -> None:
    post = url(rt, "/control/halt")
    assert requests.get(post, timeout=5).status_code == 405
    assert requests.post(post, data="reason=x", timeout=5).status_code == 415  # a form, as a foreign page could send
    foreign = requests.post(post, json={"reason": "x"}, headers={"Origin": "http://evil.example"}, timeout=5)
    assert foreign.status_code == 403
    assert requests.post(post, data="{not json", headers=JSON, timeout=5).status_code == 400
    assert requests.post(post, json={"reason": 5}, timeout=5).status_code == 400
    assert requests.post(post, json=["halt"], timeout=5).status_code == 400
    assert requests.post(url(rt, "/control/explode"), json={}, timeout=5).status_code == 404
    assert rt.trading.state is TradingState.ACTIVE  # none of them acted


def test_control_token_is_required_when_configured(env: Env) -> None:
    rt = env.runtime(env={"KALSHI_MM_CONTROL_TOKEN": TOKEN})
    try:
        assert control(rt, "halt").status_code == 401  # from loopback too, once a token is set
        assert control(rt, "halt", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert rt.trading.state is TradingState.ACTIVE
        assert control(rt, "halt", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert rt.trading.state is TradingState.HALTED
        # The CLI sends the token it finds in its environment, and is refused without it.
        assert app.main(["resume", "--url", rt.ops_url or "", "--reason", "no token"], env={}) == 1
        assert rt.trading.state is TradingState.HALTED
        assert app.main(["resume", "--url", rt.ops_url or ""], env={"KALSHI_MM_CONTROL_TOKEN": TOKEN}) == 0
        assert rt.trading.state is TradingState.ACTIVE
    finally:
        rt.close()


def _non_loopback_ip() -> str | None:
    # A UDP connect sends nothing; it only picks the interface address a packet to that host would leave from.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_control_from_a_non_loopback_address_is_refused(env: Env) -> None:
    address = _non_loopback_ip()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to send from")
    rt = env.runtime(bind="0.0.0.0")
    try:
        port = rt.ops_url.rsplit(":", 1)[1]  # type: ignore[union-attr]
        remote = f"http://{address}:{port}"
        assert requests.get(remote + "/health", timeout=5).status_code == 200  # reads are open on the bind
        refused = requests.post(remote + "/control/halt", json={"reason": "x"}, timeout=5)
        assert refused.status_code == 403 and "loopback" in refused.json()["error"]
        assert rt.trading.state is TradingState.ACTIVE
    finally:
        rt.close()


# --- the CLI ---------------------------------------------------------------------------------------------------


def test_cli_status_halt_resume(rt: Runtime, env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    base = rt.ops_url or ""
    assert app.main(["status", "--url", base], env={}) == 0
    text = capsys.readouterr().out
    assert "Trading" in text and "ACTIVE" in text and "Sessions" in text and "Recent fills" in text

    assert app.main(["halt", "--url", base, "--reason", "cli test"], env={}) == 0
    assert "now HALTED (cli test)" in capsys.readouterr().out
    assert rt.trading.state is TradingState.HALTED
    assert app.main(["status", "--url", base, "--json"], env={}) == 0
    assert json.loads(capsys.readouterr().out)["trading"] == rt.trading.snapshot()

    # The default URL comes from the config's ops_http section.
    port = int(base.rsplit(":", 1)[1])
    config = env.tmp / "cli.yaml"
    config.write_text(yaml.safe_dump({"ops_http": {"bind": "0.0.0.0", "port": port}}))
    assert app.main(["resume", "--config", str(config), "--reason", "cli done"], env={}) == 0
    assert "now ACTIVE (cli done)" in capsys.readouterr().out
    assert rt.trading.state is TradingState.ACTIVE


def test_cli_without_a_daemon_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    assert app.main(["status", "--url", f"http://127.0.0.1:{port}"], env={}) == 1
    assert "no kalshi_mm daemon is answering" in capsys.readouterr().err
    assert app.main(["halt", "--config", str(ROOT / "does-not-exist.yaml")], env={}) == 2
    assert "does-not-exist.yaml" in capsys.readouterr().err


# --- while trading ---------------------------------------------------------------------------------------------


def test_sessions_orders_and_fills_while_trading(env: Env) -> None:
    rt = env.runtime()
    codes: list[int] = []
    mode = threading.Thread(target=lambda: codes.append(run_discovery_mode(rt, 3600.0)), name="mode")
    try:
        mode.start()

        def quoting() -> list[dict[str, Any]]:
            sessions = requests.get(url(rt, "/status"), timeout=5).json()["sessions"]
            return [s for s in sessions if s["state"] == "quoting" and s["bid_e4"] is not None]

        live = wait_for("a quoting session in /status", quoting, timeout_s=30.0)
        for session in live:
            assert session["market_bid_e4"] is not None and session["bid_e4"] < session["ask_e4"]
        assert metric(rt, "sessions_active") >= len(live)
        assert metric(rt, "sessions", state="quoting") >= 1
        rt.request_stop("checks done")  # as SIGTERM would: the mode stops every session and sweeps
        mode.join(30)
        assert codes == [0]
        # The mode has stopped every session and swept: the endpoint is still up until close().
        final = metrics(rt)
        status = requests.get(url(rt, "/status"), timeout=5).json()
    finally:
        rt.request_stop("test over")
        mode.join(30)
        rt.close()
    assert status["sessions"] == [] and final[("kalshi_mm_sessions_active", ())] == 0.0
    assert {s["state"] for s in status["finished_sessions"]} == {"done"}
    assert {(s["ticker"], s["side"]) for s in status["finished_sessions"]} >= {(s["ticker"], s["side"]) for s in live}
    # Order counters equal what the exchange saw for this account; fills equal the analytics database's.
    orders = env.server.traffic.snapshot()[USER]["orders"]
    assert final[("kalshi_mm_orders_placed_total", ())] == orders.get("created", 0) > 0
    assert final[("kalshi_mm_orders_cancelled_total", ())] == orders.get("cancelled", 0)
    assert final[("kalshi_mm_orders_amended_total", ())] == orders.get("amended", 0)
    import sqlite3

    with sqlite3.connect(env.tmp / "analytics.db") as conn:
        (db_fills,) = conn.execute("SELECT COUNT(*) FROM order_fills").fetchone()
    assert final[("kalshi_mm_fills_total", ())] == status["fills_total"] == db_fills
    realized = sum(s["realized_pnl_e4"] for s in status["finished_sessions"])
    assert status["pnl"]["realized_e4"] == realized
    assert final[("kalshi_mm_realized_pnl_dollars", ())] == pytest.approx(realized / 10_000)


def test_a_halt_outlives_a_restart_until_resumed(env: Env) -> None:
    endpoint = ExchangeEndpoint(EndpointKind.SIM, env.server.rest_url, env.server.ws_url)

    def build() -> Runtime:  # without exchange=: closing a runtime must not stop the shared exchange
        return Runtime.build(env.cfg, endpoint, env.credentials, env.clock, env={})

    first = build()
    first.trading.halt("circuit breaker: daily loss", "circuit_breaker")
    first.close()
    second = build()  # a crash or a redeploy: still halted, with the reason and who halted it
    try:
        assert second.trading.state is TradingState.HALTED
        assert second.trading.snapshot()["reason"] == "still halted from the previous run: circuit breaker: daily loss"
        assert second.trading.history[-1].source == "circuit_breaker"
        second.trading.resume("checked", "operator")
    finally:
        second.close()
    third = build()  # resumed before the restart: starts active
    try:
        assert third.trading.state is TradingState.ACTIVE
        third.fatal_stop("key refused")  # the shutdown of a fatal error is not a halt to keep
    finally:
        third.close()
    fourth = build()
    try:
        assert fourth.trading.state is TradingState.ACTIVE
    finally:
        fourth.close()
