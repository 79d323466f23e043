"""The ops dashboard in headless Chromium while the daemon trades on the embedded exchange: the page renders its
P&L chart (pixels in the chart's region, not a blank) and its tables (rows for the running sessions).

Chromium is driven by its own command line (``--screenshot``, ``--dump-dom``) with a fresh profile and every
background network feature off; the page itself loads nothing but the daemon's endpoints on 127.0.0.1. The test
is skipped only when no ``chromium`` binary is installed (.ci/run installs Debian's).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from kalshi_mm.clock import LiveClock, SimClock
from kalshi_mm.config.credentials import Credentials, EndpointKind, ExchangeEndpoint
from kalshi_mm.config.settings import config_to_dict, load_config, validate_config
from kalshi_mm.modes.discovery_mode import run_discovery_mode
from kalshi_mm.runtime import Runtime
from kalshi_mm.sim.server import EmbeddedExchange

ROOT = Path(__file__).resolve().parents[2]
REAL = LiveClock()  # waits for the daemon are in real time
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WINDOW = (1280, 1400)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
    # Virtual time: the page's scripts, its refreshes (every 250 ms with ?refresh_ms=250) and their fetches to the
    # daemon run to completion before the capture.
    "--virtual-time-budget=1000",
)
LINE_COLOURS = ((0x0B, 0x8A, 0x4B), (0xC4, 0x32, 0x0A))  # the chart's polyline: P&L ≥ 0 green, < 0 red

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = REAL.monotonic() + timeout_s
    while REAL.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def trading(tmp_path: Path) -> Iterator[Runtime]:
    """A daemon trading discovery mode on the embedded exchange (10× clock) with its ops endpoint on port 0."""
    data = config_to_dict(load_config(ROOT / "config.yaml"))
    data["mode"] = "discovery"
    data["analytics"]["db_path"] = str(tmp_path / "analytics.db")
    data["logging"]["log_dir"] = str(tmp_path / "logs")
    data["websockets"]["enabled"] = True
    data["discovery"]["max_markets_to_trade"] = 3
    data["exchange"]["rate_limit_tier"] = "prime"
    data["ops_http"]["port"] = 0
    cfg = validate_config(data, source="test")
    clock = SimClock(scale=10.0)
    server = EmbeddedExchange(clock, scenario="default", tier="prime").start()
    account = server.create_account("dashboard")
    assert account.private_key is not None
    endpoint = ExchangeEndpoint(EndpointKind.SIM, server.rest_url, server.ws_url)
    rt = Runtime.build(cfg, endpoint, Credentials(account.access_key, account.private_key), clock, exchange=server)
    mode = threading.Thread(target=run_discovery_mode, args=(rt, 600.0), name="mode")
    try:
        rt.start()
        mode.start()
        yield rt
    finally:
        rt.request_stop("test over")
        if mode.is_alive():
            mode.join(30)
        rt.close()
        server.stop()


def run_chromium(tmp_path: Path, *jobs: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Run one Chromium per job (its extra arguments) at once, each with a fresh profile; their results."""
    assert CHROMIUM is not None
    procs = []
    for n, args in enumerate(jobs):
        command = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / f'profile-{n}'}", *args]
        procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


class _Rows(HTMLParser):
    """Text of the ``tr.data-row`` rows of each table (by id) of a DOM dump."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") or "?"
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and a.get("class") == "data-row":
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_dashboard_renders_chart_and_tables(trading: Runtime, tmp_path: Path) -> None:
    rt = trading
    base = rt.ops_url
    assert base is not None

    def quoting() -> list[str]:
        status = requests.get(base + "/status", timeout=5).json()
        return [s["ticker"] for s in status["sessions"] if s["state"] == "quoting"]

    tickers = wait_for("a quoting session", quoting)
    wait_for("three P&L points", lambda: len(requests.get(base + "/api/pnl", timeout=5).json()["points"]) >= 3)

    page = base + "/?refresh_ms=250"
    shot = tmp_path / "dashboard.png"
    dom, taken = run_chromium(tmp_path, ("--dump-dom", page), (f"--screenshot={shot}", page))
    assert dom.returncode == 0, dom.stderr[-2000:]
    rows = _Rows()
    rows.feed(dom.stdout)
    session_rows = rows.tables["sessions"]
    assert {r[0] for r in session_rows} >= set(tickers), session_rows
    assert all(len(r) == 11 for r in session_rows)
    assert {r[0] for r in rows.tables["positions"]} >= set(tickers)
    assert 'id="pnl-line"' in dom.stdout  # the chart's polyline was drawn
    rendered = int(re.search(r'data-rendered="(\d+)"', dom.stdout).group(1))  # type: ignore[union-attr]
    assert rendered >= 2, "the page never refreshed from /status and /api/pnl"
    points = int(re.search(r'data-points="(\d+)"', dom.stdout).group(1))  # type: ignore[union-attr]
    assert points >= 3
    rect = re.search(r'data-chart-rect="(\d+),(\d+),(\d+),(\d+)"', dom.stdout)
    assert rect is not None, "the page did not report where its chart is"
    left, top, width, height = (int(v) for v in rect.groups())
    assert width > 500 and height > 100

    assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == WINDOW
    whole = image.getcolors(maxcolors=1 << 20) or []
    assert len(whole) > 50, "the screenshot is (nearly) a single colour: blank page"

    chart = image.crop((left, top, left + width, top + height))
    colours = chart.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 10, "the chart region is blank"
    line_pixels = sum(
        count
        for count, (r, g, b) in colours
        if any(abs(r - lr) + abs(g - lg) + abs(b - lb) < 60 for lr, lg, lb in LINE_COLOURS)
    )
    assert line_pixels > width, f"only {line_pixels} pixels of the P&L line's colour in the chart"
