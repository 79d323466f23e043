"""Order groups of :class:`~kalshi_mm.api.rest.KalshiTradingAPI` (NOTES.md §3.10): a contracts-matched limit per
group, Kalshi's own kill switch. Creating a group is not idempotent (retried only when certainly not executed);
reset, trigger, limit and delete are, and are retried like GETs."""

from __future__ import annotations

from kalshi_mm.api.errors import WireError
from kalshi_mm.api.ratelimit import Priority
from kalshi_mm.api.rest_market import member
from kalshi_mm.api.transport import RestTransport
from kalshi_mm.api.types import OrderGroup
from kalshi_mm.api.wire import items_of
from kalshi_mm.api.wire_portfolio import parse_order_group
from kalshi_mm.units import format_count

__all__ = ["OrderGroupsMixin"]

GROUPS = "/portfolio/order_groups"


class OrderGroupsMixin:
    """Order-group methods; the composing class provides ``_http``."""

    _http: RestTransport

    def create_order_group(self, contracts_limit_e2: int) -> str:
        """A group whose orders are all cancelled once ``contracts_limit_e2`` (1/100 contract) match within
        Kalshi's rolling window; returns its id."""
        body = {"contracts_limit_fp": format_count(contracts_limit_e2)}
        reply = self._http.request("POST", f"{GROUPS}/create", body=body, idempotent=False)
        group_id = member(reply, "order_group_id")
        if not isinstance(group_id, str) or not group_id:
            raise WireError(f"order group create: order_group_id missing from {reply.data!r}"[:200])
        return group_id

    def get_order_groups(self) -> list[OrderGroup]:
        reply = self._http.request("GET", GROUPS, idempotent=True)
        return [parse_order_group(g) for g in items_of(reply.data, "order_groups", "order groups")]

    def get_order_group(self, order_group_id: str) -> OrderGroup:
        reply = self._http.request("GET", f"{GROUPS}/{order_group_id}", idempotent=True)
        return parse_order_group(reply.data, order_group_id)

    def reset_order_group(self, order_group_id: str) -> None:
        """Zero the group's matched counter and accept orders in it again."""
        self._http.request("PUT", f"{GROUPS}/{order_group_id}/reset", idempotent=True)

    def trigger_order_group(self, order_group_id: str) -> None:
        """Trip the group by hand: cancel its orders and block new ones until reset."""
        self._http.request("PUT", f"{GROUPS}/{order_group_id}/trigger", idempotent=True, priority=Priority.CANCEL)

    def set_order_group_limit(self, order_group_id: str, contracts_limit_e2: int) -> None:
        """Change the limit (1/100 contract); a limit already exceeded trips the group."""
        self._http.request(
            "PUT",
            f"{GROUPS}/{order_group_id}/limit",
            body={"contracts_limit_fp": format_count(contracts_limit_e2)},
            idempotent=True,
        )

    def delete_order_group(self, order_group_id: str) -> None:
        """Cancel the group's orders and delete it."""
        self._http.request("DELETE", f"{GROUPS}/{order_group_id}", idempotent=True, priority=Priority.CANCEL)
