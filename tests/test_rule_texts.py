"""A rule's Chinese text shows the same commands as its English text.

Everything between backticks in a remediation, rationale or manual instruction is
something to type or a setting to write: a placeholder translated inside it
(``target="日志服务器"``) is a command that no longer means what the English one does.
So every backticked span of a ``zh`` text appears, byte for byte, in its ``en`` twin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BASELINES = sorted(path for path in [*(ROOT / "baselines").rglob("*.yaml"),
                                     ROOT / "tests" / "golden" / "sample-baseline.yaml"]
                   if "\nrules:" in path.read_text(encoding="utf-8"))
SPAN = re.compile(r"`([^`]*)`")


def bilingual_texts(node: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(where, en, zh) for every mapping of a document that holds both languages."""
    if isinstance(node, dict):
        if isinstance(node.get("en"), str) and isinstance(node.get("zh"), str):
            yield path, node["en"], node["zh"]
        for key, value in node.items():
            yield from bilingual_texts(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from bilingual_texts(value, f"{path}/{index}")


def untranslated_spans_missing(en: str, zh: str) -> list[str]:
    return [span for span in SPAN.findall(zh) if f"`{span}`" not in en]


def test_the_check_sees_a_translated_placeholder() -> None:
    en = 'Forward with `*.* action(type="omfwd" target="LOG-SERVER")`.'
    assert untranslated_spans_missing(en, '使用 `*.* action(type="omfwd" target="日志服务器")`。')
    same = '使用 `*.* action(type="omfwd" target="LOG-SERVER")`。'
    assert not untranslated_spans_missing(en, same)


@pytest.mark.parametrize("path", BASELINES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_backticked_span_of_a_zh_text_is_in_its_en_text(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    texts = list(bilingual_texts(document))
    assert texts, f"{path} has no bilingual texts"
    problems = [f"{where}: `{span}`" for where, en, zh in texts
                for span in untranslated_spans_missing(en, zh)]
    assert not problems, "commands differ between en and zh:\n" + "\n".join(problems)
