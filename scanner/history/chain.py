"""The hash chain over scans: each scan's digest covers its own rows (the scan, its hosts'
statuses, every result) and the digest of the scan before it.

A row changed directly in the database no longer hashes to its scan's digest; a scan
removed from the middle leaves the next one pointing at a digest no kept scan has; the
newest removed leaves the chain's head (in ``chain``) unmatched. What this cannot stop is
someone who rewrites every digest after their change: that takes a signed findings file
(``cii-scan verify``), which the store keeps the digest of. Pure: rows in, digests out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

# the scan's own columns the digest covers, in this order
SCAN_FIELDS = ("id", "findings_digest", "baseline_id", "baseline_version", "baseline_digest",
               "profile", "tool_version", "operator", "command", "started_at", "ended_at",
               "scan_day", "complete", "imported_at", "prev_chain_digest")

HostLine = tuple[str, str, int, str, bool, str, "str | None"]
ResultLine = tuple[str, str, int, str, str, str, str, "str | None"]


def scan_digest(scan: Mapping[str, Any], host_lines: Iterable[HostLine],
                result_lines: Iterable[ResultLine]) -> str:
    """``sha256:…`` of the scan's fields, then its host lines and result lines, each sorted
    (so the database's row order and collation do not matter)."""
    digest = hashlib.sha256()
    digest.update(_line([scan[name] for name in SCAN_FIELDS]))
    for host in sorted(host_lines, key=_order):
        digest.update(b"H" + _line(list(host)))
    digest.update("".join(map(_result_line, sorted(result_lines, key=_result_order)))
                  .encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def _result_order(line: ResultLine) -> tuple[str, ...]:
    """:func:`_order` for a result line, whose types are known (a scan has tens of
    thousands): the same key, built without a call per value."""
    name, address, port, rule, status, severity, evidence, waiver = line
    return (name, address, str(port), rule, status, severity, evidence,
            "" if waiver is None else waiver)


def _result_line(line: ResultLine) -> str:
    """``"R" + _line(line)`` for a result line, as text: the same bytes, written in one
    f-string (port an int, every other field a string, the waiver perhaps None)."""
    name, address, port, rule, status, severity, evidence, waiver = line
    tail = "n;" if waiver is None else f"s{len(waiver)}:{waiver}"
    return (f"Rs{len(name)}:{name}s{len(address)}:{address}i{port};s{len(rule)}:{rule}"
            f"s{len(status)}:{status}s{len(severity)}:{severity}"
            f"s{len(evidence)}:{evidence}{tail}\n")


def _order(line: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if value is None else str(value) for value in line)


def _line(values: list[Any]) -> bytes:
    """The values, each typed and length-prefixed (unambiguous whatever a string holds,
    and cheaper than JSON at a scan's tens of thousands of results)."""
    return ("".join(map(_field, values)) + "\n").encode("utf-8")


def _field(value: Any) -> str:
    if value is None:
        return "n;"
    if value is True or value is False:
        return "t;" if value else "f;"
    if isinstance(value, int):
        return f"i{value};"
    text = str(value)
    return f"s{len(text)}:{text}"

# written into a new scan row until its own digest is known, a moment later in the same
# transaction (never committed: the row is updated before the transaction ends)
GENESIS_PENDING = "sha256:" + "f" * 64
