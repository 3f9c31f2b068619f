"""Judgements: an assessor's recorded verdict on a rule the scanner cannot decide.

Some controls need a person: a backup's off-host copy, a documented review. Their
results are ``manual``, with the instruction to the assessor and any evidence the
collector could show. A judgements file records what the assessor decided, who, when,
why and where the supporting record is kept; a matching judgement turns the ``manual``
result into the assessor's ``pass``, ``fail`` or ``not_applicable`` with the judgement
attached. Every format shows it as the assessor's, and the score (the scanner's own
index) leaves judged results out, so a judgement never passes for a measurement.

A judgement applies only where the scanner itself had no verdict: one naming a rule the
scanner decides is refused when the file is read (an accepted failure is a waiver's
job), one dated after the day of evaluation is refused, and one bound to evidence that
has since changed lapses with a note. Loading reads a file; :func:`apply_judgements` is
pure (``today`` is an argument) so the same inputs always give the same document.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner import decisions
from scanner.decisions import with_notes
from scanner.errors import InputError
from scanner.findings import resummarize
from scanner.render.wording import reason_json
from scanner.yamlio import Document


@dataclass(frozen=True)
class Judgement:
    rule: str
    hosts: tuple[str, ...]
    verdict: str
    note: str
    assessor: str
    date: datetime.date
    file: str
    line: int | None
    attachment: str | None = None
    evidence_digest: str | None = None

    @property
    def source(self) -> str:
        """Where the judgement is written ("file:line"), shown on the result it decides."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def to_result_json(self) -> dict[str, str]:
        out = {"verdict": self.verdict, "assessor": self.assessor,
               "date": self.date.isoformat(), "note": self.note, "source": self.source}
        if self.attachment is not None:
            out["attachment"] = self.attachment
        return out


@dataclass(frozen=True)
class JudgementOutcome:
    document: dict[str, Any]
    warnings: tuple[str, ...]
    applied: int
    awaiting: int


def parse_judgements(doc: Document) -> tuple[Judgement, ...]:
    """Judgements from a parsed YAML document; any problem is an InputError naming the line."""
    items = decisions.check_schema(doc, "judgements.schema.json", "judgements",
                                   "judgements file")
    judgements = []
    for index, item in enumerate(items):
        try:
            date = datetime.date.fromisoformat(item["date"])
        except ValueError:
            raise doc.error(("judgements", index, "date"),
                            f"not a calendar date: {item['date']!r}") from None
        judgements.append(Judgement(
            rule=item["rule"], hosts=tuple(item["hosts"]), verdict=item["verdict"],
            note=item["note"], assessor=item["assessor"], date=date,
            attachment=item.get("attachment"), evidence_digest=item.get("evidence_digest"),
            file=doc.source, line=doc.line_of(("judgements", index)),
        ))
    return tuple(judgements)


def load_judgements(path: Path) -> tuple[Judgement, ...]:
    """Read and validate a judgements file (YAML); malformed files are never ignored."""
    return parse_judgements(decisions.read_file(path, "judgements file"))


def parse_judgements_text(text: str, source: str) -> tuple[Judgement, ...]:
    """Judgements from YAML text (``source`` names it in messages and judgement sources)."""
    return parse_judgements(decisions.read_text(text, source))


def check_judgeable(judgements: Iterable[Judgement], manual_rules: Iterable[str],
                    automated_rules: Iterable[str], today: datetime.date) -> None:
    """Refuse, before anything is scanned, a judgement that cannot mean what it says:
    an unknown rule (a typo decides nothing), a rule the scanner decides itself, or a
    date after today."""
    manual, automated = set(manual_rules), set(automated_rules)
    for judgement in judgements:
        if judgement.rule in automated:
            raise InputError(judgement.file, f"judgement names rule {judgement.rule!r}, which "
                             "the scanner decides itself; judgements are for manual rules "
                             "(accept a failure with a waiver)", judgement.line)
        if judgement.rule not in manual:
            raise InputError(judgement.file, f"judgement names unknown rule {judgement.rule!r}",
                             judgement.line)
        if judgement.date > today:
            raise InputError(judgement.file, f"judgement is dated {judgement.date.isoformat()}, "
                             f"after today ({today.isoformat()}, UTC)", judgement.line)


def _decide(result: Mapping[str, Any], host: Mapping[str, Any],
            judgements: Sequence[Judgement], warnings: list[str]) -> dict[str, Any]:
    """One result after judgements: decided by the first that fully applies, else noted."""
    out = dict(result)
    if result["status"] != "manual":
        return out
    notes: list[dict[str, Any]] = []
    for judgement in judgements:
        if judgement.rule != result["rule_id"] or not decisions.matches_host(judgement.hosts,
                                                                             host):
            continue
        if judgement.evidence_digest is not None:
            actual = decisions.evidence_digest(result["observed"])
            if actual != judgement.evidence_digest:
                notes.append(reason_json(("judgement_evidence_changed", judgement.source,
                                          judgement.evidence_digest, actual)))
                warnings.append(f"{host['name']}: {result['rule_id']}: judgement "
                                f"{judgement.source} not applied: the evidence changed")
                continue
        out["status"] = judgement.verdict
        out["judgement"] = judgement.to_result_json()
        # the scanner's "needs an assessor's judgement" is answered: say who answered
        judged = reason_json(("judged", judgement.verdict, judgement.assessor,
                              judgement.date.isoformat()))
        return with_notes(out, [judged, *notes], replace=True)
    return with_notes(out, notes)


def apply_judgements(document: Mapping[str, Any], judgements: Sequence[Judgement],
                     today: datetime.date, source: str | None = None) -> JudgementOutcome:
    """A new document with judgements applied and summaries recounted. Pure: no I/O, no clock.

    Judgements come before waivers: an assessor's failure can then be waived like any other.
    """
    manual = [rule["id"] for rule in document["rules"] if rule.get("manual")]
    automated = [rule["id"] for rule in document["rules"] if not rule.get("manual")]
    # a judgement for a rule the profile disabled decides nothing, but it is no mistake
    disabled = [item["rule_id"] for item in document["baseline"]["disabled"]]
    check_judgeable(judgements, [*manual, *disabled], automated, today)
    warnings: list[str] = []
    hosts = []
    applied = awaiting = 0
    for host in document["hosts"]:
        results = [_decide(r, host, judgements, warnings) for r in host["results"]]
        applied += sum(1 for r in results if "judgement" in r)
        awaiting += sum(1 for r in results if r["status"] == "manual")
        hosts.append({**host, "results": results})
    scan = {**document["scan"]}
    if source is not None:
        scan["judgements"] = source
    updated = resummarize({**document, "scan": scan, "hosts": hosts})
    return JudgementOutcome(updated, tuple(warnings), applied, awaiting)
