"""The printed HTML report is what an assessor hands over: a one-host report of this
machine's real full-baseline scan prints to A4 in at most PAGE_LIMIT pages, in English
and in Chinese, and the print holds every manual rule's instruction and, for every
failure, its rule id and the evidence lines that bear on its verdict.

Printed by headless Chromium (the browser an assessor's office would use), counted and
read back with pypdf: a pure-Python PDF reader, so the test needs no Debian package
beyond Chromium and reads the same text layer a PDF viewer's search would.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from scanner.render import html
from scanner.render._text import pick
from scanner.render.evidence import ITEMS_MAX, bearing_evidence
from scanner.render.i18n import catalog
from scanner.render.wording import result_expected, result_message
from tests._chromium import chromium, chromium_or_skip
from tests._scanner import CII_SCAN, require_root
from tests.sample_findings import sample_document

PAGE_LIMIT = 12
_SPACE = re.compile(r"\s+")


def _flat(text: str) -> str:
    """Text without whitespace: a PDF's text layer breaks lines wherever the page wrapped."""
    return _SPACE.sub("", text)


def _print(tmp_path: Path, page: Path) -> tuple[int, str]:
    """(pages, text) of ``page`` printed to A4 by headless Chromium."""
    pypdf = pytest.importorskip("pypdf")
    pdf = tmp_path / (page.stem + ".pdf")
    result = chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                      page.as_uri())
    assert result.returncode == 0 and pdf.exists(), result.stderr[-2000:]
    reader = pypdf.PdfReader(str(pdf))
    return len(reader.pages), "\n".join(p.extract_text() or "" for p in reader.pages)


def _missing(document: Mapping[str, Any], text: str, lang: str) -> list[str]:
    """What the print must hold and does not: each manual rule's instruction; each failed
    result's rule id and every evidence line the report prints for it."""
    flat = _flat(text)
    missing = []
    for rule in document["rules"]:
        instruction = pick(rule.get("manual"), lang)
        if instruction and _flat(instruction) not in flat:
            missing.append(f"instruction of {rule['id']}")
    for host in document["hosts"]:
        for result in host["results"]:
            if result["status"] != "fail":
                continue
            if result["rule_id"] not in flat:
                missing.append(f"{host['name']}: rule id {result['rule_id']}")
            lines = bearing_evidence(result, result_message(result, lang),
                                     result_expected(result, lang))
            assert lines or not result["observed"], result["rule_id"]
            missing += [f"{host['name']}: {result['rule_id']}: evidence {line}"
                        for line in lines if _flat(str(line)) not in flat]
    return missing


@pytest.fixture(scope="module")
def this_machine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real full-baseline scan of this machine (the default baseline, as shipped)."""
    require_root("scanning this machine")
    chromium_or_skip()
    out = tmp_path_factory.mktemp("scan")
    done = subprocess.run([*CII_SCAN, "scan", "-q", "-o", str(out), "-f", "html", "-f", "json"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: findings at --fail-on
    assert (out / "report.html").exists() and (out / "findings.json").exists()
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_this_machines_full_scan_prints_whole_in_few_pages(this_machine: Path,
                                                           tmp_path: Path, lang: str) -> None:
    document = json.loads((this_machine / "findings.json").read_text(encoding="utf-8"))
    assert len(document["hosts"]) == 1 and document["hosts"][0]["status"] == "scanned"
    if lang == "en":
        page = this_machine / "report.html"  # the report the scan itself wrote
    else:
        page = tmp_path / "report.zh.html"
        done = subprocess.run([*CII_SCAN, "report", str(this_machine / "findings.json"),
                               "-f", "html", "--lang", "zh", "-o", str(page), "-q"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    pages, text = _print(tmp_path, page)
    assert pages <= PAGE_LIMIT, f"{pages} pages"
    assert _missing(document, text, lang) == []
    t = catalog(lang)
    for heading in (t["major_risks"], t["tailoring"], t["legend"], t["expired_waivers"]):
        assert _flat(heading) in _flat(text)
    assert _flat(t["filter_placeholder"]) not in _flat(text)  # no controls on paper
    # a list observed whole (the package list, the accounts) prints its length, not items
    flat = _flat(text)
    for result in document["hosts"][0]["results"]:
        for entry in result["observed"] if result["status"] == "fail" else ():
            value = entry.get("value")
            if isinstance(value, list) and len(value) > ITEMS_MAX \
                    and len(json.dumps(value)) > 2000:
                assert _flat(f"{len(value)} items") in flat, result["rule_id"]
                assert _flat(json.dumps(value[0], ensure_ascii=False)) not in flat


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_sample_report_prints_whole_without_javascript(tmp_path: Path, lang: str) -> None:
    """The sample fleet, printed from the page without its script: what prints needs none."""
    chromium_or_skip()
    document = sample_document()
    page = tmp_path / f"sample.{lang}.html"
    rendered = html.render(document, lang=lang)
    without_script, removed = re.subn(r"<script>.*?</script>", "", rendered, flags=re.S)
    assert removed == 1
    page.write_text(without_script, encoding="utf-8")
    pages, text = _print(tmp_path, page)
    assert pages <= PAGE_LIMIT, f"{pages} pages"
    assert _missing(document, text, lang) == []
    flat, t = _flat(text), catalog(lang)
    # the expired waiver, the 重大风险隐患 and the rule tailored out are on paper
    assert _flat("sample-waivers.yaml:8") in flat and _flat(t["expired_mark"]) in flat
    assert _flat(t["major_mark"]) in flat and "accounts.no-empty-passwords" in flat
    assert "legacy.rsh-absent" in flat
    # every pass is a row of its own, by rule id
    for host in document["hosts"]:
        for result in host["results"]:
            assert result["rule_id"] in flat


def test_a_long_list_prints_its_count_and_the_items_the_message_names() -> None:
    packages = [{"name": f"pkg-{i:03d}", "version": "1.0", "state": "installed"}
                for i in range(410)]
    packages += [{"name": "telnetd", "version": "0.17", "state": "installed"},
                 {"name": "rsh-server", "version": "0.17", "state": "installed"}]
    result = {"rule_id": "services.insecure-remote-access-absent", "status": "fail",
              "severity": "high", "expected": "packages: no item: name in [telnetd, rsh-server]",
              "message": "2 item(s) match: telnetd, rsh-server",
              "observed": [{"probe": "packages", "value": packages}]}
    [line] = bearing_evidence(result)
    assert str(line) == "packages: 412 items, 2 bear on this: telnetd; rsh-server"


def test_a_large_mapping_prints_the_fields_the_expectation_reads() -> None:
    config = {f"option{i}": "x" * 10 for i in range(60)} | {"permitrootlogin": "yes"}
    result = {"rule_id": "ssh.root-login-disabled", "status": "fail", "severity": "high",
              "expected": "permitrootlogin = no", "message": "'yes' is not 'no'",
              "observed": [{"probe": "sshd_effective", "key": "all", "value": config}]}
    [line] = bearing_evidence(result)
    assert str(line) == 'sshd_effective.all: 61 fields, 1 bear on this: permitrootlogin="yes"'
