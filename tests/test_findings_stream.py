"""A findings document written host by host is the document ``json.dumps`` would write,
judged by the same schema, and a lazy document (hosts read back from the journal) is the
document built in memory."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner import fleet
from scanner.baseline import load_baseline
from scanner.findings import (
    HostDocs,
    HostReport,
    Reported,
    build_document,
    dumps,
    iter_dumps,
    validation_errors,
)
from scanner.output import write_atomic
from scanner.render import OutputFormat, render, render_pieces
from tests.sample_findings import SAMPLE_BASELINE, sample_document, sample_reports


def reference(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_sample_document_streams_to_json_dumps_own_text() -> None:
    document = sample_document()
    assert dumps(document) == reference(document)
    assert sum(1 for _ in iter_dumps(document)) > len(document["hosts"])  # host by host


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters(codec="utf-8")),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=4),
       st.lists(st.dictionaries(st.text(max_size=4), json_values, max_size=3), max_size=3))
def test_any_document_streams_to_json_dumps_own_text(
        top: dict[str, Any], hosts: list[dict[str, Any]]) -> None:
    document = {**top, "hosts": hosts}
    assert dumps(document) == reference(document)


def journaled(tmp_path: Path) -> tuple[list[HostReport], list[fleet.JournaledReport]]:
    reports = sample_reports(load_baseline(str(SAMPLE_BASELINE)))
    journal = fleet.Journal(tmp_path / "journal.jsonl", "sha256:sample", keep=False)
    kept = [journal.append(f"key-{n}", report) for n, report in enumerate(reports)]
    journal.close()
    return reports, kept


def document_of(hosts: Sequence[Reported], lazy: bool = False) -> dict[str, Any]:
    return build_document(baseline=load_baseline(str(SAMPLE_BASELINE)), hosts=hosts,
                          started_at="2026-06-01T08:00:00Z",
                          finished_at="2026-06-01T08:00:05Z",
                          invocation={"command": "scan"}, lazy=lazy)


class Broken:
    """A journaled host read back with ``edit`` applied: a report the schema refuses."""

    def __init__(self, inner: fleet.JournaledReport,
                 edit: Callable[[dict[str, Any]], None]) -> None:
        self.host = inner.host
        self.inner = inner
        self.edit = edit

    def to_json(self) -> dict[str, Any]:
        host = self.inner.to_json()
        self.edit(host)
        return host


def test_a_document_of_journaled_hosts_is_the_document_built_in_memory(tmp_path: Path) -> None:
    reports, kept = journaled(tmp_path)
    assert all(k.outline.results == () for k in kept)  # no results held in memory
    eager = document_of(reports)
    lazy = document_of(list(reversed(kept)), lazy=True)
    assert isinstance(lazy["hosts"], HostDocs)
    assert dumps(lazy) == dumps(eager) == reference(eager)
    assert lazy["summary"] == eager["summary"]
    assert validation_errors(lazy) == validation_errors(eager) == []


def test_a_lazy_document_is_judged_by_the_whole_schema_host_by_host(tmp_path: Path) -> None:
    """A broken host in a lazy document is found with the same path as in a list."""
    _, kept = journaled(tmp_path)

    def broken(host: dict[str, Any]) -> None:
        host["results"][0]["status"] = "maybe"

    hosts: list[Reported] = [kept[0], Broken(kept[1], broken), *kept[2:]]
    lazy = document_of(hosts, lazy=True)
    eager = {**lazy, "hosts": list(lazy["hosts"])}
    problems = validation_errors(lazy)
    assert problems and problems == validation_errors(eager)
    assert problems[0].startswith("hosts/")
    lazy["scan"]["complete"] = "yes"  # and outside the hosts too
    assert any(p.startswith("scan/complete") for p in validation_errors(lazy))


def test_a_piece_that_fails_to_come_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "findings.json"
    target.write_text("the earlier run\n")

    def pieces() -> Any:
        yield "{"
        raise ValueError("a host broke the schema")

    with pytest.raises(ValueError):
        write_atomic(target, pieces())
    assert target.read_text() == "the earlier run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["findings.json"]


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_format_renders_a_lazy_document_as_the_one_built_in_memory(
        fmt: OutputFormat, tmp_path: Path) -> None:
    reports, kept = journaled(tmp_path)
    eager = document_of(reports)
    lazy = document_of(kept, lazy=True)
    pieces = render_pieces(fmt, lazy)  # a binary format's bytes come whole
    assert (pieces if isinstance(pieces, bytes) else "".join(pieces)) == render(fmt, eager)


def test_a_lazy_document_written_in_pieces_stops_at_its_broken_host(tmp_path: Path) -> None:
    """Judged host by host as it is written: the first problem raises where validation
    would name it, and no findings file is left."""
    _, kept = journaled(tmp_path)

    def broken(host: dict[str, Any]) -> None:
        host["status"] = "maybe"

    lazy = document_of([kept[0], Broken(kept[1], broken), *kept[2:]], lazy=True)
    first = validation_errors(lazy)[0]
    target = tmp_path / "findings.json"
    with pytest.raises(ValueError, match="fails its schema") as raised:
        write_atomic(target, render_pieces(OutputFormat.JSON, lazy))
    assert first in str(raised.value)
    assert not target.exists()
