"""The simulated exchange's catalogue: Kalshi-like Series → Events → Markets, built from a scenario and a seed.

The templates (:mod:`kalshi_mm.sim.templates`) are modelled on real Kalshi series (tickers such as
``KXFEDDECISION-26JAN-H0``,
``KXBTCD-26JAN0100-T97499.99``, ``KXHIGHNY-26JAN01-B34.5``): strike ladders, mutually exclusive outcome sets
and single binaries, with close times from under an hour (hourly crypto) to months (Fed meetings, awards),
price grids mixing ``linear_cent`` / ``tapered_deci_cent`` / ``deci_cent``, both quadratic fee types, and a
liquidity tier per series that decides how much simulated flow its markets get. A scenario picks the first
N templates of each Kalshi category (``catalogue.series_per_category``).

Category lives on the Series (NOTES §3.5). :func:`category_key` is the one place that maps a Kalshi
category (plus a refining tag) to the daemon's seed category keys (``rates``, ``economic``, ``crypto``, ...).

Date codes in tickers use UTC (Kalshi uses US Eastern time; the difference does not matter to a simulation).
Times are Unix seconds; money is not involved here except the 24h-volume/open-interest figures in 1/100
contract.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from kalshi_mm.sim.model import Event, Market, MarketStatus, Series
from kalshi_mm.sim.scenario import Scenario
from kalshi_mm.sim.templates import TEMPLATES, SeriesTemplate
from kalshi_mm.units import PriceGrid

__all__ = [
    "TEMPLATES",
    "Catalogue",
    "EventSpec",
    "MarketSpec",
    "SeriesSpec",
    "SeriesTemplate",
    "build_catalogue",
    "build_event",
    "category_key",
]

_HOUR = 3600
_DAY = 86_400

# Kalshi category -> the seed's category key; (category, tag) pairs refine it. The single mapping point.
_CATEGORY_KEYS = {
    "Economics": "economic",
    "Financials": "economic",
    "Crypto": "crypto",
    "Sports": "sports",
    "Entertainment": "entertainment",
    "Climate and Weather": "weather",
    "Politics": "politics",
    "Science and Technology": "tech",
}
_TAG_KEYS = {
    ("Economics", "Interest Rates"): "rates",
    ("Politics", "Local"): "long-tail-politics",
}

_GRIDS = {
    "linear_cent": PriceGrid.linear_cent(),
    "tapered_deci_cent": PriceGrid.tapered_deci_cent(),
    "deci_cent": PriceGrid.deci_cent(),
}


def category_key(category: str, tags: tuple[str, ...] = ()) -> str:
    """The seed category key (``rates``, ``economic``, ``crypto``, ``sports``, ...) of a Kalshi Series.

    A tag can refine the category (Economics + "Interest Rates" -> ``rates``); unknown categories map to
    ``default``.
    """
    for tag in tags:
        refined = _TAG_KEYS.get((category, tag))
        if refined is not None:
            return refined
    return _CATEGORY_KEYS.get(category, "default")


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """A market to list plus what the simulation needs about it: initial fair probability and flow tier.

    ``market.volume_e2`` / ``market.open_interest_e2`` carry the initial figures; ``volume_24h_e2`` is the
    trailing-24h volume to report before the simulation has traded for a day (1/100 contract).
    """

    market: Market
    category_key: str
    tier: str
    p0: float
    volume_24h_e2: int

    @property
    def ticker(self) -> str:
        return self.market.ticker


@dataclass(frozen=True, slots=True)
class EventSpec:
    event: Event
    markets: tuple[MarketSpec, ...]
    close_ts: int


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    series: Series
    template: SeriesTemplate
    category_key: str
    events: tuple[EventSpec, ...]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The initial listing: series in template order, each with its events and markets."""

    series: tuple[SeriesSpec, ...]

    def events(self) -> Iterator[EventSpec]:
        for s in self.series:
            yield from s.events

    def markets(self) -> Iterator[MarketSpec]:
        for e in self.events():
            yield from e.markets


def build_catalogue(scenario: Scenario, now_s: float, seed: int | None = None) -> Catalogue:
    """Build the catalogue a scenario asks for, with close times relative to ``now_s`` (Unix seconds).

    ``seed`` defaults to the scenario's seed; the same scenario, seed and ``now_s`` give the same catalogue.
    """
    seed = scenario.seed if seed is None else seed
    picked: dict[str, int] = {}
    chosen: list[SeriesTemplate] = []
    for tmpl in TEMPLATES:
        wanted = scenario.catalogue.series_per_category.get(tmpl.category, 0)
        if picked.get(tmpl.category, 0) >= wanted:
            continue
        picked[tmpl.category] = picked.get(tmpl.category, 0) + 1
        chosen.append(tmpl)
    copies = scenario.catalogue.copies
    out = []
    for copy, original in itertools.product(range(1, copies + 1), chosen):
        tmpl = original if copy == 1 else dataclasses.replace(original, ticker=f"{original.ticker}{copy}")
        rng = random.Random(f"{seed}/catalogue/{tmpl.ticker}")
        key = category_key(tmpl.category, tmpl.tags)
        closes = list(tmpl.close_offsets_s)
        if tmpl.roll_period_s is not None:
            closes = [closes[0] + i * tmpl.roll_period_s for i in range(scenario.catalogue.events_ahead)]
        events = tuple(
            build_event(tmpl, scenario, int(now_s) + off, open_ts=int(now_s) - 2 * _DAY, rng=rng) for off in closes
        )
        series = Series(
            ticker=tmpl.ticker,
            title=tmpl.title,
            category=tmpl.category,
            categories=(tmpl.category,),
            tags=tmpl.tags,
            frequency=tmpl.frequency,
            fee_type=tmpl.fee_type,
            fee_multiplier=tmpl.fee_multiplier,
            contract_url=f"https://kalshi.com/markets/{tmpl.ticker.lower()}",
            settlement_sources=("Simulated",),
        )
        out.append(SeriesSpec(series=series, template=tmpl, category_key=key, events=events))
    return Catalogue(series=tuple(out))


def build_event(tmpl: SeriesTemplate, scenario: Scenario, close_ts: int, open_ts: int, rng: random.Random) -> EventSpec:
    """One event of ``tmpl`` closing at ``close_ts`` (Unix s), its markets open from ``open_ts``."""
    event_ticker = f"{tmpl.ticker}-{_date_code(close_ts, tmpl.date_code)}{tmpl.event_suffix}"
    tier = scenario.liquidity[tmpl.tier]
    key = category_key(tmpl.category, tmpl.tags)
    rows = _market_rows(tmpl, rng)
    markets = []
    for code, subtitle, p0, strike_type, floor, cap in rows:
        volume_24h = _log_uniform_e2(rng, tier.volume_24h_e2)
        market = Market(
            ticker=f"{event_ticker}-{code}",
            event_ticker=event_ticker,
            open_ts=open_ts,
            close_ts=close_ts,
            title=f"{tmpl.title}: {subtitle}?",
            yes_sub_title=subtitle,
            no_sub_title=subtitle,
            expected_expiration_ts=close_ts + _HOUR,
            latest_expiration_ts=close_ts + 7 * _DAY,
            grid=_GRIDS[tmpl.grid],
            price_level_structure=tmpl.grid,
            settlement_timer_seconds=tmpl.settlement_timer_s,
            can_close_early=tmpl.can_close_early,
            rules_primary=f"If {subtitle} for {tmpl.title.lower()}, the market resolves to Yes.",
            strike_type=strike_type,
            floor_strike=floor,
            cap_strike=cap,
            status=MarketStatus.INITIALIZED,
            # A market has traded for a while before we list it: lifetime volume ≥ 24h volume.
            volume_e2=volume_24h * (2 + rng.randrange(5)),
            open_interest_e2=_log_uniform_e2(rng, tier.open_interest_e2),
        )
        markets.append(MarketSpec(market=market, category_key=key, tier=tmpl.tier, p0=p0, volume_24h_e2=volume_24h))
    event = Event(
        event_ticker=event_ticker,
        series_ticker=tmpl.ticker,
        title=f"{tmpl.title} ({_date_code(close_ts, 'day')})",
        sub_title=tmpl.title,
        mutually_exclusive=tmpl.mutually_exclusive,
        collateral_return_type="MECNET" if tmpl.mutually_exclusive else "",
        strike_date=close_ts,
    )
    return EventSpec(event=event, markets=tuple(markets), close_ts=close_ts)


# --- internals --------------------------------------------------------------------------------------------

_Row = tuple[str, str, float, str | None, float | None, float | None]
_P_MIN, _P_MAX = 0.004, 0.996  # keep initial fair values off the grid edges


def _market_rows(tmpl: SeriesTemplate, rng: random.Random) -> list[_Row]:
    if tmpl.kind in ("outcomes", "binary"):
        weights = [
            max(1e-4, w * (1.0 + rng.uniform(-tmpl.outcome_jitter, tmpl.outcome_jitter))) for _, _, w in tmpl.outcomes
        ]
        if tmpl.kind == "binary":
            code, label, _ = tmpl.outcomes[0]
            return [(code, label, _clip(weights[0]), None, None, None)]
        total = sum(weights)
        return [
            (code, label, _clip(w / total), None, None, None)
            for (code, label, _), w in zip(tmpl.outcomes, weights, strict=True)
        ]
    mean = tmpl.latent_mean + rng.gauss(0.0, tmpl.latent_jitter_sd) if tmpl.latent_jitter_sd else tmpl.latent_mean

    def cdf(x: float) -> float:
        return 0.5 * (1.0 + math.erf((x - mean) / (tmpl.latent_sd * math.sqrt(2.0))))

    fmt = f"{{:.{tmpl.strike_decimals}f}}"
    if tmpl.kind == "ladder":
        return [
            (f"T{fmt.format(k)}", f"Above {fmt.format(k)}", _clip(1.0 - cdf(k)), "greater", k, None)
            for k in tmpl.strikes
        ]
    edges = tmpl.strikes
    lo_tail = edges[0] - 0.5
    hi_tail = edges[-1] + 0.5
    probs = [cdf(edges[0])]
    rows: list[_Row] = [(f"T{lo_tail:g}", f"{lo_tail:g} or below", 0.0, "less", None, lo_tail)]
    for a, b in itertools.pairwise(edges):
        mid = (a + b) / 2.0
        probs.append(cdf(b) - cdf(a))
        rows.append((f"B{fmt.format(mid)}", f"{a + 0.5:g} to {b - 0.5:g}", 0.0, "between", a + 0.5, b - 0.5))
    probs.append(1.0 - cdf(edges[-1]))
    rows.append((f"T{hi_tail:g}", f"{hi_tail:g} or above", 0.0, "greater", hi_tail, None))
    clipped = [max(_P_MIN, p) for p in probs]
    total = sum(clipped)
    return [(c, s, p / total, st, f, k) for (c, s, _, st, f, k), p in zip(rows, clipped, strict=True)]


def _clip(p: float) -> float:
    return min(_P_MAX, max(_P_MIN, p))


def _log_uniform_e2(rng: random.Random, bounds: tuple[int, int]) -> int:
    lo, hi = bounds
    if lo == hi:
        return lo
    # exp(log(x)) can land a hair below x: clamp so the draw always honours the scenario's bounds.
    return max(lo, min(hi, int(math.exp(rng.uniform(math.log(lo), math.log(hi))))))


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _date_code(ts: int, style: str) -> str:
    d = datetime.fromtimestamp(ts, UTC)
    yy, mon = f"{d.year % 100:02d}", _MONTHS[d.month - 1]
    if style == "year":
        return yy
    if style == "month":
        return f"{yy}{mon}"
    if style == "day":
        return f"{yy}{mon}{d.day:02d}"
    if style == "hour":
        return f"{yy}{mon}{d.day:02d}{d.hour:02d}"
    raise ValueError(f"unknown date code style {style!r}")
