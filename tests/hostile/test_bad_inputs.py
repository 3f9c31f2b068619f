"""Bad baseline and evidence files through the real `cii-scan` command: exit 2, one line on
stderr naming the file (and line where there is one), no traceback unless --debug, and
nothing scanned or written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.hostile._namespace import CII_SCAN, skip_or_fail

HEAD = "id: bad\nversion: 1.0.0\ntitle: {en: Bad}\n"
RULE = ("  - id: a.rule\n    title: {en: A}\n    severity: low\n"
        "    check: {probe: file, path: /etc/passwd, expect: {exists: true}}\n")

# name -> (file bytes, expected line or None, words the message must contain)
BASELINES: dict[str, tuple[bytes, int | None, str]] = {
    "invalid-yaml": ((HEAD + "rules: [\n  {id: x\n").encode(), None, "invalid YAML"),
    "wrong-type-rules": ((HEAD + "rules: just-a-string\n").encode(), 4, "rules"),
    "wrong-type-severity": ((HEAD + "rules:\n" + RULE.replace("low", "[low]")).encode(), 7,
                            "severity"),
    "unknown-top-key": ((HEAD + "rulez: []\n").encode(), 4, "unknown key 'rulez'"),
    "duplicate-ids": ((HEAD + "rules:\n" + RULE + RULE).encode(), 9, "duplicate rule id"),
    "billion-laughs": (("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10))
        + HEAD).encode(), None, "alias expansion"),
    "huge": (HEAD.encode() + b"# padding padding padding\n" * 400_000, None, "limit"),
    "non-utf8": ((HEAD + "# 中文注释\n").encode("gbk"), None, "UTF-8"),
    "utf16": (HEAD.encode("utf-16"), None, ""),
    "binary": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8, None, ""),
    "empty": (b"", None, "empty"),
    "only-comments": (b"# nothing here\n", None, "empty"),
    "a-list": (b"- id: x\n", None, "mapping"),
    "deep-nesting": ((HEAD + "x: " + "[" * 200 + "]" * 200 + "\n").encode(), None, ""),
}


def run(*args: str, user: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(user or []), *CII_SCAN, *args], capture_output=True, text=True,
                          timeout=120, check=False, cwd="/")


def assert_one_line_error(done: subprocess.CompletedProcess[str], source: Path,
                          line: int | None = None, words: str = "") -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    prefix = f"cii-scan: error: {source}" + (f":{line}: " if line is not None else ":")
    assert lines[0].startswith(prefix), (prefix, lines[0])
    assert words in lines[0]


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_bad_baseline_file_is_one_line_exit_2_and_nothing_scanned(tmp_path: Path,
                                                                  name: str) -> None:
    content, line, words = BASELINES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(content)
    outdir = tmp_path / "out"
    done = run("scan", "-b", str(path), "-o", str(outdir))
    assert_one_line_error(done, path, line, words)
    assert not outdir.exists()


def test_baseline_that_is_a_directory_missing_or_circular(tmp_path: Path) -> None:
    assert_one_line_error(run("baselines", "validate", str(tmp_path)), tmp_path, None,
                          "directory")
    missing = tmp_path / "missing.yaml"
    assert_one_line_error(run("baselines", "validate", str(missing)), missing, None,
                          "not found")
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(HEAD + "extends: b.yaml\n", encoding="utf-8")
    second.write_text(HEAD.replace("bad", "b") + "extends: a.yaml\n", encoding="utf-8")
    done = run("scan", "-b", str(first), "-o", str(tmp_path / "out"))
    assert done.returncode == 2 and "circular extends" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_error_in_an_extended_file_names_that_file(tmp_path: Path) -> None:
    parent = tmp_path / "parent.yaml"
    parent.write_text(HEAD + "rules:\n" + RULE.replace("severity: low", "severity: urgent"),
                      encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text(HEAD.replace("bad", "child") + "extends: parent.yaml\n", encoding="utf-8")
    assert_one_line_error(run("baselines", "validate", str(child)), parent, 7, "severity")


def test_unreadable_baseline_is_one_line(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        skip_or_fail("needs root and setpriv to drop the capabilities that bypass file modes")
    secret = tmp_path / "private.yaml"
    secret.write_text(HEAD, encoding="utf-8")
    os.chown(secret, 65534, 65534)
    secret.chmod(0o600)
    # still uid 0 (the installed command stays reachable), but file modes now apply
    no_override = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                   "--bounding-set=-dac_override,-dac_read_search"]
    done = run("scan", "-b", str(secret), "-o", str(tmp_path / "out"), user=no_override)
    assert_one_line_error(done, secret, None, "ermission denied")
    assert not (tmp_path / "out").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(BASELINES["duplicate-ids"][0])
    done = run("--debug", "baselines", "validate", str(path))
    assert done.returncode != 0
    assert "Traceback" in done.stderr
    assert "duplicate rule id" in done.stderr


@pytest.fixture(scope="module")
def good_evidence(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes, bytes]:
    """A real facts JSON, a real raw collector output and a real findings document."""
    work = tmp_path_factory.mktemp("evidence")
    facts = work / "facts.json"
    assert run("collect", "-o", str(facts)).returncode == 0
    script = run("collector-script").stdout
    raw = subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True,
                         timeout=300, check=True).stdout
    done = run("evaluate", str(facts), "-o", str(work / "out"))
    assert done.returncode in (0, 3), done.stderr
    return facts.read_bytes(), raw, (work / "out" / "findings.json").read_bytes()


def bad_evidence(facts: bytes, raw: bytes, findings: bytes) -> dict[str, bytes]:
    plan_start = raw.index(b" PLAN ") + len(b" PLAN ")
    return {
        "invalid-json": b"{not json at all",
        "truncated-facts": facts[: len(facts) // 2],
        "facts-wrong-kind": findings,  # a findings document is not facts
        "facts-wrong-types": json.dumps({**json.loads(facts), "probes": "none"}).encode(),
        "json-list": b"[1, 2, 3]",
        "damaged-plan": raw[:plan_start] + b"{\"calls\": [[" + raw[plan_start + 40:],
        "unknown-probe-in-plan": raw[:plan_start]
        + b'{"calls":[["rm_rf",{}]],"tool":"9.9"}' + raw[raw.index(b"\n", plan_start):],
        "binary-junk": bytes(range(256)) * 64,
        "empty": b"",
        "utf16-facts": facts.decode().encode("utf-16"),
    }


def test_bad_evidence_is_one_line_exit_2(tmp_path: Path,
                                         good_evidence: tuple[bytes, bytes, bytes]) -> None:
    for name, content in bad_evidence(*good_evidence).items():
        path = tmp_path / f"{name}.out"
        path.write_bytes(content)
        outdir = tmp_path / f"out-{name}"
        done = run("evaluate", str(path), "-o", str(outdir))
        assert_one_line_error(done, path)
        assert not (outdir / "findings.json").exists(), name


def test_evidence_that_is_a_directory_or_missing(tmp_path: Path) -> None:
    for path in (tmp_path, tmp_path / "missing.txt"):
        done = run("evaluate", str(path), "-o", str(tmp_path / "out"))
        assert done.returncode == 2, done.stderr
        assert str(path) in done.stderr and "Traceback" not in done.stderr


LAUGHS = BASELINES["billion-laughs"][0]
# name -> (file bytes, words the message must contain); for every input file that is not
# a baseline. None: the path is a directory.
OTHER_FILES: dict[str, tuple[bytes | None, str]] = {
    "billion-laughs": (LAUGHS.replace(HEAD.encode(), b"hosts: []\n"), ""),
    "huge": (b"# padding padding padding\n" * 400_000, "limit"),
    "non-utf8": ("# 中文注释\n".encode("gbk"), "UTF-8"),
    "binary": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8, ""),
    "empty": (b"", ""),
    "only-comments": (b"# nothing here\n", ""),
    "directory": (None, ""),
}
# how each kind of file is given to the command line, and its file name
OTHER_KINDS = {"yaml-inventory": ("-i", "hosts.yaml"), "ini-inventory": ("-i", "hosts.ini"),
               "waivers": ("--waivers", "waivers.yaml")}


@pytest.mark.parametrize("kind", sorted(OTHER_KINDS))
@pytest.mark.parametrize("name", sorted(OTHER_FILES))
def test_bad_inventory_or_waiver_file_is_one_line_exit_2_and_nothing_scanned(
        tmp_path: Path, kind: str, name: str) -> None:
    option, filename = OTHER_KINDS[kind]
    content, words = OTHER_FILES[name]
    path = tmp_path / filename
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    outdir = tmp_path / "out"
    done = run("scan", option, str(path), "-o", str(outdir))
    assert_one_line_error(done, path, None, words)
    assert not outdir.exists()
