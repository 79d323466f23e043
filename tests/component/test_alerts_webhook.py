"""Alerts against a real HTTP webhook receiver (stdlib ThreadingHTTPServer on 127.0.0.1:0) with the real sender:

* alerts arrive as Discord JSON with their content; a 429 with ``retry_after`` is retried once, later;
* an unreachable, failing (500) or hanging webhook never blocks the caller, nor a trading-state change; failures
  are counted;
* a burst of 100 alerts gives at most ``max_per_minute`` posts, then one "95 suppressed" line once a token refills
  (manual clock);
* the webhook URL (its token) never appears in the captured logs, urllib3's request lines included;
* the daily summary is read from a real analytics database and posted at its UTC time;
* wiring: a Runtime on the embedded exchange posts daemon start/stop, a SessionPool session's start and end and
  a kill-switch halt.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.clock import Clock, LiveClock, SimClock
from kalshi_mm.config.credentials import Credentials, EndpointKind, ExchangeEndpoint
from kalshi_mm.config.sections_infra import AlertsConfig
from kalshi_mm.config.settings import AppConfig, config_to_dict, validate_config
from kalshi_mm.modes.sessions import SessionPool
from kalshi_mm.ops.alerts import Alerts, read_daily_summary
from kalshi_mm.risk.state import TradingStateMachine
from kalshi_mm.runtime import Runtime
from kalshi_mm.sim.server import EmbeddedExchange

TOKEN = "tok-3f9a1c77e2b84d0c9e5a6b1d2c3e4f50"
HOOK_PATH = f"/api/webhooks/4242/{TOKEN}"
ENV_NAME = "KALSHI_MM_ALERT_WEBHOOK_URL"
REAL = LiveClock()  # real seconds for the test's own deadlines (the code under test gets its own clock)


@dataclass
class Post:
    path: str
    body: dict[str, Any]
    at: float


@dataclass
class Reply:
    status: int = 204
    body: bytes = b""
    hang_s: float = 0.0  # hold the answer this long (or until the test ends)


@dataclass
class Receiver:
    """Records every POST; answers from ``script`` (then 204)."""

    server: ThreadingHTTPServer
    posts: list[Post] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{HOOK_PATH}"

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Post]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.posts) >= count, timeout_s)
            return list(self.posts)

    def contents(self) -> list[str]:
        with self.cond:
            return [p.body["content"] for p in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            rec = holder[0]
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with rec.cond:
                rec.posts.append(Post(self.path, body, REAL.monotonic()))
                reply = rec.script.pop(0) if rec.script else Reply()
                rec.cond.notify_all()
            if reply.hang_s:
                rec.release.wait(reply.hang_s)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:
                pass  # the client timed out and went away

        def log_message(self, format: str, *args: Any) -> None:  # the base class's signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec = Receiver(server)
    holder.append(rec)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.release.set()
        server.shutdown()
        server.server_close()


def make_alerts(url: str, clock: Clock, **overrides: Any) -> Alerts:
    settings: dict[str, Any] = {"daily_summary_utc": None, "send_timeout_seconds": 0.3} | overrides
    return Alerts.from_config(AlertsConfig(**settings), {ENV_NAME: url}, clock, label="sim")


def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = REAL.monotonic() + timeout_s
    while REAL.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- delivery -----------------------------------------------------------------------------------------------------


def test_alerts_arrive_as_discord_json(receiver: Receiver) -> None:
    clock = LiveClock()
    alerts = make_alerts(receiver.url, clock)
    trading = TradingStateMachine(clock)
    trading.add_listener(alerts.on_trading_state)
    alerts.start()
    alerts.session_started("KXTEST-1", "yes", 7, "discovery_mm")
    trading.halt("runner.py halt", "operator")
    alerts.order_group_tripped("KXTEST-1", "grp-1", "contracts limit 10 hit")
    posts = receiver.wait_for(3)
    assert alerts.close()

    assert [p.path for p in posts] == [HOOK_PATH] * 3
    assert {p.body["username"] for p in posts} == {"kalshi_mm"}
    assert posts[0].body["content"] == "[sim] Session started: KXTEST-1 yes (run 7, discovery_mm)"
    assert posts[1].body["content"].startswith("[sim] TRADING HALTED (was active) by kill switch (operator)")
    assert posts[2].body["content"] == "[sim] Order group tripped: KXTEST-1 (group grp-1): contracts limit 10 hit"
    assert alerts.stats() == {
        "queued": 3,
        "sent": 3,
        "failed": 0,
        "rate_limited": 0,
        "suppressed": 0,
        "dropped": 0,
    }


def test_a_session_ended_by_its_order_group_raises_the_order_group_alert(receiver: Receiver) -> None:
    alerts = make_alerts(receiver.url, LiveClock())
    alerts.start()
    alerts.session_ended("KXTEST-1", "yes", 9, "order_group_tripped", faulted=False, order_group_id="grp-9")
    alerts.session_ended("KXTEST-2", "yes", 10, "hard_stop", faulted=False, order_group_id="grp-10")
    posts = receiver.wait_for(3)
    assert alerts.close()
    contents = [p.body["content"] for p in posts]
    assert contents[0] == "[sim] Order group tripped: KXTEST-1 (group grp-9): session yes run 9 ended"
    assert "KXTEST-1" in contents[1] and "order_group_tripped" in contents[1]
    assert "KXTEST-2" in contents[2] and not any("grp-10" in c for c in contents)


def test_alerts_queued_before_start_still_go_out_at_close(receiver: Receiver) -> None:
    # Runtime.start() can fail before the sender runs (a refused key); close() must still send "stopped".
    alerts = make_alerts(receiver.url, LiveClock())
    alerts.daemon_stopped("fatal: credentials refused")
    assert alerts.close()
    assert receiver.contents() == ["[sim] kalshi_mm stopped: fatal: credentials refused"]


def test_disabled_alerts_are_silent_no_ops(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kalshi_mm.ops.alerts")
    alerts = Alerts.from_config(AlertsConfig(), {"OTHER": receiver.url}, LiveClock())
    assert not alerts.enabled
    assert [r.getMessage() for r in caplog.records] == ["alerts disabled: $KALSHI_MM_ALERT_WEBHOOK_URL is not set"]
    alerts.start()
    alerts.session_started("T", "yes", 1, "x")
    alerts.order_group_tripped("T", "g", "d")
    assert alerts.close()
    assert receiver.contents() == [] and alerts.stats() == {}


def test_429_is_retried_after_retry_after_and_delivered_once(receiver: Receiver) -> None:
    receiver.script.append(Reply(429, b'{"message": "You are being rate limited.", "retry_after": 0.4}'))
    alerts = make_alerts(receiver.url, LiveClock())
    alerts.start()
    alerts.daemon_started("volatility", "sim")
    posts = receiver.wait_for(2)
    assert len(posts) == 2
    assert posts[1].at - posts[0].at >= 0.35
    assert posts[0].body == posts[1].body
    time.sleep(0.2)
    assert alerts.close()
    assert len(receiver.contents()) == 2  # no third attempt: the second was accepted
    stats = alerts.stats()
    assert (stats["sent"], stats["rate_limited"], stats["failed"]) == (1, 1, 0)


@pytest.mark.parametrize("failure", ["unreachable", "http_500", "hanging"])
def test_a_broken_webhook_never_blocks_the_caller(receiver: Receiver, failure: str) -> None:
    url = receiver.url
    if failure == "unreachable":
        url = f"http://127.0.0.1:{closed_port()}{HOOK_PATH}"
    else:
        reply = Reply(500, b"{}") if failure == "http_500" else Reply(hang_s=10.0)
        receiver.script.extend([reply] * 10)
    clock = LiveClock()
    alerts = make_alerts(url, clock, send_timeout_seconds=0.3)
    trading = TradingStateMachine(clock)
    trading.add_listener(alerts.on_trading_state)
    alerts.start()

    started = REAL.monotonic()
    assert trading.halt("circuit breaker: daily loss", "circuit_breaker")  # trading code, alert listener attached
    for i in range(2):
        alerts.session_ended(f"KX-{i}", "no", i, "ttl", faulted=False)
    assert trading.resume("operator resume", "operator")
    elapsed = REAL.monotonic() - started
    assert elapsed < 0.1  # queued only; a hanging post takes 0.3 s each
    assert trading.state.allows_new_exposure()

    assert eventually(lambda: alerts.stats()["failed"] == 4, timeout_s=5.0)
    assert alerts.close(5.0)
    stats = alerts.stats()
    assert (stats["sent"], stats["failed"]) == (0, 4)
    if failure != "unreachable":
        assert len(receiver.contents()) == 4  # one attempt each: only a 429 is retried


def test_a_burst_is_rate_limited_and_the_excess_coalesced(receiver: Receiver) -> None:
    clock = SimClock()  # manual: tokens refill only when the test advances it
    alerts = make_alerts(receiver.url, clock, max_per_minute=5)
    alerts.start()
    for i in range(100):
        alerts.order_group_tripped(f"KX-{i}", f"g{i}", "limit hit")
    assert eventually(lambda: alerts.stats()["suppressed"] == 95)
    time.sleep(0.2)
    contents = receiver.contents()
    assert len(contents) == 5
    assert [c.split(":")[1].strip().split(" ")[0] for c in contents] == [f"KX-{i}" for i in range(5)]

    clock.advance(11.0)
    time.sleep(0.1)
    assert len(receiver.contents()) == 5  # a token needs 12 s at 5 per minute
    clock.advance(1.0)
    posts = receiver.wait_for(6)
    assert posts[5].body["content"] == "95 alerts suppressed by the alert rate limit (order_group 95)"
    assert alerts.close()
    assert len(receiver.contents()) == 6
    assert alerts.stats()["sent"] == 6


def test_the_webhook_url_never_reaches_the_logs(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    receiver.script.append(Reply(500, b"{}"))
    alerts = make_alerts(receiver.url, LiveClock())
    down = make_alerts(f"http://127.0.0.1:{closed_port()}{HOOK_PATH}", LiveClock())
    for a in (alerts, down):
        a.start()
        a.daemon_started("volatility", "sim")  # the first post fails (500 / refused)
        a.daemon_stopped("test over")
    assert receiver.wait_for(2)
    assert alerts.close()
    assert down.close()
    assert alerts.stats()["failed"] == 1 and alerts.stats()["sent"] == 1
    assert down.stats()["failed"] == 2

    text = caplog.text
    assert '"POST ' in text  # urllib3's request lines were captured (and redacted)
    assert "alert not delivered" in text
    assert TOKEN not in text
    assert receiver.url not in text
    assert TOKEN not in repr(alerts._sender) + repr(down._sender)


# --- daily summary ------------------------------------------------------------------------------------------------


def day(hours: float) -> float:
    return 1_767_225_600.0 + hours * 3600  # 2026-01-01T00:00:00Z + hours


def fill_db(db: AnalyticsDB) -> None:
    """Yesterday (before the window): market A realized 100; in the window: A 100 -> 400, B -30, one fault."""
    old = db.create_strategy_run(strategy_name="A-yes", market_ticker="A", trade_side="yes", start_ts=day(-30))
    db.end_strategy_run(old, realized_pnl_e4=100, final_position_e2=0, end_ts=day(-25))
    a = db.create_strategy_run(strategy_name="A-yes", market_ticker="A", trade_side="yes", start_ts=day(1))
    b = db.create_strategy_run(strategy_name="B-no", market_ticker="B", trade_side="no", start_ts=day(2))
    c = db.create_strategy_run(strategy_name="C-yes", market_ticker="C", trade_side="yes", start_ts=day(3))
    for i, (run, ticker, ts) in enumerate([(a, "A", day(1.5)), (a, "A", day(1.6)), (b, "B", day(2.5))]):
        db.log_fill_event(
            fill_id=f"f{i}",
            order_id=f"o{i}",
            market_ticker=ticker,
            outcome_side="yes",
            book_side="bid",
            price_e4=4_500,
            count_e2=250,
            is_taker=False,
            fee_e4=10,
            run_id=run,
            ts=ts,
        )
    db.end_strategy_run(a, realized_pnl_e4=400, final_position_e2=0, end_ts=day(4))
    db.end_strategy_run(b, realized_pnl_e4=-30, final_position_e2=100, end_ts=day(5))
    db.end_strategy_run(c, status="faulted", reason="boom", end_ts=day(6))
    assert db.flush(5.0)


def test_daily_summary_read_only_from_the_analytics_db(tmp_path: Path) -> None:
    db = AnalyticsDB(tmp_path / "a.db", SimClock(start=day(0)))
    try:
        fill_db(db)
        summary = read_daily_summary(tmp_path / "a.db", day(0), day(24))
    finally:
        db.close(5.0)
    assert summary.error is None
    assert (summary.sessions_started, summary.sessions_ended, summary.sessions_faulted) == (3, 3, 1)
    assert (summary.fills, summary.contracts_e2, summary.fees_e4) == (3, 750, 30)
    assert (summary.realized_pnl_e4, summary.pnl_markets) == (300 - 30, 2)
    missing = read_daily_summary(tmp_path / "nope.db", day(0), day(24))
    assert missing.error is not None and missing.fills == 0
    assert not (tmp_path / "nope.db").exists()  # read-only: never creates a file


def test_daily_summary_is_posted_at_its_utc_time(receiver: Receiver, tmp_path: Path) -> None:
    db_path = tmp_path / "a.db"
    db = AnalyticsDB(db_path, SimClock(start=day(0)))
    fill_db(db)
    db.close(5.0)
    clock = SimClock(start=day(23.5))
    cfg = AlertsConfig(daily_summary_utc="00:00")
    alerts = Alerts.from_config(cfg, {ENV_NAME: receiver.url}, clock, db_path=str(db_path))
    alerts.start()
    time.sleep(0.1)
    assert receiver.contents() == []
    clock.advance(1800.0)  # midnight
    posts = receiver.wait_for(1)
    assert alerts.close()
    lines = posts[0].body["content"].splitlines()
    assert lines[:4] == [
        "Daily summary, 2026-01-01 00:00 UTC to 2026-01-02 00:00 UTC",
        "sessions: 3 started, 3 ended (1 faulted)",
        "fills: 3, 7.50 contracts, fees $0.0030",
        "realized P&L: +$0.0270 over 2 markets (exchange figures recorded at session ends, before fees)",
    ]
    assert len(receiver.contents()) == 1


# --- wiring -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StubMarketConfig:
    """The fields SessionPool reads from a generated config (kalshi_mm.modes.sessions.MarketConfig)."""

    ticker: str
    side: str = "yes"
    category: str = "default"
    order_size_e2: int = 100
    max_position_e2: int = 500
    k: float = 10.0
    sigma: float = 0.05
    gamma: float = 0.1
    min_total_spread_e4: int = 200
    max_total_spread_e4: int = 2_000

    def to_json(self) -> dict[str, Any]:
        return {"ticker": self.ticker, "side": self.side}


def test_runtime_and_session_pool_send_their_alerts(receiver: Receiver, tmp_path: Path) -> None:
    data = config_to_dict(AppConfig())
    data["analytics"]["db_path"] = str(tmp_path / "analytics.db")
    data["logging"]["log_dir"] = str(tmp_path / "logs")
    data["exchange"]["rate_limit_tier"] = "prime"
    cfg = validate_config(data, source="test")
    clock = SimClock(scale=10.0)
    server = EmbeddedExchange(clock, scenario="default", tier="prime").start()
    try:
        account = server.create_account("paper-trader")
        assert account.private_key is not None
        credentials = Credentials(account.access_key, account.private_key)
        endpoint = ExchangeEndpoint(EndpointKind.SIM, server.rest_url, server.ws_url)
        rt = Runtime.build(cfg, endpoint, credentials, clock, exchange=server, env={ENV_NAME: receiver.url})
        try:
            rt.start()
            ticker = rt.api.get_all_open_markets()[0].ticker
            pool = SessionPool(rt, max_workers=1)
            running = pool.start(StubMarketConfig(ticker), discovery_session_id=0)
            receiver.wait_for(2)
            assert pool.stop_all(10.0)
            rt.trading.halt("runner.py halt", "operator")
            rt.request_stop("test over")
        finally:
            assert rt.close()
    finally:
        server.stop()
    contents = receiver.contents()
    assert len(contents) == 5, contents
    assert contents[0].startswith("[sim] kalshi_mm started: mode volatility, exchange http://127.0.0.1:")
    assert contents[1] == f"[sim] Session started: {ticker} yes (run {running.run_id}, discovery_mm)"
    assert contents[2].startswith(f"[sim] Session ended: {ticker} yes (run {running.run_id}): ")
    assert contents[3].startswith("[sim] TRADING HALTED (was active) by kill switch (operator): runner.py halt")
    assert contents[4] == "[sim] kalshi_mm stopped: test over"
