"""Secrets never leave the host: a planted password hash and private keys (host keys and a
user's ~/.ssh/id_*), and credentials of any shape planted in every file a probe reads,
appear in no output of any kind — findings, every report format, facts, the raw
collector output, stdout or stderr."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from scanner.baseline import load_baseline
from scanner.collect import plan_parts
from scanner.redact import SED_PROGRAM, redact
from scanner.render import OutputFormat
from tests.hostile._namespace import CII_SCAN, run_in_namespace, skip_or_fail

PLANTED_HASH = "$6$ciiPlantedSalt$" + "ZmFrZUhhc2hGb3JDaWlTY2FuVGVzdHM" * 3
USER = "ciiplanted"


def keygen(path: Path, kind: str) -> list[bytes]:
    """A fresh private key at ``path``; its base64 body lines are the secrets to look for."""
    if shutil.which("ssh-keygen") is None:
        skip_or_fail("ssh-keygen is not installed (openssh-client)")
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "cii-planted",
                    "-f", str(path)], check=True, capture_output=True, timeout=60)
    body = [line.strip() for line in path.read_bytes().splitlines()
            if line.strip() and not line.startswith(b"-----")]
    return [line for line in body if len(line) >= 24]


def test_planted_secrets_appear_in_no_output(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    (etc / "ssh").mkdir(parents=True)
    shadow = Path("/etc/shadow").read_text("utf-8").splitlines()
    shadow = [f"root:{PLANTED_HASH}:19000:0:99999:7:::" if line.startswith("root:") else line
              for line in shadow]
    shadow.append(f"{USER}:{PLANTED_HASH}:19000:0:99999:7:::")
    (etc / "shadow").write_text("\n".join(shadow) + "\n", encoding="utf-8")
    (etc / "shadow").chmod(0o640)
    (etc / "passwd").write_text(Path("/etc/passwd").read_text("utf-8")
                                + f"{USER}:x:1600:1600::/home/{USER}:/bin/bash\n", "utf-8")
    secrets = [PLANTED_HASH.encode(), PLANTED_HASH.split("$")[-1].encode()]
    for kind in ("ed25519", "rsa", "ecdsa"):
        secrets += keygen(etc / "ssh" / f"ssh_host_{kind}_key", kind)
    home = tmp_path / "home"
    (home / USER / ".ssh").mkdir(parents=True)
    secrets += keygen(home / USER / ".ssh" / "id_ed25519", "ed25519")
    root_ssh = tmp_path / "root-ssh"
    root_ssh.mkdir()
    secrets += keygen(root_ssh / "id_rsa", "rsa")
    binds: dict[str, Path | str] = {"/home": home}
    if Path("/root/.ssh").is_dir():
        binds["/root/.ssh"] = root_ssh

    outdir = tmp_path / "out"
    formats = [arg for fmt in OutputFormat if fmt is not OutputFormat.JSON
               for arg in ("-f", fmt.value)]
    scans = [
        run_in_namespace(binds, [*CII_SCAN, "scan", "-o", str(outdir), *formats],
                         etc_upper=etc),
        run_in_namespace(binds, [*CII_SCAN, "scan", "-o", str(outdir / "zh"), "--lang", "zh",
                                 *formats], etc_upper=etc),
        run_in_namespace(binds, [*CII_SCAN, "collect", "-o", str(outdir / "facts.json")],
                         etc_upper=etc),
    ]
    for done in scans:
        assert done.returncode in (0, 3), done.stderr.decode(errors="replace")
    script = subprocess.run([*CII_SCAN, "collector-script"], capture_output=True, check=True,
                            timeout=120).stdout
    raw = run_in_namespace(binds, ["sh", "-s"], stdin=script, etc_upper=etc)
    assert raw.returncode == 0 and b" END\n" in raw.stdout

    haystacks: dict[str, bytes] = {"raw collector output": raw.stdout + raw.stderr}
    for index, done in enumerate(scans):
        haystacks[f"run {index} stdout+stderr"] = done.stdout + done.stderr
    written = sorted(p for p in outdir.rglob("*") if p.is_file())
    names = {p.name for p in written}
    assert {fmt.filename for fmt in OutputFormat} <= names, names
    for path in written:
        haystacks[str(path)] = path.read_bytes()
    for where, data in haystacks.items():
        for secret in secrets:
            assert secret not in data, f"a planted secret leaked into {where}"
    # the planted account was seen, as a flag only: proof the scan looked at the files
    assert f'"{USER}"'.encode() in haystacks[str(outdir / "facts.json")]
    assert b'"password":"set"' in haystacks[str(outdir / "facts.json")].replace(b" ", b"")


# Secret shapes planted in every file a probe of the shipped baseline reads (scanner.redact).
PLANTED_SHAPES = (
    "deb https://ciiplanteduser:CiiPlantedPw1@mirror.invalid/debian bookworm main",
    'Acquire::http::Proxy "http://ciiplanteduser:CiiPlantedPw2@proxy.invalid:3128/";',
    "bindpassword=CiiPlantedPw3",
    'client_secret: "Cii Planted Pw4"',
    "# api_key = CiiPlantedPw5",
)
PLANTED_WORDS = (b"ciiplanteduser", b"CiiPlantedPw", b"Planted Pw4")


def _planted_paths(words: tuple[str, ...]) -> list[str]:
    """One concrete /etc path per file word: a glob's ``*`` names a new file."""
    paths = []
    for word in words:
        (path,) = shlex.split(word)
        if path.startswith("/etc/"):
            paths.append(path.replace("*", "ciiplanted"))
    return paths


def test_secret_shapes_in_every_file_a_probe_reads_never_leave_the_host(tmp_path: Path) -> None:
    """URI userinfo, password=-style values and private-key bodies, planted in every file
    the shipped baseline's probes read, are masked on the host: absent from the raw
    collector output and from every output written, while the files were still read."""
    key = tmp_path / "planted_key"
    # a body line that starts with '/' looks like a path to tools that quote what they
    # refuse (visudo): one is always planted, not left to the random key
    slash_line = b"/ciiPlantedKeyBody+/0123456789abcdefABCDEF=="
    key_lines = [*keygen(key, "ed25519"), slash_line]
    begin, rest = key.read_text("utf-8").split("\n", 1)
    block = "\n".join([begin, slash_line.decode(), rest])
    etc = tmp_path / "etc"
    paths = _planted_paths(plan_parts(load_baseline().probe_calls()).words)
    assert len(paths) > 30  # every family's files, not a handful
    for path in paths:
        target = etc / Path(path).relative_to("/etc")
        target.parent.mkdir(parents=True, exist_ok=True)
        original = Path(path).read_text("utf-8", "replace") if Path(path).is_file() else ""
        target.write_text(original + "\n" + "\n".join(PLANTED_SHAPES) + "\n" + block, "utf-8")
        target.chmod(0o644)
    script = subprocess.run([*CII_SCAN, "collector-script"], capture_output=True, check=True,
                            timeout=120).stdout
    raw = run_in_namespace({}, ["sh", "-s"], stdin=script, etc_upper=etc)
    assert raw.returncode == 0 and b" END\n" in raw.stdout
    assert b"-----BEGIN OPENSSH PRIVATE KEY-----" in raw.stdout  # the files were read
    assert b"https://**************" in raw.stdout  # masked, byte for byte
    outdir = tmp_path / "out"
    formats = [arg for fmt in OutputFormat if fmt is not OutputFormat.JSON
               for arg in ("-f", fmt.value)]
    scan = run_in_namespace({}, [*CII_SCAN, "scan", "-o", str(outdir), *formats], etc_upper=etc)
    assert scan.returncode in (0, 1, 3), scan.stderr.decode(errors="replace")
    haystacks = {"raw collector output": raw.stdout + raw.stderr,
                 "scan stdout+stderr": scan.stdout + scan.stderr}
    haystacks.update({str(p): p.read_bytes() for p in outdir.rglob("*") if p.is_file()})
    for where, data in haystacks.items():
        for secret in (*PLANTED_WORDS, *key_lines):
            assert secret not in data, f"planted {secret!r} leaked into {where}"


def test_host_side_and_arrival_masking_agree_and_keep_every_length() -> None:
    """The host's sed (GNU and busybox) and the scanner's own pass mask the same bytes,
    one for one, so the framing's recorded file sizes still add up."""
    sample = ("\n".join(PLANTED_SHAPES) + "\npassword required pam_unix.so\n"
              "passwd_tries=3\n-----BEGIN PRIVATE KEY-----\nQUJDRA==\nnot base64 line\nQUJD\n"
              ).encode() + bytes(range(256))
    seds = [["sed"]] + ([["busybox", "sed"]] if shutil.which("busybox") else [])
    for sed in seds:
        done = subprocess.run([*sed, "-E", SED_PROGRAM], input=sample, capture_output=True,
                              env={"LC_ALL": "C"}, check=True)
        assert len(done.stdout) == len(sample)
        assert done.stdout[:-256] == redact(sample)[:-256], sed
    masked = redact(sample)
    assert len(masked) == len(sample) and redact(masked) == masked
    assert b"password required pam_unix.so\npasswd_tries=3\n" in masked
    assert b"\nxxxxxxxx\nnot base64 line\nQUJD\n" in masked  # the block ends there
    for word in PLANTED_WORDS:
        assert word not in masked
