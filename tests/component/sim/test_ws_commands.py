"""WebSocket commands: every malformed command gets Kalshi's error code and leaves the connection usable;
update_subscription (add / delete markets, get_snapshot), unsubscribe and list_subscriptions behave as
NOTES §7.1-7.2 describe."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kalshi_mm.sim.model import OrderRequest, Side

from .test_ws_support import SmallExchange, WsClient


@pytest.fixture(scope="module")
def sx() -> Iterator[SmallExchange]:
    with SmallExchange(n_markets=3) as server:
        yield server


@pytest.fixture
def ws(sx: SmallExchange) -> Iterator[WsClient]:
    with sx.client("alice") as client:
        yield client


def _error(messages: list[dict[str, Any]]) -> dict[str, Any]:
    reply = messages[-1]
    assert reply["type"] == "error", reply
    return reply


def test_bad_commands_get_the_right_error_codes(sx: SmallExchange, ws: WsClient) -> None:
    t0, t1 = sx.tickers[:2]
    ws.send_raw("this is not json")
    assert ws.recv()["msg"]["code"] == 1
    ws.send_raw("[1, 2, 3]")
    assert ws.recv()["msg"]["code"] == 1
    ws.send_raw('{"id": -4, "cmd": "list_subscriptions"}')
    assert ws.recv()["msg"]["code"] == 11

    cases: list[tuple[str, dict[str, Any] | None, int]] = [
        ("bogus_command", None, 5),
        ("subscribe", None, 2),
        ("subscribe", {}, 3),
        ("subscribe", {"channels": []}, 3),
        ("subscribe", {"channels": ["no_such_channel"]}, 8),
        ("subscribe", {"channels": ["ticker", "communications"]}, 8),
        ("subscribe", {"channels": ["orderbook_delta"]}, 14),
        ("subscribe", {"channels": ["orderbook_delta"], "market_ticker": "NO-SUCH-MARKET"}, 11),
        ("subscribe", {"channels": ["orderbook_delta"], "market_ticker": t0, "market_tickers": [t1]}, 11),
        ("subscribe", {"channels": ["orderbook_delta"], "market_tickers": "not-a-list"}, 11),
        ("subscribe", {"channels": ["ticker"], "use_yes_price": "yes"}, 11),
        ("subscribe", {"channels": ["trade"], "market_id": "00000000-0000-4000-8000-000000000000"}, 11),
        ("unsubscribe", None, 2),
        ("unsubscribe", {}, 4),
        ("unsubscribe", {"sids": [999]}, 7),
        ("unsubscribe", {"sids": ["one"]}, 11),
        ("update_subscription", {"action": "add_markets", "market_tickers": [t0]}, 12),
        ("update_subscription", {"sids": [1, 2], "action": "add_markets", "market_tickers": [t0]}, 12),
        ("update_subscription", {"sid": 1, "sids": [1], "action": "add_markets", "market_tickers": [t0]}, 12),
        ("update_subscription", {"sid": 1, "market_tickers": [t0]}, 15),
        ("update_subscription", {"sid": 1, "action": "explode", "market_tickers": [t0]}, 13),
        ("update_subscription", {"sid": 999, "action": "add_markets", "market_tickers": [t0]}, 7),
    ]
    for n, (cmd, params, code) in enumerate(cases, start=1):
        reply = _error(ws.command(cmd, params, cmd_id=n, check=False))
        assert (reply["msg"]["code"], reply["id"]) == (code, n), (cmd, params, reply)
        assert reply["msg"]["msg"]

    # Errors that need a live subscription.
    sid = ws.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": t0})[0]["msg"]["sid"]
    ticker_sid = ws.command("subscribe", {"channels": ["ticker"]})[0]["msg"]["sid"]
    lifecycle_sid = ws.command("subscribe", {"channels": ["market_lifecycle_v2"]})[0]["msg"]["sid"]
    scoped = [
        ({"sid": sid, "action": "add_markets"}, 14),
        ({"sid": sid, "action": "add_markets", "market_tickers": ["NO-SUCH-MARKET"]}, 11),
        ({"sid": sid, "action": "get_snapshot", "market_tickers": [t1]}, 11),  # not in the subscription
        ({"sid": ticker_sid, "action": "get_snapshot", "market_tickers": [t0]}, 13),
        ({"sid": ticker_sid, "action": "add_markets", "market_tickers": [t0]}, 11),  # already every market
        ({"sid": lifecycle_sid, "action": "add_markets", "market_tickers": [t0]}, 13),
    ]
    for params, code in scoped:
        reply = _error(ws.command("update_subscription", params, check=False))
        assert reply["msg"]["code"] == code, (params, reply)
        assert reply["sid"] == params["sid"]
    unknown = _error(ws.command("subscribe", {"channels": ["trade"], "market_tickers": [t0, "NOPE-1", "NOPE-2"]}))
    assert unknown["msg"]["market_tickers"] == ["NOPE-1", "NOPE-2"]

    # Still usable, and no failed command left a subscription behind.
    listed = ws.command("list_subscriptions")[-1]
    assert listed["msg"] == [
        {"channel": "orderbook_delta", "sid": sid},
        {"channel": "ticker", "sid": ticker_sid},
        {"channel": "market_lifecycle_v2", "sid": lifecycle_sid},
    ]


def test_update_subscription_and_unsubscribe(sx: SmallExchange, ws: WsClient) -> None:
    t0, t1, t2 = sx.tickers
    ex = sx.exchange
    first = ws.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": t0})
    sid = first[0]["msg"]["sid"]
    assert [m["type"] for m in first] == ["subscribed", "orderbook_snapshot"]

    ex.place_order("bob", OrderRequest(t1, Side.BID, 4000, 100))  # t1 is not subscribed yet: nothing arrives
    assert not [m for m in ws.sync() if m.get("sid") == sid]

    added = ws.command("update_subscription", {"sids": [sid], "action": "add_markets", "market_tickers": [t1, t2]})
    ok = ws.reply(added)
    assert ok["type"] == "ok" and ok["sid"] == sid and ok["msg"]["market_tickers"] == sorted([t0, t1, t2])
    snapshots = [m for m in added if m["type"] == "orderbook_snapshot"]
    assert [m["msg"]["market_ticker"] for m in snapshots] == [t1, t2]
    assert snapshots[0]["msg"]["yes_dollars_fp"] == [["0.4000", "1.00"]]

    deleted = ws.command("update_subscription", {"sid": sid, "action": "delete_markets", "market_ticker": t0})
    assert deleted[-1]["msg"]["market_tickers"] == sorted([t1, t2])
    ex.place_order("bob", OrderRequest(t0, Side.BID, 4100, 100))
    ex.place_order("bob", OrderRequest(t1, Side.BID, 4100, 100))
    deltas = [m["msg"]["market_ticker"] for m in ws.sync() if m["type"] == "orderbook_delta"]
    assert deltas == [t1]

    # get_snapshot: replies with snapshots carrying the command id, subscription unchanged.
    snap = ws.command("update_subscription", {"sid": sid, "action": "get_snapshot", "market_tickers": [t1]}, cmd_id=77)
    assert snap[-1]["type"] == "orderbook_snapshot" and snap[-1]["id"] == 77
    assert snap[-1]["msg"]["yes_dollars_fp"] == [["0.4000", "1.00"], ["0.4100", "1.00"]]

    # Subscribing again to the same channel adds markets to the same sid; repeating it is a no-op.
    again = ws.command("subscribe", {"channels": ["orderbook_delta"], "market_tickers": [t0, t1]})
    assert again[0]["type"] == "ok" and again[0]["sid"] == sid
    assert [m["type"] for m in again[1:]] == ["orderbook_snapshot"]
    same = ws.command("subscribe", {"channels": ["orderbook_delta"], "market_tickers": [t0]})
    assert same == [{"type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": sid}, "id": same[0]["id"]}]

    trade_sid = ws.command("subscribe", {"channels": ["trade"]})[0]["msg"]["sid"]
    listed = ws.command("list_subscriptions")[-1]["msg"]
    assert listed == [{"channel": "orderbook_delta", "sid": sid}, {"channel": "trade", "sid": trade_sid}]

    gone = ws.command("unsubscribe", {"sids": [sid, trade_sid]})
    assert [(m["type"], m["sid"]) for m in gone[-2:]] == [("unsubscribed", sid), ("unsubscribed", trade_sid)]
    assert gone[-2]["seq"] == ws.last_seq[sid]
    ex.place_order("bob", OrderRequest(t1, Side.BID, 4200, 100))
    ex.place_order("carol", OrderRequest(t1, Side.ASK, 4200, 100))  # a trade
    assert ws.sync() == []
    assert ws.command("list_subscriptions")[-1]["msg"] == []
