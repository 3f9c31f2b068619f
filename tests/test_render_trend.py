"""The trend report: its numbers are drawn where they belong, it speaks one language, and a
year of daily scans prints on a few A4 pages from a page that fetches nothing.

The input is a year of daily scans with known shapes (score rising from 60 to 95,
failures falling, a burst of new failures on a known day), so each chart's geometry is
checked against values worked out by hand, not read back from the renderer.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from scanner.render.trend import (
    LEFT,
    PLOT_HEIGHT,
    PLOT_WIDTH,
    AreaRates,
    Regression,
    ScanPoint,
    Trend,
    age_rows,
    change_columns,
    failure_columns,
    render_trend,
    score_series,
)
from scanner.render.trend_labels import LABELS
from tests._chromium import chromium, chromium_or_skip, png_is_not_blank
from tests._language import cjk, context, english_words, visible_prose

DAYS = 365


def _point(day: int) -> ScanPoint:
    return ScanPoint(
        scan_id=f"s{day:03d}", started_at=f"{date(2025, 12, 1) + timedelta(days=day)}T02:00:00Z",
        hosts=200, complete=day != 100, score=round(60 + 35 * day / (DAYS - 1), 1),
        failures={"critical": 1 if day < 30 else 0, "high": 40 - day // 10,
                  "medium": 80 - day // 5, "low": 10},
        new=50 if day == 200 else 2, resolved=3, reopened=1 if day % 7 == 0 else 0)


def year() -> Trend:
    return Trend(
        store="sqlite:///var/lib/cii-scan/history.sqlite", generated_at="2026-12-01T08:00:00Z",
        points=tuple(_point(day) for day in range(DAYS)),
        open_high_ages=(0, 3, 6, 7, 29, 30, 89, 90, 364, 365, 800),
        areas=(AreaRates("8.1.4.3", (50.0, 60.0, None)), AreaRates("8.1.4.1", (95.0, 80.0, 65.0))),
        area_scans=("s362", "s363", "s364"),
        regressions=(Regression("<b>web-01</b>", ("ssh.root-login-disabled", "auth.pam-faillock"),
                                "s363"),))


def test_the_score_line_runs_from_the_first_scan_to_the_last_on_a_0_to_100_axis() -> None:
    points = year().points
    series = score_series(points)
    coordinates = [tuple(map(float, pair.split(","))) for pair in series.points.split()]
    assert len(coordinates) == DAYS
    assert coordinates[0] == (LEFT, round(PLOT_HEIGHT * 0.4, 1))  # score 60
    assert coordinates[-1] == (LEFT + PLOT_WIDTH, round(PLOT_HEIGHT * 0.05, 1))  # score 95
    assert [y for _, y in coordinates] == sorted((y for _, y in coordinates), reverse=True)
    assert series.dots == ()  # too many scans for a dot each: the line alone


def test_a_scan_without_a_score_leaves_the_line_and_keeps_its_neighbours() -> None:
    points = [_point(0), ScanPoint("s1", "2026-01-02T00:00:00Z", 3, True, None, {}), _point(2)]
    series = score_series(points)
    assert len(series.points.split()) == 2
    assert len(series.dots) == 2 and "s1" not in " ".join(tip for _, _, tip in series.dots)


def test_failure_columns_stack_by_severity_in_proportion_to_the_axis() -> None:
    points = year().points
    columns, ticks = failure_columns(points, {s: s for s in
                                              ("critical", "high", "medium", "low", "info")})
    assert ticks[-1] == (0.0, "200")  # 131 failures on the first day: the axis tops at 200
    first = columns[0]
    assert [segment[2] for segment in first.segments] == ["sev-critical", "sev-high",
                                                         "sev-medium", "sev-low"]
    heights = [segment[1] for segment in first.segments]
    assert heights == pytest.approx([PLOT_HEIGHT * n / 200 for n in (1, 40, 80, 10)])
    assert first.segments[-1][0] == pytest.approx(PLOT_HEIGHT * (1 - 131 / 200))
    assert all(column.x + column.width <= LEFT + PLOT_WIDTH for column in columns)


def test_the_day_with_a_burst_of_new_failures_has_the_tallest_change_column() -> None:
    columns, ticks = change_columns(year().points, LABELS["en"])
    totals = [sum(segment[1] for segment in column.segments) for column in columns]
    assert totals.index(max(totals)) == 200
    assert ticks[-1][1] == "100"  # 50 new + 3 resolved on day 200: the axis tops at 100


def test_open_failures_fall_in_their_age_buckets_at_the_edges() -> None:
    rows = age_rows(year().open_high_ages, LABELS["en"])
    assert [(row["label"], row["count"]) for row in rows] == [
        ("0–7 days", 3), ("7–30 days", 2), ("30–90 days", 2), ("90–365 days", 2),
        ("over 365 days", 2)]
    assert max(row["width"] for row in rows) == 100.0


def test_both_languages_carry_every_label() -> None:
    assert set(LABELS["en"]) == set(LABELS["zh"])


def test_host_names_are_text_never_markup() -> None:
    page = render_trend(year(), lang="en")
    assert "<b>web-01</b>" not in page and "&lt;b&gt;web-01&lt;/b&gt;" in page


def test_an_empty_store_renders_and_says_so() -> None:
    page = render_trend(Trend(store="x.sqlite", generated_at="2026-12-01T00:00:00Z",
                              points=()), lang="zh")
    assert LABELS["zh"]["no_scans"] in page and "<svg" not in page


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="fr"):
        render_trend(year(), lang="fr")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_speaks_its_language(lang: str) -> None:
    trend = year()
    data = {trend.store, *(r.host for r in trend.regressions), *(p.scan_id for p in trend.points)}
    prose = visible_prose(render_trend(trend, lang=lang), data)
    if lang == "zh":
        words = english_words(prose)
        assert not words, [f"{w}: …{context(prose, w)}…" for w in words[:8]]
    else:
        characters = cjk(prose)
        assert not characters, [f"{c}: …{context(prose, c)}…" for c in characters[:8]]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_year_of_daily_scans_prints_on_few_a4_pages_offline(tmp_path: Path, lang: str) -> None:
    chromium_or_skip()
    pypdf = pytest.importorskip("pypdf")
    page = tmp_path / f"trend.{lang}.html"
    page.write_text(render_trend(year(), lang=lang), encoding="utf-8")
    pdf = tmp_path / "trend.pdf"
    printed = chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert printed.returncode == 0 and pdf.exists(), printed.stderr[-2000:]
    # a page that asked for anything outside itself would be refused by its own policy
    assert "Refused to" not in printed.stderr, printed.stderr[-2000:]
    reader = pypdf.PdfReader(str(pdf))
    text = re.sub(r"\s+", "", "".join(p.extract_text() or "" for p in reader.pages))
    assert len(reader.pages) <= 4
    labels = LABELS[lang]
    for key in ("title", "score", "failures", "changes", "open_high", "areas", "regressions"):
        assert re.sub(r"\s+", "", labels[key]) in text, key
    assert "<b>web-01</b>" in text and "ssh.root-login-disabled" in text
    shot = tmp_path / "trend.png"
    taken = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri())
    assert taken.returncode == 0 and png_is_not_blank(shot), taken.stderr[-2000:]
