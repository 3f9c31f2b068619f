"""Evaluation and start-up benchmark: what a run costs before and after the host answers.

    .venv/bin/python3 bench/eval_bench.py [--facts FACTS.json] [--repeat 11]

Prints, each as the median (and quartiles) of --repeat runs, as it goes:

  (a) evaluation throughput: rule results per second of ``evaluate(baseline, facts)``
      for the shipped baseline on a real host's facts (--facts; without it this machine
      is collected once with ``python -m scanner collect``, best as root), each round
      a fresh evaluation (its per-host index and evidence cache built anew), with the
      compiled closures built once per process as in a run;
  (b) the same through the reference interpreter (``expect.apply``), for the ratio;
  (c) baseline load as whole processes: ``load_baseline()`` timed inside a fresh
      interpreter (imports excluded, then included); there is no cache of the compiled
      baseline, so every run is the cold one;
  (d) ``cii-scan --help`` and ``cii-scan baselines list`` as whole processes, beside the
      floor of ``python -c pass``.

Processes run with bytecode caches, as an installed tool runs (bench/installed.py).

Nothing is asserted; this is a script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.installed import process_env  # noqa: E402

PYTHON = sys.executable
ENV = process_env("eval")  # as an installed tool runs: bench/installed.py


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, q2, q3


def _show(label: str, values: Sequence[float], unit: str, scale: float = 1.0) -> None:
    q1, q2, q3 = _quartiles([v * scale for v in values])
    print(f"| {label} | {q2:,.1f} {unit} | {q1:,.1f} – {q3:,.1f} | {len(values)} |", flush=True)


def _facts(path: Path | None) -> Any:
    from scanner.facts import Facts

    if path is None:
        path = Path(tempfile.mkdtemp(prefix="eval-bench-")) / "facts.json"
        print(f"collecting this machine into {path} ...", file=sys.stderr, flush=True)
        subprocess.run([PYTHON, "-m", "scanner", "collect", "-o", str(path)], env=ENV,
                       check=True, stdout=subprocess.DEVNULL)
    return Facts.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))


def _throughput(evaluate: Callable[[], int], repeat: int, min_s: float = 0.5) -> list[float]:
    """Rule results per second, one figure per round of at least ``min_s`` seconds."""
    evaluate()  # closures built once, as in a run
    rates = []
    for _ in range(repeat):
        results, started = 0, time.perf_counter()
        while True:
            results += evaluate()
            elapsed = time.perf_counter() - started
            if elapsed >= min_s:
                break
        rates.append(results / elapsed)
        print(f"  … {rates[-1]:,.0f} rule results/s", file=sys.stderr, flush=True)
    return rates


def _reference_evaluate(baseline: Any, facts: Any) -> int:
    """The rules judged through expect.apply (the interpreter), for the ratio only."""
    from scanner import compiled
    from scanner import evaluate as ev
    from scanner.expect import apply

    family = facts.os.get("family") if facts.os else None
    compiled_apply = compiled.apply

    def interpreted(expectation: Any, value: Any, unit: Any, mode: Any,
                    cache: Any = None) -> Any:
        return apply(expectation, value, unit, mode)

    compiled.apply = interpreted  # type: ignore[assignment]
    try:
        return len([ev.evaluate_rule(rule, facts, family) for rule in baseline.rules])
    finally:
        compiled.apply = compiled_apply


def _process_seconds(args: Sequence[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([PYTHON, *args], env=ENV, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


_LOAD = """
import time, sys
t0 = time.perf_counter()
from scanner.baseline import load_baseline
t1 = time.perf_counter()
load_baseline()
t2 = time.perf_counter()
print(t2 - t1, t2 - t0)
"""


def _load_seconds(repeat: int) -> tuple[list[float], list[float]]:
    alone, with_imports = [], []
    for _ in range(repeat):
        out = subprocess.run([PYTHON, "-c", _LOAD], env=ENV, check=True, text=True,
                             capture_output=True).stdout.split()
        alone.append(float(out[0]))
        with_imports.append(float(out[1]))
    return alone, with_imports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--facts", type=Path, help="facts JSON of a real host")
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--reference-repeat", type=int, default=3)
    options = parser.parse_args(argv)

    from scanner.baseline import load_baseline
    from scanner.evaluate import evaluate

    baseline = load_baseline()
    facts = _facts(options.facts)
    rules = len(baseline.rules)
    print(f"baseline {baseline.id} {baseline.version}: {rules} rules; facts of "
          f"{facts.host.name}: {len(facts.results)} probe results; load "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    print("\n| measure | median | quartiles | runs |\n|---|---|---|---|", flush=True)
    _show("evaluation, compiled (rule results/s)",
          _throughput(lambda: len(evaluate(baseline, facts)), options.repeat), "/s")
    _show("evaluation, interpreter (rule results/s)",
          _throughput(lambda: _reference_evaluate(baseline, facts), options.reference_repeat),
          "/s")
    _process_seconds(["-m", "scanner", "baselines", "list"], 1)  # fills the bytecode cache
    alone, with_imports = _load_seconds(options.repeat)
    _show("baseline load in a fresh process (no cache: always cold)", alone, "ms", 1e3)
    _show("baseline load with its imports", with_imports, "ms", 1e3)
    _show("`cii-scan --help` (whole process)",
          _process_seconds(["-m", "scanner", "--help"], options.repeat), "ms", 1e3)
    _show("`cii-scan baselines list` (whole process)",
          _process_seconds(["-m", "scanner", "baselines", "list"], options.repeat), "ms", 1e3)
    _show("floor: `python -c pass`", _process_seconds(["-c", "pass"], options.repeat), "ms",
          1e3)
    print(f"\n(load {os.getloadavg()[0]:.2f} at the end)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
