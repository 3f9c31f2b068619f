"""Word report (.docx): the document an assessor files, laid out by a replaceable template.

The layout is a Jinja-tagged Word document rendered with docxtpl: the shipped one is
``reports/report-template.docx`` (built by ``reports/build_docx_template.py``), and
``--docx-template FILE`` puts a user's own in its place. A code-built document could
not be re-laid out without changing code; a template can be edited in Word.

Host strings are data: :mod:`scanner.render.docx_context` makes them printable and the
Jinja environment escapes every value as XML text, so ``<``, ``&``, ``{{ }}`` and
``{% %}`` from a host appear literally and are never evaluated. The environment is
sandboxed: a template passed around between assessors cannot run code.

The factory's signature stays ``render(document, *, lang)``; the CLI adds
``template=`` (a :class:`UserTemplate` read and checked before any host is scanned)
only for this format.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from docxtpl import DocxTemplate
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from scanner.errors import InputError
from scanner.render._text import printable
from scanner.render.docx_context import CONTEXT_KEYS, build_context
from scanner.resources import reports_dir

TEMPLATE_NAME = "report-template.docx"
# Every entry gets this time: the same findings render to the same bytes (a bundle's
# SHA256SUMS or a signature then covers a reproducible file).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_DOCS = "see docs/docx-template.md"


@dataclass(frozen=True)
class UserTemplate:
    """A user's .docx template, read once and checked (:func:`load_template`)."""

    name: str
    content: bytes


def _finalize(value: Any) -> Any:
    """Applied to every ``{{ }}`` value: nothing prints as "None", all text is printable
    and XML-escaped here, braces included (as character references: docxtpl rewrites
    ``{_{`` and ``%_}`` in the rendered XML, which must not reach a host's text)."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    text = str(escape(printable(value)))
    return Markup(text.replace("{", "&#123;").replace("}", "&#125;"))  # noqa: S704


def _environment() -> SandboxedEnvironment:
    # autoescape: values are XML-escaped text in document.xml
    return SandboxedEnvironment(autoescape=True, finalize=_finalize,
                                undefined=jinja2.StrictUndefined)


def _open(content: bytes, name: str) -> DocxTemplate:
    template = DocxTemplate(io.BytesIO(content))
    try:
        template.init_docx()
    except Exception as exc:  # python-docx raises many kinds for "not a .docx"
        raise InputError(name, f"not a Word .docx document ({type(exc).__name__})") from None
    return template


def _parts(template: DocxTemplate) -> Iterator[str]:
    """The Jinja source of the body, headers and footers, as docxtpl will render them."""
    yield template.patch_xml(template.get_xml())
    for uri in (template.HEADER_URI, template.FOOTER_URI):
        for _key, part in template.get_headers_footers(uri):
            yield template.patch_xml(template.get_part_xml(part))


def check_template(content: bytes, name: str) -> None:
    """Refuse a template that is not a .docx, whose Jinja does not compile (syntax,
    unknown filter or test), or that names a variable the report does not give."""
    template = _open(content, name)
    environment = _environment()
    unknown: set[str] = set()
    for source in _parts(template):
        try:
            environment.from_string(source)
            unknown |= meta.find_undeclared_variables(environment.parse(source))
        except jinja2.TemplateSyntaxError as exc:
            raise InputError(name, f"template error: {printable(exc.message or exc)}") from None
    if unknown - CONTEXT_KEYS:
        names = ", ".join(sorted(unknown - CONTEXT_KEYS))
        raise InputError(name, f"template names unknown variable(s) {names}; {_DOCS}")


def load_template(path: Path) -> UserTemplate:
    """``path`` read and checked: a bad template is one line naming the file (exit 2)."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "file not found") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
    check_template(content, str(path))
    return UserTemplate(str(path), content)


def _reproducible(content: bytes) -> bytes:
    """The .docx with fixed entry times (python-docx stamps each with the current time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def shipped_template() -> Path:
    return reports_dir() / TEMPLATE_NAME


def render(document: Mapping[str, Any], *, lang: str = "en",
           template: UserTemplate | None = None) -> bytes:
    """The Word report for ``document`` in ``lang`` (en or zh), laid out by ``template``
    (default: the shipped one)."""
    if template is None:
        path = shipped_template()
        template = UserTemplate(str(path), path.read_bytes())
    docx = _open(template.content, template.name)
    try:
        docx.render(build_context(document, lang), jinja_env=_environment())
    except jinja2.TemplateError as exc:
        raise InputError(template.name, f"template error: {printable(exc.message or exc)}; "
                         f"{_DOCS}") from None
    out = io.BytesIO()
    docx.save(out)
    return _reproducible(out.getvalue())
