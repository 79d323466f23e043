"""Latest state of our orders (``user_orders``) and order groups (``order_group_updates``), bounded."""

from __future__ import annotations

import threading
from collections import OrderedDict

from kalshi_mm.api.ws_types import OrderGroupMsg, UserOrderMsg

__all__ = ["OrderTable"]


class OrderTable:
    """Latest :class:`UserOrderMsg` per order id and :class:`OrderGroupMsg` per group id.

    Lock: ``_lock`` guards ``_orders`` and ``_groups``. Bounded at ``max_orders``: finished orders (canceled,
    executed) are evicted first, least recently updated first; resting orders only if nothing else is left.
    """

    def __init__(self, max_orders: int = 10_000) -> None:
        if max_orders < 1:
            raise ValueError(f"max_orders must be ≥ 1, got {max_orders}")
        self._max_orders = max_orders
        self._lock = threading.Lock()
        self._orders: OrderedDict[str, UserOrderMsg] = OrderedDict()
        self._groups: dict[str, OrderGroupMsg] = {}

    def update(self, order: UserOrderMsg) -> bool:
        """Store ``order`` as the latest state; False if it is older than the state held (a late replay)."""
        with self._lock:
            old = self._orders.get(order.order_id)
            # user_orders has no seq, so order updates by the exchange's own timestamp when both carry one.
            if (
                old is not None
                and old.last_updated_ts_ms is not None
                and order.last_updated_ts_ms is not None
                and order.last_updated_ts_ms < old.last_updated_ts_ms
            ):
                return False
            self._orders[order.order_id] = order
            self._orders.move_to_end(order.order_id)
            if len(self._orders) > self._max_orders:
                self._evict_locked()
            return True

    def _evict_locked(self) -> None:
        excess = len(self._orders) - self._max_orders
        for order_id in [oid for oid, o in self._orders.items() if o.is_terminal][:excess]:
            del self._orders[order_id]
        while len(self._orders) > self._max_orders:
            self._orders.popitem(last=False)

    def get(self, order_id: str) -> UserOrderMsg | None:
        with self._lock:
            return self._orders.get(order_id)

    def select(self, ticker: str | None = None, resting_only: bool = False) -> tuple[UserOrderMsg, ...]:
        """Orders, least recently updated first; optionally of one market and/or resting only."""
        with self._lock:
            return tuple(
                o
                for o in self._orders.values()
                if (ticker is None or o.market_ticker == ticker) and (not resting_only or o.status == "resting")
            )

    def update_group(self, group: OrderGroupMsg) -> None:
        with self._lock:
            self._groups[group.order_group_id] = group

    def get_group(self, order_group_id: str) -> OrderGroupMsg | None:
        with self._lock:
            return self._groups.get(order_group_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._orders)
