"""Analytics persistence: AnalyticsDB records runs, orders, fills and discovery/volatility sessions.

One writer thread owns the SQLite connection; every other thread only enqueues rows (DESIGN.md §10).
"""

from kalshi_mm.analytics.db import AnalyticsDB
from kalshi_mm.analytics.migrations import LATEST_VERSION, MigrationError, SchemaVersionError
from kalshi_mm.analytics.writer import WriterStats

__all__ = ["LATEST_VERSION", "AnalyticsDB", "MigrationError", "SchemaVersionError", "WriterStats"]
