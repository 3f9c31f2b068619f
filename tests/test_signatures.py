"""Signed, self-checking findings: SSHSIG signatures that the real ``ssh-keygen -Y``
accepts and makes, verdicts on allowed signers decided by ssh-keygen, and ``validate`` /
``verify`` catching a flipped result, a removed host or an edited byte with exit codes."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from scanner import sshsig
from scanner.errors import EXIT_INCOMPLETE, EXIT_INPUT, EXIT_OK, EXIT_THRESHOLD
from scanner.findings import dumps
from tests._scanner import CII_SCAN, skip_or_fail
from tests.sample_findings import sample_document

KEY_TYPES = ("ed25519", "ecdsa", "rsa")
NOW = datetime.datetime.now(datetime.timezone.utc)


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        skip_or_fail("ssh-keygen (openssh-client) is needed to check signatures")
    assert found is not None
    return found


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CII_SCAN, *args], capture_output=True, text=True, timeout=300,
                          check=False, env=env)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One key of each type, made by ssh-keygen as an operator would."""
    folder = tmp_path_factory.mktemp("keys")
    made = {}
    for kind in KEY_TYPES:
        path = folder / f"id_{kind}"
        subprocess.run([_ssh_keygen(), "-q", "-t", kind, "-N", "", "-C", f"op-{kind}",
                        "-f", str(path)], check=True)
        made[kind] = path
    return made


def _allowed(key: Path, principal: str, options: str = "") -> str:
    kind, blob = key.with_suffix(".pub").read_text().split()[:2]
    return f"{principal} {options + ' ' if options else ''}{kind} {blob}\n"


def _keygen_verifies(message: Path, signature: Path, allowed: Path, principal: str) -> bool:
    with message.open("rb") as stdin:
        done = subprocess.run([_ssh_keygen(), "-Y", "verify", "-n", "cii-scan", "-f",
                               str(allowed), "-I", principal, "-s", str(signature)],
                              stdin=stdin, capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "findings.json"
    path.write_text(dumps(sample_document()), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", KEY_TYPES)
def test_our_signature_is_one_ssh_keygen_accepts_and_theirs_one_we_accept(
        tmp_path: Path, keys: dict[str, Path], document: Path, kind: str) -> None:
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(_allowed(keys[kind], "auditor@example.org"), encoding="utf-8")
    done = _cli("sign", str(document), "--key", str(keys[kind]))
    assert done.returncode == 0, done.stderr
    ours = document.with_name("findings.json.sig")
    assert _keygen_verifies(document, ours, allowed, "auditor@example.org")
    signers = sshsig.parse_allowed_signers(allowed.read_text(), "allowed")
    ours = ours.rename(tmp_path / "ours.sig")  # ssh-keygen writes its own to findings.json.sig
    subprocess.run([_ssh_keygen(), "-Y", "sign", "-q", "-n", "cii-scan", "-f", str(keys[kind]),
                    str(document)], check=True, stdin=subprocess.DEVNULL)
    theirs = document.with_name("findings.json.sig")
    verdict = sshsig.verify(document.read_bytes(), theirs.read_text(), signers, NOW, "t")
    assert verdict.valid and verdict.principals == ("auditor@example.org",)
    # one byte changed: both refuse
    altered = tmp_path / "altered.json"
    altered.write_bytes(document.read_bytes().replace(b'"fail"', b'"pass"', 1))
    assert not _keygen_verifies(altered, ours, allowed, "auditor@example.org")
    assert not sshsig.verify(altered.read_bytes(), ours.read_text(), signers, NOW, "o").valid


# the allowed-signers line decides whether the key may sign for cii-scan; ssh-keygen says
ALLOWED_CASES = {
    "plain": "",
    "namespace-cii-scan": 'namespaces="cii-scan"',
    "namespace-git-only": 'namespaces="git"',
    "namespace-list": 'namespaces="file,cii-scan"',
    "namespace-glob": 'namespaces="cii-*"',
    "expired": 'valid-before="20200101"',
    "not-yet-valid": 'valid-after="29991231Z"',
    "window-now": 'valid-after="20200101",valid-before="29990101Z"',
    "cert-authority": "cert-authority",
}


@pytest.mark.parametrize("case", [*sorted(ALLOWED_CASES), "crlf-line-ends"])
def test_who_may_sign_is_what_ssh_keygen_says(tmp_path: Path, keys: dict[str, Path],
                                              document: Path, case: str) -> None:
    allowed = tmp_path / "allowed_signers"
    line = _allowed(keys["ed25519"], "auditor", ALLOWED_CASES.get(case, ""))
    if case == "crlf-line-ends":  # a file edited on Windows: CR is whitespace to OpenSSH
        line = "# signers\r\n" + line.replace("\n", " op\r\n")
    allowed.write_bytes(line.encode())
    signature = tmp_path / "findings.json.sig"
    key = sshsig.load_private_key(keys["ed25519"].read_bytes(), "key", None)
    signature.write_text(sshsig.sign(document.read_bytes(), key), encoding="utf-8")
    expected = _keygen_verifies(document, signature, allowed, "auditor")
    done = _cli("verify", str(document), "--allowed-signers", str(allowed))
    assert done.returncode == (EXIT_OK if expected else EXIT_THRESHOLD), (case, done.stdout)
    assert ("valid signature by auditor" in done.stdout) == expected


def test_verify_says_valid_altered_or_unsigned_with_exit_codes(
        tmp_path: Path, keys: dict[str, Path], document: Path) -> None:
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(_allowed(keys["ed25519"], "auditor"), encoding="utf-8")
    verify = ("verify", str(document), "--allowed-signers", str(allowed))
    done = _cli(*verify)
    assert (done.returncode, done.stdout.strip()) == (
        EXIT_INCOMPLETE, f"{document}: unsigned (no {document}.sig)")
    assert _cli("sign", "-q", str(document), "--key", str(keys["ed25519"])).returncode == 0
    done = _cli(*verify)
    assert done.returncode == EXIT_OK and "valid signature by auditor (SHA256:" in done.stdout
    raw = bytearray(document.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one edited bit
    document.write_bytes(bytes(raw))
    done = _cli(*verify)
    assert done.returncode == EXIT_THRESHOLD
    assert "NOT VALID: the signature does not match the file" in done.stdout
    # another operator's key: intact signature, signer not allowed
    other = tmp_path / "other.json"
    other.write_text(dumps(sample_document()), encoding="utf-8")
    assert _cli("sign", str(other), "--key", str(keys["rsa"])).returncode == 0
    done = _cli("verify", str(other), "--allowed-signers", str(allowed))
    assert done.returncode == EXIT_THRESHOLD and "is not an allowed signer" in done.stdout


def test_a_malformed_signature_or_signers_file_is_bad_input(
        tmp_path: Path, keys: dict[str, Path], document: Path) -> None:
    allowed = tmp_path / "allowed_signers"
    allowed.write_text("auditor ssh-ed25519 not-base64!\n", encoding="utf-8")
    document.with_name("findings.json.sig").write_text("hello\n", encoding="utf-8")
    done = _cli("verify", str(document), "--allowed-signers", str(allowed))
    assert done.returncode == EXIT_INPUT
    assert done.stderr.startswith(f"cii-scan: error: {allowed}:1: allowed signers:")
    allowed.write_text(_allowed(keys["ed25519"], "auditor"), encoding="utf-8")
    done = _cli("verify", str(document), "--allowed-signers", str(allowed))
    assert done.returncode == EXIT_INPUT
    assert "not an SSH signature" in done.stderr


def test_a_passphrase_comes_from_the_environment(tmp_path: Path, document: Path) -> None:
    key = tmp_path / "id_locked"
    subprocess.run([_ssh_keygen(), "-q", "-t", "ed25519", "-N", "s3cret", "-f", str(key)],
                   check=True)
    env = {k: v for k, v in __import__("os").environ.items()
           if k != "CII_SCAN_IDENTITY_PASSPHRASE"}
    done = _cli("sign", str(document), "--key", str(key), env=env)
    assert done.returncode == EXIT_INPUT and len(done.stderr.strip().splitlines()) == 1
    assert "CII_SCAN_IDENTITY_PASSPHRASE" in done.stderr
    done = _cli("sign", str(document), "--key", str(key),
                env={**env, "CII_SCAN_IDENTITY_PASSPHRASE": "s3cret"})
    assert done.returncode == 0, done.stderr
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(_allowed(key, "auditor"), encoding="utf-8")
    assert _keygen_verifies(document, document.with_name("findings.json.sig"), allowed,
                            "auditor")


def test_validate_catches_a_flipped_result_and_a_removed_host(tmp_path: Path,
                                                              document: Path) -> None:
    assert _cli("validate", str(document)).returncode == EXIT_OK
    data = json.loads(document.read_text(encoding="utf-8"))
    flipped = json.loads(json.dumps(data))
    host = next(h for h in flipped["hosts"] if h["name"] == "web-01")
    next(r for r in host["results"] if r["status"] == "fail")["status"] = "pass"
    removed = json.loads(json.dumps(data))
    removed["hosts"] = [h for h in removed["hosts"] if h["name"] != "db-01"]
    for name, broken, problem in [
            ("flipped", flipped, "hosts/6: its summary does not count its results"),
            ("removed", removed, "summary: does not count the hosts and results")]:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(broken), encoding="utf-8")
        done = _cli("validate", str(path))
        assert done.returncode == EXIT_INPUT, name
        assert f"findings document disagrees with itself: {problem}" in done.stderr, name
        # and nothing renders or signs it
        assert _cli("report", str(path), "-o", str(tmp_path / "r.html")).returncode == \
            EXIT_INPUT
        assert _cli("sign", str(path), "--key", "/nonexistent").returncode == EXIT_INPUT


def test_a_signed_run_writes_its_signature_and_an_unsigned_one_removes_the_old(
        tmp_path: Path, keys: dict[str, Path]) -> None:
    facts = tmp_path / "facts.json"
    assert _cli("collect", "-q", "-o", str(facts)).returncode == 0
    out = tmp_path / "out"
    done = _cli("evaluate", str(facts), "-o", str(out), "--sign-key", str(keys["ecdsa"]))
    assert done.returncode in (0, 3), done.stderr
    signature = out / "findings.json.sig"
    assert f"wrote {signature}" in done.stderr
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(_allowed(keys["ecdsa"], "operator"), encoding="utf-8")
    assert _keygen_verifies(out / "findings.json", signature, allowed, "operator")
    done = _cli("evaluate", str(facts), "-o", str(out))
    assert done.returncode in (0, 3), done.stderr
    assert not signature.exists() and f"removed {signature}" in done.stderr
    # a key that cannot sign stops the run before anything is evaluated or written
    done = _cli("evaluate", str(facts), "-o", str(tmp_path / "new"), "--sign-key",
                str(keys["ecdsa"].with_suffix(".pub")))
    assert done.returncode == EXIT_INPUT and not (tmp_path / "new").exists()
