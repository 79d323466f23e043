"""Restart recovery and the kill switch against the real embedded exchange (issue #9 §2-3).

(a) A daemon (``runner.py`` in a subprocess) is SIGKILLed while quoting; its orders fill while it is down; a
    restart on the same database cancels the orphans and imports every fill once, so the database's positions
    equal the exchange's.
(b) A create whose response the exchange dropped, by a process that died before it could look the order up,
    leaves a pending intent that the restart resolves on the exchange (and an intent never sent: not_found).
(c) ``runner.py cancel-all`` leaves no resting order of the account, whoever placed it.
(d) (the order-group trip ending a session: tests/component/strategy/test_order_group_trip.py, on the
    session harness.)
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.errors import OrderOutcomeUnknownError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import BookSide, Order, OrderRequest
from kalshi_mm.app import main as app_main
from kalshi_mm.clock import LiveClock
from kalshi_mm.config.credentials import Credentials, EndpointKind, ExchangeEndpoint
from kalshi_mm.config.settings import AppConfig, config_to_dict, load_config, validate_config
from kalshi_mm.runtime import Runtime
from kalshi_mm.sim.model import Event, Market, OrderStatus, Series, Side, TimeInForce
from kalshi_mm.sim.model import OrderRequest as SimRequest
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.strategy.session import ClientIds

ROOT = Path(__file__).resolve().parents[2]
USER, TAKER, OTHER_USER = "trader", "taker", "someone-else"
SERIES, EVENT = "KXRR", "KXRR-26DEC31"
TICKERS = ("KXRR-26DEC31-T40", "KXRR-26DEC31-T60")
REAL_TIMEOUT_S = 30.0


def wait_until(predicate: Callable[[], bool], timeout_s: float = REAL_TIMEOUT_S, what: str = "condition") -> None:
    real = LiveClock()
    deadline = real.monotonic() + timeout_s
    pause = threading.Event()
    while not predicate():
        if real.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        pause.wait(0.05)


@dataclass
class Env:
    server: EmbeddedExchange
    credentials: Credentials
    pem: str
    tmp: Path

    @property
    def exchange(self) -> Any:
        return self.server.exchange

    @property
    def db_path(self) -> Path:
        return self.tmp / "analytics.db"

    def config(self, **changes: Any) -> AppConfig:
        data = config_to_dict(load_config(ROOT / "config.yaml"))
        data["analytics"]["db_path"] = str(self.db_path)
        data["analytics"]["commit_interval_seconds"] = 0.2
        data["logging"]["log_dir"] = str(self.tmp / "logs")
        data["exchange"]["rate_limit_tier"] = "prime"
        data["websockets"]["enabled"] = False
        data["ops_http"]["enabled"] = False  # a fixed port: two test runs must not collide
        for path, value in changes.items():
            node = data
            *parents, leaf = path.split(".")
            for key in parents:
                node = node[key]
            node[leaf] = value
        return validate_config(data, source="test")

    def credentials_env(self) -> dict[str, str]:
        return {"KALSHI_ACCESS_KEY": self.credentials.access_key, "KALSHI_PRIVATE_KEY": self.pem}

    def runtime(self, cfg: AppConfig) -> Runtime:
        """The daemon's start-up path (Runtime.build + start, as run_trading does before the mode): recovery."""
        endpoint = ExchangeEndpoint(EndpointKind.CUSTOM, self.server.rest_url, self.server.ws_url)
        rt = Runtime.build(cfg, endpoint, self.credentials, LiveClock())
        try:
            rt.start()
        except BaseException:
            rt.close()
            raise
        return rt

    def resting(self, user: str = USER) -> list[Any]:
        return list(self.exchange.orders(user, status=OrderStatus.RESTING))

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        conn = sqlite3.connect(self.db_path)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, args)]
        finally:
            conn.close()


def make_env(tmp_path: Path, scenario: str | None) -> Iterator[Env]:
    server = EmbeddedExchange(LiveClock(), scenario=scenario, tier="prime", seed=3).start()
    if scenario is None:
        server.exchange.add_series(Series(SERIES, title="Recovery tests", category="Economics"))
        server.exchange.add_event(Event(EVENT, SERIES, title="Recovery test event"))
        now = int(LiveClock().time())
        for ticker in TICKERS:
            server.exchange.add_market(Market(ticker, EVENT, open_ts=now - 60, close_ts=now + 86_400))
        server.exchange.tick()
    account = server.create_account(USER)
    for user in (TAKER, OTHER_USER):
        server.exchange.create_account(user, 1_000_000 * 10_000)
    assert account.private_key is not None
    pem = account.private_pem().decode()
    try:
        yield Env(server, Credentials(account.access_key, account.private_key), pem, tmp_path)
    finally:
        server.stop()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield from make_env(tmp_path, None)


def place(e: Env, ticker: str, side: Side, price_e4: int, count_e2: int, cid: str | None, user: str = USER) -> Any:
    return e.exchange.place_order(user, SimRequest(ticker, side, price_e4, count_e2, client_order_id=cid)).order


def take(e: Env, order: Any, count_e2: int) -> int:
    """The taker account trades ``count_e2`` against one of our resting orders: an immediate-or-cancel at its
    price sized to also sweep whatever rests ahead of it (better prices, earlier at its price). Under the
    exchange's lock, so the simulated traders cannot slip in between. Returns what our order filled (e2)."""
    with e.exchange.lock:
        current = e.exchange.get_order(USER, order.order_id)
        if current.status is not OrderStatus.RESTING:
            return 0
        book = e.exchange.orderbook(order.ticker)
        if order.side is Side.BID:  # YES bids above ours
            ahead = sum(size for price, size in book.yes if price > order.price_e4)
        else:  # YES asks below ours = NO bids above 1 − our price
            ahead = sum(size for price, size in book.no if price > 10_000 - order.price_e4)
        ahead += e.exchange.queue_position(USER, order.order_id)
        size = min(count_e2, current.remaining_count_e2)
        opposite = Side.ASK if order.side is Side.BID else Side.BID
        request = SimRequest(
            order.ticker, opposite, order.price_e4, ahead + size, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL
        )
        e.exchange.place_order(TAKER, request)
        return e.exchange.get_order(USER, order.order_id).fill_count_e2 - current.fill_count_e2


def exchange_fill_ids(e: Env) -> list[str]:
    api = KalshiTradingAPI(e.server.rest_url, e.credentials, LiveClock(), tier="prime")
    try:
        return [f.fill_id for f in api.iter_fills_since(0)]
    finally:
        api.close()


def exchange_positions(e: Env) -> dict[str, int]:
    return {p.ticker: p.position_e2 for p in e.exchange.positions(USER) if p.position_e2}


def db_positions(e: Env) -> dict[str, int]:
    rows = e.rows(
        "SELECT market_ticker, SUM(CASE book_side WHEN 'bid' THEN count_e2 ELSE -count_e2 END) AS p "
        "FROM order_fills GROUP BY market_ticker"
    )
    return {r["market_ticker"]: r["p"] for r in rows if r["p"]}


# --- (a) a daemon killed mid-run ------------------------------------------------------------------------------


@pytest.fixture
def market_env(tmp_path: Path) -> Iterator[Env]:
    """The default simulated market, with its takers nearly idle: the only fills of our orders are the test's."""
    idle = {"noise_rate_per_min": 0.001, "informed_rate_per_min": 0.001}
    scenario = {"extends": "default", "liquidity": {tier: idle for tier in ("deep", "normal", "thin", "illiquid")}}
    path = tmp_path / "idle_takers.yaml"
    path.write_text(yaml.safe_dump(scenario))
    yield from make_env(tmp_path, str(path))


@pytest.mark.slow  # a real subprocess SIGKILLed: a core acceptance test, run in CI like every other
def test_a_daemon_killed_mid_run_is_recovered_by_the_restart(market_env: Env) -> None:
    e = market_env
    cfg = e.config(**{"mode": "discovery", "websockets.enabled": True, "discovery.max_markets_to_trade": 3})
    cfg_path = e.tmp / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    key_path = e.tmp / "key.pem"
    key_path.write_text(e.pem)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    child_env.update(
        KALSHI_ACCESS_KEY=e.credentials.access_key,
        KALSHI_PRIVATE_KEY=str(key_path),
        KALSHI_BASE_URL=e.server.rest_url,
        KALSHI_WS_URL=e.server.ws_url,
    )
    with (e.tmp / "daemon.out").open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "runner.py", "--config", str(cfg_path)],
            cwd=ROOT,
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:

            def ours() -> list[Any]:
                return [o for o in e.resting() if (o.client_order_id or "").startswith("mm-")]

            wait_until(lambda: len(ours()) >= 2 or proc.poll() is not None, what="the daemon quoting")
            assert proc.poll() is None, (e.tmp / "daemon.out").read_text()[-3000:]
            # One fill while it runs (the daemon books it), then the crash. Retried: the daemon may be replacing
            # the order the test picked.
            wait_until(lambda: any(take(e, o, 100) for o in ours()[:1]), what="a fill of ours")
            wait_until(lambda: bool(e.db_path.exists() and e.rows("SELECT 1 FROM order_fills")), what="fill booked")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == -signal.SIGKILL

    # While it is down: its orders still rest, and they fill.
    orphans = [o for o in e.resting() if (o.client_order_id or "").startswith("mm-")]
    assert orphans, "a killed daemon leaves its orders resting"
    # One contract of each order bigger than that (or all of the first if none is): well under the order group's
    # limit, so orders stay resting for the restart to find.
    bigger = [o for o in orphans if o.remaining_count_e2 > 100] or orphans[:1]
    assert sum(take(e, o, 100) for o in bigger) > 0 and e.exchange.order_groups(USER) != []
    resting_at_restart = {o.order_id for o in e.resting() if (o.client_order_id or "").startswith("mm-")}
    assert resting_at_restart
    down_fills = set(exchange_fill_ids(e)) - {r["fill_id"] for r in e.rows("SELECT fill_id FROM order_fills")}
    assert down_fills

    rt = e.runtime(cfg)  # the restart, same database
    try:
        report = rt.recovery.report if rt.recovery is not None else None
        assert report is not None
        # No order of ours rests that no session owns (none runs yet): every orphan was cancelled.
        assert [o for o in e.resting() if (o.client_order_id or "").startswith("mm-")] == []
        assert set(report.orphans_cancelled) == resting_at_restart
        assert rt.db.flush(REAL_TIMEOUT_S)
        # Every fill of the account in the database exactly once; the database's positions are the exchange's.
        recorded = [r["fill_id"] for r in e.rows("SELECT fill_id FROM order_fills")]
        assert sorted(recorded) == sorted(exchange_fill_ids(e))
        assert down_fills <= set(recorded) and report.fills_imported >= len(down_fills)
        assert db_positions(e) == exchange_positions(e) != {}
        assert report.position_mismatches == {}
        # The killed process's runs are closed, its orphans recorded, its order groups gone.
        assert e.rows("SELECT run_id FROM strategy_runs WHERE status = 'running'") == []
        assert report.runs_closed >= 1
        cancelled = e.rows("SELECT detail FROM risk_events WHERE kind = 'reconcile' AND rule = 'orphan_cancelled'")
        assert len(cancelled) == len(report.orphans_cancelled) >= 1
        assert e.exchange.order_groups(USER) == []
    finally:
        rt.close()


# --- (b) a pending intent whose create response was dropped -------------------------------------------------


class DiesBeforeLookingUp(KalshiTradingAPI):
    """A client whose process dies right after a lost create response: it never looks the order up."""

    def _find_created(self, request: OrderRequest, cid: str, since: int) -> Order | None:
        return None


def test_a_pending_intent_of_a_dropped_create_response_is_resolved_at_restart(env: Env) -> None:
    e = env
    ticker = TICKERS[0]
    db = AnalyticsDB(e.db_path, LiveClock(), commit_interval_s=0.05)
    run_id = db.create_strategy_run(strategy_name="crashed", market_ticker=ticker, trade_side="yes")
    ids = ClientIds(ticker, "yes")
    sent, never_sent = ids.next(), ids.next()
    for cid, price in ((sent, 4400), (never_sent, 4300)):
        db.log_order_intent(
            client_order_id=cid, market_ticker=ticker, book_side="bid", price_e4=price, count_e2=300, run_id=run_id
        )
    e.server.faults.update({"drop_create_response_rate": 1.0})
    client = DiesBeforeLookingUp(e.server.rest_url, e.credentials, LiveClock(), tier="prime", max_retries=0)
    try:
        with pytest.raises(OrderOutcomeUnknownError):
            client.place_order(ticker, BookSide.BID, 4400, 300, client_order_id=sent, post_only=True)
    finally:
        client.close()
    e.server.faults.update({"drop_create_response_rate": 0.0})
    (order,) = e.resting()
    assert order.client_order_id == sent  # the create ran; only its response was lost
    assert db.close(REAL_TIMEOUT_S)
    assert len(e.rows("SELECT * FROM order_intents WHERE outcome = 'pending'")) == 2

    rt = e.runtime(e.config())
    try:
        assert rt.recovery is not None
        report = rt.recovery.report
        assert (report.intents_placed, report.intents_not_found) == (1, 1)
        assert report.orphans_cancelled == [order.order_id]
        assert rt.db.flush(REAL_TIMEOUT_S)
        intents = {r["client_order_id"]: r for r in e.rows("SELECT * FROM order_intents")}
        assert intents[sent]["outcome"] == "placed" and intents[sent]["order_id"] == order.order_id
        assert intents[never_sent]["outcome"] == "not_found" and intents[never_sent]["order_id"] is None
        assert all(r["resolved_ts"] is not None for r in intents.values())
        (row,) = e.rows("SELECT * FROM orders WHERE order_id = ?", order.order_id)
        assert (row["client_order_id"], row["run_id"], row["status"]) == (sent, run_id, "cancelled")
        assert e.resting() == []
        rules = [r["rule"] for r in e.rows("SELECT rule FROM risk_events WHERE kind = 'reconcile' ORDER BY id")]
        assert rules[:3] == ["intent_placed", "intent_not_found", "orphan_cancelled"] and rules[-1] == "startup"
    finally:
        rt.close()


def test_a_clean_start_with_nothing_to_recover_records_only_the_summary(env: Env) -> None:
    manual = place(env, TICKERS[0], Side.BID, 3000, 100, "by-hand-1")
    rt = env.runtime(env.config())
    try:
        assert rt.recovery is not None
        summary = rt.recovery.report.summary()
        assert summary["orphans_cancelled"] == 0 and summary["foreign_orders"] == 1
        assert summary["fills_imported"] == 0 and summary["runs_closed"] == 0
        assert [o.order_id for o in env.resting()] == [manual.order_id]  # not ours: never touched
        assert rt.db.flush(REAL_TIMEOUT_S)
        (event,) = env.rows("SELECT rule, detail FROM risk_events")
        assert event["rule"] == "startup" and json.loads(event["detail"])["foreign_orders"] == 1
    finally:
        rt.close()


# --- (c) cancel-all -----------------------------------------------------------------------------------------


def test_cancel_all_leaves_no_resting_order_of_the_account(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    e = env
    ids = ClientIds(TICKERS[0], "yes")
    for i in range(24):  # more than one batch (the client sizes batches to the write bucket)
        place(e, TICKERS[0], Side.BID, 1000 + 100 * i, 100, ids.next() if i % 2 else f"manual-{i}")
    for i in range(3):
        place(e, TICKERS[1], Side.ASK, 7000 + 100 * i, 200, None)
    theirs = place(e, TICKERS[0], Side.BID, 500, 100, "not-our-account", user=OTHER_USER)
    config = e.tmp / "config.yaml"
    config.write_text("{}\n")
    argv = ["cancel-all", "--config", str(config), "--rest-url", e.server.rest_url]
    assert app_main(argv, e.credentials_env()) == 0
    out = capsys.readouterr().out
    assert "27 resting order(s) found; 27 cancelled, 0 already gone, 0 cancel(s) failed; 0 still resting" in out
    assert e.resting() == []
    assert [o.order_id for o in e.resting(OTHER_USER)] == [theirs.order_id]  # another account: untouched
    # Nothing left: a second run is clean too.
    assert app_main(argv, e.credentials_env()) == 0
    assert "0 resting order(s) found" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "env_kind", "message"),
    [
        (["--exchange", "sim"], "credentials", "lives inside the daemon"),
        ([], "none", "no credentials"),
        (["--attempts", "0"], "credentials", "--attempts"),
    ],
)
def test_cancel_all_refuses_what_it_cannot_do(
    env: Env, capsys: pytest.CaptureFixture[str], extra: list[str], env_kind: str, message: str
) -> None:
    config = env.tmp / "config.yaml"
    config.write_text("{}\n")
    environment = env.credentials_env() if env_kind == "credentials" else {}
    argv = ["cancel-all", "--config", str(config), "--rest-url", env.server.rest_url, *extra]
    assert app_main(argv, environment) == 2
    err = capsys.readouterr().err
    assert message in err and "PRIVATE KEY" not in err


# --- (d) the order-group trip over the real WebSocket ------------------------------------------------------


def test_an_order_group_trip_reaches_the_store_over_the_websocket(env: Env) -> None:
    """What SessionOrderGroup.tripped() reads each cycle (the session side: strategy/test_order_group_trip.py)."""
    rt = env.runtime(env.config(**{"websockets.enabled": True}))
    try:
        assert rt.ws is not None
        wait_until(lambda: rt.store.ws_healthy, timeout_s=10.0, what="the WebSocket up")
        group_id = rt.api.create_order_group(500)
        wait_until(lambda: rt.store.get_order_group(group_id) is not None, timeout_s=10.0, what="group created")
        env.exchange.trigger_order_group(USER, group_id)
        wait_until(
            lambda: getattr(rt.store.get_order_group(group_id), "event_type", None) == "triggered",
            timeout_s=10.0,
            what="the trip on the order_group_updates channel",
        )
    finally:
        rt.close()


# --- the running half: drift check, adopted orders ------------------------------------------------------------


def book_like_a_session(rt: Runtime, order_id: str) -> None:
    """Book an order's fills as a session's fill tracker does (through AnalyticsDB.log_fill_event)."""
    for f in rt.api.get_fills(order_id=order_id).items:
        rt.db.log_fill_event(
            fill_id=f.fill_id,
            order_id=f.order_id,
            market_ticker=f.ticker,
            outcome_side="yes" if f.side is BookSide.BID else "no",
            book_side="bid" if f.side is BookSide.BID else "ask",
            price_e4=f.yes_price_e4,
            count_e2=f.count_e2,
            is_taker=f.is_taker,
            fee_e4=f.fee_e4,
            ts=f.created_ts,
        )


def test_a_fill_nobody_booked_is_drift_that_halts_trading_and_is_repaired(env: Env) -> None:
    e = env
    ticker = TICKERS[0]
    cfg = e.config(**{"recovery.drift_check_interval_seconds": 0, "recovery.drift_confirm_checks": 2})
    rt = e.runtime(cfg)  # interval 0: no thread, the test runs the checks
    try:
        monitor = rt.recovery
        assert monitor is not None and monitor.check() == {}
        booked = place(e, ticker, Side.BID, 4500, 500, ClientIds(ticker, "yes").next())
        assert take(e, booked, 300) == 300
        book_like_a_session(rt, booked.order_id)
        assert [monitor.check() for _ in range(3)] == [{}, {}, {}]  # booked fills are not drift
        assert rt.trading.state.value == "active"

        lost = place(e, ticker, Side.ASK, 5500, 500, ClientIds(ticker, "yes").next())  # e.g. a lost create
        assert take(e, lost, 200) == 200  # ...that filled, and nobody booked
        assert monitor.check() == {}  # once is not enough: it could be a fill in flight
        assert monitor.check() == {ticker: -200}
        assert rt.trading.state.value == "halted"
        (change,) = rt.trading.history
        assert change.source == "drift_check" and ticker in change.reason
        assert rt.db.flush(REAL_TIMEOUT_S)
        (event,) = e.rows("SELECT * FROM risk_events WHERE kind = 'drift'")
        assert event["market_ticker"] == ticker and event["rule"] == "position_mismatch"
        assert json.loads(event["detail"]) == {
            "ledger_e2": 300,
            "exchange_e2": 100,
            "difference_e2": -200,
            "fills_booked_now": 1,
            "difference_after_e2": 0,
        }
        assert db_positions(e) == exchange_positions(e) == {ticker: 100}  # the books were repaired

        # The operator resumes: the ledger is re-based on the exchange, and stays quiet.
        rt.trading.resume("checked the books", source="operator")
        assert [monitor.check() for _ in range(3)] == [{}, {}, {}]
        assert rt.trading.state.value == "active" and len(e.rows("SELECT 1 FROM risk_events WHERE kind = 'drift'")) == 1
    finally:
        rt.close()


def test_adopted_orders_are_left_to_their_session_and_cancelled_when_nobody_claims_them(env: Env) -> None:
    e = env
    claimed = place(e, TICKERS[0], Side.BID, 4000, 100, ClientIds(TICKERS[0], "yes").next())
    unclaimed = place(e, TICKERS[1], Side.BID, 4000, 100, ClientIds(TICKERS[1], "no").next())
    cfg = e.config(
        **{
            "recovery.orphan_orders": "adopt",
            "recovery.adopt_claim_seconds": 1.0,
            "recovery.drift_check_interval_seconds": 0,
        }
    )
    rt = e.runtime(cfg)
    try:
        assert rt.recovery is not None
        assert {o.order_id for o in rt.recovery.report.orphans_adopted} == {claimed.order_id, unclaimed.order_id}
        assert {o.order_id for o in e.resting()} == {claimed.order_id, unclaimed.order_id}
        # A session of TICKERS[0]/yes starts (its run is what the monitor sees), none for TICKERS[1]/no.
        rt.db.create_strategy_run(strategy_name="s", market_ticker=TICKERS[0], trade_side="yes")
        wait_until(lambda: len(e.resting()) == 1, timeout_s=10.0, what="the claim deadline")
        assert [o.order_id for o in e.resting()] == [claimed.order_id]
        assert rt.db.flush(REAL_TIMEOUT_S)
        (event,) = e.rows("SELECT detail FROM risk_events WHERE rule = 'adopted_unclaimed'")
        assert json.loads(event["detail"])["cancelled"] == [unclaimed.order_id]
    finally:
        rt.close()
    # The claimed order is its session's now: the session (or the mode's sweep of its prefix) ends it.
    assert [o.order_id for o in e.resting()] == [claimed.order_id]


def test_adopted_orders_still_unclaimed_at_shutdown_are_cancelled(env: Env) -> None:
    adopted = place(env, TICKERS[0], Side.BID, 4000, 100, ClientIds(TICKERS[0], "yes").next())
    cfg = env.config(**{"recovery.orphan_orders": "adopt", "recovery.drift_check_interval_seconds": 0})
    rt = env.runtime(cfg)
    try:
        assert [o.order_id for o in env.resting()] == [adopted.order_id]
    finally:
        rt.close()  # long before the claim deadline
    assert env.resting() == []
