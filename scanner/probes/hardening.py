"""Host hardening state: kernel modules and mount options.

Each probe reads configuration files and kernel tables (/proc/modules,
/proc/self/mounts) directly; nothing is loaded, mounted or refreshed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import fields, split_lines, strip
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import active_lines, cut_guard, quote
from scanner.probes._sections import Collected, section, split_sections

# ---------------------------------------------------------------- kernel modules

MODPROBE_FILES = ("/etc/modprobe.d/*.conf", "/run/modprobe.d/*.conf",
                  "/usr/local/lib/modprobe.d/*.conf", "/usr/lib/modprobe.d/*.conf",
                  "/lib/modprobe.d/*.conf")
# What kmod reads after a reboot: /run is a tmpfs, so /run/modprobe.d is gone then.
PERSISTENT_MODPROBE_DIRS = ("/etc/modprobe.d", "/usr/local/lib/modprobe.d",
                            "/usr/lib/modprobe.d", "/lib/modprobe.d")
_DISABLING_COMMANDS = re.compile(r"^(/usr)?/bin/(false|true)$")


def _dry_run(name: str, section_name: str, config: str) -> str:
    # modprobe -n: everything but inserting the module or running an install command.
    # libkmod's complaints about bad config lines quote the line, which may be anything
    # pasted into modprobe.d (a key): they are dropped on the host, as no verdict uses them.
    # a modprobe.d file over the cap makes the probe error: kmod is not made to read it
    return section(section_name, cut_guard(MODPROBE_FILES) + "; "
                   "if [ -n \"$cutl\" ]; then echo cii:cut; "
                   "elif command -v modprobe >/dev/null 2>&1; then "
                   f"{{ modprobe -n -v {config}-- {quote(name)}; echo \"cii:exit $?\"; }} 2>&1 "
                   "| grep -v '^libkmod: '; else echo cii:no-modprobe; fi")


def _module_snippet(args: Mapping[str, Any]) -> str:
    name = str(args.get("name", ""))
    sys_dirs = " ".join(quote("/sys/module/" + n) for n in sorted({name, name.replace("-", "_")}))
    boot_config = "".join(f"-C {quote(d)} " for d in PERSISTENT_MODPROBE_DIRS)
    # built into the kernel (or loaded): the kernel lists it under /sys/module
    return "; ".join([
        section("sys-module", f"for d in {sys_dirs}; do [ -d \"$d\" ] && echo present; "
                "done; true"),
        _dry_run(name, "modprobe-now", ""),
        _dry_run(name, "modprobe-boot", boot_config)])


MODULES_SNIPPET = section("modules", "if [ -e /proc/modules ]; then cat /proc/modules; "
                          "else echo cii:no-modules; fi")
# A file system built into the kernel need not show under /sys/module, but the kernel
# mounts every type it lists here (fs/filesystems.c). freevxfs registers "vxfs".
FILESYSTEMS_SNIPPET = section("filesystems", "cat /proc/filesystems; true")
_FS_TYPE = {"freevxfs": "vxfs"}


def _same_module(a: str, b: str) -> bool:
    return a.replace("-", "_") == b.replace("-", "_")


def _disabling(command: str) -> bool:
    words = fields(command)
    return bool(words) and bool(_DISABLING_COMMANDS.match(words[0]))


def _dry_run_verdict(text: str) -> tuple[bool | None, str]:
    """Would ``modprobe NAME`` load the module, as kmod's dry run shows it; None: no
    modprobe on the host. An ``install`` command of /bin/false or /bin/true loads nothing;
    any other runs in its place and may; ``insmod`` lines are what it would insert."""
    lines = [strip(line) for line in split_lines(text) if strip(line)]
    if lines == ["cii:no-modprobe"]:
        return None, "modprobe is not installed"
    exit_line = next((line for line in reversed(lines) if line.startswith("cii:exit ")), None)
    shown = "; ".join(line for line in lines if not line.startswith("cii:exit "))[:300]
    if exit_line is None:
        return None, "modprobe's dry run was cut short"
    installs = [line[len("install "):] for line in lines if line.startswith("install ")]
    if installs:
        return not all(_disabling(c) for c in installs), f"modprobe -n -v: {shown}"
    if any(line.startswith("insmod ") for line in lines):
        return True, f"modprobe -n -v: {shown}"
    if exit_line != "cii:exit 0":
        return False, f"modprobe -n -v: {shown or exit_line}"  # no such module here
    return False, f"modprobe -n -v: nothing to do ({shown or 'loaded or built in'})"


def _config_verdict(collected: Collected, name: str, persistent: bool) -> tuple[bool, str]:
    """Fallback without modprobe: the first ``install`` line of the files as kmod 30
    orders them (a file name in an earlier directory masks the later ones)."""
    by_name: dict[str, tuple[str, str]] = {}
    for path, text in collected.files.items():
        if persistent and path.startswith("/run/"):
            continue
        by_name.setdefault(path.rsplit("/", 1)[-1], (path, text))
    for file_name in sorted(by_name):
        path, text = by_name[file_name]
        for line in active_lines(text):
            words = fields(line)
            if len(words) >= 3 and words[0] == "install" and _same_module(words[1], name):
                command = " ".join(words[2:])
                return not _disabling(command), f"{path}: install {command}"
    return True, "no install line in modprobe.d (modprobe not installed)"


def parse_kernel_module(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    """A module loaded now, loadable now (kmod with every modprobe.d) and loadable after a
    reboot (kmod without /run/modprobe.d), asked of kmod 30's ``modprobe -n -v``."""
    name = str(args.get("name", ""))
    collected = split_sections(raw)
    modules = collected.sections.get("modules")
    in_sys = collected.sections.get("sys-module")
    if modules is None or modules.exit_status != 0 or in_sys is None:
        return ProbeResult.failed("/proc/modules could not be read")
    supported = strip(modules.text) != "cii:no-modules"
    filesystems = collected.sections.get("filesystems")
    fs_types = {fields(line)[-1] for line in split_lines(filesystems.text if filesystems
                                                          else "") if fields(line)}
    fs_type = _FS_TYPE.get(name, name)
    loaded = "present" in in_sys.text or fs_type in fs_types or any(
        _same_module(fields(line)[0], name) for line in split_lines(modules.text)
        if fields(line))
    blacklisted_in = sorted({path for path, text in collected.files.items()
                             for line in active_lines(text)
                             for words in [fields(line)]
                             if len(words) >= 2 and words[0] == "blacklist"
                             and _same_module(words[1], name)})
    why: dict[str, str] = {"loaded": f"{name} is loaded or built in now (/proc/modules, "
                           "/sys/module, /proc/filesystems)" if loaded
                           else f"{name} is not loaded"}
    verdicts: dict[str, bool] = {}
    for key, section_name, persistent in (("loadable_now", "modprobe-now", False),
                                          ("loadable_after_boot", "modprobe-boot", True)):
        found = collected.sections.get(section_name)
        verdict, reason = _dry_run_verdict(found.text if found else "")
        if verdict is None and found is not None and found.exit_status is not None \
                and "not installed" in reason:
            if not supported:
                verdict, reason = False, "the kernel has no loadable-module support"
            elif collected.unreadable:
                return ProbeResult.failed("modprobe is not installed and modprobe configuration "
                                          "is not readable: " + ", ".join(collected.unreadable))
            else:
                verdict, reason = _config_verdict(collected, name, persistent)
        if verdict is None:
            return ProbeResult.failed(f"{section_name}: {reason}")
        if not supported:
            verdict, reason = False, "the kernel has no loadable-module support"
        verdicts[key] = verdict
        when = "now" if key == "loadable_now" else "after a reboot (without /run/modprobe.d)"
        why[key] = f"modprobe {name} would load it {when}: {reason}" if verdict else reason
    data: dict[str, Any] = {"name": name, "loaded": loaded, **verdicts,
                            "blacklisted": bool(blacklisted_in), "modules_supported": supported,
                            # blacklist stops only alias autoloading; modprobe NAME still works
                            "can_load": loaded or any(verdicts.values()),
                            "files": blacklisted_in, "why": why}
    if collected.unreadable:
        data["unreadable"] = list(collected.unreadable)
    return ProbeResult.ok(data)


# ---------------------------------------------------------------- mounts

FSTAB = "/etc/fstab"
_FSTAB_BLANKS = " \t"
# libmount 2.38 (libmount/src/optmap.c): the flag each option sets or clears; "defaults"
# is rw,suid,dev,exec,auto,nouser,async; user/users imply noexec,nosuid,nodev and
# owner/group nosuid,nodev, unless a later option says otherwise.
_FLAG_OPTIONS: dict[str, dict[str, bool]] = {
    "exec": {"noexec": False}, "noexec": {"noexec": True},
    "suid": {"nosuid": False}, "nosuid": {"nosuid": True},
    "dev": {"nodev": False}, "nodev": {"nodev": True},
    "defaults": {"noexec": False, "nosuid": False, "nodev": False},
    "user": {"noexec": True, "nosuid": True, "nodev": True},
    "users": {"noexec": True, "nosuid": True, "nodev": True},
    "owner": {"nosuid": True, "nodev": True}, "group": {"nosuid": True, "nodev": True},
}


def _mounts_snippet(args: Mapping[str, Any]) -> str:
    return section("mounts", "cat /proc/self/mounts")


def _unescape_mount_field(value: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), value)


def _normal_target(path: str) -> str:
    return path.rstrip("/") or "/"


def fstab_entry(text: str, path: str) -> tuple[dict[str, Any] | None, str]:
    """The /etc/fstab entry that mounts ``path`` at boot, as libmount 2.38 parses the
    table (blank-separated fields, a final CR dropped, ``#`` lines are comments, octal
    escapes; a missing
    options field is "defaults") and ``mount -a`` / systemd-fstab-generator use it (the
    last entry for a target is mounted on top; ``noauto`` entries are not mounted)."""
    found: dict[str, Any] | None = None
    for number, line in enumerate(split_lines(text), start=1):
        # libmount drops one "\r" before the line's end (mnt_table_parse_stream)
        words = fields(line[:-1] if line.endswith("\r") else line, _FSTAB_BLANKS)
        if not words or words[0].startswith("#") or len(words) < 3:
            continue
        if _normal_target(_unescape_mount_field(words[1])) != path:
            continue
        options = (words[3] if len(words) > 3 else "defaults").split(",")
        flags = {"noexec": False, "nosuid": False, "nodev": False}
        for option in options:
            flags.update(_FLAG_OPTIONS.get(option, {}))
        found = {"line": number, "fstype": words[2], "options": options,
                 "noauto": "noauto" in options,
                 "flags": [flag for flag, on in flags.items() if on]}
    if found is None:
        return None, (f"{FSTAB} has no entry for {path}: at boot it is not a separate mount, "
                      "or systemd mounts it with nosuid,nodev only (tmp.mount, mount-setup.c)")
    if found["noauto"]:
        return None, f"{FSTAB}:{found['line']} marks {path} noauto: not mounted at boot"
    return found, f"{FSTAB}:{found['line']}"


def parse_mount(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    """The mount on ``path`` now (/proc/self/mounts, the kernel's table: the last mount on
    a path is the one in effect) and at the next boot (/etc/fstab, as libmount reads it)."""
    path = _normal_target(str(args.get("path", "")))
    collected = split_sections(raw)
    mounts = collected.sections.get("mounts")
    if mounts is None or mounts.exit_status != 0 or not mounts.text.strip():
        return ProbeResult.failed("/proc/self/mounts could not be read")
    found = None
    for line in split_lines(mounts.text):
        words = fields(line)
        if len(words) >= 4 and _unescape_mount_field(words[1]) == path:
            found = words  # the last mount on a path is the one in effect
    data: dict[str, Any] = {"path": path, "separate": False, "options": []}
    if found is not None:
        data.update(separate=True, device=found[0], fstype=found[2],
                    options=found[3].split(","))
    why = {"options": f"{path} now: " + (",".join(data["options"]) if found is not None
                                          else "not a separate mount")}
    if FSTAB in collected.unreadable:
        data["unobservable"] = {"boot_options": f"{FSTAB} is not readable by the collector"}
    elif FSTAB not in collected.files:
        data["boot_options"] = []
        why["boot_options"] = f"no {FSTAB}: {path} is not a separate mount at boot"
    else:
        entry, source = fstab_entry(collected.files[FSTAB], path)
        data["boot_options"] = entry["flags"] if entry else []
        data["boot_entry"] = entry
        why["boot_options"] = (f"after reboot ({source}): "
                               + (",".join(entry["options"]) if entry else "") if entry
                               else f"after reboot: {source}")
    data["why"] = why
    return ProbeResult.ok(data)


MODULE_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
MOUNT_PATH = {"type": "string", "pattern": "^/[^\\s\\x00]{0,255}$"}

PROBES = (
    Probe(
        name="kernel_module",
        summary="one kernel module: loaded now (/proc/modules), and whether modprobe would "
        "load it now and after a reboot (kmod's dry run, modprobe -n -v)",
        snippet=_module_snippet,
        shared=(MODULES_SNIPPET, FILESYSTEMS_SNIPPET),
        files=lambda args: MODPROBE_FILES,
        parse=parse_kernel_module,
        args_schema={"type": "object", "properties": {"name": MODULE_NAME},
                     "required": ["name"], "additionalProperties": False},
        cap_bytes=1024 * 1024,
    ),
    Probe(
        name="mount",
        summary="whether a path is a separate mount and its options, now (/proc/self/mounts) "
        "and at the next boot (/etc/fstab)",
        snippet=_mounts_snippet,
        files=lambda args: (FSTAB,),
        parse=parse_mount,
        args_schema={"type": "object", "properties": {"path": MOUNT_PATH},
                     "required": ["path"], "additionalProperties": False},
        cap_bytes=1024 * 1024,
    ),
)
