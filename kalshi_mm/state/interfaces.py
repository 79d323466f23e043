"""Small types the state store shares with its callers: data kinds, config limits, top of book, REST fallback."""

from __future__ import annotations

import enum
from typing import NamedTuple, Protocol

from kalshi_mm.api.ws_types import OrderbookSnapshot

__all__ = ["DataKind", "RestFallback", "StoreLimits", "TopOfBook"]


class DataKind(enum.Enum):
    """Kinds of market data with their own staleness threshold (``websockets.*_staleness_seconds``)."""

    TICKER = "ticker"
    ORDERBOOK = "orderbook"
    POSITION = "position"


class StoreLimits(Protocol):
    """What the store reads from ``WebsocketsConfig`` (any object with these attributes will do).

    Optional, read with defaults when absent: ``enabled`` (True) and ``ws_fallback_on_unhealthy`` (True).
    """

    @property
    def ticker_staleness_seconds(self) -> float: ...

    @property
    def orderbook_staleness_seconds(self) -> float: ...

    @property
    def position_staleness_seconds(self) -> float: ...

    @property
    def max_price_history(self) -> int: ...

    @property
    def max_trades_per_ticker(self) -> int: ...


class RestFallback(Protocol):
    """REST reads the store uses when WebSocket data is stale or the WebSocket is disabled.

    The REST client's adapter implements it; ``kalshi_mm.api.ws_messages.orderbook_snapshot_from_rest``
    turns a ``GET /markets/{ticker}/orderbook`` body into the snapshot. ``received_ts`` must be stamped from
    the injected clock when the response arrived (it starts the cached copy's time to live). Errors
    propagate to the store's caller.
    """

    def get_orderbook(self, ticker: str) -> OrderbookSnapshot: ...


class TopOfBook(NamedTuple):
    """Best YES bid / ask (1/10,000 $) with sizes (1/100 contract); a None price means an empty side."""

    bid_e4: int | None
    bid_size_e2: int | None
    ask_e4: int | None
    ask_size_e2: int | None
    received_ts: float  # local receive time of the last message applied to the book
