"""Discovery mode's failure paths, in-process against the embedded exchange on a 10× clock:

* the market listing fails twice (a REST client subclass standing in for a broken network), then succeeds:
  each failure is recorded, retried with backoff, and trading starts after the third attempt;
* one market's generated config is invalid: recorded with its reason, not selected, no session;
* one market maker crashes mid-run: its run is recorded faulted, its orders are gone, the others keep running.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, ClassVar

from kalshi_mm.api.errors import ServerError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import Market, MarketPosition
from kalshi_mm.config.dynamic import DynamicConfigError, MarketStrategyConfig
from kalshi_mm.discovery.models import ScoredMarket
from kalshi_mm.modes.discovery_mode import DiscoveryMode, default_tools
from kalshi_mm.sim.model import OrderStatus
from kalshi_mm.strategy.session import session_prefix

from .conftest import USER, Env

DURATION_S = 120.0  # simulated


class FlakyNetworkAPI(KalshiTradingAPI):
    """The market listing fails with a 5xx the first two times; ``crash_ticker``'s position reads fail after its
    session started (an unexpected error inside one market maker)."""

    # Class-level: the runtime builds the client itself; the test resets these before each run.
    listing_failures: ClassVar[int] = 2
    crash_ticker: ClassVar[str | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()
    _position_reads: ClassVar[dict[str, int]] = {}

    def get_all_open_markets(self, **kwargs: Any) -> list[Market]:
        with self._lock:
            if FlakyNetworkAPI.listing_failures > 0:
                FlakyNetworkAPI.listing_failures -= 1
                raise ServerError("injected: 503 from the listing", status=503)
        return super().get_all_open_markets(**kwargs)

    def get_position(self, ticker: str) -> MarketPosition:
        with self._lock:
            reads = self._position_reads[ticker] = self._position_reads.get(ticker, 0) + 1
        if ticker == FlakyNetworkAPI.crash_ticker and reads > 1:
            raise RuntimeError("injected: a bug in one market maker")
        return super().get_position(ticker)


def test_failed_discoveries_invalid_config_and_a_crashing_session(env: Env) -> None:
    FlakyNetworkAPI.listing_failures, FlakyNetworkAPI.crash_ticker = 2, None
    FlakyNetworkAPI._position_reads.clear()
    rt = env.runtime(api_factory=FlakyNetworkAPI)
    real = default_tools(rt, None)
    seen: list[str] = []

    def make_config(scored: ScoredMarket, side: str, active: int) -> MarketStrategyConfig:
        config = real.make_config(scored, side, active)  # may raise for a real reason (sports are excluded)
        seen.append(scored.ticker)
        if len(seen) == 1:
            raise DynamicConfigError(scored.ticker, "injected: invalid config")
        if len(seen) == 2:
            FlakyNetworkAPI.crash_ticker = scored.ticker
        return config

    mode = DiscoveryMode(rt, tools=dataclasses.replace(real, make_config=make_config), retry_base_s=2.0)
    try:
        code = mode.run(DURATION_S)
    finally:
        assert rt.close()
    assert code == 0
    assert mode.failures == 2
    bad, crashed = seen[0], seen[1]

    sessions = env.rows("SELECT * FROM discovery_sessions ORDER BY session_id")
    assert len(sessions) == 3
    for failed in sessions[:2]:
        assert "[failed: ServerError" in failed["model_version"] and failed["total_markets"] == 0
    good = sessions[2]
    assert good["model_version"] == rt.cfg.discovery.model_version and good["configs_generated"] >= 2

    [bad_row] = env.rows("SELECT * FROM discovered_markets WHERE ticker = ?", bad)
    assert bad_row["selected_for_trading"] == 0 and bad_row["generated_config"] is None
    assert "injected: invalid config" in bad_row["reasons"]

    runs = {r["market_ticker"]: r for r in env.rows("SELECT * FROM strategy_runs")}
    assert bad not in runs
    assert runs[crashed]["status"] == "faulted" and "RuntimeError" in runs[crashed]["end_reason"]
    others = [r for t, r in runs.items() if t != crashed]
    assert others and all(r["status"] == "completed" for r in others), [
        (r["market_ticker"], r["status"], r["end_reason"]) for r in others
    ]

    resting = env.server.exchange.orders(USER, status=OrderStatus.RESTING)
    assert resting == []
    prefix = session_prefix(crashed, "yes")
    crashed_orders = [o for o in env.server.exchange.orders(USER) if o.client_order_id.startswith(prefix)]
    assert all(o.status is not OrderStatus.RESTING for o in crashed_orders)
