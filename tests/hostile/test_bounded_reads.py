"""A host whose every configuration file is gigabytes without a newline (issue #11, item 1).

Every /etc file word the shipped baseline reads (as tests/hostile/test_secrets.py lists
them, a glob's ``*`` naming a new file) becomes a 3 GiB sparse file in an /etc overlay,
and the real ``python -m scanner scan --timeout 60`` runs on it. The collector must stay
within its budget and the scanner under 200 MB, every rule that reads a cut file must be
non-pass with evidence naming the cut, and every rule that reads none of them must be
judged as on the clean twin (the same machine without the overlay).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from scanner.baseline import iter_probe_checks, load_baseline
from scanner.collect import plan_parts
from scanner.probes._common import TOOL_READ_CAP, dump_files, dump_words, split_word_dump
from tests.hostile._namespace import CII_SCAN, REPO_ROOT, run_in_namespace

HUGE = 3 * 1024 ** 3
# Runs the scanner in this process, so its own peak RSS is what is reported.
_MEASURED = ("import resource, runpy, sys\n"
             "sys.argv = ['scanner', *sys.argv[1:]]\n"
             "try:\n"
             "    runpy.run_module('scanner', run_name='__main__')\n"
             "finally:\n"
             "    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
             "    print(f'cii-maxrss-kib {kib}', file=sys.stderr)\n")


def _huge_paths(words: tuple[str, ...]) -> list[str]:
    paths = []
    for word in words:
        (path,) = shlex.split(word)
        if path.startswith("/etc/"):
            paths.append(path.replace("*", "ciihuge"))
    return paths


def _scan(tmp_path: Path, name: str, etc: Path | None) -> tuple[dict[str, Any], int, float]:
    out = tmp_path / name
    argv = [sys.executable, "-c", _MEASURED, "scan", "--timeout", "60", "-o", str(out)]
    assert CII_SCAN[1:] == ("-m", "scanner")  # the checkout's scanner, run as -m runs it
    started = time.monotonic()
    done = run_in_namespace({}, argv, etc_upper=etc, timeout=600, cwd=REPO_ROOT)
    took = time.monotonic() - started
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode in (0, 1, 3), stderr
    kib = int(stderr.rsplit("cii-maxrss-kib ", 1)[1].split()[0])
    findings = json.loads((out / "findings.json").read_text("utf-8"))
    return findings, kib, took


def test_every_file_a_probe_reads_gigabytes_long_costs_only_its_rules(tmp_path: Path) -> None:
    baseline = load_baseline()
    plan = plan_parts(baseline.probe_calls())
    paths = _huge_paths(plan.words)
    assert len(paths) > 30  # every family's files, not a handful
    etc = tmp_path / "etc"
    for path in paths:
        target = etc / Path(path).relative_to("/etc")
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            handle.truncate(HUGE)  # sparse: no newline, no disk
        target.chmod(0o644)

    huge, kib, took = _scan(tmp_path, "huge", etc)
    clean, _, _ = _scan(tmp_path, "clean", None)
    assert took < 60 + 30, f"the scan took {took:.0f} s for --timeout 60"
    assert kib < 200 * 1024, f"the scanner peaked at {kib} KiB"

    (host,) = huge["hosts"]
    (twin,) = clean["hosts"]
    assert host["status"] == "scanned"
    cut_words = {word for word in plan.words if shlex.split(word)[0].startswith("/etc/")}
    calls = baseline.probe_calls()
    reads_cut: dict[str, bool] = {}
    for rule in baseline.rules:
        if rule.check is None:
            continue
        needed = iter_probe_checks(rule.check)
        reads_cut[rule.id] = any(
            plan.words[word] in cut_words
            for call in needed for word in plan.word_uses[calls.index(call)])
    status = {r["rule_id"]: r["status"] for r in host["results"]}
    twin_status = {r["rule_id"]: r["status"] for r in twin["results"]}
    passed_on_cut = sorted(rule for rule, cut in reads_cut.items()
                           if cut and status.get(rule) == "pass")
    assert passed_on_cut == []
    assert sum(reads_cut.values()) > 20
    differ = sorted(f"{rule}: {twin_status.get(rule)} -> {status.get(rule)}"
                    for rule, cut in reads_cut.items()
                    if not cut and status.get(rule) != twin_status.get(rule))
    assert differ == []
    # the evidence names the cut: which file, its size, the cap
    errors = json.dumps(host["probe_errors"])
    assert f"is {HUGE} bytes: cut at " in errors
    assert "/etc/login.defs is" in errors and "/etc/pam.d/ciihuge is" in errors


def test_a_file_over_the_cap_is_not_read_by_either_file_reader(tmp_path: Path) -> None:
    """dump_words (the collector's one files part) and dump_files (a standalone probe's
    sh) both stand a CUT line for a file over the cap and read none of it."""
    (tmp_path / "small").write_text("PASS_MAX_DAYS 90\n")
    with (tmp_path / "huge").open("wb") as handle:
        handle.truncate(HUGE)
    token = "CIIM" + "5" * 32
    words = [shlex.quote(str(tmp_path)) + "/*"]
    env = {"CII_M": token, "PATH": "/usr/bin:/bin"}
    together = subprocess.run(["sh", "-c", dump_words(words, TOOL_READ_CAP)], env=env,
                              capture_output=True, check=True, timeout=60).stdout
    alone = subprocess.run(["sh", "-c", dump_files(*words)], env=env,
                           capture_output=True, check=True, timeout=60).stdout
    assert len(together) < 4096 and len(alone) < 4096
    dumps = split_word_dump(together, token, 1, TOOL_READ_CAP)
    assert dumps is not None and dumps[0].cut
    assert dumps[0].frames == alone
    assert f"{token} CUT {TOOL_READ_CAP} {HUGE} {tmp_path}/huge\n".encode() in alone
