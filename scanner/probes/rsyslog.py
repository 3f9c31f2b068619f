"""Which messages reach an rsyslog forwarding action (rsyslog 8.2302, its documented
configuration semantics).

The host's rsyslogd is asked for its whole configuration with includes resolved
(``rsyslogd -N1 -o /dev/stdout``: a config check that writes nothing; the dump marks
each file with ``##### BEGIN CONFIG: path``). Over that text, in order:

* an action inside ``ruleset(...) { }`` belongs to that ruleset, which only inputs
  bound to it feed: not the system log;
* an action inside ``if ... then`` gets the messages that match the condition only;
* a selector (``auth.* @host``, ``*.*;auth.none action(...)``) limits it to those
  facilities; only ``*.<priority>`` with no ``.none`` exclusion covers the system log;
* an unconditional ``stop`` (``stop``, ``*.* stop``, ``*.* ~``, or ``& stop``/``& ~``
  after a ``*.*`` selector) in the default ruleset ends processing, so no action after
  it sees anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_BEGIN = re.compile(r"^##### (BEGIN|END) +CONFIG: (.*?)(?: \(put on stack\))?$")
_STOP = re.compile(r"^(?:\*\.\*\s+)?(?:stop|~)$")
_AMP_STOP = re.compile(r"^&\s*(?:stop|~)$")
_SELECTOR = re.compile(r"^[A-Za-z0-9_*,!=<>]+\.[A-Za-z0-9_*!=<>]+(?:;[A-Za-z0-9_*,!=<>]+\."
                       r"[A-Za-z0-9_*!=<>]+)*$")


@dataclass(frozen=True)
class Scope:
    all_messages: bool
    why: str = ""


def split_dump(dump: str) -> list[tuple[str, str]]:
    """(file, text) pieces of an ``rsyslogd -o`` dump, in the order rsyslog read them."""
    pieces: list[tuple[str, str]] = []
    stack: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current and stack:
            pieces.append((stack[-1], "\n".join(current) + "\n"))
        current.clear()
    for line in dump.split("\n"):
        match = _BEGIN.match(line)
        if match:
            flush()
            if match.group(1) == "BEGIN":
                stack.append(match.group(2))
            elif stack:
                stack.pop()
        else:
            current.append(line)
    flush()
    return pieces


def selector_covers_all(selector: str) -> bool:
    """``*.*``, ``*.info`` and the like, without a later ``X.none`` dropping a facility."""
    entries = [entry for entry in selector.split(";") if entry]
    covers = False
    for entry in entries:
        facilities, _, priority = entry.rpartition(".")
        if priority.lower() in ("none", "!*"):
            return False
        if "*" in facilities.split(",") and not priority.startswith(("!", "=")) \
                and priority.lower() not in ("emerg", "alert", "crit", "err", "error",
                                             "warning", "warn", "panic"):
            covers = True
    return covers


def scope_at(text: str, position: int, selector: str) -> Scope:
    """What reaches the action starting at ``position`` of the comment-free ``text``."""
    depth: list[str] = []
    last_selector_all = False
    stopped = ""
    statement_start = 0
    in_quotes = False
    index = 0
    while index < position:
        char = text[index]
        if char == '"':
            in_quotes = not in_quotes
        elif not in_quotes and char == "{":
            head = text[statement_start:index]
            depth.append("ruleset" if re.search(r"\bruleset\s*\(", head)
                         else "if" if re.search(r"\bif\b", head) else "block")
            statement_start = index + 1
        elif not in_quotes and char == "}":
            if depth:
                depth.pop()
            statement_start = index + 1
        elif not in_quotes and char == "\n":
            line = text[statement_start:index].strip()
            if line and not depth:
                words = line.split()
                if _STOP.match(line) or (_AMP_STOP.match(line) and last_selector_all):
                    stopped = stopped or line
                if _SELECTOR.match(words[0]) and len(words) > 1:
                    last_selector_all = selector_covers_all(words[0])
            statement_start = index + 1
        index += 1
    before = text[statement_start:position].strip()
    if "ruleset" in depth:
        return Scope(False, "inside a ruleset() block: only inputs bound to it feed it")
    if "if" in depth or re.search(r"\bif\b.*\bthen\b", before, re.DOTALL) \
            or before.startswith(":"):
        return Scope(False, "behind a filter (if ... then, or a property filter): only "
                     "matching messages reach it")
    if stopped:
        return Scope(False, f"an earlier unconditional {stopped!r} ends processing first")
    if selector and not selector_covers_all(selector):
        return Scope(False, f"selector {selector!r} does not take every facility")
    return Scope(True)


def statement_selector(text: str, position: int) -> str:
    """The selector written before an ``action(`` on its line, if any."""
    start = text.rfind("\n", 0, position) + 1
    head = text[start:position].strip()
    return head if _SELECTOR.match(head) else ""


def positions(text: str, needles: Sequence[str]) -> list[int]:
    return [match.start() for needle in needles for match in re.finditer(needle, text)]
