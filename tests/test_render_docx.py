"""The Word report (-f docx): read back by python-docx and by LibreOffice Writer, from the
shipped template and from a user's own (--docx-template)."""

from __future__ import annotations

import copy
import importlib.util
import io
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from scanner import clauses
from scanner.findings import dumps
from scanner.render import OutputFormat, render
from scanner.render._text import host_label, printable
from scanner.render.docx_context import LABELS, clause_result
from scanner.render.i18n import EN, catalog
from scanner.resources import reports_dir
from tests._docx import soffice_text, tables, visible_text
from tests._scanner import CII_SCAN, REPO_ROOT
from tests.conftest import facts_from_outputs
from tests.sample_findings import HOSTILE_NAME, sample_document

INJECTION = " & {% if true %}EVALUATED{% endif %} {{ 6*7 }} {_{ x }_} </w:t></w:r><w:r><w:t>"
MAJOR_RULE = "accounts.no-empty-passwords"  # fails on db-01 in the sample


def hostile_document() -> dict[str, Any]:
    """The sample with template syntax and XML in every kind of string a host or a
    baseline can put in the report (names, messages, evidence, tailoring)."""
    document = copy.deepcopy(sample_document())
    for host in document["hosts"]:
        if host["name"] == HOSTILE_NAME:
            host["name"] += INJECTION
            for result in host["results"]:
                result["message"] += INJECTION
                result["observed"] = [{"probe": "file", "value": INJECTION}]
    document["baseline"]["parameters"]["banner" + INJECTION] = INJECTION
    document["baseline"]["disabled"] = [{"rule_id": "ssh.demo", "reason": INJECTION}]
    return document


def major_risk_document() -> dict[str, Any]:
    document = copy.deepcopy(sample_document())
    for rule in document["rules"]:
        if rule["id"] == MAJOR_RULE:
            rule["major_risk"] = "weak-credentials"
    return document


def _scanned_labels(document: dict[str, Any]) -> list[str]:
    return [host_label(h) for h in document["hosts"] if h["status"] == "scanned"]


def _clause_table(content: bytes, lang: str = "en") -> list[list[str]]:
    header = [LABELS[lang]["feeding_rules"], LABELS[lang]["result"]]
    found = [t for t in tables(content) if t[0][-2:] == header]
    assert len(found) == 1
    return found[0]


# ---- the shipped template ----------------------------------------------------------------

def _build_script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "build_docx_template", REPO_ROOT / "reports" / "build_docx_template.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parts(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name).decode("utf-8")
                for name in ("word/document.xml", "word/styles.xml", "word/fontTable.xml")}


def test_committed_template_is_what_the_script_builds() -> None:
    built = io.BytesIO()
    _build_script().build().save(built)
    committed = (reports_dir() / "report-template.docx").read_bytes()
    assert _parts(committed) == _parts(built.getvalue()), (
        "reports/report-template.docx is stale: python3 reports/build_docx_template.py "
        "reports/report-template.docx")


def test_template_prints_on_a4_with_cjk_fonts() -> None:
    document = Document(str(reports_dir() / "report-template.docx"))
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    styles = _parts((reports_dir() / "report-template.docx").read_bytes())
    assert 'w:eastAsia="Noto Sans CJK SC"' in styles["word/styles.xml"]
    assert 'w:altName w:val="WenQuanYi Micro Hei"' in styles["word/fontTable.xml"]


# ---- contents, read back with python-docx ------------------------------------------------

def test_one_row_per_scanned_host_and_clause() -> None:
    document = sample_document()
    rows = _clause_table(render(OutputFormat.DOCX, document))[1:]
    hosts = _scanned_labels(document)
    assert len(rows) == len(hosts) * len(clauses.CLAUSES)
    assert {(r[0], r[2]) for r in rows} == {(h, f"{c.id} {c.en}") for h in hosts
                                          for c in clauses.CLAUSES}


def test_clause_results_are_never_compliant_when_something_was_not_seen() -> None:
    rows = _clause_table(render(OutputFormat.DOCX, sample_document()))[1:]
    by_item = {(r[0].split(" ")[0], r[2].split(" ")[0] + " " + r[2].split(" ")[1]): r
               for r in rows}
    # no rule checks 8.1.4.1 c; db-01 could not read /etc/shadow (8.1.4.2 e)
    assert by_item[("web-01", "8.1.4.1 c")][4] == LABELS["en"]["c_to_judge"]
    assert by_item[("web-01", "8.1.4.1 c")][3] == LABELS["en"]["no_rule"]
    assert by_item[("db-01", "8.1.4.2 e")][4] == LABELS["en"]["c_to_judge"]
    assert by_item[("web-01", "8.1.4.2 e")][4] == LABELS["en"]["c_met"]
    # 8.1.4.4 b on web-01: banner failed, X11 waived, ip_forward passed
    assert by_item[("web-01", "8.1.4.4 b")][4] == LABELS["en"]["c_partial"]
    assert by_item[("web-01", "8.1.4.2 b")][4] == LABELS["en"]["c_not_met"]


@pytest.mark.parametrize(("statuses", "expected"), [
    ([], "to_judge"),
    (["pass", "error"], "to_judge"),
    (["pass", "manual"], "to_judge"),
    (["fail", "manual"], "to_judge"),
    (["not_applicable"], "not_applicable"),
    (["pass", "not_applicable"], "met"),
    (["pass", "fail"], "partial"),
    (["pass", "waived"], "partial"),
    (["fail", "waived", "not_applicable"], "not_met"),
])
def test_clause_result(statuses: list[str], expected: str) -> None:
    assert clause_result(statuses) == expected


def test_host_strings_are_literal_text_never_template_syntax() -> None:
    document = hostile_document()
    content = render(OutputFormat.DOCX, document)
    text = visible_text(content)
    label = host_label(next(h for h in document["hosts"] if h["name"].endswith(INJECTION)))
    assert label.endswith(printable(INJECTION).rstrip() + " (192.0.2.66:22)")
    rows = _clause_table(content)[1:]
    assert sum(1 for r in rows if r[0] == label) == len(clauses.CLAUSES)
    assert text.count(INJECTION) >= 5  # message, evidence, parameter, reason, ...
    assert "banner" + INJECTION in text
    assert "EVALUATED" not in text.replace("{% if true %}EVALUATED{% endif %}", "")
    assert " 42 {" not in text and "{{ x }}" not in text


def test_rendering_is_reproducible() -> None:
    assert render(OutputFormat.DOCX, sample_document()) == render(OutputFormat.DOCX,
                                                                  sample_document())


def test_both_languages_label_the_same_things() -> None:
    assert set(LABELS["en"]) == set(LABELS["zh"])
    assert not set(LABELS["en"]) & set(EN), "a Word-only label shadows a shared one"


# ---- what a reader sees: LibreOffice Writer's text ---------------------------------------

@pytest.fixture(scope="module")
def writer_text(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    document = major_risk_document()
    return {lang: soffice_text(render(OutputFormat.DOCX, document, lang=lang),
                               tmp_path_factory.mktemp(f"writer-{lang}"))
            for lang in ("en", "zh")}


def test_writer_shows_major_risks_before_the_clause_table(writer_text: dict[str, str]) -> None:
    for lang, risk in (("en", "Empty or weak passwords accepted"), ("zh", "存在空口令或弱口令")):
        text = writer_text[lang]
        heading = text.index(catalog(lang)["major_risks"] + "\n")
        clause_heading = text.index(LABELS[lang]["clause_table"])
        assert heading < text.index(risk) < clause_heading
        assert text.index(f"{MAJOR_RULE} ") > heading


def test_writer_shows_the_chinese_report(writer_text: dict[str, str]) -> None:
    text = writer_text["zh"]
    for heading in ("重大风险隐患", "主机概况", "测评项结果", "不通过的规则", "测评人员判定",
                    "待测评人员判定", "基线裁剪", "符合", "部分符合", "不符合", "待判定"):
        assert heading in text, heading
    assert "身份鉴别" in text and "用户身份唯一标识" in text


def test_writer_shows_every_manual_instruction(writer_text: dict[str, str]) -> None:
    document = major_risk_document()
    manual = {r["id"]: r["manual"] for r in document["rules"] if r.get("manual")}
    awaiting = {r["rule_id"] for h in document["hosts"] for r in h["results"]
                if r["status"] == "manual"}
    assert awaiting and awaiting <= set(manual)
    for lang in ("en", "zh"):
        for rule_id in awaiting:
            assert manual[rule_id][lang] in writer_text[lang]


def test_writer_shows_each_host_and_clause_row(writer_text: dict[str, str]) -> None:
    hosts = _scanned_labels(major_risk_document())
    for lang in ("en", "zh"):
        lines = writer_text[lang].split("\n")
        titles = {f"{c.id} {c.zh if lang == 'zh' else c.en}": c.id for c in clauses.CLAUSES}
        # Writer writes a table one cell a line: host, area, item, rules..., result
        seen = {(lines[i - 2], titles[line]) for i, line in enumerate(lines) if line in titles}
        assert seen == {(h, c.id) for h in hosts for c in clauses.CLAUSES}


# ---- --docx-template ---------------------------------------------------------------------

def _template(path: Path, *paragraphs: str) -> Path:
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))
    return path


def _stored(tmp_path: Path) -> Path:
    stored = tmp_path / "findings.json"
    stored.write_text(dumps(sample_document()), encoding="utf-8")
    return stored


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CII_SCAN, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, check=False)


def test_report_uses_a_users_template(tmp_path: Path) -> None:
    template = _template(tmp_path / "mine.docx", "Custom: {{ title }}",
                         "{%p for h in hosts %}", "HOST {{ h.name }} {{ h.status_text }}",
                         "{%p endfor %}")
    done = _run("report", str(_stored(tmp_path)), "-f", "docx", "-o", "out.docx",
                "--docx-template", str(template), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = visible_text((tmp_path / "out.docx").read_bytes()).split("\n")
    assert lines[0] == "Custom: " + LABELS["en"]["docx_title"]
    assert "HOST web-01 (192.0.2.10:22) scanned" in lines
    assert len([line for line in lines if line.startswith("HOST ")]) == 7
    assert catalog("en")["major_risks"] not in lines


def test_evaluate_uses_a_users_template(tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    snapshot = facts_from_outputs("debian12", [
        {"probe": "sysctl", "args": {"name": "net.ipv4.ip_forward"}, "stdout": "0\n"}])
    facts.write_text(dumps(snapshot.to_json()), encoding="utf-8")
    template = _template(tmp_path / "mine.docx", "{%p for c in clause_rows %}",
                         "{{ c.clause_id }}={{ c.result }}", "{%p endfor %}")
    done = _run("evaluate", str(facts), "-o", "out", "-f", "docx", "-q",
                "--docx-template", str(template), cwd=tmp_path)
    assert done.returncode == 3, done.stderr  # most probes were not collected: incomplete
    lines = visible_text((tmp_path / "out" / "report.docx").read_bytes()).split("\n")
    assert [line.split("=")[0] for line in lines if line] == [c.id for c in clauses.CLAUSES]


BAD_TEMPLATES = {
    "not a .docx": lambda p: p.write_text("{{ title }}\n", encoding="utf-8"),
    "a zip, not a .docx": lambda p: zipfile.ZipFile(p, "w").writestr("a.txt", "x"),
    "unknown filter": lambda p: _template(p, "{{ title | shout }}"),
    "syntax error": lambda p: _template(p, "{% for h in hosts %}{{ h.name }}"),
    "unknown variable": lambda p: _template(p, "{{ findings }}"),
}


@pytest.mark.parametrize("case", sorted(BAD_TEMPLATES))
@pytest.mark.parametrize("command", ["report", "evaluate", "scan"])
def test_bad_template_is_one_line_exit_2_before_anything_runs(tmp_path: Path, case: str,
                                                              command: str) -> None:
    template = tmp_path / "bad.docx"
    BAD_TEMPLATES[case](template)
    if command == "report":
        args = ["report", str(_stored(tmp_path)), "-f", "docx", "-o", "out/report.docx"]
    elif command == "evaluate":  # the evidence file does not exist: refused first
        args = ["evaluate", "missing-facts.json", "-o", "out", "-f", "docx"]
    else:  # refused before this machine is scanned
        args = ["scan", "--local", "-o", "out", "-f", "docx"]
    done = _run(*args, "--docx-template", str(template), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and str(template) in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_template_failing_as_it_renders_is_one_line_exit_2(tmp_path: Path) -> None:
    template = _template(tmp_path / "typo.docx", "{{ baseline.nosuch }}")
    done = _run("report", str(_stored(tmp_path)), "-f", "docx", "-o", "out.docx",
                "--docx-template", str(template), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and str(template) in done.stderr, done.stderr
    assert not (tmp_path / "out.docx").exists()


def test_template_without_docx_output_is_refused(tmp_path: Path) -> None:
    template = _template(tmp_path / "mine.docx", "{{ title }}")
    done = _run("evaluate", "missing-facts.json", "-o", "out", "-f", "html",
                "--docx-template", str(template), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "cii-scan: error: --docx-template: is used by -f docx only; " \
                          "add -f docx\n"


def test_the_documented_minimal_template_renders(tmp_path: Path) -> None:
    doc = (REPO_ROOT / "docs" / "docx-template.md").read_text(encoding="utf-8")
    script = doc.split("```python\n", 1)[1].split("```", 1)[0]
    subprocess.run([CII_SCAN[0], "-c", script], cwd=tmp_path, check=True, timeout=60)
    done = _run("report", str(_stored(tmp_path)), "-f", "docx", "-o", "out.docx",
                "--docx-template", "our-template.docx", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = tables((tmp_path / "out.docx").read_bytes())[0]
    assert len(rows) == len(_scanned_labels(sample_document())) * len(clauses.CLAUSES)
    assert rows[0][1:] == ["8.1.4.1 a", clauses.CLAUSES[0].en, LABELS["en"]["c_met"]]
