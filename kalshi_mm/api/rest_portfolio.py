"""Portfolio reads of :class:`~kalshi_mm.api.rest.KalshiTradingAPI`: balance, positions, orders, fills,
settlements (NOTES.md §3.7). GETs: idempotent, retried, rate-limited at :attr:`Priority.ORDER` because order
entry and reconciliation depend on them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kalshi_mm.api.ratelimit import Priority
from kalshi_mm.api.rest_market import cursor_of, member, query
from kalshi_mm.api.transport import Reply, RestTransport, paginate
from kalshi_mm.api.types import Balance, Fill, MarketPosition, Order, OrderStatus, Page, Positions, Settlement
from kalshi_mm.api.wire import items_of
from kalshi_mm.api.wire_portfolio import parse_balance, parse_fill, parse_order, parse_positions, parse_settlement

__all__ = ["PortfolioMixin"]

MAX_PAGE = 1000


class PortfolioMixin:
    """Portfolio reads; the composing class provides ``_http``."""

    _http: RestTransport

    def _read(self, path: str, params: dict[str, Any] | None = None) -> Reply:
        return self._http.request("GET", path, params=params, idempotent=True, priority=Priority.ORDER)

    def get_balance(self) -> Balance:
        """Available cash (collateral of resting orders already deducted), 1/10,000 dollar."""
        reply = self._read("/portfolio/balance")
        return parse_balance(reply.data, reply.received_ts)

    def get_positions(self, ticker: str | None = None, *, event_ticker: str | None = None) -> Positions:
        """All unsettled positions (every page)."""

        def fetch(cursor: str) -> tuple[list[Positions], str]:
            reply = self._read(
                "/portfolio/positions",
                query(ticker=ticker, event_ticker=event_ticker, limit=MAX_PAGE, cursor=cursor or None),
            )
            page, next_cursor = parse_positions(reply.data, reply.received_ts)
            return [page], next_cursor

        pages = list(paginate(fetch, "positions"))
        return Positions(
            tuple(m for p in pages for m in p.markets), tuple(e for p in pages for e in p.events), pages[-1].received_ts
        )

    def get_position(self, ticker: str) -> MarketPosition:
        """Our position in one market (+ YES, − NO, 1/100 contract); all zeros when we hold none."""
        for position in self.get_positions(ticker).markets:
            if position.ticker == ticker:
                return position
        return MarketPosition(ticker, 0, 0, 0, 0, 0, None)

    def get_orders(
        self,
        ticker: str | None = None,
        *,
        status: OrderStatus | None = OrderStatus.RESTING,
        event_ticker: str | None = None,
        min_ts: int | None = None,
    ) -> list[Order]:
        """Our orders (default: resting), every page, newest first; ``status=None`` for all statuses."""
        return list(self.iter_orders(ticker, status=status, event_ticker=event_ticker, min_ts=min_ts))

    def iter_orders(
        self,
        ticker: str | None = None,
        *,
        status: OrderStatus | None = None,
        event_ticker: str | None = None,
        min_ts: int | None = None,
    ) -> Iterator[Order]:
        def fetch(cursor: str) -> tuple[list[Order], str]:
            params = query(
                ticker=ticker,
                status=status.value if status else None,
                event_ticker=event_ticker,
                min_ts=min_ts,
                limit=MAX_PAGE,
                cursor=cursor or None,
            )
            reply = self._read("/portfolio/orders", params)
            orders = [parse_order(o, reply.received_ts) for o in items_of(reply.data, "orders", "orders")]
            return orders, cursor_of(reply)

        return paginate(fetch, "orders")

    def get_order(self, order_id: str) -> Order:
        """One order by id (2 tokens); NotFoundError if unknown."""
        reply = self._read(f"/portfolio/orders/{order_id}")
        return parse_order(member(reply, "order"), reply.received_ts)

    def find_order_by_client_id(self, ticker: str, client_order_id: str, *, min_ts: int | None = None) -> Order | None:
        """Our order on ``ticker`` carrying ``client_order_id`` (any status), or None: how a create whose
        response was lost is resolved. ``min_ts`` (Unix s) bounds the search to recent orders."""
        for order in self.iter_orders(ticker, min_ts=min_ts):
            if order.client_order_id == client_order_id:
                return order
        return None

    def get_fills(
        self,
        ticker: str | None = None,
        *,
        order_id: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
        limit: int = MAX_PAGE,
        cursor: str = "",
    ) -> Page[Fill]:
        """One page of our fills, newest first (``min_ts``/``max_ts`` Unix seconds, inclusive)."""
        params = query(
            ticker=ticker, order_id=order_id, min_ts=min_ts, max_ts=max_ts, limit=limit, cursor=cursor or None
        )
        reply = self._read("/portfolio/fills", params)
        return Page(tuple(parse_fill(f) for f in items_of(reply.data, "fills", "fills")), cursor_of(reply))

    def iter_fills_since(self, min_ts: float, ticker: str | None = None) -> Iterator[Fill]:
        """Every fill at or after ``min_ts`` (Unix s), lazily, page by page, newest first as Kalshi lists them.
        Fills are unique by ``fill_id``: reconcile by it, not by position in the stream."""
        since = int(min_ts)  # the query takes whole seconds; flooring only widens the window

        def fetch(cursor: str) -> tuple[list[Fill], str]:
            page = self.get_fills(ticker, min_ts=since, cursor=cursor)
            return [f for f in page.items if f.created_ts >= min_ts], page.cursor

        return paginate(fetch, "fills")

    def get_settlements(
        self,
        ticker: str | None = None,
        *,
        event_ticker: str | None = None,
        min_ts: int | None = None,
        max_ts: int | None = None,
    ) -> list[Settlement]:
        """Our settlements (every page), newest first."""

        def fetch(cursor: str) -> tuple[list[Settlement], str]:
            params = query(
                ticker=ticker,
                event_ticker=event_ticker,
                min_ts=min_ts,
                max_ts=max_ts,
                limit=MAX_PAGE,
                cursor=cursor or None,
            )
            reply = self._read("/portfolio/settlements", params)
            return [parse_settlement(s) for s in items_of(reply.data, "settlements", "settlements")], cursor_of(reply)

        return list(paginate(fetch, "settlements"))
