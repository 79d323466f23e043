"""Simulated market participants that trade through the in-process :class:`~kalshi_mm.sim.exchange.Exchange` API.

Three kinds, each one exchange user acting in every market it is given (state per market):

* :class:`LiquidityProvider` — keeps a ladder of resting limit orders around fair value and refreshes it on
  its own schedule (every ``lp_refresh_s``), re-laddering when its centre has moved and otherwise only
  replenishing filled levels. Between refreshes its quotes go stale, which is what informed takers and a
  faster market maker exploit. Orders are post-only: a refresh never takes liquidity.
* :class:`NoiseTaker` — Poisson arrivals; each hits the best bid or ask with an IOC order of random size.
* :class:`InformedTaker` — Poisson arrivals; trades only when fair value is at least ``informed_edge`` beyond
  the best quote, sweeping up to ``fair − edge`` (buying) or ``fair + edge`` (selling).

Agents only place and cancel orders: who fills whom is decided by the engine's price-time queue, never by
touch. All randomness comes from per-(agent, market) ``random.Random`` streams derived from the scenario seed,
so a run is reproducible. Prices and sizes are integers (``_e4``: 1/10,000 $, ``_e2``: 1/100 contract); the
fair value is a float probability and becomes a price only through ``price_from_float`` with an explicit
rounding direction and a grid snap (bids down, asks up).

Not thread-safe: one owner (:class:`~kalshi_mm.sim.simulation.MarketSimulation`) calls these from its thread and
feeds them the order updates and fills it drained from the exchange's listener.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import Fill, Order, OrderRequest, OrderStatus, SelfTradePrevention, Side, TimeInForce
from kalshi_mm.sim.scenario import LiquidityTier
from kalshi_mm.units import COUNT_SCALE, PriceGrid, Rounding, price_from_float

__all__ = [
    "AgentStats",
    "InformedTaker",
    "LiquidityProvider",
    "MarketView",
    "NoiseTaker",
    "log_uniform_contracts_e2",
    "poisson",
]

_E2_PER_100_CONTRACTS = 100 * COUNT_SCALE


@dataclass(slots=True)
class MarketView:
    """What the agents know of one market; the simulation updates ``fair_p`` and ``tradable`` every step."""

    ticker: str
    grid: PriceGrid
    tier: LiquidityTier
    fair_p: float
    tradable: bool = False

    def fair_e4(self, rounding: Rounding) -> int:
        """Fair value as a price in 1/10,000 $ (not snapped to the grid)."""
        return price_from_float(self.fair_p, rounding)


@dataclass(slots=True)
class AgentStats:
    """Counters per agent: orders sent, rejected by the exchange, cancels, contracts filled (e2)."""

    orders: int = 0
    rejects: int = 0
    cancels: int = 0
    filled_e2: int = 0
    reject_codes: dict[str, int] = field(default_factory=dict)

    def reject(self, exc: ExchangeError) -> None:
        self.rejects += 1
        self.reject_codes[exc.code] = self.reject_codes.get(exc.code, 0) + 1


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw with the given mean (Knuth's method: the means here are far below 1 per step)."""
    if mean <= 0.0:
        return 0
    limit = math.exp(-mean)
    k, prod = 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def log_uniform_contracts_e2(rng: random.Random, bounds: tuple[int, int]) -> int:
    """A size log-uniform between ``bounds`` (e2), rounded down to whole contracts (at least the low bound)."""
    lo, hi = bounds
    raw = lo if lo == hi else math.exp(rng.uniform(math.log(lo), math.log(hi)))
    whole = int(raw) // COUNT_SCALE * COUNT_SCALE
    return max(lo, whole)


class _Agent:
    def __init__(self, exchange: Exchange, user_id: str, seed: int):
        self.exchange = exchange
        self.user_id = user_id
        self.stats = AgentStats()
        self._seed = seed
        self._rngs: dict[str, random.Random] = {}

    def rng(self, ticker: str) -> random.Random:
        """This agent's random stream for ``ticker``: independent of every other agent and market."""
        rng = self._rngs.get(ticker)
        if rng is None:
            rng = self._rngs[ticker] = random.Random(f"{self._seed}/{self.user_id}/{ticker}")
        return rng

    def _send(self, request: OrderRequest) -> Order | None:
        self.stats.orders += 1
        try:
            result = self.exchange.place_order(self.user_id, request)
        except ExchangeError as exc:
            # Races the simulation cannot avoid (a market closing, a post-only cross against a stale quote)
            # are part of the market; count them and move on.
            self.stats.reject(exc)
            return None
        self.stats.filled_e2 += result.fill_count_e2
        return result.order


# --- liquidity providers -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Ladder:
    center_e4: int | None = None
    orders: dict[tuple[Side, int], str] = field(default_factory=dict)  # (side, price) -> order id
    next_refresh_s: float = 0.0


class LiquidityProvider(_Agent):
    """A market maker of the background: ``lp_levels`` levels per side around fair value (see module doc).

    ``rank`` (0, 1, ...) widens its half-spread by half a spread per rank, so several LPs stack into a book.
    """

    def __init__(self, exchange: Exchange, user_id: str, seed: int, rank: int):
        super().__init__(exchange, user_id, seed)
        self.rank = rank
        self._ladders: dict[str, _Ladder] = {}
        self._where: dict[str, tuple[str, Side, int]] = {}  # order id -> (ticker, side, price)
        self._position_e2: dict[str, int] = {}

    def position_e2(self, ticker: str) -> int:
        """Net position the LP holds in ``ticker`` (+ YES, − NO), from the fills it was told about."""
        return self._position_e2.get(ticker, 0)

    def on_order(self, order: Order) -> None:
        """An update of one of this LP's orders: forget it once it no longer rests."""
        if order.status is OrderStatus.RESTING:
            return
        where = self._where.pop(order.order_id, None)
        if where is not None:
            ladder = self._ladders.get(where[0])
            if ladder is not None and ladder.orders.get((where[1], where[2])) == order.order_id:
                del ladder.orders[(where[1], where[2])]

    def on_fill(self, fill: Fill) -> None:
        signed = fill.count_e2 if fill.side is Side.BID else -fill.count_e2
        self._position_e2[fill.ticker] = self._position_e2.get(fill.ticker, 0) + signed
        self.stats.filled_e2 += fill.count_e2

    def forget_market(self, ticker: str) -> None:
        """Drop the state of a closed market (its orders were cancelled by the exchange at close)."""
        ladder = self._ladders.pop(ticker, None)
        if ladder is not None:
            for order_id in ladder.orders.values():
                self._where.pop(order_id, None)

    def act(self, view: MarketView, now_s: float) -> None:
        """Refresh the ladder in ``view.ticker`` if its refresh time has come."""
        ladder = self._ladders.get(view.ticker)
        if ladder is None:
            ladder = self._ladders[view.ticker] = _Ladder()
            ladder.next_refresh_s = now_s
        if now_s < ladder.next_refresh_s or not view.tradable:
            return
        tier = view.tier
        rng = self.rng(view.ticker)
        # A jittered period keeps the LPs of a market (and the markets of an LP) from moving in lockstep.
        ladder.next_refresh_s = now_s + tier.lp_refresh_s * rng.uniform(0.75, 1.25)
        skew_e4 = tier.lp_skew_per_100_e4 * self.position_e2(view.ticker) // _E2_PER_100_CONTRACTS
        center = view.fair_e4(Rounding.DOWN) - skew_e4
        if ladder.center_e4 is None or abs(center - ladder.center_e4) >= tier.lp_requote_threshold_e4:
            ladder.center_e4 = center
        wanted = self._ladder_prices(view, ladder.center_e4)
        # Cancel first, so a re-laddered quote never meets this LP's own stale order on the other side.
        for key, order_id in list(ladder.orders.items()):
            if key not in wanted:
                self._cancel(view.ticker, order_id)
                del ladder.orders[key]
                self._where.pop(order_id, None)
        for (side, price), depth in wanted.items():
            if (side, price) in ladder.orders:
                continue
            base = log_uniform_contracts_e2(rng, tier.lp_size_e2)
            # Deeper levels rest a bit more size (+50% per level), in whole contracts.
            count = base + (base * depth // 2) // COUNT_SCALE * COUNT_SCALE
            order = self._send(
                OrderRequest(
                    ticker=view.ticker,
                    side=side,
                    price_e4=price,
                    count_e2=count,
                    post_only=True,
                    self_trade_prevention_type=SelfTradePrevention.MAKER,
                )
            )
            if order is not None and order.status is OrderStatus.RESTING:
                ladder.orders[(side, price)] = order.order_id
                self._where[order.order_id] = (view.ticker, side, price)

    def _ladder_prices(self, view: MarketView, center_e4: int) -> dict[tuple[Side, int], int]:
        """(side, price) -> depth (0 = touch) of the ladder, inside out so the touch is placed first."""
        tier = view.tier
        half = tier.lp_half_spread_e4 + tier.lp_half_spread_e4 * self.rank // 2
        out: dict[tuple[Side, int], int] = {}
        for depth in range(tier.lp_levels):
            offset = half + depth * tier.lp_level_step_e4
            bid = view.grid.snap(center_e4 - offset, Rounding.DOWN) if center_e4 - offset > 0 else None
            ask = view.grid.snap(center_e4 + offset, Rounding.UP)
            # Near the grid's edge two levels can snap onto one price: setdefault keeps the shallower.
            if bid is not None:
                out.setdefault((Side.BID, bid), depth)
            if ask is not None and (bid is None or ask > bid):
                out.setdefault((Side.ASK, ask), depth)
        return out

    def _cancel(self, ticker: str, order_id: str) -> None:
        self.stats.cancels += 1
        try:
            self.exchange.cancel_order(self.user_id, order_id, ticker=ticker)
        except ExchangeError as exc:
            # Already filled or closed between our last update and now: nothing left to cancel.
            self.stats.reject(exc)


# --- takers --------------------------------------------------------------------------------------------------


class NoiseTaker(_Agent):
    """Uninformed flow: Poisson arrivals at ``noise_rate_per_min``, each an IOC at the best opposite price."""

    def act(self, view: MarketView, dt_s: float) -> None:
        if not view.tradable:
            return
        rng = self.rng(view.ticker)
        arrivals = poisson(rng, view.tier.noise_rate_per_min * dt_s / 60.0)
        for _ in range(arrivals):
            buy = rng.random() < 0.5
            count = log_uniform_contracts_e2(rng, view.tier.noise_size_e2)
            top = self.exchange.top_of_book(view.ticker)
            price = top.yes_ask_e4 if buy else top.yes_bid_e4
            if price is None:
                continue
            self._send(
                OrderRequest(
                    ticker=view.ticker,
                    side=Side.BID if buy else Side.ASK,
                    price_e4=price,
                    count_e2=count,
                    time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL,
                )
            )


class InformedTaker(_Agent):
    """Flow that knows fair value: Poisson arrivals at ``informed_rate_per_min``; trades only with an edge."""

    def act(self, view: MarketView, dt_s: float) -> None:
        if not view.tradable:
            return
        rng = self.rng(view.ticker)
        tier = view.tier
        if not poisson(rng, tier.informed_rate_per_min * dt_s / 60.0):
            return
        top = self.exchange.top_of_book(view.ticker)
        count = max(COUNT_SCALE, int(tier.informed_max_e2 * rng.uniform(0.3, 1.0)) // COUNT_SCALE * COUNT_SCALE)
        buy_limit = view.grid.snap(view.fair_e4(Rounding.DOWN) - tier.informed_edge_e4, Rounding.DOWN)
        sell_limit = view.grid.snap(view.fair_e4(Rounding.UP) + tier.informed_edge_e4, Rounding.UP)
        if top.yes_ask_e4 is not None and buy_limit is not None and top.yes_ask_e4 <= buy_limit:
            self._send(
                OrderRequest(
                    ticker=view.ticker,
                    side=Side.BID,
                    price_e4=buy_limit,
                    count_e2=count,
                    time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL,
                )
            )
        elif top.yes_bid_e4 is not None and sell_limit is not None and top.yes_bid_e4 >= sell_limit:
            self._send(
                OrderRequest(
                    ticker=view.ticker,
                    side=Side.ASK,
                    price_e4=sell_limit,
                    count_e2=count,
                    time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL,
                )
            )
