"""Parsers of the services, service and time_sync probes: systemd and non-systemd hosts."""

from __future__ import annotations

import dataclasses

import pytest

from scanner.baseline import ProbeCheck, load_baseline
from scanner.evaluate import evaluate_rule
from scanner.expect import compile_expectation
from scanner.facts import Facts, HostIdentity
from scanner.probes import ProbeCall
from tests.conftest import interpret
from tests.probes_sys._helpers import captured, file_frame, sec

NO_SYSTEMD = sec("init", "other\nprocess_api")
WITH_SYSTEMD = sec("init", "systemd\nsystemd")

# Written in the column layout systemctl 252 prints for these commands (--no-legend).
UNIT_FILES = ("auditd.service                enabled         enabled\n"
              "chrony.service                enabled         enabled\n"
              "rsyslog.service               disabled        enabled\n"
              "systemd-journald.service      static          -\n")
UNITS = ("auditd.service  loaded active   running Security Auditing Service\n"
         "chrony.service  loaded inactive dead    chrony, an NTP client/server\n"
         "nfs-server.service not-found inactive dead nfs-server.service\n")


def test_systemctl_view_when_systemd_is_pid_1() -> None:
    payload = (WITH_SYSTEMD + sec("processes", "systemd\nauditd\n")
               + sec("systemctl-files", UNIT_FILES) + sec("systemctl-units", UNITS))
    result = interpret("services", payload)
    assert result.status == "ok"
    units = {u["unit"]: u for u in result.data["units"]}
    assert result.data["method"] == "systemctl"
    assert units["auditd.service"] == {"unit": "auditd.service", "installed": True,
                                       "enabled": True, "enabled_at_boot": True, "active": True,
                                       "active_state": "active"}
    assert units["chrony.service"]["active"] is False
    assert units["rsyslog.service"]["enabled"] is False
    assert "nfs-server.service" not in units  # not-found units are not installed


def test_unit_files_fallback_uses_wants_links_and_processes() -> None:
    payload = (NO_SYSTEMD + sec("processes", "process_api\nsshd\nkauditd\n")
               + sec("systemctl-files", "cii:skipped") + sec("systemctl-units", "cii:skipped")
               + sec("unit-files", "/lib/systemd/system/ssh.service\n"
                     "/lib/systemd/system/auditd.service\n/lib/systemd/system/getty@.service\n")
               + sec("wants", "ssh.service\nauditd.service\n")
               + sec("sysv", "rsync\nS01rsync\nREADME\n"))
    result = interpret("services", payload)
    units = {u["unit"]: u for u in result.data["units"]}
    assert result.data["method"] == "unit-files"
    assert units["ssh.service"]["active"] is True
    assert units["auditd.service"]["active"] is False  # kauditd is the kernel thread
    assert units["rsync.service"]["enabled"] is True  # SysV start link
    assert "getty@.service" not in units


def test_single_unit_without_known_process_is_unobservable() -> None:
    payload = (NO_SYSTEMD + sec("processes", "bash\n") + sec("unit-files",
               "/lib/systemd/system/postgresql.service\n") + sec("wants", "postgresql.service\n"))
    result = interpret("service", payload, {"unit": "postgresql"})
    assert result.status == "ok"
    assert result.data["installed"] is True and result.data["enabled"] is True
    assert "active" not in result.data
    assert "systemd is not PID 1" in result.data["unobservable"]["active"]


def test_single_unit_process_argument_settles_it() -> None:
    payload = (NO_SYSTEMD + sec("processes", "bash\npostgres\n") + sec("unit-files",
               "/lib/systemd/system/postgresql.service\n"))
    result = interpret("service", payload, {"unit": "postgresql", "process": "postgres"})
    assert result.data["active"] is True
    assert result.data["active_method"] == "process name in /proc/*/stat"


def test_unobservable_active_makes_a_rule_error_not_pass() -> None:
    payload = NO_SYSTEMD + sec("processes", "bash\n") + sec("unit-files", "")
    call = ProbeCall.of("service", {"unit": "postgresql"})
    facts = Facts(HostIdentity("h", "192.0.2.1"),
                  {call: interpret("service", payload, {"unit": "postgresql"})},
                  "2026-01-01T00:00:00Z", 0.0)
    some_rule = load_baseline("cii-art9-linux").rules[0]
    rule = dataclasses.replace(some_rule, check=ProbeCheck(
        call, "active", compile_expectation({"equals": True}, {})), applies_to=(), manual=None)
    result = evaluate_rule(rule, facts, "debian")
    assert result.status == "error"
    assert "systemd is not PID 1" in result.message


@pytest.mark.parametrize("payload", [b"", b"\xff\xfe\x00", b"systemd\n"])
def test_services_garbage_is_an_error(payload: bytes) -> None:
    assert interpret("services", payload).status == "error"
    assert interpret("service", payload, {"unit": "ssh"}).status == "error"


# ---------------------------------------------------------------- time_sync


def test_chrony_with_commented_servers_has_none() -> None:
    result = interpret("time_sync", captured("chrony-commented"))
    assert result.status == "ok"
    assert result.data["daemons_running"] == ["chrony"]
    assert result.data["servers"] == []
    assert result.data["synchronised"] is False  # chronyc tracking: Not synchronised


def test_timesyncd_drop_in_overrides_main_file() -> None:
    payload = (sec("processes", "systemd-timesyn\n") + sec("chronyc", "cii:missing")
               + sec("timedatectl", "NTP=yes\nNTPSynchronized=yes\n")
               + file_frame("/etc/systemd/timesyncd.conf", "[Time]\nNTP=0.debian.pool.ntp.org\n")
               + file_frame("/etc/systemd/timesyncd.conf.d/cii.conf",
                            "# 内网时间源\n[Time]\nNTP=10.0.0.1 10.0.0.2\n"))
    result = interpret("time_sync", payload)
    assert result.data["servers"] == ["10.0.0.1", "10.0.0.2"]
    assert result.data["synchronised"] is True
    assert result.data["active"] is True


def test_ntpd_servers_only_count_for_a_running_daemon() -> None:
    conf = "driftfile /var/lib/ntp/drift\n#server 10.9.9.9\nserver\t10.0.0.1 iburst\npool x\n"
    stopped = interpret("time_sync", sec("processes", "bash\n") + file_frame("/etc/ntp.conf", conf))
    running = interpret("time_sync", sec("processes", "ntpd\n") + file_frame("/etc/ntp.conf", conf))
    assert stopped.data["servers"] == [] and stopped.data["active"] is False
    assert running.data["servers"] == ["10.0.0.1", "x"]
    assert "synchronised" in running.data["unobservable"]


@pytest.mark.parametrize("payload", [b"", b"\x80\x81garbage"])
def test_time_sync_without_process_list_is_an_error(payload: bytes) -> None:
    assert interpret("time_sync", payload).status == "error"


def test_unreadable_time_config_is_an_error() -> None:
    payload = sec("processes", "chronyd\n") + b"CIIM" + b"5a" * 16 + b" U /etc/chrony.conf\n"
    result = interpret("time_sync", payload)
    assert result.status == "error"
    assert "/etc/chrony.conf" in (result.error or "")


def test_openntpd_servers_count_for_its_ntpd_process() -> None:
    payload = (sec("processes", "ntpd\n")
               + file_frame("/etc/openntpd/ntpd.conf", "# 内网\nservers 10.0.0.1\nsensor *\n"))
    assert interpret("time_sync", payload).data["servers"] == ["10.0.0.1"]


OFFLINE_FILES = ("cii:offline\n"
                 "auditd.service                enabled         enabled\n"
                 "rsync.service                 masked          enabled\n"
                 "smbd.service                  enabled-runtime enabled\n"
                 "sshd.service                  alias           -\n")
NO_SYSTEMD = sec("init", "other\nsh\n")


@pytest.mark.parametrize(("unit", "enabled", "at_boot"), [
    ("auditd.service", True, True), ("rsync.service", False, False),
    ("smbd.service", True, False), ("sshd.service", True, True),
])
def test_offline_systemctl_states(unit: str, enabled: bool, at_boot: bool) -> None:
    """systemctl --root=/ answers when systemd is not PID 1; a runtime link (/run) is
    enabled now and gone after a reboot; a masked unit is enabled in neither."""
    payload = NO_SYSTEMD + sec("processes", "cii:read 2\nauditd\n") + sec(
        "systemctl-files", OFFLINE_FILES) + sec("systemctl-units", "cii:skipped")
    result = interpret("services", payload)
    assert result.data["method"] == "systemctl --root=/"
    units = {u["unit"]: u for u in result.data["units"]}
    assert (units[unit]["enabled"], units[unit]["enabled_at_boot"]) == (enabled, at_boot)
    assert units["auditd.service"]["active"] is True


def test_offline_systemctl_adds_sysv_scripts() -> None:
    payload = NO_SYSTEMD + sec("processes", "cii:read 1\n") + sec(
        "systemctl-files", OFFLINE_FILES) + sec(
        "sysv", "/etc/init.d/xinetd\n/etc/rc2.d/S01xinetd\n")
    units = {u["unit"]: u for u in interpret("services", payload).data["units"]}
    assert units["xinetd.service"]["enabled_at_boot"] is True
