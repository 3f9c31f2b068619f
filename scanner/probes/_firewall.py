"""The firewall probe: does the kernel drop an unsolicited inbound connection, per family?

The kernel is asked through its own tools, read-only: ``nft -j list ruleset`` (every
nf_tables table: nftables, iptables-nft, firewalld, ufw on nft), ``iptables -S`` and
``ip6tables -S`` for the nf_tables and the legacy back end (legacy only when its tables
are already loaded, /proc/net/ip{,6}_tables_names, since asking would load the module),
and /proc/sys/net/ipv6 for whether IPv6 packets are received at all. Each view is walked
with the probe packet of ``_packet``; a family is default-deny when any view proves
that a base chain on its input hook drops it (a drop is final in every back end).

IPv6 counts unless the kernel drops IPv6 itself: no /proc/sys/net/ipv6 (booted with
``ipv6.disable=1``), or ``disable_ipv6 = 1`` on every interface but ``lo`` and in
``default`` (Linux ``ipv6_rcv`` drops packets on an interface whose ``disable_ipv6``
is set; ``default`` is what a new interface gets).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import BLANKS, split_lines, strip
from scanner.probes import ProbeResult, RawOutput
from scanner.probes._firewall_boot import BOOT_SNIPPET, boot_state
from scanner.probes._ipt_eval import input_verdict, parse_rules
from scanner.probes._nft_eval import Ruleset, family_verdict
from scanner.probes._packet import Packet
from scanner.probes._sections import Collected, collector_uid, section, split_sections

_IPTABLES_TOOLS = ("iptables-legacy", "ip6tables-legacy", "iptables-nft", "ip6tables-nft",
                   "iptables-plain", "ip6tables-plain")


def _legacy(tool: str, names: str) -> str:
    return section(tool, f"if ! command -v {tool} >/dev/null 2>&1; then echo cii:missing; "
                   f"elif grep -q . {names} 2>/dev/null; then {tool} -S; "
                   "else echo cii:not-loaded; fi")


def _plain(tool: str) -> str:
    """A plain ``iptables`` that is neither back end by name (older distributions)."""
    return section(f"{tool}-plain", f"if command -v {tool}-legacy >/dev/null 2>&1 || "
                   f"command -v {tool}-nft >/dev/null 2>&1; then echo cii:skipped; "
                   f"elif command -v {tool} >/dev/null 2>&1; then {tool} -S; "
                   "else echo cii:missing; fi")


FIREWALL_SNIPPET = "; ".join([
    section("nft-json", "if command -v nft >/dev/null 2>&1; then nft -j list ruleset; "
            "else echo cii:missing; fi"),
    _legacy("iptables-legacy", "/proc/net/ip_tables_names"),
    _legacy("ip6tables-legacy", "/proc/net/ip6_tables_names"),
    section("iptables-nft", "if command -v iptables-nft >/dev/null 2>&1; then "
            "iptables-nft -S; else echo cii:missing; fi"),
    section("ip6tables-nft", "if command -v ip6tables-nft >/dev/null 2>&1; then "
            "ip6tables-nft -S; else echo cii:missing; fi"),
    _plain("iptables"),
    _plain("ip6tables"),
    section("ipv6", "if [ -d /proc/sys/net/ipv6 ]; then "
            "for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do "
            "v=; read -r v < \"$f\" 2>/dev/null; printf '%s %s\\n' \"$f\" \"$v\"; done; "
            "else echo cii:absent; fi"),
    BOOT_SNIPPET,
])

_FAMILIES = (Packet("ipv4"), Packet("ipv6"))
_CONF = re.compile(r"^/proc/sys/net/ipv6/conf/([^/]+)/disable_ipv6 ?(.*)$")


def _tool_error(text: str, status: int | None, uid: int | None, tool: str) -> str:
    first = next((strip(line) for line in split_lines(text) if strip(line)), "")
    why = first[:200] or (f"exit status {status}" if status is not None else "output cut short")
    if uid not in (0, None) or re.search(r"(?i)permission|not permitted|must be root", why):
        why += " (reading the packet filter needs root: scan as root or with --sudo)"
    return f"{tool}: {why}"


def _ipv6_receives(collected: Collected) -> tuple[bool, str]:
    """Whether the kernel takes in IPv6 packets on some non-loopback interface."""
    found = collected.sections.get("ipv6")
    if found is None or found.exit_status is None:
        return True, "IPv6 state not read: counted as enabled"
    if strip(found.text) == "cii:absent":
        return False, "IPv6 is not in the kernel (no /proc/sys/net/ipv6)"
    values = {}
    for line in split_lines(found.text):
        match = _CONF.match(line)
        if match:
            values[match.group(1)] = strip(match.group(2), BLANKS)
    others = {name: value for name, value in values.items() if name not in ("lo", "all")}
    if "default" in others and all(value == "1" for value in others.values()):
        return False, "IPv6 is disabled (disable_ipv6 = 1 on every interface and default)"
    enabled = sorted(name for name, value in others.items() if value != "1")
    return True, f"IPv6 is enabled ({', '.join(enabled[:5]) or 'state unreadable'})"


def _nft_views(collected: Collected, uid: int | None) -> tuple[dict[str, Any], list[str]]:
    """nftables' verdict per family, or why it could not be read."""
    found = collected.sections.get("nft-json")
    if found is None or strip(found.text) == "cii:missing":
        return {}, []
    text = next((line for line in split_lines(found.text) if line.startswith("{")), "")
    document: Any = None
    if found.exit_status == 0:
        try:
            document = json.loads(text)
        except ValueError:
            document = None
    items = document.get("nftables") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return {}, [_tool_error(found.text, found.exit_status, uid, "nft -j list ruleset")]
    ruleset = Ruleset(items)
    return {packet.family: family_verdict(ruleset, packet) for packet in _FAMILIES}, []


def _iptables_views(collected: Collected, uid: int | None
                    ) -> tuple[dict[str, list[tuple[bool, str]]], dict[str, list[str]], bool]:
    """iptables' verdicts per family, and per family the tools that could not be read."""
    views: dict[str, list[tuple[bool, str]]] = {"ipv4": [], "ipv6": []}
    errors: dict[str, list[str]] = {"ipv4": [], "ipv6": []}
    present = False
    for tool in _IPTABLES_TOOLS:
        found = collected.sections.get(tool)
        if found is None:
            continue
        marker = strip(found.text)
        if marker in ("cii:missing", "cii:skipped"):
            continue
        present = True
        if marker == "cii:not-loaded":
            continue  # legacy tables not in the kernel: nothing filters there
        family = "ipv6" if tool.startswith("ip6") else "ipv4"
        if found.exit_status != 0:
            errors[family].append(_tool_error(found.text, found.exit_status, uid, tool))
            continue
        lines = [strip(line) for line in split_lines(found.text)]
        table = parse_rules([line for line in lines if line and not line.startswith("#")])
        if not table.policies:
            errors[family].append(f"{tool}: printed no chain policies")
            continue
        views[family].append(input_verdict(table, Packet(family), tool))
    return views, errors, present


def parse_firewall(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    if "uid" not in collected.sections:
        return ProbeResult.failed("the firewall snippet printed nothing recognisable")
    uid = collector_uid(collected)
    nft, nft_errors = _nft_views(collected, uid)
    iptables, ipt_errors, iptables_present = _iptables_views(collected, uid)
    nft_present = "nft-json" in collected.sections and \
        strip(collected.sections["nft-json"].text) != "cii:missing"
    errors = nft_errors + ipt_errors["ipv4"] + ipt_errors["ipv6"]
    ipv6_on, ipv6_why = _ipv6_receives(collected)
    data: dict[str, Any] = {"nftables": {"present": nft_present},
                            "iptables": {"present": iptables_present},
                            "ipv6_enabled": ipv6_on}
    why: dict[str, str] = {}
    unobservable: dict[str, str] = {}
    for packet in _FAMILIES:
        family = packet.family
        views = ([("nftables", *nft[family])] if family in nft else []) + [
            ("iptables", *view) for view in iptables[family]]
        for tool, denies, reason in views:
            data[tool][family] = {"default_deny": denies, "why": reason}
        denying = [reason for _, denies, reason in views if denies]
        key = f"{family}.default_deny"
        if family == "ipv6" and not ipv6_on:
            data[family] = {"default_deny": True, "why": ipv6_why}
            if "not in the kernel" in ipv6_why:
                data[family]["ipv6_absent"] = True
        elif denying:
            data[family] = {"default_deny": True, "why": denying[0]}
        elif nft_errors or ipt_errors[family] or not (nft_present or iptables_present):
            unobservable[key] = "; ".join(nft_errors + ipt_errors[family]) or (
                "neither nft nor iptables is installed: the kernel's packet filter cannot be read")
            data[family] = {"why": unobservable[key]}
        else:
            reasons = "; ".join(reason for _, _, reason in views)
            why[key] = f"a new inbound {family} TCP connection is not dropped: {reasons}"
            data[family] = {"default_deny": False, "why": why[key]}
    if errors and all(f"{p.family}.default_deny" in unobservable for p in _FAMILIES):
        return ProbeResult.failed("; ".join(errors))
    boot, boot_why, boot_unobservable = boot_state(collected, data)
    data["boot"] = boot
    why.update(boot_why)
    unobservable.update(boot_unobservable)
    data["inbound_default_deny"] = all(data[p.family].get("default_deny") is True
                                       for p in _FAMILIES)
    if why:
        data["why"] = why
    if unobservable:
        data["unobservable"] = unobservable
    if errors:
        data["errors"] = errors
    return ProbeResult.ok(data)

