"""Typed events the exchange emits after each state change, for the WebSocket streams and simulated traders.

Register with :meth:`Exchange.add_listener`. Events are delivered in one total order, synchronously, while the
exchange lock is held and *after* the change they describe, so a listener that reads the exchange sees the state
at least as new as the event (reads through the exchange's getters are safe; placing orders from a listener is
allowed and its events are queued behind the current ones). Listeners must be quick and must not block on other
threads that want the exchange lock. Each event carries frozen snapshots; ``ts_ms`` is Unix milliseconds.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from kalshi_mm.sim.model import Fill, Market, Order, Position, Settlement, Side, Trade
from kalshi_mm.units import ONE_DOLLAR

__all__ = [
    "BookDelta",
    "ExchangeEvent",
    "FillEvent",
    "LifecycleKind",
    "Listener",
    "MarketLifecycle",
    "OrderGroupEventKind",
    "OrderGroupUpdate",
    "OrderUpdate",
    "PositionUpdate",
    "SettlementEvent",
    "TradeEvent",
]


@dataclass(frozen=True, slots=True)
class BookDelta:
    """A resting size change at one level of the YES-leg book (``side`` bid/ask, ``price_e4`` YES price).

    Wire form (``orderbook_delta``): a bid level is ``side="yes"`` at ``price_e4``; an ask level is
    ``side="no"`` at the NO price ``1 − price_e4`` (or ``price_e4`` with ``use_yes_price``) — see
    :attr:`wire_side` / :attr:`no_price_e4`. ``user_id`` / ``client_order_id`` name the order that caused it,
    so the stream can add ``client_order_id`` for its owner only.
    """

    ticker: str
    side: Side
    price_e4: int
    delta_e2: int
    ts_ms: int
    user_id: str
    client_order_id: str = ""

    @property
    def wire_side(self) -> str:
        return "yes" if self.side is Side.BID else "no"

    @property
    def no_price_e4(self) -> int:
        return ONE_DOLLAR - self.price_e4


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A public trade (``trade`` channel)."""

    trade: Trade


@dataclass(frozen=True, slots=True)
class FillEvent:
    """One user's fill (private ``fill`` channel)."""

    user_id: str
    fill: Fill


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An order changed: created, filled, amended, decreased or cancelled (private ``user_orders``)."""

    user_id: str
    order: Order


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    """A user's position in ``ticker`` changed (``market_positions``); ``position`` None = settled and gone."""

    user_id: str
    ticker: str
    position: Position | None


@dataclass(frozen=True, slots=True)
class SettlementEvent:
    """A user's position in a market was settled and paid."""

    user_id: str
    settlement: Settlement


class OrderGroupEventKind(enum.Enum):
    CREATED = "created"
    TRIGGERED = "triggered"
    RESET = "reset"
    DELETED = "deleted"
    LIMIT_UPDATED = "limit_updated"


@dataclass(frozen=True, slots=True)
class OrderGroupUpdate:
    """``order_group_updates``: ``contracts_limit_e2`` is set for created / limit_updated."""

    user_id: str
    group_id: str
    kind: OrderGroupEventKind
    ts_ms: int
    contracts_limit_e2: int | None = None


class LifecycleKind(enum.Enum):
    """``market_lifecycle_v2`` event types (``closed`` is the sim's own: Kalshi signals close by status)."""

    CREATED = "created"
    ACTIVATED = "activated"
    DEACTIVATED = "deactivated"  # pause / unpause: see MarketLifecycle.is_deactivated
    CLOSED = "closed"
    DETERMINED = "determined"
    SETTLED = "settled"


@dataclass(frozen=True, slots=True)
class MarketLifecycle:
    """A market's lifecycle changed; ``market`` is its snapshot after the change."""

    ticker: str
    kind: LifecycleKind
    ts_ms: int
    market: Market
    is_deactivated: bool | None = None


ExchangeEvent = (
    BookDelta
    | TradeEvent
    | FillEvent
    | OrderUpdate
    | PositionUpdate
    | SettlementEvent
    | OrderGroupUpdate
    | MarketLifecycle
)
Listener = Callable[[ExchangeEvent], None]
