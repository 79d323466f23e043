"""Subscription bookkeeping of the WebSocket client for one connection (pure: no I/O, no clock, no locks).

Kalshi gives each subscribed channel its own ``sid``, and sids do not survive a reconnect (NOTES.md §7). The
client subscribes one channel per command, so every ``subscribed`` reply maps to exactly one channel, and keeps
here, per channel: the sid (once known), the subscribe command in flight, and the markets the server has on
that sid (market-filtered channels). :meth:`Subscriptions.plan` turns "these are the markets we want" into the
commands that get the server there. :class:`SnapshotRequests` remembers which order books wait for a snapshot.

Everything a faulty link can do to replies is handled: a lost ``subscribed`` (the sid is adopted from the
channel's first message, or from ``list_subscriptions`` after a timeout), a duplicated one (ignored), a lost
``get_snapshot`` reply (asked again after ``timeout_s``).

Owned by the WebSocket thread; not thread-safe.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "FILTERED_CHANNELS",
    "ORDERBOOK",
    "ChannelState",
    "Command",
    "Plan",
    "SnapshotRequests",
    "Subscriptions",
    "channels_for",
]

ORDERBOOK = "orderbook_delta"
# Channels subscribed per market (the client's market set); the others are subscribed once, for everything.
FILTERED_CHANNELS = frozenset({ORDERBOOK, "ticker", "trade"})


def channels_for(config: Any) -> tuple[str, ...]:
    """Kalshi channel names to subscribe, from the ``websockets.subscribe_*`` flags.

    ``subscribe_user_fills`` also covers ``user_orders`` and ``order_group_updates``: the three private
    order-flow channels are one concern (our orders and what happened to them), and the config has one flag.
    """
    flags = (
        ("subscribe_orderbook", (ORDERBOOK,)),
        ("subscribe_ticker", ("ticker",)),
        ("subscribe_trades", ("trade",)),
        ("subscribe_user_fills", ("fill", "user_orders", "order_group_updates")),
        ("subscribe_positions", ("market_positions",)),
        ("subscribe_lifecycle", ("market_lifecycle_v2",)),
    )
    return tuple(name for flag, names in flags if getattr(config, flag, True) for name in names)


class Command(NamedTuple):
    """A command in flight: what a reply (or an error) with its ``id`` is about."""

    id: int
    kind: str  # subscribe | add_markets | delete_markets | unsubscribe | get_snapshot | list_subscriptions
    channel: str | None
    sid: int | None
    tickers: tuple[str, ...]
    sent_at: float  # monotonic seconds


class Plan(NamedTuple):
    commands: list[dict]  # to send, in order
    retired: list[int]  # sids given up (unsubscribed): forget their sequence numbers
    snapshots: list[str]  # markets whose orderbook snapshot the commands will bring (subscribe / add_markets)


@dataclass
class ChannelState:
    channel: str
    filtered: bool
    sid: int | None = None
    pending: Command | None = None  # the subscribe in flight
    tickers: set[str] = field(default_factory=set)  # markets the server has on ``sid`` (filtered channels)
    retry_at: float = 0.0  # after a refused subscribe: do not try again before this (monotonic seconds)


class Subscriptions:
    """Per-channel sids, subscribe commands in flight and the markets of each sid, for the current connection."""

    def __init__(self, channels: Iterable[str], *, use_yes_price: bool = True, retry_delay_s: float = 1.0) -> None:
        self.channels = {c: ChannelState(c, c in FILTERED_CHANNELS) for c in channels}
        self.use_yes_price = use_yes_price
        self.retry_delay_s = retry_delay_s
        self._sid_channel: dict[int, str] = {}
        self._retired: set[int] = set()  # sids we left: their late messages are ignored, never adopted
        self._inflight: dict[int, Command] = {}
        self._subscribe_ids: dict[int, str] = {}  # id -> channel of every subscribe sent on this connection
        self._list_sent_at: float | None = None
        self._next_id = 0

    def reset(self) -> None:
        """A new connection: no sids, nothing in flight (command ids keep counting, which Kalshi allows)."""
        for st in self.channels.values():
            st.sid, st.pending, st.retry_at = None, None, 0.0
            st.tickers.clear()
        self._sid_channel.clear()
        self._retired.clear()
        self._inflight.clear()
        self._subscribe_ids.clear()
        self._list_sent_at = None

    # --- reads ------------------------------------------------------------------------------------------------

    def channel_of(self, sid: int) -> str | None:
        return self._sid_channel.get(sid)

    def sid_of(self, channel: str) -> int | None:
        st = self.channels.get(channel)
        return None if st is None else st.sid

    def book_tickers(self) -> set[str]:
        """Markets the server has on the orderbook sid (empty when there is none)."""
        st = self.channels.get(ORDERBOOK)
        return st.tickers if st is not None and st.sid is not None else set()

    def carries(self, channel: str, ticker: str) -> bool:
        """False for a market a filtered channel's sid no longer has (a late message after we left it)."""
        st = self.channels.get(channel)
        return st is None or not st.filtered or ticker in st.tickers

    def pop_command(self, cmd_id: int | None) -> Command | None:
        return None if cmd_id is None else self._inflight.pop(cmd_id, None)

    # --- commands ---------------------------------------------------------------------------------------------

    def _command(self, kind: str, channel: str | None, sid: int | None, tickers: Sequence[str], now: float) -> dict:
        self._next_id += 1
        cmd = Command(self._next_id, kind, channel, sid, tuple(tickers), now)
        if kind != "get_snapshot":  # get_snapshot is answered by snapshots carrying the id, not by one reply
            self._inflight[cmd.id] = cmd
        if kind == "subscribe":
            assert channel is not None
            self._subscribe_ids[cmd.id] = channel
            params: dict[str, Any] = {"channels": [channel]}
            if tickers:
                params["market_tickers"] = list(tickers)
            if channel == ORDERBOOK:
                params["use_yes_price"] = self.use_yes_price
            return {"id": cmd.id, "cmd": "subscribe", "params": params}
        if kind == "unsubscribe":
            return {"id": cmd.id, "cmd": "unsubscribe", "params": {"sids": [sid]}}
        if kind == "list_subscriptions":
            self._list_sent_at = now
            return {"id": cmd.id, "cmd": "list_subscriptions"}
        params = {"sids": [sid], "action": kind, "market_tickers": list(tickers)}
        return {"id": cmd.id, "cmd": "update_subscription", "params": params}

    def plan(self, wanted: Sequence[str], now: float) -> Plan:
        """The commands that bring the server to ``wanted`` (markets, in the caller's order) on every channel."""
        want = set(wanted)
        commands: list[dict] = []
        retired: list[int] = []
        snapshots: list[str] = []
        for st in self.channels.values():
            if st.pending is not None:
                continue  # one thing at a time per channel: the reply decides what comes next
            if st.sid is None:
                if now < st.retry_at or (st.filtered and not want):
                    continue
                commands.append(self._command("subscribe", st.channel, None, wanted if st.filtered else (), now))
                st.pending = self._inflight[self._next_id]
                if st.channel == ORDERBOOK:
                    snapshots.extend(wanted)
                continue
            if not st.filtered:
                continue
            add = [t for t in wanted if t not in st.tickers]
            drop = [t for t in st.tickers if t not in want]
            if drop and not want:  # Kalshi wants at least one market on a filtered sid: leave it instead
                commands.append(self._command("unsubscribe", st.channel, st.sid, (), now))
                retired.append(st.sid)
                self._retire(st)
                continue
            if add:
                commands.append(self._command("add_markets", st.channel, st.sid, add, now))
                st.tickers.update(add)
                if st.channel == ORDERBOOK:
                    snapshots.extend(add)
            if drop:
                commands.append(self._command("delete_markets", st.channel, st.sid, drop, now))
                st.tickers.difference_update(drop)
        return Plan(commands, retired, snapshots)

    def snapshot_command(self, tickers: Sequence[str], now: float) -> dict | None:
        """``get_snapshot`` for those of ``tickers`` on the orderbook sid (None when there are none)."""
        st = self.channels.get(ORDERBOOK)
        if st is None or st.sid is None:
            return None
        on_sid = [t for t in tickers if t in st.tickers]
        return self._command("get_snapshot", ORDERBOOK, st.sid, on_sid, now) if on_sid else None

    def list_if_stuck(self, now: float, timeout_s: float) -> dict | None:
        """``list_subscriptions`` when a subscribe has waited longer than ``timeout_s`` (its reply was lost)."""
        if self._list_sent_at is not None and now - self._list_sent_at < timeout_s:
            return None
        if any(st.pending is not None and now - st.pending.sent_at > timeout_s for st in self.channels.values()):
            return self._command("list_subscriptions", None, None, (), now)
        return None

    # --- replies ----------------------------------------------------------------------------------------------

    def _take(self, st: ChannelState, sid: int) -> None:
        if st.sid is not None and st.sid != sid:
            self._retire(st)
        st.sid = sid
        self._sid_channel[sid] = st.channel
        self._retired.discard(sid)
        if st.pending is not None:
            st.tickers = set(st.pending.tickers)
            self._inflight.pop(st.pending.id, None)
            st.pending = None

    def on_subscribed(self, cmd_id: int | None, channel: str, sid: int) -> bool:
        """A ``subscribed`` reply; True when it names a new sid (start checking its sequence at 1)."""
        if cmd_id is None or self._subscribe_ids.get(cmd_id) != channel:
            return False  # not the reply to a subscribe of ours: it must not move the channel to another sid
        st = self.channels.get(channel)
        if st is None or st.sid == sid:
            return False  # a channel we never asked for, or a repeated reply
        answers_pending = st.pending is not None and (cmd_id is None or cmd_id == st.pending.id)
        if sid in self._retired and not answers_pending:
            return False  # a late copy of a reply for a sid we have left
        self._take(st, sid)
        return True

    def adopt(self, sid: int, channel: str) -> bool:
        """A message on an unknown ``sid`` of ``channel`` while that channel's subscribe waits for its reply:
        the reply was lost, and this is the new subscription. True if adopted (its sequence starts at 1)."""
        st = self.channels.get(channel)
        if st is None or st.pending is None or st.sid is not None or sid in self._retired:
            return False
        self._take(st, sid)
        return True

    def on_list(self, listing: Sequence[tuple[str, int]], now: float) -> list[int]:
        """The ``list_subscriptions`` reply: adopt the sids of pending channels; a pending subscribe sent before
        the listing and absent from it failed (its error was lost): clear it so :meth:`plan` sends it again."""
        adopted = []
        for channel, sid in listing:
            if self.adopt(sid, channel):
                adopted.append(sid)
        sent = self._list_sent_at if self._list_sent_at is not None else now
        for st in self.channels.values():
            if st.pending is not None and st.pending.sent_at <= sent:
                self._inflight.pop(st.pending.id, None)
                st.pending = None
        self._list_sent_at = None
        return adopted

    def drop_sid(self, sid: int) -> str | None:
        """The server ended ``sid`` (terminal error, unknown sid): forget it so :meth:`plan` subscribes again."""
        channel = self._sid_channel.get(sid)
        st = self.channels.get(channel) if channel is not None else None
        if st is None or st.sid != sid:
            return None
        self._retire(st)
        return channel

    def subscribe_failed(self, channel: str, now: float) -> None:
        """The subscribe of ``channel`` was refused: try again after ``retry_delay_s``."""
        st = self.channels.get(channel)
        if st is not None and st.sid is None:
            st.pending = None
            st.retry_at = now + self.retry_delay_s

    def remove_tickers(self, channel: str, tickers: Iterable[str]) -> None:
        """The server does not have these markets on the channel's sid (a refused add or snapshot request)."""
        st = self.channels.get(channel)
        if st is not None:
            st.tickers.difference_update(tickers)

    def _retire(self, st: ChannelState) -> None:
        if st.sid is not None:
            self._retired.add(st.sid)
            self._sid_channel.pop(st.sid, None)
        st.sid = None
        st.tickers.clear()


class SnapshotRequests:
    """Order books waiting for a snapshot: asked for (or implied by a subscribe) and not yet received.

    A book already waiting is not asked for again on every gap (under heavy loss that would cascade into
    a snapshot storm); it is asked again only when its request is older than ``timeout_s``, or at once when
    the snapshot that was on its way arrived out of order and had to be dropped (:meth:`force`).
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._outstanding: dict[str, float] = {}  # ticker -> when asked (monotonic seconds)
        self._due: dict[str, None] = {}  # to ask at the next flush (insertion-ordered set)

    def reset(self) -> None:
        self._outstanding.clear()
        self._due.clear()

    @property
    def has_due(self) -> bool:
        return bool(self._due)

    def is_waiting(self, ticker: str) -> bool:
        return ticker in self._outstanding or ticker in self._due

    def waiting(self) -> tuple[str, ...]:
        return tuple(self._outstanding) + tuple(t for t in self._due if t not in self._outstanding)

    def expect(self, tickers: Iterable[str], now: float) -> None:
        """Snapshots already on their way (a subscribe or add_markets sends one per market)."""
        for ticker in tickers:
            self._outstanding[ticker] = now

    def need(self, tickers: Iterable[str]) -> None:
        for ticker in tickers:
            if ticker not in self._outstanding:
                self._due[ticker] = None

    def force(self, tickers: Iterable[str]) -> None:
        for ticker in tickers:
            self._due[ticker] = None

    def got(self, ticker: str) -> None:
        self._outstanding.pop(ticker, None)
        self._due.pop(ticker, None)

    def forget(self, tickers: Iterable[str]) -> None:
        for ticker in tickers:
            self.got(ticker)

    def take(self, now: float, allowed: Collection[str]) -> list[str]:
        """Markets to ask for now (due, or asked too long ago), limited to ``allowed``; marks them asked.

        Due markets outside ``allowed`` are dropped: they are not on the sid, and a subscribe or add_markets
        that puts them there brings their snapshot anyway."""
        timeout = self.timeout_s
        picked = dict.fromkeys(t for t in self._due if t in allowed)
        for ticker, asked_at in self._outstanding.items():
            if now - asked_at > timeout and ticker in allowed:
                picked[ticker] = None
        self._due.clear()
        for ticker in picked:
            self._outstanding[ticker] = now
        return list(picked)
