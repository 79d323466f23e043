"""The error taxonomy's one mapping, pinned by a table: HTTP status and body (in Kalshi's three body forms) ->
kind and exception type; exceptions without a response; which errors are retried."""

from __future__ import annotations

import pytest
import requests
from urllib3.exceptions import NewConnectionError, ProtocolError

from kalshi_mm.api.errors import (
    ApiError,
    AuthenticationError,
    ErrorKind,
    FatalError,
    InsufficientBalanceError,
    MarketClosedError,
    NetworkError,
    NotFoundError,
    OrderAlreadyExistsError,
    PermissionDeniedError,
    PostOnlyCrossError,
    RateLimitedError,
    RejectedError,
    ServerError,
    TradingPausedError,
    classify_exception,
    classify_item_error,
    classify_response,
    parse_error_body,
    should_retry,
)


def nested(code: str, message: str = "", details: str = "") -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


def flat(code: str, message: str = "", details: str = "") -> dict:
    return {"code": code, "message": message, "details": details, "service": "exchange"}


TABLE: list[tuple[int, object, ErrorKind, type[ApiError], str]] = [
    # status, body, kind, exception type, code
    (
        400,
        nested("invalid_order", "invalid order", "post only cross"),
        ErrorKind.REJECTED,
        PostOnlyCrossError,
        "invalid_order",
    ),
    (
        400,
        flat("invalid_order", "invalid order", "Post Only Cross"),
        ErrorKind.REJECTED,
        PostOnlyCrossError,
        "invalid_order",
    ),
    (
        400,
        nested("invalid_order", "invalid order", "reduce only requires IOC"),
        ErrorKind.REJECTED,
        RejectedError,
        "invalid_order",
    ),
    (
        400,
        nested("available_balance_too_low"),
        ErrorKind.REJECTED,
        InsufficientBalanceError,
        "available_balance_too_low",
    ),
    (400, flat("insufficient_balance"), ErrorKind.REJECTED, InsufficientBalanceError, "insufficient_balance"),
    (400, nested("invalid_price", "invalid price"), ErrorKind.REJECTED, RejectedError, "invalid_price"),
    (400, nested("market_closed"), ErrorKind.REJECTED, MarketClosedError, "market_closed"),
    (400, "Please switch to the V2 endpoints", ErrorKind.REJECTED, RejectedError, ""),
    (404, nested("not_found", "not found", "order x"), ErrorKind.REJECTED, NotFoundError, "not_found"),
    (404, None, ErrorKind.REJECTED, NotFoundError, ""),
    (409, nested("order_already_exists"), ErrorKind.REJECTED, OrderAlreadyExistsError, "order_already_exists"),
    (409, nested("market_closed", "market closed"), ErrorKind.REJECTED, MarketClosedError, "market_closed"),
    (409, flat("trading_is_paused"), ErrorKind.REJECTED, TradingPausedError, "trading_is_paused"),
    (409, nested("order_group_triggered"), ErrorKind.REJECTED, RejectedError, "order_group_triggered"),
    (422, nested("something_new"), ErrorKind.REJECTED, RejectedError, "something_new"),
    (
        401,
        nested("authentication_error", "invalid signature"),
        ErrorKind.FATAL,
        AuthenticationError,
        "authentication_error",
    ),
    (401, None, ErrorKind.FATAL, AuthenticationError, ""),
    (403, flat("forbidden", "key lacks write scope"), ErrorKind.FATAL, PermissionDeniedError, "forbidden"),
    (301, None, ErrorKind.FATAL, FatalError, ""),
    (429, {"error": "too many requests"}, ErrorKind.TRANSIENT, RateLimitedError, ""),
    (429, None, ErrorKind.TRANSIENT, RateLimitedError, ""),
    (408, None, ErrorKind.TRANSIENT, ServerError, ""),
    (500, nested("internal_server_error"), ErrorKind.TRANSIENT, ServerError, "internal_server_error"),
    (502, "<html>Bad Gateway</html>", ErrorKind.TRANSIENT, ServerError, ""),
    (
        503,
        nested("exchange_unavailable", "exchange is paused"),
        ErrorKind.TRANSIENT,
        ServerError,
        "exchange_unavailable",
    ),
    (504, b"", ErrorKind.TRANSIENT, ServerError, ""),
]


@pytest.mark.parametrize(("status", "body", "kind", "exc_type", "code"), TABLE)
def test_status_and_body_map_to_kind_and_type(
    status: int, body: object, kind: ErrorKind, exc_type: type[ApiError], code: str
) -> None:
    error = classify_response(status, body, method="POST", path="/portfolio/events/orders")
    assert type(error) is exc_type
    assert error.kind is kind and error.status == status and error.code == code
    assert str(error).startswith(f"POST /portfolio/events/orders: {status}")


def test_the_three_body_forms() -> None:
    assert parse_error_body(nested("c", "m", "d")) == parse_error_body(flat("c", "m", "d"))
    assert parse_error_body('{"error": {"code": "c", "message": "m", "details": "d"}}').details == "d"
    assert parse_error_body({"error": "too many requests"}).message == "too many requests"
    assert parse_error_body("not json").message == "not json"
    assert parse_error_body(None).code == ""


def test_rejection_keeps_the_exchange_reason() -> None:
    error = classify_response(400, nested("invalid_order", "invalid order", "post only cross"))
    assert (error.code, error.message, error.details) == (
        "invalid_order",
        "400 invalid_order: invalid order (post only cross)",
        "post only cross",
    )


def test_batch_item_errors_are_rejections_typed_by_code() -> None:
    assert isinstance(classify_item_error({"code": "invalid_order", "details": "post only cross"}), PostOnlyCrossError)
    assert isinstance(classify_item_error({"code": "not_found", "message": "not found"}), NotFoundError)
    assert type(classify_item_error({"code": "invalid_order_size"})) is RejectedError


def _refused() -> requests.ConnectionError:
    inner = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.ConnectionError(inner)


@pytest.mark.parametrize(
    ("exc", "exc_type", "executed"),
    [
        (requests.ConnectTimeout("connect timed out"), NetworkError, False),
        (_refused(), NetworkError, False),
        (requests.ReadTimeout("read timed out"), NetworkError, None),
        (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError())), NetworkError, None),
        (requests.exceptions.ChunkedEncodingError("truncated"), NetworkError, None),
        (requests.exceptions.InvalidURL("bad url"), FatalError, None),
    ],
)
def test_exceptions_without_a_response(exc: requests.RequestException, exc_type: type, executed: bool | None) -> None:
    error = classify_exception(exc, method="GET", path="/markets")
    assert type(error) is exc_type
    assert getattr(error, "executed", None) is executed


@pytest.mark.parametrize(
    ("error", "idempotent", "retry"),
    [
        (ServerError("500"), True, True),
        (ServerError("500"), False, False),  # a create may have happened: resolve by client_order_id instead
        (RateLimitedError("429"), False, True),  # refused whole: nothing happened
        (NetworkError("refused", executed=False), False, True),
        (NetworkError("timeout"), True, True),
        (NetworkError("timeout"), False, False),
        (NotFoundError("404"), True, False),
        (AuthenticationError("401"), True, False),
    ],
)
def test_what_is_retried(error: ApiError, idempotent: bool, retry: bool) -> None:
    assert should_retry(error, idempotent=idempotent) is retry
