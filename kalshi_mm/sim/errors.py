"""The exchange's business errors, shaped like Kalshi's (NOTES §4).

:class:`ExchangeError` carries the HTTP status, Kalshi's ``code``, a human ``message`` and ``details``; the REST
layer emits it as the nested body ``{"error": {"code", "message", "details"}}`` (:meth:`ExchangeError.body`).
Where Kalshi's status or code is UNCONFIRMED the choice is noted on the constructor.
"""

from __future__ import annotations

__all__ = [
    "ExchangeError",
    "available_balance_too_low",
    "exchange_paused",
    "invalid_order",
    "invalid_order_size",
    "invalid_parameters",
    "invalid_price",
    "market_closed",
    "not_found",
    "order_already_exists",
    "order_group_triggered",
    "order_id_and_client_order_id_mismatch",
    "order_side_mismatch",
    "order_ticker_mismatch",
    "post_only_cross",
    "trading_is_paused",
]


class ExchangeError(Exception):
    """A rejected request: nothing changed in the exchange when this is raised."""

    def __init__(self, http_status: int, code: str, message: str, details: str = ""):
        super().__init__(f"{http_status} {code}: {message}" + (f" ({details})" if details else ""))
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, dict[str, str]]:
        """The nested JSON body Kalshi sends: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExchangeError) and (
            (self.http_status, self.code, self.message, self.details)
            == (other.http_status, other.code, other.message, other.details)
        )

    def __hash__(self) -> int:
        return hash((self.http_status, self.code, self.message, self.details))


def invalid_order(details: str = "") -> ExchangeError:
    """400 ``invalid_order``: a generic malformed or disallowed order (bad flag combination, not resting, …)."""
    return ExchangeError(400, "invalid_order", "invalid order", details)


def post_only_cross() -> ExchangeError:
    """400 ``invalid_order`` / ``post only cross``: a post-only order would take liquidity (never rests)."""
    return invalid_order("post only cross")


def invalid_order_size(details: str = "") -> ExchangeError:
    """400 ``invalid_order_size``: count not positive, or an amend/decrease to an impossible size."""
    return ExchangeError(400, "invalid_order_size", "invalid order size", details)


def invalid_price(details: str = "") -> ExchangeError:
    """400 ``invalid_price``: price off the market's grid (status and code UNCONFIRMED; FIX says INVALID_PRICE)."""
    return ExchangeError(400, "invalid_price", "invalid price", details)


def available_balance_too_low(details: str = "") -> ExchangeError:
    """400 ``available_balance_too_low`` (status UNCONFIRMED): the order's collateral exceeds available cash."""
    return ExchangeError(400, "available_balance_too_low", "available balance too low", details)


def order_already_exists(details: str = "") -> ExchangeError:
    """409 ``order_already_exists``: the client_order_id is already used by one of the user's orders."""
    return ExchangeError(409, "order_already_exists", "order already exists", details)


def market_closed(details: str = "") -> ExchangeError:
    """409 ``market_closed``: the market is not open for trading (not yet open, closed, determined, settled)."""
    return ExchangeError(409, "market_closed", "market closed", details)


def trading_is_paused(details: str = "") -> ExchangeError:
    """409 ``trading_is_paused``: an exchange-wide or per-market trading pause rejects place and amend."""
    return ExchangeError(409, "trading_is_paused", "trading is paused", details)


def exchange_paused(details: str = "") -> ExchangeError:
    """503 ``exchange_unavailable``: a full exchange pause rejects every order call (code is the sim's choice;
    503 lets clients treat it as transient, as Kalshi's status endpoint does during a pause)."""
    return ExchangeError(503, "exchange_unavailable", "exchange is paused", details)


def not_found(details: str = "") -> ExchangeError:
    """404 ``not_found`` (code UNCONFIRMED): unknown market, order, order group or account."""
    return ExchangeError(404, "not_found", "not found", details)


def order_id_and_client_order_id_mismatch(details: str = "") -> ExchangeError:
    """400 ``order_id_and_client_order_id_mismatch``: an amend's client_order_id is not the order's."""
    return ExchangeError(400, "order_id_and_client_order_id_mismatch", "order id and client order id mismatch", details)


def order_side_mismatch(details: str = "") -> ExchangeError:
    """400 ``order_side_mismatch``: an amend names a side other than the order's."""
    return ExchangeError(400, "order_side_mismatch", "order side mismatch", details)


def order_ticker_mismatch(details: str = "") -> ExchangeError:
    """400 ``order_ticker_mismatch``: an amend/cancel names a market other than the order's."""
    return ExchangeError(400, "order_ticker_mismatch", "order ticker mismatch", details)


def order_group_triggered(details: str = "") -> ExchangeError:
    """409 ``order_group_triggered`` (the sim's code; Kalshi's is UNCONFIRMED): the order's group has tripped
    and rejects new orders until reset."""
    return ExchangeError(409, "order_group_triggered", "order group triggered", details)


def invalid_parameters(details: str = "") -> ExchangeError:
    """400 ``invalid_parameters``: a request (or an operator call) that makes no sense in the current state."""
    return ExchangeError(400, "invalid_parameters", "invalid parameters", details)
