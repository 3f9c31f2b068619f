"""Host hardening state: kernel modules and mount options.

Each probe reads configuration files and kernel tables (/proc/modules,
/proc/self/mounts) directly; nothing is loaded, mounted or refreshed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import active_lines, quote
from scanner.probes._sections import section, split_sections

# ---------------------------------------------------------------- kernel modules

MODPROBE_FILES = ("/etc/modprobe.d/*.conf", "/run/modprobe.d/*.conf",
                  "/usr/local/lib/modprobe.d/*.conf", "/usr/lib/modprobe.d/*.conf",
                  "/lib/modprobe.d/*.conf")
_DISABLING_COMMANDS = re.compile(r"^(/usr)?/bin/(false|true)$")


def _module_snippet(args: Mapping[str, Any]) -> str:
    name = str(args.get("name", ""))
    sys_dirs = " ".join(quote("/sys/module/" + n) for n in sorted({name, name.replace("-", "_")}))
    # built into the kernel (or loaded): the kernel lists it under /sys/module
    return section("sys-module", f"for d in {sys_dirs}; do [ -d \"$d\" ] && echo present; "
                   "done; true")


MODULES_SNIPPET = section("modules", "if [ -e /proc/modules ]; then cat /proc/modules; "
                          "else echo cii:no-modules; fi")


def _same_module(a: str, b: str) -> bool:
    return a.replace("-", "_") == b.replace("-", "_")


def parse_kernel_module(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    name = str(args.get("name", ""))
    collected = split_sections(raw)
    modules = collected.sections.get("modules")
    in_sys = collected.sections.get("sys-module")
    if modules is None or modules.exit_status != 0 or in_sys is None:
        return ProbeResult.failed("/proc/modules could not be read")
    supported = modules.text.strip() != "cii:no-modules"
    loaded = "present" in in_sys.text or any(
        _same_module(line.split()[0], name) for line in split_lines(modules.text) if line.split())
    # the first file of a given name wins (/etc over /run over /usr/lib), as modprobe does
    by_name: dict[str, tuple[str, str]] = {}
    for path, text in collected.files.items():
        by_name.setdefault(path.rsplit("/", 1)[-1], (path, text))
    install_command = None
    blacklisted_in: list[str] = []
    install_in = None
    for file_name in sorted(by_name):
        path, text = by_name[file_name]
        for line in active_lines(text):
            words = line.split()
            if len(words) >= 2 and words[0] == "blacklist" and _same_module(words[1], name):
                blacklisted_in.append(path)
            elif (len(words) >= 3 and words[0] == "install" and _same_module(words[1], name)
                  and install_command is None):
                install_command = " ".join(words[2:])
                install_in = path
    disabled = install_command is not None and bool(_DISABLING_COMMANDS.match(
        install_command.split()[0]))
    data: dict[str, Any] = {"name": name, "loaded": loaded, "blacklisted": bool(blacklisted_in),
                            "install_command": install_command, "disabled": disabled,
                            "modules_supported": supported,
                            # blacklist stops only alias autoloading; modprobe NAME still works
                            "can_load": loaded or (supported and not disabled),
                            "files": sorted({*blacklisted_in, *([install_in] if install_in
                                                                 else [])})}
    if collected.unreadable:
        data["unreadable"] = list(collected.unreadable)
        if not disabled:
            return ProbeResult.failed("modprobe configuration not readable: "
                                      + ", ".join(collected.unreadable))
    return ProbeResult.ok(data)


# ---------------------------------------------------------------- mounts


def _mounts_snippet(args: Mapping[str, Any]) -> str:
    return section("mounts", "cat /proc/self/mounts")


def _unescape_mount_field(value: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), value)


def parse_mount(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    path = str(args.get("path", ""))
    collected = split_sections(raw)
    mounts = collected.sections.get("mounts")
    if mounts is None or mounts.exit_status != 0 or not mounts.text.strip():
        return ProbeResult.failed("/proc/self/mounts could not be read")
    found = None
    for line in split_lines(mounts.text):
        fields = line.split()
        if len(fields) >= 4 and _unescape_mount_field(fields[1]) == path:
            found = fields  # the last mount on a path is the one in effect
    if found is None:
        return ProbeResult.ok({"path": path, "separate": False, "options": []})
    return ProbeResult.ok({"path": path, "separate": True, "device": found[0],
                           "fstype": found[2], "options": found[3].split(",")})


MODULE_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
MOUNT_PATH = {"type": "string", "pattern": "^/[^\\s\\x00]{0,255}$"}

PROBES = (
    Probe(
        name="kernel_module",
        summary="one kernel module: loaded now (/proc/modules), and whether modprobe.d "
        "disables it (install /bin/false) or blacklists it",
        snippet=_module_snippet,
        shared=(MODULES_SNIPPET,),
        files=lambda args: MODPROBE_FILES,
        parse=parse_kernel_module,
        args_schema={"type": "object", "properties": {"name": MODULE_NAME},
                     "required": ["name"], "additionalProperties": False},
        cap_bytes=1024 * 1024,
    ),
    Probe(
        name="mount",
        summary="whether a path is a separate mount and its options, from /proc/self/mounts",
        snippet=_mounts_snippet,
        parse=parse_mount,
        args_schema={"type": "object", "properties": {"path": MOUNT_PATH},
                     "required": ["path"], "additionalProperties": False},
        cap_bytes=1024 * 1024,
    ),
)
