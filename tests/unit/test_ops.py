"""Pure pieces of the ops endpoint: the P&L book, the session registry, the control access rule, the ops_http
config section, the order counters of the REST transport and the CLI's text layout."""

from __future__ import annotations

import pytest

from kalshi_mm.api.transport import order_counters
from kalshi_mm.api.types import BookSide
from kalshi_mm.api.ws_types import FillMsg
from kalshi_mm.cli.control import default_url, table
from kalshi_mm.clock import SimClock
from kalshi_mm.config.settings import ConfigError, validate_config
from kalshi_mm.ops.health import FAILURE_STREAK_LIMIT, RestHealth
from kalshi_mm.ops.http_server import control_allowed, dashboard_page
from kalshi_mm.ops.pnl import PnlBook
from kalshi_mm.ops.registry import SessionPublisher, SessionRegistry
from kalshi_mm.strategy.legs import BookTop
from kalshi_mm.strategy.order_manager import DesiredOrders

# --- P&L book ----------------------------------------------------------------------------------------------------


def test_round_trip_realizes_the_spread_minus_fees() -> None:
    book = PnlBook()
    book.apply(buy_yes=True, yes_price_e4=4500, count_e2=300, fee_e4=20)  # buy 3 @ 0.45
    assert book.figures(4800).unrealized_pnl_e4 == 900  # 3 × 0.03
    book.apply(buy_yes=False, yes_price_e4=4700, count_e2=300, fee_e4=20)  # sell 3 @ 0.47
    figures = book.figures(None)
    assert (figures.position_e2, figures.realized_pnl_e4, figures.unrealized_pnl_e4, figures.fees_e4) == (0, 560, 0, 40)


def test_average_cost_partial_close_and_flip() -> None:
    book = PnlBook()
    book.apply(buy_yes=False, yes_price_e4=3900, count_e2=100)  # short 1 @ 0.39
    book.apply(buy_yes=False, yes_price_e4=6700, count_e2=100)  # short 2, average 0.53
    book.apply(buy_yes=True, yes_price_e4=5600, count_e2=100)  # buy 1 back @ 0.56: −0.03
    figures = book.figures(7650)
    assert (figures.position_e2, figures.realized_pnl_e4, figures.unrealized_pnl_e4) == (-100, -300, -2350)
    book.apply(buy_yes=True, yes_price_e4=5000, count_e2=300)  # close at 0.50 (+0.03), then long 2 @ 0.50
    figures = book.figures(5100)
    assert (figures.position_e2, figures.realized_pnl_e4, figures.unrealized_pnl_e4) == (200, 0, 200)
    assert book.figures(None).unrealized_pnl_e4 is None  # open position, no mark
    assert figures.total_pnl_e4 == 200


def test_fractional_counts_stay_exact_and_round_down() -> None:
    book = PnlBook()
    book.apply(buy_yes=True, yes_price_e4=3333, count_e2=3)  # 0.03 contract
    book.apply(buy_yes=True, yes_price_e4=3334, count_e2=3)
    book.apply(buy_yes=False, yes_price_e4=3335, count_e2=6)
    # Exact: (3335 − 3333)·0.03 + (3335 − 3334)·0.03 = 0.09 units of 1/10,000 $ → rounds down to 0.
    assert book.realized_e6 == 9 and book.figures(None).realized_pnl_e4 == 0
    book.apply(buy_yes=True, yes_price_e4=5000, count_e2=1, fee_e4=1)
    assert book.figures(None).realized_pnl_e4 == -1  # −0.91 rounds towards −∞
    with pytest.raises(ValueError, match="positive"):
        book.apply(buy_yes=True, yes_price_e4=5000, count_e2=0)


# --- registry ----------------------------------------------------------------------------------------------------


def fill(fill_id: str, side: BookSide, price_e4: int, count_e2: int, fee_e4: int = 0) -> FillMsg:
    return FillMsg(None, fill_id, "o1", None, "KXT", side, False, price_e4, count_e2, fee_e4, None, 1_000_000, 10.0)


def test_registry_follows_a_session_to_its_end() -> None:
    clock = SimClock(start=1000.0)
    registry = SessionRegistry(clock, max_fills=2, sample_s=5.0)
    pub = registry.publisher("KXT", "yes")
    assert [s.state for s in registry.view().active] == ["pending"]

    pub.fills([fill("f1", BookSide.BID, 4000, 200, 10), fill("f2", BookSide.ASK, 4200, 100, 10)])
    desired = DesiredOrders()
    pub.publish("quoting", 100, cycles=3, market=BookTop(4100, 500, 4300, 500), desired=desired)
    view = registry.view()
    [snap] = view.active
    assert (snap.state, snap.inventory_e2, snap.fills, snap.cycles) == ("quoting", 100, 2, 3)
    assert (snap.market_bid_e4, snap.market_ask_e4, snap.bid_e4, snap.ask_e4) == (4100, 4300, None, None)
    assert (snap.realized_pnl_e4, snap.unrealized_pnl_e4) == (180, 200)  # +0.02 − fees; 1 × (0.42 − 0.40)
    assert view.fills_total == 2 and [f.fill_id for f in view.fills] == ["f1", "f2"]
    assert view.by_state == {"quoting": 1} and view.pnl_series[0] == (1000.0, 380)

    clock.advance(10)
    pub.fills([fill("f3", BookSide.ASK, 4300, 100)])
    pub.publish("done", 0, cycles=4, reason="stop_requested")
    pub.publish("quoting", 0, cycles=5)  # a late publish cannot bring a finished session back
    view = registry.view()
    assert view.active == () and [s.state for s in view.finished] == ["done"]
    assert view.finished[0].reason == "stop_requested" and view.realized_pnl_e4 == 180 + 300
    assert view.fills_total == 3 and [f.fill_id for f in view.fills] == ["f2", "f3"]  # bounded to the last 2


def test_pnl_series_thins_instead_of_growing() -> None:
    clock = SimClock(start=0.0)
    registry = SessionRegistry(clock, max_points=8, sample_s=1.0)
    pub = registry.publisher("KXT", "yes")
    for _ in range(100):
        clock.advance(1.0)
        pub.publish("quoting", 0, cycles=1)
    series = registry.view().pnl_series
    assert len(series) <= 8 + 1  # + the current point the view appends
    assert series[0][0] <= 2.0 and series[-1][0] == 100.0  # still spans the whole run


def test_publishers_keep_their_book_and_never_raise() -> None:
    inert = SessionPublisher(None, "KXT", "no")  # no registry: publishes nowhere
    inert.fills([fill("f1", BookSide.BID, 4000, 100)])
    inert.publish("quoting", 1, cycles=1)
    assert inert.book.position_e2 == 100

    registry = SessionRegistry(SimClock())
    pub = registry.publisher("KXT", "yes")
    pub.publish("quoting", 1, cycles=1, market=object(), desired=object())  # type: ignore[arg-type]
    pub.fills([object()])  # type: ignore[list-item]
    assert [s.state for s in registry.view().active] == ["pending"]  # logged and dropped, the session goes on


# --- control access, page, config, transport counters, CLI layout --------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "auth", "token", "status"),
    [
        ("127.0.0.1", None, None, 0),
        ("::1", None, None, 0),
        ("127.8.9.10", None, None, 0),
        ("192.0.2.7", None, None, 403),
        ("::ffff:192.0.2.7", None, None, 403),
        ("not-an-ip", None, None, 403),
        ("127.0.0.1", None, "tok", 401),
        ("127.0.0.1", "Bearer nope", "tok", 401),
        ("192.0.2.7", "Basic tok", "tok", 401),
        ("192.0.2.7", "Bearer tok", "tok", 0),
        ("192.0.2.7", "bearer  tok ", "tok", 0),
    ],
)
def test_control_access_rule(ip: str, auth: str | None, token: str | None, status: int) -> None:
    assert control_allowed(ip, auth, token).status == status


def test_dashboard_embeds_json_that_cannot_close_its_script() -> None:
    page = dashboard_page(b"<script>/*STATUS*/null</script><script>/*PNL*/null</script>", {"m": "</script><b>"}, [])
    assert page == b'<script>{"m":"\\u003c/script\\u003e\\u003cb\\u003e"}</script><script>[]</script>'


def test_ops_http_config_is_checked() -> None:
    cfg = validate_config({}, source="test").ops_http
    assert (cfg.enabled, cfg.bind, cfg.port, cfg.control_token_env) == (
        True,
        "127.0.0.1",
        8790,
        "KALSHI_MM_CONTROL_TOKEN",
    )
    for bind in ("0.0.0.0", "::1", "localhost", "ops.internal"):
        assert validate_config({"ops_http": {"bind": bind, "port": 0}}, source="t").ops_http.bind == bind
    for bad, key in (({"port": 70000}, "ops_http.port"), ({"port": -1}, "ops_http.port"), ({"bind": "no way"}, "bind")):
        with pytest.raises(ConfigError, match=key):
            validate_config({"ops_http": bad}, source="test")


@pytest.mark.parametrize(
    ("method", "path", "counters"),
    [
        ("POST", "/portfolio/events/orders", ("orders_created",)),
        ("DELETE", "/portfolio/events/orders/abc", ("orders_cancelled",)),
        ("POST", "/portfolio/events/orders/abc/amend", ("orders_amended",)),
        ("POST", "/portfolio/events/orders/abc/decrease", ("orders_decreased",)),
        ("POST", "/portfolio/events/orders/batched", ("order_batches_created",)),
        ("DELETE", "/portfolio/events/orders/batched", ("order_batches_cancelled",)),
        ("DELETE", "/portfolio/events/orders", ("cancel_all",)),
        ("GET", "/portfolio/events/orders", ()),
        ("GET", "/portfolio/balance", ()),
    ],
)
def test_order_counters(method: str, path: str, counters: tuple[str, ...]) -> None:
    assert order_counters(method, path) == counters


def test_cli_layout() -> None:
    assert default_url("0.0.0.0", 8790) == "http://127.0.0.1:8790"
    assert default_url("::", 1) == "http://[::1]:1" and default_url("ops.internal", 2) == "http://ops.internal:2"
    assert table(["A", "NUM"], [["x", "1.00"], ["long", "-12.50"]]).splitlines() == [
        "A        NUM",
        "----  ------",
        "x       1.00",
        "long  -12.50",
    ]


def test_rest_health_fails_only_on_a_streak_of_failures_with_no_answer_between() -> None:
    health = RestHealth()
    assert health.check({}) == (True, "")
    assert health.check({"failure_streak": FAILURE_STREAK_LIMIT - 1, "transient": 40})[0]  # stray failures
    ok, detail = health.check({"failure_streak": FAILURE_STREAK_LIMIT})
    assert not ok and detail.startswith(f"the last {FAILURE_STREAK_LIMIT} REST attempt(s) failed")
