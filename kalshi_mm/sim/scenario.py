"""Scenario files of the simulated market: catalogue mix, fair-value dynamics and order flow, from YAML.

A scenario is a YAML file under ``kalshi_mm/sim/scenarios/`` (load it by name: ``load_scenario("default")``)
or anywhere on disk (by path). Loading is strict: an unknown key, a wrong type (``"5"`` is not 5), an
out-of-range value or a bad cross-reference raises :class:`ScenarioError` with one line per problem, each
naming its key path (``liquidity.deep.lp_levels: ...``).

``extends: <name or path>`` starts from another scenario and deep-merges this file over it (mappings merge,
anything else replaces), so ``quiet.yaml`` only spells out what differs from ``default.yaml``. A relative
``replay.file`` is resolved against the directory of the file that names it.

Units: prices and spreads are written in cents and held as 1/10,000-dollar ints (``*_e4``); sizes in
contracts, held as 1/100-contract ints (``*_e2``); cash in whole dollars, held in e4; times in seconds
(``*_s``) unless the key says per minute / per hour. Fair-value dynamics are in log-odds (see
:mod:`kalshi_mm.sim.fairvalue`) and stay floats: they are model parameters, never money.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kalshi_mm.sim.fairvalue import FairValueParams
from kalshi_mm.units import COUNT_SCALE, ONE_DOLLAR, PRICE_SCALE

__all__ = [
    "CATEGORY_KEYS",
    "KALSHI_CATEGORIES",
    "LIQUIDITY_TIERS",
    "SCENARIO_DIR",
    "CatalogueSpec",
    "CategoryDynamics",
    "LiquidityTier",
    "NewsShock",
    "ReplaySpec",
    "Scenario",
    "ScenarioError",
    "available_scenarios",
    "load_scenario",
    "parse_scenario",
]

SCENARIO_DIR = Path(__file__).with_name("scenarios")

# Kalshi's Series.category values the catalogue can build (see catalogue.py for the templates).
KALSHI_CATEGORIES: tuple[str, ...] = (
    "Economics",
    "Financials",
    "Crypto",
    "Sports",
    "Entertainment",
    "Climate and Weather",
    "Politics",
    "Science and Technology",
)
# The daemon's (seed README's) category keys a series maps to (catalogue.category_key); `default` covers any
# key a scenario leaves out.
CATEGORY_KEYS: tuple[str, ...] = (
    "rates",
    "economic",
    "crypto",
    "sports",
    "entertainment",
    "weather",
    "politics",
    "long-tail-politics",
    "tech",
    "default",
)
# How much flow a market gets; each catalogue template names its tier.
LIQUIDITY_TIERS: tuple[str, ...] = ("deep", "normal", "thin", "illiquid")


class ScenarioError(ValueError):
    """A scenario file is missing, malformed or invalid; ``problems`` holds (key path, message) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path or '<root>'}: {message}" for path, message in problems)
        super().__init__(f"invalid scenario {source}:\n{lines}")


# --- value types ----------------------------------------------------------------------------------------------


def _exact_units(value: Any, scale: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PydanticCustomError("units_type", "expected a number of {what}", {"what": what})
    try:
        exact = Decimal(str(value).strip()) * scale
    except InvalidOperation:
        raise PydanticCustomError("units_type", "expected a number of {what}", {"what": what}) from None
    if not exact.is_finite() or exact != exact.to_integral_value():
        raise PydanticCustomError(
            "units_value", "{value} {what} is not a whole number of units", {"value": value, "what": what}
        )
    return int(exact)


def _cents_e4(value: Any) -> int:
    units = _exact_units(value, PRICE_SCALE // 100, "cents")
    if not 0 < units < ONE_DOLLAR:
        raise PydanticCustomError("cents_range", "must lie strictly between 0 and 100 cents")
    return units


def _nonnegative_cents_e4(value: Any) -> int:
    units = _exact_units(value, PRICE_SCALE // 100, "cents")
    if not 0 <= units < ONE_DOLLAR:
        raise PydanticCustomError("cents_range", "must lie in [0, 100) cents")
    return units


def _contracts_e2(value: Any) -> int:
    units = _exact_units(value, COUNT_SCALE, "contracts")
    if units <= 0:
        raise PydanticCustomError("contracts_range", "must be more than 0 contracts")
    return units


def _whole_dollars_e4(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PydanticCustomError("dollars_value", "expected a positive whole number of dollars")
    return value * PRICE_SCALE


def _pair(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    return value


# Cents held as 1/10,000-dollar ints (0 < x < 100 cents).
CentsE4 = Annotated[int, BeforeValidator(_cents_e4)]
NonNegativeCentsE4 = Annotated[int, BeforeValidator(_nonnegative_cents_e4)]
# Contracts held as 1/100-contract ints (> 0).
ContractsE2 = Annotated[int, BeforeValidator(_contracts_e2)]
WholeDollarsE4 = Annotated[int, BeforeValidator(_whole_dollars_e4)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Probability = Annotated[float, Field(ge=0, le=1)]


def _ordered(value: tuple[int, int]) -> tuple[int, int]:
    if value[0] > value[1]:
        raise PydanticCustomError("range_order", "[low, high]: the low end is above the high end")
    return value


# [low, high] written as a 2-item list.
ContractsRangeE2 = Annotated[tuple[ContractsE2, ContractsE2], BeforeValidator(_pair), AfterValidator(_ordered)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


# --- sections -------------------------------------------------------------------------------------------------


class CatalogueSpec(_Strict):
    """Which series the catalogue lists: per Kalshi category, the first N of catalogue.py's templates."""

    series_per_category: Mapping[str, Annotated[int, Field(ge=0)]]
    # Hourly/daily series keep this many future events listed and list the next one when one closes.
    events_ahead: Annotated[int, Field(ge=1, le=4)] = 2
    roll_events: bool = True
    # Seconds after close before the simulation determines a market's result (Kalshi takes minutes to hours).
    determination_delay_s: NonNegative = 60.0
    # List every picked series this many times (load tests: more markets than the templates hold). Copy k >= 2
    # is series ``{ticker}{k}`` (KXBTCD2) with its own seeded prices; news naming it reaches only that copy.
    copies: Annotated[int, Field(ge=1, le=50)] = 1

    @field_validator("series_per_category")
    @classmethod
    def _known_categories(cls, value: Mapping[str, int]) -> Mapping[str, int]:
        unknown = sorted(set(value) - set(KALSHI_CATEGORIES))
        if unknown:
            raise PydanticCustomError(
                "unknown_category",
                "unknown Kalshi categor(y/ies) {names}; known: {known}",
                {"names": ", ".join(unknown), "known": ", ".join(KALSHI_CATEGORIES)},
            )
        return value


class CategoryDynamics(_Strict):
    """Fair-value dynamics of one category key, in log-odds (see :class:`kalshi_mm.sim.fairvalue.FairValueParams`)."""

    sigma_logit_per_sqrt_s: NonNegative
    mean_reverting_weight: Probability
    regime_mean_duration_s: Positive
    ou_half_life_s: Positive
    trend_drift_logit_per_hour: NonNegative
    jump_rate_per_hour: NonNegative
    jump_mean_logit: NonNegative
    jump_revert_prob: Probability
    jump_revert_half_life_s: Positive
    jump_direction_persistence: Probability = 0.5

    def params(self) -> FairValueParams:
        """The process parameters, converted to per-second rates."""
        return FairValueParams(
            sigma_logit_per_sqrt_s=self.sigma_logit_per_sqrt_s,
            mean_reverting_weight=self.mean_reverting_weight,
            regime_mean_duration_s=self.regime_mean_duration_s,
            ou_half_life_s=self.ou_half_life_s,
            trend_drift_logit_per_s=self.trend_drift_logit_per_hour / 3600.0,
            jump_rate_per_s=self.jump_rate_per_hour / 3600.0,
            jump_mean_logit=self.jump_mean_logit,
            jump_revert_prob=self.jump_revert_prob,
            jump_revert_half_life_s=self.jump_revert_half_life_s,
            jump_direction_persistence=self.jump_direction_persistence,
        )


class LiquidityTier(_Strict):
    """Order flow of the markets in one liquidity tier.

    Liquidity providers (``lp_count`` of them, each a little wider than the last) keep ``lp_levels`` price
    levels per side around fair value, ``lp_half_spread`` from it and ``lp_level_step`` apart, and look at
    the market every ``lp_refresh_s`` seconds: a re-ladder when their centre is ``lp_requote_threshold``
    off, else only replenishing filled levels — so after a jump their quotes are stale for a moment, which
    is what informed takers pick off. Noise takers arrive as a Poisson process and hit the best price with
    IOC orders; informed takers arrive likewise and trade only when fair value is at least
    ``informed_edge`` beyond the best quote.
    """

    lp_count: Annotated[int, Field(ge=1, le=8)]
    lp_half_spread_e4: CentsE4 = Field(alias="lp_half_spread_cents")
    lp_levels: Annotated[int, Field(ge=1, le=20)]
    lp_level_step_e4: CentsE4 = Field(alias="lp_level_step_cents")
    lp_size_e2: ContractsRangeE2 = Field(alias="lp_size_contracts")
    lp_refresh_s: Positive
    lp_requote_threshold_e4: CentsE4 = Field(alias="lp_requote_threshold_cents")
    # Shift of the LP's centre per 100 contracts of its inventory (toward reducing it).
    lp_skew_per_100_e4: NonNegativeCentsE4 = Field(default=0, alias="lp_skew_cents_per_100_contracts")
    noise_rate_per_min: NonNegative
    noise_size_e2: ContractsRangeE2 = Field(alias="noise_size_contracts")
    informed_rate_per_min: NonNegative
    informed_edge_e4: CentsE4 = Field(alias="informed_edge_cents")
    informed_max_e2: ContractsE2 = Field(alias="informed_max_contracts")
    volume_24h_e2: ContractsRangeE2 = Field(alias="volume_24h_contracts")
    open_interest_e2: ContractsRangeE2 = Field(alias="open_interest_contracts")


class NewsShock(_Strict):
    """Scheduled news, ``at_s`` seconds after the simulation starts, on the nearest open event of ``series``
    (at its market nearest 50¢; a ladder's strikes all move together). Two kinds:

    * ``jump`` (default): move the price by ``move_cents``. ``transient`` jumps fade with the category's jump
      half-life. With ``every_s`` the shock repeats that often, alternating its sign, so a long run keeps
      producing news without drifting the price away.
    * ``chop``: a burst of mean-reverting volatility for ``duration_s`` seconds: the price whipsaws around its
      level with a standard deviation of ``move_cents`` (> 0) and a ``half_life_s`` pull back (a few seconds),
      then calms down. This is what volatility mode trades: large moves that come straight back.
    """

    at_s: NonNegative
    series: Annotated[str, Field(min_length=1)]
    move_cents: Annotated[float, Field(ge=-99, le=99)]
    kind: Literal["jump", "chop"] = "jump"
    transient: bool = True
    every_s: Annotated[float, Field(gt=0)] | None = None
    duration_s: Annotated[float, Field(gt=0)] | None = None  # chop only
    half_life_s: Annotated[float, Field(gt=0)] = 2.0  # chop only

    @model_validator(mode="after")
    def _nonzero(self) -> NewsShock:
        if self.move_cents == 0:
            raise PydanticCustomError("move_zero", "move_cents must not be 0")
        if self.kind == "chop":
            if self.move_cents < 0:
                raise PydanticCustomError("chop_negative", "a chop's move_cents is its standard deviation: > 0")
            if self.duration_s is None:
                raise PydanticCustomError("chop_duration", "a chop needs duration_s (seconds)")
            if self.every_s is not None and self.every_s <= self.duration_s:
                raise PydanticCustomError("chop_overlap", "a repeating chop needs every_s > duration_s")
        elif self.duration_s is not None:
            raise PydanticCustomError("jump_duration", "duration_s applies to kind: chop only")
        return self


class TradingPause(_Strict):
    """A scheduled trading pause (Kalshi's weekly maintenance): from ``at_s`` seconds after the start, for
    ``duration_s``. Place/amend answer 409 ``trading_is_paused``, cancels still work, and orders flagged
    ``cancel_order_on_pause`` are cancelled. ``GET /exchange/schedule`` lists it as a maintenance window."""

    at_s: NonNegative
    duration_s: Annotated[float, Field(gt=0)]


class ReplaySpec(_Strict):
    """Replay a recorded top-of-book CSV (format: :mod:`kalshi_mm.sim.replay`): its tickers' fair values and
    background quotes follow the file instead of the simulated process. ``file`` is relative to the scenario
    file that names it (or absolute); the file's first row maps to the simulation's start; ``speed`` is
    recorded seconds per simulated second; ``loop`` repeats the file with a period of its span."""

    file: Annotated[str, Field(min_length=1)]
    loop: bool = False
    speed: Annotated[float, Field(gt=0, le=10_000)] = 1.0

    @field_validator("file")
    @classmethod
    def _exists(cls, value: str) -> str:
        if not Path(value).is_file():
            raise PydanticCustomError("replay_file", "no such replay file: {path}", {"path": value})
        return value


class Scenario(_Strict):
    """A whole simulated market: catalogue, dynamics per category key, flow per liquidity tier, news."""

    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    seed: int
    step_s: Annotated[float, Field(gt=0, le=10)]
    lp_cash_e4: WholeDollarsE4 = Field(alias="lp_cash_dollars")
    taker_cash_e4: WholeDollarsE4 = Field(alias="taker_cash_dollars")
    catalogue: CatalogueSpec
    dynamics: Mapping[str, CategoryDynamics]
    liquidity: Mapping[str, LiquidityTier]
    news: tuple[NewsShock, ...] = ()
    trading_pauses: tuple[TradingPause, ...] = ()
    replay: ReplaySpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = dict(data)
            for key in ("news", "trading_pauses"):
                if isinstance(data.get(key), list):
                    data[key] = tuple(data[key])
        return data

    @model_validator(mode="after")
    def _pauses_do_not_overlap(self) -> Scenario:
        windows = sorted((p.at_s, p.at_s + p.duration_s) for p in self.trading_pauses)
        for (_, end), (start, _) in itertools.pairwise(windows):
            if start < end:
                raise PydanticCustomError("pause_overlap", "trading_pauses overlap at {at}s", {"at": start})
        return self

    @field_validator("dynamics")
    @classmethod
    def _dynamics_keys(cls, value: Mapping[str, CategoryDynamics]) -> Mapping[str, CategoryDynamics]:
        unknown = sorted(set(value) - set(CATEGORY_KEYS))
        if unknown:
            raise PydanticCustomError(
                "unknown_key",
                "unknown category key(s) {names}; known: {known}",
                {"names": ", ".join(unknown), "known": ", ".join(CATEGORY_KEYS)},
            )
        if "default" not in value:
            raise PydanticCustomError("missing_default", "a `default` entry is required")
        return value

    @field_validator("liquidity")
    @classmethod
    def _tiers(cls, value: Mapping[str, LiquidityTier]) -> Mapping[str, LiquidityTier]:
        missing = [t for t in LIQUIDITY_TIERS if t not in value]
        extra = sorted(set(value) - set(LIQUIDITY_TIERS))
        if missing or extra:
            raise PydanticCustomError(
                "tiers",
                "needs exactly the tiers {known} (missing: {m}; unknown: {x})",
                {
                    "known": ", ".join(LIQUIDITY_TIERS),
                    "m": ", ".join(missing) or "none",
                    "x": ", ".join(extra) or "none",
                },
            )
        return value

    def dynamics_for(self, category_key: str) -> CategoryDynamics:
        """The dynamics of ``category_key``, else the ``default`` entry."""
        return self.dynamics.get(category_key, self.dynamics["default"])


# --- loading --------------------------------------------------------------------------------------------------


def available_scenarios() -> list[str]:
    """Names of the scenarios shipped in :data:`SCENARIO_DIR`."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name (``"default"``) or a YAML file by path; strict, see the module doc."""
    raw, source = _read_with_extends(name_or_path, seen=())
    return parse_scenario(raw, source)


def parse_scenario(raw: object, source: str = "<data>") -> Scenario:
    """Validate already-parsed YAML data (after ``extends`` merging) into a :class:`Scenario`."""
    if not isinstance(raw, Mapping):
        raise ScenarioError(source, [("", f"expected a mapping at the top level, got {type(raw).__name__}")])
    try:
        return Scenario.model_validate(dict(raw))
    except ValidationError as exc:
        raise ScenarioError(source, _problems(exc)) from None


def _resolve(name_or_path: str | Path, relative_to: Path | None) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        path = Path(text)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        return path
    return SCENARIO_DIR / f"{text}.yaml"


def _read_with_extends(
    name_or_path: str | Path, seen: tuple[Path, ...], relative_to: Path | None = None
) -> tuple[dict[str, Any], str]:
    path = _resolve(name_or_path, relative_to)
    source = str(path)
    if path.resolve() in seen:
        raise ScenarioError(source, [("extends", "circular extends chain")])
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        known = ", ".join(available_scenarios())
        problem = f"cannot read scenario ({exc.strerror}); shipped scenarios: {known}"
        raise ScenarioError(source, [("", problem)]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [("", f"not valid YAML: {exc}")]) from None
    if not isinstance(raw, dict):
        raise ScenarioError(source, [("", "expected a mapping at the top level")])
    _anchor_replay_file(raw, path.parent)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw, source
    if not isinstance(parent, str):
        raise ScenarioError(source, [("extends", "expected a scenario name or path")])
    base, _ = _read_with_extends(parent, (*seen, path.resolve()), relative_to=path.parent)
    return _merge(base, raw), source


def _anchor_replay_file(raw: dict[str, Any], directory: Path) -> None:
    # Relative to the file that names it, so a scenario extending another still finds the parent's recording.
    replay = raw.get("replay")
    if isinstance(replay, dict) and isinstance(replay.get("file"), str) and replay["file"]:
        path = Path(replay["file"])
        if not path.is_absolute():
            raw["replay"] = {**replay, "file": str(directory / path)}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors():
        # Drop pydantic's internal location parts (function-after[...]) so the path is the YAML key path.
        parts = [str(p) for p in err["loc"] if not (isinstance(p, str) and "[" in p and p != "[key]")]
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        if parts and parts[-1] == "[key]":
            parts = parts[:-1]
        problems.append((".".join(parts), message))
    return problems
