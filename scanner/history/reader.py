"""Reading the store through its DB-API driver alone: the path every question takes.

The questions (:mod:`.queries`, :mod:`.report`) are a few small reads each, and what a
user waits for is the whole ``cii-scan history …`` process. Importing SQLAlchemy costs
about 0.3–0.4 s of that on its own, several times the reads themselves, so a question
speaks SQL to ``sqlite3`` or psycopg directly and SQLAlchemy loads only to create or
upgrade a store (:func:`scanner.history.store.open_store`), which is then read the same
way. Writing (imports, prune, the chain's check) stays on SQLAlchemy Core.

The SQL is plain SQL-92 both engines run unchanged, with ``?`` placeholders (rewritten to
psycopg's ``%s``; no statement holds a literal ``?`` or ``%``). A read is one
transaction, so every statement of a question sees the same store: SQLite's deferred
``BEGIN`` (a snapshot from the first read; WAL keeps the writer from waiting) and, on
PostgreSQL, a read-only REPEATABLE READ transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from scanner.history.errors import HistoryError
from scanner.history.location import StoreLocation
from scanner.history.revision import REVISION
from scanner.lines import split_lines

_BUSY_MS = 120_000  # as the writer's: a reader queues behind a schema upgrade


class _Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Reader:
    """One read transaction on a store at the current schema revision."""

    def __init__(self, cursor: _Cursor, placeholder: str) -> None:
        self._cursor = cursor
        self._placeholder = placeholder

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row ``sql`` answers, as tuples."""
        if self._placeholder != "?":
            sql = sql.replace("?", self._placeholder)
        self._cursor.execute(sql, tuple(params))
        return [tuple(row) for row in self._cursor.fetchall()]

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (None: no row)."""
        found = self.rows(sql, params)
        return found[0][0] if found else None


def marks(count: int) -> str:
    """``count`` placeholders for an ``IN (…)`` list: the only text a statement is
    built from, so values never enter the SQL."""
    return ", ".join("?" * count)


@contextmanager
def open_reader(location: StoreLocation) -> Iterator[Reader]:
    """A :class:`Reader` on the store at ``location``; one that does not exist yet or
    was made by an older version is first created or upgraded by the writer's path."""
    errors = _sqlite_errors if location.dialect == "sqlite" else _postgresql_errors
    with errors(location):
        if location.path is not None and not location.path.is_file():
            _prepare(location)  # which says what is wrong with a path that is no file
        for attempt in (1, 2):
            with _transaction(location) as reader:
                if attempt == 2 or _revision(reader, location.dialect) == REVISION:
                    yield reader
                    return
            _prepare(location)


# whether the revision table exists, asked so that no statement fails: a failed one
# would end PostgreSQL's transaction
_HAS_REVISION = {
    "sqlite": "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
              "AND name = 'alembic_version'",
    "postgresql": "SELECT COUNT(*) FROM pg_catalog.pg_class "
                  "WHERE oid = to_regclass('alembic_version')",
}


def _revision(reader: Reader, dialect: str) -> str | None:
    if not reader.value(_HAS_REVISION[dialect]):
        return None  # a file or database no version has made a store of yet
    found = reader.value("SELECT version_num FROM alembic_version")
    return None if found is None else str(found)


def _prepare(location: StoreLocation) -> None:
    """Create or upgrade the store (the writer's path, which loads SQLAlchemy and, for
    an upgrade, Alembic), then let go of it."""
    from scanner.history.store import open_store

    open_store(location).close()


@contextmanager
def _transaction(location: StoreLocation) -> Iterator[Reader]:
    if location.dialect == "sqlite":
        assert location.path is not None
        connection = sqlite3.connect(location.path, timeout=_BUSY_MS / 1000,
                                     isolation_level=None)
        try:
            connection.execute("BEGIN")
            yield Reader(connection.cursor(), "?")
            connection.execute("COMMIT")
        finally:
            connection.close()
        return
    import psycopg

    with psycopg.connect(location.conninfo) as pg:
        pg.read_only = True
        pg.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with pg.cursor() as cursor:
            yield Reader(cursor, "%s")
        pg.rollback()  # read only: nothing to commit


@contextmanager
def _sqlite_errors(location: StoreLocation) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise HistoryError(location.display, _first_line(exc)) from None


@contextmanager
def _postgresql_errors(location: StoreLocation) -> Iterator[None]:
    try:
        import psycopg
    except ImportError:
        raise HistoryError(location.display, "PostgreSQL stores need psycopg: install "
                           "cii-scan[postgresql]") from None
    try:
        yield
    except psycopg.Error as exc:
        raise HistoryError(location.display, _first_line(exc)) from None


def _first_line(exc: Exception) -> str:
    return (split_lines(str(exc).strip()) or ["database error"])[0]
