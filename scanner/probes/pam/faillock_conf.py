"""pam_faillock's options as Linux-PAM 1.5.2 sets them (modules/pam_faillock): compiled-in
defaults, then /etc/security/faillock.conf (or ``conf=``), then the line's arguments.

``set_conf_opt``: ``deny`` is ``sscanf("%hu")``, the times ``sscanf("%u")`` limited to
604800 s (a bad or larger value keeps the old one); ``unlock_time=never`` and
``root_unlock_time=never`` mean 0; flags are names alone. The file is read a line at a
time (``\\n``), ``#`` starts a comment, a name and its value are split at blanks or ``=``.
"""

from __future__ import annotations

import re
from typing import Any

FAILLOCK_CONF = "/etc/security/faillock.conf"
FAILLOCK_DEFAULTS: dict[str, Any] = {"deny": 3, "fail_interval": 900, "unlock_time": 600,
                                     "even_deny_root": False, "root_unlock_time": None,
                                     "dir": "/var/run/faillock"}
_FAILLOCK_FLAGS = frozenset({"even_deny_root", "audit", "silent", "no_log_info",
                             "local_users_only", "nodelay", "uid_based_files"})
MAX_TIME_INTERVAL = 604800  # pam_faillock refuses longer intervals and keeps the old value


def leading_unsigned(value: str, bits: int) -> int | None:
    """``sscanf("%u")``: leading digits, a minus sign wrapping around as C does."""
    match = re.match(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)", value)
    if not match:
        return None
    number = int(match.group(2)) % (1 << bits)
    if match.group(1) == "-":
        number = (-number) % (1 << bits)
    return number


def faillock_option(options: dict[str, Any], name: str, value: str) -> None:
    """One option applied as pam_faillock's set_conf_opt does (bad values keep the old one)."""
    if name == "deny":
        number = leading_unsigned(value, 16)
        if number is not None:
            options["deny"] = number
    elif name in ("unlock_time", "root_unlock_time", "fail_interval"):
        if value == "never" and name != "fail_interval":
            options[name] = 0
            return
        number = leading_unsigned(value, 32)
        if number is not None and number <= MAX_TIME_INTERVAL:
            options[name] = number
    elif name == "dir":
        if value.startswith("/"):
            options["dir"] = value
    elif name in _FAILLOCK_FLAGS:
        options[name] = True


C_SPACE = " \t\n\v\f\r"
MAX_LINE = 1023  # FAILLOCK_CONF_MAX_LINELEN: a longer line makes the module fail


def read_faillock_conf(text: str, options: dict[str, Any]) -> bool:
    """Apply a faillock.conf as ``read_config_file`` does; False where it fails (a line
    longer than 1023 bytes), which makes every pam_faillock call return PAM_SERVICE_ERR."""
    lines = text.split("\n")
    for number, line in enumerate(lines):
        last = number == len(lines) - 1
        if len(line.encode("utf-8", "surrogateescape")) + (0 if last else 1) > MAX_LINE \
                and not last:
            return False
        line = line.split("#", 1)[0].rstrip(C_SPACE).lstrip(C_SPACE)
        if not line:
            continue
        index = 0
        while index < len(line) and line[index] not in C_SPACE and line[index] != "=":
            index += 1
        name = line[:index]
        seen_equals = index < len(line) and line[index] == "="
        index += 1
        while index < len(line):
            if line[index] != "=" or seen_equals:
                if line[index] not in C_SPACE:
                    break
            else:
                seen_equals = True
            index += 1
        faillock_option(options, name, line[index:])
    return True
