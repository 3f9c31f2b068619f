"""The first interpreter with dnf's module answers, and each is started once.

The interpreters are this machine's /usr/bin/python3, which has python3-dnf, and the same
interpreter started with ``-S`` (no site directories, so no dnf): a host whose
platform-python lacks the module while python3 has it, or the other way round.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from scanner.probes._common import quote
from scanner.probes._dnf_python import first_python, guarded
from tests._scanner import skip_or_fail

PROGRAM = "print('dnf', dnf.__name__, sys.argv[1])"


def _interpreters(tmp_path: Path) -> tuple[str, str]:
    if shutil.which("dnf") is None or subprocess.run(
            ["/usr/bin/python3", "-c", "import dnf"], check=False).returncode != 0:
        skip_or_fail("needs python3-dnf (tests/packages.d)")
    log = tmp_path / "started"
    made = []
    for name, flags in (("without", "-S"), ("with", "")):
        path = tmp_path / name
        path.write_text(f"#!/bin/sh\necho {name} >> {quote(str(log))}\n"
                        f"exec /usr/bin/python3 {flags} \"$@\"\n", encoding="utf-8")
        path.chmod(0o755)
        made.append(str(path))
    return made[0], made[1]


def _run(pythons: tuple[str, ...], tmp_path: Path) -> tuple[str, list[str]]:
    script = (first_python(f"\"$py\" -c {quote(guarded(PROGRAM))} \"${{py##*/}}\"", pythons)
              + "; echo \"asked=$asked\"")
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False,
                          timeout=60)
    log = tmp_path / "started"
    started = log.read_text(encoding="utf-8").split() if log.exists() else []
    log.unlink(missing_ok=True)
    return done.stdout, started


def test_the_next_interpreter_answers_when_the_first_lacks_dnf(tmp_path: Path) -> None:
    without, with_dnf = _interpreters(tmp_path)
    out, started = _run((without, with_dnf), tmp_path)
    assert out == "dnf dnf with\nasked=1\n"
    assert started == ["without", "with"]


def test_the_first_interpreter_with_dnf_is_the_only_one_started(tmp_path: Path) -> None:
    without, with_dnf = _interpreters(tmp_path)
    out, started = _run((with_dnf, without), tmp_path)
    assert out == "dnf dnf with\nasked=1\n"
    assert started == ["with"]


def test_no_interpreter_with_dnf_leaves_asked_empty_and_prints_nothing(tmp_path: Path) -> None:
    without, _ = _interpreters(tmp_path)
    out, started = _run((without, str(tmp_path / "absent")), tmp_path)
    assert out == "asked=\n"
    assert started == ["without"]
