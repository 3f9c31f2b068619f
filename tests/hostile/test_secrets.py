"""Secrets never leave the host: a planted password hash and private keys (host keys and a
user's ~/.ssh/id_*) appear in no output of any kind — findings, every report format,
facts, the raw collector output, stdout or stderr."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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
