"""Diff of two scans: new failures, fixed, still failing, host changes, baseline changes, gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from scanner import diff
from scanner.cli import cli
from scanner.findings import dumps
from scanner.render.html import render_diff
from tests.sample_findings import HOSTILE_NAME, sample_document, sample_old_document


def _keys(changes: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(c["host"]["name"], c["rule_id"]) for c in changes}


def test_classifies_changes_per_host_and_rule() -> None:
    result = diff.compare(sample_old_document(), sample_document())
    assert ("web-01", "ssh.root-login-disabled") in _keys(result["new_failures"])
    assert ("db-01", "accounts.no-empty-passwords") in _keys(result["new_failures"])
    assert (HOSTILE_NAME, "files.shadow-permissions") in _keys(result["new_failures"])
    assert _keys(result["fixed"]) == {("web-01", "kernel.aslr-full")}
    assert _keys(result["still_failing"]) == {("db-01", "ssh.banner-configured")}
    changes = {(c["host"]["name"], c["rule_id"]): (c["old_status"], c["new_status"])
               for c in result["status_changes"]}
    assert changes[("db-01", "files.shadow-permissions")] == ("pass", "error")
    assert changes[("web-01", "ssh.x11-forwarding-disabled")] == ("pass", "waived")
    assert [h["name"] for h in result["hosts_added"]] == [HOSTILE_NAME]
    assert [h["name"] for h in result["hosts_removed"]] == ["retired-05"]
    assert [(c["host"]["name"], c["old_status"], c["new_status"])
            for c in result["host_status_changes"]] == [("legacy-04", "scanned", "auth_failed")]
    assert result["baseline_changed"] is False
    assert result["new_failures_by_severity"]["critical"] == 1


def test_identical_scans_have_no_changes() -> None:
    document = sample_document()
    result = diff.compare(document, document)
    assert not (result["new_failures"] or result["fixed"] or result["status_changes"]
                or result["hosts_added"] or result["hosts_removed"])
    assert len(result["still_failing"]) == document["summary"]["by_status"]["fail"]


def test_changed_baseline_is_called_out() -> None:
    old = sample_old_document()
    old["baseline"]["version"] = "1.1.0"
    result = diff.compare(old, sample_document())
    assert result["baseline_changed"] is True
    assert "NOTE: the baseline changed (sample-golden 1.1.0" in diff.render_text(result)
    assert 'id="baseline-changed"' in render_diff(result)


def test_gate_counts_new_failures_at_or_above_threshold() -> None:
    result = diff.compare(sample_old_document(), sample_document())
    assert diff.new_failures_at_or_above(result, "critical") == 1
    assert diff.new_failures_at_or_above(result, "high") == 3
    # the one info failure is the assessor's judged failure of backup.offhost-copy
    assert diff.new_failures_at_or_above(result, "low") == len(result["new_failures"]) - 1
    assert diff.new_failures_at_or_above(result, "info") == len(result["new_failures"])
    none = diff.compare(sample_document(), sample_document())
    assert diff.new_failures_at_or_above(none, "low") == 0


def _stored(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(dumps(sample_old_document()), encoding="utf-8")
    new.write_text(dumps(sample_document()), encoding="utf-8")
    return old, new


def test_cli_diff_exit_codes_follow_fail_on(tmp_path: Path) -> None:
    old, new = _stored(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["diff", str(old), str(new)]).exit_code == 0
    assert runner.invoke(cli, ["diff", str(old), str(new), "--fail-on", "critical"]).exit_code == 1
    assert runner.invoke(cli, ["diff", str(new), str(new), "--fail-on", "low"]).exit_code == 0
    reverse = runner.invoke(cli, ["diff", str(new), str(old), "--fail-on", "critical"])
    assert reverse.exit_code == 0  # going back to the old scan fixes, it adds no new failure


def test_cli_diff_formats(tmp_path: Path) -> None:
    old, new = _stored(tmp_path)
    runner = CliRunner()
    as_json = runner.invoke(cli, ["diff", str(old), str(new), "-f", "json"])
    assert json.loads(as_json.output)["kind"] == "cii-scan-diff"
    text = runner.invoke(cli, ["diff", str(old), str(new)]).output
    assert "new failures: 8" in text and "hosts removed: 1" in text
    page = tmp_path / "diff.html"
    result = runner.invoke(cli, ["diff", str(old), str(new), "-f", "html", "--lang", "zh",
                                 "-o", str(page)])
    assert result.exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert "新增不通过 (8)" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_cli_diff_rejects_a_non_findings_file(tmp_path: Path) -> None:
    old, _ = _stored(tmp_path)
    bogus = tmp_path / "bogus.json"
    bogus.write_text("[]", encoding="utf-8")
    result = CliRunner().invoke(cli, ["diff", str(old), str(bogus)])
    assert result.exit_code != 0
    assert "not a valid findings document" in str(result.exception)
