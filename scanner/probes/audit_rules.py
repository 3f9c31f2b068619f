"""Audit rules as auditctl reads them and the kernel applies them.

Three consumers stand between a rules file and an audited event, and this module
follows each one's own source:

* **augenrules** (audit-userspace 3.0.9, ``init.d/augenrules``) builds
  /etc/audit/audit.rules from /etc/audit/rules.d/*.rules: the files in ``ls -1v``
  order, concatenated with ``cat`` (a file without a final newline runs into the next
  one), lines empty or matching ``^\\s*#`` dropped, and the *last* ``-e``, ``-D`` (bare),
  ``-b`` and ``-f`` line each moved: ``-D`` first, then ``-b``, ``-f``, the rules, and
  ``-e`` last. The regexes run in the host's ``awk``: in mawk (Debian's default) ``\\s``
  is a literal ``s``, so an indented ``# comment`` or ``  -e 2`` stays where it is;
  the probe asks the host's awk which it is.
* **auditctl -R** (``src/auditctl.c`` ``fileopt``/``setopt``, 3.0.9) reads that file
  with ``fgets``, cuts the line at ``\\n``, splits it at spaces only (``audit_strsplit``:
  a tab or a CR stays inside a word), skips a first word starting with ``#``, and
  parses the words with ``getopt_long``. It **stops at the first line that fails**
  (without ``-c``/``-i``), so nothing after a bad line is loaded.
* **the kernel** (``kernel/auditsc.c`` ``audit_filter_syscall``/``audit_filter_inodes``)
  walks a filter list in order and the first rule that matches decides: a ``never``
  rule before a watch suppresses it. Once ``-e 2`` is applied it refuses every later
  rule change, and a rule identical to one already loaded is refused (``EEXIST``),
  which stops ``auditctl -R`` too.

A rule whose extra fields (``-F auid>=1000``, ``-F success=1``...) cannot be judged
without the event is taken conservatively: an ``always`` rule with such a field covers
nothing for sure, and a ``never`` rule with one suppresses what it could match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scanner.lines import split_lines

# getopt_long's option string of auditctl 3.0.9: letters followed by ':' take a value.
_OPTIONS = "hicslDvtC:e:f:r:b:a:A:d:S:F:m:R:w:W:k:p:q:"
_WITH_VALUE = {c for i, c in enumerate(_OPTIONS) if i + 1 < len(_OPTIONS)
               and _OPTIONS[i + 1] == ":" and c != ":"}
_LONG_OPTIONS = {"--loginuid-immutable": False, "--backlog_wait_time": True,
                 "--reset-lost": False, "--reset_backlog_wait_time_actual": False,
                 "--signal": True}
_LISTS = {"task", "exit", "user", "exclude", "filesystem", "io_uring"}
_ACTIONS = {"never", "always"}
_OPERATORS = re.compile(r"^([A-Za-z0-9_]+)(!=|>=|<=|&=|=|>|<|&)(.*)$")
# Fields that select no events: they only label or describe the rule.
_NEUTRAL_FIELDS = {"key"}
_ARCH_64 = {"b64", "x86_64", "aarch64", "ppc64", "ppc64le", "s390x", "riscv64"}
_ARCH_32 = {"b32", "i386", "i486", "i586", "i686", "arm", "armeb", "ppc", "s390"}
ARCHES = ("b64", "b32")
#: System call names by architecture, as libaudit knows them (``ausyscall b64 --dump``);
#: None: not known, any name is taken.
SyscallTable = Mapping[str, frozenset[str]] | None


def strtoul(text: str) -> int | None:
    """C ``strtoul(text, NULL, 0)``: ``0x`` hex, leading-``0`` octal, else decimal, up to
    the first character that does not fit; None when no digit starts it."""
    hexa = re.match(r"0[xX]([0-9a-fA-F]+)", text)
    if hexa:
        return int(hexa.group(1), 16)
    digits = re.match(r"0[0-7]*|[1-9][0-9]*", text)
    if digits is None:
        return None
    found = digits.group(0)
    return int(found, 8) if found.startswith("0") else int(found)


@dataclass(frozen=True)
class AuditRule:
    """One line of rules as auditctl understood it."""

    text: str
    option: str = ""  # "rule" for -a/-A/-w, else the control option ("-e", "-b", "-D"...)
    value: str = ""  # the control option's value
    filter_list: str = ""
    action: str = ""
    path: str | None = None  # -w PATH, -F path=, -F dir=
    subtree: bool = False  # -F dir= (or -w on a directory): everything below it
    perms: frozenset[str] | None = None  # None: every kind of access
    arches: frozenset[str] | None = None  # None: no -F arch=, any architecture
    syscalls: frozenset[str] | None = None  # None: every system call
    conditional: bool = False  # fields whose match depends on the event
    problem: str | None = None  # why auditctl refuses the line

    @property
    def is_rule(self) -> bool:
        return self.option == "rule" and self.problem is None


def _words(line: str) -> list[str]:
    """The line as ``audit_strsplit`` cuts it: at spaces only."""
    return [word for word in line.split(" ") if word]


def _getopt(words: Sequence[str]) -> tuple[list[tuple[str, str]], str | None]:
    """(option, value) pairs as GNU getopt_long returns them, or the first problem."""
    pairs: list[tuple[str, str]] = []
    stray = False
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word.startswith("--") and len(word) > 2:
            name, equals, attached = word.partition("=")
            if name not in _LONG_OPTIONS:
                return pairs, f"unrecognized option {word!r}"
            value = attached if equals else ""
            if _LONG_OPTIONS[name] and not equals:
                if index >= len(words):
                    return pairs, f"option {name} requires an argument"
                value, index = words[index], index + 1
            pairs.append((name, value))
            continue
        if not word.startswith("-") or word == "-":
            stray = True  # getopt moves it to the end; auditctl refuses it afterwards
            continue
        position = 1
        while position < len(word):
            letter = word[position]
            position += 1
            if letter not in _OPTIONS or letter == ":":
                return pairs, f"invalid option -- {letter!r}"
            if letter in _WITH_VALUE:
                value = word[position:]
                if not value:
                    if index >= len(words):
                        return pairs, f"option requires an argument -- {letter!r}"
                    value, index = words[index], index + 1
                pairs.append(("-" + letter, value))
                break
            pairs.append(("-" + letter, ""))
    if stray:
        return pairs, "parameter passed without an option given"
    return pairs, None


def _arch(value: str) -> str | None:
    if value in _ARCH_64:
        return "b64"
    if value in _ARCH_32:
        return "b32"
    return None


def parse_rule(line: str, table: SyscallTable = None) -> AuditRule | None:
    """One line as auditctl's ``fileopt`` and ``setopt`` take it; None for a blank line
    or a comment."""
    words = _words(line)
    if not words or words[0].startswith("#"):
        return None
    pairs, problem = _getopt(words)
    if problem:
        return AuditRule(line, problem=problem)
    if pairs and pairs[0][0] in ("-e", "-b", "-f", "-D", "-r", "--backlog_wait_time",
                                 "--loginuid-immutable", "--reset-lost", "--signal"):
        option, value = pairs[0]
        if option in ("-e", "-f") and value not in ("0", "1", "2"):
            return AuditRule(line, option, value, problem=f"{option} must be 0, 1 or 2, "
                             f"was {value!r}")
        if option == "-b" and not value[:1].isdigit():
            return AuditRule(line, option, value, problem=f"backlog must be a number, was "
                             f"{value!r}")
        if option == "-b":
            value = str(strtoul(value) or 0)
        return AuditRule(line, option, value)
    return _parse_filter_rule(line, pairs, table)


def _parse_filter_rule(line: str, pairs: Sequence[tuple[str, str]],
                       table: SyscallTable) -> AuditRule:
    filter_list = action = ""
    path: str | None = None
    subtree = conditional = False
    perms: frozenset[str] | None = None
    arches: set[str] | None = None
    syscalls: set[str] | None = None
    every_call = False

    def refused(why: str) -> AuditRule:
        return AuditRule(line, "rule", problem=why)

    for option, value in pairs:
        if option in ("-a", "-A"):
            if filter_list:
                return refused("multiple rule insert/delete operations are not allowed")
            parts = value.split(",")
            chosen = [p for p in parts if p in _LISTS], [p for p in parts if p in _ACTIONS]
            if len(parts) != 2 or len(chosen[0]) != 1 or len(chosen[1]) != 1:
                return refused(f"append rule - bad keyword {value}")
            filter_list, action = chosen[0][0], chosen[1][0]
        elif option == "-w":
            if filter_list:
                return refused("watch option can't be given with a syscall")
            if not value.startswith("/"):
                return refused(f"the path must start with '/': {value!r}")
            filter_list, action = "exit", "always"
            path = value.rstrip("/") or "/"
        elif option == "-p":
            if path is None:
                return refused("permission option needs a watch given prior to it")
            if not value or any(c not in "rwxa" for c in value):
                return refused(f"permission {value!r} isn't supported")
            perms = frozenset(value)
        elif option == "-k":
            if not filter_list:
                return refused("key option needs a watch or syscall given prior to it")
        elif option == "-S":
            if filter_list in ("task", "user", "filesystem", "exclude"):
                return refused(f"syscall auditing cannot be put on the {filter_list} list")
            names = set(value.split(","))
            if not all(re.fullmatch(r"[a-z0-9_]+", n) for n in names):
                return refused(f"syscall name unknown: {value!r}")
            if "all" in names:
                every_call = True
            syscalls = (syscalls or set()) | (names - {"all"})
        elif option == "-F":
            if not filter_list:
                return refused("list must be given before field")
            match = _OPERATORS.match(value)
            if match is None:
                return refused(f"field {value!r} has no operator")
            name, operator, operand = match.groups()
            if name == "arch":
                arch = _arch(operand)
                if arch is None or operator not in ("=", "!="):
                    return refused(f"invalid architecture {operand!r}")
                chosen_arch = {arch} if operator == "=" else set(ARCHES) - {arch}
                arches = chosen_arch if arches is None else arches & chosen_arch
            elif name in ("path", "dir"):
                if operator != "=" or not operand.startswith("/"):
                    return refused(f"{name} must be an absolute path given with '='")
                path = operand.rstrip("/") or "/"
                subtree = name == "dir"
            elif name == "perm":
                if operator != "=" or not operand or any(c not in "rwxa" for c in operand):
                    return refused(f"permission {operand!r} isn't supported")
                perms = frozenset(operand)
            elif name not in _NEUTRAL_FIELDS:
                conditional = True
        elif option not in ("-c", "-i"):
            return refused(f"option {option} is not a rule")
    if not filter_list:
        return refused("no rule list given (-a, -A or -w)")
    known = table.get(next(iter(arches)) if arches and len(arches) == 1 else "b64") \
        if table else None
    unknown = sorted(n for n in syscalls or () if not n.isdigit() and known is not None
                     and n not in known)
    if unknown:
        return refused(f"syscall name unknown: {unknown[0]}")
    if every_call:
        syscalls = None  # -S all; and no -S at all means all too (handle_request adds it)
    return AuditRule(line, "rule", filter_list=filter_list, action=action, path=path,
                     subtree=subtree, perms=perms,
                     arches=None if arches is None else frozenset(arches),
                     syscalls=None if syscalls is None else frozenset(syscalls),
                     conditional=conditional)


# ---------------------------------------------------------------- loading

@dataclass
class Loaded:
    """What the kernel holds after a rules file went through ``auditctl -R``."""

    rules: list[AuditRule] = field(default_factory=list)
    enabled: int | None = None  # the last -e applied
    backlog_limit: int | None = None  # the last -b applied
    stopped: str | None = None  # why auditctl stopped before the end of the file


def load(lines: Iterable[str], table: SyscallTable = None) -> Loaded:
    """The kernel's state after ``auditctl -R`` of ``lines`` on a freshly booted kernel."""
    loaded = Loaded()
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        rule = parse_rule(line, table)
        if rule is None:
            continue
        if rule.problem:
            loaded.stopped = f"line {number} ({line.strip()[:120]!r}): {rule.problem}"
            break
        if rule.option == "rule" and loaded.enabled == 2:
            loaded.stopped = (f"line {number}: the rules are locked (-e 2 came before it), "
                              "so the kernel refuses it and auditctl stops")
            break
        if rule.option == "rule":
            identity = " ".join(_words(line))
            if identity in seen:
                loaded.stopped = (f"line {number} ({line.strip()[:120]!r}): the same rule is "
                                  "already loaded (EEXIST), so auditctl stops")
                break
            seen.add(identity)
            loaded.rules.append(rule)
        elif rule.option == "-D":
            loaded.rules.clear()
            seen.clear()
        elif rule.option == "-e":
            if loaded.enabled == 2:
                loaded.stopped = f"line {number}: the rules are locked (-e 2 came before it)"
                break
            loaded.enabled = int(rule.value)
        elif rule.option == "-b":
            loaded.backlog_limit = int(rule.value)
    return loaded


def listed_rules(lines: Iterable[str], table: SyscallTable = None) -> list[AuditRule]:
    """The rules `auditctl -l` prints (the kernel's lists, in order); unparsable lines
    are kept as refused rules so that they are reported, never read as coverage."""
    return [rule for rule in (parse_rule(line, table) for line in lines) if rule is not None
            and rule.option == "rule"]


# ---------------------------------------------------------------- augenrules

def augenrules(files: Sequence[str], awk_s_is_space: bool) -> list[str]:
    """The lines augenrules writes to /etc/audit/audit.rules from ``files`` (the rules.d
    files' contents in ``ls -1v`` order)."""
    stream = "".join(files)  # cat: a missing final newline joins two files' lines
    blank = r"[ \t\n\v\f\r]*" if awk_s_is_space else "s*"
    comment = re.compile("^" + blank + "#")
    kept: list[str] = []
    last: dict[str, str] = {"-e": "", "-D": "", "-f": "", "-b": ""}
    for line in split_lines(stream):
        if not line or comment.match(line):
            continue
        for option in ("-e", "-D", "-f", "-b"):
            pattern = "^" + blank + option + (blank + "$" if option == "-D" else "")
            if re.match(pattern, line):
                last[option] = line
                break
        else:
            kept.append(line)
    return [last["-D"], last["-b"], last["-f"], *kept, last["-e"]]


# ---------------------------------------------------------------- kernel decisions

def _blocks(rule: AuditRule) -> bool:
    """A rule that stops events from being recorded at all."""
    # -a never,task: no audit context for new tasks, so no syscall records at all
    return rule.filter_list == "task" and rule.action == "never"


def _matches_path(rule: AuditRule, target: str) -> bool:
    if rule.path is None:
        return rule.filter_list == "exit"  # a syscall rule with no path matches any file
    # a watch on a directory above the target (-w /etc, -F dir=/etc) sees it too
    return rule.path == target or target.startswith(rule.path.rstrip("/") + "/")


def file_gaps(rules: Sequence[AuditRule], targets: Sequence[Sequence[str]],
              needed: str = "wa") -> list[str]:
    """Accesses the kernel would not record for each target (alternative spellings of
    one file, e.g. /run/faillock and /var/run/faillock, in one entry): for each access
    kind in ``needed`` and each architecture, the first exit rule that can match decides."""
    gaps: list[str] = []
    if any(_blocks(rule) for rule in rules):
        blocker = next(rule for rule in rules if _blocks(rule))
        return [f"every event: {blocker.text.strip()!r} turns syscall auditing off"]
    for names in targets:
        missing = []
        for perm in needed:
            for arch in ARCHES:
                if not _file_audited(rules, names, perm, arch):
                    missing.append(f"{perm} ({arch})")
        if missing:
            gaps.append(f"{names[0]}: {', '.join(missing)} not audited")
    return gaps


def _file_audited(rules: Sequence[AuditRule], names: Sequence[str], perm: str,
                  arch: str) -> bool:
    for rule in rules:
        if rule.filter_list != "exit" or rule.problem:
            continue
        if not any(_matches_path(rule, name) for name in names):
            continue
        if rule.perms is not None and perm not in rule.perms:
            continue
        if rule.arches is not None and arch not in rule.arches:
            continue
        if rule.path is None and rule.syscalls is not None and rule.action == "always":
            continue  # a syscall list without a path is not a watch on the file
        if rule.action == "never":
            return False  # first match: the event is dropped
        if rule.conditional:
            continue  # may or may not match; the event goes on down the list
        return True
    return False


def syscall_gaps(rules: Sequence[AuditRule], syscalls: Sequence[str]) -> list[str]:
    """System calls (per architecture) whose first matching exit rule is not an
    unconditional ``always`` rule. A rule without ``-F arch=`` names its system calls
    by the host's native (64-bit) numbers, so it covers b64 only."""
    if any(_blocks(rule) for rule in rules):
        blocker = next(rule for rule in rules if _blocks(rule))
        return [f"every event: {blocker.text.strip()!r} turns syscall auditing off"]
    gaps = []
    for arch in ARCHES:
        for name in syscalls:
            if not _syscall_audited(rules, name, arch):
                gaps.append(f"{name} ({arch})")
    return [f"not audited: {', '.join(gaps)}"] if gaps else []


def _syscall_audited(rules: Sequence[AuditRule], name: str, arch: str) -> bool:
    for rule in rules:
        if rule.filter_list != "exit" or rule.problem:
            continue
        if rule.syscalls is not None:
            if name not in rule.syscalls:
                continue
            rule_arches = rule.arches if rule.arches is not None else frozenset({"b64"})
        else:
            rule_arches = rule.arches if rule.arches is not None else frozenset(ARCHES)
        if arch not in rule_arches:
            continue
        if rule.action == "never":
            if rule.path is None and rule.perms is None:
                return False
            continue  # a never rule on a file does not reach clock calls
        if rule.conditional or rule.path is not None or rule.perms is not None:
            continue  # may not match this call; the event goes on down the list
        return True
    return False
