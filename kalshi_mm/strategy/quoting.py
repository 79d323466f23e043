"""The order-turning step: model prices → on-grid, NBBO-respecting, size-limited quotes. Pure and deterministic.

:func:`make_quotes` takes a frozen :class:`QuoteInputs` (what the market and our book look like now) and frozen
:class:`QuoteParams` (configuration) and returns frozen :class:`Quotes`: at most one bid and one ask, prices in
1/10,000 $ (ints) and sizes in 1/100 contract (ints), each missing side with the reason it is missing.

Rules, in order (each only ever makes a quote *less* aggressive than the model asked for, so bid < ask holds
by construction once the model spread is positive):

1. No quotes at all from a stale book, a crossed or locked book, a book without a reference price, or a book
   wider than ``spread_shock_e4``.
2. Model prices (:func:`kalshi_mm.strategy.quote_models.model_prices`), total spread clamped to
   [min_total_spread, max_total_spread] around the model's centre.
3. Snap onto the market's grid: bid DOWN, ask UP (a side with no grid price in its direction is dropped).
4. Throttle widening: each side moves out ``widen_ticks`` grid ticks, the total capped at
   ``max_widened_spread_e4`` (never narrower than before widening).
5. NBBO: a bid stays strictly below the best ask and improves the best bid by at most one tick (joins it when
   ``improve_one_tick`` is off); asks mirror that. The book must exclude our own orders.
6. One-sided: no bid at inventory ≥ +Q, no ask at ≤ −Q; at a hard-extreme reference price (below the low
   soft band: bids only; above the high soft band: asks only) the unsafe side is dropped unless it reduces an
   existing position, and then it is sized to at most that position.
7. Sizes: full ``order_size_e2`` on the side that reduces inventory; on the side that builds it the size
   shrinks linearly with used capacity, but not below the position-limit buffer; never above the remaining
   capacity to the limit; rounded down to the lot.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from kalshi_mm.config.sections_trading import AsModelConfig, ExtremePricesConfig, RiskConfig, ThrottlingConfig
from kalshi_mm.strategy.quote_models import ModelKind, ModelParams, model_prices
from kalshi_mm.units import COUNT_SCALE, ONE_DOLLAR, PRICE_SCALE, PriceGrid, Rounding, price_from_float

__all__ = [
    "NoQuote",
    "Quote",
    "QuoteInputs",
    "QuoteParams",
    "Quotes",
    "make_quotes",
    "params_from_config",
]


class NoQuote(enum.Enum):
    """Why a side carries no order."""

    STALE_BOOK = "stale_book"
    CROSSED_BOOK = "crossed_book"
    NO_REFERENCE = "no_reference"
    SPREAD_SHOCK = "spread_shock"
    OFF_GRID = "off_grid"
    WOULD_CROSS = "would_cross"
    INVENTORY_LIMIT = "inventory_limit"
    HARD_EXTREME = "hard_extreme"
    NO_SIZE = "no_size"


@dataclass(frozen=True, slots=True)
class Quote:
    """One order: ``price_e4`` in 1/10,000 $ (on the market's grid), ``size_e2`` in 1/100 contract (> 0)."""

    price_e4: int
    size_e2: int


@dataclass(frozen=True, slots=True)
class Quotes:
    """The decision: a bid and an ask, each None with a reason when not quoted; model prices ($) for analytics."""

    bid: Quote | None
    ask: Quote | None
    bid_reason: NoQuote | None = None
    ask_reason: NoQuote | None = None
    reference_e4: int | None = None
    model_bid: float | None = None
    model_ask: float | None = None

    @property
    def one_sided(self) -> bool:
        """Exactly one side quoted."""
        return (self.bid is None) != (self.ask is None)


@dataclass(frozen=True, slots=True)
class QuoteParams:
    """Configuration of :func:`make_quotes`. Money in 1/10,000 $, counts in 1/100 contract.

    ``max_position_e2`` is the inventory bound Q (and must equal ``model.max_position`` contracts, which dynamic γ
    uses); ``position_limit_buffer`` is a fraction of Q: the smallest order on the inventory-building side.
    ``hard_low_e4``/``hard_high_e4``: a reference price strictly below / above these is a hard extreme.
    ``spread_shock_e4``: no quotes while the market is wider than this (None disables).
    """

    model: ModelParams
    order_size_e2: int = 500
    max_position_e2: int = 1000
    position_limit_buffer: float = 0.1
    lot_e2: int = COUNT_SCALE
    min_total_spread_e4: int = 200
    max_total_spread_e4: int = 1000
    max_widened_spread_e4: int = 1500
    improve_one_tick: bool = True
    hard_extreme_one_sided: bool = True
    hard_low_e4: int = 500
    hard_high_e4: int = 9500
    spread_shock_e4: int | None = 1500

    def __post_init__(self) -> None:
        if self.lot_e2 <= 0 or self.order_size_e2 < self.lot_e2 or self.max_position_e2 < self.lot_e2:
            raise ValueError("need lot_e2 > 0, order_size_e2 ≥ lot_e2 and max_position_e2 ≥ lot_e2")
        if not 0 < self.position_limit_buffer <= 1:
            raise ValueError(f"position_limit_buffer must be in (0, 1], got {self.position_limit_buffer!r}")
        if not 0 < self.min_total_spread_e4 <= self.max_total_spread_e4 < ONE_DOLLAR:
            raise ValueError("need 0 < min_total_spread_e4 ≤ max_total_spread_e4 < $1")
        if not 0 <= self.hard_low_e4 <= self.hard_high_e4 <= ONE_DOLLAR:
            raise ValueError("need 0 ≤ hard_low_e4 ≤ hard_high_e4 ≤ $1")
        if not math.isclose(self.model.max_position * COUNT_SCALE, self.max_position_e2, abs_tol=1e-6):
            raise ValueError("model.max_position (contracts) must equal max_position_e2 / 100")


@dataclass(frozen=True, slots=True)
class QuoteInputs:
    """A frozen view of one market for one decision.

    ``best_bid_e4``/``best_ask_e4``: best YES prices *excluding our own orders* (None = empty side);
    ``inventory_e2``: signed position, + long YES; ``sigma``: log-odds volatility per √s for a binary model
    (price σ per √s otherwise); ``time_to_expiry_s``: seconds to close (math.inf if unknown); ``fair_value_e4``
    overrides the book mid as the reference; ``widen_ticks`` comes from the throttles; ``k`` (per $), ``a``
    (fills/s) and ``xi`` ($ adverse move per fill) override the params with estimates when given.
    """

    grid: PriceGrid
    best_bid_e4: int | None
    best_ask_e4: int | None
    inventory_e2: int
    sigma: float
    time_to_expiry_s: float = math.inf
    book_stale: bool = False
    fair_value_e4: int | None = None
    widen_ticks: int = 0
    k: float | None = None
    a: float | None = None
    xi: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sigma) and self.sigma >= 0) or not self.time_to_expiry_s > 0:
            raise ValueError("sigma must be finite and ≥ 0, time_to_expiry_s > 0")
        if self.widen_ticks < 0:
            raise ValueError(f"widen_ticks must be ≥ 0, got {self.widen_ticks}")


def _none(reason: NoQuote, reference_e4: int | None = None) -> Quotes:
    return Quotes(None, None, reason, reason, reference_e4)


def _reference(view: QuoteInputs) -> int | None:
    if view.fair_value_e4 is not None:
        return view.fair_value_e4
    if view.best_bid_e4 is None or view.best_ask_e4 is None:
        return None
    return (view.best_bid_e4 + view.best_ask_e4) // 2


def _clamp_spread(bid: float, ask: float, lo: float, hi: float) -> tuple[float, float]:
    spread = min(max(ask - bid, lo), hi)
    centre = 0.5 * (bid + ask)
    return centre - 0.5 * spread, centre + 0.5 * spread


def _widen(grid: PriceGrid, bid: int | None, ask: int | None, ticks: int, cap: int) -> tuple[int | None, int | None]:
    if ticks == 0 or bid is None or ask is None:
        # With one side gone there is no spread to cap; widening a lone side only loses queue position.
        return bid, ask
    base = ask - bid
    for n in range(ticks, 0, -1):
        b, a = bid, ask
        for _ in range(n):
            b = grid.tick_below(b) if b is not None else None
            a = grid.tick_above(a) if a is not None else None
        if b is not None and a is not None and a - b <= max(cap, base):
            return b, a
    return bid, ask


def _nbbo_bid(grid: PriceGrid, bid: int, best_bid: int | None, best_ask: int | None, improve: bool) -> int | None:
    if best_ask is not None:
        below_ask = grid.tick_below(best_ask)
        if below_ask is None:
            return None
        bid = min(bid, below_ask)
    if best_bid is not None:
        better = grid.tick_above(best_bid) if improve else None
        cap = better if better is not None and (best_ask is None or better < best_ask) else best_bid
        bid = min(bid, cap)
    return bid


def _nbbo_ask(grid: PriceGrid, ask: int, best_bid: int | None, best_ask: int | None, improve: bool) -> int | None:
    if best_bid is not None:
        above_bid = grid.tick_above(best_bid)
        if above_bid is None:
            return None
        ask = max(ask, above_bid)
    if best_ask is not None:
        better = grid.tick_below(best_ask) if improve else None
        floor = better if better is not None and (best_bid is None or better > best_bid) else best_ask
        ask = max(ask, floor)
    return ask


def _sizes(params: QuoteParams, q_e2: int) -> tuple[int, int]:
    limit, lot = params.max_position_e2, params.lot_e2
    cap_bid, cap_ask = max(limit - q_e2, 0), max(limit + q_e2, 0)
    used = min(abs(q_e2) / limit, 1.0)
    # The building side shrinks with used capacity but keeps the buffer size, so inventory can still grow
    # (slowly) toward the limit instead of stalling; the reducing side always gets the full size.
    buffer_e2 = max(lot, int(limit * params.position_limit_buffer))
    building = min(params.order_size_e2, max(buffer_e2, int(params.order_size_e2 * (1.0 - used))))
    bid = building if q_e2 > 0 else params.order_size_e2
    ask = building if q_e2 < 0 else params.order_size_e2
    bid, ask = min(bid, cap_bid), min(ask, cap_ask)
    return bid - bid % lot, ask - ask % lot


def make_quotes(view: QuoteInputs, params: QuoteParams) -> Quotes:
    """Turn the model's prices into at most one bid and one ask for one market (rules in the module docstring)."""
    bb, ba = view.best_bid_e4, view.best_ask_e4
    if view.book_stale:
        return _none(NoQuote.STALE_BOOK)
    if bb is not None and ba is not None and bb >= ba:
        return _none(NoQuote.CROSSED_BOOK)
    ref = _reference(view)
    if ref is None or not 0 < ref < ONE_DOLLAR:
        return _none(NoQuote.NO_REFERENCE)
    if params.spread_shock_e4 is not None and bb is not None and ba is not None and ba - bb > params.spread_shock_e4:
        return _none(NoQuote.SPREAD_SHOCK, ref)

    q_e2 = view.inventory_e2
    mid = ref / PRICE_SCALE
    model_bid, model_ask = model_prices(
        mid, q_e2 / COUNT_SCALE, view.sigma, view.time_to_expiry_s, params.model, k=view.k, a=view.a, xi=view.xi
    )
    bid_f, ask_f = _clamp_spread(
        model_bid, model_ask, params.min_total_spread_e4 / PRICE_SCALE, params.max_total_spread_e4 / PRICE_SCALE
    )
    grid = view.grid
    bid = grid.snap(price_from_float(bid_f, Rounding.DOWN), Rounding.DOWN)
    ask = grid.snap(price_from_float(ask_f, Rounding.UP), Rounding.UP)
    bid_reason = ask_reason = None
    if bid is None:
        bid_reason = NoQuote.OFF_GRID
    if ask is None:
        ask_reason = NoQuote.OFF_GRID
    bid, ask = _widen(grid, bid, ask, view.widen_ticks, params.max_widened_spread_e4)
    if bid is not None:
        bid = _nbbo_bid(grid, bid, bb, ba, params.improve_one_tick)
        bid_reason = NoQuote.WOULD_CROSS if bid is None else None
    if ask is not None:
        ask = _nbbo_ask(grid, ask, bb, ba, params.improve_one_tick)
        ask_reason = NoQuote.WOULD_CROSS if ask is None else None

    bid_size, ask_size = _sizes(params, q_e2)
    hard_low = params.hard_extreme_one_sided and ref < params.hard_low_e4
    hard_high = params.hard_extreme_one_sided and ref > params.hard_high_e4
    if hard_low:
        # Selling YES below 5¢ risks ~95¢ to earn ~5¢; allowed only to unload a long position.
        ask_size = min(ask_size, max(q_e2, 0))
        ask_size -= ask_size % params.lot_e2
    if hard_high:
        bid_size = min(bid_size, max(-q_e2, 0))
        bid_size -= bid_size % params.lot_e2

    if q_e2 >= params.max_position_e2:
        bid, bid_reason = None, NoQuote.INVENTORY_LIMIT
    elif hard_high and bid_size == 0:
        bid, bid_reason = None, NoQuote.HARD_EXTREME
    elif bid is not None and bid_size <= 0:
        bid, bid_reason = None, NoQuote.NO_SIZE
    if q_e2 <= -params.max_position_e2:
        ask, ask_reason = None, NoQuote.INVENTORY_LIMIT
    elif hard_low and ask_size == 0:
        ask, ask_reason = None, NoQuote.HARD_EXTREME
    elif ask is not None and ask_size <= 0:
        ask, ask_reason = None, NoQuote.NO_SIZE

    return Quotes(
        bid=None if bid is None else Quote(bid, bid_size),
        ask=None if ask is None else Quote(ask, ask_size),
        bid_reason=bid_reason,
        ask_reason=ask_reason,
        reference_e4=ref,
        model_bid=model_bid,
        model_ask=model_ask,
    )


def params_from_config(
    as_model: AsModelConfig,
    extreme: ExtremePricesConfig,
    throttling: ThrottlingConfig,
    risk: RiskConfig,
    *,
    category: str,
    order_size_e2: int,
    max_position_e2: int,
    a_per_s: float | None = None,
    fee_rate: float = 0.0,
    kind: ModelKind = "glft",
    binary: bool = True,
    dynamic_gamma: bool = False,
    improve_one_tick: bool = True,
) -> QuoteParams:
    """QuoteParams from the typed config sections; per-market sizes come from the caller (dynamic config).

    ``as_model.base_gamma`` is γ per $ and ``k_for(category)`` is k per $ (the fallback until fills give an
    estimate); ``a_per_s`` (fills per second at distance 0) defaults to ``as_model.a_fallback_per_s``.
    """
    model = ModelParams(
        kind=kind,
        gamma=as_model.base_gamma,
        k=as_model.k_for(category),
        a=as_model.a_fallback_per_s if a_per_s is None else a_per_s,
        risk_horizon=as_model.risk_horizon_seconds,
        max_position=max_position_e2 / COUNT_SCALE,
        dynamic_gamma=dynamic_gamma,
        binary=binary,
        fee_rate=fee_rate,
    )
    return QuoteParams(
        model=model,
        order_size_e2=order_size_e2,
        max_position_e2=max_position_e2,
        position_limit_buffer=risk.position_limit_buffer,
        min_total_spread_e4=as_model.min_total_spread,
        max_total_spread_e4=as_model.max_total_spread,
        max_widened_spread_e4=max(throttling.max_total_widened_spread, as_model.max_total_spread),
        improve_one_tick=improve_one_tick,
        hard_extreme_one_sided=extreme.hard_extreme_one_sided,
        hard_low_e4=extreme.soft_extreme_band[0][0],
        hard_high_e4=extreme.soft_extreme_band[1][1],
        spread_shock_e4=extreme.spread_shock_threshold,
    )
