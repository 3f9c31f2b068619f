"""Host text is split as its consumers split it: at ``\\n`` only."""

from __future__ import annotations

import ast
from pathlib import Path

from scanner.lines import fields, split_lines, strip

SCANNER = Path(__file__).resolve().parents[1] / "scanner"


def test_only_newline_ends_a_line() -> None:
    text = "#\rauth required pam_faillock.so\n#\vPASS_MAX_DAYS 60\nx\x1cy\x85z\u2028w\n"
    assert split_lines(text) == ["#\rauth required pam_faillock.so", "#\vPASS_MAX_DAYS 60",
                                 "x\x1cy\x85z\u2028w"]
    assert split_lines("") == []
    assert split_lines("a") == ["a"]
    assert split_lines("a\n\n") == ["a", ""]


def test_fields_and_strip_use_the_consumers_blanks() -> None:
    assert fields("PASS_MAX_DAYS\u00a060") == ["PASS_MAX_DAYS\u00a060"]
    assert fields(" a\tb  c ") == ["a", "b", "c"]
    assert fields("a b c", " ", maxsplit=1) == ["a", "b c"]
    assert strip("\u00a0x\u3000 \t") == "\u00a0x\u3000"


def test_no_module_of_the_scanner_calls_splitlines() -> None:
    """str.splitlines breaks at \\r, \\v, \\f, \\x1c-\\x1e, \\x85, U+2028/9; consumers do not.
    The one allowed use splits PyYAML's own error message, not host text."""
    calls = []
    for path in sorted(SCANNER.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Attribute) and node.attr == "splitlines":
                receiver = ast.get_source_segment(text, node.value)
                calls.append(f"{path.relative_to(SCANNER.parent)}: {receiver}.splitlines")
    assert calls == ["scanner/yamlio.py: str(exc).splitlines"]
