"""Judgements: an assessor's verdicts on manual rules, applied only where the scanner had
none, refused when they cannot mean what they say, shown as the assessor's in every
format, left out of the score and counted by the gate."""

from __future__ import annotations

import csv
import datetime
import json
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import junitparser
import pytest

from scanner import gate
from scanner.baseline import load_baseline
from scanner.decisions import evidence_digest
from scanner.errors import EXIT_INPUT, EXIT_THRESHOLD, InputError
from scanner.findings import validate_document
from scanner.judgements import apply_judgements, parse_judgements_text
from scanner.waivers import apply_waivers, parse_waivers_text
from tests._chromium import chromium, chromium_or_skip
from tests._docx import visible_text
from tests._scanner import CII_SCAN
from tests._xlsx import workbook
from tests.sample_findings import HOSTILE_NAME, sample_document

TODAY = datetime.date(2026, 6, 1)
SHIPPED_MANUAL = tuple(rule.id for rule in load_baseline("cii-art9-linux").rules if rule.manual)


def _judgements(text: str) -> Any:
    return parse_judgements_text(textwrap.dedent(text), "j.yaml")


def _one(rule: str = "backup.offhost-copy", hosts: str = '["*"]', verdict: str = "pass",
         date: str = "2026-05-30", extra: str = "") -> Any:
    return _judgements(f"""\
        judgements:
          - rule: {rule}
            hosts: {hosts}
            verdict: {verdict}
            note: seen the backup job and its copy
            assessor: Chen Jing
            date: {date}
        {extra}""")


def _result(document: dict[str, Any], host: str, rule: str) -> dict[str, Any]:
    found = next(h for h in document["hosts"] if h["name"] == host)
    result: dict[str, Any] = next(r for r in found["results"] if r["rule_id"] == rule)
    return result


def test_the_shipped_baseline_has_five_manual_rules() -> None:
    assert len(SHIPPED_MANUAL) == 5


@pytest.mark.parametrize("verdict", ["pass", "fail", "not_applicable"])
def test_a_judgement_decides_a_manual_result_as_the_assessors(verdict: str) -> None:
    before = sample_document(waived=False)
    outcome = apply_judgements(before, _one(hosts='["web-01"]', verdict=verdict), TODAY)
    judged = _result(outcome.document, "web-01", "backup.offhost-copy")
    assert judged["status"] == verdict
    assert judged["judgement"] == {"verdict": verdict, "assessor": "Chen Jing",
                                   "date": "2026-05-30", "source": "j.yaml:2",
                                   "note": "seen the backup job and its copy"}
    # the message words the verdict plainly ("not applicable", not the status id)
    assert judged["message"] == f"judged {verdict.replace('_', ' ')} by Chen Jing on 2026-05-30"
    # the other hosts' manual results still await judgement
    assert _result(outcome.document, "db-01", "backup.offhost-copy")["status"] == "manual"
    assert (outcome.applied, outcome.awaiting) == (1, 2)
    validate_document(outcome.document)
    # counted under the verdict, but the score (the scanner's own index) is unchanged
    host = next(h for h in outcome.document["hosts"] if h["name"] == "web-01")
    old = next(h for h in before["hosts"] if h["name"] == "web-01")
    assert host["summary"]["by_status"][verdict] == old["summary"]["by_status"][verdict] + 1
    assert host["summary"]["score"] == old["summary"]["score"]
    assert outcome.document["summary"]["score"] == before["summary"]["score"]


def test_a_judged_failure_is_a_failure_to_the_gate() -> None:
    document = apply_judgements(sample_document(waived=False),
                                _one(verdict="fail"), TODAY).document
    assert gate.failures_at_or_above(document, "info") == \
        gate.failures_at_or_above(sample_document(waived=False), "info") + 3
    assert gate.exit_code(document, "info") == EXIT_THRESHOLD


def test_only_manual_results_are_judged() -> None:
    """A manual rule's result that is not `manual` (a host where the rule does not
    apply, say) keeps the scanner's status; nothing else is touched."""
    before = sample_document(waived=False)
    for host in before["hosts"]:
        for result in host["results"]:
            if result["rule_id"] == "backup.offhost-copy" and host["name"] == "db-01":
                result["status"] = "not_applicable"
    outcome = apply_judgements(before, _one(verdict="fail"), TODAY)
    assert _result(outcome.document, "db-01", "backup.offhost-copy")["status"] == \
        "not_applicable"
    changed = [(h["name"], new["rule_id"])
               for h, old_host in zip(outcome.document["hosts"], before["hosts"], strict=True)
               for new, old in zip(h["results"], old_host["results"], strict=True)
               if new != old]
    assert sorted(changed) == sorted([("web-01", "backup.offhost-copy"),
                                      (HOSTILE_NAME, "backup.offhost-copy")])


def test_the_first_matching_judgement_decides() -> None:
    judgements = _judgements("""\
        judgements:
          - {rule: backup.offhost-copy, hosts: ["web"], verdict: fail, note: n1,
             assessor: A, date: 2026-05-01}
          - {rule: backup.offhost-copy, hosts: ["*"], verdict: pass, note: n2,
             assessor: B, date: 2026-05-02}
        """)
    document = apply_judgements(sample_document(waived=False), judgements, TODAY).document
    assert _result(document, "web-01", "backup.offhost-copy")["judgement"]["assessor"] == "A"
    assert _result(document, "db-01", "backup.offhost-copy")["judgement"]["assessor"] == "B"


def test_a_judgement_bound_to_other_evidence_lapses_with_a_note() -> None:
    document = sample_document(waived=False)
    observed = _result(document, "web-01", "backup.offhost-copy")["observed"]
    bound = _one(hosts='["web-01"]', extra=f'    evidence_digest: "{evidence_digest(observed)}"')
    assert _result(apply_judgements(document, bound, TODAY).document, "web-01",
                   "backup.offhost-copy")["status"] == "pass"
    stale = _one(hosts='["web-01"]', extra='    evidence_digest: "sha256:' + "0" * 64 + '"')
    outcome = apply_judgements(document, stale, TODAY)
    result = _result(outcome.document, "web-01", "backup.offhost-copy")
    assert result["status"] == "manual" and "judgement" not in result
    assert "judgement j.yaml:2 was made on evidence sha256:000" in result["message"]
    assert outcome.warnings == ("web-01: backup.offhost-copy: judgement j.yaml:2 not applied: "
                                "the evidence changed",)


@pytest.mark.parametrize(("judgements", "problem"), [
    (lambda: _one(rule="ssh.root-login-disabled"), "which the scanner decides itself"),
    (lambda: _one(rule="backup.offsite"), "unknown rule 'backup.offsite'"),
    (lambda: _one(date="2026-06-02"), "dated 2026-06-02, after today (2026-06-01, UTC)"),
])
def test_judgements_that_cannot_mean_what_they_say_are_refused(judgements: Any,
                                                               problem: str) -> None:
    with pytest.raises(InputError, match=re.escape(problem)) as caught:
        apply_judgements(sample_document(waived=False), judgements(), TODAY)
    assert str(caught.value).startswith("j.yaml:2:")


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("judgements:\n  - rule: r\n    hosts: [a]\n    verdict: passed\n    note: n\n"
     "    assessor: A\n    date: 2026-01-01\n", 4, "'passed' is not one of"),
    ("judgements:\n  - rule: r\n    hosts: [a]\n    verdict: pass\n    assessor: A\n"
     "    date: 2026-01-01\n", 2, "'note' is a required property"),
    ("judgements:\n  - rule: r\n    hosts: [a]\n    verdict: pass\n    note: n\n"
     "    assessor: A\n    date: '2026-02-30'\n", 7, "not a calendar date"),
    ("judgements:\n  - rule: r\n    hosts: []\n    verdict: pass\n    note: n\n"
     "    assessor: A\n    date: 2026-01-01\n", 3, "should be non-empty"),
    ("", None, "judgements file is empty"),
])
def test_a_malformed_file_names_the_line(text: str, line: int | None, problem: str) -> None:
    with pytest.raises(InputError, match=re.escape(problem)) as caught:
        parse_judgements_text(text, "j.yaml")
    assert caught.value.line == line


def test_an_assessors_failure_can_then_be_waived() -> None:
    judged = apply_judgements(sample_document(waived=False), _one(verdict="fail"), TODAY)
    waivers = parse_waivers_text(textwrap.dedent("""\
        waivers:
          - rule: backup.offhost-copy
            hosts: ["db-01"]
            justification: off-host copy starts with the new site (PRJ-9)
            approved_by: Li Wei
            expires: 2026-12-31
        """), "w.yaml")
    document = apply_waivers(judged.document, waivers, TODAY).document
    result = _result(document, "db-01", "backup.offhost-copy")
    assert result["status"] == "waived" and result["judgement"]["verdict"] == "fail"
    validate_document(document)


# ------------------------------------------------------------------ the five, end to end


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CII_SCAN, *args], capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("facts") / "facts.json"
    done = _cli("collect", "-o", str(path))
    assert done.returncode == 0, done.stderr
    return path


def _five(path: Path) -> Path:
    verdicts = ["pass", "fail", "not_applicable", "pass", "fail"]
    items = "".join(
        f"  - rule: {rule}\n    hosts: ['*']\n    verdict: {verdict}\n"
        f"    note: judged {rule} on site\n    assessor: Chen Jing\n    date: 2026-11-30\n"
        f"    attachment: record-{number}.pdf\n"
        for number, (rule, verdict) in enumerate(zip(SHIPPED_MANUAL, verdicts, strict=True)))
    path.write_text("judgements:\n" + items, encoding="utf-8")
    return path


def test_a_judgements_file_turns_the_five_manual_rules_into_judged_results_in_every_format(
        tmp_path: Path, facts: Path) -> None:
    out = tmp_path / "out"
    done = _cli("evaluate", str(facts), "--judgements", str(_five(tmp_path / "j.yaml")),
                "-f", "html", "-f", "sarif", "-f", "junit", "-f", "csv", "-f", "xlsx", "-f",
                "docx", "-o", str(out))
    assert done.returncode in (0, 3), done.stderr
    assert "5 result(s) judged by" in done.stderr and "0 still await judgement" in done.stderr
    document = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    judged = {r["rule_id"]: r for r in document["hosts"][0]["results"] if "judgement" in r}
    assert sorted(judged) == sorted(SHIPPED_MANUAL)
    assert not [r for r in document["hosts"][0]["results"] if r["status"] == "manual"]
    assert document["scan"]["judgements"] == str(tmp_path / "j.yaml")

    sarif = json.loads((out / "findings.sarif").read_text(encoding="utf-8"))
    sarif_judged = {r["ruleId"]: r for r in sarif["runs"][0]["results"]
                    if "judgement" in r["properties"]}
    assert sorted(sarif_judged) == sorted(SHIPPED_MANUAL)
    assert {r["kind"] for r in sarif_judged.values()} == {"pass", "fail", "notApplicable"}

    suites = junitparser.JUnitXml.fromfile(str(out / "junit.xml"))
    cases = {case.name.split("]")[1].lstrip("["): case for suite in suites for case in suite}
    for rule_id, result in judged.items():
        case = cases[rule_id]
        shown = case.system_out or " ".join(
            (part.message or "") + (part.text or "") for part in case.result)
        assert f"judged {result['status'].replace('_', ' ')} by Chen Jing" in shown, rule_id
        assert f"judged {rule_id} on site" in shown, rule_id

    with (out / "findings.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = {row["rule_id"]: row for row in csv.DictReader(handle)}
    for rule_id, result in judged.items():
        assert (rows[rule_id]["status"], rows[rule_id]["judged_by"],
                rows[rule_id]["judged_on"]) == (result["status"], "Chen Jing", "2026-11-30")
        assert rows[rule_id]["evidence_digest"] == evidence_digest(result["observed"])

    page = (out / "report.html").read_text(encoding="utf-8")
    section = page.split('<section id="judgements">', 1)[1].split("</section>", 1)[0]
    assert len(re.findall(r"<tr><td>", section)) == 5
    assert "No result awaits judgement." in section

    # the workbook's gap analysis: each judged rule's item carries the assessor's line
    sheet = workbook((out / "findings.xlsx").read_bytes()).worksheets[0]
    header = [cell.value for cell in sheet[1]]
    column = header.index("Assessor's judgement")
    judged_cells = " ".join(str(row[column] or "") for row in sheet.iter_rows(min_row=2,
                                                                            values_only=True))
    for rule_id, result in judged.items():
        verdict = result["status"].replace("_", " ")  # worded, as the sheet shows it
        assert f"{rule_id}: judged {verdict} by Chen Jing on 2026-11-30" in \
            judged_cells, rule_id
    # the Word report's text, read back by python-docx
    text = visible_text((out / "report.docx").read_bytes())
    for rule_id in judged:
        assert f"judged {rule_id} on site" in text, rule_id


def test_the_report_lists_what_awaits_judgement_in_a_browser(tmp_path: Path) -> None:
    chromium_or_skip()
    findings = tmp_path / "findings.json"
    findings.write_text(json.dumps(sample_document(waived=False)), encoding="utf-8")
    judgements = tmp_path / "j.yaml"
    judgements.write_text(textwrap.dedent("""\
        judgements:
          - {rule: backup.offhost-copy, hosts: ["web-01"], verdict: pass, note: seen,
             assessor: Chen Jing, date: 2026-05-30}
        """), encoding="utf-8")
    page = tmp_path / "report.html"
    done = _cli("report", str(findings), "--judgements", str(judgements), "-o", str(page))
    assert done.returncode == 0, done.stderr
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    awaiting = dom.stdout.split('<table id="awaiting">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</td>", awaiting)
    hostile = HOSTILE_NAME.replace("<", "&lt;").replace(">", "&gt;").replace("\x07", "\\x07")
    assert sorted(rows) == sorted(["db-01 (192.0.2.20:22)", f"{hostile} (192.0.2.66:22)"])
    assert "Show the backup job and its off-host copy" in awaiting


def test_the_cli_refuses_a_bad_judgements_file_before_scanning(tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad = tmp_path / "j.yaml"
    bad.write_text("judgements:\n  - rule: ssh.root-login-disabled\n    hosts: ['*']\n"
                   "    verdict: pass\n    note: n\n    assessor: A\n    date: 2026-01-01\n",
                   encoding="utf-8")
    done = _cli("scan", "--judgements", str(bad), "-o", str(out))
    assert done.returncode == EXIT_INPUT
    assert done.stderr.strip().splitlines() == [
        f"cii-scan: error: {bad}:2: judgement names rule 'ssh.root-login-disabled', which "
        "the scanner decides itself; judgements are for manual rules (accept a failure "
        "with a waiver)"]
    assert not out.exists()
    bad.write_text("judgements: [{rule: x}]\n", encoding="utf-8")
    done = _cli("report", str(tmp_path / "missing.json"), "--judgements", str(bad))
    assert done.returncode == EXIT_INPUT
    assert done.stderr.startswith(f"cii-scan: error: {bad}:1:")
