"""The one way reports are templated: a Jinja environment over ``reports/`` with
autoescaping on and every value made printable, and the shipped assets inlined.

A leaf module: the scan report (:mod:`scanner.render.html`) and the trend report
(:mod:`scanner.render.trend`) both render through it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from scanner.render._text import printable
from scanner.resources import reports_dir


def finalize(value: Any) -> Any:
    """Applied to every ``{{ }}`` value: markup we built stays, anything else is made printable."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return printable(value)


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(  # autoescape on: every host string is data, never markup
        autoescape=True,
        loader=jinja2.FileSystemLoader(str(reports_dir())),
        finalize=finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def asset(name: str) -> Markup:
    """A shipped CSS/JS file, inlined verbatim (it is ours, not host data)."""
    return Markup((reports_dir() / name).read_text(encoding="utf-8"))  # noqa: S704
