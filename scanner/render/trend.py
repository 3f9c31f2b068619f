"""The trend report: one self-contained page of a fleet's compliance over time.

Its input is a :class:`Trend`, plain data the history store answers (a scan history is
too large to hand a template: the store aggregates, this module only draws). The page
has no script and fetches nothing (inline CSS and SVG; a Content-Security-Policy says
so), prints on A4, and speaks one language throughout; values the store holds (host
names, rule ids, scan ids, dates) are shown as they are.

The charts are drawn here, as SVG geometry computed in Python, so the template only
places shapes and every number on the page can be tested without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from scanner.clauses import AREAS
from scanner.render._jinja import asset, environment
from scanner.render._text import printable
from scanner.render.i18n import catalog
from scanner.render.trend_labels import LABELS
from scanner.vocabulary import SEVERITIES

# open-failure age buckets, in days: [low, high) with the last one open-ended
AGE_BUCKETS: tuple[tuple[int, int | None], ...] = ((0, 7), (7, 30), (30, 90), (90, 365),
                                                    (365, None))
AREA_SCANS = 8  # the last scans the control-point table shows
MAX_REGRESSIONS = 50  # hosts listed; the rest are counted
PLOT_WIDTH = 640
PLOT_HEIGHT = 160
LEFT = 40  # room for the y axis labels
BOTTOM = 20  # room for the x axis labels


@dataclass(frozen=True)
class ScanPoint:
    """One scan of the fleet, as the store sums it up."""

    scan_id: str
    started_at: str  # ISO 8601, UTC
    hosts: int
    complete: bool
    score: float | None  # 0-100, None when nothing could be decided
    failures: Mapping[str, int]  # by severity
    new: int = 0
    resolved: int = 0
    reopened: int = 0


@dataclass(frozen=True)
class AreaRates:
    """Pass rates (0-100, None: no decided result) of one control point, per scan shown."""

    area: str  # e.g. "8.1.4.1"
    rates: tuple[float | None, ...]


@dataclass(frozen=True)
class Regression:
    """A host with rules that passed in the scan before the last one and fail in it."""

    host: str
    rules: tuple[str, ...]
    previous_scan: str


@dataclass(frozen=True)
class Trend:
    store: str  # where the history lives, as shown (never a credential)
    generated_at: str
    points: tuple[ScanPoint, ...]  # oldest first
    open_high_ages: tuple[int, ...] = ()  # age in days of each open high/critical failure
    areas: tuple[AreaRates, ...] = ()  # rates over the last len(area_scans) scans
    area_scans: tuple[str, ...] = ()  # the scan ids (or dates) the area rates belong to
    regressions: tuple[Regression, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Series:
    """A line over the scans: its SVG points and the value axis ticks."""

    points: str
    dots: tuple[tuple[float, float, str], ...]  # x, y, tooltip
    ticks: tuple[tuple[float, str], ...]


@dataclass(frozen=True)
class Column:
    """One scan's stacked column: (y, height, class, tooltip) segments."""

    x: float
    width: float
    segments: tuple[tuple[float, float, str, str], ...]


def _x_positions(count: int) -> list[float]:
    if count == 1:
        return [LEFT + PLOT_WIDTH / 2]
    step = PLOT_WIDTH / (count - 1)
    return [LEFT + index * step for index in range(count)]


def _date(iso: str) -> str:
    return iso[:10]


def _x_labels(points: Sequence[ScanPoint]) -> tuple[tuple[float, str], ...]:
    """At most six dates along the time axis, first and last always."""
    if not points:
        return ()
    xs = _x_positions(len(points))
    wanted = sorted({round(i * (len(points) - 1) / 5) for i in range(6)})
    return tuple((xs[i], _date(points[i].started_at)) for i in wanted)


def score_series(points: Sequence[ScanPoint]) -> Series:
    """The fleet score as a line on a 0-100 axis; scans with no score leave a gap in the dots
    and are skipped by the line."""
    xs = _x_positions(len(points)) if points else []
    coordinates = []
    dots = []
    for x, point in zip(xs, points, strict=True):
        if point.score is None:
            continue
        y = PLOT_HEIGHT * (1 - point.score / 100)
        coordinates.append(f"{x:.1f},{y:.1f}")
        dots.append((x, y, f"{_date(point.started_at)} {point.scan_id}: {point.score:g}"))
    ticks = tuple((PLOT_HEIGHT * (1 - value / 100), str(value)) for value in (0, 25, 50, 75, 100))
    return Series(" ".join(coordinates), tuple(dots) if len(dots) <= 120 else (), ticks)


def _columns(points: Sequence[ScanPoint], stacks: Sequence[Sequence[tuple[str, int, str]]],
             top: int) -> list[Column]:
    """Stacked columns, one per scan, scaled so ``top`` fills the plot."""
    count = len(points)
    slot = PLOT_WIDTH / max(count, 1)
    width = max(min(slot * 0.7, 24.0), 1.0)
    columns = []
    for index, stack in enumerate(stacks):
        x = LEFT + index * slot + (slot - width) / 2
        y = float(PLOT_HEIGHT)
        segments = []
        for css, value, tip in stack:
            if value <= 0:
                continue
            height = PLOT_HEIGHT * value / top
            y -= height
            segments.append((y, height, css, tip))
        columns.append(Column(x, width, tuple(segments)))
    return columns


def column_rects(columns: Sequence[Column]) -> Markup:
    """The columns' SVG rects, each with its tooltip, one per line: what a template loop
    would write, made here because a year of scans is thousands of them (the loop was
    most of the page's rendering). Text passes through printable() and is escaped."""
    return Markup("".join(  # noqa: S704 - every text in it is escaped here
        f'  <rect class="{escape(printable(css))}" x="{column.x:.1f}" y="{y:.1f}" '
        f'width="{column.width:.1f}" height="{height:.1f}"><title>'
        f'{escape(printable(tip))}</title></rect>\n'
        for column in columns for y, height, css, tip in column.segments))


def _nice_top(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above ``value`` (an axis that reads easily)."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= value:
                return top * step
        top *= 10


def _count_ticks(top: int) -> tuple[tuple[float, str], ...]:
    return tuple((PLOT_HEIGHT * (1 - fraction), f"{round(top * fraction):d}")
                 for fraction in (0, 0.5, 1))


def failure_columns(points: Sequence[ScanPoint], names: Mapping[str, str]
                    ) -> tuple[list[Column], tuple[tuple[float, str], ...]]:
    top = _nice_top(max((sum(p.failures.values()) for p in points), default=0) or 1)
    stacks = [[(f"sev-{severity}", point.failures.get(severity, 0),
                f"{_date(point.started_at)} {point.scan_id}: {names[severity]} "
                f"{point.failures.get(severity, 0)}")
               for severity in SEVERITIES] for point in points]
    return _columns(points, stacks, top), _count_ticks(top)


def change_columns(points: Sequence[ScanPoint], labels: Mapping[str, str]
                   ) -> tuple[list[Column], tuple[tuple[float, str], ...]]:
    top = _nice_top(max((p.new + p.resolved + p.reopened for p in points), default=0) or 1)
    stacks = [[(f"ch-{kind}", getattr(point, kind),
                f"{_date(point.started_at)} {point.scan_id}: {labels[kind]} "
                f"{getattr(point, kind)}")
               for kind in ("new", "reopened", "resolved")] for point in points]
    return _columns(points, stacks, top), _count_ticks(top)


def age_rows(ages: Sequence[int], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Open high/critical failures per age bucket, with each bar's width (0-100 %)."""
    counts = [sum(1 for age in ages if low <= age and (high is None or age < high))
              for low, high in AGE_BUCKETS]
    most = max(counts, default=0) or 1
    rows = []
    for (low, high), count in zip(AGE_BUCKETS, counts, strict=True):
        label = (labels["days_over"].format(low=low) if high is None
                 else labels["days"].format(low=low, high=high))
        rows.append({"label": label, "count": count, "width": round(100 * count / most, 1)})
    return rows


def _rate_class(rate: float | None) -> str:
    if rate is None:
        return "rate-none"
    return "rate-" + ("good" if rate >= 90 else "fair" if rate >= 70 else "poor")


def area_rows(trend: Trend, lang: str) -> list[dict[str, Any]]:
    names = {area.id: (area.zh if lang == "zh" else area.en) for area in AREAS}
    order = {area.id: index for index, area in enumerate(AREAS)}
    rows = []
    for area in sorted(trend.areas, key=lambda a: order.get(a.area, len(order))):
        rows.append({"id": area.area, "name": names.get(area.area, ""),
                     "cells": [("—" if rate is None else f"{rate:.0f}%", _rate_class(rate))
                               for rate in area.rates]})
    return rows


def build_view(trend: Trend, lang: str) -> dict[str, Any]:
    labels = LABELS[lang]
    t = catalog(lang)
    severity_names = {severity: t[f"sev_{severity}"] for severity in SEVERITIES}
    points = trend.points
    failures, failure_ticks = failure_columns(points, severity_names)
    changes, change_ticks = change_columns(points, labels)
    period = labels["no_scans"] if not points else labels["period_value"].format(
        count=len(points), first=_date(points[0].started_at), last=_date(points[-1].started_at))
    return {
        "l": labels, "t": t, "lang": lang, "trend": trend, "period": period,
        "plot": {"left": LEFT, "width": PLOT_WIDTH, "height": PLOT_HEIGHT, "bottom": BOTTOM},
        "x_labels": _x_labels(points),
        "score": score_series(points),
        "failures": column_rects(failures), "failure_ticks": failure_ticks,
        "severities": [(severity, severity_names[severity]) for severity in SEVERITIES],
        "changes": column_rects(changes), "change_ticks": change_ticks,
        "ages": age_rows(trend.open_high_ages, labels),
        "areas": area_rows(trend, lang),
        "regressions": trend.regressions[:MAX_REGRESSIONS],
        "more_regressions": max(len(trend.regressions) - MAX_REGRESSIONS, 0),
        "css": asset("trend.css"),
    }


def render_trend(trend: Trend, *, lang: str = "en") -> str:
    """The page, in ``lang`` (``en`` or ``zh``)."""
    if lang not in LABELS:
        raise ValueError(f"unknown report language {lang!r}")
    return environment().get_template("trend.html.j2").render(**build_view(trend, lang))
