"""SARIF 2.1.0: one run, each rule once (results point at it by ruleIndex), hosts as locations.

Results are emitted for what needs attention: ``fail`` (kind fail), ``waived``
(kind fail with an accepted external suppression, so it stays visible but is not
open), ``error`` (kind open: compliance could not be determined) and ``manual``
(kind review). Passing and not-applicable results are counted in the run's
properties instead, which keeps a 1,000-host file readable. A result an assessor
judged is always emitted, kind after its verdict, with the judgement in its
properties and its message, so a pipeline never reads it as the scanner's. Hosts that could not be
assessed are tool execution notifications of the invocation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from scanner.render._text import (
    clause_items,
    os_family,
    pick,
    printable,
    printable_data,
    remediation_for,
)

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub's convention: a CVSS-like number as a string.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0",
                     "info": "0.0"}
KINDS = {"fail": "fail", "waived": "fail", "error": "open", "manual": "review"}
JUDGED_KINDS = {"pass": "pass", "not_applicable": "notApplicable", **KINDS}
# Where on the host a probe's evidence lives, for artifact locations.
PROBE_PATHS = {
    "sshd_effective": "/etc/ssh/sshd_config",
    "accounts": "/etc/passwd",
    "login_defs": "/etc/login.defs",
}


def _probe_path(item: Mapping[str, Any]) -> str | None:
    raw_args = item.get("args")
    args: Mapping[str, Any] = raw_args if isinstance(raw_args, Mapping) else {}
    path = args.get("path")
    if isinstance(path, str) and path.startswith("/"):
        return path
    name = args.get("name")
    if item.get("probe") == "sysctl" and isinstance(name, str):
        return "/proc/sys/" + name.replace(".", "/")
    return PROBE_PATHS.get(str(item.get("probe")))


def _host_uri(host: Mapping[str, Any], path: str) -> str | None:
    """ssh://address:port/path for SSH hosts, file:///path for this machine, else none."""
    encoded_path = quote(path, safe="/")
    if host.get("transport") == "ssh":
        authority = quote(str(host.get("address") or host["name"]), safe="")
        if host.get("port"):
            authority += f":{host['port']}"
        return f"ssh://{authority}{encoded_path}"
    if host.get("transport") == "local":
        return f"file://{encoded_path}"
    return None


def _locations(host: Mapping[str, Any], observed: Any) -> list[dict[str, Any]]:
    logical = {"name": printable(host["name"]),
               "fullyQualifiedName": printable(f"{host['name']}@{host.get('address') or ''}"),
               "kind": "resource"}
    paths: dict[str, None] = {}
    for item in observed if isinstance(observed, list) else []:
        if isinstance(item, Mapping):
            path = _probe_path(item)
            if path:
                paths[path] = None
    locations = []
    for path in paths:
        uri = _host_uri(host, path)
        if uri is not None:
            locations.append({"physicalLocation": {"artifactLocation": {"uri": uri}},
                              "logicalLocations": [logical]})
    return locations or [{"logicalLocations": [logical]}]


def _rule_descriptor(rule: Mapping[str, Any], lang: str) -> dict[str, Any]:
    remediation = remediation_for(rule, None, lang)
    families = sorted(rule.get("remediation", {}))
    help_text = "\n".join(f"[{family}] {pick(rule['remediation'][family], lang)}"
                          for family in families) or remediation or "-"
    severity = rule["severity"]
    tags = ["security", "compliance", *(f"gbt22239-2019/{item}" for item in clause_items(rule))]
    descriptor: dict[str, Any] = {
        "id": rule["id"],
        "name": rule["id"],
        "shortDescription": {"text": printable(pick(rule["title"], lang)) or rule["id"]},
        "help": {"text": printable(help_text)},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[severity],
            "severity": severity,
            "tags": tags,
            "references": {k: list(v) for k, v in sorted(rule.get("references", {}).items())},
        },
    }
    rationale = pick(rule.get("rationale"), lang)
    if rationale:
        descriptor["fullDescription"] = {"text": printable(rationale)}
    return descriptor


def _fingerprint(host: Mapping[str, Any], rule_id: str) -> str:
    key = json.dumps([host["name"], host.get("address"), host.get("port"), rule_id])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _result(host: Mapping[str, Any], result: Mapping[str, Any], index: int,
            rule: Mapping[str, Any], lang: str) -> dict[str, Any]:
    status, severity = result["status"], result["severity"]
    judgement = result.get("judgement")
    kind = JUDGED_KINDS[status] if judgement else KINDS[status]
    text = (f"{printable(host['name'])}: {status}: {printable(result['message']) or status}. "
            f"Expected: {printable(result['expected']) or '-'}.")
    if judgement:  # the message already says who judged and when
        text += f" Assessor's note: {printable(judgement['note'])}"
        if judgement.get("attachment"):
            text += f" (record: {printable(judgement['attachment'])})"
    fix = remediation_for(rule, os_family(host), lang)
    if status in ("fail", "waived") and fix:
        text += f" Remediation: {printable(fix)}"
    out: dict[str, Any] = {
        "ruleId": result["rule_id"],
        "ruleIndex": index,
        "kind": kind,
        "level": LEVELS[severity] if kind == "fail" else "none",
        "message": {"text": text},
        "locations": _locations(host, result["observed"]),
        "partialFingerprints": {"ciiScanHostRule/v1": _fingerprint(host, result["rule_id"])},
        "properties": {
            "status": status,
            "severity": severity,
            "host": printable(host["name"]),
            "address": printable(host.get("address") or ""),
            "collected_at": host.get("collected_at"),
            "expected": printable(result["expected"]),
            "observed": printable_data(result["observed"]),
        },
    }
    if judgement:
        out["properties"]["judgement"] = {k: printable(v) for k, v in sorted(judgement.items())}
    waiver = result.get("waiver")
    if status == "waived" and waiver:
        out["suppressions"] = [{
            "kind": "external",
            "status": "accepted",
            "justification": printable(
                f"{waiver['justification']} (approved by {waiver['approved_by']}, "
                f"expires {waiver['expires']})"),
            "properties": {k: printable(v) for k, v in sorted(waiver.items())},
        }]
    return out


def build_sarif(document: Mapping[str, Any], lang: str = "en") -> dict[str, Any]:
    """The SARIF log as a JSON-able dict."""
    catalog = {rule["id"]: rule for rule in document["rules"]}
    for host in document["hosts"]:  # a result whose rule text is missing is still reported
        for result in host["results"]:
            catalog.setdefault(result["rule_id"], {
                "id": result["rule_id"], "title": {"en": result["rule_id"]},
                "severity": result["severity"], "remediation": {}, "references": {}})
    rules = sorted(catalog.values(), key=lambda r: r["id"])
    index_of = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [
        _result(host, result, index_of[result["rule_id"]], catalog[result["rule_id"]], lang)
        for host in document["hosts"]
        for result in host["results"]
        if result["status"] in KINDS or "judgement" in result
    ]
    notifications = [
        {"level": "error",
         "message": {"text": printable(f"{host['name']} ({host.get('address') or '-'}): "
                                       f"not assessed: {host['status']}: {host['reason']}")},
         "descriptor": {"id": f"host-{host['status']}"},
         "locations": [{"logicalLocations": [{"name": printable(host["name"]),
                                               "kind": "resource"}]}],
         "properties": {"host": printable(host["name"]), "status": host["status"]}}
        for host in document["hosts"] if host["status"] != "scanned"
    ]
    notifications += [
        {"level": "warning",
         "message": {"text": printable(f"{host['name']}: probe {probe} failed: {message}")},
         "descriptor": {"id": "probe-error"}}
        for host in document["hosts"]
        for probe, message in sorted((host.get("probe_errors") or {}).items())
    ]
    scan, baseline = document["scan"], document["baseline"]
    invocation: dict[str, Any] = {
        "executionSuccessful": bool(document["summary"]["complete"]),
        "startTimeUtc": scan["started_at"],
        "endTimeUtc": scan["finished_at"],
        "toolExecutionNotifications": notifications,
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": document["tool"]["name"],
                "version": document["tool"]["version"],
                "semanticVersion": document["tool"]["version"],
                "rules": [_rule_descriptor(rule, lang) for rule in rules],
            }},
            "invocations": [invocation],
            "results": results,
            "columnKind": "unicodeCodePoints",
            "properties": {
                "baseline": {"id": baseline["id"], "version": baseline["version"],
                             "digest": baseline["digest"], "profile": baseline["profile"]},
                "summary": document["summary"],
                "evaluated_at": scan.get("evaluated_at") or scan["finished_at"],
            },
        }],
    }


def render(document: Mapping[str, Any], *, lang: str = "en") -> str:
    """SARIF text (sorted keys, UTF-8), newline-ended."""
    return json.dumps(build_sarif(document, lang), indent=2, sort_keys=True,
                      ensure_ascii=False) + "\n"
