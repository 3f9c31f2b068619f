"""sudo's policy as sudo 1.9.13's sudoers plugin reads it, and what sudo itself says of it.

Facts followed (sudoers(5), plugins/sudoers ``toke.l``, ``gram.y``, ``defaults.c``; checked
against the real sudo by tests/oracle/test_sudo.py):

* Files are read depth first: an ``@include``/``#include`` or ``@includedir``/``#includedir``
  is read where it stands; an includedir's files in byte order, skipping names that end in
  ``~`` or contain a ``.``. A ``\\`` at the end of a line continues it.
* ``#`` starts a comment, except ``#include…`` and ``#`` followed by digits (a uid).
* Since 1.9.3 a line sudo cannot parse is dropped and the rest still applies: the probe asks
  ``visudo -c`` (read-only) which lines those are, and drops the same ones.
* ``Defaults``, ``Defaults@host``, ``Defaults:user`` and ``Defaults>runas`` apply in file
  order, so a later global entry overrides an earlier scoped one; ``Defaults!cmnd`` entries
  apply after all of those. ``use_pty`` is on by default from 1.9.14 on (``sudo -V`` gives
  the version).
* In a user specification, the last matching entry wins; tags (``NOPASSWD:``) carry along
  the commands of one host specification until another tag replaces them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.lines import C_SPACE, fields, split_lines, strip
from scanner.probes import ProbeResult, RawOutput
from scanner.probes._common import FileFrame, cut_guard, quote, split_files
from scanner.probes._sections import section

SUDOERS = "/etc/sudoers"
SUDOERS_DIR = "/etc/sudoers.d/"
SECTION = "sudo"
# sudo -V prints the version to anyone and, to root, the defaults in effect for root (its
# stderr, which quotes sudoers lines it cannot parse, stays on the host);
# visudo -c (check only, read-only) names the lines sudo drops as syntax errors.
# A sudoers file over the cap (sudo -V as root reads them too) asks neither: the probe
# is error, and sudo is not made to read gigabytes.
SUDO_SNIPPET = section(SECTION, (
    cut_guard((quote(SUDOERS), "/etc/sudoers.d/*")) + "; "
    "if [ -n \"$cutl\" ]; then echo cii:cut; "
    "elif command -v sudo >/dev/null 2>&1; then sudo -V 2>/dev/null </dev/null; "
    "else echo 'cii:no-sudo'; fi; "
    "if [ -z \"$cutl\" ] && [ \"$(id -u)\" = 0 ] && command -v visudo >/dev/null 2>&1; then "
    # visudo echoes each line it refuses, whatever it holds (a key's base64 line may start
    # with '/'); only its "FILE:LINE:" and "FILE: " verdicts, its own complaints and the
    # exit status leave the host
    "echo 'cii:visudo'; { visudo -c </dev/null; echo \"cii:visudo-rc $?\"; } 2>&1 "
    "| grep -E '^(/[^ :]*:[0-9]+:|/[^ :]*: |>>> |visudo: |cii:)'; fi; true"))
_INCLUDE = re.compile(r"^[@#](include|includedir)[ \t]+(\S+)[ \t]*$")
_DEFAULTS = re.compile(r"^Defaults(?:([@:!>])(\S+))?[ \t]+(.*)$")
_SCOPE = {None: "generic", "@": "host", ":": "user", ">": "runas", "!": "command"}
_ALIAS = re.compile(r"^(User|Runas|Host|Cmnd|Cmd)_Alias\b")
_TAG = re.compile(r"^(NOPASSWD|PASSWD|NOEXEC|EXEC|SETENV|NOSETENV|LOG_INPUT|NOLOG_INPUT|"
                  r"LOG_OUTPUT|NOLOG_OUTPUT|MAIL|NOMAIL|FOLLOW|NOFOLLOW|INTERCEPT|"
                  r"NOINTERCEPT)[ \t]*:[ \t]*")
_ERROR_AT = re.compile(r"^(/\S+?):(\d+):(?:\d+:)? ?(syntax error|.*)$")
_VERSION = re.compile(r"^Sudo version (\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Line:
    where: str  # file:line of the line's first physical line
    text: str
    physical: tuple[int, ...]


def logical_lines(path: str, text: str) -> list[Line]:
    """Lines joined at a final ``\\``, comments cut (not ``#include``, not ``#uid``)."""
    result: list[Line] = []
    pending, numbers = "", []
    for number, physical in enumerate(split_lines(text), start=1):
        numbers.append(number)
        line = physical
        if not _INCLUDE.match(strip(line)):
            line = re.sub(r"#(?![0-9]).*$", "", line)
        if line.rstrip(C_SPACE).endswith("\\"):
            pending += line.rstrip(C_SPACE)[:-1] + " "
            continue
        joined = strip(pending + line)
        pending = ""
        if joined:
            result.append(Line(f"{path}:{numbers[0]}", joined, tuple(numbers)))
        numbers = []
    if strip(pending):
        result.append(Line(f"{path}:{numbers[0]}", strip(pending), tuple(numbers)))
    return result


def defaults_settings(body: str) -> list[tuple[str, str | bool]]:
    """``use_pty, logfile="/var/log/sudo.log", !lecture`` as [(name, value)]."""
    settings: list[tuple[str, str | bool]] = []
    for part in re.findall(r'(?:[^,"\\]|\\.|"(?:[^"\\]|\\.)*")+', body):
        part = strip(part)
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = strip(name).rstrip("+-")
        if sep:
            value = strip(value)
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            settings.append((name, re.sub(r"\\(.)", r"\1", value)))
        elif name.startswith("!"):
            settings.append((strip(name[1:]), False))
        else:
            settings.append((name, True))
    return settings


@dataclass(frozen=True)
class Setting:
    scope: str  # generic, host, user, runas, command
    target: str
    name: str
    value: str | bool
    where: str
    order: int


def effective_problems(settings: list[Setting], name: str, good: Any,
                       default: str | bool) -> list[str]:
    """Where ``name`` ends up not ``good(value)`` for some user, host, runas or command.

    The generic value is the last generic entry (else ``default``). A scoped entry is
    dead once a later entry of the same phase is generic, or has the same scope and
    target; command entries form their own, later phase."""
    mine = [s for s in settings if s.name == name]
    generic = [s for s in mine if s.scope == "generic"]
    problems = []
    final = generic[-1].value if generic else default
    if not good(final):
        problems.append(generic[-1].where if generic else "default")
    for entry in mine:
        if entry.scope == "generic" or good(entry.value):
            continue
        later = [s for s in mine if s.order > entry.order and (
            (s.scope == entry.scope and s.target == entry.target)
            or (s.scope == "generic" and entry.scope != "command"))]
        if not later or not good(later[-1].value):
            problems.append(entry.where)
    return problems


def _privileges(text: str) -> tuple[list[str], list[tuple[str, list[tuple[str, str, bool]]]]]:
    """``users hosts = (runas) TAG: cmd, cmd : hosts = …`` as (users, [(hosts, [(runas,
    command, nopasswd)])]). Tags and runas carry along one host specification."""
    head, _, rest = text.partition("=")
    words = fields(head, " \t")
    if len(words) < 2:
        return [], []
    users = [u.strip() for u in " ".join(words[:-1]).split(",")]
    hosts = words[-1]
    privileges = []
    for index, spec in enumerate(re.split(r"[ \t]:[ \t]*(?=[^=]*=)", rest)):
        if index > 0:
            hosts, _, spec = spec.partition("=")
            hosts = strip(hosts, " \t")
        runas, nopasswd, commands = "", None, []
        for item in re.findall(r"(?:\([^)]*\)|[^,(])+", spec):
            item = strip(item, " \t")
            runas_match = re.match(r"^\(([^)]*)\)[ \t]*", item)
            if runas_match:
                runas = re.sub(r"[ \t]+", "", runas_match.group(1))
                item = item[runas_match.end():]
            while (tag := _TAG.match(item)) is not None:
                if tag.group(1) in ("NOPASSWD", "PASSWD"):
                    nopasswd = tag.group(1) == "NOPASSWD"
                item = item[tag.end():]
            if item:
                commands.append((runas, strip(item, " \t"), bool(nopasswd)))
        privileges.append((hosts, commands))
    return users, privileges


def _covers(later_users: list[str], users: list[str]) -> bool:
    return "ALL" in later_users or set(users) <= set(later_users)


def _runas_covers(later: str, earlier: str) -> bool:
    """``(ALL:ALL)`` covers any runas, ``(ALL)`` any user with the default group."""
    if later == earlier or later == "ALL:ALL":
        return True
    return later == "ALL" and ":" not in earlier


@dataclass
class SudoView:
    version: tuple[int, int, int] | None
    root_use_pty: bool | None  # as sudo -V shows it to root; None: not asked
    root_logfile: str | None
    dropped: set[tuple[str, int]]  # (file, line) visudo -c reports as syntax errors
    visudo_failed: str | None  # visudo's complaint other than syntax errors
    installed: bool  # the section shows a sudo command on the PATH


def sudo_view(frames: list[FileFrame]) -> SudoView:
    section_frame = next((f for f in frames if f.path == "cii:" + SECTION), None)
    text = section_frame.content if section_frame else ""
    version = None
    asked_root = False
    use_pty: bool | None = False
    logfile: str | None = ""
    dropped: set[tuple[str, int]] = set()
    complaint = None
    in_visudo = False
    for line in split_lines(text):
        if (match := _VERSION.match(line)) is not None:
            version = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
        elif line.startswith("Sudoers policy plugin version"):
            pass
        elif line == "cii:visudo":
            in_visudo = True
        elif in_visudo and (error := _ERROR_AT.match(line)) is not None:
            if error.group(3) == "syntax error":
                dropped.add((error.group(1), int(error.group(2))))
        elif in_visudo and line.startswith("cii:visudo-rc"):
            in_visudo = False
        elif in_visudo and re.search(r"bad permissions|bad owner|unable to", line):
            complaint = complaint or line
        elif line == "Always run commands in a pseudo-tty" or line.startswith(
                "Always run commands in a pseudo"):
            use_pty = True
        elif line.startswith("Path to log file: "):
            logfile = line[len("Path to log file: "):]
        if line.startswith("Authentication methods") or line.startswith("Sudoers path"):
            asked_root = True
    if not asked_root:
        use_pty, logfile = None, None
    installed = section_frame is not None and "cii:no-sudo" not in split_lines(text)
    return SudoView(version, use_pty, logfile, dropped, complaint, installed)


def parse_sudoers(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    if raw.exit_status != 0:
        return ProbeResult.failed(f"file listing failed (exit status {raw.exit_status})")
    frames_list = split_files(raw)
    frames = {f.path: f for f in frames_list}
    view = sudo_view(frames_list)
    main = frames.get(SUDOERS)
    if main is None:
        return ProbeResult.failed("the host printed no frame for /etc/sudoers")
    if main.state == "missing":
        if view.installed:
            return ProbeResult.failed("sudo is installed but /etc/sudoers is missing: sudo "
                                      "refuses to run until it is restored")
        return ProbeResult.absent("no /etc/sudoers and no sudo command (sudo is not "
                                  "installed)")
    if main.state != "ok":
        return ProbeResult.failed("/etc/sudoers is not readable by the collector "
                                  "(it is 0440 root: scan as root or with --sudo)")
    if view.visudo_failed:
        return ProbeResult.failed(f"visudo -c: {view.visudo_failed}")
    lines: list[Line] = []
    files: list[str] = []
    problem = _read(main, frames, lines, files, set())
    if problem:
        return ProbeResult.failed(problem)
    return ProbeResult.ok(_judge(lines, files, view))


def _read(frame: FileFrame, frames: Mapping[str, FileFrame], lines: list[Line],
          files: list[str], stack: set[str]) -> str | None:
    """Append ``frame``'s lines to ``lines`` with its includes read in place."""
    if frame.state != "ok":
        return f"{frame.path} is not readable by the collector"
    if frame.path in stack or len(stack) > 128:
        return f"{frame.path} includes itself"
    files.append(frame.path)
    for line in logical_lines(frame.path, frame.content):
        include = _INCLUDE.match(line.text)
        if not include:
            lines.append(line)
            continue
        target = include.group(2).replace("%%", "%")
        if not target.startswith("/"):
            target = frame.path.rsplit("/", 1)[0] + "/" + target
        if include.group(1) == "includedir":
            if target.rstrip("/") + "/" != SUDOERS_DIR:
                return f"{line.where}: includes {target}, which this probe does not read"
            names = sorted((p for p, f in frames.items() if p.startswith(SUDOERS_DIR)
                            and "/" not in p[len(SUDOERS_DIR):] and "." not in
                            p[len(SUDOERS_DIR):] and not p.endswith("~")
                            and f.state != "missing"),
                           key=lambda p: p.encode("utf-8", "surrogateescape"))
            for name in names:
                problem = _read(frames[name], frames, lines, files, stack | {frame.path})
                if problem:
                    return problem
        elif target in frames and frames[target].state != "missing":
            problem = _read(frames[target], frames, lines, files, stack | {frame.path})
            if problem:
                return problem
        elif target.startswith(SUDOERS_DIR) and "/" not in target[len(SUDOERS_DIR):]:
            continue  # the collector lists that directory whole: no such file; sudo goes on
        else:
            return f"{line.where}: includes {target}, which this probe does not read"
    return None


def _judge(lines: list[Line], files: list[str], view: SudoView) -> dict[str, Any]:
    settings: list[Setting] = []
    specs: list[tuple[Line, list[str], list[tuple[str, list[tuple[str, str, bool]]]]]] = []
    notes: list[str] = []
    for order, line in enumerate(lines):
        path = line.where.rsplit(":", 1)[0]
        if any((path, number) in view.dropped for number in line.physical):
            notes.append(f"{line.where}: sudo drops this line (syntax error)")
            continue
        defaults = _DEFAULTS.match(line.text)
        if defaults:
            scope = _SCOPE[defaults.group(1)]
            for name, value in defaults_settings(defaults.group(3)):
                settings.append(Setting(scope, defaults.group(2) or "", name, value,
                                        line.where, order))
            continue
        if _ALIAS.match(line.text):
            continue
        users, privileges = _privileges(line.text)
        if users:
            specs.append((line, users, privileges))
    use_pty_default = bool(view.version and view.version >= (1, 9, 14))
    pty_problems = effective_problems(settings, "use_pty", lambda v: v is True, use_pty_default)
    if view.root_use_pty is False and not pty_problems:
        pty_problems = ["sudo -V (as root)"]
    log_problems = effective_problems(
        settings, "logfile", lambda v: isinstance(v, str) and v.startswith("/"), False)
    if view.root_logfile is not None and not view.root_logfile.startswith("/") \
            and not log_problems:
        log_problems = ["sudo -V (as root)"]
    generic_logs = [s.value for s in settings if s.name == "logfile" and s.scope == "generic"]
    no_authenticate = effective_problems(settings, "authenticate", lambda v: v is True, True)
    nopasswd = []
    for index, (line, users, privileges) in enumerate(specs):
        for _hosts, commands in privileges:
            for runas, command, tag in commands:
                if not tag or _overridden(specs[index + 1:], users, runas):
                    continue
                nopasswd.append({"where": line.where, "rule": line.text[:200],
                                 "command": command[:120]})
    return {
        "use_pty": not pty_problems,
        "use_pty_off_at": pty_problems,
        "logfile": (view.root_logfile if view.root_logfile is not None else
                    (generic_logs[-1] if generic_logs and isinstance(generic_logs[-1], str)
                     else "")) if not log_problems else "",
        "logfile_off_at": log_problems,
        "no_authenticate": no_authenticate,
        "authenticate": not no_authenticate,
        "nopasswd": nopasswd,
        "scoped_defaults": [{"scope": s.scope, "target": s.target, "name": s.name,
                             "value": s.value, "where": s.where}
                            for s in settings if s.scope != "generic"],
        "version": ".".join(map(str, view.version)) if view.version else None,
        "files": files,
        "notes": notes,
    }


def _overridden(later: list[tuple[Line, list[str], list[tuple[str, list[tuple[str, str,
                bool]]]]]], users: list[str], runas: str) -> bool:
    """A NOPASSWD entry is dead when a later entry for the same users (or ALL), on ALL
    hosts, as a covering runas, grants ALL commands with a password: last match wins."""
    for _, later_users, privileges in later:
        if not _covers(later_users, users):
            continue
        for hosts, commands in privileges:
            if hosts != "ALL":
                continue
            if any(command == "ALL" and not tag and _runas_covers(later_runas or "root", runas
                                                                  or "root")
                   for later_runas, command, tag in commands):
                return True
    return False
