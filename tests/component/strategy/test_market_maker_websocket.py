"""AvellanedaMarketMaker on a WebSocket-fed store: the real KalshiWebsocketClient streams the embedded
exchange's book and our fills into the store; the session quotes from it without REST book reads and learns
its fill from the ``fill`` channel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kalshi_mm.api.websocket import KalshiWebsocketClient
from kalshi_mm.config.sections_infra import WebsocketsConfig
from kalshi_mm.sim.model import Side
from kalshi_mm.state.store import MarketStateStore
from kalshi_mm.strategy.session import SessionState

from .conftest import TICKER, Harness, wait_until


@pytest.fixture
def ws_harness(harness: Harness) -> Iterator[tuple[Harness, KalshiWebsocketClient]]:
    h = harness
    h.list_market(TICKER)
    h.lp_quote(TICKER, Side.BID, 4700)
    h.lp_quote(TICKER, Side.ASK, 5300)
    config = WebsocketsConfig(enabled=True, ping_interval_seconds=1.0, idle_timeout_seconds=30.0)
    h.store = MarketStateStore(h.clock, config)  # no REST fallback: books only from the stream
    client = KalshiWebsocketClient(h.server.ws_url, h.credentials, h.clock, h.store, config)
    client.add_markets([TICKER])
    client.start()
    try:
        wait_until(lambda: h.store.ws_healthy and h.store.get_orderbook(TICKER) is not None)
        yield h, client
    finally:
        client.stop()


def test_quotes_and_fills_through_the_websocket(ws_harness: tuple[Harness, KalshiWebsocketClient]) -> None:
    h, _client = ws_harness
    mm = h.session(ws_enabled=True, fill_reconcile_interval_s=3600.0)
    h.start(mm)
    bid = next(o for o in h.resting() if o.side is Side.BID)
    assert (bid.price_e4, sorted(o.price_e4 for o in h.resting())) == (4800, [4800, 5200])
    rest_before = dict(h.traffic()["rest"])

    h.take(TICKER, Side.ASK, bid.price_e4, 500)
    wait_until(lambda: any(f.order_id == bid.order_id for f in h.store.fills_since(0, TICKER).fills))
    h.step()
    assert mm._tracker is not None and mm._tracker.position_e2 == 500 == h.position()
    assert next(o for o in h.resting() if o.side is Side.BID).price_e4 < 4800  # skewed away from the long

    rest_after = h.traffic()["rest"]
    for key in rest_after:
        assert "/orderbook" not in key  # books came from the stream only
    fills_key = next(k for k in rest_after if k.startswith("GET /portfolio/fills"))
    assert rest_after[fills_key] == rest_before.get(fills_key)  # the fill came from the fill channel
    mm.request_stop(hard=True)
    h.finish(mm)
    assert mm.state is SessionState.DONE and h.resting() == []


def market_reads(h: Harness) -> int:
    return h.traffic()["rest"].get("GET /markets/{ticker} 200", 0)


def test_lifecycle_stream_replaces_the_periodic_market_read(ws_harness: tuple[Harness, KalshiWebsocketClient]) -> None:
    h, client = ws_harness
    mm = h.session(ws_enabled=True, lifecycle_stream=True, market_refresh_interval_s=5.0)
    h.start(mm)
    at_start = market_reads(h)
    assert at_start >= 1  # the session's start-up read
    h.step(12)  # more than two refresh intervals with a healthy stream: no periodic read at all
    assert market_reads(h) == at_start
    assert mm.state is SessionState.QUOTING

    client.stop()  # the stream is gone: the session falls back to reading the market every interval
    wait_until(lambda: not h.store.ws_healthy)
    h.step(12)
    assert market_reads(h) >= at_start + 2
    mm.request_stop(hard=True)
    h.finish(mm)


def test_without_the_lifecycle_stream_the_market_is_read_every_interval(
    ws_harness: tuple[Harness, KalshiWebsocketClient],
) -> None:
    h, _client = ws_harness
    mm = h.session(ws_enabled=True, lifecycle_stream=False, market_refresh_interval_s=5.0)
    h.start(mm)
    at_start = market_reads(h)
    h.step(12)
    assert market_reads(h) >= at_start + 2
    mm.request_stop(hard=True)
    h.finish(mm)
