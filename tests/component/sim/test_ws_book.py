"""Book consistency: snapshot + deltas reproduce the exchange's book exactly, in both pricings, even for a
subscription made while orders are flowing."""

from __future__ import annotations

import threading

from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import OrderRequest, Side
from kalshi_mm.testing.order_flow import random_flow
from kalshi_mm.units import ONE_DOLLAR, parse_count, parse_price

from .test_ws_support import BookReplica, SmallExchange, expected_book

N_OPS = 3_000


def book_flow(
    exchange: Exchange, tickers: list[str], users: list[str], n: int, seed: int, started: threading.Event | None = None
) -> int:
    """Place / cancel / amend / decrease at random around $0.50; ``started`` is set a third of the way in."""

    def pace(i: int) -> None:
        if started is not None and i == n // 3:
            started.set()

    return random_flow(
        exchange,
        tickers,
        users,
        n,
        seed,
        pace=pace,
        place_below=0.55,
        cancel_below=0.8,
        amend_below=0.9,
        random_client_ids=True,
    )


def test_snapshot_plus_deltas_equal_the_exchange_book() -> None:
    with (
        SmallExchange(n_markets=3) as sx,
        sx.client("alice", max_queue=None) as early,
        sx.client("bob", max_queue=None) as late,
    ):
        tickers = sx.tickers
        legacy = early.command("subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers})
        yes_scale = early.command(
            "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers, "use_yes_price": True}
        )
        sid_legacy, sid_yes = legacy[0]["msg"]["sid"], yes_scale[0]["msg"]["sid"]
        early.command("subscribe", {"channels": ["ticker"]})
        assert sid_legacy != sid_yes

        started = threading.Event()
        result: list[int] = []
        flow = threading.Thread(
            target=lambda: result.append(
                book_flow(sx.exchange, tickers, ["alice", "bob", "carol"], N_OPS, seed=5, started=started)
            )
        )
        flow.start()
        started.wait(10)
        # Subscribed while orders flow: the snapshots must line up with the deltas that follow them.
        sid_mid = late.reply(
            late.command(
                "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers, "use_yes_price": True}
            )
        )["msg"]["sid"]
        sid_mid_legacy = late.reply(
            late.command("subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers})
        )["msg"]["sid"]
        flow.join(60)
        assert result and result[0] > 50, "the flow should have traded"

        replicas = {sid_legacy: BookReplica(sid_legacy), sid_yes: BookReplica(sid_yes)}
        early.sync()
        late.sync()
        for message in early.received:
            for replica in replicas.values():
                replica.apply(message)
        mid_replica, mid_legacy_replica = BookReplica(sid_mid), BookReplica(sid_mid_legacy)
        for message in late.received:
            mid_replica.apply(message)
            mid_legacy_replica.apply(message)

        deltas = sum(m["type"] == "orderbook_delta" for m in early.received)
        assert deltas > N_OPS
        for ticker in tickers:
            assert replicas[sid_legacy].books[ticker] == expected_book(sx.exchange, ticker, use_yes_price=False)
            assert replicas[sid_yes].books[ticker] == expected_book(sx.exchange, ticker, use_yes_price=True)
            assert mid_replica.books[ticker] == expected_book(sx.exchange, ticker, use_yes_price=True)
            assert mid_legacy_replica.books[ticker] == expected_book(sx.exchange, ticker, use_yes_price=False)
        # The last ticker message of each market matches the exchange's top of book and counters.
        last_ticker = {m["msg"]["market_ticker"]: m["msg"] for m in early.received if m["type"] == "ticker"}
        for ticker in tickers:
            top, market = sx.exchange.top_of_book(ticker), sx.exchange.market(ticker)
            assert parse_price(last_ticker[ticker]["yes_bid_dollars"]) == (top.yes_bid_e4 or 0)
            assert parse_price(last_ticker[ticker]["yes_ask_dollars"]) == (top.yes_ask_e4 or ONE_DOLLAR)
            assert parse_count(last_ticker[ticker]["yes_bid_size_fp"]) == top.yes_bid_size_e2
            assert parse_count(last_ticker[ticker]["volume_fp"]) == market.volume_e2
            assert parse_count(last_ticker[ticker]["open_interest_fp"]) == market.open_interest_e2
            assert parse_price(last_ticker[ticker]["price_dollars"]) == market.last_price_e4
        # seq ran 1..n with no gap on every sid (checked message by message in WsClient.recv).
        assert early.last_seq[sid_legacy] == len(
            [m for m in early.received if m.get("sid") == sid_legacy and m["type"].startswith("orderbook_")]
        )


def test_no_side_prices_follow_use_yes_price_and_client_order_id_is_private() -> None:
    with SmallExchange(n_markets=1) as sx, sx.client("alice") as ws, sx.client("bob") as other:
        ticker = sx.tickers[0]
        ws.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": ticker})
        ws.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": ticker, "use_yes_price": True})
        other.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": ticker})
        sx.exchange.place_order("alice", OrderRequest(ticker, Side.ASK, 6000, 500, client_order_id="alice-1"))
        deltas = [m for m in ws.sync() if m["type"] == "orderbook_delta"]
        by_sid = {m["sid"]: m["msg"] for m in deltas}
        assert by_sid[1]["side"] == by_sid[2]["side"] == "no"
        assert by_sid[1]["price_dollars"] == "0.4000"  # NO-leg price of a YES ask at 0.60
        assert by_sid[2]["price_dollars"] == "0.6000"
        assert by_sid[1]["delta_fp"] == "5.00"
        assert by_sid[1]["client_order_id"] == by_sid[2]["client_order_id"] == "alice-1"  # her own order
        seen_by_bob = [m["msg"] for m in other.sync() if m["type"] == "orderbook_delta"]
        assert len(seen_by_bob) == 1 and "client_order_id" not in seen_by_bob[0]
