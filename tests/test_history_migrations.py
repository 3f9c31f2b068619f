"""The store's schema over time, on both engines: the migrations build exactly the tables
the code uses, an older store is upgraded in place with its data (and its trend filled),
and a store newer than the code is refused, never misread."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from scanner.history import migrate, queries, revision
from scanner.history.errors import HistoryError
from scanner.history.location import parse_location
from scanner.history.reader import open_reader
from scanner.history.schema import metadata
from scanner.history.store import make_engine, open_store
from tests import _history
from tests._history import (
    DAY,
    EngineStore,
    daily_fleet,
    stamp,
)

START = datetime.datetime(2026, 11, 1, 8, 0, tzinfo=datetime.timezone.utc)

engine_store = _history.engine_store  # the fixture: each test on both engines


def test_the_migrations_build_the_schema_the_code_uses(engine_store: EngineStore) -> None:
    with open_store(parse_location(engine_store.location)) as store, \
            store.reading() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert engine_store.sql("SELECT version_num FROM alembic_version") == [
        (migrate.head_revision(),)]


def test_the_revision_the_store_is_opened_at_is_alembics_head() -> None:
    """A store at revision.REVISION is read without Alembic: that must be the head."""
    assert migrate.head_revision() == revision.REVISION


def test_a_current_store_is_opened_without_loading_alembic(tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite"
    with open_store(parse_location(str(store))):
        pass
    program = ("import sys; from scanner.history.location import parse_location; "
               "from scanner.history.store import open_store; "
               f"open_store(parse_location({str(store)!r})).close(); "
               "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120, check=True, cwd=Path(__file__).parent.parent)
    assert done.stdout.strip() == "[]"


def test_a_store_of_the_first_migration_is_upgraded_with_its_data(
        engine_store: EngineStore) -> None:
    location = parse_location(engine_store.location)
    documents = daily_fleet(START)
    with open_store(location) as store:
        for document in documents[:3]:
            store.import_document(document, "planted")
        rollups = sorted(engine_store.sql("SELECT scan_id, scan_day, status, severity, "
                                          "results, hosts FROM daily_rollups"))
        with store.writing() as connection:
            migrate.downgrade(connection, "0001")
    # now a store as the first release wrote it: no roll-ups table
    assert engine_store.sql("SELECT version_num FROM alembic_version") == [("0001",)]
    tables = ("SELECT name FROM sqlite_master WHERE type = 'table'"
              if engine_store.engine == "sqlite" else
              "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert ("daily_rollups",) not in engine_store.sql(tables)
    with open_store(location) as store:
        assert engine_store.sql("SELECT version_num FROM alembic_version") == [
            (migrate.head_revision(),)]
        # the trend of the scans stored before the upgrade is filled from their results
        assert sorted(engine_store.sql("SELECT scan_id, scan_day, status, severity, results, "
                                       "hosts FROM daily_rollups")) == rollups
        for document in documents[3:]:
            assert store.import_document(document, "planted").created
        assert store.verify() == []
        with open_reader(store.location) as connection:
            changes = queries.changes_since(connection, stamp(START + 2 * DAY))
    assert {(r[0], r[1]) for r in changes.rows} == {("reopened", "web-01"),
                                                    ("resolved", "web-02")}


def test_openings_are_filled_exactly_for_a_store_that_had_none(
        engine_store: EngineStore) -> None:
    """Migration 0003 dates every episode a store already knew of as its writes would have."""
    location = parse_location(engine_store.location)
    openings = ("SELECT h.name, r.rule_key, o.severity, o.opened_at, o.reopened, o.scan_id "
                "FROM openings o JOIN hosts h ON h.id = o.host_id "
                "JOIN rules r ON r.id = o.rule_id")
    with open_store(location) as store:
        for document in daily_fleet(START):
            store.import_document(document, "planted")
        written = sorted(engine_store.sql(openings))
        with store.writing() as connection:
            migrate.downgrade(connection, "0002")
    assert engine_store.sql("SELECT version_num FROM alembic_version") == [("0002",)]
    with open_store(location):
        pass
    assert sorted(engine_store.sql(openings)) == written
    reopenings = [row for row in written if row[4] in (True, 1, "t")]
    assert [(r[0], r[1], r[3]) for r in reopenings] == [
        ("web-01", "files.shadow-permissions", stamp(START + 3 * DAY))]


def test_the_0004_rollups_are_filled_exactly_for_a_store_that_had_none(
        engine_store: EngineStore) -> None:
    """Migration 0004 fills the per-scan and per scan × rule roll-ups and each episode's
    length as the writes of this version would have; the rule areas, which an older store
    never recorded, come with the next import."""
    location = parse_location(engine_store.location)
    documents = daily_fleet(START)
    filled = {
        "summaries": "SELECT scan_id, started_at, complete, hosts, assessed, results "
                     "FROM scan_summaries",
        "rules": "SELECT scan_id, rule_id, status, results FROM scan_rule_rollups",
        "durations": "SELECT host_id, rule_id, opened_at, duration_s FROM resolutions",
    }
    with open_store(location) as store:
        for document in documents[:4]:
            store.import_document(document, "planted")
        written = {name: sorted(engine_store.sql(query)) for name, query in filled.items()}
        with store.writing() as connection:
            migrate.downgrade(connection, "0003")
    assert engine_store.sql("SELECT version_num FROM alembic_version") == [("0003",)]
    assert written["durations"] and all(int(row[3]) > 0 for row in written["durations"])
    with open_store(location) as store:
        assert {name: sorted(engine_store.sql(query))
                for name, query in filled.items()} == written
        assert engine_store.count("rule_areas") == 0
        store.import_document(documents[4], "planted")
        assert engine_store.count("rule_areas") > 0
        assert store.verify() == []


def test_the_0005_change_counts_are_filled_exactly_for_a_store_that_had_none(
        engine_store: EngineStore) -> None:
    """Each scan's new, reopened and resolved counts, as its write counted them, are what
    migration 0005 counts from the episodes an older store kept."""
    location = parse_location(engine_store.location)
    counts = "SELECT scan_id, opened, reopened, resolved FROM scan_summaries"
    with open_store(location) as store:
        for document in daily_fleet(START):
            store.import_document(document, "planted")
        written = sorted(engine_store.sql(counts))
        with store.writing() as connection:
            migrate.downgrade(connection, "0004")
    assert engine_store.sql("SELECT version_num FROM alembic_version") == [("0004",)]
    # the planted fleet opens, resolves and reopens failures: the counts are not all zero
    assert {column for row in written for column, value in zip(
        ("opened", "reopened", "resolved"), row[1:], strict=True) if value} == {
        "opened", "reopened", "resolved"}
    with open_store(location):
        pass
    assert sorted(engine_store.sql(counts)) == written


def test_an_empty_first_migration_store_is_upgraded(engine_store: EngineStore) -> None:
    location = parse_location(engine_store.location)
    engine = make_engine(location)
    with engine.begin() as connection:
        migrate.upgrade(connection, location.display, target="0001")
    engine.dispose()
    assert engine_store.sql("SELECT version_num FROM alembic_version") == [("0001",)]
    with open_store(location) as store:
        store.import_document(daily_fleet(START)[0], "planted")
    assert engine_store.count("daily_rollups") > 0


def test_a_store_newer_than_the_code_is_refused(engine_store: EngineStore) -> None:
    location = parse_location(engine_store.location)
    with open_store(location) as store:
        store.import_document(daily_fleet(START)[0], "planted")
    engine_store.sql("UPDATE alembic_version SET version_num = '9001'")
    with pytest.raises(HistoryError, match=r"revision 9001, newer than this cii-scan knows "
                                           rf"\(up to {revision.REVISION}\)"):
        open_store(location)
    assert engine_store.sql("SELECT version_num FROM alembic_version") == [("9001",)]
    assert engine_store.count("scans") == 1
