"""Alerts, the pure parts: message texts, the send gate (token bucket + suppressed counts) on a manual clock, the
daily-summary arithmetic and schedule, repeated-error counting, and the alerts config / webhook URL checks."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from kalshi_mm.clock import SimClock
from kalshi_mm.config.sections_infra import AlertsConfig
from kalshi_mm.config.settings import AppConfig, ConfigError, config_to_dict, validate_config
from kalshi_mm.logs import SecretRedactingFilter
from kalshi_mm.ops.alerts import AlertConfigError, RepeatedErrorHandler, webhook_url_from_env
from kalshi_mm.ops.alerts_format import (
    DISCORD_MAX_CONTENT,
    DailySummary,
    PnlMark,
    SendGate,
    clip,
    format_daily_summary,
    format_order_group_tripped,
    format_repeated_error,
    format_session_ended,
    format_session_started,
    format_suppressed,
    format_trading_state,
    next_daily_at,
    realized_pnl_in_window,
)
from kalshi_mm.risk.state import TradingState, TradingStateChange


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --- texts --------------------------------------------------------------------------------------------------------


def test_session_texts_carry_market_run_reason_position_and_pnl() -> None:
    assert format_session_started("KXFED-26JAN-T4.25", "yes", 12, "discovery_mm") == (
        "Session started: KXFED-26JAN-T4.25 yes (run 12, discovery_mm)"
    )
    ended = format_session_ended(
        "KXFED-26JAN-T4.25", "no", 12, "ttl", faulted=False, final_position_e2=-150, realized_pnl_e4=12_300
    )
    assert ended == "Session ended: KXFED-26JAN-T4.25 no (run 12): ttl; final position -1.50; realized P&L +$1.2300"
    faulted = format_session_ended("T", "yes", 3, None, faulted=True, realized_pnl_e4=-50)
    assert faulted == "Session FAULTED: T yes (run 3): unknown reason; realized P&L -$0.0050"


def test_trading_state_texts_name_the_state_and_who_changed_it() -> None:
    at_ms = int(ts("2026-01-01T12:30:00") * 1000)
    halt = TradingStateChange(TradingState.ACTIVE, TradingState.HALTED, "runner.py halt", "operator", at_ms)
    text = format_trading_state(halt)
    assert text.startswith("TRADING HALTED (was active) by kill switch (operator): runner.py halt")
    assert text.endswith("2026-01-01 12:30 UTC")
    breaker = TradingStateChange(TradingState.ACTIVE, TradingState.REDUCING, "daily loss", "circuit_breaker", at_ms)
    assert format_trading_state(breaker).startswith("Trading REDUCE-ONLY (was active) by circuit breaker: daily loss")
    resume = TradingStateChange(TradingState.HALTED, TradingState.ACTIVE, "ok", "someone_new", at_ms)
    assert format_trading_state(resume).startswith("Trading resumed (ACTIVE) (was halted) by someone_new: ok")


def test_order_group_repeated_error_and_suppressed_texts() -> None:
    assert format_order_group_tripped("T-1", "g-9", "limit 10 contracts hit") == (
        "Order group tripped: T-1 (group g-9): limit 10 contracts hit"
    )
    assert format_repeated_error("kalshi_mm.api", "HTTP 503", 5, 300.0) == (
        "Repeated error: 5× within 300 s from kalshi_mm.api: HTTP 503"
    )
    assert format_suppressed({"session": 3, "repeated_error": 92}) == (
        "95 alerts suppressed by the alert rate limit (repeated_error 92, session 3)"
    )
    assert format_suppressed({"daemon": 1}).startswith("1 alert suppressed")


def test_clip_keeps_messages_within_discords_limit() -> None:
    assert clip("short") == "short"
    exact = "x" * DISCORD_MAX_CONTENT
    assert clip(exact) == exact
    cut = clip("y" * 5000)
    assert len(cut) == DISCORD_MAX_CONTENT
    assert cut.endswith("…")


def test_daily_summary_text() -> None:
    summary = DailySummary(
        ts("2026-01-01T00:00:00"),
        ts("2026-01-02T00:00:00"),
        sessions_started=3,
        sessions_ended=2,
        sessions_faulted=1,
        fills=17,
        contracts_e2=4_200,
        fees_e4=3_400,
        realized_pnl_e4=-12_345,
        pnl_markets=2,
    )
    text = format_daily_summary(summary, {"sent": 9, "failed": 0})
    assert text.splitlines() == [
        "Daily summary, 2026-01-01 00:00 UTC to 2026-01-02 00:00 UTC",
        "sessions: 3 started, 2 ended (1 faulted)",
        "fills: 17, 42.00 contracts, fees $0.3400",
        "realized P&L: -$1.2345 over 2 markets (exchange figures recorded at session ends, before fees)",
        "alerts: sent 9, failed 0",
    ]
    broken = DailySummary(0.0, 86_400.0, error="OperationalError: unable to open database file")
    assert format_daily_summary(broken).endswith(
        "analytics database unreadable (OperationalError: unable to open database file)"
    )


# --- daily summary arithmetic -------------------------------------------------------------------------------------


def test_realized_pnl_is_the_per_market_change_of_the_cumulative_figure() -> None:
    start, end = 1_000.0, 2_000.0
    marks = [
        PnlMark("A", 500.0, 100),  # before the window: A's baseline
        PnlMark("A", 1_200.0, 150),  # yes-side session ends
        PnlMark("A", 1_200.0, 150),  # the no-side session on A records the same running figure
        PnlMark("A", 1_800.0, 300),  # last of A in the window: earned 300 - 100
        PnlMark("B", 1_500.0, -40),  # B had nothing before: earned -40
        PnlMark("C", 900.0, 70),  # C ended only before the window: nothing today
        PnlMark("A", 2_000.0, 999),  # at the window's end: belongs to the next day
    ]
    assert realized_pnl_in_window(marks, start, end) == (200 - 40, 2)
    assert realized_pnl_in_window([], start, end) == (0, 0)


@pytest.mark.parametrize(
    ("now", "hour", "minute", "expected"),
    [
        ("2026-01-01T10:00:00", 0, 0, "2026-01-02T00:00:00"),
        ("2026-01-01T10:00:00", 10, 0, "2026-01-02T10:00:00"),  # exactly now: the next day's
        ("2026-01-01T09:59:59", 10, 0, "2026-01-01T10:00:00"),
        ("2026-01-01T23:59:30", 23, 59, "2026-01-02T23:59:00"),
        ("2026-02-28T12:00:00", 6, 30, "2026-03-01T06:30:00"),
    ],
)
def test_next_daily_at(now: str, hour: int, minute: int, expected: str) -> None:
    assert next_daily_at(ts(now), hour, minute) == ts(expected)


def test_next_daily_at_refuses_a_bad_time() -> None:
    with pytest.raises(ValueError, match="24:00"):
        next_daily_at(0.0, 24, 0)


# --- send gate ----------------------------------------------------------------------------------------------------


def test_gate_allows_a_burst_of_max_per_minute_then_counts_the_excess() -> None:
    clock = SimClock()
    gate = SendGate(5, clock.monotonic())
    assert [gate.try_take(clock.monotonic()) for _ in range(5)] == [True] * 5
    for kind in ["session"] * 90 + ["repeated_error"] * 5:
        assert not gate.try_take(clock.monotonic())
        gate.suppress(kind)
    assert gate.suppressed == 95
    # No token yet: the suppressed line waits for one (12 s at 5 per minute).
    assert gate.take_suppressed_line(clock.monotonic()) is None
    assert gate.seconds_until_token(clock.monotonic()) == pytest.approx(12.0)
    clock.advance(11.9)
    assert gate.take_suppressed_line(clock.monotonic()) is None
    clock.advance(0.1)
    line = gate.take_suppressed_line(clock.monotonic())
    assert line == "95 alerts suppressed by the alert rate limit (repeated_error 5, session 90)"
    assert gate.suppressed == 0
    assert gate.take_suppressed_line(clock.monotonic()) is None  # reported once
    # The line used the refilled token.
    assert not gate.try_take(clock.monotonic())


def test_gate_refills_to_capacity_only_and_force_bypasses_the_bucket() -> None:
    clock = SimClock()
    gate = SendGate(3, clock.monotonic())
    clock.advance(3_600)  # an idle hour refills to 3, not 180
    assert [gate.try_take(clock.monotonic()) for _ in range(4)] == [True, True, True, False]
    gate.suppress("daemon", 2)
    assert gate.take_suppressed_line(clock.monotonic()) is None
    assert gate.take_suppressed_line(clock.monotonic(), force=True) == (
        "2 alerts suppressed by the alert rate limit (daemon 2)"
    )
    with pytest.raises(ValueError, match="max_per_minute"):
        SendGate(0, 0.0)


# --- repeated errors ----------------------------------------------------------------------------------------------


@pytest.fixture
def error_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("tests.alerts.repeated")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    def __call__(self, name: str, message: str, count: int) -> None:
        self.calls.append((name, message, count))


def test_repeated_error_alerts_once_per_threshold_within_the_window(error_logger: logging.Logger) -> None:
    clock = SimClock()
    seen = Recorder()
    # A redacting handler first, as in production: it replaces msg by the formatted text before ours runs.
    first = logging.StreamHandler(io.StringIO())
    first.addFilter(SecretRedactingFilter())
    error_logger.addHandler(first)
    error_logger.addHandler(RepeatedErrorHandler(seen, clock, threshold=3, window_s=10.0))

    error_logger.error("cancel of %s failed", "order-1")
    error_logger.warning("cancel of %s failed", "order-x")  # below ERROR: not counted
    error_logger.error("something else %d", 1)
    clock.advance(4)
    error_logger.error("cancel of %s failed", "order-2")
    assert seen.calls == []
    clock.advance(4)
    error_logger.error("cancel of %s failed", "order-3")  # third within 10 s, args differ: same template
    assert seen.calls == [("tests.alerts.repeated", "cancel of order-3 failed", 3)]
    # The count starts again after an alert.
    error_logger.error("cancel of %s failed", "order-4")
    error_logger.error("cancel of %s failed", "order-5")
    assert len(seen.calls) == 1


def test_repeated_error_ignores_repeats_spread_beyond_the_window(error_logger: logging.Logger) -> None:
    clock = SimClock()
    seen = Recorder()
    error_logger.addHandler(RepeatedErrorHandler(seen, clock, threshold=2, window_s=5.0))
    for _ in range(4):
        error_logger.error("slow disk")
        clock.advance(5.5)
    assert seen.calls == []
    error_logger.error("slow disk")
    error_logger.error("slow disk")
    assert [c[2] for c in seen.calls] == [2]


def test_repeated_error_memory_is_bounded(error_logger: logging.Logger) -> None:
    clock = SimClock()
    seen = Recorder()
    error_logger.addHandler(RepeatedErrorHandler(seen, clock, threshold=2, window_s=60.0, max_keys=8))
    error_logger.error("first failure")
    for i in range(8):
        error_logger.error("other failure %d" + "!" * i, i)  # 8 distinct templates push the first one out
    error_logger.error("first failure")
    assert seen.calls == []  # its first occurrence was forgotten
    error_logger.error("first failure")
    assert [c[1] for c in seen.calls] == ["first failure"]


# --- config and the webhook URL -------------------------------------------------------------------------------------


def test_alerts_config_defaults_and_daily_summary_off() -> None:
    cfg = AppConfig().alerts
    assert cfg.webhook_url_env == "KALSHI_MM_ALERT_WEBHOOK_URL"
    assert cfg.daily_summary_at() == (0, 0)
    data = config_to_dict(AppConfig())
    data["alerts"]["daily_summary_utc"] = None
    off = validate_config(data)
    assert off.alerts.daily_summary_at() is None
    # Off survives the dump-and-revalidate the app does for command-line overrides.
    assert validate_config(config_to_dict(off)).alerts.daily_summary_at() is None
    data["alerts"]["daily_summary_utc"] = "07:05"
    assert validate_config(data).alerts.daily_summary_at() == (7, 5)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("daily_summary_utc", "24:00"),
        ("daily_summary_utc", "7:05"),
        ("max_per_minute", 0),
        ("send_timeout_seconds", 0),
        ("webhook_url_env", "NOT-A-NAME"),
        ("repeat_error_threshold", 0),
        ("unknown_key", 1),
    ],
)
def test_bad_alerts_config_names_the_key(key: str, value: object) -> None:
    data = config_to_dict(AppConfig())
    data["alerts"][key] = value
    with pytest.raises(ConfigError) as err:
        validate_config(data)
    assert [path for path, _ in err.value.problems] == [f"alerts.{key}"]


TOKEN_URL = "https://discord.com/api/webhooks/123/very-secret-token-abcdef0123456789"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        (TOKEN_URL, TOKEN_URL),
        ("http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook"),
    ],
)
def test_webhook_url_from_env(value: str | None, expected: str | None) -> None:
    env = {} if value is None else {"KALSHI_MM_ALERT_WEBHOOK_URL": value}
    assert webhook_url_from_env(AlertsConfig(), env) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("discord.com/api/webhooks/1/very-secret-token-abcdef", "not an http(s) URL"),
        ("ftp://discord.com/api/webhooks/1/very-secret-token-abcdef", "not an http(s) URL"),
        ("http://discord.com/api/webhooks/1/very-secret-token-abcdef", "must be an https:// URL"),
    ],
)
def test_bad_webhook_url_is_refused_without_showing_it(value: str, problem: str) -> None:
    with pytest.raises(AlertConfigError) as err:
        webhook_url_from_env(AlertsConfig(), {"KALSHI_MM_ALERT_WEBHOOK_URL": value})
    assert problem in str(err.value)
    assert "KALSHI_MM_ALERT_WEBHOOK_URL" in str(err.value)
    assert "very-secret-token" not in str(err.value)
