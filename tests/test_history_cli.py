"""`cii-scan history …` and `scan --store` as whole processes: what an operator types,
the exit codes and one-line errors, writers at once, and a writer killed mid-import."""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.findings import dumps
from scanner.history.location import default_path, parse_location
from tests import _history
from tests._history import (
    DAY,
    EngineStore,
    big_fleet,
    daily_fleet,
    make_store,
)
from tests._postgres import Cluster
from tests._scanner import CII_SCAN
from tests.sample_findings import HOSTILE_NAME, sample_document

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
START = NOW - 4 * DAY - datetime.timedelta(hours=1)  # day 4 was an hour ago

engine_store = _history.engine_store  # the fixture: each test on both engines


def cii_scan(*args: str, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CII_SCAN, *args], capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, **(env or {})})


def _write(documents: list[dict[str, Any]], where: Path) -> list[str]:
    where.mkdir(exist_ok=True)
    paths = []
    for day, document in enumerate(documents):
        path = where / f"day{day}.json"
        path.write_text(dumps(document), encoding="utf-8")
        paths.append(str(path))
    return paths


def test_import_then_every_question_on_both_engines(engine_store: EngineStore,
                                                    tmp_path: Path) -> None:
    paths = _write(daily_fleet(START), tmp_path / "scans")
    env = {"CII_SCAN_STORE": engine_store.location}  # a team's store, set once
    imported = cii_scan("history", "import", *reversed(paths), env=env)  # any order given
    assert imported.returncode == 0, imported.stderr
    assert imported.stderr.count("stored as scan") == 5
    again = cii_scan("history", "import", paths[0], env=env)
    assert again.returncode == 0 and "already stored as scan 1" in again.stderr
    scans = cii_scan("history", "scans", "--format", "json", env=env)
    assert [row["hosts"] for row in json.loads(scans.stdout)["rows"]] == [4, 4, 3, 3, 3]
    opened = cii_scan("history", "open", "--severity", "HIGH", "--older-than", "2d",
                      "--format", "csv", env=env)
    assert opened.returncode == 0, opened.stderr
    rows = list(csv.DictReader(io.StringIO(opened.stdout)))
    assert {(r["host"], r["rule"]) for r in rows} >= {("db-01", "accounts.no-empty-passwords"),
                                                     ("web-01", "ssh.root-login-disabled")}
    assert ("web-01", "files.shadow-permissions") not in {(r["host"], r["rule"]) for r in rows}
    diff = cii_scan("history", "diff", "--since", (START + 2 * DAY).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    env=env)
    assert diff.returncode == 0, diff.stderr
    assert "reopened  web-01" in diff.stdout and "resolved  web-02" in diff.stdout
    stale = cii_scan("history", "stale", "--days", "2", "--format", "json", env=env)
    assert [r["host"] for r in json.loads(stale.stdout)["rows"]] == ["db-02"]
    mttr = cii_scan("history", "mttr", env=env)
    assert mttr.returncode == 0 and "high" in mttr.stdout
    host = cii_scan("history", "host", "web-01", env=env)
    assert "files.shadow-permissions" in host.stdout and "last assessed:" in host.stdout
    rule = cii_scan("history", "rule", "files.shadow-permissions", "--format", "json", env=env)
    assert [r["pass_rate"] for r in json.loads(rule.stdout)["rows"]] == [
        50.0, 25.0, 66.7, 33.3, 33.3]
    verified = cii_scan("history", "verify", env=env)
    assert verified.returncode == 0 and "the chain holds" in verified.stdout
    pruned = cii_scan("history", "prune", "--keep", "3d", env=env)
    assert pruned.returncode == 0 and "pruned 2 scan(s)" in pruned.stderr, pruned.stderr
    assert cii_scan("history", "verify", env=env).returncode == 0


def test_a_stored_scan_is_its_files_sha256_and_a_copy_of_the_run_is_the_same_scan(
        engine_store: EngineStore, tmp_path: Path) -> None:
    import hashlib

    paths = _write(daily_fleet(START)[:1], tmp_path / "scans")
    assert cii_scan("history", "import", *paths, "--store",
                    engine_store.location).returncode == 0
    digest = "sha256:" + hashlib.sha256(Path(paths[0]).read_bytes()).hexdigest()
    assert engine_store.sql("SELECT id, findings_digest FROM scans") in (
        [(1, digest)], [("1", digest)])
    # the same document re-indented is other bytes, but the same run: not stored again
    copy = tmp_path / "reindented.json"
    copy.write_text(json.dumps(json.loads(Path(paths[0]).read_text(encoding="utf-8")),
                               indent=4, ensure_ascii=True), encoding="utf-8")
    again = cii_scan("history", "import", str(copy), "--store", engine_store.location)
    assert again.returncode == 0 and "already stored as scan 1" in again.stderr, again.stderr
    assert engine_store.count("scans") == 1


def test_verify_exits_1_for_a_changed_row(engine_store: EngineStore, tmp_path: Path) -> None:
    paths = _write(daily_fleet(START)[:2], tmp_path / "scans")
    assert cii_scan("history", "import", *paths, "--store",
                    engine_store.location).returncode == 0
    engine_store.sql("UPDATE results SET severity = 'info' WHERE scan_id = 2 AND "
                     "status = 'fail'")
    verified = cii_scan("history", "verify", "--store", engine_store.location)
    assert verified.returncode == 1
    assert "scan 2 (" in verified.stderr and "do not hash" in verified.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["history", "open", "--older-than", "30 days"], "--older-than: '30 days' is not a duration"),
    (["history", "prune", "--keep", "forever"], "--keep: 'forever' is not a duration"),
    (["history", "scans", "--store", "postgresql://ops:s3cret@db.example/cii"],
     "a password in the store URL is refused"),
    (["history", "scans", "--store", "postgresql://db.example/cii?password=s3cret"],
     "a password in the store URL is refused"),
    (["history", "scans", "--store", "mysql://db.example/cii"], "unsupported store scheme"),
    (["history", "scans", "--store", "postgresql:///cii?host=/nonexistent-socket-dir"],
     "/nonexistent-socket-dir"),
    (["history", "diff", "--since", "last week"], "not a scan id, a date"),
    (["history", "host", "nosuchhost"], "host nosuchhost: no host of that name"),
    (["scan", "--store", "postgresql://ops:s3cret@db.example/cii"],
     "a password in the store URL is refused"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], expected: str,
                                          tmp_path: Path) -> None:
    paths = _write(daily_fleet(START)[:1], tmp_path / "scans")
    store = str(tmp_path / "h.sqlite")
    assert cii_scan("history", "import", *paths, "--store", store).returncode == 0
    proc = cii_scan(*args, env={"CII_SCAN_STORE": store, "PGCONNECT_TIMEOUT": "5"})
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "s3cret" not in proc.stderr + proc.stdout


def test_an_invalid_document_stores_nothing(tmp_path: Path) -> None:
    good = _write(daily_fleet(START)[:1], tmp_path / "scans")[0]
    bad = tmp_path / "bad.json"
    document = json.loads(Path(good).read_text(encoding="utf-8"))
    assert document["hosts"][0]["results"][0]["status"] == "fail"
    document["hosts"][0]["results"][0]["status"] = "pass"  # flipped by hand: counts disagree
    bad.write_text(json.dumps(document), encoding="utf-8")
    store = tmp_path / "h.sqlite"
    proc = cii_scan("history", "import", good, str(bad), "--store", str(store))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"cii-scan: error: {bad}: findings document disagrees")
    assert not store.exists()  # every file is checked before the store is opened
    missing = cii_scan("history", "import", str(tmp_path / "nope.json"), "--store", str(store))
    assert missing.returncode == 2 and "nope.json: file not found" in missing.stderr


def test_the_default_store_is_in_the_users_data_directory(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    paths = _write(daily_fleet(START)[:1], tmp_path / "scans")
    proc = cii_scan("history", "import", *paths, env={**env, "CII_SCAN_STORE": ""})
    assert proc.returncode == 0, proc.stderr
    store = tmp_path / "data" / "cii-scan" / "history.sqlite"
    assert store.is_file() and oct(store.stat().st_mode & 0o777) == "0o600"
    os.environ["XDG_DATA_HOME"], saved = str(tmp_path / "data"), os.environ.get("XDG_DATA_HOME")
    try:
        assert default_path() == store
        assert parse_location(None).path == store
    finally:
        if saved is None:
            del os.environ["XDG_DATA_HOME"]
        else:
            os.environ["XDG_DATA_HOME"] = saved


def test_two_writers_at_once_both_land_and_the_chain_holds(engine_store: EngineStore,
                                                           tmp_path: Path) -> None:
    """Two scanners of two fleets, and a document sent twice, all into one store at once:
    the writer lock is held while they start, so all three queue on it together."""
    fleets = [big_fleet("north", 120, START), big_fleet("south", 120, START + DAY)]
    paths = _write(fleets, tmp_path / "fleets")
    assert cii_scan("history", "scans", "--store", engine_store.location).returncode == 0
    with _writer_lock_held(engine_store):
        writers = [subprocess.Popen([*CII_SCAN, "history", "import", path, "--store",
                                     engine_store.location], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
                   for path in (paths[0], paths[1], paths[0])]
        deadline = time.monotonic() + 60
        if engine_store.cluster is not None:
            waiting = ("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       f"AND datname = '{engine_store.database}'")
            while int(engine_store.sql(waiting)[0][0]) < 3:
                assert time.monotonic() < deadline, "the writers never queued"
                time.sleep(0.05)
        else:
            time.sleep(4)  # long enough to start, read the documents and reach the lock
        assert [w.poll() for w in writers] == [None, None, None]  # all held at the lock
    outcomes = [writer.communicate(timeout=300) for writer in writers]
    assert [w.returncode for w in writers] == [0, 0, 0], outcomes
    assert engine_store.count("scans") == 2
    assert sum("already stored" in err for _, err in outcomes) == 1
    assert engine_store.count("results") == 2 * 120 * 10
    verified = cii_scan("history", "verify", "--store", engine_store.location)
    assert verified.returncode == 0, verified.stderr


@contextlib.contextmanager
def _writer_lock_held(where: EngineStore) -> Iterator[None]:
    """Hold the lock every import takes (SQLite's write lock, the chain row on PostgreSQL)."""
    if where.cluster is None:
        holder = sqlite3.connect(where.location, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    import psycopg

    with psycopg.connect(host=str(where.cluster.socket_dir), port=where.cluster.port,
                         user="cii", dbname=where.database) as holder:
        holder.execute("SELECT id FROM chain WHERE id = 1 FOR UPDATE")
        yield
        holder.rollback()


def test_a_writer_killed_inside_its_transaction_leaves_no_half_scan(
        request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """PostgreSQL: the import is held inside its transaction (a trigger on the last
    insert sleeps) and SIGKILLed there; the server rolls it back."""
    where = make_store("postgresql", tmp_path, request)
    documents = daily_fleet(START)
    paths = _write(documents[:2], tmp_path / "scans")
    assert cii_scan("history", "import", paths[0], "--store", where.location).returncode == 0
    where.sql("CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "PERFORM pg_sleep(3); RETURN NULL; END $$; CREATE TRIGGER slow BEFORE INSERT "
              "ON daily_rollups FOR EACH STATEMENT EXECUTE FUNCTION slow()")
    writer = subprocess.Popen([*CII_SCAN, "history", "import", paths[1], "--store",
                               where.location], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    sleeping = "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
    deadline = time.monotonic() + 60
    while int(where.sql(sleeping)[0][0]) == 0:
        assert writer.poll() is None and time.monotonic() < deadline, "never held"
        time.sleep(0.05)
    assert int(where.sql("SELECT COUNT(*) FROM results WHERE scan_id = 1")[0][0]) > 0
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    while int(where.sql("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = "
                        f"'{where.database}' AND pid <> pg_backend_pid()")[0][0]):
        assert time.monotonic() < deadline + 30
        time.sleep(0.1)
    assert where.count("scans") == 1
    assert int(where.sql("SELECT COUNT(*) FROM results WHERE scan_id <> 1")[0][0]) == 0
    assert where.sql("SELECT scans FROM chain") == [("1",)]
    where.sql("DROP TRIGGER slow ON daily_rollups")
    again = cii_scan("history", "import", paths[1], "--store", where.location)
    assert again.returncode == 0 and "stored as scan" in again.stderr, again.stderr
    assert cii_scan("history", "verify", "--store", where.location).returncode == 0


def test_scan_records_this_machine_into_the_store(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite"
    proc = cii_scan("scan", "-o", str(tmp_path / "out"), "--store", str(store), timeout=300)
    assert proc.returncode in (0, 3), proc.stderr
    assert f"recorded scan 1 in {store}" in proc.stderr
    scans = json.loads(cii_scan("history", "scans", "--store", str(store), "--format",
                                "json").stdout)["rows"]
    findings = json.loads((tmp_path / "out" / "findings.json").read_text(encoding="utf-8"))
    assert len(scans) == 1 and scans[0]["results"] == len(findings["hosts"][0]["results"])
    assert scans[0]["complete"] is True
    again = cii_scan("history", "import", str(tmp_path / "out" / "findings.json"), "--store",
                     str(store))
    assert "already stored as scan 1" in again.stderr  # the store holds the file's document


@pytest.fixture
def tarpit() -> Iterator[tuple[int, threading.Event]]:
    """A TCP port that accepts and never says a word (an SSH banner never comes)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)
            accepted.set()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()
    for connection in held:
        connection.close()


def test_an_interrupted_scan_is_recorded_as_incomplete(
        tmp_path: Path, tarpit: tuple[int, threading.Event]) -> None:
    port, accepted = tarpit
    store = tmp_path / "h.sqlite"
    (tmp_path / "known_hosts").write_text("", encoding="utf-8")
    scan = subprocess.Popen(
        [*CII_SCAN, "scan", f"127.0.0.1:{port}", f"localhost:{port}", "-j", "1", "--timeout",
         "120", "--known-hosts", str(tmp_path / "known_hosts"), "-o", str(tmp_path / "out"),
         "--store", str(store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert accepted.wait(60), "the scan never connected"
    time.sleep(0.5)
    scan.send_signal(signal.SIGINT)
    _, stderr = scan.communicate(timeout=120)
    assert scan.returncode == 3, stderr
    assert "recorded scan 1" in stderr
    rows = json.loads(cii_scan("history", "scans", "--store", str(store), "--format",
                               "json").stdout)["rows"]
    assert [(r["complete"], r["hosts"], r["assessed"]) for r in rows] == [(False, 2, 0)]


def test_postgresql_credentials_come_from_libpq_never_the_command_line(
        request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """A role that must give a password (scram-sha-256 over TCP) reaches its store with the
    password in a libpq passfile; without it the connection is refused, in one line."""
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    secret = "pw-" + os.urandom(8).hex()
    cluster.psql("postgres", f"CREATE ROLE auditor LOGIN PASSWORD '{secret}'")
    cluster.psql("postgres", "CREATE DATABASE teamstore OWNER auditor")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{cluster.port}:teamstore:auditor:{secret}\n",
                        encoding="utf-8")
    passfile.chmod(0o600)
    store = f"postgresql://auditor@127.0.0.1:{cluster.port}/teamstore"
    paths = _write(daily_fleet(START)[:2], tmp_path / "scans")
    denied = cii_scan("history", "import", *paths, "--store", store,
                      env={"PGPASSFILE": str(tmp_path / "none"), "PGCONNECT_TIMEOUT": "10"})
    assert denied.returncode == 2
    assert len(denied.stderr.strip().splitlines()) == 1, denied.stderr
    assert "password" in denied.stderr and store in denied.stderr
    allowed = cii_scan("history", "import", *paths, "--store", store,
                       env={"PGPASSFILE": str(passfile)})
    assert allowed.returncode == 0, allowed.stderr
    assert secret not in allowed.stderr + allowed.stdout
    owner = cluster.psql("teamstore", "SELECT tableowner FROM pg_tables WHERE tablename = "
                                      "'scans'")
    assert owner.strip() == "auditor"
    scans = cii_scan("history", "scans", "--store", store, "--format", "json",
                     env={"PGPASSFILE": str(passfile)})
    assert len(json.loads(scans.stdout)["rows"]) == 2


@pytest.mark.parametrize(("given", "url"), [
    ("postgresql://db.example/cii", "postgresql+psycopg://db.example/cii"),
    ("postgres://ops@db.example:5433/cii", "postgresql+psycopg://ops@db.example:5433/cii"),
    ("postgresql:///cii?host=/run/postgresql", "postgresql+psycopg:///cii?host=/run/postgresql"),
    ("postgresql://?service=ciiscan", "postgresql+psycopg:///?service=ciiscan"),
])
def test_postgresql_locations(given: str, url: str) -> None:
    location = parse_location(given)
    assert (location.url, location.dialect, location.display) == (url, "postgresql", given)


def test_a_store_path_is_a_file() -> None:
    location = parse_location("~/stores/fleet.sqlite")
    assert location.dialect == "sqlite"
    assert location.path == Path.home() / "stores" / "fleet.sqlite"
    assert parse_location("sqlite:////var/lib/cii/h.sqlite").path == Path("/var/lib/cii/h.sqlite")


def test_scan_refuses_an_unusable_store_before_scanning(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("INSERT INTO alembic_version VALUES ('9001')")
    connection.close()
    proc = cii_scan("scan", "-o", str(tmp_path / "out"), "--store", str(newer))
    assert proc.returncode == 2
    assert "newer than this cii-scan knows" in proc.stderr
    assert not (tmp_path / "out" / "findings.json").exists()  # nothing was scanned


def test_hostile_host_names_are_shown_escaped(tmp_path: Path) -> None:
    """The sample's host named with markup, a formula and a bell: text output shows the
    control character as an escape, CSV does not let a spreadsheet run the formula."""
    path = tmp_path / "sample.json"
    path.write_text(dumps(sample_document()), encoding="utf-8")
    store = str(tmp_path / "h.sqlite")
    assert cii_scan("history", "import", str(path), "--store", store).returncode == 0
    text = cii_scan("history", "open", "--store", store)
    assert text.returncode == 0 and "\x07" not in text.stdout
    assert "=cmd|'calc'!A0<script>alert(1)</script>{{7*7}}\\x07" in text.stdout
    table = cii_scan("history", "open", "--store", store, "--format", "csv")
    hosts = {row["host"] for row in csv.DictReader(io.StringIO(table.stdout))}
    assert "'" + HOSTILE_NAME in hosts and HOSTILE_NAME not in hosts
    stale = cii_scan("history", "stale", "--days", "0", "--store", store, "--format", "json")
    statuses = {r["host"]: r["last_status"] for r in json.loads(stale.stdout)["rows"]}
    assert statuses["edge-03"] == "unreachable" and statuses["app-06"] == "not_started"


def test_a_current_store_is_read_without_the_write_lock(tmp_path: Path) -> None:
    """Questions are answered while a writer holds the store: opening a current store
    takes no write lock."""
    paths = _write(daily_fleet(START)[:1], tmp_path / "scans")
    store = tmp_path / "h.sqlite"
    assert cii_scan("history", "import", *paths, "--store", str(store)).returncode == 0
    where = EngineStore("sqlite", str(store))
    with _writer_lock_held(where):
        scans = cii_scan("history", "scans", "--store", str(store), timeout=60)
    assert scans.returncode == 0, scans.stderr
    assert "scans" in scans.stdout
