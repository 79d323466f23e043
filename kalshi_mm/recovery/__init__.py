"""Restart recovery and the running reconciliation (issue #9 §3).

* :mod:`~kalshi_mm.recovery.plan` — pure decisions: orphan orders, pending order intents, fills to import,
  position differences.
* :mod:`~kalshi_mm.recovery.startup` — the start-up recovery, once per process before the first quote.
* :mod:`~kalshi_mm.recovery.drift` — the in-memory position ledger and the drift confirmer.
* :mod:`~kalshi_mm.recovery.monitor` — the drift check thread and the claim deadline of adopted orders;
  :func:`~kalshi_mm.recovery.monitor.start_recovery` is what ``Runtime.start`` calls.
* :mod:`~kalshi_mm.recovery.cancel` — cancel orders and confirm (also ``runner.py cancel-all``).
"""
