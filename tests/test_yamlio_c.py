"""libyaml's C composer gives the documents (data and every node's line) of the pure one.

scanner.yamlio composes with PyYAML's C parser when it has one and falls back to the pure
Python parser for a file the C parser refuses (so errors read as they always did). Every
YAML file in the repository, and generated documents and broken files, must come out the
same either way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import yamlio
from scanner.errors import InputError
from tests.test_properties import EXAMPLES

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(p for p in ROOT.rglob("*.yaml") if not {".git", ".venv"} & set(p.parts))


def _both(text: str) -> tuple[object, object]:
    def outcome(fast: bool) -> object:
        try:
            doc = yamlio.load_text(text, "t.yaml", fast=fast)
        except InputError as exc:
            return ("error", exc.message, exc.line)
        return (doc.data, dict(doc.lines))
    return outcome(True), outcome(False)


def test_the_c_parser_is_there() -> None:
    assert getattr(yaml, "CSafeLoader", None) is not None  # else the fast path is not tested


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_repository_yaml_composes_the_same(path: Path) -> None:
    fast, pure = _both(path.read_text(encoding="utf-8"))
    assert fast == pure


_BROKEN = ["a: [1, 2", "a: b: c", "- a\nb: c", "a: 'x", "\tkey: 1", "a: &x 1\nb: *y",
           "a: !!python/object:os.system x", "a: 1\na: 2", "? [a]\n: 1", "<<: {a: 1}",
           "a: 2026-02-30", "%YAML 1.1\n%YAML 1.1\n---\na", "a: |\n  x\n y", "{a: 1}}",
           "a: \x07", "- [a, {b: c]}", "&a [*a]"]


@pytest.mark.parametrize("text", _BROKEN)
def test_broken_yaml_fails_with_the_same_words_and_line(text: str) -> None:
    fast, pure = _both(text)
    assert fast == pure


_KEYS = st.sampled_from(["id", "rules", "a", "b b", "'q'", "1", "true", "x-y"])
_SCALARS = st.sampled_from(["x", "'quoted'", '"dq \\u00e9"', "1", "1.5", "true", "~", "null",
                            "2026-01-01", "0o17", "0x1F", ".inf", "-", "a: b", "|", "é"])


@st.composite
def _documents(draw: st.DrawFn, depth: int = 0) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        indent = "  " * depth
        key = draw(_KEYS)
        kind = draw(st.sampled_from(["scalar", "flow", "block"] if depth < 3 else ["scalar"]))
        if kind == "scalar":
            lines.append(f"{indent}{key}: {draw(_SCALARS)}")
        elif kind == "flow":
            items = draw(st.lists(_SCALARS, max_size=3))
            lines.append(f"{indent}{key}: [{', '.join(items)}]")
        else:
            lines.append(f"{indent}{key}:")
            lines.append(draw(_documents(depth + 1)))
    return "\n".join(lines)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(text=_documents())
def test_generated_yaml_composes_the_same(text: str) -> None:
    fast, pure = _both(text)
    assert fast == pure
