"""What a host exposes: installed packages, listening sockets and its packet filter.

Listening sockets come from ``ss`` (with process names when the collector is
root) or, when ``ss`` is missing, from /proc/net/{tcp,tcp6,udp,udp6}. The
firewall probe reads nftables and both iptables back ends without changing
anything: legacy iptables is only asked when its tables are already loaded
(/proc/net/ip_tables_names), because asking would load the kernel module.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import print_lines
from scanner.probes._sections import (
    UID_SNIPPET,
    Collected,
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


def _split_endpoint(endpoint: str) -> tuple[str, int] | None:
    """``0.0.0.0:22``, ``[::]:22``, ``*:22``, ``127.0.0.53%lo:53`` → address, port."""
    address, sep, port_text = endpoint.rpartition(":")
    if not sep or not port_text.isdigit():
        return None
    address = address.strip("[]")
    address = address.split("%", 1)[0]
    if address == "*":
        address = "0.0.0.0"  # noqa: S104 (a reported wildcard, not a bind)
    port = int(port_text)
    if not 0 <= port <= 65535:
        return None
    return address, port


def _parse_ss(lines: list[str], sockets: set[tuple[str, str, int, str]]) -> None:
    for line in lines:
        words = line.split()
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
        sockets.add((words[0], endpoint[0], endpoint[1], match.group(1) if match else ""))


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


def _parse_proc_net(path: str, text: str, sockets: set[tuple[str, str, int, str]]) -> None:
    proto = "tcp" if "tcp" in path else "udp"
    for line in split_lines(text)[1:]:
        words = line.split()
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
            sockets.add((proto, address, port, ""))


def parse_listening(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    sockets: set[tuple[str, str, int, str]] = set()
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
            {"proto": proto, "address": address, "port": port, "loopback": is_loopback(address),
             **({"process": process} if process else {})}
            for proto, address, port, process in sorted(sockets)
        ],
    }
    if method != "ss" or uid != 0:
        data["process_names"] = ("not shown: " + ("ss is missing" if method != "ss"
                                                  else "the collector is not root"))
    return ProbeResult.ok(data)


# ---------------------------------------------------------------- firewall

_FIREWALL_SNIPPET = "; ".join([
    section("nft-json", "if command -v nft >/dev/null 2>&1; then nft -j list ruleset; "
            "else echo cii:missing; fi"),
    section("nft-text", "if command -v nft >/dev/null 2>&1; then nft list ruleset; "
            "else echo cii:missing; fi"),
    section("iptables-legacy-loaded", print_lines("/proc/net/ip_tables_names") + "; true"),
    section("ip6tables-legacy-loaded", print_lines("/proc/net/ip6_tables_names") + "; true"),
    # (each tool found with the shell's own ``command -v``: no subshell per tool)
    section("iptables-legacy", "if ! command -v iptables-legacy >/dev/null 2>&1; then "
            "echo cii:missing; elif grep -q . /proc/net/ip_tables_names 2>/dev/null; then "
            "iptables-legacy -S; else echo cii:not-loaded; fi"),
    section("ip6tables-legacy", "if ! command -v ip6tables-legacy >/dev/null 2>&1; then "
            "echo cii:missing; elif grep -q . /proc/net/ip6_tables_names 2>/dev/null; then "
            "ip6tables-legacy -S; else echo cii:not-loaded; fi"),
    section("iptables-nft", "if command -v iptables-nft >/dev/null 2>&1; then "
            "iptables-nft -S; else echo cii:missing; fi"),
    section("ip6tables-nft", "if command -v ip6tables-nft >/dev/null 2>&1; then "
            "ip6tables-nft -S; else echo cii:missing; fi"),
    # a plain iptables that is neither (old distributions ship only this one)
    section("iptables-plain", "if command -v iptables-legacy >/dev/null 2>&1 || "
            "command -v iptables-nft >/dev/null 2>&1; then echo cii:skipped; "
            "elif command -v iptables >/dev/null 2>&1; then iptables -S; "
            "else echo cii:missing; fi"),
])

_DENY = ("drop", "reject")
_PASSIVE_EXPRESSIONS = frozenset({"counter", "log", "limit"})


def _tool_error(text: str, status: int | None, uid: int | None, tool: str) -> str:
    first = next((line.strip() for line in split_lines(text) if line.strip()), "")
    why = first[:200] or (f"exit status {status}" if status is not None else "output cut short")
    if uid not in (0, None) or re.search(r"(?i)permission|not permitted|must be root", why):
        why += " (reading the packet filter needs root: scan as root or with --sudo)"
    return f"{tool}: {why}"


def _expression_name(expression: dict[str, Any]) -> str:
    """An nft JSON expression's kind; an iptables-nft ``xt`` DROP/REJECT target is a verdict."""
    name = str(next(iter(expression)))
    target = expression.get("xt")
    if name == "xt" and isinstance(target, dict) and target.get("type") == "target":
        return str(target.get("name", "xt")).lower()
    return name


def _nft_from_json(text: str) -> list[dict[str, Any]] | None:
    """Input base chains from ``nft -j list ruleset``; None when it is not that JSON."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    items = document.get("nftables") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return None
    chains: dict[tuple[str, str, str], dict[str, Any]] = {}
    rules: dict[tuple[str, str, str], list[list[Any]]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        chain = item.get("chain")
        rule = item.get("rule")
        if isinstance(chain, dict):
            key = (str(chain.get("family")), str(chain.get("table")), str(chain.get("name")))
            chains[key] = chain
        elif isinstance(rule, dict):
            key = (str(rule.get("family")), str(rule.get("table")), str(rule.get("chain")))
            expressions = rule.get("expr")
            rules.setdefault(key, []).append(expressions if isinstance(expressions, list)
                                             else [])
    found = []
    for key, chain in sorted(chains.items()):
        if chain.get("hook") != "input" or chain.get("family") not in ("ip", "ip6", "inet"):
            continue
        chain_rules = rules.get(key, [])
        last = chain_rules[-1] if chain_rules else []
        names = [_expression_name(e) for e in last if isinstance(e, dict) and e]
        catch_all = (bool(names) and names[-1] in _DENY
                     and all(n in _PASSIVE_EXPRESSIONS for n in names[:-1]))
        found.append({"family": key[0], "table": key[1], "chain": key[2],
                      "policy": str(chain.get("policy", "accept")).lower(),
                      "rule_count": len(chain_rules), "final_catch_all_deny": catch_all})
    return found


_NFT_TABLE = re.compile(r"^table\s+(\S+)\s+(\S+)\s*\{")
_NFT_CHAIN = re.compile(r"^chain\s+(\S+)\s*\{")
_NFT_HOOK = re.compile(r"\btype\s+\S+\s+hook\s+(\S+)\b.*?(?:policy\s+(\w+))?\s*;?\s*$")
_NFT_PASSIVE_WORDS = re.compile(r"^(counter(\s+packets\s+\d+\s+bytes\s+\d+)?\s+)?"
                                r"(log(\s+prefix\s+\"[^\"]*\")?\s+)?(drop|reject.*)$")


def _nft_from_text(text: str) -> list[dict[str, Any]]:
    """Input base chains from ``nft list ruleset`` text output."""
    found: list[dict[str, Any]] = []
    table: tuple[str, str] | None = None
    chain: dict[str, Any] | None = None
    last_rule = ""
    for line in split_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        table_match = _NFT_TABLE.match(stripped)
        chain_match = _NFT_CHAIN.match(stripped)
        if table_match:
            table = (table_match.group(1), table_match.group(2))
        elif chain_match and table is not None:
            chain = {"family": table[0], "table": table[1], "chain": chain_match.group(1),
                     "policy": "accept", "rule_count": 0, "hook": None}
            last_rule = ""
        elif chain is not None and stripped == "}":
            chain["final_catch_all_deny"] = bool(_NFT_PASSIVE_WORDS.match(last_rule))
            if chain.pop("hook") == "input" and chain["family"] in ("ip", "ip6", "inet"):
                found.append(chain)
            chain = None
        elif chain is not None and stripped.startswith("type ") and " hook " in stripped:
            hook = _NFT_HOOK.search(stripped)
            if hook:
                chain["hook"] = hook.group(1)
            policy = re.search(r"\bpolicy\s+(\w+)", stripped)
            if policy:
                chain["policy"] = policy.group(1).lower()
        elif chain is not None:
            chain["rule_count"] += 1
            last_rule = stripped
        elif stripped == "}":
            table = None
    return found


def _nftables_state(collected: Collected, uid: int | None) -> dict[str, Any]:
    json_section = collected.sections.get("nft-json")
    text_section = collected.sections.get("nft-text")
    if json_section is None or json_section.text.strip() == "cii:missing":
        return {"present": False, "active": False, "default_deny": False}
    chains: list[dict[str, Any]] | None = None
    if json_section.exit_status == 0:
        chains = _nft_from_json(json_section.text)
    if chains is None and text_section is not None and text_section.exit_status == 0:
        chains = _nft_from_text(text_section.text)
    if chains is None:
        failing = json_section if json_section.exit_status != 0 else text_section
        return {"present": True, "error": _tool_error(
            failing.text if failing else "", failing.exit_status if failing else None, uid,
            "nft")}
    return _summarise("nftables", chains, tables_present=_nft_has_tables(collected))


def _nft_has_tables(collected: Collected) -> bool:
    text = collected.sections.get("nft-text")
    if text is not None and text.exit_status == 0:
        return any(_NFT_TABLE.match(line.strip()) for line in split_lines(text.text))
    json_text = collected.sections.get("nft-json")
    return json_text is not None and '"table"' in json_text.text


def _summarise(tool: str, chains: list[dict[str, Any]], tables_present: bool
               ) -> dict[str, Any]:
    denying = [c for c in chains if c["policy"] in _DENY or c["final_catch_all_deny"]]
    policies = sorted({c["policy"] for c in chains})
    return {
        "present": True,
        "active": tables_present or bool(chains),
        "input_chains": chains,
        "input_policy": ("drop" if any(c["policy"] == "drop" for c in chains)
                         else policies[0] if policies else "none"),
        "rule_count": sum(int(c["rule_count"]) for c in chains),
        "default_deny": bool(denying),
    }


def _iptables_chains(lines: list[str], backend: str) -> tuple[list[dict[str, Any]], bool]:
    """The INPUT chain of ``iptables -S`` output, and whether it printed any policy at all."""
    policy = None
    input_rules: list[str] = []
    any_policy = False
    for line in lines:
        words = line.split()
        if len(words) >= 3 and words[0] == "-P":
            any_policy = True
            if words[1] == "INPUT":
                policy = words[2].upper()
        elif len(words) >= 2 and words[0] == "-A" and words[1] == "INPUT":
            input_rules.append(" ".join(words[2:]))
    if policy is None:
        return [], any_policy
    last = input_rules[-1] if input_rules else ""
    catch_all = bool(re.fullmatch(r"-j (DROP|REJECT)( --reject-with \S+)?", last))
    return [{"family": backend, "table": "filter", "chain": "INPUT", "policy": policy.lower(),
             "rule_count": len(input_rules), "final_catch_all_deny": catch_all}], any_policy


def _iptables_state(collected: Collected, uid: int | None) -> dict[str, Any]:
    chains: list[dict[str, Any]] = []
    errors: list[str] = []
    present = False
    for name in ("iptables-legacy", "ip6tables-legacy", "iptables-nft", "ip6tables-nft",
                 "iptables-plain"):
        found = collected.sections.get(name)
        if found is None:
            continue
        marker = found.text.strip()
        if marker in ("cii:missing", "cii:skipped"):
            continue
        present = True
        if marker == "cii:not-loaded":
            continue  # legacy tables not in the kernel: nothing filters there
        if found.exit_status != 0:
            errors.append(_tool_error(found.text, found.exit_status, uid, name))
            continue
        lines = [line.strip() for line in split_lines(found.text) if line.strip()]
        found_chains, printed_policy = _iptables_chains(lines, name)
        if not printed_policy:
            errors.append(f"{name}: printed no chain policies")
        chains.extend(found_chains)
    if not present:
        return {"present": False, "active": False, "default_deny": False}
    state = _summarise("iptables", chains, tables_present=any(
        c["rule_count"] or c["policy"] != "accept" for c in chains))
    state["input_policy"] = state["input_policy"].upper()
    if errors:
        state["errors"] = errors
        if not state["default_deny"]:
            state = {"present": True, "error": "; ".join(errors)}
    return state


def parse_firewall(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    collected = split_sections(raw)
    if "uid" not in collected.sections:
        return ProbeResult.failed("the firewall snippet printed nothing recognisable")
    uid = collector_uid(collected)
    tools = {"nftables": _nftables_state(collected, uid),
             "iptables": _iptables_state(collected, uid)}
    deny_by = sorted(name for name, state in tools.items() if state.get("default_deny"))
    errored = {name: str(state["error"]) for name, state in tools.items() if "error" in state}
    if errored and not deny_by:
        return ProbeResult.failed("; ".join(errored.values()))
    data: dict[str, Any] = {**tools, "inbound_default_deny": bool(deny_by), "deny_by": deny_by}
    if errored:
        data["unobservable"] = {f"{name}.default_deny": why for name, why in errored.items()}
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
        summary="nftables and iptables (legacy and nft back ends): input policy, rule count, "
        "and whether inbound traffic is denied by default",
        snippet=lambda args: _FIREWALL_SNIPPET,
        shared=(UID_SNIPPET,),
        parse=parse_firewall,
        cap_bytes=4 * 1024 * 1024,
    ),
)
