"""``KalshiTradingAPI``: the daemon's REST client for Kalshi's Trade API v2 (and the embedded exchange, which
speaks the same wire format).

Composition: :class:`~kalshi_mm.api.transport.RestTransport` (one keep-alive session, RSA-PSS signing,
the shared :class:`~kalshi_mm.api.ratelimit.RateLimiter`, retries) under four groups of methods:
:class:`~kalshi_mm.api.rest_market.MarketDataMixin` (public market data),
:class:`~kalshi_mm.api.rest_portfolio.PortfolioMixin` (balance, positions, orders, fills, settlements),
:class:`~kalshi_mm.api.rest_orders.OrdersMixin` (V2 order entry, batches) and
:class:`~kalshi_mm.api.rest_groups.OrderGroupsMixin` (order groups). Results are frozen
dataclasses of :mod:`kalshi_mm.api.types` in internal units; failures are the taxonomy of
:mod:`kalshi_mm.api.errors`. One instance is meant to be shared by every thread of the daemon.
"""

from __future__ import annotations

import random

from kalshi_mm.api.ratelimit import RateLimiter
from kalshi_mm.api.rest_groups import OrderGroupsMixin
from kalshi_mm.api.rest_market import MarketDataMixin
from kalshi_mm.api.rest_orders import OrdersMixin
from kalshi_mm.api.transport import DEFAULT_BACKOFF_BASE_S, DEFAULT_BACKOFF_CAP_S, RestTransport
from kalshi_mm.clock import Clock
from kalshi_mm.config.credentials import Credentials

__all__ = ["DEFAULT_MAX_RETRIES", "KalshiTradingAPI"]

DEFAULT_MAX_RETRIES = 4


class KalshiTradingAPI(MarketDataMixin, OrdersMixin, OrderGroupsMixin):
    """Kalshi REST client. ``credentials=None`` gives public market data only (portfolio calls then fail with
    AuthenticationError). ``tier`` is ``exchange.rate_limit_tier``; ``timeout_s`` bounds connect and read of
    each attempt; ``max_retries`` bounds the retries of one call. Pass ``limiter`` to share one budget between
    several clients of the same API key."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None,
        clock: Clock,
        *,
        tier: str = "basic",
        timeout_s: float = 10.0,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_cap_s: float = DEFAULT_BACKOFF_CAP_S,
        limiter: RateLimiter | None = None,
        rng: random.Random | None = None,
    ):
        self.clock = clock
        self.limiter = limiter or RateLimiter(tier, clock)
        self._http = RestTransport(
            base_url,
            credentials,
            clock,
            limiter=self.limiter,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            rng=rng,
        )

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def authenticated(self) -> bool:
        return self._http.credentials is not None

    def stats(self) -> dict[str, int]:
        """Request counters: attempts, retries, failures by kind and class (for metrics and tests)."""
        return self._http.stats()

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._http.close()

    def __enter__(self) -> KalshiTradingAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        who = repr(self._http.credentials) if self._http.credentials is not None else "public"
        return f"KalshiTradingAPI({self.base_url!r}, {who})"
