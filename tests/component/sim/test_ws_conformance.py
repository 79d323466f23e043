"""A scripted WebSocket session against the embedded exchange (default scenario, manual clock): every channel
subscribed, orders placed / amended / decreased / cancelled / filled, simulated traders stepping, a market
paused, listed, determined and settled. Every frame both ways is validated against the AsyncAPI subset
(``WsClient``) and ``seq`` is checked contiguous per sid."""

from __future__ import annotations

from collections import Counter

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.model import Market, OrderRequest, SelfTradePrevention, Side, TimeInForce
from kalshi_mm.sim.server import EmbeddedExchange
from kalshi_mm.sim.ws_wire import CHANNELS

from .test_ws_support import ws_client

TYPE_CHANNEL = {
    "orderbook_snapshot": "orderbook_delta",
    "orderbook_delta": "orderbook_delta",
    "ticker": "ticker",
    "trade": "trade",
    "fill": "fill",
    "market_position": "market_positions",
    "user_order": "user_orders",
    "order_group_updates": "order_group_updates",
    "market_lifecycle_v2": "market_lifecycle_v2",
}


def _quoted_markets(embedded: EmbeddedExchange) -> list[str]:
    """Open linear-cent markets quoted on both sides away from the edges, with room inside the spread."""
    out = []
    for market in sorted(embedded.exchange.markets(), key=lambda m: m.ticker):
        top = embedded.exchange.top_of_book(market.ticker)
        if (
            market.filter_status == "open"
            and market.price_level_structure == "linear_cent"
            and top.yes_bid_e4
            and top.yes_ask_e4
            and 1000 < top.yes_bid_e4 < top.yes_ask_e4 - 200 < 9000
        ):
            out.append(market.ticker)
    return out


def test_scripted_session_conforms(embedded: EmbeddedExchange, sim_clock: SimClock) -> None:
    ex = embedded.exchange
    maker_account = embedded.create_account("maker")
    embedded.create_account("taker")
    assert embedded.ws_url.startswith("ws://127.0.0.1:") and embedded.ws_url.endswith("/trade-api/ws/v2")
    ticker, other = _quoted_markets(embedded)[:2]
    assert maker_account.private_key is not None
    with ws_client(
        embedded.ws_url, maker_account.access_key, maker_account.private_key, sim_clock, max_queue=None
    ) as ws:
        replies = ws.command(
            "subscribe",
            {
                "channels": [
                    "orderbook_delta",
                    "trade",
                    "fill",
                    "market_positions",
                    "user_orders",
                    "order_group_updates",
                    "market_lifecycle_v2",
                ],
                "market_tickers": [ticker, other],
            },
        )
        replies += ws.command(
            "subscribe", {"channels": ["orderbook_delta"], "market_ticker": ticker, "use_yes_price": True}
        )
        replies += ws.command("subscribe", {"channels": ["ticker"], "send_initial_snapshot": True})
        subscribed = {m["msg"]["channel"] for m in replies if m["type"] == "subscribed"}
        assert subscribed == set(CHANNELS)
        assert sum(m["type"] == "orderbook_snapshot" for m in replies) == 3  # two markets + the YES-priced one

        # --- order groups and the maker's own order life cycle ---
        group = ex.create_order_group("maker", 5_000)
        ex.set_order_group_limit("maker", group.group_id, 6_000)
        top = ex.top_of_book(ticker)
        assert top.yes_bid_e4 is not None and top.yes_ask_e4 is not None
        bid = top.yes_bid_e4 + 100  # strictly inside the spread: the maker is alone at the best bid
        placed = ex.place_order(
            "maker",
            OrderRequest(
                ticker,
                Side.BID,
                bid,
                2_000,
                post_only=True,
                client_order_id="mk-1",
                order_group_id=group.group_id,
                self_trade_prevention_type=SelfTradePrevention.MAKER,
            ),
        )
        order_id = placed.order.order_id
        ex.amend_order("maker", order_id, ticker=ticker, side=Side.BID, price_e4=bid - 100, count_e2=3_000)
        ex.decrease_order("maker", order_id, reduce_by_e2=500)
        ex.cancel_order("maker", order_id)
        # --- a fill: the taker sells into the maker's new bid ---
        filled = ex.place_order("maker", OrderRequest(ticker, Side.BID, bid, 1_000, client_order_id="mk-2"))
        taken = ex.place_order(
            "taker", OrderRequest(ticker, Side.ASK, bid, 1_000, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL)
        )
        assert taken.fills, "the taker should have hit the maker's bid"
        assert filled.order.order_id != order_id
        ex.reset_order_group("maker", group.group_id)

        # --- simulated traders, a pause, a new listing ---
        assert embedded.simulation is not None
        for _ in range(4):
            sim_clock.advance(1)
            embedded.simulation.step(sim_clock.time())
        ex.set_market_paused(other, True)
        ex.set_market_paused(other, False)
        listed = ex.market(other)
        ex.add_market(
            Market(
                "KXWSNEW-26DEC31-T1",
                listed.event_ticker,
                open_ts=int(sim_clock.time()),
                close_ts=int(sim_clock.time()) + 3_600,
                title="A new market",
                settlement_timer_seconds=30,
            )
        )
        # --- determination and settlement of the market the maker holds ---
        ex.determine(ticker, "yes")
        sim_clock.advance(ex.market(ticker).settlement_timer_seconds + 1)
        ex.tick()

        ws.sync()
        ws.command("list_subscriptions")

    received = ws.received
    by_channel = Counter(TYPE_CHANNEL[m["type"]] for m in received if m["type"] in TYPE_CHANNEL)
    assert set(by_channel) == set(CHANNELS), by_channel
    lifecycle = {m["msg"]["event_type"] for m in received if m["type"] == "market_lifecycle_v2"}
    assert {"created", "activated", "deactivated", "close_date_updated", "determined", "settled"} <= lifecycle
    groups = [m["msg"]["event_type"] for m in received if m["type"] == "order_group_updates"]
    assert groups[:3] == ["created", "limit_updated", "reset"]
    reasons = [
        m["msg"].get("last_update_reason")
        for m in received
        if m["type"] == "user_order" and m["msg"]["order_id"] == order_id
    ]
    assert reasons == [None, "Amend", "Decrease", None]  # created, amended, decreased, cancelled by the user
    # The maker's own deltas carry its client_order_id; nobody else's do.
    own = [m for m in received if m["type"] == "orderbook_delta" and "client_order_id" in m["msg"]]
    assert own and {m["msg"]["client_order_id"] for m in own} <= {"mk-1", "mk-2"}
    settled = [m["msg"] for m in received if m["type"] == "market_position" and m["msg"]["market_ticker"] == ticker]
    assert settled[-1]["position_fp"] == "0.00"
    assert next(m for m in received if m["type"] == "fill")["msg"]["client_order_id"] == "mk-2"
    # seq is contiguous per sid (asserted on receipt) and starts at 1 on every sequenced sid.
    assert all(seq >= 1 for seq in ws.last_seq.values())
    # Traffic statistics count what was actually sent to the maker.
    stats = embedded.traffic.snapshot()["maker"]["ws_messages"]
    assert stats.get("orderbook_delta", 0) >= by_channel["orderbook_delta"]
