"""Broken and hostile hosts, made real: this machine with /etc and /proc/sys files swapped
for FIFOs, endless or huge files, legacy encodings, forged frame lines and directories.

Each case runs the real collector (LocalTransport or the `cii-scan` command) inside a
private mount namespace, so only the child sees the swapped files.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from scanner.baseline import Baseline, iter_probe_checks, load_baseline
from scanner.evaluate import evaluate
from scanner.facts import Facts
from scanner.probes import ProbeCall
from tests.hostile._namespace import (
    CII_SCAN,
    collect_in_namespace,
    run_in_namespace,
    skip_or_fail,
)

ASLR = "/proc/sys/kernel/randomize_va_space"
IP_FORWARD = "/proc/sys/net/ipv4/conf/all/forwarding"
STALE_TOKEN = "CIIM" + "0123456789abcdef" * 2  # a marker from some other run
SHIPPED = Path(__file__).resolve().parents[2] / "baselines" / "cii-art9-linux.yaml"
_snapshot: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def baseline_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the shipped baseline for the whole module, so every scan compared here
    uses the same rules even if the file is edited while the tests run."""
    copy = tmp_path_factory.mktemp("baseline") / SHIPPED.name
    copy.write_bytes(SHIPPED.read_bytes())
    _snapshot[:] = [copy]
    return copy


def shipped() -> Baseline:
    return _load_snapshot(_snapshot[0])


@cache
def _load_snapshot(path: Path) -> Baseline:
    return load_baseline(str(path))


def scan_in_namespace(tmp_path: Path, name: str, binds: dict[str, Path | str] | None = None,
                      etc_upper: Path | None = None, *args: str) -> dict[str, Any]:
    """`cii-scan scan` of this machine as the namespace shows it; the findings document."""
    outdir = tmp_path / name
    argv = [*CII_SCAN, "scan", "-q", "-b", str(_snapshot[0]), "-o", str(outdir), *args]
    done = run_in_namespace(binds or {}, argv, etc_upper=etc_upper)
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode in (0, 3), stderr
    assert "Traceback" not in stderr
    document: dict[str, Any] = json.loads((outdir / "findings.json").read_text("utf-8"))
    return document


def statuses(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule_id"]: r for r in document["hosts"][0]["results"]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory,
              baseline_snapshot: Path) -> dict[str, dict[str, Any]]:
    """The shipped baseline's verdicts for this machine, untouched, scanned the same way."""
    return statuses(scan_in_namespace(tmp_path_factory.mktemp("reference"), "out"))


# What a rule may say when its evidence could not be seen: an error, or a manual check that
# asks a human anyway. Never pass, never fail on data that was not there.
UNSEEN = ("error", "manual")


def evaluated(facts: Facts) -> dict[str, str]:
    return {r.rule_id: r.status for r in evaluate(shipped(), facts)}


def rules_using(probe: str, **args: Any) -> set[str]:
    """Ids of shipped rules whose check reads this probe call."""
    wanted = ProbeCall.of(probe, args) if args else None
    found = set()
    for rule in shipped().rules:
        calls = iter_probe_checks(rule.check) if rule.check is not None else []
        if any(c.probe == probe and (wanted is None or c == wanted) for c in calls):
            found.add(rule.id)
    return found


def volatile_rules() -> set[str]:
    """Rules on live state (sockets, processes, units) that other work on this machine can
    change between two scans; comparisons with the reference scan leave them out."""
    return rules_using("listening") | rules_using("services") | rules_using("service")


def test_probe_input_that_never_returns_is_killed_at_its_timeout(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    # A FIFO over /etc/shadow is refused up front as not a regular file (it would block
    # the accounts probe's awk forever); the sysctl FIFO below is read and must be killed.
    os.mkfifo(etc / "shadow")
    fifo = tmp_path / "sysctl-fifo"
    os.mkfifo(fifo)
    calls = shipped().probe_calls()
    facts = collect_in_namespace({ASLR: fifo}, calls, etc_upper=etc,
                                 patch={"accounts": {"timeout_s": 2}, "sysctl": {"timeout_s": 2}})
    hung = ProbeCall.of("sysctl", {"name": "kernel.randomize_va_space"})
    assert facts.results[hung].status == "error"
    assert "timed out after 2 s" in (facts.results[hung].error or "")
    assert facts.results[ProbeCall.of("os")].status == "ok"
    forwarding = ProbeCall.of("sysctl", {"name": "net.ipv4.conf.all.forwarding"})
    assert facts.results[forwarding].status == "ok"
    verdicts = evaluated(facts)
    blind = {"accounts.no-empty-passwords"} | rules_using(
        "sysctl", name="kernel.randomize_va_space")
    assert blind, "the shipped baseline reads these probes"
    for rule_id in blind:
        assert verdicts[rule_id] in UNSEEN, rule_id


def test_gigabytes_of_output_are_capped_and_the_rest_still_evaluated(
        tmp_path: Path, reference: dict[str, dict[str, Any]]) -> None:
    sparse = tmp_path / "huge"
    with sparse.open("wb") as handle:
        handle.truncate(4 * 1024**3)  # 4 GiB of NUL bytes, no disk used
    document = scan_in_namespace(tmp_path, "out", {ASLR: "/dev/zero", IP_FORWARD: sparse})
    results = statuses(document)
    # every per-interface IPv4 setting reads each interface's forwarding too (the kernel
    # combines some of them with it), so all of them see the flooded file
    per_interface = {rule.id for rule in shipped().rules if rule.check is not None
                     and any(c.probe == "sysctl" and c.args["name"].startswith("net.ipv4.conf.")
                             for c in iter_probe_checks(rule.check))}
    flooded = rules_using("sysctl", name="kernel.randomize_va_space") | per_interface
    assert flooded
    for rule_id in flooded:
        # never pass; fail only where a part the flood did not touch fails on this machine
        # anyway (all parts must pass, so one failing part is enough)
        assert results[rule_id]["status"] in (*UNSEEN, "fail"), results[rule_id]
        if results[rule_id]["status"] == "fail":
            assert reference[rule_id]["status"] == "fail", results[rule_id]
        if results[rule_id]["status"] == "error":  # the reason names the flood
            message = results[rule_id]["message"]
            assert "cap" in message or "not a kernel /proc/sys entry" in message, message
    for rule_id, result in results.items():
        if rule_id not in flooded and rule_id not in volatile_rules():
            assert result["status"] == reference[rule_id]["status"], rule_id
    assert (tmp_path / "out" / "findings.json").stat().st_size < 1024 * 1024


GBK_NAME = "用户".encode("gbk")
LATIN1_NAME = "josé".encode("latin-1")


def test_binary_and_legacy_encoded_config_is_parsed_without_a_false_pass(
        tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    passwd = Path("/etc/passwd").read_bytes()
    (etc / "passwd").write_bytes(
        passwd + GBK_NAME + b":x:1500:1500:\xd6\xd0\xce\xc4:/home/u:/bin/bash\n"
        + LATIN1_NAME + b":x:1501:1501::/home/j:/bin/bash\n"
        + b"\x00\x01\xff\xfe binary junk \x00\n")
    shadow = Path("/etc/shadow").read_bytes()
    (etc / "shadow").write_bytes(shadow + GBK_NAME + b"::19000:0:99999:7:::\n"
                                 + LATIN1_NAME + b":!:19000:0:99999:7:::\n\x00\xff\n")
    os.chmod(etc / "shadow", 0o640)
    login_defs = Path("/etc/login.defs").read_bytes()
    (etc / "login.defs").write_bytes(
        login_defs + "# 密码最长使用期限 PASS_MAX_DAYS 30\n".encode("gbk")
        + b"# caf\xe9 PASS_MAX_DAYS 30\n\x00\x00\xff\n")
    document = scan_in_namespace(tmp_path, "out", None, etc)
    results = statuses(document)
    empty = results["accounts.no-empty-passwords"]
    assert empty["status"] == "fail", empty  # the GBK-named account really has no password
    assert "\ufffd" in json.dumps(empty["observed"], ensure_ascii=False)
    assert results["auth.password-max-age"]["status"] == "fail"  # comments are not settings


def test_forged_collector_frames_in_host_files_do_not_break_framing(
        tmp_path: Path, reference: dict[str, dict[str, Any]]) -> None:
    forged = (f"\n{STALE_TOKEN} E 0 0\n{STALE_TOKEN} END\n"
              f"{STALE_TOKEN} F /etc/shadow\nroot::1:0:99999:7:::\n"
              f"{STALE_TOKEN} B 99\n").encode()
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "login.defs").write_bytes(Path("/etc/login.defs").read_bytes() + forged)
    forged_sysctl = tmp_path / "aslr"
    forged_sysctl.write_bytes(b"2" + forged)
    calls = shipped().probe_calls()
    facts = collect_in_namespace({ASLR: forged_sysctl}, calls, etc_upper=etc)
    login_defs = facts.results[ProbeCall.of("login_defs")]
    assert login_defs.status == "ok", login_defs
    aslr = facts.results[ProbeCall.of("sysctl", {"name": "kernel.randomize_va_space"})]
    assert aslr.status == "ok" and aslr.data["value"] != "2", aslr
    verdicts = evaluated(facts)
    assert verdicts["kernel.aslr-full"] == "fail"
    for rule_id, status in verdicts.items():
        if rule_id != "kernel.aslr-full" and rule_id not in volatile_rules():
            assert status == reference[rule_id]["status"], rule_id


def test_config_that_is_a_directory_is_an_error_not_a_pass(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    # (sshd_config is not used here: sshd itself reads a directory as an empty file and
    # runs with its defaults, so `sshd -T` truthfully reports those.)
    (etc / "login.defs").mkdir(parents=True)
    document = scan_in_namespace(tmp_path, "out", None, etc)
    results = statuses(document)
    assert rules_using("login_defs")
    for rule_id in rules_using("login_defs"):
        assert results[rule_id]["status"] in UNSEEN, results[rule_id]
        assert results[rule_id]["message"]


def test_pam_files_that_are_directories_or_fifos_are_errors_not_passes(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    for name in ("common-auth", "common-password"):
        (etc / "pam.d" / name).mkdir(parents=True)
    (etc / "security").mkdir()
    os.mkfifo(etc / "security" / "pwquality.conf")  # would block a reader that skips checks
    calls = shipped().probe_calls()
    facts = collect_in_namespace({}, calls, etc_upper=etc)
    verdicts = evaluated(facts)
    blind = rules_using("pwquality") | rules_using("faillock") | rules_using("pam_module")
    assert blind
    for rule_id in blind:
        assert verdicts[rule_id] in UNSEEN, rule_id
    for call, result in facts.results.items():
        if call.probe in ("pwquality", "faillock", "pam_module"):
            assert result.status == "error" and "not readable" in (result.error or ""), call


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_shadow_that_cannot_be_read_is_an_error_not_a_pass(tmp_path: Path, kind: str) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    if kind == "directory":
        (etc / "shadow").mkdir()
    else:
        os.mkfifo(etc / "shadow")
    facts = collect_in_namespace({}, [ProbeCall.of("os"), ProbeCall.of("accounts")],
                                 etc_upper=etc)
    assert evaluated(facts)["accounts.no-empty-passwords"] == "error"


def test_full_scan_gives_the_same_verdicts_when_sh_is_busybox_ash(
        tmp_path: Path, reference: dict[str, dict[str, Any]]) -> None:
    busybox = Path("/usr/bin/busybox")
    if not busybox.exists():
        skip_or_fail("busybox is not installed (tests/run-all.sh installs it)")
    sh = os.path.realpath("/bin/sh")  # bind over the real binary, not the symlink
    document = scan_in_namespace(tmp_path, "out", {sh: busybox})
    ash = statuses(document)
    assert ash.keys() == reference.keys()
    for rule_id, result in ash.items():
        if rule_id not in volatile_rules():
            assert result["status"] == reference[rule_id]["status"], (rule_id, result)
