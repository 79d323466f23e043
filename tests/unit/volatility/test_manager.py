"""Unit tests of the volatility manager's pure parts: each spawn check on and off, balance hysteresis,
regime stability counting and the resting-order value."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import pytest

from kalshi_mm.clock import SimClock
from kalshi_mm.config.sections_volatility import VolatilityMMConfig
from kalshi_mm.config.settings import validate_config
from kalshi_mm.runtime import Runtime
from kalshi_mm.volatility.detection import VolatilityEndedEvent
from kalshi_mm.volatility.manager import (
    AccountSnapshot,
    BalanceGate,
    Refusal,
    Spawn,
    SpawnLimits,
    StabilityCounter,
    VolatilityMMManager,
    VolatilitySession,
    resting_order_value_e4,
    spawn_decision,
)
from kalshi_mm.volatility.regime import Regime, RegimeState

T = "KXTEST-1"
NOW = 1_000.0
LIMITS = SpawnLimits(
    max_concurrent_sessions=3,
    max_resting_order_value_e4=1_000_000,
    disallow_open_positions=True,
    allowed_regimes=frozenset({"MEAN_REVERTING", "QUIET"}),
    require_regime_stability=3,
    start_delay_s=5.0,
    regime_max_age_s=4.0,
)
GOOD_REGIME = RegimeState(Regime.MEAN_REVERTING, stable=True, since_ts=NOW - 30, observed_ts=NOW - 1)


def decide(**changes: Any) -> Spawn | Refusal:
    """spawn_decision with every check passing unless ``changes`` says otherwise."""
    args: dict[str, Any] = {
        "now": NOW,
        "event_ts": NOW - 10.0,
        "active": set(),
        "limits": LIMITS,
        "balance_open": True,
        "account": AccountSnapshot(resting_order_value_e4=0, positions_e2={}),
        "regime": GOOD_REGIME,
        "stable_windows": 3,
    }
    args.update(changes)
    return spawn_decision(T, **args)


def reason(decision: Spawn | Refusal) -> str | None:
    return decision.reason if isinstance(decision, Refusal) else None


def test_all_checks_pass_spawns() -> None:
    assert decide() == Spawn(T)


def test_already_active_refuses() -> None:
    assert reason(decide(active={T})) == "already_active"
    assert reason(decide(active={"OTHER"})) is None


def test_max_concurrent_refuses_at_the_limit_only() -> None:
    assert reason(decide(active={"A", "B", "C"})) == "max_concurrent"
    assert reason(decide(active={"A", "B"})) is None


def test_start_delay_waits_then_passes() -> None:
    assert reason(decide(event_ts=NOW - 4.9)) == "start_delay"
    assert reason(decide(event_ts=NOW - 5.0)) is None
    assert reason(decide(event_ts=NOW, limits=SpawnLimits(start_delay_s=0.0, regime_max_age_s=4.0))) is None


def test_low_balance_refuses() -> None:
    refusal = decide(balance_open=False, balance_detail="balance 5 e4 < 1000000 e4")
    assert isinstance(refusal, Refusal)
    assert (refusal.reason, refusal.detail) == ("low_balance", "balance 5 e4 < 1000000 e4")


def test_unreadable_account_refuses() -> None:
    assert reason(decide(account=None)) == "account_unknown"


def test_resting_order_value_cap() -> None:
    assert reason(decide(account=AccountSnapshot(1_000_000))) == "resting_order_value"
    assert reason(decide(account=AccountSnapshot(999_999))) is None


def test_open_position_refuses_only_when_configured() -> None:
    account = AccountSnapshot(0, {T: -300})
    assert reason(decide(account=account)) == "open_position"
    permissive = SpawnLimits(disallow_open_positions=False, start_delay_s=5.0)
    assert reason(decide(account=account, limits=permissive)) is None
    assert reason(decide(account=AccountSnapshot(0, {"OTHER": 500}))) is None


def test_missing_or_stale_regime_refuses() -> None:
    assert reason(decide(regime=None)) == "regime_unknown"
    stale = RegimeState(Regime.QUIET, stable=True, since_ts=NOW - 30, observed_ts=NOW - 4.5)
    assert reason(decide(regime=stale)) == "regime_unknown"
    just_fresh = RegimeState(Regime.QUIET, stable=True, since_ts=NOW - 30, observed_ts=NOW - 4.0)
    assert reason(decide(regime=just_fresh)) is None


@pytest.mark.parametrize("regime", [Regime.TRENDING, Regime.CHAOTIC, Regime.NOISE, Regime.UNKNOWN])
def test_disallowed_regimes_refuse(regime: Regime) -> None:
    state = RegimeState(regime, stable=True, since_ts=NOW - 30, observed_ts=NOW)
    assert reason(decide(regime=state)) == "regime_disallowed"


def test_regime_stability_windows_required() -> None:
    assert reason(decide(stable_windows=2)) == "regime_unstable"
    assert reason(decide(stable_windows=3)) is None


def test_first_failing_check_is_reported() -> None:
    # Several checks fail at once: the order of the module docstring decides which one is named.
    assert reason(decide(active={T}, balance_open=False, regime=None)) == "already_active"
    assert reason(decide(balance_open=False, account=AccountSnapshot(10**9, {T: 100}))) == "low_balance"


def test_limits_from_config_defaults() -> None:
    limits = SpawnLimits.from_config(VolatilityMMConfig(), regime_max_age_s=4.0)
    assert limits.max_concurrent_sessions == 3
    assert limits.max_resting_order_value_e4 == 10_000 * 10_000
    assert limits.allowed_regimes == frozenset({"MEAN_REVERTING", "QUIET"})
    assert limits.require_regime_stability == 3
    assert limits.start_delay_s == 5.0
    assert limits.disallow_open_positions is True


# --- balance hysteresis -----------------------------------------------------------------------------------


def test_balance_gate_hysteresis() -> None:
    gate = BalanceGate(min_balance_e4=1_000_000, ratio=0.85)  # $100 closes, $117.65 reopens
    assert gate.reopen_e4 == 1_176_471
    assert gate.update(1_000_000) is True  # exactly the minimum is enough
    assert gate.update(999_999) is False
    assert gate.threshold_e4 == 1_176_471
    assert gate.update(1_100_000) is False  # above the minimum but below the re-enable level: still closed
    assert gate.update(None) is False  # unknown balance keeps the state
    assert gate.update(1_176_471) is True
    assert gate.update(1_050_000) is True  # open again: only the minimum closes it
    assert gate.threshold_e4 == 1_000_000


def test_balance_gate_ratio_one_has_no_band() -> None:
    gate = BalanceGate(500, 1.0)
    assert gate.update(499) is False
    assert gate.update(500) is True


def test_balance_gate_rejects_bad_ratio() -> None:
    with pytest.raises(ValueError):
        BalanceGate(500, 0.0)


# --- regime stability -------------------------------------------------------------------------------------


def state(regime: Regime, ts: float, stable: bool = True) -> RegimeState:
    return RegimeState(regime, stable, since_ts=0.0, observed_ts=ts)


def test_stability_counts_new_windows_only() -> None:
    counter = StabilityCounter()
    assert counter.observe(T, state(Regime.QUIET, 1.0)) == 1
    assert counter.observe(T, state(Regime.QUIET, 1.0)) == 1  # same window seen twice
    assert counter.observe(T, state(Regime.QUIET, 4.0)) == 2
    assert counter.observe(T, state(Regime.QUIET, 7.0)) == 3


def test_stability_resets_on_change_unstable_or_missing() -> None:
    counter = StabilityCounter()
    counter.observe(T, state(Regime.QUIET, 1.0))
    counter.observe(T, state(Regime.QUIET, 2.0))
    assert counter.observe(T, state(Regime.MEAN_REVERTING, 3.0)) == 1
    assert counter.observe(T, state(Regime.MEAN_REVERTING, 4.0, stable=False)) == 0
    assert counter.observe(T, state(Regime.MEAN_REVERTING, 5.0)) == 1
    assert counter.observe(T, None) == 0
    counter.observe(T, state(Regime.QUIET, 6.0))
    counter.forget(T)
    assert counter.observe(T, state(Regime.QUIET, 7.0)) == 1


# --- resting order value ----------------------------------------------------------------------------------


@dataclass
class FakeOrder:
    side: str
    price_e4: int
    remaining_count_e2: int
    is_resting: bool = True


def test_resting_order_value_counts_collateral_per_side() -> None:
    orders = [
        FakeOrder("bid", 4_000, 300),  # buys 3 YES at $0.40: $1.20
        FakeOrder("ask", 4_000, 200),  # sells 2 YES at $0.40 ≡ buys NO at $0.60: $1.20
        FakeOrder("bid", 9_000, 500, is_resting=False),  # executed/cancelled: nothing locked
    ]
    assert resting_order_value_e4(orders) == 12_000 + 12_000


# --- manager kill rules (fake runtime and sessions) -------------------------------------------------------


class FakeMM:
    """The part of AvellanedaMarketMaker the kill rules touch."""

    def __init__(self, ticker: str) -> None:
        self.ticker, self.side = ticker, "yes"
        self.stops: list[bool] = []

    def request_stop(self, *, hard: bool = False) -> None:
        self.stops.append(hard)


class FakePositionsAPI:
    def __init__(self, position_e2: int) -> None:
        self.position_e2 = position_e2

    def get_position(self, ticker: str) -> Any:
        return SimpleNamespace(ticker=ticker, position_e2=self.position_e2)


class NotDone:
    def done(self) -> bool:
        return False


def make_manager(regime: RegimeState | None, position_e2: int = 0, **vmm: Any) -> tuple[VolatilityMMManager, FakeMM]:
    data: dict[str, Any] = {"volatility_mm": vmm} if vmm else {}
    cfg = validate_config(data, source="test")
    rt = SimpleNamespace(cfg=cfg, clock=SimClock(start=NOW), api=FakePositionsAPI(position_e2))
    manager = VolatilityMMManager(cast(Runtime, rt), make_config=lambda *_: None, regime_of=lambda _t: regime)  # type: ignore[arg-type,return-value]
    mm = FakeMM(T)
    session = VolatilitySession(cast(Any, mm), cast(Any, NotDone()), cast(Any, None), 1, 1, 1, logging.getLogger("t"))
    manager._running[T] = session
    return manager, mm


def test_stale_regime_hard_kills() -> None:
    # regime_stale_kill_seconds is 15 by default: 5 s old data only freezes the session's quotes (its regime feed).
    manager, mm = make_manager(RegimeState(Regime.QUIET, True, NOW - 60, NOW - 5))
    manager.tick()
    assert mm.stops == []
    manager, mm = make_manager(RegimeState(Regime.QUIET, True, NOW - 60, NOW - 16))
    manager.tick()
    assert mm.stops == [True] and manager.running[T].kill_reason == "regime_stale"


def test_fresh_good_regime_keeps_running() -> None:
    manager, mm = make_manager(RegimeState(Regime.QUIET, True, NOW - 60, NOW))
    manager.tick()
    assert mm.stops == []


def test_trending_soft_kill_only_with_adverse_selection() -> None:
    trending = RegimeState(Regime.TRENDING, True, NOW - 10, NOW)
    manager, mm = make_manager(trending, position_e2=0)
    manager.tick()
    assert mm.stops == []  # no inventory: not being picked off
    manager, mm = make_manager(trending, position_e2=200)
    manager.tick()
    assert mm.stops == [False] and manager.running[T].kill_reason == "regime_kill:TRENDING"


def test_chaotic_hard_kill_without_adverse_requirement() -> None:
    chaotic = RegimeState(Regime.CHAOTIC, True, NOW - 10, NOW)
    manager, mm = make_manager(chaotic, position_e2=0, regime_kill={"require_adverse_selection": False})
    manager.tick()
    assert mm.stops == [True] and manager.running[T].kill_reason == "regime_kill:CHAOTIC"


def test_soft_stop_escalates_after_max_wait() -> None:
    manager, mm = make_manager(RegimeState(Regime.QUIET, True, NOW - 60, NOW), soft_exit_max_wait_seconds=20)
    clock = cast(SimClock, manager._rt.clock)
    manager.on_ended(VolatilityEndedEvent(T, NOW, "sigma low"))
    manager.tick()
    assert mm.stops == [False]
    clock.advance(29.0)
    manager._regime_of = lambda _t: RegimeState(Regime.QUIET, True, NOW - 60, clock.time())
    manager.tick()
    assert mm.stops == [False]
    clock.advance(2.0)
    manager._regime_of = lambda _t: RegimeState(Regime.QUIET, True, NOW - 60, clock.time())
    manager.tick()
    assert mm.stops == [False, True]
    assert manager.running[T].kill_reason.startswith("volatility_ended: sigma low -> soft_exit_timeout")
