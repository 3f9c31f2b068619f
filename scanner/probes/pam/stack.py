"""PAM stacks as Linux-PAM (libpam) assembles them from /etc/pam.d.

Linux-PAM ends a line at the first ``#`` and expands ``include``/``substack`` (and
Debian's ``@include``) per module type, falling back to ``other`` for a type a
service does not configure. Stacks are resolved, not executed: jumps such as
``[success=1 default=ignore]`` are not followed, so a module is judged by its
presence and by whether its own control makes its refusal final.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import (
    FileFrame,
    files_only,
    frames_or_error,
    unreadable_paths,
)

PAM_DIR = "/etc/pam.d/"
PAM_TYPES = ("auth", "account", "password", "session")
# Linux-PAM refuses includes nested deeper than this (PAM_SUBSTACK_MAX_LEVEL).
MAX_INCLUDE_DEPTH = 16
SERVICE_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_.+-]{1,64}$"}

PAM_FILES = ("/etc/pam.d/*",)
PAM_FILES = ("/etc/pam.d/*",)
SERVICES_ARGS = {
    "type": "object",
    "properties": {"services": {"type": "array", "items": SERVICE_NAME, "minItems": 1,
                                "maxItems": 16}},
    "additionalProperties": False,
}



@dataclass(frozen=True)
class _PamEntry:
    """One logical line of a PAM file: a module line or a Debian ``@include``."""

    kind: str  # "line" | "@include" | "bad"
    type: str = ""
    control: str = ""
    module: str = ""
    args: tuple[str, ...] = ()
    optional: bool = False
    text: str = ""


def _logical_lines(text: str) -> list[str]:
    """Lines as libpam assembles them: ``#`` ends a line, a trailing ``\\`` joins the next."""
    lines: list[str] = []
    pending = ""
    for physical in split_lines(text):
        if "#" in physical:
            lines.append(pending + physical.split("#", 1)[0])
            pending = ""
            continue
        stripped = physical.rstrip(" \t")
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + physical)
        pending = ""
    if pending:
        lines.append(pending)
    return [line.strip() for line in lines if line.strip()]


def _pam_tokens(line: str) -> list[str]:
    """Whitespace-separated words; a word opening with ``[`` runs to the first unescaped ``]``."""
    tokens: list[str] = []
    index, length = 0, len(line)
    while index < length:
        if line[index] in " \t":
            index += 1
            continue
        if line[index] == "[":
            end = index + 1
            while end < length and not (line[end] == "]" and line[end - 1] != "\\"):
                end += 1
            tokens.append(line[index:end + 1])
            index = end + 1
        else:
            end = index
            while end < length and line[end] not in " \t":
                end += 1
            tokens.append(line[index:end])
            index = end
    return tokens


_PAM_CACHED_BYTES = 64 * 1024


def parse_pam_file(text: str) -> tuple[_PamEntry, ...]:
    """A PAM file's entries. Usual-sized files are parsed once: every PAM probe of a
    host reads the same files, and a fleet's hosts mostly share them."""
    if len(text) <= _PAM_CACHED_BYTES:
        return _parse_pam_file_cached(text)
    return _parse_pam_file(text)


@functools.lru_cache(maxsize=512)
def _parse_pam_file_cached(text: str) -> tuple[_PamEntry, ...]:
    return _parse_pam_file(text)


def _parse_pam_file(text: str) -> tuple[_PamEntry, ...]:
    entries: list[_PamEntry] = []
    for line in _logical_lines(text):
        tokens = _pam_tokens(line)
        if tokens[0].lower() == "@include":
            entries.append(_PamEntry("@include", module=tokens[1] if len(tokens) > 1 else "",
                                     text=line))
            continue
        type_word = tokens[0]
        optional = type_word.startswith("-")
        module_type = type_word.lstrip("-").lower()
        if module_type not in PAM_TYPES or len(tokens) < 3:
            entries.append(_PamEntry("bad", type=module_type, text=line))
            continue
        control = tokens[1]
        if not control.startswith("["):
            control = control.lower()
        entries.append(_PamEntry("line", module_type, control, tokens[2], tuple(tokens[3:]),
                                 optional, line))
    return tuple(entries)


def pam_args(words: Iterable[str]) -> dict[str, Any]:
    """Module arguments as a mapping: ``deny=5`` → {"deny": "5"}, a bare word → True."""
    result: dict[str, Any] = {}
    for word in words:
        if word.startswith("[") and word.endswith("]"):
            word = word[1:-1].replace("\\]", "]")
        name, sep, value = word.partition("=")
        result[name] = value if sep else True
    return result


def control_fails_closed(control: str, failure: str) -> bool:
    """Whether a module returning ``failure`` (e.g. "auth_err") makes the stack fail."""
    if not control.startswith("["):
        return control in ("required", "requisite")
    actions: dict[str, str] = {}
    for pair in control[1:-1].split():
        value, _, action = pair.partition("=")
        actions[value.lower()] = action.lower()
    action = actions.get(failure, actions.get("default", "bad"))
    return action in ("bad", "die")


@dataclass
class _Resolver:
    """Expands one service's stack from the /etc/pam.d files."""

    files: Mapping[str, FileFrame]
    problems: list[str] = field(default_factory=list)

    def file_for(self, name: str) -> FileFrame | None:
        path = name if name.startswith("/") else PAM_DIR + name
        return self.files.get(path)

    def expand(self, name: str, wanted: str | None, chain: tuple[str, ...],
               substack: bool) -> list[dict[str, Any]]:
        if len(chain) >= MAX_INCLUDE_DEPTH:
            self.problems.append(f"includes nested deeper than {MAX_INCLUDE_DEPTH} at {name}; "
                                 "PAM fails this stack")
            return []
        if name in chain:
            self.problems.append(f"include cycle {' -> '.join([*chain, name])}; "
                                 "PAM fails this stack")
            return []
        frame = self.file_for(name)
        if frame is None or frame.state == "missing":
            self.problems.append(f"{name} is included but does not exist; PAM fails this stack")
            return []
        if frame.state != "ok":
            self.problems.append(f"{frame.path} is not readable by the collector")
            return []
        lines: list[dict[str, Any]] = []
        for entry in parse_pam_file(frame.content):
            if entry.kind == "@include":
                lines += self.expand(entry.module, wanted, (*chain, name), substack)
                continue
            if entry.kind == "bad":
                if wanted is None or entry.type == wanted or entry.type not in PAM_TYPES:
                    self.problems.append(f"{frame.path}: malformed line {entry.text[:80]!r}; "
                                         "PAM makes it fail")
                continue
            if wanted is not None and entry.type != wanted:
                continue
            if entry.control in ("include", "substack"):
                lines += self.expand(entry.module, entry.type, (*chain, name),
                                     substack or entry.control == "substack")
                continue
            lines.append({
                "type": entry.type,
                "control": entry.control,
                "module": entry.module.rsplit("/", 1)[-1],
                "args": pam_args(entry.args),
                "optional": entry.optional,
                "substack": substack,
                "file": frame.path,
            })
        return lines


def resolve_service(service: str, files: Mapping[str, FileFrame]) -> dict[str, Any]:
    """A service's effective lines per PAM's rules, with what made it unreliable."""
    resolver = _Resolver(files)
    own = resolver.file_for(service)
    via_other = own is None or own.state == "missing"
    lines = [] if via_other else resolver.expand(service, None, (), False)
    if (own is not None and own.state == "ok") or via_other:
        other_lines: list[dict[str, Any]] | None = None
        for module_type in PAM_TYPES:
            if any(line["type"] == module_type for line in lines):
                continue
            if other_lines is None:
                other_frame = resolver.file_for("other")
                if other_frame is None or other_frame.state == "missing":
                    other_lines = []
                    if via_other:
                        resolver.problems.append(f"no PAM configuration for {service} and no "
                                                 "'other' fallback; PAM denies it")
                else:
                    other_lines = resolver.expand("other", None, (), False)
            lines += [line for line in other_lines if line["type"] == module_type]
    return {"lines": lines, "problems": resolver.problems, "via_other": via_other}


def pam_files(frames: Iterable[FileFrame]) -> dict[str, FileFrame]:
    return {f.path: f for f in frames if f.path.startswith(PAM_DIR)}


def service_names(files: Mapping[str, FileFrame]) -> list[str]:
    return sorted(path[len(PAM_DIR):] for path, frame in files.items()
                  if frame.state != "missing" and "/" not in path[len(PAM_DIR):])


def parse_pam(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    files = pam_files(frames)
    names = service_names(files)
    if not names:
        return ProbeResult.failed("no files under /etc/pam.d")
    services = {name: resolve_service(name, files) for name in names}
    return ProbeResult.ok({"services": services, "unreadable": unreadable_paths(files.values())})


FAILURE_RETURN = {"auth": "auth_err", "account": "perm_denied", "password": "authtok_err",
                  "session": "session_err"}


def parse_pam_module(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    """One module in one service's stack of one type: present, enforcing, its arguments."""
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    files = pam_files(frames)
    if not service_names(files):
        return ProbeResult.failed("no files under /etc/pam.d")
    service, module_type, module = str(args["service"]), str(args["type"]), str(args["module"])
    resolved = resolve_service(service, files)
    if resolved["problems"]:
        return ProbeResult.failed(f"PAM stack of {service} cannot be judged: "
                                  f"{resolved['problems'][0]}")
    lines = [line for line in resolved["lines"]
             if line["type"] == module_type and line["module"] == module]
    first = lines[0] if lines else None
    return ProbeResult.ok({
        "service": service,
        "present": first is not None,
        "count": len(lines),
        "control": first["control"] if first else None,
        "fails_closed": bool(first and control_fails_closed(
            first["control"], FAILURE_RETURN.get(module_type, "auth_err"))),
        "args": dict(first["args"]) if first else {},
        "file": first["file"] if first else None,
        "via_other": resolved["via_other"],
    })


PROBES = (
    Probe(
        name="pam",
        summary="every /etc/pam.d service's resolved stack (includes, substacks and "
        "@include expanded; 'other' filling unconfigured types)",
        snippet=files_only,
        files=lambda args: PAM_FILES,
        parse=parse_pam,
        keyed="services",
        cap_bytes=2 * 1024 * 1024,
    ),
    Probe(
        name="pam_module",
        summary="one module in one service's resolved stack of one type: present, whether "
        "its control makes a failure fail the stack, and its arguments",
        snippet=files_only,
        files=lambda args: PAM_FILES,
        parse=parse_pam_module,
        args_schema={
            "type": "object",
            "properties": {"service": SERVICE_NAME, "type": {"enum": list(PAM_TYPES)},
                           "module": {"type": "string", "pattern": "^pam_[a-z0-9_]{1,40}\\.so$"}},
            "required": ["service", "type", "module"],
            "additionalProperties": False,
        },
        cap_bytes=2 * 1024 * 1024,
    ),
)
