"""Authenticated endpoints of the embedded exchange: portfolio reads, V2 order entry, order groups, account
limits (OpenAPI 3.31 shapes; NOTES.md §3.7-3.10)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from kalshi_mm.api.ratelimit import CANCEL_COST, DEFAULT_COST, SINGLE_ORDER_GET_COST, TIERS
from kalshi_mm.sim import errors, wire
from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.http import Reply, RequestContext, RestApp, bad_request, error_reply
from kalshi_mm.sim.model import (
    CancelResult,
    OrderRequest,
    OrderResult,
    OrderStatus,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from kalshi_mm.sim.rest_common import body_bool, body_count, body_int, body_price, body_str, page
from kalshi_mm.units import format_count, format_dollars, format_price

__all__ = ["PortfolioApi"]


def _enum(enum_type: type, body: dict[str, Any], name: str, default: Any = None) -> Any:
    raw = body.get(name)
    if raw is None:
        if default is None:
            raise bad_request(f"missing field {name}", "invalid_parameters")
        return default
    try:
        return enum_type(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in enum_type)
        raise bad_request(f"field {name} must be one of {allowed}, got {raw!r}", "invalid_parameters") from None


def parse_order_request(body: Any) -> OrderRequest:
    """A ``CreateOrderV2Request`` body as an :class:`OrderRequest`; malformed fields are a 400 naming them."""
    if not isinstance(body, dict):
        raise bad_request("order must be a JSON object", "invalid_parameters")
    return OrderRequest(
        ticker=body_str(body, "ticker") or "",
        side=_enum(Side, body, "side"),
        price_e4=body_price(body, "price"),
        count_e2=body_count(body, "count") or 0,
        time_in_force=_enum(TimeInForce, body, "time_in_force"),
        self_trade_prevention_type=_enum(SelfTradePrevention, body, "self_trade_prevention_type"),
        client_order_id=body_str(body, "client_order_id", required=False),
        expiration_ts=body_int(body, "expiration_time"),
        post_only=body_bool(body, "post_only"),
        reduce_only=body_bool(body, "reduce_only"),
        order_group_id=body_str(body, "order_group_id", required=False),
        cancel_order_on_pause=body_bool(body, "cancel_order_on_pause"),
    )


def _created_body(result: OrderResult, ts_ms: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": result.order.order_id,
        "client_order_id": result.order.client_order_id,
        "fill_count": format_count(result.fill_count_e2),
        "remaining_count": format_count(result.remaining_count_e2),
        "ts_ms": ts_ms,
    }
    average_price = result.average_fill_price_e4()
    if average_price is not None:
        body["average_fill_price"] = format_price(average_price)
        body["average_fee_paid"] = format_dollars(result.average_fee_paid_e4() or 0)
    return body


def _cancelled_body(result: CancelResult, ts_ms: int) -> dict[str, Any]:
    return {
        "order_id": result.order.order_id,
        "client_order_id": result.order.client_order_id,
        "reduced_by": format_count(result.reduced_by_e2),
        "ts_ms": ts_ms,
    }


def _contracts_limit(body: dict[str, Any]) -> int:
    if body.get("contracts_limit_fp") is not None:
        limit = body_count(body, "contracts_limit_fp") or 0
    elif body.get("contracts_limit") is not None:
        raw = body_int(body, "contracts_limit")
        limit = (raw or 0) * 100
    else:
        raise bad_request("contracts_limit or contracts_limit_fp is required", "invalid_parameters")
    if limit < 100:
        raise bad_request("contracts_limit must be at least 1 contract", "invalid_parameters")
    return limit


class PortfolioApi:
    """Registers the authenticated endpoints on a :class:`RestApp`."""

    def __init__(self, exchange: Exchange, tier: str):
        self.exchange = exchange
        self.tier = tier

    def register(self, app: RestApp) -> None:
        add = app.add
        add("GET", "/portfolio/balance", self.get_balance, auth=True)
        add("GET", "/portfolio/positions", self.get_positions, auth=True)
        add("GET", "/portfolio/orders", self.get_orders, auth=True)
        add("GET", "/portfolio/orders/{order_id}", self.get_order, auth=True)
        add("GET", "/portfolio/fills", self.get_fills, auth=True)
        add("GET", "/portfolio/settlements", self.get_settlements, auth=True)
        add("POST", "/portfolio/events/orders", self.create_order, auth=True)
        add("DELETE", "/portfolio/events/orders", self.cancel_all, auth=True)
        add("POST", "/portfolio/events/orders/batched", self.batch_create, auth=True)
        add("DELETE", "/portfolio/events/orders/batched", self.batch_cancel, auth=True)
        add("DELETE", "/portfolio/events/orders/{order_id}", self.cancel_order, auth=True)
        add("POST", "/portfolio/events/orders/{order_id}/amend", self.amend_order, auth=True)
        add("POST", "/portfolio/events/orders/{order_id}/decrease", self.decrease_order, auth=True)
        add("GET", "/portfolio/order_groups", self.list_groups, auth=True)
        add("POST", "/portfolio/order_groups/create", self.create_group, auth=True)
        add("GET", "/portfolio/order_groups/{order_group_id}", self.get_group, auth=True)
        add("DELETE", "/portfolio/order_groups/{order_group_id}", self.delete_group, auth=True)
        add("PUT", "/portfolio/order_groups/{order_group_id}/reset", self.reset_group, auth=True)
        add("PUT", "/portfolio/order_groups/{order_group_id}/trigger", self.trigger_group, auth=True)
        add("PUT", "/portfolio/order_groups/{order_group_id}/limit", self.limit_group, auth=True)
        add("GET", "/account/limits", self.account_limits, auth=True)
        add("GET", "/account/endpoint_costs", self.endpoint_costs, auth=False)

    def _now_ms(self) -> int:
        return self.exchange.clock.time_ms()

    # --- portfolio reads -------------------------------------------------------------------------------

    def get_balance(self, ctx: RequestContext) -> Reply:
        user = ctx.require_user()
        balance_e4 = self.exchange.balance(user)
        value_e4 = self.exchange.portfolio_value(user)
        return Reply(
            200,
            {
                "balance": balance_e4 // 100,  # the spec keeps these two in integer cents
                "balance_dollars": format_dollars(balance_e4),
                "portfolio_value": value_e4 // 100,
                "balance_breakdown": [{"exchange_index": 0, "balance": format_dollars(balance_e4)}],
                "updated_ts": self._now_ms() // 1000,
            },
        )

    def get_positions(self, ctx: RequestContext) -> Reply:
        user = ctx.require_user()
        ticker, event_ticker = ctx.q("ticker"), ctx.q("event_ticker")
        count_filter = set(ctx.q_all("count_filter"))
        positions = [
            p
            for p in self.exchange.positions(user)
            if (not ticker or p.ticker == ticker) and (not event_ticker or p.event_ticker == event_ticker)
        ]
        if "position" in count_filter:
            positions = [p for p in positions if p.position_e2 != 0]
        if "total_traded" in count_filter:
            positions = [p for p in positions if p.total_traded_e6 != 0]
        chunk, cursor = page(ctx, positions, lambda p: p.ticker, max_limit=1000)
        by_event: dict[str, list] = defaultdict(list)
        for p in chunk:
            by_event[p.event_ticker].append(p)
        return Reply(
            200,
            {
                "market_positions": [wire.position_json(p) for p in chunk],
                "event_positions": [wire.event_position_json(e, ps) for e, ps in sorted(by_event.items())],
                "cursor": cursor,
            },
        )

    def get_orders(self, ctx: RequestContext) -> Reply:
        user = ctx.require_user()
        status = ctx.q("status")
        if status and status not in {s.value for s in OrderStatus}:
            raise bad_request(f"invalid status {status!r}")
        orders = self.exchange.orders(
            user, ticker=ctx.q("ticker") or None, status=OrderStatus(status) if status else None
        )
        event_ticker = ctx.q("event_ticker")
        if event_ticker:
            markets = {m.ticker for m in self.exchange.markets() if m.event_ticker == event_ticker}
            orders = [o for o in orders if o.ticker in markets]
        min_ts, max_ts = ctx.q_int("min_ts"), ctx.q_int("max_ts")
        orders = [
            o
            for o in orders
            if (min_ts is None or o.created_ts_ms >= min_ts * 1000)
            and (max_ts is None or o.created_ts_ms <= max_ts * 1000)
        ]
        # Newest first; the (created time, id) pair is unique and monotone in that order.
        chunk, cursor = page(ctx, orders, lambda o: [o.created_ts_ms, o.order_id], max_limit=1000)
        return Reply(200, {"orders": [wire.order_json(o) for o in chunk], "cursor": cursor})

    def get_order(self, ctx: RequestContext) -> Reply:
        order = self.exchange.get_order(ctx.require_user(), ctx.params["order_id"])
        return Reply(200, {"order": wire.order_json(order)})

    def get_fills(self, ctx: RequestContext) -> Reply:
        user = ctx.require_user()
        fills = self.exchange.fills(
            user,
            ticker=ctx.q("ticker") or None,
            order_id=ctx.q("order_id") or None,
            min_ts=ctx.q_int("min_ts"),
            max_ts=ctx.q_int("max_ts"),
        )
        chunk, cursor = page(ctx, fills, lambda f: f.seq, max_limit=1000)
        return Reply(200, {"fills": [wire.fill_json(f) for f in chunk], "cursor": cursor})

    def get_settlements(self, ctx: RequestContext) -> Reply:
        user = ctx.require_user()
        ticker, event_ticker = ctx.q("ticker"), ctx.q("event_ticker")
        min_ts, max_ts = ctx.q_int("min_ts"), ctx.q_int("max_ts")
        settlements = [
            s
            for s in self.exchange.settlements(user)
            if (not ticker or s.ticker == ticker)
            and (not event_ticker or s.event_ticker == event_ticker)
            and (min_ts is None or s.settled_ts_ms >= min_ts * 1000)
            and (max_ts is None or s.settled_ts_ms <= max_ts * 1000)
        ]
        chunk, cursor = page(ctx, settlements, lambda s: [s.settled_ts_ms, s.ticker], max_limit=1000)
        return Reply(200, {"settlements": [wire.settlement_json(s) for s in chunk], "cursor": cursor})

    # --- V2 order entry --------------------------------------------------------------------------------

    def create_order(self, ctx: RequestContext) -> Reply:
        result = self.exchange.place_order(ctx.require_user(), parse_order_request(ctx.json_body()))
        return Reply(201, _created_body(result, self._now_ms()))

    def cancel_order(self, ctx: RequestContext) -> Reply:
        result = self.exchange.cancel_order(
            ctx.require_user(), ctx.params["order_id"], ticker=ctx.q("market_ticker") or None
        )
        return Reply(200, _cancelled_body(result, self._now_ms()))

    def cancel_all(self, ctx: RequestContext) -> Reply:
        self.exchange.cancel_all(ctx.require_user())
        return Reply(204)

    def amend_order(self, ctx: RequestContext) -> Reply:
        body = ctx.json_body()
        expiration = body_int(body, "expiration_time")
        result = self.exchange.amend_order(
            ctx.require_user(),
            ctx.params["order_id"],
            ticker=body_str(body, "ticker") or "",
            side=_enum(Side, body, "side"),
            price_e4=body_price(body, "price"),
            count_e2=body_count(body, "count") or 0,
            client_order_id=body_str(body, "client_order_id", required=False),
            updated_client_order_id=body_str(body, "updated_client_order_id", required=False),
            expiration_ts=expiration,
        )
        reply = _created_body(result, self._now_ms())
        reply["fill_count"] = format_count(result.fill_count_e2)
        return Reply(200, reply)

    def decrease_order(self, ctx: RequestContext) -> Reply:
        body = ctx.json_body()
        reduce_by = body_count(body, "reduce_by", required=False)
        reduce_to = body_count(body, "reduce_to", required=False)
        if (reduce_by is None) == (reduce_to is None):
            raise bad_request("exactly one of reduce_by and reduce_to is required", "invalid_parameters")
        user = ctx.require_user()
        market_ticker = body_str(body, "market_ticker", required=False)
        if market_ticker and self.exchange.get_order(user, ctx.params["order_id"]).ticker != market_ticker:
            raise errors.order_ticker_mismatch()
        result = self.exchange.decrease_order(
            user, ctx.params["order_id"], reduce_by_e2=reduce_by, reduce_to_e2=reduce_to
        )
        return Reply(
            200,
            {
                "order_id": result.order.order_id,
                "client_order_id": result.order.client_order_id,
                "remaining_count": format_count(result.order.remaining_count_e2),
                "ts_ms": self._now_ms(),
            },
        )

    def batch_create(self, ctx: RequestContext) -> Reply:
        items = ctx.json_body().get("orders")
        if not isinstance(items, list) or not items:
            raise bad_request("orders must be a non-empty list", "invalid_parameters")
        parsed: list[OrderRequest | ExchangeError] = []
        for item in items:
            try:
                parsed.append(parse_order_request(item))
            except ExchangeError as exc:
                parsed.append(exc)
        valid = [p for p in parsed if isinstance(p, OrderRequest)]
        results = iter(self.exchange.batch_create(ctx.require_user(), valid))
        now = self._now_ms()
        out = []
        for p in parsed:
            outcome = next(results) if isinstance(p, OrderRequest) else p
            if isinstance(outcome, ExchangeError):
                client_id = p.client_order_id if isinstance(p, OrderRequest) else None
                out.append({"client_order_id": client_id, "error": error_reply(outcome).body["error"]})
            else:
                out.append({**_created_body(outcome, now), "error": None})
        return Reply(201, {"orders": out})

    def batch_cancel(self, ctx: RequestContext) -> Reply:
        items = ctx.json_body().get("orders")
        if not isinstance(items, list) or not items:
            raise bad_request("orders must be a non-empty list", "invalid_parameters")
        ids = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("order_id"), str):
                raise bad_request("each item needs an order_id string", "invalid_parameters")
            ids.append(item["order_id"])
        now = self._now_ms()
        out = []
        for order_id, outcome in zip(ids, self.exchange.batch_cancel(ctx.require_user(), ids), strict=True):
            if isinstance(outcome, ExchangeError):
                out.append({"order_id": order_id, "reduced_by": "0.00", "error": error_reply(outcome).body["error"]})
            else:
                out.append({**_cancelled_body(outcome, now), "error": None})
        return Reply(200, {"orders": out})

    # --- order groups ----------------------------------------------------------------------------------

    def list_groups(self, ctx: RequestContext) -> Reply:
        groups = self.exchange.order_groups(ctx.require_user())
        return Reply(200, {"order_groups": [wire.order_group_json(g) for g in groups]})

    def create_group(self, ctx: RequestContext) -> Reply:
        group = self.exchange.create_order_group(ctx.require_user(), _contracts_limit(ctx.json_body()))
        return Reply(201, {"order_group_id": group.group_id, "subaccount": 0, "exchange_index": 0})

    def get_group(self, ctx: RequestContext) -> Reply:
        group = self.exchange.get_order_group(ctx.require_user(), ctx.params["order_group_id"])
        return Reply(
            200,
            {
                "is_auto_cancel_enabled": group.is_auto_cancel_enabled,
                "orders": list(group.order_ids),
                "contracts_limit_fp": format_count(group.contracts_limit_e2),
                "exchange_index": 0,
            },
        )

    def delete_group(self, ctx: RequestContext) -> Reply:
        self.exchange.delete_order_group(ctx.require_user(), ctx.params["order_group_id"])
        return Reply(200, {})

    def reset_group(self, ctx: RequestContext) -> Reply:
        self.exchange.reset_order_group(ctx.require_user(), ctx.params["order_group_id"])
        return Reply(200, {})

    def trigger_group(self, ctx: RequestContext) -> Reply:
        self.exchange.trigger_order_group(ctx.require_user(), ctx.params["order_group_id"])
        return Reply(200, {})

    def limit_group(self, ctx: RequestContext) -> Reply:
        self.exchange.set_order_group_limit(
            ctx.require_user(), ctx.params["order_group_id"], _contracts_limit(ctx.json_body())
        )
        return Reply(200, {})

    # --- account ---------------------------------------------------------------------------------------

    def account_limits(self, ctx: RequestContext) -> Reply:
        ctx.require_user()
        budget = TIERS[self.tier]
        return Reply(
            200,
            {
                "usage_tier": self.tier,
                "read": {"refill_rate": budget.read_per_s, "bucket_capacity": budget.read_capacity},
                "write": {"refill_rate": budget.write_per_s, "bucket_capacity": budget.write_capacity},
                "grants": [],
            },
        )

    def endpoint_costs(self, ctx: RequestContext) -> Reply:
        costs = [
            {"method": "DELETE", "path": "/trade-api/v2/portfolio/events/orders/{order_id}", "cost": CANCEL_COST},
            {"method": "DELETE", "path": "/trade-api/v2/portfolio/events/orders/batched", "cost": CANCEL_COST},
            {"method": "GET", "path": "/trade-api/v2/portfolio/orders/{order_id}", "cost": SINGLE_ORDER_GET_COST},
        ]
        return Reply(200, {"default_cost": DEFAULT_COST, "endpoint_costs": costs})
