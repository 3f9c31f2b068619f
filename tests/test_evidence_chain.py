"""The evidence says when and where it was collected: the collector prints the host's own
clock (UTC and local), boot id and name at its start and end, and findings keep that
apart from when the evidence was judged, so raw output evaluated a day later still shows
the day it was collected."""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
from pathlib import Path

from scanner.collect import host_clocks
from tests._scanner import CII_SCAN, skip_or_fail

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _cli(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *CII_SCAN, *args], capture_output=True, text=True,
                          timeout=300, check=False)


def test_raw_collector_output_evaluated_a_day_later_shows_when_it_was_collected(
        tmp_path: Path) -> None:
    faketime = shutil.which("faketime")
    if faketime is None:
        skip_or_fail("faketime (Debian package faketime) fakes the evaluator's clock")
    assert faketime is not None
    script = _cli("collector-script")
    assert script.returncode == 0, script.stderr
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    raw = subprocess.run(["sh", "-c", script.stdout], capture_output=True, timeout=300,
                         check=False).stdout
    after = datetime.datetime.now(datetime.timezone.utc)
    (tmp_path / "collector-output.txt").write_bytes(raw)
    token = re.search(rb"(CIIM[0-9a-f]{32}) PLAN ", raw)
    assert token is not None
    start, end = host_clocks(raw, token.group(1).decode())
    assert start is not None and end is not None
    assert start.boot_id == BOOT_ID.read_text().strip() == end.boot_id
    assert start.hostname == subprocess.run(["uname", "-n"], capture_output=True, text=True,
                                            check=True).stdout.strip()
    # evaluated "tomorrow": the evaluator's clock is a day ahead (libfaketime)
    out = tmp_path / "out"
    done = _cli("evaluate", str(tmp_path / "collector-output.txt"), "-o", str(out), "-f",
                "html", "-f", "csv", prefix=(faketime, "-f", "+1d"))
    assert done.returncode in (0, 3), done.stderr
    document = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    host = document["hosts"][0]
    collected = datetime.datetime.fromisoformat(host["collected_at"].replace("Z", "+00:00"))
    evaluated = datetime.datetime.fromisoformat(
        document["scan"]["evaluated_at"].replace("Z", "+00:00"))
    assert before <= collected <= after
    assert datetime.timedelta(hours=23) < evaluated - collected < datetime.timedelta(hours=25)
    assert host["started_at"] == host["collected_at"]  # the host's clock, not the evaluator's
    assert host["host_clock"]["start"]["boot_id"] == start.boot_id
    assert host["host_clock"]["end"]["utc"] == end.utc
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"<dd>{host['collected_at']} ({start.local}) – {end.utc}</dd>" in page
    assert f"<dt>Evaluated</dt><dd>{document['scan']['evaluated_at']}</dd>" in page
    csv_text = (out / "findings.csv").read_text(encoding="utf-8-sig")
    assert csv_text.splitlines()[1].endswith("," + host["collected_at"])


def test_clock_lines_that_do_not_have_their_shape_are_dropped_field_by_field() -> None:
    token = "CIIM" + "0" * 32
    raw = (f"\n{token} CLOCK start 2026-13-99 - bogus <script>x</script>\n"
           f"\n{token} CLOCK start 2026-06-01T08:00:00Z - - second\n"
           f"\n{token} CLOCK end 2026-06-01T08:00:09Z 2026-06-01T16:00:09+0800 "
           f"0b7e1c2a-4f2d-4c4e-9a51-2f3d4e5a6b7c web 01\n").encode()
    start, end = host_clocks(raw, token)
    assert start is not None and end is not None
    # the first start line wins; a field that is not a time, a uuid or a name is None
    assert (start.utc, start.local, start.boot_id, start.hostname) == (
        None, None, None, None)
    assert end.local == "2026-06-01T16:00:09+0800" and end.hostname is None  # "web 01"
    assert host_clocks(raw, "CIIM" + "1" * 32) == (None, None)  # another run's marker
