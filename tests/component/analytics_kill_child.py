"""Child process for the SIGKILL test in test_analytics_db.py (not a test module itself).

Usage: python analytics_kill_child.py DB_PATH. Logs market snapshots in a loop; after each flush() it
prints how many snapshot rows it knows are committed, so the parent can kill it at any moment and check
that nothing acknowledged was lost.
"""

from __future__ import annotations

import sys

from kalshi_mm.analytics import AnalyticsDB
from kalshi_mm.clock import LiveClock

ROWS_PER_ROUND = 250


def main(path: str) -> None:
    db = AnalyticsDB(path, LiveClock(), commit_interval_s=0.02, max_batch_rows=100)
    run_id = db.create_strategy_run(strategy_name="kill-test", market_ticker="KILL-T", trade_side="yes")
    logged = 0
    while True:
        for _ in range(ROWS_PER_ROUND):
            db.log_market_snapshot(
                run_id=run_id, position_e2=logged, yes_bid_e4=4600, yes_ask_e4=4800, computed_bid_e4=4650
            )
            logged += 1
        db.flush()
        print(logged, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
