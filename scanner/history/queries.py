"""The questions operators ask of a fleet's history, each one read of the store.

Answers about the present (open failures and their ages, reopenings, time to resolve,
what changed since a day or a scan) read the per host × rule ``lifecycle`` and
``resolutions`` tables; per-scan counts read the roll-ups (``daily_rollups``,
``scan_summaries``, ``scan_rule_rollups``); none reads the results. So every query stays
small at a year of daily scans. ``now`` is passed in (the CLI gives the clock's), so
answers are reproducible.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select

from scanner.findings import SEVERITIES
from scanner.history.durations import format_time, parse_time
from scanner.history.errors import HistoryError
from scanner.history.output import Answer
from scanner.history.schema import (
    daily_rollups,
    hosts,
    lifecycle,
    resolutions,
    rules,
    scan_hosts,
    scan_rule_rollups,
    scan_summaries,
    scans,
)

DAY = 86400.0


def _days(start: str, end: str) -> float:
    return round((parse_time(end) - parse_time(start)).total_seconds() / DAY, 1)


def list_scans(connection: Connection) -> Answer:
    """Every kept scan, oldest first, with its counts."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in connection.execute(select(daily_rollups.c.scan_id, daily_rollups.c.status,
                                         func.sum(daily_rollups.c.results))
                                  .group_by(daily_rollups.c.scan_id, daily_rollups.c.status)):
        counts[int(row[0])][row[1]] = int(row[2])
    host_counts = {int(r[0]): (int(r[1]), int(r[2] or 0)) for r in connection.execute(
        select(scan_hosts.c.scan_id, func.count(),
               func.sum(case((scan_hosts.c.status == "scanned", 1), else_=0)))
        .group_by(scan_hosts.c.scan_id))}
    rows = []
    for scan in connection.execute(select(scans).order_by(scans.c.started_at, scans.c.id)):
        count = counts[scan.id]
        total, assessed = host_counts.get(scan.id, (0, 0))
        rows.append((scan.id, scan.started_at, scan.ended_at, scan.complete, total, assessed,
                     sum(count.values()), count["fail"] + count["waived"],
                     f"{scan.baseline_id} {scan.baseline_version}", scan.profile,
                     scan.tool_version, scan.operator))
    return Answer("scans", ("scan", "started", "ended", "complete", "hosts", "assessed",
                            "results", "failed", "baseline", "profile", "tool", "operator"),
                  tuple(rows))


def host_history(connection: Connection, name: str, now: str) -> Answer:
    """Where each rule stands on one host (every address it was seen at)."""
    found = connection.execute(select(hosts).where(hosts.c.name == name)).all()
    if not found:
        raise HistoryError(f"host {name}", "no host of that name in the store")
    rows = []
    for row in connection.execute(
            select(hosts.c.address, hosts.c.port, rules.c.rule_key, lifecycle)
            .join(hosts, hosts.c.id == lifecycle.c.host_id)
            .join(rules, rules.c.id == lifecycle.c.rule_id)
            .where(hosts.c.name == name)):
        is_open = row.opened_at is not None and row.resolved_at is None
        rows.append((row.address + (f":{row.port}" if row.port else ""), row.rule_key,
                     row.severity, row.last_status, is_open,
                     _days(row.opened_at, now) if is_open else None, row.first_failed_at,
                     row.resolved_at, row.reopened, row.last_seen_at))
    rows.sort(key=lambda r: (not r[4], SEVERITIES.index(r[2]), r[1], r[0]))
    last = max(h.last_scanned_at or "" for h in found) or None
    return Answer(f"host {name}", ("address", "rule", "severity", "status", "open",
                                   "open_days", "first_failed", "resolved", "reopened",
                                   "last_seen"),
                  tuple(rows), note=f"last assessed: {last or 'never'}")


def rule_history(connection: Connection, rule_key: str) -> Answer:
    """The fleet's pass rate for one rule in each scan: passes among the hosts where the
    rule could be judged (pass, fail, waived, error). Read from the per scan × rule
    roll-ups, so pruned scans keep their rate."""
    rule_id = connection.execute(select(rules.c.id).where(rules.c.rule_key == rule_key)).scalar()
    if rule_id is None:
        raise HistoryError(f"rule {rule_key}", "no rule of that id in the store")
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in connection.execute(
            select(scan_rule_rollups.c.scan_id, scan_rule_rollups.c.status,
                   scan_rule_rollups.c.results)
            .where(scan_rule_rollups.c.rule_id == rule_id)):
        counts[int(row[0])][row[1]] += int(row[2])
    rows = []
    for scan in connection.execute(
            select(scan_summaries.c.scan_id, scan_summaries.c.started_at)
            .where(scan_summaries.c.scan_id.in_(list(counts)))
            .order_by(scan_summaries.c.started_at, scan_summaries.c.scan_id)):
        count = counts[int(scan[0])]
        passed, failed, errors = count["pass"], count["fail"] + count["waived"], count["error"]
        judged = passed + failed + errors
        rate = round(100.0 * passed / judged, 1) if judged else None
        rows.append((scan[0], scan[1], sum(count.values()), passed, failed, errors, rate))
    return Answer(f"rule {rule_key}", ("scan", "started", "hosts", "pass", "fail", "error",
                                       "pass_rate"), tuple(rows))


def open_failures(connection: Connection, now: str, severity: str | None = None,
                  older_than_s: float | None = None) -> Answer:
    """Failures open now (at or above ``severity``; open longer than ``older_than_s``),
    oldest first."""
    query = (select(hosts.c.name, hosts.c.address, rules.c.rule_key, lifecycle)
             .join(hosts, hosts.c.id == lifecycle.c.host_id)
             .join(rules, rules.c.id == lifecycle.c.rule_id)
             .where(lifecycle.c.opened_at.is_not(None), lifecycle.c.resolved_at.is_(None)))
    if severity is not None:
        query = query.where(lifecycle.c.severity.in_(
            SEVERITIES[:SEVERITIES.index(severity) + 1]))
    if older_than_s is not None:
        cutoff = format_time(parse_time(now) - datetime.timedelta(seconds=older_than_s))
        query = query.where(lifecycle.c.opened_at <= cutoff)
    rows = [(r.name, r.address, r.rule_key, r.severity, r.opened_at, _days(r.opened_at, now),
             r.first_failed_at, r.reopened, r.waived, r.last_seen_at)
            for r in connection.execute(query)]
    rows.sort(key=lambda r: (r[4], SEVERITIES.index(r[3]), r[0], r[1], r[2]))
    return Answer("open failures", ("host", "address", "rule", "severity", "opened",
                                    "open_days", "first_failed", "reopened", "waived",
                                    "last_seen"), tuple(rows))


def time_to_resolve(connection: Connection) -> Answer:
    """Mean and 90th percentile of the days from a failure's opening to the scan that saw
    it fixed, by severity, with how many are still open."""
    spans: dict[str, list[float]] = defaultdict(list)
    for severity, seconds in connection.execute(select(resolutions.c.severity,
                                                       resolutions.c.duration_s)):
        spans[severity].append(round(seconds / DAY, 1))
    still: dict[str, int] = {str(r[0]): int(r[1]) for r in connection.execute(
        select(lifecycle.c.severity, func.count())
        .where(lifecycle.c.opened_at.is_not(None), lifecycle.c.resolved_at.is_(None))
        .group_by(lifecycle.c.severity))}
    rows = []
    for severity in SEVERITIES:
        days = sorted(spans.get(severity, []))
        if not days and not still.get(severity):
            continue
        mean = round(sum(days) / len(days), 1) if days else None
        p90 = days[max(0, math.ceil(0.9 * len(days)) - 1)] if days else None
        rows.append((severity, len(days), mean, p90, int(still.get(severity, 0))))
    return Answer("time to resolve (days)", ("severity", "resolved", "mean_days", "p90_days",
                                             "still_open"), tuple(rows))


def stale_hosts(connection: Connection, now: str, days: float) -> Answer:
    """Hosts not assessed for ``days``: gone from the scans, or in them but unreachable."""
    cutoff = format_time(parse_time(now) - datetime.timedelta(days=days))
    last_status = (select(scan_hosts.c.status).join(scans, scans.c.id == scan_hosts.c.scan_id)
                   .where(scan_hosts.c.host_id == hosts.c.id)
                   .order_by(scans.c.started_at.desc(), scans.c.id.desc()).limit(1)
                   .scalar_subquery())
    rows = [(r.name, r.address, r.last_scanned_at, r.last_seen_at, r.status,
             _days(r.last_scanned_at, now) if r.last_scanned_at else None)
            for r in connection.execute(
                select(hosts.c.name, hosts.c.address, hosts.c.last_scanned_at,
                       hosts.c.last_seen_at, last_status.label("status"))
                .where(or_(hosts.c.last_scanned_at.is_(None),
                           hosts.c.last_scanned_at < cutoff)))]
    rows.sort(key=lambda r: (r[2] or "", r[0], r[1]))
    return Answer(f"hosts not assessed for {days:g} days", (
        "host", "address", "last_assessed", "last_in_scope", "last_status", "days"),
        tuple(rows))


def since_time(connection: Connection, since: str | None) -> str:
    """The moment ``history diff`` compares with: a scan id's start, a date or timestamp,
    or (None) the start of the scan before the newest."""
    if since is None:
        starts = connection.execute(select(scans.c.started_at).distinct()
                                    .order_by(scans.c.started_at.desc()).limit(2)).scalars().all()
        if not starts:
            raise HistoryError("history diff", "the store holds no scans")
        return str(starts[-1])
    if since.isdigit():
        found = connection.execute(select(scans.c.started_at)
                                   .where(scans.c.id == int(since))).scalar()
        if found is None:
            raise HistoryError(f"--since {since}", "no scan of that id in the store")
        return str(found)
    for pattern in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            moment = datetime.datetime.strptime(since, pattern)
        except ValueError:
            continue
        return format_time(moment.replace(tzinfo=datetime.timezone.utc))
    raise HistoryError(f"--since {since}", "not a scan id, a date (YYYY-MM-DD) or a UTC "
                       "timestamp (YYYY-MM-DDTHH:MM:SSZ)")


def changes_since(connection: Connection, since: str) -> Answer:
    """What changed after ``since``: failures new (first failing after it), reopened
    (failing then or before, fixed since, failing again) and resolved (fixed, and not
    failing again)."""
    rows: list[tuple[Any, ...]] = []
    opened = (select(hosts.c.name, hosts.c.address, rules.c.rule_key, lifecycle)
              .join(hosts, hosts.c.id == lifecycle.c.host_id)
              .join(rules, rules.c.id == lifecycle.c.rule_id)
              .where(lifecycle.c.resolved_at.is_(None), lifecycle.c.opened_at > since))
    for r in connection.execute(opened):
        change = "new" if r.first_failed_at > since else "reopened"
        rows.append((change, r.name, r.address, r.rule_key, r.severity, r.opened_at))
    fixed = (select(hosts.c.name, hosts.c.address, rules.c.rule_key, resolutions.c.severity,
                    func.max(resolutions.c.resolved_at))
             .join(hosts, hosts.c.id == resolutions.c.host_id)
             .join(rules, rules.c.id == resolutions.c.rule_id)
             .join(lifecycle, and_(lifecycle.c.host_id == resolutions.c.host_id,
                                   lifecycle.c.rule_id == resolutions.c.rule_id))
             .where(resolutions.c.resolved_at > since, lifecycle.c.resolved_at.is_not(None))
             .group_by(hosts.c.name, hosts.c.address, rules.c.rule_key,
                       resolutions.c.severity))
    rows.extend(("resolved", *r) for r in connection.execute(fixed))
    order = {"new": 0, "reopened": 1, "resolved": 2}
    rows.sort(key=lambda r: (order[r[0]], SEVERITIES.index(r[4]), r[1], r[2], r[3]))
    return Answer(f"changes since {since}", ("change", "host", "address", "rule", "severity",
                                             "at"), tuple(rows))
