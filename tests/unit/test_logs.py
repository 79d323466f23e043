"""Log redaction and log files: a private key or request signature never reaches any log output."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kalshi_mm.clock import SimClock
from kalshi_mm.logs import (
    REDACTED,
    SecretRedactingFilter,
    close_strategy_logger,
    redact,
    register_secret,
    strategy_logger,
    sweep_logger,
)


def key_fragments(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if len(line) >= 16 and "-----" not in line]


def test_redact_pem_blocks_signatures_and_registered_secrets(rsa_pem: str) -> None:
    assert REDACTED in redact(f"loaded {rsa_pem}")
    assert all(f not in redact(f"loaded {rsa_pem}") for f in key_fragments(rsa_pem))
    headers = {"KALSHI-ACCESS-KEY": "abc", "KALSHI-ACCESS-SIGNATURE": "c2lnbmF0dXJlYmFzZTY0PT0="}
    assert "c2lnbmF0dXJlYmFzZTY0PT0=" not in redact(str(headers))
    assert "c2lnbmF0dXJlYmFzZTY0PT0=" not in redact("KALSHI-ACCESS-SIGNATURE: c2lnbmF0dXJlYmFzZTY0PT0=")
    register_secret("a-secret-token-value-0123456789")
    assert redact("token=a-secret-token-value-0123456789!") == f"token={REDACTED}!"
    assert redact("an ordinary line about 47 contracts") == "an ordinary line about 47 contracts"


def test_strategy_and_sweep_files_never_contain_the_key_at_debug(tmp_path: Path, rsa_pem: str) -> None:
    # A key fragment without its PEM armour is only caught because it was registered, as the app does.
    register_secret(rsa_pem)
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    logger = strategy_logger("KXTEST-26NOV26-T50-yes", tmp_path)
    try:
        body = "\n".join(key_fragments(rsa_pem))
        logger.debug("key text %s", rsa_pem)
        logger.debug("key body only %s", body)
        logger.info("one-line form %s", rsa_pem.replace("\n", "\\n"))
        logger.debug("headers %s", {"KALSHI-ACCESS-SIGNATURE": "QUJDREVGR0hJSktMTU5PUA=="})
        try:
            raise ValueError(f"could not parse {body}")
        except ValueError:
            logger.exception("failure while loading")
        logger.debug("bad format %d", "not-a-number")  # must not lose the record
        sweep = sweep_logger(tmp_path, SimClock(start=1_764_115_200.0))  # 2025-11-26 UTC
        sweep.info("sweep details with %s", body)
    finally:
        close_strategy_logger(logger)
        for h in list(logging.getLogger("kalshi_mm.volatility.sweep").handlers):
            h.close()
            logging.getLogger("kalshi_mm.volatility.sweep").removeHandler(h)
        root.setLevel(old_level)
    strategy_text = (tmp_path / "KXTEST-26NOV26-T50-yes.log").read_text()
    sweep_text = (tmp_path / "volatility_sweep_details_20251126.log").read_text()
    for text in (strategy_text, sweep_text):
        assert REDACTED in text
        for fragment in key_fragments(rsa_pem):
            assert fragment not in text
    assert "QUJDREVGR0hJSktMTU5PUA==" not in strategy_text
    assert "failure while loading" in strategy_text and "Traceback" in strategy_text
    assert strategy_text.count("\n") >= 6


def test_sweep_file_follows_the_injected_clock_date(tmp_path: Path) -> None:
    clock = SimClock(start=1_764_201_590.0)  # 2025-11-26 23:59:50 UTC
    logger = sweep_logger(tmp_path, clock)
    try:
        logger.info("before midnight")
        clock.advance(20)
        logger.info("after midnight")
    finally:
        for h in list(logger.handlers):
            h.close()
            logger.removeHandler(h)
    assert "before midnight" in (tmp_path / "volatility_sweep_details_20251126.log").read_text()
    assert "after midnight" in (tmp_path / "volatility_sweep_details_20251127.log").read_text()


@pytest.mark.parametrize("args", [("plain",), ("%s", "x"), ("%d", "y")])
def test_filter_never_drops_records(args: tuple[str, ...]) -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, args[0], args[1:] or None, None)
    assert SecretRedactingFilter().filter(record) is True
    assert record.args is None and isinstance(record.msg, str)


def test_sweep_logger_follows_the_latest_directory(tmp_path: Path) -> None:
    clock = SimClock(start=1_764_115_200.0)  # 2025-11-26 UTC
    first, second = tmp_path / "a", tmp_path / "b"
    logger = sweep_logger(first, clock)
    try:
        logger.info("to a")
        assert sweep_logger(first, clock) is logger and len(logger.handlers) == 1
        sweep_logger(second, clock).info("to b")
        assert len(logger.handlers) == 1
    finally:
        for h in list(logger.handlers):
            h.close()
            logger.removeHandler(h)
    assert "to b" not in (first / "volatility_sweep_details_20251126.log").read_text()
    assert "to b" in (second / "volatility_sweep_details_20251126.log").read_text()
