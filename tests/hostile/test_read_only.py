"""The collector is read-only on the target: with every writable filesystem of this machine
remounted read-only (in a private mount namespace), the full collector for the shipped
baseline gives each probe the same status as on the writable machine. A probe that needed
to write (a temp file, a cache) would fail there, or differ."""

from __future__ import annotations

import shlex
import subprocess

from scanner.baseline import load_baseline
from scanner.collect import build_script, new_token, parse_output
from tests.hostile._namespace import run_in_namespace

# Device, proc and sys mounts stay as they are: they hold no files a probe could leave.
KEPT_WRITABLE = ("proc", "sysfs", "devpts", "cgroup", "cgroup2", "mqueue", "debugfs",
                 "securityfs", "pstore", "bpf", "tracefs", "fusectl", "configfs", "binfmt_misc")


def writable_mounts() -> list[str]:
    listing = subprocess.run(["findmnt", "-rn", "-o", "TARGET,FSTYPE,OPTIONS"],
                             capture_output=True, text=True, check=True, timeout=30).stdout
    targets = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 3 and "rw" in parts[2].split(",") and parts[1] not in KEPT_WRITABLE:
            targets.append(parts[0].replace("\\x20", " "))
    return sorted(set(targets), key=len)


def test_collector_needs_no_writable_filesystem() -> None:
    calls = load_baseline().probe_calls()
    token = new_token()
    script = build_script(calls, token).encode()
    normal = subprocess.run(["sh", "-s"], input=script, capture_output=True, timeout=600,
                            check=False).stdout
    mounts = writable_mounts()
    assert "/" in mounts
    setup = [f"mount -o remount,bind,ro {shlex.quote(target)}" for target in mounts]
    setup.append("if touch /cii-read-only-check 2>/dev/null; then "  # proof the remount took
                 "rm -f /cii-read-only-check; echo 'root is still writable' >&2; exit 97; fi")
    frozen = run_in_namespace({}, ["sh", "-s"], stdin=script, extra_setup=setup)
    assert frozen.returncode == 0, frozen.stderr.decode(errors="replace")
    expected = parse_output(normal, calls, token)
    observed = parse_output(frozen.stdout, calls, token)
    assert observed.complete and expected.complete
    for call in calls:
        assert observed.results[call].status == expected.results[call].status, (
            call.key, observed.results[call].error)
