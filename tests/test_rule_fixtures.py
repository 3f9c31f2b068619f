"""Every shipped rule judged on captured host output: at least one passing and one failing case.

Fixtures live in fixtures/rules/<rule-id>.yaml. Each case names its OS (fixtures/os),
where its output was captured (``source``), the raw output of every probe the rule
needs, and the status the rule must give. The outputs go through the real probe
parsers, so a fixture tests parser and rule together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.baseline import load_baseline
from scanner.evaluate import evaluate_rule
from tests.conftest import FIXTURES, facts_from_outputs

RULE_FIXTURES = FIXTURES / "rules"
BASELINE = load_baseline("cii-art9-linux")
RULES = {rule.id: rule for rule in BASELINE.rules}


def _cases() -> list[Any]:
    params = []
    for path in sorted(RULE_FIXTURES.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in document["cases"]:
            params.append(pytest.param(document["rule"], case, path,
                                       id=f"{document['rule']}:{case['name']}"))
    return params


@pytest.mark.parametrize(("rule_id", "case", "path"), _cases())
def test_rule_on_captured_output(rule_id: str, case: dict[str, Any], path: Path) -> None:
    assert rule_id in RULES, f"{path.name}: no rule {rule_id} in the shipped baseline"
    assert case.get("source"), f"{path.name}:{case['name']}: say where the output came from"
    facts = facts_from_outputs(case["os"], case.get("outputs", []))
    result = evaluate_rule(RULES[rule_id], facts, facts.os["family"] if facts.os else None)
    assert result.status == case["expect"], (
        f"{rule_id} [{case['name']}]: got {result.status} ({result.message}); "
        f"observed {result.observed}"
    )
    if "message_contains" in case:
        assert case["message_contains"] in result.message


def test_every_rule_has_a_passing_and_a_failing_fixture() -> None:
    seen: dict[str, set[str]] = {}
    for param in _cases():
        rule_id, case, _ = param.values
        seen.setdefault(rule_id, set()).add(case["expect"])
    missing = [
        f"{rule_id} (has {sorted(seen.get(rule_id, set())) or 'nothing'})"
        for rule_id, rule in RULES.items()
        if not ({"pass", "fail"} <= seen.get(rule_id, set()) or
                (rule.manual is not None and "manual" in seen.get(rule_id, set())))
    ]
    assert not missing, "rules without both a pass and a fail fixture: " + ", ".join(missing)
