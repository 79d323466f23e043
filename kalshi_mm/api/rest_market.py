"""Public market data of :class:`~kalshi_mm.api.rest.KalshiTradingAPI`: exchange status, markets, prices,
orderbooks, trades, series, events, candlesticks (NOTES.md §3.1-3.6). All GETs: idempotent, retried, and
rate-limited at :attr:`Priority.MARKET_DATA` so scans never crowd out order entry."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kalshi_mm.api.ratelimit import Priority
from kalshi_mm.api.transport import Reply, RestTransport, paginate
from kalshi_mm.api.types import Candlestick, Event, ExchangeStatus, Market, MarketPrice, Orderbook, Page, Series, Trade
from kalshi_mm.api.wire import (
    items_of,
    parse_candlesticks,
    parse_event,
    parse_exchange_status,
    parse_market,
    parse_orderbook,
    parse_series,
    parse_trade,
)

__all__ = ["MarketDataMixin", "cursor_of", "member", "query"]

MAX_MARKETS_PAGE = 1000
MAX_EVENTS_PAGE = 200
MAX_TRADES_PAGE = 1000
MAX_ORDERBOOKS_PER_REQUEST = 100


def query(**values: Any) -> dict[str, Any]:
    """Query parameters without the unset ones; booleans as Kalshi spells them."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def member(reply: Reply, key: str) -> Any:
    """``reply.data[key]``, or None (which the parser then reports as a malformed object)."""
    return reply.data.get(key) if isinstance(reply.data, dict) else None


def cursor_of(reply: Reply) -> str:
    cursor = member(reply, "cursor")
    return cursor if isinstance(cursor, str) else ""


class MarketDataMixin:
    """Market-data methods; the composing class provides ``_http``."""

    _http: RestTransport

    def _get(self, path: str, params: dict[str, Any] | None = None, priority: Priority = Priority.MARKET_DATA) -> Reply:
        return self._http.request("GET", path, params=params, idempotent=True, priority=priority)

    def get_exchange_status(self) -> ExchangeStatus:
        reply = self._get("/exchange/status")
        return parse_exchange_status(reply.data, reply.received_ts)

    def get_market(self, ticker: str, *, priority: Priority = Priority.MARKET_DATA) -> Market:
        """One market (NotFoundError if unknown). A quoting loop may pass ``Priority.ORDER``."""
        reply = self._get(f"/markets/{ticker}", priority=priority)
        return parse_market(member(reply, "market"), reply.received_ts)

    def get_price(self, ticker: str, *, priority: Priority = Priority.MARKET_DATA) -> MarketPrice:
        """YES/NO bid, ask and mid of one market (1/10,000 dollar; an empty side is None)."""
        return self.get_market(ticker, priority=priority).price

    def get_markets(
        self,
        *,
        status: str | None = None,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        tickers: Sequence[str] | None = None,
        limit: int = MAX_MARKETS_PAGE,
        cursor: str = "",
        **filters: int,
    ) -> Page[Market]:
        """One page of ``GET /markets``. ``status``: unopened|open|paused|closed|settled; ``filters`` are the
        Unix-second bounds (``min_close_ts``, ``max_close_ts``, ``min_updated_ts``, ...)."""
        params = query(
            status=status,
            event_ticker=event_ticker,
            series_ticker=series_ticker,
            tickers=",".join(tickers) if tickers else None,
            limit=limit,
            cursor=cursor or None,
            **filters,
        )
        reply = self._get("/markets", params)
        markets = tuple(parse_market(m, reply.received_ts) for m in items_of(reply.data, "markets", "markets"))
        return Page(markets, cursor_of(reply))

    def iter_markets(self, **filters: Any) -> Iterator[Market]:
        """Every market matching ``filters`` (the keyword arguments of :meth:`get_markets`), page after page."""

        def fetch(cursor: str) -> tuple[list[Market], str]:
            page = self.get_markets(**filters, cursor=cursor)
            return list(page.items), page.cursor

        return paginate(fetch, "markets")

    def get_all_open_markets(
        self, *, series_ticker: str | None = None, event_ticker: str | None = None
    ) -> list[Market]:
        """Every open market, each exactly once (pages of 1,000). A market seen on two pages, which a listing
        that shifts while we page can produce, is kept once, in its first position, with its latest data."""
        by_ticker: dict[str, Market] = {}
        for market in self.iter_markets(status="open", series_ticker=series_ticker, event_ticker=event_ticker):
            by_ticker[market.ticker] = market
        return list(by_ticker.values())

    def get_orderbook(self, ticker: str, depth: int = 0, *, priority: Priority = Priority.MARKET_DATA) -> Orderbook:
        """Both legs' bids (``depth`` 0 = all levels, else 1..100)."""
        reply = self._get(f"/markets/{ticker}/orderbook", query(depth=depth or None), priority)
        return parse_orderbook(reply.data, ticker, reply.received_ts)

    def get_orderbooks(self, tickers: Sequence[str]) -> list[Orderbook]:
        """Full books of many markets, 100 per request, in the order asked."""
        out: list[Orderbook] = []
        for start in range(0, len(tickers), MAX_ORDERBOOKS_PER_REQUEST):
            chunk = list(tickers[start : start + MAX_ORDERBOOKS_PER_REQUEST])
            reply = self._get("/markets/orderbooks", {"tickers": chunk})
            for raw in items_of(reply.data, "orderbooks", "orderbooks"):
                ticker = raw.get("ticker", "?") if isinstance(raw, dict) else "?"
                out.append(parse_orderbook(raw, ticker, reply.received_ts))
        return out

    def get_trades(
        self,
        ticker: str | None = None,
        *,
        min_ts: int | None = None,
        max_ts: int | None = None,
        limit: int = MAX_TRADES_PAGE,
        cursor: str = "",
    ) -> Page[Trade]:
        """One page of public trades, newest first (``min_ts``/``max_ts`` Unix seconds, inclusive)."""
        params = query(ticker=ticker, min_ts=min_ts, max_ts=max_ts, limit=limit, cursor=cursor or None)
        reply = self._get("/markets/trades", params)
        return Page(tuple(parse_trade(t) for t in items_of(reply.data, "trades", "trades")), cursor_of(reply))

    def get_series(self, series_ticker: str) -> Series:
        reply = self._get(f"/series/{series_ticker}")
        return parse_series(member(reply, "series"))

    def get_series_list(
        self, *, category: str | None = None, tags: Sequence[str] | None = None, include_volume: bool = False
    ) -> list[Series]:
        """Every series (``category`` matches any of a series' categories)."""
        params = query(category=category, tags=",".join(tags) if tags else None, include_volume=include_volume or None)
        reply = self._get("/series", params)
        return [parse_series(s) for s in items_of(reply.data, "series", "series")]

    def get_event(self, event_ticker: str, *, with_nested_markets: bool = True) -> Event:
        reply = self._get(f"/events/{event_ticker}", query(with_nested_markets=with_nested_markets))
        body = reply.data if isinstance(reply.data, dict) else {}
        return parse_event(body.get("event"), reply.received_ts, items_of(body, "markets", f"event {event_ticker}"))

    def get_events(
        self,
        *,
        status: str | None = None,
        series_ticker: str | None = None,
        with_nested_markets: bool = False,
        limit: int = MAX_EVENTS_PAGE,
        cursor: str = "",
    ) -> Page[Event]:
        """One page of events (``status``: unopened|open|closed|settled; at most 200 per page)."""
        params = query(
            status=status,
            series_ticker=series_ticker,
            with_nested_markets=with_nested_markets,
            limit=limit,
            cursor=cursor or None,
        )
        reply = self._get("/events", params)
        events = tuple(parse_event(e, reply.received_ts) for e in items_of(reply.data, "events", "events"))
        return Page(events, cursor_of(reply))

    def get_candlesticks(
        self, series_ticker: str, ticker: str, *, start_ts: int, end_ts: int, period_interval_min: int = 1
    ) -> list[Candlestick]:
        """Candles of ``period_interval_min`` (1, 60 or 1440) minutes ending in (start_ts, end_ts], oldest first."""
        params = query(start_ts=start_ts, end_ts=end_ts, period_interval=period_interval_min)
        reply = self._get(f"/series/{series_ticker}/markets/{ticker}/candlesticks", params)
        return parse_candlesticks(reply.data, ticker)
