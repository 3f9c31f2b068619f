"""The peak resident set of one command, without the memory of the test that starts it.

Linux folds into a process's ``ru_maxrss`` the resident set of the image it replaced at
``exec`` (fs/exec.c, ``exec_mmap``: ``setmax_mm_hiwater_rss``), and a process a test
spawns begins as a copy of the test's own image (vfork/fork). So a scanner started
straight from a pytest worker that has grown to 400 MB "peaks" at 400 MB whatever it did
itself. Started from a small launcher instead, the command replaces the launcher's image
(a few MB), and the launcher reads the command's true peak from ``wait4``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

# argv: REPORT COMMAND...; runs COMMAND with this process's stdio, writes its peak RSS in
# bytes to REPORT and exits as COMMAND did (128 + N for a signal, as a shell reports it).
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss * 1024))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def measured(argv: Sequence[str], report: Path) -> list[str]:
    """``argv`` run under the launcher; its peak RSS lands in ``report`` when it ends."""
    return [sys.executable, "-c", _LAUNCHER, str(report), *argv]


def peak_rss_bytes(report: Path) -> int:
    return int(report.read_text())
