"""The one start-up walk: what an interactive login shell ends up with, in the order it reads.

Consumers modelled: GNU bash 5.2 (``shell.c`` ``run_startup_files``: a login shell reads
/etc/profile, then the first of ~/.bash_profile, ~/.bash_login, ~/.profile; it reads
/etc/bash.bashrc or /etc/bashrc only where one of those files sources it) and dash 0.5.12
(/etc/profile, then ~/.profile). Nothing is assumed about which file comes first: the walk
starts at /etc/profile and follows its commands, so Debian's ``. /etc/bash.bashrc`` runs
before the /etc/profile.d loop, and a ``TMOUT=0`` or ``umask 022`` after that loop runs last.
The home files are those a new account gets, /etc/skel (``$HOME`` and ``~`` stand for it).

The host is never asked to run its start-up files (``bash -l -c`` would execute arbitrary
host scripts), so the walk interprets them, without executing anything:

* Every condition it cannot decide from the files alone (``[ "$(id -u)" -eq 0 ]``, ``$UID``,
  ``[ -r f ]`` of a file other accounts cannot read) takes both branches. The result is a set
  of *worlds*: each a possible end state for some user. A rule passes only when every world
  passes, so ``umask 027`` for some users and not others fails.
* It decides what the shells decide without a user: ``$PS1`` is set (interactive),
  ``$BASH``/``$BASH_VERSION`` are set in bash only, ``shopt -q login_shell`` is true in bash,
  ``[ -f/-r/-e/-d path ]`` of a collected file, a ``for`` over a glob (bash/dash ``glob``: no
  match across ``/``, no leading dot, sorted in byte order as in the C locale).
* Assignments to a readonly TMOUT fail (bash goes on with the next command; dash abandons the
  start-up file, XCU 2.8.1). ``( … )`` and all but the last part of a pipeline are subshells
  and change nothing. ``return`` ends the sourced file. Function bodies run only when called,
  and calls are not followed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from scanner.probes._common import FileFrame
from scanner.probes.shell_lex import Token
from scanner.probes.shell_parse import (
    AndOr,
    Function,
    Group,
    If,
    Loop,
    Node,
    Pipeline,
    Simple,
    parse_file,
)
from scanner.probes.shell_values import glob, symbolic_umask

SKEL = "/etc/skel"
_SUCCEEDS = frozenset({"export", "readonly", "declare", "typeset", "local", "umask"})
MAX_WORLDS = 256
MAX_DEPTH = 16
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SIMPLE_EXPANSION = re.compile(r'^"?\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(:?[-=+])?([^}]*)\}|'
                               r'([A-Za-z_][A-Za-z0-9_]*))"?$')


@dataclass(frozen=True)
class World:
    """One possible end state. ``umask`` None: set by a computed value the walk cannot know.
    ``tmout`` is the variable's string value (None: unset); ``tmout_known`` False when it
    was assigned a computed value."""

    umask: int | None
    umask_where: str
    tmout: str | None = None
    tmout_known: bool = True
    tmout_where: str = ""
    tmout_readonly: bool = False
    tmout_exported: bool = False
    leaving: int = 0  # 1: returning from the sourced file; 2: the start-up file is abandoned


@dataclass
class Walk:
    """What the walk saw, besides the worlds."""

    shell: str
    frames: Mapping[str, FileFrame]
    modes: Mapping[str, int]  # mode bits of collected start-up files
    sourced_elsewhere: Mapping[str, str]  # a sourced file outside the dump: N, U or a count
    # paths (and directories, ending in /) the dump covers whole: no frame there = no file
    covered: tuple[str, ...] = ()
    read: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # what makes the result unknowable
    loop_values: dict[str, str] = field(default_factory=dict)


def _expand(word: Token, walk: Walk) -> str | None:
    """A word's value where the walk knows it, else None."""
    if word.literal is not None:
        value = word.literal
        if value.startswith("~/") and word.text.startswith("~/"):
            value = SKEL + value[1:]
        return value
    text = word.text
    if not any(char in text for char in "'\\`"):
        bare = text.replace('"', "")
        for home in ("$HOME", "${HOME}"):
            if bare.startswith(home) and "$" not in bare[len(home):]:
                return SKEL + bare[len(home):]
    match = _SIMPLE_EXPANSION.match(text)
    if not match:
        return None
    name = match.group(1) or match.group(4)
    current = _variable(name, walk)
    operator, alternative = match.group(2), match.group(3) or ""
    if operator is None:
        return current if not match.group(3) else None
    if "$" in alternative or "`" in alternative:
        return None
    if operator in ("-", "="):
        return alternative if current is None else current
    if operator in (":-", ":="):
        return current if current else alternative
    if operator == "+":
        return alternative if current is not None else ""
    if operator == ":+":
        return alternative if current else ""
    return None


def _variable(name: str, walk: Walk) -> str | None:
    if name in walk.loop_values:
        return walk.loop_values[name]
    if name == "PS1":
        return "\\s-\\v\\$ " if walk.shell == "bash" else "$ "
    if name in ("BASH", "BASH_VERSION"):
        return {"BASH": "/bin/bash", "BASH_VERSION": "5.2"}[name] if walk.shell == "bash" \
            else None
    if name == "HOME":
        return SKEL
    raise _Unknown


class _Unknown(Exception):
    """A value the walk cannot know."""


def _value(word: Token, walk: Walk) -> str | None:
    try:
        return _expand(word, walk)
    except _Unknown:
        return None


def _file_test(operator: str, path: str, walk: Walk) -> bool | None:
    frame = walk.frames.get(path)
    if operator == "-d":
        if any(p.startswith(path.rstrip("/") + "/") for p in walk.frames):
            return True
        return None
    if frame is None:
        if walk.sourced_elsewhere.get(path) == "N" or _covered(path, walk):
            return False
        return None
    if frame.state == "missing":
        return False
    if operator in ("-r",) and frame.state == "ok":
        return True if walk.modes.get(path, 0o644) & 0o004 else None
    return frame.state in ("ok", "unreadable")


def _covered(path: str, walk: Walk) -> bool:
    return any(path == c or (c.endswith("/") and path.startswith(c) and "/" not in
               path[len(c):]) for c in walk.covered)


def _test(words: list[str | None], walk: Walk) -> bool | None:
    """``test``/``[`` on words already expanded (None: unknown)."""
    if words and words[0] == "!":
        inner = _test(words[1:], walk)
        return None if inner is None else not inner
    if len(words) == 1:
        return None if words[0] is None else words[0] != ""
    if len(words) == 2:
        operator, operand = words
        if operator in ("-n", "-z") and operand is not None:
            return (operand != "") == (operator == "-n")
        if operator in ("-f", "-r", "-e", "-d", "-s") and operand is not None:
            return _file_test("-f" if operator == "-s" else operator, operand, walk)
        return None
    if len(words) == 3 and words[1] in ("=", "==", "!="):
        if words[0] is None or words[2] is None:
            return None
        return (words[0] == words[2]) == (words[1] != "!=")
    return None


def _condition_of(command: Simple, walk: Walk) -> bool | None:
    words = command.words
    if not words:
        return None
    name = words[0].literal
    if name in ("true", ":"):
        return True
    if name == "false":
        return False
    if name in ("[", "[[", "test"):
        args = words[1:]
        if name != "test":
            if not args or args[-1].literal != ("]" if name == "[" else "]]"):
                return None
            args = args[:-1]
        return _test([_value(word, walk) for word in args], walk)
    if name == "shopt" and [w.literal for w in words[1:]] == ["-q", "login_shell"]:
        return walk.shell == "bash"
    return None


class Walker:
    """Runs the start-up walk over a set of worlds."""

    def __init__(self, walk: Walk) -> None:
        self.walk = walk

    # -- lists

    def run_list(self, commands: list[AndOr], worlds: set[World], where: str,
                 depth: int) -> set[World]:
        for command in commands:
            active = {w for w in worlds if not w.leaving}
            if not active:
                break
            worlds = (worlds - active) | self.and_or(command, active, where, depth)
            if len(worlds) > MAX_WORLDS:
                self.walk.blocked.append(f"{where}: more than {MAX_WORLDS} possible paths")
                return worlds
        return worlds

    def and_or(self, command: AndOr, worlds: set[World], where: str, depth: int) -> set[World]:
        outcome = self.condition_pipeline(command.first)
        result = self.pipeline(command.first, worlds, where, depth)
        for operator, pipeline in command.rest:
            # outcome None: the next part may or may not run
            runs = outcome is None or outcome == (operator == "&&")
            if not runs:
                continue
            after = self.pipeline(pipeline, {w for w in result if not w.leaving}, where,
                                  depth)
            kept = result if outcome is None else {w for w in result if w.leaving}
            result = kept | after
            outcome = self.condition_pipeline(pipeline) if outcome is not None else None
        return result

    def condition_pipeline(self, pipeline: Pipeline) -> bool | None:
        if len(pipeline.commands) != 1 or not isinstance(pipeline.commands[0], Simple):
            return None
        command = pipeline.commands[0]
        words = command.words
        if not words or words[0].literal in _SUCCEEDS or (
                "=" in words[0].text and _NAME.match(words[0].text.split("=", 1)[0])):
            outcome: bool | None = True  # assignments and declarations succeed
        else:
            outcome = _condition_of(command, self.walk)
        if outcome is not None and pipeline.negated:
            return not outcome
        return outcome

    def condition_list(self, commands: list[AndOr]) -> bool | None:
        if len(commands) != 1:
            return None
        command = commands[0]
        outcome = self.condition_pipeline(command.first)
        for operator, pipeline in command.rest:
            following = self.condition_pipeline(pipeline)
            if operator == "&&":
                if outcome is False or following is False:
                    outcome = False
                elif outcome is None or following is None:
                    outcome = None
            else:
                if outcome is True or following is True:
                    outcome = True
                elif outcome is None or following is None:
                    outcome = None
                else:
                    outcome = False
        return outcome

    def pipeline(self, pipeline: Pipeline, worlds: set[World], where: str,
                 depth: int) -> set[World]:
        if len(pipeline.commands) > 1:
            return worlds  # every part runs in a subshell (bash without lastpipe, dash)
        return self.node(pipeline.commands[0], worlds, where, depth)

    # -- commands

    def node(self, node: Node, worlds: set[World], where: str, depth: int) -> set[World]:
        if isinstance(node, Simple):
            return self.simple(node, worlds, where, depth)
        if isinstance(node, Group):
            return worlds if node.subshell else self.run_list(node.body, worlds, where, depth)
        if isinstance(node, Function):
            return worlds
        if isinstance(node, If):
            return self.if_node(node, worlds, where, depth)
        if isinstance(node, Loop):
            return self.loop(node, worlds, where, depth)
        result: set[World] = set(worlds)  # a case: any arm, or none
        for _, body in node.arms:
            result |= self.run_list(body, worlds, where, depth)
        return result

    def if_node(self, node: If, worlds: set[World], where: str, depth: int) -> set[World]:
        result: set[World] = set()
        remaining = worlds
        for condition, body in node.branches:
            outcome = self.condition_list(condition)
            if outcome is not False:
                result |= self.run_list(body, remaining, where, depth)
            if outcome is True:
                return result
        if node.otherwise is not None:
            return result | self.run_list(node.otherwise, remaining, where, depth)
        return result | remaining

    def loop(self, node: Loop, worlds: set[World], where: str, depth: int) -> set[World]:
        if node.kind == "for" and node.items is not None:
            values = self.for_items(node.items, where)
            if values is not None:
                for value in values:
                    self.walk.loop_values[node.variable] = value
                    worlds = self.run_list(node.body, worlds, where, depth)
                self.walk.loop_values.pop(node.variable, None)
                return worlds
        # an unknown number of rounds: zero or one are the ends start-up files reach
        return worlds | self.run_list(node.body, worlds, where, depth)

    def for_items(self, items: list[Token], where: str) -> list[str] | None:
        values: list[str] = []
        for item in items:
            if item.literal is None:
                return None
            if item.glob:
                values += glob(item.literal, self.walk.frames)
            else:
                values.append(item.literal)
        return values

    def simple(self, command: Simple, worlds: set[World], where: str,
               depth: int) -> set[World]:
        words = command.words
        at = f"{where}:{command.line}"
        assignments = []
        while words and "=" in words[0].text and _NAME.match(words[0].text.split("=", 1)[0]):
            assignments.append(words[0])
            words = words[1:]
        if not words:
            for word in assignments:
                worlds = self.assign_word(word, worlds, at)
            return worlds
        name = words[0].literal
        args = words[1:]
        if name in (".", "source") and not (name == "source" and self.walk.shell == "sh"):
            return self.source(args, worlds, at, depth)
        if name == "umask":
            return self.umask(args, worlds, at)
        if name in ("export", "readonly", "declare", "typeset", "local") and not (
                name in ("declare", "typeset") and self.walk.shell == "sh"):
            return self.declaration(name, args, worlds, at)
        if name == "unset":
            return self.unset(args, worlds, at)
        if name == "return" or name == "exit":
            return {replace(w, leaving=1 if name == "return" else 2) for w in worlds}
        if name == "eval" and any("TMOUT" in w.text or "umask" in w.text for w in args):
            self.walk.blocked.append(f"{at}: eval of TMOUT or umask is not evaluated")
        return worlds

    # -- the two settings

    def assign_word(self, word: Token, worlds: set[World], at: str) -> set[World]:
        name, _, raw = word.text.partition("=")
        if name != "TMOUT":
            return worlds
        value_token = Token("word", raw, word.line,
                            None if word.literal is None else word.literal.partition("=")[2])
        value = _value(value_token, self.walk)
        return {self.set_tmout(w, value, at) for w in worlds}

    def set_tmout(self, world: World, value: str | None, at: str) -> World:
        if world.tmout_readonly:
            self.walk.notes.append(f"{at}: TMOUT is readonly here; the shell refuses this "
                                   "assignment")
            return replace(world, leaving=2) if self.walk.shell == "sh" else world
        return replace(world, tmout=value if value is not None else "", tmout_known=value
                       is not None, tmout_where=at)

    def declaration(self, name: str, args: list[Token], worlds: set[World],
                    at: str) -> set[World]:
        readonly = name == "readonly"
        exported = name == "export"
        operands = []
        for arg in args:
            flags = arg.literal or ""
            if flags.startswith("-") and len(flags) > 1 and "=" not in flags:
                readonly = readonly or "r" in flags
                exported = exported or "x" in flags
            else:
                operands.append(arg)
        for operand in operands:
            text = operand.literal if operand.literal is not None else operand.text
            target, has_value, _ = text.partition("=")
            if target != "TMOUT":
                continue
            if has_value:
                worlds = self.assign_word(operand, worlds, at)
            worlds = {w if w.leaving else replace(
                w, tmout_readonly=w.tmout_readonly or readonly,
                tmout_exported=w.tmout_exported or exported) for w in worlds}
        return worlds

    def unset(self, args: list[Token], worlds: set[World], at: str) -> set[World]:
        if not any(arg.literal == "TMOUT" for arg in args):
            return worlds
        result = set()
        for world in worlds:
            if world.tmout_readonly:
                self.walk.notes.append(f"{at}: unset of the readonly TMOUT fails")
                result.add(world)
            else:
                result.add(replace(world, tmout=None, tmout_known=True, tmout_where=at))
        return result

    def umask(self, args: list[Token], worlds: set[World], at: str) -> set[World]:
        words = [a for a in args if a.literal not in ("-S", "-p")]
        if not words:
            return worlds  # prints the mask
        value = _value(words[0], self.walk)
        if value is None:
            self.walk.notes.append(f"{at}: umask {words[0].text!r} is computed; not known")
            return {replace(w, umask=None, umask_where=at) for w in worlds}
        if value[:1].isdigit():
            # bash read_octal / dash: every character an octal digit, at most 0777
            if not re.fullmatch(r"[0-7]+", value) or int(value, 8) > 0o777:
                self.walk.notes.append(f"{at}: umask {value!r} is refused by the shell")
                return worlds
            return {replace(w, umask=int(value, 8), umask_where=at) for w in worlds}
        mask = symbolic_umask(value)
        if mask is None:
            self.walk.notes.append(f"{at}: symbolic umask {value!r} is not evaluated")
            return {replace(w, umask=None, umask_where=at) for w in worlds}
        return {replace(w, umask=mask(w.umask), umask_where=at) for w in worlds}

    # -- sourcing

    def source(self, args: list[Token], worlds: set[World], at: str,
               depth: int) -> set[World]:
        if not args:
            return worlds
        path = _value(args[0], self.walk)
        if path is None or not path.startswith("/"):
            self.walk.notes.append(f"{at}: sources {args[0].text!r}, which the walk does "
                                   "not follow")
            return worlds
        frame = self.walk.frames.get(path)
        if frame is None and _covered(path, self.walk):
            return worlds  # no such file: the shell says so and goes on
        if frame is None and path.startswith(SKEL + "/"):
            # a home file /etc/skel does not give: each user's own, not the system default
            self.walk.notes.append(f"{at}: sources ~{path[len(SKEL):]}, which /etc/skel "
                                   "does not provide")
            return worlds
        if frame is None or frame.state == "missing":
            elsewhere = self.walk.sourced_elsewhere.get(path)
            if frame is None and elsewhere not in ("N", "0"):
                self.walk.blocked.append(
                    f"{at}: sources {path}, which "
                    + ("the collector cannot read" if elsewhere == "U" else
                       "mentions TMOUT or umask" if elsewhere else "the scanner did not read"))
            return worlds
        if frame.state != "ok":
            self.walk.blocked.append(f"{at}: sources {path}, which the collector cannot read")
            return worlds
        if depth >= MAX_DEPTH:
            self.walk.blocked.append(f"{at}: sources files more than {MAX_DEPTH} deep")
            return worlds
        readers = self.run_file(path, worlds, depth + 1)
        if walk_mode_others_cannot_read(self.walk.modes.get(path)):
            # root reads it; accounts the mode keeps out get an error and go on
            return readers | worlds
        return readers

    def run_file(self, path: str, worlds: set[World], depth: int) -> set[World]:
        frame = self.walk.frames[path]
        self.walk.read.append(path)
        commands, error = parse_file(frame.content)
        if error is not None:
            self.walk.notes.append(f"{path}: syntax error at line {error.line}; the shell "
                                   "stops reading the file there")
        saved = dict(self.walk.loop_values)
        result = self.run_list(commands, worlds, path, depth)
        self.walk.loop_values = saved
        return {replace(w, leaving=0) if w.leaving == 1 else w for w in result}


def walk_mode_others_cannot_read(mode: int | None) -> bool:
    return mode is not None and not mode & 0o004
