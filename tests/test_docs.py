"""The docs name tests as proof of the security promises: every named test exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`|`::(test_\w+)`")


def _named_tests(doc: str) -> list[tuple[str, str]]:
    """(file, test) pairs; a bare ``::test`` continues the file named before it."""
    found: list[tuple[str, str]] = []
    current = ""
    for match in NAMED.finditer((REPO / doc).read_text(encoding="utf-8")):
        if match.group(1):
            current = match.group(1)
            found.append((current, match.group(2)))
        else:
            found.append((current, match.group(3)))
    return found


@pytest.mark.parametrize("doc", ["README.md", "SECURITY.md"])
def test_every_test_the_docs_name_exists(doc: str) -> None:
    named = _named_tests(doc)
    assert len(named) >= 8, doc
    missing = [f"{path}::{name}" for path, name in named
               if not path or not re.search(rf"^def {name}\(",
                                            (REPO / path).read_text(encoding="utf-8"),
                                            re.MULTILINE)]
    assert missing == []
