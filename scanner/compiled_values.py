"""Value tests of the compiled evaluator: numbers, name sets and regex searches.

Each answers exactly as the interpreter's helper it stands for (``expect_values.number``,
``expect_values.same`` over a list of operands, ``expect._search``), from work done once per
expectation instead of once per comparison. See scanner/compiled.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from scanner import expect as ref
from scanner.expect import Expectation
from scanner.expect_values import number as number_of

_NUMERIC = re.compile(r"\s*[+-]?\d{1,18}(\.\d{1,12})?\s*")  # the same text as expect_values.number


def number(value: Any) -> float | None:
    """``expect_values.number`` without the per-call regex lookup; same answers."""
    kind = type(value)
    if kind is str:
        # the pattern can only match text starting with a space, a sign or a digit
        if not value:
            return None
        first = value[0]
        if not (first.isdigit() or first in "+-" or first.isspace()):
            return None
        return float(value) if _NUMERIC.fullmatch(value) else None
    if kind is int or kind is float:
        return float(value)
    return number_of(value)


def same_as_any(operands: Sequence[Any]) -> Callable[[Any], bool]:
    """``lambda v: any(_same(v, o) for o in operands)`` as set lookups.

    ``_same``: two numbers compare numerically; if either side is a boolean, the two
    compare by lower-cased text; otherwise by text. So a value matches when it is a
    number equal to a numeric operand (NaN equals nothing), or its text equals a
    non-numeric operand's text (any operand's text, when the value is not a number), or,
    lower-cased, a boolean operand's (any operand's, when the value is a boolean).
    """
    numbers: set[float] = set()
    text_of_non_numbers: set[str] = set()
    text_of_non_bools: set[str] = set()
    lower_of_bools: set[str] = set()
    lower_of_all: set[str] = set()
    for operand in operands:
        lower_of_all.add(str(operand).lower())
        if isinstance(operand, bool):
            lower_of_bools.add(str(operand).lower())
            continue
        text = str(operand)
        text_of_non_bools.add(text)
        numeric = number(operand)
        if numeric is None:
            text_of_non_numbers.add(text)
        elif numeric == numeric:  # NaN equals no number
            numbers.add(numeric)

    if not numbers:  # no operand is a number: a value's text decides, never its number
        def matches_text(value: Any) -> bool:
            if isinstance(value, bool):
                return ("true" if value else "false") in lower_of_all
            text = value if type(value) is str else str(value)
            if text in text_of_non_bools:
                return True
            return bool(lower_of_bools) and text.lower() in lower_of_bools
        return matches_text

    def matches(value: Any) -> bool:
        kind = type(value)
        if kind is int or kind is float:  # the commonest value: number() is float()
            if float(value) in numbers:
                return True
            text = str(value)
            if text in text_of_non_numbers:
                return True
            return bool(lower_of_bools) and text.lower() in lower_of_bools
        if isinstance(value, bool):
            return ("true" if value else "false") in lower_of_all
        numeric = number(value)
        text = value if type(value) is str else str(value)
        if numeric is not None:
            if numeric in numbers or text in text_of_non_numbers:
                return True
        elif text in text_of_non_bools:
            return True
        return bool(lower_of_bools) and text.lower() in lower_of_bools

    return matches


def plain_names(exp: Expectation) -> frozenset[str] | None:
    """The texts an ``equals``/``in`` expectation accepts, when it accepts only those.

    When no operand is a boolean (whose match ignores case) nor looks like a number
    (which matches numerically), a text value matches exactly when it is one of the
    operands' texts, whatever it looks like: see :func:`same_as_any`.
    """
    if exp.op == "equals":
        operands = [exp.operand]
    elif exp.op == "in":
        operands = list(exp.operand)
    else:
        return None
    if any(isinstance(o, bool) or number(o) is not None for o in operands):
        return None
    return frozenset(str(o) for o in operands)


def searcher(program: Any) -> Callable[[str], bool]:
    """``expect._search`` for one program, asking RE2 only whether it matches.

    The wrapper's ``search`` builds a match object with decoded offsets that a yes/no
    question never reads (~2 µs of each ~2.5 µs search). Its engine call is used directly
    when this google-re2 has it and it answers as ``search`` does on probe texts;
    otherwise ``expect._search`` itself.
    """
    regexp = getattr(program, "_regexp", None)
    anchor = getattr(getattr(getattr(re2_module(), "_re2", None), "RE2", None), "Anchor", None)
    unanchored = getattr(anchor, "UNANCHORED", None)
    if regexp is None or unanchored is None or not hasattr(regexp, "Match"):
        return lambda text: ref._search(program, text)

    def search(text: str) -> bool:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: as expect._search, replaced
            data = text.encode("utf-8", "replace")
        return bool(regexp.Match(unanchored, data, 0, len(data))[0] != (-1, -1))

    try:
        same = all(search(t) == ref._search(program, t) for t in _SEARCH_SAMPLES)
    except Exception:  # any surprise from a private call means: do not use it
        same = False
    return search if same else (lambda text: ref._search(program, text))


_SEARCH_SAMPLES = ("", "a", "sha1", "hmac-md5-96", "é\u00e9x", "line\nnext", "\ud800x", "x" * 300)


def re2_module() -> Any:
    import re2  # type: ignore[import-untyped,unused-ignore]

    return re2
