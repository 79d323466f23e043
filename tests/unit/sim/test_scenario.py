"""Scenario files: the shipped ones load; bad ones fail naming the key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kalshi_mm.sim.scenario import SCENARIO_DIR, ScenarioError, available_scenarios, load_scenario, parse_scenario


def default_raw() -> dict[str, Any]:
    return yaml.safe_load((SCENARIO_DIR / "default.yaml").read_text())


def problems_of(raw: object) -> dict[str, str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(raw)
    return dict(info.value.problems)


def test_shipped_scenarios_load() -> None:
    assert {"default", "quiet", "volatile"} <= set(available_scenarios())
    for name in available_scenarios():
        assert load_scenario(name).name == name


def test_units_are_converted_exactly() -> None:
    s = load_scenario("default")
    deep = s.liquidity["deep"]
    assert deep.lp_half_spread_e4 == 100  # 1 cent
    assert deep.informed_edge_e4 == 150  # 1.5 cents
    assert deep.lp_skew_per_100_e4 == 20  # 0.2 cent
    assert deep.lp_size_e2 == (2000, 15000)
    assert s.lp_cash_e4 == 50_000_000 * 10_000
    params = s.dynamics_for("crypto").params()
    assert params.jump_rate_per_s == pytest.approx(10 / 3600)
    assert s.dynamics_for("tech") == s.dynamics["default"]


def test_extends_merges_over_the_parent() -> None:
    default, quiet = load_scenario("default"), load_scenario("quiet")
    assert quiet.news == ()
    assert quiet.dynamics["rates"].sigma_logit_per_sqrt_s == 0.001
    # Keys the child does not mention come from the parent.
    assert quiet.dynamics["rates"].ou_half_life_s == default.dynamics["rates"].ou_half_life_s
    assert quiet.liquidity == default.liquidity


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("liquidity", "deep", "lp_levelz"), 3, "liquidity.deep.lp_levelz"),
        (("liquidity", "deep", "lp_levels"), 0, "liquidity.deep.lp_levels"),
        (("liquidity", "deep", "lp_levels"), "5", "liquidity.deep.lp_levels"),
        (("liquidity", "normal", "lp_half_spread_cents"), 0.001, "liquidity.normal.lp_half_spread_cents"),
        (("liquidity", "thin", "noise_size_contracts"), [10, 1], "liquidity.thin.noise_size_contracts"),
        (("dynamics", "sports", "jump_revert_prob"), 1.5, "dynamics.sports.jump_revert_prob"),
        (("catalogue", "series_per_category", "Weather"), 1, "catalogue.series_per_category"),
        (("step_s",), -1, "step_s"),
        (("lp_cash_dollars",), 10.5, "lp_cash_dollars"),
    ],
)
def test_a_bad_value_names_its_key_path(path: tuple[str, ...], value: object, where: str) -> None:
    raw = default_raw()
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    problems = problems_of(raw)
    assert where in problems, problems


def test_missing_and_unknown_sections() -> None:
    raw = default_raw()
    del raw["dynamics"]["default"]
    raw["dynamics"]["astrology"] = raw["dynamics"]["rates"]
    del raw["liquidity"]["illiquid"]
    del raw["seed"]
    problems = problems_of(raw)
    assert set(problems) >= {"dynamics", "liquidity", "seed"}
    assert problems["seed"] == "required key is missing"


def test_news_keys_are_checked() -> None:
    raw = default_raw()
    raw["news"][0]["move_cents"] = 0
    raw["news"][1]["when"] = 3
    problems = problems_of(raw)
    assert "news.0" in problems
    assert "news.1.when" in problems


@pytest.mark.parametrize(
    ("shock", "message"),
    [
        ({"kind": "chop", "move_cents": 4}, "duration_s"),
        ({"kind": "chop", "move_cents": -4, "duration_s": 60}, "standard deviation"),
        ({"kind": "chop", "move_cents": 4, "duration_s": 60, "every_s": 30}, "every_s > duration_s"),
        ({"move_cents": 4, "duration_s": 60}, "chop only"),
        ({"kind": "wobble", "move_cents": 4}, "'jump' or 'chop'"),
    ],
)
def test_chop_news_keys_are_checked(shock: dict[str, object], message: str) -> None:
    raw = default_raw()
    raw["news"] = [{"at_s": 5, "series": raw["news"][0]["series"], **shock}]
    problems = problems_of(raw)
    assert any(key.startswith("news.0") for key in problems), problems
    assert message in " ".join(str(v) for v in problems.values())


def test_files_that_cannot_be_loaded(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="shipped scenarios"):
        load_scenario("no-such-scenario")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(broken)
    loop_a, loop_b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    loop_a.write_text("extends: b.yaml\n")
    loop_b.write_text("extends: a.yaml\n")
    with pytest.raises(ScenarioError, match="circular"):
        load_scenario(loop_a)
    child = tmp_path / "child.yaml"
    child.write_text("extends: default\nname: child\nstep_s: 1\n")
    assert load_scenario(child).step_s == 1.0
    assert problems_of([1, 2]) == {"": "expected a mapping at the top level, got list"}
