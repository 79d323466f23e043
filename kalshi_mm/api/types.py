"""What the REST client returns: frozen dataclasses in internal units (DESIGN.md #4).

Units, everywhere in this module:

* ``*_e4``: money and prices in 1/10,000 dollar (``"0.4700"`` -> 4700). Prices are on the YES leg unless named
  ``no_*``.
* ``*_e2``: contract counts in 1/100 contract (``"10.00"`` -> 1000); positions are signed (+ YES, − NO).
* ``*_ts``: Unix seconds (float); ``received_ts`` is the local clock's time when the response arrived.

A side of the book that is empty is ``None``, never a sentinel price.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Generic, TypeVar

from kalshi_mm.units import ONE_DOLLAR, PriceGrid

__all__ = [
    "Balance",
    "BatchCancelResult",
    "BatchCreateResult",
    "BookSide",
    "CancelAck",
    "Candlestick",
    "DecreaseAck",
    "Event",
    "EventPosition",
    "ExchangeStatus",
    "Fill",
    "Market",
    "MarketPosition",
    "MarketPrice",
    "Ohlc",
    "Order",
    "OrderAck",
    "OrderGroup",
    "OrderRequest",
    "OrderStatus",
    "Orderbook",
    "OutcomeSide",
    "Page",
    "Positions",
    "SelfTradePrevention",
    "Series",
    "Settlement",
    "TimeInForce",
    "Trade",
]

T = TypeVar("T")


class BookSide(enum.Enum):
    """V2 order side on the YES leg: ``bid`` buys YES (≡ sells NO), ``ask`` sells YES (≡ buys NO)."""

    BID = "bid"
    ASK = "ask"


class OutcomeSide(enum.Enum):
    YES = "yes"
    NO = "no"


class TimeInForce(enum.Enum):
    GOOD_TILL_CANCELED = "good_till_canceled"  # with an expiration_ts: good till time
    IMMEDIATE_OR_CANCEL = "immediate_or_cancel"
    FILL_OR_KILL = "fill_or_kill"


class SelfTradePrevention(enum.Enum):
    TAKER_AT_CROSS = "taker_at_cross"  # cancel the incoming order
    MAKER = "maker"  # cancel our resting order, keep matching


class OrderStatus(enum.Enum):
    RESTING = "resting"
    CANCELED = "canceled"
    EXECUTED = "executed"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a cursor-paginated listing; ``cursor`` is "" on the last page."""

    items: tuple[T, ...]
    cursor: str


# --- market data ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool
    received_ts: float


@dataclass(frozen=True)
class MarketPrice:
    """Top of book of one market on both legs (the seed's ``get_price``). A NO bid at q is a YES ask at 1 − q."""

    ticker: str
    yes_bid_e4: int | None
    yes_ask_e4: int | None
    received_ts: float

    @property
    def no_bid_e4(self) -> int | None:
        return None if self.yes_ask_e4 is None else ONE_DOLLAR - self.yes_ask_e4

    @property
    def no_ask_e4(self) -> int | None:
        return None if self.yes_bid_e4 is None else ONE_DOLLAR - self.yes_bid_e4

    @property
    def yes_mid_e4(self) -> Fraction | None:
        """Exact midpoint in 1/10,000 dollar (may be a half unit); None unless both sides are quoted."""
        if self.yes_bid_e4 is None or self.yes_ask_e4 is None:
            return None
        return Fraction(self.yes_bid_e4 + self.yes_ask_e4, 2)

    @property
    def no_mid_e4(self) -> Fraction | None:
        mid = self.yes_mid_e4
        return None if mid is None else ONE_DOLLAR - mid


@dataclass(frozen=True)
class Market:
    """A market as listed by ``GET /markets``. ``status`` is Kalshi's response status (active, closed, ...);
    ``grid`` is None only when neither ``price_ranges`` nor a known ``price_level_structure`` was sent."""

    ticker: str
    event_ticker: str
    status: str
    market_type: str
    title: str
    yes_sub_title: str
    no_sub_title: str
    open_ts: float | None
    close_ts: float
    expected_expiration_ts: float | None
    yes_bid_e4: int | None
    yes_bid_size_e2: int
    yes_ask_e4: int | None
    yes_ask_size_e2: int
    last_price_e4: int
    previous_yes_bid_e4: int | None
    previous_yes_ask_e4: int | None
    previous_price_e4: int | None
    volume_e2: int
    volume_24h_e2: int
    open_interest_e2: int
    result: str
    settlement_value_e4: int | None
    can_close_early: bool
    price_level_structure: str
    grid: PriceGrid | None
    received_ts: float

    @property
    def price(self) -> MarketPrice:
        return MarketPrice(self.ticker, self.yes_bid_e4, self.yes_ask_e4, self.received_ts)


@dataclass(frozen=True)
class Orderbook:
    """Resting bids of both legs, each ascending by price with the best bid LAST, as Kalshi sends them.

    ``yes_bids`` are YES bids at YES prices; ``no_bids`` are NO bids at NO prices (a YES ask at 1 − q).
    Levels are ``(price_e4, count_e2)``.
    """

    ticker: str
    yes_bids: tuple[tuple[int, int], ...]
    no_bids: tuple[tuple[int, int], ...]
    received_ts: float

    @property
    def yes_asks(self) -> tuple[tuple[int, int], ...]:
        """NO bids as YES asks at YES prices, ascending (best ask FIRST)."""
        return tuple((ONE_DOLLAR - p, c) for p, c in reversed(self.no_bids))

    @property
    def best_yes_bid_e4(self) -> int | None:
        return self.yes_bids[-1][0] if self.yes_bids else None

    @property
    def best_yes_ask_e4(self) -> int | None:
        return ONE_DOLLAR - self.no_bids[-1][0] if self.no_bids else None

    @property
    def price(self) -> MarketPrice:
        return MarketPrice(self.ticker, self.best_yes_bid_e4, self.best_yes_ask_e4, self.received_ts)


@dataclass(frozen=True)
class Trade:
    trade_id: str
    ticker: str
    count_e2: int
    yes_price_e4: int
    taker_book_side: BookSide
    created_ts: float
    is_block_trade: bool


@dataclass(frozen=True)
class Series:
    """A series: where category and fees live. ``fee_multiplier`` is exact (the wire sends a JSON number)."""

    ticker: str
    title: str
    category: str
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    frequency: str
    fee_type: str
    fee_multiplier: Decimal
    volume_e2: int | None


@dataclass(frozen=True)
class Event:
    """An event; ``category`` is deprecated on events (use the series'), "" when absent."""

    event_ticker: str
    series_ticker: str
    title: str
    sub_title: str
    mutually_exclusive: bool
    category: str
    markets: tuple[Market, ...]


@dataclass(frozen=True)
class Ohlc:
    open_e4: int
    high_e4: int
    low_e4: int
    close_e4: int


@dataclass(frozen=True)
class Candlestick:
    """One period ending at ``end_period_ts``; ``price`` (trades) is None for a period without trades."""

    end_period_ts: int
    yes_bid: Ohlc
    yes_ask: Ohlc
    price: Ohlc | None
    volume_e2: int
    open_interest_e2: int


# --- portfolio ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """Available cash (reserved collateral already deducted) and portfolio value, 1/10,000 dollar."""

    balance_e4: int
    portfolio_value_e4: int | None
    updated_ts: float | None
    received_ts: float


@dataclass(frozen=True)
class MarketPosition:
    """Net position in one market (+ YES, − NO); costs rounded up, realized P&L rounded down."""

    ticker: str
    position_e2: int
    market_exposure_e4: int
    total_traded_e4: int
    realized_pnl_e4: int
    fees_paid_e4: int
    last_updated_ts: float | None


@dataclass(frozen=True)
class EventPosition:
    event_ticker: str
    event_exposure_e4: int
    total_cost_e4: int
    realized_pnl_e4: int
    fees_paid_e4: int


@dataclass(frozen=True)
class Positions:
    markets: tuple[MarketPosition, ...]
    events: tuple[EventPosition, ...]
    received_ts: float


@dataclass(frozen=True)
class Order:
    """An order as ``GET /portfolio/orders`` shows it; ``price_e4`` is the YES price."""

    order_id: str
    client_order_id: str
    ticker: str
    side: BookSide
    status: str
    price_e4: int
    initial_count_e2: int
    fill_count_e2: int
    remaining_count_e2: int
    taker_fees_e4: int
    maker_fees_e4: int
    taker_fill_cost_e4: int
    maker_fill_cost_e4: int
    created_ts: float | None
    last_update_ts: float | None
    expiration_ts: float | None
    order_group_id: str | None
    received_ts: float

    @property
    def is_resting(self) -> bool:
        return self.status == OrderStatus.RESTING.value


@dataclass(frozen=True)
class Fill:
    """One of our fills; ``fee_e4`` is rounded up from Kalshi's up-to-6-decimal fee."""

    fill_id: str
    order_id: str
    ticker: str
    side: BookSide
    count_e2: int
    yes_price_e4: int
    is_taker: bool
    fee_e4: int
    created_ts: float


@dataclass(frozen=True)
class Settlement:
    ticker: str
    event_ticker: str
    market_result: str
    yes_count_e2: int
    no_count_e2: int
    yes_total_cost_e4: int
    no_total_cost_e4: int
    revenue_e4: int
    fee_e4: int
    value_e4: int | None
    settled_ts: float


# --- order entry ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRequest:
    """A V2 create. ``price_e4`` is the YES price; ``expiration_ts`` (Unix s) makes a GTC order good-till-time."""

    ticker: str
    side: BookSide
    price_e4: int
    count_e2: int
    time_in_force: TimeInForce = TimeInForce.GOOD_TILL_CANCELED
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.TAKER_AT_CROSS
    post_only: bool = False
    reduce_only: bool = False
    client_order_id: str | None = None
    expiration_ts: int | None = None
    order_group_id: str | None = None
    cancel_order_on_pause: bool = False


@dataclass(frozen=True)
class OrderAck:
    """The outcome of a create or amend. ``recovered`` is True when the response was lost and the order was
    found by ``client_order_id`` instead (then the averages are unknown: None)."""

    order_id: str
    client_order_id: str
    fill_count_e2: int | None
    remaining_count_e2: int | None
    average_fill_price_e4: int | None
    average_fee_paid_e4: int | None
    ts_ms: int | None
    recovered: bool = False


@dataclass(frozen=True)
class CancelAck:
    order_id: str
    client_order_id: str
    reduced_by_e2: int
    ts_ms: int | None


@dataclass(frozen=True)
class DecreaseAck:
    order_id: str
    client_order_id: str
    remaining_count_e2: int
    ts_ms: int | None


@dataclass(frozen=True)
class BatchCreateResult:
    """One item of a batch create: ``ack``, or ``error``: the item's RejectedError, or the transient error of
    a batch that could not be sent or confirmed (OrderOutcomeUnknownError when the order may exist)."""

    client_order_id: str
    ack: OrderAck | None
    error: Exception | None


@dataclass(frozen=True)
class BatchCancelResult:
    """One item of a batch cancel: ``ack``, or ``error`` (NotFoundError when the order was not resting)."""

    order_id: str
    ack: CancelAck | None
    error: Exception | None


@dataclass(frozen=True)
class OrderGroup:
    order_group_id: str
    is_auto_cancel_enabled: bool
    contracts_limit_e2: int | None
    order_ids: tuple[str, ...]
