"""Shared pieces for probe snippets and parsers.

Snippets run in a subshell of the collector's ``sh`` on the target, with
``LC_ALL=C`` and stdin from /dev/null. The collector exports the run's random
marker as ``$CII_M`` so a probe that reads several files can frame each one; a
file's own content cannot forge a frame because it cannot know the marker.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from scanner.lines import split_lines
from scanner.probes import ProbeResult, RawOutput

quote = shlex.quote

# Bytes of one file a snippet gives a tool (awk, grep, sed, the shell's read) through
# :func:`capped`: far above any real configuration file; a larger one is cut.
TOOL_READ_CAP = 4 * 1024 * 1024

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


def print_lines(path: str) -> str:
    """sh printing a small text file (a /proc entry) with the shell's own ``read``, so no
    process starts; ``path`` is one shell word. Fails, silently, when it cannot open it."""
    return ("{ while IFS= read -r l || [ -n \"$l\" ]; do printf '%s\\n' \"$l\"; "
            f"done < {path}; }} 2>/dev/null")


def dump_files(*words: str, file_cap: int = TOOL_READ_CAP) -> str:
    """sh that prints every file the words name, each framed with ``$CII_M``; a file
    over ``file_cap`` bytes is not read, a CUT line stands for it (as :func:`dump_words`).

    Each word is one shell word: a catalog glob such as ``/etc/pam.d/*`` (it
    expands) or an argument already passed through :func:`quote` (it does not).
    """
    return (
        f"for f in {' '.join(words)}; do "
        'if [ -f "$f" ]; then '
        'if ! [ -r "$f" ]; then printf \'%s U %s\\n\' "$CII_M" "$f"; '
        'elif sz=$(stat -L -c %s -- "$f") && [ "$sz" -gt ' + str(int(file_cap)) + ' ]; '
        'then printf \'%s CUT %s %s %s\\n\' "$CII_M" ' + str(int(file_cap)) + ' "$sz" "$f"; '
        'else printf \'%s F %s\\n\' "$CII_M" "$f"; '
        'head -c ' + str(int(file_cap)) + ' -- "$f"; echo; '
        'fi; '
        'elif [ -e "$f" ]; then printf \'%s O %s\\n\' "$CII_M" "$f"; '
        'else printf \'%s N %s\\n\' "$CII_M" "$f"; fi; '
        "done"
    )


def dump_words(words: Sequence[str], file_cap: int) -> str:
    """sh printing every file that any of the words names, with one ``stat`` and one
    ``head`` in all (a ``cat`` per file was most of the cost of reading /etc).

    For each word in turn it prints ``W <index>``, then each match's state (``R`` for
    a file read below, as :func:`dump_files` tags the others); then the sizes of the
    files, then the content of each file no longer than ``file_cap``, back to back
    (still through ``head -c``, in case one grew since). A file over the cap is not
    read at all: whatever a parser made of its first bytes would be a verdict on a
    truncated file, and a host of gigabyte files would cost gigabytes. Its size is
    enough for :func:`split_word_dump` to mark the word cut.
    :func:`split_word_dump` turns that into :func:`dump_files` frames per word.
    """
    loops = "".join(
        f"printf '%s W %s\\n' \"$CII_M\" {index}; for f in {word}; do "
        'if [ -f "$f" ]; then '
        'if [ -r "$f" ]; then set -- "$@" "$f"; printf \'%s R %s\\n\' "$CII_M" "$f"; '
        'else printf \'%s U %s\\n\' "$CII_M" "$f"; fi; '
        'elif [ -e "$f" ]; then printf \'%s O %s\\n\' "$CII_M" "$f"; '
        'else printf \'%s N %s\\n\' "$CII_M" "$f"; fi; done; '
        for index, word in enumerate(words))
    return (f"set --; {loops}"
            'if [ "$#" -gt 0 ]; then printf \'%s S\\n\' "$CII_M"; '
            'sz=$(stat -L -c %s -- "$@"); printf \'%s\\n\' "$sz"; '
            # keep, in order, the files within the cap: each size shifts one file off
            # the front and puts it back at the end when it is to be read
            f'for z in $sz; do f=$1; shift; [ "$z" -le {int(file_cap)} ] && '
            'set -- "$@" "$f"; done; '
            'printf \'%s C\\n\' "$CII_M"; '
            f'if [ "$#" -gt 0 ]; then head -q -c {int(file_cap)} -- "$@"; fi; fi')


# A line in a probe's output saying a file it needs was over its cap: ``<M> CUT <cap>
# <size> <path>``. :func:`scanner.probes.interpret` makes every probe whose output holds
# one an ``error`` naming the file, before its parser sees any of it.
CUT_LINE = re.compile(rb"(?m)^(CIIM[0-9a-f]{32}) CUT (\d{1,20}) (\d{1,20}) ([^\n]*)$")


def cut_line(token: str, cap: int, size: int, path: bytes) -> bytes:
    """The CUT line :func:`split_word_dump` puts where a file over the cap would be."""
    return token.encode() + b" CUT %d %d " % (cap, size) + path + b"\n"


def capped(path: str, cap: int) -> str:
    """sh printing at most ``cap`` bytes of the file ``path`` (one shell word, already
    quoted), for a tool that must run over a file's content: ``capped(p, n) | awk ...``
    instead of giving awk the path, so a gigabyte line costs the host ``cap`` bytes.
    Put :func:`cut_check` before the pipeline, so a cut is seen."""
    return f"head -c {int(cap)} -- {path}"


def cut_check(path: str, cap: int) -> str:
    """sh printing a CUT line when the file ``path`` (one quoted shell word) is over
    ``cap`` bytes: a statement of its own before the pipeline that reads
    :func:`capped` bytes, so the line reaches the part's output, not the tool. The
    probe is then ``error`` naming the file, never a verdict on the head of it."""
    cap = int(cap)
    return (f'sz=$(stat -L -c %s -- {path} 2>/dev/null); '
            f'[ "${{sz:-0}}" -le {cap} ] || '
            f'printf \'\\n%s CUT %s %s %s\\n\' "$CII_M" {cap} "$sz" {path}')


def cut_guard(words: Iterable[str], cap: int = TOOL_READ_CAP) -> str:
    """sh that prints a CUT line for each file the words (catalog globs or quoted
    paths) name that is over ``cap`` bytes, and leaves ``cutl`` non-empty then: a
    snippet asks a consumer of those files (modprobe, visudo, rsyslogd, chronyd,
    useradd, apt) only when ``[ -z "$cutl" ]``, so no tool of the host is made to
    read gigabytes for a probe that is ``error`` anyway. One stat and one awk in all."""
    cap = int(cap)
    return (f"cutl=$(stat -L -c '%s %n' -- {' '.join(words)} 2>/dev/null | "
            f"awk -v c={cap} -v m=\"$CII_M\" '$1 + 0 > c + 0 {{ s = $1; "
            "sub(/^[0-9]+ /, \"\"); printf \"%s CUT %s %s %s\\n\", m, c, s, $0 }'); "
            "[ -z \"$cutl\" ] || printf '\\n%s\\n' \"$cutl\"")


@dataclass(frozen=True)
class WordDump:
    frames: bytes  # as dump_files would print them for this word
    cut: bool  # a file it names is longer than the per-file cap


def split_word_dump(payload: bytes, token: str, count: int,
                    file_cap: int) -> list[WordDump] | None:
    """Each word's frames from a :func:`dump_words` output, or None when the output does
    not add up (a file changed size or vanished while it was read, or stray lines)."""
    mark = re.escape(token.encode())
    sizes_at = re.search(rb"(?m)^" + mark + rb" S\n", payload)
    heads = payload if sizes_at is None else payload[:sizes_at.start()]
    if heads and not heads.endswith(b"\n"):
        return None
    entries: list[list[tuple[bytes, bytes]]] = []
    for line in heads.split(b"\n")[:-1]:
        match = re.fullmatch(mark + rb" ([WRUON]) (.*)", line)
        if match is None:
            return None
        tag, rest = match.group(1), match.group(2)
        if tag == b"W":
            if rest != str(len(entries)).encode():
                return None
            entries.append([])
        elif not entries:
            return None
        else:
            entries[-1].append((tag, rest))
    if len(entries) != count:
        return None
    readable = sum(1 for word in entries for tag, _ in word if tag == b"R")
    sizes: list[int] = []
    content = b""
    if sizes_at is not None:
        content_at = re.search(rb"(?m)^" + mark + rb" C\n", payload)
        if content_at is None or content_at.start() < sizes_at.end():
            return None
        lines = payload[sizes_at.end():content_at.start()].split(b"\n")[:-1]
        if not all(line.isdigit() for line in lines):
            return None
        sizes = [int(line) for line in lines]
        content = payload[content_at.end():]
    if len(sizes) != readable or sum(size for size in sizes if size <= file_cap) != len(content):
        return None
    dumps: list[WordDump] = []
    lengths = iter(sizes)
    offset = 0
    prefix = token.encode() + b" "
    for word in entries:
        frames: list[bytes] = []
        cut = False
        for tag, path in word:
            if tag != b"R":
                frames.append(prefix + tag + b" " + path + b"\n")
                continue
            size = next(lengths)
            if size > file_cap:
                cut = True
                frames.append(cut_line(token, file_cap, size, path))
                continue
            frames.append(prefix + b"F " + path + b"\n" + content[offset:offset + size]
                          + b"\n")
            offset += size
        dumps.append(WordDump(b"".join(frames), cut))
    return dumps


def files_only(args: Mapping[str, Any]) -> str:
    """The snippet of a probe made of its ``files`` alone: it runs nothing of its own."""
    return ""


@dataclass(frozen=True)
class FileFrame:
    path: str
    state: FileState
    content: str = ""


_FRAME_HEADER = re.compile(rb"(?m)^(CIIM[0-9a-f]{32}) ([FUNO]) ([^\n]*)$")
_SPLIT_CACHED_BYTES = 256 * 1024


def split_files(raw: RawOutput) -> list[FileFrame]:
    """The files a :func:`dump_files` snippet printed, in the order it printed them.

    A ``missing`` frame whose path still holds glob characters is an unmatched
    glob, not a missing file, and is left out. Usual-sized outputs are split once:
    the probes that read /etc/pam.d get the same frames.
    """
    if not raw.token:
        return []
    if len(raw.payload) <= _SPLIT_CACHED_BYTES:
        return list(_split_cached(raw.payload, raw.token))
    return list(_split(raw.payload, raw.token))


@functools.lru_cache(maxsize=32)
def _split_cached(payload: bytes, token: str) -> tuple[FileFrame, ...]:
    return _split(payload, token)


def _split(payload: bytes, token: str) -> tuple[FileFrame, ...]:
    ours = token.encode()
    matches = [m for m in _FRAME_HEADER.finditer(payload) if m.group(1) == ours]
    frames: list[FileFrame] = []
    for index, match in enumerate(matches):
        tag = match.group(2).decode()
        path = decode(match.group(3))
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
    return tuple(frames)


def active_lines(text: str, comment: str = "#") -> Iterable[str]:
    """Non-empty lines with full-line comments removed, whitespace trimmed."""
    for line in split_lines(text):
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
    for line in split_lines(text):
        if line.strip():
            return line.strip()[:limit]
    return ""


def frames_or_error(raw: RawOutput) -> tuple[list[FileFrame], ProbeResult | None]:
    """The framed files of a dump_files snippet, or the error that prevents reading them."""
    if raw.exit_status != 0:
        return [], ProbeResult.failed(f"file listing failed (exit status {raw.exit_status})")
    frames = split_files(raw)
    if not frames:
        return [], ProbeResult.failed("the host printed no file frames for this probe")
    return frames, None


def unreadable_paths(frames: Iterable[FileFrame]) -> list[str]:
    return [f.path for f in frames if f.state in ("unreadable", "not_regular")]

