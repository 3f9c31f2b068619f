"""CSV: one row per host × rule, BOM for spreadsheets, formula injection neutralised."""

from __future__ import annotations

import csv
import io

import pytest

from scanner.render import csv_format
from tests.sample_findings import sample_document


def _rows() -> list[dict[str, str]]:
    text = csv_format.render(sample_document())
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def test_one_row_per_host_and_rule_and_one_per_unassessed_host() -> None:
    document = sample_document()
    rows = _rows()
    expected = sum(len(h["results"]) or 1 for h in document["hosts"])
    assert len(rows) == expected
    edge = [r for r in rows if r["host"] == "edge-03"]
    assert len(edge) == 1 and edge[0]["status"] == "unreachable"
    waived = next(r for r in rows if r["host"] == "web-01"
                  and r["rule_id"] == "ssh.x11-forwarding-disabled")
    assert waived["status"] == "waived" and waived["waiver_expires"] == "2026-12-31"
    assert waived["gbt22239_2019"] == "8.1.4.4 b"
    assert edge[0]["message"].startswith("connect to") and edge[0]["major_risk"] == ""


@pytest.mark.parametrize(("lang", "name"), [("en", "Empty or weak passwords accepted"),
                                            ("zh", "存在空口令或弱口令")])
def test_the_major_risk_column_names_the_trigger_on_every_row_of_its_rule(lang: str,
                                                                          name: str) -> None:
    text = csv_format.render(sample_document(), lang=lang)
    rows = list(csv.DictReader(io.StringIO(text[1:], newline="")))
    marked = {(r["host"], r["status"]) for r in rows if r["major_risk"]}
    assert {(r["host"], r["status"]) for r in rows
            if r["rule_id"] == "accounts.no-empty-passwords"} == marked
    assert ("db-01", "fail") in marked
    assert {r["major_risk"] for r in rows if r["major_risk"]} == {name}


@pytest.mark.parametrize(("value", "cell"), [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1+1", "'+1+1"),
    ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("plain", "plain"),
    ("a\x01b", "a\\x01b"),
])
def test_cells_are_safe_in_spreadsheets(value: str, cell: str) -> None:
    assert csv_format.safe_cell(value) == cell


def test_hostile_host_name_is_neutralised_in_the_file() -> None:
    rows = _rows()
    hostile = [r for r in rows if "<script>" in r["host"]]
    assert hostile and all(r["host"].startswith("'=") for r in hostile)
    assert all("\x07" not in r["host"] for r in hostile)
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
