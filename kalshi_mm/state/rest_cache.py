"""REST-fallback order books: fetched on demand, cached for a short time to live, one fetch per market."""

from __future__ import annotations

import threading

from kalshi_mm.clock import Clock
from kalshi_mm.state.interfaces import RestFallback
from kalshi_mm.state.orderbook import OrderBook, OrderBookView

__all__ = ["RestBookCache"]


class RestBookCache:
    """Views of REST order books, each valid ``ttl_s`` seconds after its ``received_ts``.

    Lock: ``_lock`` guards ``_views`` and ``_fetch_locks``; it is never held during a fetch. A per-market
    fetch lock makes concurrent readers of one market wait for a single request instead of each sending
    one (rate limits). Fetch errors propagate to the reader that fetched.
    """

    def __init__(self, clock: Clock, rest: RestFallback, ttl_s: float = 1.0) -> None:
        if ttl_s < 0:
            raise ValueError(f"ttl_s must be ≥ 0, got {ttl_s}")
        self._clock = clock
        self._rest = rest
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._views: dict[str, OrderBookView] = {}
        self._fetch_locks: dict[str, threading.Lock] = {}
        self.fetches = 0

    def _cached_locked(self, ticker: str) -> OrderBookView | None:
        view = self._views.get(ticker)
        if view is not None and self._clock.time() - view.received_ts <= self._ttl_s:
            return view
        return None

    def get(self, ticker: str) -> OrderBookView:
        """A cached view within its time to live, else a fresh fetch."""
        with self._lock:
            view = self._cached_locked(ticker)
            if view is not None:
                return view
            fetch_lock = self._fetch_locks.setdefault(ticker, threading.Lock())
        with fetch_lock:
            with self._lock:  # another reader may have fetched while this one waited
                view = self._cached_locked(ticker)
                if view is not None:
                    return view
            snap = self._rest.get_orderbook(ticker)
            book = OrderBook.from_levels(ticker, snap.yes_bids, snap.yes_asks)
            view = book.view(None, None, snap.received_ts, "rest")
            with self._lock:
                self._views[ticker] = view
                self.fetches += 1
            return view

    def forget(self, ticker: str) -> None:
        with self._lock:
            self._views.pop(ticker, None)
