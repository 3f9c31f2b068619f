"""Faults of the SSH layer in the real fleet (issue #11, item 6): a connection reset
mid-output, a stall after half, a sudo that hangs, a flood of output, a channel closed
without an exit status, a jump host that dies mid-fleet (see tests/fleet/faults.py).

Every fault host has the configuration of the clean twin ``india`` and is scanned in the
same run, so each rule is compared with the twin: a frame that completed keeps its
verdict, a rule whose frame did not complete is ``error`` (never ``pass``), and a host
that sent no frame at all has its own non-scanned status and a one-line reason.

Needs root, unshare and Debian's sshd: skipped with the reason outside CI, failed in CI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.inventory import Target
from scanner.transport import RunResult
from scanner.transport.ssh import SshTransport, make_settings
from tests._peak_rss import measured, peak_rss_bytes
from tests._scanner import skip_or_fail
from tests.fleet import FleetUnavailable, check_requirements
from tests.fleet.faults import FaultFleet, running_fault_fleet

pytestmark = pytest.mark.sshd
# The host budget of the fault runs: short, but room for three whole collections at once
# on two shared cores (one takes ~13 s alone).
TIMEOUT_S = "40"
PEAK_RSS_BYTES = 200 * 1024 * 1024
FAULT_HOSTS = ["india", "reset", "stall", "juliet", "kilo", "lima"]


@dataclass(frozen=True)
class Run:
    returncode: int
    stderr: str
    hosts: dict[str, dict[str, Any]]
    peak_rss_bytes: int
    elapsed_s: float  # from start to exit, for the "within --timeout" bound


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultFleet]:
    try:
        check_requirements()
    except FleetUnavailable as exc:
        skip_or_fail(f"the sshd fleet cannot run: {exc}")
    with running_fault_fleet() as started:
        yield started


def scan_args(faults: FaultFleet, inventory: Path, outdir: Path, jobs: int) -> list[str]:
    fleet = faults.fleet
    return [sys.executable, "-m", "scanner", "scan", "-i", str(inventory),
            "--known-hosts", str(fleet.known_hosts), "--identity", str(fleet.client_key),
            "--timeout", TIMEOUT_S, "-j", str(jobs), "-o", str(outdir)]


def finish(process: subprocess.Popen[str], outdir: Path, started: float) -> Run:
    """Wait for the scanner and read its own peak RSS (see tests._peak_rss)."""
    try:
        process.wait(timeout=300)  # a hang guard, not a timing assertion
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the launcher and the scanner
        raise AssertionError("the scanner never ended") from None
    stderr = (outdir.parent / "stderr").read_text()
    document = json.loads((outdir / "findings.json").read_text())
    hosts = {host["name"]: host for host in document["hosts"]}
    return Run(process.returncode, stderr, hosts, peak_rss_bytes(outdir.parent / "peak"),
               time.monotonic() - started)


def start_scan(faults: FaultFleet, work: Path, entries: list[tuple[str, str]],
               jobs: int) -> tuple[subprocess.Popen[str], Path, float]:
    inventory = work / "inventory.yaml"
    inventory.write_text(faults.inventory_yaml(entries))
    outdir = work / "out"
    started = time.monotonic()
    with (work / "stderr").open("w") as stderr:  # a file: a full pipe would stall the scan
        process = subprocess.Popen(measured(scan_args(faults, inventory, outdir, jobs),
                                            work / "peak"),
                                   stdout=subprocess.DEVNULL, stderr=stderr, text=True,
                                   env=faults.fleet.env(), start_new_session=True)
    return process, outdir, started


@pytest.fixture(scope="module")
def fault_run(faults: FaultFleet, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Every fault host and the clean twin in one run, all at once."""
    work = tmp_path_factory.mktemp("faults")
    process, outdir, started = start_scan(faults, work, [(n, n) for n in FAULT_HOSTS],
                                          len(FAULT_HOSTS))
    return finish(process, outdir, started)


def verdicts(host: dict[str, Any]) -> dict[str, str]:
    return {r["rule_id"]: r["status"] for r in host["results"]}


def assert_judged_as_twin_or_error(host: dict[str, Any], twin: dict[str, Any]) -> set[str]:
    """Each rule is the twin's verdict or ``error``; never a pass the twin does not give.
    Returns the rules that differ from the twin."""
    mine, theirs = verdicts(host), verdicts(twin)
    assert set(mine) == set(theirs), host["name"]
    differing = {rule for rule, status in mine.items() if status != theirs[rule]}
    for rule in differing:
        assert mine[rule] == "error", (host["name"], rule, mine[rule], theirs[rule])
    return differing


def assert_judged_as_twin(host: dict[str, Any], twin: dict[str, Any]) -> None:
    """Every rule is judged as on the twin. The one allowance: the ssh probe asks every
    running sshd it sees, and the fleet's hosts share one process table, so a session
    daemon of another host that ends mid-probe (a proxied session reset, a jump host
    killed) makes ssh rules an ``error`` there -- never another verdict."""
    differing = assert_judged_as_twin_or_error(host, twin)
    assert all(rule.startswith("ssh.") for rule in differing), (host["name"], differing)


def one_line(text: object) -> str:
    assert isinstance(text, str) and text and "\n" not in text, text
    return text


def test_each_fault_host_gets_its_own_status(fault_run: Run, faults: FaultFleet) -> None:
    hosts = fault_run.hosts
    assert sorted(hosts) == sorted(FAULT_HOSTS), fault_run.stderr
    assert fault_run.returncode == 3, fault_run.stderr  # juliet cannot be assessed
    # every host ran at once, each within its budget: the run ends within about one
    # --timeout (twice it, for process start and the run's own work on a shared CPU)
    assert fault_run.elapsed_s < 2 * float(TIMEOUT_S), fault_run.elapsed_s
    assert {name: host["status"] for name, host in hosts.items()} == {
        "india": "scanned", "reset": "scanned", "stall": "scanned", "juliet": "timeout",
        "kilo": "scanned", "lima": "scanned"}, fault_run.stderr
    assert faults.proxies["reset"].faulted.is_set()
    assert faults.proxies["stall"].faulted.is_set()
    assert hosts["india"]["complete"] is True
    for name in ("reset", "stall"):  # some frames came, then the link broke or hung
        assert hosts[name]["complete"] is False, name
        one_line(hosts[name]["incomplete_reason"])
    assert f"{TIMEOUT_S} s" in hosts["stall"]["incomplete_reason"]  # it names the budget
    # juliet's sudo never ran the collector: no frame, so no verdicts, and why
    assert hosts["juliet"]["results"] == []
    assert f"{TIMEOUT_S} s" in one_line(hosts["juliet"]["reason"])


def test_complete_frames_keep_the_twins_verdicts_and_cut_ones_never_pass(
        fault_run: Run) -> None:
    hosts = fault_run.hosts
    twin = hosts["india"]
    assert twin["probe_errors"] == {}, twin["probe_errors"]
    for name in ("reset", "stall"):
        differing = assert_judged_as_twin_or_error(hosts[name], twin)
        assert differing, name  # the frames that never came are errors ...
        kept = set(verdicts(twin)) - differing
        assert any(verdicts(twin)[rule] != "error" for rule in kept), name  # ... the rest kept
        assert hosts[name]["probe_errors"], name


def test_a_flooding_tool_costs_only_its_own_rules_and_memory_stays_bounded(
        fault_run: Run, faults: FaultFleet, tmp_path: Path) -> None:
    """kilo's ``ss`` prints forever: the collector cuts it at its cap, the rules that need
    it are errors saying so, every other rule is judged as on the twin, and a scan of the
    flooding host stays under the issue's peak RSS. (Its own scan: six hosts evaluated at
    once take more memory whatever floods, which is issue 12's 1,000-target budget.)"""
    kilo, twin = fault_run.hosts["kilo"], fault_run.hosts["india"]
    differing = assert_judged_as_twin_or_error(kilo, twin)
    assert differing, "the flood reached no rule"
    assert kilo["probe_errors"]
    process, outdir, started = start_scan(faults, tmp_path, [("kilo", "kilo")], 1)
    alone = finish(process, outdir, started)
    assert alone.hosts["kilo"]["status"] == "scanned" and alone.hosts["kilo"]["probe_errors"]
    assert 0 < alone.peak_rss_bytes < PEAK_RSS_BYTES, alone.peak_rss_bytes


def run_directly(faults: FaultFleet, name: str, script: str, limit: int) -> RunResult:
    """``script`` on host ``name`` through the client transport alone, as the auditor."""
    fleet = faults.fleet
    settings = make_settings(known_hosts=fleet.known_hosts, accept_new=False,
                             identity_files=[fleet.client_key], timeout_s=60,
                             max_output_bytes=limit)
    address, port = faults.address_of(name)
    transport = SshTransport(Target(name, address, port=port, user="auditor"), settings)
    try:
        return transport.run(script)
    finally:
        transport.close()


def test_the_clients_output_bound_holds_against_a_flood(faults: FaultFleet) -> None:
    """Below what the host sends, the client stops reading at its bound and keeps what came
    before it (RunResult.cut), instead of buffering without end."""
    limit = 1024 * 1024
    result = run_directly(faults, "kilo", "echo first-line; exec /usr/bin/ss -tln\n", limit)
    assert result.cut
    assert result.stdout.startswith(b"first-line\n")
    assert len(result.stdout) <= limit


def test_a_channel_closed_without_an_exit_status(fault_run: Run, faults: FaultFleet) -> None:
    """lima's login shell dies by SIGKILL after the command: sshd sends exit-signal and no
    exit-status. The output is whole, the status is unknown (None, not paramiko's -1),
    and the host is judged exactly as its twin."""
    result = run_directly(faults, "lima", "echo all-of-it\n", 1024 * 1024)
    assert (result.stdout, result.exit_status) == (b"all-of-it\n", None)
    lima, twin = fault_run.hosts["lima"], fault_run.hosts["india"]
    assert lima["status"] == "scanned"
    assert lima["probe_errors"] == twin["probe_errors"]
    assert_judged_as_twin(lima, twin)


def test_a_jump_host_dying_mid_fleet(faults: FaultFleet, fault_run: Run,
                                     tmp_path: Path) -> None:
    """Three hosts behind mike, one at a time: mike's sshd (and every session it serves) is
    killed once the first finished. The first keeps its verdicts, the last is unreachable
    through the jump, the one caught in between is never judged on what did not arrive."""
    entries = [(f"behind-{n}", "india via:mike") for n in (1, 2, 3)]
    process, outdir, started = start_scan(faults, tmp_path, entries, 1)
    journal = outdir / "journal.jsonl"
    for _ in range(2400):  # a hang guard, not a timing assertion
        if journal.exists() and journal.read_text().count("\n") >= 1:
            break
        assert process.poll() is None, (tmp_path / "stderr").read_text()
        time.sleep(0.05)
    faults.kill_host("mike")
    run = finish(process, outdir, started)
    hosts, twin = run.hosts, fault_run.hosts["india"]
    assert sorted(hosts) == ["behind-1", "behind-2", "behind-3"], run.stderr
    assert run.returncode == 3, run.stderr
    first, caught, last = hosts["behind-1"], hosts["behind-2"], hosts["behind-3"]
    assert first["status"] == "scanned" and first["complete"] is True
    assert_judged_as_twin(first, twin)
    assert last["status"] == "unreachable", (last["status"], last["reason"])
    assert "jump host 127.0.1.34" in one_line(last["reason"])
    if caught["status"] == "scanned":
        assert_judged_as_twin_or_error(caught, twin)
        if caught["complete"] is False:
            one_line(caught["incomplete_reason"])
    else:
        assert caught["status"] in ("unreachable", "error", "timeout"), caught
        one_line(caught["reason"])
