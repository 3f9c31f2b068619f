"""audit.auditd-active: the kernel decides whether an audit daemon receives its records.

The consumer is the kernel's audit status (``auditctl -s``: the enabled flag and the
pid of the registered daemon, audit_pid in kernel/audit.c) and, for the next start,
augenrules assembling rules.d (its last ``-e`` is what auditctl applies). The daemon
is the real auditd 3, run in the state's mount namespace (its own auditd.conf and log
under /tmp), in the machine's audit context: outside the initial PID namespace the
kernel refuses it. So the states run one at a time (a lock), and each restores the
kernel's enabled flag and leaves no daemon behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.oracle._oracle import Answer, Ask, Case, Consumer, State, case_id, check_case

CONF = ("log_file = /tmp/cii-auditd/audit.log\nlog_format = ENRICHED\nflush = INCREMENTAL_ASYNC\n"
        "freq = 50\nmax_log_file = 8\nnum_logs = 5\nspace_left = 75\nadmin_space_left = 50\n"
        "space_left_action = SYSLOG\nadmin_space_left_action = SUSPEND\n"
        "disk_full_action = SUSPEND\ndisk_error_action = SUSPEND\n")
START_DAEMON = [
    "mkdir -p /tmp/cii-auditd",
    "(timeout 120 auditd -n -c /etc/audit >/dev/null 2>&1 &)",
    "for i in $(seq 100); do auditctl -s | grep -q '^pid [1-9]' && break; sleep 0.1; done",
]
FAKE_DAEMON = [  # a process named auditd that the kernel has not registered
    "mkdir -p /tmp/cii-fake && cp /bin/sleep /tmp/cii-fake/auditd",
    "(/tmp/cii-fake/auditd 120 &)",
    "auditctl -e 1 >/dev/null",
]
ASKS = [Ask(["auditctl", "-s"]), Ask(["augenrules"]), Ask(["cat", "/etc/audit/audit.rules"])]


def _kernel_delivers(answers: Sequence[Answer], parameters: Mapping[str, Any]) -> bool:
    status = answers[0].stdout
    pid = re.search(r"(?m)^pid (\d+)$", status)
    enabled = re.search(r"(?m)^enabled (\d)$", status)
    assert pid and enabled, status
    assert answers[1].ok, answers[1].stderr
    boot = re.findall(r"(?m)^-e\s+(\d)\s*$", answers[2].stdout)
    return int(pid.group(1)) > 0 and enabled.group(1) in "12" and (not boot or boot[-1] != "0")


CONSUMER = Consumer("kernel audit status (auditctl -s: enabled, registered daemon) + augenrules",
                    ASKS, _kernel_delivers)


def _state(rules: str, setup: Sequence[str]) -> State:
    files: dict[str, str | bytes | None] = {
        "/etc/audit/auditd.conf": CONF,
        "/etc/audit/rules.d/audit.rules": rules,
    }
    return State(files=files, modes={p: 0o640 for p in files}, setup=list(setup),
                 overlays=["/run", "/tmp"])


CASES = [
    Case("audit.auditd-active", "registered-daemon", _state("-D\n-b 8192\n", START_DAEMON),
         CONSUMER, "pass"),
    Case("audit.auditd-active", "registered-daemon-immutable-at-boot",
         _state("-D\n-b 8192\n-e 2\n", START_DAEMON), CONSUMER, "pass"),
    Case("audit.auditd-active", "next-start-disables-auditing",
         _state("-D\n-b 8192\n-e 0\n", START_DAEMON), CONSUMER, "fail"),
    Case("audit.auditd-active", "a-process-only-named-auditd", _state("-D\n", FAKE_DAEMON),
         CONSUMER, "fail"),
    Case("audit.auditd-active", "no-daemon", _state("-D\n", []), CONSUMER, "fail"),
]


def _enabled_flag() -> str:
    status = subprocess.run(["auditctl", "-s"], capture_output=True, text=True, check=False)
    found = re.search(r"(?m)^enabled (\d)$", status.stdout)
    return found.group(1) if found else "0"


@contextlib.contextmanager
def _machine_audit_restored() -> Iterator[None]:
    """One state at a time; afterwards no daemon of ours runs and the flag is as before."""
    with Path("/tmp/cii-oracle-auditd.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        before = _enabled_flag()
        try:
            yield
        finally:
            subprocess.run(["pkill", "-f", "auditd -n -c /etc/audit"], check=False)
            subprocess.run(["pkill", "-f", "/tmp/cii-fake/auditd"], check=False)
            for _ in range(100):
                status = subprocess.run(["auditctl", "-s"], capture_output=True, text=True,
                                        check=False).stdout
                if re.search(r"(?m)^pid 0$", status):
                    break
                time.sleep(0.1)
            if before != "2":
                subprocess.run(["auditctl", "-e", before], capture_output=True, check=False)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_consumer_decides(case: Case, tmp_path: Path) -> None:
    with _machine_audit_restored():
        check_case(case, tmp_path)
