"""Findings: the public contract of a scan, as dataclasses and as a schema-validated JSON document.

Renderers, diff and gating read only the JSON document (so any past scan can be
re-rendered); this module builds it, validates it, and reads it back.
Ordering is deterministic: hosts by name, address and port; results by rule id.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, overload

from scanner import __version__, decisions, schemacheck
from scanner.errors import InputError
from scanner.facts import HostIdentity
from scanner.render.wording import english_message, reason_json
from scanner.resources import schema_path
from scanner.vocabulary import HOST_STATUSES, RULE_STATUSES, SEVERITIES, SEVERITY_WEIGHT

if TYPE_CHECKING:
    import jsonschema

    from scanner.baseline import Baseline

FINDINGS_SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class RuleResult:
    """One rule's result. Evaluation gives its reasons as data (``reasons``, codes with
    operands and values: cheap to make); they are worded, in English for ``message`` and
    as the JSON ``wording`` object, only when asked for (when the document is built).
    A result read back from a document keeps what the document says (``written``)."""

    rule_id: str
    status: str
    severity: str
    expected: str
    observed: list[Any]
    reasons: tuple[tuple[Any, ...], ...] = ()
    expected_data: Mapping[str, Any] | None = None  # the check as data (wording.expected)
    waiver: Mapping[str, Any] | None = None
    judgement: Mapping[str, Any] | None = None
    written: Mapping[str, Any] | None = None  # {"message", "wording"} as read from JSON
    # the digest a waiver's or judgement's evidence_digest binds to, as a document gives it
    # (None: computed from ``observed`` when the document is built)
    evidence_digest: str | None = None

    @property
    def message(self) -> str:
        """Why the result is what it is, in plain English."""
        if self.written is not None:
            return str(self.written["message"])
        text: str | None = self.__dict__.get("_message")
        if text is None:
            text = english_message(self._reason_json())
            object.__setattr__(self, "_message", text)
        return text

    @property
    def wording(self) -> Mapping[str, Any] | None:
        """Message and expected as data, for renderers to word in any language (see
        scanner/render/wording.py); None for a result read from an older document."""
        if self.written is not None:
            return self.written.get("wording")
        return {"expected": self.expected_data, "message": self._reason_json()}

    def _reason_json(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] | None = self.__dict__.get("_reasons_json")
        if data is None:
            data = [reason_json(reason) for reason in self.reasons]
            object.__setattr__(self, "_reasons_json", data)
        return data

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule_id": self.rule_id,
            "status": self.status,
            "severity": self.severity,
            "expected": self.expected,
            "observed": self.observed,
            "evidence_digest": self.evidence_digest or decisions.evidence_digest(self.observed),
            "message": self.message,
        }
        wording = self.wording
        if wording is not None:
            out["wording"] = wording
        if self.waiver is not None:
            out["waiver"] = dict(self.waiver)
        if self.judgement is not None:
            out["judgement"] = dict(self.judgement)
        return out

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> RuleResult:
        return RuleResult(
            rule_id=data["rule_id"], status=data["status"], severity=data["severity"],
            expected=data["expected"], observed=list(data["observed"]),
            waiver=data.get("waiver"), judgement=data.get("judgement"),
            written={"message": data["message"], "wording": data.get("wording")},
            evidence_digest=data.get("evidence_digest"),
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
    # the host's own clock at the collector's start and end: {"start": {...} | None,
    # "end": ...} with utc, local, boot_id and hostname (see scanner.facts.HostClock)
    host_clock: Mapping[str, Any] | None = None

    @property
    def collected_at(self) -> str | None:
        """When collection began by the host's own clock (UTC); None if it did not say."""
        start = (self.host_clock or {}).get("start") or {}
        value = start.get("utc")
        return value if isinstance(value, str) else None

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
            "collected_at": self.collected_at,
            "host_clock": dict(self.host_clock) if self.host_clock else None,
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
            host_clock=data.get("host_clock"),
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
    manual and not-applicable results are left out, and so are an assessor's
    judgements: the score is the scanner's own index of what it checked. Judged
    results are counted under their verdict (a judged failure is a failure).
    None when nothing counted.
    """
    by_status: Counter[str] = Counter()
    failed_by_severity: Counter[str] = Counter()
    earned = possible = 0
    for result in results:
        status, severity = result["status"], result["severity"]
        by_status[status] += 1
        if status == "fail":
            failed_by_severity[severity] += 1
        if status in ("pass", "fail", "error") and "judgement" not in result:
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
        "parameter_defaults": dict(baseline.parameter_defaults),
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
            "major_risk": rule.major_risk,
        }
        for rule in sorted(baseline.rules, key=lambda r: r.id)
    ]


class Reported(Protocol):
    """What a document is built from: a host report held in memory (:class:`HostReport`)
    or one kept on disk and read back when the document is written (the scan journal's)."""

    @property
    def host(self) -> HostIdentity: ...

    def to_json(self) -> dict[str, Any]: ...


class HostDocs(Sequence[dict[str, Any]]):
    """A findings document's hosts, each made (or read back) only when it is reached.

    A scan of a thousand hosts would otherwise hold every host's results at once, and
    again as JSON text: here one host is in memory at a time while the document is
    summarised, validated and written (:func:`iter_dumps`). Iterating twice reads twice.
    """

    def __init__(self, reports: Sequence[Reported]) -> None:
        self._reports = reports

    def __len__(self) -> int:
        return len(self._reports)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [report.to_json() for report in self._reports[index]]
        return self._reports[index].to_json()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for report in self._reports:
            yield report.to_json()


def _host_order(host: HostIdentity) -> tuple[str, str, int]:
    return (host.name, host.address, host.port or 0)


def build_document(
    *,
    baseline: Baseline,
    hosts: Iterable[Reported],
    started_at: str,
    finished_at: str,
    invocation: Mapping[str, Any],
    complete: bool = True,
    lazy: bool = False,
) -> dict[str, Any]:
    """The findings document for one scan.

    ``lazy``: the hosts stay where they are (a :class:`HostDocs`), for a fleet whose
    reports are on disk; the document is then written with :func:`iter_dumps`."""
    ordered = sorted(hosts, key=lambda report: _host_order(report.host))
    host_docs: Sequence[dict[str, Any]] = (
        HostDocs(ordered) if lazy else [report.to_json() for report in ordered])
    return {
        "schema_version": FINDINGS_SCHEMA_VERSION,
        "tool": {"name": "cii-scan", "version": __version__},
        "scan": {
            "started_at": started_at,
            "finished_at": finished_at,
            # the evidence is judged as the document is built: for offline evaluation this
            # is later than each host's collected_at (its own clock)
            "evaluated_at": finished_at,
            "complete": complete,
            **dict(invocation),
        },
        "baseline": baseline_summary(baseline),
        "rules": rule_catalog(baseline),
        "summary": summarize_document(host_docs, complete),
        "hosts": host_docs,
    }


def summarize_document(host_docs: Iterable[Mapping[str, Any]], complete: bool) -> dict[str, Any]:
    host_counts: Counter[str] = Counter()
    assessed = True

    def results() -> Iterator[Mapping[str, Any]]:  # one pass, so lazy hosts are read once
        nonlocal assessed
        for host in host_docs:
            host_counts[host["status"]] += 1
            assessed = assessed and host["status"] == "scanned" and host.get("complete", True)
            yield from host["results"]

    totals = summarize_results(results())
    no_errors = totals["by_status"]["error"] == 0
    return {
        "hosts": {"total": sum(host_counts.values()),
                  **{s: host_counts.get(s, 0) for s in HOST_STATUSES}},
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
def _schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """(the whole document's schema, one host's): a document is checked one host at a
    time, so a thousand hosts are never all in memory to be validated."""
    schema = json.loads(schema_path("findings.schema.json").read_text(encoding="utf-8"))
    return schema, {"$schema": schema["$schema"], "$defs": schema["$defs"],
                    "$ref": "#/$defs/host"}


@cache
def _validators() -> tuple[jsonschema.protocols.Validator, ...]:
    """:func:`_schemas` as ``jsonschema`` validators, which word a problem."""
    import jsonschema  # imported when a document is invalid, not by every command

    checker = jsonschema.FormatChecker()
    return tuple(jsonschema.Draft202012Validator(schema, format_checker=checker)
                 for schema in _schemas())


@cache
def _quick_checks() -> tuple[schemacheck.Check, ...] | None:
    """:func:`_schemas`' yes/no answers, compiled (scanner.schemacheck: ~8× faster than
    ``jsonschema``, and no ``jsonschema`` import while documents are valid); None if the
    schema uses a keyword the compiler does not know (``jsonschema`` answers then)."""
    try:
        return tuple(schemacheck.compile_schema(schema, formats=True) for schema in _schemas())
    except schemacheck.Unsupported:
        return None


def _problems(which: int, value: Any, prefix: tuple[Any, ...]) -> list[str]:
    """``value``'s violations of schema ``which`` (0: the document, 1: a host): none when
    the compiled check passes it, else as ``jsonschema`` words them."""
    quick = _quick_checks()
    if quick is not None and quick[which](value):
        return []
    return _worded(_validators()[which].iter_errors(value), prefix)


def validation_errors(document: Any) -> list[str]:
    """Every schema violation, as 'path: message' lines (empty when valid)."""
    hosts = document.get("hosts") if isinstance(document, dict) else None
    if not isinstance(hosts, HostDocs):
        return _problems(0, document, ())
    problems = _skeleton_errors(document)
    for number, host in enumerate(hosts):
        problems += _host_errors(number, host)
    return problems


def _skeleton_errors(document: Mapping[str, Any]) -> list[str]:
    """The problems of a document outside its hosts."""
    return _problems(0, {**document, "hosts": []}, ())


def _host_errors(number: int, host: Mapping[str, Any]) -> list[str]:
    return _problems(1, host, ("hosts", number))


def _worded(errors: Iterable[jsonschema.ValidationError], prefix: tuple[Any, ...]) -> list[str]:
    ordered = sorted(errors, key=lambda e: list(map(str, e.path)))
    return [f"{'/'.join(map(str, (*prefix, *e.absolute_path))) or '(top)'}: {e.message}"
            for e in ordered]


def validate_document(document: Any) -> None:
    """Raise ValueError if the document breaks the findings schema (a bug if we built it)."""
    _refuse(validation_errors(document))


def _refuse(problems: Sequence[str]) -> None:
    if problems:
        raise ValueError(f"findings document fails its schema: {problems[0]}")


def iter_valid_dumps(document: Mapping[str, Any]) -> Iterator[str]:
    """:func:`iter_dumps`'s pieces of a document :func:`validate_document` accepts; raises
    ValueError as it does, at the piece where the first problem is. A :class:`HostDocs`
    document is judged host by host as it is written, so each host is read once."""
    hosts = document.get("hosts")
    if not isinstance(hosts, HostDocs):
        validate_document(document)
        return iter_dumps(document)
    _refuse(_skeleton_errors(document))
    return iter_dumps(document, lambda number, host: _refuse(_host_errors(number, host)))


def dumps(document: Mapping[str, Any]) -> str:
    """Canonical text of a findings (or facts) document: sorted keys, UTF-8, newline-ended."""
    return "".join(iter_dumps(document))


def iter_dumps(document: Mapping[str, Any],
               each_host: Callable[[int, Mapping[str, Any]], None] | None = None
               ) -> Iterator[str]:
    """:func:`dumps`'s text in pieces, one host at a time: ``json.dumps(document, indent=2,
    sort_keys=True, ensure_ascii=False)`` and a newline, without ever holding the whole
    text (or, for :class:`HostDocs`, every host). ``each_host(index, host)`` is called
    before a host is written (it may raise to stop the writing)."""
    yield "{"
    for number, key in enumerate(sorted(document)):
        yield ("," if number else "") + "\n  " + json.dumps(key, ensure_ascii=False) + ": "
        value = document[key]
        if key == "hosts" and isinstance(value, (list, HostDocs)) and len(value):
            for index, host in enumerate(value):
                if each_host is not None:
                    each_host(index, host)
                yield ("[" if index == 0 else ",") + "\n    " + _nested(host, "    ")
            yield "\n  ]"
        else:
            yield _nested(value, "  ")
    yield "\n}\n"


def _nested(value: Any, indent: str) -> str:
    """``value`` as json.dumps(indent=2) prints it at ``indent``'s depth (an encoded
    string holds no raw newline, so every newline in the text is a line break)."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return text.replace("\n", "\n" + indent)


def consistency_errors(document: Mapping[str, Any]) -> list[str]:
    """What a schema cannot see: the document disagreeing with itself.

    Every summary must be the count of the results it summarises, each rule judged at
    most once per host with the severity its rule has, a waiver only on a waived result,
    a judgement's verdict the result's status (a waived one was a failure) and an evidence
    digest the digest of the evidence beside it (readers such as the history store take
    it from the document, so it is checked once, here). A result
    flipped by hand from fail to pass breaks the counts; one that also fixes the counts
    is what a signature (``cii-scan verify``) is for. Assumes a schema-valid document."""
    problems: list[str] = []
    severity = {rule["id"]: rule["severity"] for rule in document["rules"]}
    for number, host in enumerate(document["hosts"]):
        where = f"hosts/{number}"
        seen: set[str] = set()
        for result in host["results"]:
            rule_id, status = result["rule_id"], result["status"]
            if rule_id in seen:
                problems.append(f"{where}: rule {rule_id} has more than one result")
            seen.add(rule_id)
            if rule_id not in severity:
                problems.append(f"{where}: result for {rule_id}, which is not in 'rules'")
            elif result["severity"] != severity[rule_id]:
                problems.append(f"{where}: {rule_id} has severity {result['severity']}, but "
                                f"its rule says {severity[rule_id]}")
            if "waiver" in result and status != "waived":
                problems.append(f"{where}: {rule_id} carries a waiver but is {status}")
            stated = result.get("evidence_digest")
            if stated is not None and stated != decisions.evidence_digest(result["observed"]):
                problems.append(f"{where}: {rule_id}'s evidence_digest is not the digest of "
                                "its observed evidence")
            verdict = result.get("judgement", {}).get("verdict")
            if verdict is not None and status != verdict and not (
                    status == "waived" and verdict == "fail"):
                problems.append(f"{where}: {rule_id} is {status}, but its judgement says "
                                f"{verdict}")
        if host["summary"] != summarize_results(host["results"]):
            problems.append(f"{where}: its summary does not count its results")
    if document["summary"] != summarize_document(document["hosts"],
                                                 bool(document["scan"]["complete"])):
        problems.append("summary: does not count the hosts and results of the document")
    return problems


def load_document(text: str, source: str) -> dict[str, Any]:
    """Read a findings document from JSON text; it must match the schema and agree with
    itself (:func:`consistency_errors`)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not valid JSON: {exc.msg}", exc.lineno) from None
    problems = validation_errors(document)
    if problems:
        raise InputError(source, f"not a valid findings document: {problems[0]}")
    inconsistent = consistency_errors(document)
    if inconsistent:
        raise InputError(source, f"findings document disagrees with itself: {inconsistent[0]}"
                         + (f" (and {len(inconsistent) - 1} more)" if len(inconsistent) > 1
                            else ""))
    result: dict[str, Any] = document
    return result
