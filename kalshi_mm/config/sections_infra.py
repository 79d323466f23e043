"""Config sections for the plumbing: exchange endpoints, analytics database, logging, WebSockets and alerts."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kalshi_mm.config.base import ConfigModel, Conflicts

__all__ = [
    "DEMO_REST_URL",
    "DEMO_WS_URL",
    "PROD_REST_URL",
    "PROD_WS_URL",
    "AlertsConfig",
    "AnalyticsConfig",
    "Endpoint",
    "ExchangeConfig",
    "LoggingConfig",
    "OpsHttpConfig",
    "WebsocketsConfig",
]

# Kalshi's recommended hosts (kalshi/NOTES.md §1); api.elections.kalshi.com / demo-api.kalshi.co still work.
PROD_REST_URL = "https://external-api.kalshi.com/trade-api/v2"
PROD_WS_URL = "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
DEMO_REST_URL = "https://external-api.demo.kalshi.co/trade-api/v2"
DEMO_WS_URL = "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2"

_REST_PATH = "/trade-api/v2"
_WS_PATH = "/trade-api/ws/v2"
# Production hosts live under kalshi.com, demo under kalshi.co: a demo entry on kalshi.com would trade real money.
_PROD_DOMAIN = "kalshi.com"

Environment = Literal["auto", "sim", "demo", "prod"]
RateLimitTier = Literal["basic", "advanced", "premier", "paragon", "prime"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def _url_checker(scheme: str, path: str) -> Callable[[str], str]:
    def check(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme != scheme or not parts.hostname:
            raise PydanticCustomError("url_scheme", "must be a {scheme}:// URL with a host", {"scheme": scheme})
        if parts.path != path or parts.query or parts.fragment:
            raise PydanticCustomError(
                "url_path", "must end in {path} (no trailing slash, query or fragment)", {"path": path}
            )
        return url

    return check


# Real exchanges only: TLS, and the exact path Kalshi signs requests against.
RestUrl = Annotated[str, AfterValidator(_url_checker("https", _REST_PATH))]
WsUrl = Annotated[str, AfterValidator(_url_checker("wss", _WS_PATH))]


class Endpoint(ConfigModel):
    """REST base URL and WebSocket URL of one Kalshi environment."""

    rest_url: RestUrl
    ws_url: WsUrl


def _is_prod_host(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == _PROD_DOMAIN or host.endswith("." + _PROD_DOMAIN)


class ExchangeConfig(ConfigModel):
    """Which exchange to trade on and where Kalshi's environments live."""

    environment: Environment = "auto"
    demo: Endpoint = Field(default_factory=lambda: Endpoint(rest_url=DEMO_REST_URL, ws_url=DEMO_WS_URL))
    prod: Endpoint = Field(default_factory=lambda: Endpoint(rest_url=PROD_REST_URL, ws_url=PROD_WS_URL))
    rate_limit_tier: RateLimitTier = "basic"

    @model_validator(mode="after")
    def _check(self) -> ExchangeConfig:
        conflicts = Conflicts()
        for key in ("rest_url", "ws_url"):
            url = getattr(self.demo, key)
            if _is_prod_host(url):
                conflicts.add(
                    ("demo", key),
                    f"points at the production exchange ({_PROD_DOMAIN}): demo would trade real money",
                    url,
                )
        conflicts.raise_if_any()
        return self

    def endpoint(self, environment: Literal["demo", "prod"]) -> Endpoint:
        """The configured URLs of ``demo`` or ``prod``."""
        return self.demo if environment == "demo" else self.prod


class AnalyticsConfig(ConfigModel):
    """The SQLite analytics database written by the single analytics writer thread."""

    db_path: str = Field(default="data/trading_analytics.db", min_length=1)
    commit_interval_seconds: float = Field(default=1.0, gt=0, le=5)
    # AnalyticsDB's own knobs: commit early at this many pending rows; drop (and count) rows beyond the queue cap.
    max_batch_rows: PositiveInt = 1000
    max_queue_rows: PositiveInt = 1_000_000

    @model_validator(mode="after")
    def _check(self) -> AnalyticsConfig:
        conflicts = Conflicts()
        if self.max_batch_rows > self.max_queue_rows:
            conflicts.add("max_batch_rows", f"must be ≤ max_queue_rows ({self.max_queue_rows})", self.max_batch_rows)
        conflicts.raise_if_any()
        return self


class LoggingConfig(ConfigModel):
    """Log level and the directory of per-strategy log files."""

    level: LogLevel = "INFO"
    log_dir: str = Field(default="logs", min_length=1)


class WebsocketsConfig(ConfigModel):
    """Real-time market data over Kalshi's WebSocket (the URL comes from ``exchange``)."""

    enabled: bool = False
    reconnect_max_retries: NonNegativeInt = 0
    reconnect_base_delay_seconds: PositiveFloat = 0.5
    reconnect_max_delay_seconds: PositiveFloat = 5.0
    ping_interval_seconds: PositiveFloat = 15.0
    idle_timeout_seconds: PositiveFloat = 30.0
    subscribe_ticker: bool = True
    subscribe_orderbook: bool = True
    subscribe_trades: bool = True
    subscribe_user_fills: bool = True
    subscribe_positions: bool = True
    subscribe_lifecycle: bool = True
    max_markets_per_connection: PositiveInt = 200
    shard_connections: bool = False
    ticker_staleness_seconds: PositiveFloat = 10.0
    orderbook_staleness_seconds: PositiveFloat = 10.0
    position_staleness_seconds: PositiveFloat = 30.0
    max_price_history: PositiveInt = 1000
    max_trades_per_ticker: PositiveInt = 1000
    ws_fallback_on_unhealthy: bool = True
    ws_staleness_freeze_seconds: PositiveFloat = 5.0
    ws_staleness_stop_seconds: PositiveFloat = 15.0

    @model_validator(mode="before")
    @classmethod
    def _url_moved(cls, data: Any) -> Any:
        # The seed's websockets.url named an old host and duplicated the endpoint choice; a config that still
        # sets it must learn where the setting went rather than see a bare "unknown key".
        if isinstance(data, dict) and "url" in data:
            conflicts = Conflicts()
            conflicts.add(
                "url",
                "removed: the WebSocket URL is exchange.prod.ws_url / exchange.demo.ws_url "
                "(or KALSHI_WS_URL); delete this key",
                data["url"],
            )
            conflicts.raise_if_any()
        return data

    @model_validator(mode="after")
    def _check(self) -> WebsocketsConfig:
        conflicts = Conflicts()
        if self.reconnect_base_delay_seconds > self.reconnect_max_delay_seconds:
            conflicts.add(
                "reconnect_base_delay_seconds",
                f"must be ≤ reconnect_max_delay_seconds ({self.reconnect_max_delay_seconds})",
                self.reconnect_base_delay_seconds,
            )
        if self.idle_timeout_seconds <= self.ping_interval_seconds:
            conflicts.add(
                "idle_timeout_seconds",
                f"must be > ping_interval_seconds ({self.ping_interval_seconds}), or a quiet but "
                "healthy connection is declared dead",
                self.idle_timeout_seconds,
            )
        if self.ws_staleness_freeze_seconds > self.ws_staleness_stop_seconds:
            conflicts.add(
                "ws_staleness_freeze_seconds",
                f"must be ≤ ws_staleness_stop_seconds ({self.ws_staleness_stop_seconds})",
                self.ws_staleness_freeze_seconds,
            )
        conflicts.raise_if_any()
        return self


# "HH:MM" in UTC, 00:00-23:59.
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_SUMMARY_OFF = "off"


def _summary_off_for_null(value: Any) -> Any:
    # YAML null means "no daily summary". It is held as "off" because config_to_dict drops None values, and a
    # dropped key would come back as the default ("00:00") when the app re-validates the dumped config.
    return _SUMMARY_OFF if value is None else value


class AlertsConfig(ConfigModel):
    """Alerts to a Discord-compatible webhook (kalshi_mm.ops.alerts). The URL carries a token, so it is read from
    the environment variable named here, never from this file; unset or empty, alerts are off."""

    webhook_url_env: str = Field(default="KALSHI_MM_ALERT_WEBHOOK_URL", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    max_per_minute: int = Field(default=20, ge=1, le=600)
    repeat_error_threshold: PositiveInt = 5
    repeat_error_window_seconds: PositiveFloat = 300.0
    daily_summary_utc: Annotated[str, BeforeValidator(_summary_off_for_null)] = Field(
        default="00:00", pattern=f"{_HHMM}|^{_SUMMARY_OFF}$"
    )
    send_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    def daily_summary_at(self) -> tuple[int, int] | None:
        """(hour, minute) UTC of the daily summary, or None when it is off."""
        if self.daily_summary_utc == _SUMMARY_OFF:
            return None
        hour, minute = self.daily_summary_utc.split(":")
        return int(hour), int(minute)


def _check_bind(value: str) -> str:
    # An IP literal, or a host name made of DNS labels: anything else cannot be bound and should fail at load.
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if not value or len(value) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise PydanticCustomError(
            "bind_address", "must be an IP address or a host name (e.g. 127.0.0.1, ::1, localhost)"
        )
    return value


_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


class OpsHttpConfig(ConfigModel):
    """The daemon's ops HTTP endpoint (kalshi_mm.ops.http_server): /health, /metrics, /status, dashboard, control.
    The control token, like every secret, comes from the environment variable named here, never this file."""

    enabled: bool = True
    bind: Annotated[str, AfterValidator(_check_bind)] = "127.0.0.1"
    port: int = Field(default=8790, ge=0, le=65535)
    control_token_env: str = Field(default="KALSHI_MM_CONTROL_TOKEN", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
