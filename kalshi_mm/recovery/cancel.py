"""Cancel resting orders on the exchange and confirm they are gone: the shared core of the start-up orphan
cancel and of ``runner.py cancel-all``.

Orders are cancelled with V2 batch cancels, one batch per market (so sharded markets route by
``market_ticker``), in chunks the REST client sizes to the tier's write bucket; if the exchange refuses the
batch endpoint itself, the orders of that market are cancelled one by one. An order the exchange no longer
has resting (404) is "gone": filled or cancelled meanwhile, which is what we wanted. The exchange is then
re-read until nothing selected is left, within a bounded number of rounds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kalshi_mm.api.errors import ApiError, FatalError, NotFoundError, RejectedError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.types import Order, OrderStatus

__all__ = ["CancelTally", "cancel_orders", "cancel_until_clean"]

log = logging.getLogger("kalshi_mm.recovery.cancel")

Select = Callable[[list[Order]], list[Order]]


@dataclass
class CancelTally:
    """Counts of one cancel run. ``found``: selected orders on the first read; ``cancelled``: ids the exchange
    acknowledged; ``gone``: ids already not resting (404); ``failed``: cancels refused or unanswered;
    ``remaining``: selected orders still resting at the last read (empty = clean); ``rounds``: reads done."""

    found: int = 0
    cancelled: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    remaining: list[Order] = field(default_factory=list)
    rounds: int = 0

    @property
    def clean(self) -> bool:
        return not self.remaining


def _cancel_one_by_one(api: KalshiTradingAPI, orders: Sequence[Order], tally: CancelTally) -> None:
    for order in orders:
        try:
            api.cancel_order(order.order_id, order.ticker)
        except NotFoundError:
            tally.gone.append(order.order_id)
        except FatalError:
            raise
        except ApiError as exc:
            log.warning("cancel of %s on %s failed: %s", order.order_id, order.ticker, exc)
            tally.failed.append(order.order_id)
        else:
            tally.cancelled.append(order.order_id)


def cancel_orders(api: KalshiTradingAPI, orders: Sequence[Order], tally: CancelTally | None = None) -> CancelTally:
    """Cancel ``orders`` (batched per market); the outcome per id is added to ``tally``. Fatal errors raise."""
    tally = tally if tally is not None else CancelTally()
    by_ticker: dict[str, list[Order]] = {}
    for order in orders:
        by_ticker.setdefault(order.ticker, []).append(order)
    for ticker, group in sorted(by_ticker.items()):
        try:
            results = api.batch_cancel_orders([o.order_id for o in group], ticker=ticker)
        except FatalError:
            raise
        except RejectedError as exc:
            log.info("batch cancel refused on %s (%s); cancelling one by one", ticker, exc)
            _cancel_one_by_one(api, group, tally)
            continue
        except ApiError as exc:
            log.warning("batch cancel of %d order(s) on %s failed: %s", len(group), ticker, exc)
            tally.failed.extend(o.order_id for o in group)
            continue
        for item in results:
            if item.error is None:
                tally.cancelled.append(item.order_id)
            elif isinstance(item.error, NotFoundError):
                tally.gone.append(item.order_id)
            else:
                log.warning("cancel of %s on %s refused: %s", item.order_id, ticker, item.error)
                tally.failed.append(item.order_id)
    return tally


def cancel_until_clean(api: KalshiTradingAPI, select: Select, *, attempts: int = 3) -> CancelTally:
    """Read the account's resting orders, cancel those ``select`` picks, and re-read until none of them is
    left or ``attempts`` cancel rounds were spent; the last read fills ``remaining``. A failed read raises
    (the caller cannot claim a clean exchange without one)."""
    if attempts < 1:
        raise ValueError(f"attempts must be ≥ 1, got {attempts}")
    tally = CancelTally()
    chosen = select(api.get_orders(status=OrderStatus.RESTING))
    tally.found, tally.rounds = len(chosen), 1
    for _ in range(attempts):
        if not chosen:
            break
        cancel_orders(api, chosen, tally)
        chosen = select(api.get_orders(status=OrderStatus.RESTING))
        tally.rounds += 1
    tally.remaining = chosen
    return tally
