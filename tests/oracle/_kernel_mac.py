"""Oracle states for access.mac-enforcing. This machine's kernel runs no LSM, so SELinux's
runtime switch is simulated (a tmpfs over /sys/fs with selinux/enforce); the next boot's
mode is asked of libselinux itself (``selinux_getenforcemode``, through ctypes) reading the
state's /etc/selinux/config, and of the kernel command line."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State

_LIBSELINUX = ("import ctypes; mode = ctypes.c_int(-9); "
               "rc = ctypes.CDLL('libselinux.so.1').selinux_getenforcemode(ctypes.byref(mode)); "
               "print(rc, mode.value)")


def mac_consumer() -> Consumer:
    asks = [Ask(["sh", "-c", "cat /sys/fs/selinux/enforce 2>/dev/null; true"]),
            Ask([sys.executable, "-c", _LIBSELINUX]), Ask(["cat", "/proc/cmdline"])]

    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        now = answers[0].stdout.strip() == "1"
        rc, mode = answers[1].stdout.split()
        words = answers[2].stdout.split()
        at_boot = rc == "0" and mode == "1" and "selinux=0" not in words \
            and "enforcing=0" not in words
        return now and at_boot
    return Consumer("kernel (selinuxfs enforce, simulated) + libselinux selinux_getenforcemode",
                    asks, decide)


def mac_case(name: str, intent: str, *, enforce: str | None, config: str | None) -> Case:
    setup = []
    if enforce is not None:
        setup = ["mount -t tmpfs cii /sys/fs", "mkdir /sys/fs/selinux",
                 f"echo {enforce} > /sys/fs/selinux/enforce"]
    files: dict[str, str | None] = {}
    if config is not None:
        files["/etc/selinux/config"] = config
    state = State(files=files, setup=setup, overlays=["/etc"])
    return Case("access.mac-enforcing", name, state, mac_consumer(), intent)  # type: ignore[arg-type]
