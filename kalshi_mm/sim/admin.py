"""Operator endpoints of the embedded exchange, outside ``/trade-api`` so no Kalshi client reaches them.

* ``GET /admin/faults`` -> ``{"config": {...}, "injected": {fault: count}}``
* ``POST /admin/faults`` with a JSON object of fault settings (see :mod:`kalshi_mm.sim.faults`) -> the same
* ``GET /admin/traffic`` -> per account: REST requests by ``"METHOD template status"``, tokens spent,
  WebSocket messages by channel, orders created/amended/decreased/cancelled.
* ``GET /admin/ledger?user=ID`` -> the exchange's own records of one account (:func:`account_ledger`), for
  chaos tests that check a daemon's database against the exchange.
"""

from __future__ import annotations

from typing import Any

from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.faults import FaultConfigError, FaultInjector, TrafficStats
from kalshi_mm.sim.http import Reply, RequestContext, RestApp, bad_request

__all__ = ["AdminApi", "account_ledger"]


class AdminApi:
    def __init__(self, exchange: Exchange, faults: FaultInjector, traffic: TrafficStats):
        self.exchange = exchange
        self.faults = faults
        self.traffic = traffic

    def register(self, app: RestApp) -> None:
        app.add_admin("GET", "/admin/faults", self.get_faults)
        app.add_admin("POST", "/admin/faults", self.set_faults)
        app.add_admin("GET", "/admin/traffic", self.get_traffic)
        app.add_admin("GET", "/admin/ledger", self.get_ledger)

    def get_faults(self, ctx: RequestContext) -> Reply:
        return Reply(200, self.faults.snapshot())

    def set_faults(self, ctx: RequestContext) -> Reply:
        changes = ctx.json_body()
        was_paused = self.faults.config.exchange_paused
        try:
            config = self.faults.update(changes)
        except FaultConfigError as exc:
            raise bad_request(str(exc), "invalid_parameters") from None
        self.apply_pause(was_paused, config.exchange_paused)
        return Reply(200, self.faults.snapshot())

    def apply_pause(self, was_paused: bool, paused: bool) -> None:
        """Mirror the ``exchange_paused`` setting onto the exchange (counting each pause as one fault)."""
        if paused != was_paused:
            self.exchange.set_exchange_paused(paused)
            if paused:
                self.faults.record_exchange_pause()

    def get_traffic(self, ctx: RequestContext) -> Reply:
        return Reply(200, self.traffic.snapshot())

    def get_ledger(self, ctx: RequestContext) -> Reply:
        user = ctx.q("user")
        if not user:
            raise bad_request("query parameter user is required (the account's user id)")
        return Reply(200, account_ledger(self.exchange, user))  # unknown user: the exchange's 404


# --- the account ledger (chaos tests) --------------------------------------------------------------------------


def account_ledger(exchange: Exchange, user_id: str) -> dict[str, Any]:
    """Every order the account ever created and every fill, oldest first, and its open positions, read under the
    exchange lock so the three agree. Integers in the exchange's units: prices ``_e4`` (YES leg), counts ``_e2``,
    times Unix ms; ``side`` is the YES-leg book side (bid/ask); ``client_order_id`` is the order's current one."""
    with exchange.lock:
        orders = list(reversed(exchange.orders(user_id)))
        fills = list(reversed(exchange.fills(user_id)))
        positions = exchange.positions(user_id)
        settled = exchange.settlements(user_id)
    return {
        "user": user_id,
        "orders": [
            {
                "order_id": o.order_id,
                "client_order_id": o.client_order_id,
                "ticker": o.ticker,
                "side": o.side.value,
                "price_e4": o.price_e4,
                "initial_count_e2": o.initial_count_e2,
                "fill_count_e2": o.fill_count_e2,
                "remaining_count_e2": o.remaining_count_e2,
                "status": o.status.value,
                "order_group_id": o.order_group_id,
                "created_ts_ms": o.created_ts_ms,
                "last_update_ts_ms": o.last_update_ts_ms,
                "last_update_reason": o.last_update_reason.value,
            }
            for o in orders
        ],
        "fills": [
            {
                "fill_id": f.fill_id,
                "order_id": f.order_id,
                "client_order_id": f.client_order_id,
                "ticker": f.ticker,
                "side": f.side.value,
                "yes_price_e4": f.yes_price_e4,
                "count_e2": f.count_e2,
                "is_taker": f.is_taker,
                "fee_e4": f.fee_e4,
                "ts_ms": f.ts_ms,
                "seq": f.seq,
                "post_position_e2": f.post_position_e2,
            }
            for f in fills
        ],
        "positions": [
            {"ticker": p.ticker, "position_e2": p.position_e2, "resting_orders_count": p.resting_orders_count}
            for p in positions
        ],
        "settled_tickers": sorted({s.ticker for s in settled}),
    }
