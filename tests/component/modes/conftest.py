"""Fixtures for discovery mode run in-process: the embedded exchange (default scenario) on a 10× scaled SimClock,
the app's config with a test database and log directory, and a :class:`Runtime` built exactly as
``kalshi_mm.app.run_trading`` builds it, so the test can inspect the exchange after the mode has shut down."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.clock import SimClock
from kalshi_mm.config.credentials import Credentials, EndpointKind, ExchangeEndpoint
from kalshi_mm.config.settings import AppConfig, config_to_dict, load_config, validate_config
from kalshi_mm.runtime import Runtime
from kalshi_mm.sim.server import EmbeddedExchange

ROOT = Path(__file__).resolve().parents[3]
USER = "paper-trader"
SCALE = 10.0  # simulated seconds per real second


@dataclass
class Env:
    clock: SimClock
    server: EmbeddedExchange
    cfg: AppConfig
    credentials: Credentials
    db_path: Path

    def runtime(self, api_factory: Callable[..., KalshiTradingAPI] = KalshiTradingAPI) -> Runtime:
        endpoint = ExchangeEndpoint(EndpointKind.SIM, self.server.rest_url, self.server.ws_url)
        rt = Runtime.build(
            self.cfg, endpoint, self.credentials, self.clock, exchange=self.server, api_factory=api_factory
        )
        rt.start()
        return rt

    def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        conn = sqlite3.connect(self.db_path)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, args)]
        finally:
            conn.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    data = config_to_dict(load_config(ROOT / "config.yaml"))
    data["mode"] = "discovery"
    data["analytics"]["db_path"] = str(tmp_path / "analytics.db")
    data["analytics"]["commit_interval_seconds"] = 0.2
    data["logging"]["log_dir"] = str(tmp_path / "logs")
    data["websockets"]["enabled"] = True
    data["discovery"]["max_markets_to_trade"] = 6
    data["exchange"]["rate_limit_tier"] = "prime"
    cfg = validate_config(data, source="test")
    clock = SimClock(scale=SCALE)
    server = EmbeddedExchange(clock, scenario="default", tier="prime").start()
    account = server.create_account(USER)
    assert account.private_key is not None
    try:
        yield Env(clock, server, cfg, Credentials(account.access_key, account.private_key), tmp_path / "analytics.db")
    finally:
        server.stop()  # idempotent: the runtime normally stopped it already
