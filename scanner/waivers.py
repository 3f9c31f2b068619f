"""Waivers: accepted risks, approved by a named person, that expire.

A matching, unexpired waiver turns a ``fail`` into ``waived``: the result stays
visible with the waiver attached and never counts as a pass. Expired waivers and
waivers whose evidence binding no longer matches are not applied, and the result
says why; a failure whose only waivers had expired lists them (``expired_waivers``).
Loading reads a file; :func:`apply_waivers` is pure (``today`` is an argument)
so the same inputs always give the same document.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner import decisions
from scanner.decisions import evidence_digest, with_notes
from scanner.errors import InputError
from scanner.findings import resummarize
from scanner.render.wording import reason_json
from scanner.yamlio import Document


@dataclass(frozen=True)
class Waiver:
    rule: str
    hosts: tuple[str, ...]
    justification: str
    approved_by: str
    expires: datetime.date
    file: str
    line: int | None
    evidence_digest: str | None = None

    @property
    def source(self) -> str:
        """Where the waiver is written ("file:line"), shown on every result it touches."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def matches_host(self, host: Mapping[str, Any]) -> bool:
        """True when any glob matches the host's name, address or one of its groups."""
        return decisions.matches_host(self.hosts, host)

    def expired_on(self, today: datetime.date) -> bool:
        """Valid through the end of its ``expires`` day (UTC)."""
        return today > self.expires

    def to_result_json(self) -> dict[str, str]:
        return {"justification": self.justification, "approved_by": self.approved_by,
                "expires": self.expires.isoformat(), "source": self.source}


@dataclass(frozen=True)
class WaiverOutcome:
    document: dict[str, Any]
    warnings: tuple[str, ...]
    applied: int


def parse_waivers(doc: Document) -> tuple[Waiver, ...]:
    """Waivers from a parsed YAML document; any problem is an InputError naming the line."""
    items = decisions.check_schema(doc, "waivers.schema.json", "waivers", "waivers file")
    waivers = []
    for index, item in enumerate(items):
        try:
            expires = datetime.date.fromisoformat(item["expires"])
        except ValueError:
            raise doc.error(("waivers", index, "expires"),
                            f"not a calendar date: {item['expires']!r}") from None
        waivers.append(Waiver(
            rule=item["rule"], hosts=tuple(item["hosts"]),
            justification=item["justification"], approved_by=item["approved_by"],
            expires=expires, evidence_digest=item.get("evidence_digest"),
            file=doc.source, line=doc.line_of(("waivers", index)),
        ))
    return tuple(waivers)


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """Read and validate a waivers file (YAML); malformed files are never ignored."""
    return parse_waivers(decisions.read_file(path, "waivers file"))


def parse_waivers_text(text: str, source: str) -> tuple[Waiver, ...]:
    """Waivers from YAML text (``source`` names it in messages and waiver sources)."""
    return parse_waivers(decisions.read_text(text, source))


def check_rules_known(waivers: Iterable[Waiver], rule_ids: Iterable[str]) -> None:
    """A waiver for a rule the baseline does not have is a mistake (a typo waives nothing)."""
    known = set(rule_ids)
    for waiver in waivers:
        if waiver.rule not in known:
            raise InputError(waiver.file, f"waiver names unknown rule {waiver.rule!r}",
                             waiver.line)


def _judge(result: Mapping[str, Any], host: Mapping[str, Any], waivers: Sequence[Waiver],
           today: datetime.date, warnings: list[str]) -> dict[str, Any]:
    """One result after waivers: waived by the first one that fully applies, else noted."""
    out = dict(result)
    if result["status"] != "fail":
        return out
    notes: list[dict[str, Any]] = []
    expired: list[dict[str, str]] = []
    for waiver in waivers:
        if waiver.rule != result["rule_id"] or not waiver.matches_host(host):
            continue
        if waiver.expired_on(today):
            notes.append(reason_json(("waiver_expired", waiver.source,
                                      waiver.expires.isoformat())))
            warnings.append(f"{host['name']}: {result['rule_id']}: waiver {waiver.source} "
                            f"expired on {waiver.expires.isoformat()}; not applied")
            expired.append(waiver.to_result_json())
            continue
        if waiver.evidence_digest is not None:
            actual = evidence_digest(result["observed"])
            if actual != waiver.evidence_digest:
                notes.append(reason_json(("waiver_evidence_changed", waiver.source,
                                          waiver.evidence_digest, actual)))
                warnings.append(f"{host['name']}: {result['rule_id']}: waiver {waiver.source} "
                                "not applied: the evidence changed")
                continue
        out["status"] = "waived"
        out["waiver"] = waiver.to_result_json()
        break
    if expired and out["status"] == "fail":  # an assessor must see the risk nobody renewed
        out["expired_waivers"] = expired
    return with_notes(out, notes)


def apply_waivers(document: Mapping[str, Any], waivers: Sequence[Waiver],
                  today: datetime.date, source: str | None = None) -> WaiverOutcome:
    """A new document with waivers applied and summaries recounted. Pure: no I/O, no clock."""
    # a waiver for a rule the profile disabled is harmless; a misspelt rule is not
    check_rules_known(waivers, [*(rule["id"] for rule in document["rules"]),
                                *(item["rule_id"] for item in document["baseline"]["disabled"])])
    warnings: list[str] = []
    hosts = []
    for host in document["hosts"]:
        results = [_judge(r, host, waivers, today, warnings) for r in host["results"]]
        hosts.append({**host, "results": results})
    applied = sum(1 for host, before in zip(hosts, document["hosts"], strict=True)
                  for new, old in zip(host["results"], before["results"], strict=True)
                  if new["status"] == "waived" and old["status"] != "waived")
    scan = {**document["scan"]}
    if source is not None:
        scan["waivers"] = source
    updated = resummarize({**document, "scan": scan, "hosts": hosts})
    return WaiverOutcome(updated, tuple(warnings), applied)
