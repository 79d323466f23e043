"""The simulated market around the embedded exchange: catalogue + fair values + traders, driven by a clock.

:class:`MarketSimulation` lists a scenario's catalogue on an :class:`~kalshi_mm.sim.exchange.Exchange`, gives
each event an :class:`~kalshi_mm.sim.fairvalue.EventFairValue`, and on every :meth:`MarketSimulation.step`
advances fair values, fires scheduled news, lets the traders of :mod:`kalshi_mm.sim.traders` act, and runs the
market lifecycle the exchange does not decide by itself: determining results after close (drawn from the
fair value) and listing the next event of hourly/daily series. :meth:`MarketSimulation.run` repeats ``step``
every ``scenario.step_s`` of the injected clock (``clock.wait``), so a scaled :class:`~kalshi_mm.clock.SimClock`
makes the whole market N× faster and a manual one makes it step exactly when a test advances it.

Determinism: the same scenario, seed, exchange seed and sequence of ``step`` times give the same trade log;
nothing here reads the clock except :meth:`run` (and the constructor, for the catalogue's "now").

Threading: :meth:`step` is serialised by an internal lock and is the only place that touches the agents.
The exchange listener only appends to a deque (atomic in CPython) which ``step`` drains, so an HTTP thread that
fills a simulated LP never waits on the simulation (no lock-order inversion with ``exchange.lock``).
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from dataclasses import dataclass

from kalshi_mm.clock import Clock
from kalshi_mm.sim.catalogue import Catalogue, EventSpec, MarketSpec, SeriesSpec, build_catalogue, build_event
from kalshi_mm.sim.errors import ExchangeError
from kalshi_mm.sim.events import ExchangeEvent, FillEvent, OrderUpdate, TradeEvent
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.fairvalue import EventFairValue
from kalshi_mm.sim.model import Trade
from kalshi_mm.sim.replay_market import ReplayFeed, ReplayQuoter, replay_series
from kalshi_mm.sim.scenario import NewsShock, Scenario, ScenarioError
from kalshi_mm.sim.traders import AgentStats, InformedTaker, LiquidityProvider, MarketView, NoiseTaker

__all__ = ["MarketSimulation", "NewsRecord"]

log = logging.getLogger(__name__)

_DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class NewsRecord:
    """A scheduled news shock that fired: when (Unix s), where, and the move asked for (cents, signed)."""

    ts_s: float
    event_ticker: str
    move_cents: float  # a chop's standard deviation
    transient: bool
    kind: str = "jump"  # "jump" or "chop" (see NewsShock)


@dataclass(slots=True)
class _LiveEvent:
    series: SeriesSpec
    spec: EventSpec
    fair: EventFairValue
    views: list[MarketView]
    rng: random.Random  # draws the result at determination
    closed: bool = False


@dataclass(slots=True)
class _NewsState:
    shock: NewsShock
    next_s: float
    sign: float = 1.0


class MarketSimulation:
    """Simulated participants and fair values for every market of a scenario, on one exchange.

    Accounts ``{prefix}lp-1..N``, ``{prefix}noise`` and ``{prefix}informed`` are created (or reused) with the
    scenario's cash, plus ``{prefix}replay`` (LP cash) when the scenario replays a recording. The catalogue is
    built relative to ``clock.time()`` at construction.

    Replay (``scenario.replay``, see :mod:`kalshi_mm.sim.replay_market`): a replayed market's fair value is the
    recorded mid instead of the simulated process, the :class:`ReplayQuoter` shows the recorded top of book
    instead of the LPs, takers still trade against it, and its result is drawn from its last recorded mid.
    """

    def __init__(
        self,
        exchange: Exchange,
        clock: Clock,
        scenario: Scenario,
        *,
        seed: int | None = None,
        user_prefix: str = "sim-",
    ):
        self.exchange = exchange
        self.clock = clock
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self._step_lock = threading.Lock()
        self._start_s = clock.time()
        self._last_s = self._start_s
        self.catalogue: Catalogue = build_catalogue(scenario, self._start_s, self.seed)
        self.replay: ReplayFeed | None = None
        self.quoter: ReplayQuoter | None = None
        if scenario.replay is not None:
            self.replay = ReplayFeed.from_spec(scenario.replay, self._start_s)
            extra = replay_series(self.replay, scenario, self.catalogue)
            if extra is not None:
                self.catalogue = Catalogue(series=(*self.catalogue.series, extra))
            self.quoter = ReplayQuoter(exchange, f"{user_prefix}replay")
        lp_count = max(tier.lp_count for tier in scenario.liquidity.values())
        self.lps = [LiquidityProvider(exchange, f"{user_prefix}lp-{i + 1}", self.seed, rank=i) for i in range(lp_count)]
        self.noise = NoiseTaker(exchange, f"{user_prefix}noise", self.seed)
        self.informed = InformedTaker(exchange, f"{user_prefix}informed", self.seed)
        self._lp_by_user = {lp.user_id: lp for lp in self.lps}
        self._inbox: deque[ExchangeEvent] = deque()
        self._events: list[_LiveEvent] = []
        self._by_ticker: dict[str, tuple[_LiveEvent, int]] = {}
        self._specs: dict[str, MarketSpec] = {}
        self._volume: dict[str, deque[tuple[int, int]]] = {}  # ticker -> (ts_ms, count_e2) of the last 24 h
        self._volume_sum: dict[str, int] = {}
        # Guards the two volume maps: HTTP threads read them while step() writes. Never held across an
        # exchange call, so it cannot deadlock with exchange.lock.
        self._volume_lock = threading.Lock()
        self.news_log: list[NewsRecord] = []
        self._in_pause_window = False
        series_listed = {s.series.ticker for s in self.catalogue.series}
        missing = [
            (f"news[{i}].series", f"series {n.series} is not in this scenario's catalogue")
            for i, n in enumerate(scenario.news)
            if n.series not in series_listed
        ]
        if missing:  # checked before anything is listed, so a bad scenario leaves the exchange untouched
            raise ScenarioError(scenario.name, missing)
        known = set(exchange.accounts())
        for lp in self.lps:
            if lp.user_id not in known:
                exchange.create_account(lp.user_id, scenario.lp_cash_e4)
        for taker in (self.noise, self.informed):
            if taker.user_id not in known:
                exchange.create_account(taker.user_id, scenario.taker_cash_e4)
        if self.quoter is not None and self.quoter.user_id not in known:
            exchange.create_account(self.quoter.user_id, scenario.lp_cash_e4)
        exchange.add_listener(self._inbox.append)
        for series_spec in self.catalogue.series:
            exchange.add_series(series_spec.series)
            for event_spec in series_spec.events:
                self._list_event(series_spec, event_spec)
        self._news = [_NewsState(n, self._start_s + n.at_s) for n in scenario.news]

    # --- reads --------------------------------------------------------------------------------------------

    @property
    def start_s(self) -> float:
        """Clock time (Unix s) the simulation started at."""
        return self._start_s

    @property
    def user_ids(self) -> tuple[str, ...]:
        """The exchange users the simulation trades as."""
        quoter = () if self.quoter is None else (self.quoter.user_id,)
        return (*(lp.user_id for lp in self.lps), self.noise.user_id, self.informed.user_id, *quoter)

    def market_specs(self) -> list[MarketSpec]:
        """Every market listed so far (initial catalogue plus rolled events), in listing order."""
        return list(self._specs.values())

    def fair_value(self, ticker: str) -> float | None:
        """The market's fair probability as of the last step (None when unknown or already determined)."""
        entry = self._by_ticker.get(ticker)
        return None if entry is None else entry[0].views[entry[1]].fair_p

    def volume_24h_e2(self, ticker: str) -> int:
        """Trailing 24-hour volume (1/100 contract) as of the last step: trades since the start, plus the
        catalogue's pre-start figure fading out linearly over the first day (it "ages out" of the window)."""
        spec = self._specs.get(ticker)
        if spec is None:
            return 0
        now_s = self._last_s
        carried = int(spec.volume_24h_e2 * max(0.0, 1.0 - (now_s - self._start_s) / _DAY_S))
        with self._volume_lock:
            self._prune_volume(ticker, int(now_s * 1000))
            return carried + self._volume_sum.get(ticker, 0)

    def trade_log(self) -> list[Trade]:
        """Every trade on the exchange since it started, oldest first (all users, not only simulated ones)."""
        return self.exchange.trade_log()

    def stats(self) -> dict[str, AgentStats]:
        """Counters per simulated user."""
        stats = {agent.user_id: agent.stats for agent in (*self.lps, self.noise, self.informed)}
        if self.quoter is not None:
            stats[self.quoter.user_id] = self.quoter.stats
        return stats

    # --- driving ------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Step every ``scenario.step_s`` of the clock until ``stop`` is set. A failing step is logged and the
        market carries on: a dead simulation thread would silently freeze every book."""
        while not stop.is_set():
            try:
                self.step(self.clock.time())
            except Exception:
                log.exception("market simulation step failed")
            if self.clock.wait(self.scenario.step_s, stop):
                return

    def step(self, now_s: float) -> None:
        """Advance the market to ``now_s`` (Unix s; an earlier time than the last step counts as no time)."""
        with self._step_lock:
            dt = max(0.0, now_s - self._last_s)
            self._last_s = max(self._last_s, now_s)
            self.exchange.tick()
            self._drain()
            self._fire_news(now_s)
            for ev in list(self._events):
                if not ev.closed:
                    self._advance_event(ev, now_s, dt)
            for ev in self._events:
                if ev.closed:
                    continue
                for view in ev.views:
                    if not view.tradable:
                        continue
                    self._drain()
                    # Informed flow first: it gets the first look at quotes that went stale this step.
                    self.informed.act(view, dt)
                    self.noise.act(view, dt)
                    if self.replay is not None and self.quoter is not None and view.ticker in self.replay:
                        # After the takers, and after hearing of their fills, so the recorded size is back on
                        # the book when the step ends.
                        self._drain()
                        self.quoter.act(view, self.replay.row(view.ticker, now_s))
                        continue
                    for lp in self.lps[: view.tier.lp_count]:
                        lp.act(view, now_s)
            self._determine_due(now_s)
            self._apply_trading_pauses(now_s)
            self._drain()

    # --- internals ----------------------------------------------------------------------------------------

    def _list_event(self, series: SeriesSpec, spec: EventSpec) -> None:
        self.exchange.add_event(spec.event)
        for m in spec.markets:
            self.exchange.add_market(m.market)
            self._specs[m.ticker] = m
        params = self.scenario.dynamics_for(series.category_key).params()
        fair = EventFairValue(
            params,
            [m.p0 for m in spec.markets],
            spec.event.mutually_exclusive,
            random.Random(f"{self.seed}/fair/{spec.event.event_ticker}"),
        )
        views = [MarketView(m.ticker, m.market.grid, self.scenario.liquidity[m.tier], m.p0) for m in spec.markets]
        self._replay_fair_values(views, self._last_s)
        ev = _LiveEvent(series, spec, fair, views, random.Random(f"{self.seed}/result/{spec.event.event_ticker}"))
        self._events.append(ev)
        for i, m in enumerate(spec.markets):
            self._by_ticker[m.ticker] = (ev, i)

    def _advance_event(self, ev: _LiveEvent, now_s: float, dt: float) -> None:
        if now_s >= ev.spec.close_ts:
            self._close_event(ev, now_s)
            return
        # Sub-steps no longer than the scenario's step keep regime switching accurate when a step comes late.
        remaining = dt
        while remaining > 0.0:
            chunk = min(remaining, self.scenario.step_s)
            ev.fair.advance(chunk)
            remaining -= chunk
        for view, p, m in zip(ev.views, ev.fair.probabilities(), ev.spec.markets, strict=True):
            view.fair_p = p
            view.tradable = m.market.open_ts <= now_s
        self._replay_fair_values(ev.views, now_s)

    def _replay_fair_values(self, views: list[MarketView], now_s: float) -> None:
        # A replayed market's fair value is the recording's; its event's process still runs for the others.
        if self.replay is None:
            return
        for view in views:
            if view.ticker in self.replay:
                view.fair_p = self.replay.fair_p(view.ticker, now_s)

    def _close_event(self, ev: _LiveEvent, now_s: float) -> None:
        ev.closed = True
        for view in ev.views:
            view.tradable = False
            for lp in self.lps:
                lp.forget_market(view.ticker)
            if self.quoter is not None:
                self.quoter.forget_market(view.ticker)
        tmpl = ev.series.template
        if tmpl.roll_period_s is None or not self.scenario.catalogue.roll_events:
            return
        last_close = max(e.spec.close_ts for e in self._events if e.series is ev.series)
        close_ts = last_close + tmpl.roll_period_s
        while close_ts <= now_s:  # the clock jumped past whole periods: list the next one still ahead
            close_ts += tmpl.roll_period_s
        rng = random.Random(f"{self.seed}/roll/{tmpl.ticker}/{close_ts}")
        spec = build_event(tmpl, self.scenario, close_ts, open_ts=int(now_s), rng=rng)
        self._list_event(ev.series, spec)

    def maintenance_windows(self) -> list[tuple[float, float]]:
        """The scenario's scheduled trading pauses as (start, end) Unix seconds."""
        return [(self._start_s + p.at_s, self._start_s + p.at_s + p.duration_s) for p in self.scenario.trading_pauses]

    def _apply_trading_pauses(self, now_s: float) -> None:
        # Only the schedule's own transitions touch the pause flag, so an operator's manual pause is left alone.
        in_window = any(start <= now_s < end for start, end in self.maintenance_windows())
        if in_window != self._in_pause_window:
            self._in_pause_window = in_window
            self.exchange.set_trading_paused(in_window)

    def _determine_due(self, now_s: float) -> None:
        delay = self.scenario.catalogue.determination_delay_s
        keep = []
        for ev in self._events:
            if not ev.closed or now_s < ev.spec.close_ts + delay:
                keep.append(ev)
                continue
            for m, view, yes in zip(ev.spec.markets, ev.views, ev.fair.draw_results(ev.rng), strict=True):
                if self.replay is not None and m.ticker in self.replay:
                    # The recording, not the process, says how likely YES is.
                    yes = random.Random(f"{self.seed}/replay-result/{m.ticker}").random() < view.fair_p
                try:
                    self.exchange.determine(m.ticker, "yes" if yes else "no")
                except ExchangeError as exc:
                    # Someone (an operator, a test) already determined it: their result stands.
                    log.info("not determining %s: %s", m.ticker, exc)
                self._by_ticker.pop(m.ticker, None)
        self._events = keep

    def _fire_news(self, now_s: float) -> None:
        for state in self._news:
            while now_s >= state.next_s:
                shock = state.shock
                target = self._nearest_open_event(shock.series, now_s)
                if target is not None and shock.kind == "chop":
                    assert shock.duration_s is not None  # the scenario validator requires it
                    target.fair.chop(shock.move_cents / 100.0, shock.half_life_s, shock.duration_s)
                    self.news_log.append(
                        NewsRecord(state.next_s, target.spec.event.event_ticker, shock.move_cents, True, "chop")
                    )
                elif target is not None:
                    move = state.sign * shock.move_cents
                    target.fair.shock(move / 100.0, shock.transient)
                    self.news_log.append(
                        NewsRecord(state.next_s, target.spec.event.event_ticker, move, shock.transient)
                    )
                if shock.every_s is None:
                    state.next_s = float("inf")
                else:
                    state.next_s += shock.every_s
                    state.sign = -state.sign

    def _nearest_open_event(self, series_ticker: str, now_s: float) -> _LiveEvent | None:
        candidates = [
            ev
            for ev in self._events
            if not ev.closed and ev.series.series.ticker == series_ticker and ev.spec.close_ts > now_s
        ]
        return min(candidates, key=lambda ev: ev.spec.close_ts, default=None)

    def _drain(self) -> None:
        inbox = self._inbox
        while inbox:
            event = inbox.popleft()
            if isinstance(event, OrderUpdate):
                lp = self._lp_by_user.get(event.user_id)
                if lp is not None:
                    lp.on_order(event.order)
                elif self.quoter is not None and event.user_id == self.quoter.user_id:
                    self.quoter.on_order(event.order)
            elif isinstance(event, FillEvent):
                lp = self._lp_by_user.get(event.user_id)
                if lp is not None:
                    lp.on_fill(event.fill)
                elif self.quoter is not None and event.user_id == self.quoter.user_id:
                    self.quoter.on_fill(event.fill)
            elif isinstance(event, TradeEvent):
                self._record_volume(event.trade)

    def _record_volume(self, trade: Trade) -> None:
        with self._volume_lock:
            self._volume.setdefault(trade.ticker, deque()).append((trade.ts_ms, trade.count_e2))
            self._volume_sum[trade.ticker] = self._volume_sum.get(trade.ticker, 0) + trade.count_e2
            self._prune_volume(trade.ticker, trade.ts_ms)

    def _prune_volume(self, ticker: str, now_ms: int) -> None:
        window = self._volume.get(ticker)
        if not window:
            return
        horizon = now_ms - int(_DAY_S * 1000)
        total = self._volume_sum[ticker]
        while window and window[0][0] <= horizon:
            total -= window.popleft()[1]
        self._volume_sum[ticker] = total
