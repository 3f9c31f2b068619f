"""The closed set of operators a baseline's ``expect`` may use, compiled and applied.

An expectation is a mapping with exactly one operator. Compiling checks the
operator name and operand shape once, at baseline load, with the YAML path of
any problem; applying is pure and total: it returns pass, fail or error, never
raises for odd host data. A value the probe could not observe is an error with
the probe's reason, never a pass.

Operators
  equals, not_equals, in, not_in        value comparison (numbers compare numerically)
  matches, not_matches                   RE2 regex search: linear time (see "safe regexes")
  lt, le, gt, ge                         numeric
  version_lt, version_le, version_gt, version_ge   dotted/alnum version comparison
  exists, absent                         the value was reported / was not (operand: true)
  contains, not_contains                 list membership or substring
  empty                                  true: the list/string is empty; false: it is not
  mode_at_most                           file mode grants nothing beyond e.g. "0640"
  owner, group                           file owner/group name (a name or a list of names)
  all, any, none                         combine expectations on the same value
  not                                    negate one expectation
  all_items, any_item, no_item           quantify over a list (operand: a match)
  count                                  {where: match, <equals|lt|le|gt|ge>: n}

A *match* (for items of a list) is either an expectation, or a mapping of
field names to expectations that must all hold for the item.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import re2  # type: ignore[import-untyped,unused-ignore]

from scanner.expect_values import MAX_SUBJECT_CHARS, compare_versions
from scanner.expect_values import labels as _labels
from scanner.expect_values import number as _number
from scanner.expect_values import same as _same
from scanner.expect_values import show as _show
from scanner.expect_values import text as _text

Verdict = Literal["pass", "fail", "error"]

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<not reported>"})()
MAX_PATTERN_CHARS = 1_000

SCALAR_OPS = frozenset({"equals", "not_equals", "in", "not_in", "matches", "not_matches",
                        "lt", "le", "gt", "ge", "version_lt", "version_le", "version_gt",
                        "version_ge", "exists", "absent", "contains", "not_contains", "empty",
                        "mode_at_most", "owner", "group"})
COMBINATOR_OPS = frozenset({"all", "any", "none", "not"})
LIST_OPS = frozenset({"all_items", "any_item", "no_item", "count"})
OPERATORS = SCALAR_OPS | COMBINATOR_OPS | LIST_OPS
COUNT_COMPARATORS = ("equals", "lt", "le", "gt", "ge")


class ExpectationError(ValueError):
    """A malformed expectation; ``path`` is relative to the expectation."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


Reason = tuple[Any, ...]  # (code, *arguments): see scanner/render/wording.py ARGS


@dataclass(frozen=True)
class Outcome:
    """A verdict and why, as data: reason codes with the operands and values they are
    about. Worded (in English, for the findings' ``message``) only when asked."""

    verdict: Verdict
    reasons: tuple[Reason, ...] = ()

    @property
    def detail(self) -> str:
        return english(self.reasons)


def english(reasons: Sequence[Reason]) -> str:
    """Reasons in plain English (the findings' ``message``)."""
    from scanner.render.wording import english_message, reason_json

    return english_message([reason_json(r) for r in reasons])


def why(code: str, *args: Any) -> Outcome:
    """A failure for one reason."""
    return Outcome("fail", ((code, *args),))


def err(code: str, *args: Any) -> Outcome:
    """An error for one reason."""
    return Outcome("error", ((code, *args),))


def as_reason(reason: str | Reason) -> Reason:
    """A missing value's reason: a probe's own text, or a reason already coded."""
    return ("said", reason) if isinstance(reason, str) else reason


@dataclass(frozen=True)
class Expectation:
    op: str
    operand: Any  # compiled: Expectation, tuple of Expectation, Match, or a plain value

    def describe(self) -> str:
        return describe(self)

    def to_json(self) -> dict[str, Any]:
        """The expectation as data (findings' ``wording.expected``); built once, shared."""
        data: dict[str, Any] | None = self.__dict__.get("_json")
        if data is None:
            data = expectation_json(self)
            object.__setattr__(self, "_json", data)
        return data


@dataclass(frozen=True)
class Match:
    """Item test: an expectation on the item itself, or per-field expectations."""

    whole: Expectation | None
    fields: tuple[tuple[str, Expectation], ...] = ()


def resolve_parameters(value: Any, parameters: Mapping[str, Any], path: tuple[str | int, ...]
                       ) -> Any:
    """Replace ``$name`` operands by parameter values; ``$$`` escapes a literal ``$``."""
    if isinstance(value, str) and value.startswith("$"):
        if value.startswith("$$"):
            return value[1:]
        name = value[1:]
        if name not in parameters:
            raise ExpectationError(path, f"unknown parameter ${name}")
        return parameters[name]
    if isinstance(value, list):
        return [resolve_parameters(item, parameters, (*path, i)) for i, item in enumerate(value)]
    return value


def compile_expectation(raw: Any, parameters: Mapping[str, Any],
                        path: tuple[str | int, ...] = ()) -> Expectation:
    if not isinstance(raw, dict) or not raw:
        raise ExpectationError(path, "an expectation must be a mapping {operator: operand}")
    if len(raw) > 1:
        raise ExpectationError(path, "an expectation has exactly one operator; "
                               "combine several with all/any/none")
    (op, operand), = raw.items()
    here = (*path, op)
    if op not in OPERATORS:
        raise ExpectationError(here, f"unknown operator {op!r}")
    operand = resolve_parameters(operand, parameters, here)
    if op in ("all", "any", "none"):
        if not isinstance(operand, list) or not operand:
            raise ExpectationError(here, f"{op} takes a non-empty list of expectations")
        return Expectation(op, tuple(compile_expectation(item, parameters, (*here, i))
                                     for i, item in enumerate(operand)))
    if op == "not":
        return Expectation(op, compile_expectation(operand, parameters, here))
    if op in ("all_items", "any_item", "no_item"):
        return Expectation(op, compile_match(operand, parameters, here))
    if op == "count":
        if not isinstance(operand, dict):
            raise ExpectationError(here, "count takes {where: ..., <equals|lt|le|gt|ge>: n}")
        extra = set(operand) - {"where", *COUNT_COMPARATORS}
        if extra:
            raise ExpectationError(here, f"count does not take {sorted(extra)[0]!r}")
        comparators = [c for c in COUNT_COMPARATORS if c in operand]
        if len(comparators) != 1:
            raise ExpectationError(here, "count needs exactly one of equals, lt, le, gt, ge")
        comparator = comparators[0]
        number = resolve_parameters(operand[comparator], parameters, (*here, comparator))
        if not isinstance(number, int) or isinstance(number, bool):
            raise ExpectationError((*here, comparator), "count compares with a whole number")
        where = (compile_match(operand["where"], parameters, (*here, "where"))
                 if "where" in operand else None)
        return Expectation(op, (where, comparator, number))
    _check_scalar_operand(op, operand, here)
    if op in ("matches", "not_matches"):
        return Expectation(op, compile_regex(operand))
    return Expectation(op, operand)


def compile_match(raw: Any, parameters: Mapping[str, Any], path: tuple[str | int, ...]) -> Match:
    if not isinstance(raw, dict) or not raw:
        raise ExpectationError(path, "a match must be a non-empty mapping")
    operator_keys = [key for key in raw if key in OPERATORS]
    if operator_keys and len(operator_keys) == len(raw):
        return Match(compile_expectation(raw, parameters, path))
    if operator_keys:
        raise ExpectationError(path, f"a match mixes the operator {operator_keys[0]!r} with "
                               "field names; use one or the other")
    return Match(None, tuple((str(name), compile_expectation(exp, parameters, (*path, name)))
                             for name, exp in raw.items()))


def _check_scalar_operand(op: str, operand: Any, path: tuple[str | int, ...]) -> None:
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise ExpectationError(path, f"{op} takes {what}")

    scalar = (str, int, float, bool)
    if op in ("equals", "not_equals", "contains", "not_contains"):
        need(isinstance(operand, scalar), "a string, number or boolean")
    elif op in ("in", "not_in"):
        need(isinstance(operand, list) and all(isinstance(v, scalar) for v in operand),
             "a list of strings or numbers")
    elif op in ("matches", "not_matches"):
        need(isinstance(operand, str) and len(operand) <= MAX_PATTERN_CHARS,
             f"a regular expression of at most {MAX_PATTERN_CHARS} characters")
        try:
            compile_regex(operand)
        except re2.error as exc:
            raise ExpectationError(path, f"invalid regular expression (RE2 syntax: no "
                                   f"backreferences or lookaround): {_re2_reason(exc)}"
                                   ) from None
    elif op in ("lt", "le", "gt", "ge"):
        need(isinstance(operand, (int, float)) and not isinstance(operand, bool), "a number")
    elif op.startswith("version_"):
        need(isinstance(operand, (str, int, float)) and not isinstance(operand, bool),
             "a version string")
    elif op in ("exists", "absent", "empty"):
        need(isinstance(operand, bool), "true or false")
    elif op == "mode_at_most":
        need(isinstance(operand, str) and re.fullmatch(r"0?[0-7]{3,4}", operand) is not None,
             'an octal mode string such as "0640"')
    elif op in ("owner", "group"):
        need(isinstance(operand, str) or (isinstance(operand, list) and len(operand) > 0
                                          and all(isinstance(v, str) for v in operand)),
             "a name or a list of names")


# ---------------------------------------------------------------------------- safe regexes
#
# A baseline's regex runs against text a host controls, so it runs on RE2, whose search
# time is linear in the pattern and the subject: no pattern, however written, can
# backtrack catastrophically (Python's re took seconds on a 3,000-character value for
# "^.*.*.*=x$"). RE2 has no backreferences or lookaround: such patterns are refused at
# load, with the reason. Its \w, \d, \s and \b match ASCII only. Subjects longer
# than MAX_SUBJECT_CHARS are not matched at all: the result is an error, never a verdict
# on part of the value.

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the reason goes into our error, not onto stderr


def compile_regex(pattern: str) -> Any:
    """The RE2 program for ``pattern``; raises ``re2.error`` when RE2 cannot run it."""
    return re2.compile(pattern, _RE2_OPTIONS)


def _search(program: Any, text: str) -> bool:
    try:
        return program.search(text) is not None
    except UnicodeEncodeError:  # lone surrogates (from JSON evidence) are not UTF-8
        return program.search(text.encode("utf-8", "replace").decode("utf-8")) is not None


def _re2_reason(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else exc
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


# ---------------------------------------------------------------------------- applying

Unobservable = Mapping[str, str]


NOT_REPORTED: Reason = ("value_not_reported",)
TOO_DEEP = err("nested_too_deep")


def apply(exp: Expectation, value: Any, unobservable: Unobservable | None = None,
          missing_reason: str | Reason = NOT_REPORTED) -> Outcome:
    """Apply an expectation to an observed value. Pure and total."""
    try:
        return _apply(exp, value, unobservable or {}, as_reason(missing_reason))
    except RecursionError:
        return TOO_DEEP


def _apply(exp: Expectation, value: Any, unobservable: Unobservable, missing: Reason
           ) -> Outcome:
    op, operand = exp.op, exp.operand
    if op == "exists":
        return _bool((not _is_missing(value)) == operand,
                     "not_reported" if operand else "reported")
    if op == "absent":
        return _bool(_is_missing(value) == operand, "reported"
                     if operand else "not_reported")
    if op in ("all", "any", "none"):
        outcomes = [_apply(part, value, unobservable, missing) for part in operand]
        return combine(op, outcomes)
    if op == "not":
        inner = _apply(operand, value, unobservable, missing)
        if inner.verdict == "error":
            return inner
        return Outcome("fail" if inner.verdict == "pass" else "pass",
                       (("negation_failed", operand.to_json()),))
    if _is_missing(value):
        return Outcome("error", (missing,))
    if op in LIST_OPS:
        return _apply_list(op, operand, value, unobservable)
    return _apply_scalar(op, operand, value)


def combine(op: str, outcomes: Sequence[Outcome]) -> Outcome:
    """all: any fail fails; any: any pass passes; none: any pass fails. Errors never pass."""
    fails = [o for o in outcomes if o.verdict == "fail"]
    passes = [o for o in outcomes if o.verdict == "pass"]
    errors = [o for o in outcomes if o.verdict == "error"]
    if op == "all":
        if fails:
            return Outcome("fail", fails[0].reasons)
        if errors:
            return Outcome("error", errors[0].reasons)
        return PASSED
    if op == "any":
        if passes:
            return PASSED
        if errors:
            return Outcome("error", errors[0].reasons)
        return Outcome("fail", distinct(r for o in fails for r in o.reasons))
    # none
    if passes:
        return FORBIDDEN
    if errors:
        return Outcome("error", errors[0].reasons)
    return PASSED


PASSED = Outcome("pass")
FORBIDDEN = why("forbidden_holds")


def distinct(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    """Reasons in order, each once (reasons hold lists, so no set)."""
    out: list[Reason] = []
    for reason in reasons:
        if reason not in out:
            out.append(reason)
    return tuple(out)


def _bool(ok: bool, code: str, *args: Any) -> Outcome:
    return PASSED if ok else why(code, *args)


def _is_missing(value: Any) -> bool:
    return value is MISSING or value is None


def _apply_scalar(op: str, operand: Any, value: Any) -> Outcome:
    shown = _show(value)
    if op == "equals":
        return _bool(_same(value, operand), "is_not", shown, operand)
    if op == "not_equals":
        return _bool(not _same(value, operand), "is", shown, operand)
    if op == "in":
        return _bool(any(_same(value, o) for o in operand), "not_one_of", shown, operand)
    if op == "not_in":
        return _bool(not any(_same(value, o) for o in operand), "one_of", shown, operand)
    if op in ("matches", "not_matches"):
        items = value if isinstance(value, list) else [value]
        texts = [_text(item) for item in items]
        if any(t is None for t in texts):
            return err("not_text", shown)
        if any(t is not None and len(t) >= MAX_SUBJECT_CHARS for t in texts):
            return err("too_long_to_match", MAX_SUBJECT_CHARS)
        hits = [t for t in texts if t is not None and _search(operand, t)]
        if op == "matches":
            return _bool(bool(hits), "no_match", shown, operand.pattern)
        return _bool(not hits, "matches", _show(hits[0]) if hits else shown, operand.pattern)
    if op in ("lt", "le", "gt", "ge"):
        number = _number(value)
        if number is None:
            return err("not_number", shown)
        ok = {"lt": number < operand, "le": number <= operand,
              "gt": number > operand, "ge": number >= operand}[op]
        return _bool(ok, "not_compared", shown, op, operand)
    if op.startswith("version_"):
        text = _text(value)
        if text is None:
            return err("not_version", shown)
        order = compare_versions(text, str(operand))
        ok = {"version_lt": order < 0, "version_le": order <= 0,
              "version_gt": order > 0, "version_ge": order >= 0}[op]
        return _bool(ok, "version_fails", text, op.removeprefix("version_"), operand)
    if op in ("contains", "not_contains"):
        if isinstance(value, list):
            found = any(_same(item, operand) for item in value)
        elif isinstance(value, str):
            found = str(operand) in value
        else:
            return err("neither_list_nor_text", shown)
        if op == "contains":
            return _bool(found, "lacks", shown, operand)
        return _bool(not found, "has", shown, operand)
    if op == "empty":
        if not isinstance(value, (list, str, dict)):
            return err("neither_list_nor_text", shown)
        return _bool((len(value) == 0) == operand, "is_not_empty" if operand else "is_empty",
                     shown)
    if op == "mode_at_most":
        return _mode_at_most(operand, value)
    if op in ("owner", "group"):
        return _owner_group(op, operand, value)
    return err("cannot_apply", op)  # pragma: no cover


def _file_fields(value: Any) -> tuple[dict[str, Any] | None, Outcome | None]:
    if not isinstance(value, dict):
        return None, err("not_file_metadata")
    if value.get("exists") is False:
        return None, why("file_missing")
    return value, None


def _mode_at_most(limit: str, value: Any) -> Outcome:
    if isinstance(value, str):
        mode_text = value
    else:
        fields, problem = _file_fields(value)
        if problem:
            return problem
        assert fields is not None
        mode_text = str(fields.get("mode", ""))
    if not re.fullmatch(r"0?[0-7]{3,4}", mode_text):
        return err("bad_mode", mode_text)
    mode, allowed = int(mode_text, 8), int(limit, 8)
    extra = mode & ~allowed & 0o7777
    return _bool(extra == 0, "mode_too_open", f"{mode:04o}", f"{allowed:04o}", f"{extra:04o}")


def _owner_group(op: str, operand: Any, value: Any) -> Outcome:
    fields, problem = _file_fields(value)
    if problem:
        return problem
    assert fields is not None
    actual = fields.get(op)
    if actual is None:
        return err("attribute_not_reported", op)
    allowed = [operand] if isinstance(operand, str) else list(operand)
    return _bool(actual in allowed, "wrong_attribute", op, _show(actual), allowed)


def _apply_list(op: str, operand: Any, value: Any, unobservable: Unobservable) -> Outcome:
    if not isinstance(value, list):
        return err("not_a_list", _show(value))
    if op == "count":
        where, comparator, number = operand
        matched = 0
        for item in value:
            outcome = match_item(where, item, unobservable) if where else Outcome("pass")
            if outcome.verdict == "error":
                return outcome
            matched += outcome.verdict == "pass"
        ok = {"equals": matched == number, "lt": matched < number, "le": matched <= number,
              "gt": matched > number, "ge": matched >= number}[comparator]
        return _bool(ok, "count_is", matched, comparator, number)
    outcomes = [match_item(operand, item, unobservable) for item in value]
    errors = [o for o in outcomes if o.verdict == "error"]
    passing = [item for item, o in zip(value, outcomes, strict=True) if o.verdict == "pass"]
    failing = [item for item, o in zip(value, outcomes, strict=True) if o.verdict == "fail"]
    if op == "all_items":
        if failing:
            return why("items_do_not_match", len(failing), *_labels(failing))
        return Outcome("error", errors[0].reasons) if errors else PASSED
    if op == "any_item":
        if passing:
            return PASSED
        return Outcome("error", errors[0].reasons) if errors else NO_ITEM
    # no_item
    if passing:
        return why("items_match", len(passing), *_labels(passing))
    return Outcome("error", errors[0].reasons) if errors else PASSED


NO_ITEM = why("no_item_matches")
ITEM_NOT_REPORTED: Reason = ("item_not_reported",)


def match_item(match: Match, item: Any, unobservable: Unobservable) -> Outcome:
    if match.whole is not None:
        return _apply(match.whole, item, unobservable, ITEM_NOT_REPORTED)
    if not isinstance(item, dict):
        return err("no_fields", _show(item))
    outcomes = []
    for name, exp in match.fields:
        said = unobservable.get(name)
        reason = ("field_not_reported", name) if said is None else ("said", said)
        outcomes.append(_apply(exp, item.get(name, MISSING), unobservable, reason))
    return combine("all", outcomes)


# ---------------------------------------------------------------------------- describing


def describe(exp: Expectation) -> str:
    """A short plain-English reading of an expectation (its data worded in English)."""
    from scanner.render.wording import expectation_segments

    return "".join(text for text, _ in expectation_segments(exp.to_json(), "en"))


def expectation_json(exp: Expectation) -> dict[str, Any]:
    """An expectation as data, for renderers to word in any language."""
    op, operand = exp.op, exp.operand
    if op in ("all", "any", "none"):
        return {"op": op, "parts": [part.to_json() for part in operand]}
    if op == "not":
        return {"op": op, "parts": [operand.to_json()]}
    if op in ("all_items", "any_item", "no_item"):
        return {"op": op, "match": _match_json(operand)}
    if op == "count":
        where, comparator, number = operand
        return {"op": op, "where": _match_json(where) if where else None,
                "comparator": comparator, "number": number}
    if op in ("matches", "not_matches"):
        return {"op": op, "operand": operand.pattern}
    return {"op": op, "operand": list(operand) if isinstance(operand, tuple) else operand}


def _match_json(match: Match) -> dict[str, Any]:
    if match.whole is not None:
        return {"whole": match.whole.to_json()}
    return {"fields": [{"name": name, "expect": exp.to_json()} for name, exp in match.fields]}
