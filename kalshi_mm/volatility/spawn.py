"""Pure spawn checks of the volatility session manager (seed §3.7): the ordered checks, the balance hysteresis,
regime stability counting and the session config a volatility event gets. No I/O, no clock reads.

See :mod:`kalshi_mm.volatility.manager` for the flow and the order of the checks.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from kalshi_mm.config.sections_volatility import VolatilityMMConfig
from kalshi_mm.config.settings import AppConfig
from kalshi_mm.modes.sessions import MarketConfig, quote_params_for, sigma_baseline_for
from kalshi_mm.runtime import Runtime
from kalshi_mm.strategy.session import SessionConfig
from kalshi_mm.units import COUNT_SCALE, ONE_DOLLAR
from kalshi_mm.volatility.regime import RegimeState, is_stale

# --- pure spawn checks --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spawn:
    """Every check passed: start a session for ``ticker``."""

    ticker: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """A check failed: ``reason`` is its name (see the module docstring), ``detail`` the numbers behind it."""

    ticker: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SpawnLimits:
    """The ``volatility_mm`` settings the spawn checks use; money in 1/10,000 $, times in clock seconds."""

    max_concurrent_sessions: int = 3
    max_resting_order_value_e4: int = 10_000 * ONE_DOLLAR
    disallow_open_positions: bool = True
    allowed_regimes: frozenset[str] = frozenset({"MEAN_REVERTING", "QUIET"})
    require_regime_stability: int = 3
    start_delay_s: float = 5.0
    regime_max_age_s: float = 4.0

    @classmethod
    def from_config(cls, vmm: VolatilityMMConfig, regime_max_age_s: float) -> SpawnLimits:
        """From ``volatility_mm``; ``regime_max_age_s`` is ``volatility_scanner.regime_staleness_seconds``."""
        return cls(
            max_concurrent_sessions=vmm.max_concurrent_sessions,
            max_resting_order_value_e4=vmm.max_resting_order_value,
            disallow_open_positions=vmm.disallow_new_sessions_if_open_positions_exist,
            allowed_regimes=frozenset(str(r) for r in vmm.allowed_regimes_for_sessions),
            require_regime_stability=vmm.require_regime_stability,
            start_delay_s=vmm.delay_before_session_start_seconds,
            regime_max_age_s=regime_max_age_s,
        )


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """What the exchange said about the account: resting value in 1/10,000 $, positions in 1/100 contract."""

    resting_order_value_e4: int
    positions_e2: dict[str, int] = field(default_factory=dict)


class BalanceGate:
    """Available-balance check with hysteresis, so a balance hovering at the minimum does not flap.

    Open while the balance is ≥ ``min_balance_e4``. Once it falls below, it stays closed until the balance is
    back to ``min_balance_e4 / ratio`` (``balance_hysteresis_ratio`` 0.85: $100 closes, $117.65 reopens): the
    minimum times 1/ratio is the re-enable threshold, and sessions that just returned their collateral do not
    immediately re-open the gate only to close it again on the next order.
    """

    def __init__(self, min_balance_e4: int, ratio: float) -> None:
        if not 0 < ratio <= 1:
            raise ValueError(f"balance hysteresis ratio must be in (0, 1], got {ratio}")
        self.min_balance_e4 = min_balance_e4
        self.reopen_e4 = math.ceil(min_balance_e4 / ratio)
        self.open = True

    def update(self, balance_e4: int | None) -> bool:
        """Feed the latest available balance (None: unknown, the gate keeps its state); return whether open."""
        if balance_e4 is None:
            return self.open
        if self.open and balance_e4 < self.min_balance_e4:
            self.open = False
        elif not self.open and balance_e4 >= self.reopen_e4:
            self.open = True
        return self.open

    @property
    def threshold_e4(self) -> int:
        """The balance the gate currently needs: the minimum while open, the re-enable level while closed."""
        return self.min_balance_e4 if self.open else self.reopen_e4


class StabilityCounter:
    """Consecutive regime windows per ticker in which the published regime was stable and unchanged.

    A window is one new classification (``observed_ts`` advanced); seeing the same state twice does not count
    twice. A change of regime, an unstable state or missing data resets the count.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, float, int]] = {}  # ticker -> (regime, observed_ts, count)

    def observe(self, ticker: str, state: RegimeState | None) -> int:
        """Record the ticker's current state; return its count of consecutive stable windows."""
        if state is None or not state.stable:
            self._seen.pop(ticker, None)
            return 0
        regime = str(state.regime)
        prev = self._seen.get(ticker)
        if prev is None or prev[0] != regime:
            count = 1
        elif state.observed_ts > prev[1]:
            count = prev[2] + 1
        else:
            count = prev[2]
        self._seen[ticker] = (regime, state.observed_ts, count)
        return count

    def forget(self, ticker: str) -> None:
        self._seen.pop(ticker, None)


def spawn_decision(
    ticker: str,
    *,
    now: float,
    event_ts: float,
    active: Collection[str],
    limits: SpawnLimits,
    balance_open: bool,
    balance_detail: str = "",
    account: AccountSnapshot | None,
    regime: RegimeState | None,
    stable_windows: int,
) -> Spawn | Refusal:
    """Apply the spawn checks of the module docstring in order; pure (reads no clock, calls nothing).

    ``active``: tickers with a running session. ``balance_open``: the :class:`BalanceGate`'s state.
    ``account``: None when the account could not be read, which refuses (no blind spawning).
    ``stable_windows``: the :class:`StabilityCounter`'s count for ``ticker``.
    """
    if ticker in active:
        return Refusal(ticker, "already_active")
    if len(active) >= limits.max_concurrent_sessions:
        return Refusal(ticker, "max_concurrent", f"{len(active)} of {limits.max_concurrent_sessions} running")
    waited = now - event_ts
    if waited < limits.start_delay_s:
        return Refusal(ticker, "start_delay", f"{waited:.1f} s of {limits.start_delay_s:g} s")
    if not balance_open:
        return Refusal(ticker, "low_balance", balance_detail)
    if account is None:
        return Refusal(ticker, "account_unknown", "balance/orders/positions could not be read")
    if account.resting_order_value_e4 >= limits.max_resting_order_value_e4:
        return Refusal(
            ticker,
            "resting_order_value",
            f"{account.resting_order_value_e4} e4 resting, cap {limits.max_resting_order_value_e4} e4",
        )
    position = account.positions_e2.get(ticker, 0)
    if limits.disallow_open_positions and position != 0:
        return Refusal(ticker, "open_position", f"position {position} e2")
    if regime is None or is_stale(regime, now, limits.regime_max_age_s):
        return Refusal(ticker, "regime_unknown", "no regime" if regime is None else f"observed {regime.observed_ts}")
    if str(regime.regime) not in limits.allowed_regimes:
        return Refusal(ticker, "regime_disallowed", str(regime.regime))
    if stable_windows < limits.require_regime_stability:
        return Refusal(
            ticker, "regime_unstable", f"{stable_windows} of {limits.require_regime_stability} stable windows"
        )
    return Spawn(ticker)


def resting_order_value_e4(orders: Iterable[Any]) -> int:
    """Money locked in resting orders: remaining count × the collateral per contract (1/10,000 $).

    ``price_e4`` is the YES price: a bid (buys YES) locks that price, an ask (sells YES ≡ buys NO) locks
    1 − that price per contract.
    """
    total = 0
    for order in orders:
        if not getattr(order, "is_resting", False):
            continue
        is_bid = getattr(order.side, "value", order.side) == "bid"
        price = order.price_e4 if is_bid else ONE_DOLLAR - order.price_e4
        total += order.remaining_count_e2 * price // COUNT_SCALE
    return total


# --- session config ---------------------------------------------------------------------------------------


def volatility_session_config(
    app: AppConfig,
    rt: Runtime,
    config: MarketConfig,
    *,
    now: float,
    close_ts: float | None,
    mid_e4: int | None,
    ws_enabled: bool,
) -> SessionConfig:
    """The volatility SessionConfig: TTL from ``session_ttl_minutes`` capped by the market close minus the
    danger window (so the TTL exit, which is passive, starts before the hard danger-window stop), the
    volatility ``quote_refresh_seconds`` and guardrails, the generated (max-position 3, category spreads,
    blended σ) quote params. Raises ValueError when no time is left or the quote params are refused."""
    vmm = app.volatility_mm
    ttl = vmm.session_ttl_minutes * 60.0
    if close_ts is not None:
        ttl = min(ttl, close_ts - now - vmm.guardrails.expiration_danger_window_seconds)
    if ttl <= 0:
        raise ValueError(f"market closes too soon ({close_ts} at {now})")
    overrides: dict[str, Any] = {"max_duration_s": ttl, "ws_enabled": ws_enabled}
    if mid_e4 is not None and config.sigma > 0:
        overrides["sigma_baseline"] = sigma_baseline_for(config.sigma, mid_e4, app.as_model.risk_horizon_seconds)
    return SessionConfig.from_app_config(app, quote_params_for(rt, config), **overrides)


# --- the manager ------------------------------------------------------------------------------------------
