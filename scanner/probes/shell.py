"""What a login shell ends up with: TMOUT and the umask.

A login shell reads /etc/profile, then /etc/bash.bashrc (Debian) or /etc/bashrc
(RHEL family); a readonly TMOUT cannot be reassigned. With no umask set by the
start-up files, pam_umask applies login.defs' UMASK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import (
    files_only,
    frames_or_error,
    unreadable_paths,
)
from scanner.probes.login_defs import LOGIN_DEFS, read_login_defs
from scanner.probes.pam.stack import (
    PAM_FILES,
    pam_files,
    resolve_service,
)

# Sourcing order for a login bash: /etc/profile runs /etc/bash.bashrc (Debian) before its
# /etc/profile.d/*.sh loop; ~/.bashrc runs /etc/bashrc (RHEL family) after both.
SHELL_STARTUP_FILES = ("/etc/profile", "/etc/bash.bashrc", "/etc/profile.d/*.sh", "/etc/bashrc")
_STATEMENT_SPLIT = re.compile(r";|&&|\|\||\bthen\b|\bdo\b|\belse\b")
_BLOCK_OPEN = re.compile(r"^(if|case|while|until|for)\b")
_BLOCK_CLOSE = re.compile(r"^(fi|esac|done)\b")
_BUILTIN = re.compile(r"^(export|readonly|declare|typeset)\b((?:\s+-[A-Za-z]+)*)\s+(.*)$")


def _strip_shell_comment(line: str) -> str:
    """Cut a ``#`` that starts a word (outside quotes), as the shell does."""
    quote: str | None = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t;"):
            return line[:index]
    return line


def _shell_value(word: str) -> str:
    word = word.strip()
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "'\"":
        return word[1:-1]
    return word


@dataclass
class _TimeoutState:
    value: str | None = None
    readonly: bool = False
    exported: bool = False
    set_in: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def assign(self, value: str, where: dict[str, Any]) -> None:
        if self.readonly:
            self.notes.append(f"{where['file']}:{where['line']}: TMOUT is already readonly; "
                              "the shell ignores this assignment")
            return
        self.value = value
        self.set_in.append({**where, "value": value})


def _apply_statement(statement: str, state: _TimeoutState, where: dict[str, Any]) -> None:
    statement = statement.strip()
    builtin = _BUILTIN.match(statement)
    if builtin:
        command, flags, rest = builtin.group(1), builtin.group(2), builtin.group(3)
        makes_readonly = command == "readonly" or "r" in flags
        makes_exported = command == "export" or "x" in flags
        for word in rest.split():
            name, sep, value = word.partition("=")
            if name != "TMOUT":
                continue
            if sep:
                state.assign(_shell_value(value), where)
            if makes_readonly:
                state.readonly = True
            if makes_exported:
                state.exported = True
        return
    match = re.match(r"^TMOUT=(\S*)", statement)
    if match:
        state.assign(_shell_value(match.group(1)), where)
    elif re.match(r"^unset\s+(-v\s+)?(.*\s)?TMOUT(\s|$)", statement):
        if state.readonly:
            state.notes.append(f"{where['file']}:{where['line']}: unset of readonly TMOUT "
                               "fails")
        else:
            state.value = None
            state.set_in.append({**where, "value": None})


def parse_shell_timeout(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    blocked = unreadable_paths(frames)
    if blocked:
        return ProbeResult.failed(f"{blocked[0]} is not readable by the collector")
    state = _TimeoutState()
    read = []
    profile = next((f.content for f in frames if f.path == "/etc/profile" and f.state == "ok"),
                   "")
    # Debian's /etc/profile sources /etc/bash.bashrc and nothing reads /etc/bashrc; on the
    # RHEL family ~/.bashrc sources /etc/bashrc and nothing reads /etc/bash.bashrc.
    debian_style = any("bash.bashrc" in _strip_shell_comment(line)
                       for line in split_lines(profile))
    ignored = "/etc/bashrc" if debian_style else "/etc/bash.bashrc"
    for frame in frames:
        if frame.state != "ok":
            continue
        if frame.path == ignored:
            state.notes.append(f"{frame.path} is not read by login shells on this system; "
                               "its settings are ignored")
            continue
        read.append(frame.path)
        depth = 0
        for number, line in enumerate(split_lines(frame.content), start=1):
            code = _strip_shell_comment(line).strip()
            if not code:
                continue
            for statement in _STATEMENT_SPLIT.split(code):
                statement = statement.strip()
                if _BLOCK_OPEN.match(statement):
                    depth += 1
                    statement = _BLOCK_OPEN.sub("", statement, count=1).strip()
                if _BLOCK_CLOSE.match(statement):
                    depth = max(depth - 1, 0)
                    continue
                if "TMOUT" in statement:
                    _apply_statement(statement, state,
                                     {"file": frame.path, "line": number,
                                      "conditional": depth > 0})
    tmout = 0
    if state.value is not None:
        if re.fullmatch(r"\d{1,9}", state.value):
            tmout = int(state.value)
        else:
            state.notes.append(f"TMOUT={state.value!r} is not a number of seconds; "
                               "bash does not time out")
    effective = state.set_in[-1] if state.set_in else None
    return ProbeResult.ok({
        "tmout": tmout,
        "set": state.value is not None,
        "readonly": state.readonly,
        "exported": state.exported,
        "conditional": bool(effective and effective["conditional"]),
        "set_in": state.set_in,
        "files_read": read,
        "notes": state.notes,
    })




_UMASK_STATEMENT = re.compile(r"^umask\s+(?:-S\s+)?([0-7]{1,4})\s*$")
DEFAULT_UMASK = "0022"  # what init and sshd hand a session when nothing sets one


def parse_shell_umask(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    """The umask a login shell ends up with: the last ``umask`` in the startup files, else
    login.defs UMASK when pam_umask is in login's and sshd's session stacks, else 022."""
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    blocked = unreadable_paths(frames)
    if blocked:
        return ProbeResult.failed(f"{blocked[0]} is not readable by the collector")
    profile = next((f.content for f in frames if f.path == "/etc/profile" and f.state == "ok"),
                   "")
    debian_style = any("bash.bashrc" in _strip_shell_comment(line)
                       for line in split_lines(profile))
    ignored = "/etc/bashrc" if debian_style else "/etc/bash.bashrc"
    set_in: list[dict[str, Any]] = []
    notes: list[str] = []
    for frame in frames:
        if frame.state != "ok" or frame.path == ignored or not (
                frame.path.startswith("/etc/profile") or frame.path.endswith("bashrc")):
            continue
        depth = 0
        for number, line in enumerate(split_lines(frame.content), start=1):
            for statement in _STATEMENT_SPLIT.split(_strip_shell_comment(line)):
                statement = statement.strip()
                if _BLOCK_OPEN.match(statement):
                    depth += 1
                    statement = _BLOCK_OPEN.sub("", statement, count=1).strip()
                if _BLOCK_CLOSE.match(statement):
                    depth = max(depth - 1, 0)
                    continue
                match = _UMASK_STATEMENT.match(statement)
                if match:
                    set_in.append({"file": frame.path, "line": number,
                                   "value": f"{int(match.group(1), 8):04o}",
                                   "conditional": depth > 0})
                elif statement.startswith("umask "):
                    notes.append(f"{frame.path}:{number}: symbolic or computed umask "
                                 f"{statement[:60]!r} is not evaluated")
    if set_in:
        value, source, conditional = set_in[-1]["value"], set_in[-1]["file"], \
            bool(set_in[-1]["conditional"])
    else:
        conditional = False
        files = pam_files(frames)
        stacks = [resolve_service(name, files) for name in ("login", "sshd")] if files else []
        with_umask = bool(stacks) and all(
            any(line["type"] == "session" and line["module"] == "pam_umask.so"
                for line in stack["lines"]) for stack in stacks)
        defs = next((f for f in frames if f.path == LOGIN_DEFS and f.state == "ok"), None)
        defs_umask = read_login_defs(defs.content).get("UMASK") if defs else None
        if with_umask and defs_umask and re.fullmatch(r"[0-7]{1,4}", defs_umask):
            value, source = f"{int(defs_umask, 8):04o}", LOGIN_DEFS + " (pam_umask)"
        else:
            value, source = DEFAULT_UMASK, "default"
    if any(entry["value"] != value for entry in set_in):
        notes.append("the startup files set different umasks; the last one counts")
    return ProbeResult.ok({
        "umask": value,
        "grants": f"{0o777 & ~int(value, 8):04o}",
        "source": source,
        "conditional": conditional,
        "set_in": set_in,
        "notes": notes,
    })


PROBES = (
    Probe(
        name="shell_umask",
        summary="the umask login shells end up with (startup files, else login.defs UMASK "
        "through pam_umask, else 022) and the file mode it grants",
        snippet=files_only,
        files=lambda args: (*SHELL_STARTUP_FILES, LOGIN_DEFS, *PAM_FILES),
        parse=parse_shell_umask,
        cap_bytes=4 * 1024 * 1024,
    ),
    Probe(
        name="shell_timeout",
        summary="TMOUT as login shells get it from /etc/profile, /etc/bash.bashrc, "
        "/etc/profile.d/*.sh and /etc/bashrc (0 when unset)",
        snippet=files_only,
        files=lambda args: SHELL_STARTUP_FILES,
        parse=parse_shell_timeout,
        cap_bytes=1024 * 1024,
    ),
)
