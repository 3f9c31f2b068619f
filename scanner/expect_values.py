"""How expectations see values: numbers and texts read from host data, values shown short
in messages, items named by their name-like field, and version order.

A leaf module: the interpreter (:mod:`scanner.expect`) and the compiled fast path
(:mod:`scanner.compiled`, :mod:`scanner.compiled_values`) must read and show values
identically, so both take these from here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

MAX_SUBJECT_CHARS = 100_000


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}(\.\d{1,12})?\s*", value):
        return float(value)
    return None


def same(a: Any, b: Any) -> bool:
    na, nb = number(a), number(b)
    if na is not None and nb is not None:
        return na == nb
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or str(a).lower() == str(b).lower()
    return str(a) == str(b)


def text(value: Any) -> str | None:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)[:MAX_SUBJECT_CHARS]
    return None


def show(value: Any, limit: int = 120) -> Any:
    """A value as a message shows it: JSON data, short (texts and lists cut, with "…"),
    deterministic (a mapping becomes its JSON text, keys sorted)."""
    kind = type(value)
    if kind is str:
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if kind is list:
        shown: list[Any] = []
        used = 0
        for item in value:
            part = show(item, limit)
            used += len(part) + 4 if isinstance(part, str) else 8
            if used > limit and shown:
                shown.append("…")
                break
            shown.append(part)
        return shown
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


LABEL_FIELDS = ("name", "path", "unit", "module", "target")


def labels(items: Sequence[Any], limit: int = 5) -> tuple[list[str], int]:
    """Name the items a message is about: by their name-like field when they have one;
    and how many more there are."""
    shown = []
    for item in items[:limit]:
        label = None
        if isinstance(item, dict):
            label = next((str(item[f]) for f in LABEL_FIELDS if item.get(f) is not None), None)
            if label is None and item.get("port") is not None:
                label = f"{item.get('address', '')}:{item['port']}"
        shown.append(label if label is not None else neutral(show(item, 60)))
    return shown, max(0, len(items) - limit)


def neutral(value: Any) -> str:
    from scanner.render.wording import literal

    return literal(value)


_VERSION_PART = re.compile(r"\d+|[A-Za-z]+|~")


def compare_versions(a: str, b: str) -> int:
    """Compare version strings by numeric and alphabetic runs; ``~`` sorts first (dpkg)."""
    pa, pb = _VERSION_PART.findall(a), _VERSION_PART.findall(b)
    for x, y in zip(pa, pb, strict=False):
        if x == y:
            continue
        if x == "~" or y == "~":
            return -1 if x == "~" else 1
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        return -1 if x < y else 1
    if len(pa) == len(pb):
        return 0
    longer, sign = (pa, 1) if len(pa) > len(pb) else (pb, -1)
    return -sign if longer[min(len(pa), len(pb))] == "~" else sign
