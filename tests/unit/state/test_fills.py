"""FillLog: dedupe by fill id, bounded log and dedupe memory, cursors that report missed fills."""

from __future__ import annotations

import pytest

from kalshi_mm.api.ws_messages import BookSide, FillMsg
from kalshi_mm.state.fills import FillLog


def fill(fill_id: str, ticker: str = "T") -> FillMsg:
    return FillMsg(1, fill_id, "o", None, ticker, BookSide.BID, False, 4700, 100, 1, None, None, 0.0)


def test_a_duplicate_never_enters_twice() -> None:
    log = FillLog(max_fills=10)
    assert log.add(fill("a")) and not log.add(fill("a")) and log.add(fill("b"))
    assert len(log) == 2 and log.duplicates == 1 and log.seen("a") and not log.seen("z")


def test_eviction_is_reported_as_missed() -> None:
    log = FillLog(max_fills=3)
    for i in range(5):
        log.add(fill(f"f{i}"))
    batch = log.since(0)
    assert [f.fill_id for f in batch.fills] == ["f2", "f3", "f4"] and (batch.cursor, batch.missed) == (5, 2)
    assert log.since(3).missed == 0 and [f.fill_id for f in log.since(3).fills] == ["f3", "f4"]
    assert log.since(99) == ((), 5, 0)  # a cursor from the future resets to now
    assert log.cursor == 5


def test_dedupe_memory_outlives_the_log_but_is_bounded() -> None:
    log = FillLog(max_fills=2, max_ids=4)
    for i in range(4):
        log.add(fill(f"f{i}"))
    assert not log.add(fill("f0"))  # evicted from the log, still remembered
    log.add(fill("f4"))  # pushes f0 out of the id memory
    assert log.add(fill("f0"))  # an id older than the memory can re-enter: the documented bound


def test_drain_is_a_private_cursor() -> None:
    log = FillLog()
    log.add(fill("a"))
    assert [f.fill_id for f in log.drain()] == ["a"] and log.drain() == []
    log.add(fill("b", ticker="U"))
    assert [f.fill_id for f in log.since(0).fills] == ["a", "b"]  # drain leaves the log to other readers
    assert [f.fill_id for f in log.since(0, ticker="U").fills] == ["b"]
    assert [f.fill_id for f in log.drain()] == ["b"]


@pytest.mark.parametrize(("max_fills", "max_ids"), [(0, None), (10, 5)])
def test_bounds_are_validated(max_fills: int, max_ids: int | None) -> None:
    with pytest.raises(ValueError):
        FillLog(max_fills, max_ids)
