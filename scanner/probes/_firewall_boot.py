"""The ruleset the host loads at its next boot, loaded for real where nothing can see it.

The kernel's rules vanish at restart; what comes back is what an enabled loader puts
there: ``nftables.service`` (``ExecStart=nft -f FILE``, Debian /etc/nftables.conf, EL
/etc/sysconfig/nftables.conf), ``netfilter-persistent`` (Debian iptables-persistent:
/etc/iptables/rules.v4 and rules.v6 through iptables-restore), ``iptables.service`` and
``ip6tables.service`` (EL iptables-services: /etc/sysconfig/iptables, ip6tables),
firewalld (its permanent configuration) and ufw. A unit counts as enabled when systemd
would start it at boot: a ``*.wants/UNIT.service`` link under /etc/systemd/system that
is not masked (a link to /dev/null), or a SysV ``rc?.d/S??NAME`` link.

The consumers are asked, not modelled: each loader runs in a throwaway network
namespace (``unshare --net``), where it changes nothing of the host's own rules, and the
result is listed with the same ``nft -j``/``iptables -S`` the running state is read
with. A file the loader refuses leaves the boot ruleset empty, as at a real boot. The
load runs only where the kernel already has its netfilter core loaded (or cannot load
modules at all), so a scan never makes a host load a module; elsewhere the boot state is
an error.
firewalld is asked whether its runtime and permanent configurations agree (then the
running ruleset is what boot rebuilds); ufw's boot rules are not evaluated.
"""

from __future__ import annotations

import json
import re
from typing import Any

from scanner.lines import split_lines, strip
from scanner.probes._ipt_eval import input_verdict, parse_rules
from scanner.probes._nft_eval import Ruleset, family_verdict
from scanner.probes._packet import Packet
from scanner.probes._sections import Collected, section

LOADERS = ("nftables", "netfilter-persistent", "iptables", "ip6tables", "firewalld", "ufw")
_UNIT_DIRS = "/etc/systemd/system /lib/systemd/system /usr/lib/systemd/system"

_ENABLED_FUNCTION = (
    "cii_fw_enabled() { "
    "[ \"$(readlink /etc/systemd/system/$1.service 2>/dev/null)\" = /dev/null ] && return 1; "
    "for l in /etc/systemd/system/*.wants/$1.service /etc/rc[S2345].d/S[0-9][0-9]$1; do "
    "[ -e \"$l\" ] && return 0; done; return 1; }"
)
_NFT_CONF = (
    "conf=; for d in " + _UNIT_DIRS + "; do [ -f \"$d/nftables.service\" ] || continue; "
    "conf=$(head -c 65536 -- \"$d/nftables.service\" | "
    "sed -n 's/^ExecStart=[^ ]*nft .*-f *\\([^ ;]*\\).*/\\1/p' | head -n 1); break; done; "
    "[ -n \"$conf\" ] || for c in /etc/nftables.conf /etc/sysconfig/nftables.conf; do "
    "[ -f \"$c\" ] && { conf=$c; break; }; done"
)


# A scratch load must not make the host load kernel modules it has not loaded itself:
# it runs only where the kernel cannot load modules at all (no /proc/modules) or the
# netfilter core is loaded already (listed in /proc/modules, or under /sys/module).
_CORE_LOADED = ("[ ! -e /proc/modules ] || [ -d /sys/module/nf_tables ] || "
                "[ -d /sys/module/ip_tables ] || "
                "grep -qE '^(nf_tables|ip_tables|ip6_tables) ' /proc/modules")


def _scratch(unit: str, script: str, *words: str) -> str:
    """sh running ``script`` in a throwaway network namespace when ``unit`` is enabled."""
    quoted = script.replace("'", "'\\''")
    return (f"if ! cii_fw_enabled {unit}; then echo cii:not-enabled; "
            "elif ! command -v unshare >/dev/null 2>&1; then echo cii:no-unshare; "
            f"elif ! {{ {_CORE_LOADED}; }}; then echo cii:no-netfilter-module; "
            f"else unshare --net sh -c '{quoted}' sh {' '.join(words)}; fi")


_RESTORE = ("if [ ! -f \"$2\" ]; then echo cii:no-file \"$2\"; "
            "elif $1-restore < \"$2\" >/dev/null 2>&1; then $1 -S; "
            "else echo cii:load-failed \"$2\"; fi")

BOOT_SNIPPET = "; ".join([
    _ENABLED_FUNCTION,
    section("boot-loaders", f"for u in {' '.join(LOADERS)}; do "
            "if cii_fw_enabled $u; then echo $u; fi; done"),
    section("boot-nftables", _NFT_CONF + "; " + _scratch(
        "nftables", "if nft -f \"$1\" >/dev/null 2>&1; then nft -j list ruleset; "
        "else echo cii:load-failed \"$1\"; fi", "\"$conf\"")),
    section("boot-persistent-v4", _scratch("netfilter-persistent", _RESTORE, "iptables",
                                           "/etc/iptables/rules.v4")),
    section("boot-persistent-v6", _scratch("netfilter-persistent", _RESTORE, "ip6tables",
                                           "/etc/iptables/rules.v6")),
    section("boot-iptables-v4", _scratch("iptables", _RESTORE, "iptables",
                                         "/etc/sysconfig/iptables")),
    section("boot-iptables-v6", _scratch("ip6tables", _RESTORE, "ip6tables",
                                         "/etc/sysconfig/ip6tables")),
    section("boot-firewalld", "if ! cii_fw_enabled firewalld; then echo cii:not-enabled; "
            "elif ! firewall-cmd --state >/dev/null 2>&1; then echo cii:not-running; "
            "else echo cii:runtime; firewall-cmd --list-all-zones; "
            "echo cii:permanent; firewall-cmd --permanent --list-all-zones; fi"),
])

# per loader: (section, family it loads or None for both, how it is read)
_SECTIONS = (("nftables", "boot-nftables", None), ("netfilter-persistent", "boot-persistent-v4",
             "ipv4"), ("netfilter-persistent", "boot-persistent-v6", "ipv6"),
             ("iptables", "boot-iptables-v4", "ipv4"), ("ip6tables", "boot-iptables-v6", "ipv6"))


def _loader_views(collected: Collected, loaders: list[str]
                  ) -> tuple[dict[str, list[tuple[bool, str]]], list[str]]:
    views: dict[str, list[tuple[bool, str]]] = {"ipv4": [], "ipv6": []}
    errors: list[str] = []
    for loader, name, family in _SECTIONS:
        if loader not in loaders:
            continue
        found = collected.sections.get(name)
        text = strip(found.text) if found is not None else ""
        if found is None or found.exit_status != 0 or text in (
                "cii:no-unshare", "cii:not-enabled", "cii:no-netfilter-module"):
            why = split_lines(text)[:1] or ["not collected"]
            errors.append(f"{loader}: the boot ruleset could not be loaded aside ({why[0][:200]})")
            continue
        if text.startswith(("cii:no-file", "cii:load-failed")):
            what = "is missing" if text.startswith("cii:no-file") else "is refused by its loader"
            reason = f"{loader}: {text.split(' ', 1)[-1][:200]} {what}, so boot loads no rules"
            for fam in ([family] if family else ["ipv4", "ipv6"]):
                views[fam].append((False, reason))
            continue
        if family is None:
            line = next((ln for ln in split_lines(found.text) if ln.startswith("{")), "")
            ruleset = _ruleset(line)
            if ruleset is None:
                errors.append(f"{loader}: nft -j printed no ruleset for the boot file")
                continue
            for packet in (Packet("ipv4"), Packet("ipv6")):
                verdict, why_not = family_verdict(ruleset, packet)
                views[packet.family].append((verdict, f"{loader} at boot: {why_not}"))
        else:
            table = parse_rules([strip(ln) for ln in split_lines(found.text)
                                 if strip(ln) and not strip(ln).startswith("#")])
            views[family].append(input_verdict(table, Packet(family), f"{loader} at boot"))
    return views, errors


def _ruleset(line: str) -> Ruleset | None:
    try:
        document = json.loads(line)
    except ValueError:
        return None
    items = document.get("nftables") if isinstance(document, dict) else None
    return Ruleset(items) if isinstance(items, list) else None


_ZONE_MARKERS = re.compile(r"\s+\((?:default|active|default, active)\)\s*$")


def _zones(listing: str) -> list[str]:
    """``firewall-cmd --list-all-zones`` without what only the runtime shows: the
    ``(active)``/``(default)`` markers on a zone's name and its ``interfaces:`` line
    (NetworkManager binds interfaces to zones again at boot from its own profiles)."""
    kept = []
    for line in split_lines(listing):
        line = _ZONE_MARKERS.sub("", strip(line, " \t"))
        if line and not line.startswith("interfaces:"):
            kept.append(line)
    return kept


def _firewalld_same(collected: Collected) -> tuple[bool | None, str]:
    found = collected.sections.get("boot-firewalld")
    if found is None or found.exit_status != 0:
        return None, "firewalld: its configuration could not be read"
    text = found.text
    if strip(text) == "cii:not-running":
        return None, "firewalld is enabled but not running: its permanent configuration " \
            "is not evaluated"
    runtime, _, permanent = text.partition("cii:permanent")
    if _zones(runtime.removeprefix("cii:runtime")) == _zones(permanent):
        return True, "firewalld: runtime and permanent configuration agree"
    return None, "firewalld: the runtime configuration differs from the permanent one a " \
        "restart loads, which is not evaluated"


def boot_state(collected: Collected, running: dict[str, dict[str, Any]]
               ) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """Per family, whether the ruleset loaded at boot drops the probe packet; also the
    ``why`` and ``unobservable`` entries for keys ``boot.<family>.default_deny``."""
    found = collected.sections.get("boot-loaders")
    boot: dict[str, Any] = {}
    why: dict[str, str] = {}
    unobservable: dict[str, str] = {}
    if found is None or found.exit_status != 0:
        for family in ("ipv4", "ipv6"):
            unobservable[f"boot.{family}.default_deny"] = "the boot-time loaders were not read"
        return boot, why, unobservable
    loaders = [strip(line) for line in split_lines(found.text) if strip(line) in LOADERS]
    boot["loaders"] = loaders
    views, errors = _loader_views(collected, loaders)
    if "firewalld" in loaders:
        same, reason = _firewalld_same(collected)
        for family in ("ipv4", "ipv6"):
            running_why = str(running.get(family, {}).get("why", ""))
            # only firewalld's own table comes back at boot: a drop in a table someone
            # added by hand does not
            own = running_why.startswith(("inet firewalld ", "ip firewalld ", "ip6 firewalld "))
            if same and running.get(family, {}).get("default_deny") is True and own:
                views[family].append((True, f"{reason}; {running_why}"))
            elif same:
                views[family].append((False, f"{reason}, but firewalld's table is not what "
                                      f"drops it now ({running_why})"))
            else:
                errors.append(reason)
    if "ufw" in loaders:
        errors.append("ufw is enabled: the rules it loads at boot are not evaluated")
    for family in ("ipv4", "ipv6"):
        key = f"boot.{family}.default_deny"
        if running.get(family, {}).get("ipv6_absent"):
            # (disable_ipv6 set now may not be set after a restart: only a kernel without
            # IPv6 counts as closed at boot)
            boot[family] = {"default_deny": True, "why": running[family]["why"]}
            continue
        denying = [reason for denies, reason in views[family] if denies]
        if denying:
            boot[family] = {"default_deny": True, "why": denying[0]}
        elif errors:
            unobservable[key] = "; ".join(dict.fromkeys(errors))
        elif not loaders:
            why[key] = ("no firewall is loaded at boot (none of nftables, netfilter-persistent, "
                        "iptables, ip6tables, firewalld, ufw is enabled): the running rules "
                        "are gone after a restart")
            boot[family] = {"default_deny": False, "why": why[key]}
        else:
            reasons = "; ".join(reason for _, reason in views[family]) or (
                f"no enabled loader ({', '.join(loaders)}) loads {family} rules")
            why[key] = (f"after a restart a new inbound {family} TCP connection is not "
                        f"dropped: {reasons}")
            boot[family] = {"default_deny": False, "why": why[key]}
    return boot, why, unobservable
