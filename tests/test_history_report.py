"""`history report`: the trend page's numbers come from the store and match the fleet's
planted history on both engines, survive pruning, and the page the command writes is one a
browser prints offline.

The fleet (tests/_history.daily_fleet) is five daily scans of sample hosts with planted
changes, so each expected figure is worked out from the plan, not read back."""

from __future__ import annotations

import datetime
import re
import subprocess
from pathlib import Path

import pytest

from scanner.history import report
from scanner.history.location import parse_location
from scanner.history.reader import open_reader
from scanner.history.store import open_store
from scanner.history.write import areas_of
from scanner.render.trend_labels import LABELS
from tests import _history
from tests._chromium import chromium, chromium_or_skip
from tests._history import DAY, EngineStore, daily_fleet, stamp
from tests._scanner import CII_SCAN

START = datetime.datetime(2026, 11, 1, 8, 0, tzinfo=datetime.timezone.utc)
NOW = stamp(START + 4 * DAY + datetime.timedelta(hours=1))

engine_store = _history.engine_store  # the fixture: each test on both engines


def _trend(where: EngineStore, days: int = 5, prune_before: str | None = None
           ) -> report.Trend:
    with open_store(parse_location(where.location)) as store:
        for document in daily_fleet(START)[:days]:
            store.import_document(document, "planted")
        if prune_before is not None:
            store.prune(prune_before)
        with open_reader(store.location) as connection:
            return report.trend(connection, where.location, NOW)


def _documents_failures(days: int) -> list[dict[str, int]]:
    """Failures by severity (fail and waived) of each planted document, counted from it."""
    counts = []
    for document in daily_fleet(START)[:days]:
        count: dict[str, int] = {}
        for host in document["hosts"]:
            for result in host["results"]:
                if result["status"] in ("fail", "waived"):
                    count[result["severity"]] = count.get(result["severity"], 0) + 1
        counts.append(count)
    return counts


def test_each_scan_point_is_the_planted_history(engine_store: EngineStore) -> None:
    trend = _trend(engine_store)
    documents = daily_fleet(START)
    assert [p.started_at for p in trend.points] == [stamp(START + d * DAY) for d in range(5)]
    assert [p.score for p in trend.points] == [d["summary"]["score"] for d in documents]
    assert [p.hosts for p in trend.points] == [4, 4, 3, 3, 3]  # db-02 left after day 1
    assert [dict(p.failures) for p in trend.points] == _documents_failures(5)
    # web-01's shadow permissions: new on day 1, resolved day 2, reopened day 3;
    # web-02's banner: failing from day 0, resolved on day 3
    assert [(p.new - trend.points[0].new if i == 0 else p.new, p.resolved, p.reopened)
            for i, p in enumerate(trend.points)] == [
        (0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 1, 1), (0, 0, 0)]
    assert trend.points[0].new > 0  # every sample failure starts on day 0


def test_regressions_are_the_rules_that_passed_in_the_scan_before_the_last(
        engine_store: EngineStore) -> None:
    # after day 3 web-01's shadow permissions passed on day 2 and fail on day 3
    trend = _trend(engine_store, days=4)
    assert [(r.host, r.rules) for r in trend.regressions] == [
        ("web-01", ("files.shadow-permissions",))]
    assert trend.regressions[0].previous_scan == trend.points[-2].scan_id
    # with day 4 stored (days 0-3 are already: the same documents are one scan each),
    # it failed the day before too: no regression
    assert _trend(engine_store, days=5).regressions == ()


def test_area_rates_and_open_high_ages_are_counted_from_the_store(
        engine_store: EngineStore) -> None:
    trend = _trend(engine_store)
    assert trend.area_scans == tuple(p.scan_id for p in trend.points)
    assert trend.areas, "the sample rules reference GB/T 22239 areas"
    day = {p.scan_id: i for i, p in enumerate(trend.points)}
    assert all(len(a.rates) == 5 for a in trend.areas)
    # the areas files.shadow-permissions checks pass less on the day web-01 fails it
    documents = daily_fleet(START)
    rule = next(r for r in documents[0]["rules"] if r["id"] == "files.shadow-permissions")
    shadow = [a for a in trend.areas if a.area in areas_of(rule)]
    assert shadow
    for area in shadow:
        assert area.rates[day[trend.points[1].scan_id]] < area.rates[
            day[trend.points[2].scan_id]]
    # open high or critical failures, aged by the days since they opened: those of the
    # last scan's hosts, and those db-02 had when it left the scans after day 1 (nothing
    # has shown them fixed; `history stale` names the host)
    last_seen = [*documents[4]["hosts"],
                 *(h for h in documents[1]["hosts"] if h["name"] == "db-02")]
    high_open = sum(1 for host in last_seen for r in host["results"]
                    if r["status"] in ("fail", "waived") and r["severity"] in ("critical",
                                                                                 "high"))
    assert len(trend.open_high_ages) == high_open
    assert trend.open_high_ages.count(1) == 1  # web-01's reopened failure, opened day 3
    assert max(trend.open_high_ages) == 4


def test_the_trend_outlives_pruning(engine_store: EngineStore) -> None:
    whole = _trend(engine_store)
    pruned = _trend(engine_store, prune_before=stamp(START + 2 * DAY))
    assert pruned.points == whole.points and pruned.areas == whole.areas
    assert pruned.open_high_ages == whole.open_high_ages


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_command_writes_a_page_a_browser_prints_offline(
        engine_store: EngineStore, tmp_path: Path, lang: str) -> None:
    chromium_or_skip()
    pypdf = pytest.importorskip("pypdf")
    _trend(engine_store)
    page = tmp_path / "trend.html"
    done = subprocess.run([*CII_SCAN, "history", "report", "-o", str(page), "--lang", lang,
                           "--store", engine_store.location], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "trend of 5 scan(s)" in done.stderr
    html = page.read_text(encoding="utf-8")
    assert f'lang="{"zh-CN" if lang == "zh" else "en"}"' in html and "<script" not in html
    pdf = tmp_path / "trend.pdf"
    printed = chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                       page.as_uri())
    assert printed.returncode == 0 and pdf.exists(), printed.stderr[-2000:]
    assert "Refused to" not in printed.stderr
    text = re.sub(r"\s+", "", "".join(p.extract_text() or ""
                                      for p in pypdf.PdfReader(str(pdf)).pages))
    for key in ("title", "score", "failures", "changes", "open_high", "areas"):
        assert re.sub(r"\s+", "", LABELS[lang][key]) in text, key


def test_an_empty_store_gives_a_page_that_says_so(engine_store: EngineStore,
                                                  tmp_path: Path) -> None:
    page = tmp_path / "trend.html"
    done = subprocess.run([*CII_SCAN, "history", "report", "-o", str(page),
                           "--store", engine_store.location], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert LABELS["en"]["no_scans"] in page.read_text(encoding="utf-8")
