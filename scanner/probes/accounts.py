"""Accounts as glibc NSS resolves them, with secrets reduced on the host.

Two probes share the listings: ``accounts`` (each account's uid, shell, password state
and ageing) and ``identities`` (duplicate names and ids in passwd and group). Both ask
the consumer, ``getent`` (every NSS source: files, LDAP, SSSD, systemd), and read
/etc/passwd, /etc/group and /etc/shadow as glibc 2.36's ``files`` module parses them
(:mod:`scanner.probes._nss`): an account either of them shows counts, because
shadow-utils and a host whose nsswitch.conf changes read the files directly. Without
getent the files alone decide, and the result says so.

The password field is reduced to ``empty``, ``locked`` or ``set`` by awk on the host.
The hash itself never leaves the host: not in the collector output, not in facts, not
in logs. "Empty" is what pam_unix (``_unix_blankpasswd``) treats as a login without a
password: the field of the shadow entry when the passwd field is ``x`` or ``##NAME``
(``is_pwd_shadowed``), else the passwd field itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import TOOL_READ_CAP, capped, cut_check
from scanner.probes._nss import (
    PasswdEntry,
    ShadowEntry,
    group_entry,
    nss_records,
    passwd_entry,
    read_reduced,
    reduced,
    shadow_entry,
)
from scanner.probes._sections import Collected, section, split_sections
from scanner.probes.login_defs import LOGIN_DEFS, login_defs_number, read_login_defs

NSS_PASSWD = section("nss-passwd", reduced("passwd", "getent"))
FILE_PASSWD = section("file-passwd", reduced("passwd", "/etc/passwd"))
NSS_GROUP = section("nss-group", reduced("group", "getent"))
FILE_GROUP = section("file-group", reduced("group", "/etc/group"))
# Programs that end a login at once whatever they are given (nologin, false, true, sync):
# each is reported by the path it resolves to on the host.
_REFUSING_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/usr/bin/nologin", "/bin/nologin",
                    "/bin/false", "/usr/bin/false", "/bin/true", "/usr/bin/true", "/bin/sync",
                    "/usr/bin/sync")
# Each distinct shell field (the rest of a passwd line after its sixth colon, as glibc
# takes it) and what sshd or login would execute for it: the file (empty: /bin/sh),
# whether it is an executable regular file, and the path it resolves to.
_SHELLS = section("shells", (
    "for k in " + " ".join(_REFUSING_SHELLS) + "; do "
    '[ -f "$k" ] && [ -x "$k" ] && printf \'refuse %s\\n\' "$(readlink -f -- "$k")"; done; '
    + cut_check("/etc/passwd", TOOL_READ_CAP) + "; "
    "{ getent passwd 2>/dev/null; " + capped("/etc/passwd", TOOL_READ_CAP)
    + " 2>/dev/null; } | awk '{ s = $0; "
    'for (i = 0; i < 6; i++) { j = index(s, ":"); if (j == 0) { s = ""; break } '
    "s = substr(s, j + 1) } print s }' | sort -u | while IFS= read -r s; do "
    'p=${s:-/bin/sh}; printf \'shellname %s\\n\' "$s"; '
    'if [ -f "$p" ] && [ -x "$p" ]; then printf \'shell x %s\\n\' "$(readlink -f -- "$p")"; '
    "else echo 'shell -'; fi; done"))
_SHADOW_SNIPPET = "; ".join((
    section("nss-shadow", reduced("shadow", "getent")),
    section("file-shadow", "if [ -e /etc/shadow ]; then " + reduced("shadow", "/etc/shadow")
            + "; else echo shadow-missing; fi"),
    _SHELLS,
))

# Accounts with uid 0 or a shell are not "system accounts" for nologin checks
# when they are these well-known exceptions.
_SYSTEM_SHELL_EXCEPTIONS = frozenset({"root", "sync", "shutdown", "halt"})
_NOLOGIN_SHELLS = ("nologin", "/bin/false", "/usr/bin/false")
_AGEING_FIELDS = ("password", "last_change_day", "min_days", "max_days", "warn_days",
                  "inactive_days", "expire_day")


def _records(collected: Collected, kind: str) -> tuple[list[str], list[str], str | None]:
    """(records getent printed, records the file holds, a reason the listing failed)."""
    nss_section = collected.sections.get(f"nss-{kind}")
    file_section = collected.sections.get(f"file-{kind}")
    if file_section is None or file_section.exit_status != 0:
        return [], [], f"/etc/{kind} could not be read"
    files = nss_records(read_reduced(file_section.text).lines)
    if nss_section is None:
        return [], files, f"the collector printed no getent {kind} listing"
    nss = read_reduced(nss_section.text)
    if nss.getent_missing:
        return [], files, None
    if nss.getent_status not in (0, 2) or nss_section.exit_status != 0:
        return [], files, f"getent {kind} failed (exit status {nss.getent_status})"
    return nss_records(nss.lines), files, None


def _union(nss: list[Any], files: list[Any], key: Any) -> list[tuple[Any, list[str]]]:
    """Entries getent lists, then those only the file holds (a multiset union by
    ``key``, so a line listed by both counts once and a duplicated line twice)."""
    in_file = Counter(key(entry) for entry in files)
    merged: list[tuple[Any, list[str]]] = []
    for entry in nss:
        if in_file[key(entry)] > 0:
            in_file[key(entry)] -= 1
            merged.append((entry, ["nss", "file"]))
        else:
            merged.append((entry, ["nss"]))
    for entry in files:
        if in_file[key(entry)] > 0:
            in_file[key(entry)] -= 1
            merged.append((entry, ["file"]))
    return merged


def passwd_accounts(collected: Collected) -> tuple[list[tuple[PasswdEntry, list[str]]],
                                                   str | None]:
    nss, files, problem = _records(collected, "passwd")
    if problem:
        return [], problem
    parsed_nss = [e for e in map(passwd_entry, nss) if e is not None]
    parsed_files = [e for e in map(passwd_entry, files) if e is not None]
    return _union(parsed_nss, parsed_files, lambda e: (e.name, e.uid)), None


def _getent_missing(collected: Collected) -> bool:
    found = collected.sections.get("nss-passwd")
    return found is not None and read_reduced(found.text).getent_missing


def _shadow(collected: Collected) -> tuple[dict[str, ShadowEntry], str | None]:
    """The entry getspnam returns for each name (the first one: getent's, then the
    file's), or why shadow cannot be seen."""
    file_section = collected.sections.get("file-shadow")
    if file_section is None:
        return {}, "the collector printed no /etc/shadow listing"
    if file_section.exit_status != 0:
        return {}, ("/etc/shadow is not readable by the collector "
                    "(run the scan as root or with --sudo)")
    if "shadow-missing" in file_section.text.split("\n"):
        return {}, "/etc/shadow does not exist"
    entries: dict[str, ShadowEntry] = {}
    nss_section = collected.sections.get("nss-shadow")
    sources = [read_reduced(nss_section.text).lines] if nss_section is not None else []
    sources.append(read_reduced(file_section.text).lines)
    for lines in sources:
        for entry in map(shadow_entry, nss_records(lines)):
            if entry is not None:
                entries.setdefault(entry.name, entry)
    return entries, None


def _uid_min(collected: Collected) -> int:
    text = collected.files.get(LOGIN_DEFS)
    value = read_login_defs(text).get("UID_MIN") if text is not None else None
    number = login_defs_number(value) if value is not None else None
    return 1000 if number is None else number


def _login_shells(collected: Collected) -> dict[str, bool] | None:
    """Shell field → whether sshd or login would start a session with it: an executable
    file that is none of the refusing programs. None: the host did not say (older
    collector output), and the shell's name decides as before."""
    found = collected.sections.get("shells")
    if found is None or found.exit_status != 0:
        return None
    refusing: set[str] = set()
    shells: dict[str, bool] = {}
    name: str | None = None
    for line in found.text.split("\n"):
        if line.startswith("refuse "):
            refusing.add(line[len("refuse "):])
        elif line.startswith("shellname "):
            name = line[len("shellname "):]
        elif line.startswith("shell ") and name is not None:
            runnable = line.startswith("shell x ")
            shells[name] = runnable and line[len("shell x "):] not in refusing
            name = None
    return shells


def _login_shell(shell: str, shells: dict[str, bool] | None) -> bool:
    if shells is not None and shell in shells:
        return shells[shell]
    # not reported: judged by name, as an empty shell field means /bin/sh
    return not any(shell.endswith(suffix) for suffix in _NOLOGIN_SHELLS)


def _password_state(entry: PasswdEntry, shadow: dict[str, ShadowEntry],
                    shadow_problem: str | None) -> dict[str, Any]:
    shadowed = entry.password == "x" or entry.password == "##" + entry.name  # noqa: S105 (a flag)
    if not shadowed:
        # a legacy password kept in passwd itself ("##other" is a literal, not a flag)
        flag = "set" if entry.password.startswith("##") else entry.password
        return {"password": flag}
    found = shadow.get(entry.name)
    if found is not None:
        return {"password": found.password, "last_change_day": found.last_change,
                "min_days": found.min_days, "max_days": found.max_days,
                "warn_days": found.warn_days, "inactive_days": found.inactive_days,
                "expire_day": found.expire_day}
    if shadow_problem is None:
        return {"password": "no_shadow_entry"}
    return {}


def parse_accounts(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    accounts, problem = passwd_accounts(collected)
    if problem:
        return ProbeResult.failed(problem)
    if not accounts:
        return ProbeResult.failed("/etc/passwd lists no accounts")
    shadow, shadow_problem = _shadow(collected)
    uid_min = _uid_min(collected)
    shells = _login_shells(collected)
    users = []
    for entry, sources in accounts:
        user: dict[str, Any] = {
            "name": entry.name, "uid": entry.uid, "gid": entry.gid, "home": entry.home,
            "shell": entry.shell, "sources": sources,
            "system": 0 < entry.uid < uid_min and entry.name not in _SYSTEM_SHELL_EXCEPTIONS,
            # glibc gives an empty shell field as is; login runs /bin/sh for it
            "login_shell": _login_shell(entry.shell, shells),
        }
        user.update(_password_state(entry, shadow, shadow_problem))
        users.append(user)
    data: dict[str, Any] = {"users": users, "uid_min": uid_min,
                            "getent": not _getent_missing(collected)}
    if shadow_problem is not None:
        data["unobservable"] = {field: shadow_problem for field in _AGEING_FIELDS}
    return ProbeResult.ok(data)


def _duplicates(pairs: list[tuple[str, str]], by_id: bool) -> list[dict[str, Any]]:
    groups: dict[str, list[str]] = {}
    for name, ident in pairs:
        groups.setdefault(ident if by_id else name, []).append(name if by_id else ident)
    return [{"id" if by_id else "name": key, "names" if by_id else "ids": values}
            for key, values in sorted(groups.items()) if len(values) > 1]


def parse_identities(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    accounts, problem = passwd_accounts(collected)
    if problem:
        return ProbeResult.failed(problem)
    nss, files, group_problem = _records(collected, "group")
    if group_problem:
        return ProbeResult.failed(group_problem)
    group_list = _union([g for g in map(group_entry, nss) if g is not None],
                        [g for g in map(group_entry, files) if g is not None], lambda g: g)
    users = [(entry.name, str(entry.uid)) for entry, _ in accounts]
    groups = [(name, str(gid)) for (name, gid), _ in group_list]
    if not users:
        return ProbeResult.failed("/etc/passwd lists no accounts")
    return ProbeResult.ok({
        "user_count": len(users),
        "group_count": len(groups),
        "getent": not _getent_missing(collected),
        "duplicate_uids": _duplicates(users, by_id=True),
        "duplicate_user_names": _duplicates(users, by_id=False),
        "duplicate_gids": _duplicates(groups, by_id=True),
        "duplicate_group_names": _duplicates(groups, by_id=False),
    })


PROBES = (
    Probe(
        name="accounts",
        summary="accounts as getent and glibc's files parser see them, with the password "
        "state reduced to empty/locked/set and shadow ageing fields; never the hash",
        snippet=lambda args: _SHADOW_SNIPPET,
        shared=(NSS_PASSWD, FILE_PASSWD),
        files=lambda args: (LOGIN_DEFS,),
        parse=parse_accounts,
        subject="users",
        cap_bytes=4 * 1024 * 1024,
    ),
    Probe(
        name="identities",
        summary="duplicate user/group names and ids among the accounts and groups getent "
        "and glibc's files parser see (reduced to name and id on the host)",
        snippet=lambda args: "",
        shared=(NSS_PASSWD, FILE_PASSWD, NSS_GROUP, FILE_GROUP),
        parse=parse_identities,
        cap_bytes=4 * 1024 * 1024,
    ),
)
