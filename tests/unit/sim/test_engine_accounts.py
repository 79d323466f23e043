"""Netted positions, realized P&L and the collateral rule of the exchange's accounts."""

from __future__ import annotations

from kalshi_mm.clock import SimClock
from kalshi_mm.sim.accounts import PositionState, ReservedOrder, RestingOrders
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import Event, Market, OrderRequest, Series, Side, e6_to_e4, format_dollars_e6
from kalshi_mm.units import PriceGrid, Rounding

T0 = 1_767_225_600


def test_buying_no_while_long_yes_nets_and_realizes_pnl() -> None:
    pos = PositionState("u", "T", "E")
    assert pos.apply_fill(Side.BID, 4000, 1000, 0) == -4_000_000  # buy 10 YES at $0.40
    assert (pos.position_e2, pos.cost_e6) == (1000, 4_000_000)
    # buy 4 NO at $0.45 (ask at YES 0.55): each YES+NO pair is worth $1, so 4 pairs release $4 - $1.80
    assert pos.apply_fill(Side.ASK, 5500, 400, 0) == 2_200_000
    assert (pos.position_e2, pos.cost_e6, pos.realized_pnl_e6) == (600, 2_400_000, 600_000)
    # buy 10 more NO at $0.50: closes the 6 YES left and opens 4 NO
    assert pos.apply_fill(Side.ASK, 5000, 1000, 0) == 3_000_000 - 2_000_000
    assert (pos.position_e2, pos.cost_e6) == (-400, 2_000_000)
    assert pos.realized_pnl_e6 == 600_000 + 600_000
    assert pos.volume_e2 == 2400 and pos.total_traded_e6 == 4_000_000 + 1_800_000 + 5_000_000


def test_pro_rata_cost_keeps_basis_plus_realized_exact() -> None:
    pos = PositionState("u", "T", "E")
    pos.apply_fill(Side.BID, 3333, 300, 0)  # cost 999,900 e6 for 3 contracts
    pos.apply_fill(Side.ASK, 3333, 100, 0)  # sell one: 333,300 of basis removed, realized 0
    pos.apply_fill(Side.ASK, 5000, 200, 0)  # sell the rest at $0.50
    assert pos.position_e2 == 0 and pos.cost_e6 == 0
    assert pos.realized_pnl_e6 == 100 * 3333 + 200 * 5000 - 999_900


def _tracked(*orders: ReservedOrder) -> RestingOrders:
    resting = RestingOrders()
    for i, order in enumerate(orders):
        resting.add(f"o{i}", order)
    return resting


def test_reservation_covers_closing_orders_with_the_costliest_first() -> None:
    asks = _tracked(ReservedOrder(Side.ASK, 4700, 1000, 0), ReservedOrder(Side.ASK, 4300, 1000, 0))
    # long 10 YES covers 10 of the 20 contracts offered; the uncovered 10 are charged at the cheaper
    # unit (0.53 for the ask at 0.47), not the 0.57 of the ask at 0.43.
    assert asks.required_e6(1000) == 5300 * 1000
    assert asks.required_e6(0) == (5300 + 5700) * 1000
    assert asks.required_e6(-1000) == (5300 + 5700) * 1000  # holding NO does not cover asks
    bids = _tracked(ReservedOrder(Side.BID, 4000, 500, 7), ReservedOrder(Side.BID, 4500, 500, 0))
    assert bids.required_e6(-500) == 4000 * 500 + 7 * 100  # short 5 covers the $0.45 bid; fees stay


def test_reservation_totals_follow_updates_and_what_ifs() -> None:
    resting = _tracked(ReservedOrder(Side.ASK, 4700, 1000, 3), ReservedOrder(Side.ASK, 4300, 1000, 0))
    resting.update("o1", 400, 2)  # the $0.43 ask shrinks to 4 (keeps its place), fee reserve 2
    assert list(resting.orders) == ["o0", "o1"]
    assert resting.required_e6(1000) == 5300 * 400 + 5 * 100  # 4 of the cover on the 0.43, 6 on the 0.47
    # What-if: the $0.47 ask gone and a new one at $0.40 (highest unit collateral: takes the cover first).
    extra = ReservedOrder(Side.ASK, 4000, 1000, 1)
    assert resting.required_e6(1000, [resting.orders["o0"]], extra) == 5700 * 400 + (2 + 1) * 100
    assert resting.required_e6(1000) == 5300 * 400 + 5 * 100  # the what-if changed nothing
    assert resting.remove("o0") == ReservedOrder(Side.ASK, 4700, 1000, 3)
    assert resting.remove("o0") is None
    assert resting.required_e6(300) == 5700 * 100 + 2 * 100
    resting.remove("o1")
    assert len(resting) == 0 and resting.required_e6(1000) == 0


def test_sub_cent_prices_and_fractional_counts_are_exact_in_e6() -> None:
    ex = Exchange(SimClock(start=T0))
    ex.add_series(Series("S"))
    ex.add_event(Event("S-E", "S"))
    ex.add_market(Market("M", "S-E", open_ts=T0 - 1, close_ts=T0 + 60, grid=PriceGrid.deci_cent()))
    ex.create_account("a", 10_0000)
    ex.create_account("b", 10_0000)
    ex.place_order("a", OrderRequest("M", Side.BID, 4710, 1))  # 0.01 contract at $0.471 = $0.00471
    ex.place_order("b", OrderRequest("M", Side.ASK, 4710, 1))
    assert ex.balance_e6("a") == 10_000_000 - 4710
    assert ex.balance("a") == e6_to_e4(10_000_000 - 4710) == 9_9952  # rounded down for the e4 view
    assert format_dollars_e6(ex.positions("a")[0].market_exposure_e6) == "0.00471"
    assert e6_to_e4(4710, Rounding.UP) == 48
    assert ex.ledger().balanced


def test_portfolio_value_marks_positions_at_last_trade() -> None:
    ex = Exchange(SimClock(start=T0))
    ex.add_series(Series("S"))
    ex.add_event(Event("S-E", "S"))
    ex.add_market(Market("M", "S-E", open_ts=T0 - 1, close_ts=T0 + 60))
    for user in ("a", "b", "c"):
        ex.create_account(user, 100_0000)
    ex.place_order("a", OrderRequest("M", Side.BID, 4000, 1000))
    ex.place_order("b", OrderRequest("M", Side.ASK, 4000, 1000))
    ex.place_order("c", OrderRequest("M", Side.BID, 3000, 100))  # resting: its collateral counts
    ex.place_order("b", OrderRequest("M", Side.ASK, 6000, 100))
    ex.place_order("c", OrderRequest("M", Side.BID, 6000, 100))  # last trade now $0.60
    assert ex.portfolio_value("a") == 6_0000  # 10 YES at $0.60
    assert ex.portfolio_value("b") == 4_4000  # 11 NO at $0.40
    assert ex.portfolio_value("c") == 6000 + 3000  # 1 YES at $0.60 + $0.30 reserved
