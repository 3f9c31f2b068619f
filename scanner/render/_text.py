"""Text helpers every renderer shares: safe strings, rule texts by language, evidence.

Host output can carry anything (control characters, markup, template syntax);
:func:`printable` makes it inert text that every output format can hold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# C0 controls except TAB/LF/CR, DEL, C1 controls, lone surrogates and the XML non-characters.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
GBT22239 = "gbt22239-2019"
CLAUSE_GROUP = re.compile(r"^(8\.1\.4\.\d+)")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(value: object) -> str:
    """``value`` as text with control characters shown as visible escapes (\\x01)."""
    return _UNPRINTABLE.sub(_escape_char, value if isinstance(value, str) else str(value))


def printable_data(value: Any) -> Any:
    """JSON-able ``value`` with :func:`printable` applied to every string, keys included."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, Mapping):
        return {printable(str(k)): printable_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_data(v) for v in value]
    return value


def pick(text: Mapping[str, str] | None, lang: str) -> str:
    """The text in ``lang``, falling back to English (every rule text has English)."""
    if not text:
        return ""
    return text.get(lang) or text.get("en", "")


def remediation_for(rule: Mapping[str, Any] | None, os_family: str | None, lang: str) -> str:
    """Remediation for the host's OS family, else the family-independent text."""
    if not rule:
        return ""
    remediation: Mapping[str, Mapping[str, str]] = rule.get("remediation", {})
    for key in (os_family or "", "any"):
        if key in remediation:
            return pick(remediation[key], lang)
    for text in remediation.values():
        return pick(text, lang)
    return ""


def evidence_text(observed: Any, limit: int = 4000) -> str:
    """Observed evidence as indented JSON, cut at ``limit`` characters with a marker."""
    text = json.dumps(observed, indent=1, sort_keys=True, ensure_ascii=False)
    if len(text) > limit:
        text = text[:limit] + f"\n… ({len(text) - limit} more characters)"
    return printable(text)


def compact_evidence(observed: Any) -> str:
    return printable(json.dumps(observed, sort_keys=True, ensure_ascii=False,
                                separators=(",", ":")))


def clause_items(rule: Mapping[str, Any] | None) -> list[str]:
    """The rule's GB/T 22239-2019 items (e.g. "8.1.4.2 b")."""
    if not rule:
        return []
    return [str(item) for item in rule.get("references", {}).get(GBT22239, [])]


def clause_groups(rule: Mapping[str, Any] | None) -> list[str]:
    """The 8.1.4.x clause groups the rule maps to, in order, without repeats."""
    groups: dict[str, None] = {}
    for item in clause_items(rule):
        match = CLAUSE_GROUP.match(item)
        if match:
            groups[match.group(1)] = None
    return list(groups)


def rules_by_id(document: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {rule["id"]: rule for rule in document["rules"]}


def host_label(host: Mapping[str, Any]) -> str:
    """Name, plus address:port when they add something."""
    name, address, port = host["name"], host.get("address") or "", host.get("port")
    where = f"{address}:{port}" if port else address
    return printable(name if not where or where == name else f"{name} ({where})")


def os_family(host: Mapping[str, Any]) -> str | None:
    os_data = host.get("os") or {}
    family = os_data.get("family") if isinstance(os_data, Mapping) else None
    return str(family) if family else None
