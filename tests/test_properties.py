"""Property tests: every probe parser and every operator is total and deterministic.

Whatever bytes a (broken or hostile) host sends back, interpreting a probe's output
returns a result — never raises — and gives the same result twice. Operators likewise
never raise for any JSON value. The suite runs 300 examples per parser to stay
quick; the release check runs 10,000 per parser:

    CII_SCAN_HYPOTHESIS_EXAMPLES=10000 python -m pytest tests/test_properties.py
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import collect, probes
from scanner.expect import OPERATORS, apply, compile_expectation
from scanner.probes import ProbeCall, RawOutput
from scanner.probes._common import split_word_dump
from tests.conftest import TEST_TOKEN

EXAMPLES = int(os.environ.get("CII_SCAN_HYPOTHESIS_EXAMPLES", "300"))
PROFILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow])

# Lines that look like what probes print, so examples reach deep parser branches.
_FRAGMENTS = st.sampled_from([
    f"{TEST_TOKEN} F /etc/pam.d/sshd\n", f"{TEST_TOKEN} U /etc/shadow\n",
    f"{TEST_TOKEN} N /etc/missing\n", f"{TEST_TOKEN} O /etc/dir\n",
    "P:root:0:0:/root:/bin/bash:shadow\n", "S:root:empty:19000:0:99999:7:::\n",
    "D:UID_MIN:1000\n", "X:unreadable\n", "stat 640 0 42 root shadow 1024 regular file\n",
    "osr:ID=debian\n", "osr:ID_LIKE=\"rhel fedora\"\n", "permitrootlogin no\n",
    "ciphers aes128-ctr,aes256-gcm@openssh.com\n", "PASS_MAX_DAYS\t90\n", "@include common-auth\n",
    "auth required pam_faillock.so deny=5 unlock_time=900\n", "password include system-auth\n",
    "TMOUT=600\nreadonly TMOUT\nexport TMOUT\n", "*.* @@logs.example:514\n", "rotate 26\nweekly\n",
    "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n", "-P INPUT DROP\n", "ii  telnetd 0.17-44\n",
    "cii:sshd-absent\n", "cii:missing\n", "\t# comment\n", "\n", "=\n", "::::::\n",
])
_PAYLOADS = st.one_of(
    st.binary(max_size=2048),
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=40)), max_size=30).map(
        lambda parts: "".join(parts).encode("utf-8", "surrogatepass")),
)
_EXITS = st.one_of(st.none(), st.integers(min_value=0, max_value=255))


_SAMPLE_ARGS = {"path": "/etc/passwd", "name": "net.ipv4.ip_forward", "unit": "sshd.service",
                "service": "sshd", "key": "x", "pattern": "x", "tool": "nftables"}


def _calls_for(name: str) -> list[ProbeCall]:
    """Valid calls of probe ``name``: required arguments only, and every argument it takes
    (so optional arguments such as a unit's ``process`` are varied too)."""
    schema = probes.get(name).args_schema
    required = {key: _SAMPLE_ARGS.get(key, "x") for key in schema.get("required", [])}
    calls = [ProbeCall.of(name, required)]
    every = dict(required)
    for key, spec in schema.get("properties", {}).items():
        if key in every:
            continue
        kind = spec.get("type")
        every[key] = (["sshd"] if kind == "array" else 1 if kind == "integer"
                      else True if kind == "boolean" else _SAMPLE_ARGS.get(key, "x"))
    if every != required:
        calls.append(ProbeCall.of(name, every))
    return calls


@pytest.mark.parametrize("name", sorted(probes.catalog()))
def test_probe_parser_is_total_and_deterministic(name: str) -> None:
    """Every example reaches the parser itself (``interpret`` would stop early on a cut or
    failed output), and ``interpret`` around it is checked on the same example."""
    probe = probes.get(name)

    @PROFILE
    @given(call=st.sampled_from(_calls_for(name)), payload=_PAYLOADS, exit_status=_EXITS,
           truncated=st.booleans())
    def check(call: ProbeCall, payload: bytes, exit_status: int | None,
              truncated: bool) -> None:
        raw = RawOutput(payload, exit_status, truncated=truncated, token=TEST_TOKEN)
        parsed = probe.parse(raw, call.args)  # raises here if the parser is not total
        assert parsed == probe.parse(raw, call.args)
        assert parsed.status in ("ok", "error", "absent")
        assert parsed.status == "ok" or parsed.error
        json.dumps(parsed.data)  # facts stay JSON
        first = probes.interpret(call, raw)
        assert first == probes.interpret(call, raw)
        assert first.status == "ok" or first.error

    check()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.sampled_from(["name", "uid", "mode", "owner", "exists", "x"]), children, max_size=5),
    max_leaves=20,
)
_EXPECTATIONS = [
    {"equals": "no"}, {"not_equals": 0}, {"in": ["a", 1]}, {"not_in": ["b"]},
    {"matches": "^a+$"}, {"not_matches": "x"}, {"lt": 5}, {"le": 5.5}, {"gt": -1}, {"ge": 0},
    {"version_lt": "1.2"}, {"version_le": "1.2"}, {"version_gt": "1"}, {"version_ge": "1"},
    {"exists": True}, {"absent": True}, {"contains": "a"}, {"not_contains": "a"},
    {"empty": True}, {"mode_at_most": "0640"}, {"owner": "root"}, {"group": ["root"]},
    {"all": [{"ge": 1}, {"exists": True}]}, {"any": [{"equals": 1}, {"matches": "a"}]},
    {"none": [{"equals": 1}]}, {"not": {"equals": 1}},
    {"all_items": {"uid": {"ge": 1}}}, {"any_item": {"matches": "a"}},
    {"no_item": {"name": {"equals": "x"}}}, {"count": {"where": {"uid": {"equals": 0}}, "le": 1}},
]


def test_expectation_examples_cover_every_operator() -> None:
    used = {key for raw in _EXPECTATIONS for key in json.dumps(raw).split('"')[1::2]}
    assert set(OPERATORS) <= used


_COMPILED = [compile_expectation(raw, {}) for raw in _EXPECTATIONS]


@settings(max_examples=EXAMPLES * 3, deadline=None, derandomize=True)
@given(expectation=st.sampled_from(_COMPILED), value=_JSON)
def test_operators_are_total(expectation: Any, value: Any) -> None:
    first = apply(expectation, value)
    assert first == apply(expectation, value)
    assert first.verdict in ("pass", "fail", "error")


_FRAMED_CALLS = [ProbeCall.of("os"), ProbeCall.of("pam"), ProbeCall.of("sudoers"),
                 ProbeCall.of("file", {"path": "/etc/passwd"})]
_FRAME_LINES = st.sampled_from([
    f"\n{TEST_TOKEN} B {n}\n" for n in range(6)] + [
    f"\n{TEST_TOKEN} E {n} {s}\n" for n in range(6) for s in ("0", "1", "124", "")] + [
    f"\n{TEST_TOKEN} X {n} 124\n" for n in range(4)] + [
    f"\n{TEST_TOKEN} END\n", f"{TEST_TOKEN} R /etc/pam.d/login\n", f"{TEST_TOKEN} S\n",
    f"{TEST_TOKEN} C\n", "12\n", "0\n", f"{TEST_TOKEN} N /etc/pam.d/*\n",
    f"{TEST_TOKEN} W 0\n", f"{TEST_TOKEN} W 1\n"]).map(str.encode)


@PROFILE
@given(st.lists(st.one_of(_FRAME_LINES, _PAYLOADS), max_size=40))
def test_collector_output_parsing_is_total_and_deterministic(chunks: list[bytes]) -> None:
    """Any stream of frames and bytes gives a result for every call, the same twice."""
    output = b"".join(chunks)
    first = collect.parse_output(output, _FRAMED_CALLS, TEST_TOKEN)
    assert set(first.results) == set(_FRAMED_CALLS)
    assert collect.parse_output(output, _FRAMED_CALLS, TEST_TOKEN) == first


@PROFILE
@given(st.lists(st.one_of(_FRAME_LINES, _PAYLOADS), max_size=40))
def test_file_dump_splitting_is_total(chunks: list[bytes]) -> None:
    words = split_word_dump(b"".join(chunks), TEST_TOKEN, 2, file_cap=16)
    assert words is None or len(words) == 2
