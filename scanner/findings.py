"""Findings: the public contract of a scan, as dataclasses and as a schema-validated JSON document.

Renderers, diff and gating read only the JSON document (so any past scan can be
re-rendered); this module builds it, validates it, and reads it back.
Ordering is deterministic: hosts by name, address and port; results by rule id.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from scanner import __version__
from scanner.errors import InputError
from scanner.facts import HostIdentity
from scanner.resources import schema_path

if TYPE_CHECKING:
    import jsonschema

    from scanner.baseline import Baseline

FINDINGS_SCHEMA_VERSION = "1.0"
RULE_STATUSES = ("pass", "fail", "error", "not_applicable", "waived", "manual")
HOST_STATUSES = ("scanned", "unreachable", "auth_failed", "hostkey_mismatch", "timeout", "error",
                 "interrupted", "not_started")
SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_WEIGHT = {"critical": 10, "high": 5, "medium": 3, "low": 1, "info": 0}


@dataclass(frozen=True)
class RuleResult:
    rule_id: str
    status: str
    severity: str
    expected: str
    observed: list[Any]
    message: str
    waiver: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule_id": self.rule_id,
            "status": self.status,
            "severity": self.severity,
            "expected": self.expected,
            "observed": self.observed,
            "message": self.message,
        }
        if self.waiver is not None:
            out["waiver"] = dict(self.waiver)
        return out

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> RuleResult:
        return RuleResult(
            rule_id=data["rule_id"], status=data["status"], severity=data["severity"],
            expected=data["expected"], observed=list(data["observed"]),
            message=data["message"], waiver=data.get("waiver"),
        )


@dataclass(frozen=True)
class HostReport:
    host: HostIdentity
    status: str
    reason: str = ""
    os: Mapping[str, Any] | None = None
    facts_digest: str | None = None
    started_at: str | None = None
    duration_s: float = 0.0
    results: tuple[RuleResult, ...] = ()
    probe_errors: Mapping[str, str] = field(default_factory=dict)
    # True only when the collector's END marker arrived and no part was killed at its
    # deadline, cut at its cap or never reached; always False for a host not scanned.
    complete: bool = True
    # One line: the first / main reason the host's evidence is incomplete.
    incomplete_reason: str | None = None

    @property
    def is_complete(self) -> bool:
        return self.status == "scanned" and self.complete

    def why_incomplete(self) -> str | None:
        if self.is_complete:
            return None
        return self.incomplete_reason or self.reason or f"host {self.status}"

    def to_json(self) -> dict[str, Any]:
        results = sorted(self.results, key=lambda r: r.rule_id)
        return {
            **self.host.to_json(),
            "status": self.status,
            "reason": self.reason,
            "os": dict(self.os) if self.os else None,
            "facts_digest": self.facts_digest,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "probe_errors": dict(sorted(self.probe_errors.items())),
            "complete": self.is_complete,
            "incomplete_reason": self.why_incomplete(),
            "summary": summarize_results(r.to_json() for r in results),
            "results": [r.to_json() for r in results],
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> HostReport:
        """The inverse of :meth:`to_json` (the scan journal stores host reports this way)."""
        scanned = data["status"] == "scanned"
        return HostReport(
            host=HostIdentity.from_json(data),
            status=data["status"],
            reason=data.get("reason", ""),
            os=data.get("os"),
            facts_digest=data.get("facts_digest"),
            started_at=data.get("started_at"),
            duration_s=float(data.get("duration_s", 0.0)),
            results=tuple(RuleResult.from_json(r) for r in data.get("results", ())),
            probe_errors=dict(data.get("probe_errors", {})),
            # for a host not scanned both are derived from its status and reason
            complete=bool(data.get("complete", True)) if scanned else True,
            incomplete_reason=data.get("incomplete_reason") if scanned else None,
        )


def summarize_results(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts by status, failures by severity, and a severity-weighted score (0-100).

    The score is the weighted share of ``pass`` among pass, fail and error: an
    error counts against the score because compliance was not shown. Waived,
    manual and not-applicable results are left out. None when nothing counted.
    """
    by_status: Counter[str] = Counter()
    failed_by_severity: Counter[str] = Counter()
    earned = possible = 0
    for result in results:
        status, severity = result["status"], result["severity"]
        by_status[status] += 1
        if status == "fail":
            failed_by_severity[severity] += 1
        if status in ("pass", "fail", "error"):
            weight = SEVERITY_WEIGHT[severity]
            possible += weight
            earned += weight if status == "pass" else 0
    return {
        "by_status": {s: by_status.get(s, 0) for s in RULE_STATUSES},
        "failed_by_severity": {s: failed_by_severity.get(s, 0) for s in SEVERITIES},
        "score": round(100.0 * earned / possible, 1) if possible else None,
    }


def baseline_summary(baseline: Baseline) -> dict[str, Any]:
    return {
        "id": baseline.id,
        "version": baseline.version,
        "title": dict(baseline.title),
        "digest": baseline.digest,
        "profile": baseline.profile,
        "extends": list(baseline.extends),
        "parameters": dict(baseline.parameters),
        "disabled": [{"rule_id": r, "reason": why} for r, why in baseline.disabled.items()],
    }


def rule_catalog(baseline: Baseline) -> list[dict[str, Any]]:
    """The rules' texts, once per document, so renderers need nothing but the findings."""
    return [
        {
            "id": rule.id,
            "title": dict(rule.title),
            "severity": rule.severity,
            "rationale": dict(rule.rationale),
            "remediation": {family: dict(text) for family, text in rule.remediation.items()},
            "references": {k: list(v) for k, v in rule.references.items()},
            "applies_to": list(rule.applies_to),
            "manual": dict(rule.manual) if rule.manual else None,
        }
        for rule in sorted(baseline.rules, key=lambda r: r.id)
    ]


def build_document(
    *,
    baseline: Baseline,
    hosts: Iterable[HostReport],
    started_at: str,
    finished_at: str,
    invocation: Mapping[str, Any],
    complete: bool = True,
) -> dict[str, Any]:
    """The findings document for one scan."""
    host_docs = sorted((h.to_json() for h in hosts),
                       key=lambda h: (h["name"], h["address"], h["port"] or 0))
    return {
        "schema_version": FINDINGS_SCHEMA_VERSION,
        "tool": {"name": "cii-scan", "version": __version__},
        "scan": {
            "started_at": started_at,
            "finished_at": finished_at,
            "complete": complete,
            **dict(invocation),
        },
        "baseline": baseline_summary(baseline),
        "rules": rule_catalog(baseline),
        "summary": summarize_document(host_docs, complete),
        "hosts": host_docs,
    }


def summarize_document(host_docs: Sequence[Mapping[str, Any]], complete: bool) -> dict[str, Any]:
    host_counts = Counter(h["status"] for h in host_docs)
    totals = summarize_results(r for h in host_docs for r in h["results"])
    assessed = all(h["status"] == "scanned" and h.get("complete", True) for h in host_docs)
    no_errors = totals["by_status"]["error"] == 0
    return {
        "hosts": {"total": len(host_docs), **{s: host_counts.get(s, 0) for s in HOST_STATUSES}},
        **totals,
        "complete": complete and assessed and no_errors,
    }


def resummarize(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with host and scan summaries recounted from its results.

    Used after results change status (waivers), so the counts never disagree
    with the results they summarise.
    """
    hosts = [{**host, "summary": summarize_results(host["results"])}
             for host in document["hosts"]]
    return {**document, "hosts": hosts,
            "summary": summarize_document(hosts, bool(document["scan"]["complete"]))}


@cache
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema  # imported when a document is validated, not by every command

    schema = json.loads(schema_path("findings.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def validation_errors(document: Any) -> list[str]:
    """Every schema violation, as 'path: message' lines (empty when valid)."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]


def validate_document(document: Any) -> None:
    """Raise ValueError if the document breaks the findings schema (a bug if we built it)."""
    problems = validation_errors(document)
    if problems:
        raise ValueError(f"findings document fails its schema: {problems[0]}")


def dumps(document: Mapping[str, Any]) -> str:
    """Canonical text of a findings (or facts) document: sorted keys, UTF-8, newline-ended."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_document(text: str, source: str) -> dict[str, Any]:
    """Read a findings document from JSON text and check it against the schema."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not valid JSON: {exc.msg}", exc.lineno) from None
    problems = validation_errors(document)
    if problems:
        raise InputError(source, f"not a valid findings document: {problems[0]}")
    result: dict[str, Any] = document
    return result
