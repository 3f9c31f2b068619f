"""A JSON Schema compiled into one yes/no closure, for the schemas this tool ships.

Validating the shipped baseline with ``jsonschema`` took ~35 % of every run's baseline
load, and importing ``jsonschema`` ~0.1 s of every command. The answer is nearly always
"valid", and only a "no" needs ``jsonschema``'s words for the problem. So each schema is
compiled here, once per run, into a closure that answers only valid-or-not, with
``jsonschema``'s Draft 2020-12 meaning for the keywords it knows; on "no" the caller runs
``jsonschema`` for the error it reports. A schema using any keyword not known here is
refused (:class:`Unsupported`) and the caller keeps using ``jsonschema`` for it, so a
keyword can never be silently skipped. tests/test_schemacheck.py holds the closure to
``jsonschema.is_valid`` on the shipped schemas over generated and mutated documents.

The findings schema is checked with a format checker (its ``date`` fields must be dates):
``compile_schema(schema, formats=True)`` asserts ``format`` as ``jsonschema``'s
``FormatChecker`` does for the formats implemented here, and refuses any other format.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

# keywords that never change validity (format is an annotation unless a format checker
# is given, and the validators this replaces are built without one)
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "default",
                          "examples", "deprecated", "readOnly", "writeOnly"})
# ``jsonschema``'s date check: this pattern (Unicode digits and all), then the calendar
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Unsupported(ValueError):
    """The schema uses a keyword this compiler does not implement."""


def _is_type(kind: str) -> Check:
    checks: dict[str, Check] = {
        "string": lambda v: isinstance(v, str),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer()),
    }
    if kind not in checks:
        raise Unsupported(f"type {kind!r}")
    return checks[kind]


class _Compiler:
    def __init__(self, root: Mapping[str, Any], formats: bool) -> None:
        self.root = root
        self.formats = formats
        self.refs: dict[str, Check] = {}

    def ref(self, pointer: str) -> Check:
        if pointer in self.refs:
            return self.refs[pointer]
        if not pointer.startswith("#/$defs/") or "/" in pointer[len("#/$defs/"):]:
            raise Unsupported(f"$ref {pointer!r}")
        target = self.root.get("$defs", {}).get(pointer[len("#/$defs/"):])
        if target is None:
            raise Unsupported(f"$ref {pointer!r} (no such definition)")
        slot: list[Check] = []
        self.refs[pointer] = lambda v: slot[0](v)  # recursive definitions (check -> check)
        slot.append(self.compile(target))
        return self.refs[pointer]

    def compile(self, schema: Any) -> Check:  # one branch per keyword
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise Unsupported("a schema that is neither an object nor a boolean")
        checks: list[Check] = []
        for keyword, operand in schema.items():
            if keyword in _ANNOTATIONS or keyword in ("$defs", "additionalProperties", "then",
                                                      "else"):
                continue
            if keyword == "format":
                if self.formats:
                    checks.append(_format(operand))
                continue
            if keyword == "type":
                kinds = [operand] if isinstance(operand, str) else list(operand)
                checks.append(_combined("anyOf", [_is_type(kind) for kind in kinds]))
            elif keyword == "$ref":
                checks.append(self.ref(operand))
            elif keyword == "enum":
                if not all(isinstance(item, str) or item is None for item in operand):
                    raise Unsupported("enum of anything but strings and null")
                names = _one_of_names(frozenset(i for i in operand if i is not None))
                checks.append(names if None not in operand else _or_null(names))
            elif keyword == "pattern":
                checks.append(_pattern(re.compile(operand)))
            elif keyword in ("minLength", "maxLength"):
                checks.append(_bound(str, operand, keyword.startswith("min")))
            elif keyword in ("minItems", "maxItems"):
                checks.append(_bound(list, operand, keyword.startswith("min")))
            elif keyword in ("minProperties", "maxProperties"):
                checks.append(_bound(dict, operand, keyword.startswith("min")))
            elif keyword == "required":
                checks.append(_required(tuple(operand)))
            elif keyword == "properties":
                checks.append(self._properties(schema))
            elif keyword == "propertyNames":
                checks.append(_each_key(self.compile(operand)))
            elif keyword == "items":
                checks.append(_each_item(self.compile(operand)))
            elif keyword in ("oneOf", "anyOf", "allOf"):
                parts = [self.compile(part) for part in operand]
                checks.append(_combined(keyword, parts))
            elif keyword == "not":
                checks.append(_negated(self.compile(operand)))
            elif keyword == "const":
                checks.append(_const(operand))
            elif keyword in ("minimum", "maximum"):
                checks.append(_limit(operand, keyword == "minimum"))
            elif keyword == "if":
                checks.append(_conditional(self.compile(operand),
                                           self.compile(schema.get("then", True)),
                                           self.compile(schema.get("else", True))))
            else:
                raise Unsupported(f"keyword {keyword!r}")
        if "additionalProperties" in schema and "properties" not in schema:
            checks.append(self._properties(schema))
        return _all(checks)

    def _properties(self, schema: Mapping[str, Any]) -> Check:
        known = {name: self.compile(sub) for name, sub in schema.get("properties", {}).items()}
        extra_schema = schema.get("additionalProperties", True)
        extra = self.compile(extra_schema)
        allow_any_extra = extra_schema is True

        def properties(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for name, item in value.items():
                check = known.get(name)
                if check is not None:
                    if not check(item):
                        return False
                elif not allow_any_extra and not extra(item):
                    return False
            return True
        return properties


def _format(name: str) -> Check:
    if name != "date":
        raise Unsupported(f"format {name!r}")

    def is_date(value: Any) -> bool:
        if not isinstance(value, str) or _DATE.fullmatch(value) is None:
            return not isinstance(value, str)
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    return is_date


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _const(operand: Any) -> Check:
    """``jsonschema``'s equality for the scalar constants a schema here uses: booleans are
    not numbers, 1 equals 1.0."""
    if operand is None or isinstance(operand, bool):
        return lambda value: value is operand
    if isinstance(operand, str):
        return lambda value: isinstance(value, str) and value == operand
    if _is_number(operand):
        return lambda value: _is_number(value) and value == operand
    raise Unsupported("const of a list or an object")


def _limit(operand: Any, at_least: bool) -> Check:
    if not _is_number(operand):
        raise Unsupported("a bound that is not a number")
    if at_least:
        return lambda value: not _is_number(value) or value >= operand
    return lambda value: not _is_number(value) or value <= operand


def _conditional(condition: Check, then: Check, otherwise: Check) -> Check:
    return lambda value: then(value) if condition(value) else otherwise(value)


def _bound(kind: type[str] | type[list[Any]] | type[dict[str, Any]], limit: int,
           at_least: bool) -> Check:
    def bound(value: Any) -> bool:
        if not isinstance(value, kind):
            return True
        return len(value) >= limit if at_least else len(value) <= limit
    return bound


def _one_of_names(names: frozenset[str]) -> Check:
    return lambda value: isinstance(value, str) and value in names


def _pattern(program: re.Pattern[str]) -> Check:
    return lambda value: not isinstance(value, str) or program.search(value) is not None


def _required(keys: tuple[str, ...]) -> Check:
    return lambda value: not isinstance(value, dict) or all(key in value for key in keys)


def _each_key(check: Check) -> Check:
    return lambda value: not isinstance(value, dict) or all(check(key) for key in value)


def _each_item(check: Check) -> Check:
    return lambda value: not isinstance(value, list) or all(check(item) for item in value)


def _negated(check: Check) -> Check:
    return lambda value: not check(value)


def _or_null(check: Check) -> Check:
    return lambda value: value is None or check(value)


def _all(checks: list[Check]) -> Check:
    """Every check (specialised for the one- and two-check schemas most nodes are: a
    document of a thousand hosts passes through these millions of times)."""
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    return lambda v: all(check(v) for check in checks)


def _exactly_one(parts: list[Check]) -> Check:
    def one_of(value: Any) -> bool:
        found = 0
        for part in parts:
            if part(value):
                found += 1
                if found > 1:
                    return False
        return found == 1
    return one_of


def _combined(keyword: str, parts: list[Check]) -> Check:
    if keyword == "oneOf":
        return _exactly_one(parts)
    if keyword == "anyOf":
        return parts[0] if len(parts) == 1 else lambda v: any(part(v) for part in parts)
    return _all(parts)


def compile_schema(schema: Mapping[str, Any], *, formats: bool = False) -> Check:
    """A closure telling whether a document is valid against ``schema`` (``formats``: as
    with a format checker).

    Raises :class:`Unsupported` when the schema uses a keyword not implemented here.
    """
    return _Compiler(schema, formats).compile(schema)
