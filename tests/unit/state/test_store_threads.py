"""Thread-safety smoke test: one writer (as the WebSocket thread) and several readers hammering the store.

Readers check that every view they get is internally consistent (sorted, positive sizes, never crossed:
the writer's feed never crosses) and that fills arrive exactly once, in order.
"""

from __future__ import annotations

import random
import threading

from kalshi_mm.api.ws_messages import BookSide, FillMsg, OrderbookDelta, OrderbookSnapshot, TradeMsg
from kalshi_mm.clock import LiveClock
from kalshi_mm.config.sections_infra import WebsocketsConfig
from kalshi_mm.state.store import MarketStateStore

TICKERS = ("A", "B", "C")
N_DELTAS = 20_000
N_FILLS = 2_000


def writer(store: MarketStateStore, clock: LiveClock, done: threading.Event) -> None:
    rng = random.Random(3)
    seq = 0
    shadow: dict[str, dict[BookSide, dict[int, int]]] = {}
    for t in TICKERS:
        seq += 1
        bids = {p: 100 for p in range(4000, 4900, 100)}
        asks = {p: 100 for p in range(5100, 6000, 100)}
        shadow[t] = {BookSide.BID: bids, BookSide.ASK: asks}
        store.apply(OrderbookSnapshot(1, seq, t, None, tuple(sorted(bids.items(), reverse=True)),
                                      tuple(sorted(asks.items())), None, clock.time()))  # fmt: skip
    fills_sent = 0
    for i in range(N_DELTAS):
        t = rng.choice(TICKERS)
        side = rng.choice((BookSide.BID, BookSide.ASK))
        levels = shadow[t][side]
        # Bids stay below 0.50 and asks above, so a consistent book is never crossed.
        price = rng.randrange(4000, 5000, 10) if side is BookSide.BID else rng.randrange(5010, 6000, 10)
        current = levels.get(price, 0)
        size = rng.randint(-current, 200)
        if current + size:
            levels[price] = current + size
        else:
            levels.pop(price, None)
        seq += 1
        store.apply(OrderbookDelta(1, seq, t, side, price, size, None, None, clock.time()))
        if i % 10 == 0 and fills_sent < N_FILLS:
            fill = FillMsg(2, f"f{fills_sent}", "o", None, t, side, False, price, 100, 1, None, None, clock.time())
            store.apply(fill)
            store.apply(fill)  # a replayed duplicate
            store.apply(TradeMsg(3, i, f"t{i}", t, price, 100, side, False, None, clock.time()))
            fills_sent += 1
    done.set()


def reader(
    store: MarketStateStore, done: threading.Event, errors: list[BaseException], seen: list[str], views: list[int]
) -> None:
    cursor = 0
    try:
        while True:
            finished = done.is_set()
            for t in TICKERS:
                view = store.get_orderbook(t)
                if view is not None:
                    views[0] += 1
                    bids, asks = view.to_levels()
                    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
                    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
                    assert all(s > 0 for _, s in bids + asks)
                    assert not view.crossed
                top = store.best_bid_ask(t)
                assert top is None or top.bid_e4 is None or top.ask_e4 is None or top.bid_e4 < top.ask_e4
                for point in store.price_history(t):
                    assert point.bid_e4 is None or point.ask_e4 is None or point.bid_e4 < point.ask_e4
                store.recent_trades(t)
            batch = store.fills_since(cursor)
            assert batch.missed == 0
            seen.extend(f.fill_id for f in batch.fills)
            cursor = batch.cursor
            if finished:
                return
    except BaseException as exc:  # surfaced to the main thread
        errors.append(exc)


def test_one_writer_many_readers() -> None:
    clock = LiveClock()
    store = MarketStateStore(clock, WebsocketsConfig(enabled=True, max_trades_per_ticker=50, max_price_history=200))
    store.set_ws_healthy(True)
    done = threading.Event()
    errors: list[BaseException] = []
    seen: list[list[str]] = [[] for _ in range(4)]
    views = [[0] for _ in range(4)]
    readers = [threading.Thread(target=reader, args=(store, done, errors, seen[i], views[i])) for i in range(4)]
    for r in readers:
        r.start()
    writer(store, clock, done)
    for r in readers:
        r.join(60)
    assert not any(r.is_alive() for r in readers)
    assert errors == []
    assert all(v[0] > 0 for v in views)  # the readers really did read live books
    expected = [f"f{i}" for i in range(N_FILLS)]
    assert all(s == expected for s in seen)  # every reader saw every fill once, in order
    stats = store.stats()
    assert stats["deltas_applied"] == N_DELTAS and stats["books_inconsistent"] == 0
    assert stats["fills_duplicate"] == N_FILLS
    assert [f.fill_id for f in store.drain_fills()] == expected
