"""What the WebSocket client does with each frame it receives: parse, check ``seq``, apply to the store, repair.

:class:`StreamHandler` holds everything about the stream that is not socket I/O: the sequence tracker, the
subscription bookkeeping (:mod:`kalshi_mm.api.ws_subscriptions`), the books waiting for a snapshot and the
counters. The client (:mod:`kalshi_mm.api.websocket`) owns the socket and calls :meth:`StreamHandler.attach` on
each new connection, :meth:`~StreamHandler.on_frame` for each text frame, :meth:`~StreamHandler.sweep` a few
times a second and :meth:`~StreamHandler.detach` when the connection ends; the handler answers through the
``send`` function it was attached with.

Repair rules (NOTES.md §7, state/seq.py, DESIGN.md #9):

* A frame that does not parse (invalid UTF-8 included) is counted and skipped; a channel message without a
  ``sid`` belongs to no subscription and is dropped. Nothing a server sends raises out of :meth:`on_frame`.
* ``seq`` is checked only on channel messages of known sids; a duplicate (or a message older than one already
  seen) is dropped. A gap on the orderbook sid marks all its books stale and asks for a snapshot of each
  (``update_subscription`` ``get_snapshot``); a book the store finds inconsistent is resnapshotted too. The
  ``seq`` of an ``ok`` reply is the sid's last number: when it is beyond what arrived, the tail was lost.
* Terminal errors (10, 25) and "unknown sid" (7) end a subscription: the channel is subscribed again.

WebSocket thread only (the store's single writer); the counters are plain ints read by others under the GIL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kalshi_mm.api.ws_channels import MESSAGE_TYPE_CHANNEL
from kalshi_mm.api.ws_messages import parse_message
from kalshi_mm.api.ws_subscriptions import ORDERBOOK, SnapshotRequests, Subscriptions
from kalshi_mm.api.ws_types import (
    ErrorMsg,
    FillMsg,
    Ok,
    OrderbookSnapshot,
    Subscribed,
    UnknownMsg,
    Unsubscribed,
    WsMessage,
)
from kalshi_mm.clock import Clock
from kalshi_mm.state.seq import SeqStatus, SeqTracker
from kalshi_mm.state.store import MarketStateStore

__all__ = ["COUNTERS", "ConnectionLost", "StreamHandler"]

log = logging.getLogger("kalshi_mm.api.websocket")

UNKNOWN_SID = 7  # Kalshi error code: the sid named does not exist (any more)

COUNTERS = (
    "messages",  # frames received (text or binary)
    "malformed",  # frames that did not parse
    "unexpected",  # well-formed but not ours: unknown sid, a market we left, an unmodelled type
    "handler_errors",  # exceptions in our own handling (a bug; logged with traceback)
    "errors",  # error replies from the server
    "gaps",  # sequence gaps detected (any sequenced channel)
    "book_gaps",  # ... of which on the orderbook sid
    "seq_missed",  # sequence numbers skipped in those gaps
    "duplicates",  # messages dropped as already seen (or arrived after a later one)
    "resyncs",  # order books asked for again with get_snapshot
    "snapshot_requests",  # get_snapshot commands sent
    "resubscribes",  # subscriptions the server ended and we made again
    "markets_refused",  # markets the server refused (unknown ticker) and we dropped
)


class ConnectionLost(Exception):
    """Raised by the client's ``send`` when the socket is gone; passes through :meth:`StreamHandler.on_frame`."""


def _log_now(count: int) -> bool:
    """Log the first few occurrences of a recurring problem, then one in a thousand."""
    return count <= 5 or count % 1000 == 0


class StreamHandler:
    """Per-frame and periodic handling of the stream for one connection at a time (WebSocket thread only)."""

    def __init__(
        self,
        store: MarketStateStore,
        clock: Clock,
        channels: Sequence[str],
        *,
        snapshot_timeout_s: float = 2.0,
        command_timeout_s: float = 5.0,
        retry_delay_s: float = 1.0,
        on_refused: Callable[[tuple[str, ...]], None] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._command_timeout_s = command_timeout_s
        self._retry_delay_s = retry_delay_s
        self._on_refused = on_refused
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._tracker = SeqTracker()
        self._subs = Subscriptions(channels, use_yes_price=True, retry_delay_s=retry_delay_s)
        self._snaps = SnapshotRequests(snapshot_timeout_s)
        self._send: Callable[[dict[str, Any]], None] | None = None
        self._wanted: tuple[str, ...] = ()
        self._last_plan = 0.0
        self.newest_fill_ts: float | None = None  # exchange time (Unix s) of the newest fill seen
        self.fill_sid_ready = False  # the fill channel is subscribed on this connection
        self._control: dict[type, Callable[[Any], None]] = {
            Subscribed: self._on_subscribed,
            Ok: self._on_ok,
            Unsubscribed: self._on_unsubscribed,
            ErrorMsg: self._on_error,
            UnknownMsg: self._on_unknown,
        }

    # --- connection lifecycle ---------------------------------------------------------------------------------

    def attach(self, send: Callable[[dict[str, Any]], None]) -> None:
        """A new connection: sids start over; subscribe to everything wanted."""
        self._reset()
        self._send = send
        self._plan()

    def detach(self) -> None:
        """The connection ended: every book is stale until resnapshotted on the next one."""
        self._send = None
        self._store.mark_stale(self._wanted)
        self._reset()

    def _reset(self) -> None:
        self._tracker.reset()
        self._subs.reset()
        self._snaps.reset()
        self.fill_sid_ready = False

    def set_wanted(self, wanted: Sequence[str]) -> tuple[str, ...]:
        """The markets to stream (in the caller's order); returns those dropped, now forgotten by the store."""
        keep = set(wanted)
        removed = tuple(t for t in self._wanted if t not in keep)
        self._wanted = tuple(wanted)
        for ticker in removed:
            self._store.forget(ticker)
        self._snaps.forget(removed)
        self._plan()
        return removed

    def waiting_snapshots(self) -> tuple[str, ...]:
        """Markets whose book is waiting for a snapshot (for tests and health reports)."""
        return self._snaps.waiting()

    def sid_of(self, channel: str) -> int | None:
        return self._subs.sid_of(channel)

    # --- frames -----------------------------------------------------------------------------------------------

    def on_frame(self, data: str | bytes) -> None:
        """Handle one frame. Never raises, except :class:`ConnectionLost` from a send."""
        counters = self.counters
        counters["messages"] += 1
        try:
            try:
                # Strict UTF-8 first: json.loads(bytes) decodes with "surrogatepass", letting encoded surrogates
                # (invalid UTF-8) into tickers and ids, where they later break logging and SQLite writes.
                raw = json.loads(data.decode("utf-8") if type(data) is bytes else data)
                msg = parse_message(raw, self._clock.time(), use_yes_price=True)
            except (ValueError, RecursionError) as exc:  # JSON, UTF-8 and wire errors are ValueErrors; nesting
                counters["malformed"] += 1
                if _log_now(counters["malformed"]):
                    log.warning("malformed WebSocket frame skipped (%d so far): %.200s", counters["malformed"], exc)
                return
            handler = self._control.get(type(msg))
            if handler is None:
                self._on_data(msg, raw)
            else:
                handler(msg)
        except ConnectionLost:
            raise
        except Exception:  # a bug of ours must not kill the stream: count it, log it, keep reading
            counters["handler_errors"] += 1
            if _log_now(counters["handler_errors"]):
                log.exception("WebSocket message handling failed (%d so far)", counters["handler_errors"])

    def _on_data(self, msg: WsMessage, raw: dict[str, Any]) -> None:
        sid = msg.sid
        if sid is None:  # every channel message carries its subscription's sid (NOTES §7): this one is not ours
            self.counters["unexpected"] += 1
            return
        channel = self._subs.channel_of(sid)
        if channel is None:
            channel = MESSAGE_TYPE_CHANNEL.get(raw.get("type", ""))
            if channel is None or not self._subs.adopt(sid, channel):
                self.counters["unexpected"] += 1
                return
            self._new_sid(sid, channel)
        elif MESSAGE_TYPE_CHANNEL.get(raw.get("type", ""), channel) != channel:
            # A message type of another channel on this sid (a fill on the book's sid, ...): not what we subscribed.
            self.counters["unexpected"] += 1
            return
        seq = getattr(msg, "seq", None)
        if seq is not None:
            check = self._tracker.observe(sid, seq)
            if check.status is not SeqStatus.OK:
                if check.status is SeqStatus.DUPLICATE:
                    self.counters["duplicates"] += 1
                    if type(msg) is OrderbookSnapshot and self._snaps.is_waiting(msg.market_ticker):
                        # The snapshot arrived after a later message (reordered): it cannot be applied, and
                        # the book it was meant to repair still needs one.
                        self._snaps.force((msg.market_ticker,))
                        self._flush_snapshots()
                    return
                self._gap(sid, channel, check.missed)
        ticker = getattr(msg, "market_ticker", None)
        if ticker is not None and not self._subs.carries(channel, ticker):
            self.counters["unexpected"] += 1  # a late message for a market we have left: keep it forgotten
            return
        resync = self._store.apply(msg)
        if resync:
            self._snaps.need(resync)
        kind = type(msg)
        if kind is OrderbookSnapshot:
            self._snaps.got(msg.market_ticker)  # type: ignore[union-attr]
        elif kind is FillMsg:
            ts = msg.ts_ms / 1000 if msg.ts_ms is not None else msg.received_ts  # type: ignore[union-attr]
            if self.newest_fill_ts is None or ts > self.newest_fill_ts:
                self.newest_fill_ts = ts
        if self._snaps.has_due:
            self._flush_snapshots()

    def _gap(self, sid: int, channel: str, missed: int) -> None:
        counters = self.counters
        counters["gaps"] += 1
        counters["seq_missed"] += missed
        if channel == ORDERBOOK:
            counters["book_gaps"] += 1
            self._snaps.need(self._store.mark_sid_stale(sid))
            self._snaps.need(self._subs.book_tickers())

    def _new_sid(self, sid: int, channel: str) -> None:
        self._tracker.start(sid)  # a new subscription numbers its messages from 1
        if channel == "fill":
            self.fill_sid_ready = True

    # --- control replies --------------------------------------------------------------------------------------

    def _on_subscribed(self, msg: Subscribed) -> None:
        self._store.apply(msg)
        if self._subs.on_subscribed(msg.cmd_id, msg.channel, msg.sid):
            self._new_sid(msg.sid, msg.channel)
            self._plan()  # markets added while the subscribe was in flight go out now

    def _on_ok(self, msg: Ok) -> None:
        self._store.apply(msg)
        self._subs.pop_command(msg.cmd_id)
        if msg.subscriptions is not None:
            for sid in self._subs.on_list(msg.subscriptions, self._clock.monotonic()):
                channel = self._subs.channel_of(sid)
                if channel is not None:
                    self._new_sid(sid, channel)
            self._plan()
            return
        sid, seq = msg.sid, msg.seq
        if sid is not None and seq is not None and self._subs.channel_of(sid) == ORDERBOOK:
            expected = self._tracker.expected(sid)
            if expected is not None and seq >= expected:  # messages up to ``seq`` were sent and did not arrive
                self._tracker.start(sid, seq + 1)
                self._gap(sid, ORDERBOOK, seq + 1 - expected)
                self._flush_snapshots()

    def _on_unsubscribed(self, msg: Unsubscribed) -> None:
        self._store.apply(msg)
        self._subs.pop_command(msg.cmd_id)
        self._tracker.forget(msg.sid)

    def _on_error(self, msg: ErrorMsg) -> None:
        self._store.apply(msg)  # a terminal error marks the sid's books stale
        counters = self.counters
        counters["errors"] += 1
        cmd = self._subs.pop_command(msg.cmd_id)
        if _log_now(counters["errors"]):
            log.warning(
                "WebSocket error %d %r (command %s, sid %s, markets %s)",
                msg.code,
                msg.message[:200],
                cmd.kind if cmd is not None else msg.cmd_id,
                msg.sid,
                ",".join(msg.market_tickers[:10]),
            )
        sid = msg.sid if msg.sid is not None else cmd.sid if cmd is not None else None
        now = self._clock.monotonic()
        if msg.terminal or msg.code == UNKNOWN_SID:
            if sid is not None and self._subs.drop_sid(sid) is not None:
                self._tracker.forget(sid)
                self._store.mark_sid_stale(sid)
                counters["resubscribes"] += 1
                self._plan()
            return
        if cmd is not None and cmd.kind == "subscribe" and cmd.channel is not None:
            self._subs.subscribe_failed(cmd.channel, now)
            if msg.market_tickers:
                self._refuse(msg.market_tickers)  # the rest can subscribe at once, without the unknown markets
                self._subs.channels[cmd.channel].retry_at = now
                self._plan()
        elif cmd is not None and cmd.kind == "add_markets" and cmd.channel is not None:
            # Not on the sid after all; plan() adds them again at its next round unless refused for good.
            self._subs.remove_tickers(cmd.channel, msg.market_tickers or cmd.tickers)
            if msg.market_tickers:
                self._refuse(msg.market_tickers)
        elif msg.market_tickers and sid is not None and self._subs.channel_of(sid) == ORDERBOOK:
            # A refused get_snapshot: the server does not have these markets on the sid (a lost add reply).
            self._subs.remove_tickers(ORDERBOOK, msg.market_tickers)

    def _on_unknown(self, msg: UnknownMsg) -> None:
        self.counters["unexpected"] += 1
        sid, seq = msg.sid, msg.seq
        if sid is not None and seq is not None:
            channel = self._subs.channel_of(sid)
            if channel is not None:  # it still took a number in the sid's sequence
                check = self._tracker.observe(sid, seq)
                if check.gap:
                    self._gap(sid, channel, check.missed)
                    self._flush_snapshots()
        self._store.apply(msg)

    def _refuse(self, tickers: Iterable[str]) -> None:
        refused = tuple(t for t in tickers if t in self._wanted)
        if not refused:
            return
        self.counters["markets_refused"] += len(refused)
        log.warning("the exchange refused market(s) %s: dropped from the stream", ", ".join(refused[:20]))
        self._wanted = tuple(t for t in self._wanted if t not in refused)
        self._snaps.forget(refused)
        if self._on_refused is not None:
            self._on_refused(refused)

    # --- commands ---------------------------------------------------------------------------------------------

    def _plan(self) -> None:
        send = self._send
        if send is None:
            return
        now = self._clock.monotonic()
        self._last_plan = now
        plan = self._subs.plan(self._wanted, now)
        for sid in plan.retired:
            self._tracker.forget(sid)
        self._snaps.expect(plan.snapshots, now)
        for command in plan.commands:
            send(command)

    def _flush_snapshots(self) -> None:
        send = self._send
        if send is None:
            return
        now = self._clock.monotonic()
        tickers = self._snaps.take(now, self._subs.book_tickers())
        if not tickers:
            return
        command = self._subs.snapshot_command(tickers, now)
        if command is not None:
            self.counters["resyncs"] += len(tickers)
            self.counters["snapshot_requests"] += 1
            send(command)

    def sweep(self) -> None:
        """Periodic repairs: retry refused/lost subscribes, re-ask lost snapshots, resnapshot stale books."""
        send = self._send
        if send is None:
            return
        now = self._clock.monotonic()
        if now - self._last_plan >= self._retry_delay_s:
            self._plan()
        command = self._subs.list_if_stuck(now, self._command_timeout_s)
        if command is not None:
            send(command)
        self._snaps.need(ticker for ticker, _sid in self._store.stale_books())
        self._flush_snapshots()
