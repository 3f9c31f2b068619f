"""HTML report: bilingual catalog, escaping of hostile host data, self-contained, scales, and
really renders in headless Chromium."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from scanner.findings import RULE_STATUSES, SEVERITIES, build_document, validate_document
from scanner.render import html
from scanner.render.i18n import AREAS, CATALOGS, EN, ZH
from scanner.resources import reports_dir
from tests._chromium import chromium, chromium_or_skip, png_is_not_blank
from tests.sample_findings import HOSTILE, HOSTILE_NAME, fleet_document, sample_document


class _Collector(HTMLParser):
    """Collects what a browser would: element tags, script bodies, text and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


def test_catalogs_have_the_same_keys_and_no_empty_text() -> None:
    assert set(EN) == set(ZH)
    for lang, texts in CATALOGS.items():
        assert all(value.strip() for value in texts.values()), lang
    assert all(f"area_{area}" in EN for area in AREAS)


def test_every_catalog_key_used_by_the_templates_exists() -> None:
    used: set[str] = set()
    for template in reports_dir().glob("*.j2"):
        text = template.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\.([a-z_0-9]+)", text))
        used |= set(re.findall(r"\bt\[\"([a-z_0-9]+)\"\]", text))
    assert used, "the templates should use the catalog"
    assert used <= set(EN), sorted(used - set(EN))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_fixed_text_is_in_the_chosen_language(lang: str) -> None:
    page = html.render(sample_document(), lang=lang)
    texts = CATALOGS[lang]
    for key in ("report_title", "overview", "matrix", "unassessed", "waivers", "failed_rules"):
        assert texts[key] in page
    other = CATALOGS["zh" if lang == "en" else "en"]
    assert other["report_title"] not in page
    assert f'<html lang="{texts["lang_attr"]}">' in page


def test_rule_texts_come_from_the_document_in_the_chosen_language() -> None:
    zh_page = html.render(sample_document(), lang="zh")
    assert "禁止 root 通过 SSH 直接登录" in zh_page
    # a backticked command shows as code, the same in both languages
    assert "在 /etc/ssh/sshd_config 中设置 <code>PermitRootLogin no</code>。" in zh_page
    en_page = html.render(sample_document(), lang="en")
    assert "SSH root login is disabled" in en_page


def test_remediation_follows_the_hosts_os_family() -> None:
    document = sample_document()
    page = html.render(document, lang="en")
    # the hostile-named host is Debian and fails the shadow check: the Debian fix is shown
    assert "chown root:shadow /etc/shadow; chmod 0640 /etc/shadow" in page


def test_hostile_strings_are_text_not_markup() -> None:
    document = sample_document()
    page = html.render(document, lang="en")
    parsed = _parse(page)
    # exactly one script element: our own filter, and no injected markup
    assert parsed.tags.count("script") == 1
    assert "alert" not in "".join(parsed.scripts)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    visible = "".join(parsed.text)
    assert "<script>alert(1)</script>" in visible  # shown to the reader, as text
    assert "{{7*7}}" in visible  # template syntax in data is never evaluated
    assert "\x01" not in page and "\x1b" not in page and "\x07" not in page
    assert "\\u0001\\u001b[2J" in visible  # evidence: JSON escapes of the control bytes
    assert HOSTILE_NAME.replace("\x07", "\\x07") in visible
    assert not any(name.startswith("on") for name, _ in parsed.attrs)


def test_report_is_self_contained() -> None:
    page = html.render(sample_document(), lang="en")
    parsed = _parse(page)
    assert "link" not in parsed.tags and "img" not in parsed.tags
    for name, value in parsed.attrs:
        if name in ("src", "href"):
            assert value is not None and value.startswith("#"), (name, value)
    assert "@import" not in page and "url(" not in page
    assert "@media print" in page and "size: A4" in page
    assert "<svg" in page


def test_counts_from_the_document_are_shown() -> None:
    document = sample_document()
    page = html.render(document, lang="en")
    summary = document["summary"]
    for status, count in summary["by_status"].items():
        assert re.search(rf'id="count-{status}"><div class="value">{count}<', page), status
    assert f'id="score"><div class="value">{summary["score"]}<' in page
    assert "connect to 198.51.100.7:22: connection refused" in page
    assert "Graphical installer needs X11 until the migration (CHG-1042)." in page
    assert "2026-12-31" in page


def test_renders_a_document_without_hosts_or_optional_fields() -> None:
    document = sample_document()
    document["hosts"] = []
    for key in ("operator", "scanner_host", "waivers", "fail_on"):
        document["scan"].pop(key, None)
    document["summary"] = build_document.__globals__["summarize_document"]([], True)
    validate_document(document)
    page = html.render(document, lang="zh")
    assert ZH["no_unassessed"] in page and ZH["no_waivers"] in page


def test_a_thousand_host_report_renders_at_a_reasonable_size() -> None:
    document = fleet_document(1000)
    page = html.render(document, lang="en")
    assert page.count('<details class="host"') == 1000
    assert " open>" not in page.split('id="hosts"')[1][:2000]  # collapsed on big scans
    scanned = sum(host["status"] == "scanned" for host in document["hosts"])
    assert scanned > 40  # the sample's mix of statuses, copied round-robin
    assert f"Showing the 40 lowest-scoring of {scanned} hosts." in page
    assert f"first 25 of {scanned}" in page
    size = len(page.encode("utf-8"))
    assert size < 25 * 1024 * 1024, f"{size} bytes"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_renders_in_headlesschromium(tmp_path: Path, lang: str) -> None:
    chromium_or_skip()
    document = sample_document()
    page = tmp_path / "report.html"
    page.write_text(html.render(document, lang=lang), encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    assert "Uncaught" not in dom.stderr
    texts = CATALOGS[lang]
    assert texts["report_title"] in dom.stdout
    summary = document["summary"]
    for status, count in summary["by_status"].items():
        assert f'id="count-{status}"><div class="value">{count}</div>' in dom.stdout
    assert f'id="score"><div class="value">{summary["score"]}</div>' in dom.stdout
    # the severity table, row by row, against counts made here from the hosts' results
    table = dom.stdout.split('<table id="severity-table">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>.*?</td>((?:<td class=\"num\">\d+</td>)+)</tr>", table)
    shown = [[int(n) for n in re.findall(r">(\d+)<", row)] for row in rows]
    results = [r for h in document["hosts"] for r in h.get("results", [])]
    expected = [[sum(1 for r in results if r["severity"] == severity and r["status"] == status)
                 for status in RULE_STATUSES]
                + [sum(1 for r in results if r["severity"] == severity)]
                for severity in SEVERITIES]
    assert shown == expected
    assert [row[RULE_STATUSES.index("fail")] for row in shown] == [
        summary["failed_by_severity"][severity] for severity in SEVERITIES]
    # the filter box is shown once the script ran (it stays hidden without JavaScript)
    assert '<div class="filter" id="host-filter">' in dom.stdout
    assert '<div class="filter" id="host-filter" hidden="">' not in dom.stdout
    shot = tmp_path / "shot.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600",
                       page.as_uri())
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    assert png_is_not_blank(shot)


def test_report_without_javascript_still_shows_every_host() -> None:
    """The inline script only adds a filter box: the page as served (what a browser with
    scripts off shows) has the box hidden and every host's section present, none hidden."""
    document = sample_document()
    page = html.render(document, lang="en")
    assert '<div class="filter" id="host-filter" hidden>' in page
    sections = re.findall(r'<details class="host"[^>]*>', page)
    assert len(sections) == len(document["hosts"])
    assert not [tag for tag in sections if "hidden" in tag or "display" in tag]


def test_chromium_sees_no_script_from_hostile_strings(tmp_path: Path) -> None:
    chromium_or_skip()
    page = tmp_path / "report.html"
    page.write_text(html.render(sample_document(), lang="en"), encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0
    assert dom.stdout.count("<script>") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom.stdout
    assert json.dumps(HOSTILE)  # the hostile value is part of the sample document


def test_report_prints_to_a4_pages(tmp_path: Path) -> None:
    chromium_or_skip()
    page = tmp_path / "report.html"
    page.write_text(html.render(sample_document(), lang="zh"), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    result = chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                       page.as_uri())
    assert result.returncode == 0 and pdf.exists(), result.stderr[-2000:]
    data = pdf.read_bytes()
    boxes = {tuple(round(float(v)) for v in box.split())
             for box in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", data)}
    assert boxes == {(0, 0, 595, 842)}  # A4 in points, from the @page rule
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 2


def test_tailoring_shows_what_the_profile_changed_and_what_it_tailored_out() -> None:
    page = html.render(sample_document(), lang="en")
    tailoring = page.split('<section id="tailoring">', 1)[1].split("</section>", 1)[0]
    assert ('<tr class="changed"><td><code>ssh_max_auth_tries</code></td><td><code>4</code>'
            in tailoring)
    assert "<td><code>6</code></td>" in tailoring  # the baseline's own default
    assert "legacy.rsh-absent" in tailoring and "no rsh client" in tailoring


def test_a_document_from_before_defaults_were_recorded_still_renders() -> None:
    document = sample_document()
    del document["baseline"]["parameter_defaults"]
    validate_document(document)  # the field is optional
    page = html.render(document, lang="zh")
    assert ZH["defaults_unknown"] in page and '<tr class="changed">' not in page


def test_major_risks_lead_the_page_and_are_marked_where_they_appear() -> None:
    page = html.render(sample_document(), lang="en")
    assert re.findall(r'<section id="([a-z-]+)">', page)[0] == "major-risks"
    first = page.split('<section id="major-risks">', 1)[1].split("</section>", 1)[0]
    assert "accounts.no-empty-passwords" in first and "db-01" in first
    hosts = page.split('<section id="hosts">', 1)[1]
    marked = re.findall(r"<code>([a-z0-9.-]+)</code>[^<]*"
                        r'(?:<span class="badge judged"[^>]*>[^<]*</span>)?'
                        r' <span class="badge major"', hosts)
    assert set(marked) == {"accounts.no-empty-passwords"}


def test_an_expired_waiver_is_shown_as_a_finding() -> None:
    page = html.render(sample_document(), lang="en")
    waivers = page.split('<section id="waivers">', 1)[1].split("</section>", 1)[0]
    expired = waivers.split('id="expired-waivers"', 1)[1]
    assert "db-01" in expired and "ssh.banner-configured" in expired
    assert "sample-waivers.yaml:8" in expired and "2026-01-31" in expired


def _matrix_row(page: str, item: str) -> str:
    rows = re.findall(r"<tr><td>([^<]*)</td>(.*?)</tr>", page.split('id="matrix"')[1]
                      .split("</section>")[0], re.S)
    return next(cells for name, cells in rows if name == item)


def test_the_matrix_names_the_rules_that_check_each_item_and_apart_those_that_support_it(
) -> None:
    document = sample_document()
    checking = next(rule for rule in document["rules"]
                    if rule["references"].get("gbt22239-2019"))
    item = checking["references"]["gbt22239-2019"][0]
    other = next(rule for rule in document["rules"]
                 if item not in rule["references"].get("gbt22239-2019", []))
    other["references"]["gbt22239-2019-supporting"] = [item]
    page = html.render(document, lang="en")
    row = _matrix_row(page, item)
    rules_cell = row.split('<td class="rules">')[1].split("</td>")[0]
    listed, _, supporting = rules_cell.partition("<br>")
    assert checking["id"] in listed and other["id"] not in listed
    assert f"supporting evidence only, not counted: {other['id']}" in supporting
    zh = _matrix_row(html.render(document, lang="zh"), item)
    assert f"仅为佐证，不计入覆盖: {other['id']}" in zh
