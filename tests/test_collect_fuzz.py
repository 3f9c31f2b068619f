"""Fuzzing the host side: real collector captures, mutated, through parse_output and evaluation.

The captures are REAL: the collector script of the shipped baseline is run on this machine,
one run per rule family (``ssh.``, ``auth.``, ...), so each capture holds that family's calls
with their real framing, shared parts and file dump. Each example then damages one capture
the way a hostile or broken host or link could (cut at any offset, frames dropped, cut,
reordered, repeated, forged markers carrying the run's own token, random bytes) and checks:

1. parse_output and the evaluation of the family's rules never raise;
2. a probe whose frame did not complete is ``error``, and a rule made only of such probes
   gives no verdict (``error`` or ``manual``);
3. a rule that passes on the damaged capture passes on the whole one (never a new pass);
4. frames reordered or repeated whole read exactly as the original.

CI runs 10,000 examples per property (``CII_SCAN_FUZZ_EXAMPLES``). To keep that within a few
minutes the checks avoid repeating work whose answer is already known, never by looking
less: a probe's interpretation is memoised on its exact raw output (``probes.interpret`` is
deterministic, tests/test_properties.py), and a rule is judged again only when a result it
reads is not the very object the undamaged capture gave it (same inputs, same verdict).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner import probes
from scanner.baseline import Rule, iter_probe_checks, load_baseline
from scanner.collect import build_script, new_token, parse_output, plan_parts
from scanner.evaluate import evaluate_rule
from scanner.facts import Facts, HostIdentity
from scanner.findings import RuleResult
from scanner.probes import ProbeCall, ProbeResult, RawOutput
from scanner.scan import report_from_facts

EXAMPLES = int(os.environ.get("CII_SCAN_FUZZ_EXAMPLES", "10000"))
PROFILE = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BASELINE = load_baseline("cii-art9-linux")
OS = ProbeCall.of("os")
NO_VERDICT = frozenset({"error", "manual"})


@dataclass(frozen=True)
class Frame:
    part: int
    start: int  # the newline before its B line
    end: int  # just past its E line's newline


@dataclass(frozen=True)
class Capture:
    """One real collector run, cut into the frames parse_output reads."""

    name: str
    calls: tuple[ProbeCall, ...]
    rules: tuple[Rule, ...]
    token: str
    output: bytes
    frames: tuple[Frame, ...]
    needs: dict[ProbeCall, frozenset[int]]  # the parts each call's output is made of
    rule_calls: dict[str, frozenset[ProbeCall]]
    results: dict[ProbeCall, ProbeResult]
    verdicts: dict[str, RuleResult]

    def facts(self, results: dict[ProbeCall, ProbeResult]) -> Facts:
        return Facts(HostIdentity("fuzz", "127.0.0.1"), results, "2026-01-01T00:00:00Z", 0.0)


# ----------------------------------------------------------------------------- memoising

_INTERPRETED: dict[tuple[ProbeCall, RawOutput], ProbeResult] = {}
_INTERPRETED_KEPT = 4096
_REAL_INTERPRET = probes.interpret


def _memo_interpret(call: ProbeCall, raw: RawOutput) -> ProbeResult:
    key = (call, raw)
    known = _INTERPRETED.get(key)
    if known is None:
        if len(_INTERPRETED) >= _INTERPRETED_KEPT:
            # keep the undamaged captures' results: rules are skipped by their identity
            kept = {k: v for k, v in _INTERPRETED.items() if k in _PINNED}
            _INTERPRETED.clear()
            _INTERPRETED.update(kept)
        known = _INTERPRETED[key] = _REAL_INTERPRET(call, raw)
    return known


_PINNED: set[tuple[ProbeCall, RawOutput]] = set()


@pytest.fixture(scope="module", autouse=True)
def _memoised_interpret() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(probes, "interpret", _memo_interpret)
        yield


# ----------------------------------------------------------------------------- captures

def _families() -> dict[str, tuple[Rule, ...]]:
    found: dict[str, list[Rule]] = {}
    for rule in BASELINE.rules:
        found.setdefault(rule.id.split(".")[0], []).append(rule)
    return {name: tuple(rules) for name, rules in sorted(found.items())}


FAMILIES = tuple(_families())


def _frames(output: bytes, token: str) -> tuple[Frame, ...]:
    mark = re.escape(token.encode())
    begun: dict[int, int] = {}
    frames = []
    for match in re.finditer(rb"\n" + mark + rb" (B|E) (\d+)(?: \d*)?\n", output):
        part = int(match.group(2))
        if match.group(1) == b"B":
            begun[part] = match.start()
        elif part in begun:
            frames.append(Frame(part, begun.pop(part), match.end()))
    return tuple(frames)


# The captures are this machine's configuration, seen from a process table of their own:
# the daemons and sessions other tests happen to leave running at that moment would make
# the captures (and so the examples drawn from them) differ from run to run.
_ISOLATED = ["unshare", "--pid", "--fork", "--mount-proc"]


def _run_collector(calls: Sequence[ProbeCall], token: str) -> bytes:
    isolate = _ISOLATED if os.geteuid() == 0 and shutil.which("unshare") else []
    done = subprocess.run([*isolate, "sh", "-s"], input=build_script(calls, token).encode(),
                          capture_output=True, timeout=300, check=False)
    return done.stdout


def _calls_needed(rules: Sequence[Rule]) -> tuple[ProbeCall, ...]:
    return tuple(sorted({OS, *(call for rule in rules if rule.check is not None
                               for call in iter_probe_checks(rule.check))}))


@cache
def capture(name: str) -> Capture:
    """The real collector output of this machine for one rule family (run once)."""
    rules = _families()[name]
    calls = _calls_needed(rules)
    token = new_token()
    output = _run_collector(calls, token)
    parsed = parse_output(output, calls, token)
    assert parsed.complete, f"the {name} capture did not finish on this machine"
    _PINNED.update(key for key, value in _INTERPRETED.items()
                   if parsed.results.get(key[0]) is value)
    plan = plan_parts(calls)
    needs = {}
    for index, call in enumerate(calls):
        parts = set(plan.uses[index])
        if plan.word_uses[index] and plan.files_part is not None:
            parts.add(plan.files_part)
        needs[call] = frozenset(parts)
    rule_calls = {rule.id: frozenset({OS, *(iter_probe_checks(rule.check)
                                            if rule.check is not None else ())})
                  for rule in rules}
    facts = Facts(HostIdentity("fuzz", "127.0.0.1"), parsed.results, "2026-01-01T00:00:00Z",
                  0.0)
    family = facts.os.get("family") if facts.os else None
    verdicts = {rule.id: evaluate_rule(rule, facts, family) for rule in rules}
    frames = _frames(output, token)
    assert sorted(frame.part for frame in frames) == list(range(len(plan.parts)))
    return Capture(name, calls, rules, token, output, frames, needs, rule_calls,
                   parsed.results, verdicts)


# ----------------------------------------------------------------------------- checking

@dataclass(frozen=True)
class Judged:
    results: dict[ProbeCall, ProbeResult]
    verdicts: dict[str, RuleResult]  # only the rules whose inputs changed


def judge(cap: Capture, output: bytes) -> Judged:
    """parse_output, then the evaluation of every rule whose inputs differ from the whole
    capture's (the others read the very same result objects, so give the same verdict)."""
    parsed = parse_output(output, list(cap.calls), cap.token)
    assert set(parsed.results) == set(cap.calls)
    changed = {call for call in cap.calls if parsed.results[call] is not cap.results[call]}
    facts = cap.facts(parsed.results)
    family = facts.os.get("family") if facts.os else None
    verdicts = {rule.id: evaluate_rule(rule, facts, family) for rule in cap.rules
                if cap.rule_calls[rule.id] & changed}
    return Judged(parsed.results, verdicts)


def check(cap: Capture, output: bytes, unfinished: frozenset[int] = frozenset()) -> Judged:
    """Properties 1-3 on ``output``; ``unfinished``: parts known not to have completed."""
    judged = judge(cap, output)
    for rule_id, result in judged.verdicts.items():
        if result.status == "pass":
            assert cap.verdicts[rule_id].status == "pass", (
                f"{rule_id} passes on the damaged capture only: {result.message}")
    blind = {call for call in cap.calls if cap.needs[call] & unfinished}
    for call in blind:
        got = judged.results[call]
        assert got.status == "error", f"{call.key} read from an unfinished frame: {got}"
    for rule in cap.rules:
        calls = cap.rule_calls[rule.id] - ({OS} if OS not in blind else set())
        if not calls or not calls <= blind:
            continue
        got = judged.verdicts.get(rule.id, cap.verdicts[rule.id])
        if OS not in blind and rule.applies_to and got == cap.verdicts[rule.id] \
                and got.status == "not_applicable":
            continue  # not for this OS family, which was read from a finished frame
        assert got.status in NO_VERDICT, f"{rule.id} judged on unfinished frames: {got}"
    return judged


# ----------------------------------------------------------------------------- strategies

def _forged(cap: Capture) -> st.SearchStrategy[bytes]:
    """Marker lines carrying the run's own token: right or wrong part numbers and statuses."""
    mark = cap.token.encode()
    parts = st.integers(min_value=0, max_value=len(cap.frames) + 2)
    status = st.one_of(st.just(b""), st.integers(0, 999).map(lambda n: str(n).encode()))
    return st.one_of(
        parts.map(lambda p: b"\n" + mark + b" B " + str(p).encode() + b"\n"),
        st.tuples(parts, status).map(lambda t: b"\n" + mark + b" E " + str(t[0]).encode()
                                     + (b" " + t[1] if t[1] else b"") + b"\n"),
        st.tuples(parts, status).map(lambda t: b"\n" + mark + b" X " + str(t[0]).encode()
                                     + b" " + t[1] + b"\n"),
        st.just(b"\n" + mark + b" END\n"),
        st.sampled_from([b" W 0\n", b" R /etc/passwd\n", b" S\n", b" C\n", b" F /x\n",
                         b" N /x\n"]).map(lambda tail: mark + tail),
    )


def _offset_in(cap: Capture, draw: Callable[[st.SearchStrategy[int]], int]) -> int:
    """An offset of one of the classes where a cut changes what the parser sees."""
    frame = cap.frames[draw(st.integers(0, len(cap.frames) - 1))]
    b_end = cap.output.index(b"\n", frame.start + 1) + 1
    e_start = cap.output.rindex(b"\n", frame.start, frame.end - 1)
    where = draw(st.sampled_from(["in-b", "after-b", "payload", "in-e", "after-e", "any"]))
    if where == "in-b":
        return draw(st.integers(frame.start, b_end - 1))
    if where == "after-b":
        return b_end
    if where == "payload":
        return draw(st.integers(b_end, max(b_end, e_start)))
    if where == "in-e":
        return draw(st.integers(e_start, frame.end - 1))
    if where == "after-e":
        return frame.end
    return draw(st.integers(0, len(cap.output)))


def _unfinished_at(cap: Capture, cut: int) -> frozenset[int]:
    return frozenset(frame.part for frame in cap.frames if frame.end > cut)


_CAPTURES = st.sampled_from(FAMILIES).map(capture)


# ----------------------------------------------------------------------------- properties

@PROFILE
@given(data=st.data())
def test_truncation_at_any_offset_keeps_finished_frames_and_invents_nothing(
        data: st.DataObject) -> None:
    """Property 2 and 3 for a capture cut at any offset: every frame that ended before the
    cut keeps its result, every other one is an error."""
    cap = data.draw(_CAPTURES)
    cut = data.draw(st.integers(0, len(cap.output)))
    judged = check(cap, cap.output[:cut], _unfinished_at(cap, cut))
    for call in cap.calls:
        if not cap.needs[call] & _unfinished_at(cap, cut):
            assert judged.results[call] == cap.results[call], call.key


def _cut_at_an_offset_class(cap: Capture, data: st.DataObject) -> None:
    """Cut inside a marker line, right after a B or E line, inside a payload."""
    cut = _offset_in(cap, data.draw)
    check(cap, cap.output[:cut], _unfinished_at(cap, cut))


def _frames_reordered_or_repeated(cap: Capture, data: st.DataObject) -> None:
    """Property 4: parts are told by number, so whole frames in another order, or sent
    twice, change nothing."""
    order = data.draw(st.permutations(range(len(cap.frames))))
    repeats = data.draw(st.lists(st.integers(0, len(cap.frames) - 1), max_size=4))
    first = cap.frames[0].start
    last = cap.frames[-1].end
    body = [cap.frames[i] for i in order]
    for index in repeats:
        body.insert(data.draw(st.integers(0, len(body))), cap.frames[index])
    output = (cap.output[:first] + b"".join(cap.output[f.start:f.end] for f in body)
              + cap.output[last:])
    judged = check(cap, output)
    assert judged.verdicts == {} and judged.results == cap.results


def _frames_dropped_or_cut(cap: Capture, data: st.DataObject) -> None:
    """A frame missing whole, or missing its E line, is an error for its probes alone."""
    hit = data.draw(st.sets(st.integers(0, len(cap.frames) - 1), min_size=1, max_size=3))
    how = {index: data.draw(st.sampled_from(["drop", "cut-e", "cut-payload"]))
           for index in hit}
    pieces = [cap.output[:cap.frames[0].start]]
    for index, frame in enumerate(cap.frames):
        text = cap.output[frame.start:frame.end]
        e_start = cap.output.rindex(b"\n", frame.start, frame.end - 1) - frame.start
        if how.get(index) == "drop":
            text = b""
        elif how.get(index) == "cut-e":
            text = text[:e_start]
        elif how.get(index) == "cut-payload":
            text = text[:data.draw(st.integers(0, e_start))]
        pieces.append(text)
    pieces.append(cap.output[cap.frames[-1].end:])
    unfinished = frozenset(cap.frames[index].part for index in hit)
    judged = check(cap, b"".join(pieces), unfinished)
    for call in cap.calls:
        if not cap.needs[call] & unfinished:
            assert judged.results[call] == cap.results[call], call.key


def _forged_markers_and_random_bytes(cap: Capture, data: st.DataObject) -> None:
    """Lines with the run's own token (B twice, E without B, E with a wrong status or part,
    a stray END, file-dump lines) and random bytes, at any offset or offset class."""
    output = cap.output
    for _ in range(data.draw(st.integers(1, 3))):
        junk = data.draw(st.one_of(_forged(cap), st.binary(min_size=1, max_size=64)))
        at = _offset_in(cap, data.draw) if output is cap.output \
            else data.draw(st.integers(0, len(output)))
        output = output[:at] + junk + output[at:]
    check(cap, output)


def _an_e_line_with_another_status(cap: Capture, data: st.DataObject) -> None:
    """E with a wrong or no status: the part's end is forged."""
    frame = cap.frames[data.draw(st.integers(0, len(cap.frames) - 1))]
    e_start = cap.output.rindex(b"\n", frame.start, frame.end - 1)
    line = cap.output[e_start:frame.end]
    status = data.draw(st.one_of(st.just(b""), st.sampled_from([b"0", b"1", b"2", b"124",
                                                               b"137", b"255", b"999"])))
    forged = re.sub(rb" \d*\n$", (b" " + status if status else b"") + b"\n", line)
    check(cap, cap.output[:e_start] + forged + cap.output[frame.end:])


_MUTATIONS = (_cut_at_an_offset_class, _frames_reordered_or_repeated, _frames_dropped_or_cut,
              _forged_markers_and_random_bytes, _an_e_line_with_another_status)


@PROFILE
@given(data=st.data())
def test_damaged_captures_never_raise_never_judge_unfinished_frames_never_add_a_pass(
        data: st.DataObject) -> None:
    """Properties 1-4 over every kind of damage, one drawn per example (10,000 examples in
    all: one property, so the module stays within CI's few minutes)."""
    cap = data.draw(_CAPTURES)
    data.draw(st.sampled_from(_MUTATIONS), label="mutation")(cap, data)


# ----------------------------------------------------------------------------- whole host

def test_whole_capture_of_this_machine_cut_after_each_frame() -> None:
    """The collector of the whole baseline in one run: cut after each frame's E line, and
    just before it, the finished frames keep their results and the host report is built."""
    calls = _calls_needed(BASELINE.rules)
    token = new_token()
    output = _run_collector(calls, token)
    whole = parse_output(output, calls, token)
    assert whole.complete
    frames = _frames(output, token)
    plan = plan_parts(calls)
    for frame in frames:
        for cut in (frame.end, frame.end - 1):
            parsed = parse_output(output[:cut], calls, token)
            assert not parsed.complete
            finished = {f.part for f in frames if f.end <= cut}
            for index, call in enumerate(calls):
                needs = set(plan.uses[index])
                if plan.word_uses[index] and plan.files_part is not None:
                    needs.add(plan.files_part)
                got = parsed.results[call]
                assert (got == whole.results[call]) if needs <= finished \
                    else got.status == "error", call.key
    def report(results: dict[ProbeCall, ProbeResult]) -> dict[str, str]:
        host = report_from_facts(BASELINE, Facts(HostIdentity("fuzz", "127.0.0.1"), results,
                                                 "2026-01-01T00:00:00Z", 0.0))
        assert host.status == "scanned"
        return {result.rule_id: result.status for result in host.results}

    full = report(whole.results)
    half = report(parse_output(output[:frames[len(frames) // 2].end], calls, token).results)
    assert {rule for rule, status in half.items() if status == "pass"} <= {
        rule for rule, status in full.items() if status == "pass"}


# ----------------------------------------------------------------------------- regressions

def _frame_and_its_middle(cap: Capture, frame: Frame) -> tuple[bytes, int]:
    """A frame's bytes and the offset in them halfway through its payload."""
    text = cap.output[frame.start:frame.end]
    b_end = text.index(b"\n", 1) + 1
    e_start = text.rindex(b"\n", 0, len(text) - 1)
    return text, b_end + (e_start - b_end) // 2


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("status", [b"", b"0", b"137", b"141"])
def test_a_part_stopped_before_its_end_is_an_error_for_every_probe_reading_it(
        name: str, status: bytes) -> None:
    """Found by the fuzzer: a shared part (the PAM module list) stopped mid-way (an X line,
    as the driver prints when a part run alone does not finish) gave its cut payload to the
    PAM probes as a whole one, since a shared part's status was not looked at; the module
    list lacked pam_unix.so, every stack read as refusing, and auth.pam-nullok-absent passed
    on a host that fails it."""
    cap = capture(name)
    for frame in cap.frames:
        text, half = _frame_and_its_middle(cap, frame)
        stopped = (text[:half] + b"\n" + cap.token.encode() + b" X " + str(frame.part).encode()
                   + (b" " + status if status else b"") + b"\n")
        check(cap, cap.output[:frame.start] + stopped + cap.output[frame.end:],
              frozenset({frame.part}))


@pytest.mark.parametrize("name", FAMILIES)
def test_a_second_end_marker_in_a_payload_makes_the_part_an_error(name: str) -> None:
    """Found by the fuzzer in a full-suite run: an `E N 0` line inside part N's payload
    (the host printing the run's own marker) ended the part there, the rest of it and the
    real E were ignored, and a PAM file list cut short let auth.pam-nullok-absent pass. The
    collector prints one E per attempt, so a second one means the payload's end is not
    known: every probe reading that part is an error."""
    cap = capture(name)
    for frame in cap.frames:
        text, half = _frame_and_its_middle(cap, frame)
        forged = text[:half] + b"\n" + cap.token.encode() + b" E " + str(frame.part).encode() \
            + b" 0\n" + text[half:]
        check(cap, cap.output[:frame.start] + forged + cap.output[frame.end:],
              frozenset({frame.part}))
