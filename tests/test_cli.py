"""The `cii-scan` command of this checkout (`python -m scanner`), run for real on this machine."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import shlex
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from scanner import terminal
from scanner.baseline import load_baseline
from scanner.findings import SEVERITIES
from tests._scanner import CII_SCAN, require_root


def run(*args: str, cwd: Path | None = None, stdin: bytes | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CII_SCAN, *args], capture_output=True, text=True, cwd=cwd,
                          input=stdin.decode() if stdin else None, timeout=300, check=False)


def stable(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-host verdicts of two live collections of this machine.

    Two collections are seconds apart on a live host, so volatile evidence (the
    process list other work on the machine changes) may differ; the verdicts may
    not. Exact equality of everything but time fields, for the same evidence, is
    test_evaluating_the_same_facts_is_deterministic.
    """
    return [{"status": host["status"], "os": host["os"],
             "results": [(r["rule_id"], r["status"], r["expected"]) for r in host["results"]]}
            for host in document["hosts"]]


@pytest.fixture(scope="module")
def local_scan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("scan")
    done = run("scan", "-o", str(outdir))
    assert done.returncode in (0, 3), done.stderr
    document: dict[str, Any] = json.loads((outdir / "findings.json").read_text())
    document["_exit"] = done.returncode
    document["_outdir"] = str(outdir)
    document["_stderr"] = done.stderr
    return document


def test_default_scan_evaluates_every_rule_and_validates(local_scan: dict[str, Any]) -> None:
    baseline = load_baseline("cii-art9-linux")
    assert local_scan["baseline"]["id"] == "cii-art9-linux"
    (host,) = local_scan["hosts"]
    assert host["status"] == "scanned"
    assert host["transport"] == "local"
    assert [r["rule_id"] for r in host["results"]] == sorted(r.id for r in baseline.rules)
    done = run("validate", str(Path(local_scan["_outdir"]) / "findings.json"))
    assert done.returncode == 0, done.stderr
    assert "findings.json" in local_scan["_stderr"]
    expected_exit = 0 if local_scan["summary"]["complete"] else 3
    assert local_scan["_exit"] == expected_exit


def test_a_root_scan_of_this_machine_errors_only_for_want_of_privilege(
        local_scan: dict[str, Any]) -> None:
    """Run as root, nothing needs more privilege: every rule gets a verdict (or manual / not
    applicable), and any error left says that privilege was missing."""
    require_root("a root scan of this machine")
    (host,) = local_scan["hosts"]
    errors = {r["rule_id"]: r["message"] for r in host["results"] if r["status"] == "error"}
    unexplained = {rule: message for rule, message in errors.items()
                   if not any(word in message for word in ("root", "--sudo", "ermission"))}
    assert unexplained == {}


def test_no_rule_passes_on_a_failed_probe(local_scan: dict[str, Any]) -> None:
    (host,) = local_scan["hosts"]
    for result in host["results"]:
        if any("error" in item for item in result["observed"]):
            assert result["status"] in ("error", "manual", "fail"), result
        if result["status"] == "pass":
            assert all("value" in item for item in result["observed"]), result


def test_collect_then_evaluate_equals_scan(tmp_path: Path, local_scan: dict[str, Any]) -> None:
    facts = tmp_path / "facts.json"
    done = run("collect", "-o", str(facts))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "eval"
    done = run("evaluate", str(facts), "-o", str(out))
    assert done.returncode in (0, 3), done.stderr
    evaluated = json.loads((out / "findings.json").read_text())
    assert evaluated["scan"]["command"] == "evaluate"
    assert stable(evaluated) == stable(local_scan)


def test_evaluating_the_same_facts_is_deterministic(tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    assert run("collect", "-o", str(facts)).returncode == 0
    documents = []
    for name in ("first", "second"):
        assert run("evaluate", str(facts), "-o", str(tmp_path / name)).returncode in (0, 3)
        document = json.loads((tmp_path / name / "findings.json").read_text())
        for key in ("started_at", "finished_at", "evaluated_at"):  # when, not what
            document["scan"].pop(key)
        documents.append(document)
    assert documents[0] == documents[1]


def test_collector_script_output_evaluates_offline(tmp_path: Path,
                                                   local_scan: dict[str, Any]) -> None:
    script = run("collector-script")
    assert script.returncode == 0
    assert script.stdout.startswith("#!/bin/sh")
    raw = subprocess.run(["sh"], input=script.stdout.encode(), capture_output=True,
                         check=True, timeout=300).stdout
    output = tmp_path / "collector-output.txt"
    output.write_bytes(raw)
    out = tmp_path / "offline"
    done = run("evaluate", str(output), "-o", str(out))
    assert done.returncode in (0, 3), done.stderr
    offline = json.loads((out / "findings.json").read_text())
    assert offline["hosts"][0]["transport"] == "offline"
    assert stable(offline) == stable(local_scan)


FAILING_TAILORING = """\
    id: gate-test
    version: 1.0.0
    title: {en: Gate test}
    rules:
      - id: gate.always-fails-high
        title: {en: A high rule this machine cannot meet}
        severity: high
        check: {probe: sysctl, name: kernel.randomize_va_space, expect: {equals: 7}}
      - id: gate.passes
        title: {en: A rule that passes}
        severity: critical
        check: {probe: file, path: /etc/passwd, expect: {exists: true}}
    """


@pytest.mark.parametrize(("args", "code"), [
    ((), 0),  # without --fail-on, failures never change the exit code
    (("--fail-on", "critical"), 0),
    (("--fail-on", "high"), 1),
    (("--fail-on", "low"), 1),
])
def test_exit_codes_follow_fail_on(tmp_path: Path, args: tuple[str, ...], code: int) -> None:
    baseline = tmp_path / "gate.yaml"
    baseline.write_text(textwrap.dedent(FAILING_TAILORING), encoding="utf-8")
    done = run("scan", "-b", str(baseline), "-o", str(tmp_path / "out"), *args)
    assert done.returncode == code, done.stderr


def test_choices_are_read_in_any_case(tmp_path: Path) -> None:
    baseline = tmp_path / "gate.yaml"
    baseline.write_text(textwrap.dedent(FAILING_TAILORING), encoding="utf-8")
    done = run("scan", "-b", str(baseline), "-o", str(tmp_path / "out"), "--fail-on", "HIGH",
               "-f", "HTML", "--lang", "ZH")
    assert done.returncode == 1, done.stderr
    assert (tmp_path / "out" / "report.html").is_file()
    document = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert document["scan"]["fail_on"] == "high"  # passed on as listed


def test_quiet_prints_nothing_on_every_command_that_writes(tmp_path: Path) -> None:
    baseline = tmp_path / "gate.yaml"
    baseline.write_text(textwrap.dedent(FAILING_TAILORING), encoding="utf-8")
    facts, out = tmp_path / "facts.json", tmp_path / "out"
    runs = {
        "scan": run("scan", "-q", "-b", str(baseline), "-o", str(out), "-f", "csv"),
        "collect": run("collect", "-q", "-b", str(baseline), "-o", str(facts)),
        "evaluate": run("evaluate", "-q", str(facts), "-b", str(baseline),
                        "-o", str(tmp_path / "again")),
        "report": run("report", "-q", str(out / "findings.json"), "-o",
                      str(tmp_path / "report.html")),
        "diff": run("diff", "-q", str(out / "findings.json"),
                    str(tmp_path / "again" / "findings.json"), "-o", str(tmp_path / "d.txt")),
    }
    for command, done in runs.items():
        assert done.returncode == 0, (command, done.stderr)
        assert (done.stdout, done.stderr) == ("", ""), command
    assert (out / "findings.csv").is_file() and (tmp_path / "d.txt").is_file()
    loud = run("scan", "-b", str(baseline), "-o", str(out))
    assert "wrote" in loud.stderr and "host in scope" in loud.stderr


def test_an_outdir_that_is_a_file_is_named_as_such(tmp_path: Path) -> None:
    existing = tmp_path / "findings.json"
    existing.write_text("{}")
    done = run("scan", "-o", str(existing))
    assert done.returncode == 2
    assert done.stderr == (f"cii-scan: error: {existing}: not a directory (the output "
                           "directory is where findings.json and the reports are written, "
                           "e.g. -o results)\n")
    assert existing.read_text() == "{}"


def test_incomplete_scan_exits_3_unless_told_otherwise(tmp_path: Path) -> None:
    baseline = tmp_path / "incomplete.yaml"
    baseline.write_text(textwrap.dedent("""\
        id: incomplete
        version: 1.0.0
        title: {en: Incomplete}
        rules:
          - id: probe.cannot-see
            title: {en: A sysctl file that is not readable}
            severity: low
            check: {probe: sysctl, name: net.ipv4.route.flush, expect: {equals: 0}}
        """), encoding="utf-8")
    done = run("scan", "-b", str(baseline), "-o", str(tmp_path / "out"))
    document = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert document["hosts"][0]["results"][0]["status"] == "error"
    assert done.returncode == 3
    done = run("scan", "-b", str(baseline), "-o", str(tmp_path / "out"),
               "--no-fail-on-incomplete")
    assert done.returncode == 0


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nversion: 1.0.0\ntitle: {en: X}\nrules:\n  - id: a.b\n", "utf-8")
    done = run("scan", "-b", str(bad), "-o", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"cii-scan: error: {bad}:5: ")
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists(), "nothing is scanned or written on bad input"


def test_unwritable_outdir_fails_before_scanning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = run("scan", "-o", str(blocker / "out"))
    assert done.returncode == 2
    assert "output directory is not writable" in done.stderr


def test_validate_rejects_a_broken_findings_document(tmp_path: Path,
                                                     local_scan: dict[str, Any]) -> None:
    document = {k: v for k, v in local_scan.items() if not k.startswith("_")}
    document["hosts"][0]["results"][0]["status"] = "passed"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(document))
    done = run("validate", str(path))
    assert done.returncode == 2
    assert "not a valid findings document" in done.stderr
    path.write_text("{not json")
    assert run("validate", str(path)).returncode == 2


def test_usage_errors_exit_2() -> None:
    assert run("scan", "-f", "pdf").returncode == 2
    assert run("no-such-command").returncode == 2
    assert run("evaluate").returncode == 2


def test_help_documents_exit_codes() -> None:
    done = run("--help")
    assert done.returncode == 0
    for line in ("0  complete", "1  a failure at or above --fail-on", "2  bad usage",
                 "3  incomplete"):
        assert line in done.stdout


def test_baselines_list_and_show() -> None:
    listed = run("baselines", "list")
    assert listed.returncode == 0
    assert listed.stdout.startswith("cii-art9-linux\t")
    shown = run("baselines", "show", "cii-art9-linux", "--lang", "zh")
    assert shown.returncode == 0
    assert "禁止 root 通过 SSH 直接登录" in shown.stdout


def test_outputs_get_ordinary_file_modes(tmp_path: Path) -> None:
    done = subprocess.run(f"umask 022; {shlex.join(CII_SCAN)} scan -o {tmp_path}/out", shell=True,
                          capture_output=True, text=True, check=False)
    assert done.returncode in (0, 3), done.stderr
    assert (tmp_path / "out" / "findings.json").stat().st_mode & 0o777 == 0o644
    assert not list((tmp_path / "out").glob(".*.tmp")), "no temp files left behind"


def test_the_end_of_a_scan_tells_its_findings_story(local_scan: dict[str, Any]) -> None:
    """The last lines on stderr are the story of the findings.json just written: each
    failed rule most severe first, the summary and where to read on."""
    findings = Path(local_scan["_outdir"]) / "findings.json"
    document = json.loads(findings.read_text())  # as written (other tests edit the fixture's)
    expected = [*terminal.story(document, "en", colour=False),
                terminal.summary_line(document["summary"]),
                terminal.next_step(findings, None)]
    assert local_scan["_stderr"].splitlines()[-len(expected):] == expected
    (host,) = document["hosts"]
    failed = [r for r in host["results"] if r["status"] == "fail"]
    if failed:  # the most severe failure is named, with its title
        first = min(failed, key=lambda r: (SEVERITIES.index(r["severity"]), r["rule_id"]))
        assert f" {first['rule_id']}  " in expected[1]
    assert "\x1b[" not in local_scan["_stderr"]  # not a terminal: no colour


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("1", False)])
def test_colour_only_on_a_terminal_without_no_color(tmp_path: Path, no_color: str | None,
                                                    coloured: bool) -> None:
    baseline = tmp_path / "gate.yaml"
    baseline.write_text(textwrap.dedent(FAILING_TAILORING), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    primary, secondary = pty.openpty()
    try:
        done = subprocess.run([*CII_SCAN, "scan", "-b", str(baseline), "-o", str(tmp_path / "o")],
                              stdout=subprocess.DEVNULL, stderr=secondary, env=env,
                              timeout=300, check=False)
        os.close(secondary)
        text = b""
        with contextlib.suppress(OSError):  # EIO once the terminal's other side has closed
            while chunk := os.read(primary, 65536):
                text += chunk
    finally:
        os.close(primary)
    assert done.returncode == 0
    assert b"gate.always-fails-high" in text
    assert (b"\x1b[31m" in text) is coloured


def test_shell_completion_completes_commands_and_choices() -> None:
    """docs/reading-results.md's completion line: click's own completion answers."""
    def complete(words: str) -> list[str]:
        env = {**os.environ, "_CII_SCAN_COMPLETE": "bash_complete", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - 1)}
        done = subprocess.run(CII_SCAN, capture_output=True, text=True, env=env, timeout=60,
                              check=False)
        return done.stdout.split()

    assert "plain,scan" in complete("cii-scan sc")
    assert complete("cii-scan scan --fail-on h") == ["plain,high"]
    source = subprocess.run(CII_SCAN, capture_output=True, text=True, timeout=60, check=False,
                            env={**os.environ, "_CII_SCAN_COMPLETE": "bash_source"})
    assert "_cii_scan_completion()" in source.stdout
