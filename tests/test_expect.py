"""Table tests for every operator of the closed expectation set, and its compile-time errors."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.expect import (
    MAX_SUBJECT_CHARS,
    MISSING,
    OPERATORS,
    ExpectationError,
    apply,
    compare_versions,
    compile_expectation,
    describe,
)

FILE_0640_ROOT = {"exists": True, "mode": "0640", "owner": "root", "group": "shadow"}
FILE_0644_USER = {"exists": True, "mode": "0644", "owner": "alice", "group": "alice"}
USERS = [
    {"name": "root", "uid": 0, "shell": "/bin/bash"},
    {"name": "daemon", "uid": 1, "shell": "/usr/sbin/nologin"},
    {"name": "toor", "uid": 0, "shell": "/bin/sh"},
]

# (expectation, observed value, verdict)
CASES: list[tuple[dict[str, Any], Any, str]] = [
    ({"equals": "no"}, "no", "pass"),
    ({"equals": "no"}, "yes", "fail"),
    ({"equals": 0}, "0", "pass"),  # numbers compare numerically, whatever their type
    ({"equals": 2}, "2.0", "pass"),
    ({"equals": "no"}, "No", "fail"),  # text comparison is exact
    ({"equals": True}, True, "pass"),
    ({"equals": True}, "true", "pass"),
    ({"not_equals": "none"}, "/etc/issue.net", "pass"),
    ({"not_equals": "none"}, "none", "fail"),
    ({"in": ["no", "prohibit-password"]}, "prohibit-password", "pass"),
    ({"in": ["no"]}, "yes", "fail"),
    ({"not_in": ["none", ""]}, "", "fail"),
    ({"not_in": ["none", ""]}, "/etc/issue", "pass"),
    ({"matches": "^hmac-sha2"}, "hmac-sha2-256", "pass"),
    ({"matches": "^hmac-sha2"}, "hmac-md5", "fail"),
    ({"matches": "cbc"}, ["aes128-ctr", "aes128-cbc"], "pass"),  # any item of a list
    ({"not_matches": "cbc"}, ["aes128-ctr", "aes128-cbc"], "fail"),
    ({"not_matches": "cbc"}, ["aes128-ctr"], "pass"),
    ({"matches": "x"}, {"a": 1}, "error"),
    ({"lt": 5}, "4", "pass"),
    ({"lt": 5}, 5, "fail"),
    ({"le": 90}, "90", "pass"),
    ({"le": 90}, "99999", "fail"),
    ({"gt": 0}, "1", "pass"),
    ({"ge": 600}, 599, "fail"),
    ({"ge": 600}, "six hundred", "error"),  # not a number: error, never pass
    ({"le": 4}, True, "error"),
    ({"version_ge": "9.0p1"}, "9.2p1", "pass"),
    ({"version_ge": "9.0p1"}, "8.9p1", "fail"),
    ({"version_lt": "1.1.1w"}, "1.1.1k", "pass"),
    ({"version_le": "2.0"}, "2.0", "pass"),
    ({"version_gt": "2.0"}, "2.0.1", "pass"),
    ({"version_gt": "2.0"}, ["2.1"], "error"),
    ({"exists": True}, "x", "pass"),
    ({"exists": True}, MISSING, "fail"),
    ({"exists": False}, MISSING, "pass"),
    ({"absent": True}, MISSING, "pass"),
    ({"absent": True}, "x", "fail"),
    ({"contains": "nodev"}, ["rw", "nodev", "nosuid"], "pass"),
    ({"contains": "noexec"}, ["rw", "nodev"], "fail"),
    ({"contains": "pam_faillock"}, "auth required pam_faillock.so", "pass"),
    ({"not_contains": "NOPASSWD"}, "ALL=(ALL) NOPASSWD: ALL", "fail"),
    ({"contains": "x"}, 5, "error"),
    ({"empty": True}, [], "pass"),
    ({"empty": True}, ["x"], "fail"),
    ({"empty": False}, "", "fail"),
    ({"mode_at_most": "0640"}, FILE_0640_ROOT, "pass"),
    ({"mode_at_most": "0600"}, FILE_0640_ROOT, "fail"),
    ({"mode_at_most": "0644"}, {"exists": True, "mode": "4755"}, "fail"),  # setuid is "more"
    ({"mode_at_most": "0640"}, "0600", "pass"),
    ({"mode_at_most": "0640"}, {"exists": False}, "fail"),
    ({"mode_at_most": "0640"}, {"exists": True, "mode": "rw-r-----"}, "error"),
    ({"owner": "root"}, FILE_0640_ROOT, "pass"),
    ({"owner": "root"}, FILE_0644_USER, "fail"),
    ({"owner": ["root", "bin"]}, FILE_0640_ROOT, "pass"),
    ({"group": ["root", "shadow"]}, FILE_0640_ROOT, "pass"),
    ({"group": "root"}, FILE_0644_USER, "fail"),
    ({"owner": "root"}, "root", "error"),
    ({"all": [{"ge": 1}, {"le": 600}]}, "300", "pass"),
    ({"all": [{"ge": 1}, {"le": 600}]}, "0", "fail"),
    ({"any": [{"equals": 0}, {"ge": 600}]}, "0", "pass"),
    ({"any": [{"equals": 0}, {"ge": 600}]}, "300", "fail"),
    ({"any": [{"ge": 600}, {"equals": "never"}]}, "700", "pass"),
    # no branch holds and one could not be judged: error, so a reader looks, rather than fail
    ({"any": [{"ge": 600}, {"equals": "never"}]}, "abc", "error"),
    ({"none": [{"equals": "yes"}, {"equals": "without-password"}]}, "no", "pass"),
    ({"none": [{"equals": "yes"}, {"equals": "without-password"}]}, "yes", "fail"),
    ({"not": {"equals": "yes"}}, "no", "pass"),
    ({"not": {"equals": "yes"}}, "yes", "fail"),
    ({"not": {"ge": 1}}, "abc", "error"),  # not(error) stays error
    ({"all_items": {"matches": "-ctr$|-gcm"}}, ["aes128-ctr", "aes256-gcm@openssh.com"], "pass"),
    ({"all_items": {"matches": "-ctr$"}}, ["aes128-ctr", "aes128-cbc"], "fail"),
    ({"any_item": {"name": {"equals": "daemon"}}}, USERS, "pass"),
    ({"any_item": {"name": {"equals": "nobody"}}}, USERS, "fail"),
    ({"no_item": {"uid": {"equals": 0}, "name": {"not_equals": "root"}}}, USERS, "fail"),
    ({"no_item": {"shell": {"equals": "/bin/zsh"}}}, USERS, "pass"),
    ({"count": {"where": {"uid": {"equals": 0}}, "equals": 1}}, USERS, "fail"),
    ({"count": {"where": {"uid": {"equals": 0}}, "equals": 2}}, USERS, "pass"),
    ({"count": {"ge": 3}}, USERS, "pass"),
    ({"count": {"lt": 3}}, USERS, "fail"),
    ({"count": {"where": {"uid": {"le": 0}}, "le": 1}}, USERS, "fail"),
    ({"count": {"where": {"password": {"equals": "empty"}}, "equals": 0}}, USERS, "error"),
    ({"no_item": {"password": {"equals": "empty"}}}, USERS, "error"),
    ({"all_items": {"equals": 1}}, "not a list", "error"),
    ({"equals": "no"}, MISSING, "error"),  # a value not reported is an error, never a pass
    ({"not_in": ["yes"]}, None, "error"),
    ({"none": [{"equals": "yes"}]}, MISSING, "error"),
]


@pytest.mark.parametrize(("raw", "value", "verdict"), CASES,
                         ids=[f"{i}-{next(iter(c[0]))}" for i, c in enumerate(CASES)])
def test_operator_table(raw: dict[str, Any], value: Any, verdict: str) -> None:
    outcome = apply(compile_expectation(raw, {}), value)
    assert outcome.verdict == verdict, outcome.detail
    if verdict != "pass":
        assert outcome.detail, "a fail or error says why"


def test_every_operator_has_a_table_case() -> None:
    used: set[str] = set()

    def walk(raw: Any) -> None:
        if isinstance(raw, dict):
            used.update(k for k in raw if k in OPERATORS)
            for value in raw.values():
                walk(value)
        elif isinstance(raw, list):
            for value in raw:
                walk(value)

    for raw, _, _ in CASES:
        walk(raw)
    assert used == set(OPERATORS)


def test_unobservable_field_reason_is_reported() -> None:
    expectation = compile_expectation({"no_item": {"password": {"equals": "empty"}}}, {})
    outcome = apply(expectation, USERS, {"password": "/etc/shadow is not readable"})
    assert outcome.verdict == "error"
    assert outcome.detail == "/etc/shadow is not readable"


def test_parameters_are_resolved_at_compile_time() -> None:
    expectation = compile_expectation({"le": "$pass_max_days"}, {"pass_max_days": 90})
    assert apply(expectation, "90").verdict == "pass"
    assert apply(expectation, "91").verdict == "fail"
    literal = compile_expectation({"equals": "$$HOME"}, {})
    assert apply(literal, "$HOME").verdict == "pass"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"eqals": 1}, "unknown operator 'eqals'"),
        ({"equals": 1, "in": [1]}, "exactly one operator"),
        ("equals", "must be a mapping"),
        ({}, "must be a mapping"),
        ({"le": "ninety"}, "le takes a number"),
        ({"in": "no"}, "in takes a list"),
        ({"matches": "(unclosed"}, "invalid regular expression"),
        ({"matches": "a" * 2000}, "at most 1000 characters"),
        ({"mode_at_most": "rw-r--r--"}, "octal mode"),
        ({"all": []}, "non-empty list"),
        ({"count": {"where": {"uid": {"equals": 0}}}}, "exactly one of"),
        ({"count": {"equals": 1, "sum": 2}}, "does not take 'sum'"),
        ({"count": {"equals": "one"}}, "whole number"),
        ({"le": "$nope"}, "unknown parameter $nope"),
        ({"no_item": {"uid": {"equals": 0}, "equals": 1}}, "mixes the operator"),
        ({"exists": "yes"}, "true or false"),
        ({"matches": "(x)\\1"}, "RE2 syntax: no backreferences or lookaround"),
        ({"not_matches": "^(?!root)"}, "RE2 syntax: no backreferences or lookaround"),
    ],
)
def test_malformed_expectations_are_rejected(raw: Any, message: str) -> None:
    with pytest.raises(ExpectationError) as caught:
        compile_expectation(raw, {})
    assert message in str(caught.value)


def test_error_path_points_inside_nested_expectations() -> None:
    with pytest.raises(ExpectationError) as caught:
        compile_expectation({"all": [{"ge": 1}, {"lee": 2}]}, {})
    assert caught.value.path == ("all", 1, "lee")


@pytest.mark.parametrize(
    ("a", "b", "order"),
    [
        ("1.2.3", "1.2.3", 0),
        ("1.10", "1.9", 1),
        ("9.2p1", "9.2p2", -1),
        ("1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u10", -1),
        ("1.0~rc1", "1.0", -1),
        ("1.0", "1.0~rc1", 1),
        ("2.0", "2.0.1", -1),
        ("1.1.1k", "1.1.1w", -1),
    ],
)
def test_version_comparison(a: str, b: str, order: int) -> None:
    assert compare_versions(a, b) == order
    assert compare_versions(b, a) == -order


def test_descriptions_are_readable() -> None:
    # plain words, values in their neutral form (never a symbol or a Python repr)
    assert describe(compile_expectation({"le": 90}, {})) == "is at most 90"
    text = describe(compile_expectation(
        {"count": {"where": {"uid": {"equals": 0}}, "equals": 1}}, {}))
    assert text == "the number of items where: uid is 0 is exactly 1"
    assert describe(compile_expectation({"all": [{"mode_at_most": "0640"}, {"owner": "root"}]},
                                        {})) == "has mode at most 0640 and is owned by root"
    assert describe(compile_expectation({"in": ["none", ""]}, {})) == 'is one of "none", ""'
    assert describe(compile_expectation({"equals": True}, {})) == "is true"


@pytest.mark.parametrize("pattern", ["(a+)+$", "^(\\w+\\s?)*$", "(a|aa)*b", "^.*.*.*=x$",
                                     "-S \\S*(adjtimex|settimeofday)"])
def test_patterns_that_backtrack_catastrophically_elsewhere_run_in_linear_time(
        pattern: str) -> None:
    """Each of these takes Python's re seconds to centuries on such a value; RE2 gives the
    verdict at once, so a host cannot stall a scan with what it prints."""
    hostile = "-S " + "a" * (MAX_SUBJECT_CHARS - 10) + "!"
    matches = compile_expectation({"matches": pattern}, {})
    assert apply(matches, hostile).verdict == "fail"
    assert apply(compile_expectation({"not_matches": pattern}, {}), hostile).verdict == "pass"


def test_values_too_long_to_match_are_errors_never_verdicts() -> None:
    """A match beyond the subject cap would be missed: not_matches must not pass on it."""
    long_value = "x" * MAX_SUBJECT_CHARS + " PermitRootLogin yes"
    for op in ("matches", "not_matches"):
        outcome = apply(compile_expectation({op: "PermitRootLogin yes"}, {}), long_value)
        assert outcome.verdict == "error" and "not evaluated" in outcome.detail


def test_text_that_is_not_utf8_still_matches() -> None:
    """Evidence JSON may carry lone surrogates; matching stays total."""
    assert apply(compile_expectation({"matches": "^cbc"}, {}), "cbc\udcff").verdict == "pass"


def test_safe_regex_policy_accepts_ordinary_patterns() -> None:
    for pattern in ("(?i)-cbc$|arcfour|3des", "^hmac-sha2-(256|512)", "pam_(faillock|tally2)",
                    r"^\s*\*\.\*\s+@@?[\w.-]+(:\d+)?", "a{1,5}b+", "(ab){2}c*"):
        compile_expectation({"matches": pattern}, {})
