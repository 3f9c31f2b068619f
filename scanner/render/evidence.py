"""Evidence reduced to what bears on the verdict, for the printed report.

A result's ``observed`` holds whole probe values: the full package list, every account,
every sshd setting of every connection context. The screen report can show all of it
behind a fold; a printed report handed to an assessor cannot (hundreds of pages). This
module decides at render time, from the result and the observed value only, which part
of each value the verdict rests on:

* a small value is printed whole;
* a long list prints its length and the items the result's message names
  ("412 items, 2 bear on this: telnetd, rsh-server"), a short one every item, each
  reduced to its name and the fields the result's expectation mentions;
* a large mapping prints the fields the expectation mentions.

It never re-evaluates a check: it reads the message and expectation as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.render._text import printable

WHOLE_MAX = 240  # a value whose compact JSON is this short is printed whole
LINE_MAX = 600  # no printed evidence line is longer
ITEMS_MAX = 8  # named items printed per value
NAME_FIELDS = ("name", "unit", "path", "user", "id")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


@dataclass(frozen=True)
class EvidenceLine:
    """One observed value as printed: where it came from and what of it bears on the verdict."""

    label: str
    text: str

    def __str__(self) -> str:
        return f"{self.label}: {self.text}" if self.label else self.text


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _cut(text: str, limit: int = LINE_MAX) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _label(entry: Mapping[str, Any]) -> str:
    parts = [str(entry.get("probe", ""))]
    if entry.get("key"):
        parts.append(str(entry["key"]))
    label = ".".join(part for part in parts if part)
    args = entry.get("args")
    if isinstance(args, Mapping) and args:
        label += " (" + ", ".join(f"{k}={_compact(v) if not isinstance(v, str) else v}"
                                  for k, v in sorted(args.items())) + ")"
    return label


def item_name(item: Any) -> str | None:
    """What an item of a list is called: itself if a string, else its name-like field."""
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        for field in NAME_FIELDS:
            if isinstance(item.get(field), str) and item[field]:
                return str(item[field])
    return None


def _mentioned_fields(item: Mapping[str, Any], expected: str) -> list[str]:
    words = set(_WORD.findall(expected))
    # sorted: a document read back from JSON (sorted keys) prints as the one in memory
    return sorted(key for key in item if key in words and key not in NAME_FIELDS)


def _reduced(item: Any, expected: str) -> str:
    """An item as printed: its name plus the fields the expectation mentions."""
    name = item_name(item)
    if not isinstance(item, Mapping):
        return _compact(item) if name is None else name
    fields = _mentioned_fields(item, expected)
    if name is None and not fields and len(_compact(item)) <= WHOLE_MAX // 2:
        return _compact(item)
    shown = ", ".join(f"{key}={_compact(item[key])}" for key in fields)
    if name is None:
        return "{" + shown + "}" if shown else _cut(_compact(item), WHOLE_MAX // 2)
    return f"{name} ({shown})" if shown else name


def _named(items: Sequence[Any], message: str) -> list[Any]:
    """The items whose name the message quotes."""
    found = []
    for item in items:
        name = item_name(item)
        if name and len(name) > 1 and name in message:
            found.append(item)
    return found


def _list_text(value: Sequence[Any], message: str, expected: str) -> str:
    if len(value) <= ITEMS_MAX:  # short: every item, each cut to what the check reads
        return f"{len(value)} items: " + "; ".join(_reduced(item, expected) for item in value)
    named = _named(value, message)
    if not named:
        return f"{len(value)} items, none named by the result"
    shown = "; ".join(_reduced(item, expected) for item in named[:ITEMS_MAX])
    more = f"; … {len(named) - ITEMS_MAX} more" if len(named) > ITEMS_MAX else ""
    return f"{len(value)} items, {len(named)} bear on this: {shown}{more}"


def _mapping_text(value: Mapping[str, Any], expected: str) -> str:
    fields = _mentioned_fields(value, expected)
    if not fields:
        return _compact(value)
    return f"{len(value)} fields, {len(fields)} bear on this: " + ", ".join(
        f"{key}={_compact(value[key])}" for key in fields)


def value_text(value: Any, message: str, expected: str) -> str:
    """One observed value reduced to what bears on the verdict (see the module doc)."""
    whole = _compact(value)
    if len(whole) <= WHOLE_MAX:
        return whole
    if isinstance(value, list):
        return _list_text(value, message, expected)
    if isinstance(value, Mapping):
        return _mapping_text(value, expected)
    return whole


def bearing_evidence(result: Mapping[str, Any], message: str | None = None,
                     expected: str | None = None) -> list[EvidenceLine]:
    """The lines a printed report shows for ``result``'s evidence, one per observed value.

    ``message``/``expected``: the wording shown for the result (defaults to its own)."""
    message = result["message"] if message is None else message
    expected = result["expected"] if expected is None else expected
    lines = []
    for entry in result.get("observed") or []:
        if isinstance(entry, Mapping) and "value" in entry:
            text = value_text(entry["value"], message, expected)
            lines.append(EvidenceLine(printable(_label(entry)), printable(_cut(text))))
        else:
            lines.append(EvidenceLine("", printable(_cut(_compact(entry)))))
    return lines
