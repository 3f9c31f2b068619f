"""The peak-RSS launcher reports the command's own memory, not its starter's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests._peak_rss import measured, measured_pid, peak_rss_bytes, read_report

BALLAST = 300 * 1024 * 1024
SMALL_COMMAND = [sys.executable, "-c", "pass"]


def _ballast() -> bytearray:
    ballast = bytearray(BALLAST)
    for offset in range(0, BALLAST, 4096):  # touch every page: resident, not just mapped
        ballast[offset] = 1
    return ballast


def test_a_direct_child_inherits_its_starters_peak_but_the_launcher_does_not(
        tmp_path: Path) -> None:
    ballast = _ballast()
    direct = subprocess.Popen(SMALL_COMMAND)
    _, _, usage = os.wait4(direct.pid, 0)
    assert usage.ru_maxrss * 1024 > BALLAST  # the pitfall: the starter's image is counted
    report = tmp_path / "peak"
    subprocess.run(measured(SMALL_COMMAND, report), check=True)
    assert peak_rss_bytes(report) < BALLAST // 4
    assert ballast[0] == 1


def test_the_launcher_counts_what_the_command_itself_holds(tmp_path: Path) -> None:
    report = tmp_path / "peak"
    holder = [sys.executable, "-c",
              f"b = bytearray({BALLAST})\nfor i in range(0, len(b), 4096): b[i] = 1"]
    subprocess.run(measured(holder, report), check=True)
    assert peak_rss_bytes(report) > BALLAST


def test_the_launcher_exits_as_the_command_did(tmp_path: Path) -> None:
    report = tmp_path / "peak"
    done = subprocess.run(measured([sys.executable, "-c", "raise SystemExit(3)"], report))
    assert done.returncode == 3 and peak_rss_bytes(report) > 0
    killed = subprocess.run(measured(["sh", "-c", "kill -TERM $$"], report))
    assert killed.returncode == 128 + 15


def test_a_signal_to_the_group_ends_the_command_and_the_launcher_still_reports(
        tmp_path: Path) -> None:
    report = tmp_path / "peak"
    started = subprocess.Popen(measured(["sleep", "30"], report), start_new_session=True)
    for _ in range(100):
        if measured_pid(started.pid) is not None:
            break
        time.sleep(0.05)
    assert measured_pid(started.pid) is not None
    os.killpg(started.pid, signal.SIGTERM)
    assert started.wait(timeout=30) == 128 + 15
    assert read_report(report).elapsed_s < 30


def test_the_launcher_counts_the_cpu_the_command_used_not_the_time_it_waited(
        tmp_path: Path) -> None:
    busy, idle = tmp_path / "busy", tmp_path / "idle"
    subprocess.run(measured([sys.executable, "-c", "n = 0\nwhile n < 5_000_000: n += 1"],
                            busy), check=True)
    subprocess.run(measured(["sleep", "0.5"], idle), check=True)
    assert read_report(idle).elapsed_s >= 0.5
    assert read_report(idle).cpu_s < read_report(busy).cpu_s
    assert read_report(busy).cpu_s > 0.05  # 5 million additions are not free
