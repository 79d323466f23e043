"""Alerts to a Discord-compatible webhook, sent on their own thread so they never slow or stop trading.

:class:`Alerts` is what the rest of the daemon calls (``Runtime.alerts``): daemon and session start/end,
trading-state changes (circuit breaker, kill switch, resume: :meth:`Alerts.on_trading_state` is a
:class:`~kalshi_mm.risk.state.TradingStateMachine` listener), order-group trips, repeated errors (a logging
handler, :class:`RepeatedErrorHandler`) and a daily summary read from the analytics database. Without a webhook
URL in the environment (the variable ``alerts.webhook_url_env`` names) it is a no-op.

:class:`AlertSender` does the delivery. ``notify`` only appends to a bounded queue (dropping the oldest alert
when full, counted) and wakes the sender thread, which posts ``{"content", "username"}`` JSON with ``requests``
under a client-side token bucket (:class:`~kalshi_mm.ops.alerts_format.SendGate`): alerts over the limit are
counted by kind and later sent as one "N alerts suppressed" line, so memory stays bounded. A 429 answer is
retried after Discord's ``retry_after``; any other failure (refused connection, 5xx, timeout) is counted and
logged, never raised. All waiting is on the injected clock.

The webhook URL holds a token: it is registered with :func:`kalshi_mm.logs.register_secret`, urllib3's request
log lines are redacted, and nothing here logs it or puts it in a repr or an error message.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from kalshi_mm.clock import Clock
from kalshi_mm.config.sections_infra import AlertsConfig
from kalshi_mm.logs import SecretRedactingFilter, redact, register_secret
from kalshi_mm.ops.alerts_format import (
    DAY_S,
    AlertKind,
    DailySummary,
    PnlMark,
    SendGate,
    clip,
    format_daemon_started,
    format_daemon_stopped,
    format_daily_summary,
    format_order_group_tripped,
    format_repeated_error,
    format_session_ended,
    format_session_started,
    format_trading_state,
    next_daily_at,
    realized_pnl_in_window,
)
from kalshi_mm.risk.state import TradingStateChange

__all__ = [
    "AlertConfigError",
    "AlertSender",
    "Alerts",
    "DailySummaryJob",
    "RepeatedErrorHandler",
    "WebhookPoster",
    "read_daily_summary",
    "webhook_url_from_env",
]

log = logging.getLogger("kalshi_mm.ops.alerts")

USERNAME = "kalshi_mm"
QUEUE_MAX = 200  # alerts waiting for the sender; beyond this the oldest is dropped (and counted)
MAX_RETRY_AFTER_S = 60.0  # a longer 429 retry_after is capped: the alert is late, not lost
MAX_429_RETRIES = 5
IDLE_WAIT_S = 60.0  # clock seconds the sender sleeps with nothing due (notify wakes it at once)
CLOSE_TIMEOUT_S = 10.0  # real seconds close() waits for the last alerts (daemon stopped, session ends) to go out
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class AlertConfigError(ValueError):
    """The webhook URL in the environment is unusable (the message names the variable, never the value)."""


def webhook_url_from_env(cfg: AlertsConfig, env: Mapping[str, str]) -> str | None:
    """The webhook URL from ``env[cfg.webhook_url_env]``; None when unset or empty. Raises AlertConfigError."""
    url = env.get(cfg.webhook_url_env, "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    name = cfg.webhook_url_env
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertConfigError(f"${name}: not an http(s) URL with a host (value not shown: it holds a token)")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise AlertConfigError(
            f"${name}: must be an https:// URL (plain http would send the webhook token in clear); "
            f"http is accepted only for {', '.join(sorted(_LOOPBACK))}"
        )
    return url


def _protect(url: str) -> tuple[str, ...]:
    """Register the URL's secret parts with the log redactor; return them (longest first) for local scrubbing."""
    parts = urlsplit(url)
    token = parts.path.rstrip("/").rsplit("/", 1)[-1]
    # The last path segment alone only when long enough to be a token: a short one ("hook") is ordinary text.
    pieces = tuple(p for p in (url, parts.path, token if len(token) >= 16 else "") if p and p != "/")
    for piece in pieces:
        register_secret(piece)
    # urllib3 logs '"POST /api/webhooks/<id>/<token> HTTP/1.1" 204' at DEBUG: redact it at its logger, before any
    # handler (a logger's own filters run before propagation, and the filter rewrites the record in place).
    pool_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, SecretRedactingFilter) for f in pool_log.filters):
        pool_log.addFilter(SecretRedactingFilter())
    return tuple(sorted(set(pieces), key=len, reverse=True))


# --- one POST -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostResult:
    ok: bool
    retry_after_s: float | None = None  # set on a 429: try again after this many seconds
    error: str | None = None  # why it failed (never contains the URL)


def _retry_after_s(response: requests.Response) -> float:
    """Discord's wait: JSON ``retry_after`` (seconds, float), else the Retry-After header, else 1 s; capped."""
    value: object = None
    try:
        body = response.json()
        if isinstance(body, dict):
            value = body.get("retry_after")
    except ValueError:
        pass
    if value is None:
        value = response.headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else 1.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = 1.0
    if not seconds >= 0:  # NaN or negative
        seconds = 1.0
    return min(seconds, MAX_RETRY_AFTER_S)


class WebhookPoster:
    """Posts one message per call and never raises. Used by the sender thread alone (``requests.Session`` is not
    thread-safe). ``timeout_s`` is real seconds: it bounds the socket, not the strategy's clock."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self._url = url
        self._secrets = _protect(url)
        self._timeout_s = timeout_s
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"WebhookPoster(host={urlsplit(self._url).hostname!r})"

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<webhook>")
        return redact(text)

    def post(self, content: str) -> PostResult:
        payload = {"content": clip(content), "username": USERNAME, "allowed_mentions": {"parse": []}}
        try:
            response = self._session.post(self._url, json=payload, timeout=self._timeout_s)
        except requests.RequestException as exc:
            return PostResult(False, error=self.scrub(f"{type(exc).__name__}: {exc}")[:300])
        with response:
            if 200 <= response.status_code < 300:
                return PostResult(True)
            if response.status_code == 429:
                return PostResult(False, retry_after_s=_retry_after_s(response), error="HTTP 429")
            return PostResult(False, error=f"HTTP {response.status_code}")

    def close(self) -> None:
        self._session.close()


# --- the sender thread ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailySummaryJob:
    """Send a summary of the 24 h before each ``hour:minute`` UTC; ``read(start_ts, end_ts)`` gathers it."""

    hour: int
    minute: int
    read: Callable[[float, float], DailySummary]


class AlertSender:
    """Bounded queue + one daemon thread posting to the webhook (see the module docstring).

    ``_lock`` guards ``_queue``, ``_dropped`` and ``_stats``; the gate, the poster and ``_next_summary`` belong to
    the sender thread alone.
    """

    def __init__(
        self,
        poster: WebhookPoster,
        clock: Clock,
        *,
        max_per_minute: int,
        queue_max: int = QUEUE_MAX,
        daily: DailySummaryJob | None = None,
    ) -> None:
        self._poster = poster
        self._clock = clock
        self._gate = SendGate(max_per_minute, clock.monotonic())
        self._daily = daily
        self._next_summary: float | None = None
        self._lock = threading.Lock()
        self._queue: collections.deque[tuple[str, str]] = collections.deque()
        self._queue_max = queue_max
        self._dropped: dict[str, int] = {}  # queue overflow by kind, not yet handed to the gate
        self._stats = {"queued": 0, "sent": 0, "failed": 0, "rate_limited": 0, "suppressed": 0, "dropped": 0}
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._abort = threading.Event()  # close() gave up waiting: stop retrying, exit
        self._thread: threading.Thread | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"AlertSender({self._poster!r}, stats={self.stats()})"

    def notify(self, kind: str, content: str) -> None:
        """Queue one alert and return at once (any thread). Never raises, never blocks on the network."""
        with self._lock:
            if self._closed:
                self._stats["dropped"] += 1
                return
            if len(self._queue) >= self._queue_max:
                old_kind, _ = self._queue.popleft()
                self._dropped[old_kind] = self._dropped.get(old_kind, 0) + 1
                self._stats["dropped"] += 1
            self._queue.append((kind, content))
            self._stats["queued"] += 1
        self._wake.set()

    def stats(self) -> dict[str, int]:
        """Counts: queued, sent, failed (after retries), rate_limited (429 answers), suppressed, dropped."""
        with self._lock:
            return dict(self._stats)

    def start(self) -> None:
        if self._thread is not None:
            return
        if self._daily is not None:
            self._next_summary = next_daily_at(self._clock.time(), self._daily.hour, self._daily.minute)
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Send what is queued (over the limit: one suppressed line), stop the thread. True when it finished in
        ``timeout_s`` real seconds; otherwise the rest is abandoned (the thread is a daemon)."""
        with self._lock:
            self._closed = True
            pending = bool(self._queue)
        if self._thread is None and pending:
            self.start()  # never started (start-up failed early): still deliver what was queued
        thread = self._thread
        if thread is None:
            self._poster.close()
            return True
        self._closing.set()
        self._wake.set()
        thread.join(timeout_s)
        if thread.is_alive():
            self._abort.set()
            with self._lock:
                pending = len(self._queue)
            log.warning("alert sender still busy after %.0f s; %d queued alert(s) abandoned", timeout_s, pending)
            return False
        self._poster.close()
        return True

    # --- sender thread ---

    def _run(self) -> None:
        try:
            while not self._abort.is_set():
                self._wake.clear()
                if not self._step():
                    if self._closing.is_set():
                        return
                    self._clock.wait(self._idle_s(), self._wake)
        except Exception:  # a bug here must not go unnoticed, nor take anything else down
            log.exception("alert sender thread failed; no more alerts will be sent")

    def _step(self) -> bool:
        """Do one unit of work (summary due, suppressed line, one queued alert); False when there was none."""
        self._run_daily_summary()
        now = self._clock.monotonic()
        with self._lock:
            dropped, self._dropped = self._dropped, {}
            item = self._queue.popleft() if self._queue else None
        for kind, count in dropped.items():
            self._gate.suppress(kind, count)
        final = self._closing.is_set() and item is None
        line = self._gate.take_suppressed_line(now, force=final)
        if line is not None:
            self._deliver(line)
        if item is None:
            return line is not None
        kind, content = item
        if self._gate.try_take(now):
            self._deliver(content)
        else:
            self._gate.suppress(kind)
            with self._lock:
                self._stats["suppressed"] += 1
        return True

    def _idle_s(self) -> float:
        wait = IDLE_WAIT_S
        if self._gate.suppressed:
            wait = min(wait, self._gate.seconds_until_token(self._clock.monotonic()))
        if self._next_summary is not None:
            wait = min(wait, self._next_summary - self._clock.time())
        return max(wait, 0.0)

    def _run_daily_summary(self) -> None:
        if self._daily is None or self._next_summary is None or self._clock.time() < self._next_summary:
            return
        end = self._next_summary
        self._next_summary = next_daily_at(max(self._clock.time(), end), self._daily.hour, self._daily.minute)
        try:
            summary = self._daily.read(end - DAY_S, end)
        except Exception as exc:  # the summary is informative; its failure must not end the sender
            summary = DailySummary(end - DAY_S, end, error=f"{type(exc).__name__}: {exc}")
        stats = self.stats()
        shown = {k: stats[k] for k in ("sent", "failed", "suppressed", "dropped")}
        self.notify(AlertKind.DAILY_SUMMARY, format_daily_summary(summary, shown))

    def _deliver(self, content: str) -> None:
        """Post one message, waiting out 429s (on the clock, interrupted by an abandoned close)."""
        for attempt in range(MAX_429_RETRIES + 1):
            result = self._poster.post(content)
            if result.ok:
                with self._lock:
                    self._stats["sent"] += 1
                return
            if result.retry_after_s is None or attempt == MAX_429_RETRIES:
                break
            with self._lock:
                self._stats["rate_limited"] += 1
            log.info("alert webhook rate-limited us: retrying in %.2f s", result.retry_after_s)
            if self._clock.wait(result.retry_after_s, self._abort):
                break
        with self._lock:
            self._stats["failed"] += 1
            failed = self._stats["failed"]
        # WARNING, not ERROR: a failing webhook must not feed the repeated-error alert about itself.
        log.warning("alert not delivered (%s); %d failed so far", result.error, failed)


# --- repeated errors ------------------------------------------------------------------------------------------


class RepeatedErrorHandler(logging.Handler):
    """Counts ERROR records by (logger, message template) and reports one that repeats ``threshold`` times
    within ``window_s`` clock seconds; its count then starts again. Records of this module are ignored, so a
    failing webhook cannot alert about itself. ``self.lock`` (logging.Handler's, held around :meth:`emit`)
    guards ``_seen``, which keeps at most ``max_keys`` keys and ``threshold`` times per key."""

    def __init__(
        self,
        on_repeat: Callable[[str, str, int], None],
        clock: Clock,
        *,
        threshold: int,
        window_s: float,
        max_keys: int = 256,
    ) -> None:
        super().__init__(level=logging.ERROR)
        self._on_repeat = on_repeat
        self._clock = clock
        self._threshold = threshold
        self._window_s = window_s
        self._max_keys = max_keys
        self._seen: collections.OrderedDict[tuple[str, str], collections.deque[float]] = collections.OrderedDict()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == log.name:
            return
        try:
            # The redacting filter of an earlier handler may have replaced msg by its formatted text; it keeps
            # the original template aside so records that differ only in their arguments still count together.
            template = str(record.__dict__.get("msg_template", record.msg))
            key = (record.name, template)
            now = self._clock.monotonic()
            times = self._seen.pop(key, None) or collections.deque()
            times.append(now)
            while now - times[0] > self._window_s:
                times.popleft()
            count = len(times)
            if count >= self._threshold:
                times.clear()
            self._seen[key] = times
            while len(self._seen) > self._max_keys:
                self._seen.popitem(last=False)
            if count >= self._threshold:
                self._on_repeat(record.name, redact(record.getMessage())[:500], count)
        except Exception:
            self.handleError(record)


# --- daily summary from the analytics database ----------------------------------------------------------------


def read_daily_summary(db_path: str | Path, start_ts: float, end_ts: float) -> DailySummary:
    """Sessions, fills and realized P&L in [start_ts, end_ts) from the analytics DB, opened read-only (the
    writer thread keeps its own connection; WAL lets both work). An unreadable file gives ``error``."""
    try:
        uri = Path(db_path).resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=5.0)
        try:
            window = (start_ts, end_ts)
            (started,) = conn.execute(
                "SELECT COUNT(*) FROM strategy_runs WHERE start_ts >= ? AND start_ts < ?", window
            ).fetchone()
            ended, faulted = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(status = 'faulted'), 0) FROM strategy_runs"
                " WHERE end_ts >= ? AND end_ts < ?",
                window,
            ).fetchone()
            fills, contracts_e2, fees_e4 = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(count_e2), 0), COALESCE(SUM(fee_e4), 0) FROM order_fills"
                " WHERE ts >= ? AND ts < ?",
                window,
            ).fetchone()
            marks = [
                PnlMark(ticker, end, pnl)
                for ticker, end, pnl in conn.execute(
                    "SELECT market_ticker, end_ts, realized_pnl_e4 FROM strategy_runs"
                    " WHERE end_ts < ? AND realized_pnl_e4 IS NOT NULL",
                    (end_ts,),
                )
            ]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return DailySummary(start_ts, end_ts, error=f"{type(exc).__name__}: {exc}")
    pnl_e4, markets = realized_pnl_in_window(marks, start_ts, end_ts)
    return DailySummary(
        start_ts,
        end_ts,
        sessions_started=started,
        sessions_ended=ended,
        sessions_faulted=faulted,
        fills=fills,
        contracts_e2=contracts_e2,
        fees_e4=fees_e4,
        realized_pnl_e4=pnl_e4,
        pnl_markets=markets,
    )


# --- what the daemon calls ------------------------------------------------------------------------------------


class Alerts:
    """The daemon's alert calls; every method returns at once and never raises. Disabled (no sender): no-ops.

    ``label`` (the exchange: sim, demo, prod) prefixes every message, so daemons sharing a channel are told apart.
    """

    def __init__(
        self,
        sender: AlertSender | None,
        clock: Clock,
        *,
        label: str = "",
        repeat_error_threshold: int = 5,
        repeat_error_window_s: float = 300.0,
    ) -> None:
        self._sender = sender
        self._prefix = f"[{label}] " if label else ""
        self._repeat_window_s = repeat_error_window_s
        self._handler: RepeatedErrorHandler | None = None
        if sender is not None:
            self._handler = RepeatedErrorHandler(
                self._repeated_error, clock, threshold=repeat_error_threshold, window_s=repeat_error_window_s
            )

    @classmethod
    def from_config(
        cls, cfg: AlertsConfig, env: Mapping[str, str], clock: Clock, *, db_path: str | None = None, label: str = ""
    ) -> Alerts:
        """Alerts per ``cfg`` and the webhook URL in ``env`` (absent: disabled, said once at INFO). Raises
        AlertConfigError for an unusable URL. ``db_path``: the analytics DB the daily summary reads."""
        url = webhook_url_from_env(cfg, env)
        if url is None:
            log.info("alerts disabled: $%s is not set", cfg.webhook_url_env)
            return cls(None, clock, label=label)
        poster = WebhookPoster(url, cfg.send_timeout_seconds)
        at = cfg.daily_summary_at()
        daily = None
        if at is not None and db_path is not None:
            path = db_path
            daily = DailySummaryJob(at[0], at[1], lambda start, end: read_daily_summary(path, start, end))
        sender = AlertSender(poster, clock, max_per_minute=cfg.max_per_minute, daily=daily)
        log.info(
            "alerts enabled: webhook at %s ($%s), at most %d/min, daily summary %s",
            urlsplit(url).hostname,
            cfg.webhook_url_env,
            cfg.max_per_minute,
            f"at {cfg.daily_summary_utc} UTC" if daily is not None else "off",
        )
        return cls(
            sender,
            clock,
            label=label,
            repeat_error_threshold=cfg.repeat_error_threshold,
            repeat_error_window_s=cfg.repeat_error_window_seconds,
        )

    @property
    def enabled(self) -> bool:
        return self._sender is not None

    def stats(self) -> dict[str, int]:
        return self._sender.stats() if self._sender is not None else {}

    def start(self) -> None:
        """Start the sender thread and watch the root logger for repeated errors."""
        if self._sender is None:
            return
        self._sender.start()
        if self._handler is not None and self._handler not in logging.getLogger().handlers:
            logging.getLogger().addHandler(self._handler)

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> bool:
        """Stop watching the log, deliver what is queued (bounded by ``timeout_s``), stop the thread."""
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
        if self._sender is None:
            return True
        return self._sender.close(timeout_s)

    def _send(self, kind: AlertKind, content: str) -> None:
        if self._sender is None:
            return
        try:
            self._sender.notify(kind, self._prefix + content)
        except Exception:  # notify does not raise; this guards the callers (trading threads) against a bug
            log.exception("queueing an alert failed")

    # --- one method per event ---

    def daemon_started(self, mode: str, exchange: str) -> None:
        self._send(AlertKind.DAEMON, format_daemon_started(mode, exchange))

    def daemon_stopped(self, reason: str | None, problem: str | None = None) -> None:
        self._send(AlertKind.DAEMON, format_daemon_stopped(reason, problem))

    def session_started(self, ticker: str, side: str, run_id: int, strategy: str) -> None:
        self._send(AlertKind.SESSION, format_session_started(ticker, side, run_id, strategy))

    def session_ended(
        self,
        ticker: str,
        side: str,
        run_id: int,
        reason: str | None,
        *,
        faulted: bool,
        final_position_e2: int | None = None,
        realized_pnl_e4: int | None = None,
        order_group_id: str | None = None,
    ) -> None:
        """A session ended; one ended by its order group's trip also raises the order-group alert."""
        if reason is not None and reason.startswith("order_group_tripped"):
            self.order_group_tripped(ticker, order_group_id or "(unknown)", f"session {side} run {run_id} ended")
        self._send(
            AlertKind.SESSION,
            format_session_ended(
                ticker,
                side,
                run_id,
                reason,
                faulted=faulted,
                final_position_e2=final_position_e2,
                realized_pnl_e4=realized_pnl_e4,
            ),
        )

    def on_trading_state(self, change: TradingStateChange) -> None:
        """TradingStateMachine listener: circuit breaker, kill switch, reduce-only, resume."""
        self._send(AlertKind.TRADING_STATE, format_trading_state(change))

    def order_group_tripped(self, ticker: str, group_id: str, detail: str) -> None:
        """An order group hit its contracts limit (the exchange cancelled the group's orders)."""
        self._send(AlertKind.ORDER_GROUP, format_order_group_tripped(ticker, group_id, detail))

    def _repeated_error(self, logger_name: str, message: str, count: int) -> None:
        self._send(AlertKind.REPEATED_ERROR, format_repeated_error(logger_name, message, count, self._repeat_window_s))
