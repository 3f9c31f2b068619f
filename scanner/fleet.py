"""Scan many hosts at once: bounded concurrency, a per-host budget, and a journal that survives.

Each finished host is appended to ``OUTDIR/journal.jsonl`` (one JSON line,
flushed and fsynced) the moment it finishes, so a run that is killed keeps
every host it completed; ``resume`` reads the journal back and scans only the
rest. Workers are daemon threads: a host that hangs even after its sockets were
closed is reported as ``timeout`` and abandoned, never waited for. A run stopped
by SIGINT/SIGTERM still reports every planned host (``interrupted`` or
``not_started`` for those it did not finish, never journaled).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

from scanner.baseline import Baseline
from scanner.collect import utc_now
from scanner.errors import CiiScanError, OutputError
from scanner.facts import Facts, HostIdentity
from scanner.findings import HostReport
from scanner.inventory import Target
from scanner.scan import assess
from scanner.transport import RunResult, Transport

JOURNAL_NAME = "journal.jsonl"
# How long past its own budget a host may run before the fleet closes its sockets,
# and how much longer before it is abandoned as hung.
CANCEL_GRACE_S = 5.0
ABANDON_GRACE_S = 10.0
POLL_S = 0.2


TransportFactory = Callable[[Target], tuple[Transport, HostIdentity]]


@dataclass(frozen=True)
class JournaledReport:
    """A finished host whose report lives in the journal; only its outline is in memory.

    A fleet of a thousand hosts would otherwise hold every host's results until the end
    of the run. The outline answers what the run's end needs (status, reason,
    completeness); :meth:`to_json` reads the whole report back, one host at a time, when
    the findings are written."""

    outline: HostReport  # the report without its results, evidence and probe errors
    path: Path
    offset: int
    length: int
    key: str

    @staticmethod
    def of(report: HostReport, path: Path, offset: int, length: int,
           key: str) -> JournaledReport:
        outline = replace(report, results=(), probe_errors={}, os=None)
        return JournaledReport(outline, path, offset, length, key)

    @property
    def host(self) -> HostIdentity:
        return self.outline.host

    @property
    def status(self) -> str:
        return self.outline.status

    @property
    def reason(self) -> str:
        return self.outline.reason

    @property
    def is_complete(self) -> bool:
        return self.outline.is_complete

    def why_incomplete(self) -> str | None:
        return self.outline.why_incomplete()

    def to_json(self) -> dict[str, Any]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                entry = json.loads(handle.read(self.length))
            if entry["key"] != self.key:
                raise ValueError(entry["key"])
            # through HostReport, so a line an earlier version wrote reads as this one's
            report = HostReport.from_json(entry["report"]).to_json()
        except FileNotFoundError:
            raise OutputError(f"{self.path}: the journal was removed while this run was "
                              "writing its findings") from None
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot read the journal back "
                              f"({exc.strerror or exc})") from None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise OutputError(f"{self.path}: the journal changed while this run was writing "
                              "its findings (another run into the same directory?)") from None
        return report


Finished = HostReport | JournaledReport


@dataclass
class FleetOutcome:
    reports: list[Finished]
    interrupted: bool = False
    resumed: int = 0  # hosts taken from the journal instead of scanned again


@dataclass
class _Running:
    target: Target
    identity: HostIdentity
    transport: Transport | None
    started: float
    cancelled: bool = False
    # set once the transport's run() has returned (or raised): from then on the worker
    # is parsing and evaluating what arrived, and is not abandoned
    returned: threading.Event = field(default_factory=threading.Event)


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: dict[str, _Running] = field(default_factory=dict)
    ignored: set[str] = field(default_factory=set)  # abandoned or stopped: results dropped


def journal_path(outdir: Path) -> Path:
    return outdir / JOURNAL_NAME


def read_journal(path: Path, baseline_digest: str) -> dict[str, JournaledReport]:
    """Host reports already journaled for this baseline, by target key.

    A torn last line (the process was killed mid-write) or a line from another
    baseline is skipped, not an error: that host is simply scanned again. Each line is
    read once here, and again only when the findings are written.
    """
    found: dict[str, JournaledReport] = {}
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return found
    except OSError as exc:
        raise OutputError(f"{path}: cannot read the journal ({exc.strerror or exc})") from None
    offset = 0
    with handle:
        for line in handle:
            length = len(line)
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("torn")
                entry = json.loads(line)
                if entry.get("baseline_digest") != baseline_digest:
                    raise ValueError("another baseline")
                key = str(entry["key"])
                report = HostReport.from_json(entry["report"])
                found[key] = JournaledReport.of(report, path, offset, length, key)
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
            offset += length
    return found


class Journal:
    """Append-only JSON lines, each fsynced: what a killed run leaves behind."""

    def __init__(self, path: Path, baseline_digest: str, keep: bool) -> None:
        self.path = path
        self.baseline_digest = baseline_digest
        try:
            self._handle: BinaryIO = path.open("ab" if keep else "wb")
            self._offset = self._handle.seek(0, os.SEEK_END)
            # a torn line left by a killed run must end before the next one starts
            self._torn = self._offset > 0 and _last_byte(path, self._offset) != b"\n"
        except OSError as exc:
            raise OutputError(f"{path}: cannot write the journal ({exc.strerror or exc})"
                              ) from None

    def append(self, key: str, report: HostReport) -> JournaledReport:
        """Journal ``report``; what is returned keeps only its outline in memory."""
        line = (json.dumps({"key": key, "baseline_digest": self.baseline_digest,
                            "report": report.to_json()}, sort_keys=True, ensure_ascii=False)
                + "\n").encode("utf-8")
        if self._torn:
            self._write(b"\n")
            self._torn = False
        offset = self._offset
        self._write(line)
        os.fsync(self._handle.fileno())
        return JournaledReport.of(report, self.path, offset, len(line), key)

    def _write(self, data: bytes) -> None:
        self._handle.write(data)
        self._handle.flush()
        self._offset += len(data)

    def close(self) -> None:
        self._handle.close()


def _last_byte(path: Path, size: int) -> bytes:
    with path.open("rb") as reader:
        reader.seek(size - 1)
        return reader.read(1)


class _Progress:
    """One self-rewriting line on a terminal; silent otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled and sys.stderr.isatty()
        self.counts: dict[str, int] = {}

    def update(self, report: HostReport | None, running: int) -> None:
        if report is not None:
            self.counts[report.status] = self.counts.get(report.status, 0) + 1
        if not self.enabled:
            return
        done = sum(self.counts.values())
        detail = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()))
        sys.stderr.write(f"\r\x1b[K[{done}/{self.total}] {running} running"
                         + (f"; {detail}" if detail else ""))
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM ask the run to stop starting hosts (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _failed(identity: HostIdentity, status: str, reason: str) -> HostReport:
    return HostReport(host=identity, status=status, reason=reason, started_at=utc_now())


def scan_fleet(targets: Sequence[Target], baseline: Baseline, factory: TransportFactory, *,
               outdir: Path, concurrency: int, timeout_s: float, resume: bool = False,
               progress: bool = True,
               keep_facts: Callable[[str, Facts], object] | None = None) -> FleetOutcome:
    """Assess every target with at most ``concurrency`` at a time; journal each as it ends.

    ``keep_facts(key, facts)``, when given, is called with each collected host's facts
    (``scan --keep-facts``) before its report is journaled."""
    path = journal_path(outdir)
    previous = read_journal(path, baseline.digest) if resume else {}
    targets = list({t.key: t for t in reversed(targets)}.values())[::-1]  # once each
    wanted = {t.key for t in targets}
    reports: list[Finished] = [report for key, report in previous.items() if key in wanted]
    resumed = len(reports)
    pending: queue.Queue[Target] = queue.Queue()
    for target in targets:
        if target.key not in previous:
            pending.put(target)
    todo = pending.qsize()
    journal = Journal(path, baseline.digest, keep=resume)
    finished: queue.Queue[tuple[str, HostReport]] = queue.Queue()
    state = _State()
    stop = threading.Event()
    bar = _Progress(todo, progress)

    def worker() -> None:
        while not stop.is_set():
            try:
                target = pending.get_nowait()
            except queue.Empty:
                return
            report = _assess_one(target, baseline, factory, state, keep_facts)
            with state.lock:
                state.running.pop(target.key, None)
                dropped = target.key in state.ignored
            if not dropped:
                finished.put((target.key, report))

    threads: list[threading.Thread] = []

    def start_worker() -> None:
        thread = threading.Thread(target=worker, name="cii-scan-host", daemon=True)
        thread.start()
        threads.append(thread)

    interrupted = False
    finished_keys: set[str] = set()
    with _stop_on_signals(stop):
        for _ in range(max(1, min(concurrency, todo))):
            start_worker()
        done = 0
        try:
            while done < todo:
                if stop.is_set():
                    interrupted = True
                    break
                for _ in _watchdog(state, timeout_s, finished):
                    start_worker()
                try:
                    key, report = finished.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                reports.append(journal.append(key, report))
                finished_keys.add(key)
                done += 1
                bar.update(report, len(state.running))
            if interrupted:
                reports += _stop_running(state, finished, journal, finished_keys,
                                         [t for t in targets if t.key not in previous])
        finally:
            stop.set()
            journal.close()
            bar.finish()
    return FleetOutcome(reports=reports, interrupted=interrupted, resumed=resumed)


def _assess_one(target: Target, baseline: Baseline, factory: TransportFactory,
                state: _State, keep_facts: Callable[[str, Facts], object] | None = None
                ) -> HostReport:
    fallback = target.identity()
    try:
        transport, identity = factory(target)
    except CiiScanError as exc:
        return _failed(fallback, "error", str(exc))
    running = _Running(target, identity, transport, time.monotonic())
    with state.lock:
        state.running[target.key] = running
    try:
        report, facts = assess(_Watched(transport, running.returned), identity, baseline)
        if facts is not None and keep_facts is not None:
            keep_facts(target.key, facts)
    except Exception as exc:  # a bug must cost one host, not the fleet
        return _failed(identity, "error", f"internal error: {type(exc).__name__}: {exc}")
    return report


class _Watched:
    """A host's transport that tells the watchdog when its run() has returned."""

    def __init__(self, transport: Transport, returned: threading.Event) -> None:
        self._transport = transport
        self._returned = returned
        self.name = transport.name
        budget = getattr(transport, "script_budget_s", None)
        self.script_budget_s = budget if isinstance(budget, (int, float)) else None

    def run(self, script: str) -> RunResult:
        try:
            return self._transport.run(script)
        finally:
            self._returned.set()

    def cancel(self) -> None:
        self._transport.cancel()


def _watchdog(state: _State, timeout_s: float,
              finished: queue.Queue[tuple[str, HostReport]]) -> list[str]:
    """Close the sockets of hosts past their budget; abandon those that still hang.

    Returns the keys abandoned (each needs a replacement worker)."""
    now = time.monotonic()
    abandoned: list[str] = []
    with state.lock:
        for key, run in list(state.running.items()):
            elapsed = now - run.started
            if elapsed > timeout_s + CANCEL_GRACE_S and not run.cancelled and run.transport:
                run.cancelled = True
                run.transport.cancel()
            # A transport that returned after cancel() keeps its host: the partial output
            # becomes a scanned, incomplete report. Only one that never returns is
            # abandoned.
            if elapsed > timeout_s + ABANDON_GRACE_S and not run.returned.is_set():
                state.running.pop(key)
                state.ignored.add(key)
                abandoned.append(key)
                finished.put((key, _failed(run.identity, "timeout",
                                           f"no result within the {timeout_s:g} s per-host "
                                           "budget; the connection was abandoned")))
    return abandoned


NOT_STARTED_REASON = "the run was interrupted before this host started"
INTERRUPTED_REASON = ("the run was interrupted while this host was being scanned; "
                      "nothing from it was kept")


def _stop_running(state: _State, finished: queue.Queue[tuple[str, HostReport]],
                  journal: Journal, finished_keys: set[str],
                  planned: Sequence[Target]) -> list[Finished]:
    """On a stop request: keep hosts that finished meanwhile, cancel the rest.

    Every other planned host is still reported, so the findings show the run's whole
    scope: ``interrupted`` for a host that was being scanned (its partial work is
    dropped), ``not_started`` for one never begun. Neither is journaled: ``--resume``
    scans them.
    """
    with state.lock:
        running = dict(state.running)
        for key, run in running.items():
            state.ignored.add(key)
            if run.transport is not None:
                run.transport.cancel()
    kept: list[Finished] = []
    while True:
        try:
            key, report = finished.get_nowait()
        except queue.Empty:
            break
        kept.append(journal.append(key, report))
        finished_keys.add(key)
    for target in planned:
        if target.key in finished_keys:
            continue
        began = running.get(target.key)
        if began is not None:
            kept.append(_failed(began.identity, "interrupted", INTERRUPTED_REASON))
        else:
            kept.append(HostReport(host=target.identity(), status="not_started",
                                   reason=NOT_STARTED_REASON))
    return kept
