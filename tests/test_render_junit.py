"""JUnit XML: parsed by junitparser; one suite per host, statuses mapped, always well-formed."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import junitparser

from scanner.render import junit
from tests.sample_findings import HOSTILE_NAME, sample_document


def _load(tmp_path: Path) -> junitparser.JUnitXml:
    path = tmp_path / "junit.xml"
    path.write_text(junit.render(sample_document()), encoding="utf-8")
    return junitparser.JUnitXml.fromfile(str(path))


def _suites(tmp_path: Path) -> dict[str, junitparser.TestSuite]:
    return {suite.name: suite for suite in _load(tmp_path)}


def test_one_suite_per_host_with_counts_from_the_document(tmp_path: Path) -> None:
    suites = _suites(tmp_path)
    document = sample_document()
    assert set(suites) == {h["name"].replace("\x07", "\\x07") for h in document["hosts"]}
    web = next(h for h in document["hosts"] if h["name"] == "web-01")
    counts = web["summary"]["by_status"]
    suite = suites["web-01"]
    assert suite.tests == len(web["results"])
    assert suite.failures == counts["fail"]
    assert suite.errors == counts["error"]
    assert suite.skipped == counts["waived"] + counts["not_applicable"] + counts["manual"]
    assert len(list(suite)) == len(web["results"])


def test_testcase_names_and_result_kinds(tmp_path: Path) -> None:
    cases = {case.name: case for case in _suites(tmp_path)["web-01"]}
    root = cases["[HIGH][ssh.root-login-disabled] SSH root login is disabled"]
    failure = root.result[0]
    assert isinstance(failure, junitparser.Failure)
    assert 'expected: permitrootlogin: is "no"' in failure.text
    assert "without-password" in failure.text
    assert "PermitRootLogin no" in failure.text  # remediation
    waived = cases["[MEDIUM][ssh.x11-forwarding-disabled] SSH X11 forwarding is disabled"]
    assert isinstance(waived.result[0], junitparser.Skipped)
    assert waived.result[0].message.startswith("waived:")
    assert "expires 2026-12-31" in waived.result[0].message
    na = cases["[LOW][rhel.dmesg-restricted] Kernel log restricted (RHEL family)"]
    assert na.result[0].message.startswith("not applicable:")
    judged_pass = cases["[INFO][backup.offhost-copy] Backups are copied off the host"]
    assert judged_pass.result == []  # a pass, the assessor's: said in system-out
    assert judged_pass.system_out.startswith("judged pass by Chen Jing (assessor) on 2026-05-28")
    assert "[record: evidence/web-01-backup.pdf]" in judged_pass.system_out
    hostile = HOSTILE_NAME.replace("\x07", "\\x07")
    manual = {case.name: case for case in _suites(tmp_path)[hostile]}[
        "[INFO][backup.offhost-copy] Backups are copied off the host"]
    assert manual.result[0].message.startswith("manual review needed:")
    db_cases = {case.name: case for case in _suites(tmp_path)["db-01"]}
    judged_fail = db_cases["[INFO][backup.offhost-copy] Backups are copied off the host"]
    assert isinstance(judged_fail.result[0], junitparser.Failure)
    assert "assessor's note: Backups are written to a local disk only." in \
        judged_fail.result[0].text
    error = db_cases["[HIGH][files.shadow-permissions] /etc/shadow is not world-readable"]
    assert isinstance(error.result[0], junitparser.Error)
    assert "Permission denied" in error.result[0].message


def test_unassessed_host_is_a_suite_with_one_error(tmp_path: Path) -> None:
    suite = _suites(tmp_path)["edge-03"]
    cases = list(suite)
    assert len(cases) == 1 and suite.errors == 1
    assert isinstance(cases[0].result[0], junitparser.Error)
    assert "connection refused" in cases[0].result[0].message


def test_control_characters_never_break_the_xml(tmp_path: Path) -> None:
    text = junit.render(sample_document())
    assert "\x07" not in text and "\x01" not in text and "\x1b" not in text
    root = ElementTree.fromstring(text.encode("utf-8"))
    names = [suite.get("name") for suite in root]
    assert HOSTILE_NAME.replace("\x07", "\\x07") in names
    assert "&lt;script&gt;" in text
