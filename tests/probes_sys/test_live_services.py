"""The system probes' real snippets through the real collector on this machine."""

from __future__ import annotations

import subprocess

import pytest

from scanner.collect import collect
from scanner.facts import HostIdentity
from scanner.probes import ProbeCall, ProbeResult
from scanner.probes._sections import PROCESSES_SNIPPET
from scanner.transport.local import LocalTransport
from tests._scanner import require_root
from tests.conftest import TEST_TOKEN, interpret
from tests.hostile._namespace import collect_in_namespace
from tests.probes_sys._helpers import sec

CALLS = [ProbeCall.of(name) for name in ("packages", "listening", "firewall", "services",
                                          "time_sync", "syslog_forwarding", "log_retention",
                                          "auditd")] + [
    ProbeCall.of("service", {"unit": "ssh"}),
    ProbeCall.of("sysctl", {"name": "net.ipv4.tcp_syncookies"}),
    ProbeCall.of("kernel_module", {"name": "usb-storage"}),
    ProbeCall.of("mount", {"path": "/tmp"}),
    ProbeCall.of("package_sources"),
    ProbeCall.of("auditd_conf"),
]


@pytest.fixture(scope="module")
def live_results() -> dict[ProbeCall, ProbeResult]:
    facts = collect(LocalTransport(), HostIdentity("localhost", "127.0.0.1"), CALLS)
    return dict(facts.results)


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.key)
def test_probe_answers_ok_or_says_why_not(call: ProbeCall,
                                          live_results: dict[ProbeCall, ProbeResult]) -> None:
    result = live_results[call]
    assert result.status in ("ok", "error", "absent")
    if result.status != "ok":
        reason = result.error or ""
        assert reason and "could not parse" not in reason, reason


def test_root_sees_packages_sockets_and_packet_filter(
        live_results: dict[ProbeCall, ProbeResult]) -> None:
    require_root("root-only views")
    for name in ("packages", "listening", "services", "log_retention", "auditd", "time_sync",
                 "package_sources"):
        result = live_results[ProbeCall.of(name)]
        assert result.status == "ok", (name, result.error)
    packages = live_results[ProbeCall.of("packages")].data
    if packages["manager"] == "dpkg":
        assert any(p["name"] == "dpkg" for p in packages["packages"])


def _processes_from(stat_lines: list[str]) -> bytes:
    """Run the real process snippet on crafted /proc/PID/stat lines instead of /proc.

    "ME" in a line stands for the pid of the snippet's own shell.
    """
    snippet = PROCESSES_SNIPPET.replace("cat /proc/[0-9]*/stat 2>/dev/null |",
                                        'sed "s/^ME /$$ /" |')
    assert snippet != PROCESSES_SNIPPET
    stdin = "".join(line + "\n" for line in stat_lines).encode()
    done = subprocess.run(["sh", "-c", snippet], input=stdin, capture_output=True,
                          env={"CII_M": TEST_TOKEN, "PATH": "/usr/bin:/bin"}, check=True)
    return done.stdout


SCAN_ITSELF = [
    "500 (cii-scan) S 400 400 400 0 -1 4194304",  # started the collector's session
    "600 (sh) S 500 600 600 0 -1 4194304",  # the collector's session leader
    "ME (sh) S 600 600 600 0 -1 4194304",  # the snippet's own shell
    "700 (awk) S 600 600 600 0 -1 4194304",
]


def test_process_list_leaves_out_kernel_threads_and_the_scan_itself() -> None:
    stdout = _processes_from([
        "1 (systemd) S 0 1 1 0 -1 4194560",
        "2 (kthreadd) S 0 0 0 0 -1 2129984",  # PF_KTHREAD set
        "300 (rsyslogd) S 1 300 300 0 -1 4194624",
        *SCAN_ITSELF,
        "800 (my (odd) name) S 1 800 800 0 -1 4194304",
    ])
    result = interpret("services", sec("init", "other\nsh") + stdout)
    assert result.data["processes"] == ["my (odd) name", "rsyslogd", "systemd"]


def test_a_host_whose_only_processes_are_the_scans_has_no_daemons_running() -> None:
    """Processes were read and none is a daemon: an observation (fail), not an error."""
    stdout = _processes_from(SCAN_ITSELF)
    result = interpret("time_sync", stdout)
    assert result.status == "ok", result.error
    assert result.data["daemons_running"] == []
    assert result.data["active"] is False


def test_an_unreadable_proc_is_an_error_not_an_empty_process_list() -> None:
    result = interpret("time_sync", _processes_from([]))
    assert result.status == "error"
    assert result.error == "process list (/proc/*/stat) could not be read"



def test_mac_and_arch_read_single_line_kernel_files_without_starting_cat() -> None:
    """The mac and os probes read one-value sysfs and /proc files with the shell's own
    ``read``: values with and without a final newline come through whole. tmpfs stands in
    for the SELinux, AppArmor and LSM files in a private mount namespace."""
    setup = [
        "mount -t tmpfs cii /sys/fs", "mkdir /sys/fs/selinux",
        "printf 1 > /sys/fs/selinux/enforce",  # as the kernel shows it: no newline
        "mount -t tmpfs cii /sys/module", "mkdir -p /sys/module/apparmor/parameters",
        "printf 'Y\\n' > /sys/module/apparmor/parameters/enabled",
        "mount -t tmpfs cii /sys/kernel/security", "mkdir /sys/kernel/security/apparmor",
        "printf 'lockdown,capability,selinux' > /sys/kernel/security/lsm",
        "printf '/a (enforce)\\n/b (enforce)\\n/c (complain)\\n'"
        " > /sys/kernel/security/apparmor/profiles",
        "mount -t tmpfs cii /mnt", "printf 'riscv64\\n' > /mnt/arch",
        "mount --bind /mnt/arch /proc/sys/kernel/arch",
    ]
    facts = collect_in_namespace({}, [ProbeCall.of("mac"), ProbeCall.of("os")],
                                 extra_setup=setup)
    mac = facts.results[ProbeCall.of("mac")]
    assert mac.status == "ok", mac.error
    assert mac.data["selinux"] == "enforcing" and mac.data["apparmor"] is True
    assert mac.data["apparmor_enforce_profiles"] == 2
    assert mac.data["apparmor_complain_profiles"] == 1
    assert mac.data["lsm"] == ["lockdown", "capability", "selinux"]
    system = facts.results[ProbeCall.of("os")]
    assert system.status == "ok" and system.data["arch"] == "riscv64"
