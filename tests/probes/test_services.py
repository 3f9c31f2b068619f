"""The `service` and `services` parsers when a unit file is over the cap.

systemctl reads every unit file it lists to its end, so the snippet names a unit file over
the cap in ``unit-cut`` and lists the other units by name (tests/oracle/test_services.py
asks systemctl itself in such states). These cases check what the parsers make of it: the
cut unit's enablement is unobservable, every other unit's is systemctl's answer.
"""

from __future__ import annotations

from scanner.baseline import load_baseline
from scanner.evaluate import evaluate_rule
from scanner.facts import Facts, HostIdentity
from scanner.probes import ProbeCall
from tests.conftest import TEST_TOKEN, interpret

CUT = "/etc/systemd/system/telnet.socket"


def payload(cut: str | None = CUT, units: str = "auditd.service enabled enabled\n"
            "rsync.service disabled enabled\n") -> str:
    def section(name: str, body: str) -> str:
        return f"{TEST_TOKEN} F cii:{name}\n{body}\ncii:rc 0\n"
    return "".join([
        section("init", "other\nprocess_api"),
        section("processes", "cii:read 3\nauditd\nrsyslogd"),
        section("unit-cut", f"cii:cut {cut}" if cut else ""),
        section("systemctl-files", "cii:offline\n" + units),
        section("systemctl-units", "cii:skipped"),
        section("unit-files", ""), section("wants", ""), section("sysv", ""),
    ])


def test_a_cut_unit_is_unobservable_and_the_others_are_systemctls_answer() -> None:
    auditd = interpret("service", payload(), {"unit": "auditd"}).data
    assert (auditd["enabled"], auditd["enabled_at_boot"]) == (True, True)
    assert "unobservable" not in auditd
    telnet = interpret("service", payload(), {"unit": "telnet.socket"}).data
    assert telnet["installed"] is True
    assert "enabled" not in telnet and "enabled_at_boot" not in telnet
    assert CUT in telnet["unobservable"]["enabled_at_boot"]
    assert "systemctl was not asked" in telnet["unobservable"]["enabled"]


def test_the_units_list_leaves_the_cut_units_enablement_out() -> None:
    data = interpret("services", payload()).data
    units = {unit["unit"]: unit for unit in data["units"]}
    assert set(units) == {"auditd.service", "rsync.service", "telnet.socket"}
    assert "enabled" not in units["telnet.socket"]
    assert units["rsync.service"]["enabled"] is False
    assert CUT in data["unobservable"]["enabled"]
    assert "unobservable" not in interpret("services", payload(cut=None)).data


def _verdict(rule_id: str, text: str) -> str:
    baseline = load_baseline()
    (rule,) = [rule for rule in baseline.rules if rule.id == rule_id]
    results = {ProbeCall.of("services"): interpret("services", text),
               ProbeCall.of("service", {"unit": "auditd"}):
               interpret("service", text, {"unit": "auditd"})}
    facts = Facts(HostIdentity("fixture-host", "127.0.0.1"), results,
                  "2026-01-01T00:00:00Z", 0.0)
    return evaluate_rule(rule, facts, "debian").status


def test_only_rules_about_the_cut_unit_lose_their_verdict() -> None:
    # telnet.socket is a unit services.unneeded-disabled watches: no verdict without it
    assert _verdict("services.unneeded-disabled", payload()) == "error"
    # a cut unit it does not watch changes nothing
    other = payload(cut="/etc/systemd/system/cii-huge.service")
    assert _verdict("services.unneeded-disabled", other) == "pass"
    assert _verdict("audit.auditd-enabled-at-boot", other) == "pass"
    assert _verdict("audit.auditd-enabled-at-boot", payload()) == "pass"
    # a watched unit enabled beside the cut one still fails
    enabled = payload(units="auditd.service enabled enabled\nrsync.service enabled enabled\n")
    assert _verdict("services.unneeded-disabled", enabled) == "fail"
