"""CSV: one row per host × rule (one row for a host that could not be assessed).

Safe to open in a spreadsheet: a cell starting with = + - @ TAB or CR is prefixed
with a single quote so it is never taken as a formula (CSV injection), and control
characters are shown as visible escapes. Failed, waived, manual and judged rows carry
the evidence digest a waiver or a judgement can bind to (``evidence_digest``);
``major_risk`` names the 重大风险隐患 the rule detects (in the report's language) on
every row of such a rule, whatever its status, so a spreadsheet filter finds them. The file
starts with a UTF-8 byte order mark because Excel otherwise decodes CSV with the legacy
code page (GBK on Chinese Windows) and garbles the Chinese rule titles.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from scanner.decisions import evidence_digest
from scanner.render._text import (
    clause_items,
    compact_evidence,
    os_family,
    pick,
    printable,
    remediation_for,
    rules_by_id,
)
from scanner.render.html_sections import major_risk_name
from scanner.render.wording import result_expected, result_message

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("host", "address", "port", "groups", "host_status", "rule_id", "severity",
           "status", "title", "gbt22239_2019", "major_risk", "expected", "observed", "message",
           "remediation", "waiver_justification", "waiver_approved_by", "waiver_expires",
           "judged_by", "judged_on", "judgement_note", "judgement_record", "evidence_digest",
           "collected_at")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: formula starts neutralised, controls escaped."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return printable(text)


def _rows(document: Mapping[str, Any], lang: str) -> Iterable[list[object]]:
    rules = rules_by_id(document)
    for host in document["hosts"]:
        identity = [host["name"], host.get("address") or "", host.get("port") or "",
                    " ".join(host.get("groups", [])), host["status"]]
        if host["status"] != "scanned":
            yield [*identity, "", "", host["status"], "", "", "", "", "", host["reason"],
                   *[""] * (len(COLUMNS) - 14)]
            continue
        for result in host["results"]:
            rule = rules.get(result["rule_id"])
            waiver = result.get("waiver") or {}
            judgement = result.get("judgement") or {}
            fix = remediation_for(rule, os_family(host), lang) \
                if result["status"] in ("fail", "waived") else ""
            yield [*identity, result["rule_id"], result["severity"], result["status"],
                   pick(rule.get("title") if rule else None, lang),
                   " ".join(clause_items(rule)), major_risk_name(rule, lang),
                   result_expected(result, lang),
                   compact_evidence(result["observed"]), result_message(result, lang), fix,
                   waiver.get("justification", ""), waiver.get("approved_by", ""),
                   waiver.get("expires", ""),
                   judgement.get("assessor", ""), judgement.get("date", ""),
                   judgement.get("note", ""), judgement.get("attachment", ""),
                   # what a waiver's or a judgement's evidence_digest binds to, for the
                   # results one may waive or judge
                   (result.get("evidence_digest") or evidence_digest(result["observed"]))
                   if result["status"] in ("fail", "waived", "manual") or judgement else "",
                   host.get("collected_at") or ""]


def render(document: Mapping[str, Any], *, lang: str = "en") -> str:
    """CSV text (RFC 4180 CRLF line ends) with a leading BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for row in _rows(document, lang):
        writer.writerow([safe_cell(cell) for cell in row])
    return BOM + buffer.getvalue()
