"""`cii-scan scan` against a real OpenSSH fleet (see tests/fleet): verdicts, host statuses,
jump host, host-key refusal, sudo, interruption and resume, and secrets that must not leak.

Scans log in as the unprivileged ``auditor`` and collect through ``sudo -n``, as
operators do; each host's sshd serves from the configuration its probes judge, so the
SSH verdicts are checked against a real login attempt.

Needs root, unshare and Debian's sshd: skipped with the reason outside CI, failed in CI.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner import collect, terminal
from scanner.collect import build_script, new_token, parse_output, plan_parts
from scanner.findings import validate_document
from scanner.inventory import Target
from scanner.probes import ProbeCall
from scanner.transport import TransportError
from scanner.transport.ssh import SshTransport, make_settings
from tests.fleet import (
    AUDITOR_PASSWORD,
    AUDITOR_SALT,
    LOCKED_KEY_PASSPHRASE,
    Fleet,
    FleetUnavailable,
    check_requirements,
    running_fleet,
)

pytestmark = pytest.mark.sshd
TIMEOUT_S = "45"  # a host budget: the whole collector, under sudo, on a shared CPU


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    try:
        check_requirements()
    except FleetUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the sshd fleet must run in CI: {exc}")
        pytest.skip(str(exc))
    with running_fleet() as started:
        yield started


def cii_scan(fleet: Fleet, *args: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True,
                          text=True, timeout=300, env=env or fleet.env(), check=False)


def popen_scan(fleet: Fleet, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scanner", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=fleet.env())


def common(fleet: Fleet) -> list[str]:
    return ["--known-hosts", str(fleet.known_hosts), "--identity", str(fleet.client_key),
            "--timeout", TIMEOUT_S]


def write_inventory(fleet: Fleet, tmp_path: Path, names: list[str] | None = None) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(fleet.inventory_yaml(names))
    return path


def hosts_by_name(outdir: Path) -> dict[str, dict[str, Any]]:
    document = json.loads((outdir / "findings.json").read_text())
    return {host["name"]: host for host in document["hosts"]}


def verdict(host: dict[str, Any], rule_id: str) -> str:
    return str(next(r["status"] for r in host["results"] if r["rule_id"] == rule_id))


def journal_lines(outdir: Path) -> int:
    path = outdir / "journal.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


def wait_for_journal(outdir: Path, lines: int, process: subprocess.Popen[str]) -> None:
    """Poll until the journal holds ``lines`` hosts (a hang guard, not a timing assertion)."""
    for _ in range(1200):
        if journal_lines(outdir) >= lines:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the scan never journaled enough hosts")


@pytest.fixture(scope="module")
def full_scan(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]]:
    work = tmp_path_factory.mktemp("full")
    inventory = write_inventory(fleet, work)
    result = cii_scan(fleet, "scan", "-i", str(inventory), *common(fleet), "-j", "4",
                      "-o", str(work / "out"))
    return result, hosts_by_name(work / "out")


def test_every_host_gets_its_own_status(full_scan: tuple[Any, dict[str, Any]]) -> None:
    result, hosts = full_scan
    assert result.returncode == 3, result.stderr
    statuses = {name: host["status"] for name, host in hosts.items()}
    assert statuses == {
        "alpha": "scanned", "bravo": "scanned", "charlie": "scanned", "hidden": "scanned",
        "jumpbox": "scanned", "foxtrot": "scanned", "golf": "scanned", "delta": "error",
        "hotel": "error",
        "echo": "hostkey_mismatch",
        "closed": "unreachable", "tarpit": "timeout",
    }
    assert "a password is required" in hosts["delta"]["reason"]
    assert "sudo" in hosts["hotel"]["reason"]
    assert "connection refused" in hosts["closed"]["reason"]
    assert f"{TIMEOUT_S} s" in hosts["tarpit"]["reason"]
    assert "differs from the key recorded" in hosts["echo"]["reason"]
    for name, host in hosts.items():
        assert host["reason"].count("\n") == 0, name
        assert (host["reason"] == "") == (host["status"] == "scanned"), name


def test_the_end_of_a_fleet_scan_tells_its_findings_story(
        full_scan: tuple[subprocess.CompletedProcess[str], dict[str, Any]]) -> None:
    """The last stderr lines of the fleet scan are the story of the findings.json it
    wrote: the rules failing most widely, the hosts not assessed with their reasons, the
    summary and where to read on (tests/golden/terminal-fleet.en.txt is the same form)."""
    result, hosts = full_scan
    outdir = Path(result.args[result.args.index("-o") + 1])
    document = json.loads((outdir / "findings.json").read_text())
    expected = [*terminal.story(document, "en", colour=False),
                terminal.summary_line(document["summary"]),
                terminal.next_step(outdir / "findings.json", None)]
    assert result.stderr.splitlines()[-len(expected):] == expected
    assert len(hosts) > terminal.MAX_HOSTS_LISTED  # told rule by rule, across the fleet
    assert "failed across the fleet, most severe first:" in expected
    unassessed = [name for name, host in hosts.items() if host["status"] != "scanned"]
    for name in unassessed:
        assert any(line.startswith(f"  {name}: {hosts[name]['status']}: ")
                   for line in expected), name


def test_verdicts_follow_each_hosts_own_configuration(
        full_scan: tuple[Any, dict[str, Any]]) -> None:
    _, hosts = full_scan
    # every host reports its own UTS hostname: each really is a separate "machine"
    for name in ("alpha", "bravo", "charlie", "hidden", "jumpbox"):
        assert hosts[name]["os"]["hostname"] == name
        assert hosts[name]["probe_errors"] == {}, (name, hosts[name]["probe_errors"])
    assert verdict(hosts["alpha"], "ssh.root-login-disabled") == "pass"
    assert verdict(hosts["bravo"], "ssh.root-login-disabled") == "fail"
    # every host is scanned as auditor through sudo -n: sshd -T needs root, so a verdict
    # (not an error) proves the collector ran under sudo
    for name in ("alpha", "bravo", "charlie", "hidden", "jumpbox"):
        assert hosts[name]["os"]["uid"] == 0, name
    assert verdict(hosts["charlie"], "ssh.root-login-disabled") == "fail"
    assert verdict(hosts["alpha"], "ssh.x11-forwarding-disabled") == "pass"
    assert verdict(hosts["hidden"], "ssh.x11-forwarding-disabled") == "fail"
    assert verdict(hosts["alpha"], "accounts.single-uid0") == "pass"
    assert verdict(hosts["bravo"], "accounts.single-uid0") == "fail"
    assert verdict(hosts["alpha"], "ssh.banner-configured") == "pass"
    assert verdict(hosts["bravo"], "ssh.banner-configured") == "fail"


def _root_login_accepted(fleet: Fleet, name: str) -> bool:
    """The consumer's answer: does this host's running sshd let root in with a valid key?"""
    host = fleet.hosts[name]
    settings = make_settings(known_hosts=fleet.known_hosts, accept_new=False,
                             identity_files=[fleet.client_key], timeout_s=30,
                             max_output_bytes=1024 * 1024)
    transport = SshTransport(Target(name, host.address, port=host.port, user="root"), settings)
    try:
        transport.run("true\n")
    except TransportError as exc:
        assert exc.status == "auth_failed", exc.reason
        return False
    finally:
        transport.close()
    return True


def test_root_login_verdicts_agree_with_a_real_root_login(
        fleet: Fleet, full_scan: tuple[Any, dict[str, Any]]) -> None:
    """ssh.root-login-disabled passes exactly where the host's own sshd refuses root."""
    _, hosts = full_scan
    for name in ("alpha", "bravo", "charlie"):
        accepted = _root_login_accepted(fleet, name)
        expected = "fail" if accepted else "pass"
        assert verdict(hosts[name], "ssh.root-login-disabled") == expected, (name, accepted)
    assert not _root_login_accepted(fleet, "alpha")
    assert _root_login_accepted(fleet, "bravo")


def test_scanned_hosts_record_their_real_key_fingerprint(
        fleet: Fleet, full_scan: tuple[Any, dict[str, Any]]) -> None:
    _, hosts = full_scan
    for name in ("alpha", "bravo", "charlie", "hidden", "jumpbox"):
        assert hosts[name]["hostkey_fingerprint"] == fleet.fingerprint(name)
    assert hosts["alpha"]["address"] == "127.0.1.11"
    assert hosts["alpha"]["port"] == 2211
    assert hosts["alpha"]["transport"] == "ssh"


def test_changed_host_key_is_refused_before_any_command(
        fleet: Fleet, full_scan: tuple[Any, dict[str, Any]]) -> None:
    echo_log = fleet.hosts["echo"].log_text()
    alpha_log = fleet.hosts["alpha"].log_text()
    # the scanner did reach echo's sshd (key exchange ran) ...
    assert "Connection from 127.0.0.1" in echo_log
    assert "KEX done" in echo_log
    # ... but never authenticated, opened a session or ran a command
    for marker in ("Accepted publickey", "session_new", "request exec", "Starting session"):
        assert marker in alpha_log  # the same log level shows it where it happened
        assert marker not in echo_log


def test_hidden_host_is_reachable_only_through_the_jump_host(
        fleet: Fleet, full_scan: tuple[Any, dict[str, Any]]) -> None:
    hidden = fleet.hosts["hidden"]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((hidden.address, hidden.port), timeout=5).close()
    jump_log = fleet.hosts["jumpbox"].log_text()
    assert "ctype direct-tcpip" in jump_log  # the jump host opened the forward
    assert "Accepted publickey" in hidden.log_text()


def test_kill_mid_fleet_then_resume_gives_one_complete_findings(
        fleet: Fleet, tmp_path: Path) -> None:
    inventory = write_inventory(fleet, tmp_path, ["alpha", "bravo", "tarpit", "charlie",
                                                  "jumpbox"])
    outdir = tmp_path / "out"
    args = ["scan", "-i", str(inventory), *common(fleet), "-j", "1", "-o", str(outdir),
            "--keep-facts"]
    process = popen_scan(fleet, *args)
    wait_for_journal(outdir, 2, process)  # alpha and bravo done; the tarpit is holding
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert not (outdir / "findings.json").exists()
    journaled = [json.loads(line) for line in (outdir / "journal.jsonl").read_text()
                 .splitlines() if line.strip()]
    before = {entry["report"]["name"]: entry["report"]["started_at"] for entry in journaled}
    assert {"alpha", "bravo"} <= set(before)
    resumed = cii_scan(fleet, *args, "--resume")
    assert resumed.returncode == 3, resumed.stderr  # the tarpit cannot be assessed
    assert "taken from" in resumed.stderr
    hosts = hosts_by_name(outdir)
    assert sorted(hosts) == ["alpha", "bravo", "charlie", "jumpbox", "tarpit"]
    for name, started in before.items():
        assert hosts[name]["started_at"] == started  # taken from the journal, not rescanned
    assert hosts["charlie"]["status"] == "scanned"
    assert hosts["tarpit"]["status"] == "timeout"
    document = json.loads((outdir / "findings.json").read_text())
    assert document["scan"]["complete"] is True
    assert document["summary"]["hosts"]["total"] == 5
    validate = cii_scan(fleet, "validate", str(outdir / "findings.json"))
    assert validate.returncode == 0, validate.stderr
    # the facts kept by the killed run and by the resumed one are those the verdicts name,
    # so the whole run bundles and verifies
    kept = {json.loads(path.read_text())["digest"] for path in (outdir / "facts").iterdir()}
    assert kept == {host["facts_digest"] for host in hosts.values() if host["facts_digest"]}
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("op " + " ".join(key.with_suffix(".pub").read_text().split()[:2]) + "\n")
    bundled = cii_scan(fleet, "bundle", str(outdir / "findings.json"), "--key", str(key),
                       "-o", str(tmp_path / "run.tar"))
    assert bundled.returncode == 0, bundled.stderr
    verified = cii_scan(fleet, "verify", str(tmp_path / "run.tar"), "--allowed-signers",
                        str(allowed))
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_stops_starting_hosts_and_writes_partial_findings(
        fleet: Fleet, tmp_path: Path, stop: signal.Signals) -> None:
    inventory = write_inventory(fleet, tmp_path, ["alpha", "tarpit", "bravo", "charlie"])
    outdir = tmp_path / "out"
    process = popen_scan(fleet, "scan", "-i", str(inventory), *common(fleet), "-j", "1",
                         "-o", str(outdir))
    wait_for_journal(outdir, 1, process)
    process.send_signal(stop)  # SIGINT: what Ctrl-C sends
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 3, stderr
    assert "interrupted" in stderr
    journal = (outdir / "journal.jsonl").read_text().splitlines()
    assert journal and all(json.loads(line) for line in journal)  # every line whole
    document = json.loads((outdir / "findings.json").read_text())
    validate_document(document)
    assert document["scan"]["complete"] is False
    statuses = {host["name"]: host["status"] for host in document["hosts"]}
    # every planned host is listed: the one being scanned when the stop came (the tarpit,
    # holding its connection; not_started only if the stop beat its connect) and the two
    # never begun, none of them journaled
    assert statuses["alpha"] == "scanned"
    assert statuses["tarpit"] in ("interrupted", "not_started")
    assert statuses["bravo"] == statuses["charlie"] == "not_started"
    assert len(document["hosts"]) == 4
    assert not any(json.loads(line)["report"]["name"] in ("tarpit", "bravo", "charlie")
                   for line in journal)
    assert "4 hosts in scope: 1 scanned" in stderr


SEVEN = ["alpha", "bravo", "charlie", "jumpbox", "hidden", "foxtrot", "golf"]
REPORTS = ["-f", "html", "-f", "sarif", "-f", "junit", "-f", "csv"]


def _reports_count_the_scope(outdir: Path, statuses: dict[str, str]) -> None:
    """Every report format shows every planned host, not only those that finished."""
    not_started = sum(status == "not_started" for status in statuses.values())
    page = (outdir / "report.html").read_text()
    assert f'id="hosts-total"><div class="value">{len(statuses)}<' in page
    assert f'id="hosts-not-started"><div class="value">{not_started}<' in page
    junit = (outdir / "junit.xml").read_text()
    assert junit.count("<testsuite ") == len(statuses)
    assert junit.count('type="not_started"') == not_started
    with (outdir / "findings.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["host"] for row in rows} == set(statuses)
    assert sum(row["host_status"] == "not_started" for row in rows) == not_started
    sarif = json.loads((outdir / "findings.sarif").read_text())
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert sum(n["descriptor"]["id"] == "host-not_started" for n in notes) == not_started
    assert sarif["runs"][0]["properties"]["summary"]["hosts"]["total"] == len(statuses)


def test_interrupted_seven_host_run_lists_all_seven_and_resume_completes_it(
        fleet: Fleet, tmp_path: Path) -> None:
    inventory = write_inventory(fleet, tmp_path, SEVEN)
    outdir = tmp_path / "out"
    args = ["scan", "-i", str(inventory), *common(fleet), "-j", "1", "-o", str(outdir),
            *REPORTS]
    process = popen_scan(fleet, *args)
    wait_for_journal(outdir, 1, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 3, stderr
    document = json.loads((outdir / "findings.json").read_text())
    validate_document(document)
    assert document["scan"]["complete"] is False
    assert sorted(h["name"] for h in document["hosts"]) == sorted(SEVEN)  # each once
    statuses = {host["name"]: host["status"] for host in document["hosts"]}
    journaled = {json.loads(line)["report"]["name"]
                 for line in (outdir / "journal.jsonl").read_text().splitlines()}
    # scanned = journaled; the host being scanned at the stop is interrupted (or scanned if
    # it finished first); the rest never began. -j 1 stopped after one: some never began.
    assert {n for n, s in statuses.items() if s == "scanned"} == journaled
    assert set(statuses.values()) <= {"scanned", "interrupted", "not_started"}
    assert sum(s == "interrupted" for s in statuses.values()) <= 1
    not_started = sum(s == "not_started" for s in statuses.values())
    assert not_started >= 1
    for host in document["hosts"]:
        if host["status"] == "not_started":
            assert host["reason"] == "the run was interrupted before this host started"
            assert host["results"] == []
    counts = document["summary"]["hosts"]
    assert counts["total"] == 7 and counts["not_started"] == not_started
    assert counts["scanned"] == len(journaled)
    assert f"7 hosts in scope: {len(journaled)} scanned" in stderr
    assert f"{not_started} not started" in stderr
    _reports_count_the_scope(outdir, statuses)
    started = {h["name"]: h["started_at"] for h in document["hosts"] if h["name"] in journaled}

    resumed = cii_scan(fleet, *args, "--resume")
    assert resumed.returncode in (0, 3), resumed.stderr
    document = json.loads((outdir / "findings.json").read_text())
    validate_document(document)
    assert sorted(h["name"] for h in document["hosts"]) == sorted(SEVEN)  # each once
    assert {h["name"]: h["status"] for h in document["hosts"]} == dict.fromkeys(SEVEN,
                                                                                 "scanned")
    for host in document["hosts"]:
        if host["name"] in started:
            assert host["started_at"] == started[host["name"]]  # from the journal
    assert document["scan"]["complete"] is True
    assert document["summary"]["hosts"]["scanned"] == 7
    assert document["summary"]["hosts"]["not_started"] == 0
    assert "7 hosts in scope: 7 scanned;" in resumed.stderr
    _reports_count_the_scope(outdir, dict.fromkeys(SEVEN, "scanned"))


def test_secrets_never_reach_any_output(fleet: Fleet, tmp_path: Path) -> None:
    shadow = (fleet.hosts["delta"].directory / "etc" / "shadow").read_text()
    assert fleet.auditor_hash in shadow  # the hash was there for a careless probe to copy
    inventory = write_inventory(fleet, tmp_path, ["alpha", "charlie", "delta"])
    outdir = tmp_path / "out"
    env = fleet.env()
    env["CII_SCAN_IDENTITY_PASSPHRASE"] = LOCKED_KEY_PASSPHRASE
    result = cii_scan(fleet, "scan", "-i", str(inventory), "--known-hosts",
                      str(fleet.known_hosts), "--identity", str(fleet.locked_key),
                      "--timeout", TIMEOUT_S, "-o", str(outdir), "-f", "html", "-f", "sarif",
                      "-f", "junit", "-f", "csv", env=env)
    hosts = hosts_by_name(outdir)
    assert hosts["alpha"]["status"] == "scanned"  # the encrypted key was really used
    assert hosts["delta"]["status"] == "error"
    private_key_body = [line for line in fleet.locked_key.read_text().splitlines()
                        if line and not line.startswith("-----")]
    secrets = [LOCKED_KEY_PASSPHRASE, AUDITOR_PASSWORD, fleet.auditor_hash,
               fleet.auditor_hash.split("$")[-1], f"$6${AUDITOR_SALT}$", *private_key_body]
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    for path in outdir.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    assert len(texts) >= 7  # findings.json, journal, four reports, stdout, stderr
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a planted secret leaked into {where}"


def test_encrypted_key_without_passphrase_is_auth_failed(fleet: Fleet, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    result = cii_scan(fleet, "scan", "auditor@127.0.1.11:2211", "--known-hosts",
                      str(fleet.known_hosts), "--identity", str(fleet.locked_key),
                      "--timeout", TIMEOUT_S, "-o", str(outdir))
    assert result.returncode == 3
    host = hosts_by_name(outdir)["127.0.1.11"]
    assert host["status"] == "auth_failed"
    assert "encrypted" in host["reason"] and "CII_SCAN_IDENTITY_PASSPHRASE" in host["reason"]


def _comparable(host: dict[str, Any]) -> dict[str, Any]:
    """A host's verdicts. The fleet's hosts share this machine's process table, which
    other work changes between two collections, so process-list evidence (and with it
    the facts digest) may differ; verdicts may not. Identical evidence evaluating
    identically is tests/test_cli.py::test_evaluating_the_same_facts_is_deterministic."""
    kept = {k: v for k, v in host.items()
            if k not in ("started_at", "collected_at", "duration_s", "facts_digest", "results",
                         "summary", "host_clock")}
    kept["results"] = [(r["rule_id"], r["status"], r["expected"]) for r in host["results"]]
    # the two collections ran seconds apart: the host's clock differs, its boot and name not
    kept["host_clock"] = {when: {field: clock[field] for field in ("boot_id", "hostname")}
                          for when, clock in host["host_clock"].items()}
    return kept


def test_collect_then_evaluate_equals_scan(fleet: Fleet, tmp_path: Path) -> None:
    facts = tmp_path / "bravo-facts.json"
    collected = cii_scan(fleet, "collect", "127.0.1.12:2212", "-u", "auditor", "--sudo",
                         *common(fleet), "-o", str(facts))
    assert collected.returncode == 0, collected.stderr
    evaluated = cii_scan(fleet, "evaluate", str(facts), "-o", str(tmp_path / "evaluated"))
    scanned = cii_scan(fleet, "scan", "127.0.1.12:2212", "-u", "auditor", "--sudo",
                       *common(fleet), "-o", str(tmp_path / "scanned"))
    assert evaluated.returncode == scanned.returncode
    offline = hosts_by_name(tmp_path / "evaluated")["127.0.1.12"]
    online = hosts_by_name(tmp_path / "scanned")["127.0.1.12"]
    assert _comparable(offline) == _comparable(online)
    assert online["hostkey_fingerprint"] == fleet.fingerprint("bravo")
    assert verdict(online, "ssh.root-login-disabled") == "fail"


def test_collect_from_an_unreachable_host_exits_3(fleet: Fleet, tmp_path: Path) -> None:
    result = cii_scan(fleet, "collect", "auditor@127.0.1.18:2218", *common(fleet),
                      "-o", str(tmp_path / "facts.json"))
    assert result.returncode == 3
    assert "unreachable" in result.stderr
    assert not (tmp_path / "facts.json").exists()


def test_cli_jump_and_trust_on_first_use(fleet: Fleet, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    outdir = tmp_path / "out"
    result = cii_scan(fleet, "scan", "auditor@127.0.1.16:2216", "--sudo",
                      "--jump", "auditor@127.0.1.17:2217",
                      "--known-hosts", str(known_hosts), "--accept-new-hostkeys",
                      "--identity", str(fleet.client_key), "-o", str(outdir))
    host = hosts_by_name(outdir)["127.0.1.16"]
    assert host["status"] == "scanned", result.stderr
    assert host["os"]["hostname"] == "hidden"
    recorded = known_hosts.read_text()
    assert "[127.0.1.17]:2217 ssh-ed25519 " in recorded  # the jump host was verified too
    assert "[127.0.1.16]:2216 ssh-ed25519 " in recorded
    # a key that changes after first use is refused, even with --accept-new-hostkeys
    echo_key = (fleet.echo_old_pub.read_text().split()[1])
    with known_hosts.open("a") as handle:
        handle.write(f"[127.0.1.15]:2215 ssh-ed25519 {echo_key}\n")
    again = cii_scan(fleet, "scan", "auditor@127.0.1.15:2215", "--known-hosts", str(known_hosts),
                     "--accept-new-hostkeys", "--identity", str(fleet.client_key),
                     "-o", str(tmp_path / "again"))
    assert again.returncode == 3
    assert hosts_by_name(tmp_path / "again")["127.0.1.15"]["status"] == "hostkey_mismatch"


def test_unknown_host_is_refused_without_accept_new(fleet: Fleet, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    result = cii_scan(fleet, "scan", "auditor@127.0.1.11:2211", "--known-hosts",
                      str(known_hosts),
                      "--identity", str(fleet.client_key), "-o", str(tmp_path / "out"))
    assert result.returncode == 3
    host = hosts_by_name(tmp_path / "out")["127.0.1.11"]
    assert host["status"] == "error"
    assert "not in" in host["reason"] and "--accept-new-hostkeys" in host["reason"]
    assert known_hosts.read_text() == ""


def test_ansible_ini_inventory_with_limit(fleet: Fleet, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "[hardened]\nalpha ansible_host=127.0.1.11 ansible_port=2211\n"
        "[weak]\nbravo ansible_host=127.0.1.12 ansible_port=2212\n"
        "[all:vars]\nansible_user=auditor\nansible_become=true\n")
    outdir = tmp_path / "out"
    cii_scan(fleet, "scan", "-i", str(inventory), "--limit", "weak", *common(fleet),
             "-o", str(outdir))
    hosts = hosts_by_name(outdir)
    assert list(hosts) == ["bravo"]
    assert hosts["bravo"]["groups"] == ["weak"]
    assert hosts["bravo"]["status"] == "scanned"


def test_login_noise_and_forged_frames_from_the_shell_change_no_verdict(
        full_scan: tuple[Any, dict[str, Any]]) -> None:
    _, hosts = full_scan
    noisy, clean = hosts["foxtrot"], hosts["alpha"]  # same configuration, quiet login
    assert noisy["status"] == "scanned"
    assert noisy["probe_errors"] == clean["probe_errors"]
    for rule_id in ("ssh.root-login-disabled", "ssh.max-auth-tries", "accounts.single-uid0",
                    "auth.password-max-age", "files.shadow-permissions"):
        assert verdict(noisy, rule_id) == verdict(clean, rule_id), rule_id


def test_broken_host_floods_and_legacy_bytes_never_pass_and_the_rest_is_judged(
        fleet: Fleet, full_scan: tuple[Any, dict[str, Any]]) -> None:
    """golf: sh is busybox ash, two /proc/sys files flood (/dev/zero, 4 GiB of NULs), and
    its account files carry GBK, Latin-1 and binary bytes."""
    _, hosts = full_scan
    golf, alpha = hosts["golf"], hosts["alpha"]
    settings = make_settings(known_hosts=fleet.known_hosts, accept_new=False,
                             identity_files=[fleet.client_key], timeout_s=30,
                             max_output_bytes=1024 * 1024)
    shell = SshTransport(Target("golf", "127.0.1.21", port=2221, user="auditor", sudo=True),
                         settings).run("sh --help 2>&1 | head -n 1\n")
    assert shell.stdout.startswith(b"BusyBox"), shell.stdout  # the collector ran under ash
    assert golf["status"] == "scanned"
    flooded = {r["rule_id"] for r in golf["results"]
               if r["rule_id"] in ("kernel.aslr-full", "kernel.ip-forward-disabled")}
    assert flooded == {"kernel.aslr-full", "kernel.ip-forward-disabled"}
    for rule_id in flooded:
        result = next(r for r in golf["results"] if r["rule_id"] == rule_id)
        assert result["status"] == "error", result  # the reason names the flood
        assert ("cap" in result["message"]
                or "not a kernel /proc/sys entry" in result["message"]), result
    assert verdict(golf, "accounts.no-empty-passwords") == "fail"  # the GBK-named account
    empty = next(r for r in golf["results"] if r["rule_id"] == "accounts.no-empty-passwords")
    assert "\ufffd" in json.dumps(empty["observed"], ensure_ascii=False)
    assert verdict(golf, "auth.password-max-age") == "pass"  # comments are not settings
    for rule_id in ("ssh.root-login-disabled", "ssh.max-auth-tries", "accounts.single-uid0",
                    "files.shadow-permissions", "kernel.yama-ptrace"):
        if any(r["rule_id"] == rule_id for r in alpha["results"]):
            assert verdict(golf, rule_id) == verdict(alpha, rule_id), rule_id


def test_host_without_a_usable_sudo_is_an_error_with_the_reason(fleet: Fleet,
                                                                tmp_path: Path) -> None:
    result = cii_scan(fleet, "scan", "auditor@127.0.1.22:2222", "--sudo", *common(fleet),
                      "-o", str(tmp_path / "out"))
    assert result.returncode == 3, result.stderr
    host = hosts_by_name(tmp_path / "out")["127.0.1.22"]
    assert host["status"] == "error"
    assert "sudo" in host["reason"] and "\n" not in host["reason"]


def test_connection_dropped_mid_transfer_keeps_what_arrived(
        fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's sshd session dies after the first probe: what arrived is kept, the rest
    is an error, and nothing passes on output that never came."""
    settings = make_settings(known_hosts=fleet.known_hosts, accept_new=False,
                             identity_files=[fleet.client_key], timeout_s=60,
                             max_output_bytes=64 * 1024 * 1024)
    transport = SshTransport(Target("alpha", "127.0.1.11", port=2211, user="auditor"), settings)
    calls = [ProbeCall.of("os"), ProbeCall.of("file", {"path": "/etc/passwd"})]
    token = new_token()
    # The nearest ancestor of `sh -s` named sshd serves this session (the login shell may
    # sit between them): the batch kills it just before it begins the second part, which
    # drops the link
    begin = "  printf '\\n%s B %s\\n' \"$CII_M\" \"$cii_i\"\n"
    assert begin in collect._INNER
    monkeypatch.setattr(collect, "_INNER", collect._INNER.replace(
        begin, '  if [ "$cii_i" = 1 ]; then kill -KILL "$cii_sshd"; fi\n' + begin, 1))
    script = build_script(calls, token)
    assert len(plan_parts(calls).parts) == 2
    find_sshd = ('cii_sshd=$PPID; while [ "$cii_sshd" -gt 1 ] && '
                 '[ "$(cat /proc/"$cii_sshd"/comm)" != sshd ]; do '
                 "cii_sshd=$(awk '{print $4}' /proc/\"$cii_sshd\"/stat); done; export cii_sshd\n")
    dropped = script.replace("\ncii_inner=", "\n" + find_sshd + "cii_inner=", 1)
    assert dropped != script
    try:
        result = transport.run(dropped)
    except TransportError as exc:  # a host that vanished may also be reported as such
        assert exc.status in ("error", "unreachable", "timeout")
        assert exc.reason and "\n" not in exc.reason
        return
    finally:
        transport.close()
    parsed = parse_output(result.stdout, calls, token)
    assert not parsed.complete
    # Output still in flight when sshd died is lost with it, so the first probe may or may
    # not have arrived whole; the second never ran. Either way nothing is made up.
    first, second = parsed.results[calls[0]], parsed.results[calls[1]]
    assert first.status == "ok" or "ended before" in (first.error or "") \
        or "never reached" in (first.error or ""), first
    assert second.status == "error"
    assert "never reached" in (second.error or "")


def test_a_remote_shell_that_stops_reading_the_script_early_still_reports_why(
        fleet: Fleet) -> None:
    """sudo refusing, or a shell ending early, closes the channel while the script is still
    being sent: the exit status and stderr arrive instead of a send error."""
    settings = make_settings(known_hosts=fleet.known_hosts, accept_new=False,
                             identity_files=[fleet.client_key], timeout_s=60,
                             max_output_bytes=1024 * 1024)
    transport = SshTransport(Target("alpha", "127.0.1.11", port=2211, user="auditor"), settings)
    script = b"echo stopped-early >&2; exit 7\n" + b"# padding\n" * (1024 * 1024)
    try:
        with transport.connected() as (connection, _):
            stdout, stderr, status = transport.execute(connection, script)
    finally:
        transport.close()
    assert (stdout, status) == (b"", 7)
    assert "stopped-early" in stderr
