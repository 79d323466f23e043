"""Socket-level pieces of the WebSocket client: a faster reader for ``websocket-client``, closing, backoff."""

from __future__ import annotations

import random
from typing import Any

import websocket

__all__ = ["CLOSE_TIMEOUT_S", "ReadAheadWebSocket", "backoff_delay", "close_reason", "close_socket"]

CLOSE_TIMEOUT_S = 0.5


class ReadAheadWebSocket(websocket.WebSocket):
    """websocket-client reads each frame's header, length and payload with separate ``recv`` calls (two or three
    system calls per frame); this reads up to ``READ_AHEAD`` bytes at once and serves its frame parser from them
    (about 1.6x the deltas per second on a busy stream, bench/bench_ws_client.py). Only the frame parser reads
    through ``_recv`` (the handshake reads the socket itself), so nothing is read ahead of the handshake."""

    READ_AHEAD = 65536

    def __init__(self, **options: Any) -> None:
        self._ahead = memoryview(b"")
        self._pos = 0
        super().__init__(**options)

    def _recv(self, bufsize: int) -> bytes:
        pos = self._pos
        if pos >= len(self._ahead):
            self._ahead, pos = memoryview(super()._recv(self.READ_AHEAD)), 0  # raises when the link is gone
        end = min(pos + bufsize, len(self._ahead))
        self._pos = end
        return self._ahead[pos:end].tobytes()


def backoff_delay(failures: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Seconds to wait before connecting again after ``failures`` consecutive failures (0 after a good session).

    Capped exponential (``base · 2^failures``, at most ``cap``) with equal jitter: half fixed, half random, so
    many clients dropped at once spread out while each still backs off.
    """
    step = min(cap_s, base_s * 2 ** min(failures, 30))
    return step / 2 + rng.random() * step / 2


def close_socket(ws: websocket.WebSocket, graceful: bool) -> None:
    """Close ``ws``: with the close handshake (bounded by ``CLOSE_TIMEOUT_S``) when ``graceful``, else just cut."""
    try:
        if graceful:
            ws.close(timeout=CLOSE_TIMEOUT_S)
    except (websocket.WebSocketException, OSError):
        pass
    finally:
        ws.shutdown()


def close_reason(frame: Any) -> str:
    """The code and reason of a close frame, for the log."""
    data = getattr(frame, "data", b"") or b""
    if len(data) >= 2:
        return f"code {int.from_bytes(data[:2], 'big')} {data[2:].decode('utf-8', 'replace')!r}"
    return "no code"
