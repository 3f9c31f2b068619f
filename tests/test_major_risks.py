"""重大风险隐患 markers: one closed list, the same in the module and both schemas, and
carried from the baseline into every findings document's rule catalog."""

from __future__ import annotations

import json
from typing import Any

from scanner.baseline import load_baseline
from scanner.findings import rule_catalog
from scanner.major_risks import MAJOR_RISKS, title
from scanner.resources import schema_path


def _enum(schema: str, *path: str) -> list[Any]:
    node = json.loads(schema_path(schema).read_text("utf-8"))
    for key in path:
        node = node[key]
    return list(node["enum"])


def test_the_schemas_allow_exactly_the_closed_list() -> None:
    ids = [risk.id for risk in MAJOR_RISKS]
    assert _enum("baseline.schema.json", "$defs", "rule", "properties", "major_risk") == ids
    assert _enum("findings.schema.json", "properties", "rules", "items", "properties",
                 "major_risk") == [*ids, None]


def test_every_trigger_is_named_in_both_languages() -> None:
    for risk in MAJOR_RISKS:
        assert title(risk.id, "en") and title(risk.id, "zh") != title(risk.id, "en")


def test_the_shipped_baselines_markers_reach_the_findings_catalog() -> None:
    baseline = load_baseline()
    marked = {rule.id: rule.major_risk for rule in baseline.rules if rule.major_risk}
    assert marked["accounts.no-empty-passwords"] == "weak-credentials"
    assert marked["services.insecure-remote-access-absent"] == "cleartext-remote-admin"
    catalog = {entry["id"]: entry["major_risk"] for entry in rule_catalog(baseline)}
    assert {rule_id: risk for rule_id, risk in catalog.items() if risk} == marked
