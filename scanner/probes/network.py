"""What a host exposes: installed packages, listening sockets and its packet filter.

Listening sockets come from the kernel itself: ``ss`` (iproute2 6.1, sock_diag
netlink; process names when the collector is root) or, when ``ss`` is missing,
/proc/net/{tcp,tcp6,udp,udp6}. A socket on a loopback address, or bound to the ``lo``
device (``ss`` prints ``ADDR%lo``), takes connections from this host only; a socket on
``::`` takes IPv4 too unless it is IPv6-only, and either way it is not loopback. The
firewall probe lives in ``_firewall`` (running ruleset) and ``_firewall_boot`` (the
ruleset loaded at the next boot).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import fields, split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._firewall import FIREWALL_SNIPPET, parse_firewall
from scanner.probes._sections import (
    UID_SNIPPET,
    collector_uid,
    section,
    section_lines,
    split_sections,
)

# ---------------------------------------------------------------- packages

_PACKAGES_SNIPPET = "; ".join([
    section("dpkg", "if command -v dpkg-query >/dev/null 2>&1; then "
            "dpkg-query -W -f='${db:Status-Abbrev}\\t${Package}\\t${Version}\\n'; "
            "else echo cii:missing; fi"),
    section("rpm", "if command -v dpkg-query >/dev/null 2>&1; then echo cii:skipped; "
            "elif command -v rpm >/dev/null 2>&1; then "
            "rpm -qa --qf '%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n'; "
            "else echo cii:missing; fi"),
])

MAX_PACKAGES = 20_000
_PACKAGE_NAME = re.compile(r"[A-Za-z0-9+._:@-]{1,200}")
# dpkg's package states, the second letter of ${db:Status-Abbrev} (dpkg-query(1)). Listed
# are those whose files may be on disk: everything but not-installed and config-files
# (only conffiles left). "configured" is dpkg's own line for a package that satisfies a
# dependency (dpkg 1.21, src/main/packages.c deppossi_ok_found: FOUND_OK for installed
# and triggers-pending only; unpacked, half-configured and triggers-awaited do not).
_DPKG_STATES = {"H": "half-installed", "U": "unpacked", "F": "half-configured",
                "W": "triggers-awaited", "t": "triggers-pending", "i": "installed"}
_CONFIGURED_STATES = ("installed", "triggers-pending")


def parse_packages(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    for manager in ("dpkg", "rpm"):
        found = collected.sections.get(manager)
        if found is None:
            continue
        first = split_lines(found.text.strip())[:1]
        if first in (["cii:missing"], ["cii:skipped"]):
            continue
        if found.exit_status is None:
            return ProbeResult.failed(f"{manager} package list was cut short")
        if found.exit_status != 0:
            why = first[0][:200] if first else f"exit status {found.exit_status}"
            return ProbeResult.failed(f"{manager} could not list packages: {why}")
        packages: dict[str, tuple[str, str]] = {}
        for line in split_lines(found.text):
            fields = line.split("\t")
            if manager == "dpkg":
                # db:Status-Abbrev is want/status/error flags
                if len(fields) != 3 or len(fields[0]) < 2 or fields[0][1] not in _DPKG_STATES:
                    continue
                name, version, state = fields[1], fields[2], _DPKG_STATES[fields[0][1]]
            else:
                if len(fields) != 2:
                    continue
                (name, version), state = fields, "installed"
            if name and _PACKAGE_NAME.fullmatch(name):
                packages.setdefault(name, (version.strip(" \t")[:200], state))
        if not packages:
            return ProbeResult.failed(f"{manager} listed no installed packages")
        if len(packages) > MAX_PACKAGES:
            return ProbeResult.failed(f"{manager} listed more than {MAX_PACKAGES} packages")
        return ProbeResult.ok({
            "manager": manager,
            "count": len(packages),
            "packages": [{"name": n, "version": v, "state": state,
                          "configured": state in _CONFIGURED_STATES}
                         for n, (v, state) in sorted(packages.items())],
        })
    return ProbeResult.failed("neither dpkg-query nor rpm is available on the host")


# ---------------------------------------------------------------- listening sockets

_PROC_NET = ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6")

_LISTENING_SNIPPET = "; ".join([
    section("ss", "if command -v ss >/dev/null 2>&1; then "
            "if [ \"$CII_UID\" = 0 ]; then ss -tulnp; else ss -tuln; fi; "
            "else echo cii:missing; fi"),
    "if ! command -v ss >/dev/null 2>&1; then "
    + "; ".join(section("proc " + path, f"cat {path}") for path in _PROC_NET)
    + "; fi",
])

_SS_PROCESS = re.compile(r'\(\("([^"]{1,64})"')


def is_loopback(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address == "localhost"
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped.is_loopback
    return parsed.is_loopback


def _split_endpoint(endpoint: str) -> tuple[str, int, str] | None:
    """``0.0.0.0:22``, ``[::]:22``, ``*:22``, ``127.0.0.53%lo:53`` → address, port, device.

    ss (iproute2 6.1, ``inet_addr_print``) appends ``%DEV`` when the socket is bound to a
    device (SO_BINDTODEVICE) or, for a link-local IPv6 address, its scope."""
    address, sep, port_text = endpoint.rpartition(":")
    if not sep or not port_text.isdigit():
        return None
    address, _, device = address.partition("%")
    address = address.removeprefix("[").removesuffix("]")
    if address == "*":
        address = "0.0.0.0"  # noqa: S104 (a reported wildcard, not a bind)
    port = int(port_text)
    if not 0 <= port <= 65535:
        return None
    return address, port, device


def _parse_ss(lines: list[str], sockets: set[tuple[str, str, int, str, bool]]) -> None:
    for line in lines:
        words = fields(line)
        if len(words) < 5 or words[0] not in ("tcp", "udp"):
            continue
        state = words[1]
        if words[0] == "tcp" and state != "LISTEN":
            continue
        if words[0] == "udp" and state not in ("UNCONN", "LISTEN"):
            continue
        endpoint = _split_endpoint(words[4])
        if endpoint is None:
            continue
        match = _SS_PROCESS.search(line)
        sockets.add((words[0], endpoint[0], endpoint[1], match.group(1) if match else "",
                     endpoint[2] == "lo"))


def _proc_address(hex_address: str) -> str | None:
    try:
        raw_bytes = bytes.fromhex(hex_address)
    except ValueError:
        return None
    if len(raw_bytes) == 4:
        return str(ipaddress.IPv4Address(raw_bytes[::-1]))
    if len(raw_bytes) == 16:  # four host-order (little-endian) 32-bit words
        words = b"".join(raw_bytes[i:i + 4][::-1] for i in range(0, 16, 4))
        return str(ipaddress.IPv6Address(words))
    return None


def _parse_proc_net(path: str, text: str, sockets: set[tuple[str, str, int, str, bool]]) -> None:
    proto = "tcp" if "tcp" in path else "udp"
    for line in split_lines(text)[1:]:
        words = fields(line)
        if len(words) < 4 or ":" not in words[1]:
            continue
        state = words[3].upper()
        if (proto == "tcp" and state != "0A") or (proto == "udp" and state != "07"):
            continue
        hex_address, _, hex_port = words[1].partition(":")
        address = _proc_address(hex_address)
        try:
            port = int(hex_port, 16)
        except ValueError:
            continue
        if address is not None and 0 <= port <= 65535:
            sockets.add((proto, address, port, "", False))  # (no device shown here)


def parse_listening(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    sockets: set[tuple[str, str, int, str, bool]] = set()
    ss_section = collected.sections.get("ss")
    proc_sections = {name: s for name, s in collected.sections.items() if name.startswith("proc ")}
    if ss_section is not None and ss_section.text.strip() != "cii:missing":
        if ss_section.exit_status != 0:
            why = split_lines(ss_section.text.strip())[:1] or [f"exit {ss_section.exit_status}"]
            return ProbeResult.failed(f"ss failed: {why[0][:200]}")
        method = "ss"
        _parse_ss(section_lines(collected, "ss"), sockets)
        if not sockets and not any(line.startswith("Netid") for line in
                                   section_lines(collected, "ss")):
            return ProbeResult.failed("ss printed nothing recognisable")
    elif proc_sections:
        method = "/proc/net"
        readable = 0
        for name, found in sorted(proc_sections.items()):
            if found.exit_status == 0:
                readable += 1
                _parse_proc_net(name.removeprefix("proc "), found.text, sockets)
        if readable == 0:
            return ProbeResult.failed("ss is missing and /proc/net/{tcp,udp}* are not readable")
    else:
        return ProbeResult.failed("ss is missing and /proc/net was not read")
    uid = collector_uid(collected)
    data: dict[str, Any] = {
        "method": method,
        "sockets": [
            {"proto": proto, "address": address, "port": port,
             "loopback": on_lo or is_loopback(address),
             **({"process": process} if process else {})}
            for proto, address, port, process, on_lo in sorted(sockets)
        ],
    }
    if method != "ss" or uid != 0:
        data["process_names"] = ("not shown: " + ("ss is missing" if method != "ss"
                                                  else "the collector is not root"))
    return ProbeResult.ok(data)


PROBES = (
    Probe(
        name="packages",
        summary="packages whose files are on disk, with versions, dpkg state and whether "
        "configured (dpkg-query, or rpm when dpkg is absent)",
        snippet=lambda args: _PACKAGES_SNIPPET,
        parse=parse_packages,
        subject="packages",
        cap_bytes=4 * 1024 * 1024,
    ),
    Probe(
        name="listening",
        summary="listening TCP and UDP sockets (ss, or /proc/net when ss is missing), "
        "with a loopback-only flag and process names when root",
        snippet=lambda args: _LISTENING_SNIPPET,
        shared=(UID_SNIPPET,),
        parse=parse_listening,
        subject="sockets",
        cap_bytes=2 * 1024 * 1024,
    ),
    Probe(
        name="firewall",
        summary="nftables and iptables (legacy and nft back ends), walked with a new inbound "
        "TCP connection: whether IPv4 and IPv6 each drop it by default",
        snippet=lambda args: FIREWALL_SNIPPET,
        shared=(UID_SNIPPET,),
        parse=parse_firewall,
        cap_bytes=4 * 1024 * 1024,
    ),
)
