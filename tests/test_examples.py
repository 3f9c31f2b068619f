"""The shipped examples are valid files of their kind, README shows exactly them, and
``cii-scan baselines example KIND`` prints them."""

from __future__ import annotations

import datetime
import subprocess

import pytest

from scanner.baseline import load_baseline
from scanner.inventory import load_inventory
from scanner.judgements import check_judgeable, load_judgements
from scanner.waivers import load_waivers
from tests._scanner import CII_SCAN, REPO_ROOT

EXAMPLES = REPO_ROOT / "baselines" / "examples"
README_SECTION = {"tailoring": "### Tailoring", "waivers": "### Waivers",
                  "judgements": "### Judgements", "inventory": "### Inventories"}


def readme_block(section: str) -> str:
    """The first yaml block under a README heading."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8").split(section + "\n", 1)[1]
    return text.split("```yaml\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("kind", sorted(README_SECTION))
def test_readme_shows_the_example_and_the_command_prints_it(kind: str) -> None:
    example = (EXAMPLES / f"{kind}-example.yaml").read_text(encoding="utf-8")
    assert readme_block(README_SECTION[kind]) == example
    done = subprocess.run([*CII_SCAN, "baselines", "example", kind], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == example


def test_each_example_is_valid_for_its_loader() -> None:
    tailoring = load_baseline(str(EXAMPLES / "tailoring-example.yaml"))
    assert tailoring.extends == ("cii-art9-linux",) and tailoring.disabled
    assert len(load_waivers(EXAMPLES / "waivers-example.yaml")) == 1
    judgements = load_judgements(EXAMPLES / "judgements-example.yaml")
    shipped = load_baseline("cii-art9-linux")
    # every judgement names a manual rule of the shipped baseline, dated in the past
    check_judgeable(judgements, [r.id for r in shipped.rules if r.manual],
                    [r.id for r in shipped.rules if not r.manual], datetime.date(2026, 12, 1))
    assert {j.verdict for j in judgements} == {"pass", "fail"}
    hosts = load_inventory(EXAMPLES / "inventory-example.yaml")
    assert {h.name: set(h.groups) for h in hosts} == {"web1": {"prod", "web"},
                                                      "db1": {"db", "prod"}}


def test_every_example_file_is_one_the_command_offers() -> None:
    offered = {path.name.removesuffix("-example.yaml") for path in EXAMPLES.glob("*.yaml")}
    assert offered == set(README_SECTION)
