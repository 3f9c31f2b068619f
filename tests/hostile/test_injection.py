"""Probe arguments are data, never code: hostile values are refused at load (naming file
and line) or reach the host only as single shell words that run nothing.

Every argument of every probe call the shipped baseline makes (plus an sshd connection
spec) is replaced in turn by each hostile value, through a real baseline file.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scanner.baseline import BaselineError, load_baseline
from scanner.collect import (
    build_script,
    new_token,
    parse_output,
    plan_parts,
    runs_in_subshell,
)
from scanner.probes import ProbeCall
from scanner.probes import catalog as get_catalog
from scanner.probes import get as get_probe
from tests.hostile._namespace import CII_SCAN


def hostile_values(marker_dir: Path) -> list[str]:
    """Values that would create a file in marker_dir if any shell ever interpreted them."""
    def touch(n: int) -> str:
        return f"touch {marker_dir}/pwned-{n}"

    raw = [
        f"; {touch(1)}", f"$({touch(2)})", f"`{touch(3)}`", f"\n{touch(4)}\n",
        f"'; {touch(5)}; '", f'"; {touch(6)}; "', f"| {touch(7)}", f"&& {touch(8)}",
        f"x\\'; {touch(9)} #", "-rf", "--help", "-f/etc/shadow", "*", "../../../etc/shadow",
        "a\x00b", "A" * 5000, "user=root,host=$(id)",
    ]
    # path arguments must be absolute: the same payloads behind a slash reach the script
    return raw + ["/" + value for value in raw]


def _sample(spec: dict[str, Any]) -> Any:
    if "enum" in spec:
        return spec["enum"][0]
    if spec.get("type") == "array":
        return [_sample(spec.get("items", {}))]
    return {"integer": 1, "boolean": True}.get(str(spec.get("type")), "x")


def templates() -> list[ProbeCall]:
    """One call per probe that takes arguments: the shipped baseline's, an sshd -C spec, and
    for the other probes every argument they accept filled in (optional ones included)."""
    seen: dict[str, ProbeCall] = {}
    for call in load_baseline().probe_calls():
        if call.args_json != "{}":
            seen.setdefault(call.probe, call)
    seen.setdefault("sshd_effective", ProbeCall.of("sshd_effective", {"connection": "user=root"}))
    for name, probe in sorted(get_catalog().items()):
        properties = probe.args_schema.get("properties", {})
        if properties and name not in seen:
            seen[name] = ProbeCall.of(name, {key: _sample(spec)
                                             for key, spec in properties.items()})
    return list(seen.values())


def variants(call: ProbeCall, value: str) -> list[dict[str, Any]]:
    """The call's arguments with each string (or first list item) replaced by ``value``."""
    out = []
    for name, current in call.args.items():
        args = dict(call.args)
        if isinstance(current, str):
            args[name] = value
        elif isinstance(current, list) and current and isinstance(current[0], str):
            args[name] = [value, *current[1:]]
        else:
            continue
        out.append(args)
    return out


def baseline_text(checks: list[tuple[str, dict[str, Any]]]) -> str:
    """A baseline file with one rule per (probe, args); JSON scalars are valid YAML."""
    lines = ["id: inject", "version: 1.0.0", "title: {en: Injection}", "rules:"]
    for index, (probe, args) in enumerate(checks):
        fields = ", ".join(f"{name}: {json.dumps(value)}" for name, value in args.items())
        lines += [f"  - id: inject.r{index}", "    title: {en: R}", "    severity: low",
                  f"    check: {{probe: {probe}, {fields}, expect: {{exists: true}}}}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[ProbeCall]]:
    """Load every hostile variant through a real file; keep those the schema lets through."""
    work = tmp_path_factory.mktemp("inject")
    markers = work / "markers"
    markers.mkdir()
    kept: list[tuple[str, dict[str, Any]]] = []
    refused = 0
    for call in templates():
        for value in hostile_values(markers):
            for args in variants(call, value):
                path = work / "one.yaml"
                path.write_text(baseline_text([(call.probe, args)]), encoding="utf-8")
                try:
                    load_baseline(str(path))
                except BaselineError as exc:
                    refused += 1
                    assert exc.source == str(path)
                    assert exc.line == 8, str(exc)  # the check line of the only rule
                    assert exc.message.startswith("rules[0].check"), str(exc)
                    continue
                kept.append((call.probe, args))
    assert refused and kept, (refused, len(kept))
    combined = work / "accepted.yaml"
    combined.write_text(baseline_text(kept), encoding="utf-8")
    calls = [ProbeCall.of(probe, args) for probe, args in kept]
    return combined, markers, calls


def test_nul_newline_and_shell_syntax_never_pass_the_stricter_schemas(
        accepted: tuple[Path, Path, list[ProbeCall]]) -> None:
    _, _, calls = accepted
    for call in calls:
        for value in call.args.values():
            text = json.dumps(value)
            assert "\\u0000" not in text, call  # NUL can never reach a shell
            if call.probe in ("sysctl", "sshd_effective", "kernel_module", "service"):
                assert not any(ch in text for ch in ";$`|&'\\n"), call


def test_accepted_hostile_arguments_are_single_quoted_words_in_the_script(
        accepted: tuple[Path, Path, list[ProbeCall]]) -> None:
    baseline_file, markers, _ = accepted
    done = subprocess.run([*CII_SCAN, "collector-script", "-b", str(baseline_file)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    script = done.stdout
    # Each hostile payload appears only inside quoting. The script holds the probes' sh in
    # variables the inner shell evaluates: each assignment is ONE single-quoted word ...
    region = script[script.index("\ncii_p0='"):script.index("\ncii_limits() {")]
    chunks = []
    for number, word in enumerate(shlex.split(region)):
        name, _, value = word.partition("=")
        assert name == f"cii_p{number}", word[:200]
        chunks.append(value)
    # ... which defines one function per part, under a one-line comment: each call's own
    # snippet, byte for byte as the catalog built it with every argument quoted, and the
    # shared file reads.
    unique = sorted(set(load_baseline(str(baseline_file)).probe_calls()))
    plan = plan_parts(unique)
    opened = {True: "(", False: "{"}
    closed = {True: ")", False: "}"}
    assert "".join(chunks) == "".join(
        f"# {part.label}\ncii_p{number}() {opened[runs_in_subshell(part.text)]}\n{part.text}\n"
        f"{closed[runs_in_subshell(part.text)]}\n" for number, part in enumerate(plan.parts))
    for call, own in zip(unique, plan.own, strict=True):
        snippet = get_probe(call.probe).snippet(call.args)
        assert (own is None and not snippet) or plan.parts[own].text == snippet
        for value in call.args.values():
            if isinstance(value, str) and value in snippet:
                assert shlex.quote(value) in snippet, call
    assert all("\n" not in part.label for part in plan.parts)
    output = subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True,
                            timeout=600, check=False).stdout
    assert not list(markers.iterdir()), "a hostile argument ran as a command"
    assert output.count(b" E ") >= len(plan.parts)  # every part ran to its end


def test_accepted_hostile_arguments_run_nothing_in_a_real_scan(
        accepted: tuple[Path, Path, list[ProbeCall]], tmp_path: Path) -> None:
    baseline_file, markers, _ = accepted
    done = subprocess.run([*CII_SCAN, "scan", "-q", "-b", str(baseline_file), "-o",
                           str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode in (0, 3), done.stderr
    assert not list(markers.iterdir()), "a hostile argument ran as a command"
    document = json.loads((tmp_path / "out" / "findings.json").read_text("utf-8"))
    for result in document["hosts"][0]["results"]:
        assert result["status"] != "pass" or result["observed"], result


def test_parsed_frames_match_calls_for_hostile_arguments(
        accepted: tuple[Path, Path, list[ProbeCall]]) -> None:
    _, markers, calls = accepted
    unique = sorted(set(calls))
    token = new_token()
    output = subprocess.run(["dash", "-s"], input=build_script(unique, token).encode(),
                            capture_output=True, timeout=600, check=False).stdout
    parsed = parse_output(output, unique, token)
    assert parsed.complete and parsed.frames_seen == len(plan_parts(unique).parts)
    assert not list(markers.iterdir())


@pytest.mark.parametrize(("probe", "field", "value"), [
    ("file", "path", "/etc/\x00shadow"),
    ("file", "path", "relative/-rf"),
    ("file", "path", "/" + "A" * 5000),
    ("sysctl", "name", "kernel.x\ntouch /tmp/cii-inject"),
    ("sysctl", "name", "../../../etc/shadow"),
    ("sshd_effective", "connection", "user=root,host=$(id)"),
    ("sshd_effective", "connection", "user=root host=x"),
])
def test_cli_refuses_hostile_arguments_with_file_and_line(
        tmp_path: Path, probe: str, field: str, value: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(baseline_text([(probe, {field: value})]), encoding="utf-8")
    done = subprocess.run([*CII_SCAN, "scan", "-b", str(path), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(f"cii-scan: error: {path}:8: "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
