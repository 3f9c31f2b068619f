"""The collector run without privilege: what it cannot see is `error`, never `pass`.

The same collector script runs twice on this machine, as root and as the
unprivileged `nobody` (setpriv); both outputs are evaluated offline. A rule may
pass unprivileged only if it also passes with full sight, and every rule that
could not see its evidence says why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests._scanner import CII_SCAN, require_root, skip_or_fail


@pytest.fixture(autouse=True)
def _root_and_setpriv() -> None:
    require_root("dropping privilege")
    if shutil.which("setpriv") is None:
        skip_or_fail("setpriv (util-linux) is not installed")


def evaluate_as(user_argv: list[str], tmp_path: Path, name: str) -> dict[str, dict[str, Any]]:
    script = subprocess.run([*CII_SCAN, "collector-script"], capture_output=True, check=True,
                            text=True).stdout
    output = subprocess.run([*user_argv, "sh"], input=script.encode(), capture_output=True,
                            check=True, timeout=300, cwd="/").stdout
    raw = tmp_path / f"{name}.txt"
    raw.write_bytes(output)
    outdir = tmp_path / name
    done = subprocess.run([*CII_SCAN, "evaluate", str(raw), "-o", str(outdir)],
                          capture_output=True, text=True, check=False)
    assert done.returncode in (0, 3), done.stderr
    document = json.loads((outdir / "findings.json").read_text())
    return {r["rule_id"]: r for r in document["hosts"][0]["results"]}


def test_no_privilege_never_turns_into_a_pass(tmp_path: Path) -> None:
    as_root = evaluate_as([], tmp_path, "root")
    as_nobody = evaluate_as(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
                            tmp_path, "nobody")
    assert as_root.keys() == as_nobody.keys()
    for rule_id, result in as_nobody.items():
        if result["status"] == "pass":
            assert as_root[rule_id]["status"] == "pass", (rule_id, as_root[rule_id])
        if result["status"] == "error":
            assert result["message"], rule_id
    shadow_rule = as_nobody["accounts.no-empty-passwords"]
    assert shadow_rule["status"] == "error"
    assert "/etc/shadow is not readable" in shadow_rule["message"]
    if shutil.which("sshd") or Path("/usr/sbin/sshd").exists():
        assert as_nobody["ssh.root-login-disabled"]["status"] == "error"
        assert "sshd -T" in as_nobody["ssh.root-login-disabled"]["message"]
