"""Random order flow through the in-process exchange, for tests that need a busy book (book replication,
WebSocket clients, fault repair). Shared so every such test churns the book the same way."""

from __future__ import annotations

import random
from collections.abc import Callable

from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import OrderRequest, OrderStatus, Side, TimeInForce

__all__ = ["random_flow"]


def random_flow(
    exchange: Exchange,
    tickers: list[str],
    users: list[str],
    n: int,
    seed: int,
    *,
    pace: Callable[[int], None] | None = None,
    place_below: float = 0.6,
    cancel_below: float = 0.85,
    amend_below: float = 0.93,
    random_client_ids: bool = False,
) -> int:
    """``n`` random operations around $0.50; returns the fills (trades) they made.

    A roll below ``place_below`` (or no resting order) places (some orders cross the spread, 10% IOC); otherwise
    a resting order is cancelled (roll < ``cancel_below``), amended (< ``amend_below``) or decreased by one
    contract. ``pace(i)`` runs before operation ``i``; ``random_client_ids`` gives half the orders one.
    """
    rng = random.Random(seed)
    resting: list[tuple[str, str, str, Side]] = []  # user, order id, ticker, side
    fills = 0
    for i in range(n):
        if pace is not None:
            pace(i)
        user, ticker = rng.choice(users), rng.choice(tickers)
        roll = rng.random()
        try:
            if roll < place_below or not resting:
                side = rng.choice((Side.BID, Side.ASK))
                offset = rng.randint(-3, 12) * 100  # negative offsets cross the spread
                price = 5000 - offset if side is Side.BID else 5000 + offset
                tif = TimeInForce.IMMEDIATE_OR_CANCEL if rng.random() < 0.1 else TimeInForce.GOOD_TILL_CANCELED
                count = rng.randint(1, 20) * 100
                client_id = (f"{user}-{i}" if rng.random() < 0.5 else None) if random_client_ids else None
                result = exchange.place_order(
                    user, OrderRequest(ticker, side, price, count, time_in_force=tif, client_order_id=client_id)
                )
                fills += len(result.fills)
                if result.order.status is OrderStatus.RESTING:
                    resting.append((user, result.order.order_id, ticker, side))
            else:
                user, order_id, ticker, side = resting.pop(rng.randrange(len(resting)))
                if roll < cancel_below:
                    exchange.cancel_order(user, order_id)
                elif roll < amend_below:
                    order = exchange.get_order(user, order_id)
                    price = min(9900, max(100, order.price_e4 + rng.choice((-200, -100, 100, 200))))
                    result = exchange.amend_order(
                        user,
                        order_id,
                        ticker=ticker,
                        side=side,
                        price_e4=price,
                        count_e2=order.fill_count_e2 + rng.randint(1, 20) * 100,
                    )
                    fills += len(result.fills)
                    if result.order.status is OrderStatus.RESTING:
                        resting.append((user, order_id, ticker, side))
                else:
                    order = exchange.decrease_order(user, order_id, reduce_by_e2=100).order
                    if order.status is OrderStatus.RESTING:
                        resting.append((user, order_id, ticker, side))
        except ExchangeError:
            continue  # e.g. the order was filled meanwhile: cancelling it is a 404, as on Kalshi
    return fills
