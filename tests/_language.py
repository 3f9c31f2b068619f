"""What a reader sees of a rendered page, and which words in it are English or Chinese:
the checks that a report speaks one language (tests/test_report_language.py,
tests/test_render_trend.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

# English a Chinese report keeps, each because Chinese assessors write it so:
ALLOWED = frozenset({
    "SSH", "PAM", "CIS", "GB",  # protocol, subsystem, benchmark, standard (GB/T)
    "SELinux", "AppArmor",  # Linux security modules: product names
    "UTC",  # the time standard, as written in Chinese
    "UID", "IP", "TCP", "IPv4", "IPv6", "ID",  # protocol and identifier abbreviations
    "RHEL", "Debian", "Ubuntu", "Linux",  # distribution and system names
})
CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]")
WORD = re.compile(r"[A-Za-z]{2,}[A-Za-z0-9]*")  # a single letter is a clause item or a unit
VALUE_TOKENS = re.compile("|".join([
    r"sha256:[0-9a-f]+", r"[0-9a-f]{16,}",  # digests
    r"\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{4})?)?",  # dates, times
    r"\S*/\S*",  # paths, GB/T-like pairs and anything with a slash
    r"[\w-]+(?:\.[\w*-]+)+",  # dotted identifiers: settings, rule ids, file names
    r"\w+=\S*", r"\w+(?:_\w+)+",  # key=value, snake_case field names
    r"\d[\d.:,]*",  # numbers, addresses
]))


class _Visible(HTMLParser):
    """The text a reader sees, without code, pre, script and style contents."""

    SKIPPED = frozenset({"code", "pre", "script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.SKIPPED:
            self.depth += 1
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self.depth:
            self.depth -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def visible_prose(page: str, data: Iterable[str]) -> str:
    parser = _Visible()
    parser.feed(page)
    text = "".join(parser.parts)
    for value in sorted(data, key=len, reverse=True):  # longest first: no half-removed value
        text = text.replace(value, " ")
    return VALUE_TOKENS.sub(" ", text)


def english_words(prose: str) -> list[str]:
    return sorted({word for word in WORD.findall(prose) if word not in ALLOWED})


def cjk(prose: str) -> list[str]:
    return sorted(set(CJK.findall(prose)))


def context(prose: str, needle: str) -> str:
    at = prose.find(needle)
    return " ".join(prose[max(0, at - 60): at + 60].split())
