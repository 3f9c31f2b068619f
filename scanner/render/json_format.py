"""The findings document itself, validated against its schema before it leaves."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scanner.findings import dumps, iter_valid_dumps, validate_document


def render(document: Mapping[str, Any], *, lang: str = "en") -> str:
    validate_document(document)
    return dumps(document)


def render_pieces(document: Mapping[str, Any], *, lang: str = "en") -> Iterator[str]:
    """:func:`render`'s text in pieces, one host at a time (a fleet's document is written
    this way, so its hosts are never all in memory at once, and each is read once)."""
    return iter_valid_dumps(document)
