"""Writing one findings document into the store: the scan, its hosts, its results, the
lifecycles they move, the day's roll-up and the chain, all in the caller's transaction.

Results go in through the driver (COPY on PostgreSQL, one prepared executemany on
SQLite); the roll-ups that outlive pruning are counted here from the rows in hand; the
lifecycle is moved by a handful of set-based statements over this scan's results (never
row by row), so a scan of 200 hosts × 77 rules costs the same few statements as a scan of
one. Each result's evidence digest is the one the document states (load_document checked
it against the evidence); it is computed here only for a document older than that field.

Failing means ``fail`` or ``waived`` (a waived failure is still a failure, accepted);
``pass`` and ``not_applicable`` end a failing episode; ``error`` and ``manual`` say
nothing either way (what could not be seen is not fixed).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.sql import bindparam

from scanner.clauses import CLAUSES, clause_ids_in
from scanner.decisions import evidence_digest
from scanner.history import chain as chain_module
from scanner.history.durations import parse_time
from scanner.history.errors import HistoryError
from scanner.history.schema import (
    TIME,
    chain,
    daily_rollups,
    hosts,
    lifecycle,
    openings,
    resolutions,
    results,
    rule_areas,
    rules,
    scan_hosts,
    scan_rule_rollups,
    scan_summaries,
    scans,
)
from scanner.history.statuses import FAILING

RESOLVING = ("pass", "not_applicable")
_RESULTS_COPY = ("COPY results (scan_id, host_id, rule_id, status, severity, evidence_digest, "
                 "waiver) FROM STDIN")
_RESULTS_INSERT = ("INSERT INTO results (scan_id, host_id, rule_id, status, severity, "
                   "evidence_digest, waiver) VALUES (?, ?, ?, ?, ?, ?, ?)")
_AREA_OF = {clause.id: clause.area for clause in CLAUSES}


@dataclass(frozen=True)
class Imported:
    """What one import did: the scan's id, and whether it was new (False: the same document
    was already stored, and nothing was written)."""

    scan_id: int
    created: bool
    started_at: str
    results: int


def findings_digest(content: bytes) -> str:
    """The stored digest of a findings file: sha256 of its bytes, so ``sha256sum
    findings.json`` tells an assessor which stored scan a file is (and a document in
    memory is digested as ``findings.dumps`` writes it, the bytes of every file cii-scan
    writes)."""
    return "sha256:" + hashlib.sha256(content).hexdigest()


def document_digest(document: Mapping[str, Any]) -> str:
    """:func:`findings_digest` of a document in memory, as cii-scan would write it."""
    from scanner.findings import dumps

    return findings_digest(dumps(document).encode("utf-8"))


def utc_second(timestamp: str) -> str:
    """``2026-06-01T08:00:00.123Z`` as the store keeps it: ``2026-06-01T08:00:00Z``."""
    return timestamp[:19] + "Z"


def host_key(host: Mapping[str, Any]) -> tuple[str, str, int]:
    return (str(host["name"]), str(host.get("address") or ""), int(host.get("port") or 0))


def write_document(connection: Connection, document: Mapping[str, Any], source: str,
                   now: str, digest: str | None = None) -> Imported:
    """Store ``document`` (already validated; ``digest``: its file's
    :func:`findings_digest`) on ``connection``, inside its transaction.

    A document already stored is not stored again: the same file (its digest), or another
    file of the same run (the same start, end and command: the file re-indented, or
    written by an older cii-scan whose store kept another kind of digest)."""
    _lock_writers(connection)
    digest = digest or document_digest(document)
    scan = document["scan"]
    started = utc_second(scan["started_at"])
    existing = connection.execute(
        select(scans.c.id).where(scans.c.findings_digest == digest)).scalar()
    if existing is None:
        existing = connection.execute(select(scans.c.id).where(
            scans.c.started_at == started, scans.c.ended_at == utc_second(scan["finished_at"]),
            scans.c.command == scan["command"])).scalar()
    if existing is not None:
        return Imported(int(existing), False, started, 0)
    host_ids = _hosts(connection, document["hosts"], started, source)
    rule_ids = _rules(connection, document["rules"])
    _rule_areas(connection, document["rules"], rule_ids)
    baseline = document["baseline"]
    head = connection.execute(select(chain).where(chain.c.id == 1)).mappings().one()
    row: dict[str, Any] = {
        "findings_digest": digest, "baseline_id": baseline["id"],
        "baseline_version": baseline["version"], "baseline_digest": baseline["digest"],
        "profile": baseline.get("profile"), "tool_version": document["tool"]["version"],
        "operator": scan.get("operator"), "command": scan["command"],
        "started_at": started, "ended_at": utc_second(scan["finished_at"]),
        "scan_day": started[:10], "complete": bool(scan["complete"]), "imported_at": now,
        "prev_chain_digest": head["head_digest"], "chain_digest": chain_module.GENESIS_PENDING,
    }
    key = connection.execute(insert(scans).values(**row)).inserted_primary_key
    assert key is not None
    scan_id = int(key[0])
    row["id"] = scan_id
    host_rows = []
    host_lines: list[chain_module.HostLine] = []
    result_rows: list[tuple[Any, ...]] = []  # in _RESULTS_INSERT's column order
    result_lines: list[chain_module.ResultLine] = []
    for host in document["hosts"]:
        key = host_key(host)
        host_id = host_ids[key]
        fingerprint = host.get("hostkey_fingerprint")
        complete = host["status"] == "scanned" and bool(host.get("complete", True))
        host_rows.append({"scan_id": scan_id, "host_id": host_id, "status": host["status"],
                          "complete": complete, "reason": host.get("reason") or "",
                          "hostkey_fingerprint": fingerprint})
        host_lines.append((*key, host["status"], complete, host.get("reason") or "",
                           fingerprint))
        for result in host["results"]:
            waiver = result.get("waiver")
            waiver_text = (json.dumps(waiver, sort_keys=True, ensure_ascii=False,
                                      separators=(",", ":")) if waiver is not None else None)
            evidence = result.get("evidence_digest") or evidence_digest(result["observed"])
            status, severity = result["status"], result["severity"]
            result_rows.append((scan_id, host_id, rule_ids[result["rule_id"]], status, severity,
                                evidence, waiver_text))
            result_lines.append((*key, result["rule_id"], status, severity, evidence,
                                 waiver_text))
    if host_rows:
        connection.execute(insert(scan_hosts), host_rows)
    _insert_results(connection, result_rows)
    changes = move_lifecycles(connection, scan_id, started)
    connection.execute(insert(scan_summaries).values(
        scan_id=scan_id, started_at=started, complete=row["complete"], hosts=len(host_rows),
        assessed=sum(1 for h in host_rows if h["status"] == "scanned"),
        results=len(result_rows), score=document["summary"]["score"],
        opened=changes.opened, reopened=changes.reopened, resolved=changes.resolved))
    by_rule = Counter((r[2], r[3]) for r in result_rows)
    if by_rule:
        connection.execute(insert(scan_rule_rollups), [
            {"scan_id": scan_id, "rule_id": rule, "status": status, "results": count}
            for (rule, status), count in sorted(by_rule.items())])
    connection.execute(insert(daily_rollups).from_select(
        ["scan_id", "scan_day", "status", "severity", "results", "hosts"],
        select(results.c.scan_id, scans.c.scan_day, results.c.status, results.c.severity,
               func.count(), func.count(results.c.host_id.distinct()))
        .join(scans, scans.c.id == results.c.scan_id)
        .where(results.c.scan_id == scan_id)
        .group_by(results.c.scan_id, scans.c.scan_day, results.c.status, results.c.severity)))
    own = chain_module.scan_digest(row, host_lines, result_lines)
    connection.execute(update(scans).where(scans.c.id == scan_id).values(chain_digest=own))
    connection.execute(update(chain).where(chain.c.id == 1).values(
        head_digest=own, scans=chain.c.scans + 1))
    return Imported(scan_id, True, started, len(result_rows))


def _insert_results(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """The scan's results (tuples in the statements' column order), through the driver: COPY on
    PostgreSQL, executemany of one prepared INSERT on SQLite (SQLAlchemy's per-row
    parameter processing was a third of the write). The driver connection is the one
    SQLAlchemy holds, so this is inside the same transaction."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(_RESULTS_COPY) as copy:
            for row in rows:
                copy.write_row(row)
        return
    connection.exec_driver_sql(_RESULTS_INSERT, list(rows))


def _lock_writers(connection: Connection) -> None:
    """One writer at a time: the chain's head is read and moved by each import. SQLite's
    transaction already holds the write lock (BEGIN IMMEDIATE, see store.py)."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(chain.c.id).where(chain.c.id == 1).with_for_update())


def _hosts(connection: Connection, documented: list[Mapping[str, Any]], started: str,
           source: str) -> dict[tuple[str, str, int], int]:
    """Each document host's id, made when new; refuses a scan older than one already stored
    for the same host (lifecycles are moved forward in time only)."""
    known = {(r.name, r.address, r.port): r for r in connection.execute(
        select(hosts.c.id, hosts.c.name, hosts.c.address, hosts.c.port,
               hosts.c.last_seen_at))}
    for host in documented:
        key = host_key(host)
        if key in known and known[key].last_seen_at > started:
            raise HistoryError(source, f"scan of {started} is older than the one the store "
                               f"holds for host {key[0]} ({known[key].last_seen_at}): import "
                               "scans oldest first")
    new = [{"name": k[0], "address": k[1], "port": k[2], "first_seen_at": started,
            "last_seen_at": started} for k in dict.fromkeys(host_key(h) for h in documented)
           if k not in known]
    if new:
        connection.execute(insert(hosts), new)
    ids = {(r.name, r.address, r.port): int(r.id) for r in connection.execute(
        select(hosts.c.id, hosts.c.name, hosts.c.address, hosts.c.port))}
    changes = [{"b_id": ids[host_key(h)], "b_seen": started,
                "b_scanned": started if h["status"] == "scanned" else None,
                "b_fingerprint": h.get("hostkey_fingerprint")} for h in documented]
    if changes:
        connection.execute(
            update(hosts).where(hosts.c.id == bindparam("b_id")).values(
                last_seen_at=bindparam("b_seen"),
                last_scanned_at=func.coalesce(bindparam("b_scanned"), hosts.c.last_scanned_at),
                hostkey_fingerprint=func.coalesce(bindparam("b_fingerprint"),
                                                  hosts.c.hostkey_fingerprint)),
            changes)
    return ids


def _rules(connection: Connection, catalogue: list[Mapping[str, Any]]) -> dict[str, int]:
    known = {r.rule_key: r for r in connection.execute(select(rules))}
    new = [{"rule_key": r["id"], "severity": r["severity"], "title": r["title"]["en"]}
           for r in catalogue if r["id"] not in known]
    if new:
        connection.execute(insert(rules), new)
    changed = [{"b_key": r["id"], "b_severity": r["severity"], "b_title": r["title"]["en"]}
               for r in catalogue if r["id"] in known and
               (known[r["id"]].severity, known[r["id"]].title) != (r["severity"],
                                                                    r["title"]["en"])]
    if changed:
        connection.execute(update(rules).where(rules.c.rule_key == bindparam("b_key")).values(
            severity=bindparam("b_severity"), title=bindparam("b_title")), changed)
    return {r.rule_key: int(r.id) for r in connection.execute(
        select(rules.c.id, rules.c.rule_key))}


def areas_of(rule: Mapping[str, Any]) -> set[str]:
    """The 8.1.4 areas a catalog rule checks (its GB/T 22239 references, by area)."""
    return {_AREA_OF[clause] for clause in clause_ids_in(rule.get("references") or {})}


def _rule_areas(connection: Connection, catalogue: list[Mapping[str, Any]],
                rule_ids: Mapping[str, int]) -> None:
    """Make each catalog rule's stored areas what this catalog says."""
    wanted = {(rule_ids[r["id"]], area) for r in catalogue for area in areas_of(r)}
    ids = {rule_ids[r["id"]] for r in catalogue}
    stored = {(int(r[0]), str(r[1])) for r in connection.execute(
        select(rule_areas.c.rule_id, rule_areas.c.area)) if int(r[0]) in ids}
    stale = stored - wanted
    for rule_id, area in sorted(stale):
        connection.execute(rule_areas.delete().where(rule_areas.c.rule_id == rule_id,
                                                     rule_areas.c.area == area))
    if wanted - stored:
        connection.execute(insert(rule_areas), [{"rule_id": rule_id, "area": area}
                                                for rule_id, area in sorted(wanted - stored)])


@dataclass(frozen=True)
class Changes:
    """The failing episodes one scan began (new, reopened) and ended."""

    opened: int
    reopened: int
    resolved: int


def move_lifecycles(connection: Connection, scan_id: int, at: str) -> Changes:
    """Move every host × rule this scan judged, set-based: new rows, ended episodes (with
    their resolutions), opened or reopened ones (with their openings), then where each
    stands now. Returns how many episodes it began and ended."""
    this = results.alias("this")
    same = and_(this.c.scan_id == scan_id, this.c.host_id == lifecycle.c.host_id,
                this.c.rule_id == lifecycle.c.rule_id)

    def this_is(statuses: tuple[str, ...]) -> Any:
        return exists().where(same, this.c.status.in_(statuses))

    connection.execute(insert(lifecycle).from_select(
        ["host_id", "rule_id", "severity", "last_seen_at", "last_status", "last_scan_id",
         "reopened", "waived"],
        select(results.c.host_id, results.c.rule_id, results.c.severity,
               literal(at, TIME), results.c.status, results.c.scan_id,
               literal(0, Integer),
               results.c.status == "waived")
        .where(results.c.scan_id == scan_id,
               ~exists().where(lifecycle.c.host_id == results.c.host_id,
                               lifecycle.c.rule_id == results.c.rule_id))))
    is_open = and_(lifecycle.c.opened_at.is_not(None), lifecycle.c.resolved_at.is_(None))
    ending = and_(is_open, this_is(RESOLVING))
    ended = [{"host_id": r.host_id, "rule_id": r.rule_id, "severity": r.severity,
              "opened_at": r.opened_at, "resolved_at": at, "scan_id": scan_id,
              "duration_s": round((parse_time(at) - parse_time(r.opened_at)).total_seconds())}
             for r in connection.execute(select(lifecycle.c.host_id, lifecycle.c.rule_id,
                                                lifecycle.c.severity, lifecycle.c.opened_at)
                                         .where(ending))]
    if ended:
        connection.execute(insert(resolutions), ended)
    connection.execute(update(lifecycle).where(ending).values(resolved_at=at))
    opening = and_(~is_open, this_is(FAILING))
    connection.execute(insert(openings).from_select(
        ["host_id", "rule_id", "severity", "opened_at", "reopened", "scan_id"],
        select(lifecycle.c.host_id, lifecycle.c.rule_id,
               select(this.c.severity).where(same).scalar_subquery(), literal(at, TIME),
               lifecycle.c.resolved_at.is_not(None), literal(scan_id, Integer))
        .where(opening)))
    began: dict[bool, int] = dict(connection.execute(
        select(openings.c.reopened, func.count()).where(openings.c.opened_at == at,
                                                        openings.c.scan_id == scan_id)
        .group_by(openings.c.reopened)).all())
    connection.execute(update(lifecycle).where(opening).values(
        reopened=lifecycle.c.reopened + case((lifecycle.c.resolved_at.is_not(None), 1),
                                             else_=0),
        first_failed_at=func.coalesce(lifecycle.c.first_failed_at, at),
        opened_at=at, resolved_at=None))
    now_status = select(this.c.status).where(same).scalar_subquery()
    connection.execute(update(lifecycle).where(exists().where(same)).values(
        last_status=now_status,
        severity=select(this.c.severity).where(same).scalar_subquery(),
        waived=now_status == "waived",
        last_seen_at=at, last_scan_id=scan_id))
    return Changes(opened=int(began.get(False, 0)), reopened=int(began.get(True, 0)),
                   resolved=len(ended))
