"""WebSocket channel state: a mirror of every book, the subscriptions, and the routing of exchange events.

Everything here is synchronous and runs on the WebSocket server's event-loop thread only, so it needs no lock
(:mod:`kalshi_mm.sim.ws` hands exchange events over through a queue). That single owner is also what makes
snapshots consistent: the :class:`Publisher` keeps its own copy of each book, updated by the same ordered event
stream the deltas come from, and a subscription's snapshot is taken from that copy between two events. A
client that applies the snapshot and then the deltas that follow it therefore holds exactly the exchange's book,
with no race against the matching engine.

:class:`Session` is one connection's set of subscriptions plus the command semantics (NOTES §7.1/7.2): it turns
parsed commands into subscription changes and responses, and hands every outgoing message to its
:class:`Subscriber` (the connection) in order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kalshi_mm.sim import ws_wire as wire
from kalshi_mm.sim.events import (
    BookDelta,
    ExchangeEvent,
    FillEvent,
    LifecycleKind,
    MarketLifecycle,
    OrderGroupUpdate,
    OrderUpdate,
    PositionUpdate,
    SettlementEvent,
    TradeEvent,
)
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import Position, Settlement, Side
from kalshi_mm.sim.ws_wire import CommandError, ErrorCode, SubscribeParams, TickerFields, UpdateParams
from kalshi_mm.units import ONE_DOLLAR

__all__ = ["MarketMirror", "Publisher", "Session", "Subscriber", "Subscription"]

log = logging.getLogger(__name__)

PRIVATE = frozenset({"fill", "market_positions", "user_orders", "order_group_updates"})


class Subscriber(Protocol):
    """The receiving end of a session (a connection): messages arrive in the order they must be sent."""

    user_id: str

    def deliver(self, message: dict[str, Any]) -> None: ...


@dataclass(eq=False)
class Subscription:
    """One ``sid``. ``tickers`` None = every market. ``seq`` is the last sequence number sent (sequenced
    channels only), one counter for all the subscription's markets as Kalshi does."""

    sid: int
    channel: str
    owner: Subscriber
    tickers: set[str] | None
    use_yes_price: bool = False
    skip_ticker_ack: bool = False
    seq: int = 0

    def wants(self, ticker: str) -> bool:
        return self.tickers is None or ticker in self.tickers

    def send(self, msg_type: str, body: dict[str, Any], cmd_id: int = 0) -> None:
        message: dict[str, Any] = {"type": msg_type, "sid": self.sid}
        if self.channel in wire.SEQUENCED:
            self.seq += 1
            message["seq"] = self.seq
        if cmd_id:
            message["id"] = cmd_id
        message["msg"] = body
        self.owner.deliver(message)


class MarketMirror:
    """The publisher's copy of one market: YES-leg book levels (price e4 -> size e2) and ticker statistics."""

    __slots__ = (
        "asks",
        "best_ask",
        "best_bid",
        "bids",
        "last_price_e4",
        "last_trade_size_e2",
        "notional_e6",
        "oi_e2",
        "positions",
        "published",
        "ticker",
        "ts_ms",
        "volume_e2",
    )

    def __init__(self, ticker: str):
        self.ticker = ticker
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.best_bid: int | None = None
        self.best_ask: int | None = None
        self.volume_e2 = 0
        self.oi_e2 = 0
        self.last_price_e4 = 0
        self.last_trade_size_e2 = 0
        self.notional_e6 = 0
        self.positions: dict[str, int] = {}  # user -> signed position, for open interest
        self.published: TickerFields | None = None
        self.ts_ms = 0

    def apply(self, side: Side, price_e4: int, delta_e2: int) -> None:
        levels = self.bids if side is Side.BID else self.asks
        size = levels.get(price_e4, 0) + delta_e2
        if size > 0:
            levels[price_e4] = size
        else:
            if size < 0:
                log.error("book mirror of %s went negative at %s %d: %d", self.ticker, side.value, price_e4, size)
            levels.pop(price_e4, None)
        # Keep the best prices cached: a full scan only when the best level itself empties.
        if side is Side.BID:
            if size > 0 and (self.best_bid is None or price_e4 > self.best_bid):
                self.best_bid = price_e4
            elif size <= 0 and price_e4 == self.best_bid:
                self.best_bid = max(levels) if levels else None
        elif size > 0 and (self.best_ask is None or price_e4 < self.best_ask):
            self.best_ask = price_e4
        elif size <= 0 and price_e4 == self.best_ask:
            self.best_ask = min(levels) if levels else None

    def load_book(self, yes: Iterable[tuple[int, int]], no: Iterable[tuple[int, int]]) -> None:
        """Replace the book from a bids-only view (YES bids; NO bids at NO prices)."""
        self.bids = dict(yes)
        self.asks = {ONE_DOLLAR - q: size for q, size in no}
        self.best_bid = max(self.bids) if self.bids else None
        self.best_ask = min(self.asks) if self.asks else None

    def levels(self, side: Side) -> list[tuple[int, int]]:
        """Levels ascending by YES price."""
        return sorted((self.bids if side is Side.BID else self.asks).items())

    def sync(self, volume_e2: int, open_interest_e2: int, last_price_e4: int) -> None:
        """Take the exchange's counters (its market snapshot is authoritative; events only move them)."""
        self.volume_e2, self.oi_e2, self.last_price_e4 = volume_e2, open_interest_e2, last_price_e4

    def set_position(self, user_id: str, position_e2: int) -> None:
        before = self.positions.get(user_id, 0)
        self.oi_e2 += max(0, position_e2) - max(0, before)
        if position_e2:
            self.positions[user_id] = position_e2
        else:
            self.positions.pop(user_id, None)

    def fields(self) -> TickerFields:
        return TickerFields(
            self.last_price_e4,
            self.best_bid,
            self.bids.get(self.best_bid, 0) if self.best_bid else 0,
            self.best_ask,
            self.asks.get(self.best_ask, 0) if self.best_ask else 0,
            self.last_trade_size_e2,
            self.volume_e2,
            self.oi_e2,
            self.notional_e6,
        )


_SubSet = dict[Subscription, None]  # an insertion-ordered set


class Publisher:
    """Book mirror, subscription indexes and event routing for every connection of one server."""

    def __init__(self) -> None:
        self.markets: dict[str, MarketMirror] = {}
        self._ids: dict[str, str] = {}  # market_id -> ticker
        self._all: dict[str, _SubSet] = {c: {} for c in wire.CHANNELS}  # public subscriptions, no filter
        self._by_ticker: dict[str, dict[str, _SubSet]] = {c: {} for c in wire.CHANNELS}
        self._by_user: dict[str, dict[str, _SubSet]] = {c: {} for c in PRIVATE}
        self._dirty: dict[str, None] = {}  # markets whose ticker fields may have changed this batch
        self._positions: dict[tuple[str, str], Position] = {}  # last known, for the settled (None) update
        self._settlements: dict[tuple[str, str], Settlement] = {}
        self._handlers = {
            BookDelta: self._book,
            TradeEvent: self._trade,
            FillEvent: self._fill,
            OrderUpdate: self._order,
            PositionUpdate: self._position,
            SettlementEvent: self._settlement,
            OrderGroupUpdate: self._group,
            MarketLifecycle: self._lifecycle,
        }

    # --- state -----------------------------------------------------------------------------------------------

    def load(self, exchange: Exchange) -> None:
        """Copy the exchange's current books and statistics. Call with ``exchange.lock`` held, in the same hold
        as registering the event listener, so that no event falls between the copy and the stream."""
        traded: dict[str, int] = {}
        for trade in exchange.trade_log():
            mirror = self._market(trade.ticker)
            mirror.notional_e6 += trade.yes_price_e4 * trade.count_e2
            mirror.last_trade_size_e2 = trade.count_e2
            traded[trade.ticker] = traded.get(trade.ticker, 0) + trade.count_e2
        for user_id in exchange.accounts():
            for position in exchange.positions(user_id):
                self._market(position.ticker).set_position(user_id, position.position_e2)
                self._positions[(user_id, position.ticker)] = position
        for market in exchange.markets():
            mirror = self._market(market.ticker)
            book = exchange.orderbook(market.ticker)
            mirror.load_book(book.yes, book.no)
            # A listing may carry volume and open interest from before the exchange started (the catalogue's);
            # that earlier volume is valued at the last price, as nothing better is known.
            mirror.sync(market.volume_e2, market.open_interest_e2, market.last_price_e4)
            mirror.notional_e6 += max(0, market.volume_e2 - traded.get(market.ticker, 0)) * market.last_price_e4
            mirror.published = mirror.fields()  # the first ticker message goes out on a real change

    def _market(self, ticker: str) -> MarketMirror:
        mirror = self.markets.get(ticker)
        if mirror is None:
            mirror = self.markets[ticker] = MarketMirror(ticker)
            self._ids[wire.market_uuid(ticker)] = ticker
        return mirror

    def resolve(self, tickers: Sequence[str] | None, market_ids: Sequence[str] | None) -> list[str] | None:
        """Validate a market list (tickers, or market ids mapped to tickers); unknown -> error 11."""
        if market_ids is not None:
            unknown = [i for i in market_ids if i not in self._ids]
            if unknown:
                raise CommandError(ErrorCode.INVALID_PARAMETER, f"Unknown market id(s): {', '.join(unknown)}")
            return [self._ids[i] for i in market_ids]
        if tickers is None:
            return None
        unknown = [t for t in tickers if t not in self.markets]
        if unknown:
            raise CommandError(ErrorCode.INVALID_PARAMETER, "Unknown market ticker(s)", market_tickers=unknown)
        return list(tickers)

    # --- subscription index ----------------------------------------------------------------------------------

    def _index(self, sub: Subscription, add: bool) -> None:
        if sub.channel in PRIVATE:
            homes = [self._by_user[sub.channel].setdefault(sub.owner.user_id, {})]
        elif sub.tickers is None:
            homes = [self._all[sub.channel]]
        else:
            by_ticker = self._by_ticker[sub.channel]
            homes = [by_ticker.setdefault(t, {}) for t in sub.tickers]
        for home in homes:
            if add:
                home[sub] = None
            else:
                home.pop(sub, None)

    def add(self, sub: Subscription) -> None:
        self._index(sub, True)

    def remove(self, sub: Subscription) -> None:
        self._index(sub, False)

    def set_tickers(self, sub: Subscription, tickers: set[str] | None) -> None:
        self._index(sub, False)
        sub.tickers = tickers
        self._index(sub, True)

    def _public(self, channel: str, ticker: str) -> Iterable[Subscription]:
        everyone = self._all[channel]
        filtered = self._by_ticker[channel].get(ticker)
        if not filtered:
            return everyone
        return [*everyone, *filtered] if everyone else filtered

    def _private(self, channel: str, user_id: str, ticker: str | None) -> Iterable[Subscription]:
        subs = self._by_user[channel].get(user_id)
        if not subs:
            return ()
        return [s for s in subs if ticker is None or s.wants(ticker)]

    # --- initial messages ------------------------------------------------------------------------------------

    def snapshot(self, sub: Subscription, ticker: str, cmd_id: int = 0) -> None:
        """Send ``orderbook_snapshot`` of ``ticker`` (from the mirror, so it lines up with the delta stream)."""
        mirror = self.markets[ticker]
        body = wire.snapshot_body(ticker, mirror.levels(Side.BID), mirror.levels(Side.ASK), sub.use_yes_price)
        sub.send("orderbook_snapshot", body, cmd_id)

    def initial_ticker(self, sub: Subscription, ticker: str) -> None:
        mirror = self.markets[ticker]
        sub.send("ticker", wire.ticker_body(ticker, mirror.fields(), mirror.ts_ms))

    # --- events ----------------------------------------------------------------------------------------------

    def on_event(self, event: ExchangeEvent) -> None:
        """Apply one exchange event to the mirror and send it to every subscription that wants it."""
        self._handlers[type(event)](event)  # type: ignore[operator]

    def end_batch(self) -> None:
        """Send ``ticker`` messages for markets whose reported fields changed since their last message."""
        for ticker in self._dirty:
            mirror = self.markets[ticker]
            fields = mirror.fields()
            if fields == mirror.published:
                continue
            mirror.published = fields
            subs = self._public("ticker", ticker)
            if subs:
                body = wire.ticker_body(ticker, fields, mirror.ts_ms)
                for sub in subs:
                    sub.send("ticker", body)
        self._dirty.clear()

    def _touch(self, ticker: str, ts_ms: int) -> MarketMirror:
        mirror = self._market(ticker)
        mirror.ts_ms = max(mirror.ts_ms, ts_ms)
        self._dirty[ticker] = None
        return mirror

    def _book(self, ev: BookDelta) -> None:
        self._touch(ev.ticker, ev.ts_ms).apply(ev.side, ev.price_e4, ev.delta_e2)
        subs = self._public("orderbook_delta", ev.ticker)
        if not subs:
            return
        bodies: dict[tuple[bool, bool], dict[str, Any]] = {}
        for sub in subs:
            mine = bool(ev.client_order_id) and sub.owner.user_id == ev.user_id
            key = (sub.use_yes_price, mine)
            body = bodies.get(key)
            if body is None:
                body = bodies[key] = wire.delta_body(ev, sub.use_yes_price, ev.client_order_id if mine else None)
            sub.send("orderbook_delta", body)

    def _trade(self, ev: TradeEvent) -> None:
        trade = ev.trade
        mirror = self._touch(trade.ticker, trade.ts_ms)
        mirror.volume_e2 += trade.count_e2
        mirror.last_price_e4 = trade.yes_price_e4
        mirror.last_trade_size_e2 = trade.count_e2
        mirror.notional_e6 += trade.yes_price_e4 * trade.count_e2
        subs = self._public("trade", trade.ticker)
        if subs:
            body = wire.trade_body(trade)
            for sub in subs:
                sub.send("trade", body)

    def _fill(self, ev: FillEvent) -> None:
        subs = self._private("fill", ev.user_id, ev.fill.ticker)
        if subs:
            body = wire.fill_body(ev.fill)
            for sub in subs:
                sub.send("fill", body)

    def _order(self, ev: OrderUpdate) -> None:
        subs = self._private("user_orders", ev.user_id, ev.order.ticker)
        if subs:
            body = wire.user_order_body(ev.order)
            for sub in subs:
                sub.send("user_order", body)

    def _settlement(self, ev: SettlementEvent) -> None:
        self._settlements[(ev.user_id, ev.settlement.ticker)] = ev.settlement

    def _position(self, ev: PositionUpdate) -> None:
        key = (ev.user_id, ev.ticker)
        position = ev.position
        ts_ms = position.last_updated_ts_ms if position is not None else 0
        self._touch(ev.ticker, ts_ms).set_position(ev.user_id, position.position_e2 if position is not None else 0)
        previous = self._positions.pop(key, None)
        settlement = self._settlements.pop(key, None)
        if position is not None:
            self._positions[key] = position
        subs = self._private("market_positions", ev.user_id, ev.ticker)
        if not subs:
            return
        if position is not None:
            body = wire.position_body(ev.user_id, ev.ticker, position)
        else:
            # Settled: flat, with the payout turned into realized P&L.
            realized = previous.realized_pnl_e6 if previous is not None else 0
            fees = previous.fees_paid_e4 if previous is not None else 0
            volume = previous.volume_e2 if previous is not None else 0
            if settlement is not None:
                cost = settlement.yes_total_cost_e6 + settlement.no_total_cost_e6
                realized += settlement.revenue_e6 - cost
                fees = fees or settlement.fee_cost_e4
            body = wire.position_body(ev.user_id, ev.ticker, None, realized, fees, volume)
        for sub in subs:
            sub.send("market_position", body)

    def _group(self, ev: OrderGroupUpdate) -> None:
        subs = self._private("order_group_updates", ev.user_id, None)
        if subs:
            body = wire.order_group_body(ev)
            for sub in subs:
                sub.send("order_group_updates", body)

    def _lifecycle(self, ev: MarketLifecycle) -> None:
        mirror = self._touch(ev.ticker, ev.ts_ms)
        market = ev.market
        if ev.kind is LifecycleKind.CREATED:
            mirror.notional_e6 = market.volume_e2 * market.last_price_e4
        if ev.kind is LifecycleKind.SETTLED:
            mirror.positions.clear()
        mirror.sync(market.volume_e2, market.open_interest_e2, market.last_price_e4)
        subs = self._all["market_lifecycle_v2"]
        if subs:
            body = wire.lifecycle_body(ev)
            for sub in subs:
                sub.send("market_lifecycle_v2", body)


class Session:
    """One connection's subscriptions and the commands that change them. Loop thread only."""

    def __init__(self, publisher: Publisher, owner: Subscriber):
        self.publisher = publisher
        self.owner = owner
        self.subs: dict[int, Subscription] = {}
        self._next_sid = 1

    def handle(self, raw: str | bytes) -> None:
        """Execute one client frame; every outcome, including a malformed frame, produces a response."""
        cmd_id = 0
        try:
            cmd_id, cmd, params = wire.parse_command(raw)
            if cmd == "subscribe":
                self.subscribe(cmd_id, wire.parse_subscribe(params))
            elif cmd == "unsubscribe":
                self.unsubscribe(cmd_id, wire.parse_unsubscribe(params))
            elif cmd == "update_subscription":
                self.update(cmd_id, wire.parse_update(params))
            elif cmd == "list_subscriptions":
                self.owner.deliver(wire.list_message(cmd_id, [(s.channel, s.sid) for s in self.subs.values()]))
            else:
                raise CommandError(ErrorCode.UNKNOWN_COMMAND, f"Unknown command: {cmd!r}")
        except CommandError as exc:
            self.owner.deliver(
                wire.error_message(exc.code, exc.detail, cmd_id=exc.cmd_id or cmd_id, sid=exc.sid, **exc.extra)
            )
        except Exception:
            log.exception("WebSocket command failed")
            self.owner.deliver(wire.error_message(ErrorCode.UNABLE_TO_PROCESS, cmd_id=cmd_id))

    def close(self) -> None:
        """Drop every subscription (the connection is gone)."""
        for sub in self.subs.values():
            self.publisher.remove(sub)
        self.subs.clear()

    def _initial(self, sub: Subscription, tickers: Iterable[str], send_ticker: bool) -> None:
        for ticker in tickers:
            if sub.channel == "orderbook_delta":
                self.publisher.snapshot(sub, ticker)
            elif sub.channel == "ticker" and send_ticker:
                self.publisher.initial_ticker(sub, ticker)

    def _ack(self, cmd_id: int, sub: Subscription) -> None:
        tickers = None if sub.skip_ticker_ack or sub.tickers is None else sub.tickers
        self.owner.deliver(wire.ok_message(cmd_id, sub.sid, sub.seq, tickers))

    def subscribe(self, cmd_id: int, p: SubscribeParams) -> None:
        """One ``subscribed`` per new channel, then its initial messages. Subscribing again to a channel this
        connection already has (same ``use_yes_price`` for books) adds the new markets to it (``ok`` with the
        full list) or, when nothing is new, repeats its ``subscribed``."""
        tickers = self.publisher.resolve(p.tickers, p.market_ids)  # all-or-nothing: validate before changing
        for channel in p.channels:
            wanted = tickers if channel in wire.MARKET_FILTERED else None
            existing = next(
                (
                    s
                    for s in self.subs.values()
                    if s.channel == channel and s.use_yes_price == (p.use_yes_price and channel == "orderbook_delta")
                ),
                None,
            )
            if existing is None:
                sub = Subscription(
                    self._next_sid,
                    channel,
                    self.owner,
                    None if wanted is None else set(wanted),
                    use_yes_price=p.use_yes_price and channel == "orderbook_delta",
                    skip_ticker_ack=p.skip_ticker_ack,
                )
                self._next_sid += 1
                self.subs[sub.sid] = sub
                self.publisher.add(sub)
                self.owner.deliver(wire.subscribed_message(cmd_id, channel, sub.sid))
                self._initial(sub, wanted or (), p.send_initial_snapshot)
            elif existing.tickers is not None and wanted is None:
                self.publisher.set_tickers(existing, None)
                self._ack(cmd_id, existing)
            elif existing.tickers is not None and wanted is not None and not set(wanted) <= existing.tickers:
                added = [t for t in wanted if t not in existing.tickers]
                self.publisher.set_tickers(existing, existing.tickers | set(added))
                self._ack(cmd_id, existing)
                self._initial(existing, added, p.send_initial_snapshot)
            else:
                self.owner.deliver(wire.subscribed_message(cmd_id, channel, existing.sid))

    def unsubscribe(self, cmd_id: int, sids: list[int]) -> None:
        for sid in sids:
            sub = self.subs.pop(sid, None)
            if sub is None:
                self.owner.deliver(wire.error_message(ErrorCode.UNKNOWN_SID, cmd_id=cmd_id, sid=sid))
                continue
            self.publisher.remove(sub)
            self.owner.deliver(wire.unsubscribed_message(cmd_id, sid, max(sub.seq, 1)))

    def update(self, cmd_id: int, p: UpdateParams) -> None:
        sub = self.subs.get(p.sid)
        if sub is None:
            raise CommandError(ErrorCode.UNKNOWN_SID, sid=p.sid)
        if p.market_ids is not None and sub.channel != "ticker":
            raise CommandError(
                ErrorCode.INVALID_PARAMETER, "market_ids are supported on the ticker channel only", sid=sub.sid
            )
        try:
            tickers = self.publisher.resolve(p.tickers, p.market_ids) or []
        except CommandError as exc:
            exc.sid = sub.sid  # scoped to the subscription being updated
            raise
        if p.action == "get_snapshot":
            if sub.channel != "orderbook_delta":
                raise CommandError(
                    ErrorCode.UNSUPPORTED_ACTION, "get_snapshot is for orderbook_delta only", sid=sub.sid
                )
            missing = [t for t in tickers if not sub.wants(t)]
            if missing:
                raise CommandError(
                    ErrorCode.INVALID_PARAMETER,
                    "Market(s) not in this subscription",
                    sid=sub.sid,
                    market_tickers=missing,
                )
            for ticker in tickers:
                self.publisher.snapshot(sub, ticker, cmd_id)
            return
        if sub.channel not in wire.MARKET_FILTERED:
            raise CommandError(ErrorCode.UNSUPPORTED_ACTION, f"{sub.channel} takes no market list", sid=sub.sid)
        if sub.tickers is None:
            raise CommandError(
                ErrorCode.INVALID_PARAMETER, "this subscription already covers every market", sid=sub.sid
            )
        if p.action == "add_markets":
            added = [t for t in tickers if t not in sub.tickers]
            self.publisher.set_tickers(sub, sub.tickers | set(added))
            self._ack(cmd_id, sub)
            self._initial(sub, added, p.send_initial_snapshot)
        else:
            self.publisher.set_tickers(sub, sub.tickers - set(tickers))
            self._ack(cmd_id, sub)
