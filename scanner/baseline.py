"""Baselines: load YAML, validate it, resolve extends, profiles and parameters, compile checks.

A loaded :class:`Baseline` is fully resolved and immutable: every enabled rule's
check is compiled against the effective parameters, so evaluation never looks
at YAML again. Every problem is a :class:`BaselineError` naming file and line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner import probes, schemacheck
from scanner.errors import InputError
from scanner.expect import Expectation, ExpectationError, compile_expectation
from scanner.resources import baselines_dir, schema_path
from scanner.yamlio import Document, PathKey, format_path, load_file, load_text

if TYPE_CHECKING:
    import jsonschema

SEVERITIES = ("critical", "high", "medium", "low", "info")
OS_FAMILIES = ("debian", "rhel")
DEFAULT_BASELINE = "cii-art9-linux"
MAX_EXTENDS_DEPTH = 8

LocalizedText = Mapping[str, str]


class BaselineError(InputError):
    """A baseline or tailoring file is invalid."""


@dataclass(frozen=True)
class ProbeCheck:
    call: probes.ProbeCall
    key: str | None
    expect: Expectation


@dataclass(frozen=True)
class CompositeCheck:
    mode: str  # "all" or "any"
    parts: tuple[Check, ...]


Check = ProbeCheck | CompositeCheck


@dataclass(frozen=True)
class Rule:
    id: str
    title: LocalizedText
    severity: str
    check: Check | None
    rationale: LocalizedText = field(default_factory=dict)
    remediation: Mapping[str, LocalizedText] = field(default_factory=dict)  # by OS family/"any"
    references: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    applies_to: tuple[str, ...] = ()  # OS families; empty means every family
    manual: LocalizedText | None = None
    source: str = ""  # file:line where the rule is defined
    major_risk: str | None = None  # the 重大风险隐患 its failure shows (scanner.major_risks)


@dataclass(frozen=True)
class Profile:
    name: str
    title: LocalizedText
    description: LocalizedText
    parameters: Mapping[str, Any]
    disable: Mapping[str, str]


@dataclass(frozen=True)
class Baseline:
    id: str
    version: str
    title: LocalizedText
    source: str
    digest: str
    profile: str | None
    parameters: Mapping[str, Any]
    rules: tuple[Rule, ...]
    disabled: Mapping[str, str]  # rule id -> reason, for rules tailored out
    profiles: Mapping[str, Profile]
    extends: tuple[str, ...] = ()  # ids of the baselines this one builds on, nearest first
    sources: tuple[Path, ...] = ()  # the files of the extends chain, parent first
    # the root baseline's own parameter values, before tailoring files and the profile:
    # what a report compares the effective ``parameters`` with to show what was changed
    parameter_defaults: Mapping[str, Any] = field(default_factory=dict)

    def probe_calls(self) -> list[probes.ProbeCall]:
        """Every probe call the enabled rules need, plus ``os``; sorted, no duplicates."""
        calls = {probes.ProbeCall.of("os")}
        for rule in self.rules:
            if rule.check is not None:
                calls.update(iter_probe_checks(rule.check))
        return sorted(calls)


def iter_probe_checks(check: Check) -> list[probes.ProbeCall]:
    if isinstance(check, ProbeCheck):
        return [check.call]
    return [call for part in check.parts for call in iter_probe_checks(part)]


# --------------------------------------------------------------------------- finding files


def shipped_baselines() -> dict[str, Path]:
    """Shipped baseline ids mapped to their files."""
    return {path.stem: path for path in sorted(baselines_dir().glob("*.yaml"))}


def resolve_reference(reference: str, relative_to: Path | None = None) -> Path:
    """A baseline id (shipped) or a path to a YAML file."""
    shipped = shipped_baselines()
    if reference in shipped:
        return shipped[reference]
    path = Path(reference)
    if relative_to is not None and not path.is_absolute():
        path = relative_to.parent / path
    if path.exists() or "/" in reference or reference.endswith((".yaml", ".yml")):
        return path
    known = ", ".join(shipped) or "none"
    raise BaselineError(reference, f"no shipped baseline with this id (shipped: {known}) "
                        "and no such file")


@cache
def _baseline_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        schema_path("baseline.schema.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    import jsonschema  # only to word what is wrong with an invalid file

    schema = _baseline_schema()
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    return validator_cls(schema)


@cache
def _schema_check() -> schemacheck.Check | None:
    try:
        return schemacheck.compile_schema(_baseline_schema())
    except schemacheck.Unsupported:
        return None


@cache
def _args_check(probe_name: str) -> schemacheck.Check | None:
    try:
        return schemacheck.compile_schema(probes.get(probe_name).args_schema)
    except schemacheck.Unsupported:
        return None


def _validate_schema(doc: Document) -> None:
    if not isinstance(doc.data, dict):
        raise BaselineError(doc.source, "a baseline must be a YAML mapping", doc.line_of(()))
    quick = _schema_check()
    if quick is not None and quick(doc.data):
        return  # valid; jsonschema is asked only to word a problem
    import jsonschema

    errors = sorted(_schema_validator().iter_errors(doc.data),
                    key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        path: PathKey = tuple(best.absolute_path)
        extra = _unknown_key(best)
        if extra is not None:
            raise _error(doc, (*path, extra), f"unknown key {extra!r}")
        raise _error(doc, path, _schema_message(best))


def _unknown_key(error: jsonschema.ValidationError) -> str | None:
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return None
    schema = error.schema if isinstance(error.schema, dict) else {}
    extra = sorted(set(error.instance) - set(schema.get("properties", {})))
    return str(extra[0]) if extra else None


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        if "probe" in error.instance:
            return "a probe check needs 'probe' and 'expect' (and not 'all'/'any')"
        if "check" in str(error.schema) or {"all", "any"} & set(error.instance):
            return "a check is {probe, expect, ...}, {all: [...]} or {any: [...]}"
    message = error.message
    return message if len(message) < 300 else message[:297] + "..."


def _error(doc: Document, path: PathKey, message: str) -> BaselineError:
    return BaselineError(doc.source, f"{format_path(path)}: {message}" if path else message,
                         doc.line_of(path))


# --------------------------------------------------------------------------- loading


@dataclass
class _Layer:
    """One file in an extends chain, parent first."""

    doc: Document
    path: Path


def _load_chain(reference: str, relative_to: Path | None = None) -> list[_Layer]:
    chain: list[_Layer] = []
    seen: list[Path] = []
    current: str | None = reference
    base: Path | None = relative_to
    while current is not None:
        path = resolve_reference(current, base)
        resolved = path.resolve()
        if resolved in seen:
            cycle = " -> ".join(str(p) for p in [*seen, resolved])
            raise BaselineError(str(path), f"circular extends: {cycle}")
        if len(seen) >= MAX_EXTENDS_DEPTH:
            raise BaselineError(str(path), f"extends chain longer than {MAX_EXTENDS_DEPTH}")
        seen.append(resolved)
        try:
            doc = load_file(path, "baseline")
        except InputError as exc:
            if isinstance(exc, BaselineError):
                raise
            raise BaselineError(exc.source, exc.message, exc.line) from None
        if doc.data is None:
            raise BaselineError(str(path), "baseline file is empty")
        _validate_schema(doc)
        chain.append(_Layer(doc, path))
        current = doc.data.get("extends")
        base = path
    chain.reverse()
    return chain


def _disable_map(doc: Document, entries: list[Any], path: PathKey, fallback: str
                 ) -> dict[str, tuple[str, PathKey]]:
    result: dict[str, tuple[str, PathKey]] = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            result[entry] = (fallback, (*path, index))
        else:
            result[entry["rule"]] = (entry["reason"], (*path, index))
    return result


def load_baseline(reference: str = DEFAULT_BASELINE, profile: str | None = None) -> Baseline:
    """Load a shipped baseline by id, or a baseline/tailoring file by path, fully resolved."""
    chain = _load_chain(reference)
    top = chain[-1].doc

    raw_rules: dict[str, tuple[Document, int, dict[str, Any]]] = {}
    parameters: dict[str, Any] = {}
    profiles: dict[str, tuple[Document, str, dict[str, Any]]] = {}
    disabled: dict[str, tuple[Document, str, PathKey]] = {}
    default_profile: str | None = None
    for position, layer in enumerate(chain):
        doc = layer.doc
        data = doc.data
        for index, rule in enumerate(data.get("rules", [])):
            rule_id = rule["id"]
            if rule_id in raw_rules:
                first_doc, first_index, _ = raw_rules[rule_id]
                first_line = first_doc.line_of(("rules", first_index))
                raise _error(doc, ("rules", index, "id"),
                             f"duplicate rule id {rule_id!r} (first defined at "
                             f"{first_doc.source}:{first_line}); to change a shipped rule, "
                             "disable it and add one with a new id")
            raw_rules[rule_id] = (doc, index, rule)
        own_parameters = data.get("parameters", {})
        if position > 0:
            for name in own_parameters:
                if name not in parameters and not any(
                    _references_parameter(rule, name) for rule in data.get("rules", [])
                ):
                    raise _error(doc, ("parameters", name),
                                 f"unknown parameter {name!r} (the baseline it extends has "
                                 f"{', '.join(sorted(parameters)) or 'none'})")
        parameters.update(own_parameters)
        for name, body in data.get("profiles", {}).items():
            profiles[name] = (doc, name, body)
        for rule_id, (reason, path) in _disable_map(
            doc, data.get("disable", []), ("disable",), f"disabled by {doc.source}"
        ).items():
            disabled[rule_id] = (doc, reason, path)
        default_profile = data.get("profile", default_profile)

    chosen = profile if profile is not None else default_profile
    if chosen is not None:
        if chosen not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise BaselineError(top.source, f"unknown profile {chosen!r} (profiles: {known})")
        pdoc, _, pbody = profiles[chosen]
        parameters_from_tailoring = {
            name: value for layer in chain[1:] for name, value in
            layer.doc.data.get("parameters", {}).items()
        }
        parameters.update(pbody.get("parameters", {}))
        parameters.update(parameters_from_tailoring)  # the user's own file wins over a profile
        for rule_id, (reason, path) in _disable_map(
            pdoc, pbody.get("disable", []), ("profiles", chosen, "disable"),
            f"not part of profile {chosen}"
        ).items():
            disabled.setdefault(rule_id, (pdoc, reason, path))

    for rule_id, (doc, _, path) in disabled.items():
        if rule_id not in raw_rules:
            raise _error(doc, path, f"disables unknown rule {rule_id!r}")
    for name, (pdoc, _, pbody) in profiles.items():
        for rule_id, (_, path) in _disable_map(pdoc, pbody.get("disable", []),
                                               ("profiles", name, "disable"), "").items():
            if rule_id not in raw_rules:
                raise _error(pdoc, path, f"profile {name!r} disables unknown rule {rule_id!r}")

    compiled = []
    for rule_id in sorted(raw_rules):
        if rule_id in disabled:
            continue
        doc, index, raw = raw_rules[rule_id]
        compiled.append(_compile_rule(doc, index, raw, parameters))

    return Baseline(
        id=top.data["id"],
        version=top.data["version"],
        title=top.data["title"],
        source=top.source,
        digest=_digest([layer.doc.data for layer in chain], chosen),
        profile=chosen,
        parameters=dict(sorted(parameters.items())),
        rules=tuple(compiled),
        disabled={rule_id: reason for rule_id, (_, reason, _) in sorted(disabled.items())},
        profiles={
            name: Profile(name, body["title"], body.get("description", {}),
                          body.get("parameters", {}),
                          {r: why for r, (why, _) in _disable_map(
                              doc, body.get("disable", []), (), "").items()})
            for name, (doc, _, body) in sorted(profiles.items())
        },
        extends=tuple(layer.doc.data["id"] for layer in reversed(chain[:-1])),
        sources=tuple(layer.path for layer in chain),
        parameter_defaults=dict(sorted(chain[0].doc.data.get("parameters", {}).items())),
    )


def _references_parameter(rule: Any, name: str) -> bool:
    return f'"${name}"' in json.dumps(rule)


def digest_of_sources(texts: Sequence[tuple[str, str]], profile: str | None) -> str:
    """The digest a baseline loaded from these files (``(name, text)``, parent first) with
    this profile has: what a bundle's reader checks its baseline sources against."""
    return _digest([load_text(text, name).data for name, text in texts], profile)


def _digest(documents: list[Any], profile: str | None) -> str:
    payload = json.dumps({"documents": documents, "profile": profile}, sort_keys=True,
                         ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _compile_rule(doc: Document, index: int, raw: dict[str, Any],
                  parameters: Mapping[str, Any]) -> Rule:
    path: PathKey = ("rules", index)
    check = None
    if "check" in raw:
        check = _compile_check(doc, raw["check"], (*path, "check"), parameters)
    remediation = raw.get("remediation", {})
    if "en" in remediation:
        remediation = {"any": remediation}
    return Rule(
        id=raw["id"],
        title=raw["title"],
        severity=raw["severity"],
        check=check,
        rationale=raw.get("rationale", {}),
        remediation=remediation,
        references={k: tuple(v) for k, v in sorted(raw.get("references", {}).items())},
        applies_to=tuple(raw.get("applies_to", {}).get("os_family", ())),
        manual=raw.get("manual"),
        source=f"{doc.source}:{doc.line_of(path)}",
        major_risk=raw.get("major_risk"),
    )


def _compile_check(doc: Document, raw: dict[str, Any], path: PathKey,
                   parameters: Mapping[str, Any]) -> Check:
    for mode in ("all", "any"):
        if mode in raw:
            return CompositeCheck(mode, tuple(
                _compile_check(doc, part, (*path, mode, i), parameters)
                for i, part in enumerate(raw[mode])))
    name = raw["probe"]
    try:
        probe = probes.get(name)
    except KeyError:
        known = ", ".join(sorted(probes.catalog()))
        raise _error(doc, (*path, "probe"), f"unknown probe {name!r} (probes: {known})") from None
    args = {k: v for k, v in raw.items() if k not in ("probe", "key", "expect")}
    try:
        args = {k: _resolve_arg(v, parameters) for k, v in args.items()}
    except KeyError as exc:
        raise _error(doc, path, f"unknown parameter ${exc.args[0]}") from None
    quick = _args_check(name)
    arg_errors = [] if quick is not None and quick(args) else _arg_errors(probe, args)
    if arg_errors:
        error = arg_errors[0]
        if error.validator == "additionalProperties":
            extra = sorted(set(args) - set(probe.args_schema.get("properties", {})))
            takes = ", ".join(sorted(probe.args_schema.get("properties", {}))) or "no arguments"
            raise _error(doc, (*path, extra[0]),
                         f"probe {name!r} does not take {extra[0]!r} (takes: {takes})")
        arg_path = (*path, *error.absolute_path) if error.absolute_path else path
        raise _error(doc, arg_path, f"probe {name!r} argument: {error.message}")
    try:
        expect = compile_expectation(raw["expect"], parameters)
    except ExpectationError as exc:
        raise _error(doc, (*path, "expect", *exc.path), str(exc)) from None
    return ProbeCheck(probes.ProbeCall.of(name, args), raw.get("key"), expect)


def _arg_errors(probe: probes.Probe, args: Mapping[str, Any]
                ) -> list[jsonschema.ValidationError]:
    import jsonschema  # only to word what is wrong with the arguments

    return sorted(jsonschema.Draft202012Validator(probe.args_schema).iter_errors(args),
                  key=lambda e: e.validator != "additionalProperties")


def _resolve_arg(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$") and not value.startswith("$$"):
        if value[1:] not in parameters:
            raise KeyError(value[1:])
        return parameters[value[1:]]
    if isinstance(value, str) and value.startswith("$$"):
        return value[1:]
    return value
