"""Golden files for every output format, rendered from the sample scan (tests/sample_findings.py).

Timestamps, durations and the tool version are normalised before comparing. After an
intended change to a renderer, regenerate and review the diff:

    UPDATE_GOLDEN=1 python -m pytest -q tests/test_render_golden.py
    git diff tests/golden/
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scanner import diff, terminal
from scanner.render import OutputFormat, render
from scanner.render.html import render_diff
from tests._docx import visible_text
from tests._xlsx import dump as xlsx_dump
from tests.sample_findings import GOLDEN, fleet_document, sample_document, sample_old_document

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")
DURATION = re.compile(r'("duration_s": |time=")[0-9.]+')
TOOL_VERSION = re.compile(r"0\.0\.0\+sample|cii-scan \d+\.\d+\.\d+\S*")


def normalise(text: str) -> str:
    """Mask what legitimately varies between runs of the same inputs."""
    text = TIMESTAMP.sub("<TIMESTAMP>", text)
    text = DURATION.sub(lambda m: m.group(1) + "<DURATION>", text)
    return TOOL_VERSION.sub("<TOOL-VERSION>", text)


def _diff() -> dict[str, Any]:
    return diff.compare(sample_old_document(), sample_document())


CASES: dict[str, Callable[[], str]] = {
    "findings.json": lambda: render(OutputFormat.JSON, sample_document()),
    "report.en.html": lambda: render(OutputFormat.HTML, sample_document(), lang="en"),
    "report.zh.html": lambda: render(OutputFormat.HTML, sample_document(), lang="zh"),
    "findings.sarif": lambda: render(OutputFormat.SARIF, sample_document()),
    "junit.xml": lambda: render(OutputFormat.JUNIT, sample_document()),
    "findings.csv": lambda: render(OutputFormat.CSV, sample_document()),
    # the workbook read back with openpyxl (its zip is not byte-stable across XlsxWriter
    # versions): every sheet and cell
    "findings.xlsx.en.txt": lambda: _xlsx(sample_document(), "en"),
    "findings.xlsx.zh.txt": lambda: _xlsx(sample_document(), "zh"),
    # a binary format's golden is its visible text, read back by a consumer
    "report.docx.en.txt": lambda: _docx_text(sample_document(), "en"),
    "report.docx.zh.txt": lambda: _docx_text(sample_document(), "zh"),
    "diff.txt": lambda: diff.render_text(_diff()),
    "diff.json": lambda: diff.render_json(_diff()),
    "diff.html": lambda: render_diff(_diff()),
    # the end of a run on the terminal: a few hosts one by one, a large fleet rule by rule
    "terminal.en.txt": lambda: _terminal(sample_document(), "en"),
    "terminal.zh.txt": lambda: _terminal(sample_document(), "zh"),
    "terminal-fleet.en.txt": lambda: _terminal(fleet_document(40), "en"),
}


def _xlsx(document: dict[str, Any], lang: str) -> str:
    content = render(OutputFormat.XLSX, document, lang=lang)
    assert isinstance(content, bytes)
    return xlsx_dump(content)
def _docx_text(document: dict[str, Any], lang: str) -> str:
    content = render(OutputFormat.DOCX, document, lang=lang)
    assert isinstance(content, bytes)
    return visible_text(content)


def _terminal(document: dict[str, Any], lang: str) -> str:
    lines = [*terminal.story(document, lang, colour=False),
             terminal.summary_line(document["summary"]),
             terminal.next_step(Path("out/findings.json"), None)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_matches_golden_file(name: str) -> None:
    actual = normalise(CASES[name]())
    golden: Path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_bytes(actual.encode("utf-8"))
    assert golden.exists(), f"{golden} missing; run with UPDATE_GOLDEN=1 to create it"
    expected = golden.read_bytes().decode("utf-8")
    assert actual == expected, f"{name} differs from its golden file; see the module docstring"


def test_every_output_format_has_a_golden_file() -> None:
    covered = {part for name in CASES for part in name.split(".")}
    assert {fmt.filename.rsplit(".", 1)[1] for fmt in OutputFormat} <= covered


def test_normalise_masks_only_varying_fields() -> None:
    text = '"started_at": "2026-06-01T08:00:00Z", "duration_s": 1.25, time="3.750" score 62.9'
    assert normalise(text) == ('"started_at": "<TIMESTAMP>", "duration_s": <DURATION>, '
                               'time="<DURATION>" score 62.9')
