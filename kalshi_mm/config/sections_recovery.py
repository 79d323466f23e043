"""Config section ``recovery``: what the daemon does with the exchange's state at start-up, and the running
position drift check (kalshi_mm.recovery)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from kalshi_mm.config.base import ConfigModel

__all__ = ["RecoveryConfig"]


class RecoveryConfig(ConfigModel):
    """Start-up recovery and drift check. Seconds are clock seconds."""

    # Resting orders of ours no session owns at start-up: cancel them, or leave them for the session of their
    # market/side to adopt (cancelled if none claims them within adopt_claim_seconds).
    orphan_orders: Literal["cancel", "adopt"] = "cancel"
    adopt_claim_seconds: float = Field(default=120.0, gt=0)
    # Fills are imported from this long before the newest one the database holds (late-logged or lost ones).
    fill_import_overlap_seconds: float = Field(default=60.0, ge=0)
    # 0 turns the drift check off.
    drift_check_interval_seconds: float = Field(default=30.0, ge=0)
    drift_confirm_checks: PositiveInt = 3
