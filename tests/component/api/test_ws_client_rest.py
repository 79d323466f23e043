"""REST and the WebSocket together: REST-only mode serves books end to end, a healthy stream costs zero REST
reads, and a dead stream falls back to REST."""

from __future__ import annotations

from kalshi_mm.api.ratelimit import Priority
from kalshi_mm.api.rest_fallback import RestOrderbookFallback
from kalshi_mm.api.types import BookSide, OrderRequest, SelfTradePrevention
from kalshi_mm.clock import LiveClock
from kalshi_mm.testing.order_flow import random_flow

from .ws_client_support import (
    TAKERS,
    exchange_levels,
    wait_books_equal,
    wait_until,
    ws_config,
    ws_venue,
)

REAL = LiveClock()
QUOTING_S = 3.0


def _book_reads(calls: dict[str, int]) -> dict[str, int]:
    return {k: n for k, n in calls.items() if k.startswith("GET /markets")}


def test_rest_only_mode_serves_books_from_rest() -> None:
    with ws_venue(n_markets=2) as venue:
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 400, seed=51)
        config = ws_config(enabled=False)
        rest = venue.rest()
        store = venue.store(config, rest)
        client = venue.client(store, config, rest=rest).start()
        assert not client.enabled and not client.running and not client.healthy  # nothing connects

        for ticker in venue.tickers:
            assert store.get_orderbook(ticker) is None  # without allow_rest, no REST
            view = store.get_orderbook(ticker, allow_rest=True)
            assert view is not None and view.source == "rest"
            assert view.to_levels() == exchange_levels(venue.exchange, ticker)
        calls = _book_reads(venue.rest_calls())
        assert calls == {"GET /markets/{ticker}/orderbook 200": len(venue.tickers)}

        # The books move; after the cache's time to live a read fetches again and sees the change.
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 200, seed=52)
        venue.clock.advance(2.0)
        ticker = venue.tickers[0]
        assert store.get_orderbook(ticker, allow_rest=True).to_levels() == exchange_levels(venue.exchange, ticker)


def test_fallback_adapter_matches_the_rest_book() -> None:
    with ws_venue(n_markets=1) as venue:
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 300, seed=53)
        ticker = venue.tickers[0]
        snapshot = RestOrderbookFallback(venue.rest(), priority=Priority.ORDER).get_orderbook(ticker)
        assert (snapshot.yes_bids, snapshot.yes_asks) == exchange_levels(venue.exchange, ticker)
        assert snapshot.sid is None and snapshot.market_ticker == ticker
        assert snapshot.received_ts <= venue.clock.time()


def test_a_healthy_stream_costs_zero_rest_reads() -> None:
    """A quoting-like loop reads every book through the store (REST allowed) and places and cancels orders over
    REST for a few seconds: the exchange sees order entry from the account, and not one market-data read."""
    with ws_venue(n_markets=3) as venue:
        config = ws_config()
        rest = venue.rest()
        store = venue.store(config, rest)
        client = venue.client(store, config, rest=rest)
        client.add_markets(venue.tickers)
        client.start()
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 300, seed=54)
        wait_books_equal(store, venue.exchange, venue.tickers)

        reads = orders = 0
        deadline = REAL.monotonic() + QUOTING_S
        while REAL.monotonic() < deadline:
            for ticker in venue.tickers:
                view = store.get_orderbook(ticker, allow_rest=True)
                assert view is not None and view.source == "ws"
                reads += 1
                if reads % 50 == 0 and view.best_bid is not None and view.best_bid > 200:
                    ack = rest.create_order(
                        OrderRequest(
                            ticker,
                            BookSide.BID,
                            view.best_bid - 100,
                            100,
                            post_only=True,
                            self_trade_prevention=SelfTradePrevention.MAKER,
                        )
                    )
                    rest.cancel_order(ack.order_id, ticker=ticker)
                    orders += 1
            random_flow(venue.exchange, venue.tickers, list(TAKERS), 5, seed=reads)
            REAL.wait(0.005)

        calls = venue.rest_calls()
        assert orders > 5 and reads > 500
        assert _book_reads(calls) == {}
        assert any(k.startswith("POST") for k in calls) and any(k.startswith("DELETE") for k in calls)
        assert store.stats()["rest_fetches"] == 0


def test_a_dead_stream_falls_back_to_rest() -> None:
    with ws_venue(n_markets=1) as venue:
        config = ws_config()
        rest = venue.rest()
        store = venue.store(config, rest)
        client = venue.client(store, config, rest=rest)
        client.add_markets(venue.tickers)
        client.start()
        ticker = venue.tickers[0]
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 200, seed=55)
        wait_books_equal(store, venue.exchange, venue.tickers)
        client.stop()
        assert not client.healthy and not store.ws_healthy
        assert store.get_orderbook(ticker) is None  # stale once the link is gone
        view = store.get_orderbook(ticker, allow_rest=True)
        assert view is not None and view.source == "rest"
        assert view.to_levels() == exchange_levels(venue.exchange, ticker)
        wait_until(lambda: not client.running, what="the thread to end")
