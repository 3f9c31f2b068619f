"""Result wording: from the findings' data, in each report language, never a Python repr.

The sample document is built by the real pipeline (evaluation, judgements, waivers), so
its ``wording`` objects are the evaluator's own; a document written before they existed
renders from its English ``message`` and ``expected``.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from scanner.expect import apply, compile_expectation
from scanner.findings import validation_errors
from scanner.render.wording import (
    english_message,
    literal,
    reason_json,
    result_expected,
    result_message,
)
from tests._scanner import CII_SCAN
from tests.sample_findings import sample_document

PYTHON_REPR = re.compile(r"\bTrue\b|\bFalse\b|\bNone\b|\['|'\]|item\(s\)|^'|\s'")


def _results(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for h in document["hosts"] for r in h["results"]]


def _by_rule(document: dict[str, Any], host: str) -> dict[str, dict[str, Any]]:
    return {r["rule_id"]: r for h in document["hosts"] if h["name"] == host
            for r in h["results"]}


def test_every_result_carries_its_wording_and_the_document_stays_valid() -> None:
    document = sample_document()
    assert not validation_errors(document)
    for result in _results(document):
        assert set(result["wording"]) == {"expected", "message"}
        # the findings' English text is the English wording of the data beside it
        assert result["message"] == result_message(result, "en")
        assert result["expected"] == result_expected(result, "en")


def test_no_python_repr_reaches_the_words() -> None:
    for result in _results(sample_document()):
        if {r["code"] for r in result["wording"]["message"]} & {"said", "why"}:
            continue  # a probe's own text (a command's stderr) is shown as it said it
        for lang in ("en", "zh"):
            for text in (result_message(result, lang), result_expected(result, lang)):
                assert not PYTHON_REPR.search(text), (result["rule_id"], lang, text)


def test_the_same_result_in_each_language() -> None:
    db = _by_rule(sample_document(), "db-01")
    banner = db["ssh.banner-configured"]
    assert result_message(banner, "en").startswith('"none" is one of "none", ""; waiver ')
    assert result_message(banner, "zh").startswith('实际为 "none"，属于 "none", ""；豁免 ')
    accounts = db["accounts.no-empty-passwords"]
    assert result_message(accounts, "en") == "1 item matches: alice"
    assert result_message(accounts, "zh") == "共 1 项符合：alice"
    assert result_expected(accounts, "zh") == 'users：没有任何一项：password 为 "empty"'


def test_booleans_are_words_in_expectations_and_neutral_as_values() -> None:
    exp = compile_expectation({"equals": True}, {})
    result = {"message": "", "expected": "",
              "wording": {"expected": {"subject": "enforcing", "args": {},
                                       "expect": exp.to_json()},
                          "message": [reason_json(r) for r in apply(exp, False).reasons]}}
    assert result_expected(result, "en") == "enforcing: is true"
    assert result_expected(result, "zh") == "enforcing：为是"
    assert result_message(result, "en") == "false is not true"
    assert result_message(result, "zh") == "实际为 false，应为是"


def test_values_have_one_neutral_form() -> None:
    assert literal(True) == "true" and literal(None) == "null"
    assert literal(["none", ""]) == '"none", ""'
    assert literal("日志") == '"日志"'
    assert english_message([reason_json(("items_match", 2, ["a", "b"], 3))]) == \
        "2 items match: a, b and 3 more"


def test_a_document_without_wording_shows_its_english_text() -> None:
    result = copy.deepcopy(_by_rule(sample_document(), "web-01")["ssh.max-auth-tries"])
    del result["wording"]
    result["message"] = "'6' is not ≤ 4"
    assert result_message(result, "zh") == "'6' is not ≤ 4"
    assert result_expected(result, "zh") == result["expected"]


def test_report_of_an_existing_document_words_it_in_chinese(tmp_path: Path) -> None:
    document = sample_document()
    old = copy.deepcopy(document)
    for result in _results(old):  # a document from before the wording object
        result.pop("wording")
    for name, doc in (("new", document), ("old", old)):
        (tmp_path / f"{name}.json").write_text(json.dumps(doc), encoding="utf-8")
        proc = subprocess.run([*CII_SCAN, "report", "-q", str(tmp_path / f"{name}.json"),
                               "-f", "html", "--lang", "zh", "-o",
                               str(tmp_path / f"{name}.html")],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
    new_html = (tmp_path / "new.html").read_text(encoding="utf-8")
    old_html = (tmp_path / "old.html").read_text(encoding="utf-8")
    assert "共 <code>1</code> 项符合：<code>alice</code>" in new_html
    assert "1 item matches: alice" in old_html  # the English message, as it was written
