"""The one way reports are templated: a Jinja environment over ``reports/`` with
autoescaping on and every value made printable, and the shipped assets inlined.

A leaf module: the scan report (:mod:`scanner.render.html`) and the trend report
(:mod:`scanner.render.trend`) both render through it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.bccache import Bucket
from markupsafe import Markup

from scanner import __version__
from scanner.render._text import printable
from scanner.resources import reports_dir
from scanner.userdirs import cache_dir


def finalize(value: Any) -> Any:
    """Applied to every ``{{ }}`` value: markup we built stays, anything else is made printable."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return printable(value)


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """The templates' compiled code, kept between runs (compiling the scan report's
    template took ~60 ms of every run that writes it). Jinja keys each entry by the
    template's name and checks the checksum of its source, so an edited template is
    compiled again; an entry that cannot be read or written is compiled as if absent."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged entry is compiled again, never fatal
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):  # not kept: compiled again next run
            super().dump_bytecode(bucket)


def template_cache_dir() -> Path:
    """$XDG_CACHE_HOME/cii-scan/templates (~/.cache when unset), per user."""
    return cache_dir() / "templates"


def _private_dir(path: Path) -> bool:
    """``path`` is (now) a directory of this user's that no one else may write into: the
    code kept there runs in every later report."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = path.lstat()
    except OSError:
        return False
    return (stat.S_ISDIR(found.st_mode) and found.st_uid == os.geteuid()
            and not found.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _compiled_templates() -> jinja2.BytecodeCache | None:
    directory = template_cache_dir()
    if not _private_dir(directory):
        return None  # compiled each run, as without a cache
    return _CompiledTemplates(str(directory), f"cii-scan-{__version__}-%s.cache")


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(  # autoescape on: every host string is data, never markup
        autoescape=True,
        loader=jinja2.FileSystemLoader(str(reports_dir())),
        bytecode_cache=_compiled_templates(),
        finalize=finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def asset(name: str) -> Markup:
    """A shipped CSS/JS file, inlined verbatim (it is ours, not host data)."""
    return Markup((reports_dir() / name).read_text(encoding="utf-8"))  # noqa: S704
