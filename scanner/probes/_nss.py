"""passwd, shadow and group lines as glibc's ``files`` NSS module reads them (glibc 2.36).

The host is asked first (``getent passwd|group|shadow``: every NSS source, so LDAP and
SSSD accounts count too); the files themselves are read as well, with the same rules,
because shadow-utils, a changed nsswitch.conf or a host without getent read them
directly. Both go through these parsers: getent prints glibc's own canonical form.

glibc's rules (nss/nss_readline.c ``__nss_readline``; the line parsers
pwd/fgetpwent_r.c, shadow/sgetspent_r.c, grp/fgetgrent_r.c built from
nss/nss_files/files-parse.c):

* a line ends at ``\\n`` only; leading C ``isspace`` is skipped, then an empty line or
  one starting with ``#`` is ignored;
* ``STRING_FIELD`` runs to the next ``:`` or the end of the line, so missing trailing
  fields are empty strings: ``eve::0:0::/root`` (6 fields) is an account with uid 0,
  an empty password and an empty shell (``/bin/sh`` for login);
* ``INT_FIELD`` (uid, gid) is ``strtoul(.., 10)`` clamped to 32 bits: leading blanks and
  a sign are allowed (`` 0``, ``+0``, ``-0`` and ``00`` are uid 0), it must be followed by
  ``:`` or the end of the line, and no digits at all rejects the line;
* shadow's numbers are ``INT_FIELD_MAYBE_NULL``: empty means -1, but the field must not
  be where the line ends (``eve::`` is rejected), and ``(long) (int)`` turns 4294967295
  into -1;
* names starting with ``+`` or ``-`` are nss_compat markers that lookups by name or id
  skip: they are no accounts.

The reducer that runs on the host replaces the password field by a flag (``empty``,
``locked``, ``set``; passwd keeps ``x`` and ``##name``, which pam_unix reads as "see
shadow") before anything leaves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.lines import C_SPACE, split_lines
from scanner.probes._common import TOOL_READ_CAP, capped, cut_check

_STRTOUL = re.compile("[" + re.escape(C_SPACE) + r"]*([+-]?)([0-9]+)")
_ULONG = 2**64
_U32_MAX = 0xFFFFFFFF

# Run on the host over getent's output or a file: the password field becomes a flag, the
# rest of the line is kept as it is (the parsers below need it verbatim). Lines without
# a colon carry no account (glibc rejects them) and are dropped. "getent-rc N" lines,
# which no passwd/group/shadow line can be (they have no colon), pass through.
REDUCER = (
    "awk -v kind={kind} '"
    'function flag(h) { if (h == "") return "empty"; if (h ~ /^[!*]/) return "locked"; '
    'return "set" } '
    "/^getent-rc [0-9]+$/ { print; next } "
    '{ i = index($0, ":"); if (i == 0) next; rest = substr($0, i + 1); j = index(rest, ":"); '
    'if (j == 0) { pw = rest; tail = "" } else { pw = substr(rest, 1, j - 1); '
    "tail = substr(rest, j) } "
    'if (kind == "passwd" && (pw == "x" || pw ~ /^##/)) f = pw; else f = flag(pw); '
    'print "L " substr($0, 1, i) f tail }'
    "'"
)


def reduced(kind: str, source: str) -> str:
    """sh printing ``source`` (``getent``, or a file path) reduced on the host."""
    awk = REDUCER.replace("{kind}", kind)
    if source == "getent":
        return (f"if command -v getent >/dev/null 2>&1; then "
                f"{{ getent {kind}; echo \"getent-rc $?\"; }} | {awk}; "
                "else echo getent-missing; fi")
    # the file's bounded copy, never its path: a gigabyte line costs awk the cap only.
    # head in a pipe hides its failure, so a file that is not a readable regular file
    # (a directory, a FIFO) fails the section itself, as awk given the path did
    return (f"if [ -f {source} ] && [ -r {source} ]; then "
            f"{cut_check(source, TOOL_READ_CAP)}; {capped(source, TOOL_READ_CAP)} | {awk}; "
            f"else echo 'cii: {source} is not a readable file' >&2; false; fi")


@dataclass(frozen=True)
class Reduced:
    """One reduced listing: its records, and what the host said about the source."""

    lines: list[str]
    getent_status: int | None  # getent's exit status; None: not getent, or not reported
    getent_missing: bool


def read_reduced(text: str) -> Reduced:
    records: list[str] = []
    status: int | None = None
    missing = False
    for line in split_lines(text):
        if line.startswith("L "):
            records.append(line[2:])
        elif re.fullmatch(r"getent-rc [0-9]{1,3}", line):
            status = int(line.split(" ")[1])
        elif line == "getent-missing":
            missing = True
    return Reduced(records, status, missing)


def nss_records(lines: list[str]) -> list[str]:
    """The lines ``__nss_readline`` hands to the parser: leading ``isspace`` skipped,
    empty and ``#`` lines left out."""
    kept = []
    for line in lines:
        line = line.lstrip(C_SPACE)
        if line and not line.startswith("#"):
            kept.append(line)
    return kept


def _strtou32(text: str) -> tuple[int, str] | None:
    """``strtou32``: strtoul base 10 clamped to 32 bits; (value, rest) or None without
    digits."""
    match = _STRTOUL.match(text)
    if match is None:
        return None
    number = min(int(match.group(2)), _ULONG - 1)
    if match.group(1) == "-":
        number = (-number) % _ULONG
    return min(number, _U32_MAX), text[match.end():]


def _int_field(text: str) -> tuple[int, str] | None:
    """``INT_FIELD``: a number followed by ``:`` (consumed) or the end of the line."""
    parsed = _strtou32(text)
    if parsed is None:
        return None
    number, rest = parsed
    if rest.startswith(":"):
        return number, rest[1:]
    return (number, rest) if rest == "" else None


def _maybe_null(text: str) -> tuple[int, str] | None:
    """``INT_FIELD_MAYBE_NULL`` with shadow's ``(long) (int)`` conversion, default -1."""
    if text == "":
        return None
    parsed = _strtou32(text)
    number, rest = (-1, text) if parsed is None else (
        parsed[0] - 2**32 if parsed[0] >= 2**31 else parsed[0], parsed[1])
    if rest.startswith(":"):
        return number, rest[1:]
    return (number, rest) if rest == "" else None


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    password: str  # the reduced flag: empty, locked, set, x, ##name
    uid: int
    gid: int
    home: str
    shell: str


def passwd_entry(line: str) -> PasswdEntry | None:
    """One record as ``fgetpwent_r``'s parser reads it; None where glibc rejects it or
    where it is an nss_compat marker."""
    name, _, rest = line.partition(":")
    if name[:1] in ("+", "-"):
        return None
    password, _, rest = rest.partition(":")
    uid = _int_field(rest)
    if uid is None:
        return None
    gid = _int_field(uid[1])
    if gid is None:
        return None
    _gecos, _, rest = gid[1].partition(":")
    home, _, shell = rest.partition(":")
    return PasswdEntry(name, password, uid[0], gid[0], home, shell)


@dataclass(frozen=True)
class ShadowEntry:
    name: str
    password: str  # the reduced flag
    last_change: int
    min_days: int
    max_days: int
    warn_days: int
    inactive_days: int
    expire_day: int


def shadow_entry(line: str) -> ShadowEntry | None:
    """One record as ``sgetspent_r``'s parser reads it (-1: the field is empty)."""
    name, _, rest = line.partition(":")
    if name[:1] in ("+", "-"):
        return None
    password, _, rest = rest.partition(":")
    numbers: list[int] = []
    for _ in range(3):
        field = _maybe_null(rest)
        if field is None:
            return None
        numbers.append(field[0])
        rest = field[1]
    rest = rest.lstrip(C_SPACE)
    if rest == "":
        numbers += [-1, -1, -1]  # "the old form"
    else:
        for _ in range(3):
            field = _maybe_null(rest)
            if field is None:
                return None
            numbers.append(field[0])
            rest = field[1]
        if rest:
            flag = _strtou32(rest)
            if flag is not None and flag[1] != "":
                return None
            if flag is None:
                return None
    return ShadowEntry(name, password, *numbers)


def group_entry(line: str) -> tuple[str, int] | None:
    """(name, gid) as ``fgetgrent_r``'s parser reads a group line, or None."""
    name, _, rest = line.partition(":")
    if name[:1] in ("+", "-"):
        return None
    _password, _, rest = rest.partition(":")
    gid = _int_field(rest)
    return None if gid is None else (name, gid[0])
