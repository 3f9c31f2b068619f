"""Output formats. Each formatter takes a findings document and returns its content; the
CLI writes it.

:class:`OutputFormat` is the closed list; :func:`renderer_for` maps every member
to its formatter (imported lazily) and a test walks the whole enum. Text formats return
``str``; the members in ``_BINARY`` (office documents) return ``bytes``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any

Renderer = Callable[..., str | bytes]


class OutputFormat(str, Enum):
    JSON = "json"
    HTML = "html"
    SARIF = "sarif"
    JUNIT = "junit"
    CSV = "csv"
    XLSX = "xlsx"
    DOCX = "docx"

    @property
    def filename(self) -> str:
        return _FILENAMES[self]

    @property
    def binary(self) -> bool:
        """Whether its content is bytes (never printed to a terminal)."""
        return self in _BINARY


_FILENAMES = {
    OutputFormat.JSON: "findings.json",
    OutputFormat.HTML: "report.html",
    OutputFormat.SARIF: "findings.sarif",
    OutputFormat.JUNIT: "junit.xml",
    OutputFormat.CSV: "findings.csv",
    OutputFormat.XLSX: "findings.xlsx",
    OutputFormat.DOCX: "report.docx",
}

_BINARY: frozenset[OutputFormat] = frozenset({OutputFormat.XLSX, OutputFormat.DOCX})

_RENDERERS: Mapping[OutputFormat, tuple[str, str]] = {
    OutputFormat.JSON: ("scanner.render.json_format", "render"),
    OutputFormat.HTML: ("scanner.render.html", "render"),
    OutputFormat.SARIF: ("scanner.render.sarif", "render"),
    OutputFormat.JUNIT: ("scanner.render.junit", "render"),
    OutputFormat.CSV: ("scanner.render.csv_format", "render"),
    OutputFormat.XLSX: ("scanner.render.xlsx", "render"),
    OutputFormat.DOCX: ("scanner.render.docx", "render"),
}


def renderer_for(fmt: OutputFormat) -> Renderer:
    """The formatter for ``fmt``: ``render(document, *, lang="en") -> str`` (``bytes`` for
    a binary format)."""
    module_name, function = _RENDERERS[fmt]
    renderer: Renderer = getattr(importlib.import_module(module_name), function)
    return renderer


def render(fmt: OutputFormat, document: Mapping[str, Any], lang: str = "en",
           **options: Any) -> str | bytes:
    """``fmt``'s content for ``document``. ``options`` are a format's own keywords, given
    by a caller that knows the format (docx: ``template``, a user's own Word template);
    every renderer takes ``lang`` alone otherwise."""
    return renderer_for(fmt)(document, lang=lang, **options)


def render_text(fmt: OutputFormat, document: Mapping[str, Any], lang: str = "en") -> str:
    """:func:`render` of a text format."""
    content = render(fmt, document, lang=lang)
    if not isinstance(content, str):
        raise TypeError(f"{fmt.value} is a binary format")
    return content


def render_pieces(fmt: OutputFormat, document: Mapping[str, Any],
                  lang: str = "en", **options: Any) -> Iterable[str] | bytes:
    """:func:`render`'s text, in pieces for a formatter that can give them as it goes
    (``render_pieces`` beside its ``render``: the findings document, host by host), else
    in one piece; a binary format's bytes whole (``options`` as for :func:`render`)."""
    if fmt.binary or options:
        content = render(fmt, document, lang=lang, **options)
        return content if isinstance(content, bytes) else (content,)
    module_name, _ = _RENDERERS[fmt]
    pieces: Callable[..., Iterable[str]] | None = getattr(
        importlib.import_module(module_name), "render_pieces", None)
    if pieces is not None:
        return pieces(document, lang=lang)
    return (render_text(fmt, document, lang=lang),)
