"""Operator endpoints of the embedded exchange, outside ``/trade-api`` so no Kalshi client reaches them.

* ``GET /admin/faults`` -> ``{"config": {...}, "injected": {fault: count}}``
* ``POST /admin/faults`` with a JSON object of fault settings (see :mod:`kalshi_mm.sim.faults`) -> the same
* ``GET /admin/traffic`` -> per account: REST requests by ``"METHOD template status"``, tokens spent,
  WebSocket messages by channel, orders created/amended/decreased/cancelled.
"""

from __future__ import annotations

from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.faults import FaultConfigError, FaultInjector, TrafficStats
from kalshi_mm.sim.http import Reply, RequestContext, RestApp, bad_request

__all__ = ["AdminApi"]


class AdminApi:
    def __init__(self, exchange: Exchange, faults: FaultInjector, traffic: TrafficStats):
        self.exchange = exchange
        self.faults = faults
        self.traffic = traffic

    def register(self, app: RestApp) -> None:
        app.add_admin("GET", "/admin/faults", self.get_faults)
        app.add_admin("POST", "/admin/faults", self.set_faults)
        app.add_admin("GET", "/admin/traffic", self.get_traffic)

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
