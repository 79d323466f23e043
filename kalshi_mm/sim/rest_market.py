"""Public market-data endpoints of the embedded exchange: exchange, markets, orderbooks, trades, events,
series, candlesticks (OpenAPI 3.31 shapes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kalshi_mm.sim import wire
from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.history import PERIODS_MIN, MarketHistory
from kalshi_mm.sim.http import Reply, RequestContext, RestApp, bad_request
from kalshi_mm.sim.model import Market
from kalshi_mm.sim.rest_common import page
from kalshi_mm.units import format_count, format_price

__all__ = ["MarketDataApi"]

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MARKET_STATUS_FILTERS = ("unopened", "open", "paused", "closed", "settled")
EVENT_STATUS_FILTERS = ("unopened", "open", "closed", "settled")


class MarketDataApi:
    """Registers the public endpoints on a :class:`RestApp`; stateless apart from its collaborators."""

    def __init__(
        self,
        exchange: Exchange,
        history: MarketHistory,
        volume_24h: Callable[[str, int], int] | None = None,
        maintenance_windows: Callable[[], list[tuple[float, float]]] | None = None,
    ):
        self.exchange = exchange
        self.history = history
        self.maintenance_windows = maintenance_windows or list
        # (ticker, now_ms) -> 24h volume in 1/100 contract. The market simulation supplies one that includes the
        # volume its catalogue says a market traded before the exchange started; otherwise trades seen here.
        self.volume_24h = volume_24h or history.volume_24h_e2

    def register(self, app: RestApp) -> None:
        app.add("GET", "/exchange/status", self.exchange_status, auth=False)
        app.add("GET", "/exchange/schedule", self.exchange_schedule, auth=False)
        app.add("GET", "/markets", self.get_markets, auth=False)
        app.add("GET", "/markets/trades", self.get_trades, auth=False)
        app.add("GET", "/markets/orderbooks", self.get_orderbooks, auth=False)
        app.add("GET", "/markets/{ticker}", self.get_market, auth=False)
        app.add("GET", "/markets/{ticker}/orderbook", self.get_orderbook, auth=False)
        app.add("GET", "/events", self.get_events, auth=False)
        app.add("GET", "/events/{event_ticker}", self.get_event, auth=False)
        app.add("GET", "/series", self.get_series_list, auth=False)
        app.add("GET", "/series/{series_ticker}", self.get_series, auth=False)
        app.add("GET", "/series/{series_ticker}/markets/{ticker}/candlesticks", self.get_candlesticks, auth=False)

    # --- rendering -------------------------------------------------------------------------------------

    def market_body(self, market: Market) -> dict[str, Any]:
        now_ms = self.exchange.clock.time_ms()
        return wire.market_json(
            market,
            self.exchange.top_of_book(market.ticker),
            volume_24h_e2=self.volume_24h(market.ticker, now_ms),
            previous=self.history.previous(market.ticker, now_ms, market.last_price_e4),
        )

    def _market(self, ticker: str) -> Market:
        try:
            return self.exchange.market(ticker)
        except ExchangeError:
            raise ExchangeError(404, "not_found", f"market {ticker} not found") from None

    # --- exchange --------------------------------------------------------------------------------------

    def exchange_status(self, ctx: RequestContext) -> Reply:
        status = self.exchange.status()
        return Reply(
            200,
            {
                "exchange_active": status.exchange_active,
                "trading_active": status.trading_active,
                "exchange_estimated_resume_time": None,
            },
        )

    def exchange_schedule(self, ctx: RequestContext) -> Reply:
        # The embedded exchange trades around the clock; its pauses are the scenario's maintenance windows.
        always = [{"open_time": "00:00", "close_time": "23:59"}]
        week = {"start_time": "2026-01-01T00:00:00Z", "end_time": "2099-12-31T23:59:59Z"}
        week.update({day: always for day in _DAYS})
        windows = [
            {"start_datetime": wire.rfc3339(start), "end_datetime": wire.rfc3339(end)}
            for start, end in self.maintenance_windows()
        ]
        return Reply(200, {"schedule": {"standard_hours": [week], "maintenance_windows": windows}})

    # --- markets ---------------------------------------------------------------------------------------

    def get_markets(self, ctx: RequestContext) -> Reply:
        status = ctx.q("status")
        if status and status not in MARKET_STATUS_FILTERS:
            raise bad_request(f"invalid status filter {status!r}; one of {', '.join(MARKET_STATUS_FILTERS)}")
        tickers = set(ctx.q_all("tickers"))
        event_ticker, series_ticker = ctx.q("event_ticker"), ctx.q("series_ticker")
        bounds = {
            name: ctx.q_int(name)
            for name in (
                "min_close_ts",
                "max_close_ts",
                "min_created_ts",
                "max_created_ts",
                "min_settled_ts",
                "max_settled_ts",
                "min_updated_ts",
                "max_updated_ts",
            )
        }
        events = {e.event_ticker: e for e in self.exchange.events()} if series_ticker else {}
        selected = []
        for m in sorted(self.exchange.markets(), key=lambda m: m.ticker):
            if status and m.filter_status != status:
                continue
            if tickers and m.ticker not in tickers:
                continue
            if event_ticker and m.event_ticker != event_ticker:
                continue
            if series_ticker and getattr(events.get(m.event_ticker), "series_ticker", None) != series_ticker:
                continue
            if not _within(m.close_ts, bounds["min_close_ts"], bounds["max_close_ts"]):
                continue
            created = int(m.created_ts if m.created_ts is not None else m.open_ts)
            if not _within(created, bounds["min_created_ts"], bounds["max_created_ts"]):
                continue
            if (bounds["min_settled_ts"] or bounds["max_settled_ts"]) and (
                m.settlement_ts is None
                or not _within(int(m.settlement_ts), bounds["min_settled_ts"], bounds["max_settled_ts"])
            ):
                continue
            updated = m.updated_ts_ms // 1000
            if not _within(updated, bounds["min_updated_ts"], bounds["max_updated_ts"]):
                continue
            selected.append(m)
        chunk, cursor = page(ctx, selected, lambda m: m.ticker, max_limit=1000)
        return Reply(200, {"markets": [self.market_body(m) for m in chunk], "cursor": cursor})

    def get_market(self, ctx: RequestContext) -> Reply:
        return Reply(200, {"market": self.market_body(self._market(ctx.params["ticker"]))})

    def _orderbook_fp(self, ticker: str, depth: int) -> dict[str, Any]:
        view = self.exchange.orderbook(ticker, depth)
        return {
            "yes_dollars": [[format_price(p), format_count(c)] for p, c in view.yes],
            "no_dollars": [[format_price(p), format_count(c)] for p, c in view.no],
        }

    def get_orderbook(self, ctx: RequestContext) -> Reply:
        ticker = self._market(ctx.params["ticker"]).ticker
        depth = ctx.q_int("depth", 0, hi=100) or 0
        return Reply(200, {"orderbook_fp": self._orderbook_fp(ticker, max(depth, 0))})

    def get_orderbooks(self, ctx: RequestContext) -> Reply:
        tickers = ctx.q_all("tickers")
        if not tickers:
            raise bad_request("tickers is required")
        if len(tickers) > 100:
            raise bad_request("at most 100 tickers per request")
        books = [{"ticker": t, "orderbook_fp": self._orderbook_fp(self._market(t).ticker, 0)} for t in tickers]
        return Reply(200, {"orderbooks": books})

    def get_trades(self, ctx: RequestContext) -> Reply:
        ticker = ctx.q("ticker")
        trades = self.exchange.trades(ticker or None, ctx.q_int("min_ts"), ctx.q_int("max_ts"))
        if ctx.q("is_block_trade") is not None:
            wanted = ctx.q_bool("is_block_trade")
            trades = [t for t in trades if t.is_block_trade == wanted]
        chunk, cursor = page(ctx, trades, lambda t: t.seq, max_limit=1000)
        return Reply(200, {"trades": [wire.trade_json(t) for t in chunk], "cursor": cursor})

    # --- events and series -----------------------------------------------------------------------------

    def _event_status(self, markets: list[Market]) -> str:
        statuses = {m.filter_status for m in markets}
        if statuses & {"open", "paused"}:
            return "open"
        if statuses == {"settled"}:
            return "settled"
        if statuses <= {"unopened"}:
            return "unopened"
        return "closed"

    def get_events(self, ctx: RequestContext) -> Reply:
        status = ctx.q("status")
        if status and status not in EVENT_STATUS_FILTERS:
            raise bad_request(f"invalid status filter {status!r}; one of {', '.join(EVENT_STATUS_FILTERS)}")
        nested = ctx.q_bool("with_nested_markets")
        series_ticker, tickers = ctx.q("series_ticker"), set(ctx.q_all("tickers"))
        min_close = ctx.q_int("min_close_ts")
        by_event: dict[str, list[Market]] = {}
        for m in self.exchange.markets():
            by_event.setdefault(m.event_ticker, []).append(m)
        selected = []
        for event in sorted(self.exchange.events(), key=lambda e: e.event_ticker):
            markets = sorted(by_event.get(event.event_ticker, []), key=lambda m: m.ticker)
            if series_ticker and event.series_ticker != series_ticker:
                continue
            if tickers and event.event_ticker not in tickers:
                continue
            if status and self._event_status(markets) != status:
                continue
            if min_close is not None and not any(m.close_ts >= min_close for m in markets):
                continue
            selected.append((event, markets))
        chunk, cursor = page(ctx, selected, lambda em: em[0].event_ticker, max_limit=200, default_limit=200)
        events = [wire.event_json(e, [self.market_body(m) for m in ms] if nested else None) for e, ms in chunk]
        return Reply(200, {"events": events, "cursor": cursor})

    def get_event(self, ctx: RequestContext) -> Reply:
        ticker = ctx.params["event_ticker"]
        try:
            event = self.exchange.event(ticker)
        except ExchangeError:
            raise ExchangeError(404, "not_found", f"event {ticker} not found") from None
        markets = [
            self.market_body(m)
            for m in sorted(self.exchange.markets(), key=lambda m: m.ticker)
            if m.event_ticker == ticker
        ]
        nested = ctx.q_bool("with_nested_markets")
        return Reply(200, {"event": wire.event_json(event, markets if nested else None), "markets": markets})

    def _series_volume(self) -> dict[str, int]:
        series_of = {e.event_ticker: e.series_ticker for e in self.exchange.events()}
        volume: dict[str, int] = {}
        for m in self.exchange.markets():
            key = series_of.get(m.event_ticker, "")
            volume[key] = volume.get(key, 0) + m.volume_e2
        return volume

    def get_series_list(self, ctx: RequestContext) -> Reply:
        category, tags = ctx.q("category"), set(ctx.q_all("tags"))
        volume = self._series_volume() if ctx.q_bool("include_volume") else None
        out = []
        for s in sorted(self.exchange.series_list(), key=lambda s: s.ticker):
            if category and category != s.category and category not in s.categories:
                continue
            if tags and not tags & set(s.tags):
                continue
            out.append(wire.series_json(s, volume.get(s.ticker, 0) if volume is not None else None))
        return Reply(200, {"series": out})

    def get_series(self, ctx: RequestContext) -> Reply:
        ticker = ctx.params["series_ticker"]
        try:
            series = self.exchange.series(ticker)
        except ExchangeError:
            raise ExchangeError(404, "not_found", f"series {ticker} not found") from None
        volume = self._series_volume().get(ticker, 0) if ctx.q_bool("include_volume") else None
        return Reply(200, {"series": wire.series_json(series, volume)})

    def get_candlesticks(self, ctx: RequestContext) -> Reply:
        market = self._market(ctx.params["ticker"])
        event = self.exchange.event(market.event_ticker)
        if event.series_ticker != ctx.params["series_ticker"]:
            raise ExchangeError(
                404, "not_found", f"market {market.ticker} is not in series {ctx.params['series_ticker']}"
            )
        start, end = ctx.q_int("start_ts"), ctx.q_int("end_ts")
        period = ctx.q_int("period_interval")
        if start is None or end is None or period is None:
            raise bad_request("start_ts, end_ts and period_interval are required")
        if period not in PERIODS_MIN:
            raise bad_request(f"period_interval must be one of {PERIODS_MIN} minutes, got {period}")
        if end < start:
            raise bad_request("end_ts is before start_ts")
        candles = self.history.candlesticks(market.ticker, start, end, period, market.open_interest_e2)
        return Reply(200, {"ticker": market.ticker, "candlesticks": candles})


def _within(value: int, lo: int | None, hi: int | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)
