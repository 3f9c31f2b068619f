"""What the kernel's nf_tables does with the default-deny probe packet (see ``_packet``).

Follows the semantics of Linux nf_tables as driven by nftables 1.0 (``nft -j list
ruleset``, libnftables JSON schema 1, nft(8) "CHAINS", "VERDICT STATEMENT"):

* a packet for this host passes every base chain of family ``ip`` and ``inet`` hooked
  at ``prerouting`` and then at ``input``, in priority order; IPv6 likewise with
  ``ip6`` and ``inet``. An ``accept`` ends only the chain it is in: the next base
  chain still sees the packet, and a ``drop`` (or ``reject``) in any of them is final.
  So a family drops the packet when at least one of its base chains can only drop it;
* within a chain rules run in order; a rule matches when all its match expressions hold;
  ``jump`` returns to the next rule when the callee falls off its end or ``return``s,
  ``goto`` does not; falling off a base chain applies its policy (default ``accept``);
* a payload match names its protocol (``tcp dport``, ``ip saddr``): for a packet of
  another protocol the implicit dependency fails, so the rule does not match.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

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

ChainKey = tuple[str, str, str]  # family, table, chain
# hooks a packet for this host passes, in order (a drop at prerouting is as final)
_HOOKS = ("prerouting", "input")

_PASSIVE_STATEMENTS = frozenset({
    "counter", "log", "mangle", "notrack", "set", "map", "ct helper", "ct timeout",
    "ct expectation", "dup", "meter", "xt_target_passive", "flow",
})
_MATCH_LIKE_STATEMENTS = frozenset({"limit", "quota", "ct count", "synproxy", "last"})
_OTHER_L4 = frozenset({"udp", "udplite", "icmp", "icmpv6", "sctp", "dccp", "esp", "ah",
                       "comp", "igmp", "gre"})
_CT_STATUS_NOT_NEW = frozenset({"dnat", "snat", "seen-reply", "assured", "expected",
                                "confirmed", "dying"})
_TCP_NAMES = frozenset({"tcp", "6"})
_LOWEST = frozenset({"0.0.0.0", "::"})  # noqa: S104 (an address range's end, not a bind)
_HIGHEST = frozenset({"255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"})
_XT_PASSIVE_TARGETS = frozenset({"LOG", "NFLOG", "MARK", "CONNMARK", "TRACE", "AUDIT"})


class Ruleset:
    """The chains, rules and sets of one ``nft -j list ruleset`` document."""

    def __init__(self, items: list[Any]) -> None:
        self.chains: dict[ChainKey, dict[str, Any]] = {}
        self.rules: dict[ChainKey, list[list[Any]]] = {}
        self.sets: dict[ChainKey, list[Any]] = {}
        for item in items:
            if not isinstance(item, dict):
                continue
            for kind in ("chain", "rule", "set", "map"):
                body = item.get(kind)
                if isinstance(body, dict):
                    self._add(kind, body)

    def _add(self, kind: str, body: dict[str, Any]) -> None:
        family, table = str(body.get("family")), str(body.get("table"))
        if kind == "chain":
            self.chains[(family, table, str(body.get("name")))] = body
        elif kind == "rule":
            expressions = body.get("expr")
            self.rules.setdefault((family, table, str(body.get("chain"))), []).append(
                expressions if isinstance(expressions, list) else [{"unknown": None}])
        else:
            elements = body.get("elem")
            self.sets[(family, table, str(body.get("name")))] = (
                elements if isinstance(elements, list) else [])

    def input_base_chains(self, packet: Packet) -> list[tuple[ChainKey, dict[str, Any]]]:
        families = ("ip", "inet") if packet.family == "ipv4" else ("ip6", "inet")
        found = [(key, chain) for key, chain in self.chains.items()
                 if chain.get("hook") in _HOOKS and key[0] in families]
        return sorted(found, key=lambda kc: (_HOOKS.index(str(kc[1].get("hook"))),
                                             _priority(kc[1]), kc[0]))


def _priority(chain: Mapping[str, Any]) -> int:
    prio = chain.get("prio")
    return prio if isinstance(prio, int) else 0


def _values(right: Any, ruleset: Ruleset, where: ChainKey) -> list[Any] | None:
    """The right-hand side of a match as a list of elements; None when unresolvable."""
    if isinstance(right, str) and right.startswith("@"):
        found = ruleset.sets.get((where[0], where[1], right[1:]))
        return list(found) if found is not None else None
    if isinstance(right, dict) and "set" in right and isinstance(right["set"], list):
        return list(right["set"])
    if isinstance(right, list):
        return list(right)
    return [right]


def _element(value: Any) -> Any:
    """A set element without its ``elem`` wrapper (timeouts, counters, comments)."""
    if isinstance(value, dict) and isinstance(value.get("elem"), dict):
        return value["elem"].get("val")
    return value


def _port_ranges(values: list[Any]) -> list[tuple[int, int]] | None:
    ranges: list[tuple[int, int]] = []
    for raw in values:
        value = _element(raw)
        if isinstance(value, int):
            ranges.append((value, value))
        elif isinstance(value, dict) and isinstance(value.get("range"), list) \
                and len(value["range"]) == 2 and all(isinstance(v, int) for v in value["range"]):
            ranges.append((value["range"][0], value["range"][1]))
        elif isinstance(value, str):
            ranges.append((0, 0))  # a service name: one port (which one does not matter)
        else:
            return None
    return ranges


def _covers_all_ports(values: list[Any]) -> bool | None:
    ranges = _port_ranges(values)
    return None if ranges is None else ports_cover_all(ranges)


def _network_texts(values: list[Any]) -> list[str | None]:
    texts: list[str | None] = []
    for raw in values:
        value = _element(raw)
        if isinstance(value, dict) and isinstance(value.get("prefix"), dict):
            texts.append(f"{value['prefix'].get('addr')}/{value['prefix'].get('len')}")
        elif isinstance(value, dict) and isinstance(value.get("range"), list):
            try:
                low, high = (ipaddress.ip_address(str(v)) for v in value["range"][:2])
                texts += [str(n) for n in ipaddress.summarize_address_range(low, high)]
            except (ValueError, TypeError):
                texts.append(None)
        elif isinstance(value, str):
            texts.append(value)
        else:
            texts.append(None)
    return texts


def census(ruleset: Ruleset) -> Census:
    """Every port and source address any rule names (the packet takes one none names)."""
    found = Census()
    for where, rules in ruleset.rules.items():
        for expressions in rules:
            for expression in expressions:
                body = expression.get("match") if isinstance(expression, dict) else None
                left = body.get("left") if isinstance(body, dict) else None
                payload = left.get("payload") if isinstance(left, dict) else None
                if not isinstance(payload, dict) or not isinstance(body, dict):
                    continue
                values = _values(body.get("right"), ruleset, where)
                protocol, name = payload.get("protocol"), payload.get("field")
                if protocol in ("tcp", "th") and name in ("dport", "sport"):
                    found.add_ports(str(name), None if values is None else _port_ranges(values))
                elif protocol in ("ip", "ip6") and name == "saddr":
                    version = 4 if protocol == "ip" else 6
                    for text in (_network_texts(values) if values is not None else [None]):
                        found.add_network(version, text)
    return found


def _covers_all_addresses(values: list[Any]) -> bool | None:
    for raw in values:
        value = _element(raw)
        if isinstance(value, dict) and isinstance(value.get("prefix"), dict):
            prefix = value["prefix"]
            if prefix.get("len") == 0:
                return True
        elif isinstance(value, dict) and isinstance(value.get("range"), list):
            low, high = (str(v) for v in value["range"][:2])
            if low in _LOWEST and high in _HIGHEST:
                return True
        elif isinstance(value, str):
            if prefix_is_everything(value):
                return True  # one address or a name: the packet comes from another
        else:
            return None
    return False


def _known_value(values: list[Any], ours: frozenset[str]) -> bool:
    return any(str(_element(v)).lower() in ours for v in values)


def _compare(op: str, contained: Match) -> Match:
    if op in ("==", "in"):
        return contained
    if op == "!=":
        return negate(contained)
    return Match.MAYBE


def _match(expression: Mapping[str, Any], packet: Packet, ruleset: Ruleset,
           where: ChainKey) -> Match:
    """Whether one ``match`` expression holds for the probe packet."""
    op = str(expression.get("op", "=="))
    left, right = expression.get("left"), expression.get("right")
    if not isinstance(left, dict) or len(left) != 1:
        return Match.MAYBE
    kind, body = next(iter(left.items()))
    values = _values(right, ruleset, where)
    if values is None:
        return Match.MAYBE
    if kind == "payload" and isinstance(body, dict):
        return _payload_match(op, str(body.get("protocol")), str(body.get("field")), values,
                              packet)
    if kind == "meta" and isinstance(body, dict):
        return _meta_match(op, str(body.get("key")), values, packet)
    if kind == "ct" and isinstance(body, dict) and body.get("key") == "state" \
            and "dir" not in body:
        # "ct state" is a bit mask: "in" and "==" test that any listed state is set
        return _compare(op, Match.YES if _known_value(values, frozenset({"new"})) else Match.NO)
    if kind == "ct" and isinstance(body, dict) and body.get("key") == "status" \
            and op in ("==", "in") and all(str(_element(v)) in _CT_STATUS_NOT_NEW
                                           for v in values):
        # a new connection to a port no DNAT rule names has none of these status bits
        return Match.NO
    return Match.MAYBE


def _payload_match(op: str, protocol: str, field: str, values: list[Any],
                   packet: Packet) -> Match:
    if protocol in _OTHER_L4:
        return Match.NO  # the header dependency fails for a TCP packet
    if (protocol == "ip" and packet.ip_version != 4) or (protocol == "ip6"
                                                         and packet.ip_version != 6):
        return Match.NO
    if protocol in ("tcp", "th") and field in ("dport", "sport"):
        return _compare(op, packet.arbitrary_in(field, _covers_all_ports(values)))
    if protocol in ("ip", "ip6") and field == "saddr":
        return _compare(op, packet.arbitrary_in(field, _covers_all_addresses(values)))
    if (protocol, field) in (("ip", "protocol"), ("ip6", "nexthdr")):
        return _compare(op, Match.YES if _known_value(values, _TCP_NAMES) else Match.NO)
    return Match.MAYBE


def _meta_match(op: str, key: str, values: list[Any], packet: Packet) -> Match:
    if key in ("iif", "iifname"):
        names = [str(_element(v)) for v in values]
        if names == ["lo"]:
            return _compare(op, Match.NO)  # the packet does not arrive on loopback
        return Match.MAYBE  # any other interface may be the one facing the network
    if key == "iiftype" and [str(_element(v)) for v in values] == ["loopback"]:
        return _compare(op, Match.NO)
    if key == "l4proto":
        return _compare(op, Match.YES if _known_value(values, _TCP_NAMES) else Match.NO)
    if key == "nfproto":
        return _compare(op, Match.YES if _known_value(values, frozenset({packet.family}))
                        else Match.NO)
    if key == "protocol":
        ours = frozenset({"ip"} if packet.ip_version == 4 else {"ip6"})
        return _compare(op, Match.YES if _known_value(values, ours) else Match.NO)
    return Match.MAYBE


class Evaluator:
    """Walks chains with the probe packet of one family."""

    def __init__(self, ruleset: Ruleset, packet: Packet) -> None:
        self.ruleset = ruleset
        self.packet = packet

    def chain(self, key: ChainKey, depth: int = 0) -> Verdicts:
        """Possible outcomes of ``key`` (accept, drop, return) for the packet."""
        verdicts = Verdicts(set())
        if depth > MAX_CHAIN_DEPTH or key not in self.ruleset.chains:
            verdicts.add({ACCEPT}, f"{_name(key)}: chain missing or jumps nested too deep")
            return verdicts
        for index, expressions in enumerate(self.ruleset.rules.get(key, []), start=1):
            outcomes, reason = self._rule(expressions, key, depth)
            verdicts.add(outcomes - {CONTINUE}, reason or f"{_name(key)} rule {index}")
            if CONTINUE not in outcomes:
                return verdicts
        verdicts.possible.add(RETURN)
        return verdicts

    def _rule(self, expressions: list[Any], key: ChainKey, depth: int) -> tuple[set[str], str]:
        certain = True
        for expression in expressions:
            if not isinstance(expression, dict) or len(expression) != 1:
                certain = False
                continue
            name, body = next(iter(expression.items()))
            if name == "match" and isinstance(body, dict):
                result = _match(body, self.packet, self.ruleset, key)
                if result is Match.NO:
                    return {CONTINUE}, ""
                certain = certain and result is Match.YES
            elif name in _PASSIVE_STATEMENTS:
                continue
            elif name in _MATCH_LIKE_STATEMENTS:
                certain = False
            elif name == "xt" and isinstance(body, dict):
                if body.get("type") == "target":
                    target = str(body.get("name", ""))
                    if target in ("DROP", "REJECT"):
                        return self._maybe({DROP}, certain), ""
                    if target not in _XT_PASSIVE_TARGETS:
                        return self._maybe({ACCEPT}, certain), ""
                else:
                    certain = False  # an iptables extension match nft cannot show
            elif name in ("accept", "queue"):
                return self._maybe({ACCEPT}, certain), ""
            elif name in ("drop", "reject"):
                return self._maybe({DROP}, certain), ""
            elif name == "continue":
                return {CONTINUE}, ""
            elif name == "return":
                return self._maybe({RETURN}, certain), ""
            elif name in ("jump", "goto") and isinstance(body, dict):
                callee = (key[0], key[1], str(body.get("target")))
                called = self.chain(callee, depth + 1)
                outcomes = set(called.possible)
                if name == "jump" and RETURN in outcomes:
                    outcomes = (outcomes - {RETURN}) | {CONTINUE}
                return self._maybe(outcomes, certain), called.accept_reason
            elif name == "vmap" and isinstance(body, dict):
                return self._maybe(self._vmap(body, key, depth), certain), ""
            else:
                certain = False  # a statement this model does not know: it may match or act
        return {CONTINUE}, ""

    @staticmethod
    def _maybe(outcomes: set[str], certain: bool) -> set[str]:
        return outcomes if certain else outcomes | {CONTINUE}

    def _vmap(self, body: Mapping[str, Any], key: ChainKey, depth: int) -> set[str]:
        """``ct state vmap { … }`` is decided; any other key may hit any entry or none."""
        data = body.get("data")
        entries = data.get("set") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            return {ACCEPT, CONTINUE}
        ct_state = body.get("key") == {"ct": {"key": "state"}}
        outcomes: set[str] = set() if ct_state else {CONTINUE}
        hit = False
        for entry in entries:
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], dict)):
                return {ACCEPT, CONTINUE}
            if ct_state and str(_element(entry[0])).lower() != "new":
                continue
            hit = True
            outcomes |= self._rule([entry[1]], key, depth)[0]
        if ct_state and not hit:
            outcomes.add(CONTINUE)
        return outcomes


def _name(key: ChainKey) -> str:
    return f"{key[0]} {key[1]} {key[2]}"


def family_verdict(ruleset: Ruleset, packet: Packet) -> tuple[bool, str]:
    """Whether nftables certainly drops the packet, and which chain does or why not."""
    packet = census(ruleset).packet(packet.family)
    evaluator = Evaluator(ruleset, packet)
    reasons = []
    for key, chain in ruleset.input_base_chains(packet):
        policy = str(chain.get("policy", "accept")).lower()
        walked = evaluator.chain(key)
        outcomes = hook_verdict(walked.possible, policy)
        if outcomes == {DROP}:
            return True, f"{_name(key)} drops it (policy {policy})"
        if walked.accept_reason:
            reasons.append(f"{walked.accept_reason} may accept it")
        else:
            reasons.append(f"{_name(key)} policy {policy} is reached")
    if not reasons:
        return False, "no nftables input base chain for this family"
    return False, "; ".join(reasons)
