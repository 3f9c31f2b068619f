"""The trend report's data, read from the store: the :class:`~scanner.render.trend.Trend`
that ``history report`` hands the renderer.

Every number comes from a roll-up or the per host × rule tables, never from a pass over
the results, so a year of daily scans of a fleet costs a handful of small reads: each
scan's point (``scan_summaries``, with its new, reopened and resolved counts; failures
by severity from ``daily_rollups``), the ages of open high and
critical failures (``lifecycle``), the per-area pass rates of the last scans
(``scan_rule_rollups`` × ``rule_areas``), and the hosts that regressed between the last two
scans (the only read of results: two scans, by the primary key's prefix).
"""

from __future__ import annotations

from collections import defaultdict

from scanner.history.durations import parse_time
from scanner.history.reader import Reader, marks
from scanner.history.statuses import FAILING, JUDGED
from scanner.render.trend import AREA_SCANS, AreaRates, Regression, ScanPoint, Trend

HIGH = ("critical", "high")

# statements with IN lists: the only text added to them is placeholders (marks), so
# ruff's S608 is silenced where it objects
_FAILURES = ("SELECT scan_id, severity, SUM(results) FROM daily_rollups "  # noqa: S608
             "WHERE status IN (" + marks(len(FAILING)) + ") GROUP BY scan_id, severity")
_OPEN_HIGH = ("SELECT opened_at, COUNT(*) FROM lifecycle "  # noqa: S608
              "WHERE opened_at IS NOT NULL AND resolved_at IS NULL "
              "AND severity IN (" + marks(len(HIGH)) + ") GROUP BY opened_at")
_REGRESSED = ("SELECT h.name, r.rule_key FROM results n "  # noqa: S608
              "JOIN results b ON b.scan_id = ? AND b.host_id = n.host_id "
              "AND b.rule_id = n.rule_id "
              "JOIN hosts h ON h.id = n.host_id JOIN rules r ON r.id = n.rule_id "
              "WHERE n.scan_id = ? AND n.status IN (" + marks(len(FAILING)) + ") "
              "AND b.status = ?")


def trend(reader: Reader, store: str, now: str) -> Trend:
    """The fleet's history as the trend report shows it, as of ``now``."""
    failures: dict[int, dict[str, int]] = defaultdict(dict)
    for scan_id, severity, count in reader.rows(_FAILURES, FAILING):
        failures[int(scan_id)][str(severity)] = int(count)
    points = tuple(
        ScanPoint(scan_id=str(scan_id), started_at=started_at, hosts=int(assessed),
                  complete=bool(complete), score=score,
                  failures=failures.get(int(scan_id), {}), new=int(opened or 0),
                  reopened=int(reopened or 0), resolved=int(resolved or 0))
        for scan_id, started_at, assessed, complete, score, opened, reopened, resolved
        in reader.rows("SELECT scan_id, started_at, assessed, complete, score, opened, "
                       "reopened, resolved FROM scan_summaries ORDER BY started_at, scan_id"))
    scan_ids = [int(point.scan_id) for point in points]
    last = scan_ids[-AREA_SCANS:]
    return Trend(store=store, generated_at=now, points=points,
                 open_high_ages=_open_high_ages(reader, now),
                 areas=_area_rates(reader, last), area_scans=tuple(map(str, last)),
                 regressions=_regressions(reader, scan_ids))


def _open_high_ages(reader: Reader, now: str) -> tuple[int, ...]:
    """The age in days of each open high or critical failure (they began at a few hundred
    scan starts: counted per start, each start's age reckoned once)."""
    moment = parse_time(now)
    return tuple(sorted(age for opened, count in reader.rows(_OPEN_HIGH, HIGH)
                        for age in [(moment - parse_time(opened)).days] * int(count)))


def _area_rates(reader: Reader, scan_ids: list[int]) -> tuple[AreaRates, ...]:
    """Per area and scan: passes among the judged results of the rules checking it."""
    counts: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    areas: set[str] = set()
    if scan_ids:
        for area, scan_id, status, count in reader.rows(
                "SELECT a.area, x.scan_id, x.status, SUM(x.results) "
                "FROM scan_rule_rollups x "
                "JOIN rule_areas a ON a.rule_id = x.rule_id "
                "WHERE x.scan_id IN (" + marks(len(scan_ids)) + ") "
                "AND x.status IN (" + marks(len(JUDGED)) + ") "
                "GROUP BY a.area, x.scan_id, x.status", (*scan_ids, *JUDGED)):
            counts[(str(area), int(scan_id))][str(status)] += int(count)
            areas.add(str(area))

    def rate(area: str, scan_id: int) -> float | None:
        count = counts.get((area, scan_id))
        judged = sum(count.values()) if count else 0
        return round(100.0 * count["pass"] / judged, 1) if count and judged else None

    return tuple(AreaRates(area, tuple(rate(area, scan_id) for scan_id in scan_ids))
                 for area in sorted(areas))


def _regressions(reader: Reader, scan_ids: list[int]) -> tuple[Regression, ...]:
    """Hosts with rules that passed in the scan before the last and fail in the last (none
    when either scan's results were pruned)."""
    if len(scan_ids) < 2:
        return ()
    previous, latest = scan_ids[-2], scan_ids[-1]
    found: dict[str, list[str]] = defaultdict(list)
    for name, rule_key in reader.rows(_REGRESSED, (previous, latest, *FAILING, "pass")):
        found[str(name)].append(str(rule_key))
    return tuple(Regression(host, tuple(sorted(keys)), str(previous))
                 for host, keys in sorted(found.items(), key=lambda item: (-len(item[1]),
                                                                          item[0])))
