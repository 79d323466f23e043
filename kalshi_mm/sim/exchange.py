"""The embedded Kalshi-compatible exchange: the public, thread-safe API over the matching engine.

Units: prices in 1/10,000 $ (``_e4``), counts in 1/100 contract (``_e2``), notional-derived cash in
1/1,000,000 $ (``_e6``, see :mod:`kalshi_mm.sim.model`), times as Unix seconds (``*_ts``) or ms (``*_ms``).

**Locking.** One re-entrant lock, :attr:`Exchange.lock`, guards *all* state; every public method takes it, so the
HTTP server may call from many threads. Hold ``with exchange.lock:`` yourself to make several calls atomic
(e.g. take an orderbook snapshot and subscribe to deltas with no gap). Return values are frozen snapshots.

**Events.** Listeners (:meth:`add_listener`) receive :mod:`kalshi_mm.sim.events` objects in one total order,
synchronously, under the lock, at the end of the call that caused them (so the state a listener reads is the
state after that whole call). A listener that raises is logged and skipped; the exchange carries on.

**Time.** Everything time-driven (market open/close, GTT expiry, settlement after the timer) happens in
:meth:`tick`, which the server's loop calls, and is also applied at the start of each order-entry call.

**Determinism.** No global randomness: ids come from a generator seeded by ``seed``; the same calls with the
same clock readings give the same ids, trades and events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from kalshi_mm.clock import Clock
from kalshi_mm.sim import errors, lifecycle, matching
from kalshi_mm.sim.accounts import Account
from kalshi_mm.sim.engine import Engine
from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.events import LifecycleKind, Listener, MarketLifecycle, OrderGroupEventKind, OrderGroupUpdate
from kalshi_mm.sim.fees import FeeSchedule
from kalshi_mm.sim.model import (
    E6_PER_E4,
    ONE_DOLLAR_E6,
    CancelResult,
    Event,
    ExchangeStatus,
    Fill,
    Ledger,
    Market,
    MarketResult,
    Order,
    OrderbookView,
    OrderGroup,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Position,
    Series,
    Settlement,
    Side,
    TopOfBook,
    Trade,
    UpdateReason,
    e6_to_e4,
    notional_e6,
)
from kalshi_mm.sim.ordergroups import GroupState
from kalshi_mm.units import ONE_DOLLAR

__all__ = ["Exchange", "ExchangeStatus", "Ledger"]

log = logging.getLogger(__name__)


def _newest_first(
    items: Sequence[Trade] | Sequence[Fill],
    ticker: str | None,
    min_ts: int | None,
    max_ts: int | None,
    before_seq: int | None,
    order_id: str | None = None,
) -> list:
    out = []
    for item in reversed(items):
        if before_seq is not None and item.seq >= before_seq:
            continue
        if ticker is not None and item.ticker != ticker:
            continue
        if order_id is not None and getattr(item, "order_id", None) != order_id:
            continue
        if min_ts is not None and item.ts_ms < min_ts * 1000:
            continue
        if max_ts is not None and item.ts_ms > max_ts * 1000:
            continue
        out.append(item)
    return out


class Exchange:
    """A Kalshi-compatible exchange in one process: catalogue, books, accounts, order groups, lifecycle."""

    def __init__(self, clock: Clock, *, seed: int = 0):
        self.clock = clock
        self.lock = threading.RLock()  # guards every field below and all engine state
        self._engine = Engine(clock, seed)
        self._listeners: list[Listener] = []
        self._dispatching = False

    @contextmanager
    def _op(self, *, advance: bool = False) -> Iterator[Engine]:
        with self.lock:
            try:
                if advance:
                    lifecycle.advance(self._engine)
                yield self._engine
            finally:
                self._flush()

    def _flush(self) -> None:
        if self._dispatching:
            return  # a listener's own call: the outer loop delivers its events after the current ones
        self._dispatching = True
        pending = self._engine.pending
        try:
            i = 0
            while i < len(pending):
                event = pending[i]
                i += 1
                for listener in list(self._listeners):
                    try:
                        listener(event)
                    except Exception:
                        log.exception("exchange listener %r failed on %s", listener, type(event).__name__)
        finally:
            pending.clear()
            self._dispatching = False

    # --- listeners ---------------------------------------------------------------------------------------

    def add_listener(self, callback: Listener) -> None:
        """Receive every event from now on (see the module docstring for delivery guarantees)."""
        with self.lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        with self.lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    # --- catalogue ---------------------------------------------------------------------------------------

    def add_series(self, series: Series) -> None:
        """Add or replace a series (fee changes apply to markets added afterwards)."""
        with self._op() as eng:
            eng.series[series.ticker] = series

    def add_event(self, event: Event) -> None:
        """Add or replace an event; its series must exist."""
        with self._op() as eng:
            if event.series_ticker not in eng.series:
                raise errors.not_found(f"series {event.series_ticker}")
            eng.events[event.event_ticker] = event

    def add_market(self, market: Market) -> Market:
        """List a market (its event must exist). It opens at ``open_ts`` and closes at ``close_ts``."""
        with self._op(advance=True) as eng:
            if market.ticker in eng.markets:
                raise errors.invalid_parameters(f"market {market.ticker} already exists")
            event = eng.events.get(market.event_ticker)
            if event is None:
                raise errors.not_found(f"event {market.event_ticker}")
            eng.list_market(market, FeeSchedule.for_market(eng.series[event.series_ticker], event))
            market = eng.set_market(market.ticker, created_ts=eng.now_s())
            eng.emit(MarketLifecycle(market.ticker, LifecycleKind.CREATED, eng.now_ms(), market))
            lifecycle.advance(eng)
            return eng.markets[market.ticker]

    def series(self, ticker: str) -> Series:
        with self.lock:
            series = self._engine.series.get(ticker)
            if series is None:
                raise errors.not_found(f"series {ticker}")
            return series

    def series_list(self) -> list[Series]:
        with self.lock:
            return list(self._engine.series.values())

    def event(self, event_ticker: str) -> Event:
        with self.lock:
            event = self._engine.events.get(event_ticker)
            if event is None:
                raise errors.not_found(f"event {event_ticker}")
            return event

    def events(self) -> list[Event]:
        with self.lock:
            return list(self._engine.events.values())

    def market(self, ticker: str) -> Market:
        with self.lock:
            return self._engine.market(ticker)

    def markets(self) -> list[Market]:
        """Snapshot of every market, in listing order."""
        with self.lock:
            return list(self._engine.markets.values())

    def fee_schedule(self, ticker: str) -> FeeSchedule:
        with self.lock:
            self._engine.market(ticker)
            return self._engine.fee_schedules[ticker]

    # --- accounts ----------------------------------------------------------------------------------------

    def create_account(self, user_id: str, cash_e4: int) -> None:
        """Open an account funded with ``cash_e4`` (1/10,000 $)."""
        with self._op() as eng:
            if user_id in eng.accounts:
                raise errors.invalid_parameters(f"account {user_id} already exists")
            if cash_e4 < 0:
                raise errors.invalid_parameters("initial cash cannot be negative")
            eng.accounts[user_id] = Account(user_id, cash_e4 * E6_PER_E4, cash_e4 * E6_PER_E4)
            eng.funding_e6 += cash_e4 * E6_PER_E4

    def deposit(self, user_id: str, amount_e4: int) -> None:
        """Add ``amount_e4`` (1/10,000 $, > 0) to an account's available cash."""
        with self._op() as eng:
            if amount_e4 <= 0:
                raise errors.invalid_parameters("deposit must be positive")
            account = eng.account(user_id)
            account.cash_e6 += amount_e4 * E6_PER_E4
            account.funded_e6 += amount_e4 * E6_PER_E4
            eng.funding_e6 += amount_e4 * E6_PER_E4

    def accounts(self) -> list[str]:
        with self.lock:
            return list(self._engine.accounts)

    def balance(self, user_id: str) -> int:
        """Available cash in 1/10,000 $ (rounded down; collateral of resting orders excluded)."""
        return e6_to_e4(self.balance_e6(user_id))

    def balance_e6(self, user_id: str) -> int:
        """Available cash in 1/1,000,000 $, exact."""
        with self.lock:
            return self._engine.account(user_id).cash_e6

    def reserved_e6(self, user_id: str) -> int:
        """Collateral held for the user's resting orders, 1/1,000,000 $."""
        with self.lock:
            return self._engine.account(user_id).total_reserved_e6

    def portfolio_value(self, user_id: str) -> int:
        """Value of everything but available cash, 1/10,000 $ rounded down: collateral of resting orders plus
        positions marked at the market's last trade price (at cost basis if it has never traded)."""
        with self.lock:
            account = self._engine.account(user_id)
            total = account.total_reserved_e6
            for ticker, state in account.positions.items():
                last = self._engine.markets[ticker].last_price_e4
                if not last:
                    total += state.cost_e6
                elif state.position_e2 > 0:
                    total += notional_e6(last, state.position_e2)
                else:
                    total += notional_e6(ONE_DOLLAR - last, -state.position_e2)
            return e6_to_e4(total)

    def ledger(self) -> Ledger:
        """Exchange-wide totals for conservation checks (see :class:`Ledger`)."""
        with self.lock:
            eng = self._engine
            yes = no = 0
            for account in eng.accounts.values():
                for state in account.positions.values():
                    yes += max(0, state.position_e2)
                    no += max(0, -state.position_e2)
            return Ledger(
                funding_e6=eng.funding_e6,
                available_e6=sum(a.cash_e6 for a in eng.accounts.values()),
                reserved_e6=sum(a.total_reserved_e6 for a in eng.accounts.values()),
                escrow_e6=yes * (ONE_DOLLAR_E6 // 100),
                fees_e6=eng.fees_collected_e4 * E6_PER_E4,
                open_yes_e2=yes,
                open_no_e2=no,
            )

    # --- order entry -------------------------------------------------------------------------------------

    def place_order(self, user_id: str, request: OrderRequest) -> OrderResult:
        """Create an order (``POST /portfolio/events/orders``): match it, then rest or cancel the remainder.

        Returns the order after matching and this request's (taker) fills. Raises :class:`ExchangeError`
        (nothing changed) on: unknown account/market/group 404; exchange pause 503; trading pause 409
        ``trading_is_paused``; market not open 409 ``market_closed``; count ≤ 0 400 ``invalid_order_size``;
        off-grid price 400 ``invalid_price``; IOC/FOK with expiry, expiry not in the future, reduce_only
        without IOC, post_only without GTC, post_only crossing 400 ``invalid_order``; duplicate
        client_order_id 409 ``order_already_exists``; tripped group 409; insufficient cash 400
        ``available_balance_too_low``. An unfillable FOK or a reduce_only with nothing to reduce is not an
        error: the order is returned cancelled with no fills.
        """
        with self._op(advance=True) as eng:
            return matching.place(eng, user_id, request)

    def amend_order(
        self,
        user_id: str,
        order_id: str,
        *,
        ticker: str,
        side: Side,
        price_e4: int,
        count_e2: int,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
        expiration_ts: int | None = None,
    ) -> OrderResult:
        """Amend a resting order (``…/orders/{id}/amend``).

        ``count_e2`` is the new *total* fillable size including what is already filled. ``expiration_ts``:
        None keeps the expiry, 0 removes it, otherwise a future Unix second. Queue priority is kept for a
        size-down or expiry-only change and lost on a price change or size-up; an amend that crosses matches
        like a new order (its fills are returned). ``ticker``/``side``/``client_order_id`` must match the
        order (400 ``order_*_mismatch``).
        """
        with self._op(advance=True) as eng:
            return matching.amend(
                eng,
                user_id,
                order_id,
                ticker=ticker,
                side=side,
                price_e4=price_e4,
                count_e2=count_e2,
                client_order_id=client_order_id,
                updated_client_order_id=updated_client_order_id,
                expiration_ts=expiration_ts,
            )

    def decrease_order(
        self, user_id: str, order_id: str, *, reduce_by_e2: int | None = None, reduce_to_e2: int | None = None
    ) -> CancelResult:
        """Shrink a resting order keeping its queue place; exactly one of ``reduce_by_e2`` / ``reduce_to_e2``
        (the new remaining size). Reaching 0 cancels it. Allowed during a trading pause."""
        with self._op(advance=True) as eng:
            order, reduced = matching.decrease(
                eng, user_id, order_id, reduce_by_e2=reduce_by_e2, reduce_to_e2=reduce_to_e2
            )
            return CancelResult(order, reduced)

    def cancel_order(self, user_id: str, order_id: str, *, ticker: str | None = None) -> CancelResult:
        """Cancel a resting order (allowed during a trading pause). 404 if unknown or no longer resting;
        ``ticker`` (the wire's ``market_ticker``), when given, must be the order's market."""
        with self._op(advance=True) as eng:
            if ticker is not None and eng.user_order(user_id, order_id).ticker != ticker:
                raise errors.order_ticker_mismatch()
            order, reduced = matching.cancel(eng, user_id, order_id)
            return CancelResult(order, reduced)

    def batch_create(self, user_id: str, requests: Sequence[OrderRequest]) -> list[OrderResult | ExchangeError]:
        """Create several orders in sequence under one hold of the lock (nothing interleaves); one result or
        error per item, and a failed item changes nothing."""
        with self._op(advance=True) as eng:
            out: list[OrderResult | ExchangeError] = []
            for request in requests:
                try:
                    out.append(matching.place(eng, user_id, request))
                except ExchangeError as exc:
                    out.append(exc)
            return out

    def batch_cancel(self, user_id: str, order_ids: Sequence[str]) -> list[CancelResult | ExchangeError]:
        """Cancel several orders; one result or error per item."""
        with self._op(advance=True) as eng:
            out: list[CancelResult | ExchangeError] = []
            for order_id in order_ids:
                try:
                    out.append(CancelResult(*matching.cancel(eng, user_id, order_id)))
                except ExchangeError as exc:
                    out.append(exc)
            return out

    def cancel_all(self, user_id: str, ticker: str | None = None) -> list[CancelResult]:
        """Cancel every resting order of the user (in ``ticker`` only, if given), oldest first."""
        with self._op(advance=True) as eng:
            account = eng.account(user_id)
            if eng.exchange_paused:
                raise errors.exchange_paused()
            tickers = [ticker] if ticker is not None else list(account.resting)
            out = []
            for t in tickers:
                for order_id in account.resting_in(t):
                    out.append(CancelResult(*eng.cancel(eng.orders[order_id], UpdateReason.USER_CANCEL)))
            return out

    # --- order and portfolio reads -------------------------------------------------------------------------

    def get_order(self, user_id: str, order_id: str) -> Order:
        """One of the user's orders, any status (404 if unknown or another user's)."""
        with self.lock:
            return self._engine.user_order(user_id, order_id)

    def orders(self, user_id: str, *, ticker: str | None = None, status: OrderStatus | None = None) -> list[Order]:
        """The user's orders, newest first, optionally filtered by market and status."""
        with self.lock:
            eng = self._engine
            eng.account(user_id)
            orders = (eng.orders[i] for i in reversed(eng.orders_by_user.get(user_id, [])))
            return [
                o for o in orders if (ticker is None or o.ticker == ticker) and (status is None or o.status is status)
            ]

    def queue_position(self, user_id: str, order_id: str) -> int:
        """Contracts (e2) resting ahead of a resting order at its price; 0 = first in queue."""
        with self.lock:
            order = self._engine.user_order(user_id, order_id)
            if order.status is not OrderStatus.RESTING:
                raise errors.not_found(f"order {order_id} is not resting")
            return self._engine.books[order.ticker].queue_position(order_id)

    def fills(
        self,
        user_id: str,
        *,
        ticker: str | None = None,
        order_id: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        before_seq: int | None = None,
    ) -> list[Fill]:
        """The user's fills, newest first. ``min_ts``/``max_ts`` are inclusive Unix seconds; ``before_seq``
        keeps fills with ``seq`` below it (cursor = the last ``seq`` of the previous page)."""
        with self.lock:
            self._engine.account(user_id)
            return _newest_first(self._engine.fills.get(user_id, []), ticker, min_ts, max_ts, before_seq, order_id)

    def positions(self, user_id: str) -> list[Position]:
        """The user's unsettled positions (markets traded and not yet settled), by ticker."""
        with self.lock:
            account = self._engine.account(user_id)
            return [
                account.positions[t].snapshot(self._engine.resting_count(user_id, t)) for t in sorted(account.positions)
            ]

    def settlements(self, user_id: str) -> list[Settlement]:
        """The user's settlements, newest first."""
        with self.lock:
            self._engine.account(user_id)
            return list(reversed(self._engine.settlements.get(user_id, [])))

    def trades(
        self,
        ticker: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        before_seq: int | None = None,
    ) -> list[Trade]:
        """Public trades, newest first (``min_ts``/``max_ts`` inclusive Unix seconds; ``before_seq`` cursor)."""
        with self.lock:
            return _newest_first(self._engine.trades, ticker, min_ts, max_ts, before_seq)

    def trade_log(self) -> list[Trade]:
        """Every trade since start, oldest first (for determinism checks and reports)."""
        with self.lock:
            return list(self._engine.trades)

    def orderbook(self, ticker: str, depth: int = 0) -> OrderbookView:
        """The bids-only book: YES bids and NO bids (= YES asks at 1 − p), ascending, best last.
        ``depth`` > 0 keeps the best ``depth`` levels of each side."""
        with self.lock:
            self._engine.market(ticker)
            book = self._engine.books[ticker]
            yes = book.depth(Side.BID)
            no = [(ONE_DOLLAR - p, size) for p, size in reversed(book.depth(Side.ASK))]
            if depth > 0:
                yes, no = yes[-depth:], no[-depth:]
            return OrderbookView(ticker, tuple(yes), tuple(no))

    def top_of_book(self, ticker: str) -> TopOfBook:
        with self.lock:
            self._engine.market(ticker)
            book = self._engine.books[ticker]
            return TopOfBook(
                ticker, book.best(Side.BID), book.best_size(Side.BID), book.best(Side.ASK), book.best_size(Side.ASK)
            )

    # --- order groups ------------------------------------------------------------------------------------

    def create_order_group(self, user_id: str, contracts_limit_e2: int) -> OrderGroup:
        """A new order group tripping at ``contracts_limit_e2`` matched over a rolling 15 s window."""
        with self._op() as eng:
            eng.account(user_id)
            if contracts_limit_e2 <= 0:
                raise errors.invalid_parameters("contracts_limit must be positive")
            group = GroupState(eng.new_id(), user_id, contracts_limit_e2, eng.now_ms())
            eng.groups[group.group_id] = group
            eng.emit(
                OrderGroupUpdate(user_id, group.group_id, OrderGroupEventKind.CREATED, eng.now_ms(), contracts_limit_e2)
            )
            return group.snapshot(eng.now_s())

    def get_order_group(self, user_id: str, group_id: str) -> OrderGroup:
        with self.lock:
            return self._engine.user_group(user_id, group_id).snapshot(self._engine.now_s())

    def order_groups(self, user_id: str) -> list[OrderGroup]:
        with self.lock:
            now = self._engine.now_s()
            return [g.snapshot(now) for g in self._engine.groups.values() if g.user_id == user_id]

    def delete_order_group(self, user_id: str, group_id: str) -> None:
        """Cancel the group's resting orders (OrderGroupCancel) and delete it."""
        with self._op() as eng:
            group = eng.user_group(user_id, group_id)
            eng.cancel_group_orders(group)
            del eng.groups[group_id]
            eng.emit(OrderGroupUpdate(user_id, group_id, OrderGroupEventKind.DELETED, eng.now_ms()))

    def reset_order_group(self, user_id: str, group_id: str) -> None:
        """Zero the group's matched counter and accept its orders again."""
        with self._op() as eng:
            eng.user_group(user_id, group_id).reset()
            eng.emit(OrderGroupUpdate(user_id, group_id, OrderGroupEventKind.RESET, eng.now_ms()))

    def trigger_order_group(self, user_id: str, group_id: str) -> None:
        """Trip the group by hand: cancel its orders and block new ones until reset."""
        with self._op() as eng:
            eng.trigger_group(eng.user_group(user_id, group_id))

    def set_order_group_limit(self, user_id: str, group_id: str, contracts_limit_e2: int) -> None:
        """Change the limit; trips at once if the window already holds that many."""
        with self._op() as eng:
            group = eng.user_group(user_id, group_id)
            if contracts_limit_e2 <= 0:
                raise errors.invalid_parameters("contracts_limit must be positive")
            group.contracts_limit_e2 = contracts_limit_e2
            eng.emit(
                OrderGroupUpdate(user_id, group_id, OrderGroupEventKind.LIMIT_UPDATED, eng.now_ms(), contracts_limit_e2)
            )
            eng.check_groups({group_id})

    # --- lifecycle and operator controls -------------------------------------------------------------------

    def tick(self) -> None:
        """Apply everything due at the clock's time: opens, GTT expiries, closes, settlements."""
        with self._op() as eng:
            lifecycle.advance(eng)

    def close_market(self, ticker: str) -> Market:
        """Close a market now (early close): trading stops, resting orders CloseCancel."""
        with self._op(advance=True) as eng:
            return lifecycle.close_market(eng, ticker)

    def determine(self, ticker: str, result: MarketResult | str, settlement_value_e4: int | None = None) -> Market:
        """Set the result (``"yes"``/``"no"``, or ``"scalar"`` with a per-YES value); closes the market if open.
        Settlement ($1 per winning contract) runs ``settlement_timer_seconds`` later (at once if 0)."""
        try:
            outcome = MarketResult(result)
        except ValueError:
            raise errors.invalid_parameters(f"result must be yes, no or scalar, got {result!r}") from None
        with self._op(advance=True) as eng:
            lifecycle.determine(eng, ticker, outcome, settlement_value_e4)
            lifecycle.advance(eng)
            return eng.markets[ticker]

    def set_trading_paused(self, paused: bool) -> None:
        """Exchange-wide trading pause: place/amend 409 ``trading_is_paused``, cancels allowed;
        orders with ``cancel_order_on_pause`` are cancelled (PauseCancel)."""
        with self._op() as eng:
            lifecycle.set_paused(eng, trading=paused)

    def set_exchange_paused(self, paused: bool) -> None:
        """Full exchange pause: every order call is rejected (503); ``cancel_order_on_pause`` orders cancelled."""
        with self._op() as eng:
            lifecycle.set_paused(eng, exchange=paused)

    def set_market_paused(self, ticker: str, paused: bool) -> Market:
        """Pause or resume one market (like a trading pause, for that market only)."""
        with self._op() as eng:
            return lifecycle.set_market_paused(eng, ticker, paused)

    def status(self) -> ExchangeStatus:
        with self.lock:
            eng = self._engine
            return ExchangeStatus(not eng.exchange_paused, not (eng.exchange_paused or eng.trading_paused))
