"""The end of a 1,000-host run stays within its memory budget (issue 12: 300 MB).

A thousand journaled hosts, each a real report of this machine (the local collector and
evaluator, ~0.2 MB of findings per host), are resumed by a real ``cii-scan scan
--resume`` process: it contacts no host, reads every report back from the journal, and
writes, validates and summarises the whole findings document. Before the reports were
read back one host at a time, this peaked at 3.7 GB (every host's results and the
document's text at once); the budget is what a scan of 1,000 targets may peak at in all.
The scanning half of that budget (the hosts in flight) is measured by
bench/process_bench.py against real sshd hosts.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

from scanner import fleet
from scanner.baseline import load_baseline
from scanner.facts import HostIdentity
from scanner.inventory import Target
from scanner.scan import assess
from scanner.transport.local import LocalTransport
from tests._peak_rss import measured, peak_rss_bytes
from tests._scanner import CII_SCAN

TARGETS = 1000
PEAK_RSS_BYTES = 300 * 1000 * 1000


def test_writing_the_findings_of_a_thousand_hosts_stays_within_the_budget(
        tmp_path: Path) -> None:
    baseline = load_baseline()
    report, _ = assess(LocalTransport(), HostIdentity("template", "localhost"), baseline)
    assert report.status == "scanned" and report.results
    inventory = ["hosts:"]
    outdir = tmp_path / "out"
    outdir.mkdir()
    journal = fleet.Journal(fleet.journal_path(outdir), baseline.digest, keep=False)
    for number in range(TARGETS):
        target = Target(f"t{number:04d}", f"192.0.2.{number % 250 + 1}", port=22)
        inventory.append(f"  - {{name: {target.name}, address: {target.address}, port: 22}}")
        journal.append(target.key, replace(report, host=target.identity()))
    journal.close()
    (tmp_path / "inventory.yaml").write_text("\n".join(inventory) + "\n")
    (tmp_path / "known_hosts").write_text("")  # no host is contacted
    report_file = tmp_path / "peak"
    done = subprocess.run(
        measured([*CII_SCAN, "scan", "-i", str(tmp_path / "inventory.yaml"), "--resume",
                  "--known-hosts", str(tmp_path / "known_hosts"), "-o", str(outdir), "-q"],
                 report_file),
        capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode in (0, 3), done.stderr[-2000:]
    with (outdir / "findings.json").open(encoding="utf-8") as handle:
        document = json.load(handle)
    assert [h["name"] for h in document["hosts"]] == [f"t{n:04d}" for n in range(TARGETS)]
    assert document["summary"]["hosts"]["scanned"] == TARGETS
    per_host = len(json.dumps(document["hosts"][0]))
    assert per_host > 50_000, per_host  # real reports, not empty shells
    del document
    peak = peak_rss_bytes(report_file)
    assert peak < PEAK_RSS_BYTES, f"{peak / 1e6:.0f} MB for {TARGETS} hosts"
