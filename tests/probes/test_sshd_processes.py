"""The sshd snippet finds a running daemon whose name is not sshd (started by a link of
another name), whether find can answer for every process at once (GNU find's -lname) or
each process is asked by a readlink of its own (busybox find, which has no -lname).

Each run is a real sshd in fresh PID, mount and network namespaces (only ``lo``), so the
snippet sees that daemon and nothing of the machine's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner import probes
from scanner.probes._common import decode, quote
from tests._scanner import skip_or_fail
from tests.conftest import TEST_TOKEN

SSHD = "/usr/sbin/sshd"


def _snippet_output(base: Path, shims: dict[str, str]) -> str:
    """The snippet's output beside ``BASE/cii-daemon -p 2299`` (a link to sshd), run in
    namespaces of its own, with ``shims`` (name: sh body) first on PATH."""
    snippet = probes.get("sshd_effective").snippet({})
    bin_dir = base / f"bin-{'-'.join(sorted(shims)) or 'none'}"
    bin_dir.mkdir()
    for name, body in shims.items():
        shim = bin_dir / name
        shim.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        shim.chmod(0o755)
    script = "; ".join([
        "ip link set lo up", "mount -t tmpfs cii /run", "mkdir -p /run/sshd",
        f"{quote(str(base / 'cii-daemon'))} -p 2299 -o PermitRootLogin=yes",
        "sleep 0.5",
        f"CII_M={TEST_TOKEN}; export CII_M; PATH={quote(str(bin_dir))}:$PATH",
        f"sh -c {quote(snippet)}"])
    done = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "--net",
                           "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, timeout=120, check=False)
    if done.returncode != 0 and not done.stdout:
        skip_or_fail(f"the namespaces could not be made: {decode(done.stderr)[:200]}")
    return decode(done.stdout)


def _steady(output: str) -> list[str]:
    """The output without what differs from run to run (the snippet's own ancestors and
    the daemon's start time)."""
    return [line for line in output.split("\n")
            if not line.startswith(("ancestor ", "start "))]


BUSYBOX_FIND = {"find": 'exec busybox find "$@"'}  # no -lname: a readlink per process
NO_READLINK = {"readlink": "exit 1"}  # only find can tell


@pytest.fixture(scope="module")
def outputs() -> Iterator[tuple[str, str, str]]:
    if os.geteuid() != 0 or not Path(SSHD).is_file() or shutil.which("busybox") is None:
        skip_or_fail("needs root, openssh-server and busybox (tests/packages.d)")
    with tempfile.TemporaryDirectory(dir="/var/tmp") as outside:  # outside the new /run
        base = Path(outside)
        os.symlink(SSHD, base / "cii-daemon")
        yield (_snippet_output(base, {}), _snippet_output(base, BUSYBOX_FIND),
               _snippet_output(base, NO_READLINK))


def test_a_daemon_started_by_a_link_of_another_name_is_found(
        outputs: tuple[str, str, str]) -> None:
    for output in outputs[:2]:
        tops = [line for line in output.split("\n") if line.startswith("top ")]
        assert len(tops) == 1 and tops[0].endswith(f" {SSHD}"), output[:2000]
        assert "PermitRootLogin=yes" in output


def test_find_at_once_and_readlink_each_give_the_same_output(
        outputs: tuple[str, str, str]) -> None:
    assert _steady(outputs[0]) == _steady(outputs[1])


def test_find_alone_tells_which_process_runs_sshd(outputs: tuple[str, str, str]) -> None:
    """With every readlink failing, the daemon is still found: GNU find answered."""
    tops = [line for line in outputs[2].split("\n") if line.startswith("top ")]
    assert len(tops) == 1, outputs[2][:2000]
