"""The WebSocket client's per-frame path (:class:`StreamHandler.on_frame`: decode, parse, seq check, store) under
hostile frames interleaved with a valid snapshot + delta stream.

* Malformed frames (truncated JSON, non-UTF-8, nesting past the recursion limit, NaN money, not an object, ...)
  are each counted once as ``malformed`` and change nothing: the books equal an independent model of the valid
  stream, with no gap, duplicate or resync.
* Well-formed frames that are not ours (unknown sids, unknown types, replies to commands never sent, messages
  without a sid) are dropped without touching the books, the fills or the sequence tracking.
* Nothing at all raises out of ``on_frame`` or reaches ``handler_errors`` (a bug of ours), and after any junk
  whatsoever a new connection's valid snapshot + deltas give the right book: no crossed book from valid input,
  no negative or zero level.

The handler is driven directly (its ``send`` collects the commands it would write to the socket); the real
socket path, on the client's own thread, is covered in test_fuzz_ws_client.py.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_mm.api.ws_channels import MESSAGE_TYPE_CHANNEL
from kalshi_mm.api.ws_stream import StreamHandler
from kalshi_mm.api.ws_subscriptions import ORDERBOOK, channels_for
from kalshi_mm.clock import SimClock
from kalshi_mm.config.sections_infra import WebsocketsConfig
from kalshi_mm.state.store import MarketStateStore
from kalshi_mm.units import ONE_DOLLAR

from .fuzz_support import FUZZ, WS_FIXTURES, FuzzStats, encode, hostile_scalars, json_values, malformed_frames

pytestmark = pytest.mark.fuzz

T0 = 1_795_000_000.0
TICKERS = ("KXFUZZ-26DEC31-T1", "KXFUZZ-26DEC31-T2")
FOREIGN_SIDS = st.integers(1_000, 10**12)

Book = tuple[dict[int, int], dict[int, int]]  # (YES bids, YES asks): price e4 -> size e2


def _dollars(price_e4: int) -> str:
    return f"0.{price_e4:04d}"


def _count(size_e2: int) -> str:
    sign = "-" if size_e2 < 0 else ""
    return f"{sign}{abs(size_e2) // 100}.{abs(size_e2) % 100:02d}"


class Rig:
    """A StreamHandler over a real store, fed frames as a server would send them, plus a model of the valid ones."""

    def __init__(self) -> None:
        self._sids = itertools.count(1)  # per rig: the frames (and so the draws) must not depend on earlier examples
        self.clock = SimClock(start=T0)
        config = WebsocketsConfig(enabled=True)
        self.store = MarketStateStore(self.clock, config)
        self.handler = StreamHandler(self.store, self.clock, channels_for(config))
        self.handler.set_wanted(TICKERS)
        self.sent: list[dict[str, Any]] = []
        self.valid: list[str] = []  # every valid frame sent, as text (bases for malformed variants)
        self.connect()

    def connect(self) -> None:
        """A new connection: every channel subscribed and confirmed on fresh sids; books wait for snapshots."""
        self.handler.detach()
        self.sent.clear()
        self.handler.attach(self.sent.append)
        self.sids: dict[str, int] = {}
        for command in list(self.sent):
            assert command["cmd"] == "subscribe"
            channel = command["params"]["channels"][0]
            self.sids[channel] = sid = next(self._sids)
            self.feed({"id": command["id"], "type": "subscribed", "msg": {"channel": channel, "sid": sid}})
        self.seq = 0
        self.model: dict[str, Book] = {t: ({}, {}) for t in TICKERS}

    def feed(self, frame: dict[str, Any] | str | bytes) -> None:
        self.handler.on_frame(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    def _book_frame(self, mtype: str, ticker: str, msg: dict[str, Any]) -> None:
        self.seq += 1
        text = json.dumps(
            {"type": mtype, "sid": self.sids[ORDERBOOK], "seq": self.seq, "msg": {"market_ticker": ticker, **msg}}
        )
        self.valid.append(text)
        self.feed(text)

    def snapshot(self, ticker: str, bids: dict[int, int], asks: dict[int, int]) -> None:
        msg: dict[str, Any] = {}
        if bids:
            msg["yes_dollars_fp"] = [[_dollars(p), _count(s)] for p, s in bids.items()]
        if asks:  # use_yes_price: the no side lists YES asks at YES prices
            msg["no_dollars_fp"] = [[_dollars(p), _count(s)] for p, s in asks.items()]
        self._book_frame("orderbook_snapshot", ticker, msg)
        self.model[ticker] = (dict(bids), dict(asks))

    def delta(self, ticker: str, bid: bool, price: int, delta: int) -> None:
        msg = {"price_dollars": _dollars(price), "delta_fp": _count(delta), "side": "yes" if bid else "no"}
        self._book_frame("orderbook_delta", ticker, msg)
        side = self.model[ticker][0 if bid else 1]
        side[price] = side.get(price, 0) + delta
        if side[price] == 0:
            del side[price]

    def expected(self, ticker: str) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
        bids, asks = self.model[ticker]
        return tuple(sorted(bids.items(), reverse=True)), tuple(sorted(asks.items()))

    def check_books(self) -> None:
        for ticker in TICKERS:
            view = self.store.get_orderbook(ticker)
            assert view is not None, f"{ticker}: no live book"
            assert view.to_levels() == self.expected(ticker)
            assert not view.crossed
            assert all(0 < p < ONE_DOLLAR and s > 0 for p, s in (*view.yes_bids, *view.yes_asks))


# --- the valid stream ---------------------------------------------------------------------------------------------

# Bids below $0.50 and asks above it, on a deci-cent grid: any valid stream keeps the book uncrossed.
bid_prices = st.integers(1, 499).map(lambda k: k * 10)
ask_prices = st.integers(501, 999).map(lambda k: k * 10)
sizes = st.integers(1, 100_000)


@st.composite
def levels(draw: st.DrawFn, prices: st.SearchStrategy[int]) -> dict[int, int]:
    return draw(st.dictionaries(prices, sizes, max_size=6))


def _valid_step(data: st.DataObject, rig: Rig) -> None:
    """One valid book message: mostly deltas that add or take away resting size, now and then a snapshot."""
    ticker = data.draw(st.sampled_from(TICKERS))
    if data.draw(st.integers(0, 9)) == 0:
        rig.snapshot(ticker, data.draw(levels(bid_prices)), data.draw(levels(ask_prices)))
        return
    bid = data.draw(st.booleans())
    side = rig.model[ticker][0 if bid else 1]
    if side and data.draw(st.booleans()):
        price = data.draw(st.sampled_from(sorted(side)))
        rig.delta(ticker, bid, price, -data.draw(st.integers(1, side[price])))
    else:
        rig.delta(ticker, bid, data.draw(bid_prices if bid else ask_prices), data.draw(sizes))


def _start(data: st.DataObject, rig: Rig) -> None:
    for ticker in TICKERS:
        rig.snapshot(ticker, data.draw(levels(bid_prices)), data.draw(levels(ask_prices)))


# --- junk -------------------------------------------------------------------------------------------------------

_CHANNEL_FIXTURES = [name for name, frame in WS_FIXTURES.items() if frame["type"] in MESSAGE_TYPE_CHANNEL]


@st.composite
def foreign_frames(draw: st.DrawFn) -> dict[str, Any]:
    """Well-formed frames that are not part of this connection's subscriptions."""
    kind = draw(st.sampled_from(["foreign_sid", "no_sid", "unknown_type", "reply", "subscribed_elsewhere"]))
    if kind in ("foreign_sid", "no_sid"):
        frame = dict(WS_FIXTURES[draw(st.sampled_from(_CHANNEL_FIXTURES))])
        msg = dict(frame["msg"]) if isinstance(frame["msg"], dict) else {}
        if draw(st.booleans()) and "market_ticker" in msg:
            msg["market_ticker"] = draw(st.sampled_from(TICKERS))  # our market, someone else's sid
        frame["msg"] = msg
        if kind == "no_sid":
            frame.pop("sid")
        else:
            frame["sid"] = draw(FOREIGN_SIDS)
        return frame
    if kind == "unknown_type":
        frame = {
            "type": draw(st.sampled_from(["communications", "market_positions_v3", "x", ""])),
            "msg": draw(json_values),
        }
        return {**frame, **draw(st.fixed_dictionaries({}, optional={"sid": FOREIGN_SIDS, "seq": st.integers()}))}
    if kind == "subscribed_elsewhere":  # a reply to a subscribe we never sent (a channel of ours or not)
        channel = draw(st.one_of(st.sampled_from(sorted(MESSAGE_TYPE_CHANNEL.values())), st.text(max_size=10)))
        frame = {"type": "subscribed", "msg": {"channel": channel, "sid": draw(FOREIGN_SIDS)}}
        return {**frame, **draw(st.fixed_dictionaries({}, optional={"id": st.integers(10_000, 10**9)}))}
    reply = draw(st.sampled_from(["ok", "error", "unsubscribed"]))
    frame = {
        "type": reply,
        "id": draw(st.integers(10_000, 10**9)),
        "sid": draw(FOREIGN_SIDS),
        "seq": draw(st.integers()),
    }
    if reply == "ok":
        frame["msg"] = draw(st.one_of(json_values, st.just({"market_tickers": list(TICKERS)})))
    elif reply == "error":
        frame["msg"] = {"code": draw(st.sampled_from([1, 6, 7, 8, 10, 17, 25, 99])), "msg": draw(st.text(max_size=20))}
    return frame


@st.composite
def anything(draw: st.DrawFn, rig: Rig) -> str | bytes:
    """Any frame at all, including well-formed ones on our own sids with made-up sequence numbers."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(malformed_frames(rig.valid))
    if kind == 1:
        return encode(draw(foreign_frames()))
    frame = json.loads(draw(st.sampled_from(rig.valid)))
    if kind == 2:
        frame["seq"] = draw(st.one_of(st.integers(-5, rig.seq + 5), hostile_scalars))
        frame["sid"] = draw(st.one_of(st.sampled_from(sorted(rig.sids.values())), hostile_scalars))
    else:
        frame["msg"] = {**frame["msg"], **draw(st.dictionaries(st.sampled_from(list(frame["msg"])), hostile_scalars))}
    return encode(frame)


# --- properties -------------------------------------------------------------------------------------------------

_DROPPED = ("malformed", "unexpected", "duplicates")  # the counters of frames dropped without being applied


@FUZZ
@given(data=st.data())
def test_malformed_frames_are_counted_and_change_nothing(data: st.DataObject, fuzz_stats: FuzzStats) -> None:
    rig = Rig()
    _start(data, rig)
    junk = 0
    for _ in range(data.draw(st.integers(1, 30))):
        if data.draw(st.booleans()):
            rig.feed(data.draw(malformed_frames(rig.valid)))
            junk += 1
        else:
            _valid_step(data, rig)
    counters = rig.handler.counters
    fuzz_stats.case("ws stream: malformed frames", rejected=True, n=junk)
    assert counters["malformed"] == junk
    assert counters["handler_errors"] == 0
    assert counters["gaps"] == counters["duplicates"] == counters["resyncs"] == 0
    rig.check_books()


@FUZZ
@given(data=st.data())
def test_frames_that_are_not_ours_are_dropped(data: st.DataObject, fuzz_stats: FuzzStats) -> None:
    rig = Rig()
    _start(data, rig)
    junk = 0
    for _ in range(data.draw(st.integers(1, 30))):
        if data.draw(st.booleans()):
            rig.feed(encode(data.draw(foreign_frames())))
            junk += 1
        else:
            _valid_step(data, rig)
    counters = rig.handler.counters
    fuzz_stats.case("ws stream: frames not ours", rejected=True, n=junk)
    assert counters["handler_errors"] == 0
    assert counters["gaps"] == counters["duplicates"] == counters["resyncs"] == 0
    assert {c: s for c, s in rig.sids.items()} == {c: rig.handler.sid_of(c) for c in rig.sids}
    assert rig.store.fills_since(0).fills == () and rig.store.orders() == ()
    rig.check_books()


@FUZZ
@given(data=st.data())
def test_after_any_junk_a_new_connection_gives_the_right_book(data: st.DataObject, fuzz_stats: FuzzStats) -> None:
    rig = Rig()
    _start(data, rig)
    for _ in range(data.draw(st.integers(1, 40))):
        if data.draw(st.booleans()):
            before = sum(rig.handler.counters[k] for k in _DROPPED)
            rig.feed(data.draw(anything(rig)))
            fuzz_stats.case("ws stream: any frame", rejected=sum(rig.handler.counters[k] for k in _DROPPED) > before)
        else:
            _valid_step(data, rig)
        assert rig.handler.counters["handler_errors"] == 0
        for ticker in TICKERS:  # whatever the junk did, a book served is a proper book
            view = rig.store.get_orderbook(ticker)
            assert view is None or all(0 < p < ONE_DOLLAR and s > 0 for p, s in (*view.yes_bids, *view.yes_asks))
    rig.connect()
    _start(data, rig)
    for _ in range(data.draw(st.integers(0, 20))):
        _valid_step(data, rig)
    assert rig.handler.counters["handler_errors"] == 0
    rig.check_books()


def test_a_message_of_another_channel_on_one_of_our_sids_is_dropped() -> None:
    # A well-formed fill sent on the order book's sid is not a fill of ours (nor a book update).
    rig = Rig()
    for ticker in TICKERS:
        rig.snapshot(ticker, {4700: 1000}, {5300: 1000})
    before = rig.handler.counters["unexpected"]
    fill = dict(WS_FIXTURES["private/fill"])
    fill["msg"] = {**fill["msg"], "market_ticker": TICKERS[0]}
    fill["sid"] = rig.sids[ORDERBOOK]
    rig.feed(fill)
    assert rig.handler.counters["unexpected"] == before + 1
    assert rig.store.fills_since(0).fills == ()
    assert rig.handler.counters["handler_errors"] == 0
    rig.check_books()
