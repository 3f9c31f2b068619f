"""An -o directory holds the outputs of one run only (issue #11, item 5).

A report left there by an earlier run, beside the new findings.json, would be read as
this run's. The scanner removes its own report files (the OutputFormat names) that the
new run did not write, and touches nothing else: other files, the --resume journal, a
directory that happens to carry a report's name, the target of a symlink.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from scanner.render import OutputFormat
from tests._scanner import CII_SCAN
from tests.sample_findings import SAMPLE_BASELINE


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CII_SCAN, *args], capture_output=True, text=True, timeout=300,
                          check=False)


def test_a_rescan_without_html_removes_the_old_report_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run("scan", "-b", str(SAMPLE_BASELINE), "-f", "html", "-f", "junit", "-o", str(out))
    assert first.returncode in (0, 3), first.stderr
    assert (out / "report.html").is_file() and (out / "junit.xml").is_file()
    old_findings = (out / "findings.json").read_text()
    (out / "notes.txt").write_text("the operator's own notes\n")
    (out / "journal.jsonl").write_text("")  # the --resume journal is not a report
    outside = tmp_path / "keep-me.xml"
    outside.write_text("not ours\n")
    (out / "junit.xml").unlink()
    (out / "junit.xml").symlink_to(outside)  # a link under our name: the link goes, not this
    (out / "findings.sarif").mkdir()  # a directory under our name is not a file we wrote

    second = run("scan", "-b", str(SAMPLE_BASELINE), "-f", "csv", "-o", str(out))
    assert second.returncode in (0, 3), second.stderr
    assert not (out / "report.html").exists()
    assert not (out / "junit.xml").is_symlink() and not (out / "junit.xml").exists()
    assert "removed" in second.stderr and "report.html" in second.stderr
    assert outside.read_text() == "not ours\n"
    assert (out / "notes.txt").read_text() == "the operator's own notes\n"
    assert (out / "journal.jsonl").exists()
    assert (out / "findings.sarif").is_dir()
    assert (out / "findings.csv").is_file()
    assert (out / "findings.json").read_text() != old_findings  # the new run's own
    owned = {fmt.filename for fmt in OutputFormat}
    left = {p.name for p in out.iterdir()} & owned
    assert left == {"findings.json", "findings.csv", "findings.sarif"}  # the last a directory


def test_evaluate_into_a_scans_directory_keeps_only_its_own_reports(tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    done = run("collect", "-b", str(SAMPLE_BASELINE), "-o", str(facts))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    done = run("evaluate", str(facts), "-b", str(SAMPLE_BASELINE), "-f", "html", "-f", "csv",
               "-o", str(out))
    assert done.returncode in (0, 3), done.stderr
    done = run("evaluate", str(facts), "-b", str(SAMPLE_BASELINE), "-f", "sarif", "-o",
               str(out))
    assert done.returncode in (0, 3), done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["findings.json", "findings.sarif"]
    sarif = json.loads((out / "findings.sarif").read_text())
    assert sarif["version"] == "2.1.0"
