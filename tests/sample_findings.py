"""A realistic findings document for renderer, waiver and diff tests, built by the real pipeline.

Captured probe outputs (tests/golden/sample-outputs.yaml, tests/fixtures/os) go through
the real probe parsers, evaluation and ``build_document`` against a frozen sample
baseline (tests/golden/sample-baseline.yaml); waivers come from
tests/golden/sample-waivers.yaml through :mod:`scanner.waivers`. Nothing here is
hand-written findings JSON. Outputs marked "edited" below are captured outputs with
one value changed to produce a failing case.
"""

from __future__ import annotations

import datetime
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from scanner.baseline import Baseline, load_baseline
from scanner.facts import HostClock, HostIdentity
from scanner.findings import HostReport, build_document
from scanner.fleet import INTERRUPTED_REASON, NOT_STARTED_REASON
from scanner.judgements import apply_judgements, parse_judgements_text
from scanner.scan import report_from_facts
from scanner.waivers import apply_waivers, parse_waivers_text
from tests.conftest import TEST_TOKEN, facts_from_outputs

GOLDEN = Path(__file__).parent / "golden"
SAMPLE_BASELINE = GOLDEN / "sample-baseline.yaml"
SAMPLE_WAIVERS = GOLDEN / "sample-waivers.yaml"
SAMPLE_JUDGEMENTS = GOLDEN / "sample-judgements.yaml"
TODAY = datetime.date(2026, 6, 1)
HOSTILE = "<script>alert(\"pwn\")</script>\"{{ 7*7 }}\" =cmd|' /C calc'!A0 \x01\x1b[2J"
HOSTILE_NAME = "=cmd|'calc'!A0<script>alert(1)</script>{{7*7}}\x07"


@cache
def sshd_outputs() -> dict[str, str]:
    data = yaml.safe_load((GOLDEN / "sample-outputs.yaml").read_text(encoding="utf-8"))
    return {name: case["stdout"] for name, case in data["sshd_effective"].items()}


def _sysctl(name: str, value: str, exit_status: int = 0) -> dict[str, Any]:
    """The sysctl probe's output for a host whose running value is also what sysctl.d
    sets at boot (the framing of tests/fixtures/rules/kernel.*.yaml)."""
    stdout = (f"{TEST_TOKEN} F cii:init\nother\nprocess_api\n\ncii:rc 0\n"
              f"{TEST_TOKEN} F cii:running\n{value}\n\ncii:rc 0\n"
              f"{TEST_TOKEN} F /etc/sysctl.d/60-site.conf\n{name} = {value}\n\n")
    return {"probe": "sysctl", "args": {"name": name}, "stdout": stdout, "exit": exit_status}


def _shadow(stat_line: str, exit_status: int = 0) -> dict[str, Any]:
    return {"probe": "file", "args": {"path": "/etc/shadow"}, "stdout": stat_line + "\n",
            "exit": exit_status}


_PASSWD = ("L root:x:0:0::/root:/bin/bash\nL daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n"
           "L alice:x:1000:1000::/home/alice:/bin/bash\n")
_SHADOW = ("L root:set:19800:0:99999:7:::\nL daemon:locked:19800:0:99999:7:::\n"
           "L alice:set:19800:0:90:7:::\n")


def _accounts(shadow: str) -> dict[str, str]:
    """The accounts probe's sections (getent lists what the files hold)."""
    return {"cii:nss-passwd": _PASSWD + "getent-rc 0\n\ncii:rc 0",
            "cii:file-passwd": _PASSWD + "\ncii:rc 0",
            "cii:nss-shadow": shadow + "getent-rc 0\n\ncii:rc 0",
            "cii:file-shadow": shadow + "\ncii:rc 0"}


ACCOUNTS_OK = _accounts(_SHADOW)
ACCOUNTS_EMPTY = _accounts(_SHADOW.replace("L alice:set:", "L alice:empty:"))


def _scanned(os_name: str, name: str, address: str, groups: tuple[str, ...],
             outputs: list[dict[str, Any]], baseline: Baseline,
             clock: tuple[HostClock, HostClock] | None = None) -> HostReport:
    """``clock``: the host's clock lines at the collector's start and end (None: a host
    that reported none)."""
    facts = facts_from_outputs(os_name, outputs, host=name)
    identity = HostIdentity(name, address, port=22, transport="ssh", groups=groups)
    if clock is not None:
        facts = replace(facts, host_clock_start=clock[0], host_clock_end=clock[1])
    report = report_from_facts(baseline, replace(facts, host=identity))
    return replace(report, duration_s=1.25)


def _clock(name: str, boot: str, utc: str, local: str) -> HostClock:
    return HostClock(utc=utc, local=local, boot_id=boot, hostname=name)


def sample_reports(baseline: Baseline) -> list[HostReport]:
    stock, hardened = sshd_outputs()["debian12-stock"], sshd_outputs()["debian12-hardened"]
    web = _scanned("debian12", "web-01", "192.0.2.10", ("web", "dmz"), [
        {"probe": "sshd_effective", "stdout": stock},
        {"probe": "accounts", "files": ACCOUNTS_OK},
        _shadow("stat 640 0 42 root shadow 1024 regular file"),
        _sysctl("net.ipv4.ip_forward", "0"),
        _sysctl("kernel.randomize_va_space", "2"),
    ], baseline, clock=(
        _clock("web-01", "0b7e1c2a-4f2d-4c4e-9a51-2f3d4e5a6b7c", "2026-06-01T08:00:01Z",
               "2026-06-01T16:00:01+0800"),
        _clock("web-01", "0b7e1c2a-4f2d-4c4e-9a51-2f3d4e5a6b7c", "2026-06-01T08:00:02Z",
               "2026-06-01T16:00:02+0800")))
    db = _scanned("rocky9", "db-01", "192.0.2.20", ("database",), [
        # edited: the hardened capture with the banner removed
        {"probe": "sshd_effective",
         "stdout": hardened.replace("banner /etc/issue.net", "banner none")},
        {"probe": "accounts", "files": ACCOUNTS_EMPTY},  # edited: alice's password emptied
        _shadow("stat: cannot statx '/etc/shadow': Permission denied", exit_status=1),
        _sysctl("net.ipv4.ip_forward", "1"),
        _sysctl("kernel.randomize_va_space", "2"),
        _sysctl("kernel.dmesg_restrict", "1"),
    ], baseline)
    hostile = _scanned("debian12", HOSTILE_NAME, "192.0.2.66", ("lab",), [
        # edited: the hardened capture with a hostile banner path
        {"probe": "sshd_effective",
         "stdout": hardened.replace("banner /etc/issue.net", "banner " + HOSTILE)},
        {"probe": "accounts", "files": ACCOUNTS_OK},
        # edited: owner, group and file type replaced by hostile strings
        _shadow("stat 644 0 0 <script>alert(1)</script> {{7*7}} 1024 " + HOSTILE),
        _sysctl("net.ipv4.ip_forward", "0"),
        _sysctl("kernel.randomize_va_space", "1"),
    ], baseline)
    unreachable = HostReport(
        host=HostIdentity("edge-03", "198.51.100.7", port=22, transport="ssh", groups=("dmz",)),
        status="unreachable", reason="connect to 198.51.100.7:22: connection refused")
    auth_failed = HostReport(
        host=HostIdentity("legacy-04", "198.51.100.8", port=2222, transport="ssh"),
        status="auth_failed", reason="authentication failed for user audit (publickey)")
    # the run was stopped (SIGINT) while pay-07 was being scanned and before app-06 began
    # (the reasons are scanner.fleet's own)
    interrupted = HostReport(
        host=HostIdentity("pay-07", "192.0.2.70", port=22, transport="ssh", groups=("web",)),
        status="interrupted", reason=INTERRUPTED_REASON)
    not_started = HostReport(
        host=HostIdentity("app-06", "192.0.2.60", port=22, transport="ssh", groups=("web",)),
        status="not_started", reason=NOT_STARTED_REASON)
    return [web, db, hostile, unreachable, auth_failed, interrupted, not_started]


def sample_document(*, waived: bool = True) -> dict[str, Any]:
    """The sample scan, stopped before it covered its scope: 3 assessed hosts (one with
    hostile strings), 2 that could not be, 1 interrupted while scanning, 1 never started.
    ``waived``: with the sample's judgements and waivers applied (the goldens' case)."""
    baseline = load_baseline(str(SAMPLE_BASELINE))
    document = build_document(
        baseline=baseline, hosts=sample_reports(baseline),
        started_at="2026-06-01T08:00:00Z", finished_at="2026-06-01T08:00:05Z",
        invocation={"command": "scan", "operator": "auditor", "scanner_host": "scanner-01",
                    "fail_on": "high"},
        complete=False,
    )
    document["tool"]["version"] = "0.0.0+sample"
    if not waived:
        return document
    # parsed under relative names so sources in the goldens do not depend on the checkout
    judgements = parse_judgements_text(SAMPLE_JUDGEMENTS.read_text(encoding="utf-8"),
                                       "sample-judgements.yaml")
    document = apply_judgements(document, judgements, TODAY,
                                source="sample-judgements.yaml").document
    waivers = parse_waivers_text(SAMPLE_WAIVERS.read_text(encoding="utf-8"),
                                 "sample-waivers.yaml")
    return apply_waivers(document, waivers, TODAY, source="sample-waivers.yaml").document


def sample_old_document() -> dict[str, Any]:
    """An earlier scan of the same fleet, for diff tests: some rules passed then, a host that
    has since been retired was there, the hostile-named host was not, and legacy-04 was
    reachable."""
    baseline = load_baseline(str(SAMPLE_BASELINE))
    hardened = sshd_outputs()["debian12-hardened"]
    current = {r.host.name: r for r in sample_reports(baseline)}
    web = _scanned("debian12", "web-01", "192.0.2.10", ("web", "dmz"), [
        {"probe": "sshd_effective", "stdout": hardened},
        {"probe": "accounts", "files": ACCOUNTS_OK},
        _shadow("stat 640 0 42 root shadow 1024 regular file"),
        _sysctl("net.ipv4.ip_forward", "0"),
        _sysctl("kernel.randomize_va_space", "0"),  # edited: ASLR off before
    ], baseline)
    db = _scanned("rocky9", "db-01", "192.0.2.20", ("database",), [
        {"probe": "sshd_effective",
         "stdout": hardened.replace("banner /etc/issue.net", "banner none")},
        {"probe": "accounts", "files": ACCOUNTS_OK},
        _shadow("stat 0 0 0 root root 1024 regular file"),
        _sysctl("net.ipv4.ip_forward", "0"),
        _sysctl("kernel.randomize_va_space", "2"),
        _sysctl("kernel.dmesg_restrict", "1"),
    ], baseline)
    legacy = _scanned("debian12", "legacy-04", "198.51.100.8", (), [
        {"probe": "sshd_effective", "stdout": hardened},
    ], baseline)
    legacy = replace(legacy, host=replace(legacy.host, port=2222))
    retired = _scanned("debian12", "retired-05", "192.0.2.50", (), [
        {"probe": "sshd_effective", "stdout": hardened},
    ], baseline)
    document = build_document(
        baseline=baseline, hosts=[web, db, legacy, retired, current["edge-03"],
                                  current["pay-07"], current["app-06"]],
        started_at="2026-05-01T08:00:00Z", finished_at="2026-05-01T08:00:04Z",
        invocation={"command": "scan", "operator": "auditor", "scanner_host": "scanner-01",
                    "fail_on": "high"},
    )
    document["tool"]["version"] = "0.0.0+sample"
    return document


def fleet_document(host_count: int) -> dict[str, Any]:
    """A large fleet: copies of the sample's hosts (real pipeline output), renamed."""
    from scanner.findings import resummarize

    document = sample_document()
    templates = document["hosts"]
    hosts = []
    for index in range(host_count):
        template = templates[index % len(templates)]
        hosts.append({**template, "name": f"node-{index:04d}",
                      "address": f"10.{index // 65536}.{index // 256 % 256}.{index % 256}"})
    return resummarize({**document, "hosts": hosts})
