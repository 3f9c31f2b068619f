"""The probe catalogue for rule authors, generated from the code: what each probe takes,
what a check can index, whose semantics it follows, and a shipped rule that uses it.

Pure: the probes' own declarations (:mod:`scanner.probes`), their modules' docstrings
(which name the consumer each follows) and the shipped baseline's YAML in; text out.
``cii-scan probes list|show`` print it and docs/probes.md is it (a test keeps the file
current), so the only list of probes is no longer an error message.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from scanner.probes import Probe


@dataclass(frozen=True)
class Argument:
    name: str
    kind: str  # the JSON type, with its constraint (e.g. "string, ^/...")
    required: bool
    description: str


@dataclass(frozen=True)
class Entry:
    name: str
    summary: str
    arguments: tuple[Argument, ...]
    key_indexes: str  # what a check's ``key`` looks up
    subject: str  # what a check without ``key`` looks at
    consumer: str  # the module docstring's opening: whose semantics the parser follows
    keys_used: tuple[str, ...]  # keys the shipped rules index
    rules: tuple[str, ...]  # shipped rules using it
    example: str | None  # one shipped check using it, as YAML


def entries(catalog: Mapping[str, Probe], baseline_text: str) -> list[Entry]:
    """Every probe in the catalog, in name order, with the shipped baseline's uses."""
    rules = yaml.safe_load(baseline_text).get("rules", [])
    return [_entry(probe, rules) for _, probe in sorted(catalog.items())]


def _entry(probe: Probe, rules: Sequence[Mapping[str, Any]]) -> Entry:
    schema = probe.args_schema
    required = set(schema.get("required", ()))
    arguments = tuple(
        Argument(name, _kind(spec), name in required, str(spec.get("description", "")))
        for name, spec in sorted(schema.get("properties", {}).items()))
    uses = [(rule["id"], check) for rule in rules for check in _checks(rule.get("check"))
            if check.get("probe") == probe.name]
    keys = sorted({str(check["key"]) for _, check in uses if "key" in check})
    example = None
    if uses:
        example = yaml.safe_dump(uses[0][1], default_flow_style=True, sort_keys=False,
                                 allow_unicode=True, width=1000).strip()
    return Entry(
        name=probe.name, summary=probe.summary, arguments=arguments,
        key_indexes=(f"the `{probe.keyed}` member of the facts" if probe.keyed
                     else "the facts themselves"),
        subject=f"the `{probe.subject}` member" if probe.subject else "the whole facts",
        consumer=_opening(inspect.getmodule(probe.parse)),
        keys_used=tuple(keys), rules=tuple(dict.fromkeys(rule for rule, _ in uses)),
        example=example)


def _checks(check: Any) -> Iterator[Mapping[str, Any]]:
    """The probe checks inside a check (``all``/``any`` nest them)."""
    if not isinstance(check, Mapping):
        return
    if "probe" in check:
        yield check
    for mode in ("all", "any"):
        for part in check.get(mode, ()):
            yield from _checks(part)


def _kind(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type", "any")
    text = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if "enum" in spec:
        text += " (one of " + ", ".join(json.dumps(v) for v in spec["enum"]) + ")"
    if "pattern" in spec:
        text += f" matching `{spec['pattern']}`"
    if "items" in spec:
        text += " of " + _kind(spec["items"])
    return text


def _opening(module: object) -> str:
    """The paragraph of a module's docstring that names its consumer (else the first),
    on one line."""
    paragraphs = (inspect.getdoc(module) or "").split("\n\n")
    named = [p for p in paragraphs if "consumer" in p.lower()]
    return " ".join((named or paragraphs)[0].split())


def render_list(items: Sequence[Entry]) -> str:
    width = max(len(item.name) for item in items)
    return "".join(f"{item.name:<{width}}  {item.summary}\n" for item in items)


def render_show(item: Entry) -> str:
    lines = [f"{item.name}: {item.summary}", "", f"follows: {item.consumer}", "",
             "arguments:" if item.arguments else "arguments: none"]
    for argument in item.arguments:
        need = "required" if argument.required else "optional"
        about = f" -- {argument.description}" if argument.description else ""
        lines.append(f"  {argument.name} ({argument.kind}; {need}){about}")
    lines += [f"key: indexes {item.key_indexes}", f"without key: a check looks at "
              f"{item.subject}"]
    if item.keys_used:
        lines.append("keys the shipped rules use: " + ", ".join(item.keys_used))
    if item.rules:
        lines.append("shipped rules: " + ", ".join(item.rules))
    if item.example:
        lines.append(f"example check: {item.example}")
    return "\n".join(lines) + "\n"


def render_markdown(items: Sequence[Entry]) -> str:
    """docs/probes.md: the catalogue for rule authors."""
    out = ["# Probe catalogue", "",
           "Generated from the code by `cii-scan probes list --markdown` (a test keeps this "
           "file current). A rule's check names a probe, its arguments, optionally a `key`, "
           "and an `expect` (README, \"Baselines\"). Each probe follows the consumer "
           "named under it: the program whose reading of the host's files decides.", ""]
    for item in items:
        out += [f"## `{item.name}`", "", item.summary, "", f"Follows: {item.consumer}", ""]
        if item.arguments:
            out += ["| argument | type | required | meaning |", "|---|---|---|---|"]
            out += [f"| `{a.name}` | {_cell(a.kind)} | {'yes' if a.required else 'no'} | "
                    f"{_cell(a.description)} |" for a in item.arguments]
        else:
            out.append("Arguments: none.")
        out += ["", f"`key` indexes {item.key_indexes}; a check without `key` looks at "
                f"{item.subject}."]
        if item.keys_used:
            out.append("Keys the shipped rules use: "
                       + ", ".join(f"`{key}`" for key in item.keys_used) + ".")
        if item.rules:
            out.append("Shipped rules: " + ", ".join(f"`{rule}`" for rule in item.rules) + ".")
        if item.example:
            out += ["", "```yaml", f"check: {item.example}", "```"]
        out.append("")
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
