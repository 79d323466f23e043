"""The pure pieces around the order diff: the NO leg expressed on the YES book, our own orders taken out of
the book, exit planning, session prefixes and the time guardrails."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kalshi_mm.api.types import BookSide
from kalshi_mm.config.settings import AppConfig
from kalshi_mm.state.orderbook import OrderBook
from kalshi_mm.strategy.exits import ExitKind, ExitOrder, ExitPolicy, exit_kind, plan_exit_order
from kalshi_mm.strategy.legs import BookTop, Leg, mirror_grid, top_excluding_own
from kalshi_mm.strategy.order_manager import DesiredOrders, LiveOrder
from kalshi_mm.strategy.quote_models import ModelParams
from kalshi_mm.strategy.quoting import Quote, QuoteParams, Quotes
from kalshi_mm.strategy.session import ClientIds, SessionConfig, StopReason, session_prefix, time_guard
from kalshi_mm.strategy.signals import MidSampler, resample
from kalshi_mm.units import ONE_DOLLAR, PriceBand, PriceGrid

CENT = PriceGrid.linear_cent()
PARAMS = QuoteParams(ModelParams(max_position=10.0), max_position_e2=1000)


# --- legs ------------------------------------------------------------------------------------------------------


@given(st.sampled_from([PriceGrid.linear_cent(), PriceGrid.tapered_deci_cent(), PriceGrid.deci_cent()]))
def test_mirror_grid_is_exact(grid: PriceGrid) -> None:
    mirrored = mirror_grid(grid)
    for p in range(1, ONE_DOLLAR):
        assert grid.contains(p) == mirrored.contains(ONE_DOLLAR - p)


def test_mirror_grid_of_a_band_that_is_not_a_whole_number_of_steps() -> None:
    grid = PriceGrid([PriceBand(100, 950, 200)])  # 0.01, 0.03, ..., 0.09
    mirrored = mirror_grid(grid)
    assert [p for p in range(1, ONE_DOLLAR) if mirrored.contains(p)] == [9100, 9300, 9500, 9700, 9900]


def test_no_leg_turns_the_book_over_and_sends_its_bid_as_a_yes_ask() -> None:
    leg = Leg("no", CENT)
    assert leg.top(BookTop(4000, 100, 4500, 700)) == BookTop(5500, 700, 6000, 100)
    assert leg.inventory(300) == -300  # long 3 YES = short 3 NO
    quotes = Quotes(bid=Quote(5400, 200), ask=Quote(5800, 100))
    # Buy NO at 0.54 = YES ask at 0.46; sell NO at 0.58 = YES bid at 0.42.
    assert leg.desired(quotes) == DesiredOrders(bid=Quote(4200, 100), ask=Quote(4600, 200))
    assert leg.is_buy(BookSide.ASK) and not leg.is_buy(BookSide.BID)
    yes = Leg("yes", CENT)
    assert yes.desired(quotes) == DesiredOrders(Quote(5400, 200), Quote(5800, 100))


def test_top_excluding_own_removes_our_size_and_levels_that_were_only_ours() -> None:
    book = OrderBook.from_levels("T", [(4800, 500), (4700, 1000)], [(5200, 300), (5300, 900)])
    view = book.view(None, None, 0.0, "rest")
    own = [
        LiveOrder("b", "c", BookSide.BID, 4800, 500),  # the whole best bid is ours
        LiveOrder(
            "a", "d", BookSide.ASK, 5200, 400, filled_e2=200
        ),  # 2 resting (of 4, 2 filled) of the 3 at the best ask
    ]
    assert top_excluding_own(view, own) == BookTop(4700, 1000, 5200, 100)
    assert top_excluding_own(view, ()) == BookTop(4800, 500, 5200, 300)


# --- exits -----------------------------------------------------------------------------------------------------


def test_exit_kind_follows_the_policy() -> None:
    passive = ExitPolicy(passive_exit=True, close_if_small_e2=200)
    assert exit_kind(0, passive) is ExitKind.NONE
    assert exit_kind(100, passive) is ExitKind.AGGRESSIVE  # |q| < 2 contracts: close now
    assert exit_kind(-500, passive) is ExitKind.PASSIVE
    assert exit_kind(500, ExitPolicy(passive_exit=False, close_positions_on_exit=True)) is ExitKind.AGGRESSIVE
    assert exit_kind(500, ExitPolicy(passive_exit=False)) is ExitKind.NONE


def test_small_long_position_sells_at_the_bid_within_the_slippage_bound() -> None:
    top = BookTop(4800, 1000, 5200, 1000)
    assert plan_exit_order(100, top, CENT, 5000, ExitKind.AGGRESSIVE, 400) == ExitOrder(BookSide.ASK, 4800, 100, False)
    # The bid fell through the bound: rest at the bound instead.
    low = BookTop(4000, 1000, 5200, 1000)
    assert plan_exit_order(100, low, CENT, 5000, ExitKind.AGGRESSIVE, 400) == ExitOrder(BookSide.ASK, 4600, 100, False)


def test_passive_exit_improves_the_touch_post_only_and_never_crosses() -> None:
    top = BookTop(4800, 1000, 5200, 1000)
    assert plan_exit_order(500, top, CENT, 5000, ExitKind.PASSIVE, 400) == ExitOrder(BookSide.ASK, 5100, 500, True)
    assert plan_exit_order(-500, top, CENT, 5000, ExitKind.PASSIVE, 400) == ExitOrder(BookSide.BID, 4900, 500, True)
    locked = BookTop(4800, 1000, 4900, 1000)  # one tick wide: join, do not cross
    assert plan_exit_order(500, locked, CENT, 4850, ExitKind.PASSIVE, 400) == ExitOrder(BookSide.ASK, 4900, 500, True)
    # A market that ran up: buying back is capped at reference + slippage.
    high = BookTop(6000, 1000, 6200, 1000)
    assert plan_exit_order(-500, high, CENT, 5000, ExitKind.AGGRESSIVE, 400) == ExitOrder(
        BookSide.BID, 5400, 500, False
    )


def test_no_exit_when_flat_or_not_wanted() -> None:
    top = BookTop(4800, 1000, 5200, 1000)
    assert plan_exit_order(0, top, CENT, 5000, ExitKind.PASSIVE, 400) is None
    assert plan_exit_order(500, top, CENT, 5000, ExitKind.NONE, 400) is None


# --- session pieces --------------------------------------------------------------------------------------------


def test_client_ids_are_unique_prefixed_and_per_market_side() -> None:
    a, b = ClientIds("KX-1", "yes"), ClientIds("KX-1", "yes")
    ids = {a.next() for _ in range(100)} | {b.next() for _ in range(100)}
    assert len(ids) == 200
    assert all(a.owns(i) and len(i) <= 64 for i in ids)
    assert a.this_run(a.next()) and not a.this_run(b.next())
    assert session_prefix("KX-1", "yes") != session_prefix("KX-1", "no") != session_prefix("KX-2", "yes")
    assert not ClientIds("KX-1", "no").owns(a.next())


def test_time_guard_stops_in_the_danger_window_and_at_the_ttl() -> None:
    cfg = SessionConfig(PARAMS, expiration_danger_window_s=180, max_duration_s=300)
    assert time_guard(1000.0, 900.0, 2000.0, cfg) is None
    assert time_guard(1821.0, 1800.0, 2000.0, cfg) is StopReason.NEAR_CLOSE
    assert time_guard(1200.0, 900.0, None, cfg) is StopReason.TTL


def test_session_config_from_the_volatility_mm_config() -> None:
    cfg = SessionConfig.from_app_config(AppConfig(), PARAMS, order_sync_interval_s=5.0)
    assert (cfg.refresh_s, cfg.max_duration_s, cfg.order_sync_interval_s) == (3.0, 300.0, 5.0)
    assert cfg.exit == ExitPolicy(True, 200, False, 400, 20.0)
    assert (cfg.expiration_danger_window_s, cfg.illiquidity_timeout_s, cfg.min_volatility) == (180.0, 15.0, 0.01)
    assert (cfg.ws_enabled, cfg.ws_freeze_s, cfg.ws_stop_s) == (False, 5.0, 15.0)
    assert StopReason.TTL.exits_position and not StopReason.MARKET_CLOSED.exits_position


def test_resample_and_mid_sampler() -> None:
    points = [(0.0, 0.5), (2.5, 0.6), (2.7, 0.55)]
    assert resample(points, 1.0, 4.0) == [(0.0, 0.5), (1.0, 0.5), (2.0, 0.5), (3.0, 0.55), (4.0, 0.55)]
    sampler = MidSampler()
    for t in range(30):
        sampler.add(float(t), 0.5 + (0.01 if t % 2 else 0.0))
    assert sampler.span_s() == 29.0
    std = sampler.price_std(29.0, 10.0)
    assert std is not None and 0.004 < std < 0.006
    assert not sampler.sigma(fallback=1.0, min_increments=20).fallback
