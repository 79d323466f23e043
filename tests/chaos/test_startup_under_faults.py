"""Found by the chaos run: a burst of 429s longer than the client's retries at the start-up balance check escaped
``run_trading`` as a traceback (and, once caught, made the daemon exit 1). Transient failures at start-up are now
retried with backoff until the exchange answers or a stop is requested."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from kalshi_mm.app import EXIT_OK, run_trading
from kalshi_mm.clock import LiveClock
from kalshi_mm.config.credentials import Credentials, EndpointKind, ExchangeEndpoint
from kalshi_mm.config.settings import validate_config
from kalshi_mm.sim.server import EmbeddedExchange


def _run(tmp_path: Path, burst: int, duration_s: float) -> tuple[int, dict[str, Any], EmbeddedExchange]:
    clock = LiveClock()
    server = EmbeddedExchange(clock, scenario=None).start()
    try:
        account = server.create_account("trader")
        assert account.private_key is not None
        server.faults.update({"rest_429_burst": burst})
        cfg = validate_config(
            {
                "mode": "discovery",
                "analytics": {"db_path": str(tmp_path / "a.db")},
                "logging": {"log_dir": str(tmp_path / "logs")},
                "ops_http": {"enabled": False},
            }
        )
        endpoint = ExchangeEndpoint(EndpointKind.CUSTOM, server.rest_url, server.ws_url)
        started = clock.monotonic()
        code = run_trading(
            cfg,
            endpoint,
            Credentials(account.access_key, account.private_key),
            clock,
            install_signals=False,
            duration_s=duration_s,
        )
        info = {"wall_s": clock.monotonic() - started, "counts": server.faults.counts()}
        return code, info, server
    finally:
        server.stop()


def test_a_429_burst_at_start_up_is_outlasted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # More 429s than the client's own retries: the runtime's start-up loop waits them out, then starts normally.
    caplog.set_level(logging.INFO)
    code, info, server = _run(tmp_path, burst=8, duration_s=12.0)
    assert code == EXIT_OK
    assert info["counts"]["rest_429"] == 8
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("start-up: exchange not answering") for m in messages)
    assert any(m.startswith("account reachable") for m in messages)  # then it got through
    assert server.exchange.orders("trader") == []  # an empty exchange (no scenario): nothing to quote


def test_an_exchange_that_never_answers_is_retried_until_the_stop(tmp_path: Path) -> None:
    code, info, server = _run(tmp_path, burst=100_000, duration_s=4.0)
    assert code == EXIT_OK  # stopped by --duration before anything started: a clean exit, not a crash
    assert info["counts"]["rest_429"] >= 2  # it kept trying
    assert info["wall_s"] < 15.0  # the stop ended the retry loop
    assert server.exchange.orders("trader") == []
