"""AvellanedaMarketMaker against the embedded exchange, REST-only: quotes on the exchange, inventory skew after
a fill (YES and NO sessions), amend instead of cancel+create for small changes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kalshi_mm.config.sections_trading import ThrottlingConfig
from kalshi_mm.sim.model import Side
from kalshi_mm.strategy.regime_feed import RegimeFeed
from kalshi_mm.strategy.session import SessionState, session_prefix

from .conftest import MM_USER, TICKER, Harness


def quotes_of(h: Harness) -> dict[Side, object]:
    orders = h.resting()
    assert len(orders) == 2, orders
    by_side = {o.side: o for o in orders}
    assert set(by_side) == {Side.BID, Side.ASK}
    return by_side


def test_two_post_only_quotes_on_the_grid_inside_the_book(harness: Harness) -> None:
    h = harness
    h.list_market(TICKER)
    h.lp_quote(TICKER, Side.BID, 4700)
    h.lp_quote(TICKER, Side.ASK, 5300)
    mm = h.session()
    h.start(mm)
    assert mm.state is SessionState.QUOTING
    quotes = quotes_of(h)
    bid, ask = quotes[Side.BID], quotes[Side.ASK]
    for order in (bid, ask):
        assert order.post_only
        assert 0 < order.price_e4 < 10_000 and order.price_e4 % 100 == 0  # linear-cent grid
        assert order.client_order_id.startswith(session_prefix(TICKER, "yes"))
    # Improves the 0.47/0.53 market by one tick on each side, never crossing it.
    assert (bid.price_e4, ask.price_e4) == (4800, 5200)
    assert bid.remaining_count_e2 == ask.remaining_count_e2 == 500

    h.step(3)  # nothing changes: the quotes stay, untouched
    assert {o.order_id for o in h.resting()} == {bid.order_id, ask.order_id}
    assert h.traffic()["orders"] == {"created": 2}
    placed = h.rows("SELECT order_id, book_side, placed_price_e4, run_id FROM orders ORDER BY placed_price_e4")
    assert [(r["book_side"], r["placed_price_e4"]) for r in placed] == [("bid", 4800), ("ask", 5200)]
    assert {r["run_id"] for r in placed} == {mm.run_id}
    snaps = h.rows("SELECT * FROM market_snapshots WHERE run_id = ?", mm.run_id)
    assert len(snaps) >= 4
    assert snaps[-1]["computed_bid_e4"] == 4800 and snaps[-1]["computed_ask_e4"] == 5200
    assert (snaps[-1]["yes_bid_e4"], snaps[-1]["yes_ask_e4"]) == (4700, 5300)  # the market without our quotes


@pytest.mark.parametrize("side", ["yes", "no"])
def test_a_fill_moves_inventory_and_the_next_quotes_skew_away_from_it(harness: Harness, side: str) -> None:
    h = harness
    h.list_market(TICKER)
    h.lp_quote(TICKER, Side.BID, 4700)
    h.lp_quote(TICKER, Side.ASK, 5300)
    mm = h.session(side=side)
    h.start(mm)
    before = quotes_of(h)
    first = h.rows("SELECT reservation_price_e4 FROM market_snapshots WHERE run_id = ?", mm.run_id)[-1]
    if side == "yes":
        # Our YES bid is hit: we buy 5 YES.
        h.take(TICKER, Side.ASK, before[Side.BID].price_e4, before[Side.BID].remaining_count_e2)
    else:
        # The NO session's bid (buy NO at q) rests as a YES ask at 1 − q; lifting it buys us 5 NO.
        h.take(TICKER, Side.BID, before[Side.ASK].price_e4, before[Side.ASK].remaining_count_e2)
    h.step()
    expected_yes_position = 500 if side == "yes" else -500
    assert h.position() == expected_yes_position
    assert mm._tracker is not None and mm._tracker.position_e2 == expected_yes_position
    after = quotes_of(h)
    last = h.rows("SELECT * FROM market_snapshots WHERE run_id = ?", mm.run_id)[-1]
    assert last["position_e2"] == expected_yes_position
    if side == "yes":
        # Long YES: the reservation price falls, the bid backs off, the (reducing) ask keeps its full size.
        assert last["reservation_price_e4"] < first["reservation_price_e4"]
        assert after[Side.BID].price_e4 < before[Side.BID].price_e4
        assert after[Side.ASK].remaining_count_e2 == 500
    else:
        # Long NO: the NO reservation falls, i.e. the YES-leg reservation rises; the NO bid (a YES ask) backs
        # off upward, and the NO ask (a YES bid, which sells NO) keeps its full size.
        assert last["reservation_price_e4"] > first["reservation_price_e4"]
        assert after[Side.ASK].price_e4 > before[Side.ASK].price_e4
        assert after[Side.BID].remaining_count_e2 == 500
    fills = h.rows("SELECT * FROM order_fills WHERE run_id = ?", mm.run_id)
    assert len(fills) == 1 and fills[0]["count_e2"] == 500 and fills[0]["post_position_e2"] == expected_yes_position
    filled = h.rows("SELECT status FROM orders WHERE order_id = ?", fills[0]["order_id"])
    assert filled == [{"status": "filled"}]
    positions = h.rows("SELECT position_e2 FROM position_history WHERE run_id = ? ORDER BY id", mm.run_id)
    assert positions[-1]["position_e2"] == expected_yes_position


def test_small_changes_amend_in_place_instead_of_cancel_and_create(harness: Harness) -> None:
    h = harness
    h.list_market(TICKER)
    lp_bid = h.lp_quote(TICKER, Side.BID, 4700)
    h.lp_quote(TICKER, Side.ASK, 5300)
    mm = h.session()
    h.start(mm)
    before = quotes_of(h)
    # The market's bid ticks up: our bid follows by one tick, our ask is unchanged.
    h.exchange.cancel_order("lp", lp_bid.order_id)
    h.lp_quote(TICKER, Side.BID, 4800)
    h.step()
    after = quotes_of(h)
    assert after[Side.BID].order_id == before[Side.BID].order_id  # same order, amended
    assert after[Side.BID].price_e4 == 4900
    assert after[Side.ASK].order_id == before[Side.ASK].order_id and after[Side.ASK].price_e4 == 5200
    orders = h.traffic()["orders"]
    assert orders == {"created": 2, "amended": 1}
    assert any("/amend 200" in key for key in h.traffic()["rest"])

    # A partial fill of the bid: the remainder is resized by amend too (size-only change keeps the queue).
    h.take(TICKER, Side.ASK, 4900, 100)
    h.step()
    bid = quotes_of(h)[Side.BID]
    assert bid.order_id == before[Side.BID].order_id and bid.fill_count_e2 == 100
    orders = h.traffic()["orders"]
    assert orders.get("cancelled", 0) == 0 and orders["created"] == 2 and orders["amended"] >= 2
    assert h.position() == 100 and mm._tracker is not None and mm._tracker.position_e2 == 100
    assert MM_USER in h.server.traffic.snapshot()


def test_a_thin_book_widens_quotes_with_hysteresis(harness: Harness) -> None:
    h = harness
    h.list_market(TICKER)
    h.lp_quote(TICKER, Side.BID, 4700, 1000)
    h.lp_quote(TICKER, Side.ASK, 5300, 1000)
    # Book health wants 50 contracts at the touch; 10 are there. Trigger after 3 bad checks, recover after 2.
    throttling = ThrottlingConfig(min_book_depth=50, book_thin_widen_ticks=3, trigger_threshold=3, recovery_threshold=2)
    mm = h.session(throttling=throttling)
    h.start(mm)  # check 1
    assert sorted(o.price_e4 for o in h.resting()) == [4800, 5200]
    h.step()  # check 2: still below the trigger
    assert sorted(o.price_e4 for o in h.resting()) == [4800, 5200]
    h.step()  # check 3: engaged, each side moves out 3 ticks (capped by the 15¢ widened-spread limit)
    assert sorted(o.price_e4 for o in h.resting()) == [4500, 5500]
    h.lp_quote(TICKER, Side.BID, 4700, 5000)
    h.lp_quote(TICKER, Side.ASK, 5300, 5000)
    h.step()  # one good check is not enough to release
    assert sorted(o.price_e4 for o in h.resting()) == [4500, 5500]
    h.step()  # the second releases
    assert sorted(o.price_e4 for o in h.resting()) == [4800, 5200]
    assert h.traffic()["orders"] == {"created": 2, "amended": 4}  # 3-tick moves are amends too


def test_regime_feed_freezes_on_stale_regime_and_scales_gamma_and_k(harness: Harness) -> None:
    h = harness
    h.list_market(TICKER)
    h.lp_quote(TICKER, Side.BID, 4700)
    h.lp_quote(TICKER, Side.ASK, 5300)
    published: dict[str, Any] = {"regime": "MEAN_REVERTING", "observed_ts": h.clock.time()}

    def read() -> Any:
        return SimpleNamespace(**published)

    feed = RegimeFeed(
        read,
        max_age_s=4.0,
        base_regime="MEAN_REVERTING",
        gamma_multipliers={"MEAN_REVERTING": 1.0, "CHAOTIC": 4.0},
        k_multipliers={"MEAN_REVERTING": 1.0, "CHAOTIC": 0.25},
    )
    mm = h.session(regime_feed=feed)
    h.start(mm)
    base = quotes_of(h)
    base_spread = base[Side.ASK].price_e4 - base[Side.BID].price_e4

    h.step(6)  # the scanner stopped publishing: data older than 4 s -> no quotes at all
    assert h.resting() == []
    snaps = h.rows("SELECT computed_bid_e4, computed_ask_e4 FROM market_snapshots WHERE run_id = ?", mm.run_id)
    assert snaps[-1]["computed_bid_e4"] is None and snaps[-1]["computed_ask_e4"] is None

    # Fresh data in a riskier regime: quoting resumes, wider (γ × 4, k × 1/4 relative to the start regime).
    published.update(regime="CHAOTIC", observed_ts=h.clock.time() + 100.0)
    h.step()
    wide = quotes_of(h)
    assert wide[Side.ASK].price_e4 - wide[Side.BID].price_e4 > base_spread
    assert mm.state is SessionState.QUOTING
