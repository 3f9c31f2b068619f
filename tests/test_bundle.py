"""Evidence bundles: a scan's findings, each host's facts, the collector script and the
baseline sources, signed as one, verifiable offline by ``ssh-keygen -Y verify`` and
``sha256sum -c`` alone, and failing ``cii-scan verify`` after any change: a byte edited,
a file removed or added, or files re-signed that no longer belong together."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from scanner.bundle import SIGNATURE_NAME, SUMS_NAME, sums_text
from scanner.errors import EXIT_INCOMPLETE, EXIT_INPUT, EXIT_OK, EXIT_THRESHOLD
from scanner.sshsig import load_private_key, sign
from tests._scanner import CII_SCAN, require_root, skip_or_fail

PRINCIPAL = "assessor@example.org"
TAILORING = """\
id: site-tailoring
version: "1"
title: {en: Site tailoring, zh: 站点裁剪}
extends: cii-art9-linux
parameters:
  pass_max_days: 60
disable:
  - rule: ssh.max-auth-tries
    reason: the site's bastion enforces its own limit
"""


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        skip_or_fail(f"{name} ({package}) is the offline consumer of a bundle")
    assert found is not None
    return found


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CII_SCAN, *args], capture_output=True, text=True, timeout=300,
                          check=False)


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as archive:
        return {info.name: archive.extractfile(info).read()  # type: ignore[union-attr]
                for info in archive}


def _write(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _keygen(path: Path) -> Path:
    subprocess.run([_tool("ssh-keygen", "openssh-client"), "-q", "-t", "ed25519", "-N", "",
                    "-C", "op", "-f", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real scan of this machine with --keep-facts, its bundle, and the keys."""
    require_root("a scan of this machine whose every rule is judged")
    work = tmp_path_factory.mktemp("bundle")
    key = _keygen(work / "id_ed25519")
    intruder = _keygen(work / "id_intruder")
    allowed = work / "allowed_signers"
    kind, blob = key.with_suffix(".pub").read_text().split()[:2]
    allowed.write_text(f"{PRINCIPAL} {kind} {blob}\n", encoding="utf-8")
    scanned = _cli("scan", "--keep-facts", "-o", str(work / "out"), "-q")
    assert scanned.returncode in (0, 3), scanned.stderr
    bundled = _cli("bundle", str(work / "out" / "findings.json"), "--key", str(key),
                   "-o", str(work / "bundle.tar"))
    assert bundled.returncode == 0, bundled.stderr
    return {"work": work, "key": key, "intruder": intruder, "allowed": allowed,
            "out": work / "out", "bundle": work / "bundle.tar"}


def _verify(bundle: Path, allowed: Path) -> subprocess.CompletedProcess[str]:
    return _cli("verify", str(bundle), "--allowed-signers", str(allowed))


def _offline_check(bundle: Path, allowed: Path, into: Path) -> tuple[bool, bool]:
    """What a reader without cii-scan learns: (ssh-keygen accepts the sums' signature,
    sha256sum finds every listed file intact)."""
    into.mkdir()
    subprocess.run(["tar", "-xf", str(bundle), "-C", str(into)], check=True)
    with (into / SUMS_NAME).open("rb") as sums:
        signed = subprocess.run([_tool("ssh-keygen", "openssh-client"), "-Y", "verify", "-n",
                                 "cii-scan", "-f", str(allowed), "-I", PRINCIPAL, "-s",
                                 SIGNATURE_NAME], stdin=sums, cwd=into, capture_output=True,
                                check=False)
    intact = subprocess.run([_tool("sha256sum", "coreutils"), "--strict", "-c", SUMS_NAME],
                            cwd=into, capture_output=True, check=False)
    return signed.returncode == 0, intact.returncode == 0


def test_a_scans_bundle_verifies_with_cii_scan_and_with_openssh_and_coreutils_alone(
        made: dict[str, Path], tmp_path: Path) -> None:
    done = _verify(made["bundle"], made["allowed"])
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert f"valid bundle signed by {PRINCIPAL}" in done.stdout
    assert _offline_check(made["bundle"], made["allowed"], tmp_path / "x") == (True, True)
    members = _members(made["bundle"])
    manifest = json.loads(members["manifest.json"])
    document = json.loads(members["findings.json"])
    assert members["findings.json"] == (made["out"] / "findings.json").read_bytes()
    assert [entry["digest"] for entry in manifest["facts"]] == [
        host["facts_digest"] for host in document["hosts"]]
    assert manifest["baseline"]["digest"] == document["baseline"]["digest"]
    assert members[manifest["collector"]].startswith(b"#!/bin/sh")
    assert sorted(members) == sorted(
        ["manifest.json", "findings.json", "collector.sh", SUMS_NAME, SIGNATURE_NAME,
         *manifest["baseline"]["sources"], *(e["file"] for e in manifest["facts"])])


def test_every_file_changed_by_one_byte_fails_verify_and_the_offline_check(
        made: dict[str, Path], tmp_path: Path) -> None:
    members = _members(made["bundle"])
    for number, name in enumerate(sorted(members)):
        changed = dict(members)
        data = bytearray(changed[name])
        middle = len(data) // 2
        data[middle] = ord("A") if data[middle] != ord("A") else ord("B")
        changed[name] = bytes(data)
        bundle = _write(tmp_path / f"changed-{number}.tar", changed)
        done = _verify(bundle, made["allowed"])
        assert done.returncode in (EXIT_THRESHOLD, EXIT_INPUT), (name, done.stdout)
        assert _offline_check(bundle, made["allowed"], tmp_path / f"x{number}") != (True, True)
        if name not in (SIGNATURE_NAME,):
            assert done.returncode == EXIT_THRESHOLD, (name, done.stdout, done.stderr)
            assert "NOT VALID" in done.stdout, name


def test_a_file_removed_or_added_fails_verify(made: dict[str, Path], tmp_path: Path) -> None:
    members = _members(made["bundle"])
    for number, name in enumerate(sorted(members)):
        if name == SUMS_NAME:
            continue
        less = {n: d for n, d in members.items() if n != name}
        done = _verify(_write(tmp_path / f"less-{number}.tar", less), made["allowed"])
        expected = EXIT_INCOMPLETE if name == SIGNATURE_NAME else EXIT_THRESHOLD
        assert done.returncode == expected, (name, done.stdout, done.stderr)
    more = {**members, "facts/9999-extra.json": members["findings.json"]}
    done = _verify(_write(tmp_path / "more.tar", more), made["allowed"])
    assert done.returncode == EXIT_THRESHOLD
    assert "facts/9999-extra.json is not listed in SHA256SUMS" in done.stdout
    no_sums = {n: d for n, d in members.items() if n != SUMS_NAME}
    done = _verify(_write(tmp_path / "no-sums.tar", no_sums), made["allowed"])
    assert done.returncode == EXIT_INPUT
    assert "has no SHA256SUMS" in done.stderr


def _resigned(members: dict[str, bytes], key: Path) -> dict[str, bytes]:
    """The bundle as someone holding ``key`` would remake it after a change: new sums,
    new signature."""
    inner = {n: d for n, d in members.items() if n not in (SUMS_NAME, SIGNATURE_NAME)}
    sums = sums_text(inner).encode()
    private = load_private_key(key.read_bytes(), str(key), None)
    return {**inner, SUMS_NAME: sums, SIGNATURE_NAME: sign(sums, private).encode()}


def test_an_edited_result_resigned_by_another_key_is_not_valid(
        made: dict[str, Path], tmp_path: Path) -> None:
    members = _members(made["bundle"])
    text = members["findings.json"].decode()
    assert '"status": "fail"' in text or '"status": "manual"' in text
    edited = dict(members)
    edited["findings.json"] = text.replace('"status": "fail"', '"status": "pass"', 1).encode()
    done = _verify(_write(tmp_path / "b.tar", _resigned(edited, made["intruder"])),
                   made["allowed"])
    assert done.returncode == EXIT_THRESHOLD
    assert "NOT VALID" in done.stdout
    # signed by the intruder, the sums and files agree: only the signer gives it away;
    # signed by the assessor's own key, the findings' own summary still disagrees
    done = _verify(_write(tmp_path / "c.tar", _resigned(edited, made["key"])),
                   made["allowed"])
    assert done.returncode == EXIT_THRESHOLD, done.stdout


def test_files_that_no_longer_belong_together_fail_even_when_signed_by_the_right_key(
        made: dict[str, Path], tmp_path: Path) -> None:
    members = _members(made["bundle"])
    manifest = json.loads(members["manifest.json"])
    facts_name = manifest["facts"][0]["file"]
    facts = json.loads(members[facts_name])
    facts["probes"] = facts["probes"][1:]  # an observation dropped, the document still valid
    swapped = {**members, facts_name: (json.dumps(facts, indent=2) + "\n").encode()}
    done = _verify(_write(tmp_path / "facts.tar", _resigned(swapped, made["key"])),
                   made["allowed"])
    assert done.returncode == EXIT_THRESHOLD
    assert "digest to" in done.stdout and facts_name in done.stdout
    source = manifest["baseline"]["sources"][-1]
    weakened = members[source].decode().replace("pass_max_days: 90", "pass_max_days: 9999", 1)
    assert weakened != members[source].decode()
    edited = {**members, source: weakened.encode()}
    done = _verify(_write(tmp_path / "baseline.tar", _resigned(edited, made["key"])),
                   made["allowed"])
    assert done.returncode == EXIT_THRESHOLD
    assert "the baseline sources digest to" in done.stdout
    intact = _resigned(members, made["key"])
    assert _verify(_write(tmp_path / "same.tar", intact), made["allowed"]).returncode == 0


def test_a_tailored_evaluation_bundles_its_whole_extends_chain(
        made: dict[str, Path], tmp_path: Path) -> None:
    tailoring = tmp_path / "site.yaml"
    tailoring.write_text(TAILORING, encoding="utf-8")
    facts = next((made["out"] / "facts").glob("*.json"))
    out = tmp_path / "out"
    evaluated = _cli("evaluate", str(facts), "-b", str(tailoring), "-o", str(out), "-q")
    assert evaluated.returncode in (0, 3), evaluated.stderr
    args = ["bundle", str(out / "findings.json"), "--facts", str(facts), "--key",
            str(made["key"]), "-o", str(tmp_path / "site.tar")]
    wrong = _cli(*args)  # -b defaults to the shipped baseline: not what this was made with
    assert wrong.returncode == EXIT_INPUT
    assert "pass that baseline with -b" in wrong.stderr
    assert not (tmp_path / "site.tar").exists()
    done = _cli(*args, "-b", str(tailoring), "-q")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    manifest = json.loads(_members(tmp_path / "site.tar")["manifest.json"])
    assert [Path(s).name for s in manifest["baseline"]["sources"]] == [
        "01-cii-art9-linux.yaml", "02-site.yaml"]
    assert _verify(tmp_path / "site.tar", made["allowed"]).returncode == EXIT_OK
    assert _offline_check(tmp_path / "site.tar", made["allowed"], tmp_path / "x") == (
        True, True)


def test_a_bundle_without_a_hosts_facts_is_refused(made: dict[str, Path],
                                                   tmp_path: Path) -> None:
    shutil.copy(made["out"] / "findings.json", tmp_path / "findings.json")  # no facts/ here
    done = _cli("bundle", str(tmp_path / "findings.json"), "--key", str(made["key"]), "-o",
                str(tmp_path / "b.tar"))
    assert done.returncode == EXIT_INPUT
    assert "are not among the facts given" in done.stderr
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "b.tar").exists()


@pytest.mark.parametrize("name", ["../escape.json", "/etc/passwd-copy", "a//b"])
def test_a_tar_with_an_unsafe_member_name_is_bad_input(made: dict[str, Path], tmp_path: Path,
                                                       name: str) -> None:
    members = {**_members(made["bundle"]), name: b"{}"}
    done = _verify(_write(tmp_path / "unsafe.tar", members), made["allowed"])
    assert done.returncode == EXIT_INPUT
    assert "unsafe name" in done.stderr
    assert done.stderr.count("\n") == 1


def test_scan_without_keep_facts_writes_no_facts_and_a_new_run_drops_old_ones(
        made: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "facts").mkdir(parents=True)
    stale = out / "facts" / "old-host-00000000.json"
    stale.write_text("{}", encoding="utf-8")
    facts = next((made["out"] / "facts").glob("*.json"))
    done = _cli("evaluate", str(facts), "-o", str(out), "-q")
    assert done.returncode in (0, 3), done.stderr
    assert stale.exists()  # evaluate keeps no facts and touches none
    scanned = _cli("scan", "--keep-facts", "-o", str(out), "-q")
    assert scanned.returncode in (0, 3), scanned.stderr
    kept = sorted((out / "facts").glob("*.json"))
    assert len(kept) == 1 and kept[0] != stale
    document = json.loads((out / "findings.json").read_text())
    assert json.loads(kept[0].read_text())["digest"] == document["hosts"][0]["facts_digest"]
