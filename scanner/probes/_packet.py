"""The packet a default-deny firewall must drop, and what a chain can do with it.

"Default deny" means: an unsolicited new inbound TCP connection (a SYN that conntrack
sees as ``new``), arriving on a non-loopback interface from a source address the
ruleset does not name, to a destination port the ruleset does not name, is dropped or
rejected, on IPv4 and on IPv6. The firewall evaluators (nftables JSON, ``iptables -S``)
walk every rule in the kernel's order with this one abstract packet and answer which
verdicts are *possible* for it. A match the evaluator cannot decide (a destination
address, a rate limit, an ``xt`` extension nft cannot show) may or may not match, so
both paths stay possible: the firewall is called default-deny only when ``drop`` is the
only possible verdict. An evaluator that cannot model something therefore errs toward
"not proven", never toward a pass.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum

# Possible outcomes of a chain for the packet.
ACCEPT = "accept"
DROP = "drop"
RETURN = "return"  # fell off the end of a chain (or an explicit return)
CONTINUE = "continue"  # the rule did not end evaluation: go on to the next rule

PORTS_ALL = (1, 65535)  # a TCP connection cannot be made to port 0
MAX_CHAIN_DEPTH = 16  # nftables and iptables both refuse deeper jump stacks in practice


class Match(Enum):
    """Whether a match expression holds for the packet."""

    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


def negate(result: Match) -> Match:
    return {Match.YES: Match.NO, Match.NO: Match.YES, Match.MAYBE: Match.MAYBE}[result]


@dataclass(frozen=True)
class Packet:
    """The probe packet for one address family (``ipv4`` or ``ipv6``). ``crowded`` names
    the fields (``dport``, ``sport``, ``saddr``) whose values named anywhere in the
    ruleset together leave no value free, so the packet cannot avoid them all."""

    family: str
    crowded: frozenset[str] = frozenset()

    @property
    def ip_version(self) -> int:
        return 4 if self.family == "ipv4" else 6

    def arbitrary_in(self, field: str, covers_everything: bool | None) -> Match:
        """``field == set`` for a field whose value the packet may choose: it takes a
        value no rule names, so it is in no set, unless the set covers every value, or
        every value is named somewhere (then which rule it meets is not known)."""
        if covers_everything is None:
            return Match.MAYBE
        if covers_everything:
            return Match.YES
        return Match.MAYBE if field in self.crowded else Match.NO


@dataclass
class Census:
    """Every value a ruleset names for the fields the packet chooses freely."""

    ports: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    networks: dict[int, list[str]] = field(default_factory=dict)  # by IP version
    unknown: set[str] = field(default_factory=set)

    def add_ports(self, name: str, ranges: list[tuple[int, int]] | None) -> None:
        if ranges is None:
            self.unknown.add(name)
        else:
            self.ports.setdefault(name, []).extend(ranges)

    def add_network(self, version: int, text: str | None) -> None:
        if text is None:
            self.unknown.add(f"saddr{version}")
        else:
            self.networks.setdefault(version, []).append(text)

    def packet(self, family: str) -> Packet:
        version = 4 if family == "ipv4" else 6
        crowded = {name for name, ranges in self.ports.items() if ports_cover_all(ranges)}
        crowded |= {name for name in self.unknown if name in ("dport", "sport")}
        if f"saddr{version}" in self.unknown or _networks_cover_all(
                self.networks.get(version, []), version):
            crowded.add("saddr")
        return Packet(family, frozenset(crowded))


def _networks_cover_all(texts: list[str], version: int) -> bool:
    networks = []
    for text in texts:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return True  # not understood: assume it may take the last free address
        if network.version == version:
            networks.append(network)
    collapsed = list(ipaddress.collapse_addresses(networks))  # type: ignore[type-var]
    return any(network.prefixlen == 0 for network in collapsed)


def ports_cover_all(ranges: list[tuple[int, int]]) -> bool:
    """Whether the port ranges together cover 1-65535."""
    reach = PORTS_ALL[0]
    for low, high in sorted(ranges):
        if low > reach:
            return False
        reach = max(reach, high + 1)
    return reach > PORTS_ALL[1]


def prefix_is_everything(text: str) -> bool | None:
    """``0.0.0.0/0``, ``::/0`` → True; another address or prefix → False; junk → None."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return network.prefixlen == 0


@dataclass
class Verdicts:
    """The outcomes a chain can have for the packet, and the first reason it may accept."""

    possible: set[str]
    accept_reason: str = ""

    def add(self, outcomes: set[str], reason: str) -> None:
        if ACCEPT in outcomes and ACCEPT not in self.possible and not self.accept_reason:
            self.accept_reason = reason
        self.possible |= outcomes


def hook_verdict(chain_outcomes: set[str], policy: str) -> set[str]:
    """A base chain's outcomes once falling off its end applies its policy."""
    outcomes = set(chain_outcomes)
    if RETURN in outcomes:
        outcomes.discard(RETURN)
        outcomes.add(DROP if policy in ("drop", "reject") else ACCEPT)
    return outcomes
