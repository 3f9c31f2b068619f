"""/etc/login.defs as shadow-utils 4.13 reads it (lib/getdef.c, built without libeconf
as Debian and RHEL build it), and useradd's defaults as ``useradd -D`` reports them.

``def_load`` reads the file with ``fgets`` into a 1024-byte buffer (a line ends at
``\\n`` only, and a longer line is read as several), trims trailing C ``isspace``,
skips leading blanks and tabs, ignores a line whose first such character is ``#``,
and stores the *last* definition of a key. Numbers go through ``getlong``
(``strtol(value, &end, 0)``: ``0x3c`` is 60, ``090`` is no number at all) and
``getdef_num`` (int range); a value that is no number makes the tool print
"configuration error" and use its compiled-in default. Anything the probe cannot see
(an unreadable file) makes the result an error, never a default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import C_SPACE, split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import (
    cut_guard,
    files_only,
    frames_or_error,
    split_files,
)
from scanner.probes._sections import section, split_sections

LOGIN_DEFS = "/etc/login.defs"
# shadow-utils' compiled-in fallbacks for keys login.defs does not set (login.defs(5)).
# PASS_MAX_DAYS is documented as -1 (no ageing); 99999 says the same and keeps
# numeric comparisons honest ("≤ 90" must not hold for "no ageing").
LOGIN_DEFS_DEFAULTS: dict[str, int | str] = {
    "PASS_MAX_DAYS": 99999,
    "PASS_MIN_DAYS": -1,
    "PASS_WARN_AGE": -1,
    "UID_MIN": 1000,
    "UID_MAX": 60000,
    "SYS_UID_MIN": 101,
    "SYS_UID_MAX": 999,
    "GID_MIN": 1000,
    "GID_MAX": 60000,
    "SYS_GID_MIN": 101,
    "SYS_GID_MAX": 999,
    "UMASK": "022",
    "ENCRYPT_METHOD": "DES",
}
LOGIN_DEFS_NUMERIC = frozenset(
    {"PASS_MAX_DAYS", "PASS_MIN_DAYS", "PASS_WARN_AGE", "PASS_MIN_LEN", "UID_MIN", "UID_MAX",
     "SYS_UID_MIN", "SYS_UID_MAX", "GID_MIN", "GID_MAX", "SYS_GID_MIN", "SYS_GID_MAX",
     "LOGIN_RETRIES", "LOGIN_TIMEOUT", "SHA_CRYPT_MIN_ROUNDS", "SHA_CRYPT_MAX_ROUNDS",
     "YESCRYPT_COST_FACTOR", "SUB_UID_MIN", "SUB_UID_MAX", "SUB_UID_COUNT", "SUB_GID_MIN",
     "SUB_GID_MAX", "SUB_GID_COUNT", "FAIL_DELAY", "MAX_MEMBERS_PER_GROUP"}
)


# def_load's buffer: fgets reads at most this many bytes of a line at a time.
_FGETS_BYTES = 1023


def fgets_lines(text: str, size: int = _FGETS_BYTES) -> list[str]:
    """The strings ``fgets(buf, size + 1, fp)`` returns one after another: lines ended by
    ``\\n``, a line longer than ``size`` bytes cut into pieces (counted in UTF-8 bytes of
    the decoded text: exact for valid UTF-8)."""
    pieces: list[str] = []
    for line in split_lines(text):
        data = line.encode("utf-8", "surrogatepass") + b"\n"
        for start in range(0, len(data), size):
            pieces.append(data[start:start + size].decode("utf-8", "replace").rstrip("\n"))
    return pieces


def read_login_defs(text: str) -> dict[str, str]:
    """Key → raw value as getdef.c's ``def_load`` reads it: the last definition wins.

    The value runs from the first character after the key that is not a blank, tab or
    quote to the first quote or the end of the line, so an inline ``# note`` stays part
    of it. Keys are case-sensitive; a line with a key and no value is ignored.
    """
    values: dict[str, str] = {}
    for line in fgets_lines(text):
        line = line.rstrip(C_SPACE)
        name_start = line.lstrip(" \t")
        if not name_start or name_start.startswith("#"):
            continue
        parts = re.split(r"[ \t]", name_start, maxsplit=1)
        if len(parts) < 2:
            continue
        name, rest = parts
        value = rest.lstrip(" \t\"")
        value = value.split('"', 1)[0]
        values[name] = value
    return values


_STRTOL_WHOLE = re.compile(
    "[" + re.escape(C_SPACE) + r"]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def strtol_whole(value: str) -> int | None:
    """``value`` as shadow-utils' ``getlong`` reads it: ``strtol(value, &end, 0)`` that
    must consume the whole string without ``ERANGE`` (64-bit long); else None.

    Base 0: leading C ``isspace`` and one sign are allowed, ``0x``/``0X`` opens hex, a
    leading ``0`` octal (``090`` stops at the 9, so the string is not consumed)."""
    match = _STRTOL_WHOLE.fullmatch(value)
    if match is None:
        return None
    digits = match.group(2)
    if digits[:2] in ("0x", "0X"):
        number = int(digits[2:], 16)
    elif digits.startswith("0"):
        number = int(digits, 8)
    else:
        number = int(digits)
    if match.group(1) == "-":
        number = -number
    return number if _LONG_MIN <= number <= _LONG_MAX else None


def login_defs_number(value: str) -> int | None:
    """A number as ``getdef_num`` accepts it: ``getlong`` and within C ``int``."""
    number = strtol_whole(value)
    if number is None or not -(2**31) <= number <= 2**31 - 1:
        return None
    return number


def parse_login_defs(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    frame = frames[0]
    if frame.state in ("unreadable", "not_regular"):
        return ProbeResult.failed(f"{frame.path} is not readable by the collector")
    present = frame.state == "ok"
    raw_values = read_login_defs(frame.content) if present else {}
    settings: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    for key, value in raw_values.items():
        if key in LOGIN_DEFS_NUMERIC:
            number = login_defs_number(value)
            if number is None:
                invalid[key] = value  # shadow-utils logs it and uses the default
                continue
            settings[key] = number
        else:
            settings[key] = value
    defaults_used = []
    for key, default in LOGIN_DEFS_DEFAULTS.items():
        if key not in settings:
            if key == "ENCRYPT_METHOD" and str(settings.get("MD5_CRYPT_ENAB", "")).lower() == "yes":
                default = "MD5"
            settings[key] = default
            defaults_used.append(key)
    data: dict[str, Any] = {
        "settings": settings,
        "defaults_used": defaults_used,
        "file_present": present,
    }
    if invalid:
        data["invalid"] = invalid
    return ProbeResult.ok(data)


# ------------------------------------------------------------------------------ useradd -D

USERADD_DEFAULTS_FILE = "/etc/default/useradd"
# useradd's compiled-in defaults for the settings rules look at (src/useradd.c).
USERADD_DEFAULTS: dict[str, Any] = {"INACTIVE": -1, "EXPIRE": "", "SHELL": "/bin/sh"}
# The consumer answers itself: `useradd -D` prints the defaults it would give a new
# account (read-only: without -b/-e/-f/-g/-s it only shows them).
_USERADD_SNIPPET = section(
    "useradd-D",
    cut_guard(("/etc/default/useradd", LOGIN_DEFS)) + "; if [ -n \"$cutl\" ]; then "
    "echo cii:cut; elif command -v useradd >/dev/null 2>&1; then useradd -D; "
    "else echo useradd-missing; fi")


def read_useradd_defaults(text: str) -> dict[str, str]:
    """KEY → value as shadow-utils 4.13's ``get_defaults`` (src/useradd.c) reads the file:
    ``fgets`` pieces of at most 1023 bytes, the ``\\n`` removed and nothing else (no
    blank or quote stripping, no comments: a line must *start* with ``INACTIVE=``); the
    value is everything after the first ``=``; the last line wins."""
    values: dict[str, str] = {}
    for line in fgets_lines(text):
        key, sep, value = line.partition("=")
        if sep and key in ("GROUP", "HOME", "INACTIVE", "EXPIRE", "SHELL", "SKEL",
                           "CREATE_MAIL_SPOOL", "LOG_INIT"):
            values[key] = value
    return values


def _inactive(value: str | None) -> int:
    """``getlong`` and ``>= -1``, else useradd says "invalid numeric argument" and uses
    -1 (never lock)."""
    number = strtol_whole(value) if value is not None else None
    return -1 if number is None or number < -1 else number


def parse_useradd(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    """useradd's own answer when the host has useradd; the file read as useradd reads
    it when it has not."""
    collected = split_sections(raw)
    answer = collected.sections.get("useradd-D")
    frames = [frame for frame in split_files(raw) if frame.path == USERADD_DEFAULTS_FILE]
    if answer is not None and "useradd-missing" not in answer.text.split("\n"):
        if answer.exit_status != 0:
            return ProbeResult.failed(f"useradd -D failed (exit status {answer.exit_status})")
        shown = read_useradd_defaults(answer.text)
        if "INACTIVE" not in shown:
            return ProbeResult.failed("useradd -D printed no INACTIVE")
        settings: dict[str, Any] = {**USERADD_DEFAULTS, **shown,
                                    "INACTIVE": _inactive(shown["INACTIVE"])}
        return ProbeResult.ok({"settings": settings, "defaults_used": [],
                               "source": "useradd -D",
                               "file_present": bool(frames) and frames[0].state == "ok"})
    if not frames:
        return ProbeResult.failed("the host printed no file frames for this probe")
    frame = frames[0]
    if frame.state in ("unreadable", "not_regular"):
        return ProbeResult.failed(f"{frame.path} is not readable by the collector")
    values = read_useradd_defaults(frame.content) if frame.state == "ok" else {}
    settings = {**USERADD_DEFAULTS, **values}
    settings["INACTIVE"] = _inactive(values.get("INACTIVE"))
    return ProbeResult.ok({"settings": settings,
                           "defaults_used": [key for key in USERADD_DEFAULTS
                                             if key not in values],
                           "source": USERADD_DEFAULTS_FILE,
                           "file_present": frame.state == "ok"})


PROBES = (
    Probe(
        name="login_defs",
        summary="effective /etc/login.defs settings (last definition wins; shadow-utils "
        "defaults filled in and listed in defaults_used)",
        snippet=files_only,
        files=lambda args: (LOGIN_DEFS,),
        parse=parse_login_defs,
        keyed="settings",
        cap_bytes=256 * 1024,
    ),
    Probe(
        name="useradd_defaults",
        summary="the defaults useradd gives a new account, as `useradd -D` prints them "
        "(/etc/default/useradd read as useradd reads it where useradd is absent)",
        snippet=lambda args: _USERADD_SNIPPET,
        files=lambda args: (USERADD_DEFAULTS_FILE,),
        parse=parse_useradd,
        keyed="settings",
        cap_bytes=64 * 1024,
    ),
)
