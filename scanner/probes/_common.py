"""Shared pieces for probe snippets and parsers.

Snippets run in a subshell of the collector's ``sh`` on the target, with
``LC_ALL=C`` and stdin from /dev/null. The collector exports the run's random
marker as ``$CII_M`` so a probe that reads several files can frame each one; a
file's own content cannot forge a frame because it cannot know the marker.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scanner.probes import RawOutput

quote = shlex.quote

FileState = Literal["ok", "unreadable", "missing", "not_regular"]
_STATE_BY_TAG: dict[str, FileState] = {
    "F": "ok",
    "U": "unreadable",
    "N": "missing",
    "O": "not_regular",
}
_GLOB_CHARS = re.compile(r"[*?\[]")


def decode(payload: bytes) -> str:
    """Bytes from a host as text: invalid UTF-8 (GBK comments, binary) becomes U+FFFD."""
    return payload.decode("utf-8", errors="replace")


def dump_files(*words: str) -> str:
    """sh that prints every file the words name, each framed with ``$CII_M``.

    Each word is one shell word: a catalog glob such as ``/etc/pam.d/*`` (it
    expands) or an argument already passed through :func:`quote` (it does not).
    """
    return (
        f"for f in {' '.join(words)}; do "
        'if [ -f "$f" ]; then '
        'if [ -r "$f" ]; then printf \'%s F %s\\n\' "$CII_M" "$f"; cat -- "$f"; echo; '
        'else printf \'%s U %s\\n\' "$CII_M" "$f"; fi; '
        'elif [ -e "$f" ]; then printf \'%s O %s\\n\' "$CII_M" "$f"; '
        'else printf \'%s N %s\\n\' "$CII_M" "$f"; fi; '
        "done"
    )


def files_only(args: Mapping[str, Any]) -> str:
    """The snippet of a probe made of its ``files`` alone: it runs nothing of its own."""
    return ""


@dataclass(frozen=True)
class FileFrame:
    path: str
    state: FileState
    content: str = ""


def split_files(raw: RawOutput) -> list[FileFrame]:
    """The files a :func:`dump_files` snippet printed, in the order it printed them.

    A ``missing`` frame whose path still holds glob characters is an unmatched
    glob, not a missing file, and is left out.
    """
    if not raw.token:
        return []
    payload = raw.payload
    header = re.compile(rb"(?m)^" + re.escape(raw.token.encode()) + rb" ([FUNO]) ([^\n]*)$")
    matches = list(header.finditer(payload))
    frames: list[FileFrame] = []
    for index, match in enumerate(matches):
        tag = match.group(1).decode()
        path = decode(match.group(2))
        state = _STATE_BY_TAG[tag]
        if state == "missing" and _GLOB_CHARS.search(path):
            continue
        content = ""
        if state == "ok":
            end = matches[index + 1].start() if index + 1 < len(matches) else len(payload)
            body = payload[match.end() + 1 : end]
            if body.endswith(b"\n"):
                body = body[:-1]  # the newline the snippet adds after each file
            content = decode(body)
        frames.append(FileFrame(path, state, content))
    return frames


def active_lines(text: str, comment: str = "#") -> Iterable[str]:
    """Non-empty lines with full-line comments removed, whitespace trimmed."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(comment):
            yield stripped


def to_int(value: object) -> int | None:
    """An integer from config text (``"90"``, ``" 0640"``, ``"-1"``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d{1,18}", text):
            return int(text)
    return None


def first_line(text: str, limit: int = 200) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""
