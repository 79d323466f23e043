"""The embedded exchange's WebSocket API (``/trade-api/ws/v2``, NOTES.md §7) on the ``websockets`` library.

**Threads and handoff.** The server runs an asyncio event loop in its own thread ("sim-ws"). The exchange
delivers events to :meth:`WsServer._on_event` synchronously, under ``exchange.lock``, from whichever thread made
the change; that listener only appends the event to ``_inbox`` (a deque: append/popleft are atomic) and, when no
drain is already pending, wakes the loop with ``call_soon_threadsafe``. It never waits for the loop or a socket,
so a slow client can never slow the matching engine. On the loop thread, :meth:`WsServer._drain` feeds events,
in order, to the :class:`~kalshi_mm.sim.ws_channels.Publisher` (book mirror + routing), which appends messages to
each connection; :meth:`WsServer._flush` then passes each connection's batch through the fault injector, encodes
it and hands it to that connection's writer task.

**Locks.** ``exchange.lock`` guards the exchange only; the WebSocket side holds it once, at start, to copy the
books and register the listener atomically. Everything else here (publisher, sessions, connections, queues) is
owned by the loop thread and needs no lock. ``_wake_scheduled`` is set by a listener (listeners are serialised
by the exchange lock) or by a pass that leaves events behind, and reset by the loop only once the queue is empty
(then re-checked), so an event appended at any moment is either drained by a scheduled pass or schedules one.

**Writing.** Each connection's writer task has websockets' protocol object build the frames (no framing here) and
writes a batch of them to the transport at once; it pauses while the transport holds more than
``WRITE_HIGH_WATER`` bytes, i.e. while the peer is not reading.

**Slow clients.** Each connection's unsent messages are bounded (``max_pending``, default 10,000): when more are
queued while its writer is paused, the connection gets Kalshi's error 25 (subscription buffer overflow) if it can
still take it, and is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import weakref
from collections import deque
from collections.abc import Coroutine
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from kalshi_mm.clock import Clock
from kalshi_mm.sim import ws_wire as wire
from kalshi_mm.sim.auth import AuthError, KeyRegistry
from kalshi_mm.sim.events import ExchangeEvent
from kalshi_mm.sim.exchange import Exchange
from kalshi_mm.sim.faults import FaultInjector
from kalshi_mm.sim.ws_channels import Publisher, Session

__all__ = ["DEFAULT_MAX_PENDING", "PING_INTERVAL_S", "WsServer"]

log = logging.getLogger("kalshi_mm.sim.ws")

DEFAULT_MAX_PENDING = 10_000  # unsent messages per connection before it is cut off (error 25)
PING_INTERVAL_S = 10.0  # Kalshi pings every 10 s
CLOSE_TIMEOUT_S = 1.0  # a close handshake that takes longer is cut short (the peer may not be reading)
STOP_TIMEOUT_S = 2.0
WRITE_BATCH = 512  # messages per socket write
WRITE_HIGH_WATER = 64 * 1024  # bytes buffered in the transport before the writer waits for the peer
STALL_POLL_S = 0.005
# Events per loop pass: bounded so writers get turns during a burst instead of queueing everything first.
DRAIN_BATCH = 500


_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class Encoder:
    """JSON text of outgoing messages. A body shared by many envelopes is serialised once until :meth:`clear`
    (call it after each flush: the cache is keyed by object identity, valid only while the bodies live)."""

    def __init__(self) -> None:
        self._bodies: dict[int, tuple[object, str]] = {}

    def encode(self, message: dict[str, Any]) -> str:
        body = message.get("msg")
        if not isinstance(body, dict):
            return _dumps(message)
        cached = self._bodies.get(id(body))
        if cached is None:
            cached = self._bodies[id(body)] = (body, _dumps(body))  # holding body keeps its id unique
        # Fast paths for channel messages; the type is one of our own identifiers, never needing escapes.
        size, sid, text = len(message), message.get("sid"), cached[1]
        if sid is not None and "id" not in message:
            if size == 4 and "seq" in message:
                return f'{{"type":"{message["type"]}","sid":{sid},"seq":{message["seq"]},"msg":{text}}}'
            if size == 3:
                return f'{{"type":"{message["type"]}","sid":{sid},"msg":{text}}}'
        return _dumps(message)

    def clear(self) -> None:
        self._bodies.clear()


class _Connection:
    """One client: its session (subscriptions), the messages waiting to be written, and its writer task."""

    def __init__(self, server: WsServer, ws: ServerConnection, user_id: str, key: str):
        self.server = server
        self.ws = ws
        self.user_id = user_id
        self.key = key
        self.session = Session(server.publisher, self)
        self.pending: list[dict[str, Any]] = []  # delivered since the last flush, before faults
        self.outbox: deque[tuple[str, str]] = deque()  # (JSON text, message type), for the socket
        self.wake = asyncio.Event()
        self.closing = False
        # True while the writer waits for the socket to take data: the peer is not reading fast enough.
        self.stalled = False
        self.writer: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None

    def deliver(self, message: dict[str, Any]) -> None:
        if self.closing:
            return
        if not self.pending:
            self.server.mark_dirty(self)
        self.pending.append(message)

    async def write(self) -> None:
        """Send the outbox in batches. websockets' protocol object builds every frame (no framing here); the
        frames of a batch reach the socket in one write, so a burst costs one system call, not one per message."""
        faults, protocol, transport = self.server.faults, self.ws.protocol, self.ws.transport
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.outbox:
                if protocol.state is not State.OPEN or transport.is_closing():
                    return
                kinds = []
                for _ in range(min(len(self.outbox), WRITE_BATCH)):
                    text, kind = self.outbox.popleft()
                    protocol.send_text(text.encode())
                    kinds.append(kind)
                transport.write(b"".join(protocol.data_to_send()))
                if faults is not None:
                    for kind in kinds:
                        faults.record_ws_message(self.user_id, wire.TYPE_CHANNEL.get(kind, kind))
                # Flow control: while the socket refuses data (the peer reads too slowly), stop and let the
                # outbox grow; _flush cuts the connection off if it grows past max_pending meanwhile.
                while transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                    self.stalled = True
                    await asyncio.sleep(STALL_POLL_S)
                    if transport.is_closing():
                        return
                self.stalled = False


class WsServer:
    """Kalshi's WebSocket API over one :class:`Exchange`; :meth:`start` / :meth:`stop` own its thread."""

    def __init__(
        self,
        exchange: Exchange,
        keys: KeyRegistry,
        *,
        auth_clock: Clock,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultInjector | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        ping_interval_s: float = PING_INTERVAL_S,
    ):
        self.exchange = exchange
        self.keys = keys
        self.auth_clock = auth_clock
        self.host = host
        self.faults = faults
        self.max_pending = max_pending
        self.ping_interval_s = ping_interval_s
        self.publisher = Publisher()
        self._port = port
        self._inbox: deque[ExchangeEvent] = deque()
        self._wake_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._server: Server | None = None
        self._conns: dict[str, _Connection] = {}
        # Authenticated in the handshake, not yet handled (weak: a handshake can still fail after the check).
        self._users: weakref.WeakKeyDictionary[ServerConnection, str] = weakref.WeakKeyDictionary()
        self._dirty: list[_Connection] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._encoder = Encoder()
        self._conn_counter = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self._port}{wire.WS_PATH}"

    def connection_count(self) -> int:
        """Open connections (read from another thread it is a momentary figure, for tests and stats)."""
        return len(self._conns)

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> WsServer:
        """Bind, start the loop thread and begin streaming; raises if the port cannot be bound."""
        self._loop = asyncio.new_event_loop()
        with self.exchange.lock:
            # One hold: the mirror copy and the first streamed event are adjacent in the exchange's order.
            self.publisher.load(self.exchange)
            self.exchange.add_listener(self._on_event)
        self._thread = threading.Thread(target=self._run, name="sim-ws", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self.exchange.remove_listener(self._on_event)
            raise self._startup_error
        log.info("embedded exchange serving WebSocket at %s", self.url)
        return self

    def stop(self) -> None:
        """Close every connection (1001) and the listening socket; returns within a few seconds."""
        self.exchange.remove_listener(self._on_event)
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already finished
            loop.call_soon_threadsafe(self._request_stop)
        thread.join(timeout=STOP_TIMEOUT_S + CLOSE_TIMEOUT_S + 1)
        if thread.is_alive():
            log.warning("WebSocket server thread did not stop in time")

    def _request_stop(self) -> None:
        if self._stopping is not None and not self._stopping.done():
            self._stopping.set_result(None)

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:
            if not self._ready.is_set():
                self._startup_error = exc
                self._ready.set()
            else:
                log.exception("WebSocket server loop failed")
        finally:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.get_running_loop().create_future()
        self._server = await serve(
            self._handle,
            self.host,
            self._port,
            process_request=self._authorize,
            ping_interval=self.ping_interval_s,
            ping_timeout=2 * self.ping_interval_s,
            close_timeout=CLOSE_TIMEOUT_S,
            compression=None,  # Kalshi-sized JSON frames are small; deflate would cost more CPU than it saves
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stopping
        await self._shutdown()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close(close_connections=False)  # stop accepting; our own close below has a deadline
        closing = [self._spawn(self._close(conn, 1001, "server shutting down")) for conn in self._conns.values()]
        if closing:
            await asyncio.wait(closing, timeout=STOP_TIMEOUT_S)
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await self._server.wait_closed()
        except TimeoutError:
            log.warning("WebSocket handlers still running at shutdown")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # keep a reference until done (the loop holds tasks weakly)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- connections ---------------------------------------------------------------------------------------

    def _authorize(self, connection: ServerConnection, request: Request) -> Response | None:
        """Handshake check: the path, then Kalshi's signature over ``timestamp + GET + /trade-api/ws/v2``."""
        if request.path.split("?", 1)[0] != wire.WS_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        try:
            user_id = self.keys.authenticate(request.headers, "GET", wire.WS_PATH, self.auth_clock.time_ms())
        except AuthError as exc:
            return connection.respond(HTTPStatus.UNAUTHORIZED, f"{exc.reason}\n")
        self._users[connection] = user_id
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        user_id = self._users.pop(ws, None)
        if user_id is None:  # unreachable: every accepted handshake went through _authorize
            await ws.close(1011, "not authenticated")
            return
        self._conn_counter += 1
        conn = _Connection(self, ws, user_id, f"{user_id}#{self._conn_counter}")
        self._conns[conn.key] = conn
        conn.writer = self._spawn(conn.write())
        every = self.faults.ws_disconnect_every_s() if self.faults is not None else None
        if every:
            conn.timer = asyncio.get_running_loop().call_later(every, self._fault_disconnect, conn)
        try:
            async for raw in ws:
                if conn.closing:
                    continue  # being cut off: the connection ends when the close completes or is aborted
                # Apply every event already emitted first, so a snapshot is as fresh as possible and the
                # response follows all messages for events that happened before the command arrived.
                self._drain(limit=None)
                conn.session.handle(raw)
                self._flush()
        except ConnectionClosed:
            pass
        finally:
            self._forget(conn)

    def _forget(self, conn: _Connection) -> None:
        conn.closing = True
        conn.session.close()
        self._conns.pop(conn.key, None)
        if conn.timer is not None:
            conn.timer.cancel()
        if conn.writer is not None:
            conn.writer.cancel()

    async def _close(self, conn: _Connection, code: int, reason: str) -> None:
        """Close with a close frame; a peer that does not complete the handshake in time is cut off."""
        conn.closing = True
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await conn.ws.close(code, reason)
        except TimeoutError:
            conn.ws.transport.abort()

    def _fault_disconnect(self, conn: _Connection) -> None:
        if conn.closing or self.faults is None:
            return
        self.faults.record_ws_disconnect()
        self._spawn(self._close(conn, 1000, "scheduled disconnect"))

    def _overflow(self, conn: _Connection) -> None:
        log.warning("WebSocket %s fell %d messages behind: disconnecting (error 25)", conn.key, len(conn.outbox))
        sids = list(conn.session.subs)
        conn.closing = True
        conn.session.close()
        conn.outbox.clear()
        errors = [wire.error_message(wire.ErrorCode.BUFFER_OVERFLOW, sid=sid) for sid in sids]
        texts = [self._encoder.encode(e) for e in errors or [wire.error_message(wire.ErrorCode.BUFFER_OVERFLOW)]]
        self._spawn(self._cut_off(conn, texts))

    async def _cut_off(self, conn: _Connection, texts: list[str]) -> None:
        if conn.writer is not None:
            conn.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await conn.writer
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                for text in texts:
                    await conn.ws.send(text)
                    if self.faults is not None:
                        self.faults.record_ws_message(conn.user_id, "error")
                await conn.ws.close(1008, "subscription buffer overflow")
        except (TimeoutError, ConnectionClosed):
            pass
        finally:
            if conn.ws.state is not State.CLOSED:
                conn.ws.transport.abort()

    # --- event handoff -------------------------------------------------------------------------------------

    def _on_event(self, event: ExchangeEvent) -> None:
        """Exchange listener: runs under ``exchange.lock`` in the caller's thread. Enqueue and return."""
        self._inbox.append(event)
        if not self._wake_scheduled:
            self._wake_scheduled = True
            loop = self._loop
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # loop closed: the server is stopping
                    loop.call_soon_threadsafe(self._drain)

    def _drain(self, limit: int | None = DRAIN_BATCH) -> None:
        """Loop thread: route queued events (at most ``limit``; None = all) and flush what they produced.

        At most one pass is scheduled at a time (``_wake_scheduled``), so writers get their turn between passes.
        """
        inbox, handle = self._inbox, self.publisher.on_event
        count = 0
        while inbox and (limit is None or count < limit):
            event = inbox.popleft()
            count += 1
            try:
                handle(event)
            except Exception:
                log.exception("WebSocket publisher failed on %s", type(event).__name__)
        if count:
            self.publisher.end_batch()
        self._flush()
        loop = self._loop
        assert loop is not None
        if not inbox:
            self._wake_scheduled = False
            if not inbox:
                return
            # An event arrived between the check and the reset, and its listener saw the flag still set.
        self._wake_scheduled = True
        loop.call_soon(self._drain)

    def mark_dirty(self, conn: _Connection) -> None:
        self._dirty.append(conn)

    def _flush(self) -> None:
        """Send each touched connection's new messages: faults applied (after seq numbering), encoded, queued."""
        dirty, self._dirty = self._dirty, []
        encode, faults = self._encoder.encode, self.faults
        for conn in dirty:
            batch, conn.pending = conn.pending, []
            if conn.closing or not batch:
                continue
            if faults is not None:
                batch = faults.ws_outgoing(conn.key, batch)
            outbox = conn.outbox
            outbox.extend([(encode(message), message["type"]) for message in batch])
            # A long queue behind a writer that merely waits for its turn is a burst, not a slow reader.
            if len(outbox) > self.max_pending and conn.stalled:
                self._overflow(conn)
            else:
                conn.wake.set()
        self._encoder.clear()
