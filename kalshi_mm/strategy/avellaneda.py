"""The quoting engine's public face: AS and GLFT math, binary-contract risk, estimators and the order-turning step.

Pure: no I/O, no clock, no logging. The pieces live in :mod:`~kalshi_mm.strategy.quote_models` (float model math),
:mod:`~kalshi_mm.strategy.estimators` (σ, k, A from data) and :mod:`~kalshi_mm.strategy.quoting` (model prices →
orders on the grid, in 1/10,000 $ and 1/100 contract); this module re-exports them so callers import one place.
Throttles are in :mod:`~kalshi_mm.strategy.throttling`.
"""

from __future__ import annotations

from kalshi_mm.strategy.estimators import (
    FillIntensityTable,
    IntensityEstimate,
    SigmaEstimate,
    blend_sigma,
    estimate_logit_sigma,
    fit_intensity,
    logit,
    sigma_proxy_logit,
)
from kalshi_mm.strategy.quote_models import (
    ModelParams,
    as_quotes,
    as_reservation_price,
    as_total_spread,
    binary_ce,
    binary_reservation_prices,
    binary_variance_rate,
    dynamic_gamma,
    glft_base_half_spread,
    glft_offsets,
    glft_quotes,
    glft_skew_coefficient,
    model_prices,
)
from kalshi_mm.strategy.quoting import NoQuote, Quote, QuoteInputs, QuoteParams, Quotes, make_quotes, params_from_config

__all__ = [
    "FillIntensityTable",
    "IntensityEstimate",
    "ModelParams",
    "NoQuote",
    "Quote",
    "QuoteInputs",
    "QuoteParams",
    "Quotes",
    "SigmaEstimate",
    "as_quotes",
    "as_reservation_price",
    "as_total_spread",
    "binary_ce",
    "binary_reservation_prices",
    "binary_variance_rate",
    "blend_sigma",
    "dynamic_gamma",
    "estimate_logit_sigma",
    "fit_intensity",
    "glft_base_half_spread",
    "glft_offsets",
    "glft_quotes",
    "glft_skew_coefficient",
    "logit",
    "make_quotes",
    "model_prices",
    "params_from_config",
    "sigma_proxy_logit",
]
