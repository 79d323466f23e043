"""The WebSocket client against a real embedded exchange: its store holds exactly the exchange's books and our
fills, and markets can be added and removed while it runs."""

from __future__ import annotations

from collections import Counter

from kalshi_mm.api.ws_subscriptions import ORDERBOOK
from kalshi_mm.testing.order_flow import random_flow

from .ws_client_support import (
    MM,
    TAKERS,
    book_mismatches,
    exchange_levels,
    fill_ids,
    paced,
    wait_books_equal,
    wait_until,
    ws_config,
    ws_venue,
)

N_ORDERS = 10_000


def test_store_books_equal_the_exchange_after_10k_orders() -> None:
    with ws_venue(n_markets=5) as venue:
        config = ws_config()
        rest = venue.rest()
        store = venue.store(config)
        client = venue.client(store, config, rest=rest)
        client.add_markets(venue.tickers)
        client.start()
        wait_until(lambda: not book_mismatches(store, venue.exchange, venue.tickers), what="first snapshots")

        users = [MM, *TAKERS]
        fills = random_flow(venue.exchange, venue.tickers, users, N_ORDERS, seed=11, pace=paced(4_000))
        assert fills > 500  # the flow trades, so books both grow and shrink

        wait_books_equal(store, venue.exchange, venue.tickers)
        expected = {f.fill_id for f in venue.exchange.fills(MM)}
        wait_until(lambda: set(fill_ids(store)) == expected, what="every fill of the account")
        assert all(n == 1 for n in Counter(fill_ids(store)).values())
        stats = client.stats()
        assert stats["malformed"] == stats["handler_errors"] == stats["gaps"] == stats["errors"] == 0
        assert stats["reconnects"] == 0 and stats["healthy"] == 1
        assert stats["messages"] > N_ORDERS
        # Every channel of the config is live, each on its own sid.
        sids = list(client.subscriptions().values())
        assert None not in sids and len(set(sids)) == len(sids) == 8
        for ticker in venue.tickers:
            assert store.get_ticker(ticker) is not None
        assert store.stats()["deltas_applied"] > N_ORDERS / 2


def test_markets_added_and_removed_while_running() -> None:
    with ws_venue(n_markets=4) as venue:
        config = ws_config(subscribe_user_fills=False, subscribe_positions=False)
        store = venue.store(config)
        client = venue.client(store, config)
        first, *later = venue.tickers
        client.start()  # nothing to stream yet: the market-filtered channels wait for markets
        assert client.add_markets([first]) == (first,)
        wait_until(lambda: store.get_orderbook(first) is not None, what="the first market's book")
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 500, seed=1)

        assert client.add_markets([*later, first]) == tuple(later)  # already streamed: not added twice
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 500, seed=2)
        wait_books_equal(store, venue.exchange, venue.tickers)

        gone = later[0]
        assert client.remove_markets([gone, "KXNOPE-1"]) == (gone,)
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 500, seed=3)
        kept = [t for t in venue.tickers if t != gone]
        wait_books_equal(store, venue.exchange, kept)
        assert store.get_orderbook(gone) is None and store.get_ticker(gone) is None
        assert client.markets() == (first, *later[1:])

        # Removing every market leaves the market-filtered subscriptions (Kalshi wants ≥ 1 market per sid).
        client.remove_markets(kept)
        wait_until(lambda: client.subscriptions()[ORDERBOOK] is None, what="the orderbook sid to go")
        client.add_markets([gone])
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 200, seed=4)
        wait_books_equal(store, venue.exchange, [gone])
        stats = client.stats()
        assert stats["errors"] == stats["gaps"] == stats["malformed"] == 0


def test_unknown_markets_are_dropped_and_the_cap_is_kept() -> None:
    with ws_venue(n_markets=3) as venue:
        config = ws_config(max_markets_per_connection=3)
        store = venue.store(config)
        client = venue.client(store, config)
        # The exchange refuses a subscribe naming an unknown market, whole: the client drops that market and
        # subscribes the rest.
        assert client.add_markets(["KXNOPE-26DEC31-T1", *venue.tickers]) == ("KXNOPE-26DEC31-T1", *venue.tickers[:2])
        client.start()
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 300, seed=5)
        wait_books_equal(store, venue.exchange, venue.tickers[:2])
        wait_until(lambda: client.markets() == tuple(venue.tickers[:2]), what="the unknown market to be dropped")
        stats = client.stats()
        assert stats["markets_refused"] == 1 and stats["markets_over_cap"] == 1
        assert client.add_markets([venue.tickers[2]]) == (venue.tickers[2],)  # room again
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 300, seed=6)
        wait_books_equal(store, venue.exchange, venue.tickers)
        assert exchange_levels(venue.exchange, venue.tickers[2]) == store.get_orderbook(venue.tickers[2]).to_levels()
