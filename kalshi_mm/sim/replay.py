"""Recorded top-of-book files for replay: a strict CSV parser into per-ticker tracks of exact prices.

Format (documented for users in README.md, "Replaying recorded markets")::

    timestamp,ticker,yes_bid,yes_ask[,yes_bid_size,yes_ask_size]
    2026-01-05T14:30:00Z,KXREPLAY-CPI-T0.3,47,49,120,80
    1767623415,KXREPLAY-CPI-T0.3,0.475,0.49,,

* The header row is required; the four columns ``timestamp, ticker, yes_bid, yes_ask`` must be there (in any
  order), ``yes_bid_size`` / ``yes_ask_size`` are optional, any other column is an error.
* ``timestamp``: Unix seconds (``1767623400`` or ``1767623400.25``) or RFC 3339 with an offset
  (``2026-01-05T14:30:00Z``, ``2026-01-05T09:30:00.5-05:00``). Rows of one ticker must not go back in time;
  the tickers may interleave.
* Prices: a value with a decimal point is dollars (``0.47``, ``0.4700``, ``0.475``), a bare integer is cents
  (``47``); at most 1/10,000 $; strictly between $0 and $1; an empty cell means that side of the book is empty.
  Bid must be below ask.
* Sizes in contracts (``50``, ``12.5``); empty means :data:`DEFAULT_SIZE_E2`. A size on an empty side must be
  empty or 0.

Every malformed row raises :class:`ReplayError` naming the file, line and column. Prices and sizes are held as
integers (1/10,000 $ and 1/100 contract, see :mod:`kalshi_mm.units`); timestamps are exact decimals until they
become offsets in seconds from the file's first row (times are not money, so offsets are floats).
"""

from __future__ import annotations

import bisect
import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from kalshi_mm.sim.scenario import ScenarioError
from kalshi_mm.units import COUNT_SCALE, ONE_DOLLAR, PriceBand, PriceGrid, UnitError, parse_count, parse_price

__all__ = [
    "DEFAULT_SIZE_E2",
    "REQUIRED_COLUMNS",
    "SIZE_COLUMNS",
    "ReplayError",
    "ReplayFile",
    "ReplayRow",
    "ReplayTrack",
    "grid_for_prices",
    "load_replay",
    "parse_replay",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("timestamp", "ticker", "yes_bid", "yes_ask")
SIZE_COLUMNS: tuple[str, ...] = ("yes_bid_size", "yes_ask_size")
DEFAULT_SIZE_E2 = 50 * COUNT_SCALE  # resting size when the file records no size

_CENTS_RE = re.compile(r"^\d+$")
_UNIX_RE = re.compile(r"^\d+(?:\.\d+)?$")
_RFC3339_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
# Kalshi tickers: upper-case letters, digits and - . _ (e.g. KXBTCD-26JAN0100-T97499.99).
_TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ReplayError(ScenarioError):
    """A replay file is unreadable or malformed: names the file, the line (1 = header) and the column.

    A :class:`~kalshi_mm.sim.scenario.ScenarioError`, so whoever reports a bad scenario reports a bad replay
    file the same way.
    """

    def __init__(self, file: str | Path, line: int | None, column: str | None, message: str):
        where = "" if line is None else f"line {line}" + (f", column {column}" if column else "")
        super().__init__(str(file), [(where, message)])
        self.file = str(file)
        self.line = line
        self.column = column
        self.args = (f"replay file {file}: {where + ': ' if where else ''}{message}",)


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One recorded top of book: ``offset_s`` after the file's first row; prices e4 (None = side empty),
    sizes e2 (0 when the side is empty); ``line`` is the row's line in the file."""

    offset_s: float
    line: int
    yes_bid_e4: int | None
    yes_bid_size_e2: int
    yes_ask_e4: int | None
    yes_ask_size_e2: int

    def mid_p(self) -> float | None:
        """The fair probability this row implies: the mid, or the only side present, or None (model float)."""
        if self.yes_bid_e4 is not None and self.yes_ask_e4 is not None:
            return (self.yes_bid_e4 + self.yes_ask_e4) / (2 * ONE_DOLLAR)
        side = self.yes_bid_e4 if self.yes_bid_e4 is not None else self.yes_ask_e4
        return None if side is None else side / ONE_DOLLAR

    def prices(self) -> tuple[int, ...]:
        """The prices present in this row (e4)."""
        return tuple(p for p in (self.yes_bid_e4, self.yes_ask_e4) if p is not None)


class ReplayTrack:
    """The rows of one ticker, in time order; immutable."""

    __slots__ = ("_mids", "_offsets", "rows", "ticker")

    def __init__(self, ticker: str, rows: Sequence[ReplayRow]):
        if not rows:
            raise ValueError(f"replay track {ticker} has no rows")
        self.ticker = ticker
        self.rows = tuple(rows)
        self._offsets = tuple(r.offset_s for r in self.rows)
        # The fair value each row leaves in force: its mid, else (a row with both sides empty) the last mid
        # before it, else the first mid recorded at all, else 1/2.
        first = next((m for m in (r.mid_p() for r in self.rows) if m is not None), 0.5)
        mids: list[float] = []
        for row in self.rows:
            mid = row.mid_p()
            mids.append(mid if mid is not None else (mids[-1] if mids else first))
        self._mids = tuple(mids)

    @property
    def first(self) -> ReplayRow:
        return self.rows[0]

    @property
    def last(self) -> ReplayRow:
        return self.rows[-1]

    def at(self, offset_s: float, loop_period_s: float | None = None) -> ReplayRow | None:
        """The row in force ``offset_s`` seconds after the file's first row: the last row at or before it.

        None before this ticker's first row. With ``loop_period_s`` the file repeats with that period and,
        from the second pass on, the previous pass's last row stays in force until the ticker's first row.
        """
        i = self._index(offset_s, loop_period_s)
        return None if i is None else self.rows[i]

    def fair_p(self, offset_s: float, loop_period_s: float | None = None) -> float:
        """The fair probability at ``offset_s`` (model float): the mid of the row in force; before the first
        row, the first recorded mid; through rows with both sides empty, the last mid before them."""
        i = self._index(offset_s, loop_period_s)
        return self._mids[0 if i is None else i]

    def _index(self, offset_s: float, loop_period_s: float | None) -> int | None:
        if loop_period_s is not None and loop_period_s > 0 and offset_s >= loop_period_s:
            i = bisect.bisect_right(self._offsets, offset_s % loop_period_s)
            return i - 1 if i else len(self.rows) - 1
        i = bisect.bisect_right(self._offsets, offset_s)
        return i - 1 if i else None

    def __repr__(self) -> str:
        return f"ReplayTrack({self.ticker!r}, {len(self.rows)} rows)"


@dataclass(frozen=True, slots=True)
class ReplayFile:
    """A parsed replay file: one track per ticker (in order of first appearance) and its span in seconds."""

    path: str
    tracks: dict[str, ReplayTrack]
    duration_s: float

    def prices(self) -> Iterable[int]:
        """Every price in the file (e4)."""
        for track in self.tracks.values():
            for row in track.rows:
                yield from row.prices()


def load_replay(path: str | Path) -> ReplayFile:
    """Read and parse a replay CSV file (UTF-8, a leading BOM allowed; see the module doc); raises
    :class:`ReplayError`."""
    try:
        # utf-8-sig: spreadsheets save CSV with a byte-order mark that would otherwise glue onto "timestamp".
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except OSError as exc:
        raise ReplayError(path, None, None, f"cannot read replay file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ReplayError(path, None, None, f"not UTF-8 text ({exc.reason})") from None
    return parse_replay(io.StringIO(text, newline=""), str(path))


def parse_replay(lines: Iterable[str], source: str = "<replay>") -> ReplayFile:
    """Parse replay CSV lines (header first) into a :class:`ReplayFile`; raises :class:`ReplayError`."""
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise ReplayError(source, 1, None, f"empty file: a header row {','.join(REQUIRED_COLUMNS)} is required")
        columns = _columns(header, source, reader.line_num)
        parsed: list[tuple[Decimal, str, ReplayRow]] = []
        last_ts: dict[str, tuple[Decimal, int]] = {}
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines carry nothing (a trailing newline at the end, say)
            row = _Row(cells, columns, source, reader.line_num)
            ts, ticker, record = row.parse()
            previous = last_ts.get(ticker)
            if previous is not None and ts < previous[0]:
                raise ReplayError(
                    source,
                    row.line,
                    row.label("timestamp"),
                    f"time goes backwards for {ticker}: {row.cell('timestamp')} is before line {previous[1]}",
                )
            last_ts[ticker] = (ts, row.line)
            parsed.append((ts, ticker, record))
    except csv.Error as exc:
        raise ReplayError(source, reader.line_num, None, f"malformed CSV: {exc}") from None
    if not parsed:
        raise ReplayError(source, reader.line_num + 1, None, "no data rows after the header")
    start = min(ts for ts, _, _ in parsed)
    by_ticker: dict[str, list[ReplayRow]] = {}
    for ts, ticker, record in parsed:
        offset = float(ts - start)
        by_ticker.setdefault(ticker, []).append(_with_offset(record, offset))
    tracks = {ticker: ReplayTrack(ticker, tuple(rows)) for ticker, rows in by_ticker.items()}
    end = max(ts for ts, _, _ in parsed)
    return ReplayFile(source, tracks, float(end - start))


def grid_for_prices(prices: Iterable[int]) -> tuple[PriceGrid, str]:
    """The coarsest grid holding every price (e4) and its ``price_level_structure`` name: ``linear_cent``
    when all are whole cents, else ``deci_cent`` when all are tenths of a cent, else 1/10,000 $ steps
    (``custom``: Kalshi has no named structure that fine)."""
    values = list(prices)
    if all(p % 100 == 0 for p in values):
        return PriceGrid.linear_cent(), "linear_cent"
    if all(p % 10 == 0 for p in values):
        return PriceGrid.deci_cent(), "deci_cent"
    return PriceGrid([PriceBand(0, ONE_DOLLAR, 1)]), "custom"


# --- internals ------------------------------------------------------------------------------------------------


def _columns(header: Sequence[str], source: str, line: int) -> dict[str, int]:
    names = [cell.strip() for cell in header]
    known = set(REQUIRED_COLUMNS) | set(SIZE_COLUMNS)
    if names and (_UNIX_RE.match(names[0]) or _RFC3339_RE.match(names[0])):
        raise ReplayError(
            source, line, None, f"missing header row: the first line must name the columns {','.join(REQUIRED_COLUMNS)}"
        )
    columns: dict[str, int] = {}
    for i, name in enumerate(names):
        if name not in known:
            raise ReplayError(
                source,
                line,
                f"{i + 1} ({name or 'empty'})",
                f"unknown column {name!r}; columns are {', '.join((*REQUIRED_COLUMNS, *SIZE_COLUMNS))}",
            )
        if name in columns:
            raise ReplayError(source, line, f"{i + 1} ({name})", f"column {name!r} appears twice")
        columns[name] = i
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ReplayError(source, line, None, f"header is missing the column(s) {', '.join(missing)}")
    return columns


class _Row:
    """One data row being parsed: knows its cells, line and how to name a column in an error."""

    def __init__(self, cells: Sequence[str], columns: dict[str, int], source: str, line: int):
        self.cells = cells
        self.columns = columns
        self.source = source
        self.line = line
        if len(cells) != len(columns):
            raise ReplayError(source, line, None, f"expected {len(columns)} fields, got {len(cells)}")

    def label(self, name: str) -> str:
        return f"{self.columns[name] + 1} ({name})"

    def cell(self, name: str) -> str:
        index = self.columns.get(name)
        return "" if index is None else self.cells[index].strip()

    def error(self, name: str, message: str) -> ReplayError:
        return ReplayError(self.source, self.line, self.label(name), message)

    def parse(self) -> tuple[Decimal, str, ReplayRow]:
        ts = self._timestamp()
        ticker = self.cell("ticker")
        if not _TICKER_RE.match(ticker):
            raise self.error("ticker", f"bad ticker {ticker!r}: upper-case letters, digits, '-', '.', '_'")
        bid, bid_size = self._price("yes_bid"), self._size("yes_bid_size")
        ask, ask_size = self._price("yes_ask"), self._size("yes_ask_size")
        if bid is not None and ask is not None and bid >= ask:
            raise self.error("yes_ask", f"bid {self.cell('yes_bid')} is not below ask {self.cell('yes_ask')}")
        bid_size = self._side_size("yes_bid_size", bid, bid_size)
        ask_size = self._side_size("yes_ask_size", ask, ask_size)
        return ts, ticker, ReplayRow(0.0, self.line, bid, bid_size, ask, ask_size)

    def _timestamp(self) -> Decimal:
        text = self.cell("timestamp")
        if _UNIX_RE.match(text):
            return Decimal(text)
        match = _RFC3339_RE.match(text)
        if match is None:
            raise self.error("timestamp", f"bad timestamp {text!r}: Unix seconds or RFC 3339 with an offset")
        date, time, fraction, offset = match.groups()
        try:
            whole = datetime.fromisoformat(f"{date}T{time}{'+00:00' if offset in 'Zz' else offset}")
        except ValueError as exc:
            raise self.error("timestamp", f"bad timestamp {text!r}: {exc}") from None
        # Whole seconds via timedelta division (exact), the fraction kept as a decimal: no float rounding.
        return Decimal((whole - _EPOCH) // timedelta(seconds=1)) + Decimal(fraction or "0")

    def _price(self, name: str) -> int | None:
        text = self.cell(name)
        if not text:
            return None
        if _CENTS_RE.match(text):
            value = int(text) * (ONE_DOLLAR // 100)
            unit = "cents"
        else:
            try:
                value = parse_price(text, name)
            except UnitError as exc:
                raise self.error(name, f"bad price {text!r} ({exc}); cents as a whole number or dollars") from None
            unit = "dollars"
        if not 0 < value < ONE_DOLLAR:
            raise self.error(name, f"price {text!r} (read as {unit}) must lie strictly between $0 and $1")
        return value

    def _size(self, name: str) -> int | None:
        text = self.cell(name)
        if not text:
            return None
        try:
            return parse_count(text, name)
        except UnitError as exc:
            raise self.error(name, f"bad size {text!r} ({exc}); contracts, at most 2 decimals") from None

    def _side_size(self, name: str, price: int | None, size: int | None) -> int:
        if price is None:
            if size:
                raise self.error(name, f"size {self.cell(name)!r} on an empty side")
            return 0
        if size is None:
            return DEFAULT_SIZE_E2
        if size <= 0:
            raise self.error(name, "size must be more than 0 contracts")
        return size


def _with_offset(row: ReplayRow, offset_s: float) -> ReplayRow:
    return ReplayRow(offset_s, row.line, row.yes_bid_e4, row.yes_bid_size_e2, row.yes_ask_e4, row.yes_ask_size_e2)
