"""Access-control facts: sudo policy, metadata of files matched by fixed catalog globs,
and the kernel's MAC state (account identities are in ``accounts``, useradd defaults in
``login_defs``).

As everywhere, secrets stay on the host: the glob probe prints stat metadata only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import decode, files_only, first_line, to_int
from scanner.probes.sudoers import SUDO_SNIPPET, SUDOERS, parse_sudoers

# ------------------------------------------------------------------------------ sudoers
# The parser lives in scanner.probes.sudoers (sudo's own reading of its policy).

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
  z=$(stat -L -c %s -- /etc/selinux/config 2>/dev/null)
  [ "${z:-0}" -le 65536 ] || printf '\n%s CUT %s %s %s\n' "$CII_M" 65536 "$z" /etc/selinux/config
  head -c 65536 -- /etc/selinux/config | sed -n 's/^/selinux_config_line=/p'
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
        summary="effective sudo policy from /etc/sudoers and the files it includes, read in "
        "sudo's order with the lines visudo -c drops left out, and sudo -V: use_pty, logfile, "
        "NOPASSWD rules still in force and !authenticate",
        snippet=files_only,
        shared=(SUDO_SNIPPET,),
        files=lambda args: (SUDOERS, "/etc/sudoers.d/*"),
        parse=parse_sudoers,
        cap_bytes=1024 * 1024,
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
