"""What iptables' filter/INPUT does with the default-deny probe packet (see ``_packet``).

Reads ``iptables -S`` / ``ip6tables -S`` (the filter table, as iptables 1.8 prints it
for both the legacy and the nf_tables back end; iptables(8), iptables-extensions(8)):
``-P CHAIN POLICY``, ``-N CHAIN`` and ``-A CHAIN [!] -opt value … -j TARGET``. A rule
matches when every match holds; ``-j`` to a user chain returns to the next rule when
the callee falls off its end or hits ``RETURN``, ``-g`` does not; falling off INPUT
applies its policy. ``-S`` quotes a comment with ``"`` and escapes ``"`` and ``\\``
inside it, which :func:`shlex.split` reverses.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from scanner.lines import BLANKS, fields
from scanner.probes._packet import (
    ACCEPT,
    CONTINUE,
    DROP,
    MAX_CHAIN_DEPTH,
    RETURN,
    Census,
    Match,
    Packet,
    Verdicts,
    hook_verdict,
    negate,
    ports_cover_all,
    prefix_is_everything,
)

_PASSIVE_TARGETS = frozenset({"LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "TRACE", "AUDIT",
                              "CT", "NOTRACK", "TCPMSS", "TOS", "DSCP", "CLASSIFY", "SECMARK",
                              "CONNSECMARK", "TEE", "CHECKSUM", "IDLETIMER", "LED"})
_SOURCE_PORT_OPTIONS = frozenset({"--sport", "--source-port", "--sports", "--source-ports"})
_PORT_OPTIONS = _SOURCE_PORT_OPTIONS | {"--dport", "--destination-port", "--dports",
                                        "--destination-ports", "--ports"}
_BUILTIN = frozenset({"INPUT", "FORWARD", "OUTPUT"})


@dataclass
class Table:
    """The filter table as ``iptables -S`` printed it."""

    policies: dict[str, str] = field(default_factory=dict)
    chains: set[str] = field(default_factory=set)
    rules: dict[str, list[list[str]]] = field(default_factory=dict)


def parse_rules(lines: list[str]) -> Table:
    table = Table()
    for line in lines:
        try:
            words = shlex.split(line, comments=False, posix=True)
        except ValueError:
            words = [*fields(line, BLANKS), "--cii-unparsed"]
        if len(words) >= 3 and words[0] == "-P":
            table.policies[words[1]] = words[2].lower()
            table.chains.add(words[1])
        elif len(words) >= 2 and words[0] == "-N":
            table.chains.add(words[1])
        elif len(words) >= 2 and words[0] == "-A":
            table.chains.add(words[1])
            table.rules.setdefault(words[1], []).append(words[2:])
    return table


def _port_ranges(text: str) -> list[tuple[int, int]] | None:
    ranges = []
    for part in text.split(","):
        low, colon, high = part.partition(":")
        if (low and not low.isdigit()) or (high and not high.isdigit()):
            return None  # a service name: one port, but which one is unknown here
        start = int(low) if low else 0
        ranges.append((start, int(high) if high else (65535 if colon else start)))
    return ranges


def _option_match(option: str, value: str, packet: Packet) -> Match:
    if option in ("-p", "--protocol"):
        tcp = value.lower() in ("tcp", "6", "all", "0")
        return Match.YES if tcp else Match.NO
    if option in ("-i", "--in-interface"):
        return Match.NO if value == "lo" else Match.MAYBE
    if option in ("-s", "--source", "--src"):
        everything = [prefix_is_everything(part) for part in value.split(",")]
        if None in everything:
            return Match.MAYBE
        return packet.arbitrary_in("saddr", any(everything))
    if option in _PORT_OPTIONS:
        ranges = _port_ranges(value)
        name = "sport" if option in _SOURCE_PORT_OPTIONS else "dport"
        if option == "--ports":
            return Match.MAYBE  # either port of the connection
        return Match.MAYBE if ranges is None else packet.arbitrary_in(name,
                                                                      ports_cover_all(ranges))
    if option in ("--ctstate", "--state"):
        return Match.YES if "NEW" in value.upper().split(",") else Match.NO
    return Match.MAYBE


_VALUELESS = frozenset({"-f", "--fragment", "--syn", "--rcheck", "--update", "--set"})
_PASSIVE_OPTIONS = frozenset({"-m", "--match", "--comment"})


def _rule(words: list[str], packet: Packet) -> tuple[str | None, str | None, bool]:
    """The rule's target, its kind (-j / -g), and whether it surely matches the packet;
    target None with certain False means it surely does not match."""
    certain = True
    negated = False
    index = 0
    while index < len(words):
        word = words[index]
        if word == "!":
            negated = True
            index += 1
            continue
        if word in ("-j", "--jump", "-g", "--goto"):
            target = words[index + 1] if index + 1 < len(words) else ""
            return target, ("goto" if word in ("-g", "--goto") else "jump"), certain
        if word in _VALUELESS or not word.startswith("-"):
            certain = False
            index += 1
            negated = False
            continue
        value = words[index + 1] if index + 1 < len(words) else ""
        index += 2
        if word in _PASSIVE_OPTIONS:
            negated = False
            continue
        if word == "--tcp-flags":
            index += 1  # two values: the mask and the flags set
        result = _option_match(word, value, packet)
        if negated:
            result = negate(result)
        negated = False
        if result is Match.NO:
            return None, None, False
        certain = certain and result is Match.YES
    return None, None, certain


class Evaluator:
    def __init__(self, table: Table, packet: Packet, name: str) -> None:
        self.table = table
        self.packet = packet
        self.name = name

    def chain(self, chain: str, depth: int = 0) -> Verdicts:
        verdicts = Verdicts(set())
        if depth > MAX_CHAIN_DEPTH or chain not in self.table.chains:
            verdicts.add({ACCEPT}, f"{self.name} chain {chain}: missing or nested too deep")
            return verdicts
        for number, words in enumerate(self.table.rules.get(chain, []), start=1):
            outcomes, reason = self._outcomes(words, depth)
            verdicts.add(outcomes - {CONTINUE},
                         reason or f"{self.name} {chain} rule {number} ({' '.join(words)[:120]})")
            if CONTINUE not in outcomes:
                return verdicts
        verdicts.possible.add(RETURN)
        return verdicts

    def _outcomes(self, words: list[str], depth: int) -> tuple[set[str], str]:
        target, kind, certain = _rule(words, self.packet)
        if target is None:
            return {CONTINUE}, ""
        reason = ""
        if target == "ACCEPT":
            outcomes = {ACCEPT}
        elif target in ("DROP", "REJECT"):
            outcomes = {DROP}
        elif target == "RETURN":
            outcomes = {RETURN}
        elif target in _PASSIVE_TARGETS:
            outcomes = {CONTINUE}
        elif target in self.table.chains and target not in _BUILTIN:
            called = self.chain(target, depth + 1)
            outcomes, reason = set(called.possible), called.accept_reason
            if kind == "jump" and RETURN in outcomes:
                outcomes = (outcomes - {RETURN}) | {CONTINUE}
        else:
            outcomes = {ACCEPT}  # NFQUEUE and the like: something else decides
        return (outcomes if certain else outcomes | {CONTINUE}), reason


def census(table: Table) -> Census:
    """Every port and source address any rule names (the packet takes one none names)."""
    found = Census()
    version = 0
    for rules in table.rules.values():
        for words in rules:
            for option, value in zip(words, [*words[1:], ""], strict=True):
                if option in ("-s", "--source", "--src"):
                    for part in value.split(","):
                        version = 6 if ":" in part else 4
                        found.add_network(version, part if prefix_is_everything(part)
                                          is not None else None)
                elif option in _PORT_OPTIONS:
                    name = "sport" if option in _SOURCE_PORT_OPTIONS else "dport"
                    found.add_ports(name, _port_ranges(value))
    return found


def input_verdict(table: Table, packet: Packet, name: str) -> tuple[bool, str]:
    """Whether the INPUT chain certainly drops the packet, and which rule may accept it."""
    policy = table.policies.get("INPUT")
    if policy is None:
        return False, f"{name} printed no INPUT policy"
    packet = census(table).packet(packet.family)
    walked = Evaluator(table, packet, name).chain("INPUT")
    outcomes = hook_verdict(walked.possible, policy)
    if outcomes == {DROP}:
        return True, f"{name} INPUT drops it (policy {policy.upper()})"
    if walked.accept_reason:
        return False, f"{walked.accept_reason} may accept it"
    return False, f"{name} INPUT policy {policy.upper()} is reached"
