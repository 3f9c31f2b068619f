"""The store: one interface over SQLite (embedded, the default) and PostgreSQL (a team's).

:func:`open_store` connects and migrates; :class:`Store` writes documents in one
transaction each and hands out read connections to :mod:`.queries`. Every database error
becomes one :class:`HistoryError` line naming the store, so the CLI catches one thing.

SQLite: one file, WAL journal (readers never wait for the writer), foreign keys on, and
every write transaction begins ``IMMEDIATE`` so two processes importing at once queue on
the file lock instead of failing half-way. PostgreSQL: psycopg 3 through libpq, which
finds credentials itself; writers queue on the chain's row lock (see write.py).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from scanner.history import chain as chain_module
from scanner.history.errors import ChainBroken, HistoryError
from scanner.history.location import StoreLocation
from scanner.history.revision import REVISION
from scanner.history.schema import chain, hosts, results, rules, scan_hosts, scans
from scanner.history.write import Imported, findings_digest, write_document
from scanner.lines import split_lines

__all__ = ["Imported", "Pruned", "Store", "findings_digest", "open_store"]

_READ = "cii_scan_read"


@dataclass(frozen=True)
class Pruned:
    """What ``prune`` removed: scans and their results (roll-ups and lifecycles stay)."""

    scans: int
    results: int


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """An open store. Use as a context manager, or call :meth:`close`."""

    def __init__(self, location: StoreLocation, engine: Engine) -> None:
        self.location = location
        self._engine = engine

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Database errors as one line naming the store."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise HistoryError(self.location.display, _first_line(exc)) from None

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction: committed at the end, rolled back on any error."""
        with self.errors(), self._engine.begin() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction: one consistent view of the store, never a write lock."""
        with self.errors(), self._engine.connect() as connection:
            connection = connection.execution_options(**{_READ: True})
            with connection.begin():
                yield connection

    def import_document(self, document: Mapping[str, Any], source: str,
                        digest: str | None = None) -> Imported:
        """Store a validated findings document (``digest``: :func:`findings_digest` of the
        file it was read from); the same document twice is one scan."""
        with self.writing() as connection:
            return write_document(connection, document, source, utc_now(), digest)

    def verify(self) -> list[str]:
        """Every break in the hash chain, worded (empty: the chain holds)."""
        problems: list[str] = []
        with self.reading() as connection:
            ends = connection.execute(select(chain).where(chain.c.id == 1)).mappings().one()
            expected = ends["anchor_digest"]
            kept = 0
            for scan in connection.execute(select(scans).order_by(scans.c.id)).mappings():
                kept += 1
                where = f"scan {scan['id']} ({scan['started_at']})"
                if scan["prev_chain_digest"] != expected:
                    problems.append(f"{where}: follows a chain digest no kept scan has (a "
                                    "scan before it was removed or altered)")
                if _recomputed(connection, dict(scan)) != scan["chain_digest"]:
                    problems.append(f"{where}: its rows do not hash to its chain digest "
                                    "(the scan, a host status or a result was changed)")
                expected = scan["chain_digest"]
            if expected != ends["head_digest"]:
                problems.append("chain: the newest scan is not the chain's head (the newest "
                                "scan was removed or altered)")
            if kept != ends["scans"] - ends["pruned"]:
                problems.append(f"chain: {ends['scans'] - ends['pruned']} scan(s) recorded, "
                                f"{kept} found")
            orphans = connection.execute(
                select(func.count()).select_from(results).where(
                    ~results.c.scan_id.in_(select(scans.c.id)))).scalar_one()
            if orphans:
                problems.append(f"results: {orphans} row(s) belong to no scan (a scan was "
                                "removed)")
        return problems

    def check(self) -> None:
        """:meth:`verify`, raising ChainBroken with the first problem."""
        problems = self.verify()
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ChainBroken(self.location.display, problems[0] + more)

    def prune(self, before: str) -> Pruned:
        """Remove the oldest scans started before ``before`` (a prefix of the chain, so
        what stays still verifies from the new anchor) with their results. Roll-ups,
        lifecycles and resolutions are kept: the trend and the present survive."""
        with self.writing() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(select(chain.c.id).where(chain.c.id == 1).with_for_update())
            first_kept = connection.execute(
                select(func.min(scans.c.id)).where(scans.c.started_at >= before)).scalar()
            doomed = select(scans.c.id).where(scans.c.started_at < before)
            if first_kept is not None:
                doomed = doomed.where(scans.c.id < first_kept)
            ids = [int(i) for i in connection.execute(doomed.order_by(scans.c.id)).scalars()]
            if not ids:
                return Pruned(0, 0)
            anchor = connection.execute(
                select(scans.c.chain_digest).where(scans.c.id == ids[-1])).scalar_one()
            gone = 0
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                gone += connection.execute(
                    delete(results).where(results.c.scan_id.in_(chunk))).rowcount
                connection.execute(delete(scan_hosts).where(scan_hosts.c.scan_id.in_(chunk)))
                connection.execute(delete(scans).where(scans.c.id.in_(chunk)))
            connection.execute(update(chain).where(chain.c.id == 1).values(
                anchor_digest=anchor, pruned=chain.c.pruned + len(ids)))
            return Pruned(len(ids), gone)


def _recomputed(connection: Connection, scan: Mapping[str, Any]) -> str:
    host_lines = [(r.name, r.address, r.port, r.status, bool(r.complete), r.reason,
                   r.hostkey_fingerprint) for r in connection.execute(
        select(hosts.c.name, hosts.c.address, hosts.c.port, scan_hosts.c.status,
               scan_hosts.c.complete, scan_hosts.c.reason, scan_hosts.c.hostkey_fingerprint)
        .join(hosts, hosts.c.id == scan_hosts.c.host_id)
        .where(scan_hosts.c.scan_id == scan["id"]))]
    result_lines = [(r.name, r.address, r.port, r.rule_key, r.status, r.severity,
                     r.evidence_digest, r.waiver) for r in connection.execute(
        select(hosts.c.name, hosts.c.address, hosts.c.port, rules.c.rule_key, results.c.status,
               results.c.severity, results.c.evidence_digest, results.c.waiver)
        .join(hosts, hosts.c.id == results.c.host_id)
        .join(rules, rules.c.id == results.c.rule_id)
        .where(results.c.scan_id == scan["id"]))]
    return chain_module.scan_digest(scan, host_lines, result_lines)


def _first_line(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return (split_lines(text) or ["database error"])[0]


def make_engine(location: StoreLocation) -> Engine:
    """An engine for ``location``, set up as the module docstring says."""
    if location.dialect != "sqlite":
        return create_engine(location.url, poolclass=NullPool)
    path = location.path
    assert path is not None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise HistoryError(str(path.parent), f"cannot create ({exc.strerror or exc})") from None
    if path.is_dir():
        raise HistoryError(str(path), "is a directory, not a store file")
    engine = create_engine(location.url, poolclass=NullPool, connect_args={"timeout": 120})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below
        cursor = dbapi_connection.cursor()
        for pragma in ("PRAGMA foreign_keys = ON", "PRAGMA journal_mode = WAL",
                       "PRAGMA busy_timeout = 120000"):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        read = connection.get_execution_options().get(_READ)
        connection.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    return engine


def stored_revision(connection: Connection) -> str | None:
    """The schema revision the store records (None: a store not yet made), read without
    Alembic, whose import is most of a question's start-up when the store is current."""
    if not connection.dialect.has_table(connection, "alembic_version"):
        return None
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if found is None else str(found)


def open_store(location: StoreLocation) -> Store:
    """Connect to the store at ``location``, creating or upgrading its schema."""
    new = location.path is not None and not location.path.exists()
    engine = make_engine(location)
    store = Store(location, engine)
    try:
        with store.reading() as connection:  # no write lock for a store that is current
            current = stored_revision(connection)
        if current != REVISION:
            from scanner.history import migrate  # Alembic: only to create or upgrade

            with store.writing() as connection:
                migrate.upgrade(connection, location.display)
    except BaseException:
        engine.dispose()
        raise
    if new and location.path is not None:
        os.chmod(location.path, 0o600)  # scans say where a fleet is weak: not for all
    return store
