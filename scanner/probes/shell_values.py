"""Values as the shells compute them: symbolic umasks, globs, and bash's reading of TMOUT."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping

from scanner.probes._common import FileFrame


def symbolic_umask(value: str) -> Callable[[int | None], int | None] | None:
    """Symbolic umask (``u=rwx,g=rx,o=``, POSIX umask/chmod: the clauses say which
    permissions new files may keep) as a function of the current mask, or None."""
    clauses = value.split(",")
    parsed = []
    for clause in clauses:
        match = re.fullmatch(r"([ugoa]*)([-+=])([rwx]*)", clause)
        if not match:
            return None
        parsed.append(match.groups())

    def apply(mask: int | None) -> int | None:
        if mask is None:
            return None
        allowed = 0o777 & ~mask
        for who, operator, perms in parsed:
            who = who or "a"
            bits = sum({"r": 4, "w": 2, "x": 1}[p] for p in perms)
            scope = 0
            for person in who.replace("a", "ugo"):
                scope |= bits << {"u": 6, "g": 3, "o": 0}[person]
            whole = 0
            for person in who.replace("a", "ugo"):
                whole |= 0o7 << {"u": 6, "g": 3, "o": 0}[person]
            if operator == "+":
                allowed |= scope
            elif operator == "-":
                allowed &= ~scope
            else:
                allowed = (allowed & ~whole) | scope
        return 0o777 & ~allowed
    return apply


def glob(pattern: str, frames: Mapping[str, FileFrame]) -> list[str]:
    """Collected paths a shell glob matches: ``*`` stops at ``/``, no leading dot, byte order."""
    parts = pattern.split("/")
    matches = []
    for path, frame in frames.items():
        if frame.state == "missing":
            continue
        names = path.split("/")
        if len(names) != len(parts):
            continue
        if all(fnmatch.fnmatchcase(name, part) and not (name.startswith(".") and not
               part.startswith(".")) for name, part in zip(names, parts, strict=True)):
            matches.append(path)
    return sorted(matches, key=lambda p: p.encode("utf-8", "surrogateescape"))


def c_atoi(value: str) -> int:
    """C ``atoi`` as bash 5.2 applies it to TMOUT (``eval.c`` ``read_command``): leading
    ``isspace``, an optional sign, the digits that follow; the rest (``\r``, ``s``) is
    ignored, and no digits is 0. Clamped to C ``int``."""
    match = re.match(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", value)
    if not match:
        return 0
    return max(min(int(match.group(1)), 2**31 - 1), -(2**31))
