"""Time- and operator-driven changes: market open/close, GTT expiry, determination, settlement, pauses.

:func:`advance` applies everything the clock says is due; the exchange runs it on :meth:`Exchange.tick` and at
the start of every order-entry call, so nothing trades against an expired order or in a market past its close
even when the server's loop lags.
"""

from __future__ import annotations

import heapq

from kalshi_mm.sim import errors
from kalshi_mm.sim.engine import Engine
from kalshi_mm.sim.events import LifecycleKind, MarketLifecycle, PositionUpdate, SettlementEvent
from kalshi_mm.sim.model import (
    Market,
    MarketResult,
    MarketStatus,
    OrderStatus,
    Settlement,
    UpdateReason,
    notional_e6,
)
from kalshi_mm.units import ONE_DOLLAR

__all__ = ["advance", "close_market", "determine", "set_market_paused", "set_paused", "settle"]


def advance(engine: Engine) -> None:
    """Apply every change that is due at the clock's current time, in a fixed order: opens, GTT expiries,
    closes, settlements (each phase in listing order). O(1) when nothing is due: every phase reads a heap."""
    now = engine.now_s()
    for ticker in _due(engine.opens, now):
        market = engine.markets[ticker]
        if market.status is MarketStatus.INITIALIZED and market.open_ts <= now:
            _lifecycle(engine, engine.set_market(ticker, status=MarketStatus.ACTIVE), LifecycleKind.ACTIVATED)
    while engine.expiries and engine.expiries[0][0] <= now:
        expiration_ts, order_id = heapq.heappop(engine.expiries)
        order = engine.orders.get(order_id)
        # Skip stale entries: the order left the book or an amend moved its expiry.
        if order is not None and order.status is OrderStatus.RESTING and order.expiration_ts == expiration_ts:
            engine.cancel(order, UpdateReason.EXPIRY_CANCEL)
    for ticker in _due(engine.closes, now):
        market = engine.markets[ticker]
        if market.status is MarketStatus.ACTIVE and market.close_ts <= now:
            close_market(engine, ticker)
    for ticker in _due(engine.settles, now):
        market = engine.markets[ticker]
        if (
            market.status is MarketStatus.DETERMINED
            and market.determination_ts is not None
            and market.determination_ts + market.settlement_timer_seconds <= now
        ):
            settle(engine, ticker)


def _due(heap: list[tuple[float, int, str]], now: float) -> list[str]:
    """Pop the entries due by ``now``; their tickers in listing order, once each. The caller re-checks each
    market's state: an entry may be stale (the market moved on, or its time changed and a newer entry exists)."""
    if not heap or heap[0][0] > now:
        return []
    due: dict[int, str] = {}
    while heap and heap[0][0] <= now:
        _, seq, ticker = heapq.heappop(heap)
        due[seq] = ticker
    return [due[seq] for seq in sorted(due)]


def _lifecycle(engine: Engine, market: Market, kind: LifecycleKind, is_deactivated: bool | None = None) -> None:
    engine.emit(MarketLifecycle(market.ticker, kind, engine.now_ms(), market, is_deactivated))


def _cancel_where(
    engine: Engine, reason: UpdateReason, ticker: str | None = None, *, only_on_pause: bool = False
) -> None:
    tickers = [ticker] if ticker is not None else list(engine.books)
    for t in tickers:
        for entry in list(engine.books[t].entries()):
            order = engine.orders[entry.order_id]
            if not only_on_pause or order.cancel_order_on_pause:
                engine.cancel(order, reason)


def close_market(engine: Engine, ticker: str) -> Market:
    """Stop trading in a market (at close_ts, or early): status closed, resting orders CloseCancel."""
    market = engine.market(ticker)
    if market.status not in (MarketStatus.INITIALIZED, MarketStatus.ACTIVE):
        raise errors.invalid_parameters(f"market {ticker} is already {market.status.value}")
    _cancel_where(engine, UpdateReason.CLOSE_CANCEL, ticker)
    market = engine.set_market(ticker, status=MarketStatus.CLOSED)
    _lifecycle(engine, market, LifecycleKind.CLOSED)
    return market


def determine(engine: Engine, ticker: str, result: MarketResult, settlement_value_e4: int | None = None) -> Market:
    """Set the market's result (closing it first if still open); settlement follows after the timer.

    ``settlement_value_e4`` is the payout per YES contract: implied for yes ($1) and no ($0), required for scalar.
    """
    market = engine.market(ticker)
    if market.status in (MarketStatus.INITIALIZED, MarketStatus.ACTIVE):
        market = close_market(engine, ticker)
    if market.status is not MarketStatus.CLOSED:
        raise errors.invalid_parameters(f"market {ticker} is already {market.status.value}")
    if result is MarketResult.SCALAR:
        if settlement_value_e4 is None or not 0 <= settlement_value_e4 <= ONE_DOLLAR:
            raise errors.invalid_parameters("a scalar result needs settlement_value_e4 within [0, 10000]")
        value = settlement_value_e4
    else:
        value = ONE_DOLLAR if result is MarketResult.YES else 0
        if settlement_value_e4 is not None and settlement_value_e4 != value:
            raise errors.invalid_parameters(f"result {result.value} pays {value} e4 per YES contract")
    market = engine.set_market(
        ticker,
        status=MarketStatus.DETERMINED,
        result=result,
        settlement_value_e4=value,
        determination_ts=engine.now_s(),
    )
    _lifecycle(engine, market, LifecycleKind.DETERMINED)
    return market


def settle(engine: Engine, ticker: str) -> Market:
    """Pay every position in a determined market, record settlements, and finalize the market."""
    market = engine.market(ticker)
    if market.status is not MarketStatus.DETERMINED or market.settlement_value_e4 is None or market.result is None:
        raise errors.invalid_parameters(f"market {ticker} is {market.status.value}, not determined")
    value = market.settlement_value_e4
    now_ms = engine.now_ms()
    for account in engine.accounts.values():
        state = account.positions.pop(ticker, None)
        if state is None:
            continue
        long_e2, short_e2 = max(0, state.position_e2), max(0, -state.position_e2)
        revenue = notional_e6(value, long_e2) + notional_e6(ONE_DOLLAR - value, short_e2)
        account.cash_e6 += revenue
        # Orders were cancelled at close, so no collateral can remain reserved in this market.
        account.cash_e6 += account.reserved_e6.pop(ticker, 0)
        settlement = Settlement(
            user_id=account.user_id,
            ticker=ticker,
            event_ticker=market.event_ticker,
            market_result=market.result,
            yes_count_e2=long_e2,
            yes_total_cost_e6=state.cost_e6 if long_e2 else 0,
            no_count_e2=short_e2,
            no_total_cost_e6=state.cost_e6 if short_e2 else 0,
            revenue_e6=revenue,
            value_e4=value,
            fee_cost_e4=state.fees_paid_e4,
            settled_ts_ms=now_ms,
        )
        engine.settlements.setdefault(account.user_id, []).append(settlement)
        engine.emit(SettlementEvent(account.user_id, settlement))
        engine.emit(PositionUpdate(account.user_id, ticker, None))
    market = engine.set_market(ticker, status=MarketStatus.FINALIZED, open_interest_e2=0, settlement_ts=engine.now_s())
    _lifecycle(engine, market, LifecycleKind.SETTLED)
    return market


def set_paused(engine: Engine, *, trading: bool | None = None, exchange: bool | None = None) -> None:
    """Switch the exchange-wide trading or full pause; pausing cancels ``cancel_order_on_pause`` orders."""
    was_paused = engine.trading_paused or engine.exchange_paused
    if trading is not None:
        engine.trading_paused = trading
    if exchange is not None:
        engine.exchange_paused = exchange
    if not was_paused and (engine.trading_paused or engine.exchange_paused):
        _cancel_where(engine, UpdateReason.PAUSE_CANCEL, only_on_pause=True)


def set_market_paused(engine: Engine, ticker: str, paused: bool) -> Market:
    """Pause or resume trading in one market (lifecycle ``deactivated`` with ``is_deactivated``)."""
    market = engine.market(ticker)
    if market.paused == paused:
        return market
    if paused:
        _cancel_where(engine, UpdateReason.PAUSE_CANCEL, ticker, only_on_pause=True)
    market = engine.set_market(ticker, paused=paused)
    _lifecycle(engine, market, LifecycleKind.DEACTIVATED, is_deactivated=paused)
    return market
