"""Configuration: the typed, frozen :class:`AppConfig` loaded from config.yaml (settings.py and its section
modules) and credentials from the environment (credentials.py).

Import ``load_config`` / ``AppConfig`` from here; every money attribute is an int of 1/10,000 dollar.
"""

from kalshi_mm.config.base import REGIMES, FrozenMap, Regime
from kalshi_mm.config.sections_infra import AnalyticsConfig, Endpoint, ExchangeConfig, LoggingConfig, WebsocketsConfig
from kalshi_mm.config.sections_trading import (
    AsModelConfig,
    CategoryProfile,
    DiscoveryConfig,
    ExtremePricesConfig,
    ProfileParams,
    RegimeOverride,
    RiskConfig,
    ScoringConfig,
    ThrottlingConfig,
    TimeWindow,
)
from kalshi_mm.config.sections_volatility import RegimesConfig, VolatilityMMConfig, VolatilityScannerConfig
from kalshi_mm.config.settings import AppConfig, ConfigError, config_to_dict, load_config, validate_config

__all__ = [
    "REGIMES",
    "AnalyticsConfig",
    "AppConfig",
    "AsModelConfig",
    "CategoryProfile",
    "ConfigError",
    "DiscoveryConfig",
    "Endpoint",
    "ExchangeConfig",
    "ExtremePricesConfig",
    "FrozenMap",
    "LoggingConfig",
    "ProfileParams",
    "Regime",
    "RegimeOverride",
    "RegimesConfig",
    "RiskConfig",
    "ScoringConfig",
    "ThrottlingConfig",
    "TimeWindow",
    "VolatilityMMConfig",
    "VolatilityScannerConfig",
    "WebsocketsConfig",
    "config_to_dict",
    "load_config",
    "validate_config",
]
