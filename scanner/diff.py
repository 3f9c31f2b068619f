"""Compare two findings documents: what got worse, what got better, what is still wrong.

Hosts are matched by (name, address, port), results by rule id. Every failure on
a host that was not in the old scan, or whose rule did not fail before, is a new
failure — a pipeline gating on ``--fail-on`` must see it. A changed baseline
(id, version or digest) is called out because statuses may have moved for that
reason rather than because the hosts changed. Pure: documents in, data out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from scanner.render._text import printable
from scanner.vocabulary import SEVERITIES

HostKey = tuple[str, str, int | None]
DIFF_SCHEMA_VERSION = "1.0"


def _key(host: Mapping[str, Any]) -> HostKey:
    return (str(host["name"]), str(host.get("address") or ""), host.get("port"))


def _host_json(key: HostKey) -> dict[str, Any]:
    return {"name": key[0], "address": key[1], "port": key[2]}


def _change(key: HostKey, rule_id: str, severity: str, old: str | None,
            new: str | None) -> dict[str, Any]:
    return {"host": _host_json(key), "rule_id": rule_id, "severity": severity,
            "old_status": old, "new_status": new}


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The differences between two findings documents, as a JSON-able dict."""
    old_hosts = {_key(h): h for h in old["hosts"]}
    new_hosts = {_key(h): h for h in new["hosts"]}
    new_failures: list[dict[str, Any]] = []
    fixed: list[dict[str, Any]] = []
    still_failing: list[dict[str, Any]] = []
    other_changes: list[dict[str, Any]] = []
    host_status: list[dict[str, Any]] = []
    for key in sorted(new_hosts, key=lambda k: (k[0], k[1], k[2] or 0)):
        host = new_hosts[key]
        before = old_hosts.get(key)
        old_results = {r["rule_id"]: r for r in (before or {}).get("results", [])}
        new_results = {r["rule_id"]: r for r in host["results"]}
        if before is not None and before["status"] != host["status"]:
            host_status.append({"host": _host_json(key), "old_status": before["status"],
                                "new_status": host["status"], "reason": host["reason"]})
        for rule_id in sorted(set(old_results) | set(new_results)):
            was = old_results.get(rule_id)
            now = new_results.get(rule_id)
            old_status = was["status"] if was else None
            new_status = now["status"] if now else None
            severity = (now or was or {}).get("severity", "info")
            change = _change(key, rule_id, severity, old_status, new_status)
            if new_status == "fail" and old_status != "fail":
                new_failures.append(change)
            elif new_status == "fail":
                still_failing.append(change)
            elif old_status == "fail" and new_status == "pass":
                fixed.append(change)
            elif old_status != new_status and before is not None and \
                    before["status"] == "scanned" and host["status"] == "scanned":
                other_changes.append(change)
    by_severity = {s: sum(1 for c in new_failures if c["severity"] == s) for s in SEVERITIES}
    old_baseline, new_baseline = old["baseline"], new["baseline"]
    baseline_changed = any(old_baseline[k] != new_baseline[k]
                           for k in ("id", "version", "digest", "profile"))
    return {
        "kind": "cii-scan-diff",
        "schema_version": DIFF_SCHEMA_VERSION,
        "old": {"started_at": old["scan"]["started_at"], "baseline": _baseline(old_baseline)},
        "new": {"started_at": new["scan"]["started_at"], "baseline": _baseline(new_baseline)},
        "baseline_changed": baseline_changed,
        "hosts_added": [_host_json(k) for k in sorted(set(new_hosts) - set(old_hosts),
                                                      key=lambda k: (k[0], k[1], k[2] or 0))],
        "hosts_removed": [_host_json(k) for k in sorted(set(old_hosts) - set(new_hosts),
                                                        key=lambda k: (k[0], k[1], k[2] or 0))],
        "host_status_changes": host_status,
        "new_failures": new_failures,
        "new_failures_by_severity": by_severity,
        "fixed": fixed,
        "still_failing": still_failing,
        "status_changes": other_changes,
    }


def _baseline(baseline: Mapping[str, Any]) -> dict[str, Any]:
    return {k: baseline[k] for k in ("id", "version", "digest", "profile")}


def new_failures_at_or_above(diff: Mapping[str, Any], threshold: str) -> int:
    """New failures whose severity is ``threshold`` or worse (the diff's gate)."""
    limit = SEVERITIES.index(threshold)
    return sum(1 for c in diff["new_failures"] if SEVERITIES.index(c["severity"]) <= limit)


def render_json(diff: Mapping[str, Any]) -> str:
    return json.dumps(diff, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _where(host: Mapping[str, Any]) -> str:
    port = f":{host['port']}" if host.get("port") else ""
    return printable(f"{host['name']} ({host['address']}{port})")


def render_text(diff: Mapping[str, Any]) -> str:
    """A short plain-text account, newest problems first."""
    lines: list[str] = []
    old_b, new_b = diff["old"]["baseline"], diff["new"]["baseline"]
    lines.append(f"old: {diff['old']['started_at']}  {old_b['id']} {old_b['version']}")
    lines.append(f"new: {diff['new']['started_at']}  {new_b['id']} {new_b['version']}")
    if diff["baseline_changed"]:
        lines.append(f"NOTE: the baseline changed ({old_b['id']} {old_b['version']} "
                     f"{old_b['digest']} -> {new_b['id']} {new_b['version']} {new_b['digest']});"
                     " some status changes may come from the baseline, not the hosts")
    sections = (("new failures", "new_failures"), ("fixed", "fixed"),
                ("still failing", "still_failing"), ("other status changes", "status_changes"))
    for title, key in sections:
        lines.append(f"{title}: {len(diff[key])}")
        for change in diff[key]:
            lines.append(f"  [{change['severity']}] {change['rule_id']} on "
                         f"{_where(change['host'])}: {change['old_status'] or 'absent'} -> "
                         f"{change['new_status'] or 'absent'}")
    for title, key in (("hosts added", "hosts_added"), ("hosts removed", "hosts_removed")):
        lines.append(f"{title}: {len(diff[key])}")
        lines.extend(f"  {_where(host)}" for host in diff[key])
    lines.append(f"host status changes: {len(diff['host_status_changes'])}")
    for change in diff["host_status_changes"]:
        lines.append(f"  {_where(change['host'])}: {change['old_status']} -> "
                     f"{change['new_status']}" + (f" ({printable(change['reason'])})"
                                                  if change["reason"] else ""))
    return "\n".join(lines) + "\n"
