"""What the history store's tests share: a fleet scanned daily with planted changes, and
a store on each engine (a file for SQLite, a fresh database on the throwaway PostgreSQL
server of tests/_postgres.py), each with a way to change rows behind the store's back.

The daily documents come from the real pipeline's sample findings (tests/sample_findings)
with results edited and the summaries recounted, so every one passes load_document.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.decisions import evidence_digest
from scanner.findings import dumps, load_document, resummarize
from tests._postgres import Cluster
from tests.sample_findings import sample_document

ENGINES = ("sqlite", "postgresql")
DAY = datetime.timedelta(days=1)
_names = itertools.count()


def stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _template() -> dict[str, Any]:
    return {h["name"]: h for h in sample_document()["hosts"] if h["status"] == "scanned"}


def _set(host: dict[str, Any], rule_id: str, status: str) -> None:
    for result in host["results"]:
        if result["rule_id"] == rule_id:
            assert "waiver" not in result and "judgement" not in result
            result["status"] = status
            result["observed"] = [{"planted": status}]
            result["evidence_digest"] = evidence_digest(result["observed"])
            return
    raise AssertionError(f"{host['name']} has no result for {rule_id}")


def scan_document(hosts: list[dict[str, Any]], started: datetime.datetime,
                  complete: bool = True) -> dict[str, Any]:
    """A findings document of these hosts, started at ``started``; checked as
    ``history import`` checks it."""
    document = sample_document()
    document["scan"] = {**document["scan"], "started_at": stamp(started),
                        "finished_at": stamp(started + datetime.timedelta(minutes=3)),
                        "evaluated_at": stamp(started + datetime.timedelta(minutes=3)),
                        "complete": complete}
    document["hosts"] = sorted(hosts, key=lambda h: (h["name"], h["address"], h["port"] or 0))
    document = resummarize(document)
    return load_document(dumps(document), "planted")


def daily_fleet(start: datetime.datetime) -> list[dict[str, Any]]:
    """Five daily scans of web-01, web-02, db-01, db-02 with planted changes:

    - web-01 files.shadow-permissions (high): passes day 0, fails day 1, fixed day 2,
      fails again days 3 and 4 (new, resolved, reopened);
    - web-02 ssh.banner-configured (low): fails from day 0, fixed day 3;
    - db-02 is in the scans of days 0 and 1 only (a host that stopped being scanned).
    """
    template = _template()
    documents = []
    for day in range(5):
        web1 = {**copy.deepcopy(template["web-01"]), "name": "web-01"}
        web2 = {**copy.deepcopy(template["web-01"]), "name": "web-02",
                "address": "192.0.2.11"}
        db1 = {**copy.deepcopy(template["db-01"]), "name": "db-01"}
        db2 = {**copy.deepcopy(template["db-01"]), "name": "db-02", "address": "192.0.2.21"}
        if day in (1, 3, 4):
            _set(web1, "files.shadow-permissions", "fail")
        if day >= 3:
            _set(web2, "ssh.banner-configured", "pass")
        fleet = [web1, web2, db1] + ([db2] if day < 2 else [])
        documents.append(scan_document(fleet, start + day * DAY))
    return documents


def big_fleet(prefix: str, count: int, started: datetime.datetime) -> dict[str, Any]:
    """``count`` copies of web-01 named ``prefix``-NNNN: a document for load tests."""
    web = _template()["web-01"]
    hosts = [{**copy.deepcopy(web), "name": f"{prefix}-{n:04d}",
              "address": f"10.{n // 256 % 256}.{n % 256}.{len(prefix)}"} for n in range(count)]
    return scan_document(hosts, started)


@dataclass(frozen=True)
class EngineStore:
    """A store location on one engine, and direct SQL on it (not through the store)."""

    engine: str
    location: str
    cluster: Cluster | None = None
    database: str = ""

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        if self.cluster is None:
            with sqlite3.connect(self.location) as connection:
                rows = connection.execute(statement).fetchall()
            connection.close()
            return [tuple(r) for r in rows]
        text = self.cluster.psql(self.database, statement)
        return [tuple(line.split("|")) for line in text.splitlines() if line]

    def count(self, table: str) -> int:
        return int(self.sql(f"SELECT COUNT(*) FROM {table}")[0][0])


def make_store(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> EngineStore:
    if engine == "sqlite":
        return EngineStore("sqlite", str(tmp_path / "history.sqlite"))
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    database = f"t{next(_names)}_{abs(hash(request.node.nodeid)) % 10**8}"
    return EngineStore("postgresql", cluster.create_database(database), cluster, database)


@pytest.fixture(params=ENGINES)
def engine_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EngineStore]:
    yield make_store(request.param, tmp_path, request)


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
