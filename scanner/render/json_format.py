"""The findings document itself, validated against its schema before it leaves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.findings import dumps, validate_document


def render(document: Mapping[str, Any], *, lang: str = "en") -> str:
    validate_document(document)
    return dumps(document)
