"""Whole-process benchmark: `cii-scan scan` as a user runs it vs the floor, both as processes.

    sudo .venv/bin/python3 bench/process_bench.py --hosts 40 --pairs 10 --fleet-pairs 3 \\
        --rtt-ms 20 --targets 1000

What the user feels is the whole process: interpreter start, imports, baseline load,
connection, collection, evaluation, writing findings. bench/ssh_bench.py measures the
collection inside one warm process; this script measures processes, side by side, over
the same client library (paramiko), the same real sshd hosts (tests/fleet), the same
link and the same unprivileged ``auditor`` login collecting through ``sudo -n``:

  (a) one host: the floor process (a fresh ``python -c`` of this interpreter that imports
      paramiko, opens ONE verified connection -- known_hosts, the fleet's key -- and runs
      ``true``) vs ``python -m scanner scan auditor@HOST --sudo`` with the full default
      baseline; --pairs alternating pairs after one warm-up of each;
  (b) a fleet of --hosts hosts: the floor fleet (one process, one floor connection per
      host, --fleet-jobs at a time) vs ``scan -i inventory -j --fleet-jobs``; --fleet-pairs
      alternating pairs;
  (c) the peak RSS (wait4's rusage, through tests/_peak_rss.py's launcher, so this
      script's own memory is not counted in it) of one ``scan`` of --targets inventory targets at
      -j --rss-jobs: the real hosts are fewer, each reached under many inventory names.

Every connection goes through a loopback TCP proxy per host that delays each chunk by
half of --rtt-ms each way (tc netem cannot be used in this machine's namespaces); 0
connects directly. Each scan's findings.json is checked (every host scanned and complete,
the same verdict counts in every run), so a fast run that saw less cannot pass unnoticed.
Python keeps bytecode in a private cache for both (--bytecode cached), as an installed
cii-scan has it; --rss-limit stops an RSS run that would outlast the time you have and
reports the peak so far, labelled partial.
Progress goes to stderr as it happens (each row as soon as it is measured); the Markdown
table goes to stdout at the end.
SIGINT/SIGTERM kill the running child, close the proxies and stop every host.
Nothing is asserted: this is a script, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.link import Endpoint, Link, check_link, open_link  # noqa: E402
from bench.ssh_bench import bench_specs, quartiles  # noqa: E402
from tests._peak_rss import measured, measured_pid, read_report  # noqa: E402
from tests.fleet import Fleet, check_requirements, running_fleet  # noqa: E402

# The floor as a user would write it: import paramiko, one verified connection, `true`.
# A fleet floor runs one such connection per host, --fleet-jobs at a time, in one process.
FLOOR_CODE = r"""
import sys
import paramiko

known_hosts, key, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
hosts = [(a, int(p)) for a, p in (h.rsplit(":", 1) for h in sys.argv[4:])]

def floor(host):
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(host[0], host[1], username="auditor", key_filename=key,
                       look_for_keys=False, allow_agent=False, timeout=60)
        _, stdout, _ = client.exec_command("true")
        stdout.read()
        return stdout.channel.recv_exit_status()
    finally:
        client.close()

if len(hosts) == 1:
    statuses = [floor(hosts[0])]
else:
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(workers) as pool:
        statuses = list(pool.map(floor, hosts))
if any(statuses):
    sys.exit(f"`true` exited {statuses}")
"""


WATCH_S = 15.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Run:
    """One finished child process: wall time from fork to reap and peak RSS from wait4,
    both taken by a small launcher (tests/_peak_rss.py): a child this script forks itself
    would count this script's resident set in its peak."""

    elapsed_s: float
    peak_mib: float
    exit_code: int
    cpu_s: float  # user + system time of the process (a fleet's hosts are not in it)


class Children:
    """Spawns the measured processes and can kill whichever is running (signal handler)."""

    def __init__(self) -> None:
        self.env: dict[str, str] = {}
        self.cwd = Path.cwd()
        self.running: subprocess.Popen[bytes] | None = None

    def run(self, argv: list[str], what: str, limit_s: float | None = None,
            progress: Callable[[int, float], None] | None = None) -> Run:
        """Run ``argv`` to its end; past ``limit_s`` it gets SIGTERM (a scan then writes
        what it finished, the rest ``interrupted``/``not_started``); ``progress(pid,
        elapsed)`` is called every WATCH_S seconds while it runs."""
        errors = self.cwd / "child-stderr.txt"
        with errors.open("wb") as stderr:
            started = time.perf_counter()
            report = self.cwd / "child-measured.json"
            report.unlink(missing_ok=True)
            child = subprocess.Popen(measured(argv, report), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=stderr, env=self.env,
                                     cwd=self.cwd, start_new_session=True)
            self.running = child
            ended = threading.Event()
            if limit_s is not None or progress is not None:
                threading.Thread(target=self._watch, args=(child, started, limit_s, progress,
                                                           ended), daemon=True).start()
            try:
                child.wait()
            finally:
                ended.set()
                self.running = None
        measurement = read_report(report)
        run = Run(measurement.elapsed_s, measurement.peak_rss_bytes / 2**20, child.returncode,
                  measurement.cpu_s)
        if run.exit_code >= 128 or (what == "floor" and run.exit_code != 0):  # a signal
            text = errors.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{what} process failed ({run.exit_code}):\n{text}")
        return run

    @staticmethod
    def _watch(child: subprocess.Popen[bytes], started: float, limit_s: float | None,
               progress: Callable[[int, float], None] | None, ended: threading.Event) -> None:
        terminated = False
        while not ended.wait(WATCH_S):
            elapsed = time.perf_counter() - started
            pid = measured_pid(child.pid)  # the measured command, under the launcher
            if pid is None:
                continue
            if progress is not None:
                with contextlib.suppress(OSError):
                    progress(pid, elapsed)
            if limit_s is not None and elapsed > limit_s and not terminated:
                terminated = True
                log(f"stopping pid {pid} (SIGTERM): its time limit passed")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

    def kill(self) -> None:
        child = self.running
        if child is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)


@dataclass(frozen=True)
class Outcome:
    """What one scan's findings.json says: host statuses and the verdict counts."""

    statuses: Counter[str]
    incomplete: int
    verdicts: tuple[tuple[str, int], ...]
    errors: frozenset[str]  # the rules in error on some host

    def describe(self) -> str:
        hosts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        verdicts = ", ".join(f"{n} {v}" for v, n in self.verdicts if n)
        errors = f" (error: {', '.join(sorted(self.errors))})" if self.errors else ""
        return f"hosts: {hosts}; {self.incomplete} incomplete; results: {verdicts}{errors}"


def read_findings(outdir: Path) -> tuple[Outcome, float]:
    """The run's outcome and its hosts' median ``duration_s`` (connection + collection)."""
    document = json.loads((outdir / "findings.json").read_text())
    hosts = document["hosts"]
    statuses = Counter(h["status"] for h in hosts)
    incomplete = sum(1 for h in hosts if not h.get("complete", h["status"] == "scanned"))
    totals: Counter[str] = Counter()
    for host in hosts:
        totals.update(host["summary"]["by_status"])
    errors = frozenset(r["rule_id"] for h in hosts for r in h["results"]
                       if r["status"] == "error")
    outcome = Outcome(statuses, incomplete, tuple(sorted(totals.items())), errors)
    return outcome, statistics.median(h["duration_s"] for h in hosts)


class Scans:
    """Builds the floor and scan command lines and runs them, checking each scan's output."""

    def __init__(self, fleet: Fleet, link: Link, children: Children) -> None:
        self.fleet = fleet
        self.link = link
        self.children = children
        self.runs = fleet.base / "runs"
        self.runs.mkdir()
        self.count = 0
        self.outcomes: dict[str, Outcome] = {}
        self.host_s: dict[str, list[float]] = {}

    def floor(self, endpoints: list[Endpoint], jobs: int) -> Run:
        argv = [sys.executable, "-c", FLOOR_CODE, str(self.link.known_hosts),
                str(self.fleet.client_key), str(jobs),
                *(f"{e.address}:{e.port}" for e in endpoints)]
        return self.children.run(argv, "floor")

    def _common(self, outdir: Path) -> list[str]:
        return ["--known-hosts", str(self.link.known_hosts),
                "--identity", str(self.fleet.client_key), "-q", "-o", str(outdir)]

    def scan_one(self, endpoint: Endpoint, key: str) -> Run:
        outdir = self._outdir()
        target = f"auditor@{endpoint.address}:{endpoint.port}"
        return self._scan([target, "--sudo", *self._common(outdir)], outdir, key)

    def scan_inventory(self, inventory: Path, jobs: int, key: str,
                       timeout_s: float | None = None, limit_s: float | None = None,
                       memory: MemoryWatch | None = None) -> Run:
        outdir = self._outdir()
        budget = [] if timeout_s is None else ["--timeout", f"{timeout_s:g}"]
        progress = None if memory is None else memory.sampler(outdir)
        return self._scan(["-i", str(inventory), "-j", str(jobs), *budget,
                           *self._common(outdir)], outdir, key, limit_s, progress)

    def _outdir(self) -> Path:
        self.count += 1
        return self.runs / f"run-{self.count:04d}"

    def _scan(self, args: list[str], outdir: Path, key: str, limit_s: float | None = None,
              progress: Callable[[int, float], None] | None = None) -> Run:
        run = self.children.run([sys.executable, "-m", "scanner", "scan", *args], "scan",
                                limit_s, progress)
        if not (outdir / "findings.json").is_file():
            raise SystemExit(f"{key}: the scan (exit {run.exit_code}) wrote no findings.json")
        outcome, host_s = read_findings(outdir)
        self.host_s.setdefault(key, []).append(host_s)
        if outcome.incomplete or set(outcome.statuses) != {"scanned"}:
            log(f"WARNING: {key}: not every host was scanned completely: {outcome.describe()}")
        first = self.outcomes.setdefault(key, outcome)
        if outcome != first:
            log(f"WARNING: {key}: this run's results differ from the first run's:\n"
                f"  first: {first.describe()}\n  now:   {outcome.describe()}")
        return run


class MemoryWatch:
    """Samples a running scan's RSS and how many targets it finished (its journal's lines),
    so a long run shows its memory growing and a partial one can say at what count it
    peaked."""

    def __init__(self, targets: int) -> None:
        self.targets = targets
        self.samples: list[tuple[float, int, float]] = []  # elapsed, finished, peak MiB

    def sampler(self, outdir: Path) -> Callable[[int, float], None]:
        def sample(pid: int, elapsed: float) -> None:
            status = dict(line.split(":", 1) for line in
                          (Path(f"/proc/{pid}/status").read_text().splitlines()) if ":" in line)
            rss, peak = (int(status[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
            journal = outdir / "journal.jsonl"
            finished = journal.read_bytes().count(b"\n") if journal.exists() else 0
            self.samples.append((elapsed, finished, peak))
            log(f"RSS run: {elapsed:.0f} s, {finished} of {self.targets} targets finished, "
                f"RSS {rss:.0f} MiB, peak so far {peak:.0f} MiB")
        return sample

    def growth(self) -> str:
        """How the peak grew between the first sample past the ramp-up and the last one."""
        later = [s for s in self.samples if s[1] > 0]
        if len(later) < 2 or later[-1][1] == later[0][1]:
            return ""
        (_, n0, p0), (_, n1, p1) = later[0], later[-1]
        return (f"peak {p0:.0f} MiB at {n0} finished, {p1:.0f} MiB at {n1} "
                f"({(p1 - p0) / (n1 - n0) * 100:.1f} MiB per 100 targets); ")


def inventory_file(path: Path, endpoints: list[Endpoint], count: int) -> Path:
    """``count`` inventory targets over the endpoints, round robin, each with its own name."""
    lines = ["defaults: {user: auditor, sudo: true}", "hosts:"]
    for number in range(count):
        endpoint = endpoints[number % len(endpoints)]
        lines.append(f"  - {{name: t{number:04d}-{endpoint.name}, address: {endpoint.address}, "
                     f"port: {endpoint.port}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class Pairs:
    floor: list[Run]
    scan: list[Run]

    def ratios(self) -> list[float]:
        return [s.elapsed_s / f.elapsed_s for f, s in zip(self.floor, self.scan, strict=True)]


def alternate(label: str, pairs: int, floor: Callable[[], Run],
              scan: Callable[[], Run]) -> Pairs:
    """One warm-up of each (not counted), then ``pairs`` rounds of floor then scan."""
    log(f"{label}: warm-up")
    floor()
    scan()
    floors: list[Run] = []
    scans: list[Run] = []
    for number in range(1, pairs + 1):
        floors.append(floor())
        scans.append(scan())
        log(f"{label}: pair {number}/{pairs}: floor {floors[-1].elapsed_s:.2f} s, scan "
            f"{scans[-1].elapsed_s:.2f} s (exit {scans[-1].exit_code}), "
            f"{scans[-1].elapsed_s / floors[-1].elapsed_s:.2f}×")
    return Pairs(floors, scans)


def pair_row(label: str, measured: Pairs, scans: Scans, key: str) -> str:
    floor = statistics.median(r.elapsed_s for r in measured.floor)
    scan = statistics.median(r.elapsed_s for r in measured.scan)
    low, mid, high = quartiles(measured.ratios())
    exits = ",".join(sorted({str(r.exit_code) for r in measured.scan}))
    rss = statistics.median(r.peak_mib for r in measured.scan)
    floor_rss = statistics.median(r.peak_mib for r in measured.floor)
    # the warm-up's figures are the first of each list, not a pair's
    host_s = statistics.median(scans.host_s[key][1:])
    cpu_floor = statistics.median(r.cpu_s for r in measured.floor)
    cpu_scan = statistics.median(r.cpu_s for r in measured.scan)
    notes = (f"exit {exits}; median host duration_s {host_s:.2f} s; process CPU (user + "
             f"system) floor {cpu_floor:.2f} s, scan {cpu_scan:.2f} s; "
             f"{scans.outcomes[key].describe()}")
    return (f"| {label} | {len(measured.scan)} | {floor:.3f} s | {scan:.3f} s | "
            f"**{mid:.2f}×** | {low:.2f}–{high:.2f}× | {scan / floor:.2f}× | "
            f"{floor_rss:.0f} / {rss:.0f} MiB | {notes} |")


def child_env(fleet: Fleet, bytecode: str, checkout: Path) -> dict[str, str]:
    """The environment of every measured process, floor and scan alike.

    ``cached`` (the default) lets Python keep bytecode, in a private PYTHONPYCACHEPREFIX
    the warm-up fills, as an installed cii-scan has it: an environment with
    PYTHONDONTWRITEBYTECODE=1 (this one has) and a checkout without __pycache__ would
    otherwise recompile every scanner module in every process, which no user pays."""
    env = {**fleet.env(), "PYTHONPATH": str(checkout)}
    if bytecode == "cached":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(fleet.base / "pycache")
    return env


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def cleanup_on_signals(children: Children) -> Iterator[None]:
    """SIGINT/SIGTERM: kill the running child, then unwind (the proxies and hosts stop in
    their ``finally``); further signals are ignored so the cleanup itself is not cut."""

    def stop(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log(f"{signal.Signals(signum).name}: killing the running child, stopping the "
            "proxies and every host")
        children.kill()
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=40, help="real sshd hosts (fleet size)")
    parser.add_argument("--pairs", type=int, default=10, help="one-host alternating pairs")
    parser.add_argument("--fleet-pairs", type=int, default=3, help="fleet alternating pairs")
    parser.add_argument("--fleet-jobs", type=int, default=20)
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--targets", type=int, default=1000,
                        help="inventory targets of the RSS run (0 skips it)")
    parser.add_argument("--rss-jobs", type=int, default=50)
    parser.add_argument("--rss-timeout", type=float, default=600.0,
                        help="--timeout of the RSS run: on a loaded machine a host at -j 50 "
                        "may need more than the default 120 s, and a host cut by its "
                        "budget would hold less memory than a scanned one")
    parser.add_argument("--rss-limit", type=float, default=None, metavar="SECONDS",
                        help="stop the RSS run (SIGTERM) after this long and report the peak "
                        "so far, labelled partial, with how many targets it finished")
    parser.add_argument("--skip", default="", help="comma-separated: one,fleet")
    parser.add_argument("--checkout", type=Path, default=REPO,
                        help="the cii-scan checkout whose `python -m scanner` is measured "
                        "(default: this one; the fleet and the proxy always come from here)")
    parser.add_argument("--bytecode", choices=("cached", "env"), default="cached",
                        help="cached: bytecode kept in a private cache (as installed); env: "
                        "as this environment says (PYTHONDONTWRITEBYTECODE)")
    return parser.parse_args()


def main() -> None:
    options = parse_args()
    skip = set(filter(None, options.skip.split(",")))
    check_requirements()
    command = shlex.join([sys.executable, *sys.argv])
    revision = subprocess.run(["git", "-C", str(options.checkout), "describe", "--always",
                               "--dirty"], capture_output=True, text=True,
                              check=False).stdout.strip() or "unknown"
    started_at = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_before = load_average()
    rows: list[str] = []
    extra: list[str] = []
    children = Children()
    with contextlib.ExitStack() as stack:
        stack.enter_context(cleanup_on_signals(children))
        log(f"starting {options.hosts} sshd hosts (load average {load_average()})")
        fleet = stack.enter_context(running_fleet(bench_specs(options.hosts), tarpit=False))
        log(f"{options.hosts} sshd hosts running")
        children.env = child_env(fleet, options.bytecode, options.checkout)
        children.cwd = fleet.base
        link = open_link(fleet, options.rtt_ms)
        stack.callback(link.close)
        scans = Scans(fleet, link, children)
        link_check = check_link(options.rtt_ms)
        log(link_check)
        link_name = f"+{options.rtt_ms:g} ms RTT" if options.rtt_ms > 0 else "loopback"
        first = link.endpoints[0]
        if "one" not in skip:
            measured = alternate("one host", options.pairs,
                                 lambda: scans.floor([first], 1),
                                 lambda: scans.scan_one(first, "one"))
            rows.append(pair_row(f"one host, {link_name}", measured, scans, "one"))
            log(rows[-1])
        if "fleet" not in skip:
            inventory = inventory_file(fleet.base / "fleet.yaml", link.endpoints,
                                       len(link.endpoints))
            jobs = options.fleet_jobs
            measured = alternate(f"fleet of {options.hosts}", options.fleet_pairs,
                                 lambda: scans.floor(link.endpoints, jobs),
                                 lambda: scans.scan_inventory(inventory, jobs, "fleet"))
            rows.append(pair_row(f"fleet of {options.hosts}, -j {jobs}, {link_name}", measured,
                                 scans, "fleet"))
            log(rows[-1])
        if options.targets > 0:
            inventory = inventory_file(fleet.base / "targets.yaml", link.endpoints,
                                       options.targets)
            log(f"RSS: {options.targets} targets over {len(link.endpoints)} hosts at "
                f"-j {options.rss_jobs}")
            memory = MemoryWatch(options.targets)
            run = scans.scan_inventory(inventory, options.rss_jobs, "rss", options.rss_timeout,
                                       options.rss_limit, memory)
            outcome = scans.outcomes["rss"]
            scanned = outcome.statuses["scanned"]
            partial = "" if scanned == options.targets else (
                f"PARTIAL ({scanned} of {options.targets} scanned: the peak so far); ")
            partial += memory.growth()
            log(f"RSS: {run.elapsed_s:.1f} s, peak {run.peak_mib:.0f} MiB")
            extra.append(f"| {options.targets} targets ({len(link.endpoints)} real hosts), "
                         f"-j {options.rss_jobs}, {link_name} | {run.elapsed_s:.1f} s "
                         f"({scanned / run.elapsed_s:.1f} scanned/s) | "
                         f"**{run.peak_mib:.0f} MiB** | {partial}exit {run.exit_code}; "
                         f"{outcome.describe()} |")
            log(extra[-1])
    import paramiko

    print(f"Command: `{command}`  \nStarted {started_at}; finished "
          f"{time.strftime('%H:%M:%S')}; {os.cpu_count()} CPUs; load average before "
          f"{load_before}, after {load_average()}; Python {sys.version.split()[0]}, "
          f"paramiko {paramiko.__version__}; bytecode: {options.bytecode}; scanner: "
          f"{options.checkout} at {revision}; {link_check}.\n")
    if rows:
        print("| what | pairs | floor (median) | cii-scan scan (median) | median of pair "
              "ratios | quartiles | ratio of medians | peak RSS floor / scan | notes |\n"
              "|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows) + "\n")
    if extra:
        print("| peak RSS run | wall time | peak RSS (wait4) | notes |\n|---|---|---|---|")
        print("\n".join(extra))


if __name__ == "__main__":
    main()
