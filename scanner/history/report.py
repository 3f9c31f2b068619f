"""The trend report's data, read from the store: the :class:`~scanner.render.trend.Trend`
that ``history report`` hands the renderer.

Every number comes from a roll-up or the per host × rule tables, never from a pass over
the results, so a year of daily scans of a fleet costs a handful of small reads: each
scan's point (``scan_summaries``, failures by severity from ``daily_rollups``, new and
reopened from ``openings``, resolved from ``resolutions``), the ages of open high and
critical failures (``lifecycle``), the per-area pass rates of the last scans
(``scan_rule_rollups`` × ``rule_areas``), and the hosts that regressed between the last two
scans (the only read of results: two scans, by the primary key's prefix).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, and_, func, select

from scanner.history.durations import parse_time
from scanner.history.schema import (
    daily_rollups,
    hosts,
    lifecycle,
    openings,
    resolutions,
    results,
    rule_areas,
    rules,
    scan_rule_rollups,
    scan_summaries,
)
from scanner.history.write import FAILING
from scanner.render.trend import AREA_SCANS, AreaRates, Regression, ScanPoint, Trend

JUDGED = ("pass", "fail", "waived", "error")  # what a pass rate is taken over
HIGH = ("critical", "high")


def trend(connection: Connection, store: str, now: str) -> Trend:
    """The fleet's history as the trend report shows it, as of ``now``."""
    summaries = connection.execute(
        select(scan_summaries).order_by(scan_summaries.c.started_at,
                                        scan_summaries.c.scan_id)).all()
    failures: dict[int, dict[str, int]] = defaultdict(dict)
    for scan_id, severity, count in connection.execute(
            select(daily_rollups.c.scan_id, daily_rollups.c.severity,
                   func.sum(daily_rollups.c.results))
            .where(daily_rollups.c.status.in_(FAILING))
            .group_by(daily_rollups.c.scan_id, daily_rollups.c.severity)):
        failures[int(scan_id)][str(severity)] = int(count)
    opened: dict[tuple[int, bool], int] = {
        (int(r[0]), bool(r[1])): int(r[2]) for r in connection.execute(
            select(openings.c.scan_id, openings.c.reopened, func.count())
            .where(openings.c.scan_id.is_not(None))
            .group_by(openings.c.scan_id, openings.c.reopened))}
    resolved = {int(r[0]): int(r[1]) for r in connection.execute(
        select(resolutions.c.scan_id, func.count()).group_by(resolutions.c.scan_id))}
    points = tuple(
        ScanPoint(scan_id=str(s.scan_id), started_at=s.started_at, hosts=int(s.assessed),
                  complete=bool(s.complete), score=s.score,
                  failures=failures.get(int(s.scan_id), {}),
                  new=opened.get((int(s.scan_id), False), 0),
                  reopened=opened.get((int(s.scan_id), True), 0),
                  resolved=resolved.get(int(s.scan_id), 0))
        for s in summaries)
    last = [int(s.scan_id) for s in summaries[-AREA_SCANS:]]
    return Trend(store=store, generated_at=now, points=points,
                 open_high_ages=_open_high_ages(connection, now),
                 areas=_area_rates(connection, last), area_scans=tuple(map(str, last)),
                 regressions=_regressions(connection, [int(s.scan_id) for s in summaries]))


def _open_high_ages(connection: Connection, now: str) -> tuple[int, ...]:
    moment = parse_time(now)
    return tuple(sorted(
        (moment - parse_time(opened)).days for (opened,) in connection.execute(
            select(lifecycle.c.opened_at).where(lifecycle.c.opened_at.is_not(None),
                                                lifecycle.c.resolved_at.is_(None),
                                                lifecycle.c.severity.in_(HIGH)))))


def _area_rates(connection: Connection, scan_ids: list[int]) -> tuple[AreaRates, ...]:
    """Per area and scan: passes among the judged results of the rules checking it."""
    counts: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    areas: set[str] = set()
    for area, scan_id, status, count in connection.execute(
            select(rule_areas.c.area, scan_rule_rollups.c.scan_id, scan_rule_rollups.c.status,
                   func.sum(scan_rule_rollups.c.results))
            .join(rule_areas, rule_areas.c.rule_id == scan_rule_rollups.c.rule_id)
            .where(scan_rule_rollups.c.scan_id.in_(scan_ids),
                   scan_rule_rollups.c.status.in_(JUDGED))
            .group_by(rule_areas.c.area, scan_rule_rollups.c.scan_id,
                      scan_rule_rollups.c.status)):
        counts[(str(area), int(scan_id))][str(status)] += int(count)
        areas.add(str(area))

    def rate(area: str, scan_id: int) -> float | None:
        count = counts.get((area, scan_id))
        judged = sum(count.values()) if count else 0
        return round(100.0 * count["pass"] / judged, 1) if count and judged else None

    return tuple(AreaRates(area, tuple(rate(area, scan_id) for scan_id in scan_ids))
                 for area in sorted(areas))


def _regressions(connection: Connection, scan_ids: list[int]) -> tuple[Regression, ...]:
    """Hosts with rules that passed in the scan before the last and fail in the last (none
    when either scan's results were pruned)."""
    if len(scan_ids) < 2:
        return ()
    previous, latest = scan_ids[-2], scan_ids[-1]
    before = results.alias("before")
    now = results.alias("now")
    found: dict[str, list[str]] = defaultdict(list)
    for name, rule_key in connection.execute(
            select(hosts.c.name, rules.c.rule_key)
            .select_from(now)
            .join(before, and_(before.c.scan_id == previous, before.c.host_id == now.c.host_id,
                               before.c.rule_id == now.c.rule_id))
            .join(hosts, hosts.c.id == now.c.host_id)
            .join(rules, rules.c.id == now.c.rule_id)
            .where(now.c.scan_id == latest, now.c.status.in_(FAILING),
                   before.c.status == "pass")):
        found[str(name)].append(str(rule_key))
    return tuple(Regression(host, tuple(sorted(keys)), str(previous))
                 for host, keys in sorted(found.items(), key=lambda item: (-len(item[1]),
                                                                          item[0])))
