"""The peak resident set of one command, without the memory of the test that starts it.

Linux folds into a process's ``ru_maxrss`` the resident set of the image it replaced at
``exec`` (fs/exec.c, ``exec_mmap``: ``setmax_mm_hiwater_rss``), and a process a test
spawns begins as a copy of the test's own image (vfork/fork). So a scanner started
straight from a pytest worker that has grown to 400 MB "peaks" at 400 MB whatever it did
itself. Started from a small launcher instead, the command replaces the launcher's image
(a few MB), and the launcher reads the command's true peak from ``wait4``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# argv: REPORT COMMAND...; runs COMMAND with this process's stdio and writes to REPORT, as
# JSON, its peak RSS in bytes, its wall time from fork to reap (the launcher's own start
# is not in it) and the CPU time it and the children it waited for used (user + system).
# Exits as COMMAND did (128 + N for a signal, as a shell reports it). The
# launcher ignores SIGINT and SIGTERM, so a signal sent to the group ends COMMAND, which
# writes what it has, and the launcher still reports.
_LAUNCHER = """
import json, os, signal, sys, time
for number in (signal.SIGINT, signal.SIGTERM):
    signal.signal(number, signal.SIG_IGN)
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_DFL)
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - started
with open(sys.argv[1], "w") as report:
    json.dump({"peak_rss_bytes": usage.ru_maxrss * 1024, "elapsed_s": elapsed,
               "cpu_s": usage.ru_utime + usage.ru_stime}, report)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


@dataclass(frozen=True)
class Measured:
    peak_rss_bytes: int
    elapsed_s: float
    cpu_s: float


def measured(argv: Sequence[str], report: Path) -> list[str]:
    """``argv`` run under the launcher; its peak RSS lands in ``report`` when it ends."""
    return [sys.executable, "-c", _LAUNCHER, str(report), *argv]


def read_report(report: Path) -> Measured:
    fields = json.loads(report.read_text())
    return Measured(int(fields["peak_rss_bytes"]), float(fields["elapsed_s"]),
                    float(fields["cpu_s"]))


def peak_rss_bytes(report: Path) -> int:
    return read_report(report).peak_rss_bytes


def measured_pid(launcher_pid: int) -> int | None:
    """The measured command's pid (the launcher's one child), once it has been forked."""
    try:
        children = Path(f"/proc/{launcher_pid}/task/{launcher_pid}/children").read_text()
    except OSError:
        return None
    return int(children.split()[0]) if children.split() else None
