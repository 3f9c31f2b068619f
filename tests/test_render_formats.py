"""Every output format: the enum's factory covers each member, and `cii-scan report` writes it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from docx import Document

from scanner.cli import cli
from scanner.findings import dumps, load_document
from scanner.render import OutputFormat, render, renderer_for
from tests._xlsx import workbook
from tests.conftest import facts_from_outputs
from tests.sample_findings import sample_document

EXPECTED_FILENAMES = {
    OutputFormat.JSON: "findings.json",
    OutputFormat.HTML: "report.html",
    OutputFormat.SARIF: "findings.sarif",
    OutputFormat.JUNIT: "junit.xml",
    OutputFormat.CSV: "findings.csv",
    OutputFormat.XLSX: "findings.xlsx",
    OutputFormat.DOCX: "report.docx",
}


def _parses(fmt: OutputFormat, content: str | bytes) -> None:
    """Each format read back by a parser for that format (real consumers live in their own
    test modules)."""
    if isinstance(content, bytes):
        assert fmt.binary
        _parses_binary(fmt, content)
        return
    text = content
    if fmt is OutputFormat.JSON:
        assert load_document(text, "rendered")["summary"] == sample_document()["summary"]
    elif fmt is OutputFormat.SARIF:
        assert json.loads(text)["version"] == "2.1.0"
    elif fmt is OutputFormat.JUNIT:
        assert ElementTree.fromstring(text.encode("utf-8")).tag == "testsuites"
    elif fmt is OutputFormat.CSV:
        rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
        assert rows[0][0] == "host"
    elif fmt is OutputFormat.HTML:
        assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    else:  # pragma: no cover - a new member must be added above
        raise AssertionError(f"no parser check for {fmt}")


def _parses_binary(fmt: OutputFormat, content: bytes) -> None:
    if fmt is OutputFormat.DOCX:
        assert Document(io.BytesIO(content)).paragraphs[0].text
    elif fmt is OutputFormat.XLSX:
        assert workbook(content).sheetnames[0] == "Gap analysis"
    else:  # pragma: no cover - a new member must be added above
        raise AssertionError(f"no parser check for {fmt}")


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_format_has_a_renderer_and_filename(fmt: OutputFormat) -> None:
    assert fmt.filename == EXPECTED_FILENAMES[fmt]
    content = renderer_for(fmt)(sample_document(), lang="en")
    assert isinstance(content, bytes if fmt.binary else str) and content
    _parses(fmt, content)


@pytest.mark.parametrize("fmt", list(OutputFormat))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_command_rerenders_a_stored_document(tmp_path: Path, fmt: OutputFormat,
                                                    lang: str) -> None:
    stored = tmp_path / "findings.json"
    stored.write_text(dumps(sample_document()), encoding="utf-8")
    target = tmp_path / "out" / fmt.filename
    result = CliRunner().invoke(cli, ["report", str(stored), "-f", fmt.value, "-o", str(target),
                                      "--lang", lang])
    assert result.exit_code == 0, result.output
    expected = render(fmt, sample_document(), lang=lang)
    assert target.read_bytes() == (expected if isinstance(expected, bytes)
                                   else expected.encode("utf-8"))


def test_report_command_rejects_an_invalid_document(tmp_path: Path) -> None:
    stored = tmp_path / "findings.json"
    stored.write_text('{"schema_version": "1.0"}', encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(stored), "-f", "html"])
    assert result.exit_code != 0
    assert "not a valid findings document" in str(result.exception)


def test_evaluate_writes_every_requested_format(tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    snapshot = facts_from_outputs("debian12", [
        {"probe": "sysctl", "args": {"name": "net.ipv4.ip_forward"}, "stdout": "0\n"}])
    facts.write_text(dumps(snapshot.to_json()), encoding="utf-8")
    outdir = tmp_path / "results"
    args = ["evaluate", str(facts), "-o", str(outdir)]
    for fmt in OutputFormat:
        args += ["-f", fmt.value]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3, result.output  # most probes were not collected: incomplete
    assert sorted(p.name for p in outdir.iterdir()) == sorted(EXPECTED_FILENAMES.values())
