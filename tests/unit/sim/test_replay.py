"""Replay files: the strict CSV parser (units, timestamps, empty sides, sizes, every malformed input naming its
line and column), tracks in time and in loops, the grid choice, and the scenario's `replay` key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kalshi_mm.sim.replay import (
    DEFAULT_SIZE_E2,
    ReplayError,
    ReplayFile,
    grid_for_prices,
    load_replay,
    parse_replay,
)
from kalshi_mm.sim.scenario import SCENARIO_DIR, ScenarioError, load_scenario, parse_scenario
from kalshi_mm.units import PriceGrid

HEADER = "timestamp,ticker,yes_bid,yes_ask\n"
SIZED = "timestamp,ticker,yes_bid,yes_ask,yes_bid_size,yes_ask_size\n"
T0 = 1_768_310_700  # 2026-01-13T13:25:00Z


def parse(text: str) -> ReplayFile:
    return parse_replay(text.splitlines(keepends=True), "rec.csv")


def failure(text: str) -> ReplayError:
    with pytest.raises(ReplayError) as info:
        parse(text)
    return info.value


# --- well-formed input -----------------------------------------------------------------------------------------


def test_cents_and_dollars_are_the_same_exact_prices() -> None:
    replay = parse(HEADER + f"{T0},KXA-1,47,48\n{T0 + 1},KXA-1,0.47,0.4800\n{T0 + 2},KXA-1,0.475,0.4801\n")
    rows = replay.tracks["KXA-1"].rows
    assert (rows[0].yes_bid_e4, rows[0].yes_ask_e4) == (4700, 4800)
    assert (rows[1].yes_bid_e4, rows[1].yes_ask_e4) == (4700, 4800)
    assert (rows[2].yes_bid_e4, rows[2].yes_ask_e4) == (4750, 4801)
    assert all(isinstance(p, int) for r in rows for p in r.prices())
    assert [r.line for r in rows] == [2, 3, 4]


def test_unix_and_rfc3339_timestamps_become_offsets_from_the_first_row() -> None:
    replay = parse(
        HEADER
        + "2026-01-13T13:25:00Z,KXA-1,47,48\n"
        + f"{T0 + 15},KXA-1,47,48\n"
        + f"{T0 + 30}.25,KXA-1,47,48\n"
        + "2026-01-13T08:25:45.5-05:00,KXA-1,47,48\n"  # the same instant as 13:25:45.5Z
        + "2026-01-13 13:26:00.000000001z,KXA-1,47,48\n"
    )
    offsets = [r.offset_s for r in replay.tracks["KXA-1"].rows]
    assert offsets == pytest.approx([0.0, 15.0, 30.25, 45.5, 60.000000001], abs=1e-9)
    assert replay.duration_s == pytest.approx(60.0, abs=1e-6)


def test_empty_sides_sizes_and_defaults() -> None:
    replay = parse(
        SIZED
        + f"{T0},KXA-1,47,48,120,80.5\n"
        + f"{T0 + 1},KXA-1,47,,,\n"
        + f"{T0 + 2},KXA-1,,48,0,\n"
        + f"{T0 + 3},KXA-1,,,,\n"
    )
    r0, r1, r2, r3 = replay.tracks["KXA-1"].rows
    assert (r0.yes_bid_size_e2, r0.yes_ask_size_e2) == (12_000, 8_050)
    assert (r1.yes_bid_e4, r1.yes_bid_size_e2, r1.yes_ask_e4, r1.yes_ask_size_e2) == (4700, DEFAULT_SIZE_E2, None, 0)
    assert (r2.yes_bid_e4, r2.yes_bid_size_e2, r2.yes_ask_e4, r2.yes_ask_size_e2) == (None, 0, 4800, DEFAULT_SIZE_E2)
    assert r3.prices() == ()
    assert (r0.mid_p(), r1.mid_p(), r2.mid_p(), r3.mid_p()) == (0.475, 0.47, 0.48, None)


def test_columns_in_any_order_tickers_interleaved_blank_lines_skipped() -> None:
    replay = parse(
        f"yes_ask,ticker,timestamp,yes_bid\n48,KXA-1,{T0},47\n31,KXB-2,{T0 + 5},30\n\n49,KXA-1,{T0 + 10},48\n"
    )
    assert list(replay.tracks) == ["KXA-1", "KXB-2"]
    assert replay.tracks["KXB-2"].first.offset_s == 5.0
    assert replay.tracks["KXA-1"].last.line == 5  # physical line numbers survive the blank line
    assert replay.duration_s == 10.0


def test_track_at_gives_the_row_in_force_and_loops() -> None:
    replay = parse(HEADER + f"{T0},KXA-1,40,42\n{T0 + 5},KXB-2,10,12\n{T0 + 10},KXB-2,11,13\n{T0 + 20},KXA-1,41,43\n")
    a, b = replay.tracks["KXA-1"], replay.tracks["KXB-2"]
    assert a.at(0.0) is a.rows[0] and a.at(19.9) is a.rows[0] and a.at(20.0) is a.rows[1]
    assert a.at(1e6) is a.rows[1]  # without a loop the last row stays in force
    assert b.at(4.9) is None and b.at(5.0) is b.rows[0] and b.at(12.0) is b.rows[1]
    period = replay.duration_s
    assert a.at(25.0, period) is a.rows[0]  # 25 s = second pass, 5 s in
    assert a.at(40.0, period) is a.rows[0]
    # From the second pass on, before its first row a ticker keeps the previous pass's last row.
    assert b.at(4.9, period) is None and b.at(22.0, period) is b.rows[1]
    assert b.at(26.0, period) is b.rows[0]


def test_fair_value_is_the_mid_carried_through_empty_rows() -> None:
    text = HEADER + f"{T0},KXB-1,1,2\n{T0 + 1},KXA-1,40,42\n{T0 + 2},KXA-1,,\n{T0 + 3},KXA-1,50,\n"
    track = parse(text).tracks["KXA-1"]
    assert track.fair_p(0.5) == 0.41  # before its first row: the first recorded mid
    assert track.fair_p(1.5) == 0.41
    assert track.fair_p(2.5) == 0.41  # both sides empty: the last mid stays
    assert track.fair_p(3.0) == 0.5  # only a bid: the bid


def test_grid_is_the_coarsest_that_holds_every_price() -> None:
    assert grid_for_prices([4700, 100, 9900]) == (PriceGrid.linear_cent(), "linear_cent")
    assert grid_for_prices([4700, 4750, 10]) == (PriceGrid.deci_cent(), "deci_cent")
    grid, name = grid_for_prices([4700, 4751])
    assert name == "custom" and grid.contains(4751) and grid.contains(1) and grid.contains(9999)


def test_load_replay_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    path.write_text(HEADER + f"{T0},KXA-1,47,48\n")
    assert load_replay(path).tracks["KXA-1"].first.yes_bid_e4 == 4700
    path.write_text(HEADER + f"{T0},KXA-1,47,48\n{T0},KXA-1,47,abc\n")
    with pytest.raises(ReplayError) as info:
        load_replay(path)
    assert str(path) in str(info.value) and "line 3" in str(info.value)
    with pytest.raises(ReplayError, match="cannot read"):
        load_replay(tmp_path / "missing.csv")


# --- malformed input -----------------------------------------------------------------------------------------

GOOD = f"{T0},KXA-1,47,48\n"


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("", 1, None, "header"),
        (GOOD, 1, None, "missing header"),
        ("timestamp,ticker,yes_bid\n" + GOOD, 1, None, "yes_ask"),
        ("timestamp,ticker,yes_bid,yes_ask,category\n" + f"{T0},KXA-1,47,48,Economics\n", 1, "5 (category)", "unknown"),
        ("timestamp,ticker,yes_bid,yes_bid,yes_ask\n", 1, "4 (yes_bid)", "twice"),
        (HEADER, 2, None, "no data rows"),
        (HEADER + GOOD + f"{T0},KXA-1,4x,48\n", 3, "3 (yes_bid)", "bad price"),
        (HEADER + f"{T0},KXA-1,47,0.47001\n", 2, "4 (yes_ask)", "bad price"),
        (HEADER + f"{T0},KXA-1,-1,48\n", 2, "3 (yes_bid)", "bad price"),
        (HEADER + f"{T0},KXA-1,47,100\n", 2, "4 (yes_ask)", "between $0 and $1"),
        (HEADER + f"{T0},KXA-1,47,1.00\n", 2, "4 (yes_ask)", "between $0 and $1"),
        (HEADER + f"{T0},KXA-1,47,47.5\n", 2, "4 (yes_ask)", "$1"),
        (HEADER + f"{T0},KXA-1,0,48\n", 2, "3 (yes_bid)", "between $0 and $1"),
        (HEADER + f"{T0},KXA-1,0.0000,48\n", 2, "3 (yes_bid)", "between $0 and $1"),
        (HEADER + f"{T0},KXA-1,48,47\n", 2, "4 (yes_ask)", "not below ask"),
        (HEADER + f"{T0},KXA-1,0.48,48\n", 2, "4 (yes_ask)", "not below ask"),
        (
            HEADER + f"{T0 + 10},KXA-1,47,48\n{T0 + 12},KXB-1,1,2\n{T0 + 9},KXA-1,47,48\n",
            4,
            "1 (timestamp)",
            "backwards",
        ),
        (HEADER + "2026-01-13T13:25:00,KXA-1,47,48\n", 2, "1 (timestamp)", "bad timestamp"),  # no offset
        (HEADER + "2026-02-30T13:25:00Z,KXA-1,47,48\n", 2, "1 (timestamp)", "bad timestamp"),
        (HEADER + "-5,KXA-1,47,48\n", 2, "1 (timestamp)", "bad timestamp"),
        (HEADER + f"{T0},kxa-1,47,48\n", 2, "2 (ticker)", "bad ticker"),
        (HEADER + f"{T0},,47,48\n", 2, "2 (ticker)", "bad ticker"),
        (HEADER + f"{T0},KXA-1,47\n", 2, None, "expected 4 fields"),
        (SIZED + f"{T0},KXA-1,47,48,-3,5\n", 2, "5 (yes_bid_size)", "bad size"),
        (SIZED + f"{T0},KXA-1,47,48,10,0\n", 2, "6 (yes_ask_size)", "more than 0"),
        (SIZED + f"{T0},KXA-1,,48,10,5\n", 2, "5 (yes_bid_size)", "empty side"),
        (HEADER + f'{T0},"KXA-1,47,48\n', 2, None, "malformed CSV"),
    ],
)
def test_malformed_input_names_line_and_column(text: str, line: int, column: str | None, message: str) -> None:
    error = failure(text)
    assert (error.file, error.line, error.column) == ("rec.csv", line, column)
    assert message in str(error)
    assert str(error).startswith(f"replay file rec.csv: line {line}")
    assert isinstance(error, ScenarioError)  # reported like any other bad scenario


# --- the scenario key ------------------------------------------------------------------------------------------


def default_raw() -> dict:
    return yaml.safe_load((SCENARIO_DIR / "default.yaml").read_text())


def test_scenario_replay_key_is_strict(tmp_path: Path) -> None:
    csv_path = tmp_path / "rec.csv"
    csv_path.write_text(HEADER + GOOD)
    raw = default_raw()
    raw["replay"] = {"file": str(csv_path)}
    spec = parse_scenario(raw).replay
    assert spec is not None and (spec.file, spec.loop, spec.speed) == (str(csv_path), False, 1.0)
    for bad, where in [
        ({"file": str(csv_path), "spede": 2.0}, "replay.spede"),
        ({"file": str(csv_path), "speed": 0}, "replay.speed"),
        ({"file": str(csv_path), "loop": "yes"}, "replay.loop"),
        ({"file": str(tmp_path / "nope.csv")}, "replay.file"),
        ({"loop": True}, "replay.file"),
    ]:
        raw["replay"] = bad
        with pytest.raises(ScenarioError) as info:
            parse_scenario(raw)
        assert where in dict(info.value.problems), info.value.problems


def test_replay_file_is_relative_to_the_scenario_that_names_it(tmp_path: Path) -> None:
    (tmp_path / "recs").mkdir()
    (tmp_path / "recs" / "rec.csv").write_text(HEADER + GOOD)
    parent = tmp_path / "recs" / "parent.yaml"
    parent.write_text("extends: default\nname: parent\nreplay: {file: rec.csv}\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: recs/parent.yaml\nname: child\nreplay: {loop: true, speed: 2}\n")
    spec = load_scenario(child).replay
    assert spec is not None
    assert Path(spec.file) == tmp_path / "recs" / "rec.csv"
    assert (spec.loop, spec.speed) == (True, 2.0)


def test_shipped_replay_scenario_and_example_parse() -> None:
    spec = load_scenario("replay").replay
    assert spec is not None and spec.loop
    replay = load_replay(spec.file)
    assert set(replay.tracks) == {"KXREPLAY-CPI-T0.3", "KXREPLAY-CPI-T0.4"}
    assert replay.duration_s == 600.0


def test_a_spreadsheet_byte_order_mark_and_crlf_line_ends_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + GOOD + f"{T0 + 1},KXA-1,47,abc\n").replace("\n", "\r\n").encode())
    with pytest.raises(ReplayError) as info:
        load_replay(path)
    assert (info.value.line, info.value.column) == (3, "4 (yes_ask)")
