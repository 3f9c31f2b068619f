"""SARIF 2.1.0: valid against the official schema, loads in sarif-tools, maps severities,
deduplicates rules and reports hosts that could not be assessed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
from sarif import loader

from scanner.render import sarif
from tests._scanner import SARIF_SCHEMA as SARIF_SCHEMA_FILE
from tests.sample_findings import HOSTILE_NAME, sample_document

SCHEMA = SARIF_SCHEMA_FILE


def _log() -> dict[str, Any]:
    return json.loads(sarif.render(sample_document()))


def test_validates_against_the_official_sarif_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    errors = [f"{list(e.path)}: {e.message}"
              for e in validator_class(schema).iter_errors(_log())]
    assert not errors, errors[:5]


def test_loads_in_sarif_tools_with_the_expected_counts(tmp_path: Path) -> None:
    path = tmp_path / "findings.sarif"
    path.write_text(sarif.render(sample_document()), encoding="utf-8")
    files = loader.load_sarif_files(str(path))
    records = files.get_records()
    document = sample_document()
    counts = document["summary"]["by_status"]
    judged_not_failed = sum(1 for host in document["hosts"] for result in host["results"]
                            if "judgement" in result and result["status"] != "fail")
    assert judged_not_failed == 1  # web-01's backup, judged pass
    assert files.get_result_count() == (counts["fail"] + counts["waived"] + counts["error"]
                                        + counts["manual"] + judged_not_failed)
    by_code = Counter(record["Code"] for record in records)
    assert by_code["ssh.banner-configured"] == 2
    assert {r["Tool"] for r in records} == {"cii-scan"}
    severities = Counter(record["Severity"] for record in records)
    assert severities["error"] == 3  # two high and one critical failure
    cli = subprocess.run([sys.executable, "-m", "sarif", "summary", str(path)],
                         capture_output=True, text=True, check=False)
    assert cli.returncode == 0, cli.stderr
    assert "error: 3" in cli.stdout


def test_rules_are_listed_once_and_results_point_at_them() -> None:
    log = _log()
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert ids == sorted(set(ids))
    assert len(ids) == len(sample_document()["rules"])
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_severity_maps_to_level_and_security_severity() -> None:
    rules = {r["id"]: r for r in _log()["runs"][0]["tool"]["driver"]["rules"]}
    expected = {"accounts.no-empty-passwords": ("error", "9.5"),
                "ssh.root-login-disabled": ("error", "8.0"),
                "ssh.max-auth-tries": ("warning", "5.5"),
                "ssh.banner-configured": ("note", "3.0"),
                "backup.offhost-copy": ("note", "0.0")}
    for rule_id, (level, score) in expected.items():
        assert rules[rule_id]["defaultConfiguration"]["level"] == level
        assert rules[rule_id]["properties"]["security-severity"] == score
    assert "PermitRootLogin no" in rules["ssh.root-login-disabled"]["help"]["text"]


def test_result_kinds_waivers_and_locations() -> None:
    results = _log()["runs"][0]["results"]
    by_key = {(r["properties"]["host"], r["ruleId"]): r for r in results}
    waived = by_key[("web-01", "ssh.x11-forwarding-disabled")]
    assert waived["kind"] == "fail"
    assert waived["suppressions"][0]["status"] == "accepted"
    assert "CHG-1042" in waived["suppressions"][0]["justification"]
    error = by_key[("db-01", "files.shadow-permissions")]
    assert (error["kind"], error["level"]) == ("open", "none")
    hostile = HOSTILE_NAME.replace("\x07", "\\x07")
    manual = by_key[(hostile, "backup.offhost-copy")]
    assert manual["kind"] == "review" and "judgement" not in manual["properties"]
    # an assessor's verdicts are emitted whatever they are, and say whose they are
    judged_pass = by_key[("web-01", "backup.offhost-copy")]
    assert (judged_pass["kind"], judged_pass["level"]) == ("pass", "none")
    assert judged_pass["properties"]["judgement"]["assessor"] == "Chen Jing (assessor)"
    assert "Assessor's note: Nightly job" in judged_pass["message"]["text"]
    judged_fail = by_key[("db-01", "backup.offhost-copy")]
    assert (judged_fail["kind"], judged_fail["level"]) == ("fail", "note")
    assert judged_fail["message"]["text"].startswith("db-01: fail: judged fail by Chen Jing")
    failed = by_key[("web-01", "ssh.root-login-disabled")]
    uris = [loc["physicalLocation"]["artifactLocation"]["uri"] for loc in failed["locations"]]
    assert uris == ["ssh://192.0.2.10:22/etc/ssh/sshd_config"]
    assert failed["locations"][0]["logicalLocations"][0]["name"] == "web-01"
    sysctl = by_key[("db-01", "kernel.ip-forward-disabled")]
    assert sysctl["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "ssh://192.0.2.20:22/proc/sys/net/ipv4/ip_forward"
    assert not any(r["properties"]["status"] in ("pass", "not_applicable")
                   for r in results if "judgement" not in r["properties"])


def test_hosts_not_assessed_are_tool_execution_notifications() -> None:
    invocation = _log()["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    texts = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]
             if n["level"] == "error"]
    assert any("edge-03" in t and "unreachable" in t for t in texts)
    assert any("legacy-04" in t and "auth_failed" in t for t in texts)


def test_hostile_strings_stay_valid_json_without_control_characters() -> None:
    text = sarif.render(sample_document())
    log = json.loads(text)
    names = {r["properties"]["host"] for r in log["runs"][0]["results"]}
    assert HOSTILE_NAME.replace("\x07", "\\x07") in names
    assert "\x07" not in text and "\\u0007" not in text


def test_a_failure_without_rule_text_is_still_reported() -> None:
    document = sample_document()
    document["rules"] = [r for r in document["rules"] if r["id"] != "ssh.root-login-disabled"]
    log = json.loads(sarif.render(document))
    run = log["runs"][0]
    failed = [r for r in run["results"] if r["ruleId"] == "ssh.root-login-disabled"]
    assert len(failed) == 1 and failed[0]["kind"] == "fail" and failed[0]["level"] == "error"
    assert run["tool"]["driver"]["rules"][failed[0]["ruleIndex"]]["id"] == \
        "ssh.root-login-disabled"
