"""The history store on both engines: a fleet scanned daily gives the right new /
resolved / reopened / open-age answers, the same on SQLite and PostgreSQL; the chain
catches rows changed and scans removed behind the store's back; imports are idempotent,
atomic and serialised."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.history import chain, queries
from scanner.history.errors import HistoryError
from scanner.history.location import parse_location
from scanner.history.reader import open_reader
from scanner.history.store import Store, open_store
from tests import _history
from tests._history import (
    DAY,
    EngineStore,
    as_json,
    daily_fleet,
    make_store,
    stamp,
)

START = datetime.datetime(2026, 11, 1, 8, 0, tzinfo=datetime.timezone.utc)
NOW = stamp(START + 4 * DAY + datetime.timedelta(hours=1))

engine_store = _history.engine_store  # the fixture: each test on both engines


def _filled(where: EngineStore) -> Store:
    store = open_store(parse_location(where.location))
    for document in daily_fleet(START):
        assert store.import_document(document, "planted").created
    return store


def _answers(store: Store) -> dict[str, Any]:
    """Every question the commands ask, as plain data."""
    with open_reader(store.location) as connection:
        day2 = stamp(START + 2 * DAY)
        answers = {
            "scans": queries.list_scans(connection),
            "host": queries.host_history(connection, "web-01", NOW),
            "rule": queries.rule_history(connection, "files.shadow-permissions"),
            "open": queries.open_failures(connection, NOW),
            "open_high_old": queries.open_failures(connection, NOW, "high", 2 * 86400),
            "mttr": queries.time_to_resolve(connection),
            "stale": queries.stale_hosts(connection, NOW, 1.5),
            "diff_last": queries.changes_since(connection, queries.since_time(connection,
                                                                              None)),
            "diff_day2": queries.changes_since(connection, day2),
            "diff_day0": queries.changes_since(connection, queries.since_time(connection,
                                                                              "1")),
        }
    return {name: [answer.columns, list(answer.rows)] for name, answer in answers.items()}


def test_a_fleet_scanned_daily_gives_the_planted_answers(engine_store: EngineStore) -> None:
    with _filled(engine_store) as store:
        answers = _answers(store)
        assert store.verify() == []
    # the trend's new and reopened per scan: day 0 opens every failure of the fleet, day 1
    # the shadow failure, day 3 its reopening; days 2 and 4 open nothing
    per_scan = engine_store.sql("SELECT scan_id, reopened, COUNT(*) FROM openings "
                                "GROUP BY scan_id, reopened ORDER BY scan_id")
    day0_failing = sum(1 for h in daily_fleet(START)[0]["hosts"] for r in h["results"]
                       if r["status"] in ("fail", "waived"))
    assert [(int(s), str(r) in ("1", "True", "t"), int(n)) for s, r, n in per_scan] == [
        (1, False, day0_failing), (2, False, 1), (4, True, 1)]
    changes_day2 = {(r[0], r[1], r[3]) for r in answers["diff_day2"][1]}
    assert changes_day2 == {("reopened", "web-01", "files.shadow-permissions"),
                            ("resolved", "web-02", "ssh.banner-configured")}
    # since the first scan the shadow failure is new (it first failed on day 1)
    changes_day0 = {(r[0], r[1], r[3]) for r in answers["diff_day0"][1]}
    assert changes_day0 == {("new", "web-01", "files.shadow-permissions"),
                            ("resolved", "web-02", "ssh.banner-configured")}
    assert answers["diff_last"][1] == []  # day 4 changed nothing against day 3
    opened = {(r[0], r[2]): r for r in answers["open"][1]}
    shadow = opened[("web-01", "files.shadow-permissions")]
    assert shadow[4] == stamp(START + 3 * DAY)  # the current episode began on day 3
    assert shadow[5] == 1.0  # open for 1 day 1 hour
    assert shadow[6] == stamp(START + DAY)  # first failed on day 1
    assert shadow[7] == 1  # reopened once
    assert ("web-02", "ssh.banner-configured") not in opened
    assert opened[("web-01", "ssh.banner-configured")][5] == 4.0
    assert opened[("web-01", "ssh.x11-forwarding-disabled")][8] is True  # waived
    assert ("db-02", "accounts.no-empty-passwords") in opened  # still open, host gone
    # high or worse, open more than two days: not the reopened shadow failure
    old_high = {(r[0], r[2]) for r in answers["open_high_old"][1]}
    assert ("web-01", "files.shadow-permissions") not in old_high
    assert ("web-01", "ssh.root-login-disabled") in old_high
    assert ("db-01", "accounts.no-empty-passwords") in old_high
    assert all(r[3] in ("critical", "high") for r in answers["open_high_old"][1])
    mttr = {r[0]: r[1:] for r in answers["mttr"][1]}
    assert mttr["high"][:3] == (1, 1.0, 1.0)
    assert mttr["low"][:3] == (1, 3.0, 3.0)
    assert [r[0] for r in answers["stale"][1]] == ["db-02"]
    rates = [r[6] for r in answers["rule"][1]]
    assert rates == [50.0, 25.0, 66.7, 33.3, 33.3]  # db hosts are error: judged, not passed
    host = {r[1]: r for r in answers["host"][1]}
    assert host["files.shadow-permissions"][4] is True and host["files.shadow-permissions"][8] == 1
    assert host["kernel.aslr-full"][4] is False and host["kernel.aslr-full"][3] == "pass"
    scans = answers["scans"][1]
    assert [r[4] for r in scans] == [4, 4, 3, 3, 3]
    assert scans[1][7] - scans[0][7] == 1  # the planted shadow failure


def test_both_engines_give_the_same_answers(request: pytest.FixtureRequest,
                                            tmp_path: Path) -> None:
    results = []
    for engine in ("sqlite", "postgresql"):
        with _filled(make_store(engine, tmp_path / engine, request)) as store:
            results.append(as_json(_answers(store)))
    assert results[0] == results[1]
    assert '"reopened"' in results[0]  # the answers are not empty


def test_importing_the_same_document_twice_is_one_scan(engine_store: EngineStore) -> None:
    first = daily_fleet(START)[0]
    with open_store(parse_location(engine_store.location)) as store:
        once = store.import_document(first, "a.json")
        again = store.import_document(first, "b.json")
    assert once.created and not again.created and again.scan_id == once.scan_id
    assert engine_store.count("scans") == 1
    assert engine_store.count("results") == once.results


def test_verify_catches_a_result_updated_directly_in_the_database(
        engine_store: EngineStore) -> None:
    with _filled(engine_store) as store:
        assert store.verify() == []
    engine_store.sql("UPDATE results SET status = 'pass' WHERE status = 'fail' AND scan_id = "
                     "(SELECT MIN(id) FROM scans)")
    with open_store(parse_location(engine_store.location)) as store:
        problems = store.verify()
        assert len(problems) == 1 and problems[0].startswith("scan 1 ")
        assert "do not hash" in problems[0]
        with pytest.raises(HistoryError) as caught:
            store.check()
        assert caught.value.exit_code == 1


def test_verify_catches_a_host_status_changed_directly(engine_store: EngineStore) -> None:
    with _filled(engine_store):
        pass
    engine_store.sql("UPDATE scan_hosts SET status = 'scanned', reason = '' WHERE scan_id = 3")
    engine_store.sql("UPDATE hosts SET name = 'web-99' WHERE name = 'web-02'")
    with open_store(parse_location(engine_store.location)) as store:
        problems = store.verify()
    assert len(problems) == 5  # the renamed host was in every scan
    assert all("do not hash" in p for p in problems)


def test_verify_catches_a_scan_deleted_directly(engine_store: EngineStore) -> None:
    with _filled(engine_store):
        pass
    for table in ("results", "scan_hosts"):
        engine_store.sql(f"DELETE FROM {table} WHERE scan_id = 3")
    engine_store.sql("DELETE FROM scans WHERE id = 3")
    with open_store(parse_location(engine_store.location)) as store:
        problems = store.verify()
    assert any(p.startswith("scan 4 ") and "no kept scan" in p for p in problems)
    assert any("4 found" in p for p in problems)


def test_verify_catches_the_newest_scan_deleted(engine_store: EngineStore) -> None:
    with _filled(engine_store):
        pass
    engine_store.sql("DELETE FROM scans WHERE id = 5")  # cascades on both engines
    with open_store(parse_location(engine_store.location)) as store:
        problems = store.verify()
    assert any("chain's head" in p for p in problems)


def test_a_late_insert_failing_leaves_no_half_scan(engine_store: EngineStore) -> None:
    documents = daily_fleet(START)
    with open_store(parse_location(engine_store.location)) as store:
        store.import_document(documents[0], "day0")
    before = {t: engine_store.count(t) for t in ("scans", "results", "scan_hosts", "hosts",
                                                 "lifecycle", "resolutions", "daily_rollups")}
    head = engine_store.sql("SELECT head_digest, scans FROM chain")
    # the roll-up is the last insert of an import: make it fail, in the database itself
    if engine_store.engine == "sqlite":
        engine_store.sql("CREATE TRIGGER planted BEFORE INSERT ON daily_rollups "
                         "BEGIN SELECT RAISE(ABORT, 'planted failure'); END")
    else:
        engine_store.sql("CREATE FUNCTION planted() RETURNS trigger LANGUAGE plpgsql AS "
                         "$$ BEGIN RAISE EXCEPTION 'planted failure'; END $$; "
                         "CREATE TRIGGER planted BEFORE INSERT ON daily_rollups FOR EACH ROW "
                         "EXECUTE FUNCTION planted()")
    with open_store(parse_location(engine_store.location)) as store:
        with pytest.raises(HistoryError, match="planted failure"):
            store.import_document(documents[1], "day1")
        after = {t: engine_store.count(t) for t in before}
        assert after == before
        assert engine_store.sql("SELECT head_digest, scans FROM chain") == head
        assert store.verify() == []
    engine_store.sql("DROP TRIGGER planted" if engine_store.engine == "sqlite"
                     else "DROP TRIGGER planted ON daily_rollups")
    with open_store(parse_location(engine_store.location)) as store:
        assert store.import_document(documents[1], "day1").created
        assert store.verify() == []


def test_an_older_scan_of_a_stored_host_is_refused(engine_store: EngineStore) -> None:
    documents = daily_fleet(START)
    with open_store(parse_location(engine_store.location)) as store:
        store.import_document(documents[1], "day1")
        with pytest.raises(HistoryError, match="oldest first"):
            store.import_document(documents[0], "day0")
    assert engine_store.count("scans") == 1


def test_prune_keeps_the_trend_and_the_present_and_the_chain(engine_store: EngineStore
                                                             ) -> None:
    with _filled(engine_store) as store:
        rollups = engine_store.count("daily_rollups")
        with open_reader(store.location) as connection:
            before = as_json(list(queries.open_failures(connection, NOW).rows))
            rule_before = queries.rule_history(connection, "files.shadow-permissions").rows
        assert len(rule_before) == 5
        pruned = store.prune(stamp(START + 2 * DAY))
        assert pruned.scans == 2 and pruned.results > 0
        assert engine_store.count("scans") == 3
        assert engine_store.count("daily_rollups") == rollups
        assert engine_store.count("scan_summaries") == 5
        with open_reader(store.location) as connection:
            assert as_json(list(queries.open_failures(connection, NOW).rows)) == before
            # the fleet's pass rate per scan outlives the pruned scans' results
            assert queries.rule_history(connection, "files.shadow-permissions").rows == \
                rule_before
            mttr = {r[0]: r[1] for r in queries.time_to_resolve(connection).rows}
        assert mttr == {"critical": 0, "high": 1, "low": 1, "medium": 0, "info": 0}
        assert store.verify() == []


@settings(max_examples=200, deadline=None, derandomize=True)
@given(lines=st.lists(st.tuples(
    st.text(), st.text(), st.integers(min_value=0, max_value=65535), st.text(),
    st.sampled_from(["pass", "fail", "waived"]), st.text(), st.text(),
    st.none() | st.text()), max_size=20))
def test_the_chain_writes_result_lines_as_its_general_form_does(
        lines: list[tuple[Any, ...]]) -> None:
    """The result lines' fast path hashes exactly what the general one did: stores written
    before it still verify."""
    assert [chain._result_order(line) for line in lines] == [chain._order(line)
                                                             for line in lines]
    assert "".join(map(chain._result_line, lines)).encode("utf-8") == b"".join(
        b"R" + chain._line(list(line)) for line in lines)
