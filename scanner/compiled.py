"""Expectations compiled into closures: the evaluator's fast path.

:func:`scanner.expect.apply` reads an :class:`Expectation` tree on every call;
that interpreter is the specification, and this module gives exactly its outcomes
(verdict and detail, byte for byte) faster, because a baseline's checks run once per host
and a fleet has many hosts:

- each expectation becomes one closure, built once per run (on first use) and kept on
  the expectation; operator dispatch, symbols and fixed message parts are decided then;
- ``equals``/``in``/``not_in``/``contains`` over names are set lookups, with the
  operands' numeric and text forms computed once (``_same``'s rules, see
  :func:`same_as_any`), not ``_same`` per operand per item;
- messages are built only for the outcome that carries them (the interpreter renders
  the value for every comparison, passing or not), and an item's failure inside a
  quantifier, which no caller reads, not at all (see :func:`compiled`);
- a regex asks RE2 only whether it matches (scanner/compiled_values.py);
- ``any_item``/``no_item``/``count`` over a list of records whose match pins a field to
  names (``{name: {in: [...]}}``) look those names up in an index of the list, built
  once per host evaluation and shared by every rule over the same list (the package
  list: ~800 items, several rules), instead of matching every item. An item skipped this
  way is one whose pinned field is a name outside the set, i.e. one the interpreter
  judges ``fail`` whatever its other fields say; every other item is matched in full.

tests/test_compiled_expect.py holds the two paths to the same outcomes on every rule
fixture, every shipped rule on every fixture host, and generated values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scanner import expect as ref
from scanner.compiled_values import number, plain_names, same_as_any, searcher
from scanner.expect import MAX_SUBJECT_CHARS, MISSING, Expectation, Match, Outcome

Unobservable = Mapping[str, str]
# value, the probe's reasons for what it could not see, the reason a missing value gives,
# and the per-evaluation cache (list indexes)
Fn = Callable[[Any, Unobservable, str, dict[Any, Any]], Outcome]
ItemFn = Callable[[Any, Unobservable, dict[Any, Any]], Outcome]

PASS = Outcome("pass")
FAIL = Outcome("fail")  # a quiet closure's failure (see compiled())


# ---------------------------------------------------------------------------- compiling


def compiled(exp: Expectation, quiet: bool = False) -> Fn:
    """The closure of ``exp``, built on first use and kept on the expectation.

    A ``quiet`` closure is for items of a list: it gives the same verdicts, and errors
    with their reasons, but its ``fail`` outcomes carry no detail: whatever quantifies
    over items never reads why one item failed (it names items, or counts them), and
    rendering a value for each of ~800 packages was most of a quantifier's time.
    """
    attribute = "_quiet_fn" if quiet else "_fn"
    fn: Fn | None = exp.__dict__.get(attribute)
    if fn is None:
        fn = _compile(exp, quiet)
        object.__setattr__(exp, attribute, fn)
    return fn


def apply(exp: Expectation, value: Any, unobservable: Unobservable | None = None,
          missing_reason: str = "not reported by the probe",
          cache: dict[Any, Any] | None = None) -> Outcome:
    """``expect.apply``'s outcome, from the compiled closure."""
    try:
        return compiled(exp)(value, unobservable or {}, missing_reason,
                             {} if cache is None else cache)
    except RecursionError:
        return Outcome("error", "value nested too deeply to evaluate")


def _bool(ok: bool, why_not: str) -> Outcome:
    return PASS if ok else Outcome("fail", why_not)


def _compile(exp: Expectation, quiet: bool) -> Fn:
    op, operand = exp.op, exp.operand
    if op in ("exists", "absent"):
        want_reported = operand if op == "exists" else not operand
        reported_fail = Outcome("fail", "value is reported")
        missing_fail = Outcome("fail", "value is not reported")

        def presence(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                     ) -> Outcome:
            reported = value is not MISSING and value is not None
            if reported == want_reported:
                return PASS
            return missing_fail if want_reported else reported_fail
        return presence
    if op in ("all", "any", "none"):
        return _compile_combinator(op, tuple(compiled(part, quiet) for part in operand))
    if op == "not":
        inner_fn = compiled(operand, quiet)
        flipped_detail = f"not ({ref.describe(operand)}) did not hold"

        def negation(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                     ) -> Outcome:
            inner = inner_fn(value, unobs, missing, cache)
            if inner.verdict == "error":
                return inner
            return Outcome("fail" if inner.verdict == "pass" else "pass", flipped_detail)
        return negation
    body = (_compile_list(op, operand, quiet) if op in ref.LIST_OPS
            else _compile_scalar(op, operand, quiet))
    if op in _CHECKS_MISSING:
        return body

    def reported(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                 ) -> Outcome:
        if value is MISSING or value is None:
            return Outcome("error", missing)
        return body(value, unobs, missing, cache)
    return reported


def _compile_combinator(op: str, parts: tuple[Fn, ...]) -> Fn:
    # combine()'s rules, stopping as soon as the rest cannot change the outcome
    if op == "all":
        def every(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                  ) -> Outcome:
            error = None
            for part in parts:
                outcome = part(value, unobs, missing, cache)
                if outcome.verdict == "fail":
                    return Outcome("fail", outcome.detail)
                if outcome.verdict == "error" and error is None:
                    error = outcome
            return PASS if error is None else Outcome("error", error.detail)
        return every
    if op == "any":
        def some(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                 ) -> Outcome:
            outcomes = []
            for part in parts:
                outcome = part(value, unobs, missing, cache)
                if outcome.verdict == "pass":
                    return PASS
                outcomes.append(outcome)
            return ref.combine("any", outcomes)
        return some

    def no_part(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                ) -> Outcome:
        error = None
        for part in parts:
            outcome = part(value, unobs, missing, cache)
            if outcome.verdict == "pass":
                return Outcome("fail", "a forbidden condition holds")
            if outcome.verdict == "error" and error is None:
                error = outcome
        return PASS if error is None else Outcome("error", error.detail)
    return no_part


_CHECKS_MISSING = frozenset({"equals", "not_equals", "in", "not_in"})  # their bodies do
ScalarFn = Callable[[Any, Unobservable, str, dict[Any, Any]], Outcome]


def _compile_scalar(op: str, operand: Any, quiet: bool) -> ScalarFn:
    show = ref._show
    if op in ("equals", "not_equals", "in", "not_in"):
        matches = same_as_any([operand] if op in ("equals", "not_equals") else operand)
        wanted = op in ("equals", "in")
        if op == "equals":
            suffix = f" is not {operand!r}"
        elif op == "not_equals":
            suffix = f" is {operand!r}"
        else:
            suffix = f" is {'not ' if op == 'in' else ''}one of {operand}"

        def compare(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                    ) -> Outcome:
            if value is MISSING or value is None:  # (the commonest check: no wrapper call)
                return Outcome("error", missing)
            if matches(value) == wanted:
                return PASS
            return FAIL if quiet else Outcome("fail", show(value) + suffix)
        return compare
    if op in ("matches", "not_matches"):
        return _compile_regex(op, operand, quiet)
    if op in ("lt", "le", "gt", "ge"):
        test: Callable[[float], bool] = {
            "lt": lambda n: n < operand, "le": lambda n: n <= operand,
            "gt": lambda n: n > operand, "ge": lambda n: n >= operand}[op]
        symbol = {"lt": "<", "le": "≤", "gt": ">", "ge": "≥"}[op]

        def numeric(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                    ) -> Outcome:
            found = number(value)
            if found is None:
                return Outcome("error", f"{show(value)} is not a number")
            if test(found):
                return PASS
            return FAIL if quiet else Outcome("fail", f"{show(value)} is not {symbol} {operand}")
        return numeric
    if op in ("contains", "not_contains"):
        item_matches = same_as_any([operand])
        needle = str(operand)
        want_found = op == "contains"
        suffix = f" does not contain {operand!r}" if want_found else f" contains {operand!r}"

        def containing(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                       ) -> Outcome:
            if isinstance(value, list):
                found = any(item_matches(item) for item in value)
            elif isinstance(value, str):
                found = needle in value
            else:
                return Outcome("error", f"{show(value)} is neither a list nor text")
            if found == want_found:
                return PASS
            return FAIL if quiet else Outcome("fail", show(value) + suffix)
        return containing

    if op == "mode_at_most":
        def mode(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                 ) -> Outcome:
            return ref._mode_at_most(operand, value)
        return mode
    if op in ("owner", "group"):
        def ownership(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                      ) -> Outcome:
            return ref._owner_group(op, operand, value)
        return ownership

    # the rest (versions, empty) are rare: the interpreter's own code
    def scalar(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
               ) -> Outcome:
        return ref._apply_scalar(op, operand, value)
    return scalar


def _compile_regex(op: str, program: Any, quiet: bool) -> ScalarFn:
    show, text_of = ref._show, ref._text
    search_text = searcher(program)
    want_hit = op == "matches"

    def regex(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
              ) -> Outcome:
        texts = [text_of(item) for item in value] if isinstance(value, list) \
            else [text_of(value)]
        if any(t is None for t in texts):
            return Outcome("error", f"{show(value)} is not text")
        if any(t is not None and len(t) >= MAX_SUBJECT_CHARS for t in texts):
            return Outcome("error", f"a value of {MAX_SUBJECT_CHARS} characters or more is "
                           "not matched against a pattern; not evaluated")
        hit = next((t for t in texts if t is not None and search_text(t)), None)
        if quiet:
            return PASS if (hit is not None) == want_hit else FAIL
        if want_hit:
            return _bool(hit is not None, f"{show(value)} does not match /{program.pattern}/")
        return _bool(hit is None, f"{show(hit) if hit is not None else show(value)} matches "
                     f"/{program.pattern}/")
    return regex


# ---------------------------------------------------------------------------- lists


def _compile_match(match: Match) -> ItemFn:
    """``expect.match_item`` as a closure."""
    show = ref._show
    if match.whole is not None:
        whole = compiled(match.whole, quiet=True)

        def item_itself(item: Any, unobs: Unobservable, cache: dict[Any, Any]) -> Outcome:
            return whole(item, unobs, "item not reported", cache)
        return item_itself
    fields = tuple((name, compiled(exp, quiet=True), f"field {name!r} not reported")
                   for name, exp in match.fields)

    def item_fields(item: Any, unobs: Unobservable, cache: dict[Any, Any]) -> Outcome:
        if not isinstance(item, dict):
            return Outcome("error", f"{show(item)} has no fields")
        error = None
        for name, fn, not_reported in fields:
            reason = unobs.get(name, not_reported) if unobs else not_reported
            outcome = fn(item.get(name, MISSING), unobs, reason, cache)
            if outcome.verdict == "fail":
                return FAIL  # an item's failure is never worded (see compiled())
            if outcome.verdict == "error" and error is None:
                error = outcome
        return PASS if error is None else Outcome("error", error.detail)
    return item_fields


def _pinned(match: Match | None) -> tuple[str | None, frozenset[str]] | None:
    """(field or None for the item itself, names) when ``match`` fails every item whose
    pinned value is a text that is not one of ``names``."""
    if match is None:
        return None
    if match.whole is not None:
        names = plain_names(match.whole)
        return None if names is None else (None, names)
    for name, exp in match.fields:
        names = plain_names(exp)
        if names is not None:
            return name, names
    return None


INDEX_FROM = 32  # shorter lists are matched item by item: an index would cost as much

Index = tuple[list[Any], frozenset[Any], list[int]]


def _index(items: list[Any], field: str | None, cache: dict[Any, Any]) -> Index | None:
    """The pinned values of ``items`` (``field``'s, or the items themselves), the set of
    them, and the positions whose value is not text (those are matched in full); built
    once per list and field. None when a value cannot be put in a set."""
    key = ("index", id(items), field)
    entry = cache.get(key)
    if entry is not None and entry[0] is items:
        return entry[1]  # type: ignore[no-any-return]
    values = list(items) if field is None else [
        item.get(field) if type(item) is dict else None for item in items]
    try:
        present = frozenset(values)
    except TypeError:  # a list or mapping among them
        index = None
    else:
        others = [] if {type(v) for v in present} == {str} else [
            position for position, value in enumerate(values) if type(value) is not str]
        index = (values, present, others)
    cache[key] = (items, index)  # the list is kept, so its id is not reused meanwhile
    return index


def _candidates(items: list[Any], pinned: tuple[str | None, frozenset[str]],
                cache: dict[Any, Any]) -> list[Any]:
    """The items that may pass or err, in list order; every other item fails."""
    index = _index(items, pinned[0], cache)
    if index is None:
        return items
    values, present, others = index
    hits = pinned[1] & present
    if not hits:
        return [items[p] for p in others]
    positions = sorted({*others, *(p for p, v in enumerate(values) if v in hits)})
    return [items[p] for p in positions]


def _compile_list(op: str, operand: Any, quiet: bool) -> ScalarFn:
    show, labels = ref._show, ref._labels
    if op == "count":
        where, comparator, limit = operand
        where_fn = _compile_match(where) if where is not None else None
        pinned = _pinned(where)
        test: Callable[[int], bool] = {
            "equals": lambda n: n == limit, "lt": lambda n: n < limit,
            "le": lambda n: n <= limit, "gt": lambda n: n > limit,
            "ge": lambda n: n >= limit}[comparator]

        def count(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                  ) -> Outcome:
            if not isinstance(value, list):
                return Outcome("error", f"{show(value)} is not a list")
            if where_fn is None:
                matched = len(value)
            else:
                matched = 0
                for item in (_candidates(value, pinned, cache)
                             if pinned and len(value) > INDEX_FROM else value):
                    outcome = where_fn(item, unobs, cache)
                    if outcome.verdict == "error":
                        return outcome
                    matched += outcome.verdict == "pass"
            if test(matched):
                return PASS
            return FAIL if quiet else Outcome(
                "fail", f"{matched} matching item(s); expected {comparator} {limit}")
        return count

    item_fn = _compile_match(operand)
    pinned = _pinned(operand) if op in ("any_item", "no_item") else None

    def quantified(value: Any, unobs: Unobservable, missing: str, cache: dict[Any, Any]
                   ) -> Outcome:
        if not isinstance(value, list):
            return Outcome("error", f"{show(value)} is not a list")
        items = _candidates(value, pinned, cache) if pinned and len(value) > INDEX_FROM \
            else value
        error = None
        passing = []
        failing = []
        for item in items:
            outcome = item_fn(item, unobs, cache)
            verdict = outcome.verdict
            if verdict == "pass":
                if op == "any_item":
                    return PASS
                passing.append(item)
            elif verdict == "fail":
                if op == "all_items":
                    failing.append(item)
            elif error is None:
                error = outcome
        if op == "all_items" and failing:
            return FAIL if quiet else Outcome(
                "fail", f"{len(failing)} item(s) do not match: {labels(failing)}")
        if op == "no_item" and passing:
            return FAIL if quiet else Outcome(
                "fail", f"{len(passing)} item(s) match: {labels(passing)}")
        if error is not None:
            return Outcome("error", error.detail)
        return Outcome("fail", "no item matches") if op == "any_item" else PASS
    return quantified
