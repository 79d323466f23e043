"""The exchange-side kill switch against the embedded exchange: a session's orders live in its own order group;
when the exchange trips the group, the session ends with reason ``order_group_tripped``, a ``risk_events`` row
of kind 'order_group' is written, and the group is deleted at the end."""

from __future__ import annotations

import json
import threading

from kalshi_mm.api.errors import ServerError
from kalshi_mm.api.rest import KalshiTradingAPI
from kalshi_mm.api.ws_types import OrderGroupMsg
from kalshi_mm.sim.model import Side
from kalshi_mm.strategy.session import SessionState

from .conftest import MM_USER, TICKER, Harness


def two_sided_market(h: Harness) -> None:
    h.list_market(TICKER)
    h.lp_quote(TICKER, Side.BID, 4700)
    h.lp_quote(TICKER, Side.ASK, 5300)


def group_events(h: Harness, run_id: int | None) -> list[dict]:
    rows = h.rows("SELECT * FROM risk_events WHERE kind = 'order_group' AND run_id = ?", run_id)
    return [{**r, "detail": json.loads(r["detail"])} for r in rows]


def test_fills_beyond_the_group_limit_trip_it_and_end_the_session(harness: Harness) -> None:
    h = harness
    two_sided_market(h)
    # Max position 10 contracts × 0.2: the group trips once 2 contracts match within 15 s.
    mm = h.session(order_group_limit_multiple=0.2)
    h.start(mm)
    assert mm._group is not None
    group_id = mm._group.group_id
    quotes = h.resting()
    assert len(quotes) == 2 and all(o.order_group_id == group_id for o in quotes)
    assert [g.contracts_limit_e2 for g in h.exchange.order_groups(MM_USER)] == [200]

    bid = next(o for o in quotes if o.side is Side.BID)
    h.take(TICKER, Side.ASK, bid.price_e4, 300)  # 3 contracts: over the limit
    assert h.resting() == []  # the exchange itself cancelled every order of the group

    h.step_until(lambda: mm.state.finished, max_steps=10)  # REST-only: seen when the next create is refused
    assert mm.state is SessionState.DONE and mm.end_reason == "order_group_tripped"
    (run,) = h.rows("SELECT end_reason, final_position_e2 FROM strategy_runs WHERE run_id = ?", mm.run_id)
    assert run == {"end_reason": "order_group_tripped", "final_position_e2": 300}
    (event,) = group_events(h, mm.run_id)
    assert event["rule"] == "triggered" and event["market_ticker"] == TICKER
    assert event["detail"] == {"order_group_id": group_id, "contracts_limit_e2": 200, "source": "create_refused"}
    assert h.exchange.order_groups(MM_USER) == []  # deleted at the end of the session
    recorded = h.rows("SELECT DISTINCT order_group_id FROM orders WHERE run_id = ?", mm.run_id)
    assert recorded == [{"order_group_id": group_id}]
    assert h.resting() == []


def test_a_trip_reported_on_the_websocket_ends_the_session_at_its_next_cycle(harness: Harness) -> None:
    h = harness
    two_sided_market(h)
    mm = h.session(order_group_limit_multiple=3.0)
    h.start(mm)
    assert mm._group is not None and mm._group.group_id is not None
    group_id = mm._group.group_id
    h.exchange.trigger_order_group(MM_USER, group_id)
    # The test plays the WebSocket thread: the order_group_updates message as the client parses it.
    now = h.clock.time()
    h.store.apply(OrderGroupMsg(1, 7, "triggered", group_id, None, int(now * 1000), now))
    before = mm.cycles
    h.step_until(lambda: mm.state.finished, max_steps=3)
    assert mm.end_reason == "order_group_tripped" and mm.cycles <= before + 1
    (event,) = group_events(h, mm.run_id)
    assert event["detail"]["source"] == "order_group_updates"
    assert h.resting() == [] and h.exchange.order_groups(MM_USER) == []


def test_without_a_multiple_no_group_is_created(harness: Harness) -> None:
    h = harness
    two_sided_market(h)
    mm = h.session()  # SessionConfig's default: 0 (the app config sets risk.order_group_limit_multiple)
    h.start(mm)
    assert mm._group is None and h.exchange.order_groups(MM_USER) == []
    assert all(o.order_group_id is None for o in h.resting())


class GroupCreateFailsTwice(KalshiTradingAPI):
    """The real client, but the exchange answers the first two order-group creates with a 503 (as a chaos run saw)."""

    failures = 2

    def create_order_group(self, contracts_limit_e2: int) -> str:
        if self.failures > 0:
            self.failures -= 1
            raise ServerError("POST /portfolio/order_groups/create: 503 injected")
        return super().create_order_group(contracts_limit_e2)


def test_a_transient_failure_to_create_the_group_is_retried_not_fatal(harness: Harness) -> None:
    h = harness
    two_sided_market(h)
    mm = h.session(api=h.client(GroupCreateFailsTwice), order_group_limit_multiple=3)
    h.futures.append(h.pool.submit(mm.run))
    for _ in range(40):  # the retry waits (1 s, then 2 s) pass as the test moves the clock
        if mm.cycles >= 1 or mm.state.finished:
            break
        h.clock.advance(0.5)
        threading.Event().wait(0.05)
    assert mm.state is SessionState.QUOTING
    assert mm._group is not None and mm._group.group_id is not None
    assert [g.group_id for g in h.exchange.order_groups(MM_USER)] == [mm._group.group_id]
    assert all(o.order_group_id == mm._group.group_id for o in h.resting())
    mm.request_stop(hard=True)
    h.finish(mm)
