"""The chaos invariants (kalshi_mm.testing.chaos_checks) catch each kind of violation and pass a consistent run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kalshi_mm.analytics import AnalyticsDB
from kalshi_mm.clock import SimClock
from kalshi_mm.testing.chaos_checks import DbRecords, check_run, read_db_records

T = "KXC-26DEC31-T1"


def order(oid: str, side: str = "bid", created: int = 1_000, end: int = 2_000, **kw: Any) -> dict[str, Any]:
    base = {
        "order_id": oid,
        "client_order_id": f"mm-{oid}",
        "ticker": T,
        "side": side,
        "price_e4": 4000,
        "initial_count_e2": 100,
        "fill_count_e2": 0,
        "remaining_count_e2": 0,
        "status": "canceled",
        "created_ts_ms": created,
        "last_update_ts_ms": end,
    }
    return base | kw


def fill(fid: str, oid: str, side: str, count: int, seq: int, post: int | None = None) -> dict[str, Any]:
    return {
        "fill_id": fid,
        "order_id": oid,
        "ticker": T,
        "side": side,
        "yes_price_e4": 4000,
        "count_e2": count,
        "seq": seq,
        "post_position_e2": post,
    }


def db_fill(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "fill_id": f["fill_id"],
        "order_id": f["order_id"],
        "market_ticker": f["ticker"],
        "book_side": f["side"],
        "price_e4": f["yes_price_e4"],
        "count_e2": f["count_e2"],
    }


def ledger(orders: list[dict[str, Any]], fills: list[dict[str, Any]], position: int | None = None) -> dict[str, Any]:
    net = sum(f["count_e2"] if f["side"] == "bid" else -f["count_e2"] for f in fills)
    held = net if position is None else position
    return {"orders": orders, "fills": fills, "positions": [{"ticker": T, "position_e2": held}] if held else []}


def records(
    fills: list[dict[str, Any]], runs: dict[str, int] | None = None, maxima: dict[int, int] | None = None
) -> DbRecords:
    maxima = {1: 200} if maxima is None else maxima
    return DbRecords(
        fills=tuple(db_fill(f) for f in fills),
        order_runs=runs if runs is not None else {f["order_id"]: 1 for f in fills},
        run_max_position_e2=maxima,
        run_tickers=dict.fromkeys(maxima, T),
    )


def kinds(report: Any) -> list[str]:
    return [v.invariant for v in report.violations]


def test_a_consistent_run_has_no_violation() -> None:
    orders = [order("a", end=2_000), order("b", created=2_000, end=3_000), order("c", side="ask", created=1_500)]
    fills = [
        fill("f1", "a", "bid", 100, 1, 100),
        fill("f2", "b", "bid", 100, 2, 200),
        fill("f3", "c", "ask", 100, 3, 100),
    ]
    report = check_run(ledger(orders, fills), records(fills), clean_shutdown=True)
    assert report.ok, report.violations
    assert (report.orders, report.fills, report.db_fills) == (3, 3, 3)
    assert report.max_abs_position_e2 == {T: 200}


def test_a_client_order_id_naming_two_orders_is_a_duplicate() -> None:
    orders = [order("a", client_order_id="mm-x"), order("b", created=5_000, end=6_000, client_order_id="mm-x")]
    assert kinds(check_run(ledger(orders, []), records([]), clean_shutdown=False)) == ["duplicate_client_order_id"]


def test_two_orders_resting_at_once_on_one_side_are_a_duplicate_but_back_to_back_ones_are_not() -> None:
    back_to_back = [order("a", end=2_000), order("b", created=2_000, end=3_000), order("c", side="ask", end=3_000)]
    assert check_run(ledger(back_to_back, []), records([]), clean_shutdown=False).ok
    overlapping = [order("a", end=2_000), order("b", created=1_999, end=3_000)]
    assert kinds(check_run(ledger(overlapping, []), records([]), clean_shutdown=False)) == ["duplicate_resting_order"]
    still_resting = [order("a", status="resting", remaining_count_e2=100), order("b", created=9_000, end=9_500)]
    assert kinds(check_run(ledger(still_resting, []), records([]), clean_shutdown=False)) == ["duplicate_resting_order"]


def test_fills_must_be_in_the_database_exactly_as_the_exchange_has_them() -> None:
    fills = [fill("f1", "a", "bid", 100, 1, 100), fill("f2", "a", "bid", 100, 2, 200)]
    missing = check_run(ledger([order("a")], fills), records(fills[:1]), clean_shutdown=False)
    assert "fill_missing_in_db" in kinds(missing) and "position_mismatch" in kinds(missing)

    extra = records([*fills, fill("ghost", "a", "ask", 100, 9)])
    assert "fill_not_on_exchange" in kinds(check_run(ledger([order("a")], fills), extra, clean_shutdown=False))

    wrong = records(fills)
    rows = list(wrong.fills)
    rows[1] = rows[1] | {"price_e4": 4100}
    altered = DbRecords(tuple(rows), wrong.order_runs, wrong.run_max_position_e2, wrong.run_tickers)
    assert kinds(check_run(ledger([order("a")], fills), altered, clean_shutdown=False)) == ["fill_differs"]


def test_the_exchange_position_must_equal_the_sum_of_recorded_fills() -> None:
    fills = [fill("f1", "a", "bid", 100, 1, 100)]
    report = check_run(ledger([order("a")], fills, position=300), records(fills), clean_shutdown=False)
    assert kinds(report) == ["position_mismatch"]


def test_a_fill_growing_the_position_past_the_sessions_max_is_a_violation() -> None:
    fills = [fill(f"f{i}", "a", "bid", 100, i, 100 * i) for i in range(1, 4)]
    report = check_run(ledger([order("a")], fills), records(fills, maxima={1: 200}), clean_shutdown=False)
    assert kinds(report) == ["position_over_max"]
    assert "from 200 to 300" in report.violations[0].detail


def test_an_inherited_position_above_a_new_sessions_max_may_only_shrink() -> None:
    # Run 1 (max 3) built 3 contracts; run 2 (max 1) may sell them down but not buy back above 1.
    fills = [fill(f"f{i}", "a", "bid", 100, i, 100 * i) for i in range(1, 4)]
    fills.append(fill("f4", "b", "ask", 100, 4, 200))
    runs = {"a": 1, "b": 2}
    shrinking = check_run(ledger([order("a")], fills), records(fills, runs, {1: 300, 2: 100}), clean_shutdown=False)
    assert shrinking.ok, shrinking.violations
    regrow = [*fills, fill("f5", "c", "bid", 100, 5, 300)]
    report = check_run(
        ledger([order("a")], regrow), records(regrow, runs | {"c": 2}, {1: 300, 2: 100}), clean_shutdown=False
    )
    assert kinds(report) == ["position_over_max"]


def test_an_unattributed_fill_is_held_to_the_markets_largest_max() -> None:
    fills = [fill("f1", "x", "ask", 100, 1, -100), fill("f2", "x", "ask", 200, 2, -300)]
    report = check_run(
        ledger([order("x")], fills), records(fills, runs={}, maxima={1: 200, 2: 100}), clean_shutdown=False
    )
    assert report.unattributed_fills == 2
    assert kinds(report) == ["position_over_max"]


def test_resting_orders_count_only_after_a_clean_shutdown() -> None:
    orders = [order("a", status="resting", remaining_count_e2=100)]
    assert check_run(ledger(orders, []), records([]), clean_shutdown=False).ok
    assert kinds(check_run(ledger(orders, []), records([]), clean_shutdown=True)) == ["resting_after_shutdown"]


def test_records_are_read_from_the_daemons_database(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    with AnalyticsDB(path, SimClock(start=1_795_000_000.0)) as db:
        run = db.create_strategy_run(
            strategy_name="s", market_ticker=T, trade_side="yes", config_params={"session": {"max_position_e2": 300}}
        )
        other = db.create_strategy_run(strategy_name="s", market_ticker=T, trade_side="yes", config_params={"x": 1})
        db.log_order_placed(
            order_id="o1", market_ticker=T, outcome_side="yes", book_side="bid", price_e4=4000, count_e2=100, run_id=run
        )
        db.log_order_placed(
            order_id="o2", market_ticker=T, outcome_side="no", book_side="ask", price_e4=4100, count_e2=100
        )
        db.log_fill_event(
            fill_id="f1", order_id="o1", market_ticker=T, outcome_side="yes", book_side="bid", price_e4=4000,
            count_e2=100, is_taker=False, fee_e4=0,
        )  # fmt: skip
    got = read_db_records(path)
    assert got.order_runs == {"o1": run}
    assert got.run_max_position_e2 == {run: 300}
    assert got.run_tickers == {run: T, other: T}
    assert [dict(f) for f in got.fills] == [
        {"fill_id": "f1", "order_id": "o1", "market_ticker": T, "book_side": "bid", "price_e4": 4000, "count_e2": 100}
    ]
