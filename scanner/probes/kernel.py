"""Kernel parameters now (/proc/sys, as the running kernel acts on them) and after the next
boot (what the host's boot-time sysctl loader will write).

Now. A per-interface network setting is not one value: the kernel combines the ``all``
entry with each interface's own (include/linux/inetdevice.h, Linux 6.x:
``IN_DEV_TX_REDIRECTS``/``IN_DEV_SEC_REDIRECTS``/``IN_DEV_LOG_MARTIANS`` are
``IN_DEV_ORCONF``, ``IN_DEV_SOURCE_ROUTE`` is ``IN_DEV_ANDCONF``, ``IN_DEV_RPFILTER`` is
``IN_DEV_MAXCONF``, ``IN_DEV_RX_REDIRECTS`` is AND on a forwarding interface and OR
otherwise, ``IN_DEV_FORWARD`` is the interface's own value). IPv6 reads
``accept_redirects`` and ``forwarding`` of the receiving interface only
(net/ipv6/route.c ``rt6_do_redirect``), and ``accept_source_route`` as the smaller of
``all`` and the interface (net/ipv6/exthdrs.c ``ipv6_rthdr_rcv``). An interface created
later starts from ``default``. So the probe reads every interface and reports each
interface's effective value, plus that of "a new interface". ``lo`` is left out: it only
carries the host's own packets, so no neighbour can send a redirect, a source-routed or a
martian packet to it.

After the next boot. The loader is systemd-sysctl (systemd 252) when systemd is the init
system, else procps-ng 4.0 ``sysctl --system`` (Debian's /etc/init.d/procps). Both take
``*.conf`` from /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d,
/lib/sysctl.d (a file name found in an earlier directory masks the later ones), apply them
in lexicographic order of file name, a later assignment overriding an earlier one; procps
then applies /etc/sysctl.conf as well (systemd reads it only through Debian's 99-sysctl.conf
link). Both skip blank lines and lines starting with ``#`` or ``;``, take a leading ``-`` as
"ignore errors", strip blanks around key and value, accept ``/`` as the separator when it
comes first, and expand globs in keys over the entries that exist; an explicit key beats any
glob, before or after it (procps-ng 4.0.2 too, as its oracle shows); for systemd a line
``-KEY`` without ``=`` keeps globs off KEY. A default that depends on the build
(randomize_va_space: CONFIG_COMPAT_BRK) is read from /proc/config.gz or /boot/config-$(uname
-r). A value the kernel's integer parser (kernel/sysctl.c ``proc_get_long``: base 0, then a
blank or the end) refuses leaves the entry as it was. A key set nowhere keeps the kernel's
built-in default (the table below, from the kernel's sources); ``ipv4/conf/default`` writes
reach every interface not set explicitly (net/ipv4/devinet.c ``devinet_copy_dflt_conf``);
interfaces are assumed to appear after the loader ran and to get their own keys applied when
they do (udev's 99-systemd.rules).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.lines import C_SPACE, fields, split_lines, strip
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import TOOL_READ_CAP, capped, cut_check, print_lines, quote
from scanner.probes._sections import (
    INIT_SNIPPET,
    Collected,
    section,
    split_sections,
    systemd_is_init,
)

SYSCTL_NAME = {"type": "string", "pattern": "^[a-z0-9_]+(\\.[a-zA-Z0-9_-]+)+$", "maxLength": 200}

SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d",
               "/lib/sysctl.d")
SYSCTL_CONF = "/etc/sysctl.conf"
SYSCTL_FILES = (*(d + "/*.conf" for d in SYSCTL_DIRS), SYSCTL_CONF)

_PER_INTERFACE = re.compile(r"^net\.(ipv4|ipv6)\.conf\.(all|default)\.([a-z0-9_]+)$")
# How the kernel combines ``all`` with an interface's own value.
_COMBINE: dict[tuple[str, str], str] = {
    ("ipv4", "accept_redirects"): "rx", ("ipv4", "secure_redirects"): "or",
    ("ipv4", "send_redirects"): "or", ("ipv4", "log_martians"): "or",
    ("ipv4", "accept_source_route"): "and", ("ipv4", "rp_filter"): "max",
    ("ipv4", "forwarding"): "self", ("ipv6", "accept_redirects"): "self-unless-forwarding",
    ("ipv6", "accept_source_route"): "min",
}
# Built-in defaults (Linux 6.x: devinet.c ipv4_devconf/ipv4_devconf_dflt, addrconf.c
# ipv6_devconf/_dflt, tcp_ipv4.c, fs/exec.c, fs/namei.c, security/yama/yama_lsm.c).
# kernel.randomize_va_space is missing: it is 1 or 2 depending on CONFIG_COMPAT_BRK.
KERNEL_DEFAULTS: dict[str, int] = {
    "net.ipv4.ip_forward": 0, "net.ipv4.tcp_syncookies": 1, "fs.suid_dumpable": 0,
    "fs.protected_symlinks": 0, "fs.protected_hardlinks": 0, "kernel.yama.ptrace_scope": 1,
    **{f"net.ipv4.conf.{entry}.{key}": 1 for entry in ("all", "default")
       for key in ("accept_redirects", "send_redirects", "secure_redirects")},
    "net.ipv4.conf.all.accept_source_route": 0, "net.ipv4.conf.default.accept_source_route": 1,
    **{f"net.ipv4.conf.{entry}.{key}": 0 for entry in ("all", "default")
       for key in ("rp_filter", "log_martians", "forwarding")},
    **{f"net.ipv6.conf.{entry}.accept_redirects": 1 for entry in ("all", "default")},
    **{f"net.ipv6.conf.{entry}.{key}": 0 for entry in ("all", "default")
       for key in ("accept_source_route", "forwarding")},
}
# A sysctl the running kernel lacks although its absence is the weak state.
_ABSENT_MEANS: dict[str, tuple[int, str]] = {
    "kernel.yama.ptrace_scope": (0, "no Yama in the running kernel: classic ptrace "
                                 "permissions, as ptrace_scope 0"),
}
_SKIPPED_INTERFACES = {"lo"}
# One kernel variable under two names (net/ipv4/sysctl_net_ipv4.c: ip_forward is
# ipv4_devconf all's FORWARDING).
_ALIASES = {"net/ipv4/ip_forward": "net/ipv4/conf/all/forwarding"}
NEW_INTERFACE = "(new-interface)"


_F = '"$f"'  # the shell word of the file a snippet reads


def _proc_path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


def _scalar_snippet(name: str) -> str:
    path = quote(_proc_path(name))
    # A /proc/sys entry is a regular file of size 0: the shell's own read prints it
    # without starting a process. Anything else bound over the path goes through cat.
    return (f"f={path}; "
            'if [ -r "$f" ]; then '
            'if [ -f "$f" ] && ! [ -s "$f" ]; then ' + print_lines('"$f"') + "; "
            f"else {cut_check(_F, TOOL_READ_CAP)}; {capped(_F, TOOL_READ_CAP)}; fi; "
            "elif [ -e \"$f\" ]; then echo 'cii:unreadable'; false; "
            "else echo 'cii:missing'; fi")


def _interfaces_snippet(family: str, key: str) -> str:
    base = f"/proc/sys/net/{family}/conf"
    # one "interface key value" line per entry; interface names hold no blanks or "/"
    return (f"if [ -d {base} ]; then "
            f"for f in {base}/*/{quote(key)} {base}/*/forwarding; do "
            'if [ -e "$f" ]; then d=${f%/*}; v=; '
            # a kernel entry is a regular file of size 0; anything else bound over one (a
            # device, gigabytes of file) is not read at all.
            'if [ -f "$f" ] && ! [ -s "$f" ]; then '
            # dash's read returns 1 on /proc/sys even after a full line: test the value
            '{ IFS= read -r v < "$f"; } 2>/dev/null; [ -n "$v" ] || v=cii:unreadable; '
            "else v=cii:not-proc; fi; "
            "printf '%s %s %s\\n' \"${d##*/}\" \"${f##*/}\" \"$v\"; fi; done; "
            "else echo cii:missing; fi")


# A built-in default that depends on the kernel's build configuration, and the option
# that decides it (mm/memory.c: randomize_va_space = IS_ENABLED(CONFIG_COMPAT_BRK) ? 1 : 2).
_CONFIG_DEFAULTS: dict[str, tuple[str, int, int]] = {
    "kernel.randomize_va_space": ("CONFIG_COMPAT_BRK", 1, 2),
}


def _snippet(args: Mapping[str, Any]) -> str:
    name = str(args["name"])
    match = _PER_INTERFACE.match(name)
    if match and (match.group(1), match.group(3)) in _COMBINE:
        return section("interfaces", _interfaces_snippet(match.group(1), match.group(3)))
    running = section("running", _scalar_snippet(name))
    if name in _CONFIG_DEFAULTS:
        # the running kernel's build configuration, as distributions install it
        pattern = quote(f"^(# )?{_CONFIG_DEFAULTS[name][0]}[= ]")
        # the running kernel's own build configuration (CONFIG_IKCONFIG_PROC), else the
        # copy distributions install next to it
        running += "; " + section("kconfig", "if [ -r /proc/config.gz ]; then "
                                  "gzip -dc /proc/config.gz | head -c "
                                  f"{TOOL_READ_CAP} | grep -E {pattern}; "
                                  "else f=/boot/config-$(uname -r); [ -r \"$f\" ] && { "
                                  f"{cut_check(_F, TOOL_READ_CAP)}; "
                                  f"{capped(_F, TOOL_READ_CAP)} | grep -E {pattern}; "
                                  "}; fi; true")
    return running


# ------------------------------------------------------------------ values


def kernel_int(text: str) -> int | None:
    """The integer the kernel stores when ``text`` is written to an int sysctl, or None
    when the write is refused (proc_get_long: blanks, optional ``-``, base-0 digits, then
    a blank or the end)."""
    rest = text.lstrip(C_SPACE)
    match = re.match(r"(-?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", rest)
    if match is None:
        return None
    tail = rest[match.end():]
    if tail and tail[0] not in " \t\n":
        return None
    digits = match.group(2)
    value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 8) \
        if digits.startswith("0") else int(digits)
    return -value if match.group(1) else value


def _combine(kind: str, all_value: int, own: int, forwarding: int | None) -> int:
    if kind == "rx":
        forwarding_on = bool(forwarding)
        return int(bool(all_value) and bool(own)) if forwarding_on else \
            int(bool(all_value) or bool(own))
    if kind == "or":
        return int(bool(all_value) or bool(own))
    if kind == "and":
        return int(bool(all_value) and bool(own))
    if kind == "max":
        return max(all_value, own)
    if kind == "min":
        return min(all_value, own)
    if kind == "self-unless-forwarding":
        return 0 if forwarding else own
    return own  # self


def _rule_text(kind: str, family: str, key: str, iface: str, all_value: int, own: int,
               forwarding: int | None) -> str:
    if kind in ("self", "self-unless-forwarding"):
        extra = f", forwarding {forwarding}" if kind != "self" and forwarding is not None else ""
        return f"{iface} {own}{extra}"
    word = {"rx": "OR" if not forwarding else "AND", "or": "OR", "and": "AND",
            "max": "max of", "min": "min of"}[kind]
    return f"all {all_value} {word} {iface} {own}"


# ------------------------------------------------------------------ boot-time loader


@dataclass(frozen=True)
class Assignment:
    path: str  # /proc/sys-relative path with "/" separators, maybe a glob
    value: str
    source: str
    glob: bool
    # systemd-sysctl: "-KEY" without "=" keeps every glob off KEY
    excluded: bool = False


def _key_path(key: str) -> str:
    """The /proc/sys path of a key: ``.`` separates unless a ``/`` comes first, and then
    the dots in between are part of names (``net/ipv4/conf/eth0.100/rp_filter``)."""
    dot, slash = key.find("."), key.find("/")
    if slash != -1 and (dot == -1 or slash < dot):
        return key.strip("/")
    return key.translate(str.maketrans("./", "/."))


def _loader_files(files: Mapping[str, str], procps: bool) -> list[tuple[str, str]]:
    by_name: dict[str, tuple[str, str]] = {}
    for directory in SYSCTL_DIRS:
        for path, text in files.items():
            head, _, base = path.rpartition("/")
            if head == directory and base.endswith(".conf"):
                by_name.setdefault(base, (path, text))
    ordered = [by_name[name] for name in sorted(by_name)]
    if procps and SYSCTL_CONF in files:
        ordered.append((SYSCTL_CONF, files[SYSCTL_CONF]))
    return ordered


def parse_assignments(files: Mapping[str, str], procps: bool) -> list[Assignment]:
    """Every assignment the loader applies, in the order it applies them."""
    found: list[Assignment] = []
    for path, text in _loader_files(files, procps):
        for number, line in enumerate(split_lines(text), start=1):
            stripped = strip(line)
            if not stripped or stripped[0] in "#;":
                continue
            key, sep, value = stripped.partition("=")
            key = strip(key)
            excluded = not sep and key.startswith("-") and not procps
            if not sep and not excluded:
                continue
            if key.startswith("-"):
                key = strip(key[1:])
            if not key:
                continue
            key_path = _key_path(key)
            key_path = _ALIASES.get(key_path, key_path)
            found.append(Assignment(key_path, strip(value), f"{path}:{number}",
                                    any(c in key_path for c in "*?["), excluded))
    return found


def _assigned(assignments: Sequence[Assignment], name: str, systemd: bool
              ) -> Assignment | None:
    """The assignment that decides ``name`` at boot, None when none does."""
    path = _proc_path(name)[len("/proc/sys/"):]
    path = _ALIASES.get(path, path)
    winner: Assignment | None = None
    explicit_seen = False
    shielded = systemd and any(a.excluded and a.path == path for a in assignments)
    for item in assignments:
        if item.excluded:
            continue
        if item.glob and shielded:
            continue
        if item.glob:
            # both loaders skip a glob's match that is set explicitly anywhere
            if not fnmatch.fnmatchcase(path, item.path) or explicit_seen:
                continue
        elif item.path != path:
            continue
        else:
            explicit_seen = True
        if kernel_int(item.value) is None and name in KERNEL_DEFAULTS:
            continue  # the kernel refuses the write: the entry keeps what it had
        winner = item
    return winner


# ------------------------------------------------------------------ parser


@dataclass(frozen=True)
class _Boot:
    assignments: list[Assignment]
    systemd: bool
    consumer: str
    config_defaults: dict[str, tuple[int, str]]

    def value(self, name: str, fallback: str | None = None) -> tuple[int | str | None, str]:
        """Boot value of ``name`` and where it comes from; None when unknowable."""
        found = _assigned(self.assignments, name, self.systemd)
        if found is not None:
            number = kernel_int(found.value)
            return (number if number is not None else found.value), found.source
        if fallback is not None:
            return self.value(fallback)
        if name in KERNEL_DEFAULTS:
            return KERNEL_DEFAULTS[name], "kernel default"
        if name in self.config_defaults:
            return self.config_defaults[name]
        return None, "set in no sysctl file and the kernel's built-in default is not known"


def _boot_of(collected: Collected) -> tuple[_Boot | None, str]:
    if collected.unreadable:
        return None, ("sysctl configuration not readable: " + ", ".join(collected.unreadable))
    systemd = systemd_is_init(collected)
    consumer = "systemd-sysctl" if systemd else "sysctl --system (procps)"
    defaults: dict[str, tuple[int, str]] = {}
    kconfig = collected.sections.get("kconfig")
    for name, (option, if_set, if_unset) in _CONFIG_DEFAULTS.items():
        for line in split_lines(kconfig.text if kconfig else ""):
            if line == f"{option}=y":
                defaults[name] = (if_set, f"kernel default ({option}=y)")
            elif line == f"# {option} is not set":
                defaults[name] = (if_unset, f"kernel default ({option} is not set)")
    return _Boot(parse_assignments(collected.files, procps=not systemd), systemd, consumer,
                 defaults), ""


def _item(name: str, when: str, value: int | str | None, why: str) -> dict[str, Any]:
    return {"name": f"{name} {when} {value} ({why})", "value": value}


def _scalar(name: str, collected: Collected, boot: _Boot | None, boot_error: str
            ) -> ProbeResult:
    running = collected.sections.get("running")
    if running is None or running.exit_status is None:
        return ProbeResult.failed(f"/proc/sys entry for {name} was not printed")
    text = strip(running.text)
    if text == "cii:unreadable" or running.exit_status != 0:
        return ProbeResult.failed(f"/proc/sys entry for {name} is not readable by the collector")
    data: dict[str, Any] = {"name": name}
    if text == "cii:missing":
        if name not in _ABSENT_MEANS:
            return ProbeResult.absent(f"the running kernel has no sysctl {name}")
        value, why = _ABSENT_MEANS[name]
        data.update(value=value, running=[_item(name, "now", value, why)],
                    at_boot=[_item(name, "after reboot", value, why)])
        return ProbeResult.ok(data)
    shown = " ".join(fields(text))
    # the kernel prints an int sysctl as bare decimal digits; anything else stays text
    number = int(shown) if re.fullmatch(r"-?[0-9]{1,19}", shown) else None
    data["value"] = shown
    data["running"] = [_item(name, "now", number if number is not None else shown, "/proc/sys")]
    _add_boot(data, boot, boot_error, [(name, name, None)])
    return ProbeResult.ok(data)


def _add_boot(data: dict[str, Any], boot: _Boot | None, boot_error: str,
              entries: Sequence[tuple[str, str, str | None]],
              combine: tuple[str, str, str] | None = None) -> None:
    """``entries``: (label, key, fallback key) at boot; ``combine``: (kind, family, key)."""
    if boot is None:
        data.setdefault("unobservable", {})["at_boot"] = boot_error
        return
    data["boot_consumer"] = boot.consumer
    items = []
    for label, key, fallback in entries:
        value, source = boot.value(key, fallback)
        if value is None:
            data.setdefault("unobservable", {})["at_boot"] = f"{key} after reboot: {source}"
            return
        if combine is not None:
            kind, family, base = combine
            all_value, all_source = boot.value(f"net.{family}.conf.all.{base}")
            if not isinstance(all_value, int) or not isinstance(value, int):
                items.append(_item(label, "after reboot", value, source))
                continue
            effective = _combine(kind, all_value, value, None)
            why = _rule_text(kind, family, base, label.split(".")[3], all_value, value, None)
            items.append(_item(label, "after reboot", effective,
                               f"{why}; from {all_source} and {source}"))
        else:
            items.append(_item(label, "after reboot", value, source))
    data["at_boot"] = items


def _per_interface(name: str, family: str, key: str, collected: Collected,
                   boot: _Boot | None, boot_error: str) -> ProbeResult:
    listing = collected.sections.get("interfaces")
    if listing is None or listing.exit_status is None:
        return ProbeResult.failed(f"the interfaces' {key} values were not printed")
    if strip(listing.text) == "cii:missing":
        return ProbeResult.absent(f"the running kernel has no {family} (no /proc/sys/net/{family})")
    values: dict[str, dict[str, str]] = {}
    for line in split_lines(listing.text):
        words = fields(line, " ", 2)
        if len(words) == 3:
            values.setdefault(words[0], {})[words[1]] = words[2]
    kind = _COMBINE[(family, key)]
    numbers: dict[str, dict[str, int]] = {}
    for iface, texts in values.items():
        for entry_key, text in texts.items():
            if text == "cii:not-proc":
                return ProbeResult.failed(
                    f"/proc/sys/net/{family}/conf/{iface}/{entry_key} is not a kernel /proc/sys "
                    "entry (a regular file of size 0); what is there was not read")
            number = kernel_int(text)
            if number is None:
                return ProbeResult.failed(f"net.{family}.conf.{iface}.{entry_key} is not "
                                          f"readable by the collector ({text!r})")
            numbers.setdefault(iface, {})[entry_key] = number
    if "all" not in numbers or "default" not in numbers or key not in numbers["all"] \
            or key not in numbers["default"]:
        return ProbeResult.failed(f"net.{family}.conf.all/default.{key} could not be read")
    all_value = numbers["all"][key]
    running = []
    interfaces = sorted(i for i in numbers if i not in ("all", "default", *_SKIPPED_INTERFACES))
    for iface in [*interfaces, NEW_INTERFACE]:
        entry = numbers.get("default" if iface == NEW_INTERFACE else iface, {})
        if key not in entry:
            return ProbeResult.failed(f"net.{family}.conf.{iface}.{key} could not be read")
        forwarding = entry.get("forwarding")
        effective = _combine(kind, all_value, entry[key], forwarding)
        label = f"net.{family}.conf.{iface}.{key}"
        running.append(_item(label, "now", effective, _rule_text(
            kind, family, key, iface if iface != NEW_INTERFACE else "default", all_value,
            entry[key], forwarding)))
    data: dict[str, Any] = {"name": name, "value": numbers[name.split(".")[3]][key],
                            "running": running, "interfaces": interfaces}
    # At boot an interface without its own key gets "default". Forwarding is not modelled
    # there, so accept_redirects is judged with OR, never laxer than the kernel; a write to
    # all/forwarding (or ip_forward) reaches every interface (devinet.c
    # inet_forward_change), so forwarding is OR of all and the interface.
    boot_kind = {"rx": "or", "self-unless-forwarding": "self", "self": "or"}.get(kind, kind)
    entries: list[tuple[str, str, str | None]] = [
        (f"net.{family}.conf.{i}.{key}", f"net.{family}.conf.{i}.{key}",
         f"net.{family}.conf.default.{key}") for i in interfaces]
    entries.append((f"net.{family}.conf.{NEW_INTERFACE}.{key}",
                    f"net.{family}.conf.default.{key}", None))
    _add_boot(data, boot, boot_error, entries, (boot_kind, family, key))
    return ProbeResult.ok(data)


def parse_sysctl(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    name = str(args.get("name", ""))
    collected = split_sections(raw)
    boot, boot_error = _boot_of(collected)
    match = _PER_INTERFACE.match(name)
    if match and (match.group(1), match.group(3)) in _COMBINE:
        return _per_interface(name, match.group(1), match.group(3), collected, boot, boot_error)
    return _scalar(name, collected, boot, boot_error)


PROBES = (
    Probe(
        name="sysctl",
        summary="one kernel parameter now (/proc/sys; per-interface network settings as the "
        "kernel combines all and each interface) and after the next boot (sysctl.d as "
        "systemd-sysctl or procps sysctl --system applies it)",
        snippet=_snippet,
        shared=(INIT_SNIPPET,),
        files=lambda args: SYSCTL_FILES,
        parse=parse_sysctl,
        subject="value",
        args_schema={
            "type": "object",
            "properties": {"name": SYSCTL_NAME},
            "required": ["name"],
            "additionalProperties": False,
        },
        cap_bytes=1024 * 1024,
        timeout_s=10,
    ),
)
