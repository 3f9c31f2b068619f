"""Text as the programs that read host files split it.

sshd, libpam, glibc, shadow-utils, bash and the kernel's /proc readers end a line at
``\\n`` and nowhere else (``fgets``, ``getline``, ``read -r``). Python's
``str.splitlines`` also breaks at ``\\r``, ``\\v``, ``\\f``, ``\\x1c``–``\\x1e``, ``\\x85``,
U+2028 and U+2029, so a comment line ``#<CR>auth required pam_faillock.so`` would
become an active line the consumer never sees. Every parser of host content splits
with :func:`split_lines`; ``tests/test_lines.py`` checks that nothing under ``scanner/``
calls ``splitlines``.

``str.split()`` and ``str.strip()`` without arguments have the same flaw for fields:
they treat U+00A0, U+3000, ``\\x1c``… as blanks. C consumers use ``isspace`` in the C
locale (:data:`C_SPACE`) or only blank and tab (:data:`BLANKS`); :func:`fields` and
:func:`strip` take the consumer's set explicitly.

This module is a leaf: it imports nothing of the project.
"""

from __future__ import annotations

import re

#: ``isspace()`` in the C locale, which every consumer runs under ``LC_ALL=C``.
C_SPACE = " \t\n\v\f\r"
#: What ``strspn(s, " \\t")``-style tokenizers (shadow-utils' getdef, sshd's argv
#: splitting) skip.
BLANKS = " \t"


def split_lines(text: str) -> list[str]:
    """Lines ended by ``\\n`` only; a final ``\\n`` does not open an empty last line."""
    if not text:
        return []
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
    return parts


def strip(text: str, chars: str = C_SPACE) -> str:
    """``text`` without leading and trailing ``chars`` (C ``isspace`` by default)."""
    return text.strip(chars)


def fields(text: str, separators: str = C_SPACE, maxsplit: int = -1) -> list[str]:
    """Non-empty runs of ``text`` between any of ``separators``, like ``strtok``."""
    if maxsplit < 0:
        return [part for part in re.split("[" + re.escape(separators) + "]+", text) if part]
    words: list[str] = []
    rest = text.lstrip(separators)
    while rest and len(words) < maxsplit:
        match = re.search("[" + re.escape(separators) + "]+", rest)
        if match is None:
            break
        words.append(rest[:match.start()])
        rest = rest[match.end():]
    if rest:
        words.append(rest)
    return words
