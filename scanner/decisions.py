"""What a person's recorded decision about a result keys on: hosts and evidence.

Waivers (an accepted failure) and judgements (an assessor's verdict on a manual rule)
are both written by people, name hosts by shell-style globs and may be bound to the
evidence they were made on. Both read a YAML file checked against a JSON Schema, so a
malformed file is one error naming its line. This leaf module holds what the two share.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema

from scanner.errors import InputError
from scanner.probes import canonical_json
from scanner.render.wording import english_message
from scanner.resources import schema_path
from scanner.yamlio import Document, load_file, load_text


def matches_host(patterns: Sequence[str], host: Mapping[str, Any]) -> bool:
    """True when any glob matches the host's name, address or one of its groups."""
    names = [str(host.get("name", "")), str(host.get("address", "")),
             *(str(g) for g in host.get("groups", ()))]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns for name in names)


def evidence_digest(observed: Sequence[Any]) -> str:
    """The digest an ``evidence_digest`` binding compares with: sha256 of canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical_json(list(observed)).encode("utf-8")).hexdigest()


@cache
def _validator(schema_name: str) -> jsonschema.protocols.Validator:
    import jsonschema  # imported when a file is validated, not by every command

    schema = json.loads(schema_path(schema_name).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def check_schema(doc: Document, schema_name: str, top_key: str, what: str) -> list[Any]:
    """The items under ``top_key`` of a parsed document, once it matches its schema;
    the first problem (in document order) is an InputError naming its line."""
    if doc.data is None:
        raise InputError(doc.source, f"{what} is empty (expected '{top_key}: [...]')")
    errors = sorted(_validator(schema_name).iter_errors(doc.data),
                    key=lambda e: list(map(str, e.path)))
    if errors:
        first = errors[0]
        raise doc.error(tuple(first.absolute_path), first.message)
    return list(doc.data[top_key])


def read_file(path: Path, what: str) -> Document:
    """A YAML file parsed with line marks (PyYAML rejects impossible dates itself)."""
    try:
        return load_file(path, what)
    except ValueError as exc:
        raise InputError(str(path), f"invalid YAML value: {exc}") from None


def read_text(text: str, source: str) -> Document:
    try:
        return load_text(text, source)
    except ValueError as exc:
        raise InputError(source, f"invalid YAML value: {exc}") from None


def with_notes(result: dict[str, Any], notes: Sequence[Mapping[str, Any]],
               replace: bool = False) -> dict[str, Any]:
    """``result`` with reasons added to its message (or replacing it), as data in its
    ``wording`` and in English in its ``message`` (an older document's text is kept)."""
    if not notes and not replace:
        return result
    wording = result.get("wording")
    if wording is not None:
        message = [*([] if replace else wording["message"]), *notes]
        result["wording"] = {**wording, "message": message}
    english = english_message(notes)
    result["message"] = english if replace else "; ".join(
        part for part in (result["message"], english) if part)
    return result
