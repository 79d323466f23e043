"""The order-turning step, rule by rule, on hand-built books (prices in 1/10,000 $, sizes in 1/100 contract)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from kalshi_mm.config.sections_trading import AsModelConfig, ExtremePricesConfig, RiskConfig, ThrottlingConfig
from kalshi_mm.strategy.quote_models import ModelParams
from kalshi_mm.strategy.quoting import NoQuote, QuoteInputs, QuoteParams, make_quotes, params_from_config
from kalshi_mm.units import PriceGrid

LINEAR = PriceGrid.linear_cent()
TAPERED = PriceGrid.tapered_deci_cent()
MODEL = ModelParams(gamma=0.05, k=60.0, a=0.05, max_position=10.0, risk_horizon=3600.0)
PARAMS = QuoteParams(MODEL, order_size_e2=500, max_position_e2=1000, improve_one_tick=True)
SIGMA = 0.01  # log-odds per √s


def view(bb: int | None = 4500, ba: int | None = 5500, q: int = 0, **kw: object) -> QuoteInputs:
    return QuoteInputs(LINEAR, bb, ba, q, SIGMA, time_to_expiry_s=kw.pop("tte", math.inf), **kw)  # type: ignore[arg-type]


def test_two_sided_at_flat_inventory() -> None:
    quotes = make_quotes(view(), PARAMS)
    assert quotes.bid is not None and quotes.ask is not None
    assert quotes.bid.price_e4 < 5000 < quotes.ask.price_e4
    assert quotes.bid.size_e2 == quotes.ask.size_e2 == 500
    assert quotes.reference_e4 == 5000 and not quotes.one_sided
    # Rounding: the bid went DOWN and the ask UP from the model prices.
    assert quotes.bid.price_e4 <= quotes.model_bid * 1e4 and quotes.ask.price_e4 >= quotes.model_ask * 1e4


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        (view(book_stale=True), NoQuote.STALE_BOOK),
        (view(5000, 5000), NoQuote.CROSSED_BOOK),
        (view(5100, 5000), NoQuote.CROSSED_BOOK),
        (view(None, 5000), NoQuote.NO_REFERENCE),
        (view(1000, 9000), NoQuote.SPREAD_SHOCK),
    ],
)
def test_no_quotes_from_a_bad_book(inputs: QuoteInputs, reason: NoQuote) -> None:
    quotes = make_quotes(inputs, PARAMS)
    assert quotes.bid is None and quotes.ask is None
    assert quotes.bid_reason is reason and quotes.ask_reason is reason


def test_fair_value_stands_in_for_a_one_sided_book() -> None:
    quotes = make_quotes(view(None, 5300, fair_value_e4=5000), PARAMS)
    assert quotes.bid is not None and quotes.ask is not None
    assert quotes.ask.price_e4 >= 5300 - 100  # improves the best ask by at most one tick


def test_min_and_max_total_spread() -> None:
    tight = dataclasses.replace(PARAMS, model=dataclasses.replace(MODEL, k=5000.0), min_total_spread_e4=600)
    q = make_quotes(view(), tight)
    assert q.ask.price_e4 - q.bid.price_e4 >= 600  # type: ignore[union-attr]
    wide = dataclasses.replace(PARAMS, model=dataclasses.replace(MODEL, k=2.0), max_total_spread_e4=800)
    q = make_quotes(view(None, None, fair_value_e4=5000), wide)  # no book: only the model and the clamp
    assert q.ask.price_e4 - q.bid.price_e4 <= 800 + 2 * 100  # type: ignore[union-attr]  # + outward rounding
    # Inside a wide book the NBBO rule still caps each side at one tick better than the best price.
    q = make_quotes(view(1000, 9000), dataclasses.replace(wide, spread_shock_e4=None))
    assert (q.bid.price_e4, q.ask.price_e4) == (1100, 8900)  # type: ignore[union-attr]


def test_nbbo_improves_by_at_most_one_tick_and_never_crosses() -> None:
    # A very tight model would bid above the best bid: capped at best bid + 1 tick.
    tight = dataclasses.replace(PARAMS, model=dataclasses.replace(MODEL, k=5000.0), min_total_spread_e4=100)
    q = make_quotes(view(4900, 5200), tight)
    assert q.bid.price_e4 == 5000 and q.ask.price_e4 == 5100  # type: ignore[union-attr]
    joined = make_quotes(view(4900, 5200), dataclasses.replace(tight, improve_one_tick=False))
    assert joined.bid.price_e4 == 4900 and joined.ask.price_e4 == 5200  # type: ignore[union-attr]
    # A one-tick-wide book leaves no room to improve: join, never lock.
    locked = make_quotes(view(4900, 5000), tight)
    assert locked.bid.price_e4 == 4900 and locked.ask.price_e4 == 5000  # type: ignore[union-attr]


def test_inventory_limit_is_one_sided() -> None:
    long = make_quotes(view(q=1000), PARAMS)
    assert long.bid is None and long.bid_reason is NoQuote.INVENTORY_LIMIT and long.ask is not None
    short = make_quotes(view(q=-1200), PARAMS)
    assert short.ask is None and short.ask_reason is NoQuote.INVENTORY_LIMIT and short.bid is not None
    assert long.one_sided and short.one_sided


def test_hard_extreme_low_quotes_bids_only_unless_unloading() -> None:
    flat = make_quotes(QuoteInputs(TAPERED, 300, 400, 0, SIGMA), PARAMS)
    assert flat.bid is not None and flat.ask is None and flat.ask_reason is NoQuote.HARD_EXTREME
    long = make_quotes(QuoteInputs(TAPERED, 300, 400, 200, SIGMA), PARAMS)
    assert long.ask is not None and long.ask.size_e2 == 200  # reduce-only: at most the position


def test_hard_extreme_high_quotes_asks_only_unless_unloading() -> None:
    flat = make_quotes(QuoteInputs(TAPERED, 9600, 9700, 0, SIGMA), PARAMS)
    assert flat.ask is not None and flat.bid is None and flat.bid_reason is NoQuote.HARD_EXTREME
    short = make_quotes(QuoteInputs(TAPERED, 9600, 9700, -300, SIGMA), PARAMS)
    assert short.bid is not None and short.bid.size_e2 == 300
    soft = make_quotes(QuoteInputs(TAPERED, 9400, 9500, 0, SIGMA), PARAMS)  # 94.5¢ is soft: two-sided
    assert soft.bid is not None and soft.ask is not None


def test_sizes_shrink_on_the_building_side() -> None:
    params = dataclasses.replace(PARAMS, order_size_e2=500, position_limit_buffer=0.1)
    q = make_quotes(view(q=600), params)
    assert q.ask.size_e2 == 500  # type: ignore[union-attr]  # reducing side: full size
    assert q.bid.size_e2 == 200  # type: ignore[union-attr]  # 500·(1 − 0.6)
    q = make_quotes(view(q=900), params)
    assert q.bid.size_e2 == 100  # type: ignore[union-attr]  # buffer (10% of 10) and remaining capacity (1)
    q = make_quotes(view(q=-950), dataclasses.replace(params, lot_e2=1))
    assert q.ask.size_e2 == 50  # type: ignore[union-attr]  # never beyond the limit


def test_throttle_widening_moves_each_side_out_and_is_capped() -> None:
    base = make_quotes(view(4700, 5300), PARAMS)
    wide = make_quotes(view(4700, 5300, widen_ticks=2), PARAMS)
    assert wide.bid.price_e4 == base.bid.price_e4 - 200  # type: ignore[union-attr]
    assert wide.ask.price_e4 == base.ask.price_e4 + 200  # type: ignore[union-attr]
    capped = make_quotes(view(4700, 5300, widen_ticks=50), PARAMS)
    assert capped.ask.price_e4 - capped.bid.price_e4 <= PARAMS.max_widened_spread_e4  # type: ignore[union-attr]


def test_inventory_skews_both_quotes_down() -> None:
    flat, long = make_quotes(view(tte=600.0), PARAMS), make_quotes(view(q=500, tte=600.0), PARAMS)
    assert long.model_bid < flat.model_bid and long.model_ask < flat.model_ask  # type: ignore[operator]
    assert long.bid.price_e4 <= flat.bid.price_e4  # type: ignore[union-attr]


def test_params_validation() -> None:
    with pytest.raises(ValueError):
        QuoteParams(MODEL, max_position_e2=500)  # disagrees with model.max_position (10 contracts)
    with pytest.raises(ValueError):
        QuoteParams(MODEL, min_total_spread_e4=500, max_total_spread_e4=400)
    with pytest.raises(ValueError):
        QuoteInputs(LINEAR, 4000, 6000, 0, float("nan"))


def test_params_from_config_defaults() -> None:
    params = params_from_config(
        AsModelConfig(),
        ExtremePricesConfig(),
        ThrottlingConfig(),
        RiskConfig(),
        category="crypto",
        order_size_e2=200,
        max_position_e2=1600,
        a_per_s=0.05,
        fee_rate=0.0175,
    )
    assert params.model.k == 72 and params.model.gamma == 0.05 and params.model.max_position == 16
    assert (params.hard_low_e4, params.hard_high_e4) == (500, 9500)
    assert (params.min_total_spread_e4, params.max_total_spread_e4) == (200, 1000)
    assert params.spread_shock_e4 == 2500 and params.position_limit_buffer == 0.1
    default_a = params_from_config(
        AsModelConfig(),
        ExtremePricesConfig(),
        ThrottlingConfig(),
        RiskConfig(),
        category="crypto",
        order_size_e2=200,
        max_position_e2=1600,
    )
    assert default_a.model.a == AsModelConfig().a_fallback_per_s
    assert make_quotes(view(), params).bid is not None
