"""History answers as tables, printed as text (aligned columns), JSON or CSV.

Queries return a :class:`Answer`; nothing here knows the database. CSV cells that a
spreadsheet would run as a formula are prefixed with a quote (host names come from
inventories and hosts' own output).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scanner.render._text import printable


@dataclass(frozen=True)
class Answer:
    """One question's answer: a title for people, column names, and rows of plain values
    (str, int, float, bool or None)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""


def render(answer: Answer, fmt: str) -> str:
    if fmt == "json":
        rows = [dict(zip(answer.columns, row, strict=True)) for row in answer.rows]
        return json.dumps({"title": answer.title, "note": answer.note or None, "rows": rows},
                          indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(answer.columns)
        writer.writerows([[_csv_cell(v) for v in row] for row in answer.rows])
        return out.getvalue()
    return _text(answer)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    return printable(str(value))


def _text(answer: Answer) -> str:
    cells: list[Sequence[str]] = [answer.columns, *([_cell(v) for v in row]
                                                    for row in answer.rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(answer.columns))]
    lines = [answer.title]
    for number, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not answer.rows:
        lines.append("(none)")
    if answer.note:
        lines.append(answer.note)
    return "\n".join(lines) + "\n"
