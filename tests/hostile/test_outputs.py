"""Outputs: a findings file is replaced whole or not at all, no temp files stay behind, and
an output directory that cannot be written stops the run before any host is contacted."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from scanner.output import write_atomic
from tests.hostile._namespace import CII_SCAN, run_in_namespace


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_full_filesystem_leaves_the_old_findings_whole_and_no_temp_files(
        tmp_path: Path) -> None:
    first = tmp_path / "first"
    done = subprocess.run([*CII_SCAN, "scan", "-q", "-o", str(first)], capture_output=True,
                          timeout=300, check=False)
    assert done.returncode in (0, 3), done.stderr
    old = (first / "findings.json").read_bytes()
    assert len(old) > 64 * 1024
    # a tmpfs just big enough for the old file: the new one cannot fit beside it
    small = tmp_path / "small"
    small.mkdir()
    size_k = len(old) // 1024 + 48
    setup = [f"mount -t tmpfs -o size={size_k}k cii-full {shlex.quote(str(small))}",
             f"cp {shlex.quote(str(first / 'findings.json'))} {shlex.quote(str(small))}/",
             f"echo {shlex.quote('<p>old report</p>')} > {shlex.quote(str(small))}/report.html"]
    check = (f"cmp {shlex.quote(str(first / 'findings.json'))} findings.json && "
             "cat report.html && ls -A")
    done = run_in_namespace({}, ["sh", "-c",
                                 f"cd {shlex.quote(str(small))} && "
                                 f"{shlex.join(CII_SCAN)} scan -q -f html -o . ; "
                                 f"echo exit=$?; {check}"],
                            extra_setup=setup)
    out = done.stdout.decode()
    err = done.stderr.decode()
    assert "exit=2" in out, (out, err)
    assert "cannot write" in err and "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("cii-scan: error:")]
    assert errors == [err.strip().splitlines()[-1]], err  # one error line, last
    assert "<p>old report</p>" in out  # the report was never reached, and not truncated
    listing = out.split("</p>", 1)[1].split()
    assert sorted(listing) == ["findings.json", "report.html"], listing  # no temp files
    assert done.returncode == 0, err  # cmp: the old findings are byte-for-byte intact


def test_read_only_output_directory_fails_before_any_host_is_contacted(
        tmp_path: Path) -> None:
    outdir = tmp_path / "ro"
    outdir.mkdir()
    (outdir / "findings.json").write_text('{"old": true}', encoding="utf-8")
    quoted = shlex.quote(str(outdir))
    setup = [f"mount --bind {quoted} {quoted}", f"mount -o remount,ro,bind {quoted}"]
    # 192.0.2.1 is TEST-NET-1: were it contacted the run would end 3 (unreachable), not 2
    done = run_in_namespace({}, [*CII_SCAN, "scan", "-o", str(outdir), "--timeout", "5",
                                 "--accept-new-hostkeys", "nobody@192.0.2.1"],
                            extra_setup=setup)
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert "output directory is not writable" in err and str(outdir) in err
    assert len(err.strip().splitlines()) == 1, err
    assert "192.0.2.1" not in err
    assert json.loads((outdir / "findings.json").read_text()) == {"old": True}


def test_a_write_that_fails_keeps_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "findings.json"
    target.write_text('{"old": true}', encoding="utf-8")

    text = "x" * 100_000 + "\udc80"  # a lone surrogate: encoding fails after 100 kB
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, text)
    assert target.read_text() == '{"old": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.json"]


def test_a_normal_scan_leaves_no_temp_or_probe_files(tmp_path: Path) -> None:
    done = subprocess.run([*CII_SCAN, "scan", "-q", "-f", "html", "-o", str(tmp_path)],
                          capture_output=True, timeout=300, check=False)
    assert done.returncode in (0, 3), done.stderr
    assert leftovers(tmp_path) == []
