"""Found by the chaos run: a burst of 429s longer than the client's retries at the start-up balance check escaped
``run_trading`` as a traceback. It must end as a logged exit 1 with the exchange left as it was."""

from __future__ import annotations

from pathlib import Path

from kalshi_mm.app import EXIT_FATAL, run_trading
from kalshi_mm.clock import LiveClock
from kalshi_mm.config.credentials import Credentials, EndpointKind, ExchangeEndpoint
from kalshi_mm.config.settings import validate_config
from kalshi_mm.sim.server import EmbeddedExchange


def test_retries_exhausted_at_start_up_exit_1_without_a_traceback(tmp_path: Path) -> None:
    clock = LiveClock()
    server = EmbeddedExchange(clock, scenario=None).start()
    try:
        account = server.create_account("trader")
        assert account.private_key is not None
        server.faults.update({"rest_429_burst": 1_000})  # every request answers 429 until the test ends
        cfg = validate_config(
            {
                "mode": "discovery",
                "analytics": {"db_path": str(tmp_path / "a.db")},
                "logging": {"log_dir": str(tmp_path / "logs")},
                "ops_http": {"enabled": False},
            }
        )
        endpoint = ExchangeEndpoint(EndpointKind.CUSTOM, server.rest_url, server.ws_url)
        code = run_trading(
            cfg, endpoint, Credentials(account.access_key, account.private_key), clock, install_signals=False
        )
        assert code == EXIT_FATAL
        assert server.faults.counts()["rest_429"] >= 2  # the client did retry before giving up
        assert server.exchange.orders("trader") == []
    finally:
        server.stop()
