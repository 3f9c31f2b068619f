"""Safe YAML reading for user files, keeping the line of every node for error messages.

Only YAML's safe subset is built (no Python objects). Alias expansion is
bounded so that a "billion laughs" file fails fast instead of eating memory,
duplicate mapping keys are errors rather than silently last-wins, and dates
stay ISO strings so documents remain plain JSON data.

Composition runs on libyaml's C parser when PyYAML has it (~10x faster: the shipped
baseline composed in ~0.2 s in pure Python, every run); its nodes carry the same marks, so
every line stays. A file the C parser refuses is parsed again in pure Python, so an error
reads exactly as before. tests/test_yamlio_c.py holds both parsers to the same documents.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import InputError

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]

# The tags plain data may carry; anything else (!!python/..., !!binary, custom tags) is refused.
_STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map", "merge")
)


@dataclass(frozen=True)
class Document:
    """A YAML document as plain data, with the source line of every node."""

    source: str
    data: Any
    lines: Mapping[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int | None:
        """The line of the deepest node on ``path`` that the file has."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def error(self, path: PathKey, message: str) -> InputError:
        return InputError(self.source, f"{format_path(path)}: {message}" if path else message,
                          self.line_of(path))


def format_path(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[PathKey, int] = {}
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, message: str) -> InputError:
        return InputError(self.source, message, node.start_mark.line + 1)

    def build(self, node: yaml.Node, path: PathKey, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES} YAML nodes (alias expansion bomb?)")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.lines.setdefault(path, node.start_mark.line + 1)
        if node.tag not in _PLAIN_TAGS:
            raise self.fail(node, f"unsupported YAML tag {node.tag!r}")
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.fail(key_node, "YAML merge keys ('<<') are not supported")
                key = self.build(key_node, (*path, "<key>"), depth + 1)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise self.fail(key_node, "mapping keys must be plain scalars")
                key = str(key)
                if key in result:
                    raise self.fail(key_node, f"duplicate key {key!r}")
                result[key] = self.build(value_node, (*path, key), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if node.tag == _STR_TAG:
            return node.value  # what SafeConstructor makes of a str node, without its bookkeeping
        try:
            value = self.constructor.construct_object(node, deep=False)
        except ValueError as exc:  # e.g. an impossible date such as 2026-02-30
            raise self.fail(node, f"invalid YAML value {node.value!r}: {exc}") from None
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        if isinstance(value, bytes):
            raise self.fail(node, "binary YAML values are not supported")
        return value


_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    if _FAST_LOADER is not None:
        try:
            return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass  # parsed again below, for the pure-Python parser's own words and line
    return yaml.compose(text, Loader=yaml.SafeLoader)


def load_text(text: str, source: str, fast: bool = True) -> Document:
    """Parse one YAML document; every problem is an InputError naming source and line.

    ``fast=False`` composes in pure Python only (the reference the C path is tested against).
    """
    try:
        node = _compose(text) if fast else yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(source, f"invalid YAML: {problem}", line) from None
    except yaml.YAMLError as exc:
        raise InputError(source, f"invalid YAML: {str(exc).splitlines()[0]}") from None
    if node is None:
        return Document(source, None, {})
    builder = _Builder(source)
    try:
        data = builder.build(node, (), 0)
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise InputError(source, f"invalid YAML value: {exc.problem}", line) from None
    except RecursionError:
        raise InputError(source, "YAML structure is recursive or too deep") from None
    return Document(source, data, builder.lines)


def load_file(path: Path, what: str = "file") -> Document:
    """Read and parse a user's YAML file with bounded size and a clear error for every case."""
    source = str(path)
    try:
        if path.is_dir():
            raise InputError(source, f"is a directory, not a {what}")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(source, f"{what} is {size} bytes; the limit is {MAX_FILE_BYTES}")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(source, f"{what} not found") from None
    except PermissionError:
        raise InputError(source, f"{what} is not readable (permission denied)") from None
    except OSError as exc:
        raise InputError(source, f"cannot read {what}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(source, f"{what} is not valid UTF-8 (byte {exc.start})", line) from None
    if "\x00" in text:
        raise InputError(source, f"{what} contains NUL bytes (binary file?)")
    return load_text(text, source)
