"""``runner.py report`` through ``kalshi_mm.app.main``: a database written by AnalyticsDB (a manual SimClock), read
back read-only as tables, JSON and a PNG; filters; errors; and the database of a real short discovery run against
the embedded exchange, checked against the exchange's own fills."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kalshi_mm.analytics import AnalyticsDB
from kalshi_mm.app import main
from kalshi_mm.clock import SimClock
from kalshi_mm.config.credentials import Credentials, EndpointKind, ExchangeEndpoint
from kalshi_mm.config.settings import config_to_dict, load_config, validate_config
from kalshi_mm.modes.discovery_mode import run_discovery_mode
from kalshi_mm.report.ledger import Fill, replay
from kalshi_mm.report.plot import FIGURE_DPI, FIGURE_SIZE_IN
from kalshi_mm.runtime import Runtime
from kalshi_mm.sim.model import OrderRequest, OrderStatus, Side, TimeInForce
from kalshi_mm.sim.server import EmbeddedExchange

ROOT = Path(__file__).resolve().parents[2]
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY = 86_400.0

# Run 1 (KXA): buys 2 @ .40, sells 1 @ .47; marked at the .45 mid of its last book before its end.
RUN1_FILLS = [Fill(START + 20, True, 4000, 200, 14), Fill(START + 30, False, 4700, 100, 9)]
# Run 2 (KXB): sells 3 @ .60 and has no book at all: no mark.
RUN2_FILLS = [Fill(START + 220, False, 6000, 300, 20)]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)


def report(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    capsys.readouterr()
    code = main(["report", *args])
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def log_fill(db: AnalyticsDB, fill_id: str, order_id: str, ticker: str, fill: Fill) -> None:
    db.log_fill_event(
        fill_id=fill_id,
        order_id=order_id,
        market_ticker=ticker,
        outcome_side="yes" if fill.buy else "no",
        book_side="bid" if fill.buy else "ask",
        price_e4=fill.price_e4,
        count_e2=fill.count_e2,
        is_taker=False,
        fee_e4=fill.fee_e4,
        ts=fill.ts,
    )
    db.log_order_filled(
        order_id=order_id, price_e4=fill.price_e4, count_e2=fill.count_e2, fee_e4=fill.fee_e4, fill_id=fill_id
    )


def order(db: AnalyticsDB, order_id: str, run_id: int, ticker: str, bid: bool, price_e4: int, count_e2: int) -> None:
    db.log_order_placed(
        order_id=order_id,
        market_ticker=ticker,
        outcome_side="yes" if bid else "no",
        book_side="bid" if bid else "ask",
        price_e4=price_e4,
        count_e2=count_e2,
        run_id=run_id,
    )


def snapshot(
    db: AnalyticsDB, run_id: int, ts: float, bid: int | None, ask: int | None, quotes: tuple[int, int]
) -> None:
    db.log_market_snapshot(
        run_id=run_id,
        position_e2=0,
        yes_bid_e4=bid,
        yes_ask_e4=ask,
        computed_bid_e4=quotes[0],
        computed_ask_e4=quotes[1],
        ts=ts,
    )


def populate(db: AnalyticsDB) -> None:
    run1 = db.create_strategy_run(strategy_name="KXA-yes", market_ticker="KXA", trade_side="yes", start_ts=START + 10)
    order(db, "o1", run1, "KXA", True, 4000, 200)
    order(db, "o2", run1, "KXA", False, 4700, 100)
    order(db, "o3", run1, "KXA", False, 4800, 100)
    order(db, "o4", run1, "KXA", True, 3900, 100)
    log_fill(db, "f1", "o1", "KXA", RUN1_FILLS[0])
    log_fill(db, "f2", "o2", "KXA", RUN1_FILLS[1])
    db.log_order_cancelled("o3", reason="requote")
    snapshot(db, run1, START + 15, 3900, 4100, (3950, 4150))  # quoted spread .02
    snapshot(db, run1, START + 50, 4400, 4600, (4300, 4700))  # quoted spread .04; mid .45 = the mark
    snapshot(db, run1, START + 60, None, 4600, (4300, 4800))  # one-sided: no mid; quoted spread .05
    db.end_strategy_run(run1, status="completed", reason="duration", final_position_e2=100, end_ts=START + 100)
    snapshot(db, run1, START + 150, 9000, 9200, (9000, 9300))  # after the end: not the mark

    run2 = db.create_strategy_run(strategy_name="KXB-yes", market_ticker="KXB", trade_side="yes", start_ts=START + 200)
    order(db, "o5", run2, "KXB", False, 6000, 300)
    log_fill(db, "f3", "o5", "KXB", RUN2_FILLS[0])
    event = db.log_volatility_event(market_ticker="KXB", signal_strength=0.8, direction="up", ts=START + 199)
    session = db.log_volatility_session_start(event_id=event, run_id=run2, start_ts=START + 200)
    db.log_volatility_session_end(session, kill_reason="regime_hard", final_pnl_e4=-150, end_ts=START + 300)
    db.end_strategy_run(run2, status="faulted", reason="thread raised: boom", end_ts=START + 300)

    # Run 3 (KXA, next day, still running): flat, one order, marked from run 1's book of the same ticker.
    run3 = db.create_strategy_run(strategy_name="KXA-yes", market_ticker="KXA", trade_side="yes", start_ts=START + DAY)
    order(db, "o6", run3, "KXA", True, 4100, 100)

    session_id = db.create_discovery_session(
        total_markets=100,
        binary_markets=90,
        pre_filtered=50,
        scored=40,
        top_markets_count=5,
        configs_generated=2,
        model_version="AS-v1.0",
        ts=START + 5,
    )
    db.log_discovered_market(
        session_id=session_id, ticker="KXA", score=0.9, selected_for_trading=True, trade_side="yes"
    )
    db.log_discovered_market(
        session_id=session_id, ticker="KXB", score=0.8, selected_for_trading=True, trade_side="yes"
    )
    db.log_discovered_market(session_id=session_id, ticker="KXC", score=0.1)


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "analytics.db"
    with AnalyticsDB(path, SimClock(start=START)) as db:
        populate(db)
        db.flush()
        assert db.failed_writes == 0
    yield path


def row_of(text: str, title: str, first_cell: str) -> list[str]:
    """The cells (split on runs of 2+ spaces) of the row starting with ``first_cell`` in the table ``title``."""
    lines = text.splitlines()
    start = lines.index(title)
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        cells = [c for c in line.split("  ") if c.strip()]
        if cells[0].strip() == first_cell:
            return [c.strip() for c in cells]
    raise AssertionError(f"no row {first_cell!r} in {title!r}:\n{text}")


def test_text_report_shows_pnl_fills_spreads_and_sessions(capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    result = report(capsys, "--db", str(db_path))
    assert result.code == 0, result.err
    text = result.out
    # run market side status fills position mark realized unrealized fees net
    assert row_of(text, "P&L per run", "1") == [
        "1", "KXA", "yes", "completed", "2", "1.00", "0.4500", "0.0700", "0.0500", "0.0023", "0.1177",
    ]  # fmt: skip
    assert row_of(text, "P&L per run", "2") == [
        "2", "KXB", "yes", "faulted", "1", "-3.00", "no mark", "0.0000", "no mark", "0.0020", "no mark",
    ]  # fmt: skip
    # Run 3 is flat (nothing to mark) and still running: its mark is the ticker's latest book, from run 1.
    assert row_of(text, "P&L per run", "3")[4:] == ["0", "0.00", "0.9100", "0.0000", "0.0000", "0.0000", "0.0000"]
    assert row_of(text, "P&L per run", "total") == ["total", "3", "0.0700", "no mark (1)", "0.0043", "no mark (1)"]
    # run started ended orders filled fill-rate quoted-spread round-trips captured max|inv| end-reason
    assert row_of(text, "Trading per run", "1") == [
        "1", "2026-01-01 00:00:10", "2026-01-01 00:01:40", "4", "2", "50.00%", "0.0350", "1", "0.0700", "2.00",
        "duration",
    ]  # fmt: skip
    assert row_of(text, "Trading per run", "3")[2:] == ["-", "1", "0", "0.00%", "-", "0", "-", "0.00", "(running)"]
    assert row_of(text, "Trading per run", "total")[1:6] == ["6", "3", "50.00%", "0.0350", "1"]
    for reason in ("duration", "thread raised: boom", "(running)"):
        assert f"    1  {reason}" in text
    assert "sessions: 1" in text and "markets selected: 2 (2 distinct tickers)" in text
    assert "selected: KXA/yes, KXB/yes" in text
    assert "events: 1   sessions: 1 (running 0)   P&L: -0.0150" in text
    assert "regime_hard" in text


def test_json_agrees_with_the_ledger(capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    result = report(capsys, "--db", str(db_path), "--json")
    assert result.code == 0, result.err
    doc = result.json()
    runs = {r["run_id"]: r for r in doc["runs"]}
    assert sorted(runs) == [1, 2, 3]
    ledger1 = replay(RUN1_FILLS)
    r1 = runs[1]
    assert r1["realized_pnl_e6"] == ledger1.realized_gross_e6 == 70_000
    assert (r1["realized_pnl_e4"], r1["realized_pnl"]) == (700, "0.0700")
    assert r1["unrealized_pnl_e6"] == ledger1.unrealized_e6(4500) == 50_000
    assert (r1["fees_e4"], r1["fees"]) == (23, "0.0023")
    assert (r1["net_pnl_e6"], r1["net_pnl"]) == (ledger1.realized_net_e6 + 50_000, "0.1177")
    assert r1["cash_flow_e6"] == ledger1.cash_flow_e6 == -330_000
    assert (r1["position_e2"], r1["max_abs_position_e2"], r1["max_abs_position"]) == (100, 200, "2.00")
    assert r1["mark"]["mark_e4"] == 4500 and r1["mark"]["at"] == "2026-01-01 00:00:50"
    assert (r1["orders_placed"], r1["orders_filled"], r1["fill_rate_pct"]) == (4, 2, "50.00")
    assert (r1["quoted_snapshots"], r1["avg_quoted_spread_e4"]) == (4, (200 + 400 + 500 + 300) // 4)
    assert r1["avg_captured_spread"] == "0.0700" and r1["round_trips"] == 1
    r2 = runs[2]
    assert r2["mark"] is None and r2["unrealized_pnl"] is None and r2["net_pnl"] is None
    assert r2["position"] == "-3.00" and r2["status"] == "faulted" and r2["end_reason"] == "thread raised: boom"
    assert r2["cash_flow_e6"] == replay(RUN2_FILLS).cash_flow_e6 == 1_800_000
    totals = doc["totals"]
    assert (totals["realized_pnl"], totals["fees"], totals["unmarked_runs"]) == ("0.0700", "0.0043", 1)
    assert totals["net_pnl"] is None and totals["fills"] == 3
    assert {e["end_reason"]: e["runs"] for e in doc["end_reasons"]} == {
        "duration": 1,
        "thread raised: boom": 1,
        "(running)": 1,
    }
    assert doc["discovery"]["funnel_totals"]["scored"] == 40 and doc["discovery"]["markets_selected"] == 2
    vol = doc["volatility"]
    assert (vol["events"], vol["sessions"], vol["pnl"]) == (1, 1, "-0.0150")
    assert vol["kill_reasons"] == [{"kill_reason": "regime_hard", "sessions": 1, "pnl_e4": -150, "pnl": "-0.0150"}]


def test_run_and_since_filters(capsys: pytest.CaptureFixture[str], db_path: Path) -> None:
    one = report(capsys, "--db", str(db_path), "--json", "--run", "1").json()
    assert [r["run_id"] for r in one["runs"]] == [1]
    assert one["totals"]["net_pnl"] == "0.1177" and one["discovery"] is None
    assert one["volatility"]["sessions"] == 0
    two = report(capsys, "--db", str(db_path), "--json", "--run", "2").json()
    assert two["volatility"]["sessions"] == 1

    next_day = report(capsys, "--db", str(db_path), "--json", "--since", "2026-01-02").json()
    assert [r["run_id"] for r in next_day["runs"]] == [3]
    assert next_day["discovery"]["sessions"] == 0 and next_day["volatility"]["events"] == 0
    later = report(capsys, "--db", str(db_path), "--json", "--since", "2026-01-01T00:03:20Z").json()
    assert [r["run_id"] for r in later["runs"]] == [2, 3]  # run 2 starts exactly at 00:03:20: included
    offset = report(capsys, "--db", str(db_path), "--json", "--since", "2026-01-01T01:03:20+01:00").json()
    assert [r["run_id"] for r in offset["runs"]] == [2, 3]

    nothing = report(capsys, "--db", str(db_path), "--since", "2030-01-01")
    assert nothing.code == 0 and "Nothing recorded in this window" in nothing.out

    for args, needle in [
        (("--run", "99"), "run_id 99"),
        (("--since", "last tuesday"), "--since"),
        (("--run", "x"), "--run"),
    ]:
        bad = report(capsys, "--db", str(db_path), *args)
        assert bad.code == 2 and needle in bad.err and "Traceback" not in bad.err


def test_plot_writes_a_png(capsys: pytest.CaptureFixture[str], db_path: Path, tmp_path: Path) -> None:
    png = tmp_path / "pnl.png"
    result = report(capsys, "--db", str(db_path), "--plot", str(png), "--json")
    assert result.code == 0, result.err
    assert result.json()["totals"]["fills"] == 3  # stdout stays pure JSON
    assert png.stat().st_size > 0
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.size == (int(FIGURE_SIZE_IN[0] * FIGURE_DPI), int(FIGURE_SIZE_IN[1] * FIGURE_DPI))
    bad = report(capsys, "--db", str(db_path), "--plot", str(tmp_path / "no" / "such" / "dir.png"))
    assert bad.code == 2 and "dir.png" in bad.err


def test_matplotlib_loads_only_for_plot(db_path: Path) -> None:
    # A fresh interpreter: this one has imported matplotlib for the plot test already.
    code = (
        "import sys; from kalshi_mm.app import main; "
        f"assert main(['report', '--db', {str(db_path)!r}]) == 0; "
        "sys.exit(3 if 'matplotlib' in sys.modules else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "P&L per run" in proc.stdout


def test_bad_databases_exit_2_naming_the_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "analytics.db"
    result = report(capsys, "--db", str(missing))
    assert result.code == 2 and str(missing) in result.err and "Traceback" not in result.err
    assert not missing.exists()  # read-only: never created

    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    result = report(capsys, "--db", str(foreign))
    assert result.code == 2 and "schema_version" in result.err and str(foreign) in result.err

    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database at all, just text " * 100)
    result = report(capsys, "--db", str(garbage))
    assert result.code == 2 and str(garbage) in result.err and "Traceback" not in result.err


def test_an_empty_database_reports_nothing_yet(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    AnalyticsDB(path, SimClock(start=START)).close()
    result = report(capsys, "--db", str(path))
    assert result.code == 0 and "Nothing recorded yet" in result.out
    doc = report(capsys, "--db", str(path), "--json").json()
    assert doc["empty"] is True and doc["runs"] == [] and doc["totals"]["net_pnl"] == "0.0000"


def test_db_path_from_config(capsys: pytest.CaptureFixture[str], db_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"analytics:\n  db_path: {db_path}\n")
    result = report(capsys, "--config", str(config), "--json")
    assert result.code == 0, result.err
    assert result.json()["db_path"] == str(db_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("analytics:\n  db_pth: x\n")
    result = report(capsys, "--config", str(broken))
    assert result.code == 2 and "db_pth" in result.err


def test_report_while_the_writer_is_running(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    clock = SimClock(start=START)
    with AnalyticsDB(path, clock, commit_interval_s=0.05) as db:
        run = db.create_strategy_run(strategy_name="KXA-yes", market_ticker="KXA", trade_side="yes", start_ts=START)
        order(db, "o1", run, "KXA", True, 4000, 100)
        log_fill(db, "f1", "o1", "KXA", Fill(START + 1, True, 4000, 100, 7))
        db.flush()
        first = report(capsys, "--db", str(path), "--json").json()
        assert first["runs"][0]["fills"] == 1 and first["runs"][0]["status"] == "running"
        # The writer keeps committing after (and unaffected by) the read-only report.
        order(db, "o2", run, "KXA", False, 4600, 100)
        log_fill(db, "f2", "o2", "KXA", Fill(START + 2, False, 4600, 100, 7))
        db.flush()
        second = report(capsys, "--db", str(path), "--json").json()
        assert second["runs"][0]["fills"] == 2 and second["runs"][0]["realized_pnl"] == "0.0600"
        assert db.failed_writes == 0


# --- the database of a real short daemon run --------------------------------------------------------------

USER = "paper-trader"


def hit_our_quotes(server: EmbeddedExchange, stop: threading.Event, clock: SimClock, until_ts: float) -> None:
    """A counterparty that sweeps the book through every other resting order of ours (IOC), so a short run
    trades both ways; it stops at ``until_ts`` (simulated) so the sessions shut down undisturbed."""
    server.create_account("taker")
    seen = 0
    while not stop.wait(0.25) and clock.time() < until_ts:
        for resting in server.exchange.orders(USER, status=OrderStatus.RESTING):
            seen += 1
            if seen % 2:
                continue
            side = Side.ASK if resting.side is Side.BID else Side.BID
            request = OrderRequest(
                resting.ticker, side, resting.price_e4, 50_000, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL
            )
            try:
                server.exchange.place_order("taker", request)
            except Exception:  # e.g. our order was cancelled meanwhile; the next sweep tries again
                continue


@pytest.mark.slow
def test_report_on_a_real_discovery_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = config_to_dict(load_config(ROOT / "config.yaml"))
    data["mode"] = "discovery"
    data["analytics"]["db_path"] = str(tmp_path / "analytics.db")
    data["analytics"]["commit_interval_seconds"] = 0.2
    data["logging"]["log_dir"] = str(tmp_path / "logs")
    data["websockets"]["enabled"] = True
    data["discovery"]["max_markets_to_trade"] = 3
    data["exchange"]["rate_limit_tier"] = "prime"
    if "ops_http" in data:  # the daemon's HTTP endpoint: any free port, not the fixed one other runs may hold
        data["ops_http"]["port"] = 0
    cfg = validate_config(data, source="test")
    clock = SimClock(scale=10.0)
    server = EmbeddedExchange(clock, scenario="default", tier="prime").start()
    stop = threading.Event()
    taker = threading.Thread(target=hit_our_quotes, args=(server, stop, clock, clock.time() + 40.0), daemon=True)
    try:
        account = server.create_account(USER)
        assert account.private_key is not None
        endpoint = ExchangeEndpoint(EndpointKind.SIM, server.rest_url, server.ws_url)
        rt = Runtime.build(cfg, endpoint, Credentials(account.access_key, account.private_key), clock, exchange=server)
        rt.start()
        taker.start()
        try:
            assert run_discovery_mode(rt, 60.0) == 0  # simulated seconds: about 6 real ones
        finally:
            stop.set()
            assert rt.close()
        exchange_fills = sorted(server.exchange.fills(USER), key=lambda f: f.seq)
        positions = {p.ticker: p.position_e2 for p in server.exchange.positions(USER)}
    finally:
        stop.set()
        taker.join(timeout=5)
        server.stop()

    result = report(capsys, "--db", str(tmp_path / "analytics.db"), "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["discovery"]["sessions"] == 1 and doc["runs"], doc
    assert all(r["status"] == "completed" for r in doc["runs"])
    assert doc["totals"]["fills"] == len(exchange_fills) > 0
    for run in doc["runs"]:
        ticker = run["market_ticker"]
        ours = [f for f in exchange_fills if f.ticker == ticker]
        ledger = replay(Fill(f.ts_ms / 1000, f.side is Side.BID, f.yes_price_e4, f.count_e2, f.fee_e4) for f in ours)
        assert run["fills"] == len(ours)
        assert run["realized_pnl_e6"] == ledger.realized_gross_e6
        assert run["fees_e4"] == ledger.fees_e4
        assert run["position_e2"] == positions.get(ticker, 0) == run["reported_final_position_e2"]
        if run["mark"] is not None:
            mark = run["mark"]["mark_e4"]
            # realized + unrealized − fees == cash flow + position × mark − fees, from the exchange's fills.
            assert run["net_pnl_e6"] == ledger.cash_flow_e6 + ledger.position_e2 * mark - ledger.fees_e4 * 100
    text = report(capsys, "--db", str(tmp_path / "analytics.db"), "--plot", str(tmp_path / "run.png"))
    assert text.code == 0 and "P&L per run" in text.out and (tmp_path / "run.png").stat().st_size > 0
