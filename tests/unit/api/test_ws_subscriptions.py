"""The WebSocket client's subscription bookkeeping, pure: commands planned, replies lost or repeated, snapshots."""

from __future__ import annotations

from types import SimpleNamespace

from kalshi_mm.api.ws_subscriptions import ORDERBOOK, SnapshotRequests, Subscriptions, channels_for


def _by_channel(commands: list[dict]) -> dict[str, dict]:
    return {c["params"]["channels"][0]: c for c in commands if c["cmd"] == "subscribe"}


def test_channels_follow_the_config_flags() -> None:
    everything = channels_for(SimpleNamespace())
    assert everything == (
        "orderbook_delta",
        "ticker",
        "trade",
        "fill",
        "user_orders",
        "order_group_updates",
        "market_positions",
        "market_lifecycle_v2",
    )
    only = channels_for(
        SimpleNamespace(
            subscribe_ticker=False,
            subscribe_trades=False,
            subscribe_user_fills=False,
            subscribe_positions=False,
            subscribe_lifecycle=False,
        )
    )
    assert only == ("orderbook_delta",)


def test_plan_subscribes_each_channel_once_and_books_on_the_yes_scale() -> None:
    subs = Subscriptions(["orderbook_delta", "ticker", "fill"])
    plan = subs.plan([], now=0.0)
    assert [c["params"]["channels"] for c in plan.commands] == [["fill"]]  # market channels wait for markets
    plan = subs.plan(["A", "B"], now=0.0)
    sent = _by_channel(plan.commands)
    assert set(sent) == {"orderbook_delta", "ticker"}
    assert sent[ORDERBOOK]["params"] == {"channels": [ORDERBOOK], "market_tickers": ["A", "B"], "use_yes_price": True}
    assert plan.snapshots == ["A", "B"]
    assert subs.plan(["A", "B", "C"], now=0.1).commands == []  # nothing more until the replies


def test_updates_follow_the_wanted_markets() -> None:
    subs = Subscriptions([ORDERBOOK])
    cmd = subs.plan(["A"], 0.0).commands[0]
    assert subs.on_subscribed(cmd["id"], ORDERBOOK, 4)
    assert not subs.on_subscribed(cmd["id"], ORDERBOOK, 4)  # a duplicated reply
    plan = subs.plan(["A", "B"], 1.0)
    assert plan.commands[0]["params"] == {"sids": [4], "action": "add_markets", "market_tickers": ["B"]}
    assert plan.snapshots == ["B"]
    plan = subs.plan(["B"], 2.0)
    assert plan.commands[0]["params"] == {"sids": [4], "action": "delete_markets", "market_tickers": ["A"]}
    plan = subs.plan([], 3.0)
    assert plan.commands[0] == {"id": plan.commands[0]["id"], "cmd": "unsubscribe", "params": {"sids": [4]}}
    assert plan.retired == [4] and subs.sid_of(ORDERBOOK) is None
    assert not subs.adopt(4, ORDERBOOK)  # a late message of the sid we left


def test_a_lost_subscribed_reply_is_recovered() -> None:
    subs = Subscriptions([ORDERBOOK, "fill"])
    commands = _by_channel(subs.plan(["A"], 0.0).commands)
    # The orderbook reply is lost, but its first message names the sid.
    assert subs.channel_of(7) is None and subs.adopt(7, ORDERBOOK)
    assert subs.channel_of(7) == ORDERBOOK and subs.book_tickers() == {"A"}
    # The fill reply is lost and no fill comes: after the timeout, list_subscriptions finds the sid...
    assert subs.list_if_stuck(1.0, timeout_s=5.0) is None
    listing = subs.list_if_stuck(6.0, timeout_s=5.0)
    assert listing is not None and listing["cmd"] == "list_subscriptions"
    assert subs.list_if_stuck(7.0, timeout_s=5.0) is None  # one listing at a time
    assert subs.on_list([(ORDERBOOK, 7), ("fill", 8)], 6.1) == [8]
    assert subs.sid_of("fill") == 8
    # ... and a subscribe the listing does not show failed: it goes out again.
    subs.drop_sid(8)
    assert "fill" in _by_channel(subs.plan(["A"], 7.0).commands)
    subs.on_list([(ORDERBOOK, 7)], 13.0)
    assert "fill" in _by_channel(subs.plan(["A"], 13.0).commands)
    assert commands  # the first round subscribed both


def test_refused_subscribes_wait_before_trying_again() -> None:
    subs = Subscriptions(["ticker"], retry_delay_s=1.0)
    subs.plan(["A"], 0.0)
    subs.subscribe_failed("ticker", 0.5)
    assert subs.plan(["A"], 1.0).commands == []
    assert len(subs.plan(["A"], 1.6).commands) == 1


def test_snapshot_requests_are_not_repeated_while_one_is_on_its_way() -> None:
    snaps = SnapshotRequests(timeout_s=2.0)
    snaps.expect(["A", "B"], 0.0)  # a subscribe brings these
    snaps.need(["A", "C"])
    assert snaps.take(0.1, allowed={"A", "B", "C"}) == ["C"]
    snaps.got("B")
    snaps.force(["A"])  # its snapshot arrived out of order and was dropped: ask now
    assert snaps.take(0.2, allowed={"A", "B", "C"}) == ["A"]
    assert snaps.take(2.15, allowed={"A", "B", "C"}) == ["C"]  # asked at 0.1: timed out
    snaps.need(["D"])
    assert snaps.take(2.2, allowed={"A"}) == [] and not snaps.has_due  # not on the sid: dropped
    assert set(snaps.waiting()) == {"A", "C"} and snaps.is_waiting("A")
