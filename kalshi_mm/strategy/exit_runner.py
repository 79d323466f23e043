"""The EXITING phase of a session: work the position off with the orders :mod:`kalshi_mm.strategy.exits`
plans, through the same diff and executor as quoting, until flat, out of time, halted or hard-stopped.

Runs on the session thread, after the session's quotes were cancelled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kalshi_mm.api.types import BookSide
from kalshi_mm.api.ws_types import FillMsg
from kalshi_mm.clock import Clock
from kalshi_mm.strategy.exits import ExitKind, ExitPolicy, exit_kind, plan_exit_order
from kalshi_mm.strategy.fill_tracker import FillTracker
from kalshi_mm.strategy.legs import BookTop, top_excluding_own
from kalshi_mm.strategy.market_watch import MarketWatch
from kalshi_mm.strategy.order_executor import OrderExecutor
from kalshi_mm.strategy.order_manager import AmendPolicy, DesiredOrders, plan_order_actions
from kalshi_mm.strategy.quoting import Quote

__all__ = ["work_off_position"]

_EMPTY = BookTop(None, 0, None, 0)


def _desired(
    position_e2: int, top: BookTop, market: MarketWatch, reference_e4: int, kind: ExitKind, slip: int
) -> tuple[DesiredOrders, bool]:
    assert market.leg is not None
    order = plan_exit_order(position_e2, top, market.leg.yes_grid, reference_e4, kind, slip)
    if order is None:
        return DesiredOrders(), True
    want = Quote(order.price_e4, order.size_e2)
    desired = DesiredOrders(bid=want) if order.side is BookSide.BID else DesiredOrders(ask=want)
    return desired, order.post_only


def work_off_position(
    *,
    policy: ExitPolicy,
    amend: AmendPolicy,
    executor: OrderExecutor,
    tracker: FillTracker,
    market: MarketWatch,
    clock: Clock,
    hard_stop: threading.Event,
    refresh_s: float,
    logger: logging.Logger,
    on_fills: Callable[[list[FillMsg], float], None],
    on_cycle: Callable[[], None],
) -> int:
    """Run the exit loop (one plan per ``refresh_s``, ``on_cycle`` after each); returns the cycles run.

    The slippage reference is the mid when the exit starts; the time budget is ``policy.max_wait_s``, cut to
    end one cycle before the market closes. Whatever is left is the caller's to record.
    """
    on_fills(tracker.poll(rest=True), clock.time())
    if exit_kind(tracker.position_e2, policy) is ExitKind.NONE or market.leg is None:
        return 0
    view = market.read_book()
    reference = top_excluding_own(view, ()).mid_e4 if view is not None else None
    if reference is None:
        logger.warning("no reference price for the exit: leaving position %d", tracker.position_e2)
        return 0
    now = clock.time()
    budget = policy.max_wait_s
    if market.close_ts is not None:
        budget = min(budget, market.close_ts - now - refresh_s)
    deadline, last_kind, cycles = now + budget, None, 0
    logger.info("exiting position %d around %d (%.1f s)", tracker.position_e2, int(reference), budget)
    while not hard_stop.is_set() and clock.time() < deadline:
        kind = exit_kind(tracker.position_e2, policy)
        if kind is ExitKind.NONE:
            break
        if last_kind is not None and kind is not last_kind:
            executor.cancel_all("exit_switch")  # a post-only order cannot be amended into a taking one
        last_kind = kind
        view = market.read_book()
        top = top_excluding_own(view, executor.orders()) if view is not None else _EMPTY
        desired, post_only = _desired(tracker.position_e2, top, market, int(reference), kind, policy.max_slippage_e4)
        outcome = executor.execute(plan_order_actions(executor.orders(), desired, amend), post_only=post_only)
        cycles += 1
        on_cycle()
        if outcome.halt is not None or clock.wait(refresh_s, hard_stop):
            break
        on_fills(tracker.poll(rest=True), clock.time())
    return cycles
