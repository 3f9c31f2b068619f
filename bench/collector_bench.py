"""Host-side benchmark: the collector's own time on the host, one checkout against another.

    sudo .venv/bin/python3 bench/collector_bench.py --before /path/to/old-checkout --runs 7

What issue 12 calls the host-side work is everything after the exec starts: the
collector script of the shipped baseline run by ``sh -s`` on this machine, as the SSH
transport runs it (as root here, as ``--sudo`` runs it). Each checkout builds its own
script (its own baseline and probes), the scripts run alternately (before, after,
before, ...) so a change in the machine's load falls on both, and each run's wall time
and CPU (user + system of the shell and everything it started, from wait4) are taken.
Each run's output must frame every probe call of its checkout, so a fast run that did
less cannot pass unnoticed.

Prints the medians and quartiles of both and their ratio as Markdown. Nothing is
asserted; this is a script, not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_BUILD = """
import sys
from scanner.baseline import load_baseline
from scanner.collect import build_script, new_token
calls = load_baseline().probe_calls()
token = new_token()
sys.stdout.write(token + "\\n" + str(len(calls)) + "\\n" + build_script(calls, token))
"""

_CHECK = """
import sys
from scanner.baseline import load_baseline
from scanner.collect import parse_output
calls = load_baseline().probe_calls()
parsed = parse_output(sys.stdin.buffer.read(), calls, sys.argv[1])
missing = [c.probe for c in calls if c not in parsed.results]
print(len(parsed.results), ",".join(missing))
"""


@dataclass(frozen=True)
class Script:
    checkout: Path
    token: str
    calls: int
    text: str


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float


def build(checkout: Path) -> Script:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run([sys.executable, "-c", _BUILD], env=env, capture_output=True,
                          text=True, check=True, cwd=checkout)
    token, calls, text = done.stdout.split("\n", 2)
    return Script(checkout, token, int(calls), text)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(script: Script) -> Run:
    """One run of ``script`` by ``sh -s``; its output is checked before the run counts."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(["sh", "-s"], input=script.text.encode(), capture_output=True,
                          check=False)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu  # the shell and all it waited for (the tools it ran)
    check = subprocess.run([sys.executable, "-c", _CHECK, script.token], input=done.stdout,
                           env={**os.environ, "PYTHONPATH": str(script.checkout)},
                           capture_output=True, check=True, cwd=script.checkout)
    seen, missing = check.stdout.decode().split(" ", 1)
    if int(seen) != script.calls or missing.strip():
        raise SystemExit(f"{script.checkout}: the collector framed {seen} of {script.calls} "
                         f"calls (missing: {missing.strip()})")
    return Run(wall, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    scripts = {"before": build(options.before.resolve()), "after": build(REPO)}
    runs: dict[str, list[Run]] = {"before": [], "after": []}
    for script in scripts.values():  # one warm-up each (page cache, apt's lists)
        run(script)
    for number in range(1, options.runs + 1):
        for name, script in scripts.items():
            runs[name].append(run(script))  # alternately: before, after, before, ...
        print(f"[{time.strftime('%H:%M:%S')}] run {number}/{options.runs}: before "
              f"{runs['before'][-1].wall_s:.3f} s, after {runs['after'][-1].wall_s:.3f} s",
              file=sys.stderr, flush=True)
    print("| checkout | runs | wall (median) | quartiles | CPU, user + system (median) |\n"
          "|---|---|---|---|---|")
    for name, script in scripts.items():
        walls = [r.wall_s for r in runs[name]]
        q1, q2, q3 = statistics.quantiles(walls, n=4)
        cpu = statistics.median(r.cpu_s for r in runs[name])
        print(f"| {name}: {script.checkout} ({script.calls} calls) | {len(walls)} | "
              f"{q2:.3f} s | {q1:.3f}–{q3:.3f} s | {cpu:.3f} s |")
    ratios = [a.wall_s / b.wall_s for a, b in zip(runs["after"], runs["before"], strict=True)]
    print(f"\nafter / before, median of the pairs: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
