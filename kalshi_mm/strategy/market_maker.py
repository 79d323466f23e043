"""``AvellanedaMarketMaker``: the trading loop of one market and one outcome side (one thread each).

The loop, on the injected clock, every ``refresh_s`` (seed README §3.2 "Main Loop"):

1. time guardrails (session TTL, expiration danger window) and market state (REST refresh, lifecycle events);
2. resting orders re-read from REST when due or when our view may be wrong;
3. fills: the store's (WebSocket) fills, topped up from REST every cycle in REST-only mode and periodically
   otherwise, applied to inventory; inventory checked against the exchange's position periodically;
4. data freshness: WebSocket liveness (freeze beyond ``ws_freeze_s``, stop beyond ``ws_stop_s``), the book
   from the store (REST fallback when stale), last trade time (illiquidity freeze);
5. quotes: σ from sampled mids, throttle widening, fill-intensity estimates → the pure
   :func:`~kalshi_mm.strategy.quoting.make_quotes` on the session's outcome leg → YES-leg orders;
6. orders: the pure diff :func:`~kalshi_mm.strategy.order_manager.plan_order_actions`, executed post-only;
7. a market snapshot in the analytics database; the minimum-volatility guardrail;
8. ``clock.wait(refresh_s, stop)``.

Lifecycle PENDING → QUOTING → EXITING → DONE/FAULTED (:mod:`kalshi_mm.strategy.session`). Before the first
quote the session cancels orders an earlier run of the same market/side left (by client_order_id prefix; adopts
them instead with ``adopt_orphans``), opens its Kalshi order group (:mod:`kalshi_mm.strategy.order_group`, the
exchange-side kill switch: a trip ends the session ``order_group_tripped``) and reads its position. Every
ending — stop request, guardrail, exchange halt, exception — goes through EXITING: quotes cancelled, the passive
exit run when the reason allows it (:mod:`kalshi_mm.strategy.exits`), every order of the session cancelled and
confirmed gone, final inventory recorded with ``end_strategy_run``.

Threading: the session thread alone touches its orders, fill cursor, throttles and estimators. Other
threads may call :meth:`request_stop` and read :attr:`state`, :attr:`cycles`, :attr:`final_position_e2`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.api.errors import FatalError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import BookSide
from kalshi_mm.api.ws_types import FillMsg
from kalshi_mm.clock import Clock
from kalshi_mm.ops.registry import SessionPublisher, SessionRegistry
from kalshi_mm.risk.gate import SessionRisk
from kalshi_mm.state.store import MarketStateStore
from kalshi_mm.strategy.estimators import sigma_proxy_logit
from kalshi_mm.strategy.exit_runner import work_off_position
from kalshi_mm.strategy.fill_tracker import FillTracker
from kalshi_mm.strategy.legs import BookTop, OutcomeSide, top_excluding_own
from kalshi_mm.strategy.market_watch import MarketWatch
from kalshi_mm.strategy.order_executor import OrderExecutor
from kalshi_mm.strategy.order_group import SessionOrderGroup, group_limit_e2
from kalshi_mm.strategy.order_manager import DesiredOrders, plan_order_actions
from kalshi_mm.strategy.quoting import NoQuote, QuoteInputs, QuoteParams, Quotes, make_quotes
from kalshi_mm.strategy.regime_feed import RegimeAdjustment, RegimeFeed
from kalshi_mm.strategy.session import ClientIds, Lifecycle, SessionConfig, SessionState, StopReason, time_guard
from kalshi_mm.strategy.signals import IntensityEstimator, MidSampler
from kalshi_mm.strategy.throttling import Throttles
from kalshi_mm.units import ONE_DOLLAR, PRICE_SCALE, Rounding, price_from_float

__all__ = ["AvellanedaMarketMaker"]

_EMPTY = BookTop(None, 0, None, 0)
_NO_QUOTES = Quotes(None, None, NoQuote.STALE_BOOK, NoQuote.STALE_BOOK)
_START_FILL_SLACK_S = 5.0


class AvellanedaMarketMaker:
    """One market-making session: ``run()`` is the thread body (see the module docstring).

    ``side`` is the outcome quoted ("yes" or "no"; a NO quote is sent on the YES leg, see
    :mod:`kalshi_mm.strategy.legs`). ``run_id``: an analytics run the caller created; without one the session
    creates a run named ``strategy_name``. Either way the session ends that run. ``stop_event``: the event that
    stops this session (a caller may share one across sessions to stop them together); a fresh one otherwise.
    """

    def __init__(
        self,
        ticker: str,
        side: OutcomeSide,
        api: KalshiTradingAPI,
        store: MarketStateStore,
        db: AnalyticsDB,
        clock: Clock,
        config: SessionConfig,
        *,
        logger: logging.Logger | None = None,
        run_id: int | None = None,
        strategy_name: str = "avellaneda_mm",
        stop_event: threading.Event | None = None,
        config_params: Mapping[str, Any] | None = None,
        sessions_view: SessionRegistry | None = None,
        risk: SessionRisk | None = None,
        regime_feed: RegimeFeed | None = None,
    ):
        if side not in ("yes", "no"):
            raise ValueError(f"side must be 'yes' or 'no', got {side!r}")
        self.ticker, self.side = ticker, side
        self._api, self._store, self._db, self._clock, self._cfg = api, store, db, clock, config
        self._log = logger or logging.getLogger(f"kalshi_mm.strategy.{ticker}.{side}")
        self.run_id = run_id
        self._strategy_name = strategy_name
        self._config_params = config_params
        self._stop = stop_event or threading.Event()
        self._hard = threading.Event()
        self._life = Lifecycle(self._log, f"{ticker}/{side}")
        self.cycles = 0
        self.final_position_e2: int | None = None
        self.fatal_error: FatalError | None = None  # set when a fatal API error (auth, permission) ended the session
        self._executor: OrderExecutor | None = None
        self._tracker: FillTracker | None = None
        self._group: SessionOrderGroup | None = None  # the exchange-side kill switch (strategy/order_group.py)
        self._market = MarketWatch(
            api,
            store,
            ticker,
            side,
            clock,
            self._log,
            refresh_interval_s=config.market_refresh_interval_s,
            lifecycle_stream=config.lifecycle_stream,
        )
        self._started_ts = 0.0
        self._due: dict[str, float] = {}
        self._last_yes_mid: float | None = None  # 1/10,000 $
        self._sigma: float | None = None
        self._frozen: str | None = None
        self._sampler = MidSampler()
        self._throttles = Throttles(config.throttling) if config.throttling is not None else None
        model = config.quote_params.model
        self._intensity = IntensityEstimator(model.k, model.a) if config.estimate_intensity else None
        # The ops endpoint's view of this session (kalshi_mm.ops.registry); publishes nowhere without a registry.
        self._view = SessionPublisher(sessions_view, ticker, side)
        # The account's risk gate (kalshi_mm.risk): checks every create/amend; None: no account-level checks.
        self._risk = risk
        # Volatility sessions: the scanner's regime of this market (freeze when stale, γ/k by regime).
        self._regime_feed = regime_feed
        self._regime_adj = RegimeAdjustment(None)

    # --- control (any thread) --------------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._life.state

    @property
    def end_reason(self) -> str | None:
        return self._life.reason if self._life.state.finished else None

    @property
    def order_group_id(self) -> str | None:
        """The exchange order group of this session's orders (None before it exists or when groups are off)."""
        return self._group.group_id if self._group is not None else None

    def request_stop(self, *, hard: bool = False) -> None:
        """Ask the session to end. Soft: stop quoting, run the passive exit, end. Hard: cancel and end now."""
        if hard:
            self._hard.set()
        self._stop.set()

    def wait_finished(self, timeout_s: float | None = None) -> bool:
        """Block (real time) until the session is DONE or FAULTED."""
        return self._life.changed.wait(timeout_s)

    # --- the thread body -------------------------------------------------------------------------------------

    def run(self) -> SessionState:
        """Run the session to its end; never raises (a failure ends the session FAULTED)."""
        reason = StopReason.FAULT
        error: BaseException | None = None
        try:
            reason = self._start() or self._quote()
            self._life.to(SessionState.EXITING, reason.value)
            self._exit_position(reason)
        except Exception as exc:  # the session ends on any failure; its orders are cancelled in _finish
            error, reason = exc, StopReason.FAULT
            if isinstance(exc, FatalError):  # auth/permission: the owner halts the whole daemon (DESIGN.md #6)
                self.fatal_error = exc
            self._log.exception("%s/%s: session failed", self.ticker, self.side)
            if self._life.state is not SessionState.EXITING:
                self._life.to(SessionState.EXITING, f"fault: {type(exc).__name__}")
        finally:
            self._finish(reason, error)
        return self._life.state

    def _start(self) -> StopReason | None:
        """PENDING: open the run, read the market, cancel strays, read the position. A reason to skip quoting."""
        now = self._clock.time()
        self._started_ts = now
        self._market.note_trade(now)  # the illiquidity clock starts with the session
        if self.run_id is None:
            self.run_id = self._db.create_strategy_run(
                strategy_name=self._strategy_name,
                market_ticker=self.ticker,
                trade_side=self.side,
                config_params=self._config_params or {"side": self.side, **self._cfg.summary()},
                start_ts=now,
            )
        halt = self._market.refresh()
        ids = ClientIds(self.ticker, self.side)
        self._executor = OrderExecutor(
            self._api,
            self.ticker,
            ids,
            self._db,
            self.run_id,
            self._log,
            cancel_order_on_pause=self._cfg.cancel_order_on_pause,
            risk=self._risk,
        )
        if self._cfg.adopt_orphans:
            self._executor.sync()  # take over what an earlier run of this market/side left resting
        else:
            self._executor.cancel_strays()
        limit_e2 = group_limit_e2(self._cfg.order_group_limit_multiple, self._cfg.quote_params.max_position_e2)
        if limit_e2 is not None:
            self._group = SessionOrderGroup(
                self._api, self._store, self._db, self.ticker, self.run_id, self._log, limit_e2
            )
            self._executor.order_group_id = self._group.open(self._clock, self._stop)
        position = self._api.get_position(self.ticker).position_e2
        self._tracker = FillTracker(
            self._api,
            self._store,
            self._db,
            self.run_id,
            self.ticker,
            self._executor,
            self._clock,
            self._log,
            start_position_e2=position,
            since_ts=now - _START_FILL_SLACK_S,
            adopt_exchange_position=self._cfg.verify_position,
        )
        self._db.log_position(run_id=self.run_id, position_e2=position, ts=now)
        history = self._store.price_history(self.ticker)
        mids = [(p.ts, (p.bid_e4 + p.ask_e4) / 2) for p in history if p.bid_e4 is not None and p.ask_e4 is not None]
        outcome = [(t, (m if self.side == "yes" else ONE_DOLLAR - m) / PRICE_SCALE) for t, m in mids]
        self._sampler.warm_start(outcome, self._cfg.refresh_s, now)
        self._log.info("%s/%s: starting with position %d, run %s", self.ticker, self.side, position, self.run_id)
        if halt is None and self._stop.is_set():
            halt = StopReason.HARD_STOP if self._hard.is_set() else StopReason.STOP_REQUESTED
        return halt

    def _quote(self) -> StopReason:
        """QUOTING: cycles until a stop reason."""
        self._life.to(SessionState.QUOTING, "reconciled")
        while True:
            reason = self._cycle()
            self.cycles += 1
            if reason is not None:
                return reason
            if self._clock.wait(self._cfg.refresh_s, self._stop):
                return StopReason.HARD_STOP if self._hard.is_set() else StopReason.STOP_REQUESTED

    # --- one cycle -------------------------------------------------------------------------------------------

    def _is_due(self, what: str, interval_s: float, now: float) -> bool:
        if now >= self._due.get(what, 0.0):
            self._due[what] = now + interval_s
            return True
        return False

    def _cycle(self) -> StopReason | None:
        cfg, now = self._cfg, self._clock.time()
        assert self._executor is not None and self._tracker is not None
        market = self._market
        reason = market.events(now) or time_guard(now, self._started_ts, market.close_ts, cfg)
        if reason is None and self._group is not None and self._group.tripped():
            reason = StopReason.ORDER_GROUP_TRIPPED
        if reason is not None:
            return reason
        if self._executor.needs_sync or self._is_due("orders", cfg.order_sync_interval_s, now):
            self._executor.sync()
        if self._executor.newly_known:
            self._executor.forget_newly_known()
            self._on_fills(self._tracker.rescan(), now)
        ws_live = cfg.ws_enabled and self._store.ws_healthy
        rest_fills = not ws_live or self._is_due("fills", cfg.fill_reconcile_interval_s, now)
        self._on_fills(self._tracker.poll(rest=rest_fills), now)
        if self._is_due("position", cfg.position_check_interval_s, now):
            self._tracker.verify_position()

        frozen: str | None = None
        if cfg.ws_enabled:
            last = self._store.last_message_time
            age = now - (last if last is not None else self._started_ts)
            if age > cfg.ws_stop_s:
                return StopReason.WS_STALE
            frozen = "ws_stale" if age > cfg.ws_freeze_s else None
        if self._regime_feed is not None:
            adj = self._regime_feed.adjust(now)
            if adj.regime != self._regime_adj.regime and adj.regime is not None:
                self._log.info(
                    "%s/%s: regime %s: gamma x%.2f, k x%.2f", self.ticker, self.side, adj.regime,
                    adj.gamma_factor, adj.k_factor,
                )  # fmt: skip
            self._regime_adj = adj
            frozen = frozen or adj.frozen
        assert market.leg is not None
        view = market.read_book()
        yes_top = top_excluding_own(view, self._executor.orders()) if view is not None else _EMPTY
        top = market.leg.top(yes_top)
        if top.mid_e4 is not None:
            self._sampler.add(now, top.mid_e4 / PRICE_SCALE)
            self._last_yes_mid = yes_top.mid_e4
        if cfg.illiquidity_timeout_s is not None:
            market.update_last_trade(ws_live)
            if now - market.last_trade_ts > cfg.illiquidity_timeout_s:
                frozen = frozen or "illiquid"

        if frozen != self._frozen:
            self._log.info("%s/%s: quoting %s", self.ticker, self.side, f"frozen ({frozen})" if frozen else "resumed")
            self._frozen = frozen
        quotes = _NO_QUOTES if frozen or view is None else self._make_quotes(now, top)
        desired = market.leg.desired(quotes)
        actions = plan_order_actions(self._executor.orders(), desired, cfg.amend)
        outcome = self._executor.execute(actions, post_only=True)
        self._record_exposure()
        self._snapshot(now, yes_top, quotes, desired)
        if outcome.halt is not None:
            return outcome.halt
        if cfg.min_volatility > 0 and self._sampler.span_s() >= cfg.volatility_warmup_s:
            std = self._sampler.price_std(now, cfg.volatility_window_s)
            if std is not None and std < cfg.min_volatility:
                self._log.info("%s/%s: mid std %.4f $ below %.4f", self.ticker, self.side, std, cfg.min_volatility)
                return StopReason.MIN_VOLATILITY
        return None

    def _make_quotes(self, now: float, top: BookTop) -> Quotes:
        leg = self._market.leg
        assert leg is not None and self._tracker is not None
        cfg = self._cfg
        mid = top.mid_e4 / PRICE_SCALE if top.mid_e4 is not None else None
        fallback = sigma_proxy_logit(mid if mid is not None else 0.5, cfg.sigma_baseline, cfg.sigma_horizon_s)
        sigma = self._sampler.sigma(fallback, cfg.sigma_min_increments).sigma_logit
        widen = 0
        if self._throttles is not None and mid is not None:
            widen = self._throttles.check(now, mid, top.spread_e4, top.bid_size_e2, top.ask_size_e2).widen_ticks
        close_ts = self._market.close_ts
        tte = close_ts - now if close_ts is not None else math.inf
        inputs = QuoteInputs(
            grid=leg.grid,
            best_bid_e4=top.bid_e4,
            best_ask_e4=top.ask_e4,
            inventory_e2=leg.inventory(self._tracker.position_e2),
            sigma=sigma,
            time_to_expiry_s=max(tte, 1.0),
            widen_ticks=widen,
            k=self._intensity.k * self._regime_adj.k_factor if self._intensity and self._intensity.k else None,
            a=self._intensity.a if self._intensity is not None else None,
        )
        self._sigma = sigma
        return make_quotes(inputs, self._quote_params())

    def _quote_params(self) -> QuoteParams:
        """The session's quote parameters with the current regime's γ and k factors (exactly the config's when
        there is no regime feed or the regime is the one the config was built for)."""
        params, adj = self._cfg.quote_params, self._regime_adj
        if adj.gamma_factor == 1.0 and adj.k_factor == 1.0:
            return params
        model = params.model
        return replace(params, model=replace(model, gamma=model.gamma * adj.gamma_factor, k=model.k * adj.k_factor))

    def _on_fills(self, fills: list[FillMsg], now: float) -> None:
        leg = self._market.leg
        for fill in fills:
            ts = fill.ts_ms / 1000 if fill.ts_ms is not None else now
            self._market.note_trade(ts)  # our own fills are trades of the market too
            mid = self._sampler.last_mid
            if self._throttles is not None and leg is not None and mid is not None:
                self._throttles.adverse.record_fill(ts, leg.is_buy(BookSide(fill.side.value)), mid)
            if self._intensity is not None and self._last_yes_mid is not None:
                self._intensity.fill(abs(fill.yes_price_e4 - self._last_yes_mid) / PRICE_SCALE)
        self._view.fills(fills)

    def _record_exposure(self) -> None:
        mid = self._last_yes_mid
        if self._intensity is not None and mid is not None and self._executor is not None:
            distances = [abs(o.price_e4 - mid) / PRICE_SCALE for o in self._executor.orders()]
            self._intensity.exposure(distances, self._cfg.refresh_s)

    # --- records -----------------------------------------------------------------------------------------------

    def _snapshot(self, now: float, yes_top: BookTop, quotes: Quotes, desired: DesiredOrders) -> None:
        leg = self._market.leg
        assert leg is not None and self._tracker is not None and self.run_id is not None
        reservation = None
        if quotes.model_bid is not None and quotes.model_ask is not None:
            centre = leg.yes_price_float(0.5 * (quotes.model_bid + quotes.model_ask))
            if math.isfinite(centre):
                reservation = price_from_float(centre, Rounding.DOWN)
        bid, ask = yes_top.bid_e4, yes_top.ask_e4
        self._db.log_market_snapshot(
            run_id=self.run_id,
            position_e2=self._tracker.position_e2,
            yes_bid_e4=bid,
            yes_ask_e4=ask,
            no_bid_e4=None if ask is None else ONE_DOLLAR - ask,
            no_ask_e4=None if bid is None else ONE_DOLLAR - bid,
            reservation_price_e4=reservation,
            computed_bid_e4=desired.bid.price_e4 if desired.bid else None,
            computed_ask_e4=desired.ask.price_e4 if desired.ask else None,
            sigma=self._sigma,
            gamma=self._cfg.quote_params.model.gamma,
            ts=now,
        )
        self._view.publish(self.state, self._tracker.position_e2, cycles=self.cycles, market=yes_top, desired=desired)

    # --- the ending --------------------------------------------------------------------------------------------

    def _exit_position(self, reason: StopReason) -> None:
        """EXITING: pull the quotes, then work the position off when the reason allows (module exit_runner)."""
        if self._executor is None or self._tracker is None:
            return
        self._executor.cancel_all(f"exit:{reason.value}")
        if reason.exits_position and not self._hard.is_set():
            work_off_position(
                policy=self._cfg.exit,
                amend=self._cfg.amend,
                executor=self._executor,
                tracker=self._tracker,
                market=self._market,
                clock=self._clock,
                hard_stop=self._hard,
                refresh_s=self._cfg.refresh_s,
                logger=self._log,
                on_fills=self._on_fills,
                on_cycle=self._count_cycle,
            )

    def _count_cycle(self) -> None:
        self.cycles += 1
        self._view.publish(self.state, self._tracker.position_e2 if self._tracker else None, cycles=self.cycles)

    def _finish(self, reason: StopReason, error: BaseException | None) -> None:
        """Cancel everything, settle the books, end the run, DONE or FAULTED. Every step is guarded: this is
        the path every ending takes, including broken ones."""
        if self._life.state is not SessionState.EXITING:  # e.g. a BaseException skipped the except clause
            self._life.to(SessionState.EXITING, reason.value)
        clean = True
        if self._executor is not None:
            try:
                clean = self._executor.cancel_all(reason.value)
            except Exception:
                clean = False
                self._log.exception("%s: cancelling session orders failed", self.ticker)
        if self._group is not None:  # the trip (if any) on record, then the group deleted: never raises
            if reason is StopReason.ORDER_GROUP_TRIPPED:
                self._group.record_trip("create_refused")
            self._group.close()
        final, pnl = None, None
        tracker = self._tracker
        if tracker is not None:
            # Last fills first, then the exchange's position (adopted when they disagree): the recorded final
            # inventory is the exchange's whenever REST answers.
            for step in (lambda: tracker.poll(rest=True), tracker.verify_position):
                try:
                    step()
                except Exception:
                    self._log.exception("%s: final reconciliation step failed", self.ticker)
            final, pnl = tracker.position_e2, tracker.realized_pnl_e4
        self.final_position_e2 = final
        if self._risk is not None:  # release the session's reservations; its P&L goes to the circuit breaker
            try:
                mid = self._last_yes_mid  # a mark for the session's P&L only; floored to whole 1/10,000 $
                self._risk.close(None if mid is None else math.floor(mid))
            except Exception:
                self._log.exception("%s: releasing risk reservations failed", self.ticker)
        faulted = reason is StopReason.FAULT or not clean
        detail = reason.value if error is None else f"{reason.value}: {type(error).__name__}: {error}"
        if not clean:
            detail += " (orders not confirmed cancelled)"
        if self.run_id is not None:
            try:
                self._db.end_strategy_run(
                    self.run_id,
                    status="faulted" if faulted else "completed",
                    reason=detail[:500],
                    final_position_e2=final,
                    realized_pnl_e4=pnl,
                    end_ts=self._clock.time(),
                )
            except Exception:
                self._log.exception("%s: recording the end of run %s failed", self.ticker, self.run_id)
        self._life.to(SessionState.FAULTED if faulted else SessionState.DONE, detail)
        self._view.publish(self.state, final, cycles=self.cycles, reason=detail)
