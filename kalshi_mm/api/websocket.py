"""``KalshiWebsocketClient``: Kalshi's WebSocket v2 feed into the :class:`~kalshi_mm.state.store.MarketStateStore`.

One background thread ("kalshi-ws") owns the socket (``websocket-client``'s low-level ``WebSocket``, read with a
short timeout so the same thread also runs the periodic work) and is the store's single writer (DESIGN.md #1).
Per connection it: signs the handshake (``timestamp + GET + /trade-api/ws/v2``, NOTES.md §1); subscribes to the
configured channels, with ``orderbook_delta`` on ``use_yes_price: true``; hands every frame to
:class:`~kalshi_mm.api.ws_stream.StreamHandler` (parse, ``seq`` check, store, gap repair); pings often enough to
keep quiet books fresh; declares the link dead after ``idle_timeout_seconds`` without a frame; and, once the
``fill`` channel is up, copies from REST any fill it may have missed while disconnected. When the connection
ends it reconnects with capped exponential backoff and jitter, waiting on the injected clock.

Threads and locks: ``_lock`` guards ``_wanted`` (the markets to stream) and ``_version``, so any thread may call
:meth:`KalshiWebsocketClient.add_markets` / :meth:`~KalshiWebsocketClient.remove_markets`; the WebSocket thread
picks the change up within ``poll_interval_s`` (or on the next connection when disconnected). Everything else is
written by the WebSocket thread only; the counters are ints read by others under the GIL. :meth:`stop` may be
called from any thread. Headers, signatures and keys are never logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import websocket

from kalshi_mm.api.auth import auth_headers
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.rest_fallback import FillReconciler
from kalshi_mm.api.ws_socket import ReadAheadWebSocket, backoff_delay, close_reason, close_socket
from kalshi_mm.api.ws_stream import ConnectionLost, StreamHandler
from kalshi_mm.api.ws_subscriptions import channels_for
from kalshi_mm.clock import Clock
from kalshi_mm.config.credentials import Credentials
from kalshi_mm.config.sections_infra import WebsocketsConfig
from kalshi_mm.state.store import MarketStateStore

__all__ = ["KalshiWebsocketClient", "backoff_delay"]

log = logging.getLogger("kalshi_mm.api.websocket")

SWEEP_INTERVAL_S = 0.1  # periodic repairs (lost replies, stale books), idle check, pings
SEND_TIMEOUT_S = 5.0  # a command is tiny: a send that blocks this long means the link is dead
STOP_GRACE_S = 1.0  # stop() lets the thread close the socket itself this long, then cuts it
_DATA = (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY)

_CLIENT_COUNTERS = (
    "connections",  # handshakes that succeeded
    "reconnects",  # ... after the first
    "connect_failures",
    "idle_timeouts",
    "pings_sent",
)


class KalshiWebsocketClient:
    """Streams Kalshi's WebSocket channels into ``store`` from one background thread.

    ``config`` is the ``websockets`` section. ``rest`` (optional) is used to reconcile fills after each
    (re)connection; fills are reported from the client's start on (earlier ones are the start-up
    reconciliation's business). ``fill_reconcile_interval_s`` > 0 also reconciles periodically, as a guard
    against a fill message lost on a live link (the fill channel has no ``seq``). A disabled config
    (``enabled: false``) makes :meth:`start` a no-op: the store then serves books from REST.
    """

    def __init__(
        self,
        ws_url: str,
        credentials: Credentials | None,
        clock: Clock,
        store: MarketStateStore,
        config: WebsocketsConfig,
        *,
        rest: KalshiTradingAPI | None = None,
        rng: random.Random | None = None,
        poll_interval_s: float = 0.05,
        snapshot_timeout_s: float = 2.0,
        command_timeout_s: float = 5.0,
        connect_timeout_s: float = 10.0,
        fill_reconcile_margin_s: float = 30.0,
        fill_reconcile_interval_s: float = 0.0,
    ) -> None:
        self._url = ws_url
        self._path = urlsplit(ws_url).path or "/trade-api/ws/v2"
        self._credentials = credentials
        self._clock = clock
        self._store = store
        self._config = config
        self._fills: FillReconciler | None = None
        if rest is not None and "fill" in channels_for(config):
            self._fills = FillReconciler(
                rest,
                store,
                margin_s=fill_reconcile_margin_s,
                interval_s=fill_reconcile_interval_s,
                retry_s=max(1.0, config.reconnect_base_delay_seconds),
            )
        self._rng = rng or random.Random()
        self._poll_s = poll_interval_s
        self._connect_timeout_s = connect_timeout_s
        self._enabled = bool(getattr(config, "enabled", True))
        self._channels = channels_for(config)
        # Kalshi pings every 10 s, but the store counts a book as current only while the link was proven alive
        # within the staleness threshold: ping at least three times per threshold so quiet books stay fresh.
        freshest = min(config.orderbook_staleness_seconds, config.ticker_staleness_seconds)
        self._ping_every_s = min(config.ping_interval_seconds, freshest / 3)
        self._handler = StreamHandler(
            store,
            clock,
            self._channels,
            snapshot_timeout_s=snapshot_timeout_s,
            command_timeout_s=command_timeout_s,
            retry_delay_s=max(1.0, config.reconnect_base_delay_seconds),
            on_refused=self._drop_refused,
        )
        self._counters = dict.fromkeys(_CLIENT_COUNTERS, 0)

        self._lock = threading.Lock()
        self._wanted: dict[str, None] = {}  # insertion-ordered set
        self._version = 0
        self._markets_over_cap = 0

        self._seen_version = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: websocket.WebSocket | None = None
        self._connected = False
        self._failed = False
        self._last_frame_mono = 0.0
        self._last_frame_time: float | None = None

    # --- public API -------------------------------------------------------------------------------------------

    def start(self) -> KalshiWebsocketClient:
        """Start the WebSocket thread (a no-op when ``websockets.enabled`` is false)."""
        if not self._enabled:
            log.info("WebSocket disabled (websockets.enabled: false): the store reads order books over REST")
            return self
        if self._thread is not None:
            raise RuntimeError("KalshiWebsocketClient already started")
        if self._fills is not None:
            self._fills.floor_ts = self._clock.time()
        self._thread = threading.Thread(target=self._run, name="kalshi-ws", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close the connection and end the thread; returns within about ``STOP_GRACE_S`` in practice."""
        self._stop.set()
        thread = self._thread
        if thread is None:
            return
        thread.join(min(timeout_s, STOP_GRACE_S))
        ws = self._ws
        if thread.is_alive() and ws is not None:
            with contextlib.suppress(OSError, websocket.WebSocketException):
                ws.abort()  # blocked in a handshake or a send: cutting the socket wakes it
        thread.join(max(0.0, timeout_s - STOP_GRACE_S))
        if thread.is_alive():
            log.warning("WebSocket thread did not stop within %.1f s", timeout_s)

    def add_markets(self, tickers: Iterable[str]) -> tuple[str, ...]:
        """Stream these markets too (any thread). Returns the newly added ones; beyond
        ``max_markets_per_connection`` markets are refused (logged). Sent at once when connected, else queued."""
        added: list[str] = []
        refused: list[str] = []
        cap = self._config.max_markets_per_connection
        with self._lock:
            for ticker in tickers:
                if ticker in self._wanted:
                    continue
                if len(self._wanted) >= cap:
                    refused.append(ticker)
                    continue
                self._wanted[ticker] = None
                added.append(ticker)
            if added:
                self._version += 1
            self._markets_over_cap += len(refused)
        if refused:
            log.warning("max_markets_per_connection (%d) reached: not streaming %s", cap, ", ".join(refused[:20]))
        return tuple(added)

    def remove_markets(self, tickers: Iterable[str]) -> tuple[str, ...]:
        """Stop streaming these markets (any thread); the store forgets them. Returns those that were streamed."""
        with self._lock:
            removed = tuple(t for t in dict.fromkeys(tickers) if t in self._wanted)
            for ticker in removed:
                del self._wanted[ticker]
            if removed:
                self._version += 1
        return removed

    def markets(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._wanted)

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def channels(self) -> tuple[str, ...]:
        return self._channels

    @property
    def healthy(self) -> bool:
        """Connected and hearing from the server (a silent link is dropped after ``idle_timeout_seconds``)."""
        return self._connected

    @property
    def failed(self) -> bool:
        """True when ``reconnect_max_retries`` consecutive attempts failed and the thread gave up."""
        return self._failed

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def last_message_time(self) -> float | None:
        """Local time (Unix s) of the last frame of any kind; None before the first."""
        return self._last_frame_time

    def subscriptions(self) -> dict[str, int | None]:
        """Kalshi channel -> its sid on the current connection (None while not subscribed; momentary)."""
        return {channel: self._handler.sid_of(channel) for channel in self._channels}

    def waiting_snapshots(self) -> tuple[str, ...]:
        """Markets whose order book waits for a snapshot (momentary; for tests and health reports)."""
        return self._handler.waiting_snapshots()

    def stats(self) -> dict[str, int]:
        """Counters: messages, malformed, gaps, resyncs, reconnects, ... (see ws_stream.COUNTERS and above)."""
        stats = dict(self._handler.counters)
        stats.update(self._counters)
        if self._fills is not None:
            stats.update(self._fills.counters)
        stats["markets_over_cap"] = self._markets_over_cap
        stats["healthy"] = int(self._connected)
        return stats

    # --- the WebSocket thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        max_retries = self._config.reconnect_max_retries
        try:
            while not self._stop.is_set():
                self._sync_wanted()
                ws = self._open()
                if ws is None:
                    failures += 1
                    self._counters["connect_failures"] += 1
                    if max_retries and failures > max_retries:
                        self._failed = True
                        log.error("WebSocket: %d connection attempts failed; giving up", failures)
                        return
                else:
                    heard = self._serve(ws)
                    failures = 0 if heard else failures + 1
                if self._stop.is_set():
                    return
                delay = backoff_delay(
                    failures,
                    self._config.reconnect_base_delay_seconds,
                    self._config.reconnect_max_delay_seconds,
                    self._rng,
                )
                log.info("WebSocket: reconnecting in %.2f s (consecutive failures: %d)", delay, failures)
                if self._clock.wait(delay, self._stop):
                    return
        except Exception:  # the thread must not vanish silently; the store shows it unhealthy
            log.exception("WebSocket thread failed")
            self._failed = True
        finally:
            self._connected = False
            self._store.set_ws_healthy(False)

    def _open(self) -> websocket.WebSocket | None:
        ws = ReadAheadWebSocket(skip_utf8_validation=True)  # json.loads rejects bad UTF-8 anyway
        self._ws = ws  # stop() can cut a hanging handshake through it
        headers = {}
        if self._credentials is not None:
            headers = auth_headers(
                self._credentials.access_key, self._credentials.private_key, self._clock.time_ms(), "GET", self._path
            )
        try:
            ws.connect(self._url, header=headers, timeout=self._connect_timeout_s, suppress_origin=True)
        except Exception as exc:  # network, TLS, HTTP status: all mean "try again later"
            if not self._stop.is_set():
                log.warning("WebSocket connect to %s failed: %s: %.200s", self._url, type(exc).__name__, exc)
            ws.shutdown()
            return None
        ws.settimeout(self._poll_s)
        return ws

    def _serve(self, ws: websocket.WebSocket) -> bool:
        """Run one connection until it ends; True if any frame arrived (the server was really there)."""
        counters = self._counters
        counters["connections"] += 1
        if counters["connections"] > 1:
            counters["reconnects"] += 1
        log.info("WebSocket connected to %s (connection %d)", self._url, counters["connections"])
        clock, handler, idle_s = self._clock, self._handler, self._config.idle_timeout_seconds
        now = self._last_frame_mono = clock.monotonic()
        next_sweep, self._next_ping = now + SWEEP_INTERVAL_S, now + self._ping_every_s
        if self._fills is not None:
            self._fills.connection_started()
        heard = closed_by_server = False
        self._connected = True
        self._store.set_ws_healthy(True)
        self._store.note_alive()
        try:
            handler.attach(self._send)
            while not self._stop.is_set():
                if self._version != self._seen_version:
                    self._sync_wanted()
                if now >= next_sweep:
                    next_sweep = now + SWEEP_INTERVAL_S
                    self._sweep(ws, now)
                try:
                    opcode, data = ws.recv_data(control_frame=True)
                except websocket.WebSocketTimeoutException:
                    # Nothing to read right now: only here is silence the link's fault (not ours for being busy).
                    now = clock.monotonic()
                    if now - self._last_frame_mono > idle_s:
                        self._counters["idle_timeouts"] += 1
                        silent = now - self._last_frame_mono
                        raise ConnectionLost(f"no frame for {silent:.1f} s (idle timeout)") from None
                    continue
                now = self._last_frame_mono = clock.monotonic()
                self._last_frame_time = clock.time()
                heard = True
                if opcode in _DATA:
                    handler.on_frame(data)
                elif opcode == websocket.ABNF.OPCODE_CLOSE:  # websocket-client has already answered the close
                    log.info("WebSocket closed by the server: %s", close_reason(data))
                    closed_by_server = True
                    break
                else:  # ping or pong: the link is alive even when no market moves
                    self._store.note_alive()
        except ConnectionLost as exc:
            log.warning("WebSocket connection lost: %s", exc)
        except (websocket.WebSocketException, OSError) as exc:
            if not self._stop.is_set():
                log.warning("WebSocket connection lost: %s: %.200s", type(exc).__name__, exc)
        finally:
            self._connected = False
            self._store.set_ws_healthy(False)
            handler.detach()
            close_socket(ws, graceful=self._stop.is_set() and not closed_by_server)
        return heard

    def _sweep(self, ws: websocket.WebSocket, now: float) -> None:
        if now >= self._next_ping:
            self._next_ping = now + self._ping_every_s
            self._counters["pings_sent"] += 1
            self._guarded(lambda: ws.ping())
        self._handler.sweep()
        if self._fills is not None:
            self._fills.maybe_run(now, self._handler)

    def _send(self, command: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            raise ConnectionLost("no socket")
        text = json.dumps(command, separators=(",", ":"))
        self._guarded(lambda: ws.send(text))

    def _guarded(self, action: Any) -> None:
        """Run a socket write with a send timeout (the read timeout is far shorter; a write cut short by it
        would leave half a frame on the wire)."""
        ws = self._ws
        if ws is None:
            raise ConnectionLost("no socket")
        try:
            ws.settimeout(SEND_TIMEOUT_S)
            action()
            ws.settimeout(self._poll_s)
        except (websocket.WebSocketException, OSError) as exc:
            raise ConnectionLost(f"send failed: {type(exc).__name__}: {exc}") from None

    def _sync_wanted(self) -> None:
        with self._lock:
            version, wanted = self._version, tuple(self._wanted)
        self._seen_version = version
        self._handler.set_wanted(wanted)

    def _drop_refused(self, tickers: tuple[str, ...]) -> None:
        """The exchange refused these markets (unknown tickers): stop wanting them (WebSocket thread)."""
        with self._lock:
            for ticker in tickers:
                self._wanted.pop(ticker, None)
            self._version += 1
