"""How a session gets out of its position once it stops quoting (config ``volatility_mm``). Pure.

The seed's passive exit: forcing a close at the moment a session ends crystallises losses at the worst
prices (volatility is gone, the price sits dead-centre in the direction of the move), so:

* ``passive_exit: true`` — a position smaller than ``ttl_close_if_small`` contracts is closed at once with a
  limit order at the touch (taking the best bid when long, the best ask when short); a larger one is offered
  passively (post-only, joining or improving the touch on the closing side) so the market comes to us.
* ``passive_exit: false`` with ``close_positions_on_exit: true`` (deprecated) — every position is closed at
  the touch like a small one.
* otherwise the position is left open.

Every exit price is bounded: never sell below ``reference − max_slippage_for_limit_exit`` nor buy above
``reference + max_slippage`` (the reference is the mid when the exit began, fixed, so the bound does not walk
with a market running away). An exit that cannot fill within the bound rests at the bound. The caller gives
up after ``soft_exit_max_wait_seconds`` and records what is left.

Positions and orders are on the YES leg: a long YES position (> 0) is closed with a YES ask, a NO position
(< 0) with a YES bid, whatever outcome the session quoted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kalshi_mm.api.types import BookSide
from kalshi_mm.strategy.legs import BookTop
from kalshi_mm.units import PriceGrid, Rounding

__all__ = ["ExitKind", "ExitOrder", "ExitPolicy", "exit_kind", "plan_exit_order"]


class ExitKind(enum.Enum):
    NONE = "none"  # leave the position
    AGGRESSIVE = "aggressive"  # limit at the touch, takes liquidity
    PASSIVE = "passive"  # post-only at our side of the touch


@dataclass(frozen=True, slots=True)
class ExitPolicy:
    """``close_if_small_e2``: positions strictly smaller (1/100 contract) are closed at the touch;
    ``max_slippage_e4``: bound from the reference (1/10,000 $); ``max_wait_s``: how long the exit may take."""

    passive_exit: bool = True
    close_if_small_e2: int = 200
    close_positions_on_exit: bool = False
    max_slippage_e4: int = 400
    max_wait_s: float = 20.0


@dataclass(frozen=True, slots=True)
class ExitOrder:
    """One YES-leg limit order: ``price_e4`` on the grid, ``size_e2`` the whole position."""

    side: BookSide
    price_e4: int
    size_e2: int
    post_only: bool


def exit_kind(position_e2: int, policy: ExitPolicy) -> ExitKind:
    """Which exit a YES-leg position (1/100 contract) gets under ``policy``."""
    if position_e2 == 0:
        return ExitKind.NONE
    if policy.passive_exit:
        return ExitKind.AGGRESSIVE if abs(position_e2) < policy.close_if_small_e2 else ExitKind.PASSIVE
    return ExitKind.AGGRESSIVE if policy.close_positions_on_exit else ExitKind.NONE


def _sell_price(top: BookTop, grid: PriceGrid, floor: int, kind: ExitKind) -> int | None:
    bid, ask = top.bid_e4, top.ask_e4
    if kind is ExitKind.AGGRESSIVE and bid is not None:
        return max(floor, bid)
    if ask is None:
        passive = floor
    else:
        better = grid.tick_below(ask)
        passive = better if better is not None and (bid is None or better > bid) else ask
    price = max(floor, passive)
    if kind is ExitKind.PASSIVE and bid is not None and price <= bid:
        # Post-only must not take: stay one tick above the best bid.
        price = grid.tick_above(bid) or price
    return price


def _buy_price(top: BookTop, grid: PriceGrid, ceiling: int, kind: ExitKind) -> int | None:
    bid, ask = top.bid_e4, top.ask_e4
    if kind is ExitKind.AGGRESSIVE and ask is not None:
        return min(ceiling, ask)
    if bid is None:
        passive = ceiling
    else:
        better = grid.tick_above(bid)
        passive = better if better is not None and (ask is None or better < ask) else bid
    price = min(ceiling, passive)
    if kind is ExitKind.PASSIVE and ask is not None and price >= ask:
        price = grid.tick_below(ask) or price
    return price


def plan_exit_order(
    position_e2: int, top: BookTop, grid: PriceGrid, reference_e4: int, kind: ExitKind, max_slippage_e4: int
) -> ExitOrder | None:
    """The one order that works ``position_e2`` (YES leg, 1/100 contract) off, or None (flat, no exit wanted,
    or no grid price within the slippage bound). ``top`` is the YES-leg book without our own orders;
    ``reference_e4`` the mid (1/10,000 $) the slippage bound is measured from."""
    if position_e2 == 0 or kind is ExitKind.NONE:
        return None
    post_only = kind is ExitKind.PASSIVE
    if position_e2 > 0:
        floor = grid.snap(reference_e4 - max_slippage_e4, Rounding.UP)
        price = None if floor is None else _sell_price(top, grid, floor, kind)
        side = BookSide.ASK
    else:
        ceiling = grid.snap(reference_e4 + max_slippage_e4, Rounding.DOWN)
        price = None if ceiling is None else _buy_price(top, grid, ceiling, kind)
        side = BookSide.BID
    if price is None:
        return None
    return ExitOrder(side, price, abs(position_e2), post_only)
