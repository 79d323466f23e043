"""Typed config: config.yaml is the documented default, broken configs fail naming their key path.

Broken configs are small overrides applied on top of config.yaml's own data, checked twice: through
load_config (ConfigError.problems) and through ``runner.py --check-config`` (exit 2, key path on stderr,
no traceback).
"""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from kalshi_mm.config import AppConfig, ConfigError, config_to_dict, load_config, validate_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG_YAML = ROOT / "config.yaml"
SEED_CONFIG = ROOT / "tests" / "fixtures" / "configs" / "seed_readme_config.yaml"
DELETE = object()  # in an override: remove this key from config.yaml's data


def config_data() -> dict[str, Any]:
    data = yaml.safe_load(CONFIG_YAML.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is DELETE:
            out.pop(key)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def leaf_paths(data: Any, prefix: str = "") -> set[str]:
    if not isinstance(data, dict):
        return {prefix}
    paths: set[str] = set()
    for key, value in data.items():
        paths |= leaf_paths(value, f"{prefix}.{key}" if prefix else str(key))
    return paths


# --- the committed config.yaml ----------------------------------------------------------------------------------


def test_config_yaml_loads_and_equals_builtin_defaults() -> None:
    cfg = load_config(CONFIG_YAML)
    assert cfg == AppConfig()
    assert cfg == validate_config({})


def test_config_yaml_spells_out_every_key_of_the_defaults() -> None:
    assert leaf_paths(config_data()) == leaf_paths(config_to_dict(AppConfig()))


def test_every_leaf_key_in_config_yaml_has_a_comment() -> None:
    lines = CONFIG_YAML.read_text(encoding="utf-8").splitlines()
    uncommented: list[str] = []

    def walk(node: yaml.Node, path: str) -> None:
        assert isinstance(node, yaml.MappingNode)
        for key_node, value_node in node.value:
            key_path = f"{path}.{key_node.value}" if path else key_node.value
            if isinstance(value_node, yaml.MappingNode):
                walk(value_node, key_path)
                continue
            line_no = key_node.start_mark.line
            on_line = "#" in lines[line_no].split(":", 1)[1]
            above = line_no > 0 and lines[line_no - 1].lstrip().startswith("#")
            if not (on_line or above):
                uncommented.append(f"line {line_no + 1}: {key_path}")

    walk(yaml.compose(CONFIG_YAML.read_text(encoding="utf-8")), "")
    assert uncommented == []


def test_effective_config_round_trips(tmp_path: Path) -> None:
    cfg = load_config(CONFIG_YAML)
    path = tmp_path / "effective.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), encoding="utf-8")
    assert load_config(path) == cfg


def test_effective_config_is_accepted_by_the_model_itself() -> None:
    # app.apply_overrides edits config_to_dict's output and validates it with AppConfig.model_validate.
    data = config_to_dict(AppConfig())
    data["mode"] = "discovery"
    cfg = AppConfig.model_validate(data)
    assert cfg.mode == "discovery"
    assert cfg.model_copy(update={"mode": "volatility"}) == AppConfig()


def test_a_changed_value_survives_the_round_trip(tmp_path: Path) -> None:
    cfg = validate_config(
        {"as_model": {"min_total_spread": "0.0350"}, "volatility_scanner": {"price_jump_threshold_cents": 7.5}}
    )
    path = tmp_path / "effective.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(cfg)), encoding="utf-8")
    again = load_config(path)
    assert again == cfg
    assert again != AppConfig()
    assert again.as_model.min_total_spread == 350


def test_every_key_of_the_seed_readme_exists_except_the_removed_websocket_url() -> None:
    seed = yaml.safe_load(SEED_CONFIG.read_text(encoding="utf-8"))
    missing = leaf_paths(seed) - leaf_paths(config_data())
    assert missing == {"websockets.url"}


def test_the_seed_readme_config_loads_once_websockets_url_is_removed() -> None:
    seed = yaml.safe_load(SEED_CONFIG.read_text(encoding="utf-8"))
    with pytest.raises(ConfigError) as err:
        validate_config(seed)
    assert [p for p, _ in err.value.problems] == ["websockets.url"]
    cfg = validate_config(merged(seed, {"websockets": {"url": DELETE}}))
    # The seed's own (self-defeating) spread range is still expressible; only our default differs.
    assert cfg.as_model.min_total_spread == cfg.as_model.max_total_spread == 200


# --- units and shape of the typed config -----------------------------------------------------------------------


def test_money_is_integer_units_and_dumps_as_dollar_strings() -> None:
    cfg = AppConfig()
    assert cfg.as_model.min_total_spread == 200
    assert cfg.as_model.max_total_spread == 1000
    assert cfg.risk.global_risk_budget == 600_000
    assert cfg.risk.category_cap_for("weather") == 80_000
    assert cfg.extreme_prices.normal_band == (1500, 8500)
    assert cfg.volatility_scanner.price_jump_threshold_e4 == 1200
    assert cfg.volatility_mm.max_slippage_for_limit_exit_e4 == 400
    assert all(isinstance(v, int) for v in (cfg.scoring.min_volume_24h, cfg.volatility_mm.min_available_balance))
    dumped = config_to_dict(cfg)
    assert dumped["as_model"]["min_total_spread"] == "0.0200"
    assert dumped["extreme_prices"]["hard_extreme_band"] == [["0.0000", "0.0500"], ["0.9500", "1.0000"]]
    assert dumped["volatility_scanner"]["price_jump_threshold_cents"] == "12.00"
    assert cfg.model_dump()["as_model"]["min_total_spread"] == 200  # Python-mode dump keeps units


def test_dollar_strings_and_ints_are_accepted_but_other_strings_and_bools_are_not() -> None:
    cfg = validate_config({"as_model": {"min_total_spread": "0.03", "base_gamma": 1}})
    assert cfg.as_model.min_total_spread == 300
    assert cfg.as_model.base_gamma == 1.0
    with pytest.raises(ConfigError) as err:
        validate_config(
            {"as_model": {"base_gamma": True, "risk_horizon_seconds": "3600"}, "risk": {"per_market_cap": True}}
        )
    assert {p for p, _ in err.value.problems} == {
        "as_model.base_gamma",
        "as_model.risk_horizon_seconds",
        "risk.per_market_cap",
    }


def test_config_is_frozen_including_its_mappings() -> None:
    cfg = AppConfig()
    with pytest.raises(ValidationError):
        cfg.mode = "discovery"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.risk.category_caps["crypto"] = 1  # type: ignore[index]
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    assert hash(cfg) == hash(AppConfig())


def test_time_windows_in_seconds() -> None:
    discovery = AppConfig().discovery
    assert discovery.time_window_for("sports").bounds_seconds() == (3600.0, 7 * 86400.0)
    assert discovery.time_window_for("weather").bounds_seconds() == (86400.0, 60 * 86400.0)


def test_profile_for_regime_applies_overrides_and_inherits_the_rest() -> None:
    cfg = AppConfig()
    profile = cfg.category_profiles[cfg.profile_name("rates")]
    quiet = profile.for_regime("QUIET")
    assert (quiet.spread_tight, quiet.spread_wide, quiet.exclude) == (150, 400, False)
    trending = cfg.category_profiles["medium_trending"].for_regime("TRENDING")
    assert (trending.spread_tight, trending.spread_wide, trending.max_position_factor) == (600, 1200, 0.5)
    assert profile.for_regime("NOISE").max_position_factor == 0.0
    assert cfg.profile_name("no-such-category") == cfg.category_mapping["fallback"]


def test_extreme_price_classification_follows_the_seed_edges() -> None:
    bands = AppConfig().extreme_prices
    assert [bands.classify(p) for p in (0, 499, 500, 1499, 1500, 8500, 8501, 9500, 9501, 10000)] == [
        "hard",
        "hard",
        "soft",
        "soft",
        "normal",
        "normal",
        "soft",
        "soft",
        "hard",
        "hard",
    ]


def test_min_sigma_after_blending_follows_sigma_floor_when_left_out() -> None:
    data = merged(config_data(), {"volatility_mm": {"sigma_floor": 0.01, "min_sigma_after_blending": DELETE}})
    cfg = validate_config(data)
    assert cfg.volatility_mm.min_sigma_after_blending == cfg.volatility_mm.sigma_floor == 0.01


def test_all_problems_are_reported_together() -> None:
    data = merged(
        config_data(),
        {
            "mode": "turbo",
            "as_model": {"min_total_spread": 0.5},
            "websockets": {"ws_staleness_freeze_seconds": 30},
            "volatility_scanner": {"orderbook_depth": 0},
        },
    )
    with pytest.raises(ConfigError) as err:
        validate_config(data, source="x.yaml")
    paths = [p for p, _ in err.value.problems]
    assert sorted(paths) == sorted(
        [
            "mode",
            "as_model.min_total_spread",
            "websockets.ws_staleness_freeze_seconds",
            "volatility_scanner.orderbook_depth",
        ]
    )
    text = str(err.value)
    assert text.splitlines()[0] == "x.yaml: 4 problems"
    assert "  mode: expected one of 'volatility' or 'discovery' (got 'turbo')" in text.splitlines()


def test_missing_and_empty_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.yaml")
    assert "file not found" in str(err.value)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(empty)
    assert "empty" in str(err.value)
    minimal = tmp_path / "minimal.yaml"
    minimal.write_text("{}\n", encoding="utf-8")
    assert load_config(minimal) == AppConfig()


# --- broken configs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    name: str
    override: dict[str, Any] | None  # applied on top of config.yaml's data ...
    text: str | None  # ... or, instead, the file's raw text
    path: str | None  # dotted key path that must be named (None: the file as a whole)
    fragment: str  # text the problem message must contain


# The cases also run through ``runner.py --check-config`` (a fresh interpreter each, so only a subset: the
# loader path is the same for all of them).
VIA_RUNNER = {
    "unknown_top_level_key",
    "unknown_nested_key_typo",
    "string_for_number",
    "negative_interval",
    "factor_above_one",
    "min_total_spread_above_max",
    "overlapping_price_bands",
    "positive_spread_weight",
    "negative_volume_weight",
    "unknown_regime_in_by_regime",
    "category_mapping_to_missing_profile",
    "invalid_side",
    "invalid_exchange_environment",
    "non_https_prod_url",
    "sigma_floor_above_cap",
    "invalid_yaml_syntax",
    "top_level_is_a_list",
    "dollar_value_finer_than_a_hundredth_of_a_cent",
}


BROKEN = [
    Broken("unknown_top_level_key", {"bogus_section": {"a": 1}}, None, "bogus_section", "unknown key"),
    Broken(
        "unknown_nested_key_typo",
        {"as_model": {"min_total_spred": 0.02}},
        None,
        "as_model.min_total_spred",
        "did you mean 'min_total_spread'",
    ),
    Broken("string_for_number", {"as_model": {"base_gamma": "0.3"}}, None, "as_model.base_gamma", "expected a number"),
    Broken(
        "float_for_int", {"discovery": {"max_markets_to_trade": 2.5}}, None, "discovery.max_markets_to_trade", "whole"
    ),
    Broken("string_for_bool", {"websockets": {"enabled": "yes"}}, None, "websockets.enabled", "true or false"),
    Broken(
        "negative_interval",
        {"volatility_scanner": {"refresh_interval_seconds": -3}},
        None,
        "volatility_scanner.refresh_interval_seconds",
        "must be > 0",
    ),
    Broken(
        "factor_above_one",
        {"extreme_prices": {"soft_extreme_factor": 1.5}},
        None,
        "extreme_prices.soft_extreme_factor",
        "≤ 1",
    ),
    Broken(
        "regime_factor_above_one",
        {"category_profiles": {"mean_reverting": {"by_regime": {"TRENDING": {"max_position_factor": 1.2}}}}},
        None,
        "category_profiles.mean_reverting.by_regime.TRENDING.max_position_factor",
        "≤ 1",
    ),
    Broken(
        "min_total_spread_above_max",
        {"as_model": {"min_total_spread": 0.12}},
        None,
        "as_model.min_total_spread",
        "max_total_spread",
    ),
    Broken(
        "overlapping_price_bands",
        {"extreme_prices": {"normal_band": [0.10, 0.85]}},
        None,
        "extreme_prices.normal_band",
        "overlaps",
    ),
    Broken(
        "gap_between_price_bands",
        {"extreme_prices": {"hard_extreme_band": [[0.0, 0.04], [0.95, 1.0]]}},
        None,
        "extreme_prices.soft_extreme_band",
        "gap",
    ),
    Broken(
        "band_edge_above_one", {"extreme_prices": {"normal_band": [0.15, 1.5]}}, None, "extreme_prices.normal_band", "≤"
    ),
    Broken("positive_spread_weight", {"scoring": {"weights": {"spread": 0.15}}}, None, "scoring.weights.spread", "≤ 0"),
    Broken(
        "negative_volume_weight",
        {"scoring": {"weights": {"volume_24h": -0.3}}},
        None,
        "scoring.weights.volume_24h",
        "≥ 0",
    ),
    Broken(
        "volume_bands_not_ascending",
        {"scoring": {"volume_bands": {"medium": 0.4}}},
        None,
        "scoring.volume_bands.medium",
        "ascending",
    ),
    Broken(
        "unknown_regime_in_by_regime",
        {"category_profiles": {"mean_reverting": {"by_regime": {"TRENDY": {"exclude": True}}}}},
        None,
        "category_profiles.mean_reverting.by_regime.TRENDY",
        "QUIET",
    ),
    Broken(
        "unknown_regime_in_multipliers",
        {"regimes": {"gamma_multipliers": {"CALM": 1.0}}},
        None,
        "regimes.gamma_multipliers.CALM",
        "expected one of",
    ),
    Broken(
        "category_mapping_to_missing_profile",
        {"category_mapping": {"crypto": "crypto_profile"}},
        None,
        "category_mapping.crypto",
        "no such profile",
    ),
    Broken(
        "category_mapping_without_fallback",
        {"category_mapping": {"fallback": DELETE}},
        None,
        "category_mapping.fallback",
        "missing",
    ),
    Broken(
        "by_profile_names_missing_profile",
        {"regimes": {"by_profile": {"sports_profile": {"drift_threshold": 0.1}}}},
        None,
        "regimes.by_profile.sports_profile",
        "no such profile",
    ),
    Broken(
        "invalid_side",
        {"discovery": {"sides_to_trade": ["yes", "maybe"]}},
        None,
        "discovery.sides_to_trade",
        "'yes' or 'no'",
    ),
    Broken("no_sides", {"discovery": {"sides_to_trade": []}}, None, "discovery.sides_to_trade", "at least one"),
    Broken(
        "duplicate_side", {"discovery": {"sides_to_trade": ["no", "no"]}}, None, "discovery.sides_to_trade", "twice"
    ),
    Broken(
        "unquoted_yes_side",
        None,
        CONFIG_YAML.read_text(encoding="utf-8").replace("    - 'yes'", "    - yes"),
        "discovery.sides_to_trade",
        "YAML booleans",
    ),
    Broken(
        "invalid_exchange_environment",
        {"exchange": {"environment": "live"}},
        None,
        "exchange.environment",
        "expected one of",
    ),
    Broken(
        "non_https_prod_url",
        {"exchange": {"prod": {"rest_url": "http://external-api.kalshi.com/trade-api/v2"}}},
        None,
        "exchange.prod.rest_url",
        "https://",
    ),
    Broken(
        "ws_url_wrong_path",
        {"exchange": {"prod": {"ws_url": "wss://external-api-ws.kalshi.com/trade-api/v2"}}},
        None,
        "exchange.prod.ws_url",
        "/trade-api/ws/v2",
    ),
    Broken(
        "demo_pointing_at_prod",
        {"exchange": {"demo": {"rest_url": "https://api.elections.kalshi.com/trade-api/v2"}}},
        None,
        "exchange.demo.rest_url",
        "real money",
    ),
    Broken(
        "sigma_floor_above_cap",
        {"volatility_mm": {"sigma_floor": 0.1, "min_sigma_after_blending": 0.1}},
        None,
        "volatility_mm.sigma_floor",
        "sigma_cap",
    ),
    Broken(
        "sigma_alias_differs",
        {"volatility_mm": {"min_sigma_after_blending": 0.001}},
        None,
        "volatility_mm.min_sigma_after_blending",
        "alias",
    ),
    Broken(
        "deprecated_close_on_exit_with_passive_exit",
        {"volatility_mm": {"close_positions_on_exit": True}},
        None,
        "volatility_mm.close_positions_on_exit",
        "passive_exit",
    ),
    Broken(
        "bad_regime_without_kill_mode",
        {"volatility_mm": {"regime_kill": {"bad_regimes": ["TRENDING", "CHAOTIC", "NOISE"]}}},
        None,
        "volatility_mm.regime_kill.kill_modes.NOISE",
        "missing",
    ),
    Broken(
        "time_window_min_above_max",
        {"discovery": {"time_windows": {"sports": {"min_hours": 200}}}},
        None,
        "discovery.time_windows.sports.min_hours",
        "max_days",
    ),
    Broken(
        "reconnect_base_above_max",
        {"websockets": {"reconnect_base_delay_seconds": 10}},
        None,
        "websockets.reconnect_base_delay_seconds",
        "reconnect_max_delay_seconds",
    ),
    Broken(
        "noise_spread_min_above_max",
        {"regimes": {"noise_spread_min": 0.2}},
        None,
        "regimes.noise_spread_min",
        "noise_spread_max",
    ),
    Broken(
        "ws_freeze_after_stop",
        {"websockets": {"ws_staleness_freeze_seconds": 20}},
        None,
        "websockets.ws_staleness_freeze_seconds",
        "ws_staleness_stop_seconds",
    ),
    Broken(
        "mean_reversion_bad_above_good",
        {"regimes": {"mean_reversion_bad": 0.7}},
        None,
        "regimes.mean_reversion_bad",
        "mean_reversion_good",
    ),
    Broken(
        "probability_above_one",
        {"throttling": {"adverse_selection_threshold": 1.7}},
        None,
        "throttling.adverse_selection_threshold",
        "≤ 1",
    ),
    Broken(
        "commit_interval_too_long",
        {"analytics": {"commit_interval_seconds": 10}},
        None,
        "analytics.commit_interval_seconds",
        "≤ 5",
    ),
    Broken(
        "removed_websockets_url",
        {"websockets": {"url": "wss://api.elections.kalshi.com"}},
        None,
        "websockets.url",
        "exchange.prod.ws_url",
    ),
    Broken(
        "dollar_value_finer_than_a_hundredth_of_a_cent",
        {"as_model": {"min_total_spread": 0.00001}},
        None,
        "as_model.min_total_spread",
        "$0.0001",
    ),
    Broken(
        "cents_value_too_fine",
        {"volatility_scanner": {"price_jump_threshold_cents": 1.001}},
        None,
        "volatility_scanner.price_jump_threshold_cents",
        "2 decimals",
    ),
    Broken(
        "cents_value_above_a_dollar",
        {"volatility_mm": {"jump_magnitude_threshold_cents": 150}},
        None,
        "volatility_mm.jump_magnitude_threshold_cents",
        "100 cents",
    ),
    Broken("invalid_yaml_syntax", None, "as_model:\n  base_gamma: [0.3\n", None, "invalid YAML at line"),
    Broken("duplicate_yaml_key", None, "mode: volatility\nmode: discovery\n", None, "duplicate key 'mode'"),
    Broken("top_level_is_a_list", None, "- discovery\n- scoring\n", None, "top level must be a mapping"),
]


def write_broken(case: Broken, directory: Path) -> Path:
    path = directory / f"{case.name}.yaml"
    if case.text is not None:
        path.write_text(case.text, encoding="utf-8")
    else:
        assert case.override is not None
        path.write_text(yaml.safe_dump(merged(config_data(), case.override), sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", BROKEN, ids=[c.name for c in BROKEN])
def test_broken_config_raises_config_error_naming_the_key(case: Broken, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write_broken(case, tmp_path))
    problems = err.value.problems
    expected_path = case.path or ""
    matching = [msg for path, msg in problems if path.startswith(expected_path) and (case.path or path == "")]
    assert matching, f"no problem at {expected_path!r}: {problems}"
    assert any(case.fragment in msg for msg in matching), problems
    assert str(err.value).startswith(str(tmp_path / f"{case.name}.yaml"))


@pytest.fixture(scope="module")
def runner_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run ``runner.py --check-config`` on every broken config at once (each is a fresh interpreter)."""
    directory = tmp_path_factory.mktemp("broken")
    procs = {}
    for case in RUNNER_CASES:
        path = write_broken(case, directory)
        procs[case.name] = subprocess.Popen(
            [sys.executable, "runner.py", "--config", str(path), "--check-config"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},  # no credentials from the caller
        )
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results


RUNNER_CASES = [c for c in BROKEN if c.name in VIA_RUNNER]


def test_every_runner_case_exists() -> None:
    assert {c.name for c in RUNNER_CASES} == VIA_RUNNER


@pytest.mark.slow
@pytest.mark.parametrize("case", RUNNER_CASES, ids=[c.name for c in RUNNER_CASES])
def test_runner_check_config_exits_2_naming_the_key(
    case: Broken, runner_results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = runner_results[case.name]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert case.fragment in result.stderr
    if case.path is not None:
        assert case.path in result.stderr


@pytest.mark.slow
def test_runner_check_config_accepts_config_yaml() -> None:
    result = subprocess.run(
        [sys.executable, "runner.py", "--config", "config.yaml", "--check-config", "--exchange", "sim"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert '"min_total_spread": "0.0200"' in result.stdout
