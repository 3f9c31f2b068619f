"""The parts of the whole picture every human report shows besides the results:
重大风险隐患 first, the baseline's tailoring, and the waivers that had expired.

The findings document holds all of it (``rules[].major_risk``, ``baseline.parameters``,
``baseline.parameter_defaults``, ``baseline.disabled``, ``results[].expired_waivers``);
until these views existed an assessor saw it only in findings.json.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scanner import major_risks
from scanner.render._text import compact_evidence, host_label, pick, printable

# the statuses under which a major-risk rule's finding is listed first: failed, then not
# decided (an error or a manual rule still awaiting the assessor)
UNSETTLED = ("fail", "error", "manual")


def major_risk_name(rule: Mapping[str, Any] | None, lang: str) -> str:
    """The 重大风险隐患 the rule detects, named in ``lang``; "" when it detects none."""
    risk = (rule or {}).get("major_risk")
    if not risk or risk not in major_risks.BY_ID:
        return ""
    return major_risks.title(str(risk), lang)


def major_risk_rows(hosts: Sequence[Mapping[str, Any]], rules: Mapping[str, Mapping[str, Any]],
                    lang: str) -> list[dict[str, Any]]:
    """One row per result whose rule detects a 重大风险隐患 and that failed, or that is
    not decided yet (error, manual): failures first, then in the closed list's order, by
    rule and host. A waived one is not listed: a named person accepted it (it stays in
    the waivers section)."""
    order = {risk.id: index for index, risk in enumerate(major_risks.MAJOR_RISKS)}
    rows = []
    for host in hosts:
        for result in host["results"]:
            rule = rules.get(result["rule_id"])
            name = major_risk_name(rule, lang)
            if not name or result["status"] not in UNSETTLED:
                continue
            rows.append({"risk_id": (rule or {})["major_risk"], "risk": name,
                         "host": host_label(host), "rule_id": result["rule_id"],
                         "title": pick((rule or {}).get("title"), lang) or result["rule_id"],
                         "severity": result["severity"], "status": result["status"]})
    return sorted(rows, key=lambda r: (UNSETTLED.index(r["status"]),
                                       order.get(r["risk_id"], len(order)), r["rule_id"],
                                       r["host"]))


def checked_major_risks(rules: Mapping[str, Mapping[str, Any]], lang: str) -> list[str]:
    """The 重大风险隐患 this baseline's rules can detect (shown when none was found, so
    "none found" is not read as "none looked for")."""
    present = {rule.get("major_risk") for rule in rules.values()}
    return [major_risks.title(risk.id, lang) for risk in major_risks.MAJOR_RISKS
            if risk.id in present]


def tailoring_view(baseline: Mapping[str, Any], rules: Mapping[str, Mapping[str, Any]],
                   lang: str) -> dict[str, Any]:
    """The profile, every effective parameter beside the baseline's own default (when the
    document recorded defaults), and the rules tailored out."""
    defaults: Mapping[str, Any] | None = baseline.get("parameter_defaults")
    parameters = []
    for name, value in sorted(baseline.get("parameters", {}).items()):
        default = None if defaults is None else defaults.get(name)
        known = defaults is not None and name in defaults
        parameters.append({
            "name": printable(name), "value": compact_evidence(value),
            "default": compact_evidence(default) if known else "",
            "changed": defaults is not None and (not known or default != value),
        })
    disabled = [{"rule_id": item["rule_id"],
                 "title": pick((rules.get(item["rule_id"]) or {}).get("title"), lang),
                 "reason": item["reason"]}
                for item in baseline.get("disabled", [])]
    return {"profile": baseline.get("profile"), "extends": list(baseline.get("extends", [])),
            "parameters": parameters, "defaults_known": defaults is not None,
            "changed": sum(1 for p in parameters if p["changed"]), "disabled": disabled}


def expired_waiver_rows(hosts: Sequence[Mapping[str, Any]],
                        rules: Mapping[str, Mapping[str, Any]], lang: str
                        ) -> list[dict[str, Any]]:
    """One row per expired waiver that named a failed result (the result stays a failure)."""
    return [{"host": host_label(host), "rule_id": result["rule_id"],
             "title": pick((rules.get(result["rule_id"]) or {}).get("title"), lang)
             or result["rule_id"],
             "severity": result["severity"], "status": result["status"], **waiver}
            for host in hosts for result in host["results"]
            for waiver in result.get("expired_waivers", [])]
