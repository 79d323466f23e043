"""Replayed markets in the simulation: a recorded file bound to the simulation's clock, the markets it lists,
and the background quoter that shows the recorded top of book.

* :class:`ReplayFeed` — which recorded row is in force at a clock time: the file's first row maps to the
  simulation's start, ``speed`` recorded seconds pass per simulated second, ``loop`` repeats the file.
* :func:`replay_series` — tickers of the file that are not in the catalogue become new markets of the series
  :data:`REPLAY_SERIES` (category :data:`REPLAY_CATEGORY`), open from the start; tickers that are in the
  catalogue are replayed in place, after checking every recorded price is on their grid.
* :class:`ReplayQuoter` — one exchange user that keeps exactly one resting bid at the recorded best bid and
  one ask at the recorded best ask (recorded sizes) in each replayed market, and cancels/replaces them when the
  row in force changes or a taker has eaten into them. Its orders are plain limit orders (not post-only): an
  order that crosses the recorded price would have traded in the recorded market, so it trades here too.

Not thread-safe: :class:`~kalshi_mm.sim.simulation.MarketSimulation` owns these and calls them from ``step``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from kalshi_mm.sim.catalogue import Catalogue, EventSpec, MarketSpec, SeriesSpec, category_key
from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.model import (
    Event,
    FeeType,
    Fill,
    Market,
    MarketStatus,
    Order,
    OrderRequest,
    OrderStatus,
    SelfTradePrevention,
    Series,
    Side,
)
from kalshi_mm.sim.replay import ReplayError, ReplayFile, ReplayRow, ReplayTrack, grid_for_prices, load_replay
from kalshi_mm.sim.scenario import ReplaySpec, Scenario
from kalshi_mm.sim.templates import SeriesTemplate
from kalshi_mm.sim.traders import AgentStats, MarketView
from kalshi_mm.units import PriceGrid

__all__ = [
    "REPLAY_CATEGORY",
    "REPLAY_SERIES",
    "REPLAY_TIER",
    "ReplayFeed",
    "ReplayQuoter",
    "replay_series",
]

REPLAY_SERIES = "KXREPLAY"
REPLAY_CATEGORY = "Economics"
# The liquidity tier of new replayed markets: sets the noise/informed flow that trades against the recording.
REPLAY_TIER = "normal"
_HOUR = 3600
_DAY = 86_400
# A looping replay never ends, so its markets stay listed this long.
_LOOP_LISTING_S = 365 * _DAY


class ReplayFeed:
    """A parsed replay file bound to a simulation that started at ``start_s`` (Unix s)."""

    def __init__(self, replay: ReplayFile, start_s: float, *, loop: bool = False, speed: float = 1.0):
        if speed <= 0:
            raise ValueError(f"replay speed must be positive, got {speed!r}")
        if loop and replay.duration_s <= 0:
            raise ReplayError(replay.path, None, None, "loop needs rows at two or more different times")
        self.file = replay
        self.start_s = start_s
        self.loop = loop
        self.speed = speed

    @classmethod
    def from_spec(cls, spec: ReplaySpec, start_s: float) -> ReplayFeed:
        """Load the scenario's replay file (raises :class:`~kalshi_mm.sim.replay.ReplayError`)."""
        return cls(load_replay(Path(spec.file)), start_s, loop=spec.loop, speed=spec.speed)

    def __contains__(self, ticker: object) -> bool:
        return ticker in self.file.tracks

    def tracks(self) -> Iterator[ReplayTrack]:
        yield from self.file.tracks.values()

    def offset_s(self, now_s: float) -> float:
        """Recorded seconds after the file's first row that clock time ``now_s`` replays."""
        return max(0.0, now_s - self.start_s) * self.speed

    def row(self, ticker: str, now_s: float) -> ReplayRow | None:
        """The row of ``ticker`` in force at clock time ``now_s`` (None before its first row)."""
        return self.file.tracks[ticker].at(self.offset_s(now_s), self._period())

    def fair_p(self, ticker: str, now_s: float) -> float:
        """The recorded fair probability of ``ticker`` at clock time ``now_s`` (model float; see
        :meth:`~kalshi_mm.sim.replay.ReplayTrack.fair_p`)."""
        return self.file.tracks[ticker].fair_p(self.offset_s(now_s), self._period())

    @property
    def end_s(self) -> float | None:
        """Clock time (Unix s) the recording ends, None when it loops."""
        return None if self.loop else self.start_s + self.file.duration_s / self.speed

    def _period(self) -> float | None:
        return self.file.duration_s if self.loop else None


def replay_series(feed: ReplayFeed, scenario: Scenario, catalogue: Catalogue) -> SeriesSpec | None:
    """The series listing the file's tickers that are not in ``catalogue`` (None when there are none).

    Raises :class:`~kalshi_mm.sim.replay.ReplayError` when a catalogue ticker's recorded price is off its grid
    or a new ticker would collide with a catalogue event. New markets share one grid: the coarsest holding every
    price of the file (:func:`~kalshi_mm.sim.replay.grid_for_prices`). A market's event is its ticker up to
    the last ``-`` (Kalshi's convention), so ``KXREPLAY-CPI-T0.3`` and ``KXREPLAY-CPI-T0.4`` share an event.
    """
    listed = {m.ticker: m.market for m in catalogue.markets()}
    catalogue_events = {e.event.event_ticker for e in catalogue.events()}
    new: dict[str, list[ReplayTrack]] = {}
    for track in feed.tracks():
        market = listed.get(track.ticker)
        if market is not None:
            _check_grid(feed.file.path, track, market.grid, market.price_level_structure)
            continue
        event_ticker = track.ticker.rsplit("-", 1)[0] if "-" in track.ticker else track.ticker
        if event_ticker in catalogue_events or track.ticker in catalogue_events:
            raise ReplayError(
                feed.file.path,
                track.first.line,
                "ticker",
                f"{track.ticker} is not a catalogue market but would join the catalogue's event {event_ticker}",
            )
        new.setdefault(event_ticker, []).append(track)
    if not new:
        return None
    grid, structure = grid_for_prices(feed.file.prices())
    end_s = feed.end_s
    close_ts = math.ceil(end_s) + _DAY if end_s is not None else math.ceil(feed.start_s) + _LOOP_LISTING_S
    open_ts = math.floor(feed.start_s)
    tier = scenario.liquidity[REPLAY_TIER]
    key = category_key(REPLAY_CATEGORY, ())
    events = []
    for event_ticker, tracks in new.items():
        markets = tuple(
            MarketSpec(
                market=_market(
                    t, event_ticker, open_ts, close_ts, grid, structure, tier.open_interest_e2[0], tier.volume_24h_e2[0]
                ),
                category_key=key,
                tier=REPLAY_TIER,
                p0=t.fair_p(0.0),
                # The tier's low bound: a replayed market looks as traded as the thinnest of its tier to the
                # daemon's discovery filters rather than dead.
                volume_24h_e2=tier.volume_24h_e2[0],
            )
            for t in tracks
        )
        event = Event(
            event_ticker=event_ticker,
            series_ticker=REPLAY_SERIES,
            title=f"Replayed {event_ticker}",
            sub_title="Recorded top of book",
            strike_date=close_ts,
        )
        events.append(EventSpec(event=event, markets=markets, close_ts=close_ts))
    series = Series(
        ticker=REPLAY_SERIES,
        title="Replayed markets",
        category=REPLAY_CATEGORY,
        categories=(REPLAY_CATEGORY,),
        tags=("Replay",),
        frequency="custom",
        fee_type=FeeType.QUADRATIC,
        contract_url=f"https://kalshi.com/markets/{REPLAY_SERIES.lower()}",
        settlement_sources=("Recorded",),
    )
    template = SeriesTemplate(
        REPLAY_SERIES,
        series.title,
        REPLAY_CATEGORY,
        series.tags,
        frequency="custom",
        fee_type=FeeType.QUADRATIC,
        grid=structure,
        tier=REPLAY_TIER,
        kind="binary",
        date_code="day",
        close_offsets_s=(),
    )
    return SeriesSpec(series=series, template=template, category_key=key, events=tuple(events))


def _check_grid(path: str, track: ReplayTrack, grid: PriceGrid, structure: str) -> None:
    for row in track.rows:
        for column, price in (("yes_bid", row.yes_bid_e4), ("yes_ask", row.yes_ask_e4)):
            if price is not None and not grid.contains(price):
                raise ReplayError(
                    path,
                    row.line,
                    column,
                    f"price {price / 10_000:.4f} is off the {structure} grid of catalogue market {track.ticker}",
                )


def _market(
    track: ReplayTrack,
    event_ticker: str,
    open_ts: int,
    close_ts: int,
    grid: PriceGrid,
    structure: str,
    open_interest_e2: int,
    volume_24h_e2: int,
) -> Market:
    return Market(
        ticker=track.ticker,
        event_ticker=event_ticker,
        open_ts=open_ts,
        close_ts=close_ts,
        title=f"Replayed {track.ticker}",
        yes_sub_title=track.ticker,
        no_sub_title=track.ticker,
        expected_expiration_ts=close_ts + _HOUR,
        latest_expiration_ts=close_ts + 7 * _DAY,
        grid=grid,
        price_level_structure=structure,
        settlement_timer_seconds=60,
        rules_primary=(
            f"Replays the recorded top of book of {track.ticker}; resolves Yes with its last recorded mid "
            "as the probability."
        ),
        status=MarketStatus.INITIALIZED,
        volume_e2=2 * volume_24h_e2,
        open_interest_e2=open_interest_e2,
    )


class ReplayQuoter:
    """The background of replayed markets: per market, one bid at the recorded best bid and one ask at the
    recorded best ask, each for the recorded size (see module doc)."""

    def __init__(self, exchange: Exchange, user_id: str):
        self.exchange = exchange
        self.user_id = user_id
        self.stats = AgentStats()
        self._quotes: dict[str, dict[Side, Order]] = {}  # ticker -> side -> the resting order as last seen

    def on_order(self, order: Order) -> None:
        """An update of one of this user's orders: keep the latest snapshot, forget it once it stops resting."""
        quotes = self._quotes.get(order.ticker)
        if quotes is None:
            return
        current = quotes.get(order.side)
        if current is None or current.order_id != order.order_id:
            return
        if order.status is OrderStatus.RESTING:
            quotes[order.side] = order
        else:
            del quotes[order.side]

    def on_fill(self, fill: Fill) -> None:
        self.stats.filled_e2 += fill.count_e2

    def forget_market(self, ticker: str) -> None:
        """Drop a closed market (the exchange cancelled its orders at close)."""
        self._quotes.pop(ticker, None)

    def resting(self, ticker: str) -> dict[Side, Order]:
        """This quoter's resting orders in ``ticker`` as last seen, by side."""
        return dict(self._quotes.get(ticker, {}))

    def act(self, view: MarketView, row: ReplayRow | None) -> None:
        """Make ``view.ticker``'s quotes equal ``row`` (no quotes when None): cancel what differs, place what is
        missing. Untouched when the quotes already match, so their queue position is kept."""
        if not view.tradable:
            return
        wanted: dict[Side, tuple[int, int]] = {}
        if row is not None:
            if row.yes_bid_e4 is not None:
                wanted[Side.BID] = (row.yes_bid_e4, row.yes_bid_size_e2)
            if row.yes_ask_e4 is not None:
                wanted[Side.ASK] = (row.yes_ask_e4, row.yes_ask_size_e2)
        quotes = self._quotes.setdefault(view.ticker, {})
        # Cancel before placing, so a new quote never meets this quoter's own stale order on the other side.
        for side, order in list(quotes.items()):
            if wanted.get(side) != (order.price_e4, order.remaining_count_e2):
                self._cancel(order)
                del quotes[side]
        for side, (price, size) in wanted.items():
            if side not in quotes:
                placed = self._place(
                    OrderRequest(view.ticker, side, price, size, self_trade_prevention_type=SelfTradePrevention.MAKER)
                )
                if placed is not None and placed.status is OrderStatus.RESTING:
                    quotes[side] = placed

    def _place(self, request: OrderRequest) -> Order | None:
        self.stats.orders += 1
        try:
            result = self.exchange.place_order(self.user_id, request)
        except ExchangeError as exc:
            # A pause or a close between steps: counted, and retried at the next step.
            self.stats.reject(exc)
            return None
        return result.order  # its fills, taker ones included, arrive through on_fill

    def _cancel(self, order: Order) -> None:
        self.stats.cancels += 1
        try:
            self.exchange.cancel_order(self.user_id, order.order_id, ticker=order.ticker)
        except ExchangeError as exc:
            # Filled or closed between our last update and now: nothing left to cancel.
            self.stats.reject(exc)
