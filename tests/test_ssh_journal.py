"""The fleet runner without sshd: journal round trip, resume, and a host that hangs for good.

Hosts here are this machine through the real local transport, under several names.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from scanner import fleet
from scanner.baseline import Baseline, load_baseline
from scanner.errors import OutputError
from scanner.facts import HostIdentity
from scanner.findings import HostReport, build_document, validate_document
from scanner.inventory import Target
from scanner.scan import assess
from scanner.transport import RunResult, Transport
from scanner.transport.local import LocalTransport


class LocalHost(LocalTransport):
    """This machine as a fleet member (nothing to cancel: sh finishes by itself)."""

    def cancel(self) -> None:
        return None


class StuckHost:
    """A host whose connection hangs and ignores being closed: the worst case."""

    name = "stuck"

    def __init__(self) -> None:
        self.release = threading.Event()

    def run(self, script: str) -> RunResult:
        self.release.wait(60)
        return RunResult(b"", 1)

    def cancel(self) -> None:
        return None  # deliberately ignored


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return load_baseline()


def _factory(stuck: StuckHost | None = None) -> fleet.TransportFactory:
    def make(target: Target) -> tuple[Transport, HostIdentity]:
        if target.name == "stuck" and stuck is not None:
            return stuck, target.identity()
        return LocalHost(), target.identity()

    return make


def test_host_report_json_round_trip(baseline: Baseline) -> None:
    report, _ = assess(LocalTransport(), HostIdentity("here", "localhost"), baseline)
    assert report.status == "scanned"
    assert report.results
    again = HostReport.from_json(json.loads(json.dumps(report.to_json())))
    assert again.to_json() == report.to_json()
    failed = HostReport(HostIdentity("gone", "192.0.2.1", 22, "ssh", None, ("web",)),
                        "unreachable", "connection refused by 192.0.2.1:22")
    assert HostReport.from_json(failed.to_json()) == failed


def test_read_journal_skips_torn_and_foreign_lines(tmp_path: Path) -> None:
    report = HostReport(HostIdentity("a", "192.0.2.1", 22, "ssh"), "timeout", "budget")
    good = {"key": "a|192.0.2.1|22", "baseline_digest": "sha256:1", "report": report.to_json()}
    other = {**good, "key": "b|192.0.2.2|22", "baseline_digest": "sha256:2"}
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(other) + "\n"
                    + json.dumps(good)[:40])  # killed mid-write
    found = fleet.read_journal(path, "sha256:1")
    assert list(found) == ["a|192.0.2.1|22"]
    assert found["a|192.0.2.1|22"].outline == report  # what stays in memory ...
    assert found["a|192.0.2.1|22"].to_json() == report.to_json()  # ... and what is read back
    assert fleet.read_journal(tmp_path / "missing.jsonl", "sha256:1") == {}


def test_a_host_journaled_after_a_torn_line_is_read_back_on_the_next_resume(
        tmp_path: Path) -> None:
    """A killed run leaves a torn last line; the resumed run's first line must not be
    glued to it, or that host is lost to the resume after."""
    path = tmp_path / "journal.jsonl"
    first = HostReport(HostIdentity("a", "192.0.2.1", 22, "ssh"), "timeout", "budget")
    journal = fleet.Journal(path, "sha256:1", keep=False)
    journal.append("a|192.0.2.1|22", first)
    journal.close()
    with path.open("ab") as handle:
        handle.write(b'{"key": "b|192.0.2.2|22", "baseline_dig')  # killed mid-write
    second = HostReport(HostIdentity("c", "192.0.2.3", 22, "ssh"), "unreachable", "refused")
    journal = fleet.Journal(path, "sha256:1", keep=True)
    kept = journal.append("c|192.0.2.3|22", second)
    journal.close()
    assert kept.to_json() == second.to_json() and kept.outline.results == ()
    found = fleet.read_journal(path, "sha256:1")
    assert sorted(found) == ["a|192.0.2.1|22", "c|192.0.2.3|22"]
    assert found["c|192.0.2.3|22"].to_json() == second.to_json()


def test_a_journal_changed_under_a_run_is_an_error_not_another_hosts_report(
        tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = fleet.Journal(path, "sha256:1", keep=False)
    kept = journal.append("a|192.0.2.1|22",
                          HostReport(HostIdentity("a", "192.0.2.1", 22, "ssh"), "timeout", "x"))
    journal.close()
    path.write_text("")  # another run into the same directory started over
    with pytest.raises(OutputError, match="journal changed"):
        kept.to_json()
    path.unlink()
    with pytest.raises(OutputError, match="journal was removed"):
        kept.to_json()


def test_resume_takes_finished_hosts_from_the_journal(baseline: Baseline,
                                                      tmp_path: Path) -> None:
    first = fleet.scan_fleet([Target("one", "localhost")], baseline, _factory(),
                             outdir=tmp_path, concurrency=2, timeout_s=60, progress=False)
    assert [r.host.name for r in first.reports] == ["one"]
    targets = [Target("one", "localhost"), Target("two", "localhost")]
    second = fleet.scan_fleet(targets, baseline, _factory(), outdir=tmp_path, concurrency=2,
                              timeout_s=60, resume=True, progress=False)
    assert second.resumed == 1
    by_name = {r.host.name: r for r in second.reports}
    assert sorted(by_name) == ["one", "two"]
    assert by_name["one"].to_json() == first.reports[0].to_json()  # the journaled report
    assert by_name["two"].status == "scanned"
    lines = (tmp_path / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["report"]["name"] for line in lines] == ["one", "two"]
    # without --resume the journal starts over
    fresh = fleet.scan_fleet([Target("two", "localhost")], baseline, _factory(),
                             outdir=tmp_path, concurrency=1, timeout_s=60, progress=False)
    assert fresh.resumed == 0
    assert len((tmp_path / "journal.jsonl").read_text().splitlines()) == 1


def test_a_host_that_hangs_for_good_is_abandoned_not_waited_for(
        baseline: Baseline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fleet, "CANCEL_GRACE_S", 0.2)
    monkeypatch.setattr(fleet, "ABANDON_GRACE_S", 0.5)
    stuck = StuckHost()
    targets = [Target("stuck", "192.0.2.9"), Target("one", "localhost"),
               Target("two", "localhost")]
    try:
        outcome = fleet.scan_fleet(targets, baseline, _factory(stuck), outdir=tmp_path,
                                   concurrency=1, timeout_s=30, progress=False)
    finally:
        stuck.release.set()
    by_name = {r.host.name: r for r in outcome.reports}
    assert by_name["stuck"].status == "timeout"
    assert "abandoned" in by_name["stuck"].reason
    # with -j 1 the other hosts still ran: a replacement worker took over
    assert by_name["one"].status == by_name["two"].status == "scanned"
    document = build_document(baseline=baseline, hosts=outcome.reports,
                              started_at="2026-01-01T00:00:00Z",
                              finished_at="2026-01-01T00:00:01Z",
                              invocation={"command": "scan"})
    validate_document(document)
    assert len((tmp_path / "journal.jsonl").read_text().splitlines()) == 3


def test_a_line_an_earlier_version_wrote_reads_back_as_this_versions_report(
        tmp_path: Path) -> None:
    """Resume across an upgrade: a journaled report without the newer fields (here
    completeness and the summary) is written into the findings as this version writes it."""
    report = HostReport(HostIdentity("a", "192.0.2.1", 22, "ssh"), "timeout", "budget")
    older = {k: v for k, v in report.to_json().items()
             if k not in ("complete", "incomplete_reason", "summary")}
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps({"key": "a|192.0.2.1|22", "baseline_digest": "sha256:1",
                                "report": older}) + "\n")
    (kept,) = fleet.read_journal(path, "sha256:1").values()
    assert kept.to_json() == report.to_json()
