"""Shared pieces of the fuzz suite (no tests here): the Hypothesis profiles, the case counter behind the terminal
summary, real-shaped fixtures to mutate, and the strategies for hostile values, bodies and frames.

Profiles: ``fuzz`` (the CI default, a few hundred examples per test) and ``long`` (thousands), chosen by
``HYPOTHESIS_PROFILE=long`` (``make fuzz``). They are applied per test with :data:`FUZZ` rather than loaded
globally, so the rest of the suite keeps Hypothesis' own defaults.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = [
    "FUZZ",
    "REST_FIXTURES",
    "WS_FIXTURES",
    "FuzzStats",
    "encode",
    "fuzz_settings",
    "hostile_scalars",
    "json_values",
    "malformed_frames",
    "mutated",
]

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("fuzz", max_examples=250, deadline=None, suppress_health_check=_HEALTH, print_blob=True)
settings.register_profile("long", parent=settings.get_profile("fuzz"), max_examples=2000)
PROFILE = "long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "fuzz"
FUZZ = settings.get_profile(PROFILE)


def fuzz_settings(fraction: float) -> settings:
    """The profile with ``fraction`` of its examples, for tests whose examples are expensive (network)."""
    return settings(FUZZ, max_examples=max(3, int(FUZZ.max_examples * fraction)))


class FuzzStats:
    """Cases run and rejected per fuzz target, printed at the end of the session (see conftest.py).

    ``_lock`` guards both counters (a test may count from a server thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cases: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()

    def case(self, target: str, rejected: bool = False, n: int = 1) -> None:
        with self._lock:
            self.cases[target] += n
            if rejected:
                self.rejected[target] += n

    def lines(self) -> list[str]:
        with self._lock:
            width = max((len(t) for t in self.cases), default=0)
            rows = [
                f"{target:<{width}}  {self.cases[target]:>7} cases  {self.rejected[target]:>7} rejected (typed error)"
                for target in sorted(self.cases)
            ]
            total = sum(self.cases.values())
            rows.append(f"{'total':<{width}}  {total:>7} cases  {sum(self.rejected.values()):>7} rejected")
            return rows


# --- real-shaped payloads --------------------------------------------------------------------------------------

_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _load_ws() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((_FIXTURES / "ws").glob("*.json")):
        for name, frame in json.loads(path.read_text()).items():
            out[f"{path.stem}/{name}"] = frame
    return out


WS_FIXTURES: Mapping[str, dict[str, Any]] = _load_ws()
REST_FIXTURES: Mapping[str, Any] = {
    k: v for k, v in json.loads((_FIXTURES / "kalshi_rest" / "payloads.json").read_text()).items() if k != "_comment"
}


def encode(value: Any) -> str:
    """JSON text as a server might send it; NaN and Infinity become the (non-standard) literals."""
    return json.dumps(value, allow_nan=True)


# --- strategies ------------------------------------------------------------------------------------------------

_MONEY_LOOKALIKES = [
    "0.4700",
    "0.47",
    "1.0000",
    "0.0000",
    "1.0001",
    "-0.0100",
    "+0.5000",
    "-0.00",
    "0.12345",  # too precise for a price (fine for 6-decimal cash)
    "0.4750",  # a valid decimal, off a cent grid
    "0.0000001",
    "1e-4",
    "1E3",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    " 0.5000",
    "0.5000 ",
    "0.5000\n",
    "\u0660.\u0665",  # Arabic-Indic digits
    "\u00b2",  # superscript two: isdigit() is True, int() refuses it
    "9" * 15 + ".00",
    "1" * 5000,  # beyond int()'s 4,300-digit limit
    "0." + "0" * 5000 + "1",
    "10.00",
    "-12.00",
    "3",
    ".5",
    "5.",
    "",
]
_TIME_LOOKALIKES = [
    "2026-11-18T09:30:12.5Z",
    "2026-13-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-23:59",
    "yesterday",
]
_WORDS = ["yes", "no", "bid", "ask", "buy", "sell", "resting", "canceled", "executed", "orderbook_delta", "fill"]

hostile_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([-1, 0, 1, 2**63, -(2**63) - 1, 10**300, 1_795_512_612, 1_795_512_612_123]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, 0.47, -0.0]),
    st.sampled_from(_MONEY_LOOKALIKES),
    st.sampled_from(_TIME_LOOKALIKES),
    st.sampled_from(_WORDS),
    st.text(max_size=12),
)

json_values: st.SearchStrategy[Any] = st.recursive(
    hostile_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4),
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_paths(item, (*prefix, i)))
    return out


@st.composite
def mutated(draw: st.DrawFn, pool: Mapping[str, Any], max_ops: int = 3) -> tuple[str, Any]:
    """``(fixture name, payload)``: a real-shaped payload with 1..max_ops hostile edits at random places —
    a value replaced (wrong type, huge, negative, off grid, NaN, ...), a key deleted, a list item duplicated,
    an unknown key added or a value wrapped in a list."""
    name = draw(st.sampled_from(sorted(pool)))
    payload = copy.deepcopy(pool[name])
    for _ in range(draw(st.integers(1, max_ops))):
        path = draw(st.sampled_from(_paths(payload)))
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate", "add", "wrap"]))
        value = copy.deepcopy(draw(json_values))  # drawn values are never shared between examples
        if not path:
            if op == "replace":
                payload = value
            continue
        parent = payload
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        if op == "replace":
            parent[last] = value
        elif op == "delete":
            del parent[last]
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        elif op == "add" and isinstance(parent, dict):
            parent[f"unknown_{draw(st.text(max_size=6))}"] = value
        elif op == "wrap":
            parent[last] = [parent[last]]
    return name, payload


@st.composite
def malformed_frames(draw: st.DrawFn, valid: list[str]) -> str | bytes:
    """A frame no parser can accept: truncated JSON, bytes that are not UTF-8, nesting deeper than the decoder's
    recursion limit, JSON that is not an object, or an object with a NaN where money belongs."""
    kind = draw(
        st.sampled_from(["truncated", "not_utf8", "deep", "not_object", "nan_money", "garbage", "huge_int", "empty"])
    )
    base = draw(st.sampled_from(valid))
    if kind == "truncated":
        return base[: draw(st.integers(0, len(base) - 1))]
    if kind == "not_utf8":
        raw = base.encode()
        at = draw(st.integers(1, len(raw) - 1))
        return raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"])) + raw[at:]
    if kind == "deep":
        depth = draw(st.integers(20_000, 60_000))
        return "[" * depth + "]" * depth
    if kind == "not_object":
        return encode(draw(st.one_of(st.lists(hostile_scalars, max_size=3), hostile_scalars)))
    if kind == "nan_money":
        frame = json.loads(base)
        body = frame["msg"]
        money = [k for k, v in body.items() if k.endswith(("_dollars", "_fp")) and isinstance(v, str)]
        if not money:
            return base[:-1]
        body[draw(st.sampled_from(money))] = draw(st.sampled_from([float("nan"), float("inf"), float("-inf")]))
        return encode(frame)
    if kind == "huge_int":  # json.loads refuses integers of more than 4,300 digits
        return base[:-1] + ', "big": 1' + "0" * 5000 + "}"
    if kind == "empty":
        return draw(st.sampled_from(["", " ", "\n", "null "]))
    return draw(st.one_of(st.text(max_size=40), st.binary(max_size=40)).filter(_not_a_json_object))


def _not_a_json_object(value: str | bytes) -> bool:
    try:
        return not isinstance(json.loads(value), dict)
    except (ValueError, RecursionError):
        return True
