"""Hostile HTTP responses end to end through the real :class:`KalshiTradingAPI`: every failure is one of our
typed :class:`ApiError` s (a :class:`WireError` for a 2xx body we cannot trust), never a bare exception.

The embedded exchange's fault injection can refuse, delay and drop responses but not garble them, so a tiny
local HTTP server stands in for a broken exchange (or a proxy in front of one): it answers every request with
the status, headers and body the example chose — mutated real-shaped bodies, truncated JSON, non-UTF-8 bytes,
nesting past the decoder's recursion limit, integers past 4,300 digits, NaN literals, HTML, nothing, or a body
cut short by a closed connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_mm.api.errors import ApiError, WireError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import BookSide
from kalshi_mm.clock import SimClock

from .fuzz_support import REST_FIXTURES, FuzzStats, encode, fuzz_settings, json_values, mutated

pytestmark = pytest.mark.fuzz

T0 = 1_795_000_000.0
TICKER = "KXCPI-26DEC-T3.0"


@dataclass
class Canned:
    status: int
    body: bytes
    content_type: str | None
    cut_short: bool  # announce more bytes than are sent, then close the connection


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        canned = self.server.canned
        self.send_response(canned.status)
        if canned.content_type is not None:
            self.send_header("Content-Type", canned.content_type)
        self.send_header("Content-Length", str(len(canned.body) + (50 if canned.cut_short else 0)))
        if canned.cut_short:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(canned.body)
        if canned.cut_short:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    canned: Canned


_SERVER: list[_Server] = []


def _server() -> _Server:
    if not _SERVER:
        server = _Server(("127.0.0.1", 0), _Handler)
        threading.Thread(target=server.serve_forever, name="fuzz-http", daemon=True).start()
        _SERVER.append(server)
    return _SERVER[0]


def teardown_module() -> None:
    for server in _SERVER:
        server.shutdown()
        server.server_close()


def _items(key: str, fixture: str) -> Callable[[Any], Any]:
    return lambda item: {key: [item], "cursor": ""} if fixture != "positions" else item


# Client call -> (the fixture its response is shaped like, how the fixture sits in the response body).
CALLS: dict[str, tuple[Callable[[KalshiTradingAPI], Any], str, Callable[[Any], Any]]] = {
    "get_market": (lambda api: api.get_market(TICKER), "market", lambda b: b),
    "get_orderbook": (lambda api: api.get_orderbook(TICKER), "orderbook", lambda b: b),
    "get_trades": (lambda api: api.get_trades(TICKER), "trade", _items("trades", "trade")),
    "get_series": (lambda api: api.get_series("KXCPI"), "series", lambda b: b),
    "get_event": (
        lambda api: api.get_event("KXCPI-26DEC"),
        "market",
        lambda b: {"event": {"event_ticker": "E", "markets": [b.get("market") if isinstance(b, dict) else b]}},
    ),
    "get_balance": (lambda api: api.get_balance(), "balance", lambda b: b),
    "get_positions": (lambda api: api.get_positions(), "positions", lambda b: b),
    "get_orders": (lambda api: api.get_orders(), "order", _items("orders", "order")),
    "get_fills": (lambda api: api.get_fills(), "fill", _items("fills", "fill")),
    "place_order": (
        lambda api: api.place_order(TICKER, BookSide.BID, 4700, 100, post_only=True),
        "create_ack",
        lambda b: b,
    ),
    "cancel_order": (
        lambda api: api.cancel_order("o-1", TICKER),
        "create_ack",
        lambda b: {**b, "reduced_by": "1.00"} if isinstance(b, dict) else b,
    ),
}

_RAW_BODIES = [
    b"",
    b"<html><body>502 Bad Gateway</body></html>",
    b"[" * 50_000 + b"]" * 50_000,  # nesting past the decoder's recursion limit
    b'{"market": ' + b"1" * 5000 + b"}",  # an integer past int()'s 4,300 digits
    b'{"balance": NaN, "balance_dollars": Infinity}',
    b'{"market": {"ticker": "KX\xff\xfe"}}',  # not UTF-8
    b"\xef\xbb\xbf{}",  # a UTF-8 byte-order mark
    b"null",
    b'"just a string"',
]


@st.composite
def canned(draw: st.DrawFn, fixture: str, wrap: Callable[[Any], Any]) -> Canned:
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "any_json", "raw", "truncated"]))
    if kind == "mutated":
        body = encode(wrap(draw(mutated({fixture: REST_FIXTURES[fixture]}))[1])).encode()
    elif kind == "any_json":
        body = encode(draw(json_values)).encode()
    elif kind == "raw":
        body = draw(st.one_of(st.sampled_from(_RAW_BODIES), st.binary(max_size=80)))
    else:
        text = encode(wrap(REST_FIXTURES[fixture])).encode()
        body = text[: draw(st.integers(0, len(text) - 1))]
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 404, 409, 429, 500, 503, 418]))
    content_type = draw(st.sampled_from(["application/json", "text/html; charset=utf-8", None]))
    return Canned(status, body, content_type, draw(st.integers(0, 9)) == 0)


@fuzz_settings(1.0)
@given(data=st.data(), call=st.sampled_from(sorted(CALLS)))
def test_hostile_responses_surface_as_typed_api_errors(data: st.DataObject, call: str, fuzz_stats: FuzzStats) -> None:
    invoke, fixture, wrap = CALLS[call]
    server = _server()
    server.canned = reply = data.draw(canned(fixture, wrap))
    api = KalshiTradingAPI(
        f"http://127.0.0.1:{server.server_address[1]}/trade-api/v2",
        None,
        SimClock(start=T0, auto_advance=True),  # rate-limit waits pass at once
        tier="prime",
        max_retries=0,
        timeout_s=5.0,
    )
    try:
        invoke(api)
    except ApiError as error:
        fuzz_stats.case("rest client end to end", rejected=True)
        if 200 <= reply.status <= 299 and not reply.cut_short:
            assert isinstance(error, WireError), repr(error)
        assert error.__cause__ is None  # requests' exception (with the signed request) is never chained
        return
    finally:
        api.close()
    fuzz_stats.case("rest client end to end")
    assert 200 <= reply.status <= 299 and not reply.cut_short
