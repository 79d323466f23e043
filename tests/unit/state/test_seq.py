"""SeqTracker: per-sid gaps, duplicates, reordering, resubscribe resets."""

from __future__ import annotations

from kalshi_mm.state.seq import SeqCheck, SeqStatus, SeqTracker


def statuses(tracker: SeqTracker, sid: int, seqs: list[int]) -> list[SeqStatus]:
    return [tracker.observe(sid, s).status for s in seqs]


def test_in_order_stream_is_ok() -> None:
    t = SeqTracker()
    t.start(1)
    assert statuses(t, 1, [1, 2, 3, 4]) == [SeqStatus.OK] * 4
    assert t.expected(1) == 5 and (t.gaps, t.duplicates) == (0, 0)


def test_gap_reports_expected_and_got_then_continues() -> None:
    t = SeqTracker()
    t.start(1)
    t.observe(1, 1)
    check = t.observe(1, 5)
    assert check == SeqCheck(SeqStatus.GAP, 1, 2, 5)
    assert check.gap and not check.ok and check.missed == 3
    assert t.observe(1, 6).ok  # tracking resumes after the gap
    assert t.gaps == 1


def test_first_message_after_subscribe_must_be_one() -> None:
    t = SeqTracker()
    t.start(7)
    check = t.observe(7, 3)
    assert check.gap and (check.expected, check.got, check.missed) == (1, 3, 2)


def test_duplicates_and_old_messages_are_flagged_and_do_not_advance() -> None:
    t = SeqTracker()
    t.start(1)
    assert statuses(t, 1, [1, 2, 2, 1, 3]) == [
        SeqStatus.OK,
        SeqStatus.OK,
        SeqStatus.DUPLICATE,
        SeqStatus.DUPLICATE,
        SeqStatus.OK,
    ]
    assert t.duplicates == 2 and t.expected(1) == 4
    assert t.observe(1, 2).duplicate


def test_reordering_is_a_gap_then_a_late_duplicate() -> None:
    t = SeqTracker()
    t.start(1)
    assert statuses(t, 1, [1, 2, 4, 3, 5]) == [
        SeqStatus.OK,
        SeqStatus.OK,
        SeqStatus.GAP,  # 3 missing: resync
        SeqStatus.DUPLICATE,  # 3 arrives late: too late to apply safely, dropped
        SeqStatus.OK,
    ]


def test_sids_are_independent() -> None:
    t = SeqTracker()
    t.start(1)
    t.start(2)
    assert statuses(t, 1, [1, 2]) == [SeqStatus.OK] * 2
    assert t.observe(2, 1).ok and t.observe(2, 3).gap and t.observe(1, 3).ok


def test_unannounced_sid_takes_its_first_number_as_baseline() -> None:
    t = SeqTracker()
    check = t.observe(9, 41)
    assert check.ok and check.expected is None and check.missed == 0
    assert t.observe(9, 42).ok


def test_resubscribe_and_reset() -> None:
    t = SeqTracker()
    t.start(1)
    statuses(t, 1, [1, 2, 3])
    t.start(1)  # the same sid re-established (or a get_snapshot-driven restart at a known number)
    assert t.observe(1, 1).ok
    t.forget(1)
    assert t.expected(1) is None and t.observe(1, 100).ok
    t.start(2, first_seq=10)
    assert t.observe(2, 10).ok
    t.reset()
    assert t.expected(1) is None and t.expected(2) is None
