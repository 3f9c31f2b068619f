"""JUnit XML: one testsuite per host, one testcase per rule, for CI dashboards.

``fail`` is a failure (expected vs observed), ``error`` an error, and ``waived``,
``not_applicable`` and ``manual`` are skipped with a message saying which. A result an
assessor judged says so in its message (a judged failure is a failure). A host
that could not be assessed is a suite with one erroring testcase. Characters XML
1.0 cannot hold are shown as visible escapes, so the file is always well-formed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

from scanner.render._text import os_family, pick, printable, remediation_for, rules_by_id

SKIP_LABELS = {"waived": "waived", "not_applicable": "not applicable",
               "manual": "manual review needed"}


def _element(parent: ElementTree.Element, tag: str, text: str | None = None,
             **attrs: Any) -> ElementTree.Element:
    node = ElementTree.SubElement(parent, tag, {k: printable(v) for k, v in attrs.items()})
    if text is not None:
        node.text = printable(text)
    return node


def testcase_name(result: Mapping[str, Any], rule: Mapping[str, Any] | None, lang: str) -> str:
    """``[SEVERITY][rule-id] title`` — the name CI dashboards show."""
    title = pick(rule.get("title") if rule else None, lang) or result["rule_id"]
    return f"[{result['severity'].upper()}][{result['rule_id']}] {title}"


def _details(host: Mapping[str, Any], result: Mapping[str, Any],
             rule: Mapping[str, Any] | None, lang: str) -> str:
    observed = json.dumps(result["observed"], indent=1, sort_keys=True, ensure_ascii=False)
    lines = [f"expected: {result['expected']}", f"observed: {observed}",
             f"message: {result['message']}"]
    judgement = result.get("judgement")
    if judgement:
        lines.append(f"assessor's note: {_judgement_note(judgement)}")
    fix = remediation_for(rule, os_family(host), lang)
    if fix and result["status"] == "fail":
        lines.append(f"remediation: {fix}")
    return "\n".join(lines)


def _skip_message(result: Mapping[str, Any], rule: Mapping[str, Any] | None, lang: str) -> str:
    status = result["status"]
    message = f"{SKIP_LABELS[status]}: {result['message']}".rstrip(": ")
    waiver = result.get("waiver")
    if status == "waived" and waiver:
        message += (f" (waiver: {waiver['justification']}; approved by {waiver['approved_by']};"
                    f" expires {waiver['expires']})")
    if status == "manual" and rule and rule.get("manual"):
        message += f" ({pick(rule['manual'], lang)})"
    if result.get("judgement"):  # the message already says who judged and when
        message += f" (assessor's note: {_judgement_note(result['judgement'])})"
    return message


def _judgement_note(judgement: Mapping[str, Any]) -> str:
    """Why the assessor decided so, and where the record is."""
    record = judgement.get("attachment")
    return str(judgement["note"]) + (f" [record: {record}]" if record else "")


def _host_suite(root: ElementTree.Element, host: Mapping[str, Any],
                rules: Mapping[str, Mapping[str, Any]], lang: str) -> None:
    counts = host["summary"]["by_status"]
    scanned = host["status"] == "scanned"
    suite = _element(
        root, "testsuite", name=host["name"], hostname=host.get("address") or host["name"],
        tests=len(host["results"]) if scanned else 1,
        failures=counts["fail"],
        errors=counts["error"] if scanned else 1,
        skipped=counts["waived"] + counts["not_applicable"] + counts["manual"],
        time=f"{float(host.get('duration_s') or 0):.3f}",
    )
    properties = _element(suite, "properties")
    _element(properties, "property", name="host.status", value=host["status"])
    if host.get("facts_digest"):
        _element(properties, "property", name="facts_digest", value=host["facts_digest"])
    if host.get("collected_at"):
        _element(properties, "property", name="collected_at", value=host["collected_at"])
    os_data = host.get("os") or {}
    if os_data.get("pretty_name"):
        _element(properties, "property", name="os", value=os_data["pretty_name"])
    if not scanned:
        case = _element(suite, "testcase", name=f"[HOST][{host['status']}] host could not be "
                        "assessed", classname=host["name"], time="0.000")
        _element(case, "error", text=host["reason"], message=f"{host['status']}: "
                 f"{host['reason']}", type=host["status"])
        return
    for result in host["results"]:
        rule = rules.get(result["rule_id"])
        case = _element(suite, "testcase", name=testcase_name(result, rule, lang),
                        classname=host["name"], time="0.000")
        status = result["status"]
        if status == "fail":
            _element(case, "failure", text=_details(host, result, rule, lang),
                     message=result["message"] or "failed", type=result["severity"])
        elif status == "error":
            _element(case, "error", text=_details(host, result, rule, lang),
                     message=result["message"] or "could not be assessed", type="error")
        elif status in SKIP_LABELS:
            _element(case, "skipped", message=_skip_message(result, rule, lang))
        elif result.get("judgement"):  # a pass an assessor gave, not one the scanner saw
            _element(case, "system-out", text=f"{result['message']}; assessor's note: "
                                              f"{_judgement_note(result['judgement'])}")


def render(document: Mapping[str, Any], *, lang: str = "en") -> str:
    """JUnit XML text with an XML declaration."""
    rules = rules_by_id(document)
    summary = document["summary"]
    counts = summary["by_status"]
    unassessed = summary["hosts"]["total"] - summary["hosts"]["scanned"]
    root = ElementTree.Element("testsuites", {
        "name": printable(f"cii-scan {document['baseline']['id']} "
                          f"{document['baseline']['version']}"),
        "tests": str(sum(counts.values()) + unassessed),
        "failures": str(counts["fail"]),
        "errors": str(counts["error"] + unassessed),
        "skipped": str(counts["waived"] + counts["not_applicable"] + counts["manual"]),
        "time": f"{sum(float(h.get('duration_s') or 0) for h in document['hosts']):.3f}",
    })
    for host in document["hosts"]:
        _host_suite(root, host, rules, lang)
    ElementTree.indent(root)
    body = ElementTree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
