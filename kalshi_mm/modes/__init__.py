"""Trading modes: each runs its market-making sessions on a started :class:`kalshi_mm.runtime.Runtime`.

``discovery_mode`` (``--mode discovery``) scores markets and market-makes the top ones; the volatility mode is
built by its own issue.
"""
