"""README's first quickstart command, copied literally, works with Debian's own Python.

It runs in a copy of this checkout with only the system's directories on PATH, so
``python3`` is /usr/bin/python3, which PEP 668 marks externally managed: the command
must install into its virtual environment, not the system, and then scan this machine
with the default baseline. (The second command is tests/run-all.sh, which is this suite.)
Needs root (apt-get, and the scan as README runs it) and the network to PyPI and the
Debian archive.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests._scanner import REPO_ROOT, copy_source_tree, require_root, skip_or_fail

SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def readme_command(number: int) -> str:
    """The command under README's ``# N.`` comment in the Quickstart block."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quickstart", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    match = re.search(rf"^# {number}\. .*\n(.+)$", block, re.MULTILINE)
    assert match, f"README's quickstart has no command {number}"
    return match.group(1)


def test_the_second_command_is_what_ci_runs() -> None:
    assert readme_command(2) == "bash tests/run-all.sh"
    assert "bash tests/run-all.sh" in (REPO_ROOT / ".ci" / "run").read_text()


def test_the_first_command_installs_into_a_venv_and_scans_this_machine(tmp_path: Path) -> None:
    require_root("README's first command (apt-get, a root scan)")
    system_python = Path("/usr/bin/python3")
    if not system_python.exists():
        skip_or_fail("Debian's /usr/bin/python3 is not installed")
    stdlib = subprocess.run(
        [str(system_python), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert (Path(stdlib) / "EXTERNALLY-MANAGED").exists(), "expected a PEP 668 system Python"
    clone = copy_source_tree(tmp_path / "clone")
    env = {"PATH": SYSTEM_PATH, "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(["sh", "-c", readme_command(1)], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=1200, check=False)
    assert done.returncode in (0, 3), done.stderr[-3000:]  # 3: a rule could not be assessed
    config = (clone / ".venv" / "pyvenv.cfg").read_text()
    assert re.search(r"^home = /usr/bin$", config, re.MULTILINE), config  # Debian's Python
    document = json.loads((clone / "cii-scan-results" / "findings.json").read_text())
    (host,) = document["hosts"]
    assert host["status"] == "scanned" and host["transport"] == "local"
    assert document["baseline"]["id"] == "cii-art9-linux"
    assert len(host["results"]) == len(document["rules"])
    assert f"wrote {os.path.join('cii-scan-results', 'findings.json')}" in done.stderr
