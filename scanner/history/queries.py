"""The questions operators ask of a fleet's history, each one read of the store.

Answers about the present (open failures and their ages, reopenings, time to resolve,
what changed since a day or a scan) read the per host × rule ``lifecycle`` and
``resolutions`` tables; per-scan counts read the roll-ups (``daily_rollups``,
``scan_summaries``, ``scan_rule_rollups``); none reads the results. So every query stays
small at a year of daily scans. They speak SQL through a :class:`~.reader.Reader`, the
DB-API driver alone (see there why). ``now`` is passed in (the CLI gives the clock's), so
answers are reproducible.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from typing import Any

from scanner.history.durations import format_time, parse_time
from scanner.history.errors import HistoryError
from scanner.history.output import Answer
from scanner.history.reader import Reader
from scanner.vocabulary import SEVERITIES

DAY = 86400.0
_LARGEST_ID = 2**63 - 1  # no scan id is larger (both engines' integers)

# a lifecycle row with its host and rule named
_LIFECYCLES = ("FROM lifecycle l JOIN hosts h ON h.id = l.host_id "
               "JOIN rules r ON r.id = l.rule_id ")
_OPEN = "l.opened_at IS NOT NULL AND l.resolved_at IS NULL"


def _days(start: str, end: str) -> float:
    return round((parse_time(end) - parse_time(start)).total_seconds() / DAY, 1)


def list_scans(reader: Reader) -> Answer:
    """Every kept scan, oldest first, with its counts."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for scan_id, status, results in reader.rows(
            "SELECT scan_id, status, SUM(results) FROM daily_rollups "
            "GROUP BY scan_id, status"):
        counts[int(scan_id)][status] = int(results)
    host_counts = {int(scan_id): (int(total), int(assessed or 0))
                   for scan_id, total, assessed in reader.rows(
        "SELECT scan_id, COUNT(*), SUM(CASE WHEN status = ? THEN 1 ELSE 0 END) "
        "FROM scan_hosts GROUP BY scan_id", ("scanned",))}
    rows = []
    for (scan_id, started_at, ended_at, complete, baseline_id, baseline_version, profile,
         tool_version, operator) in reader.rows(
            "SELECT id, started_at, ended_at, complete, baseline_id, baseline_version, "
            "profile, tool_version, operator FROM scans ORDER BY started_at, id"):
        count = counts[int(scan_id)]
        total, assessed = host_counts.get(int(scan_id), (0, 0))
        rows.append((int(scan_id), started_at, ended_at, bool(complete), total, assessed,
                     sum(count.values()), count["fail"] + count["waived"],
                     f"{baseline_id} {baseline_version}", profile, tool_version, operator))
    return Answer("scans", ("scan", "started", "ended", "complete", "hosts", "assessed",
                            "results", "failed", "baseline", "profile", "tool", "operator"),
                  tuple(rows))


def host_history(reader: Reader, name: str, now: str) -> Answer:
    """Where each rule stands on one host (every address it was seen at)."""
    found = reader.rows("SELECT last_scanned_at FROM hosts WHERE name = ?", (name,))
    if not found:
        raise HistoryError(f"host {name}", "no host of that name in the store")
    rows = []
    for (address, port, rule_key, severity, last_status, opened_at, resolved_at,
         first_failed_at, reopened, last_seen_at) in reader.rows(
            "SELECT h.address, h.port, r.rule_key, l.severity, l.last_status, l.opened_at, "
            "l.resolved_at, l.first_failed_at, l.reopened, l.last_seen_at "
            + _LIFECYCLES + "WHERE h.name = ?", (name,)):
        is_open = opened_at is not None and resolved_at is None
        rows.append((address + (f":{port}" if port else ""), rule_key, severity,
                     last_status, is_open, _days(opened_at, now) if is_open else None,
                     first_failed_at, resolved_at, int(reopened), last_seen_at))
    rows.sort(key=lambda r: (not r[4], SEVERITIES.index(r[2]), r[1], r[0]))
    last = max(scanned or "" for (scanned,) in found) or None
    return Answer(f"host {name}", ("address", "rule", "severity", "status", "open",
                                   "open_days", "first_failed", "resolved", "reopened",
                                   "last_seen"),
                  tuple(rows), note=f"last assessed: {last or 'never'}")


def rule_history(reader: Reader, rule_key: str) -> Answer:
    """The fleet's pass rate for one rule in each scan: passes among the hosts where the
    rule could be judged (pass, fail, waived, error). Read from the per scan × rule
    roll-ups, so pruned scans keep their rate."""
    rule_id = reader.value("SELECT id FROM rules WHERE rule_key = ?", (rule_key,))
    if rule_id is None:
        raise HistoryError(f"rule {rule_key}", "no rule of that id in the store")
    counts: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for scan_id, started_at, status, results in reader.rows(
            "SELECT u.scan_id, u.started_at, x.status, x.results FROM scan_rule_rollups x "
            "JOIN scan_summaries u ON u.scan_id = x.scan_id WHERE x.rule_id = ? "
            "ORDER BY u.started_at, u.scan_id", (rule_id,)):
        counts[(int(scan_id), started_at)][status] += int(results)
    rows = []
    for (scan_id, started_at), count in counts.items():
        passed, failed, errors = count["pass"], count["fail"] + count["waived"], count["error"]
        judged = passed + failed + errors
        rate = round(100.0 * passed / judged, 1) if judged else None
        rows.append((scan_id, started_at, sum(count.values()), passed, failed, errors, rate))
    return Answer(f"rule {rule_key}", ("scan", "started", "hosts", "pass", "fail", "error",
                                       "pass_rate"), tuple(rows))


def open_failures(reader: Reader, now: str, severity: str | None = None,
                  older_than_s: float | None = None) -> Answer:
    """Failures open now (at or above ``severity``; open longer than ``older_than_s``),
    oldest first."""
    wanted = SEVERITIES[:SEVERITIES.index(severity) + 1] if severity else SEVERITIES
    cutoff = (format_time(parse_time(now) - datetime.timedelta(seconds=older_than_s))
              if older_than_s is not None else None)
    rows = [(name, address, rule_key, level, opened_at, _days(opened_at, now),
             first_failed_at, int(reopened), bool(waived), last_seen_at)
            for (name, address, rule_key, level, opened_at, first_failed_at, reopened, waived,
                 last_seen_at) in reader.rows(
                "SELECT h.name, h.address, r.rule_key, l.severity, l.opened_at, "
                "l.first_failed_at, l.reopened, l.waived, l.last_seen_at "
                + _LIFECYCLES + "WHERE " + _OPEN)
            if level in wanted and (cutoff is None or opened_at <= cutoff)]
    rows.sort(key=lambda r: (r[4], SEVERITIES.index(r[3]), r[0], r[1], r[2]))
    return Answer("open failures", ("host", "address", "rule", "severity", "opened",
                                    "open_days", "first_failed", "reopened", "waived",
                                    "last_seen"), tuple(rows))


def time_to_resolve(reader: Reader) -> Answer:
    """Mean and 90th percentile of the days from a failure's opening to the scan that saw
    it fixed, by severity, with how many are still open."""
    spans: dict[str, list[float]] = defaultdict(list)
    for severity, seconds in reader.rows("SELECT severity, duration_s FROM resolutions"):
        spans[severity].append(round(seconds / DAY, 1))
    still: dict[str, int] = {str(severity): int(count) for severity, count in reader.rows(
        "SELECT severity, COUNT(*) FROM lifecycle "
        "WHERE opened_at IS NOT NULL AND resolved_at IS NULL GROUP BY severity")}
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


def stale_hosts(reader: Reader, now: str, days: float) -> Answer:
    """Hosts not assessed for ``days``: gone from the scans, or in them but unreachable."""
    cutoff = format_time(parse_time(now) - datetime.timedelta(days=days))
    rows = [(name, address, last_scanned_at, last_seen_at, status,
             _days(last_scanned_at, now) if last_scanned_at else None)
            for name, address, last_scanned_at, last_seen_at, status in reader.rows(
                "SELECT h.name, h.address, h.last_scanned_at, h.last_seen_at, "
                "(SELECT sh.status FROM scan_hosts sh JOIN scans s ON s.id = sh.scan_id "
                "WHERE sh.host_id = h.id ORDER BY s.started_at DESC, s.id DESC LIMIT 1) "
                "FROM hosts h WHERE h.last_scanned_at IS NULL OR h.last_scanned_at < ?",
                (cutoff,))]
    rows.sort(key=lambda r: (r[2] or "", r[0], r[1]))
    return Answer(f"hosts not assessed for {days:g} days", (
        "host", "address", "last_assessed", "last_in_scope", "last_status", "days"),
        tuple(rows))


def since_time(reader: Reader, since: str | None) -> str:
    """The moment ``history diff`` compares with: a scan id's start, a date or timestamp,
    or (None) the start of the scan before the newest."""
    if since is None:
        starts = reader.rows("SELECT DISTINCT started_at FROM scans "
                             "ORDER BY started_at DESC LIMIT 2")
        if not starts:
            raise HistoryError("history diff", "the store holds no scans")
        return str(starts[-1][0])
    if since.isdigit():
        found = (reader.value("SELECT started_at FROM scans WHERE id = ?", (int(since),))
                 if int(since) <= _LARGEST_ID else None)
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


def changes_since(reader: Reader, since: str) -> Answer:
    """What changed after ``since``: failures new (first failing after it), reopened
    (failing then or before, fixed since, failing again) and resolved (fixed, and not
    failing again)."""
    rows: list[tuple[Any, ...]] = []
    for name, address, rule_key, severity, opened_at, first_failed_at in reader.rows(
            "SELECT h.name, h.address, r.rule_key, l.severity, l.opened_at, "
            "l.first_failed_at " + _LIFECYCLES
            + "WHERE l.resolved_at IS NULL AND l.opened_at > ?", (since,)):
        change = "new" if first_failed_at > since else "reopened"
        rows.append((change, name, address, rule_key, severity, opened_at))
    rows.extend(("resolved", *r) for r in reader.rows(
        "SELECT h.name, h.address, r.rule_key, x.severity, MAX(x.resolved_at) "
        "FROM resolutions x JOIN hosts h ON h.id = x.host_id JOIN rules r ON r.id = x.rule_id "
        "JOIN lifecycle l ON l.host_id = x.host_id AND l.rule_id = x.rule_id "
        "WHERE x.resolved_at > ? AND l.resolved_at IS NOT NULL "
        "GROUP BY h.name, h.address, r.rule_key, x.severity", (since,)))
    order = {"new": 0, "reopened": 1, "resolved": 2}
    rows.sort(key=lambda r: (order[r[0]], SEVERITIES.index(r[4]), r[1], r[2], r[3]))
    return Answer(f"changes since {since}", ("change", "host", "address", "rule", "severity",
                                             "at"), tuple(rows))
