"""History store benchmark: a year of daily scans of a fleet, into each engine.

    sudo .venv/bin/python3 bench/history_bench.py [--days 365] [--hosts 200] \
        [--template FINDINGS.json] [--engines sqlite,postgresql] [--repeat 5]

The fleet is one real host's full-baseline scan (--template; without it this machine is
scanned once with ``python -m scanner scan``), copied to --hosts names; each day ~1 % of
the host × rule pairs that can change (pass or fail) flip, from a fixed seed, with their
evidence changed, so failures open, resolve and reopen over the year as in a fleet. Each
day's document is built in memory and written with ``Store.import_document`` (one
transaction per scan, as ``history import`` does after reading and checking the file).
The template's results state their evidence digests, as a scan writes them (a flipped
result's is made with its new evidence, as the scanner would). The timed write includes
the file digest's sha256, over the document's compact JSON
(the bytes ``findings.dumps`` writes are ~1.4× as many, and take its pure-Python indenting
encoder seconds per day to make: they are not made here).

Prints, as it goes, per engine:

  (a) import: results per second over the year (write time only, the document already
      in memory), beside the rate of the first and last 30 days (how it holds up as the
      store grows), and the store's size;
  (b) ``history import`` of three whole days as a process, reading and checking the JSON
      files too (the end-to-end rate an operator sees);
  (c) each question at that size: median of --repeat in-process answers (the query
      and, for ``report``, the page rendered), and the same command as a whole process,
      beside the floors of ``python -c pass`` and ``python -c 'import sqlalchemy'``.

PostgreSQL is a throwaway cluster (Debian's postgresql, as ``nobody`` when run as root)
on a unix socket, with the server's defaults (fsync on). Nothing is asserted; this is a
script, not a test.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import glob
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.installed import process_env  # noqa: E402

PYTHON = sys.executable
ENV = process_env("history")  # as an installed tool runs: bench/installed.py
FLIP = 0.01
SEED = 20261202
START = datetime.datetime(2025, 12, 1, 2, 0, tzinfo=datetime.timezone.utc)


def say(text: str) -> None:
    print(text, flush=True)


def _template(path: Path | None, work: Path) -> dict[str, Any]:
    if path is None:
        path = work / "template" / "findings.json"
        say(f"scanning this machine once for the fleet's template into {path} ...")
        subprocess.run([PYTHON, "-m", "scanner", "scan", "-q", "-o", str(path.parent)],
                       env=ENV, check=False, stdout=subprocess.DEVNULL)
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    scanned = [h for h in document["hosts"] if h["status"] == "scanned"]
    if not scanned:
        raise SystemExit(f"{path}: no scanned host to copy")
    document["hosts"] = scanned[:1]
    return document


class Fleet:
    """The fleet's state day by day: each host's results, shared with the template except
    where a flip changed them (so a day's document costs little memory)."""

    def __init__(self, template: dict[str, Any], hosts: int) -> None:
        from scanner.decisions import evidence_digest
        from scanner.findings import resummarize

        self._resummarize = resummarize
        self._digest = evidence_digest
        self._template = template
        base = template["hosts"][0]
        self._hosts = [{**base, "name": f"host-{n:03d}", "address": f"10.0.{n // 250}.{n % 250}",
                        "results": list(base["results"])} for n in range(hosts)]
        self._random = random.Random(SEED)
        self.flips = 0

    def day(self, number: int) -> dict[str, Any]:
        started = START + datetime.timedelta(days=number)
        if number:
            for host in self._hosts:
                results = host["results"]
                for index, result in enumerate(results):
                    if result["status"] in ("pass", "fail") and self._random.random() < FLIP:
                        flipped = copy.copy(result)
                        flipped["status"] = "fail" if result["status"] == "pass" else "pass"
                        flipped["observed"] = [{"bench_day": number, "was": result["status"]}]
                        flipped["evidence_digest"] = self._digest(flipped["observed"])
                        results[index] = flipped
                        self.flips += 1
        stamp = started.strftime("%Y-%m-%dT%H:%M:%SZ")
        finished = (started + datetime.timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
        document = {**self._template,
                    "scan": {**self._template["scan"], "started_at": stamp,
                             "finished_at": finished, "evaluated_at": finished,
                             "complete": True},
                    "hosts": [{**h, "results": list(h["results"]), "collected_at": stamp}
                              for h in self._hosts]}
        return self._resummarize(document)


# --- PostgreSQL ------------------------------------------------------------------------

def _pg_binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    return found[-1]


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres(work: Path) -> Iterator[str]:
    """A throwaway cluster on a unix socket; yields the store URL of a fresh database."""
    root = work / "pg"
    data, sockets = root / "data", root / "run"
    sockets.mkdir(parents=True)
    if os.geteuid() == 0:
        for path in (root, sockets):
            shutil.chown(path, "nobody")
    subprocess.run(_as_owner([_pg_binary("initdb"), "-D", str(data), "-U", "cii",
                              "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8"]),
                   check=True, capture_output=True, timeout=300)
    options = f"-c listen_addresses='' -c unix_socket_directories={sockets} -p 5439"
    pg_ctl = _pg_binary("pg_ctl")
    subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-l", str(root / "log"), "-o", options,
                              "-w", "-t", "120", "start"]), check=True, capture_output=True,
                   timeout=180)
    try:
        subprocess.run([_pg_binary("psql"), "-X", "-q", "-h", str(sockets), "-p", "5439", "-U",
                        "cii", "-d", "postgres", "-c", "CREATE DATABASE bench"], check=True,
                       capture_output=True, timeout=60)
        yield f"postgresql://cii@/bench?host={sockets}&port=5439"
    finally:
        subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True, timeout=120, check=False)


def _pg_size(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        size = int(connection.execute(text("SELECT pg_database_size('bench')")).scalar_one())
    engine.dispose()
    return size


# --- measuring -------------------------------------------------------------------------

def _median(values: list[float]) -> float:
    return statistics.median(values)


def _process(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(args, env=ENV, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)}: exit {done.returncode}: "
                             f"{done.stderr.decode(errors='replace')[-400:]}")
    return _median(times)


def _in_process(answer: Callable[[], object], repeat: int) -> float:
    answer()  # connection, caches and compiled statements warm, as a second question is
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer()
        times.append(time.perf_counter() - started)
    return _median(times)


def bench_engine(engine: str, where: str, fleet_days: int, hosts: int,
                 template: dict[str, Any], work: Path, repeat: int) -> None:
    from scanner.findings import dumps
    from scanner.history import queries, report
    from scanner.history.location import parse_location
    from scanner.history.reader import open_reader
    from scanner.history.store import findings_digest, open_store
    from scanner.render.trend import render_trend

    location = parse_location(where)
    fleet = Fleet(template, hosts)
    rates: list[tuple[int, float]] = []
    written = total = 0.0
    held: list[dict[str, Any]] = []
    with open_store(location) as store:
        for number in range(fleet_days):
            document = fleet.day(number)
            content = json.dumps(document, ensure_ascii=False, separators=(",", ":"),
                                 sort_keys=True).encode("utf-8")
            started = time.perf_counter()
            imported = store.import_document(document, f"day {number}",
                                             findings_digest(content))
            del content
            spent = time.perf_counter() - started
            written += imported.results
            total += spent
            rates.append((imported.results, spent))
            if number >= fleet_days - 3:
                held.append(document)
            if number % 30 == 0 or number == fleet_days - 1:
                say(f"  {engine}: day {number + 1}/{fleet_days}: {written:,.0f} results, "
                    f"{written / total:,.0f} results/s so far")
    first = rates[:30]
    last = rates[-30:]
    size = (sum(Path(p).stat().st_size for p in glob.glob(where + "*"))
            if engine == "sqlite" else _pg_size(where))
    say(f"| {engine} import | {written:,.0f} results in {total:,.1f} s | "
        f"**{written / total:,.0f} results/s** | first 30 days "
        f"{sum(r for r, _ in first) / sum(s for _, s in first):,.0f}/s, last 30 "
        f"{sum(r for r, _ in last) / sum(s for _, s in last):,.0f}/s | size "
        f"{size / 2**20:,.0f} MiB | {fleet.flips:,} flips |")

    # (b) the last three days as files, through `history import` as a process, into a
    # new store (reading and checking the JSON is engine-independent: SQLite only)
    if engine == "sqlite":
        second = work / "e2e"
        second.mkdir()
        paths = []
        for index, document in enumerate(held):
            path = second / f"day{index}.json"
            path.write_text(dumps(document), encoding="utf-8")
            paths.append(str(path))
        started = time.perf_counter()
        done = subprocess.run([PYTHON, "-m", "scanner", "history", "import", "-q", *paths,
                               "--store", str(second / "e2e.sqlite")], env=ENV,
                              capture_output=True, check=False)
        spent = time.perf_counter() - started
        results = sum(len(h["results"]) for d in held for h in d["hosts"])
        megabytes = sum(Path(p).stat().st_size for p in paths) / 2**20
        say(f"| {engine} `history import` of 3 days' files into a new store | {results:,} "
            f"results in {spent:.1f} s | {results / spent:,.0f} results/s end to end "
            f"(reading and checking {megabytes:,.0f} MiB of JSON) | exit {done.returncode} |")

    # (c) questions at that size
    now = (START + datetime.timedelta(days=fleet_days - 1, hours=6)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    rule = template["hosts"][0]["results"][0]["rule_id"]
    with open_reader(location) as connection:
        asks: list[tuple[str, list[str], Callable[[], object]]] = [
            ("history host host-007", ["host", "host-007"],
             lambda: queries.host_history(connection, "host-007", now)),
            (f"history rule {rule}", ["rule", rule],
             lambda: queries.rule_history(connection, rule)),
            ("history open --severity high", ["open", "--severity", "high"],
             lambda: queries.open_failures(connection, now, "high")),
            ("history mttr", ["mttr"], lambda: queries.time_to_resolve(connection)),
            ("history diff", ["diff"],
             lambda: queries.changes_since(connection, queries.since_time(connection, None))),
            ("history stale", ["stale"], lambda: queries.stale_hosts(connection, now, 7)),
            ("history report", ["report", "-o", str(work / f"{engine}-trend.html")],
             lambda: render_trend(report.trend(connection, where, now))),
        ]
        inside = {label: _in_process(answer, repeat) for label, _args, answer in asks}
    for label, args, _answer in asks:
        whole = _process([PYTHON, "-m", "scanner", "history", *args, "--store", where], repeat)
        say(f"| {engine} | `{label}` | **{inside[label] * 1000:,.0f} ms** | "
            f"{whole * 1000:,.0f} ms |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--template", type=Path)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cii-history-bench-"))
    work.chmod(0o755)  # the PostgreSQL cluster runs as nobody
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        import sqlalchemy

        template = _template(options.template, work)
        rules = len(template["hosts"][0]["results"])
        say(f"# history bench {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
            f": {options.days} days × {options.hosts} hosts × {rules} rules = "
            f"{options.days * options.hosts * rules:,} results; {os.cpu_count()} CPUs; "
            f"load {os.getloadavg()[0]:.2f}; Python {sys.version.split()[0]}, SQLAlchemy "
            f"{sqlalchemy.__version__}")
        floor = _process([PYTHON, "-c", "pass"], options.repeat)
        alchemy = _process([PYTHON, "-c", "import sqlalchemy"], options.repeat)
        driver = _process([PYTHON, "-c", "import psycopg"], options.repeat)
        say(f"floors as whole processes: `python -c pass` {floor * 1000:,.0f} ms, "
            f"`python -c 'import sqlalchemy'` {alchemy * 1000:,.0f} ms (the writer's "
            f"path), `python -c 'import psycopg'` {driver * 1000:,.0f} ms (PostgreSQL's "
            "driver, which every PostgreSQL question loads)")
        say("| engine | question | in process (median) | whole process (median) |")
        for engine in options.engines.split(","):
            if engine == "sqlite":
                bench_engine(engine, str(work / "history.sqlite"), options.days,
                             options.hosts, template, work, options.repeat)
            else:
                with postgres(work) as url:
                    bench_engine(engine, url, options.days, options.hosts, template, work,
                                 options.repeat)
        say(f"finished {datetime.datetime.now(datetime.timezone.utc):%H:%M} UTC; load "
            f"{os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
