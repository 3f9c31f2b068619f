"""The whole shipped baseline judged on whole-host fixtures of RHEL-family installs.

Each file in fixtures/hosts/ holds one output for every probe call the baseline makes, as the
probe prints it on that host when run as root. Rule fixtures test one rule at a time; these
catch what only shows up host-wide: a probe call without output, a parser that errors on
RHEL-family files, a rule that cannot pass even after its own remediation, and the exact
verdicts a stock install gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import pytest
import yaml

from scanner.baseline import load_baseline
from scanner.evaluate import evaluate
from scanner.findings import RuleResult
from scanner.probes import ProbeCall
from tests.conftest import FIXTURES, facts_from_outputs

HOSTS = FIXTURES / "hosts"
BASELINE = load_baseline("cii-art9-linux")
HOST_NAMES = ("rocky9-default", "rocky9-hardened")
MANUAL_RULES = frozenset(rule.id for rule in BASELINE.rules if rule.manual is not None)
AUTOMATED_RULES = frozenset(rule.id for rule in BASELINE.rules) - MANUAL_RULES

# Automated rules the hardened host still fails (none: it follows every remediation).
HARDENED_EXPECTED_FAIL: set[str] = set()

# What a stock Rocky Linux 9.4 minimal install fails, by rule, with the stock value behind it.
DEFAULT_EXPECTED_FAIL = {
    # sshd: RHEL 9 compiles in PermitRootLogin prohibit-password (sshd -T: without-password).
    "ssh.root-login-disabled",
    "ssh.max-auth-tries",  # MaxAuthTries 6
    "ssh.idle-timeout",  # ClientAliveInterval 0
    "ssh.x11-forwarding-disabled",  # 50-redhat.conf sets X11Forwarding yes
    "ssh.banner-configured",  # Banner none
    "ssh.multi-factor-required",  # AuthenticationMethods any
    # login.defs: PASS_MAX_DAYS 99999, PASS_MIN_DAYS 0 (PASS_WARN_AGE 7 and SHA512 pass).
    "auth.password-max-age",
    "auth.password-min-days",
    # authselect `sssd` profile: no pam_faillock, no pam_pwhistory, pam_unix nullok; the
    # shipped pwquality.conf keeps minclass 0; su's pam_wheel line is commented out.
    "auth.login-lockout",
    "auth.password-history",
    "auth.pam-nullok-absent",
    "auth.password-complexity",
    "auth.su-restricted",
    "auth.inactive-lock",  # /etc/default/useradd INACTIVE=-1
    "auth.shell-timeout",  # no TMOUT anywhere
    "files.default-umask",  # /etc/bashrc's conditional umask 002/022
    "sudo.use-pty",  # RHEL 9's sudoers sets neither use_pty nor logfile
    "sudo.logfile",
    # audit: rules.d/audit.rules loads no rules and no -e 2; auditd.conf space actions SYSLOG,
    # SUSPEND, SUSPEND; rsyslog forwards nowhere; logrotate keeps 4 weekly rotations.
    "audit.rules-identity",
    "audit.rules-logins",
    "audit.rules-time-change",
    "audit.rules-immutable",
    "audit.space-actions",
    "audit.remote-logging",
    "audit.log-retention",
    "integrity.aide-installed",  # aide is not in the minimal package set
    "integrity.aide-database-current",  # so neither is its database or a scheduled check
    # 9.4's packages are behind the security errata published after the image was made
    "packages.no-pending-security-updates",
    # kernel defaults (fs.suid_dumpable=2 from systemd's 50-coredump.conf, ptrace_scope 0
    # from 10-default-yama-scope.conf, redirects on, martians not logged). RHEL's
    # 50-redhat.conf sets rp_filter 1 on default and every interface but leaves `all` at the
    # kernel's 0: the kernel filters with the larger of the two (IN_DEV_MAXCONF), so
    # net.reverse-path-filter passes.
    "kernel.suid-dumpable-disabled",
    "kernel.ptrace-restricted",
    "net.icmp-redirects-rejected",
    "net.send-redirects-disabled",
    "net.log-martians",
    # nothing in modprobe.d disables these modules, so modprobe can load them
    "kernel.unused-filesystems-disabled",
    "kernel.usb-storage-disabled",
    # /tmp is a directory on the root file system; /dev/shm is mounted without noexec
    "mounts.tmp-options",
    "mounts.dev-shm-options",
}


@cache
def _host(name: str) -> Mapping[str, Any]:
    document: Mapping[str, Any] = yaml.safe_load(
        (HOSTS / f"{name}.yaml").read_text(encoding="utf-8"))
    return document


@cache
def _results(name: str) -> dict[str, RuleResult]:
    host = _host(name)
    facts = facts_from_outputs(host["os"], host["outputs"], host=name)
    return {result.rule_id: result for result in evaluate(BASELINE, facts)}


def _ids_with(name: str, status: str) -> set[str]:
    return {rule_id for rule_id, result in _results(name).items() if result.status == status}


@pytest.mark.parametrize("name", HOST_NAMES)
def test_fixture_says_where_it_comes_from(name: str) -> None:
    host = _host(name)
    assert host["os"] == "rocky9"
    assert "transcribed from" in host["source"]
    assert "captured" not in host["source"].replace("never captured", "")


@pytest.mark.parametrize("name", HOST_NAMES)
def test_every_probe_call_of_the_baseline_has_output(name: str) -> None:
    given = {ProbeCall.of(output["probe"], output.get("args", {}))
             for output in _host(name)["outputs"]}
    needed = set(BASELINE.probe_calls()) - {ProbeCall.of("os")}  # the os output is shared
    missing = sorted(call.key for call in needed - given)
    assert missing == [], f"{name}: no output for {missing}"


@pytest.mark.parametrize("name", HOST_NAMES)
def test_each_probe_call_appears_once(name: str) -> None:
    keys = [ProbeCall.of(output["probe"], output.get("args", {})).key
            for output in _host(name)["outputs"]]
    assert sorted({key for key in keys if keys.count(key) > 1}) == []


@pytest.mark.parametrize("name", HOST_NAMES)
def test_every_rule_is_judged(name: str) -> None:
    assert set(_results(name)) == {rule.id for rule in BASELINE.rules}


@pytest.mark.parametrize("name", HOST_NAMES)
def test_no_rule_errors_on_a_root_collection(name: str) -> None:
    errors = {rule_id: result.message for rule_id, result in _results(name).items()
              if result.status == "error"}
    assert errors == {}


@pytest.mark.parametrize("name", HOST_NAMES)
def test_no_rule_is_not_applicable(name: str) -> None:
    # Every rule applies to the rhel family and every subject (sshd, auditd, PAM, firewalld,
    # rsyslog, chrony) is installed on these hosts, so nothing may be skipped.
    assert _ids_with(name, "not_applicable") == set()


@pytest.mark.parametrize("name", HOST_NAMES)
def test_manual_rules_stay_manual(name: str) -> None:
    assert _ids_with(name, "manual") == MANUAL_RULES


def test_hardened_host_passes_every_automated_rule_but_the_listed_ones() -> None:
    failing = {rule_id: result.message for rule_id, result in _results("rocky9-hardened").items()
               if rule_id in AUTOMATED_RULES and result.status != "pass"}
    assert set(failing) == HARDENED_EXPECTED_FAIL, failing
    assert all(_results("rocky9-hardened")[rule_id].status == "fail"
               for rule_id in HARDENED_EXPECTED_FAIL)


def test_default_host_fails_exactly_what_stock_rocky9_fails() -> None:
    assert _ids_with("rocky9-default", "fail") == DEFAULT_EXPECTED_FAIL


def test_default_host_passes_every_other_automated_rule() -> None:
    passing = _ids_with("rocky9-default", "pass")
    assert passing == AUTOMATED_RULES - DEFAULT_EXPECTED_FAIL


def test_stock_root_login_is_key_only_not_disabled() -> None:
    result = _results("rocky9-default")["ssh.root-login-disabled"]
    assert "without-password" in result.message


def test_hardening_changed_every_rule_the_stock_host_fails_but_the_listed_ones() -> None:
    fixed = DEFAULT_EXPECTED_FAIL - HARDENED_EXPECTED_FAIL
    assert {rule_id for rule_id in fixed
            if _results("rocky9-hardened")[rule_id].status == "pass"} == fixed
