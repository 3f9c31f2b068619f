"""Metamorphic properties over the per-rule fixtures: edits a file's consumer ignores, or
that take away what made a host compliant, never turn a verdict into ``pass``.

Each property starts from a captured fixture case (tests/fixtures/rules) whose outputs
include files, changes one file, and runs the real parsers and the rule again:

* a failing case stays non-pass when a comment line is inserted anywhere: ``#``, one
  control character that Python (but no consumer) treats as a line break or blank, then a
  line taken from a *passing* case of the same rule and file — the line that would make
  the host compliant if it were read as active (libpam, shadow-utils, sshd, bash end
  lines at ``\\n`` only and read ``#…`` as a comment);
* a failing case stays non-pass when the file is converted to CRLF, when blanks are added
  at line ends, or when one of its lines is repeated right after itself (one exception,
  proven by the consumer: a CR in a PAM file makes libpam refuse every login, so rules
  asking whether a login is refused pass there);
* a passing case whose file is a failing case's file plus some active lines (the lines
  that made the host compliant) does not stay ``pass`` when those lines are commented
  out, with or without blanks or a control character after the ``#``.

2,000 examples each in CI (``CII_SCAN_METAMORPHIC_EXAMPLES``).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.baseline import load_baseline
from scanner.evaluate import evaluate_rule
from tests.conftest import FIXTURES, facts_from_outputs

EXAMPLES = int(os.environ.get("CII_SCAN_METAMORPHIC_EXAMPLES", "2000"))
PROFILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
RULES = {rule.id: rule for rule in load_baseline("cii-art9-linux").rules}
# Characters str.splitlines breaks at, or str.split/strip take for blanks; no C consumer does.
CONTROL = ["\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\u00a0",
           "\u3000"]

Case = dict[str, Any]
Edit = Callable[[str], str]


@cache
def _cases() -> tuple[tuple[str, Case], ...]:
    found = []
    for path in sorted((FIXTURES / "rules").glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        rule = document["rule"]
        if RULES[rule].manual is not None:
            continue
        found.extend((rule, case) for case in document["cases"])
    return tuple(found)


def _file_cases(expect: str) -> list[tuple[str, Case, int, str]]:
    """(rule, case, output index, path) for every file of every case expecting ``expect``."""
    return [(rule, case, index, path)
            for rule, case in _cases() if case["expect"] == expect
            for index, output in enumerate(case.get("outputs", []))
            for path, content in (output.get("files") or {}).items()
            # cii:NAME frames are command output, not a file any consumer reads
            if isinstance(content, str) and not path.startswith("cii:")]


def _same_file_in(rule: str, path: str, expect: str) -> list[str]:
    return [content for other_rule, case in _cases()
            if other_rule == rule and case["expect"] == expect
            for output in case.get("outputs", [])
            for file_path, content in (output.get("files") or {}).items()
            if file_path == path and isinstance(content, str)]


def _verdict(rule: str, case: Case, index: int, path: str, edit: Edit) -> str:
    outputs = copy.deepcopy(case.get("outputs", []))
    outputs[index]["files"][path] = edit(outputs[index]["files"][path])
    facts = facts_from_outputs(case["os"], outputs)
    return evaluate_rule(RULES[rule], facts, facts.os["family"] if facts.os else None).status


def _lines(text: str) -> list[str]:
    return text.split("\n")


FAILING = _file_cases("fail")
def _without(outputs: list[dict[str, Any]], index: int, path: str) -> list[dict[str, Any]]:
    rest = copy.deepcopy(outputs)
    if index < len(rest) and path in (rest[index].get("files") or {}):
        rest[index]["files"][path] = None
    return rest


def _adding_cases() -> list[tuple[str, Case, int, str, frozenset[str]]]:
    """Passing files that are a failing case's file plus active lines, where the two cases
    differ in nothing else: those lines are what made the host compliant."""
    found = []
    for rule, case, index, path in _file_cases("pass"):
        lines = _lines(case["outputs"][index]["files"][path])
        rest = _without(case.get("outputs", []), index, path)
        for other_rule, other in _cases():
            if other_rule != rule or other["expect"] != "fail" or other["os"] != case["os"]:
                continue
            if _without(other.get("outputs", []), index, path) != rest:
                continue
            failing = other["outputs"][index]["files"][path]
            if not isinstance(failing, str):
                continue
            kept = set(_lines(failing))
            added = frozenset(line for line in lines if line not in kept and line.strip()
                              and not line.lstrip().startswith("#"))
            if added and kept <= set(lines):
                found.append((rule, case, index, path, added))
                break
    return found


PASSING = _adding_cases()


@pytest.mark.skipif(not FAILING, reason="no failing fixture reads a file")
@PROFILE
@given(data=st.data())
def test_a_comment_with_a_control_character_never_makes_a_failing_host_pass(
        data: st.DataObject) -> None:
    rule, case, index, path = data.draw(st.sampled_from(FAILING), label="fixture file")
    donors = [line for text in _same_file_in(rule, path, "pass") for line in _lines(text)
              if line.strip()] or [line for line in _lines(case["outputs"][index]["files"][path])
                                   if line.strip()] or ["x"]
    line = data.draw(st.sampled_from(donors), label="line from a passing case")
    control = data.draw(st.sampled_from(CONTROL), label="control character")
    where = data.draw(st.integers(min_value=0, max_value=10_000), label="position")

    def insert(text: str) -> str:
        lines = _lines(text)
        # a line put after an unterminated last line gives that line its newline, and
        # consumers that skip an unterminated line (auditd's get_line) then read it
        at = where % (len(lines) + (1 if text.endswith("\n") else 0))
        # after a line ending in a backslash the next line continues it (sudoers, PAM,
        # shells): a line put there is no line of its own, so move past the continuation
        while 0 < at < len(lines) and lines[at - 1].endswith("\\"):
            at += 1
        lines.insert(at, "#" + control + line)
        return "\n".join(lines)

    status = _verdict(rule, case, index, path, insert)
    assert status != "pass", f"{rule} [{case['name']}] {path}: #{control!r}{line!r} made it pass"


@PROFILE
@given(data=st.data())
def test_crlf_trailing_blanks_or_a_repeated_line_never_make_a_failing_host_pass(
        data: st.DataObject) -> None:
    rule, case, index, path = data.draw(st.sampled_from(FAILING), label="fixture file")
    kind = data.draw(st.sampled_from(["crlf", "trailing", "repeat"]), label="edit")
    pick = data.draw(st.integers(min_value=0, max_value=10_000), label="line")
    blank = data.draw(st.sampled_from([" ", "\t", " \t ", "\r"]), label="blank")

    def edit(text: str) -> str:
        lines = _lines(text)
        if kind == "crlf":
            return text.replace("\n", "\r\n")
        if kind == "trailing":
            lines[pick % len(lines)] += blank
            return "\n".join(lines)
        # the last line, if unterminated, is not repeated: its first copy would gain a newline
        at = pick % (len(lines) - (0 if text.endswith("\n") else 1) or 1)
        lines.insert(at, lines[at])  # in place: a repeat elsewhere could change its scope
        return "\n".join(lines)

    if kind == "repeat" and _pam_jumps_count_lines(case["outputs"][index], path):
        return
    status = _verdict(rule, case, index, path, edit)
    if status == "pass" and _cr_breaks_the_stack(rule, path, kind, blank):
        return
    assert status != "pass", f"{rule} [{case['name']}] {path}: {kind} made it pass"


# libpam's [value=N] jumps skip N lines of the whole stack, included files' lines too
# (pam_handlers.c counts handlers after @include is expanded): a repeated line anywhere in a
# stack with such a jump moves where it lands. Repeating pam_unix under success=1 makes the
# right password land on pam_deny, and libpam then refuses every login
# (tests/oracle/test_pam.py, state repeated-jump-line-refuses-everyone): no neutral edit.
_NUMERIC_JUMP = re.compile(r"\[[^\]]*=[ \t]*[0-9]")


def _pam_jumps_count_lines(output: dict[str, Any], path: str) -> bool:
    return path.startswith("/etc/pam.d/") and any(
        isinstance(text, str) and _NUMERIC_JUMP.search(text)
        for name, text in (output.get("files") or {}).items() if name.startswith("/etc/pam.d/"))


# Rules that ask "is this login refused?" of a PAM stack. libpam splits a line at blanks,
# tabs and \n only, so a CR ends up in the module's name (or type): that module is unknown,
# the line fails, and the stack refuses every login, the empty password and su to root
# included. The consumer then really refuses what the rule asks about, so a pass is its
# verdict (tests/oracle/test_pam.py, state cr-line-fails-the-stack).
_REFUSAL_RULES = frozenset({"auth.pam-nullok-absent", "auth.su-restricted"})


def _cr_breaks_the_stack(rule: str, path: str, kind: str, blank: str) -> bool:
    adds_cr = kind == "crlf" or (kind == "trailing" and "\r" in blank)
    return adds_cr and rule in _REFUSAL_RULES and path.startswith("/etc/pam.d/")


@pytest.mark.skipif(not PASSING, reason="no passing fixture adds lines to a failing one")
@PROFILE
@given(data=st.data())
def test_commenting_out_what_made_a_host_compliant_never_leaves_it_passing(
        data: st.DataObject) -> None:
    rule, case, index, path, added = data.draw(st.sampled_from(PASSING), label="fixture file")
    lead = data.draw(st.sampled_from(["#", "# ", " #", "\t#", "#" + "\r", "#" + "\v"]),
                     label="comment")

    def comment_out(text: str) -> str:
        return "\n".join(lead + line if line in added else line for line in _lines(text))

    status = _verdict(rule, case, index, path, comment_out)
    assert status != "pass", (
        f"{rule} [{case['name']}] {path}: still passes with {sorted(added)} commented out")


def test_the_properties_reach_every_rule_whose_fixtures_read_files() -> None:
    """The properties are not vacuous: they draw from many rules' files."""
    assert len({rule for rule, *_ in FAILING}) >= 15
    assert len({rule for rule, *_ in PASSING}) >= 4
