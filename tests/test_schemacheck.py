"""The compiled schema check answers as ``jsonschema`` does, on the schemas it replaces.

scanner.schemacheck decides valid-or-not for the baseline schema and every probe's
argument schema; ``jsonschema`` is only asked to word a problem. So it must never call
valid what ``jsonschema`` calls invalid (a malformed baseline would then load) nor the
reverse. Checked on the shipped and example baselines and on generated mutations of
them: a node replaced, removed, or joined by an unknown key.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import probes, schemacheck
from scanner.resources import baselines_dir, schema_path
from scanner.yamlio import load_file
from tests.test_properties import _JSON, EXAMPLES

SCHEMA = json.loads(schema_path("baseline.schema.json").read_text(encoding="utf-8"))
REFERENCE = jsonschema.Draft202012Validator(SCHEMA)
QUICK = schemacheck.compile_schema(SCHEMA)
# the baseline documents shipped: the baselines and the tailoring example (the waivers and
# inventory examples beside it have schemas of their own)
DOCUMENTS = [load_file(path).data for path in [
    *sorted(baselines_dir().glob("*.yaml")),
    baselines_dir() / "examples" / "tailoring-example.yaml"]]
_LEAVES = st.one_of(_JSON, st.sampled_from(
    ["", "x", "high", "debian", "a.b", "Bad Id", "1.0", "cis", "$p", "probe", "expect"]),
    st.sampled_from([{}, [], {"probe": "os", "expect": {"exists": True}}, {"all": []},
                     {"any": [{"probe": "os", "expect": {"exists": True}}]}, {"en": "x"}]))


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _mutated(document: Any, path: tuple[Any, ...], how: str, leaf: Any) -> Any:
    document = copy.deepcopy(document)
    if not path:
        return leaf
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "replace":
        parent[last] = leaf
    elif how == "remove":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last]["unexpected_key"] = leaf
    else:
        parent[last] = [parent[last], leaf]
    return document


def test_shipped_documents_are_valid_both_ways() -> None:
    assert DOCUMENTS
    for document in DOCUMENTS:
        assert QUICK(document) is True
        assert REFERENCE.is_valid(document)


@settings(max_examples=EXAMPLES * 2, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), how=st.sampled_from(["replace", "remove", "add"]), leaf=_LEAVES)
def test_mutated_baselines_are_judged_as_jsonschema_judges(data: st.DataObject, how: str,
                                                           leaf: Any) -> None:
    document = data.draw(st.sampled_from(DOCUMENTS))
    path = data.draw(st.sampled_from(_paths(document)))
    mutated = _mutated(document, path, how, leaf)
    assert QUICK(mutated) == REFERENCE.is_valid(mutated), (path, how, leaf)


@pytest.mark.parametrize("name", sorted(probes.catalog()))
def test_probe_argument_schemas_are_judged_as_jsonschema_judges(name: str) -> None:
    schema = probes.get(name).args_schema
    quick = schemacheck.compile_schema(schema)
    reference = jsonschema.Draft202012Validator(schema)

    @settings(max_examples=EXAMPLES // 3, deadline=None, derandomize=True)
    @given(args=st.dictionaries(
        st.sampled_from([*schema.get("properties", {}), "extra"]),
        _LEAVES | st.sampled_from(["/etc/passwd", "sshd", "x" * 300, "a b", "net.ipv4.x"]),
        max_size=4))
    def check(args: dict[str, Any]) -> None:
        assert quick(args) == reference.is_valid(args), args

    check()


def test_unknown_keywords_are_refused_not_skipped() -> None:
    with pytest.raises(schemacheck.Unsupported):
        schemacheck.compile_schema({"type": "array", "uniqueItems": True})
    with pytest.raises(schemacheck.Unsupported):
        schemacheck.compile_schema({"$ref": "https://example.org/schema"})


FINDINGS_SCHEMA = json.loads(schema_path("findings.schema.json").read_text(encoding="utf-8"))
FINDINGS_REFERENCE = jsonschema.Draft202012Validator(FINDINGS_SCHEMA,
                                                     format_checker=jsonschema.FormatChecker())
FINDINGS_QUICK = schemacheck.compile_schema(FINDINGS_SCHEMA, formats=True)
_FINDINGS_LEAVES = _LEAVES | st.sampled_from(
    ["2026-06-01", "2026-02-30", "2026-6-1", "٢٠٢٦-٠٦-٠١", "2026-06-01\n", None, True, 0, 1.0,
     -1, 100, 100.5, "scanned", "waived", "fail", "cii-scan", "1.0", {"en": "x", "zh": "y"}])


@cache
def _findings_documents() -> list[dict[str, Any]]:
    from tests.sample_findings import sample_document, sample_old_document

    return [sample_document(), sample_document(waived=False), sample_old_document()]


def test_findings_documents_are_valid_both_ways() -> None:
    for document in _findings_documents():
        assert FINDINGS_QUICK(document) is True
        assert FINDINGS_REFERENCE.is_valid(document)


@settings(max_examples=EXAMPLES * 3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), how=st.sampled_from(["replace", "remove", "add"]),
       leaf=_FINDINGS_LEAVES)
def test_mutated_findings_are_judged_as_jsonschema_judges(data: st.DataObject, how: str,
                                                          leaf: Any) -> None:
    """The findings schema has what the baseline's lacks (const, if/then/else, numeric
    bounds, null in an enum, date formats): each is mutated here."""
    document = data.draw(st.sampled_from(_findings_documents()))
    path = data.draw(st.sampled_from(_paths(document)))
    mutated = _mutated(document, path, how, leaf)
    assert FINDINGS_QUICK(mutated) == FINDINGS_REFERENCE.is_valid(mutated), (path, how, leaf)


def test_formats_other_than_date_are_refused_when_asserted() -> None:
    assert schemacheck.compile_schema({"type": "string", "format": "email"})("x") is True
    with pytest.raises(schemacheck.Unsupported):
        schemacheck.compile_schema({"type": "string", "format": "email"}, formats=True)


def _first_result_with(document: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for h in document["hosts"] for r in h.get("results", ()) if key in r)


@pytest.mark.parametrize("change", [
    "schema_version=1", "schema_version=1.0", "tool=other", "score=-0.1", "score=100.1",
    "score=true", "port=0", "port=65536", "port=22.0", "unscanned-complete",
    "unscanned-incomplete", "waived-without-waiver", "waiver-expires=2026-02-30",
    "judgement-date=2026-13-01", "judgement-date=20260601", "duration=-1"])
def test_each_findings_only_keyword_is_judged_as_jsonschema_judges(change: str) -> None:
    """Each const, bound, condition and date of the findings schema, changed once."""
    document = copy.deepcopy(_findings_documents()[0])
    host = document["hosts"][0]
    unscanned = next(h for h in document["hosts"] if h["status"] != "scanned")
    edits: dict[str, Any] = {
        "schema_version=1": lambda: document.update(schema_version=1),
        "schema_version=1.0": lambda: document.update(schema_version=1.0),
        "tool=other": lambda: document["tool"].update(name="other"),
        "score=-0.1": lambda: document["summary"].update(score=-0.1),
        "score=100.1": lambda: document["summary"].update(score=100.1),
        "score=true": lambda: document["summary"].update(score=True),
        "port=0": lambda: host.update(port=0),
        "port=65536": lambda: host.update(port=65536),
        "port=22.0": lambda: host.update(port=22.0),
        "unscanned-complete": lambda: unscanned.update(complete=True),
        "unscanned-incomplete": lambda: unscanned.update(complete=False),
        "waived-without-waiver": lambda: _first_result_with(document, "waiver").pop("waiver"),
        "waiver-expires=2026-02-30":
            lambda: _first_result_with(document, "waiver")["waiver"].update(
                expires="2026-02-30"),
        "judgement-date=2026-13-01":
            lambda: _first_result_with(document, "judgement")["judgement"].update(
                date="2026-13-01"),
        "judgement-date=20260601":
            lambda: _first_result_with(document, "judgement")["judgement"].update(
                date="20260601"),
        "duration=-1": lambda: host.update(duration_s=-1),
    }
    edits[change]()
    assert FINDINGS_QUICK(document) == FINDINGS_REFERENCE.is_valid(document), change
