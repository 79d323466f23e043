"""The exchange's state and the primitive state changes every operation is built from.

:class:`Engine` is not thread-safe and not public: :class:`~kalshi_mm.sim.exchange.Exchange` owns one and calls
it only while holding its lock. Each primitive keeps the invariants on its own: the book, the order record, the
account's resting set and reservation, the order group's membership, and the event queue all change together.
Order entry lives in :mod:`~kalshi_mm.sim.matching`, time-driven changes in :mod:`~kalshi_mm.sim.lifecycle`.
"""

from __future__ import annotations

import dataclasses
import heapq
import random
import uuid
from typing import Any

from kalshi_mm.clock import Clock
from kalshi_mm.sim import errors
from kalshi_mm.sim.accounts import Account, PositionState, ReservedOrder, unit_collateral_e4
from kalshi_mm.sim.book import BookEntry, OrderBook
from kalshi_mm.sim.events import (
    BookDelta,
    ExchangeEvent,
    FillEvent,
    OrderGroupEventKind,
    OrderGroupUpdate,
    OrderUpdate,
    PositionUpdate,
    TradeEvent,
)
from kalshi_mm.sim.fees import FeeSchedule
from kalshi_mm.sim.model import (
    E6_PER_E4,
    Event,
    Fill,
    Market,
    MarketStatus,
    Order,
    OrderStatus,
    Series,
    Settlement,
    Trade,
    UpdateReason,
    notional_e6,
)
from kalshi_mm.sim.ordergroups import GroupState

__all__ = ["Engine"]

# Market fields that decide when the lifecycle next has something to do with the market (see Engine.schedule).
_TIMING_FIELDS = frozenset({"status", "open_ts", "close_ts", "determination_ts", "settlement_timer_seconds"})


class Engine:
    """All mutable state of the exchange plus primitive, invariant-keeping changes (caller holds the lock)."""

    def __init__(self, clock: Clock, seed: int = 0):
        self.clock = clock
        # The only randomness: id generation. A private, seeded generator keeps runs reproducible.
        self._rng = random.Random(seed)
        self.series: dict[str, Series] = {}
        self.events: dict[str, Event] = {}
        self.markets: dict[str, Market] = {}
        self.books: dict[str, OrderBook] = {}
        self.fee_schedules: dict[str, FeeSchedule] = {}
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self.orders_by_user: dict[str, list[str]] = {}  # user -> order ids, oldest first
        # order id -> exact fees of its fills so far, in 1/denominator e4 of its market's FeeSchedule
        self.fee_acc: dict[str, int] = {}
        self.client_ids: dict[str, dict[str, str]] = {}  # user -> client_order_id -> order id
        self.trades: list[Trade] = []
        self.fills: dict[str, list[Fill]] = {}  # user -> fills, oldest first
        self.settlements: dict[str, list[Settlement]] = {}
        self.groups: dict[str, GroupState] = {}
        self.expiries: list[tuple[int, str]] = []  # heap of (expiration_ts, order id); stale entries skipped
        # Heaps of (due time, listing seq, ticker) for market opens, closes and settlements, so a lifecycle pass
        # with nothing due is O(1) however many markets are listed. An entry is pushed whenever a market's
        # timing changes (Engine.schedule); entries made stale by a later change are skipped when popped.
        self.opens: list[tuple[float, int, str]] = []
        self.closes: list[tuple[float, int, str]] = []
        self.settles: list[tuple[float, int, str]] = []
        self.listing_seq: dict[str, int] = {}
        self.fees_collected_e4 = 0
        self.funding_e6 = 0
        self.trading_paused = False
        self.exchange_paused = False
        self.pending: list[ExchangeEvent] = []
        self._trade_seq = 0
        self._fill_seq = 0

    # --- time, ids, events -------------------------------------------------------------------------------

    def now_s(self) -> float:
        return self.clock.time()

    def now_ms(self) -> int:
        return self.clock.time_ms()

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def emit(self, event: ExchangeEvent) -> None:
        self.pending.append(event)

    # --- lookups -----------------------------------------------------------------------------------------

    def account(self, user_id: str) -> Account:
        account = self.accounts.get(user_id)
        if account is None:
            raise errors.not_found(f"account {user_id}")
        return account

    def market(self, ticker: str) -> Market:
        market = self.markets.get(ticker)
        if market is None:
            raise errors.not_found(f"market {ticker}")
        return market

    def user_order(self, user_id: str, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None or order.user_id != user_id:
            raise errors.not_found(f"order {order_id}")
        return order

    def user_group(self, user_id: str, group_id: str) -> GroupState:
        group = self.groups.get(group_id)
        if group is None or group.user_id != user_id:
            raise errors.not_found(f"order group {group_id}")
        return group

    def list_market(self, market: Market, fees: FeeSchedule) -> None:
        """Add a new market with an empty book and schedule its lifecycle."""
        self.fee_schedules[market.ticker] = fees
        self.books[market.ticker] = OrderBook(market.ticker)
        self.markets[market.ticker] = market
        self.listing_seq[market.ticker] = len(self.listing_seq)
        self.schedule(market)

    def set_market(self, ticker: str, **changes: Any) -> Market:
        market = dataclasses.replace(self.markets[ticker], updated_ts_ms=self.now_ms(), **changes)
        self.markets[ticker] = market
        if not _TIMING_FIELDS.isdisjoint(changes):
            self.schedule(market)
        return market

    def schedule(self, market: Market) -> None:
        """Queue the market's next lifecycle step for :func:`kalshi_mm.sim.lifecycle.advance`: opening when
        initialized, closing when active, settlement when determined."""
        seq = self.listing_seq[market.ticker]
        if market.status is MarketStatus.INITIALIZED:
            heapq.heappush(self.opens, (market.open_ts, seq, market.ticker))
        elif market.status is MarketStatus.ACTIVE:
            heapq.heappush(self.closes, (market.close_ts, seq, market.ticker))
        elif market.status is MarketStatus.DETERMINED and market.determination_ts is not None:
            due = market.determination_ts + market.settlement_timer_seconds
            heapq.heappush(self.settles, (due, seq, market.ticker))

    # --- orders and reservations -------------------------------------------------------------------------

    def set_order(self, order: Order, *, emit: bool = True, **changes: Any) -> Order:
        """Replace an order's record with ``changes`` applied (stamping last_update_ts_ms)."""
        new = dataclasses.replace(order, last_update_ts_ms=self.now_ms(), **changes)
        self.orders[new.order_id] = new
        if emit:
            self.emit(OrderUpdate(new.user_id, new))
        return new

    def emit_order(self, order: Order) -> None:
        self.emit(OrderUpdate(order.user_id, order))

    def watch_expiry(self, order: Order) -> None:
        """Schedule the order's expiry check (stale heap entries are skipped when popped)."""
        if order.expiration_ts is not None:
            heapq.heappush(self.expiries, (order.expiration_ts, order.order_id))

    def fee_reserve_e4(self, ticker: str, price_e4: int, remaining_e2: int, acc_units: int) -> int:
        """Maker fee an order resting with ``remaining_e2`` could still be charged, given its accumulator."""
        schedule = self.fee_schedules[ticker]
        if not schedule.maker_coeff:
            return 0
        return schedule.charge_e4(acc_units, schedule.exact_units(price_e4, remaining_e2, is_taker=False))

    def refresh_reservation(self, user_id: str, ticker: str) -> None:
        """Bring the account's collateral in ``ticker`` up to date and move the difference from/to available
        cash. Cheap: the resting orders' totals are maintained incrementally (accounts.RestingOrders)."""
        account = self.accounts[user_id]
        required = account.required_e6(ticker)
        held = account.reserved_e6.get(ticker, 0)
        account.cash_e6 -= required - held
        if required:
            account.reserved_e6[ticker] = required
        else:
            account.reserved_e6.pop(ticker, None)
        if account.cash_e6 < 0:
            # Unreachable by construction (see accounts.py); fail loudly rather than trade on credit.
            raise RuntimeError(f"engine invariant broken: {user_id} available cash {account.cash_e6} e6 < 0")

    def rest(self, order: Order) -> None:
        """Put a resting order's remainder into the book (back of its level) and the account/group indexes."""
        self.books[order.ticker].add(
            order.order_id, order.user_id, order.side, order.price_e4, order.remaining_count_e2
        )
        fee = self.fee_reserve_e4(order.ticker, order.price_e4, order.remaining_count_e2, self.fee_acc[order.order_id])
        self.accounts[order.user_id].add_resting(
            order.ticker, order.order_id, ReservedOrder(order.side, order.price_e4, order.remaining_count_e2, fee)
        )
        group = self.groups.get(order.order_group_id) if order.order_group_id is not None else None
        if group is not None:
            group.orders[order.order_id] = None
        self.watch_expiry(order)
        self._book_delta(order, order.remaining_count_e2)

    def unrest(self, order: Order) -> int:
        """Take an order out of the book and indexes; returns the size it had (e2)."""
        entry = self.books[order.ticker].remove(order.order_id)
        self._forget_resting(order)
        self._book_delta(order, -entry.remaining_e2)
        return entry.remaining_e2

    def shrink(self, order: Order, remaining_e2: int) -> None:
        """Reduce a resting order in place, keeping its queue position (0 removes it)."""
        entry = self.books[order.ticker].get(order.order_id)
        assert entry is not None
        delta = remaining_e2 - entry.remaining_e2
        self.books[order.ticker].set_remaining(order.order_id, remaining_e2)
        if remaining_e2 == 0:
            self._forget_resting(order)
        else:
            self._update_reserve(order, remaining_e2)
        if delta:
            self._book_delta(order, delta)

    def cancel(self, order: Order, reason: UpdateReason, *, refresh: bool = True) -> tuple[Order, int]:
        """Cancel a resting order; returns the cancelled record and the size removed (e2).

        ``refresh=False`` leaves the account's reservation to the caller: matching cancels the taker's own
        orders (self-trade prevention) mid-sweep, where only the end state is funded (see matching._check_funds).
        """
        reduced = self.unrest(order)
        cancelled = self.set_order(order, remaining_count_e2=0, status=OrderStatus.CANCELED, last_update_reason=reason)
        if refresh:
            self.refresh_reservation(order.user_id, order.ticker)
        return cancelled, reduced

    def register_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self.orders_by_user.setdefault(order.user_id, []).append(order.order_id)
        self.fee_acc[order.order_id] = 0
        if order.client_order_id:
            self.client_ids.setdefault(order.user_id, {})[order.client_order_id] = order.order_id

    def _update_reserve(self, order: Order, remaining_e2: int) -> None:
        """Re-price a resting order's reservation after its size or fee accumulator changed."""
        fee = self.fee_reserve_e4(order.ticker, order.price_e4, remaining_e2, self.fee_acc[order.order_id])
        self.accounts[order.user_id].update_resting(order.ticker, order.order_id, remaining_e2, fee)

    def _forget_resting(self, order: Order) -> None:
        self.accounts[order.user_id].remove_resting(order.ticker, order.order_id)
        if order.order_group_id is not None and order.order_group_id in self.groups:
            self.groups[order.order_group_id].orders.pop(order.order_id, None)

    def _book_delta(self, order: Order, delta_e2: int) -> None:
        self.emit(
            BookDelta(
                order.ticker, order.side, order.price_e4, delta_e2, self.now_ms(), order.user_id, order.client_order_id
            )
        )

    # --- fills -------------------------------------------------------------------------------------------

    def execute_fill(self, taker: Order, maker_entry: BookEntry, count_e2: int) -> tuple[Order, Fill]:
        """Trade ``count_e2`` between an incoming order and a resting one at the resting price.

        Updates both orders, both positions and cash (fees included), the maker's book entry and reservation,
        market counters and both order groups' windows; emits trade, fills, the maker's order update and both
        position updates. The taker's reservation is refreshed by the caller once matching is done.
        Returns the taker's updated record (not emitted) and its fill.
        """
        ticker, price = taker.ticker, maker_entry.price_e4
        maker = self.orders[maker_entry.order_id]
        now_ms = self.now_ms()
        self._trade_seq += 1
        trade = Trade(self.new_id(), ticker, count_e2, price, taker.side, now_ms, self._trade_seq)
        self.trades.append(trade)
        self.emit(TradeEvent(trade))

        maker_left = maker_entry.remaining_e2 - count_e2
        self.shrink(maker, maker_left)
        oi_before = sum(max(0, self.accounts[o.user_id].position_e2(ticker)) for o in (maker, taker))
        self._book_side(maker, trade, is_taker=False)
        if maker_left:
            self._update_reserve(maker, maker_left)  # its fee accumulator just moved
        taker_fill = self._book_side(taker, trade, is_taker=True)
        oi_after = sum(max(0, self.accounts[o.user_id].position_e2(ticker)) for o in (maker, taker))

        market = self.markets[ticker]
        self.set_market(
            ticker,
            volume_e2=market.volume_e2 + count_e2,
            last_price_e4=price,
            open_interest_e2=market.open_interest_e2 + oi_after - oi_before,
        )
        self.refresh_reservation(maker.user_id, ticker)
        self.emit(OrderUpdate(maker.user_id, self.orders[maker.order_id]))
        for order in (maker, taker):
            state = self.accounts[order.user_id].positions[ticker]
            self.emit(PositionUpdate(order.user_id, ticker, state.snapshot(self.resting_count(order.user_id, ticker))))
            if order.order_group_id is not None and order.order_group_id in self.groups:
                self.groups[order.order_group_id].record_match(self.now_s(), count_e2)
        return self.orders[taker.order_id], taker_fill

    def resting_count(self, user_id: str, ticker: str) -> int:
        return self.accounts[user_id].resting_count(ticker)

    def _book_side(self, order: Order, trade: Trade, *, is_taker: bool) -> Fill:
        """One party's side of a trade: fee, position, cash, order record, fill record (emitted)."""
        order = self.orders[order.order_id]
        count, price = trade.count_e2, trade.yes_price_e4
        acc = self.fee_acc[order.order_id]
        schedule = self.fee_schedules[order.ticker]
        exact = schedule.exact_units(price, count, is_taker=is_taker)
        fee = schedule.charge_e4(acc, exact)
        self.fee_acc[order.order_id] = acc + exact

        account = self.accounts[order.user_id]
        market = self.markets[order.ticker]
        state: PositionState = account.position(order.ticker, market.event_ticker)
        account.cash_e6 += state.apply_fill(order.side, price, count, trade.ts_ms) - fee * E6_PER_E4
        state.fees_paid_e4 += fee
        self.fees_collected_e4 += fee

        cost = notional_e6(unit_collateral_e4(order.side, price), count)
        remaining = order.remaining_count_e2 - count
        changes: dict[str, Any] = {
            "fill_count_e2": order.fill_count_e2 + count,
            "remaining_count_e2": remaining,
            "last_update_reason": UpdateReason.TRADE,
        }
        if remaining == 0:
            changes["status"] = OrderStatus.EXECUTED
        if is_taker:
            changes.update(taker_fill_cost_e6=order.taker_fill_cost_e6 + cost, taker_fees_e4=order.taker_fees_e4 + fee)
        else:
            changes.update(maker_fill_cost_e6=order.maker_fill_cost_e6 + cost, maker_fees_e4=order.maker_fees_e4 + fee)
        self.set_order(order, emit=False, **changes)

        self._fill_seq += 1
        fill = Fill(
            trade.trade_id,
            order.order_id,
            order.user_id,
            order.ticker,
            order.side,
            count,
            price,
            is_taker,
            fee,
            trade.ts_ms,
            self._fill_seq,
            state.position_e2,
            order.client_order_id,
        )
        self.fills.setdefault(order.user_id, []).append(fill)
        self.emit(FillEvent(order.user_id, fill))
        return fill

    # --- order groups --------------------------------------------------------------------------------------

    def check_groups(self, group_ids: set[str]) -> None:
        """Trip every group in ``group_ids`` whose rolling-window matched count has reached its limit."""
        now = self.now_s()
        for group_id in sorted(group_ids):
            group = self.groups.get(group_id)
            if group is not None and not group.triggered and group.limit_reached(now):
                self.trigger_group(group)

    def trigger_group(self, group: GroupState) -> None:
        """Cancel every resting order of the group and block new ones until reset."""
        self.cancel_group_orders(group)
        group.triggered = True
        self.emit(OrderGroupUpdate(group.user_id, group.group_id, OrderGroupEventKind.TRIGGERED, self.now_ms()))

    def cancel_group_orders(self, group: GroupState) -> None:
        for order_id in list(group.orders):
            self.cancel(self.orders[order_id], UpdateReason.ORDER_GROUP_CANCEL)
