"""The GB/T 22239-2019 8.1.4 coverage matrix of the shipped baseline."""

from __future__ import annotations

import subprocess

from scanner.baseline import load_baseline
from scanner.clauses import AREAS, CLAUSES, clause_ids_of, coverage_matrix, unknown_references
from tests._scanner import CII_SCAN

SHIPPED = load_baseline("cii-art9-linux")


def test_every_reference_names_a_real_item() -> None:
    assert unknown_references(SHIPPED.rules) == []


def test_items_of_areas_1_to_4_without_an_automated_rule_are_the_known_gaps() -> None:
    """Every item of areas 1-4 is checked by an automated rule except these: input validity
    (an application's, not the host's) and intrusion detection (an agent an assessor
    judges). Supporting evidence does not close a gap; 8.1.4.4 e (known vulnerabilities
    patched) is closed by packages.no-pending-security-updates, not by ASLR."""
    gaps = [row.clause.id for row in coverage_matrix(SHIPPED)
            if row.clause.area in ("8.1.4.1", "8.1.4.2", "8.1.4.3", "8.1.4.4")
            and not row.automated]
    assert gaps == ["8.1.4.4 d", "8.1.4.4 f"]


def test_supporting_evidence_is_listed_beside_an_item_but_never_covers_it() -> None:
    rows = {row.clause.id: row for row in coverage_matrix(SHIPPED)}
    patched = rows["8.1.4.4 e"]  # known vulnerabilities found and patched
    assert "kernel.aslr-full" in patched.supporting
    assert "kernel.aslr-full" not in patched.automated
    assert "packages.no-pending-security-updates" in patched.automated
    assert not rows["8.1.4.6"].covered and rows["8.1.4.6"].supporting
    done = subprocess.run([*CII_SCAN, "baselines", "show", "cii-art9-linux", "--matrix"],
                          capture_output=True, text=True, check=True)
    block = done.stdout.split("8.1.4.4 e")[1].split("8.1.4.4 f")[0]
    assert "supporting evidence only, not counted: kernel.aslr-full" in block


def test_area_reference_covers_its_items() -> None:
    rule = next(r for r in SHIPPED.rules if r.id == "ssh.root-login-disabled")
    assert clause_ids_of(rule) == ["8.1.4.2 b", "8.1.4.2 d"]
    assert {c.area for c in CLAUSES} == {a.id for a in AREAS}


def test_matrix_command_prints_both_languages() -> None:
    for lang, marker in (("en", "Identification and authentication"), ("zh", "身份鉴别")):
        done = subprocess.run([*CII_SCAN, "baselines", "show", "cii-art9-linux", "--matrix",
                               "--lang", lang], capture_output=True, text=True, check=True)
        assert marker in done.stdout
        assert "8.1.4.2 b" in done.stdout
