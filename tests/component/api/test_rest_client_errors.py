"""The error taxonomy end to end, table-driven over every endpoint method of KalshiTradingAPI, against a real
EmbeddedExchange: what the exchange answers (401, 429, 5xx, its 4xx business errors) -> the kind and type the
caller sees, and how many attempts the client made (retries only where they are safe and useful).

A 403 or a redirect cannot be produced by the embedded exchange; their mapping is pinned by the unit table
(tests/unit/api/test_errors.py)."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_mm.api.errors import (
    ApiError,
    AuthenticationError,
    ErrorKind,
    InsufficientBalanceError,
    MarketClosedError,
    NetworkError,
    NotFoundError,
    OrderAlreadyExistsError,
    OrderOutcomeUnknownError,
    PostOnlyCrossError,
    RateLimitedError,
    RejectedError,
    ServerError,
    TradingPausedError,
)
from kalshi_mm.api.ratelimit import RateLimiter
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import BookSide, OrderRequest
from kalshi_mm.clock import LiveClock
from kalshi_mm.config.credentials import Credentials

from .conftest import EVENT, SERIES, TICKER, Venue, list_markets, start_venue

MAX_RETRIES = 2
CLOSED = "KXAPI-26DEC31-SHUT"


@dataclass
class Ctx:
    venue: Venue
    good: KalshiTradingAPI  # a valid key
    forged: KalshiTradingAPI  # a registered key id signed with the wrong private key
    order_id: str  # a resting bid of ``good``
    group_id: str


Call = Callable[[KalshiTradingAPI, Ctx], Any]

BID = OrderRequest(TICKER, BookSide.BID, 100, 100, post_only=True)

# Every endpoint method, called in a harmless way.
ENDPOINTS: dict[str, Call] = {
    "get_exchange_status": lambda a, c: a.get_exchange_status(),
    "get_market": lambda a, c: a.get_market(TICKER),
    "get_price": lambda a, c: a.get_price(TICKER),
    "get_markets": lambda a, c: a.get_markets(status="open"),
    "iter_markets": lambda a, c: list(a.iter_markets(status="open")),
    "get_all_open_markets": lambda a, c: a.get_all_open_markets(),
    "get_orderbook": lambda a, c: a.get_orderbook(TICKER),
    "get_orderbooks": lambda a, c: a.get_orderbooks([TICKER]),
    "get_trades": lambda a, c: a.get_trades(TICKER),
    "get_series": lambda a, c: a.get_series(SERIES),
    "get_series_list": lambda a, c: a.get_series_list(),
    "get_event": lambda a, c: a.get_event(EVENT),
    "get_events": lambda a, c: a.get_events(),
    "get_candlesticks": lambda a, c: a.get_candlesticks(SERIES, TICKER, start_ts=1, end_ts=60),
    "get_balance": lambda a, c: a.get_balance(),
    "get_positions": lambda a, c: a.get_positions(),
    "get_position": lambda a, c: a.get_position(TICKER),
    "get_orders": lambda a, c: a.get_orders(TICKER),
    "iter_orders": lambda a, c: list(a.iter_orders(TICKER)),
    "get_order": lambda a, c: a.get_order(c.order_id),
    "find_order_by_client_id": lambda a, c: a.find_order_by_client_id(TICKER, "x"),
    "get_fills": lambda a, c: a.get_fills(),
    "iter_fills_since": lambda a, c: list(a.iter_fills_since(0)),
    "get_settlements": lambda a, c: a.get_settlements(),
    "place_order": lambda a, c: a.place_order(TICKER, BookSide.BID, 100, 100, post_only=True),
    "create_order": lambda a, c: a.create_order(BID),
    "amend_order": lambda a, c: a.amend_order(c.order_id, TICKER, BookSide.BID, 200, 100),
    "decrease_order(reduce_by)": lambda a, c: a.decrease_order(c.order_id, reduce_by_e2=1),
    "decrease_order(reduce_to)": lambda a, c: a.decrease_order(c.order_id, reduce_to_e2=99),
    "cancel_order": lambda a, c: a.cancel_order(c.order_id, TICKER),
    "cancel_all_orders": lambda a, c: a.cancel_all_orders(),
    "batch_create_orders": lambda a, c: a.batch_create_orders([BID]),
    "batch_cancel_orders": lambda a, c: a.batch_cancel_orders([c.order_id], ticker=TICKER),
    "create_order_group": lambda a, c: a.create_order_group(100),
    "get_order_groups": lambda a, c: a.get_order_groups(),
    "get_order_group": lambda a, c: a.get_order_group(c.group_id),
    "reset_order_group": lambda a, c: a.reset_order_group(c.group_id),
    "trigger_order_group": lambda a, c: a.trigger_order_group(c.group_id),
    "set_order_group_limit": lambda a, c: a.set_order_group_limit(c.group_id, 200),
    "delete_order_group": lambda a, c: a.delete_order_group(c.group_id),
}

# How each method retries a 5xx: "retry" = idempotent (max_retries + 1 attempts, then ServerError);
# "resolve" = create (look up by client_order_id between attempts; then OrderOutcomeUnknownError);
# "read-back" = amend (read the order between attempts; then ServerError); "once" = not idempotent.
ON_5XX: dict[str, str] = dict.fromkeys(ENDPOINTS, "retry") | {
    "place_order": "resolve",
    "create_order": "resolve",
    "batch_create_orders": "resolve",
    "amend_order": "read-back",
    "decrease_order(reduce_by)": "once",
    "create_order_group": "once",
}


@pytest.fixture(scope="module")
def ctx() -> Iterator[Ctx]:
    clock = LiveClock()
    server = start_venue(clock)
    try:
        list_markets(server, clock, [CLOSED])
        server.exchange.close_market(CLOSED)
        venue = Venue(server, clock)
        fast = {"max_retries": MAX_RETRIES, "backoff_base_s": 0.001, "backoff_cap_s": 0.004}
        # Each 429 empties the client's bucket; without a market-data reserve to refill on top, a retried read
        # waits ~3 ms instead of ~0.3 s on the prime tier. The mapping, not the reserve, is under test here.
        good = venue.client("good", limiter=RateLimiter("prime", clock, market_data_reserve=0.0), **fast)
        account = server.create_account("forged")
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = KalshiTradingAPI(
            server.rest_url, Credentials(account.access_key, other_key), clock, tier="prime", **fast
        )
        resting = good.place_order(TICKER, BookSide.BID, 100, 100, post_only=True)
        good.place_order(TICKER, BookSide.BID, 200, 100, post_only=True, client_order_id="taken-1")
        venue.client("asker").place_order(TICKER, BookSide.ASK, 9000, 100, post_only=True)
        yield Ctx(venue, good, forged, resting.order_id, good.create_order_group(1000))
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def no_faults_after(ctx: Ctx) -> Iterator[None]:
    yield
    ctx.venue.set_faults(rest_429_burst=0, rest_5xx_rate=0.0)
    ctx.venue.exchange.set_trading_paused(False)


def run(api: KalshiTradingAPI, call: Callable[[], Any]) -> tuple[Any, BaseException | None, int]:
    """(result, raised error, attempts made)."""
    before = api.stats().get("attempts", 0)
    try:
        result, error = call(), None
    except ApiError as exc:
        result, error = None, exc
    return result, error, api.stats().get("attempts", 0) - before


def test_the_table_covers_every_endpoint_method() -> None:
    not_endpoints = {"close", "stats"}
    public = {
        name for name in dir(KalshiTradingAPI) if not name.startswith("_") and callable(getattr(KalshiTradingAPI, name))
    } - not_endpoints
    covered = {name.split("(")[0] for name in ENDPOINTS}
    assert public == covered


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_401_is_fatal_and_never_retried(ctx: Ctx, name: str) -> None:
    _, error, attempts = run(ctx.forged, lambda: ENDPOINTS[name](ctx.forged, ctx))
    assert type(error) is AuthenticationError and error.kind is ErrorKind.FATAL and error.status == 401
    assert attempts == 1


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_429_is_transient_and_retried_even_for_writes(ctx: Ctx, name: str) -> None:
    ctx.venue.set_faults(rest_429_burst=1_000_000)
    result, error, attempts = run(ctx.good, lambda: ENDPOINTS[name](ctx.good, ctx))
    if name == "batch_create_orders":  # per-item outcome: the batch was refused whole, so nothing exists
        error = result[0].error
    assert type(error) is RateLimitedError and error.kind is ErrorKind.TRANSIENT and error.executed is False
    assert attempts == MAX_RETRIES + 1  # a 429 is never executed, so resending is always safe


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_5xx_is_transient_retried_only_where_safe(ctx: Ctx, name: str) -> None:
    ctx.venue.set_faults(rest_5xx_rate=1.0)
    result, error, attempts = run(ctx.good, lambda: ENDPOINTS[name](ctx.good, ctx))
    policy = ON_5XX[name]
    if name == "batch_create_orders":
        error = result[0].error
    expected = OrderOutcomeUnknownError if policy == "resolve" else ServerError
    assert type(error) is expected and error.kind is ErrorKind.TRANSIENT
    if policy == "retry":
        assert attempts == MAX_RETRIES + 1
    elif policy == "once":
        assert attempts == 1
    else:  # each attempt is followed by a (retried) look-up
        assert attempts > MAX_RETRIES + 1


def _cross(a: KalshiTradingAPI, c: Ctx) -> Any:
    return a.place_order(TICKER, BookSide.BID, 9100, 100, post_only=True)


def _paused(a: KalshiTradingAPI, c: Ctx) -> Any:
    c.venue.exchange.set_trading_paused(True)
    return a.place_order(TICKER, BookSide.BID, 100, 100)


def _duplicate(a: KalshiTradingAPI, c: Ctx) -> Any:
    # "taken-1" belongs to another order of ours (placed by the fixture): 409, then a look-up shows it is not
    # this request, so the 409 stands.
    return a.create_order(OrderRequest(TICKER, BookSide.BID, 300, 100, client_order_id="taken-1"))


NOPE = "KXAPI-NO-SUCH"
# The exchange's own 4xx for each endpoint method that has one: (call, exception type, code).
REJECTED: dict[str, tuple[Call, type[RejectedError], str]] = {
    "get_market": (lambda a, c: a.get_market(NOPE), NotFoundError, "not_found"),
    "get_price": (lambda a, c: a.get_price(NOPE), NotFoundError, "not_found"),
    "get_markets": (lambda a, c: a.get_markets(status="bogus"), RejectedError, "bad_request"),
    "iter_markets": (lambda a, c: list(a.iter_markets(limit=5000)), RejectedError, "bad_request"),
    "get_orderbook": (lambda a, c: a.get_orderbook(NOPE), NotFoundError, "not_found"),
    "get_orderbooks": (lambda a, c: a.get_orderbooks([TICKER, NOPE]), NotFoundError, "not_found"),
    "get_trades": (lambda a, c: a.get_trades(limit=5000), RejectedError, "bad_request"),
    "get_series": (lambda a, c: a.get_series("NOPE"), NotFoundError, "not_found"),
    "get_event": (lambda a, c: a.get_event("NOPE"), NotFoundError, "not_found"),
    "get_events": (lambda a, c: a.get_events(status="bogus"), RejectedError, "bad_request"),
    "get_candlesticks": (
        lambda a, c: a.get_candlesticks(SERIES, TICKER, start_ts=60, end_ts=1),
        RejectedError,
        "bad_request",
    ),
    "get_order": (lambda a, c: a.get_order("no-such-order"), NotFoundError, "not_found"),
    "get_fills": (lambda a, c: a.get_fills(limit=5000), RejectedError, "bad_request"),
    "place_order(post-only cross)": (_cross, PostOnlyCrossError, "invalid_order"),
    "place_order(balance)": (
        lambda a, c: a.place_order(TICKER, BookSide.BID, 5000, 10**9),
        InsufficientBalanceError,
        "available_balance_too_low",
    ),
    "place_order(closed)": (
        lambda a, c: a.place_order(CLOSED, BookSide.BID, 100, 100),
        MarketClosedError,
        "market_closed",
    ),
    "place_order(paused)": (_paused, TradingPausedError, "trading_is_paused"),
    "create_order(duplicate)": (_duplicate, OrderAlreadyExistsError, "order_already_exists"),
    "amend_order": (
        lambda a, c: a.amend_order("no-such-order", TICKER, BookSide.BID, 200, 100),
        NotFoundError,
        "not_found",
    ),
    "decrease_order": (lambda a, c: a.decrease_order("no-such-order", reduce_by_e2=1), NotFoundError, "not_found"),
    "cancel_order": (lambda a, c: a.cancel_order("no-such-order"), NotFoundError, "not_found"),
    "batch_create_orders": (
        lambda a, c: a.batch_create_orders([OrderRequest(TICKER, BookSide.BID, 9100, 100, post_only=True)])[0].error,
        PostOnlyCrossError,
        "invalid_order",
    ),
    "batch_cancel_orders": (lambda a, c: a.batch_cancel_orders(["no-such-order"])[0].error, NotFoundError, "not_found"),
    "create_order_group": (lambda a, c: a.create_order_group(0), RejectedError, "invalid_parameters"),
    "get_order_group": (lambda a, c: a.get_order_group("no-such-group"), NotFoundError, "not_found"),
    "reset_order_group": (lambda a, c: a.reset_order_group("no-such-group"), NotFoundError, "not_found"),
    "trigger_order_group": (lambda a, c: a.trigger_order_group("no-such-group"), NotFoundError, "not_found"),
    "set_order_group_limit": (lambda a, c: a.set_order_group_limit("no-such-group", 100), NotFoundError, "not_found"),
    "delete_order_group": (lambda a, c: a.delete_order_group("no-such-group"), NotFoundError, "not_found"),
}
# Methods the exchange has no business error for (listings, balance, cancel-all...): covered by 401/429/5xx.
NO_BUSINESS_ERROR = {
    "get_exchange_status",
    "get_all_open_markets",
    "get_series_list",
    "get_balance",
    "get_positions",
    "get_position",
    "get_orders",
    "iter_orders",
    "find_order_by_client_id",
    "iter_fills_since",
    "get_settlements",
    "cancel_all_orders",
    "get_order_groups",
    "decrease_order(reduce_to)",
    "create_order",
}


def test_every_endpoint_method_is_in_the_rejected_table_or_has_no_business_error() -> None:
    covered = {name.split("(")[0] for name in REJECTED} | {name.split("(")[0] for name in NO_BUSINESS_ERROR}
    assert covered == {name.split("(")[0] for name in ENDPOINTS}


@pytest.mark.parametrize("name", list(REJECTED))
def test_business_errors_are_rejected_with_the_reason_and_never_retried(ctx: Ctx, name: str) -> None:
    call, exc_type, code = REJECTED[name]
    result, error, attempts = run(ctx.good, lambda: call(ctx.good, ctx))
    if error is None:  # per-item error of a batch, returned rather than raised
        error = result
    assert type(error) is exc_type and error.kind is ErrorKind.REJECTED
    assert error.code == code and error.message
    if exc_type is PostOnlyCrossError:
        assert error.details == "post only cross"
    assert attempts == (2 if name == "create_order(duplicate)" else 1)


def test_unreachable_exchange_is_transient_and_never_carries_the_signature(ctx: Ctx) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = KalshiTradingAPI(
        f"http://127.0.0.1:{port}/trade-api/v2",
        ctx.good._http.credentials,
        LiveClock(),
        tier="prime",
        max_retries=MAX_RETRIES,
        backoff_base_s=0.001,
        backoff_cap_s=0.002,
    )
    for call in (lambda: api.get_balance(), lambda: api.create_order(BID)):
        _, error, attempts = run(api, call)
        # Connection refused: certainly not executed, so even a create is simply re-sent, then given up on.
        assert type(error) is NetworkError and error.executed is False and attempts == MAX_RETRIES + 1
        assert error.__cause__ is None and error.__context__ is None  # the signed request is not reachable
    _, error, _ = run(ctx.forged, lambda: ctx.forged.get_balance())
    assert error is not None and error.__context__ is None and error.__cause__ is None
    # An RSA-2048 signature is 344 base64 characters: no such run in the error or any of its attributes.
    assert not re.search(r"[A-Za-z0-9+/=]{100,}", f"{error} {vars(error)}")
    assert "PRIVATE" not in repr(ctx.good) and "BEGIN" not in repr(ctx.good)
