"""Component tests of AnalyticsDB against real SQLite files (tmp_path), a manual SimClock and real threads."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kalshi_mm.analytics import LATEST_VERSION, AnalyticsDB, MigrationError, SchemaVersionError
from kalshi_mm.analytics.migrations import MIGRATIONS, Migration, apply_migrations, split_sql_statements
from kalshi_mm.clock import LiveClock, SimClock

PROJECT_ROOT = Path(__file__).resolve().parents[2]
QUERIES_PATH = PROJECT_ROOT / "analytics_queries.sql"
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
TABLES = {
    "schema_version",
    "strategy_runs",
    "market_snapshots",
    "orders",
    "order_fills",
    "trades",
    "position_history",
    "discovery_sessions",
    "discovered_markets",
    "volatility_events",
    "volatility_sessions",
}


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start=START)


@pytest.fixture
def open_db(tmp_path: Path, clock: SimClock) -> Iterator[Callable[..., AnalyticsDB]]:
    """Factory for AnalyticsDB on tmp_path/analytics.db; every instance is closed at teardown."""
    opened: list[AnalyticsDB] = []

    def factory(path: Path | None = None, **kwargs: Any) -> AnalyticsDB:
        db = AnalyticsDB(path or tmp_path / "analytics.db", clock, **kwargs)
        opened.append(db)
        return db

    yield factory
    for db in opened:
        db.close()


def query(path: Path, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll ``predicate`` in real time (the writer's commit cadence is real time by design)."""
    live = LiveClock()
    deadline = live.monotonic() + timeout_s
    while live.monotonic() < deadline:
        if predicate():
            return True
        threading.Event().wait(0.01)
    return predicate()


def place(db: AnalyticsDB, order_id: str, run_id: int | None, *, book_side: str = "bid", **kw: Any) -> None:
    outcome = "yes" if book_side == "bid" else "no"
    defaults: dict[str, Any] = {"price_e4": 4700, "count_e2": 1000, "market_ticker": "KXT-1"}
    db.log_order_placed(order_id=order_id, run_id=run_id, outcome_side=outcome, book_side=book_side, **(defaults | kw))


def fill(db: AnalyticsDB, fill_id: str, order_id: str, *, book_side: str = "bid", **kw: Any) -> None:
    outcome = "yes" if book_side == "bid" else "no"
    defaults: dict[str, Any] = {
        "price_e4": 4700,
        "count_e2": 1000,
        "is_taker": False,
        "fee_e4": 0,
        "market_ticker": "KXT-1",
    }
    db.log_fill_event(fill_id=fill_id, order_id=order_id, outcome_side=outcome, book_side=book_side, **(defaults | kw))


# ---- opening, schema, lifecycle -------------------------------------------------------------------


def test_open_creates_parent_dirs_wal_schema_and_views(tmp_path: Path, open_db: Callable[..., AnalyticsDB]) -> None:
    path = tmp_path / "deep" / "er" / "trading_analytics.db"
    open_db(path).close()

    names = {r["name"]: r["type"] for r in query(path, "SELECT name, type FROM sqlite_schema")}
    assert {n for n, t in names.items() if t == "table"} >= TABLES
    views = {n for n, t in names.items() if t == "view"}
    assert {"orders_dollars", "order_fills_dollars", "trades_dollars", "market_snapshots_dollars"} <= views
    assert {"position_history_dollars", "run_pnl"} <= views
    assert query(path, "PRAGMA journal_mode")[0][0] == "wal"
    assert [tuple(r) for r in query(path, "SELECT version FROM schema_version")] == [(m.version,) for m in MIGRATIONS]


def test_close_is_idempotent_and_later_logs_are_dropped_not_raised(open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db()
    run_id = db.create_strategy_run(strategy_name="s", market_ticker="KXT-1", trade_side="yes")
    db.close()
    db.close()
    db.log_position(run_id=run_id, position_e2=100)
    assert db.flush(timeout_s=1.0)
    stats = db.stats()
    assert (stats.enqueued, stats.written, stats.dropped, stats.failed) == (1, 1, 1, 0)
    assert query(db.path, "SELECT COUNT(*) FROM position_history")[0][0] == 0


def test_strategy_run_times_come_from_the_injected_clock_and_ids_survive_reopen(
    tmp_path: Path, clock: SimClock, open_db: Callable[..., AnalyticsDB]
) -> None:
    db = open_db()
    config = {"as_model": {"gamma": 0.1}, "api_key": "***"}
    first = db.create_strategy_run(
        strategy_name="KXT-1-VOL", market_ticker="KXT-1", trade_side="no", config_params=config
    )
    second = db.create_strategy_run(strategy_name="other", market_ticker="KXT-2", trade_side=None)
    clock.advance(90.5)
    db.end_strategy_run(first, reason="session expired", final_position_e2=-250, realized_pnl_e4=1234)
    db.end_strategy_run(second, status="faulted", reason="stale book")
    db.close()

    rows = {r["run_id"]: r for r in query(db.path, "SELECT * FROM strategy_runs")}
    assert second != first
    assert set(rows) == {first, second}
    run = rows[first]
    assert (run["start_ts"], run["end_ts"]) == (START, START + 90.5)
    assert (run["status"], run["end_reason"]) == ("completed", "session expired")
    assert (run["trade_side"], run["final_position_e2"], run["realized_pnl_e4"]) == ("no", -250, 1234)
    assert json.loads(run["config_params"]) == config
    assert rows[second]["status"] == "faulted"
    assert rows[second]["trade_side"] is None

    reopened = open_db(db.path)
    third = reopened.create_strategy_run(strategy_name="s3", market_ticker="KXT-3", trade_side="yes")
    assert third > max(first, second)


def test_ids_are_returned_before_the_writer_commits(open_db: Callable[..., AnalyticsDB]) -> None:
    # A commit interval of a minute and a large batch: nothing reaches the disk until flush().
    db = open_db(commit_interval_s=60.0, max_batch_rows=10_000)
    run_ids = [db.create_strategy_run(strategy_name=f"s{i}", market_ticker="T", trade_side="yes") for i in range(5)]
    event_ids = [db.log_volatility_event(market_ticker="T", signal_strength=0.5) for _ in range(3)]
    assert len(set(run_ids)) == 5
    assert len(set(event_ids)) == 3
    assert query(db.path, "SELECT COUNT(*) FROM strategy_runs")[0][0] == 0
    db.flush()
    assert sorted(r[0] for r in query(db.path, "SELECT run_id FROM strategy_runs")) == sorted(run_ids)


# ---- orders, fills, trades --------------------------------------------------------------------------


def test_order_lifecycle_partial_then_full_fill_and_cancel(
    clock: SimClock, open_db: Callable[..., AnalyticsDB]
) -> None:
    db = open_db()
    run_id = db.create_strategy_run(strategy_name="s", market_ticker="KXT-1", trade_side="yes")
    place(
        db,
        "o-1",
        run_id,
        client_order_id="c-1",
        order_group_id="g-1",
        action="buy",
        side="yes",
        count_e2=1000,
        expiration_ts=START + 600,
    )
    place(db, "o-2", run_id, book_side="ask", price_e4=5300, count_e2=550, client_order_id="c-2")
    clock.advance(5)
    db.log_order_filled(order_id="o-1", price_e4=4700, count_e2=400, fee_e4=70, fully_filled=False)
    clock.advance(5)
    db.log_order_filled(order_id="o-1", price_e4=4600, count_e2=600, fee_e4=105, realized_pnl_e4=-20)
    db.log_order_cancelled("o-2", reason="requote")
    db.log_order_cancelled("o-1", reason="too late")  # already filled: must stay filled
    db.close()

    orders = {r["order_id"]: r for r in query(db.path, "SELECT * FROM orders")}
    o1, o2 = orders["o-1"], orders["o-2"]
    assert (o1["client_order_id"], o1["order_group_id"], o1["run_id"]) == ("c-1", "g-1", run_id)
    assert (o1["outcome_side"], o1["book_side"], o1["action"], o1["side"]) == ("yes", "bid", "buy", "yes")
    assert (o1["placed_price_e4"], o1["placed_count_e2"], o1["placed_ts"]) == (4700, 1000, START)
    assert o1["status"] == "filled"
    assert (o1["filled_count_e2"], o1["filled_notional_e6"], o1["fee_e4"]) == (1000, 4700 * 400 + 4600 * 600, 175)
    assert (o1["updated_ts"], o1["expiration_ts"]) == (START + 10, START + 600)
    assert (o2["status"], o2["cancel_reason"], o2["outcome_side"]) == ("cancelled", "requote", "no")

    trades = query(db.path, "SELECT * FROM trades ORDER BY id")
    assert [(t["price_e4"], t["count_e2"], t["fee_e4"], t["realized_pnl_e4"]) for t in trades] == [
        (4700, 400, 70, None),
        (4600, 600, 105, -20),
    ]
    assert {(t["run_id"], t["market_ticker"], t["book_side"], t["action"]) for t in trades} == {
        (run_id, "KXT-1", "bid", "buy")
    }
    assert db.stats().unmatched == 1  # the late cancel of o-1


def test_log_order_filled_with_fill_id_is_idempotent(open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db()
    place(db, "o-1", None)
    for _ in range(3):
        db.log_order_filled(order_id="o-1", price_e4=4700, count_e2=300, fee_e4=10, fill_id="f-1", fully_filled=False)
    db.close()
    assert query(db.path, "SELECT COUNT(*) FROM trades")[0][0] == 1
    order = query(db.path, "SELECT status, filled_count_e2, fee_e4 FROM orders")[0]
    assert tuple(order) == ("partially_filled", 300, 10)
    assert db.stats().duplicates == 2


def test_trade_against_unknown_order_is_still_booked(open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db()
    db.log_order_filled(order_id="from-before-restart", price_e4=5000, count_e2=100)
    db.close()
    trade = query(db.path, "SELECT order_id, run_id, price_e4 FROM trades")
    assert [tuple(t) for t in trade] == [("from-before-restart", None, 5000)]
    assert (db.stats().unmatched, db.failed_writes) == (1, 0)


def test_log_fill_event_is_idempotent_on_fill_id(clock: SimClock, open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db()
    run_id = db.create_strategy_run(strategy_name="s", market_ticker="KXT-1", trade_side="yes")
    place(db, "o-1", run_id, client_order_id="c-1")
    for _ in range(3):
        fill(
            db, "f-1", "o-1", trade_id="f-1", count_e2=250, is_taker=True, fee_e4=44, post_position_e2=250, ts=START - 1
        )
    clock.advance(2)
    fill(db, "f-2", "o-1", count_e2=750, action="buy", side="yes")
    fill(db, "f-3", "o-9", book_side="ask", price_e4=5100, count_e2=1, run_id=run_id)
    db.close()

    rows = {r["fill_id"]: r for r in query(db.path, "SELECT * FROM order_fills")}
    assert set(rows) == {"f-1", "f-2", "f-3"}
    f1 = rows["f-1"]
    assert (f1["trade_id"], f1["order_id"], f1["count_e2"], f1["is_taker"], f1["fee_e4"]) == ("f-1", "o-1", 250, 1, 44)
    assert (f1["post_position_e2"], f1["ts"], f1["logged_ts"]) == (250, START - 1, START)
    # run and client order id are inherited from the order when the fill does not carry them
    assert (f1["run_id"], f1["client_order_id"]) == (run_id, "c-1")
    assert (rows["f-2"]["ts"], rows["f-2"]["action"]) == (START + 2, "buy")
    assert (rows["f-3"]["run_id"], rows["f-3"]["outcome_side"], rows["f-3"]["client_order_id"]) == (run_id, "no", None)
    stats = db.stats()
    assert (stats.duplicates, stats.failed) == (2, 0)


def test_concurrent_duplicate_fills_store_one_row_each(open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db(commit_interval_s=0.01, max_batch_rows=50)

    def worker() -> None:
        for i in range(500):
            fill(db, f"f-{i}", "o-1")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.close()
    assert tuple(query(db.path, "SELECT COUNT(*), COUNT(DISTINCT fill_id) FROM order_fills")[0]) == (500, 500)
    assert db.stats().duplicates == 1500


def test_direction_fields_must_agree(open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db()
    db.log_order_placed(
        order_id="bad-1", market_ticker="T", outcome_side="yes", book_side="ask", price_e4=4700, count_e2=100
    )
    place(db, "bad-2", None, action="sell", side="yes")  # sell-yes is outcome 'no', placed as bid/yes
    place(db, "ok-1", None, book_side="ask", action="buy", side="no")
    db.close()
    assert [r[0] for r in query(db.path, "SELECT order_id FROM orders")] == ["ok-1"]
    assert db.failed_writes == 2


# ---- snapshots, positions --------------------------------------------------------------------------


def test_market_snapshots_and_positions_round_trip(clock: SimClock, open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db()
    run_id = db.create_strategy_run(strategy_name="s", market_ticker="KXT-1", trade_side="yes")
    db.log_market_snapshot(
        run_id=run_id,
        position_e2=-300,
        yes_bid_e4=4600,
        yes_ask_e4=4801,
        no_bid_e4=5199,
        no_ask_e4=5400,
        reservation_price_e4=4712,
        computed_bid_e4=4650,
        computed_ask_e4=4790,
        sigma=0.0123,
        gamma=0.1,
    )
    clock.advance(1)
    db.log_market_snapshot(run_id=run_id, position_e2=0)  # empty book, no quotes
    db.log_position(run_id=run_id, position_e2=-300, unrealized_pnl_e4=-45, realized_pnl_e4=12)
    db.close()

    snaps = query(db.path, "SELECT * FROM market_snapshots ORDER BY ts")
    assert len(snaps) == 2
    s = snaps[0]
    assert (s["yes_bid_e4"], s["yes_ask_e4"], s["no_bid_e4"], s["no_ask_e4"]) == (4600, 4801, 5199, 5400)
    assert (s["position_e2"], s["reservation_price_e4"], s["spread_e4"]) == (-300, 4712, 140)
    assert (s["sigma"], s["gamma"], s["ts"]) == (0.0123, 0.1, START)
    assert (snaps[1]["yes_bid_e4"], snaps[1]["spread_e4"], snaps[1]["ts"]) == (None, None, START + 1)

    pos = query(db.path, "SELECT * FROM position_history")
    assert [(p["run_id"], p["ts"], p["position_e2"], p["unrealized_pnl_e4"], p["realized_pnl_e4"]) for p in pos] == [
        (run_id, START + 1, -300, -45, 12)
    ]


# ---- discovery, volatility -------------------------------------------------------------------------


def test_discovery_session_and_markets_via_getters(clock: SimClock, open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db()
    assert db.get_discovery_session() is None
    old = db.create_discovery_session(
        total_markets=1,
        binary_markets=1,
        pre_filtered=1,
        scored=1,
        top_markets_count=1,
        configs_generated=0,
        model_version="m0",
    )
    clock.advance(60)
    sid = db.create_discovery_session(
        total_markets=3200,
        binary_markets=2900,
        pre_filtered=410,
        scored=400,
        top_markets_count=20,
        configs_generated=2,
        model_version="m1",
    )
    markets = [("KXA", 0.31, False), ("KXB", 0.92, True), ("KXC", 0.55, True)]
    for ticker, score, selected in markets:
        db.log_discovered_market(
            session_id=sid,
            ticker=ticker,
            score=score,
            title=f"title {ticker}",
            category="Economics",
            volume_24h_e2=123_400,
            spread_e4=300,
            mid_price_e4=4550,
            liquidity_e4=9_990_000,
            reasons=["tight spread", "volume"],
            generated_config={"gamma": 0.1, "max_position_contracts": 50} if selected else None,
            selected_for_trading=selected,
            trade_side="yes" if selected else None,
        )
    # Logging a ticker again replaces its row (the scorer may revise a market within one session).
    db.log_discovered_market(session_id=sid, ticker="KXA", score=0.99, reasons=["revised"])

    session = db.get_discovery_session(sid)
    assert session is not None
    assert (session["ts"], session["total_markets"], session["pre_filtered"]) == (START + 60, 3200, 410)
    assert (session["configs_generated"], session["model_version"]) == (2, "m1")
    assert db.get_discovery_session() == session  # latest
    assert db.get_discovery_session(old)["model_version"] == "m0"  # type: ignore[index]
    assert db.get_discovery_session(999) is None

    got = db.get_discovered_markets(sid)
    assert [m["ticker"] for m in got] == ["KXA", "KXB", "KXC"]  # by score, KXA revised to 0.99
    assert got[0]["reasons"] == ["revised"]
    assert got[0]["selected_for_trading"] is False
    kxb = got[1]
    assert kxb["reasons"] == ["tight spread", "volume"]
    assert kxb["generated_config"] == {"gamma": 0.1, "max_position_contracts": 50}
    assert (kxb["volume_24h_e2"], kxb["spread_e4"], kxb["mid_price_e4"], kxb["liquidity_e4"]) == (
        123_400,
        300,
        4550,
        9_990_000,
    )
    assert (kxb["selected_for_trading"], kxb["trade_side"], kxb["title"]) == (True, "yes", "title KXB")
    assert [m["ticker"] for m in db.get_discovered_markets(sid, selected_only=True)] == ["KXB", "KXC"]
    assert [m["ticker"] for m in db.get_discovered_markets(sid, limit=1)] == ["KXA"]
    assert db.get_discovered_markets(old) == []
    assert db.close(timeout_s=10.0)
    assert db.get_discovery_session(sid) == session  # getters still read after close


def test_volatility_event_session_start_and_end(clock: SimClock, open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db()
    event_id = db.log_volatility_event(
        market_ticker="KXV-1",
        signal_strength=0.83,
        sigma=0.045,
        jump_magnitude_e4=-600,
        direction="down",
        close_ts=START + 3600,
    )
    quiet = db.log_volatility_event(market_ticker="KXV-2", signal_strength=0.2)
    run_id = db.create_strategy_run(strategy_name="KXV-1-VOL", market_ticker="KXV-1", trade_side="no")
    session_id = db.log_volatility_session_start(event_id=event_id, run_id=run_id)
    clock.advance(300)
    db.log_volatility_session_end(session_id, kill_reason="max_duration", final_pnl_e4=8700, final_position_e2=0)
    db.close()

    events = {r["event_id"]: r for r in query(db.path, "SELECT * FROM volatility_events")}
    e = events[event_id]
    assert (e["market_ticker"], e["ts"], e["signal_strength"], e["sigma"]) == ("KXV-1", START, 0.83, 0.045)
    assert (e["jump_magnitude_e4"], e["direction"], e["close_ts"], e["run_id"]) == (-600, "down", START + 3600, run_id)
    assert events[quiet]["run_id"] is None
    s = query(db.path, "SELECT * FROM volatility_sessions")[0]
    assert (s["session_id"], s["event_id"], s["run_id"]) == (session_id, event_id, run_id)
    assert (s["start_ts"], s["end_ts"], s["kill_reason"]) == (START, START + 300, "max_duration")
    assert (s["final_pnl_e4"], s["final_position_e2"]) == (8700, 0)


# ---- views -----------------------------------------------------------------------------------------


def test_views_show_dollars_contracts_and_utc_times(open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db()
    run_id = db.create_strategy_run(strategy_name="s", market_ticker="KXT-1", trade_side="yes")
    place(db, "buy", run_id, price_e4=4700, count_e2=1000)
    place(db, "sell", run_id, book_side="ask", price_e4=5200, count_e2=400)
    fill(db, "f-buy", "buy", price_e4=4700, count_e2=1000, fee_e4=125, is_taker=True)
    fill(db, "f-sell", "sell", book_side="ask", price_e4=5200, count_e2=400, fee_e4=75)
    db.log_order_filled(order_id="buy", price_e4=4700, count_e2=1000, fee_e4=125)
    db.log_order_filled(order_id="sell", price_e4=5200, count_e2=400, fee_e4=75, realized_pnl_e4=2000)
    db.log_market_snapshot(
        run_id=run_id, position_e2=600, yes_bid_e4=5000, yes_ask_e4=5400, computed_bid_e4=4950, computed_ask_e4=5450
    )
    db.log_position(run_id=run_id, position_e2=600, unrealized_pnl_e4=3000)
    db.end_strategy_run(run_id, realized_pnl_e4=2000, final_position_e2=600)
    db.close()

    f = query(db.path, "SELECT * FROM order_fills_dollars WHERE fill_id = 'f-buy'")[0]
    assert (f["price"], f["count"], f["fee"], f["notional"], f["run_id"]) == (0.47, 10.0, 0.0125, 4.7, run_id)
    assert f["filled_at"] == "2026-01-01 00:00:00.000"
    o = query(db.path, "SELECT * FROM orders_dollars WHERE order_id = 'sell'")[0]
    assert (o["placed_price"], o["placed_count"], o["filled_count"], o["avg_fill_price"]) == (0.52, 4.0, 4.0, 0.52)
    t = query(db.path, "SELECT * FROM trades_dollars WHERE order_id = 'sell'")[0]
    assert (t["price"], t["count"], t["realized_pnl"]) == (0.52, 4.0, 0.2)
    s = query(db.path, "SELECT * FROM market_snapshots_dollars")[0]
    assert (s["yes_mid"], s["position"], s["spread"], s["market_ticker"]) == (0.52, 6.0, 0.05, "KXT-1")
    p = query(db.path, "SELECT * FROM position_history_dollars")[0]
    assert (p["position"], p["unrealized_pnl"]) == (6.0, 0.3)

    pnl = query(db.path, "SELECT * FROM run_pnl WHERE run_id = ?", (run_id,))[0]
    assert (pnl["fills"], pnl["yes_bought"], pnl["yes_sold"], pnl["net_position"]) == (2, 10.0, 4.0, 6.0)
    assert pnl["yes_cash_flow"] == pytest.approx(-4.70 + 2.08)
    assert (pnl["fees"], pnl["booked_realized_pnl"], pnl["final_realized_pnl"]) == (0.02, 0.2, 0.2)


# ---- failure handling ------------------------------------------------------------------------------


def test_failed_writes_are_counted_logged_and_spare_the_rest_of_the_batch(
    open_db: Callable[..., AnalyticsDB], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kalshi_mm.analytics")
    # One long batch: nothing commits until flush(), so good and bad rows share a transaction.
    db = open_db(commit_interval_s=60.0, max_batch_rows=10_000)
    run_id = db.create_strategy_run(strategy_name="s", market_ticker="KXT-1", trade_side="yes")
    bad_values: list[dict[str, Any]] = [
        {"position_e2": None},  # NOT NULL
        {"position_e2": 12.5},  # a non-integral float in an integer count column
        {"position_e2": 1, "yes_bid_e4": 12_000},  # CHECK: price above $1
    ]
    for i in range(30):
        db.log_market_snapshot(run_id=run_id, position_e2=i)
        if i % 10 == 5:
            db.log_market_snapshot(run_id=run_id, **bad_values[i // 10])
    fill(db, "f-bad", "o-1", price_e4=0)  # CHECK: price must be on 1..9999
    fill(db, "f-good", "o-1")
    assert db.flush(timeout_s=10.0)

    assert sorted(r[0] for r in query(db.path, "SELECT position_e2 FROM market_snapshots")) == list(range(30))
    assert [r[0] for r in query(db.path, "SELECT fill_id FROM order_fills")] == ["f-good"]
    assert db.failed_writes == 4
    stats = db.stats()
    assert (stats.enqueued, stats.written, stats.failed) == (1 + 30 + 3 + 2, 1 + 30 + 1, 4)
    warnings = [r for r in caplog.records if r.name == "kalshi_mm.analytics" and r.levelno == logging.WARNING]
    assert len(warnings) == 4


def test_commits_on_the_interval_without_flush(open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db(commit_interval_s=0.05, max_batch_rows=10_000)
    run_id = db.create_strategy_run(strategy_name="s", market_ticker="T", trade_side="yes")
    db.log_position(run_id=run_id, position_e2=7)
    assert wait_until(lambda: query(db.path, "SELECT COUNT(*) FROM position_history")[0][0] == 1)


def test_commits_when_a_batch_is_full(open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db(commit_interval_s=3600.0, max_batch_rows=5)
    for i in range(4):
        db.log_position(run_id=1, position_e2=i)
    # Four rows under a one-hour interval stay pending; the fifth fills the batch.
    assert not wait_until(lambda: query(db.path, "SELECT COUNT(*) FROM position_history")[0][0] > 0, 0.3)
    db.log_position(run_id=1, position_e2=4)
    assert wait_until(lambda: query(db.path, "SELECT COUNT(*) FROM position_history")[0][0] == 5)


# ---- concurrency and crash safety ------------------------------------------------------------------


def test_eight_threads_of_ten_thousand_rows_lose_nothing(open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db(commit_interval_s=0.2)
    n_threads, n_rows = 8, 10_000
    barrier = threading.Barrier(n_threads)

    def worker(thread_no: int) -> None:
        barrier.wait()
        for seq in range(n_rows):
            db.log_market_snapshot(run_id=thread_no, position_e2=seq, yes_bid_e4=4000 + seq % 100)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.close()

    rows = query(db.path, "SELECT run_id, position_e2 FROM market_snapshots")
    assert len(rows) == n_threads * n_rows
    assert {(r[0], r[1]) for r in rows} == {(t, s) for t in range(n_threads) for s in range(n_rows)}
    stats = db.stats()
    assert (stats.written, stats.failed, stats.dropped) == (n_threads * n_rows, 0, 0)
    assert stats.batches > 1


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkilled_writer_leaves_an_intact_db_with_every_acknowledged_row(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    env = os.environ | {"PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("analytics_kill_child.py")), str(path)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60.0, proc.kill)  # never hang the suite if the child stalls
    watchdog.start()
    try:
        acked: list[int] = []
        while len(acked) < 6:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                pytest.fail(f"child exited early: {proc.communicate()[1]}")
            acked.append(int(line))
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
    assert proc.returncode == -signal.SIGKILL, err
    # Lines printed after the ones read above were also acknowledged; a torn last line is not.
    acked += [int(line) for line in out.splitlines(keepends=True) if line.endswith("\n")]
    assert acked == sorted(acked)

    assert query(path, "PRAGMA integrity_check")[0][0] == "ok"
    assert query(path, "SELECT COUNT(*) FROM market_snapshots")[0][0] >= acked[-1]
    # The file is still usable: reopening recovers the WAL and continues the run ids.
    db = AnalyticsDB(path, SimClock(start=START))
    try:
        assert db.create_strategy_run(strategy_name="after", market_ticker="T", trade_side="yes") == 2
    finally:
        db.close()


# ---- migrations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["empty file", "empty schema_version table"])
def test_version_zero_database_is_upgraded_on_open(
    tmp_path: Path, open_db: Callable[..., AnalyticsDB], variant: str
) -> None:
    path = tmp_path / "v0.db"
    conn = sqlite3.connect(path)
    if variant == "empty schema_version table":
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_ts REAL NOT NULL,"
            " description TEXT NOT NULL) STRICT"
        )
    conn.commit()
    conn.close()

    open_db(path).close()
    tables = {r[0] for r in query(path, "SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert tables >= TABLES
    assert [tuple(r) for r in query(path, "SELECT version, applied_ts FROM schema_version")] == [
        (m.version, START) for m in MIGRATIONS
    ]


def _v1_fixture(path: Path) -> None:
    """A version-1 database built by hand from schema.sql, holding one order."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in split_sql_statements((PROJECT_ROOT / "schema.sql").read_text()):
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (1, 1.0, 'initial schema (by hand)')")
    conn.execute(
        "INSERT INTO orders (order_id, market_ticker, outcome_side, book_side, placed_price_e4, placed_count_e2,"
        " placed_ts) VALUES ('o-1', 'T', 'yes', 'bid', 4700, 100, 1.0)"
    )
    conn.close()


def test_older_database_is_migrated_forward_in_order_keeping_its_rows(tmp_path: Path, clock: SimClock) -> None:
    path = tmp_path / "v1.db"
    _v1_fixture(path)
    n = LATEST_VERSION
    steps = (
        *MIGRATIONS,
        Migration(n + 1, "orders.note", "ALTER TABLE orders ADD COLUMN note TEXT; UPDATE orders SET note = 'v2';"),
        Migration(n + 2, "orders.note upper", "UPDATE orders SET note = upper(note) || ';';"),
    )
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert apply_migrations(conn, clock.time(), steps) == (1, n + 2)
        assert apply_migrations(conn, clock.time(), steps) == (n + 2, n + 2)  # nothing pending: a no-op
    finally:
        conn.close()
    assert [tuple(r) for r in query(path, "SELECT order_id, note FROM orders")] == [("o-1", "V2;")]
    assert [r[0] for r in query(path, "SELECT version FROM schema_version ORDER BY version")] == list(range(1, n + 3))

    # This code only knows version n, so the version n+2 file must be refused, naming both versions.
    with pytest.raises(SchemaVersionError, match=rf"version {n + 2}.*version {n}"):
        AnalyticsDB(path, clock)


def test_failing_migration_rolls_back_every_pending_step(tmp_path: Path, clock: SimClock) -> None:
    path = tmp_path / "v1.db"
    _v1_fixture(path)
    n = LATEST_VERSION
    steps = (
        *MIGRATIONS,
        Migration(n + 1, "good", "ALTER TABLE orders ADD COLUMN note TEXT;"),
        Migration(n + 2, "bad", "UPDATE orders SET note = 'x'; UPDATE no_such_table SET a = 1;"),
    )
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(MigrationError, match=f"version {n + 2}"):
            apply_migrations(conn, clock.time(), steps)
    finally:
        conn.close()
    assert [r[0] for r in query(path, "SELECT version FROM schema_version")] == [1]
    assert "note" not in {r["name"] for r in query(path, "PRAGMA table_info(orders)")}
    assert "order_intents" not in {r[0] for r in query(path, "SELECT name FROM sqlite_schema")}


def test_newer_database_is_refused_with_both_versions_named(tmp_path: Path, clock: SimClock) -> None:
    path = tmp_path / "future.db"
    _v1_fixture(path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (99, 2.0, 'from the future')")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError) as excinfo:
        AnalyticsDB(path, clock)
    assert "99" in str(excinfo.value)
    assert str(LATEST_VERSION) in str(excinfo.value)
    assert query(path, "SELECT COUNT(*) FROM orders")[0][0] == 1  # untouched


def test_foreign_database_without_schema_version_is_refused(tmp_path: Path, clock: SimClock) -> None:
    path = tmp_path / "seed.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE strategy_runs (run_id INTEGER PRIMARY KEY, start_time TIMESTAMP)")
    conn.commit()
    conn.close()
    with pytest.raises(MigrationError, match="schema_version"):
        AnalyticsDB(path, clock)


def test_split_sql_statements_respects_strings_comments_and_triggers() -> None:
    text = """
    -- a comment; with a semicolon
    CREATE TABLE t (a TEXT); /* block; comment */
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = a || 'z;'; DELETE FROM t WHERE a = 'q'; END;
    INSERT INTO t VALUES ('x;y');
    -- trailing comment
    """
    statements = split_sql_statements(text)
    assert len(statements) == 3
    conn = sqlite3.connect(":memory:")
    for statement in statements:
        conn.execute(statement)
    assert conn.execute("SELECT a FROM t").fetchall() == [("x;yz;",)]
    with pytest.raises(MigrationError):
        split_sql_statements("SELECT 1; SELECT 2")


# ---- analytics_queries.sql -------------------------------------------------------------------------


def _populate(db: AnalyticsDB, clock: SimClock) -> int:
    sid = db.create_discovery_session(
        total_markets=50,
        binary_markets=40,
        pre_filtered=10,
        scored=10,
        top_markets_count=2,
        configs_generated=1,
        model_version="m1",
    )
    db.log_discovered_market(session_id=sid, ticker="KXT-1", score=0.8, selected_for_trading=True, trade_side="yes")
    db.log_discovered_market(session_id=sid, ticker="KXT-2", score=0.4)
    event_id = db.log_volatility_event(market_ticker="KXT-1", signal_strength=0.7, sigma=0.03, direction="up")
    run_id = db.create_strategy_run(strategy_name="KXT-1-VOL", market_ticker="KXT-1", trade_side="yes")
    session_id = db.log_volatility_session_start(event_id=event_id, run_id=run_id)
    place(db, "buy", run_id, price_e4=4700, count_e2=1000)
    place(db, "sell", run_id, book_side="ask", price_e4=5200, count_e2=400)
    place(db, "resting", run_id, price_e4=4500, count_e2=500)
    clock.advance(3)
    fill(db, "f-buy", "buy", price_e4=4700, count_e2=1000, fee_e4=125, is_taker=True)
    fill(db, "f-sell", "sell", book_side="ask", price_e4=5200, count_e2=400, fee_e4=75)
    db.log_order_filled(order_id="buy", price_e4=4700, count_e2=1000, fee_e4=125)
    db.log_order_filled(order_id="sell", price_e4=5200, count_e2=400, fee_e4=75, realized_pnl_e4=2000)
    for mid in (5100, 5200):
        clock.advance(1)
        db.log_market_snapshot(
            run_id=run_id,
            position_e2=600,
            yes_bid_e4=mid - 200,
            yes_ask_e4=mid + 200,
            reservation_price_e4=mid - 50,
            computed_bid_e4=mid - 250,
            computed_ask_e4=mid + 250,
            sigma=0.03,
        )
        db.log_position(run_id=run_id, position_e2=600, unrealized_pnl_e4=(mid - 4700) * 6)
    db.log_volatility_session_end(session_id, kill_reason="timeout", final_pnl_e4=2600)
    db.end_strategy_run(run_id, realized_pnl_e4=2000, final_position_e2=600)
    return run_id


def test_every_statement_of_analytics_queries_sql_runs(clock: SimClock, open_db: Callable[..., AnalyticsDB]) -> None:
    db = open_db()
    run_id = _populate(db, clock)
    db.close()

    statements = split_sql_statements(QUERIES_PATH.read_text())
    assert len(statements) >= 10
    conn = sqlite3.connect(db.path)
    conn.row_factory = sqlite3.Row
    try:
        results = [conn.execute(statement).fetchall() for statement in statements]
    finally:
        conn.close()
    assert all(results), "every query should return rows on a populated database"

    pnl = {row["run_id"]: row for row in results[0]}[run_id]
    # bought 10 @ 0.47, sold 4 @ 0.52, fees 0.02, 6 open marked at the last mid 0.52
    assert pnl["marked_pnl"] == pytest.approx(-4.70 + 2.08 - 0.02 + 6 * 0.52)
    fill_rate = results[1][0]
    assert (fill_rate["orders"], fill_rate["orders_with_fills"], fill_rate["contracts_quoted"]) == (3, 2, 19.0)
    assert results[2][0]["avg_quoted_spread"] == pytest.approx(0.05)


def test_amend_updates_a_live_order_and_not_a_finished_one(
    clock: SimClock, open_db: Callable[..., AnalyticsDB]
) -> None:
    db = open_db()
    run_id = db.create_strategy_run(strategy_name="s", market_ticker="KXT-1", trade_side="yes")
    place(db, "o-a", run_id, count_e2=1000, client_order_id="c-a")
    place(db, "o-b", run_id, count_e2=500, client_order_id="c-b")
    db.log_order_cancelled("o-b", reason="requote")
    clock.advance(1)
    db.log_order_amended("o-a", price_e4=4800, count_e2=600)
    db.log_order_amended("o-b", price_e4=4900, count_e2=700)  # already cancelled: stays as it was
    db.close()
    orders = {r["order_id"]: r for r in query(db.path, "SELECT * FROM orders")}
    assert (orders["o-a"]["placed_price_e4"], orders["o-a"]["placed_count_e2"]) == (4800, 600)
    assert orders["o-a"]["updated_ts"] == START + 1
    assert orders["o-b"]["placed_count_e2"] == 500 and orders["o-b"]["status"] == "cancelled"


def test_partial_fill_logged_after_the_cancel_keeps_the_order_cancelled(
    clock: SimClock, open_db: Callable[..., AnalyticsDB]
) -> None:
    db = open_db()
    run_id = db.create_strategy_run(strategy_name="s", market_ticker="KXT-1", trade_side="yes")
    place(db, "o-late", run_id, count_e2=1000, client_order_id="c-late")
    db.log_order_cancelled("o-late", reason="requote")
    db.log_order_filled(order_id="o-late", price_e4=4700, count_e2=300, fee_e4=10, fully_filled=False)
    db.close()
    (row,) = query(db.path, "SELECT status, filled_count_e2 FROM orders WHERE order_id = 'o-late'")
    assert (row["status"], row["filled_count_e2"]) == ("cancelled", 300)


def test_order_whose_fills_add_up_to_its_size_is_filled_whatever_the_caller_knew(
    open_db: Callable[..., AnalyticsDB],
) -> None:
    # A session that dropped the order from its live table (an amend answered 404) reports fully_filled=False.
    db = open_db()
    run_id = db.create_strategy_run(strategy_name="s", market_ticker="KXT-1", trade_side="yes")
    place(db, "o-1", run_id, count_e2=200, client_order_id="c-1")
    db.log_order_filled(order_id="o-1", price_e4=4700, count_e2=100, fully_filled=False)
    db.log_order_filled(order_id="o-1", price_e4=4700, count_e2=100, fully_filled=False)
    place(db, "o-2", run_id, count_e2=200, client_order_id="c-2")
    db.log_order_cancelled("o-2", reason="requote")
    db.log_order_filled(order_id="o-2", price_e4=4700, count_e2=200, fully_filled=False)
    db.close()
    statuses = {r["order_id"]: r["status"] for r in query(db.path, "SELECT order_id, status FROM orders")}
    assert statuses == {"o-1": "filled", "o-2": "filled"}
