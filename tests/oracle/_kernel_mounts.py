"""Oracle states for mount rules: the kernel decides (a script run from the mount, a device
node opened on it, the mount's own nosuid flag in /proc/self/mountinfo), now and after
``mount -a`` (util-linux 2.38, libmount: what the next boot mounts from /etc/fstab) in a
nested mount namespace from which the running mount was taken away.

Test files are written only where the path is a separate mount of the state's own.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State


def _probe_sh(path: str) -> str:
    p = shlex.quote(path)
    return (f"if mountpoint -q {p}; then echo separate; "
            f"t={p}/cii-exec; printf '#!/bin/sh\\nexit 0\\n' > $t; chmod 755 $t; "
            "if $t 2>/dev/null; then echo exec; else echo noexec; fi; rm -f $t; "
            f"n={p}/cii-null; mknod $n c 1 3; "
            "if cat $n >/dev/null 2>&1; then echo dev; else echo nodev; fi; rm -f $n; "
            f"findmnt -n -o VFS-OPTIONS --mountpoint {p} | tail -n 1 | tr , '\\n' "
            "| grep -x nosuid; fi; true")


def mount_consumer(path: str) -> Consumer:
    p = shlex.quote(path)
    boot = (f"while mountpoint -q {p}; do umount -l {p}; done; "
            "mount -a >/dev/null 2>&1; " + _probe_sh(path))
    asks = [Ask(["sh", "-c", _probe_sh(path)]),
            Ask(["unshare", "--mount", "--propagation", "private", "sh", "-c", boot])]

    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        need = {"separate", "noexec", "nodev", "nosuid"}
        return all(need <= set(a.stdout.split()) for a in answers)
    return Consumer("kernel (exec, device open, mountinfo) + util-linux mount -a", asks, decide)


def mount_case(rule: str, name: str, intent: str, path: str, *, fstab: str | None,
               running: str | None) -> Case:
    """``running``: options of the tmpfs the state mounts on ``path`` now (None: none)."""
    p = shlex.quote(path)
    setup = [f"while mountpoint -q {p}; do umount -l {p}; done"]
    if running is not None:
        setup.append(f"mount -t tmpfs -o {shlex.quote(running)} cii-oracle {p}")
    files: dict[str, str | None] = {"/etc/fstab": fstab if fstab is not None else ""}
    state = State(files=files, setup=setup, overlays=["/etc"])
    return Case(rule, name, state, mount_consumer(path), intent)  # type: ignore[arg-type]
