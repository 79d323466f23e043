"""``recovery.orphan_orders: adopt`` on the session side: a session takes over the resting orders an earlier run
of its market/side left (instead of cancelling them), and manages them like its own."""

from __future__ import annotations

from kalshi_mm.sim.model import OrderRequest, Side
from kalshi_mm.strategy.session import session_prefix

from .conftest import MM_USER, TICKER, Harness


def test_a_session_in_adopt_mode_takes_over_its_predecessors_order(harness: Harness) -> None:
    h = harness
    h.list_market(TICKER)
    h.lp_quote(TICKER, Side.BID, 4700)
    h.lp_quote(TICKER, Side.ASK, 5300)
    left = h.exchange.place_order(
        MM_USER, OrderRequest(TICKER, Side.BID, 4800, 500, client_order_id=session_prefix(TICKER, "yes") + "old-1")
    ).order
    mm = h.session(adopt_orphans=True)
    h.start(mm)
    assert mm._executor is not None
    live = {o.order_id for o in mm._executor.orders()}
    resting = {o.order_id: o for o in h.resting()}
    # Kept (or amended in place), never cancelled: the bid side carries the adopted order, not a new one.
    assert left.order_id in live and left.order_id in resting
    assert [o.side for o in resting.values()].count(Side.BID) == 1
    (row,) = h.rows("SELECT client_order_id FROM orders WHERE order_id = ?", left.order_id)
    assert row["client_order_id"] == left.client_order_id
    mm.request_stop(hard=True)
    h.finish(mm)
    assert h.resting() == []  # and it ends with the session like any order of the session
