"""Pure planning of the start-up recovery: what to do with the exchange's state a (re)started daemon finds.

Each function takes plain snapshots (orders, fills, positions as the REST client parsed them; rows the
analytics database holds) and returns decisions; :mod:`kalshi_mm.recovery.startup` performs them. Nothing
here does I/O or reads the clock, so the rules are tested directly (tests/unit/test_recovery_plan.py).

Units: counts in 1/100 contract (``_e2``), signed positions on the YES leg (+ long YES, − long NO), times in
Unix seconds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from kalshi_mm.api.types import BookSide, Fill, Order

__all__ = [
    "OUR_ORDER_PREFIX",
    "IntentResolution",
    "OrphanPlan",
    "OrphanPolicy",
    "PendingIntent",
    "fill_import_since",
    "intent_lookup_windows",
    "is_ours",
    "new_fills",
    "plan_orphans",
    "position_deltas",
    "resolve_intents",
    "signed_count",
]

# Every client_order_id a session hands out starts with its session prefix ``mm-<hash>-``
# (kalshi_mm.strategy.session.session_prefix): orders without it were placed by hand or by another program.
OUR_ORDER_PREFIX = "mm-"

OrphanPolicy = Literal["cancel", "adopt"]
IntentOutcome = Literal["placed", "not_found"]


def is_ours(client_order_id: str | None) -> bool:
    """Whether an order was placed by a kalshi_mm session (of this process or an earlier one)."""
    return bool(client_order_id) and str(client_order_id).startswith(OUR_ORDER_PREFIX)


def signed_count(side: BookSide, count_e2: int) -> int:
    """A fill's effect on the YES-leg position (1/100 contract): a bid buys YES (+), an ask sells YES (−)."""
    return count_e2 if side is BookSide.BID else -count_e2


# --- orphan orders -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrphanPlan:
    """Resting orders split by fate. ``cancel``/``adopt``: ours with no live session (per the policy);
    ``owned``: ours, held by a live session (left to it); ``foreign``: not ours (never touched)."""

    cancel: tuple[Order, ...]
    adopt: tuple[Order, ...]
    owned: tuple[Order, ...]
    foreign: tuple[Order, ...]


def plan_orphans(resting: Iterable[Order], live_prefixes: Collection[str], policy: OrphanPolicy) -> OrphanPlan:
    """Split resting orders: an order is an orphan when its client_order_id carries our prefix but no live
    session's prefix (at start-up no session is live, so every order of ours is an orphan). Orphans are
    cancelled or adopted per ``policy``; orders that are not ours are left alone, like the shutdown sweep does."""
    if policy not in ("cancel", "adopt"):
        raise ValueError(f"orphan policy must be 'cancel' or 'adopt', got {policy!r}")
    live = tuple(live_prefixes)
    orphans: list[Order] = []
    owned: list[Order] = []
    foreign: list[Order] = []
    for order in resting:
        if not is_ours(order.client_order_id):
            foreign.append(order)
        elif live and order.client_order_id.startswith(live):
            owned.append(order)
        else:
            orphans.append(order)
    ordered = tuple(sorted(orphans, key=lambda o: (o.ticker, o.order_id)))
    if policy == "cancel":
        return OrphanPlan(ordered, (), tuple(owned), tuple(foreign))
    return OrphanPlan((), ordered, tuple(owned), tuple(foreign))


# --- order intents ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingIntent:
    """An ``order_intents`` row still 'pending': a create was (maybe) sent and its outcome never recorded."""

    client_order_id: str
    market_ticker: str
    book_side: str  # 'bid' | 'ask'
    price_e4: int
    count_e2: int
    created_ts: float
    run_id: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> PendingIntent:
        run_id = row.get("run_id")
        return cls(
            client_order_id=str(row["client_order_id"]),
            market_ticker=str(row["market_ticker"]),
            book_side=str(row["book_side"]),
            price_e4=int(row["price_e4"]),  # type: ignore[call-overload]
            count_e2=int(row["count_e2"]),  # type: ignore[call-overload]
            created_ts=float(row["created_ts"]),  # type: ignore[arg-type]
            run_id=None if run_id is None else int(run_id),  # type: ignore[call-overload]
        )


@dataclass(frozen=True)
class IntentResolution:
    """What the exchange says about one pending intent: ``placed`` (``order`` is it, in whatever status) or
    ``not_found`` (the create never reached the exchange, or was refused)."""

    intent: PendingIntent
    outcome: IntentOutcome
    order: Order | None = None


def intent_lookup_windows(pending: Iterable[PendingIntent], slack_s: float) -> dict[str, int]:
    """One order listing per market resolves its intents: ticker -> ``min_ts`` (Unix s, whole) from the
    earliest intent on it minus ``slack_s`` (clock skew between us and the exchange)."""
    windows: dict[str, float] = {}
    for intent in pending:
        start = intent.created_ts - slack_s
        windows[intent.market_ticker] = min(windows.get(intent.market_ticker, start), start)
    return {ticker: max(0, int(start)) for ticker, start in sorted(windows.items())}


def resolve_intents(pending: Iterable[PendingIntent], found: Mapping[str, Order]) -> list[IntentResolution]:
    """Each pending intent resolved by the exchange's orders keyed by client_order_id (any status)."""
    out: list[IntentResolution] = []
    for intent in pending:
        order = found.get(intent.client_order_id)
        if order is not None and order.ticker == intent.market_ticker:
            out.append(IntentResolution(intent, "placed", order))
        else:
            out.append(IntentResolution(intent, "not_found"))
    return out


# --- fills -----------------------------------------------------------------------------------------------------


def fill_import_since(last_recorded_ts: float | None, overlap_s: float) -> float:
    """Where the fill import starts (Unix s): ``overlap_s`` before the newest fill the database holds (fills
    stamped just before it may have been logged after it, or lost with the writer's last batch); from the
    beginning (0) when it holds none."""
    if last_recorded_ts is None:
        return 0.0
    return max(0.0, last_recorded_ts - overlap_s)


def new_fills(fills: Iterable[Fill], known_ids: Collection[str]) -> list[Fill]:
    """The fills not yet recorded, each once (deduplicated by fill_id), oldest first."""
    seen = set(known_ids)
    out: list[Fill] = []
    for fill in fills:
        if fill.fill_id in seen:
            continue
        seen.add(fill.fill_id)
        out.append(fill)
    out.sort(key=lambda f: (f.created_ts, f.fill_id))
    return out


# --- positions -------------------------------------------------------------------------------------------------


def position_deltas(
    ours: Mapping[str, int], exchange: Mapping[str, int], tickers: Iterable[str] | None = None
) -> dict[str, int]:
    """Per market, the exchange's position minus ours (1/100 contract), nonzero ones only. ``tickers`` limits
    the comparison (default: every market either side knows); a market missing from a side counts as flat."""
    keys = set(ours) | set(exchange) if tickers is None else set(tickers)
    deltas = {t: exchange.get(t, 0) - ours.get(t, 0) for t in keys}
    return {t: d for t, d in sorted(deltas.items()) if d != 0}
