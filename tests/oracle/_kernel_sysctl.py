"""Oracle states for sysctl rules: the kernel decides now, procps ``sysctl --system`` after
the next boot.

Now: net.* values are per network namespace, so each state has its own (``State(net=True)``)
with veth interfaces whose values are written for real; the consumer is the kernel's own
combination of ``all`` and each interface (include/linux/inetdevice.h), applied here to
the values the kernel reports. Non-namespaced kernel.* and fs.* entries cannot be changed
on the machine: /proc/sys is covered by a tmpfs inside the mount namespace (net/ bound
back), and files in it stand for the running values.

After the boot: procps ``sysctl --system`` (the loader of a host without systemd, as this
one is; states with /run/systemd/system get systemd 252's systemd-sysctl instead) runs in
a nested network and mount namespace whose /proc/sys is again a tmpfs with
net/ bound back: net.* values land in a fresh network namespace, kernel.* values in
placeholder files that start as ``cii-unset`` (set by nothing: the kernel default stays).
Interfaces appear after a first run and the loader runs again (udev does that on a real
boot), then ``n0``/``n1`` appear as interfaces nobody configured.
"""

from __future__ import annotations

import gzip
import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State

UNSET = "cii-unset"
# The kernel's built-in defaults, where a state leaves a key unset (from its sources).
KERNEL_DEFAULTS = {"fs/suid_dumpable": 0, "fs/protected_symlinks": 0,
                   "fs/protected_hardlinks": 0, "kernel/yama/ptrace_scope": 1,
                   "net/ipv4/tcp_syncookies": 1}


def _aslr_default() -> int | None:
    """mm/memory.c: randomize_va_space = IS_ENABLED(CONFIG_COMPAT_BRK) ? 1 : 2, read from
    the running kernel's own configuration."""
    try:
        text = gzip.decompress(Path("/proc/config.gz").read_bytes()).decode()
    except OSError:
        return None
    if "\nCONFIG_COMPAT_BRK=y\n" in text:
        return 1
    return 2 if "\n# CONFIG_COMPAT_BRK is not set\n" in text else None


ASLR_DEFAULT = _aslr_default()
if ASLR_DEFAULT is not None:
    KERNEL_DEFAULTS["kernel/randomize_va_space"] = ASLR_DEFAULT
FAKE_KERNEL_KEYS = ("kernel/randomize_va_space", "fs/suid_dumpable", "fs/protected_symlinks",
                    "fs/protected_hardlinks", "kernel/yama/ptrace_scope")

_COVER_PROC_SYS = [
    "mount -t tmpfs cii /tmp", "mkdir /tmp/n", "mount --bind /proc/sys/net /tmp/n",
    "mount -t tmpfs cii /proc/sys", "mkdir -p /proc/sys/net /proc/sys/kernel /proc/sys/fs",
    "mount --bind /tmp/n /proc/sys/net",
]
_DUMP = ("for f in /proc/sys/net/ipv4/conf/*/* /proc/sys/net/ipv6/conf/*/accept_redirects "
         "/proc/sys/net/ipv6/conf/*/accept_source_route /proc/sys/net/ipv6/conf/*/forwarding "
         "/proc/sys/net/ipv4/tcp_syncookies /proc/sys/kernel/randomize_va_space "
         "/proc/sys/kernel/yama/ptrace_scope /proc/sys/fs/suid_dumpable "
         "/proc/sys/fs/protected_symlinks /proc/sys/fs/protected_hardlinks; do "
         '[ -f "$f" ] && printf "%s %s\\n" "${f#/proc/sys/}" "$(cat "$f" 2>/dev/null)"; done; '
         "true")


def veth(*pairs: tuple[str, str]) -> list[str]:
    return [f"ip link add {a} type veth peer name {b}" for a, b in pairs]


def write(values: Mapping[str, str]) -> list[str]:
    """sh writing each /proc/sys path (``net/ipv4/conf/all/rp_filter``) its value."""
    return [f"printf '%s\\n' {shlex.quote(v)} > {shlex.quote('/proc/sys/' + k)}"
            for k, v in values.items()]


def runtime_state(files: Mapping[str, str | None], interfaces: Sequence[tuple[str, str]],
                  net_values: Mapping[str, str], kernel_values: Mapping[str, str],
                  systemd: bool = False) -> State:
    setup = ["mkdir -p /run/cii-n", "mount --bind /proc/sys/net /run/cii-n",
             "mount -t tmpfs cii /proc/sys",
             "mkdir -p /proc/sys/net /proc/sys/kernel /proc/sys/fs",
             "mount --bind /run/cii-n /proc/sys/net"]
    if "kernel/yama/ptrace_scope" in kernel_values:
        setup.append("mkdir -p /proc/sys/kernel/yama")
    setup += write(kernel_values) + veth(*interfaces) + write(net_values)
    if systemd:  # what the collector takes for "systemd is the init system"
        setup.append("mkdir -p /run/systemd/system")
    return State(files=files, setup=setup, net=True, overlays=["/etc", "/run"])


def _boot_script(interfaces: Sequence[tuple[str, str]], yama: bool, systemd: bool) -> str:
    loader = "/lib/systemd/systemd-sysctl" if systemd else "sysctl --system"
    placeholders = [k for k in FAKE_KERNEL_KEYS if yama or not k.startswith("kernel/yama")]
    lines = [*_COVER_PROC_SYS]
    if yama:
        lines.append("mkdir -p /proc/sys/kernel/yama")
    lines += [f"echo {UNSET} > /proc/sys/{k}" for k in placeholders]
    lines += [f"{loader} >/dev/null 2>&1 || true", *veth(*interfaces),
              f"{loader} >/dev/null 2>&1 || true", *veth(("n0", "n1")), _DUMP]
    return "\n".join(lines)


def parse_dump(text: str) -> dict[str, str]:
    values = {}
    for line in text.split("\n"):
        path, _, value = line.partition(" ")
        if path:
            values[path] = value
    return values


# ------------------------------------------------------------ the kernel's combination

def _flag(value: int) -> bool:
    return value != 0


def effective(values: Mapping[str, str], family: str, key: str, iface: str) -> int:
    """What the kernel acts on for ``iface`` (inetdevice.h, route.c, exthdrs.c)."""
    def get(entry: str, name: str) -> int:
        return int(values[f"net/{family}/conf/{entry}/{name}"])
    own, every = get(iface, key), get("all", key)
    if family == "ipv4":
        if key == "forwarding":
            return own  # IN_DEV_FORWARD
        if key == "accept_redirects":  # IN_DEV_RX_REDIRECTS
            both = _flag(every) and _flag(own)
            either = _flag(every) or _flag(own)
            return int(both if _flag(get(iface, "forwarding")) else either)
        if key == "accept_source_route":  # IN_DEV_ANDCONF
            return int(_flag(every) and _flag(own))
        if key == "rp_filter":  # IN_DEV_MAXCONF
            return max(every, own)
        return int(_flag(every) or _flag(own))  # IN_DEV_ORCONF
    if key == "accept_redirects":  # rt6_do_redirect: the interface's own, off if forwarding
        return 0 if _flag(get(iface, "forwarding")) else own
    if key == "accept_source_route":  # ipv6_rthdr_rcv: min of all and the interface
        return min(every, own)
    return every  # forwarding: ip6_forward reads all


def interfaces_of(values: Mapping[str, str], family: str, now: bool) -> list[str]:
    names = {path.split("/")[3] for path in values if path.startswith(f"net/{family}/conf/")}
    chosen = sorted(names - {"all", "default", "lo"})
    return [*chosen, "default"] if now else chosen  # now: "default" is a new interface


Check = tuple[str, Callable[[int], bool]]  # ("net.ipv4.conf.*.send_redirects" or a path)


def compliant(values: Mapping[str, str], checks: Sequence[Check], now: bool) -> bool:
    for name, good in checks:
        if name.startswith("net/ipv") and "/conf/*/" in name:
            family, key = name.split("/")[1], name.rsplit("/", 1)[1]
            ifaces = interfaces_of(values, family, now) if key != "forwarding" or \
                family == "ipv4" else ["all"]
            if not all(good(effective(values, family, key, i)) for i in ifaces):
                return False
            continue
        if name not in values:
            if name == "kernel/yama/ptrace_scope":
                if not good(0):  # no Yama: classic ptrace permissions
                    return False
                continue
            return False
        raw = values[name]
        if raw == UNSET:
            if name not in KERNEL_DEFAULTS or not good(KERNEL_DEFAULTS[name]):
                return False
            continue
        if not good(int(raw.split()[0], 0)):
            return False
    return True


def sysctl_consumer(checks: Sequence[Check], interfaces: Sequence[tuple[str, str]],
                    yama: bool, systemd: bool = False) -> Consumer:
    def decide(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
        now, boot = parse_dump(answers[0].stdout), parse_dump(answers[1].stdout)
        return compliant(now, checks, True) and compliant(boot, checks, False)
    boot = ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c",
            _boot_script(interfaces, yama, systemd)]
    loader = "systemd-sysctl" if systemd else "procps sysctl --system"
    return Consumer(f"kernel (/proc/sys, inetdevice.h) + {loader}",
                    [Ask(["sh", "-c", _DUMP]), Ask(boot)], decide)


def sysctl_case(rule: str, name: str, intent: str, checks: Sequence[Check], *,
                files: Mapping[str, str | None] | None = None,
                interfaces: Sequence[tuple[str, str]] = (("d0", "d1"),),
                net: Mapping[str, str] | None = None,
                kernel: Mapping[str, str] | None = None,
                noncompliant: str = "fail", systemd: bool = False) -> Case:
    kernel = dict(kernel or {})
    state = runtime_state(files or {}, interfaces, net or {}, kernel, systemd)
    consumer = sysctl_consumer(checks, interfaces, "kernel/yama/ptrace_scope" in kernel, systemd)
    return Case(rule, name, state, consumer, intent,  # type: ignore[arg-type]
                noncompliant_verdict=noncompliant)  # type: ignore[arg-type]
