"""The WebSocket client under the embedded exchange's injected faults: every lost message is detected and
repaired, and after scheduled disconnects the subscriptions come back and no fill is lost."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from kalshi_mm.testing.order_flow import random_flow

from .ws_client_support import (
    MM,
    TAKERS,
    book_mismatches,
    fill_ids,
    paced,
    wait_books_equal,
    wait_until,
    ws_config,
    ws_venue,
)

# The production figure is 30 s; the mechanism is the same at 2 s and keeps the test short.
DISCONNECT_EVERY_S = 2.0


def test_every_dropped_book_message_is_detected_and_repaired() -> None:
    """With only the orderbook channel on the connection, every message is on one sid: the sequence numbers the
    client saw skipped must add up to exactly the messages the server dropped."""
    only_books = {f"subscribe_{c}": False for c in ("ticker", "trades", "user_fills", "positions", "lifecycle")}
    with ws_venue(n_markets=4) as venue:
        config = ws_config(**only_books)
        store = venue.store(config)
        client = venue.client(store, config, snapshot_timeout_s=0.5)
        client.add_markets(venue.tickers)
        client.start()
        wait_until(lambda: not book_mismatches(store, venue.exchange, venue.tickers), what="first snapshots")

        venue.set_faults(ws_drop_rate=0.03)
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 3_000, seed=21, pace=paced(3_000))
        venue.set_faults(ws_drop_rate=0.0)
        # Messages after the last drop reveal it: a gap is only visible from the next number on the sid.
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 100, seed=22)
        wait_books_equal(store, venue.exchange, venue.tickers)
        wait_until(lambda: not client.waiting_snapshots(), what="outstanding snapshots")

        dropped = venue.injected()["ws_dropped"]
        stats = client.stats()
        assert dropped > 20
        assert stats["seq_missed"] == dropped  # every dropped message was noticed
        assert 0 < stats["gaps"] <= dropped  # (adjacent drops make one gap)
        assert stats["resyncs"] > 0 and stats["book_gaps"] == stats["gaps"]
        assert stats["reconnects"] == 0 and stats["malformed"] == 0


def test_drops_duplicates_and_reorders_are_repaired() -> None:
    with ws_venue(n_markets=4) as venue:
        config = ws_config()
        rest = venue.rest()
        store = venue.store(config)
        client = venue.client(store, config, rest=rest, snapshot_timeout_s=0.5)
        client.add_markets(venue.tickers)
        venue.set_faults(ws_drop_rate=0.02, ws_duplicate_rate=0.02, ws_reorder_rate=0.02)
        client.start()  # faults from the first frame on: subscribe replies and snapshots get lost too
        random_flow(venue.exchange, venue.tickers, [MM, *TAKERS], 4_000, seed=31, pace=paced(3_000))
        venue.set_faults(ws_drop_rate=0.0, ws_duplicate_rate=0.0, ws_reorder_rate=0.0)
        random_flow(venue.exchange, venue.tickers, list(TAKERS), 100, seed=32)
        wait_books_equal(store, venue.exchange, venue.tickers, timeout_s=15)

        injected = venue.injected()
        stats = client.stats()
        assert min(injected["ws_dropped"], injected["ws_duplicated"], injected["ws_reordered"]) > 20
        assert stats["gaps"] > 0 and stats["duplicates"] > 0 and stats["resyncs"] > 0
        assert stats["malformed"] == stats["handler_errors"] == 0
        # Duplicated fill messages never count twice (dropped ones are the periodic reconciliation's business).
        assert all(n == 1 for n in Counter(fill_ids(store)).values())
        assert store.stats()["fills_duplicate"] > 0


@pytest.mark.slow
def test_disconnects_resubscribe_and_lose_no_fill() -> None:
    with ws_venue(n_markets=3) as venue:
        # A slower first reconnect than the default test setting leaves fills to happen while disconnected.
        config = ws_config(reconnect_base_delay_seconds=0.3, reconnect_max_delay_seconds=1.0)
        rest = venue.rest()
        store = venue.store(config)
        client = venue.client(store, config, rest=rest)
        client.add_markets(venue.tickers)
        venue.set_faults(ws_disconnect_every_s=DISCONNECT_EVERY_S)
        client.start()

        flow = threading.Thread(
            target=random_flow,
            args=(venue.exchange, venue.tickers, [MM, *TAKERS], 3_000, 41),
            kwargs={"pace": paced(500)},  # six seconds of trading across three scheduled disconnects
        )
        flow.start()
        flow.join(30)
        venue.set_faults(ws_disconnect_every_s=None)

        wait_until(lambda: client.stats()["reconnects"] >= 2, what="reconnects")
        wait_until(lambda: client.healthy, what="the connection")
        wait_books_equal(store, venue.exchange, venue.tickers, timeout_s=DISCONNECT_EVERY_S * 3)
        expected = {f.fill_id for f in venue.exchange.fills(MM)}
        wait_until(lambda: set(fill_ids(store)) == expected, DISCONNECT_EVERY_S * 3, "every fill of the account")

        ids = fill_ids(store)
        assert len(ids) == len(expected) > 50 and all(n == 1 for n in Counter(ids).values())
        stats = client.stats()
        assert venue.injected()["ws_disconnect"] >= 2
        assert stats["fills_reconciled"] > 0  # fills made while disconnected came from REST, once each
        assert stats["fill_reconcile_errors"] == 0
        assert stats["connect_failures"] == 0
