"""get_all_open_markets across 2,600 open markets (three pages of 1,000): every market exactly once, and only
open ones."""

from __future__ import annotations

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.model import Market
from kalshi_mm.sim.server import EmbeddedExchange

from .conftest import Venue, list_markets

OPEN_MARKETS = 2_600


def test_all_open_markets_each_exactly_once(sim_clock: SimClock) -> None:
    server = EmbeddedExchange(sim_clock, scenario=None, tier="prime").start()
    try:
        expected = []
        for e in range(26):  # 26 events of 100 markets each, in two series
            event = f"KXPAGE{e % 2}-27JAN{e:02d}"
            tickers = [f"{event}-T{m:03d}" for m in range(100)]
            list_markets(server, sim_clock, tickers, series=f"KXPAGE{e % 2}", event=event)
            expected.extend(tickers)
        now = int(sim_clock.time())
        # Not open: listed later (unopened) and already closed. They must not come back.
        server.exchange.add_market(
            Market("KXPAGE0-27JAN00-LATER", "KXPAGE0-27JAN00", open_ts=now + 3600, close_ts=now + 7200)
        )
        server.exchange.add_market(
            Market("KXPAGE0-27JAN00-DONE", "KXPAGE0-27JAN00", open_ts=now - 60, close_ts=now + 7200)
        )
        server.exchange.tick()
        server.exchange.close_market("KXPAGE0-27JAN00-DONE")
        api = Venue(server, sim_clock).client(None)

        markets = api.get_all_open_markets()

        tickers = [m.ticker for m in markets]
        assert len(tickers) == OPEN_MARKETS == len(set(tickers))
        assert set(tickers) == set(expected)
        assert all(m.status == "active" for m in markets)
        # Three pages at the maximum page size, nothing more.
        assert api.stats()["attempts"] == 3
        assert [m.ticker for m in api.get_all_open_markets(series_ticker="KXPAGE1")] == sorted(
            t for t in expected if t.startswith("KXPAGE1")
        )
    finally:
        server.stop()
