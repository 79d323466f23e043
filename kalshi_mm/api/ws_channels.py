"""Kalshi WebSocket channel names, the internal names the daemon uses for them, and terminal error codes.

Subscribe commands must use Kalshi's names exactly (``trade``, not ``trades``); the rest of the daemon speaks
the internal names of the seed README (§ "Channel Names"), so the mapping lives here, in one place.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = [
    "CHANNEL_TO_INTERNAL",
    "INTERNAL_TO_CHANNEL",
    "MESSAGE_TYPE_CHANNEL",
    "SEQUENCED_CHANNELS",
    "TERMINAL_ERROR_CODES",
    "internal_channel",
    "kalshi_channel",
]

# Kalshi channel name -> internal name.
CHANNEL_TO_INTERNAL = MappingProxyType(
    {
        "ticker": "ticker",
        "orderbook_delta": "orderbook_delta",
        "trade": "trades",
        "fill": "fills",
        "market_positions": "positions",
        "market_lifecycle_v2": "lifecycle",
        "user_orders": "orders",
        "order_group_updates": "order_groups",
    }
)
INTERNAL_TO_CHANNEL = MappingProxyType({internal: kalshi for kalshi, internal in CHANNEL_TO_INTERNAL.items()})

# Message ``type`` -> the Kalshi channel that carries it (message types are not channel names:
# ``market_position`` arrives on ``market_positions``, ``orderbook_snapshot`` on ``orderbook_delta``).
MESSAGE_TYPE_CHANNEL = MappingProxyType(
    {
        "orderbook_snapshot": "orderbook_delta",
        "orderbook_delta": "orderbook_delta",
        "ticker": "ticker",
        "trade": "trade",
        "fill": "fill",
        "market_position": "market_positions",
        "user_order": "user_orders",
        "order_group_updates": "order_group_updates",
        "market_lifecycle_v2": "market_lifecycle_v2",
        "event_lifecycle": "market_lifecycle_v2",
        "event_fee_update": "market_lifecycle_v2",
    }
)

# Channels whose messages carry a per-sid ``seq`` (NOTES §7.3; AsyncAPI requires seq on their payloads).
SEQUENCED_CHANNELS = frozenset({"orderbook_delta", "trade", "market_lifecycle_v2", "order_group_updates"})

# Channel error (10) and subscription buffer overflow (25) end the subscription: the client must resubscribe.
TERMINAL_ERROR_CODES = frozenset({10, 25})


def internal_channel(kalshi_name: str) -> str:
    """Internal name of a Kalshi channel (``"trade"`` -> ``"trades"``); KeyError names the unknown channel."""
    try:
        return CHANNEL_TO_INTERNAL[kalshi_name]
    except KeyError:
        raise KeyError(f"unknown Kalshi channel {kalshi_name!r}; known: {', '.join(CHANNEL_TO_INTERNAL)}") from None


def kalshi_channel(internal_name: str) -> str:
    """Kalshi's name for an internal channel name (``"trades"`` -> ``"trade"``), for subscribe commands."""
    try:
        return INTERNAL_TO_CHANNEL[internal_name]
    except KeyError:
        raise KeyError(f"unknown internal channel {internal_name!r}; known: {', '.join(INTERNAL_TO_CHANNEL)}") from None
