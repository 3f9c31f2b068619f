"""The probe catalogue is generated from the code, describes every probe, and
docs/probes.md is what it generates."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from scanner import probes
from scanner.baseline import load_baseline
from tests._scanner import CII_SCAN, REPO_ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CII_SCAN, *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_docs_probes_md_is_what_the_catalogue_generates() -> None:
    done = run("probes", "list", "--markdown")
    assert done.returncode == 0, done.stderr
    current = (REPO_ROOT / "docs" / "probes.md").read_text(encoding="utf-8")
    assert done.stdout == current, ("docs/probes.md is stale: run "
                                    "`python3 -m scanner probes list --markdown > docs/probes.md`")


def test_the_list_names_every_probe_once() -> None:
    done = run("probes", "list")
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert names == sorted(probes.catalog())


@pytest.mark.parametrize("name", sorted(probes.catalog()))
def test_every_probe_is_shown_with_its_consumer_and_arguments(name: str) -> None:
    done = run("probes", "show", name)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{name}: ")
    follows = next(line for line in lines if line.startswith("follows: "))
    assert len(follows) > len("follows: ") + 20  # a sentence, not an empty docstring
    for argument in probes.catalog()[name].args_schema.get("properties", {}):
        assert any(line.startswith(f"  {argument} (") for line in lines), argument


def test_every_example_check_is_one_the_shipped_baseline_uses() -> None:
    shipped = (REPO_ROOT / "baselines" / "cii-art9-linux.yaml").read_text(encoding="utf-8")
    rules = yaml.safe_load(shipped)["rules"]
    used = {rule["check"]["probe"] for rule in rules if "probe" in rule.get("check", {})}
    markdown = run("probes", "list", "--markdown").stdout
    for name in used:
        section = markdown.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        assert f"check: {{probe: {name}," in section, name
    assert load_baseline().rules  # the examples come from a baseline that loads


def test_an_unknown_probe_is_one_line_and_exit_2() -> None:
    done = run("probes", "show", "no_such_probe")
    assert done.returncode == 2
    assert done.stderr == ("cii-scan: error: no_such_probe: no such probe "
                           "(cii-scan probes list names them all)\n")
