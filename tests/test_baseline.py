"""Baseline loading: errors name file and line; profiles, parameters and extends resolve."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.baseline import BaselineError, load_baseline
from scanner.cli import cli
from scanner.evaluate import describe_check
from scanner.probes import ProbeCall

GOOD = """\
id: tiny
version: 1.0.0
title: {en: Tiny, zh: 小}
parameters: {max_tries: 4}
profiles:
  strict:
    title: {en: Strict}
    parameters: {max_tries: 3}
    disable: [kernel.aslr-full]
rules:
  - id: ssh.max-auth-tries
    title: {en: Max tries}
    severity: medium
    check: {probe: sshd_effective, key: maxauthtries, expect: {le: $max_tries}}
  - id: kernel.aslr-full
    title: {en: ASLR}
    severity: low
    check: {probe: sysctl, name: kernel.randomize_va_space, expect: {equals: 2}}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_good_baseline_loads_with_parameters_resolved(tmp_path: Path) -> None:
    baseline = load_baseline(str(write(tmp_path, "tiny.yaml", GOOD)))
    assert [r.id for r in baseline.rules] == ["kernel.aslr-full", "ssh.max-auth-tries"]
    assert baseline.parameters == {"max_tries": 4}
    assert baseline.digest.startswith("sha256:")
    assert baseline.probe_calls() == sorted([
        ProbeCall.of("os"),
        ProbeCall.of("sshd_effective"),
        ProbeCall.of("sysctl", {"name": "kernel.randomize_va_space"}),
    ])


def test_profile_overrides_parameters_and_disables_rules(tmp_path: Path) -> None:
    baseline = load_baseline(str(write(tmp_path, "tiny.yaml", GOOD)), profile="strict")
    assert baseline.parameters == {"max_tries": 3}
    assert baseline.parameter_defaults == {"max_tries": 4}  # what the report shows changed
    assert [r.id for r in baseline.rules] == ["ssh.max-auth-tries"]
    assert baseline.disabled == {"kernel.aslr-full": "not part of profile strict"}
    plain = load_baseline(str(write(tmp_path, "tiny.yaml", GOOD)))
    assert baseline.digest != plain.digest


def test_tailoring_extends_disables_with_reason_and_overrides(tmp_path: Path) -> None:
    write(tmp_path, "tiny.yaml", GOOD)
    tailoring = write(tmp_path, "site.yaml", """\
        id: site
        version: 2.0.0
        title: {en: Site tailoring}
        extends: tiny.yaml
        profile: strict
        parameters: {max_tries: 2}
        disable:
          - {rule: ssh.max-auth-tries, reason: "bastion enforces it (SEC-1)"}
        rules:
          - id: site.forwarding-off
            title: {en: No forwarding}
            severity: high
            check: {probe: sysctl, name: net.ipv4.ip_forward, expect: {equals: 0}}
        """)
    baseline = load_baseline(str(tailoring))
    assert baseline.id == "site"
    assert baseline.extends == ("tiny",)
    assert baseline.profile == "strict"
    assert baseline.parameters == {"max_tries": 2}  # the user's file wins over the profile
    assert baseline.parameter_defaults == {"max_tries": 4}  # the root baseline's own
    assert [r.id for r in baseline.rules] == ["site.forwarding-off"]
    assert baseline.disabled["ssh.max-auth-tries"] == "bastion enforces it (SEC-1)"


def test_shipped_baseline_can_be_extended_by_id(tmp_path: Path) -> None:
    tailoring = write(tmp_path, "acme.yaml", """\
        id: acme
        version: 1.0.0
        title: {en: ACME}
        extends: cii-art9-linux
        parameters: {pass_max_days: 60}
        disable:
          - {rule: ssh.banner-configured, reason: banner set by the bastion}
        """)
    baseline = load_baseline(str(tailoring))
    shipped = load_baseline("cii-art9-linux")
    assert baseline.parameters["pass_max_days"] == 60
    assert len(baseline.rules) == len(shipped.rules) - 1


BROKEN = [
    ("bad-yaml", "id: x\nversion: 1.0.0\ntitle: {en: X\nrules: []\n", 4, "invalid YAML"),
    ("tab-indent", "id: x\nversion: 1.0.0\ntitle:\n\ten: X\n", 4, "invalid YAML"),
    ("unknown-operator", GOOD.replace("{le: $max_tries}", "{eqals: 4}"), 14,
     "rules[0].check.expect.eqals: unknown operator 'eqals'"),
    ("unknown-probe", GOOD.replace("probe: sysctl", "probe: sysctll"), 18,
     "rules[1].check.probe: unknown probe 'sysctll'"),
    ("duplicate-id", GOOD.replace("id: kernel.aslr-full", "id: ssh.max-auth-tries"), 15,
     "duplicate rule id 'ssh.max-auth-tries'"),
    ("unknown-key", GOOD.replace("severity: low", "severity: low\n    severty: low"), 18,
     "rules[1].severty: unknown key 'severty'"),
    ("bad-severity", GOOD.replace("severity: low", "severity: urgent"), 17,
     "rules[1].severity"),
    ("probe-argument", GOOD.replace("name: kernel.randomize_va_space",
                                    "nam: kernel.randomize_va_space"), 18,
     "probe 'sysctl' does not take 'nam' (takes: name)"),
    ("probe-argument-value", GOOD.replace("name: kernel.randomize_va_space",
                                          "name: 'x;$(reboot)'"), 18, "probe 'sysctl' argument"),
    ("unknown-parameter", GOOD.replace("$max_tries", "$max_trys"), 14,
     "unknown parameter $max_trys"),
    ("disable-unknown", GOOD.replace("disable: [kernel.aslr-full]", "disable: [kernel.nope]"),
     9, "disables unknown rule 'kernel.nope'"),
    ("duplicate-key", GOOD.replace("severity: medium", "severity: medium\n    severity: low"),
     14, "duplicate key 'severity'"),
    ("not-a-mapping", "- just\n- a list\n", None, "must be a YAML mapping"),
    ("empty", "", None, "baseline file is empty"),
    ("missing-required", "id: x\nversion: 1.0.0\n", 1, "'title' is a required property"),
]


@pytest.mark.parametrize(("name", "text", "line", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_baselines_name_file_line_and_problem(tmp_path: Path, name: str, text: str,
                                                     line: int | None, message: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BaselineError) as caught:
        load_baseline(str(path))
    assert caught.value.source == str(path)
    assert message in caught.value.message
    if line is not None:
        assert caught.value.line == line, str(caught.value)


def test_profile_selection_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "tiny.yaml", GOOD)
    with pytest.raises(BaselineError, match="unknown profile 'lax' \\(profiles: strict\\)"):
        load_baseline(str(path), profile="lax")


def test_circular_extends_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: a\nversion: 1.0.0\ntitle: {en: A}\nextends: b.yaml\n")
    write(tmp_path, "b.yaml", "id: b\nversion: 1.0.0\ntitle: {en: B}\nextends: a.yaml\n")
    with pytest.raises(BaselineError, match="circular extends"):
        load_baseline(str(tmp_path / "a.yaml"))


def test_unknown_reference_lists_shipped_baselines() -> None:
    with pytest.raises(BaselineError, match=r"shipped: .*cii-art9-linux"):
        load_baseline("no-such-baseline")


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("id: x\nversion: 1.0.0\ntitle: {en: X}")
    path = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    with pytest.raises(BaselineError, match="alias expansion"):
        load_baseline(str(path))


def test_non_utf8_directory_and_missing_files(tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("id: x\n# 中文注释\n".encode("gbk"))
    with pytest.raises(BaselineError, match="not valid UTF-8"):
        load_baseline(str(gbk))  # GBK bytes are not UTF-8: a clear error, not mojibake
    with pytest.raises(BaselineError, match="is a directory"):
        load_baseline(str(tmp_path))
    with pytest.raises(BaselineError, match="not found"):
        load_baseline(str(tmp_path / "missing.yaml"))


def test_cli_validate_exits_2_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("{le: $max_tries}", "{eqals: 4}"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["baselines", "validate", str(path)],
                                standalone_mode=False, catch_exceptions=True)
    assert isinstance(result.exception, BaselineError)
    assert str(result.exception).startswith(f"{path}:14: ")


def test_shipped_baseline_has_the_contract_rule_ids() -> None:
    ids = {rule.id for rule in load_baseline("cii-art9-linux").rules}
    contract = {
        "ssh.root-login-disabled", "ssh.empty-passwords-disabled", "ssh.strong-crypto",
        "ssh.max-auth-tries", "ssh.idle-timeout", "ssh.x11-forwarding-disabled",
        "ssh.banner-configured", "auth.password-max-age", "auth.password-complexity",
        "auth.login-lockout", "auth.shell-timeout", "accounts.no-empty-passwords",
        "accounts.single-uid0", "accounts.system-accounts-nologin", "files.shadow-permissions",
        "files.passwd-permissions", "audit.auditd-active", "audit.remote-logging",
        "audit.log-retention", "kernel.ip-forward-disabled", "kernel.aslr-full",
        "net.tcp-syncookies", "net.firewall-default-deny",
        "services.insecure-remote-access-absent", "time.sync-active",
    }
    assert contract <= ids, sorted(contract - ids)


def test_every_shipped_rule_is_bilingual_with_references() -> None:
    for rule in load_baseline("cii-art9-linux").rules:
        assert rule.title.get("zh"), rule.id
        assert rule.rationale.get("en") and rule.rationale.get("zh"), rule.id
        assert rule.remediation, rule.id
        for text in rule.remediation.values():
            assert text.get("en") and text.get("zh"), rule.id
        # the items it checks, or those it only supports (scanner/clauses.py), or none
        assert (rule.references.get("gbt22239-2019") or rule.references.get("none")
                or rule.references.get("gbt22239-2019-supporting")), rule.id


def test_huge_and_binary_files_are_refused_without_parsing(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"id: x\n" + b"# padding\n" * 900_000)
    with pytest.raises(BaselineError, match="the limit is"):
        load_baseline(str(huge))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"id: x\x00\x01\x02\n")
    with pytest.raises(BaselineError, match="NUL bytes"):
        load_baseline(str(binary))


def test_python_object_tags_are_not_constructed(tmp_path: Path) -> None:
    evil = write(tmp_path, "evil.yaml", """\
        id: !!python/object/apply:os.system ["touch /tmp/cii-yaml-pwned"]
        version: 1.0.0
        title: {en: X}
        """)
    with pytest.raises(BaselineError, match="unsupported YAML tag"):
        load_baseline(str(evil))
    assert not Path("/tmp/cii-yaml-pwned").exists()


def test_impossible_dates_are_input_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "date.yaml", "id: x\nversion: 1.0.0\ntitle: {en: X}\nwhen: 2026-02-30\n")
    with pytest.raises(BaselineError, match="invalid YAML value '2026-02-30'"):
        load_baseline(str(path))


def test_documented_tailoring_example_loads() -> None:
    example = Path(__file__).resolve().parents[1] / "baselines/examples/tailoring-example.yaml"
    baseline = load_baseline(str(example))
    assert baseline.extends == ("cii-art9-linux",)
    assert baseline.profile == "mlps-l3"
    assert baseline.parameters["pass_max_days"] == 60
    assert set(baseline.disabled) == {"ssh.banner-configured", "time.sync-active"}
    assert "acme.no-ip-forwarding-v6" in {rule.id for rule in baseline.rules}


@pytest.mark.parametrize(("profile", "expected"), [
    ("mlps-l3", {"pass_max_days": 90, "shell_timeout_max_s": 600, "ssh_max_auth_tries": 4,
                 "password_min_length": 8}),
    ("cii", {"pass_max_days": 60, "shell_timeout_max_s": 300, "ssh_max_auth_tries": 3,
             "password_min_length": 12, "ssh_client_alive_max": 300}),
])
def test_shipped_profiles_set_their_thresholds(profile: str, expected: dict[str, int]) -> None:
    """The two shipped profiles, as their rationale texts name the thresholds."""
    baseline = load_baseline("cii-art9-linux", profile=profile)
    assert baseline.profile == profile
    assert {key: baseline.parameters[key] for key in expected} == expected
    rule = next(r for r in baseline.rules if r.id == "auth.password-max-age")
    assert str(expected["pass_max_days"]) in describe_check(rule.check)


def test_the_default_is_a_named_profile_with_its_digest() -> None:
    """No profile named is the mlps-l3 profile: reports say so, and a scan with and one
    without --profile mlps-l3 have one digest (diff sees the same baseline)."""
    default, named = load_baseline(), load_baseline(profile="mlps-l3")
    assert default.profile == "mlps-l3"
    assert default.digest == named.digest and default.parameters == named.parameters
    assert load_baseline(profile="cii").digest != default.digest
