"""Domain model of the embedded Kalshi-compatible exchange: catalogue, orders, fills, positions, settlements.

Every public dataclass here is **frozen**: the exchange replaces an object when its state changes, so a value
handed to another thread (the HTTP server, the WebSocket streams) is a consistent snapshot that can never change
under the reader. Enum values are Kalshi's wire strings, so ``Side.BID.value == "bid"``.

Units (kalshi_mm.units): prices are integers in 1/10,000 dollar (``_e4``), counts in 1/100 contract (``_e2``).
Cash amounts that come from *notional* (price × count) are kept in **1/1,000,000 dollar** (``_e6``): a price in
e4 times a count in e2 is exact in e6 (``0.4701 × 0.01`` contracts = $0.004701), whereas e4 would have to round
every fill and could not conserve money exactly. Kalshi itself emits up to 6 decimals on portfolio money fields
(NOTES §2). Fees are ceiled to $0.0001 (NOTES §6) and so stay in e4. Use :func:`format_dollars_e6` or
:func:`e6_to_e4` at the wire.

The catalogue types (:class:`Series`, :class:`Event`, :class:`Market` and their enums) live in
:mod:`kalshi_mm.sim.instruments` and are re-exported here, so ``from kalshi_mm.sim.model import Market`` works.

Direction (NOTES §8): all orders live on one YES-leg book. ``bid`` = buy YES ≡ sell NO (outcome side ``yes``);
``ask`` = sell YES ≡ buy NO at 1 − price (outcome side ``no``). Positions are netted per market: + YES, − NO.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kalshi_mm.sim.instruments import Event, FeeType, Market, MarketResult, MarketStatus, Series, to_fraction
from kalshi_mm.units import ONE_DOLLAR, Rounding, UnitError

__all__ = [
    "E6_PER_E4",
    "ONE_DOLLAR_E6",
    "CancelResult",
    "Event",
    "ExchangeStatus",
    "FeeType",
    "Fill",
    "Ledger",
    "Market",
    "MarketResult",
    "MarketStatus",
    "Order",
    "OrderGroup",
    "OrderRequest",
    "OrderResult",
    "OrderStatus",
    "OrderbookView",
    "OutcomeSide",
    "Position",
    "SelfTradePrevention",
    "Series",
    "Settlement",
    "Side",
    "TimeInForce",
    "TopOfBook",
    "Trade",
    "UpdateReason",
    "e6_to_e4",
    "format_dollars_e6",
    "notional_e6",
    "to_fraction",
]

E6_PER_E4 = 100  # 1/1,000,000-dollar units per 1/10,000-dollar unit
ONE_DOLLAR_E6 = ONE_DOLLAR * E6_PER_E4  # $1 in e6


def notional_e6(price_e4: int, count_e2: int) -> int:
    """price × count in 1/1,000,000 dollar, exact: (p/10^4 $) × (c/10^2) = p·c / 10^6 $."""
    return price_e4 * count_e2


def e6_to_e4(amount_e6: int, rounding: Rounding = Rounding.DOWN) -> int:
    """Round a 1/1,000,000-dollar amount to 1/10,000 dollar in the given direction (DOWN = toward −∞)."""
    q, r = divmod(amount_e6, E6_PER_E4)
    return q + 1 if (r and rounding is Rounding.UP) else q


def format_dollars_e6(amount_e6: int) -> str:
    """Dollar string with 4 to 6 decimals as Kalshi emits portfolio money: 1_234_500 -> ``"1.2345"``,
    4_701 -> ``"0.004701"``, -50 -> ``"-0.00005"``."""
    if not isinstance(amount_e6, int) or isinstance(amount_e6, bool):
        raise UnitError(f"amount: expected integer e6 units, got {amount_e6!r}")
    sign = "-" if amount_e6 < 0 else ""
    whole, frac = divmod(abs(amount_e6), ONE_DOLLAR_E6)
    digits = f"{frac:06d}"
    while len(digits) > 4 and digits.endswith("0"):
        digits = digits[:-1]
    return f"{sign}{whole}.{digits}"


# --- enums (values are wire strings) -----------------------------------------------------------------------


class Side(enum.Enum):
    """Book side on the YES leg (``BookSide``): bid = buy YES ≡ sell NO; ask = sell YES ≡ buy NO."""

    BID = "bid"
    ASK = "ask"

    @property
    def outcome(self) -> OutcomeSide:
        """The outcome the side is positioned for: bid -> yes, ask -> no (NOTES §8 equivalence table)."""
        return OutcomeSide.YES if self is Side.BID else OutcomeSide.NO

    @property
    def opposite(self) -> Side:
        return Side.ASK if self is Side.BID else Side.BID


class OutcomeSide(enum.Enum):
    YES = "yes"
    NO = "no"


class TimeInForce(enum.Enum):
    """``good_till_canceled`` plus an ``expiration_ts`` is Kalshi's GTT (not a wire value of its own)."""

    GOOD_TILL_CANCELED = "good_till_canceled"
    IMMEDIATE_OR_CANCEL = "immediate_or_cancel"
    FILL_OR_KILL = "fill_or_kill"


class SelfTradePrevention(enum.Enum):
    """``taker_at_cross``: cancel the incoming order at the cross, fills already done stand.
    ``maker``: cancel the user's resting order(s) and keep matching."""

    TAKER_AT_CROSS = "taker_at_cross"
    MAKER = "maker"


class OrderStatus(enum.Enum):
    RESTING = "resting"
    CANCELED = "canceled"
    EXECUTED = "executed"


class UpdateReason(enum.Enum):
    """Why an order last changed (WS ``user_orders.last_update_reason``).

    ``TRADE`` … ``MARGIN_CANCEL`` are Kalshi's documented values; ``CREATED`` ("") marks a fresh order (Kalshi
    omits the field). The simulator adds ``UserCancel``, ``OrderGroupCancel``, ``PauseCancel`` and
    ``ImmediateCancel`` (the unfilled remainder of an IOC, or an unfillable FOK) where Kalshi's value is not
    known; clients must tolerate unknown reasons.
    """

    CREATED = ""  # a fresh order: Kalshi omits the field
    TRADE = "Trade"
    AMEND = "Amend"
    DECREASE = "Decrease"
    SELF_TRADE_CANCEL = "SelfTradeCancel"
    EXPIRY_CANCEL = "ExpiryCancel"
    CLOSE_CANCEL = "CloseCancel"
    HALT_CANCEL = "HaltCancel"
    POST_ONLY_CROSS_CANCEL = "PostOnlyCrossCancel"
    REDUCE_ONLY_CANCEL = "ReduceOnlyCancel"
    MARGIN_CANCEL = "MarginCancel"
    USER_CANCEL = "UserCancel"
    ORDER_GROUP_CANCEL = "OrderGroupCancel"
    PAUSE_CANCEL = "PauseCancel"
    IMMEDIATE_CANCEL = "ImmediateCancel"


# --- order entry -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A V2 create-order request (``CreateOrderV2Request``), already parsed into units.

    ``price_e4`` is the YES-leg price; ``count_e2`` the size in 1/100 contract. ``expiration_ts`` (Unix
    seconds) turns GTC into GTT and must be in the future; IOC/FOK cannot carry one. ``reduce_only`` requires IOC.
    """

    ticker: str
    side: Side
    price_e4: int
    count_e2: int
    time_in_force: TimeInForce = TimeInForce.GOOD_TILL_CANCELED
    self_trade_prevention_type: SelfTradePrevention = SelfTradePrevention.TAKER_AT_CROSS
    client_order_id: str | None = None
    expiration_ts: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    order_group_id: str | None = None
    cancel_order_on_pause: bool = False


@dataclass(frozen=True, slots=True)
class Order:
    """One order as it stands (``Order`` / WS ``user_order``).

    ``initial_count_e2`` is the total fillable size (after an amend: the amended total), so for a live order
    ``fill_count_e2 + remaining_count_e2 == initial_count_e2``. Fill costs are on the order's outcome side
    (a bid pays the YES price, an ask the NO price) in e6; fees are in e4. Times: ``created_ts_ms`` and
    ``last_update_ts_ms`` are Unix milliseconds, ``expiration_ts`` Unix seconds (None = no expiry).
    """

    order_id: str
    user_id: str
    ticker: str
    side: Side
    price_e4: int
    initial_count_e2: int
    fill_count_e2: int
    remaining_count_e2: int
    status: OrderStatus
    time_in_force: TimeInForce
    self_trade_prevention_type: SelfTradePrevention
    created_ts_ms: int
    last_update_ts_ms: int
    client_order_id: str = ""
    expiration_ts: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    order_group_id: str | None = None
    cancel_order_on_pause: bool = False
    taker_fill_cost_e6: int = 0
    maker_fill_cost_e6: int = 0
    taker_fees_e4: int = 0
    maker_fees_e4: int = 0
    last_update_reason: UpdateReason = UpdateReason.CREATED
    type: str = "limit"  # vestigial on the wire; always limit

    @property
    def outcome_side(self) -> OutcomeSide:
        return self.side.outcome

    @property
    def no_price_e4(self) -> int:
        return ONE_DOLLAR - self.price_e4


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade (``Trade``): one per maker/taker pair, at the resting order's YES price."""

    trade_id: str
    ticker: str
    count_e2: int
    yes_price_e4: int
    taker_side: Side
    ts_ms: int
    seq: int  # exchange-wide trade sequence, strictly increasing: stable ordering and cursors
    is_block_trade: bool = False

    @property
    def no_price_e4(self) -> int:
        return ONE_DOLLAR - self.yes_price_e4

    @property
    def taker_outcome_side(self) -> OutcomeSide:
        return self.taker_side.outcome


@dataclass(frozen=True, slots=True)
class Fill:
    """One user's side of a trade (``Fill`` / WS ``fill``). ``fill_id == trade_id``; both parties' fills share it.

    ``fee_e4`` is this fill's fee (e4, ceiled through the order's fee accumulator, see kalshi_mm.sim.fees).
    ``post_position_e2`` is the user's signed position in the market after the fill.
    """

    fill_id: str
    order_id: str
    user_id: str
    ticker: str
    side: Side
    count_e2: int
    yes_price_e4: int
    is_taker: bool
    fee_e4: int
    ts_ms: int
    seq: int  # exchange-wide fill sequence, strictly increasing
    post_position_e2: int
    client_order_id: str = ""

    @property
    def trade_id(self) -> str:
        return self.fill_id

    @property
    def no_price_e4(self) -> int:
        return ONE_DOLLAR - self.yes_price_e4

    @property
    def outcome_side(self) -> OutcomeSide:
        return self.side.outcome

    @property
    def cost_e6(self) -> int:
        """What the fill cost on its outcome side: YES price × count for a bid, NO price × count for an ask."""
        price = self.yes_price_e4 if self.side is Side.BID else self.no_price_e4
        return notional_e6(price, self.count_e2)


@dataclass(frozen=True, slots=True)
class OrderResult:
    """What a create/amend returns: the order after matching and the fills this request made (taker side)."""

    order: Order
    fills: tuple[Fill, ...] = ()

    @property
    def fill_count_e2(self) -> int:
        return sum(f.count_e2 for f in self.fills)

    @property
    def remaining_count_e2(self) -> int:
        return self.order.remaining_count_e2

    @property
    def fees_e4(self) -> int:
        return sum(f.fee_e4 for f in self.fills)

    def average_fill_price_e4(self) -> int | None:
        """Volume-weighted average YES price of this request's fills, rounded half up; None without fills."""
        count = self.fill_count_e2
        if not count:
            return None
        total = sum(f.yes_price_e4 * f.count_e2 for f in self.fills)
        return (2 * total + count) // (2 * count)

    def average_fee_paid_e4(self) -> int | None:
        """Fee per contract over this request's fills (e4 per contract, rounded half up); None without fills."""
        count = self.fill_count_e2
        if not count:
            return None
        # fee_e4 per count_e2/100 contracts -> per contract = fee * 100 / count
        return (2 * 100 * self.fees_e4 + count) // (2 * count)


@dataclass(frozen=True, slots=True)
class CancelResult:
    """What a cancel or decrease returns: the order afterwards and how much resting size it lost (e2)."""

    order: Order
    reduced_by_e2: int


@dataclass(frozen=True, slots=True)
class OrderbookView:
    """The published, bids-only book (NOTES §3.3): ``yes`` = YES bids at YES prices; ``no`` = NO bids at NO
    prices (each a YES ask at 1 − price). Both are [(price_e4, count_e2)] ascending, best bid LAST."""

    ticker: str
    yes: tuple[tuple[int, int], ...]
    no: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class TopOfBook:
    """Best YES bid and ask (e4, None when that side is empty) and their sizes (e2)."""

    ticker: str
    yes_bid_e4: int | None
    yes_bid_size_e2: int
    yes_ask_e4: int | None
    yes_ask_size_e2: int


# --- portfolio ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """A user's net position in one unsettled market (``MarketPosition`` / WS ``market_position``).

    ``position_e2`` > 0 holds YES, < 0 holds NO. ``market_exposure_e6`` is the cost basis of what is held
    (YES bought at YES prices, NO at NO prices); ``realized_pnl_e6`` excludes fees; ``total_traded_e6`` sums the
    outcome-side cost of every fill; ``volume_e2`` the contracts traded.
    """

    user_id: str
    ticker: str
    event_ticker: str
    position_e2: int
    market_exposure_e6: int
    total_traded_e6: int
    realized_pnl_e6: int
    fees_paid_e4: int
    volume_e2: int
    resting_orders_count: int
    last_updated_ts_ms: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """A user's settlement of one market (``Settlement``).

    With netted positions only one of ``yes_count_e2`` / ``no_count_e2`` is non-zero. ``revenue_e6`` is what
    the payout credited ($1 per winning contract; scalar: ``value_e4`` per YES and 1 − value per NO contract).
    ``fee_cost_e4`` is the total fee the user paid in this market.
    """

    user_id: str
    ticker: str
    event_ticker: str
    market_result: MarketResult
    yes_count_e2: int
    yes_total_cost_e6: int
    no_count_e2: int
    no_total_cost_e6: int
    revenue_e6: int
    value_e4: int
    fee_cost_e4: int
    settled_ts_ms: int


@dataclass(frozen=True, slots=True)
class OrderGroup:
    """An order group (``OrderGroup``): a kill switch on contracts matched over a rolling 15 s window.

    ``triggered`` groups reject new orders until reset. ``order_ids`` lists the group's orders that are still
    resting. ``matched_in_window_e2`` is the count matched in the window as of the last update.
    """

    group_id: str
    user_id: str
    contracts_limit_e2: int
    triggered: bool
    order_ids: tuple[str, ...]
    matched_in_window_e2: int
    created_ts_ms: int
    is_auto_cancel_enabled: bool = True


# --- exchange-wide views ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ledger:
    """Exchange-wide money and contract totals (e6 cash, e2 contracts), for conservation checks.

    ``escrow_e6`` is $1 per open YES/NO pair. Money is conserved when :attr:`balanced`; contracts when
    ``open_yes_e2 == open_no_e2`` (every YES held is matched by a NO held).
    """

    funding_e6: int
    available_e6: int
    reserved_e6: int
    escrow_e6: int
    fees_e6: int
    open_yes_e2: int
    open_no_e2: int

    @property
    def balanced(self) -> bool:
        return self.available_e6 + self.reserved_e6 + self.escrow_e6 + self.fees_e6 == self.funding_e6


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    """``GET /exchange/status``: ``exchange_active`` false in a full pause, ``trading_active`` false in any pause."""

    exchange_active: bool
    trading_active: bool
