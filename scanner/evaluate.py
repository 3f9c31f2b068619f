"""Evaluation: ``evaluate(baseline, facts) -> [RuleResult]``. Pure: no I/O, no globals.

A rule passes only on positive evidence. A probe that errored, a value that was
not reported, an OS family that could not be told: each gives ``error`` with the
reason. A probe whose subject is not installed (``absent``) gives
``not_applicable``. Rules marked ``manual`` never pass or fail on their own:
they carry the collected evidence for an assessor to judge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any

from scanner import compiled, probes
from scanner.baseline import Baseline, Check, CompositeCheck, ProbeCheck, Rule
from scanner.expect import MISSING, TOO_DEEP, Outcome, Reason, combine
from scanner.facts import Facts
from scanner.findings import RuleResult
from scanner.render.wording import english_expected, english_message, reason_json

MAX_EVIDENCE_ITEMS = 50
MAX_EVIDENCE_TEXT = 2000


# A check's outcome: (status: pass | fail | error | not_applicable, reasons, evidence). A
# plain tuple, not a dataclass: one is made per check per host (~170 a host), and a frozen
# dataclass's __init__ cost more than the check itself on the commonest checks.
_Evaluated = tuple[str, tuple[Reason, ...], tuple[Mapping[str, Any], ...]]
_NO_CHECK: tuple[str, Mapping[str, Any] | None] = ("", None)
_by_id = attrgetter("id")
_COMPILED_APPLY = compiled.apply


def evaluate(baseline: Baseline, facts: Facts) -> list[RuleResult]:
    """Every enabled rule of ``baseline`` judged on ``facts``, in rule-id order."""
    os_data = facts.os
    family = os_data.get("family") if os_data else None
    cache: dict[Any, Any] = {}  # indexes of this host's lists, shared by its rules
    results = _results(facts, cache)
    return [_evaluate_rule(rule, results, family, cache)
            for rule in sorted(baseline.rules, key=_by_id)]


def evaluate_rule(rule: Rule, facts: Facts, os_family: str | None,
                  cache: dict[Any, Any] | None = None) -> RuleResult:
    """One rule judged on ``facts``; ``cache`` (per host, see ``evaluate``) may be shared
    by the rules of one host's evaluation, never across hosts."""
    cache = {} if cache is None else cache
    return _evaluate_rule(rule, _results(facts, cache), os_family, cache)


def _evaluate_rule(rule: Rule, results: Mapping[tuple[str, str], Any], os_family: str | None,
                   cache: dict[Any, Any]) -> RuleResult:
    """``evaluate_rule`` on the host's results by call (``_results``)."""
    check = rule.check
    expected = described_check(check) if check is not None else _NO_CHECK
    if rule.applies_to:
        if os_family is None or os_family == "unknown":
            return _result(rule, "error", expected, (), (("os_unknown", rule.applies_to),))
        if os_family not in rule.applies_to:
            return _result(rule, "not_applicable", expected, (),
                           (("not_this_os", rule.applies_to, os_family),))
    if check is None:
        return _result(rule, "manual", expected, (), (("needs_judgement",),))
    run: Run | None = check.__dict__.get("_run")
    status, reasons, evidence = (run or _compiled(check))(results, cache)
    if rule.manual is not None:
        note: Reason = ("manual_evidence",)
        if status == "error":
            note = ("manual_evidence_partial", reasons)
        return _result(rule, "manual", expected, evidence, (note,))
    return _result(rule, status, expected, evidence, reasons)


def _result(rule: Rule, status: str, expected: tuple[str, Mapping[str, Any] | None],
            evidence: tuple[Mapping[str, Any], ...], reasons: tuple[Reason, ...]
            ) -> RuleResult:
    """The result with its reasons as data: worded (in English, for the findings'
    ``message``, and as the ``wording`` object) only when the document is built."""
    # RuleResult(rule_id=..., ...) without the frozen dataclass's __init__ (a setattr call
    # per field: more than the commonest check costs); _RESULT_FIELDS says it is the same
    result = _new_result(RuleResult)
    result.__dict__.update({
        "rule_id": rule.id, "status": status, "severity": rule.severity,
        "expected": expected[0], "observed": list(evidence), "reasons": reasons,
        "expected_data": expected[1], "waiver": None, "judgement": None, "written": None,
        "evidence_digest": None})
    return result


_new_result = object.__new__
# the fields _result sets, in RuleResult's order; the last ones are set to None, their
# default (tests/test_compiled_expect.py holds both to RuleResult's definition)
_RESULT_FIELDS = ("rule_id", "status", "severity", "expected", "observed", "reasons",
                  "expected_data", "waiver", "judgement", "written", "evidence_digest")
_RESULT_NONE = ("waiver", "judgement", "written", "evidence_digest")


# A check as a closure of (the host's results by call, the evaluation's cache), built once
# per check per run and kept on the check: what a check's own parts decide (its call, key,
# naming in evidence, the probe's fields) is worked out then, not for every host.
Run = Callable[[Mapping[tuple[str, str], Any], dict[Any, Any]], _Evaluated]


def _compiled(check: Check) -> Run:
    run = _compile_probe(check) if isinstance(check, ProbeCheck) else _compile_composite(check)
    object.__setattr__(check, "_run", run)
    return run


def _compile_composite(check: CompositeCheck) -> Run:
    parts = tuple(part.__dict__.get("_run") or _compiled(part) for part in check.parts)
    mode = check.mode

    def composite(results: Mapping[tuple[str, str], Any], cache: dict[Any, Any]
                  ) -> _Evaluated:
        shown: list[Mapping[str, Any]] = []
        applicable = []
        first = None
        for part in parts:  # one loop (a comprehension is a call of its own in 3.11)
            outcome = part(results, cache)
            if first is None:
                first = outcome
            shown += outcome[2]
            if outcome[0] != "not_applicable":
                applicable.append(outcome)
        evidence = tuple(shown)
        if not applicable:
            # (the first part's reasons; the schema gives a combined check at least one)
            return ("not_applicable", first[1] if first is not None else (), evidence)
        if mode == "all":  # combine("all", ...), without an Outcome per part
            error = None
            for status, reasons, _ in applicable:
                if status == "fail":
                    return ("fail", reasons, evidence)
                if status == "error" and error is None:
                    error = reasons
            return ("pass", (), evidence) if error is None else ("error", error, evidence)
        outcome = combine(mode, [Outcome(status, reasons)  # type: ignore[arg-type]
                                 for status, reasons, _ in applicable])
        return (outcome.verdict, outcome.reasons, evidence)
    return composite


def _compile_probe(check: ProbeCheck) -> Run:
    call, key, expect = check.call, check.key, check.expect
    call_key = (call.probe, call.args_json)
    where = _where(check)  # shared: only ever copied into each evidence item
    not_collected: Reason = ("probe_not_collected", call.key)
    not_reported: Reason = ("key_not_reported", key or call.probe)
    try:
        probe: probes.Probe | None = probes.get(call.probe)
    except KeyError:
        probe = None  # raised (as subject_of would) only when a result asks for it
    keyed = probe.keyed if probe is not None else None
    subject = probe.subject if probe is not None else None

    def probe_check(results: Mapping[tuple[str, str], Any], cache: dict[Any, Any]
                    ) -> _Evaluated:
        result = results.get(call_key)
        if result is None:
            return ("error", (not_collected,), ({**where, "error": english_message(
                [reason_json(not_collected)])},))
        status = result.status
        if status == "absent":
            said = result.error or "not present on this host"
            return ("not_applicable", (("said", said) if result.error else ("not_present",),),
                    ({**where, "absent": said},))
        if status != "ok":
            said = result.error or "probe failed"
            return ("error", (("said", said) if result.error else ("probe_failed",),),
                    ({**where, "error": said},))
        if probe is None:
            probes.get(call.probe)
        data = result.data
        # subject_of(check, data) written out (keep the two alike)
        is_dict = isinstance(data, dict)
        unobservable: Mapping[str, str] = {}
        if is_dict:
            said_why = data.get("unobservable")
            if isinstance(said_why, dict):
                unobservable = said_why
        if key is not None:
            base = data.get(keyed, MISSING) if keyed and is_dict else data
            # lookup(base, key), its commonest case without the call
            value = base[key] if type(base) is dict and key in base else lookup(base, key)
        elif subject is not None:
            value = data.get(subject, MISSING) if is_dict else MISSING
        else:
            value = data
        missing_reason = ("said", unobservable[key]) if key and key in unobservable \
            else not_reported
        if compiled.apply is _COMPILED_APPLY:  # compiled.apply's work, without its call
            try:
                outcome = (expect.__dict__.get("_fn") or compiled.compiled(expect))(
                    value, unobservable, missing_reason, cache)
            except RecursionError:
                outcome = TOO_DEEP
        else:  # the reference interpreter swapped in (bench/eval_bench.py, tests)
            outcome = compiled.apply(expect, value, unobservable, missing_reason, cache)
        # bounded_evidence's answer without its call for a leaf (its own evidence), an
        # empty list (a new one) and a value not reported (None)
        kind = type(value)
        if (kind is str and len(value) <= MAX_EVIDENCE_TEXT) or kind is int or kind is bool \
                or value is None:
            shown = value
        elif value is MISSING:
            shown = None
        elif kind is list and not value:
            shown = []
        else:
            shown = bounded_evidence(value, cache)
        reasons = outcome.reasons
        if key and outcome.verdict == "fail":
            # a probe may say why a value is what it is (e.g. why retention is 0 days)
            why = data.get("why") if is_dict else None
            if isinstance(why, Mapping) and isinstance(why.get(key), str):
                reasons = (*reasons, ("why", why[key]))
        return (outcome.verdict, reasons, ({**where, "value": shown},))
    return probe_check


def _results(facts: Facts, cache: dict[Any, Any]) -> Mapping[tuple[str, str], Any]:
    """The host's probe results by (probe, canonical arguments), made once per host's
    evaluation: the same lookup as ``facts.result(call)`` (a ProbeCall is equal exactly
    when those two are), without a ProbeCall's hash and equality written in Python."""
    key = ("results", id(facts))
    entry = cache.get(key)
    if entry is not None and entry[0] is facts:
        return entry[1]  # type: ignore[no-any-return]
    by_key = {(call.probe, call.args_json): result for call, result in facts.results.items()}
    cache[key] = (facts, by_key)  # facts kept, so its id is not reused meanwhile
    return by_key


def _subject(check: ProbeCheck) -> tuple[str | None, str | None]:
    """The probe's ``keyed`` and ``subject`` fields (see ``subject_of``), once per check."""
    probe = probes.get(check.call.probe)
    found = (probe.keyed, probe.subject)
    object.__setattr__(check, "_subject", found)
    return found


def _where(check: ProbeCheck) -> Mapping[str, Any]:
    """The evidence's naming of the check, worked out once per check (callers copy it)."""
    where: dict[str, Any] | None = check.__dict__.get("_where")
    if where is None:
        call = check.call
        where = {"probe": call.probe}
        if call.args_json != "{}":
            where["args"] = call.args
        if check.key:
            where["key"] = check.key
        object.__setattr__(check, "_where", where)  # per check, once per run
    return where


def subject_of(check: ProbeCheck, data: Any) -> tuple[Any, Mapping[str, str]]:
    """The value a check looks at, and the probe's reasons for fields it could not see."""
    keyed, subject = check.__dict__.get("_subject") or _subject(check)
    unobservable: Mapping[str, str] = {}
    if isinstance(data, dict) and isinstance(data.get("unobservable"), dict):
        unobservable = data["unobservable"]
    if check.key is not None:
        base = data.get(keyed, MISSING) if keyed and isinstance(data, dict) else data
        return lookup(base, check.key), unobservable
    if subject is not None:
        return (data.get(subject, MISSING) if isinstance(data, dict) else MISSING,
                unobservable)
    return data, unobservable


def lookup(base: Any, key: str) -> Any:
    """``key`` in ``base``; a dotted key walks nested mappings when no member has its name."""
    if not isinstance(base, dict):
        return MISSING
    if key in base:
        return base[key]
    head, _, rest = key.partition(".")
    if rest and head in base:
        return lookup(base[head], rest)
    return MISSING


def describe_check(check: Check) -> str:
    """A check in plain English, for findings' ``expected``."""
    return described_check(check)[0]


def described_check(check: Check) -> tuple[str, Mapping[str, Any]]:
    """A check in plain English (findings' ``expected``) and as data (``wording.expected``);
    worked out once per check and shared by its results (findings are never changed)."""
    described: tuple[str, Mapping[str, Any]] | None = check.__dict__.get("_described")
    if described is None:
        data = check_json(check)
        described = (english_expected(data), data)
        object.__setattr__(check, "_described", described)
    return described


def check_json(check: Check) -> dict[str, Any]:
    """A check as data: the subject a probe check looks at and its expectation, or the
    parts of a combined check."""
    if isinstance(check, ProbeCheck):
        subject = check.key or probes.get(check.call.probe).subject or check.call.probe
        return {"subject": subject, "args": dict(check.call.args),
                "expect": check.expect.to_json()}
    assert isinstance(check, CompositeCheck)
    return {"mode": check.mode, "parts": [check_json(part) for part in check.parts]}


def bounded_evidence(value: Any, cache: dict[Any, Any] | None = None) -> Any:
    """Evidence small enough for a report: long lists and strings are cut, and say so.

    With ``cache`` (one host's evaluation), a value several rules show (the account list,
    sshd's settings) is cut once and the rules' evidence shares the copy: findings are
    data, never changed after evaluation.
    """
    if cache is None or not isinstance(value, (list, dict)):
        return _bounded(value)
    key = ("evidence", id(value))
    entry = cache.get(key)
    if entry is not None and entry[0] is value:
        return entry[1]
    bounded = _bounded(value)
    cache[key] = (value, bounded)  # the value is kept, so its id is not reused meanwhile
    return bounded


def _bounded(value: Any) -> Any:
    kind = type(value)  # exact types first (facts are JSON data), leaves without a call
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                key = str(key)
            sort = type(item)
            if (sort is str and len(item) <= MAX_EVIDENCE_TEXT) or sort is int \
                    or sort is bool or item is None:
                out[key] = item
            else:
                out[key] = _bounded(item)
        return out
    if kind is list:
        cut = len(value) > MAX_EVIDENCE_ITEMS
        shown = [item if type(item) is str and len(item) <= MAX_EVIDENCE_TEXT
                 else _bounded(item) for item in (value[:MAX_EVIDENCE_ITEMS] if cut else value)]
        if cut:
            shown.append(f"… ({len(value) - MAX_EVIDENCE_ITEMS} more items)")
        return shown
    if kind is str:
        return value if len(value) <= MAX_EVIDENCE_TEXT else _bounded_reference(value)
    if kind is int or kind is bool or kind is float or value is None:
        return value
    return _bounded_reference(value)


def _bounded_reference(value: Any) -> Any:
    if value is MISSING:
        return None
    if isinstance(value, str) and len(value) > MAX_EVIDENCE_TEXT:
        return value[:MAX_EVIDENCE_TEXT] + f"… ({len(value) - MAX_EVIDENCE_TEXT} more chars)"
    if isinstance(value, list) and len(value) > MAX_EVIDENCE_ITEMS:
        return [_bounded(v) for v in value[:MAX_EVIDENCE_ITEMS]] + [
            f"… ({len(value) - MAX_EVIDENCE_ITEMS} more items)"
        ]
    if isinstance(value, list):
        return [_bounded(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _bounded(v) for k, v in value.items()}
    return value
