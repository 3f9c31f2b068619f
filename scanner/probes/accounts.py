"""Local accounts from /etc/passwd and /etc/shadow, with secrets reduced on the host.

The awk below runs on the target and prints, for each account, whether the
password field is empty, locked or set, plus the aging fields. The hash itself
never leaves the host: not in the collector output, not in facts, not in logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import decode, to_int

# Field 2 of passwd/shadow reduced to a flag. "!"/"*" prefixes lock an account;
# "x" in passwd means "see shadow".
_SNIPPET = r"""
flag='function flag(h) {
  if (h == "") return "empty"; if (h ~ /^[!*]/) return "locked"; return "set" }'
awk -F: -v OFS=: "$flag"'
  /^[+-]/ { next }
  NF >= 7 { p = ($2 == "x") ? "shadow" : flag($2); print "P", $1, $3, $4, $6, $7, p }
' /etc/passwd || exit 3
awk '$1 == "UID_MIN" || $1 == "SYS_UID_MAX" { print "D:" $1 ":" $2 }' \
  /etc/login.defs 2>/dev/null
if [ -f /etc/shadow ] && [ -r /etc/shadow ]; then
  awk -F: -v OFS=: "$flag"'
    /^[+-]/ { next }
    NF >= 2 { print "S", $1, flag($2), $3, $4, $5, $6, $7, $8 }
  ' /etc/shadow || echo "X:unreadable"
elif [ -e /etc/shadow ]; then
  echo "X:unreadable"
else
  echo "X:missing"
fi
exit 0
"""

# Accounts with uid 0 or a shell are not "system accounts" for nologin checks
# when they are these well-known exceptions.
_SYSTEM_SHELL_EXCEPTIONS = frozenset({"root", "sync", "shutdown", "halt"})
_NOLOGIN_SHELLS = ("nologin", "/bin/false", "/usr/bin/false")


def parse_accounts(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    if raw.exit_status != 0:
        return ProbeResult.failed("/etc/passwd could not be read")
    users: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    shadow: dict[str, list[str]] = {}
    defs: dict[str, int] = {}
    shadow_problem: str | None = None
    for line in split_lines(decode(raw.payload)):
        fields = line.split(":")
        if fields[0] == "P" and len(fields) == 7:
            _, name, uid, gid, home, shell, passwd_flag = fields
            # a duplicated name stays visible as a second entry
            name_key = f"{name}#{len(order)}" if name in users else name
            users[name_key] = {
                "name": name,
                "uid": to_int(uid),
                "gid": to_int(gid),
                "home": home,
                "shell": shell,
                "passwd_field": passwd_flag,
            }
            order.append(name_key)
        elif fields[0] == "S" and len(fields) == 9:
            shadow.setdefault(fields[1], fields[2:])
        elif fields[0] == "D" and len(fields) == 3:
            value = to_int(fields[2])
            if value is not None:
                defs[fields[1]] = value
        elif fields[0] == "X" and len(fields) == 2:
            shadow_problem = (
                "/etc/shadow is not readable by the collector (run the scan as root or with --sudo)"
                if fields[1] == "unreadable"
                else "/etc/shadow does not exist"
            )
    if not order:
        return ProbeResult.failed("/etc/passwd lists no accounts")
    uid_min = defs.get("UID_MIN", 1000)
    result_users = []
    for key in order:
        user = users[key]
        uid = user["uid"]
        user["system"] = (
            uid is not None and 0 < uid < uid_min and user["name"] not in _SYSTEM_SHELL_EXCEPTIONS
        )
        user["login_shell"] = not any(str(user["shell"]).endswith(s) for s in _NOLOGIN_SHELLS)
        passwd_flag = user.pop("passwd_field")
        entry = shadow.get(user["name"])
        if passwd_flag != "shadow":  # noqa: S105 (a state flag, not a password)
            user["password"] = passwd_flag  # a legacy password kept in /etc/passwd itself
        elif entry is not None:
            flag, last_change, min_days, max_days, warn_days, inactive, expire = entry
            user.update(
                {
                    "password": flag,
                    "last_change_day": to_int(last_change),
                    "min_days": to_int(min_days),
                    "max_days": to_int(max_days),
                    "warn_days": to_int(warn_days),
                    "inactive_days": to_int(inactive),
                    "expire_day": to_int(expire),
                }
            )
        elif shadow_problem is None:
            user["password"] = "no_shadow_entry"  # noqa: S105 (a state flag)
        result_users.append(user)
    data: dict[str, Any] = {"users": result_users, "uid_min": uid_min}
    if shadow_problem is not None:
        data["unobservable"] = {
            field: shadow_problem
            for field in ("password", "last_change_day", "min_days", "max_days", "warn_days",
                          "inactive_days", "expire_day")
        }
    return ProbeResult.ok(data)


PROBES = (
    Probe(
        name="accounts",
        summary="local accounts (passwd) with password state reduced to empty/locked/set "
        "and shadow aging fields; never the hash",
        snippet=lambda args: _SNIPPET,
        parse=parse_accounts,
        subject="users",
        cap_bytes=4 * 1024 * 1024,
    ),
)
