"""Hypothesis invariants of the quote models and the order-turning step.

For any grid, book, inventory and parameters: no quotes from a stale or crossed book; quoted prices on the grid,
inside (0, 1), bid < ask, never crossing the book, at most one tick better than the best price; spread ≥ the
minimum; sizes positive, whole lots, within the remaining capacity; one-sided exactly when a rule says so (and the
reason names the rule); reservation prices and quotes non-increasing in inventory.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_mm.strategy.quote_models import (
    ModelParams,
    as_reservation_price,
    binary_reservation_prices,
    dynamic_gamma,
    model_prices,
)
from kalshi_mm.strategy.quoting import NoQuote, QuoteInputs, QuoteParams, Quotes, make_quotes
from kalshi_mm.units import PriceGrid

GRIDS = [PriceGrid.linear_cent(), PriceGrid.tapered_deci_cent(), PriceGrid.deci_cent()]
GRID_PRICES = {id(g): [p for p in range(1, 10_000) if g.contains(p)] for g in GRIDS}


@st.composite
def model_params(draw: st.DrawFn, *, dynamic: bool | None = None, max_position: float = 10.0) -> ModelParams:
    return ModelParams(
        kind=draw(st.sampled_from(["glft", "as"])),
        gamma=draw(st.floats(0.001, 3.0)),
        k=draw(st.floats(5.0, 500.0)),
        a=draw(st.floats(0.001, 1.0)),
        xi=draw(st.floats(0.0, 0.05)),
        risk_horizon=draw(st.floats(60.0, 7200.0)),
        max_position=max_position,
        dynamic_gamma=draw(st.booleans()) if dynamic is None else dynamic,
        binary=True,
        fee_rate=draw(st.sampled_from([0.0, 0.0175, 0.035])),
    )


@st.composite
def quote_params(draw: st.DrawFn, *, dynamic: bool | None = None) -> QuoteParams:
    lot = draw(st.sampled_from([1, 100]))
    limit = draw(st.integers(1, 40)) * 100
    lo = draw(st.integers(1, 1500))
    return QuoteParams(
        model=draw(model_params(dynamic=dynamic, max_position=limit / 100)),
        order_size_e2=draw(st.integers(1, 10)) * 100,
        max_position_e2=limit,
        position_limit_buffer=draw(st.floats(0.01, 1.0)),
        lot_e2=lot,
        min_total_spread_e4=lo,
        max_total_spread_e4=draw(st.integers(lo, 3000)),
        max_widened_spread_e4=draw(st.integers(100, 4000)),
        improve_one_tick=draw(st.booleans()),
        hard_extreme_one_sided=draw(st.booleans()),
        spread_shock_e4=draw(st.sampled_from([None, 1500, 3000])),
    )


@st.composite
def quote_inputs(draw: st.DrawFn, limit_e2: int = 4000) -> QuoteInputs:
    grid = draw(st.sampled_from(GRIDS))
    prices = GRID_PRICES[id(grid)]
    i = draw(st.integers(0, len(prices) - 1))
    j = draw(st.integers(0, len(prices) - 1))
    bb, ba = prices[i], prices[j]  # sometimes crossed or locked on purpose
    if draw(st.integers(0, 9)) == 0:
        bb = None
    if draw(st.integers(0, 9)) == 0:
        ba = None
    return QuoteInputs(
        grid=grid,
        best_bid_e4=bb,
        best_ask_e4=ba,
        inventory_e2=draw(st.integers(-limit_e2 - 500, limit_e2 + 500)),
        sigma=draw(st.floats(0.0, 0.2)),
        time_to_expiry_s=draw(st.one_of(st.just(math.inf), st.floats(1.0, 1e6))),
        book_stale=draw(st.integers(0, 19)) == 0,
        fair_value_e4=draw(st.one_of(st.none(), st.integers(1, 9999))) if draw(st.booleans()) else None,
        widen_ticks=draw(st.integers(0, 6)),
    )


def _hard(view: QuoteInputs, quotes: Quotes, params: QuoteParams) -> tuple[bool, bool]:
    ref = quotes.reference_e4
    if ref is None or not params.hard_extreme_one_sided:
        return False, False
    return ref < params.hard_low_e4, ref > params.hard_high_e4


@settings(max_examples=400, deadline=None)
@given(view=quote_inputs(), params=quote_params())
def test_order_turning_invariants(view: QuoteInputs, params: QuoteParams) -> None:
    quotes = make_quotes(view, params)
    bb, ba, q, limit, lot = view.best_bid_e4, view.best_ask_e4, view.inventory_e2, params.max_position_e2, params.lot_e2
    if view.book_stale:
        assert quotes.bid is None and quotes.ask is None and quotes.bid_reason is NoQuote.STALE_BOOK
        return
    if bb is not None and ba is not None and bb >= ba:
        assert quotes.bid is None and quotes.ask is None and quotes.bid_reason is NoQuote.CROSSED_BOOK
        return
    grid = view.grid
    for side in (quotes.bid, quotes.ask):
        if side is not None:
            assert grid.contains(side.price_e4) and 0 < side.price_e4 < 10_000
            assert 0 < side.size_e2 <= params.order_size_e2 and side.size_e2 % lot == 0
    if quotes.bid is not None:
        assert quotes.bid_reason is None
        assert quotes.bid.size_e2 <= limit - q  # never beyond the long limit
        if ba is not None:
            assert quotes.bid.price_e4 < ba
        if bb is not None:
            better = grid.tick_above(bb)
            assert quotes.bid.price_e4 <= max(bb, better if better is not None else bb)
    else:
        assert quotes.bid_reason is not None
    if quotes.ask is not None:
        assert quotes.ask_reason is None
        assert quotes.ask.size_e2 <= limit + q
        if bb is not None:
            assert quotes.ask.price_e4 > bb
        if ba is not None:
            better = grid.tick_below(ba)
            assert quotes.ask.price_e4 >= min(ba, better if better is not None else ba)
    else:
        assert quotes.ask_reason is not None
    if quotes.bid is not None and quotes.ask is not None:
        assert quotes.bid.price_e4 < quotes.ask.price_e4
        assert quotes.ask.price_e4 - quotes.bid.price_e4 >= params.min_total_spread_e4
    if quotes.reference_e4 is None or quotes.bid_reason in (NoQuote.SPREAD_SHOCK, NoQuote.NO_REFERENCE):
        assert quotes.bid is None and quotes.ask is None
        return
    # One-sided exactly when a rule says so, and the reason names the rule.
    hard_low, hard_high = _hard(view, quotes, params)
    if q >= limit:
        assert quotes.bid is None and quotes.bid_reason is NoQuote.INVENTORY_LIMIT
    elif hard_high and -q < lot:  # no short to cover (in whole lots)
        assert quotes.bid is None and quotes.bid_reason is NoQuote.HARD_EXTREME
    else:
        assert quotes.bid_reason not in (NoQuote.INVENTORY_LIMIT, NoQuote.HARD_EXTREME)
    if q <= -limit:
        assert quotes.ask is None and quotes.ask_reason is NoQuote.INVENTORY_LIMIT
    elif hard_low and q < lot:  # no long to unload (in whole lots)
        assert quotes.ask is None and quotes.ask_reason is NoQuote.HARD_EXTREME
    else:
        assert quotes.ask_reason not in (NoQuote.INVENTORY_LIMIT, NoQuote.HARD_EXTREME)
    if hard_low and quotes.ask is not None:
        assert quotes.ask.size_e2 <= q  # at a hard-low price an ask only unloads
    if hard_high and quotes.bid is not None:
        assert quotes.bid.size_e2 <= -q


@settings(max_examples=300, deadline=None)
@given(view=quote_inputs(limit_e2=1000), params=quote_params(dynamic=False), dq=st.integers(1, 800))
def test_quotes_non_increasing_in_inventory(view: QuoteInputs, params: QuoteParams, dq: int) -> None:
    lo = QuoteInputs(**{**{f: getattr(view, f) for f in QuoteInputs.__dataclass_fields__}, "book_stale": False})
    hi = QuoteInputs(
        **{**{f: getattr(lo, f) for f in QuoteInputs.__dataclass_fields__}, "inventory_e2": lo.inventory_e2 + dq}
    )
    a, b = make_quotes(lo, params), make_quotes(hi, params)
    if a.model_bid is not None and b.model_bid is not None:
        assert b.model_bid <= a.model_bid + 1e-12 and b.model_ask <= a.model_ask + 1e-12  # type: ignore[operator]
    if a.bid is not None and b.bid is not None:
        assert b.bid.price_e4 <= a.bid.price_e4
    if a.ask is not None and b.ask is not None:
        assert b.ask.price_e4 <= a.ask.price_e4


@settings(max_examples=300, deadline=None)
@given(
    params=model_params(dynamic=False),
    mid=st.floats(0.01, 0.99),
    sigma=st.floats(0.0, 0.1),
    tte=st.floats(1.0, 1e5),
    q1=st.floats(-30, 30),
    dq=st.floats(0.01, 10),
)
def test_model_prices_and_skew_monotone_in_inventory(
    params: ModelParams, mid: float, sigma: float, tte: float, q1: float, dq: float
) -> None:
    b1, a1 = model_prices(mid, q1, sigma, tte, params)
    b2, a2 = model_prices(mid, q1 + dq, sigma, tte, params)
    assert b1 < a1 and b2 < a2
    assert b2 <= b1 + 1e-12 and a2 <= a1 + 1e-12
    # The skew (model centre minus mid) falls with inventory too.
    assert (b2 + a2) / 2 <= (b1 + a1) / 2 + 1e-12


@settings(max_examples=300, deadline=None)
@given(
    gamma=st.floats(0.001, 2.0),
    sigma=st.floats(0.0, 5.0),
    tau=st.floats(0.0, 2.0),
    limit=st.floats(1.0, 50.0),
    u1=st.floats(-1.0, 1.0),
    u2=st.floats(-1.0, 1.0),
)
def test_as_reservation_monotone_with_dynamic_gamma_inside_the_bound(
    gamma: float, sigma: float, tau: float, limit: float, u1: float, u2: float
) -> None:
    q1, q2 = sorted((u1 * limit, u2 * limit))
    r1 = as_reservation_price(100.0, q1, float(dynamic_gamma(gamma, q1, limit)), sigma, tau)
    r2 = as_reservation_price(100.0, q2, float(dynamic_gamma(gamma, q2, limit)), sigma, tau)
    assert r2 <= r1 + 1e-9


@settings(max_examples=300, deadline=None)
@given(p=st.floats(0.001, 0.999), gamma=st.floats(0.0001, 5.0), q=st.integers(-50, 50))
def test_binary_cara_prices_ordered(p: float, gamma: float, q: int) -> None:
    bid, ask = binary_reservation_prices(float(q), p, gamma)
    bid_next, ask_next = binary_reservation_prices(float(q + 1), p, gamma)
    eps = 1e-9  # CE differences at large |γq| cancel to ~1e-15
    assert -eps <= bid <= ask + eps and ask <= 1.0 + eps
    assert bid_next <= bid + eps and ask_next <= ask + eps
    if q == 0:
        assert bid <= p <= ask
