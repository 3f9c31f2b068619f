"""The 等保 workbook (-f xlsx) read back by its consumers: openpyxl and LibreOffice headless.

A small document whose answers are known checks what the 符合情况 column pre-fills; the
sample scan checks the row counts, both languages and the hostile host's strings.
"""

from __future__ import annotations

import copy
import os
import subprocess
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.clauses import AREAS, CLAUSES
from scanner.findings import dumps, load_document, resummarize
from scanner.render import OutputFormat, render
from scanner.render import gap as gap_module
from scanner.render._text import printable
from scanner.render.xlsx_labels import EN, ZH
from tests._scanner import CII_SCAN
from tests._xlsx import rows, soffice_csv, workbook
from tests.sample_findings import HOSTILE_NAME, SAMPLE_BASELINE, sample_document

SHEETS = {"en": ["Gap analysis", "Remediation list", "Summary", "Hosts"],
          "zh": ["差距分析表", "整改清单", "汇总", "资产清单"]}
GAP_HEADERS = {
    "en": ("Security layer", "Control point", "Assessment item", "Assessment target", "Method",
           "Result record", "Compliance", "Risk level", "Major risk (重大风险隐患)",
           "Remediation", "Waiver", "Assessor's judgement"),
    "zh": ("安全层面", "控制点", "测评项", "测评对象", "检查方式", "结果记录", "符合情况",
           "风险等级", "重大风险隐患", "整改建议", "豁免", "测评人员判定"),
}
REMEDIATION_HEADERS = {
    "en": ("Host", "Rule", "Title", "Severity", "Major risk (重大风险隐患)", "Assessment item",
           "What was found", "Remediation", "Owner", "Due date", "Status"),
    "zh": ("测评对象", "规则", "标题", "风险等级", "重大风险隐患", "测评项", "问题描述",
           "整改建议", "责任人", "计划完成日期", "状态"),
}
SUMMARY_HEADERS = {
    "en": ("Assessment target", "Security layer", "Control point", "Compliant",
           "Partly compliant", "Non-compliant", "Not applicable", "To be judged", "Total"),
    "zh": ("测评对象", "安全层面", "控制点", "符合", "部分符合", "不符合", "不适用", "待判定",
           "合计"),
}
HOST_HEADERS = {
    "en": ("Name", "Address", "Port", "Status", "Reason", "OS",
           "Collected at (host clock, UTC)", "Evidence digest"),
    "zh": ("名称", "地址", "端口", "状态", "原因", "操作系统", "采集时间（主机时钟，UTC）",
           "证据摘要"),
}
VERDICTS = {"en": ["Compliant", "Partly compliant", "Non-compliant", "Not applicable"],
            "zh": ["符合", "部分符合", "不符合", "不适用"]}
SCANNED = 3  # the sample's assessed hosts
HOSTILE_TARGET = printable(HOSTILE_NAME) + " (192.0.2.66:22)"


def _xlsx(document: dict[str, Any], lang: str = "en") -> bytes:
    content = render(OutputFormat.XLSX, document, lang=lang)
    assert isinstance(content, bytes)
    return content


def _records(sheet: Any) -> list[dict[str, Any]]:
    """A sheet's rows below its header, as {header: value}."""
    header, *body = rows(sheet)
    return [dict(zip(header, row, strict=True)) for row in body]


def _clause_of(item: str) -> str:
    return next(c.id for c in CLAUSES if item.startswith(c.id + " "))


# --- a document whose answers are known -----------------------------------------------

def _rule(rule_id: str, *clauses: str, manual: bool = False, major_risk: str | None = None,
          severity: str = "medium") -> dict[str, Any]:
    return {"id": rule_id, "title": {"en": f"Title of {rule_id}", "zh": f"{rule_id} 的标题"},
            "severity": severity, "rationale": {},
            "remediation": {"any": {"en": f"Fix {rule_id}.", "zh": f"修复 {rule_id}。"}},
            "references": {"gbt22239-2019": list(clauses)}, "applies_to": [],
            "manual": {"en": "Look at it", "zh": "查看"} if manual else None,
            "major_risk": major_risk}


def _result(rule: dict[str, Any], status: str, **extra: Any) -> dict[str, Any]:
    return {"rule_id": rule["id"], "status": status, "severity": rule["severity"],
            "expected": f"{rule['id']} expected", "observed": [],
            "message": f"{rule['id']} said {status}", **extra}


WAIVER = {"justification": "Needed until CHG-7", "approved_by": "Li Wei (CISO)",
          "expires": "2026-12-31", "source": "waivers.yaml:3"}
JUDGEMENT = {"verdict": "pass", "assessor": "Chen Jing", "date": "2026-05-28",
             "note": "Seen on site", "source": "judgements.yaml:4"}
# item -> (rules and their statuses on the host, the verdict the rules decide)
KNOWN: dict[str, tuple[list[tuple[dict[str, Any], str | None]], str | None]] = {
    "8.1.4.1 a": ([(_rule("a.one", "8.1.4.1 a"), "pass"),
                   (_rule("a.two", "8.1.4.1 a"), "pass")], "compliant"),
    "8.1.4.1 b": ([(_rule("b.fail", "8.1.4.1 b", major_risk="weak-credentials",
                          severity="high"), "fail"),
                   (_rule("b.pass", "8.1.4.1 b"), "pass")], "partly"),
    "8.1.4.1 c": ([(_rule("c.fail", "8.1.4.1 c"), "fail"),
                   (_rule("c.na", "8.1.4.1 c"), "not_applicable")], "non_compliant"),
    "8.1.4.1 d": ([(_rule("d.na", "8.1.4.1 d"), "not_applicable")], "not_applicable"),
    "8.1.4.2 a": ([(_rule("e.error", "8.1.4.2 a"), "error"),
                   (_rule("e.pass", "8.1.4.2 a"), "pass")], None),
    "8.1.4.2 b": ([(_rule("f.manual", "8.1.4.2 b", manual=True), "manual"),
                   (_rule("f.pass", "8.1.4.2 b"), "pass")], None),
    "8.1.4.2 c": ([(_rule("g.missing", "8.1.4.2 c"), None),
                   (_rule("g.pass", "8.1.4.2 c"), "pass")], None),
    "8.1.4.2 d": ([(_rule("h.waived", "8.1.4.2 d"), "waived"),
                   (_rule("h.pass", "8.1.4.2 d"), "pass")], "partly"),
    "8.1.4.2 e": ([(_rule("i.judged", "8.1.4.2 e", manual=True), "pass")], "compliant"),
    "8.1.4.4 a": ([(_rule("k.critical", "8.1.4.4 a", severity="critical"), "fail")],
                  "non_compliant"),
}
AREA_RULE = _rule("j.area", "8.1.4.3")  # an area reference covers the area's four items


def known_document() -> dict[str, Any]:
    """One scanned host (the sample's web-01 with these rules and results) and one
    unreachable host."""
    document = copy.deepcopy(sample_document())
    host = next(h for h in document["hosts"] if h["name"] == "web-01")
    unreachable = next(h for h in document["hosts"] if h["name"] == "edge-03")
    rules, results = [AREA_RULE], [_result(AREA_RULE, "pass")]
    for fed, _ in KNOWN.values():
        for rule, status in fed:
            rules.append(rule)
            if status is None:
                continue
            extra: dict[str, Any] = {}
            if status == "waived":
                extra["waiver"] = WAIVER
            if rule["id"] == "i.judged":
                extra = {"judgement": JUDGEMENT, "message": "judged pass by Chen Jing"}
            results.append(_result(rule, status, **extra))
    host["results"] = sorted(results, key=lambda r: r["rule_id"])
    document["rules"] = sorted(rules, key=lambda r: r["id"])
    document["hosts"] = [host, unreachable]
    return resummarize(document)


def _gap(document: dict[str, Any], lang: str = "en") -> list[dict[str, Any]]:
    book = workbook(_xlsx(document, lang))
    return _records(book[SHEETS[lang][0]])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_verdicts_are_prefilled_only_as_the_rules_decide(lang: str) -> None:
    words = EN if lang == "en" else ZH
    found = {_clause_of(r[words["item"]]): r[words["verdict"]]
             for r in _gap(known_document(), lang)}
    assert len(found) == len(CLAUSES)  # the unreachable host has no rows
    expected = {item: words[f"v_{verdict}"] if verdict else None
                for item, (_, verdict) in KNOWN.items()}
    expected |= {c.id: words["v_compliant"] for c in CLAUSES if c.area == "8.1.4.3"}
    expected |= {c.id: None for c in CLAUSES if c.id not in expected}  # no rule checks them
    assert found == expected


@pytest.mark.parametrize(("item", "why"), [("8.1.4.2 a", "could not be assessed"),
                                           ("8.1.4.2 b", "awaits the assessor's judgement"),
                                           ("8.1.4.2 c", "has no result on this host"),
                                           ("8.1.4.5", "no rule of the baseline checks")])
def test_what_could_not_be_seen_is_left_to_the_assessor_with_why(item: str, why: str) -> None:
    row = next(r for r in _gap(known_document()) if _clause_of(r["Assessment item"]) == item)
    assert row["Compliance"] is None
    assert "To be judged" in row["Result record"] and why in row["Result record"]
    assert "Evidence digest: sha256:" in row["Result record"]
    expected_method = "Not checkable by a host scan" if item == "8.1.4.5" else (
        "Automated check and assessor's judgement" if item == "8.1.4.2 b" else "Automated check")
    assert row["Method"] == expected_method


def test_a_major_risk_failure_leads_its_host_with_risk_remediation_waiver_and_judgement(
        ) -> None:
    gap = _gap(known_document(), "zh")
    first = gap[0]
    assert _clause_of(first["测评项"]) == "8.1.4.1 b"
    assert first["重大风险隐患"] == "存在空口令或弱口令"
    assert first["风险等级"] == "高"
    assert first["整改建议"] == "b.fail: 修复 b.fail。"
    assert "b.fail【不通过】b.fail said fail" in first["结果记录"]
    assert [_clause_of(r["测评项"]) for r in gap[1:]] == [
        c.id for c in CLAUSES if c.id != "8.1.4.1 b"]
    waived = next(r for r in gap if _clause_of(r["测评项"]) == "8.1.4.2 d")
    assert waived["豁免"] == "h.waived：Li Wei (CISO) 批准，有效期至 2026-12-31：Needed until CHG-7"
    assert waived["整改建议"] is None  # waived: accepted, not on the remediation list
    judged = next(r for r in gap if _clause_of(r["测评项"]) == "8.1.4.2 e")
    assert judged["测评人员判定"] == "i.judged：Chen Jing 于 2026-05-28 判定为通过：Seen on site"
    assert judged["检查方式"] == "人工判定"


def test_the_remediation_list_puts_major_risks_first_then_severity() -> None:
    book = workbook(_xlsx(known_document()))
    listed = _records(book["Remediation list"])
    assert [(r["Rule"], r["Severity"]) for r in listed] == [
        ("b.fail", "high"), ("k.critical", "critical"), ("c.fail", "medium")]
    assert listed[0]["Major risk (重大风险隐患)"] == "Empty or weak passwords accepted"
    assert listed[0]["What was found"] == "b.fail said fail\nexpected: b.fail expected"
    assert listed[0]["Remediation"] == "Fix b.fail."
    assert all(r["Owner"] is None and r["Due date"] is None and r["Status"] is None
               for r in listed)


def test_the_summary_counts_items_by_verdict_per_area_and_host() -> None:
    book = workbook(_xlsx(known_document()))
    summary = _records(book["Summary"])
    assert len(summary) == 2 * (len(AREAS) + 1)  # the host, then all hosts
    by_area = {r["Control point"]: r for r in summary[:len(AREAS) + 1]}
    access = by_area["Access control"]
    assert (access["Compliant"], access["Partly compliant"], access["Non-compliant"],
            access["Not applicable"], access["To be judged"], access["Total"]) == (
                1, 1, 0, 0, 5, 7)
    total = summary[-1]
    assert total["Assessment target"] == "All hosts" and total["Total"] == len(CLAUSES)
    assert total["Compliant"] == 2 + 4  # 8.1.4.1 a, 8.1.4.2 e and the four audit items


def test_the_known_document_is_a_valid_findings_document() -> None:
    """The cases above are findings the scanner could write (the missing result aside)."""
    document = known_document()
    host = document["hosts"][0]
    present = {r["rule_id"] for r in host["results"]}
    document["rules"] = [r for r in document["rules"] if r["id"] in present]
    assert load_document(dumps(document), "known")["hosts"][0]["name"] == "web-01"


@given(st.lists(st.sampled_from(["pass", "fail", "waived", "not_applicable", "error", "manual",
                                 "unknown-status", None]), max_size=6))
def test_compliant_is_decided_only_when_every_applicable_rule_was_seen_to_pass(
        statuses: list[str | None]) -> None:
    verdict, pending = gap_module.decide(statuses)
    assert (verdict is None) == (pending is not None)
    seen = [s for s in statuses if s != "not_applicable"]
    if verdict is gap_module.Verdict.COMPLIANT:
        assert seen and all(s == "pass" for s in seen)
        assert not set(statuses) - {"pass", "not_applicable"}
    if set(statuses) & {"error", "manual", "unknown-status", None} or not statuses:
        assert verdict is None


# --- the sample scan ---------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sheets_and_headers_in_the_report_language(lang: str) -> None:
    book = workbook(_xlsx(sample_document(), lang))
    assert book.sheetnames == SHEETS[lang]
    gap, remediation, summary, hosts = (book[name] for name in SHEETS[lang])
    assert rows(gap)[0] == GAP_HEADERS[lang]
    assert rows(remediation)[0] == REMEDIATION_HEADERS[lang]
    assert rows(summary)[0] == SUMMARY_HEADERS[lang]
    assert rows(hosts)[0] == HOST_HEADERS[lang]
    assert all(sheet.freeze_panes == "A2" for sheet in book.worksheets)
    layer = "安全计算环境" if lang == "zh" else "Security computing environment"
    assert {row[0] for row in rows(gap)[1:]} == {layer}


def test_one_gap_row_per_scanned_host_and_item() -> None:
    gap = _records(workbook(_xlsx(sample_document()))["Gap analysis"])
    pairs = [(r["Assessment target"], _clause_of(r["Assessment item"])) for r in gap]
    assert len(pairs) == len(set(pairs)) == SCANNED * len(CLAUSES)
    assert {target for target, _ in pairs} == {
        HOSTILE_TARGET, "db-01 (192.0.2.20:22)", "web-01 (192.0.2.10:22)"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_verdict_column_is_a_drop_down(lang: str) -> None:
    book = workbook(_xlsx(sample_document(), lang))
    gap = book[SHEETS[lang][0]]
    validations = gap.data_validations.dataValidation
    assert len(validations) == 1
    assert validations[0].type == "list"
    assert str(validations[0].sqref) == f"G2:G{SCANNED * len(CLAUSES) + 1}"
    assert validations[0].formula1 == '"' + ",".join(VERDICTS[lang]) + '"'
    assert rows(gap)[0][6] == ("符合情况" if lang == "zh" else "Compliance")
    status = book[SHEETS[lang][1]].data_validations.dataValidation
    assert [v.formula1 for v in status] == [
        '"未开始,进行中,已完成"' if lang == "zh" else '"Not started,In progress,Done"']


def test_the_remediation_list_holds_one_row_per_failed_host_and_rule() -> None:
    document = sample_document()
    failed = sorted((h["name"], r["rule_id"]) for h in document["hosts"]
                    for r in h["results"] if r["status"] == "fail")
    listed = _records(workbook(_xlsx(document))["Remediation list"])
    names = {HOSTILE_TARGET: HOSTILE_NAME, "db-01 (192.0.2.20:22)": "db-01",
             "web-01 (192.0.2.10:22)": "web-01"}
    assert sorted((names[r["Host"]], r["Rule"]) for r in listed) == failed
    assert ("web-01", "ssh.x11-forwarding-disabled") not in failed  # waived: not listed
    ranks = [("critical", "high", "medium", "low", "info").index(r["Severity"]) for r in listed]
    assert ranks == sorted(ranks)


def test_hostile_strings_stay_strings() -> None:
    content = _xlsx(sample_document())
    book = workbook(content)
    hostile = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
               if isinstance(cell.value, str) and "=cmd|" in cell.value]
    assert len(hostile) >= SCANNED + 1  # gap rows, remediation, summary and hosts at least
    assert all(cell.data_type == "s" for cell in hostile)
    assert book["Hosts"]["A2"].value == printable(HOSTILE_NAME)
    assert book["Hosts"]["A2"].value.startswith("=")
    with zipfile.ZipFile(BytesIO(content)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 4
        assert not any(b"<f>" in archive.read(n) or b"<f " in archive.read(n) for n in sheets)


def test_the_same_document_renders_the_same_bytes() -> None:
    assert _xlsx(sample_document(), "zh") == _xlsx(sample_document(), "zh")


def test_both_languages_carry_every_label() -> None:
    assert EN.keys() == ZH.keys()


# --- real consumers: LibreOffice and the CLI ---------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_libreoffice_reads_every_sheet(lang: str, tmp_path: Path) -> None:
    sheets = soffice_csv(_xlsx(sample_document(), lang), tmp_path)
    assert sorted(sheets) == sorted(SHEETS[lang])
    gap = sheets[SHEETS[lang][0]]
    assert tuple(gap[0]) == GAP_HEADERS[lang]
    assert len(gap) == 1 + SCANNED * len(CLAUSES)
    assert len({(row[3], _clause_of(row[2])) for row in gap[1:]}) == SCANNED * len(CLAUSES)
    assert {row[6] for row in gap[1:]} <= {"", *VERDICTS[lang]}
    assert HOSTILE_TARGET in {row[3] for row in gap[1:]}  # text, not a formula's result
    if lang == "zh":
        assert "8.1.4.1 a 用户身份唯一标识，口令具有复杂度并定期更换" in {row[2] for row in gap}
        assert {row[1] for row in gap[1:]} == {area.zh for area in AREAS}
        assert tuple(sheets["整改清单"][0]) == REMEDIATION_HEADERS["zh"]
    summary = sheets[SHEETS[lang][2]]
    assert summary[-1][-1] == str(SCANNED * len(CLAUSES))


def test_report_writes_the_workbook_with_o(tmp_path: Path) -> None:
    stored = tmp_path / "tests-sample.json"
    stored.write_text(dumps(sample_document()), encoding="utf-8")
    target = tmp_path / "out.xlsx"
    done = subprocess.run([*CII_SCAN, "report", str(stored), "-f", "xlsx", "-o", str(target),
                           "--lang", "zh"], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert workbook(target.read_bytes()).sheetnames == SHEETS["zh"]


def test_report_refuses_to_print_the_workbook_to_a_terminal(tmp_path: Path) -> None:
    stored = tmp_path / "tests-sample.json"
    stored.write_text(dumps(sample_document()), encoding="utf-8")
    controller, terminal = os.openpty()
    try:
        done = subprocess.run([*CII_SCAN, "report", str(stored), "-f", "xlsx"],
                              stdout=terminal, stderr=subprocess.PIPE, text=True, timeout=300,
                              check=False)
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 2
    assert "-f xlsx is a binary format: give -o FILE" in done.stderr


def test_scan_writes_the_workbook_beside_the_findings(tmp_path: Path) -> None:
    """A real scan of this machine: the workbook has its one host's row per item."""
    out = tmp_path / "out"
    done = subprocess.run([*CII_SCAN, "scan", "-q", "-b", str(SAMPLE_BASELINE), "-f", "xlsx",
                           "-o", str(out)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode in (0, 3), done.stderr
    book = workbook((out / "findings.xlsx").read_bytes())
    gap = _records(book["Gap analysis"])
    assert len(gap) == len(CLAUSES)
    assert {r["Compliance"] for r in gap} <= {None, *VERDICTS["en"]}
