"""Bring a store to this cii-scan's schema as it is opened (Alembic, run from code).

An older store is upgraded in place, in one transaction, while writers are held off (an
advisory lock on PostgreSQL, the write lock on SQLite), so two processes opening a new
store at once create it once. A store whose revision this code does not know was written
by a newer cii-scan: it is refused, never read with a schema it does not have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, text

from scanner.history.errors import HistoryError

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x43494953  # "CIIS": the PostgreSQL advisory lock migrations take


def script_directory() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def head_revision() -> str:
    head = script_directory().get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, where: str, target: str = "head") -> None:
    """Migrate the store on ``connection`` (inside its transaction) to ``target``."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    script = script_directory()
    found = current_revision(connection)
    if found is not None:
        try:
            script.get_revision(found)
        except CommandError:
            raise HistoryError(where, f"the store is at schema revision {found}, newer than "
                               f"this cii-scan knows (up to {head_revision()}): upgrade "
                               "cii-scan to read it") from None
    _run(connection, script, lambda rev, _ctx: script._upgrade_revs(target, rev))


def downgrade(connection: Connection, target: str) -> None:
    """Take the store back to ``target`` (tests build older stores this way)."""
    script = script_directory()
    _run(connection, script, lambda rev, _ctx: script._downgrade_revs(target, rev))


def _run(connection: Connection, script: ScriptDirectory, step: Any) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with EnvironmentContext(config, script, fn=step) as environment:
        environment.configure(connection=connection, transaction_per_migration=False)
        with environment.begin_transaction():
            environment.run_migrations()
