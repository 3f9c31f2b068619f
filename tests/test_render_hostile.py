"""Arbitrary host names and evidence never break or inject into any output format."""

from __future__ import annotations

import copy
import csv
import io
import json
from html.parser import HTMLParser
from typing import Any
from xml.etree import ElementTree

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st
from junitparser import JUnitXml

from scanner.findings import validate_document
from scanner.render import OutputFormat, render
from tests._scanner import SARIF_SCHEMA as SARIF_SCHEMA_FILE
from tests.sample_findings import sample_document

BASE = sample_document()
SARIF_SCHEMA = SARIF_SCHEMA_FILE
SARIF_VALIDATOR = jsonschema.Draft7Validator(json.loads(SARIF_SCHEMA.read_text("utf-8")))
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40)
SPICY = st.sampled_from(["<script>alert(1)</script>", '"', "'", "{{ 7*7 }}", "{% raw %}",
                         "=cmd|' /C calc'!A0", "+1", "-1", "@x", "\t", "\r", "\x00", "\x1b[2J",
                         "\ufffe", "]]>", "&amp;", "</pre>", "\u2028"])
HOSTILE_TEXT = st.lists(st.one_of(ANY_TEXT, SPICY), min_size=1, max_size=4).map("".join)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.event_attrs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.event_attrs += sum(1 for name, _ in attrs if name.startswith("on"))


def _document(name: str, evidence: str) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    host = next(h for h in document["hosts"] if h["name"] == "web-01")
    host["name"] = name
    for result in host["results"]:
        result["observed"] = [{"probe": "file", "args": {"path": "/etc/" + evidence},
                               "value": evidence}]
        result["message"] = evidence
    validate_document(document)
    return document


@settings(max_examples=25, deadline=None)
@given(name=HOSTILE_TEXT, evidence=HOSTILE_TEXT)
def test_every_format_stays_well_formed(name: str, evidence: str) -> None:
    document = _document(name, evidence)
    page = render(OutputFormat.HTML, document, lang="zh")
    tags = _Tags()
    tags.feed(page)
    assert tags.scripts == 1 and tags.event_attrs == 0
    log = json.loads(render(OutputFormat.SARIF, document))
    errors = [e.message for e in SARIF_VALIDATOR.iter_errors(log)]
    assert not errors, errors[:3]
    junit = render(OutputFormat.JUNIT, document)
    ElementTree.fromstring(junit.encode("utf-8"))
    suites = JUnitXml.fromstring(junit.encode("utf-8"))  # the real consumer reads them all
    assert sum(len(list(suite)) for suite in suites) == sum(
        len(h.get("results", [])) or 1 for h in document["hosts"])
    assert not any(ord(c) < 32 and c not in "\t\n\r" for c in page)
    text = render(OutputFormat.CSV, document)
    for row in csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
