"""Access-control facts: sudo policy, account identity uniqueness, useradd defaults,
metadata of files matched by fixed catalog globs, and the kernel's MAC state.

As everywhere, secrets stay on the host: passwd and group are reduced to name and id
by awk before they leave it, and the glob probe prints stat metadata only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import FileFrame, decode, files_only, first_line, split_files, to_int

# ------------------------------------------------------------------------------ sudoers

SUDOERS = "/etc/sudoers"
SUDOERS_DIR = "/etc/sudoers.d/"
_INCLUDE = re.compile(r"^[@#](include|includedir)\s+(\S+)")
_DEFAULTS = re.compile(r"^Defaults([:@!>]\S+)?\s+(.*)$")


def _sudoers_lines(text: str) -> list[tuple[int, str]]:
    """Logical lines: ``\\`` continues a line; ``#`` starts a comment unless it is an
    ``#include``/``#includedir`` directive or a ``#uid`` in a user specification."""
    result: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, physical in enumerate(split_lines(text), start=1):
        if not pending:
            start = number
        line = physical
        if not _INCLUDE.match(line.strip()):
            line = re.sub(r"(^|[\s,=!(])#(?!\d).*$", r"\1", line)
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            result.append((start, line))
    if pending.strip():
        result.append((start, pending.strip()))
    return result


def _defaults_settings(body: str) -> list[tuple[str, str | bool]]:
    """``use_pty, logfile="/var/log/sudo.log", !lecture`` → [(name, value)]."""
    settings: list[tuple[str, str | bool]] = []
    for part in re.findall(r'(?:[^,"]|"[^"]*")+', body):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip().rstrip("+-")
        if sep:
            settings.append((name, value.strip().strip('"')))
        elif name.startswith("!"):
            settings.append((name[1:], False))
        else:
            settings.append((name, True))
    return settings


def parse_sudoers(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    if raw.exit_status != 0:
        return ProbeResult.failed(f"file listing failed (exit status {raw.exit_status})")
    frames = {f.path: f for f in split_files(raw)}
    main = frames.get(SUDOERS)
    if main is None:
        return ProbeResult.failed("the host printed no frame for /etc/sudoers")
    if main.state == "missing":
        return ProbeResult.absent("no /etc/sudoers (sudo is not installed)")
    if main.state != "ok":
        return ProbeResult.failed("/etc/sudoers is not readable by the collector "
                                  "(it is 0440 root: scan as root or with --sudo)")
    # logfile "" means "not set": sudo then logs through syslog only
    data: dict[str, Any] = {"use_pty": False, "logfile": "", "authenticate": True,
                            "nopasswd": [], "no_authenticate": [], "scoped_defaults": [],
                            "files": [], "notes": []}
    queue: list[FileFrame] = [main]
    seen: set[str] = set()
    while queue:
        frame = queue.pop(0)
        if frame.path in seen:
            continue
        seen.add(frame.path)
        if frame.state != "ok":
            return ProbeResult.failed(f"{frame.path} is not readable by the collector")
        data["files"].append(frame.path)
        for number, line in _sudoers_lines(frame.content):
            where = f"{frame.path}:{number}"
            include = _INCLUDE.match(line)
            if include:
                target = include.group(2)
                if include.group(1) == "includedir":
                    if target.rstrip("/") + "/" != SUDOERS_DIR:
                        return ProbeResult.failed(f"{where}: includes {target}, which this "
                                                  "probe does not read")
                    # sudo skips names that end in ~ or contain a dot, in lexical order
                    queue += sorted((f for p, f in frames.items() if p.startswith(SUDOERS_DIR)
                                     and "/" not in p[len(SUDOERS_DIR):]
                                     and "." not in p[len(SUDOERS_DIR):]
                                     and not p.endswith("~") and f.state != "missing"),
                                    key=lambda f: f.path)
                elif target in frames:
                    queue.append(frames[target])
                else:
                    return ProbeResult.failed(f"{where}: includes {target}, which this probe "
                                              "does not read")
                continue
            defaults = _DEFAULTS.match(line)
            if defaults:
                for name, value in _defaults_settings(defaults.group(2)):
                    if defaults.group(1):
                        data["scoped_defaults"].append(
                            {"scope": defaults.group(1), "name": name, "value": value,
                             "where": where})
                        if name == "authenticate" and value is False:
                            data["no_authenticate"].append(where)
                    elif name == "use_pty":
                        data["use_pty"] = value is True
                    elif name == "logfile":
                        data["logfile"] = value if isinstance(value, str) else ""
                    elif name == "authenticate":
                        data["authenticate"] = value is True
                        if value is False:
                            data["no_authenticate"].append(where)
                continue
            if re.search(r"(^|[\s:(,=])NOPASSWD\s*:", line):
                data["nopasswd"].append({"where": where, "rule": line[:200]})
    return ProbeResult.ok(data)


# ------------------------------------------------------------------------------ identities

_IDENTITY_SNIPPET = r"""
awk -F: '!/^[+-]/ && NF >= 3 { print "U:" $1 ":" $3 }' /etc/passwd || exit 3
awk -F: '!/^[+-]/ && NF >= 3 { print "G:" $1 ":" $3 }' /etc/group || exit 4
exit 0
"""


def _duplicates(pairs: list[tuple[str, str]], by_id: bool) -> list[dict[str, Any]]:
    groups: dict[str, list[str]] = {}
    for name, ident in pairs:
        groups.setdefault(ident if by_id else name, []).append(name if by_id else ident)
    return [{"id" if by_id else "name": key, "names" if by_id else "ids": values}
            for key, values in sorted(groups.items()) if len(values) > 1]


def parse_identities(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    if raw.exit_status == 3:
        return ProbeResult.failed("/etc/passwd could not be read")
    if raw.exit_status == 4:
        return ProbeResult.failed("/etc/group could not be read")
    if raw.exit_status != 0:
        return ProbeResult.failed(f"exit status {raw.exit_status}")
    users: list[tuple[str, str]] = []
    groups: list[tuple[str, str]] = []
    for line in split_lines(decode(raw.payload)):
        fields = line.split(":")
        if len(fields) == 3 and fields[0] in ("U", "G"):
            (users if fields[0] == "U" else groups).append((fields[1], fields[2]))
    if not users:
        return ProbeResult.failed("/etc/passwd lists no accounts")
    return ProbeResult.ok({
        "user_count": len(users),
        "group_count": len(groups),
        "duplicate_uids": _duplicates(users, by_id=True),
        "duplicate_user_names": _duplicates(users, by_id=False),
        "duplicate_gids": _duplicates(groups, by_id=True),
        "duplicate_group_names": _duplicates(groups, by_id=False),
    })


# ------------------------------------------------------------------------------ useradd -D

USERADD_DEFAULTS_FILE = "/etc/default/useradd"
# useradd's compiled-in defaults for the settings rules look at.
USERADD_DEFAULTS: dict[str, Any] = {"INACTIVE": -1, "EXPIRE": "", "SHELL": "/bin/sh"}


def parse_useradd(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    if raw.exit_status != 0:
        return ProbeResult.failed(f"file listing failed (exit status {raw.exit_status})")
    frames = split_files(raw)
    if not frames:
        return ProbeResult.failed("the host printed no file frames for this probe")
    frame = frames[0]
    if frame.state in ("unreadable", "not_regular"):
        return ProbeResult.failed(f"{frame.path} is not readable by the collector")
    settings: dict[str, Any] = {}
    for line in split_lines(frame.content) if frame.state == "ok" else []:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip().strip('"')
        number = to_int(value)
        settings[key.strip()] = number if key.strip() == "INACTIVE" and number is not None \
            else value
    defaults_used = [key for key in USERADD_DEFAULTS if key not in settings]
    for key in defaults_used:
        settings[key] = USERADD_DEFAULTS[key]
    if not isinstance(settings["INACTIVE"], int):
        settings["INACTIVE"] = -1  # useradd ignores a non-number and keeps its default
    return ProbeResult.ok({"settings": settings, "defaults_used": defaults_used,
                           "file_present": frame.state == "ok"})


# ------------------------------------------------------------------------------ glob_stat

# The only patterns the glob_stat probe expands; baselines pick one by name.
GLOB_CATALOG: dict[str, tuple[str, ...]] = {
    "ssh_host_private_keys": ("/etc/ssh/ssh_host_*_key",),
    "rhosts": ("/etc/hosts.equiv", "/etc/shosts.equiv", "/root/.rhosts", "/root/.shosts",
               "/root/.netrc", "/home/*/.rhosts", "/home/*/.shosts", "/home/*/.netrc"),
}


def _glob_snippet(args: Mapping[str, Any]) -> str:
    """sh naming each existing match (``found``), then one ``stat`` for all of them."""
    patterns = " ".join(GLOB_CATALOG[str(args["glob"])])
    return (
        f"set --; for f in {patterns}; do "
        'if [ -e "$f" ] || [ -L "$f" ]; then set -- "$@" "$f"; '
        "printf 'found %s\\n' \"$f\"; fi; done; "
        "if [ \"$#\" -gt 0 ]; then stat -c 'stat %a %u %g %U %G %s %n' -- \"$@\" 2>/dev/null; fi; "
        "true"
    )


def parse_glob_stat(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    if raw.exit_status != 0:
        return ProbeResult.failed(f"listing failed (exit status {raw.exit_status})")
    found: list[str] = []
    paths: dict[str, dict[str, Any]] = {}
    for line in split_lines(decode(raw.payload)):
        if line.startswith("found "):
            found.append(line[6:])
            continue
        parts = line.split(" ", 7)
        if len(parts) != 8 or parts[0] != "stat" or not re.fullmatch(r"[0-7]{1,5}", parts[1]):
            if line.strip():
                return ProbeResult.failed(f"unexpected stat output: {first_line(line)!r}")
            continue
        paths[parts[7]] = {"path": parts[7], "exists": True, "mode": f"{int(parts[1], 8):04o}",
                           "uid": to_int(parts[2]), "gid": to_int(parts[3]), "owner": parts[4],
                           "group": parts[5], "size": to_int(parts[6])}
    for path in found:
        if path not in paths:
            return ProbeResult.failed(f"cannot stat {path} (permission denied?)")
    if found and not paths.keys() <= set(found):
        stray = sorted(paths.keys() - set(found))[0]
        return ProbeResult.failed(f"stat reported {stray!r}, which the listing did not find")
    listed = [paths[path] for path in dict.fromkeys(found)] if found else list(paths.values())
    return ProbeResult.ok({"glob": args.get("glob"), "paths": listed, "count": len(listed)})


# ------------------------------------------------------------------------------ MAC

_MAC_SNIPPET = r"""
if [ -r /sys/fs/selinux/enforce ]; then
  v=; { read -r v < /sys/fs/selinux/enforce; } 2>/dev/null; printf 'selinux_enforce=%s\n' "$v"
elif [ -d /sys/fs/selinux ]; then echo selinux_enforce=unreadable; fi
if [ -r /etc/selinux/config ]; then
  sed -n 's/^/selinux_config_line=/p' /etc/selinux/config
elif [ -e /etc/selinux/config ]; then echo selinux_config_line=cii:unreadable; fi
v=; { read -r v < /proc/cmdline; } 2>/dev/null; printf 'cmdline=%s\n' "$v"
if [ -r /sys/module/apparmor/parameters/enabled ]; then
  v=; { read -r v < /sys/module/apparmor/parameters/enabled; } 2>/dev/null
  printf 'apparmor_enabled=%s\n' "$v"
fi
f=/sys/kernel/security/apparmor/profiles
if [ -r "$f" ]; then
  printf 'apparmor_enforce=%s\n' "$(grep -c '(enforce)$' "$f")"
  printf 'apparmor_complain=%s\n' "$(grep -c '(complain)$' "$f")"
elif [ -e "$f" ]; then echo apparmor_profiles=unreadable; fi
if [ -r /sys/kernel/security/lsm ]; then
  v=; { read -r v < /sys/kernel/security/lsm; } 2>/dev/null; printf 'lsm=%s\n' "$v"
fi
exit 0
"""


def selinux_config_mode(lines: list[str]) -> str | None:
    """The mode /etc/selinux/config sets for the next boot, as libselinux 3.4
    ``selinux_getenforcemode`` reads it (asked through ctypes in the oracle): the first
    line that starts with ``SELINUX=`` exactly (no leading blanks, that case) and whose
    value starts, in any case, with enforcing, permissive or disabled; lines with another
    value are skipped. None: no such line (libselinux fails, nothing is enforced)."""
    for line in lines:
        if line.startswith("SELINUX="):
            value = line[len("SELINUX="):].lower()
            for mode in ("enforcing", "permissive", "disabled"):
                if value.startswith(mode):
                    return mode
    return None


def _boot_verdict(selinux_enforcing: bool, apparmor_enforcing: bool, config_mode: str | None,
                  config_state: str, cmdline: list[str]) -> tuple[bool, str]:
    """Whether the next boot enforces again (the kernel command line taken as it is now)."""
    if selinux_enforcing:
        if "selinux=0" in cmdline or "enforcing=0" in cmdline:
            return False, "the kernel command line has selinux=0 or enforcing=0"
        if config_state != "ok":
            return False, f"/etc/selinux/config is {config_state}: no policy is loaded at boot"
        if config_mode != "enforcing":
            return False, f"/etc/selinux/config sets SELINUX={config_mode or 'an invalid mode'}"
        return True, "/etc/selinux/config sets SELINUX=enforcing"
    if apparmor_enforcing:
        if "apparmor=0" in cmdline:
            return False, "the kernel command line has apparmor=0"
        return True, "AppArmor is not disabled on the kernel command line"
    return False, "nothing enforces now"


def parse_mac(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    """SELinux and AppArmor as the running kernel enforces them, and whether the next boot
    enforces again (/etc/selinux/config as libselinux reads it, the kernel command line)."""
    if raw.exit_status != 0:
        return ProbeResult.failed(f"exit status {raw.exit_status}")
    values: dict[str, str] = {}
    config_lines: list[str] = []
    for line in split_lines(decode(raw.payload)):
        key, sep, value = line.partition("=")
        if sep and key == "selinux_config_line":
            config_lines.append(value)
        elif sep and key == "selinux_config":  # collectors before the line-wise dump
            config_lines.append("SELINUX=" + value)
        elif sep and key in ("selinux_enforce", "apparmor_enabled", "cmdline",
                             "apparmor_enforce", "apparmor_complain", "apparmor_profiles", "lsm"):
            values[key] = value.strip().strip('"')
    config_state = ("unreadable" if config_lines == ["cii:unreadable"] else
                    "ok" if config_lines else "missing")
    config_mode = selinux_config_mode(config_lines) if config_state == "ok" else None
    if config_mode is not None:
        values["selinux_config"] = config_mode
    enforce = values.get("selinux_enforce")
    selinux = {"1": "enforcing", "0": "permissive", None: "disabled"}.get(enforce, "unknown")
    apparmor = values.get("apparmor_enabled", "").upper().startswith("Y")
    enforce_profiles = to_int(values.get("apparmor_enforce"))
    data: dict[str, Any] = {
        "selinux": selinux,
        "selinux_config": values.get("selinux_config"),
        "apparmor": apparmor,
        "apparmor_enforce_profiles": enforce_profiles,
        "apparmor_complain_profiles": to_int(values.get("apparmor_complain")),
        "lsm": [name for name in values.get("lsm", "").split(",") if name],
    }
    selinux_enforcing = selinux == "enforcing"
    apparmor_enforcing = apparmor and (enforce_profiles or 0) > 0
    if not selinux_enforcing and not apparmor_enforcing and (
            selinux == "unknown" or (apparmor and enforce_profiles is None)):
        return ProbeResult.failed("the MAC state is not readable by the collector "
                                  "(scan as root or with --sudo)")
    data["enforcing"] = selinux_enforcing or apparmor_enforcing
    at_boot, reason = _boot_verdict(selinux_enforcing, apparmor_enforcing, config_mode,
                                    config_state, values.get("cmdline", "").split())
    data["enforcing_at_boot"] = at_boot
    data["why"] = {"enforcing": f"SELinux {selinux}, AppArmor "
                   f"{'on' if apparmor else 'off'} with {enforce_profiles or 0} profile(s) "
                   "in enforce mode", "enforcing_at_boot": reason}
    return ProbeResult.ok(data)


PROBES = (
    Probe(
        name="sudoers",
        summary="effective sudo policy from /etc/sudoers and the files it includes: "
        "use_pty, logfile, NOPASSWD rules and !authenticate",
        snippet=files_only,
        files=lambda args: (SUDOERS, "/etc/sudoers.d/*"),
        parse=parse_sudoers,
        cap_bytes=1024 * 1024,
    ),
    Probe(
        name="identities",
        summary="duplicate user/group names and ids in /etc/passwd and /etc/group "
        "(reduced to name and id on the host)",
        snippet=lambda args: _IDENTITY_SNIPPET,
        parse=parse_identities,
        cap_bytes=4 * 1024 * 1024,
    ),
    Probe(
        name="useradd_defaults",
        summary="useradd -D defaults from /etc/default/useradd (INACTIVE -1 when unset)",
        snippet=files_only,
        files=lambda args: (USERADD_DEFAULTS_FILE,),
        parse=parse_useradd,
        keyed="settings",
        cap_bytes=64 * 1024,
    ),
    Probe(
        name="glob_stat",
        summary="stat metadata (never content) of every path a fixed catalog glob matches",
        snippet=_glob_snippet,
        parse=parse_glob_stat,
        subject="paths",
        args_schema={
            "type": "object",
            "properties": {"glob": {"enum": sorted(GLOB_CATALOG)}},
            "required": ["glob"],
            "additionalProperties": False,
        },
        cap_bytes=1024 * 1024,
    ),
    Probe(
        name="mac",
        summary="mandatory access control as the kernel runs it (SELinux mode, AppArmor and "
        "its profiles in enforce mode) and whether the next boot enforces again",
        snippet=lambda args: _MAC_SNIPPET,
        parse=parse_mac,
        cap_bytes=64 * 1024,
    ),
)
