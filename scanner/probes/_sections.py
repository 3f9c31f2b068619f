"""Framed command sections and the sections several probes share (process list,
init system, the collector's uid).

A section is a pseudo-file in the ``dump_files`` framing: command output and files
share one parser. The collector runs each shared section once per host and puts its
output before that of every probe naming it. Probes import these from here, not
from each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.lines import split_lines
from scanner.probes import RawOutput
from scanner.probes._common import print_lines, quote, split_files

# ---------------------------------------------------------------- framed sections

SECTION_PREFIX = "cii:"
_RC_LINE = re.compile(r"\ncii:rc (\d{1,3})\Z")


def section(name: str, command: str) -> str:
    """sh that frames ``command``'s output (stdout and stderr) as section ``name``.

    A section is a pseudo-file in the :func:`dump_files` framing, so files and
    command output share one parser; its last line records the exit status.
    """
    return (
        f"printf '%s F %s\\n' \"$CII_M\" {quote(SECTION_PREFIX + name)}; "
        f"{{ {command} ; }} 2>&1; printf '\\ncii:rc %s\\n' \"$?\""
    )


@dataclass(frozen=True)
class Section:
    text: str
    exit_status: int | None  # None: the section was cut short


@dataclass(frozen=True)
class Collected:
    """A snippet's output split into command sections and files."""

    sections: dict[str, Section]
    files: dict[str, str]  # readable files by path, in the order printed
    unreadable: tuple[str, ...]


def split_sections(raw: RawOutput) -> Collected:
    sections: dict[str, Section] = {}
    files: dict[str, str] = {}
    unreadable: list[str] = []
    for frame in split_files(raw):
        if frame.path.startswith(SECTION_PREFIX):
            name = frame.path[len(SECTION_PREFIX):]
            match = _RC_LINE.search(frame.content)
            if match:
                body = frame.content[: match.start()]
                sections[name] = Section(body, int(match.group(1)))
            else:
                sections[name] = Section(frame.content, None)
        elif frame.state == "ok":
            files.setdefault(frame.path, frame.content)
        elif frame.state == "unreadable":
            unreadable.append(frame.path)
    return Collected(sections, files, tuple(unreadable))


def section_lines(collected: Collected, name: str) -> list[str]:
    found = collected.sections.get(name)
    if found is None:
        return []
    return [line.strip() for line in split_lines(found.text) if line.strip()]


# ---------------------------------------------------------------- processes

# Process names (comm, at most 15 characters) of user-space processes, leaving out kernel
# threads (PF_KTHREAD, 0x00200000 in field 9 of /proc/PID/stat), whose names change from
# second to second, and the scan itself: the collector's session and the process that
# started that session (the scanner locally, a per-connection sshd remotely). Daemons run
# in sessions of their own, so neither omission hides a service. cat, not awk, opens the
# files, because a process may exit between the glob and the read. The first line counts
# the processes read, so that "none left after the omissions" (a container whose only
# processes are the scan's) is told apart from "/proc could not be read".
PROCESSES_SNIPPET = section(
    "processes",
    "cat /proc/[0-9]*/stat 2>/dev/null | awk -v me=\"$$\" '{ s = $0; o = index(s, \"(\"); "
    "c = length(s); while (c > o && substr(s, c, 1) != \")\") c--; "
    "split(substr(s, c + 2), f, \" \"); p = substr(s, 1, o - 2); parent[p] = f[2]; "
    "if (p == me) own = f[4]; "
    "if (int(f[7] / 2097152) % 2 == 0) { n++; pid[n] = p; name[n] = substr(s, o + 1, c - o - 1); "
    "session[n] = f[4] } } "
    "END { print \"cii:read \" NR; starter = (own in parent) ? parent[own] : \"\"; "
    "for (i = 1; i <= n; i++) "
    "if (session[i] != own && pid[i] != starter) print name[i] }'; true",
)
# Is systemd the init system? The documented test is /run/systemd/system.
INIT_SNIPPET = section(
    "init",
    "if [ -d /run/systemd/system ]; then echo systemd; else echo other; fi; "
    + print_lines("/proc/1/comm"),
)
UID_SNIPPET = section("uid", "printf '%s\\n' \"$CII_UID\"")


PROCESS_LIST_UNREADABLE = "process list (/proc/*/stat) could not be read"


def process_names(collected: Collected) -> list[str] | None:
    """Sorted distinct process names, or None when /proc could not be listed.

    An empty list is an observation: processes were read, and all were the scan's own.
    Output of collectors older than the ``cii:read`` count line still parses; there an
    empty list cannot be told from an unreadable /proc, so it is None.
    """
    lines = section_lines(collected, "processes")
    count = re.fullmatch(r"cii:read (\d+)", lines[0]) if lines else None
    if count is None:
        return sorted(set(lines)) or None
    if int(count.group(1)) == 0:
        return None
    return sorted(set(lines[1:]))


def systemd_is_init(collected: Collected) -> bool:
    lines = section_lines(collected, "init")
    return bool(lines) and lines[0] == "systemd"


def init_name(collected: Collected) -> str:
    lines = section_lines(collected, "init")
    return lines[1] if len(lines) > 1 else "unknown"


def collector_uid(collected: Collected) -> int | None:
    lines = section_lines(collected, "uid")
    return int(lines[0]) if lines and lines[0].isdigit() else None
