"""Order entry on the engine: create, amend, decrease, cancel (V2 semantics, NOTES §3.8 and §8).

Every request is validated and *planned* before anything changes: the book plans the match
(:meth:`OrderBook.plan_match`), and :func:`_check_funds` replays the plan on a copy of the taker's position to
get its exact cash after the operation. Only then is the plan executed, so a rejected request leaves no trace
and an accepted one can never take an account's available cash below zero.
"""

from __future__ import annotations

from kalshi_mm.sim import errors
from kalshi_mm.sim.accounts import Account, PositionState, ReservedOrder, RestingOrders
from kalshi_mm.sim.book import MatchPlan
from kalshi_mm.sim.engine import Engine
from kalshi_mm.sim.model import (
    E6_PER_E4,
    Fill,
    Market,
    MarketStatus,
    Order,
    OrderRequest,
    OrderResult,
    OrderStatus,
    Side,
    TimeInForce,
    UpdateReason,
)

__all__ = ["amend", "cancel", "decrease", "place", "require_trading"]

_IOC = TimeInForce.IMMEDIATE_OR_CANCEL
_FOK = TimeInForce.FILL_OR_KILL


def require_trading(engine: Engine, ticker: str) -> Market:
    """The market, if orders may be placed or amended in it now; else the matching error."""
    if engine.exchange_paused:
        raise errors.exchange_paused()
    market = engine.market(ticker)
    if engine.trading_paused or (market.paused and market.status is MarketStatus.ACTIVE):
        raise errors.trading_is_paused()
    if market.status is not MarketStatus.ACTIVE:
        raise errors.market_closed(f"market {ticker} is {market.status.value}")
    return market


def _check_expiration(engine: Engine, expiration_ts: int | None) -> None:
    if expiration_ts is not None and expiration_ts <= engine.now_s():
        raise errors.invalid_order("Expiration timestamp must be in the future")


def _check_client_id(engine: Engine, user_id: str, client_order_id: str | None) -> None:
    if client_order_id and client_order_id in engine.client_ids.get(user_id, {}):
        raise errors.order_already_exists(f"client_order_id {client_order_id}")


def _validate(engine: Engine, user_id: str, market: Market, req: OrderRequest) -> None:
    if req.count_e2 <= 0:
        raise errors.invalid_order_size(f"count must be positive, got {req.count_e2} e2")
    if not market.grid.contains(req.price_e4):
        raise errors.invalid_price(f"price {req.price_e4} e4 is not on the {market.price_level_structure} grid")
    if req.time_in_force in (_IOC, _FOK) and req.expiration_ts is not None:
        raise errors.invalid_order("Cannot specify both immediate_or_cancel and expiration_ts")
    _check_expiration(engine, req.expiration_ts)
    if req.reduce_only and req.time_in_force is not _IOC:
        raise errors.invalid_order("reduce_only orders must be immediate_or_cancel")
    if req.post_only and req.time_in_force is not TimeInForce.GOOD_TILL_CANCELED:
        raise errors.invalid_order("post_only orders must be good_till_canceled")
    _check_client_id(engine, user_id, req.client_order_id)
    if req.order_group_id is not None and engine.user_group(user_id, req.order_group_id).triggered:
        raise errors.order_group_triggered(f"order group {req.order_group_id}")


def _check_funds(
    engine: Engine,
    account: Account,
    ticker: str,
    side: Side,
    price_e4: int,
    plan: MatchPlan,
    rest_e2: int,
    acc: int,
    exclude: frozenset[str],
) -> None:
    """Raise available_balance_too_low unless the account can afford executing ``plan`` and then resting
    ``rest_e2`` at ``price_e4`` (with the orders in ``exclude`` gone). ``acc``: the order's fee accumulator
    (units of its schedule's denominator). Reads only: a rejection leaves no trace."""
    schedule = engine.fee_schedules[ticker]
    held = account.positions.get(ticker)
    position = held.copy() if held is not None else PositionState(account.user_id, ticker, "")
    cash = 0
    for entry, count in plan.fills:
        exact = schedule.exact_units(entry.price_e4, count, is_taker=True)
        cash += position.apply_fill(side, entry.price_e4, count, 0)
        cash -= schedule.charge_e4(acc, exact) * E6_PER_E4
        acc += exact
    resting = account.resting.get(ticker) or RestingOrders()
    gone = exclude | {e.order_id for e in plan.stp_cancels}
    without = [resting.orders[i] for i in gone if i in resting.orders]
    extra = None
    if rest_e2:
        extra = ReservedOrder(side, price_e4, rest_e2, engine.fee_reserve_e4(ticker, price_e4, rest_e2, acc))
    required = resting.required_e6(position.position_e2, without, extra)
    available_after = account.cash_e6 + account.reserved_e6.get(ticker, 0) - required + cash
    if available_after < 0:
        short = -available_after
        raise errors.available_balance_too_low(f"short by {short // E6_PER_E4 + (short % E6_PER_E4 > 0)} e4")


def _execute(
    engine: Engine, order: Order, plan: MatchPlan, *, rests: bool, end_reason: UpdateReason, capped: bool = False
) -> tuple[Order, list[Fill]]:
    """Run a checked plan for ``order`` (not in the book), then rest or cancel what is left of it.

    ``capped``: reduce_only cut the order below its requested size, so even a complete fill of the rest leaves
    it cancelled (ReduceOnlyCancel) rather than executed.
    """
    fills: list[Fill] = []
    groups: set[str] = set()
    for entry, count in plan.steps:
        if count == 0:  # maker-mode self-trade prevention: the user's own resting order goes
            engine.cancel(engine.orders[entry.order_id], UpdateReason.SELF_TRADE_CANCEL, refresh=False)
            continue
        maker_group = engine.orders[entry.order_id].order_group_id
        if maker_group is not None:
            groups.add(maker_group)
        order, fill = engine.execute_fill(order, entry, count)
        fills.append(fill)
    if order.order_group_id is not None:
        groups.add(order.order_group_id)
    if order.remaining_count_e2:
        if rests and not plan.stopped_by_self:
            engine.rest(order)
        else:
            reason = UpdateReason.SELF_TRADE_CANCEL if plan.stopped_by_self else end_reason
            order = engine.set_order(
                order, emit=False, remaining_count_e2=0, status=OrderStatus.CANCELED, last_update_reason=reason
            )
    elif capped:
        order = engine.set_order(
            order, emit=False, status=OrderStatus.CANCELED, last_update_reason=UpdateReason.REDUCE_ONLY_CANCEL
        )
    engine.refresh_reservation(order.user_id, order.ticker)
    order = engine.orders[order.order_id]
    engine.emit_order(order)
    engine.check_groups(groups)
    return engine.orders[order.order_id], fills


def place(engine: Engine, user_id: str, req: OrderRequest) -> OrderResult:
    """Create an order: validate, check funds against the planned match, execute, rest or cancel the rest."""
    account = engine.account(user_id)
    market = require_trading(engine, req.ticker)
    _validate(engine, user_id, market, req)
    book = engine.books[req.ticker]
    now_ms = engine.now_ms()
    count = req.count_e2
    capped = False
    if req.reduce_only:
        position = account.position_e2(req.ticker)
        closable = max(0, -position) if req.side is Side.BID else max(0, position)
        capped = closable < count
        count = min(count, closable)
    if req.post_only and book.would_cross(req.side, req.price_e4):
        raise errors.post_only_cross()

    order = Order(
        order_id=engine.new_id(),
        user_id=user_id,
        ticker=req.ticker,
        side=req.side,
        price_e4=req.price_e4,
        initial_count_e2=req.count_e2,
        fill_count_e2=0,
        remaining_count_e2=count,
        status=OrderStatus.RESTING,
        time_in_force=req.time_in_force,
        self_trade_prevention_type=req.self_trade_prevention_type,
        created_ts_ms=now_ms,
        last_update_ts_ms=now_ms,
        client_order_id=req.client_order_id or "",
        expiration_ts=req.expiration_ts,
        post_only=req.post_only,
        reduce_only=req.reduce_only,
        order_group_id=req.order_group_id,
        cancel_order_on_pause=req.cancel_order_on_pause,
    )
    end_reason = UpdateReason.REDUCE_ONLY_CANCEL if capped else UpdateReason.IMMEDIATE_CANCEL
    fok_short = req.time_in_force is _FOK and book.crossing_size(req.side, req.price_e4) < count
    if count == 0 or fok_short:
        # Nothing may trade: record the order as cancelled at once (no error, as Kalshi reports IOC/FOK).
        order = _dead_on_arrival(engine, order, end_reason)
        return OrderResult(order)

    plan = book.plan_match(user_id, req.side, req.price_e4, count, req.self_trade_prevention_type)
    rests = req.time_in_force is TimeInForce.GOOD_TILL_CANCELED
    rest_e2 = count - plan.filled_e2 if rests and not plan.stopped_by_self else 0
    _check_funds(engine, account, req.ticker, req.side, req.price_e4, plan, rest_e2, 0, frozenset())
    engine.register_order(order)
    order, fills = _execute(engine, order, plan, rests=rests, end_reason=end_reason, capped=capped)
    return OrderResult(order, tuple(fills))


def _dead_on_arrival(engine: Engine, order: Order, reason: UpdateReason) -> Order:
    engine.register_order(order)
    order = engine.set_order(
        order, emit=False, remaining_count_e2=0, status=OrderStatus.CANCELED, last_update_reason=reason
    )
    engine.emit_order(order)
    return order


def amend(
    engine: Engine,
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
    """Amend price / total size / expiry of a resting order (see Exchange.amend_order)."""
    account = engine.account(user_id)
    order = engine.user_order(user_id, order_id)
    if ticker != order.ticker:
        raise errors.order_ticker_mismatch(f"order {order_id} is in {order.ticker}")
    if side is not order.side:
        raise errors.order_side_mismatch(f"order {order_id} is a {order.side.value}")
    if client_order_id and client_order_id != order.client_order_id:
        raise errors.order_id_and_client_order_id_mismatch()
    market = require_trading(engine, ticker)
    if order.status is not OrderStatus.RESTING:
        raise errors.invalid_order(f"order {order_id} is {order.status.value}")
    if not market.grid.contains(price_e4):
        raise errors.invalid_price(f"price {price_e4} e4 is not on the {market.price_level_structure} grid")
    if count_e2 <= order.fill_count_e2:
        raise errors.invalid_order_size(
            f"count {count_e2} e2 must exceed the filled {order.fill_count_e2} e2 (decrease or cancel instead)"
        )
    new_expiry = order.expiration_ts
    if expiration_ts is not None:
        new_expiry = None if expiration_ts == 0 else expiration_ts
        _check_expiration(engine, new_expiry)
    new_client_id = order.client_order_id
    if updated_client_order_id and updated_client_order_id != order.client_order_id:
        _check_client_id(engine, user_id, updated_client_order_id)
        new_client_id = updated_client_order_id

    remaining = count_e2 - order.fill_count_e2
    keeps_priority = price_e4 == order.price_e4 and remaining <= order.remaining_count_e2
    book = engine.books[ticker]
    changes = {
        "initial_count_e2": count_e2,
        "expiration_ts": new_expiry,
        "client_order_id": new_client_id,
        "last_update_reason": UpdateReason.AMEND,
    }
    if keeps_priority:
        # Size-down / expiry-only: shrinking never needs more collateral, so no funds check.
        if remaining < order.remaining_count_e2:
            engine.shrink(order, remaining)  # remaining > 0 here: the order stays in the book
        old_expiry = order.expiration_ts
        order = _retag(engine, order, new_client_id, remaining_count_e2=remaining, **changes)
        if new_expiry is not None and new_expiry != old_expiry:
            engine.watch_expiry(order)
        engine.refresh_reservation(user_id, ticker)
        engine.emit_order(engine.orders[order_id])
        return OrderResult(engine.orders[order_id])

    if order.post_only and book.would_cross(side, price_e4):
        raise errors.post_only_cross()
    plan = book.plan_match(user_id, side, price_e4, remaining, order.self_trade_prevention_type)
    rest_e2 = 0 if plan.stopped_by_self else remaining - plan.filled_e2
    _check_funds(
        engine, account, ticker, side, price_e4, plan, rest_e2, engine.fee_acc[order_id], frozenset({order_id})
    )
    engine.unrest(order)
    order = _retag(engine, order, new_client_id, price_e4=price_e4, remaining_count_e2=remaining, **changes)
    order, fills = _execute(engine, order, plan, rests=True, end_reason=UpdateReason.IMMEDIATE_CANCEL)
    return OrderResult(order, tuple(fills))


def _retag(engine: Engine, order: Order, new_client_id: str, **changes: object) -> Order:
    """Apply amend changes without emitting, moving the client_order_id index if it changed."""
    if new_client_id != order.client_order_id:
        ids = engine.client_ids.setdefault(order.user_id, {})
        ids[new_client_id] = order.order_id
    return engine.set_order(order, emit=False, **changes)


def decrease(
    engine: Engine, user_id: str, order_id: str, *, reduce_by_e2: int | None = None, reduce_to_e2: int | None = None
) -> tuple[Order, int]:
    """Shrink a resting order keeping its queue place; to zero cancels. Returns (order, reduced_by_e2)."""
    if engine.exchange_paused:
        raise errors.exchange_paused()
    if (reduce_by_e2 is None) == (reduce_to_e2 is None):
        raise errors.invalid_order("exactly one of reduce_by and reduce_to is required")
    order = engine.user_order(user_id, order_id)
    if order.status is not OrderStatus.RESTING:
        raise errors.invalid_order(f"order {order_id} is {order.status.value}")
    if reduce_by_e2 is not None:
        if reduce_by_e2 <= 0:
            raise errors.invalid_order_size(f"reduce_by must be positive, got {reduce_by_e2} e2")
        target = max(0, order.remaining_count_e2 - reduce_by_e2)
    else:
        assert reduce_to_e2 is not None
        if not 0 <= reduce_to_e2 <= order.remaining_count_e2:
            raise errors.invalid_order_size(
                f"reduce_to {reduce_to_e2} e2 must be within [0, {order.remaining_count_e2}] e2"
            )
        target = reduce_to_e2
    if target == 0:
        cancelled, reduced = engine.cancel(order, UpdateReason.USER_CANCEL)
        return cancelled, reduced
    reduced = order.remaining_count_e2 - target
    if reduced:
        engine.shrink(order, target)
        order = engine.set_order(
            order,
            remaining_count_e2=target,
            initial_count_e2=order.initial_count_e2 - reduced,
            last_update_reason=UpdateReason.DECREASE,
        )
        engine.refresh_reservation(user_id, order.ticker)
    return engine.orders[order_id], reduced


def cancel(engine: Engine, user_id: str, order_id: str) -> tuple[Order, int]:
    """Cancel a resting order (allowed during a trading pause). Returns (order, reduced_by_e2)."""
    if engine.exchange_paused:
        raise errors.exchange_paused()
    order = engine.user_order(user_id, order_id)
    if order.status is not OrderStatus.RESTING:
        raise errors.not_found(f"order {order_id} is {order.status.value}, not resting")
    return engine.cancel(order, UpdateReason.USER_CANCEL)
