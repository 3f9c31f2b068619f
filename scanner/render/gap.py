"""The 等保 gap analysis (差距分析) of a findings document: for every scanned host and every
GB/T 22239-2019 8.1.4 item, the results that feed the item and what they decide.

Language-free data; :mod:`scanner.render.xlsx` lays it out. A verdict is given only when
the rules decide it; whatever could not be seen (an error, a manual rule not yet judged,
a rule without a result, an item no rule checks) leaves the verdict to the assessor,
with the reason. A compliant verdict is never derived from something unseen: a false
pass is the worst mistake a gap analysis can make.

A waived result counts as failing here: a waiver accepts a deviation, it does not make
the item compliant (the waiver itself is shown beside the verdict).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from scanner.clauses import AREAS, CLAUSES, Area, Clause, clause_ids_in

SEVERITIES = ("critical", "high", "medium", "low", "info")
FAILING = frozenset({"fail", "waived"})
DECIDED = frozenset({"pass", "fail", "waived", "not_applicable"})
AREA_BY_ID = {area.id: area for area in AREAS}


class Verdict(str, Enum):
    """符合情况: the four values an assessor's sheet allows."""

    COMPLIANT = "compliant"
    PARTLY = "partly"
    NON_COMPLIANT = "non_compliant"
    NOT_APPLICABLE = "not_applicable"


class Pending(str, Enum):
    """Why a verdict is left to the assessor."""

    NO_RULE = "no_rule"  # no rule of the baseline checks the item
    MISSING = "missing"  # a rule that checks it has no result on the host
    ERROR = "error"  # a rule could not be assessed
    MANUAL = "manual"  # a manual rule awaits the assessor's judgement
    UNKNOWN = "unknown"  # a status this version does not know


class Method(str, Enum):
    """检查方式: how the item is checked, from the rules that feed it."""

    AUTOMATED = "automated"
    MANUAL = "manual"
    MIXED = "mixed"
    NONE = "none"  # not checkable by a host scan (no rule checks it)


@dataclass(frozen=True)
class Feed:
    """One rule feeding an item on a host: its catalog entry and the host's result
    (None when the host has no result for it)."""

    rule: Mapping[str, Any]
    result: Mapping[str, Any] | None

    @property
    def rule_id(self) -> str:
        return str(self.rule["id"])

    @property
    def status(self) -> str | None:
        return None if self.result is None else str(self.result["status"])

    @property
    def manual(self) -> bool:
        return self.rule.get("manual") is not None

    @property
    def major_risk(self) -> str | None:
        risk = self.rule.get("major_risk")
        return str(risk) if risk else None


@dataclass(frozen=True)
class ClauseRow:
    """One gap-analysis row: a scanned host × an 8.1.4 item."""

    host: Mapping[str, Any]
    clause: Clause
    area: Area
    feeds: tuple[Feed, ...]
    verdict: Verdict | None
    pending: Pending | None

    @property
    def method(self) -> Method:
        manual = {feed.manual for feed in self.feeds}
        if not manual:
            return Method.NONE
        if manual == {True}:
            return Method.MANUAL
        return Method.AUTOMATED if manual == {False} else Method.MIXED

    @property
    def failing(self) -> tuple[Feed, ...]:
        """Feeds that failed (waived ones included: the deviation is there)."""
        return tuple(feed for feed in self.feeds if feed.status in FAILING)

    @property
    def severity(self) -> str | None:
        """The highest severity among the failing rules."""
        found = {str(feed.result["severity"]) for feed in self.failing if feed.result}
        return next((s for s in SEVERITIES if s in found), None)

    @property
    def major_risks(self) -> tuple[str, ...]:
        """The major-risk triggers (重大风险隐患) among the failing rules, without repeats."""
        risks = (feed.major_risk for feed in self.failing)
        return tuple(dict.fromkeys(risk for risk in risks if risk))


@dataclass(frozen=True)
class RemediationRow:
    """One remediation-list row: a host × a rule that failed there (not waived)."""

    host: Mapping[str, Any]
    rule: Mapping[str, Any]
    result: Mapping[str, Any]
    clauses: tuple[Clause, ...]

    @property
    def major_risk(self) -> str | None:
        risk = self.rule.get("major_risk")
        return str(risk) if risk else None


def decide(statuses: Sequence[str | None]) -> tuple[Verdict | None, Pending | None]:
    """The item's verdict from its feeding results' statuses (None: no result), or why
    there is none."""
    if not statuses:
        return None, Pending.NO_RULE
    if None in statuses:
        return None, Pending.MISSING
    if "error" in statuses:
        return None, Pending.ERROR
    if "manual" in statuses:
        return None, Pending.MANUAL
    if not set(statuses) <= DECIDED:
        return None, Pending.UNKNOWN
    applicable = [status for status in statuses if status != "not_applicable"]
    if not applicable:
        return Verdict.NOT_APPLICABLE, None
    failing = sum(status in FAILING for status in applicable)
    if failing == 0:
        return Verdict.COMPLIANT, None
    return (Verdict.NON_COMPLIANT if failing == len(applicable) else Verdict.PARTLY), None


def scanned_hosts(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The scanned hosts, one at a time (a findings document read lazily builds each host
    as it is reached: nothing here keeps one past its turn)."""
    return (host for host in document["hosts"] if host["status"] == "scanned")


def rules_of_clauses(document: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """For each 8.1.4 item, the catalog's rules that reference it, in catalog order."""
    by_clause: dict[str, list[Mapping[str, Any]]] = {clause.id: [] for clause in CLAUSES}
    for rule in document["rules"]:
        for clause_id in clause_ids_in(rule.get("references", {})):
            by_clause[clause_id].append(rule)
    return by_clause


def host_clause_rows(host: Mapping[str, Any],
                     by_clause: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[ClauseRow]:
    """Every item on one scanned host (``by_clause``: :func:`rules_of_clauses`): the items
    with a major-risk failure first, then in the standard's order."""
    results = {result["rule_id"]: result for result in host["results"]}
    rows = []
    for clause in CLAUSES:
        feeds = tuple(Feed(rule, results.get(rule["id"])) for rule in by_clause[clause.id])
        verdict, pending = decide([feed.status for feed in feeds])
        rows.append(ClauseRow(host, clause, AREA_BY_ID[clause.area], feeds, verdict, pending))
    rows.sort(key=lambda row: not row.major_risks)  # stable: the standard's order after
    return rows


def clause_rows(document: Mapping[str, Any]) -> list[ClauseRow]:
    """Every scanned host × item, host by host in document order."""
    by_clause = rules_of_clauses(document)
    return [row for host in scanned_hosts(document) for row in host_clause_rows(host, by_clause)]


def remediation_rows(document: Mapping[str, Any]) -> list[RemediationRow]:
    """Every failed (not waived) host × rule: major-risk triggers first, then by severity,
    then in document order."""
    clause_by_id = {clause.id: clause for clause in CLAUSES}
    rules = {rule["id"]: rule for rule in document["rules"]}
    rows: list[RemediationRow] = []
    for host in scanned_hosts(document):
        for result in host["results"]:
            if result["status"] != "fail":
                continue
            rule = rules.get(result["rule_id"], {"id": result["rule_id"]})
            items = tuple(clause_by_id[c] for c in clause_ids_in(rule.get("references", {})))
            # the host's identity only: a lazily read document's hosts are not kept whole
            identity = {key: host.get(key) for key in ("name", "address", "port", "os")}
            rows.append(RemediationRow(identity, rule, result, items))

    def order(row: RemediationRow) -> tuple[bool, int]:
        severity = str(row.result["severity"])
        rank = SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
        return row.major_risk is None, rank

    return sorted(rows, key=order)


Counts = dict[Verdict | None, int]


def area_counts(rows: Sequence[ClauseRow]) -> dict[str, Counts]:
    """Per area id: how many of ``rows`` have each verdict (None: to be judged)."""
    counts = empty_counts()
    for row in rows:
        counts[row.area.id][row.verdict] += 1
    return counts


def empty_counts() -> dict[str, Counts]:
    return {area.id: dict.fromkeys([*Verdict, None], 0) for area in AREAS}


def add_counts(total: dict[str, Counts], more: Mapping[str, Counts]) -> None:
    for area_id, counts in more.items():
        for verdict, count in counts.items():
            total[area_id][verdict] += count
