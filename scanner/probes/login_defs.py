"""/etc/login.defs as shadow-utils reads it (getdef.c).

shadow-utils takes the *last* definition of a key and falls back to compiled-in
defaults for keys the file does not set; anything the probe cannot see (an
unreadable file) makes the result an error, never a default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import (
    files_only,
    frames_or_error,
)

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


def read_login_defs(text: str) -> dict[str, str]:
    """Key → raw value as shadow-utils' getdef reads it: the last definition wins.

    The value runs from the first non-blank, non-quote character to the first
    quote or the end of the line, so an inline ``# note`` stays part of it.
    Keys are case-sensitive; a line with a key and no value is ignored.
    """
    values: dict[str, str] = {}
    for line in split_lines(text):
        line = line.rstrip()
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


def _login_defs_number(value: str) -> int | None:
    """A whole number as getdef_num accepts it (decimal, whole string, ≥ -1)."""
    if re.fullmatch(r"[+-]?\d{1,10}", value.strip()):
        number = int(value)
        if -1 <= number <= 2**31 - 1:
            return number
    return None


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
            number = _login_defs_number(value)
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
)
