"""The compiled evaluator gives exactly the interpreter's outcomes.

``scanner.compiled`` is the fast path the evaluator runs; ``scanner.expect.apply`` is the
specification it must agree with, verdict and detail byte for byte, on every probe check
of the shipped baseline over every rule fixture and fixture host, and on generated
expectations and values (including lists long enough for the name index and values shaped
to fool it: numeric-looking names, booleans, missing and non-text fields). Evidence is
compared with the original recursive cutter, kept here as the reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import compiled
from scanner.baseline import Check, ProbeCheck, load_baseline
from scanner.evaluate import (
    MAX_EVIDENCE_ITEMS,
    MAX_EVIDENCE_TEXT,
    bounded_evidence,
    evaluate,
    evaluate_rule,
    subject_of,
)
from scanner.expect import MISSING, apply, compile_expectation
from scanner.facts import Facts
from scanner.probes import ProbeCall
from tests.conftest import FIXTURES, facts_from_outputs
from tests.test_properties import _EXPECTATIONS, _JSON, EXAMPLES

BASELINE = load_baseline("cii-art9-linux")


def _reference_bounded(value: Any) -> Any:
    """evaluate.bounded_evidence as it was before it was made fast: the reference."""
    if value is MISSING:
        return None
    if isinstance(value, str) and len(value) > MAX_EVIDENCE_TEXT:
        return value[:MAX_EVIDENCE_TEXT] + f"… ({len(value) - MAX_EVIDENCE_TEXT} more chars)"
    if isinstance(value, list) and len(value) > MAX_EVIDENCE_ITEMS:
        return [_reference_bounded(v) for v in value[:MAX_EVIDENCE_ITEMS]] + [
            f"… ({len(value) - MAX_EVIDENCE_ITEMS} more items)"
        ]
    if isinstance(value, list):
        return [_reference_bounded(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _reference_bounded(v) for k, v in value.items()}
    return value


def _fixture_facts() -> Iterator[tuple[str, Facts]]:
    for path in sorted((FIXTURES / "rules").glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in document["cases"]:
            yield (f"{path.stem}:{case['name']}",
                   facts_from_outputs(case["os"], case.get("outputs", [])))
    for path in sorted((FIXTURES / "hosts").glob("*.yaml")):
        host = yaml.safe_load(path.read_text(encoding="utf-8"))
        yield path.stem, facts_from_outputs(host["os"], host["outputs"], host=path.stem)


FACTS = list(_fixture_facts())


def _probe_checks(check: Check | None) -> Iterator[ProbeCheck]:
    if isinstance(check, ProbeCheck):
        yield check
    elif check is not None:
        for part in check.parts:
            yield from _probe_checks(part)


def test_fixtures_are_found() -> None:
    assert len(FACTS) > 100  # a rule fixture per case, and the fixture hosts
    assert any(facts.result(ProbeCall.of("packages")) for _, facts in FACTS)


@pytest.mark.parametrize(("name", "facts"), FACTS, ids=[name for name, _ in FACTS])
def test_every_check_on_every_fixture_as_the_interpreter(name: str, facts: Facts) -> None:
    cache: dict[Any, Any] = {}  # shared by every check on this host, as evaluate() does
    for rule in BASELINE.rules:
        for check in _probe_checks(rule.check):
            result = facts.result(check.call)
            if result is None or result.status != "ok":
                continue
            value, unobservable = subject_of(check, result.data)
            expected = apply(check.expect, value, unobservable, "why")
            assert compiled.apply(check.expect, value, unobservable, "why", cache) == expected, (
                f"{rule.id} on {name}")
            assert bounded_evidence(value, cache) == _reference_bounded(value)


@pytest.mark.parametrize(("name", "facts"), FACTS[-2:], ids=[name for name, _ in FACTS[-2:]])
def test_one_shared_cache_gives_each_rule_its_own_result(name: str, facts: Facts) -> None:
    family = facts.os["family"] if facts.os else None
    alone = [evaluate_rule(rule, facts, family) for rule in BASELINE.rules]
    assert evaluate(BASELINE, facts) == sorted(alone, key=lambda r: r.rule_id)
    assert evaluate(BASELINE, facts) == evaluate(BASELINE, facts)


# Expectations aimed at the compiled path's shortcuts: name sets (the index), numbers and
# booleans among operands (which must not use it), every quantifier and count.
_AIMED = [
    {"any_item": {"name": {"in": ["a", "b", "x"]}}},
    {"no_item": {"name": {"in": ["a", "1", "x"]}}},
    {"no_item": {"name": {"in": ["a", True]}, "uid": {"ge": 1}}},
    {"any_item": {"name": {"equals": "x"}, "configured": {"equals": True}}},
    {"count": {"where": {"name": {"in": ["a", "x"]}}, "ge": 2}},
    {"count": {"where": {"uid": {"equals": 0}, "name": {"equals": "a"}}, "equals": 1}},
    {"count": {"ge": 3}},
    {"all_items": {"name": {"in": ["a", "x"]}}},
    {"any_item": {"in": ["a", "x", 2]}},
    {"no_item": {"in": ["a", "x"]}},
    {"any_item": {"equals": "a"}},
    {"in": ["1", "a", True, 2.5]}, {"not_in": [0, "no", False]}, {"equals": True},
    {"equals": "1.0"}, {"not_equals": "yes"}, {"contains": 1}, {"not_contains": "true"},
    {"any": [{"in": ["a"]}, {"exists": False}]}, {"none": [{"lt": 0}, {"matches": "^x"}]},
    {"not": {"any_item": {"name": {"equals": "a"}}}}, {"exists": False}, {"absent": False},
    {"all": [{"not_matches": "b"}, {"empty": False}]},
    # item matches run quiet (no wording of an item's failure): nested, negated, combined
    {"all_items": {"name": {"not": {"in": ["a", "1"]}}}},
    {"no_item": {"any": [{"matches": "^x"}, {"lt": 1}, {"contains": "b"}]}},
    {"any_item": {"any_item": {"equals": "a"}}}, {"all_items": {"no_item": {"gt": 1}}},
    {"count": {"where": {"matches": "a|1"}, "lt": 2}},
    {"any_item": {"name": {"all": [{"exists": True}, {"not_equals": "b"}]}, "uid": {"ge": 0}}},
    {"no_item": {"count": {"ge": 1}}}, {"any_item": {"version_ge": "1.0"}},
]
_COMPILED = [compile_expectation(raw, {}) for raw in [*_EXPECTATIONS, *_AIMED]]

_NAMES = st.sampled_from(["a", "b", "x", "1", "1.0", " 2", "true", "True", "NO", ""])
_RECORD = st.one_of(
    st.fixed_dictionaries({"name": _NAMES | st.none() | st.integers(0, 3) | st.booleans()},
                          optional={"uid": st.integers(-1, 2) | _NAMES,
                                    "configured": st.booleans() | _NAMES,
                                    "x": _JSON}),
    _JSON,
)
_PLAIN_RECORD = st.fixed_dictionaries(
    {"name": _NAMES | st.none() | st.integers(0, 3) | st.booleans()},
    optional={"uid": st.integers(-1, 2) | _NAMES, "configured": st.booleans() | _NAMES})
_LONG = compiled.INDEX_FROM + 1
# long lists reach the index (compiled.INDEX_FROM); short ones the item-by-item path
_LISTS = st.one_of(st.lists(_RECORD, max_size=8),
                   st.lists(_PLAIN_RECORD | _NAMES | st.integers(0, 2), min_size=_LONG,
                            max_size=_LONG + 6),
                   st.lists(_NAMES, min_size=_LONG, max_size=_LONG + 6))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(expectation=st.sampled_from(_COMPILED),
       value=st.one_of(_JSON, _NAMES, _LISTS, st.just(MISSING)),
       unobservable=st.sampled_from([{}, {"name": "name unreadable"}]))
def test_generated_expectations_and_values_as_the_interpreter(
        expectation: Any, value: Any, unobservable: dict[str, str]) -> None:
    expected = apply(expectation, value, unobservable, "why")
    cache: dict[Any, Any] = {}
    assert compiled.apply(expectation, value, unobservable, "why", cache) == expected
    assert compiled.apply(expectation, value, unobservable, "why", cache) == expected
    assert bounded_evidence(value, cache) == _reference_bounded(value)


@given(value=st.one_of(_JSON, st.text(min_size=MAX_EVIDENCE_TEXT - 2,
                                      max_size=MAX_EVIDENCE_TEXT + 2),
                       st.lists(_NAMES, min_size=MAX_EVIDENCE_ITEMS - 1,
                                max_size=MAX_EVIDENCE_ITEMS + 2)))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True)
def test_evidence_is_cut_as_before(value: Any) -> None:
    assert bounded_evidence(value) == _reference_bounded(value)
    assert bounded_evidence([value, {"k": value}], {}) == _reference_bounded([value, {"k": value}])


def test_the_compiled_closure_is_built_once(tmp_path: Path) -> None:
    expectation = compile_expectation({"in": ["a"]}, {})
    assert compiled.compiled(expectation) is compiled.compiled(expectation)


def test_a_result_made_without_the_dataclass_init_has_every_field_of_rule_result() -> None:
    """evaluate._result fills RuleResult's __dict__ itself: its field list must be
    RuleResult's, the fields it leaves at None must default to None, and nothing may run
    at construction that it skips."""
    from dataclasses import fields

    from scanner import evaluate
    from scanner.findings import RuleResult

    declared = fields(RuleResult)
    assert tuple(f.name for f in declared) == evaluate._RESULT_FIELDS
    assert all(f.default is None for f in declared if f.name in evaluate._RESULT_NONE)
    assert not hasattr(RuleResult, "__post_init__") and not hasattr(RuleResult, "__slots__")
