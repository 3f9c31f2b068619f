"""Hostile hosts made real: this machine, seen through a private mount namespace.

``unshare --mount --fork`` gives a child its own mount table, so files
bind-mounted over /etc or /proc/sys paths change what the collector reads in
that child only; the machine and the other tests see nothing. Needs root. Off
CI a missing capability is a skip with its reason; with ``CI=true`` it fails,
so the suite cannot quietly turn into a no-op.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from scanner.facts import Facts
from scanner.probes import ProbeCall
from tests._scanner import CII_SCAN, REPO_ROOT, skip_or_fail

__all__ = ["CII_SCAN", "REPO_ROOT", "skip_or_fail"]



@cache
def _namespace_problem() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create a mount namespace"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--fork",
         "mount", "--bind", "/dev/null", "/dev/null"],
        capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode != 0:
        return f"mount namespaces are not available here: {probe.stderr.strip()}"
    return None


def require_namespace() -> None:
    problem = _namespace_problem()
    if problem is not None:
        skip_or_fail(problem)


def namespace_argv(binds: Mapping[str, Path | str], argv: Sequence[str],
                   extra_setup: Sequence[str] = (), etc_upper: Path | None = None) -> list[str]:
    """argv that bind-mounts each source over its target, then execs ``argv``.

    ``binds`` maps a target path on this machine to the file that replaces it.
    ``etc_upper``: a directory laid over /etc with overlayfs, so a test can put
    anything at an /etc path (a directory where a file was, a FIFO) or hide one
    (an overlay whiteout). ``extra_setup`` lines are sh run after the mounts.
    """
    lines = ["set -e"]
    if etc_upper is not None:
        work = etc_upper.parent / (etc_upper.name + ".work")
        work.mkdir(exist_ok=True)
        lines.append("mount -t overlay cii-hostile-etc -o "
                     + shlex.quote(f"lowerdir=/etc,upperdir={etc_upper},workdir={work}")
                     + " /etc")
    for target, source in binds.items():
        lines.append(f"mount --bind {shlex.quote(str(source))} {shlex.quote(target)}")
    lines.extend(extra_setup)
    lines.append("exec " + " ".join(shlex.quote(word) for word in argv))
    return ["unshare", "--mount", "--propagation", "private", "--fork",
            "sh", "-c", "\n".join(lines)]


def run_in_namespace(binds: Mapping[str, Path | str], argv: Sequence[str], *,
                     stdin: bytes | None = None, extra_setup: Sequence[str] = (),
                     etc_upper: Path | None = None, timeout: float = 300,
                     cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    require_namespace()
    return subprocess.run(namespace_argv(binds, argv, extra_setup, etc_upper), input=stdin,
                          capture_output=True, timeout=timeout, check=False, cwd=cwd)


# Runs inside the namespace: the real collector through the real LocalTransport, with
# catalog entries changed (e.g. a shorter timeout) the way tests/test_collect.py does.
_COLLECT_PROGRAM = """
import dataclasses, json, sys
from scanner import probes
from scanner.collect import collect
from scanner.facts import HostIdentity
from scanner.probes import ProbeCall
from scanner.transport.local import LocalTransport
request = json.load(sys.stdin)
catalog = probes.catalog()
for name, changes in request["patch"].items():
    catalog[name] = dataclasses.replace(catalog[name], **changes)
calls = [ProbeCall(probe, args_json) for probe, args_json in request["calls"]]
facts = collect(LocalTransport(), HostIdentity("hostile", "localhost"), calls)
json.dump(facts.to_json(), sys.stdout)
"""


def collect_in_namespace(binds: Mapping[str, Path | str], calls: Sequence[ProbeCall],
                         patch: Mapping[str, Mapping[str, Any]] | None = None,
                         etc_upper: Path | None = None, timeout: float = 300,
                         extra_setup: Sequence[str] = ()) -> Facts:
    """Facts from the real collector run on this machine as the binds make it look."""
    request = {"calls": [[c.probe, c.args_json] for c in calls], "patch": patch or {}}
    done = run_in_namespace(binds, [sys.executable, "-c", _COLLECT_PROGRAM],
                            stdin=json.dumps(request).encode(), timeout=timeout,
                            etc_upper=etc_upper, extra_setup=extra_setup, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return Facts.from_json(json.loads(done.stdout), "namespace collect")
