"""Schema versions of the analytics database and the forward migrations between them.

Version 1 is ``schema.sql`` at the project root. Every later change is a new :class:`Migration`
appended to :data:`MIGRATIONS` with the next number; released steps are never edited. Opening a database
applies all pending steps, in order, inside one ``BEGIN IMMEDIATE`` transaction, so a failing step
leaves the file exactly at its previous version (SQLite DDL is transactional).

The version lives in the ``schema_version`` table (one row per applied step); a database without that
table is version 0 if it is empty, and refused if it already holds other tables (for instance a
database written by the seed project, whose float columns cannot be upgraded in place).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "SCHEMA_PATH",
    "Migration",
    "MigrationError",
    "SchemaVersionError",
    "apply_migrations",
    "current_version",
    "split_sql_statements",
]

# The project root holds schema.sql (also in the Docker image, which copies the whole project dir).
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema.sql"

# STRICT tables (schema.sql) need SQLite 3.37 (2021-11).
MIN_SQLITE_VERSION = (3, 37, 0)


class MigrationError(RuntimeError):
    """A migration step failed or the file cannot be migrated; the database was left unchanged."""


class SchemaVersionError(MigrationError):
    """The database's schema is newer than this code knows; refusing to touch it."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered forward step: SQL text, or a path to a file of SQL text, run statement by statement."""

    version: int
    description: str
    sql: str | Path

    def statements(self) -> list[str]:
        """The step's SQL split into single statements (read from disk if ``sql`` is a path)."""
        if isinstance(self.sql, Path):
            try:
                text = self.sql.read_text(encoding="utf-8")
            except OSError as exc:
                raise MigrationError(f"cannot read migration {self.version} from {self.sql}: {exc}") from exc
        else:
            text = self.sql
        return split_sql_statements(text)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema (schema.sql)", SCHEMA_PATH),
    Migration(2, "safety ledger: order_intents, risk_events", Path(__file__).with_name("schema_v2_safety.sql")),
)
LATEST_VERSION = MIGRATIONS[-1].version


def split_sql_statements(text: str) -> list[str]:
    """Split SQL text into complete statements, honouring quotes, comments and trigger bodies.

    Cuts only at a ``;`` where :func:`sqlite3.complete_statement` says the text so far is complete, so a
    ``;`` inside a string literal or a comment does not end a statement. Trailing text with no statement
    (comments, whitespace) is dropped.
    """
    statements: list[str] = []
    buffer = ""
    for piece in text.split(";")[:-1]:
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if _has_code(buffer):
                statements.append(buffer.strip())
            buffer = ""
    tail = buffer + text.split(";")[-1]
    if _has_code(tail):
        raise MigrationError(f"SQL text ends with an incomplete statement: {tail.strip()[:200]!r}")
    return statements


def _has_code(sql: str) -> bool:
    """True when ``sql`` holds something other than whitespace and ``--`` / ``/* */`` comments."""
    i, n = 0, len(sql)
    while i < n:
        if sql[i].isspace() or sql[i] == ";":
            i += 1
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            return True
    return False


def current_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in ``conn``'s database (0 for an empty database).

    Raises :class:`MigrationError` for a non-empty database without a ``schema_version`` table.
    """
    tables = {
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    }
    if "schema_version" not in tables:
        if tables:
            raise MigrationError(
                "database has tables but no schema_version table (a legacy or foreign database, "
                f"tables: {', '.join(sorted(tables))}); move it aside or point kalshi_mm at a new file"
            )
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def apply_migrations(
    conn: sqlite3.Connection, now_ts: float, migrations: Sequence[Migration] = MIGRATIONS
) -> tuple[int, int]:
    """Bring ``conn``'s database up to the last of ``migrations``; return (version before, version after).

    ``conn`` must be in autocommit mode (``isolation_level=None``): this function owns the transaction.
    ``now_ts`` (Unix seconds) is recorded as each step's ``applied_ts``. Raises
    :class:`SchemaVersionError` when the database is newer than the newest step, and
    :class:`MigrationError` (after rolling back) when a step fails.
    """
    if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
        raise MigrationError(
            f"SQLite {sqlite3.sqlite_version} is too old for the analytics schema (STRICT tables need "
            f"{'.'.join(map(str, MIN_SQLITE_VERSION))} or newer)"
        )
    _check_numbering(migrations)
    latest = migrations[-1].version
    if conn.in_transaction:
        raise MigrationError("apply_migrations needs a connection with no open transaction")
    # IMMEDIATE takes the write lock before reading the version, so two processes opening the same new
    # file cannot both decide to run step 1.
    conn.execute("BEGIN IMMEDIATE")
    try:
        before = current_version(conn)
        if before > latest:
            raise SchemaVersionError(
                f"analytics database is at schema version {before}, newer than version {latest}, the "
                "newest this kalshi_mm knows; upgrade kalshi_mm or use another database file"
            )
        for step in migrations[before:]:
            try:
                for statement in step.statements():
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, applied_ts, description) VALUES (?, ?, ?)",
                    (step.version, now_ts, step.description),
                )
            except sqlite3.Error as exc:
                raise MigrationError(
                    f"migration to schema version {step.version} ({step.description}) failed: {exc}; "
                    f"the database is left at version {before}"
                ) from exc
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return before, latest


def _check_numbering(migrations: Sequence[Migration]) -> None:
    numbers = [m.version for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise MigrationError(f"migrations must be numbered 1..N without gaps, got {numbers}")
