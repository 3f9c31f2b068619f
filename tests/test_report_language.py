"""A Chinese report reads as Chinese, an English one as English.

The sample document and a real local scan are rendered to HTML in each language; the
visible prose is what remains of the page once these are taken out:

- markup, scripts, styles, attributes (not visible prose);
- ``<code>`` and ``<pre>`` elements: literals (values, field names, patterns, commands,
  evidence) are shown the same in every language, and the wording marks each one;
- the document's *data*: strings a person or a host wrote, which no renderer may
  translate (host names, addresses, groups, OS names, the host's own reasons and the
  probes' error texts, waivers' and judgements' fields, the scan's and baseline's
  metadata, rule ids and references, and the rules' own texts in the report's
  language: see document_data);
- tokens that are values whatever the language: paths, dotted identifiers (settings,
  rule ids), ``key=value``, hashes, dates and times, numbers, addresses.

What is left must hold no English word (zh) outside ALLOWED, and no CJK character (en).
The check fails on a report that shows an English message or expectation in Chinese
prose (``'yes' is not 'no'``, ``= True``): see test_the_check_sees_english_in_chinese.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from scanner.render.html import render
from tests._language import cjk, context, english_words, visible_prose
from tests._scanner import CII_SCAN, require_root
from tests.sample_findings import sample_document


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _strings(value)


def _in(texts: Any, lang: str) -> Iterator[str]:
    """A rule's texts in one language (``{en, zh}`` mappings, also per OS family)."""
    if isinstance(texts, Mapping):
        if isinstance(texts.get(lang), str):
            yield texts[lang]
        else:
            for value in texts.values():
                yield from _in(value, lang)


def document_data(document: Mapping[str, Any], lang: str) -> set[str]:
    """The strings of ``document`` that are data, not the renderer's wording: with each
    rule's own texts *in the report's language* (the baseline author's, checked for
    commands by test_rule_texts.py; they name products and settings as written), so a
    rule text shown in the other language is still caught."""
    data: set[str] = set(_strings([document.get("tool"), document.get("scan"),
                                   document.get("baseline")]))
    for rule in document["rules"]:
        data.update([rule["id"], *(rule.get("references") or {}),
                     *_strings(rule.get("references"))])
        for key in ("title", "rationale", "remediation", "manual"):
            for text in _in(rule.get(key), lang):  # (its backticked spans show as code)
                data.update(piece.strip() for piece in text.split("`")[::2])
    for host in document["hosts"]:
        data.update(_strings([host.get("name"), host.get("address"), host.get("groups"),
                              host.get("os"), host.get("host_clock"), host.get("reason"),
                              host.get("incomplete_reason"), host.get("probe_errors")]))
        for result in host["results"]:
            data.update(_strings([result.get("waiver"), result.get("judgement"),
                                  result.get("expired_waivers")]))
    return {text for text in data if text}


def assert_language(document: Mapping[str, Any]) -> None:
    zh = visible_prose(render(document, lang="zh"), document_data(document, "zh"))
    words = english_words(zh)
    assert not words, "English in the zh report: " + "; ".join(
        f"{word!r} in …{context(zh, word)}…" for word in words[:12])
    en = visible_prose(render(document, lang="en"), document_data(document, "en"))
    characters = cjk(en)
    assert not characters, "CJK in the en report: " + "; ".join(
        f"{c!r} in …{context(en, c)}…" for c in characters[:12])


def test_the_check_sees_english_in_chinese() -> None:
    page = ("<p>说明 <code>'yes'</code> is not <code>'no'</code></p>"
            "<p>期望 <code>enforcing</code>: = True</p>")
    assert english_words(visible_prose(page, set())) == ["True", "is", "not"]
    assert cjk(visible_prose("<p>Message: 实际为 <code>1</code></p>", set())) == sorted("实际为")
    assert english_words(visible_prose("<p>设置 <code>PermitRootLogin no</code>；"
                                       "见 /etc/ssh/sshd_config 与 kernel.dmesg_restrict "
                                       "(GB/T 22239-2019 8.1.4.2 b)</p>", set())) == []


def test_the_sample_report_speaks_its_language() -> None:
    assert_language(sample_document())


@pytest.fixture(scope="module")
def local_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_root("a real local scan")
    out: Path = tmp_path_factory.mktemp("scan")
    proc = subprocess.run([*CII_SCAN, "scan", "-o", str(out)], capture_output=True, text=True,
                          timeout=600, check=False)
    assert (out / "findings.json").is_file(), proc.stderr[-2000:]
    document: dict[str, Any] = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    return document


def test_a_local_scans_report_speaks_its_language(local_findings: dict[str, Any]) -> None:
    assert any(r["status"] == "fail" for h in local_findings["hosts"] for r in h["results"])
    assert_language(local_findings)
