"""Expectations compiled into closures: the evaluator's fast path.

:func:`scanner.expect.apply` reads an :class:`Expectation` tree on every call;
that interpreter is the specification, and this module gives exactly its outcomes
(verdict and reasons, value for value) faster, because a baseline's checks run once per host
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
from itertools import repeat
from typing import Any

from scanner import expect as ref
from scanner.compiled_values import number, plain_names, same_as_any, searcher
from scanner.expect import (
    ITEM_NOT_REPORTED,
    MISSING,
    NO_ITEM,
    NOT_REPORTED,
    TOO_DEEP,
    Expectation,
    Match,
    Outcome,
    Reason,
    as_reason,
    err,
    why,
)
from scanner.expect_values import MAX_SUBJECT_CHARS, labels, show
from scanner.expect_values import text as text_of

Unobservable = Mapping[str, str]
# value, the probe's reasons for what it could not see, the reason a missing value gives,
# and the per-evaluation cache (list indexes)
Fn = Callable[[Any, Unobservable, Reason, dict[Any, Any]], Outcome]
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
          missing_reason: str | Reason = NOT_REPORTED,
          cache: dict[Any, Any] | None = None) -> Outcome:
    """``expect.apply``'s outcome, from the compiled closure."""
    fn: Fn | None = exp.__dict__.get("_fn")  # compiled()'s lookup, without its call
    if fn is None:
        fn = compiled(exp)
    try:
        return fn(value, unobservable or {},
                  missing_reason if type(missing_reason) is tuple else as_reason(missing_reason),
                  {} if cache is None else cache)
    except RecursionError:
        return TOO_DEEP


def _compile(exp: Expectation, quiet: bool) -> Fn:
    op, operand = exp.op, exp.operand
    if op in ("exists", "absent"):
        want_reported = operand if op == "exists" else not operand
        reported_fail = why("reported")
        missing_fail = why("not_reported")

        def presence(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
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
        flipped: tuple[Reason, ...] = (("negation_failed", operand.to_json()),)

        def negation(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                     ) -> Outcome:
            inner = inner_fn(value, unobs, missing, cache)
            if inner.verdict == "error":
                return inner
            return Outcome("fail" if inner.verdict == "pass" else "pass", flipped)
        return negation
    body = (_compile_list(op, operand, quiet) if op in ref.LIST_OPS
            else _compile_scalar(op, operand, quiet))
    if op in _CHECKS_MISSING:
        return body

    def reported(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                 ) -> Outcome:
        if value is MISSING or value is None:
            return Outcome("error", (missing,))
        return body(value, unobs, missing, cache)
    return reported


def _compile_combinator(op: str, parts: tuple[Fn, ...]) -> Fn:
    # combine()'s rules, stopping as soon as the rest cannot change the outcome
    if op == "all":
        def every(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                  ) -> Outcome:
            error = None
            for part in parts:
                outcome = part(value, unobs, missing, cache)
                if outcome.verdict == "fail":
                    return outcome
                if outcome.verdict == "error" and error is None:
                    error = outcome
            return PASS if error is None else error
        return every
    if op == "any":
        def some(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                 ) -> Outcome:
            outcomes = []
            for part in parts:
                outcome = part(value, unobs, missing, cache)
                if outcome.verdict == "pass":
                    return PASS
                outcomes.append(outcome)
            return ref.combine("any", outcomes)
        return some

    def no_part(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                ) -> Outcome:
        error = None
        for part in parts:
            outcome = part(value, unobs, missing, cache)
            if outcome.verdict == "pass":
                return ref.FORBIDDEN
            if outcome.verdict == "error" and error is None:
                error = outcome
        return PASS if error is None else error
    return no_part


# ops whose bodies give a missing value's error themselves (no wrapper call per check)
_CHECKS_MISSING = frozenset({"equals", "not_equals", "in", "not_in", "lt", "le", "gt", "ge",
                             "matches", "not_matches", "contains", "not_contains",
                             "all_items", "any_item", "no_item", "count"})
ScalarFn = Callable[[Any, Unobservable, Reason, dict[Any, Any]], Outcome]


def _compile_scalar(op: str, operand: Any, quiet: bool) -> ScalarFn:
    if op in ("equals", "not_equals", "in", "not_in"):
        matches = same_as_any([operand] if op in ("equals", "not_equals") else operand)
        wanted = op in ("equals", "in")
        code = {"equals": "is_not", "not_equals": "is", "in": "not_one_of",
                "not_in": "one_of"}[op]

        def compare(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                    ) -> Outcome:
            if value is MISSING or value is None:  # (the commonest check: no wrapper call)
                return Outcome("error", (missing,))
            if matches(value) == wanted:
                return PASS
            return FAIL if quiet else why(code, show(value), operand)
        return compare
    if op in ("matches", "not_matches"):
        return _compile_regex(op, operand, quiet)
    if op in ("lt", "le", "gt", "ge"):
        test: Callable[[float], bool] = {
            "lt": lambda n: n < operand, "le": lambda n: n <= operand,
            "gt": lambda n: n > operand, "ge": lambda n: n >= operand}[op]

        def numeric(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                    ) -> Outcome:
            if value is MISSING or value is None:
                return Outcome("error", (missing,))
            found = number(value)
            if found is None:
                return err("not_number", show(value))
            if test(found):
                return PASS
            return FAIL if quiet else why("not_compared", show(value), op, operand)
        return numeric
    if op in ("contains", "not_contains"):
        item_matches = same_as_any([operand])
        needle = str(operand)
        want_found = op == "contains"
        code = "lacks" if want_found else "has"

        def containing(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                       ) -> Outcome:
            if value is MISSING or value is None:
                return Outcome("error", (missing,))
            if isinstance(value, list):
                found = any(item_matches(item) for item in value)
            elif isinstance(value, str):
                found = needle in value
            else:
                return err("neither_list_nor_text", show(value))
            if found == want_found:
                return PASS
            return FAIL if quiet else why(code, show(value), operand)
        return containing

    if op == "mode_at_most":
        def mode(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                 ) -> Outcome:
            return ref._mode_at_most(operand, value)
        return mode
    if op in ("owner", "group"):
        def ownership(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                      ) -> Outcome:
            return ref._owner_group(op, operand, value)
        return ownership

    # the rest (versions, empty) are rare: the interpreter's own code
    def scalar(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
               ) -> Outcome:
        return ref._apply_scalar(op, operand, value)
    return scalar


def _compile_regex(op: str, program: Any, quiet: bool) -> ScalarFn:
    search_text = searcher(program)
    want_hit = op == "matches"

    def regex(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
              ) -> Outcome:
        if value is MISSING or value is None:
            return Outcome("error", (missing,))
        if type(value) is str and len(value) < MAX_SUBJECT_CHARS:
            # the commonest subject (a unit's name, a line): its own text, searched as is
            if bool(search_text(value)) == want_hit:
                return PASS
            if quiet:
                return FAIL
            if want_hit:
                return why("no_match", show(value), program.pattern)
            return why("matches", show(value), program.pattern)
        texts = [text_of(item) for item in value] if isinstance(value, list) \
            else [text_of(value)]
        if any(t is None for t in texts):
            return err("not_text", show(value))
        if any(t is not None and len(t) >= MAX_SUBJECT_CHARS for t in texts):
            return err("too_long_to_match", MAX_SUBJECT_CHARS)
        hit = next((t for t in texts if t is not None and search_text(t)), None)
        if (hit is not None) == want_hit:
            return PASS
        if quiet:
            return FAIL
        if want_hit:
            return why("no_match", show(value), program.pattern)
        return why("matches", show(hit), program.pattern)
    return regex


# ---------------------------------------------------------------------------- lists


def _compile_match(match: Match) -> ItemFn:
    """``expect.match_item`` as a closure."""
    if match.whole is not None:
        whole = compiled(match.whole, quiet=True)

        def item_itself(item: Any, unobs: Unobservable, cache: dict[Any, Any]) -> Outcome:
            return whole(item, unobs, ITEM_NOT_REPORTED, cache)
        return item_itself
    fields = tuple((name, compiled(exp, quiet=True), ("field_not_reported", name))
                   for name, exp in match.fields)
    if len(fields) == 1:
        return _compile_one_field(*fields[0])

    def item_fields(item: Any, unobs: Unobservable, cache: dict[Any, Any]) -> Outcome:
        if not isinstance(item, dict):
            return err("no_fields", show(item))
        error = None
        for name, fn, not_reported in fields:
            said = unobs.get(name) if unobs else None
            reason = not_reported if said is None else ("said", said)
            outcome = fn(item.get(name, MISSING), unobs, reason, cache)
            if outcome.verdict == "fail":
                return FAIL  # an item's failure is never worded (see compiled())
            if outcome.verdict == "error" and error is None:
                error = outcome
        return PASS if error is None else error
    return item_fields


def _compile_one_field(name: str, fn: Fn, not_reported: Reason) -> ItemFn:
    """``item_fields`` for a match on one field (most are): the same outcomes, one loop
    less per item."""
    def item_field(item: Any, unobs: Unobservable, cache: dict[Any, Any]) -> Outcome:
        if not isinstance(item, dict):
            return err("no_fields", show(item))
        said = unobs.get(name) if unobs else None
        outcome = fn(item.get(name, MISSING), unobs,
                     not_reported if said is None else ("said", said), cache)
        verdict = outcome.verdict
        if verdict == "pass":
            return PASS
        return FAIL if verdict == "fail" else outcome
    return item_field


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
_ONLY_STR = frozenset({str})


def _index(items: list[Any], field: str | None, cache: dict[Any, Any]) -> Index | None:
    """The pinned values of ``items`` (``field``'s, or the items themselves), the set of
    them, and the positions whose value is not text (those are matched in full); built
    once per list and field. None when a value cannot be put in a set."""
    key = ("index", id(items), field)
    entry = cache.get(key)
    if entry is not None and entry[0] is items:
        return entry[1]  # type: ignore[no-any-return]
    if field is None:
        values = list(items)
    else:
        try:  # facts' records are dicts: read in C, not item by item
            values = list(map(dict.get, items, repeat(field)))
        except TypeError:  # an item that is not a mapping: it is matched in full
            values = [item.get(field) if type(item) is dict else None for item in items]
    try:
        present = frozenset(values)
    except TypeError:  # a list or mapping among them
        index = None
    else:
        others = [] if set(map(type, present)) == _ONLY_STR else [
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
    # a name's positions by list.index (a scan in C): only texts equal a text, and every
    # position whose value is not a text is in ``others`` already
    positions = set(others)
    for name in hits:
        at = values.index(name)
        while True:
            positions.add(at)
            try:
                at = values.index(name, at + 1)
            except ValueError:
                break
    return [items[p] for p in sorted(positions)]


def _compile_list(op: str, operand: Any, quiet: bool) -> ScalarFn:
    if op == "count":
        where, comparator, limit = operand
        where_fn = _compile_match(where) if where is not None else None
        pinned = _pinned(where)
        test: Callable[[int], bool] = {
            "equals": lambda n: n == limit, "lt": lambda n: n < limit,
            "le": lambda n: n <= limit, "gt": lambda n: n > limit,
            "ge": lambda n: n >= limit}[comparator]

        def count(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                  ) -> Outcome:
            if value is MISSING or value is None:
                return Outcome("error", (missing,))
            if not isinstance(value, list):
                return err("not_a_list", show(value))
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
            return FAIL if quiet else why("count_is", matched, comparator, limit)
        return count

    item_fn = _compile_match(operand)
    pinned = _pinned(operand) if op in ("any_item", "no_item") else None
    # a match on one field (most are) is tested in the loop itself: item_field's outcome
    # (its verdict, or its error) without a call per item, the field's reason made once
    one = operand.whole is None and len(operand.fields) == 1
    name, field_fn = (operand.fields[0][0], compiled(operand.fields[0][1], quiet=True)) \
        if one else ("", None)
    not_reported: Reason = ("field_not_reported", name)

    def quantified(value: Any, unobs: Unobservable, missing: Reason, cache: dict[Any, Any]
                   ) -> Outcome:
        if value is MISSING or value is None:
            return Outcome("error", (missing,))
        if not isinstance(value, list):
            return err("not_a_list", show(value))
        items = _candidates(value, pinned, cache) if pinned and len(value) > INDEX_FROM \
            else value
        error = None
        passing = []
        failing = []
        said = unobs.get(name) if one and unobs else None
        reason = not_reported if said is None else ("said", said)
        for item in items:
            if field_fn is None:
                outcome = item_fn(item, unobs, cache)
            elif isinstance(item, dict):
                outcome = field_fn(item.get(name, MISSING), unobs, reason, cache)
            else:
                outcome = err("no_fields", show(item))
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
            return FAIL if quiet else why("items_do_not_match", len(failing), *labels(failing))
        if op == "no_item" and passing:
            return FAIL if quiet else why("items_match", len(passing), *labels(passing))
        if error is not None:
            return error
        return NO_ITEM if op == "any_item" else PASS
    return quantified
