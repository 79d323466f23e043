"""Chaos: 429 bursts, random 5xx and creates whose response is dropped after the exchange executed them. The
client must finish every call without an unhandled exception and never double an order (counted by
client_order_id on the exchange itself), and every fault must actually have been injected."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest

from kalshi_mm.api.errors import NotFoundError
from kalshi_mm.api.types import BookSide, OrderRequest
from kalshi_mm.clock import LiveClock

from .conftest import OTHER_TICKER, TICKER, Venue, start_venue

ORDERS = 40
BATCHES = 4
BATCH_SIZE = 5


@pytest.fixture
def live_venue() -> Iterator[Venue]:
    clock = LiveClock()  # the client's backoff really waits; the server signs and refills on the same clock
    server = start_venue(clock, seed=11)
    try:
        yield Venue(server, clock)
    finally:
        server.stop()


def test_no_duplicates_under_faults(live_venue: Venue) -> None:
    venue = live_venue
    api = venue.client("chaos", max_retries=8, backoff_base_s=0.002, backoff_cap_s=0.02, rng=random.Random(5))
    venue.set_faults(rest_429_burst=6, rest_5xx_rate=0.25, drop_create_response_rate=0.3)

    acks = []
    for i in range(ORDERS):
        ticker = TICKER if i % 2 else OTHER_TICKER
        acks.append(api.place_order(ticker, BookSide.BID, 100 + 100 * i, 100, post_only=True))
    batch_results = []
    for b in range(BATCHES):
        requests_ = [
            OrderRequest(TICKER, BookSide.ASK, 6000 + 100 * (b * BATCH_SIZE + i), 100, post_only=True)
            for i in range(BATCH_SIZE)
        ]
        batch_results.extend(api.batch_create_orders(requests_))
    cancelled = 0
    for ack in acks[::4]:
        try:
            api.cancel_order(ack.order_id)
            cancelled += 1
        except NotFoundError:
            cancelled += 1  # a retried cancel whose first attempt went through: already gone
    listed = api.get_orders()
    venue.set_faults(rest_429_burst=0, rest_5xx_rate=0.0, drop_create_response_rate=0.0)

    # Every create succeeded exactly once, as the exchange counts it.
    assert all(r.ack is not None and r.error is None for r in batch_results)
    on_exchange = venue.exchange.orders("chaos")
    by_client_id = Counter(o.client_order_id for o in on_exchange)
    assert len(on_exchange) == ORDERS + BATCHES * BATCH_SIZE
    assert set(by_client_id.values()) == {1}
    expected_ids = {a.client_order_id for a in acks} | {r.client_order_id for r in batch_results}
    assert set(by_client_id) == expected_ids
    assert {a.order_id for a in acks} | {r.ack.order_id for r in batch_results if r.ack} == {
        o.order_id for o in on_exchange
    }
    assert cancelled == len(acks[::4])
    assert len(listed) == ORDERS + BATCHES * BATCH_SIZE - cancelled
    # Some answers were lost and recovered through the look-up by client_order_id.
    assert any(a.recovered for a in acks)

    injected = venue.injected()
    assert injected.get("rest_429", 0) == 6
    assert injected.get("rest_500", 0) + injected.get("rest_503", 0) > 0
    assert injected.get("dropped_create_response", 0) > 0
    assert api.stats()["retries"] > 0
