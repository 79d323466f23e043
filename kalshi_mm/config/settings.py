"""The daemon's typed configuration: :class:`AppConfig` and its YAML loader.

``load_config(path)`` reads config.yaml, validates every key and either returns a frozen :class:`AppConfig` or
raises :class:`ConfigError` listing every problem as ``key.path: problem (got <value>)``, never a traceback.
A YAML ``{}`` gives the built-in defaults, which are the seed README's except where config.yaml documents a
fix. Money attributes are ints of 1/10,000 dollar; :func:`config_to_dict` dumps them back as dollar strings.
Secrets never live here: credentials come from the environment (``kalshi_mm.config.credentials``).
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from kalshi_mm.config.base import (
    CONFLICT_ERROR,
    ConfigModel,
    Conflicts,
    FrozenMap,
    ReadOnlyMap,
    show_dollars,
    show_value,
)
from kalshi_mm.config.sections_infra import (
    AlertsConfig,
    AnalyticsConfig,
    ExchangeConfig,
    LoggingConfig,
    OpsHttpConfig,
    WebsocketsConfig,
)
from kalshi_mm.config.sections_recovery import RecoveryConfig
from kalshi_mm.config.sections_trading import (
    AsModelConfig,
    CategoryProfile,
    DiscoveryConfig,
    ExtremePricesConfig,
    RiskConfig,
    ScoringConfig,
    ThrottlingConfig,
    default_category_profiles,
)
from kalshi_mm.config.sections_volatility import RegimesConfig, VolatilityMMConfig, VolatilityScannerConfig

__all__ = ["AppConfig", "ConfigError", "config_to_dict", "load_config", "validate_config"]

Mode = Literal["volatility", "discovery"]

_SEED_CATEGORY_MAPPING = {
    "rates": "mean_reverting",
    "economic": "mean_reverting",
    "crypto": "medium_trending",
    "sports": "hard_trending",
    "entertainment": "low_liquidity",
    "tech": "low_liquidity",
    "default": "mean_reverting",
    "fallback": "mean_reverting",
}


class AppConfig(ConfigModel):
    """The whole validated configuration; one frozen section per top-level key of config.yaml."""

    mode: Mode = "volatility"
    exchange: ExchangeConfig = Field(default_factory=ExchangeConfig)
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    as_model: AsModelConfig = Field(default_factory=AsModelConfig)
    extreme_prices: ExtremePricesConfig = Field(default_factory=ExtremePricesConfig)
    throttling: ThrottlingConfig = Field(default_factory=ThrottlingConfig)
    category_profiles: ReadOnlyMap[str, CategoryProfile] = Field(default_factory=default_category_profiles)
    category_mapping: ReadOnlyMap[str, str] = Field(default_factory=lambda: FrozenMap(_SEED_CATEGORY_MAPPING))
    regimes: RegimesConfig = Field(default_factory=RegimesConfig)
    volatility_scanner: VolatilityScannerConfig = Field(default_factory=VolatilityScannerConfig)
    volatility_mm: VolatilityMMConfig = Field(default_factory=VolatilityMMConfig)
    websockets: WebsocketsConfig = Field(default_factory=WebsocketsConfig)
    recovery: RecoveryConfig = Field(default_factory=RecoveryConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    ops_http: OpsHttpConfig = Field(default_factory=OpsHttpConfig)

    @model_validator(mode="after")
    def _cross_section(self) -> AppConfig:
        conflicts = Conflicts()
        profiles = ", ".join(sorted(self.category_profiles)) or "none defined"
        for required in ("default", "fallback"):
            if required not in self.category_mapping:
                conflicts.add(("category_mapping", required), "required key is missing")
        for category, profile in self.category_mapping.items():
            if profile not in self.category_profiles:
                conflicts.add(
                    ("category_mapping", category),
                    f"no such profile in category_profiles ({profiles})",
                    profile,
                )
        for profile in self.regimes.by_profile:
            if profile not in self.category_profiles:
                conflicts.add(
                    ("regimes", "by_profile", profile),
                    f"no such profile in category_profiles ({profiles})",
                    profile,
                )
        if self.throttling.max_total_widened_spread < self.as_model.min_total_spread:
            conflicts.add(
                ("throttling", "max_total_widened_spread"),
                f"must be ≥ as_model.min_total_spread ({show_dollars(self.as_model.min_total_spread)}), "
                "or widening would narrow quotes",
                show_dollars(self.throttling.max_total_widened_spread),
            )
        if self.volatility_mm.regime_stale_kill_seconds < self.volatility_scanner.regime_staleness_seconds:
            conflicts.add(
                ("volatility_mm", "regime_stale_kill_seconds"),
                f"must be ≥ volatility_scanner.regime_staleness_seconds "
                f"({self.volatility_scanner.regime_staleness_seconds}): kill would come before freeze",
                self.volatility_mm.regime_stale_kill_seconds,
            )
        conflicts.raise_if_any()
        return self

    def profile_name(self, category: str) -> str:
        """The category profile mapped to ``category`` (``fallback``'s profile when it is not mapped)."""
        return self.category_mapping.get(category, self.category_mapping["fallback"])


class ConfigError(Exception):
    """The config cannot be used. ``problems`` lists (dotted key path, message); "" is the file as a whole.

    ``str(err)`` is the full human message: the source, then one line per problem.
    """

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.problems: list[tuple[str, str]] = list(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        count = len(self.problems)
        lines = [f"{self.source}: {count} problem{'s' if count != 1 else ''}"]
        lines += [f"  {path}: {msg}" if path else f"  {msg}" for path, msg in self.problems]
        return "\n".join(lines)


def load_config(path: str | os.PathLike[str]) -> AppConfig:
    """Read and validate a YAML config file; raise :class:`ConfigError` naming every problem."""
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [("", f"cannot read the file ({type(exc).__name__}: {exc})")]) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(source, [("", _describe_yaml_error(exc))]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, [("", f"invalid YAML: {exc}")]) from None
    if data is None:
        # An empty file is more likely a truncated deploy than a wish for defaults; {} says the latter.
        raise ConfigError(source, [("", "the file is empty (write {} to run on the built-in defaults)")])
    return validate_config(data, source=source)


def validate_config(data: object, source: str = "<config>") -> AppConfig:
    """Validate YAML-shaped data (money in dollars) into an :class:`AppConfig`, or raise :class:`ConfigError`."""
    if not isinstance(data, Mapping):
        return _raise_top_level(source, data)
    try:
        return AppConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc, data)) from None


def config_to_dict(cfg: AppConfig) -> dict[str, Any]:
    """The effective config as plain JSON/YAML data, dollars as strings; :func:`validate_config` accepts it."""
    return cfg.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- YAML ---------------------------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, which plain YAML silently resolves to the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key; SafeLoader reports it below
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def _describe_yaml_error(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = exc.problem or "syntax error"
    context = f" ({exc.context})" if exc.context else ""
    return f"invalid YAML{where}: {problem}{context}"


def _raise_top_level(source: str, data: object) -> AppConfig:
    kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
    raise ConfigError(source, [("", f"the top level must be a mapping of sections (got {kind}: {show_value(data)})")])


# --- turning pydantic errors into key-path problems ---------------------------------------------------------------

_SIMPLE_MESSAGES = {
    "missing": "required key is missing",
    "float_type": "expected a number",
    "int_type": "expected a whole number",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "model_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
    "dict_type": "expected a mapping of keys",
    "mapping_type": "expected a mapping of keys",
    "finite_number": "must be a finite number",
    "string_too_short": "must not be empty",
}
_BOUND_MESSAGES = {"greater_than": ">", "greater_than_equal": "≥", "less_than": "<", "less_than_equal": "≤"}
_BOUND_CTX = {"greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt", "less_than_equal": "le"}


def _problems(exc: ValidationError, raw: object) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == CONFLICT_ERROR:
            for rel, message, shown in err["ctx"]["problems"]:
                got = "" if shown is None else f" (got {shown})"
                problems.append((_dotted(loc + tuple(rel)), message + got))
            continue
        is_key = bool(loc) and loc[-1] == "[key]"
        if is_key:
            loc = loc[:-1]
        message = _message(err, loc, is_key)
        if err["type"] == "missing":
            problems.append((_dotted(loc), message))
            continue
        found, value = _lookup(raw, loc)
        shown = loc[-1] if is_key and loc else (value if found else err["input"])
        problems.append((_dotted(loc), f"{message} (got {show_value(shown)})"))
    return problems


def _message(err: Any, loc: tuple[Any, ...], is_key: bool) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        message = "unknown key"
        close = difflib.get_close_matches(str(loc[-1]), _allowed_keys(loc[:-1]), n=1, cutoff=0.6)
        return f"{message} (did you mean {close[0]!r}?)" if close else message
    if kind == "literal_error":
        message = f"expected one of {ctx.get('expected', '')}"
        if isinstance(err["input"], bool) and "'yes'" in str(ctx.get("expected", "")):
            message += " (quote it: unquoted yes/no are YAML booleans)"
    elif kind in _BOUND_MESSAGES:
        message = f"must be {_BOUND_MESSAGES[kind]} {ctx.get(_BOUND_CTX[kind])}"
    elif kind == "too_short":
        message = f"must list at least {ctx.get('min_length')} item(s)"
    elif kind == "too_long":
        message = f"must list at most {ctx.get('max_length')} item(s)"
    else:
        message = _SIMPLE_MESSAGES.get(kind, str(err["msg"]))
    return f"invalid key: {message}" if is_key else message


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _lookup(raw: object, loc: tuple[Any, ...]) -> tuple[bool, object]:
    # The user's own value (e.g. "0.00001", not a converted unit count) for the "(got ...)" part.
    node = raw
    for part in loc:
        in_map = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_map or in_list:
            node = node[part]  # type: ignore[index]
        else:
            return False, None
    return True, node


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys a model accepts at ``loc`` (for "did you mean" hints); [] when ``loc`` is not a model."""
    annotation: Any = AppConfig
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = next((f for n, f in annotation.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return []
            annotation = field.annotation
        elif typing.get_origin(annotation) in (Mapping, dict):
            annotation = typing.get_args(annotation)[1]
        elif typing.get_origin(annotation) is tuple:
            annotation = typing.get_args(annotation)[0]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation
