"""``/metrics``: Prometheus text exposition of the live daemon, produced by ``prometheus-client``.

:class:`RuntimeCollector` reads the runtime's objects at scrape time (no metric objects updated on the hot path,
so trading code knows nothing of Prometheus); :func:`build_registry` puts it in a :class:`CollectorRegistry` of
its own per runtime, never the library's global one, so several runtimes (tests) never share or collide.

Sources: session registry (sessions, fills, P&L), REST client counters (requests, failures, 429s, retries and
the order-entry operations answered 2xx, see :func:`kalshi_mm.api.transport.order_counters`), the rate limiter,
WebSocket client counters, analytics writer stats, the trading state, recent warnings/errors, and numeric
figures of the optional risk exposure book. Money is exposed in dollars because Prometheus samples are float64;
the exact integers are in ``/status``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kalshi_mm.ops.recent_log import RecentErrors
from kalshi_mm.ops.status import db_status, risk_snapshot
from kalshi_mm.risk.state import TradingState
from kalshi_mm.units import COUNT_SCALE, PRICE_SCALE

if TYPE_CHECKING:
    from kalshi_mm.runtime import Runtime

__all__ = ["PREFIX", "RuntimeCollector", "build_registry", "render"]

PREFIX = "kalshi_mm"

# (stats key of KalshiTradingAPI.stats(), metric name, help) for the REST counters.
_REST_COUNTERS = (
    ("attempts", "rest_requests", "REST request attempts sent (retries included)"),
    ("ok", "rest_responses_ok", "REST attempts answered 2xx"),
    ("retries", "rest_retries", "REST retries after a transient failure"),
    ("RateLimitedError", "rest_rate_limited", "REST attempts answered 429"),
    ("orders_created", "orders_placed", "orders the exchange accepted (create answered 2xx)"),
    ("orders_cancelled", "orders_cancelled", "order cancels answered 2xx"),
    ("orders_amended", "orders_amended", "order amends answered 2xx"),
    ("orders_decreased", "orders_decreased", "order decreases answered 2xx"),
)
# (stats key of KalshiWebsocketClient.stats(), metric name, help).
_WS_COUNTERS = (
    ("messages", "ws_messages", "WebSocket frames received"),
    ("gaps", "ws_seq_gaps", "WebSocket sequence gaps detected"),
    ("resyncs", "ws_resyncs", "order books re-requested after a gap"),
    ("reconnects", "ws_reconnects", "WebSocket reconnections"),
    ("malformed", "ws_malformed", "WebSocket frames that did not parse"),
)


def _name(name: str) -> str:
    return f"{PREFIX}_{name}"


def _numeric_leaves(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """(dotted key, number) for every int/float leaf of JSON data (booleans excluded)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numeric_leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numeric_leaves(item, f"{path}.{index}")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, float(value)


class RuntimeCollector(Collector):
    """Reads ``rt`` at each scrape (module docstring)."""

    def __init__(self, rt: Runtime, errors: RecentErrors | None = None) -> None:
        self._rt = rt
        self._errors = errors

    def collect(self) -> Iterator[Metric]:
        rt = self._rt
        yield from self._trading(rt)
        yield from self._sessions(rt)
        yield from self._rest(rt)
        yield from self._ws(rt)
        yield from self._db(rt)
        yield from self._risk(rt)
        if self._errors is not None:
            yield CounterMetricFamily(
                _name("log_warnings"), "WARNING and ERROR log records since start", value=self._errors.count
            )

    def _trading(self, rt: Runtime) -> Iterator[Metric]:
        current = rt.trading.state
        gauge = GaugeMetricFamily(
            _name("trading_state"), "1 for the current trading state (active, reducing, halted)", labels=["state"]
        )
        for state in TradingState:
            gauge.add_metric([state.value], 1.0 if state is current else 0.0)
        yield gauge

    def _sessions(self, rt: Runtime) -> Iterator[Metric]:
        view = rt.sessions_view.view()
        yield GaugeMetricFamily(_name("sessions_active"), "market-making sessions running", value=len(view.active))
        by_state = GaugeMetricFamily(_name("sessions"), "running sessions by lifecycle state", labels=["state"])
        for state in ("pending", "quoting", "exiting"):
            by_state.add_metric([state], view.by_state.get(state, 0))
        yield by_state
        yield CounterMetricFamily(_name("sessions_started"), "sessions started since start", value=view.started)
        yield CounterMetricFamily(_name("fills"), "fills applied by the sessions", value=view.fills_total)
        yield GaugeMetricFamily(
            _name("realized_pnl_dollars"),
            "realized P&L of every session since start, fees included (average cost)",
            value=view.realized_pnl_e4 / PRICE_SCALE,
        )
        yield GaugeMetricFamily(
            _name("unrealized_pnl_dollars"),
            "unrealized P&L of the running sessions at the book mid",
            value=view.unrealized_pnl_e4 / PRICE_SCALE,
        )
        position = GaugeMetricFamily(
            _name("position_contracts"), "net inventory per market (+ YES / - NO), contracts", labels=["ticker"]
        )
        totals: dict[str, int] = {}
        for snap in view.active:
            totals[snap.ticker] = totals.get(snap.ticker, 0) + snap.inventory_e2
        for ticker, inventory_e2 in sorted(totals.items()):
            position.add_metric([ticker], inventory_e2 / COUNT_SCALE)
        yield position

    def _rest(self, rt: Runtime) -> Iterator[Metric]:
        stats = rt.api.stats()
        for key, name, doc in _REST_COUNTERS:
            yield CounterMetricFamily(_name(name), doc, value=stats.get(key, 0))
        failures = CounterMetricFamily(_name("rest_failures"), "failed REST attempts by error kind", labels=["kind"])
        for kind in ("transient", "rejected", "fatal"):
            failures.add_metric([kind], stats.get(kind, 0))
        yield failures
        limiter = rt.api.limiter
        available = GaugeMetricFamily(
            _name("rate_budget_available_tokens"), "tokens available in our rate-limit bucket", labels=["bucket"]
        )
        capacity = GaugeMetricFamily(
            _name("rate_budget_capacity_tokens"), "capacity of our rate-limit bucket", labels=["bucket"]
        )
        queued = GaugeMetricFamily(_name("rate_budget_queued"), "requests waiting for tokens", labels=["bucket"])
        for kind in ("read", "write"):
            available.add_metric([kind], limiter.available(kind))
            capacity.add_metric([kind], limiter.capacity(kind))
            queued.add_metric([kind], limiter.queued(kind))
        yield from (available, capacity, queued)

    def _ws(self, rt: Runtime) -> Iterator[Metric]:
        ws = rt.ws if rt.ws is not None and rt.ws.enabled else None
        yield GaugeMetricFamily(
            _name("ws_connected"),
            "1 while the WebSocket is connected (0 also when disabled)",
            value=int(ws is not None and ws.healthy),
        )
        stats = ws.stats() if ws is not None else {}
        for key, name, doc in _WS_COUNTERS:
            yield CounterMetricFamily(_name(name), doc, value=stats.get(key, 0))

    def _db(self, rt: Runtime) -> Iterator[Metric]:
        stats = db_status(rt)
        yield GaugeMetricFamily(
            _name("db_queue_depth"), "analytics rows waiting to be written", value=stats["queue_depth"]
        )
        yield CounterMetricFamily(_name("db_write_failures"), "analytics rows SQLite rejected", value=stats["failed"])
        yield CounterMetricFamily(
            _name("db_rows_dropped"), "analytics rows refused (queue full or writer closed)", value=stats["dropped"]
        )
        yield CounterMetricFamily(_name("db_rows_written"), "analytics rows committed", value=stats["written"])

    def _risk(self, rt: Runtime) -> Iterator[Metric]:
        snapshot = risk_snapshot(rt)
        if not isinstance(snapshot, dict):
            return
        if "global" in snapshot and "markets" in snapshot:  # the exposure_vs_budgets shape
            yield from _exposure(snapshot)
            return
        gauge = GaugeMetricFamily(_name("risk_value"), "numeric figures of the risk gate's snapshot", labels=["key"])
        for key, value in _numeric_leaves(snapshot):
            gauge.add_metric([key], value)
        yield gauge


def _exposure(snapshot: dict[str, Any]) -> Iterator[Metric]:
    worst = GaugeMetricFamily(
        _name("exposure_worst_case_dollars"), "worst-case loss of positions and orders", labels=["scope", "name"]
    )
    limit = GaugeMetricFamily(_name("exposure_limit_dollars"), "the limit it is held to", labels=["scope", "name"])
    rows = [("global", "", snapshot["global"]["worst_case_e4"], snapshot["global"]["budget_e4"])]
    rows += [("market", m["ticker"], m["worst_case_e4"], m["cap_e4"]) for m in snapshot["markets"]]
    rows += [("category", c["category"], c["worst_case_e4"], c["cap_e4"]) for c in snapshot.get("categories", [])]
    for scope, name, value_e4, cap_e4 in rows:
        worst.add_metric([scope, name], value_e4 / PRICE_SCALE)
        limit.add_metric([scope, name], cap_e4 / PRICE_SCALE)
    yield from (worst, limit)
    vetoes = CounterMetricFamily(_name("risk_vetoes"), "orders the risk gate vetoed, by rule", labels=["rule"])
    for rule, count in sorted(snapshot.get("vetoes", {}).items()):
        vetoes.add_metric([rule], count)
    yield vetoes


def build_registry(rt: Runtime, errors: RecentErrors | None = None) -> CollectorRegistry:
    """A registry of its own holding one :class:`RuntimeCollector` (no process-global metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector(rt, errors))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text format of ``registry``."""
    return generate_latest(registry)
