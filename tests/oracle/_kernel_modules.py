"""Oracle states for module rules: the kernel (is it loaded or built in, can it load modules
at all) and kmod's own dry run (``modprobe -n -v``) with every modprobe.d now and without
/run/modprobe.d, as after a reboot.

This machine's kernel has no loadable-module support (no /proc/modules), so what kmod would
insert never loads here; a module "loaded now" is simulated with a tmpfs over /sys/module
and a built-in file system with a file bound over /proc/filesystems.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State

BOOT_DIRS = ("/etc/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d",
             "/lib/modprobe.d")
FS_TYPE = {"freevxfs": "vxfs"}
_KERNEL = ("ls /sys/module; echo cii-sep; cat /proc/filesystems; echo cii-sep; "
           "[ -e /proc/modules ] && echo supported; true")


def _kmod_loads(text: str) -> bool:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    installs = [line.split()[1:] for line in lines if line.startswith("install ")]
    if installs:
        return any(not words or words[0] not in ("/bin/false", "/bin/true", "/usr/bin/false",
                                                 "/usr/bin/true") for words in installs)
    return any(line.startswith("insmod ") for line in lines)


def module_consumer(names: Sequence[str]) -> Consumer:
    asks = [Ask(["sh", "-c", _KERNEL])]
    for name in names:
        asks.append(Ask(["modprobe", "-n", "-v", "--", name]))
        boot = [word for d in BOOT_DIRS for word in ("-C", d)]
        asks.append(Ask(["modprobe", "-n", "-v", *boot, "--", name]))

    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        sys_modules, filesystems, support = answers[0].stdout.split("cii-sep\n")
        loaded_names = set(sys_modules.split())
        fs_types = {line.split()[-1] for line in filesystems.split("\n") if line.split()}
        supported = "supported" in support
        for index, name in enumerate(names):
            now, boot = answers[1 + 2 * index], answers[2 + 2 * index]
            if name.replace("-", "_") in loaded_names or FS_TYPE.get(name, name) in fs_types:
                return False
            if supported and (_kmod_loads(now.stdout) or _kmod_loads(boot.stdout)):
                return False
        return True
    return Consumer("kernel (/sys/module, /proc/filesystems) + kmod modprobe -n -v", asks,
                    decide)


def module_case(rule: str, name: str, intent: str, names: Sequence[str], *,
                files: Mapping[str, str | None] | None = None, loaded: Sequence[str] = (),
                filesystems: str | None = None) -> Case:
    setup: list[str] = []
    if loaded:
        setup += ["mount -t tmpfs cii /sys/module",
                  *(f"mkdir /sys/module/{shlex.quote(n)}" for n in loaded)]
    all_files = dict(files or {})
    if filesystems is not None:
        all_files["/run/cii-filesystems"] = filesystems
        setup.append("mount --bind /run/cii-filesystems /proc/filesystems")
    state = State(files=all_files, setup=setup, overlays=["/etc", "/run"])
    return Case(rule, name, state, module_consumer(names), intent)  # type: ignore[arg-type]
