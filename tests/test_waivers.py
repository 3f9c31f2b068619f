"""Waivers: matching by name/address/group glob, expiry through the end of the day, evidence
binding, strict validation, and never a pass; plus the CLI and gate behaviour."""

from __future__ import annotations

import csv
import datetime
import io
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from scanner import gate
from scanner.cli import cli
from scanner.decisions import evidence_digest
from scanner.errors import EXIT_INPUT, InputError
from scanner.findings import dumps, validate_document
from scanner.render import csv_format
from scanner.waivers import apply_waivers, load_waivers, parse_waivers_text
from tests.sample_findings import sample_document

TODAY = datetime.date(2026, 6, 1)


def _waivers(text: str) -> Any:
    return parse_waivers_text(textwrap.dedent(text), "w.yaml")


def _result(document: dict[str, Any], host: str, rule: str) -> dict[str, Any]:
    found = next(h for h in document["hosts"] if h["name"] == host)
    result: dict[str, Any] = next(r for r in found["results"] if r["rule_id"] == rule)
    return result


def _one(rule: str, hosts: str, expires: str = "2026-06-01", extra: str = "") -> Any:
    return _waivers(f"""\
        waivers:
          - rule: {rule}
            hosts: {hosts}
            justification: accepted risk RISK-7
            approved_by: Li Wei
            expires: {expires}
        {extra}""")


@pytest.mark.parametrize("hosts", ['["web-01"]', '["web-*"]', '["192.0.2.1?"]', '["dmz"]'])
def test_waiver_matches_name_address_or_group(hosts: str) -> None:
    document = sample_document(waived=False)
    outcome = apply_waivers(document, _one("ssh.root-login-disabled", hosts), TODAY)
    result = _result(outcome.document, "web-01", "ssh.root-login-disabled")
    assert result["status"] == "waived"
    assert result["waiver"] == {"justification": "accepted risk RISK-7", "approved_by": "Li Wei",
                                "expires": "2026-06-01", "source": "w.yaml:2"}
    assert outcome.applied == 1
    validate_document(outcome.document)


def test_waiver_for_other_hosts_does_not_apply() -> None:
    document = sample_document(waived=False)
    outcome = apply_waivers(document, _one("ssh.root-login-disabled", '["db-*", "database"]'),
                            TODAY)
    assert _result(outcome.document, "web-01", "ssh.root-login-disabled")["status"] == "fail"
    assert outcome.applied == 0


def test_waived_results_are_counted_as_waived_never_as_pass() -> None:
    document = sample_document(waived=False)
    before = document["summary"]["by_status"]
    outcome = apply_waivers(document, _one("ssh.root-login-disabled", '["*"]'), TODAY)
    after = outcome.document["summary"]["by_status"]
    assert after["pass"] == before["pass"]
    assert after["fail"] == before["fail"] - 1 and after["waived"] == before["waived"] + 1
    host = next(h for h in outcome.document["hosts"] if h["name"] == "web-01")
    assert host["summary"]["by_status"]["waived"] == 1


def test_waiver_valid_through_its_last_day_then_expired() -> None:
    document = sample_document(waived=False)
    waivers = _one("ssh.root-login-disabled", '["web-01"]', expires="2026-06-01")
    on_day = apply_waivers(document, waivers, datetime.date(2026, 6, 1))
    assert _result(on_day.document, "web-01", "ssh.root-login-disabled")["status"] == "waived"
    after = apply_waivers(document, waivers, datetime.date(2026, 6, 2))
    result = _result(after.document, "web-01", "ssh.root-login-disabled")
    assert result["status"] == "fail" and "waiver" not in result
    assert "expired on 2026-06-01; not applied" in result["message"]
    assert any("expired" in w for w in after.warnings)
    # the document itself records the expired waiver, so every report can show it
    [expired] = result["expired_waivers"]
    assert expired["expires"] == "2026-06-01" and expired["source"].endswith(":2")
    assert "expired_waivers" not in _result(on_day.document, "web-01",
                                            "ssh.root-login-disabled")
    validate_document(after.document)


def test_evidence_binding_applies_only_to_the_same_evidence() -> None:
    document = sample_document(waived=False)
    observed = _result(document, "web-01", "ssh.root-login-disabled")["observed"]
    digest = evidence_digest(observed)
    bound = _one("ssh.root-login-disabled", '["web-01"]',
                 extra=f"    evidence_digest: \"{digest}\"")
    same = apply_waivers(document, bound, TODAY)
    assert _result(same.document, "web-01", "ssh.root-login-disabled")["status"] == "waived"
    stale = _one("ssh.root-login-disabled", '["web-01"]',
                 extra="    evidence_digest: \"sha256:" + "1" * 64 + "\"")
    changed = apply_waivers(document, stale, TODAY)
    result = _result(changed.document, "web-01", "ssh.root-login-disabled")
    assert result["status"] == "fail"
    assert f"the evidence is now {digest}" in result["message"]


def test_the_csv_shows_the_digest_a_waiver_binds_to() -> None:
    """An operator copies ``evidence_digest`` from the CSV row into the waiver file."""
    document = sample_document(waived=False)
    rows = list(csv.DictReader(io.StringIO(csv_format.render(document).lstrip("\ufeff"))))
    row = next(r for r in rows if r["host"] == "web-01"
               and r["rule_id"] == "ssh.root-login-disabled")
    assert row["status"] == "fail" and row["evidence_digest"].startswith("sha256:")
    assert all(r["evidence_digest"] == "" for r in rows if r["status"] == "pass")
    bound = _one("ssh.root-login-disabled", '["web-01"]',
                 extra=f"    evidence_digest: \"{row['evidence_digest']}\"")
    applied = apply_waivers(document, bound, TODAY)
    assert _result(applied.document, "web-01", "ssh.root-login-disabled")["status"] == "waived"


def test_only_failures_are_waived() -> None:
    document = sample_document(waived=False)
    outcome = apply_waivers(document, _one("files.shadow-permissions", '["db-01"]'), TODAY)
    assert _result(outcome.document, "db-01", "files.shadow-permissions")["status"] == "error"


def test_waiver_for_an_unknown_rule_is_an_error() -> None:
    with pytest.raises(InputError, match=r"unknown rule 'ssh\.root-login-disabld'") as caught:
        apply_waivers(sample_document(waived=False),
                      _one("ssh.root-login-disabld", '["*"]'), TODAY)
    assert caught.value.line == 2


def test_apply_is_pure() -> None:
    document = sample_document(waived=False)
    snapshot = dumps(document)
    waivers = _one("ssh.root-login-disabled", '["*"]')
    first = apply_waivers(document, waivers, TODAY)
    second = apply_waivers(document, waivers, TODAY)
    assert dumps(document) == snapshot
    assert dumps(first.document) == dumps(second.document)


@pytest.mark.parametrize(("text", "message"), [
    ("", "waivers file is empty"),
    ("waivers: {}", "is not of type 'array'"),
    ("waivers:\n  - {rule: a, hosts: ['*'], justification: j, approved_by: b}",
     "'expires' is a required property"),
    ("waivers:\n  - {rule: a, hosts: ['*'], justification: j, approved_by: b,"
     " expires: 2026-02-30}", "day is out of range for month"),
    ("waivers:\n  - {rule: a, hosts: ['*'], justification: j, approved_by: b,"
     " expires: '2026-02-30'}", "not a calendar date"),
    ("waivers:\n  - {rule: a, hosts: ['*'], justification: j, approved_by: b,"
     " expires: 2026-01-01, owner: x}", "Additional properties are not allowed"),
    ("waivers:\n  - {rule: a, hosts: [], justification: j, approved_by: b,"
     " expires: 2026-01-01}", "should be non-empty"),
    ("waivers:\n  - {rule: a, hosts: ['*'], justification: j, approved_by: b,"
     " expires: 2026-01-01, evidence_digest: abc}", "does not match"),
    ("other: 1", "'other' was unexpected"),
])
def test_malformed_waiver_files_are_input_errors(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_waivers_text(text, "w.yaml")


def test_missing_waiver_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="waivers file not found"):
        load_waivers(tmp_path / "absent.yaml")


def test_waived_failures_never_trip_the_gate() -> None:
    document = sample_document(waived=False)
    assert gate.exit_code(document, "medium", fail_on_incomplete=False) == 1
    web_medium = ["ssh.max-auth-tries", "ssh.root-login-disabled", "ssh.x11-forwarding-disabled",
                  "accounts.no-empty-passwords", "kernel.ip-forward-disabled",
                  "files.shadow-permissions", "kernel.aslr-full"]
    waivers = [w for rule in web_medium for w in _one(rule, '["*"]')]
    waived = apply_waivers(document, waivers, TODAY).document
    assert gate.failures_at_or_above(waived, "medium") == 0
    assert gate.exit_code(waived, "medium", fail_on_incomplete=False) == 0
    # still incomplete (hosts not assessed, an error): exit 3 unless told otherwise
    assert gate.exit_code(waived, "medium") == 3


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_cli_report_applies_waivers_and_warns_about_expired_ones(tmp_path: Path) -> None:
    stored = _write(tmp_path, "findings.json", dumps(sample_document(waived=False)))
    waivers = _write(tmp_path, "waivers.yaml", """\
        waivers:
          - rule: ssh.root-login-disabled
            hosts: [web-01]
            justification: bastion only
            approved_by: Li Wei
            expires: 2999-12-31
          - rule: ssh.max-auth-tries
            hosts: [web-01]
            justification: old
            approved_by: Li Wei
            expires: 2000-01-01
        """)
    out = tmp_path / "findings.csv"
    result = CliRunner().invoke(cli, ["report", str(stored), "-f", "csv", "-o", str(out),
                                      "--waivers", str(waivers)])
    assert result.exit_code == 0, result.output
    assert "expired on 2000-01-01" in result.output  # warning on stderr (mixed in by the runner)
    text = out.read_text(encoding="utf-8")
    assert "ssh.root-login-disabled,high,waived" in text
    assert "ssh.max-auth-tries,medium,fail" in text


def test_cli_malformed_waivers_file_exits_2_before_anything_runs(tmp_path: Path) -> None:
    from scanner.cli import main

    waivers = _write(tmp_path, "waivers.yaml", "waivers:\n  - rule: x\n")
    outdir = tmp_path / "results"
    with pytest.raises(SystemExit) as caught:
        main(["evaluate", str(tmp_path / "missing-facts.json"), "--waivers", str(waivers),
              "-o", str(outdir)])
    assert caught.value.code == EXIT_INPUT
    assert not outdir.exists()


def test_cli_scan_pipeline_applies_waivers_before_the_gate(tmp_path: Path) -> None:
    from tests.conftest import FIXTURES, facts_from_outputs

    # a captured host where one interface forwards (kernel.ip-forward-disabled fails)
    fixture = yaml.safe_load((FIXTURES / "rules" / "kernel.ip-forward-disabled.yaml")
                             .read_text(encoding="utf-8"))
    forwarding = next(c for c in fixture["cases"] if c["name"] == "one-interface-forwards")
    facts = facts_from_outputs("debian12", forwarding["outputs"])
    facts_file = _write(tmp_path, "facts.json", dumps(facts.to_json()))
    waivers = _write(tmp_path, "waivers.yaml", """\
        waivers:
          - rule: kernel.ip-forward-disabled
            hosts: ["*"]
            justification: router
            approved_by: Li Wei
            expires: 2999-12-31
        """)
    outdir = tmp_path / "out"
    args = ["evaluate", str(facts_file), "-o", str(outdir), "--fail-on", "medium",
            "--no-fail-on-incomplete"]
    assert CliRunner().invoke(cli, args).exit_code == 1
    waived = CliRunner().invoke(cli, [*args, "--waivers", str(waivers)])
    assert waived.exit_code == 0, waived.output
    document = (outdir / "findings.json").read_text(encoding="utf-8")
    assert '"status": "waived"' in document and str(waivers) in document


def test_threshold_failure_wins_over_incomplete() -> None:
    document = sample_document()  # incomplete (two hosts not assessed) and failing
    assert document["summary"]["complete"] is False
    assert gate.exit_code(document, "critical") == 1
    assert gate.exit_code(document, None) == 3
    assert gate.exit_code(document, None, fail_on_incomplete=False) == 0


def test_unknown_waiver_rule_stops_the_run_before_any_output(tmp_path: Path) -> None:
    from tests.conftest import facts_from_outputs

    facts = facts_from_outputs("debian12", [])
    facts_file = _write(tmp_path, "facts.json", dumps(facts.to_json()))
    waivers = _write(tmp_path, "waivers.yaml", """\
        waivers:
          - rule: kernel.ip-forward-disabld
            hosts: ["*"]
            justification: typo
            approved_by: Li Wei
            expires: 2999-12-31
        """)
    outdir = tmp_path / "out"
    result = CliRunner().invoke(cli, ["evaluate", str(facts_file), "-o", str(outdir),
                                      "--waivers", str(waivers)])
    assert isinstance(result.exception, InputError)
    assert "unknown rule 'kernel.ip-forward-disabld'" in str(result.exception)
    assert not outdir.exists()


def test_waiver_for_a_disabled_rule_is_accepted() -> None:
    document = sample_document(waived=False)
    document["baseline"]["disabled"] = [{"rule_id": "site.retired-check", "reason": "n/a"}]
    outcome = apply_waivers(document, _one("site.retired-check", '["*"]'), TODAY)
    assert outcome.applied == 0
