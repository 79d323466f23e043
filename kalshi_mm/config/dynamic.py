"""``generate_config_for_market``: a scored market -> a validated per-market strategy config (pure, seed §3.5).

Sizing, in order (money in 1/10,000 dollar, counts in 1/100 contract, whole contracts only):

1. liquidity L = the visible book (best levels + next N) valued at the mid, dollars.
2. raw exposure = alpha · √L dollars; budget = min(raw, risk.per_market_cap, global_risk_budget / active
   markets, the category's cap).
3. haircuts multiply the budget: extreme band (soft_extreme_factor / hard_extreme_factor), the category
   profile's max_position_factor (per regime) and, past ``long_dated_penalty_days``, long_dated_penalty_factor.
4. max position = budget / worst loss per contract (the side's price when only buying, 1 − price when only
   selling, the larger of the two when quoting both sides), rounded down to whole contracts; in volatility mode
   also capped at ``volatility_mm.max_position_contracts``. Order size = position_limit_buffer · max position,
   at least one contract.

γ and k are ``as_model.base_gamma`` and the category's k, times ``regimes.gamma_multipliers`` /
``k_multipliers`` of ``regime`` when one is given (a regime name the config does not list is refused).

σ is in dollars per √hour: the market's estimate, blended with an event σ by the profile's ``sigma_blend``
(0 on a price jump ≥ ``volatility_mm.jump_magnitude_threshold``), then clamped to [sigma_floor, sigma_cap].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from kalshi_mm.config.sections_trading import ProfileParams
from kalshi_mm.config.settings import AppConfig
from kalshi_mm.discovery.models import ScoredMarket
from kalshi_mm.units import ONE_DOLLAR, format_dollars

__all__ = ["DynamicConfigError", "MarketStrategyConfig", "generate_config_for_market", "inventory_skew_factor"]

Side = Literal["yes", "no"]
OneSided = Literal["bid", "ask"] | None
_CONTRACT_E2 = 100
_DAY_S = 86_400.0


class DynamicConfigError(Exception):
    """No valid config exists for ``ticker``; ``reason`` says why (logged and stored, the market is skipped)."""

    def __init__(self, ticker: str, reason: str):
        super().__init__(f"{ticker}: {reason}")
        self.ticker = ticker
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MarketStrategyConfig:
    """Per-market, per-side quoting parameters. ``risk_budget_e4``: dollar exposure limit (1/10,000 $);
    ``max_position_e2`` / ``order_size_e2``: 1/100 contract; ``one_sided``: which of our side's book sides we
    quote when only one (None: both); ``k`` per $ of distance, ``sigma`` $/√hour, ``gamma`` per $; spreads in
    1/10,000 $; ``inventory_skew_factor``: fraction of the max spread the quotes shift per contract held."""

    ticker: str
    side: Side
    category: str
    profile: str
    risk_budget_e4: int
    max_position_e2: int
    order_size_e2: int
    one_sided: OneSided
    k: float
    sigma: float
    gamma: float
    min_total_spread_e4: int
    max_total_spread_e4: int
    inventory_skew_factor: float
    band: Literal["normal", "soft", "hard"]
    long_dated_haircut_applied: bool
    reasons: tuple[str, ...]

    def __post_init__(self) -> None:
        problems = []
        if self.side not in ("yes", "no"):
            problems.append(f"side {self.side!r} is not yes/no")
        if self.one_sided not in (None, "bid", "ask"):
            problems.append(f"one_sided {self.one_sided!r} is not None/bid/ask")
        if self.band not in ("normal", "soft", "hard"):
            problems.append(f"band {self.band!r} is not normal/soft/hard")
        if self.risk_budget_e4 <= 0:
            problems.append(f"risk_budget_e4 {self.risk_budget_e4} ≤ 0")
        if self.max_position_e2 < _CONTRACT_E2 or self.max_position_e2 % _CONTRACT_E2:
            problems.append(f"max_position_e2 {self.max_position_e2} is not a whole number ≥ 1 of contracts")
        if not _CONTRACT_E2 <= self.order_size_e2 <= max(self.max_position_e2, _CONTRACT_E2):
            problems.append(f"order_size_e2 {self.order_size_e2} outside [1 contract, max_position]")
        if not 0 < self.min_total_spread_e4 <= self.max_total_spread_e4 < ONE_DOLLAR:
            problems.append(f"spreads {self.min_total_spread_e4}..{self.max_total_spread_e4} not 0 < min ≤ max < $1")
        for name in ("k", "sigma", "gamma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                problems.append(f"{name} {value!r} is not a positive finite number")
        if not (math.isfinite(self.inventory_skew_factor) and 0 <= self.inventory_skew_factor <= 1):
            problems.append(f"inventory_skew_factor {self.inventory_skew_factor!r} outside [0, 1]")
        if problems:
            raise ValueError(f"invalid MarketStrategyConfig for {self.ticker}: " + "; ".join(problems))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (ints stay exact; ``reasons`` as a list) for the analytics DB."""
        out = asdict(self)
        out["reasons"] = list(self.reasons)
        return out


def inventory_skew_factor(liquidity_e4: int, max_position_e2: int, reference_liquidity_e4: int) -> float:
    """How hard to lean quotes against inventory: the fraction of the max spread the quotes move per contract
    held, ``thinness / max_position_contracts`` with ``thinness = L_ref / (L_ref + L)`` in (0, 1].

    A thin book (small L) is slow to trade out of, so skew harder; a larger position limit spreads the same
    total lean over more contracts, so at the limit the lean is ``thinness`` × the max spread.
    """
    thinness = reference_liquidity_e4 / (reference_liquidity_e4 + max(0, liquidity_e4))
    return min(1.0, thinness / (max_position_e2 / _CONTRACT_E2))


def _blend_sigma(
    estimated: float, event: float | None, jump_e4: int | None, params: ProfileParams, config: AppConfig
) -> tuple[float, str]:
    vm = config.volatility_mm
    if event is None:
        blended, how = estimated, "no event σ"
    else:
        jumped = jump_e4 is not None and abs(jump_e4) >= vm.jump_magnitude_threshold_e4
        # A jump explodes realised σ without the market being any more tradable; trusting it would shrink spreads.
        weight = 0.0 if jumped else params.sigma_blend
        blended = (1.0 - weight) * estimated + weight * event
        how = f"blend weight {weight:g}" + (" (jump)" if jumped else "")
    final = min(max(blended, vm.sigma_floor), vm.sigma_cap)
    return final, f"sigma {final:.4f} $/√h ({how}, clamped to [{vm.sigma_floor:g}, {vm.sigma_cap:g}])"


def generate_config_for_market(
    scored: ScoredMarket,
    side: Side,
    config: AppConfig,
    *,
    active_markets: int,
    regime: str | None = None,
    event_sigma: float | None = None,
    jump_magnitude_e4: int | None = None,
    mode: Literal["discovery", "volatility"] | None = None,
) -> MarketStrategyConfig:
    """Config for quoting ``side`` of ``scored``'s market; raise :class:`DynamicConfigError` when none is valid.

    ``active_markets`` shares the global budget; ``regime`` picks the profile's regime overrides; ``event_sigma``
    ($/√h) and ``jump_magnitude_e4`` come from a volatility event; ``mode`` (default ``config.mode``) decides
    whether a hard-extreme price is skipped (discovery) or quoted one-sided (volatility).
    """
    cand = scored.candidate
    m = cand.metrics
    mode = mode or config.mode
    ticker = cand.ticker

    def fail(reason: str) -> DynamicConfigError:
        return DynamicConfigError(ticker, reason)

    if active_markets < 1:
        raise fail(f"active_markets must be ≥ 1 (got {active_markets})")
    profile_name = config.profile_name(cand.category)
    params = config.category_profiles[profile_name].for_regime(regime or "")
    if params.exclude:
        raise fail(f"profile {profile_name} excludes category {cand.category} (regime {regime or 'none'})")
    reasons = [f"category {cand.category} -> profile {profile_name}" + (f" ({regime})" if regime else "")]

    # Bands are symmetric, so classifying our side's own price gives the same band as the YES mid.
    price_e4 = m.mid_e4 if side == "yes" else ONE_DOLLAR - m.mid_e4
    ep = config.extreme_prices
    band = ep.classify(price_e4)
    one_sided: OneSided = None
    if band == "hard":
        if mode == "discovery" or not ep.hard_extreme_one_sided:
            raise fail(f"hard extreme price {format_dollars(price_e4)} (skipped in {mode} mode)")
        # Cheap contracts can only be bought safely; expensive ones only sold (seed: "the safe side").
        one_sided = "bid" if price_e4 < ONE_DOLLAR // 2 else "ask"

    risk = config.risk
    liquidity_e4 = m.book_value_e4
    raw_e4 = math.floor(risk.alpha * math.sqrt(liquidity_e4 / ONE_DOLLAR) * ONE_DOLLAR)
    caps = {
        "alpha·√liquidity": raw_e4,
        "per-market cap": risk.per_market_cap,
        f"global budget / {active_markets}": risk.global_risk_budget // active_markets,
        f"{cand.category} cap": risk.category_cap_for(cand.category),
    }
    binding = min(caps, key=lambda name: caps[name])
    budget_e4 = caps[binding]
    reasons.append(f"budget ${format_dollars(budget_e4)} = min({binding}; liquidity ${format_dollars(liquidity_e4)})")

    factor = 1.0
    if band == "soft":
        factor *= ep.soft_extreme_factor
        reasons.append(f"soft extreme price {format_dollars(price_e4)}: × {ep.soft_extreme_factor:g}")
    elif band == "hard":
        factor *= ep.hard_extreme_factor
        reasons.append(f"hard extreme price {format_dollars(price_e4)}: × {ep.hard_extreme_factor:g}, {one_sided} only")
    if params.max_position_factor < 1.0:
        factor *= params.max_position_factor
        reasons.append(f"profile max_position_factor × {params.max_position_factor:g}")
    long_dated = m.time_to_expiry_s > risk.long_dated_penalty_days * _DAY_S
    if long_dated:
        factor *= risk.long_dated_penalty_factor
        reasons.append(
            f"long-dated ({m.time_to_expiry_days:.1f} d > {risk.long_dated_penalty_days:g} d): "
            f"× {risk.long_dated_penalty_factor:g}"
        )
    budget_e4 = math.floor(budget_e4 * factor)
    if budget_e4 <= 0:
        raise fail(f"zero risk budget (liquidity ${format_dollars(liquidity_e4)}, factor {factor:g})")

    buy_loss, sell_loss = price_e4, ONE_DOLLAR - price_e4
    worst_loss = {"bid": buy_loss, "ask": sell_loss}.get(one_sided or "", max(buy_loss, sell_loss))
    contracts = budget_e4 // worst_loss
    if mode == "volatility":
        contracts = min(contracts, math.floor(config.volatility_mm.max_position_contracts))
    if contracts < 1:
        raise fail(f"budget ${format_dollars(budget_e4)} buys less than one contract (worst loss {worst_loss})")
    max_position_e2 = contracts * _CONTRACT_E2
    order_size_e2 = max(1, math.floor(contracts * risk.position_limit_buffer)) * _CONTRACT_E2
    reasons.append(f"max position {contracts} contracts, order size {order_size_e2 // _CONTRACT_E2}")

    gamma, k = config.as_model.base_gamma, config.as_model.k_for(cand.category)
    if regime:
        gamma_x, k_x = config.regimes.gamma_multipliers.get(regime), config.regimes.k_multipliers.get(regime)
        if gamma_x is None or k_x is None:
            raise fail(f"regime {regime!r} has no gamma/k multiplier in the config")
        gamma, k = gamma * gamma_x, k * k_x
        reasons.append(f"regime {regime}: gamma × {gamma_x:g}, k × {k_x:g}")

    sigma, sigma_reason = _blend_sigma(m.sigma, event_sigma, jump_magnitude_e4, params, config)
    reasons.append(sigma_reason + (" [proxy]" if m.sigma_is_proxy else ""))
    # Liquidity at which alpha·√L reaches the per-market cap: the book size the caps were designed around.
    reference_e4 = math.ceil((risk.per_market_cap / ONE_DOLLAR / risk.alpha) ** 2 * ONE_DOLLAR)
    return MarketStrategyConfig(
        ticker=ticker,
        side=side,
        category=cand.category,
        profile=profile_name,
        risk_budget_e4=budget_e4,
        max_position_e2=max_position_e2,
        order_size_e2=order_size_e2,
        one_sided=one_sided,
        k=k,
        sigma=sigma,
        gamma=gamma,
        min_total_spread_e4=params.spread_tight,
        max_total_spread_e4=params.spread_wide,
        inventory_skew_factor=inventory_skew_factor(liquidity_e4, max_position_e2, reference_e4),
        band=band,
        long_dated_haircut_applied=long_dated,
        reasons=tuple(reasons),
    )
