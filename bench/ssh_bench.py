"""SSH benchmark against a real OpenSSH fleet on loopback; ratios are measured side by side.

    sudo .venv/bin/python3 bench/ssh_bench.py --hosts 100 --repeat 10 --rtt-ms 20

Needs what the test fleet needs (root, util-linux unshare, iproute2, Debian
openssh-server, sudo, openssl). It starts ``--hosts`` sshd "hosts" from
tests/fleet, then measures, interleaving the variants run by run:

  (a) a full-baseline collection of one host vs the floor: one paramiko
      connection (connect, host-key check, auth) running ``true``, in 3 × --repeat
      alternating pairs (the ratio of the medians, and the quartiles of the pairs' ratios);
  (b) the same probe checks run one exec channel per check over one
      connection (the pytest-testinfra way) vs the one batched exec;
  (c) the whole fleet through ``cii-scan scan`` at -j 1, 10, 50: hosts/second
      and the scanner process's peak RSS (each run in a fresh child process);
  (d) (a) and (b) again through a loopback TCP proxy that adds --rtt-ms of RTT.

It prints a Markdown table; nothing is asserted. This is a script, not a test.
What a user feels -- whole processes, start-up included -- is bench/process_bench.py.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.link import DelayProxy  # noqa: E402
from scanner import collect  # noqa: E402
from scanner.baseline import iter_probe_checks, load_baseline  # noqa: E402
from scanner.inventory import Target  # noqa: E402
from scanner.probes import ProbeCall  # noqa: E402
from scanner.transport.ssh import SshSettings, SshTransport, make_settings  # noqa: E402
from tests.fleet import HostSpec, check_requirements, running_fleet  # noqa: E402

BENCH_PORT_BASE = 3000


def bench_specs(count: int) -> tuple[HostSpec, ...]:
    if not 1 <= count <= 250:
        raise SystemExit("--hosts must be between 1 and 250")
    return tuple(HostSpec(f"bench{i:03d}", f"127.0.2.{i}", BENCH_PORT_BASE + i)
                 for i in range(1, count + 1))


def settings_for(known_hosts: Path, key: Path) -> SshSettings:
    return make_settings(known_hosts=known_hosts, accept_new=False, identity_files=[key],
                         timeout_s=120, max_output_bytes=64 * 1024 * 1024)


def floor_once(target: Target, settings: SshSettings) -> float:
    started = time.perf_counter()
    SshTransport(target, settings).run("true\n")
    return time.perf_counter() - started


def full_once(target: Target, settings: SshSettings, calls: list[ProbeCall]) -> float:
    started = time.perf_counter()
    facts = collect.collect(SshTransport(target, settings), target.identity(), calls)
    elapsed = time.perf_counter() - started
    errors = [c.key for c, r in facts.results.items() if r.status == "error"]
    if errors:
        raise SystemExit(f"probe errors on {target.name}: {errors}")
    return elapsed


def per_check_once(target: Target, settings: SshSettings, checks: list[ProbeCall]) -> float:
    """One connection, one exec channel per check (each runs only its own probe)."""
    started = time.perf_counter()
    transport = SshTransport(target, settings)
    with transport.connected() as (connection, _):
        for call in checks:
            token = collect.new_token()
            stdout, _, _ = transport.execute(connection,
                                             collect.build_script([call], token).encode())
            parsed = collect.parse_output(stdout, [call], token)
            if not parsed.complete:
                raise SystemExit(f"per-check exec of {call.key} did not complete")
    return time.perf_counter() - started


def batched_once(target: Target, settings: SshSettings, calls: list[ProbeCall]) -> float:
    """One connection, one exec of the whole script (the connection cost included)."""
    started = time.perf_counter()
    transport = SshTransport(target, settings)
    with transport.connected() as (connection, _):
        token = collect.new_token()
        stdout, _, _ = transport.execute(connection, collect.build_script(calls, token).encode())
        if not collect.parse_output(stdout, calls, token).complete:
            raise SystemExit("batched exec did not complete")
    return time.perf_counter() - started


def interleaved(repeat: int, variants: dict[str, Callable[[], float]]
                ) -> dict[str, list[float]]:
    """Seconds per variant per round, the variants alternating run by run (after a warm-up)."""
    for run in variants.values():
        run()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, run in variants.items():
            samples[name].append(run())
    return samples


def quartiles(values: list[float]) -> tuple[float, float, float]:
    low, mid, high = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return low, mid, high


def measure_host(label: str, target: Target, settings: SshSettings, calls: list[ProbeCall],
                 checks: list[ProbeCall], repeat: int) -> list[str]:
    # The floor and the full scan alternate in rounds of their own, so each pair is
    # measured seconds apart; the slow per-check variant runs after them, against the
    # batched run, so its half-minute rounds do not sit between the pairs.
    paired = interleaved(3 * repeat, {
        "floor": lambda: floor_once(target, settings),
        "full": lambda: full_once(target, settings, calls),
    })
    ratios = [full / floor for floor, full in zip(paired["floor"], paired["full"], strict=True)]
    low, mid, high = quartiles(ratios)
    batching = interleaved(repeat, {
        "batched": lambda: batched_once(target, settings, calls),
        "per_check": lambda: per_check_once(target, settings, checks),
    })
    floor, full = (statistics.median(paired[name]) for name in ("floor", "full"))
    batched, per_check = (statistics.median(batching[name]) for name in ("batched", "per_check"))
    return [
        f"| {label} | floor: connect+auth+`true` | {floor * 1000:.0f} ms | 1.00× |",
        f"| {label} | full baseline, one exec ({len(calls)} probes) | {full * 1000:.0f} ms | "
        f"{full / floor:.2f}× floor (pairs: median {mid:.2f}×, quartiles {low:.2f}–{high:.2f}) |",
        f"| {label} | one exec per check ({len(checks)} execs, one connection) | "
        f"{per_check * 1000:.0f} ms | "
        f"{per_check / batched:.2f}× batched ({batched * 1000:.0f} ms) |",
    ]


def fleet_child(args: list[str]) -> None:
    """Run one `cii-scan scan` in this (fresh) process; print elapsed time and peak RSS."""
    from scanner.cli import main

    started = time.perf_counter()
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"elapsed": elapsed, "peak_kib": peak_kib, "exit": code}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument("--child-scan", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child_scan is not None:
        fleet_child(options.child_scan)
        return
    check_requirements()
    baseline = load_baseline()
    calls = baseline.probe_calls()
    checks = [call for rule in baseline.rules if rule.check is not None
              for call in iter_probe_checks(rule.check)]
    checks = [ProbeCall.of("os"), *checks]
    lines = ["| setting | what | median | ratio |", "|---|---|---|---|"]
    started_fleet = time.perf_counter()
    with running_fleet(bench_specs(options.hosts), tarpit=False) as fleet:
        print(f"started {options.hosts} sshd hosts in "
              f"{time.perf_counter() - started_fleet:.1f} s", file=sys.stderr)
        settings = settings_for(fleet.known_hosts, fleet.client_key)
        first = fleet.hosts["bench001"]
        # as operators do: an unprivileged account, the collector through sudo -n
        target = Target(first.name, first.address, port=first.port, user="auditor", sudo=True)
        lines += measure_host("loopback", target, settings, calls, checks, options.repeat)
        if options.rtt_ms > 0:
            proxy_address = ("127.0.3.1", 4001)
            proxy = DelayProxy(proxy_address, (first.address, first.port),
                               options.rtt_ms / 2000)
            try:
                known = fleet.base / "known_hosts_proxy"
                key_type, key_b64 = first.host_pub.read_text().split()[:2]
                known.write_text(f"[{proxy_address[0]}]:{proxy_address[1]} {key_type} "
                                 f"{key_b64}\n")
                delayed = Target(first.name, proxy_address[0], port=proxy_address[1],
                                 user="auditor", sudo=True)
                lines += measure_host(f"+{options.rtt_ms:g} ms RTT", delayed,
                                      settings_for(known, fleet.client_key), calls, checks,
                                      max(3, options.repeat // 2))
            finally:
                proxy.close()
        inventory = fleet.base / "bench-inventory.yaml"
        inventory.write_text("defaults: {user: auditor, sudo: true}\nhosts:\n" + "".join(
            f"  - {{name: {h.name}, address: {h.address}, port: {h.port}}}\n"
            for h in fleet.hosts.values()))
        for level in [int(x) for x in options.concurrency.split(",")]:
            with tempfile.TemporaryDirectory() as outdir:
                scan_args = ["scan", "-i", str(inventory), "--known-hosts",
                             str(fleet.known_hosts), "--identity", str(fleet.client_key),
                             "-j", str(level), "-q", "-o", outdir]
                child = subprocess.run([sys.executable, __file__, "--child-scan", *scan_args],
                                       capture_output=True, text=True, check=False,
                                       env=fleet.env())
                result = json.loads(child.stdout.strip().splitlines()[-1])
                document = json.loads((Path(outdir) / "findings.json").read_text())
                scanned = document["summary"]["hosts"]["scanned"]
            lines.append(
                f"| fleet of {options.hosts}, -j {level} | `cii-scan scan` (exit "
                f"{result['exit']}, {scanned} scanned) | "
                f"{options.hosts / result['elapsed']:.1f} hosts/s | "
                f"peak RSS {result['peak_kib'] / 1024:.0f} MiB |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines.append(f"\n{os.cpu_count()} CPUs; load average at the end: {load}; baseline "
                 f"{baseline.id} {baseline.version} ({len(baseline.rules)} rules)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
