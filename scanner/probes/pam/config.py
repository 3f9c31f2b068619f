"""PAM service files read into handler stacks exactly as Linux-PAM 1.5.2 (Debian 12's
libpam0g 1.5.2-6, with Debian's ``@include``) loads them.

What libpam does, and so what this module does (libpam/pam_handlers.c, pam_misc.c):

* ``_pam_assemble_line``: lines end at ``\\n`` only (``fgets``). Leading ``" \\n\\t"`` is
  skipped; a line whose first other character is ``#`` is a comment, even inside a
  continuation (the continuation goes on past it). Otherwise the line ends at its first
  ``#``, continuation or not; trailing ``" \\t\\n"`` is dropped and a final ``\\`` joins
  the next line (the backslash becomes a blank). A file ending inside a continuation is
  a read error: the whole service fails to load (``pam_start`` returns PAM_ABORT).
  ``\\r`` is no blank: ``"...nullok\\r"`` is an argument pam_unix does not know, and a
  line holding only ``\\r`` is a module type libpam does not know.
* ``_pam_StrTok`` splits at ``" \\n\\t"``; a word opening with ``[`` runs to the first
  ``]`` (``\\]`` stands for ``]``), or to the end of the line when there is none.
* Types and the control keywords are matched case-insensitively; ``-type`` only silences
  the log when the module is missing. A bad type, a missing control or module, or an
  ``include``/``substack`` of a file that cannot be read installs a handler that always
  fails (PAM_HT_MUST_FAIL). ``@include FILE`` (Debian) reads FILE in place with the same
  type filter; when it cannot, the whole service fails to load.
* ``_pam_parse_control``: ``value=action`` pairs, a prefix match against libpam's token
  tables; any error makes every value ``bad``. Unset values take ``default`` (``bad``).
* Files are looked up in /etc/pam.d, then /usr/lib/pam.d. The service's own file is read,
  then ``other``; a type the service file gives no handler uses ``other``'s handlers.
* Includes nest at most 16 deep (PAM_SUBSTACK_MAX_LEVEL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

PAM_TYPES = ("auth", "account", "password", "session")
CONFIG_DIRS = ("/etc/pam.d/", "/usr/lib/pam.d/")
MAX_INCLUDE_LEVEL = 16

RETURN_NAMES = (
    "success", "open_err", "symbol_err", "service_err", "system_err", "buf_err",
    "perm_denied", "auth_err", "cred_insufficient", "authinfo_unavail", "user_unknown",
    "maxtries", "new_authtok_reqd", "acct_expired", "session_err", "cred_unavail",
    "cred_expired", "cred_err", "no_module_data", "conv_err", "authtok_err",
    "authtok_recover_err", "authtok_lock_busy", "authtok_disable_aging", "try_again",
    "ignore", "abort", "authtok_expired", "module_unknown", "bad_item", "conv_again",
    "incomplete",
)
RETURN_VALUES = len(RETURN_NAMES)
CODE = {name: index for index, name in enumerate(RETURN_NAMES)}
PAM_SUCCESS, PAM_IGNORE = CODE["success"], CODE["ignore"]
PAM_PERM_DENIED = CODE["perm_denied"]  # PAM_MUST_FAIL_CODE
PAM_MODULE_UNKNOWN = CODE["module_unknown"]

IGNORE, OK, DONE, BAD, DIE, RESET, UNDEF = 0, -1, -2, -3, -4, -5, -6
_ACTION_NAMES = ("ignore", "ok", "done", "bad", "die", "reset")

Actions = tuple[int, ...]


def assemble_lines(text: str) -> tuple[list[str], bool]:
    """Logical lines as ``_pam_assemble_line`` builds them, and whether the file ended
    inside a continuation (libpam's read error)."""
    lines: list[str] = []
    pending: str | None = None
    physical = text.split("\n")
    if physical and physical[-1] == "":
        physical.pop()
    for raw in physical:
        start = raw.lstrip(" \n\t")
        if not start or start[0] == "#":
            continue  # a blank or comment line ends nothing, not even a continuation
        if "#" in start:
            lines.append((pending or "") + start.split("#", 1)[0])
            pending = None
            continue
        body = start.rstrip(" \t\n")
        if body.endswith("\\"):
            pending = (pending or "") + body[:-1] + " "
            continue
        lines.append((pending or "") + start)
        pending = None
    return lines, pending is not None


def tokenize(line: str) -> list[str]:
    """Words as ``_pam_StrTok(..., " \\n\\t", ...)`` cuts them, ``[...]`` unwrapped."""
    words: list[str] = []
    index, length = 0, len(line)
    while True:
        while index < length and line[index] in " \n\t":
            index += 1
        if index >= length:
            return words
        if line[index] == "[":
            index += 1
            word: list[str] = []
            while index < length and line[index] != "]":
                if line[index] == "\\" and index + 1 < length and line[index + 1] == "]":
                    index += 1
                word.append(line[index])
                index += 1
            words.append("".join(word))
            index += 1  # past the "]" (or the end)
            continue
        end = index
        while end < length and line[end] not in " \n\t":
            end += 1
        words.append(line[index:end])
        index = end


def parse_control(text: str) -> Actions:
    """``_pam_parse_control`` followed by the default ``bad`` for unset values."""
    actions = [UNDEF] * RETURN_VALUES
    index, length = 0, len(text)
    spaces = " \t\n\v\f\r"
    while index < length:
        while index < length and text[index] in spaces:
            index += 1
        if index >= length:
            break
        names = (*RETURN_NAMES, "default")
        code = next((n for n, name in enumerate(names) if text.startswith(name, index)), None)
        if code is None:
            return (BAD,) * RETURN_VALUES
        index += len(names[code])
        if index >= length:
            return (BAD,) * RETURN_VALUES
        while index < length and text[index] in spaces:
            index += 1
        if index >= length or text[index] != "=":
            return (BAD,) * RETURN_VALUES
        index += 1
        while index < length and text[index] in spaces:
            index += 1
        if index >= length:
            return (BAD,) * RETURN_VALUES
        action = next((-n for n, name in enumerate(_ACTION_NAMES)
                       if text.startswith(name, index)), None)
        if action is not None:
            index += len(_ACTION_NAMES[-action])
        else:
            digits = index
            while index < length and text[index].isdigit() and text[index].isascii():
                index += 1
            if digits == index or int(text[digits:index]) == 0:
                return (BAD,) * RETURN_VALUES
            action = int(text[digits:index])
        if code == RETURN_VALUES:
            actions = [action if a == UNDEF else a for a in actions]
        else:
            actions[code] = action
    return tuple(BAD if a == UNDEF else a for a in actions)


def _keyword_actions(success: int, default: int, ignore: int | None) -> Actions:
    actions = [default] * RETURN_VALUES
    actions[PAM_SUCCESS] = success
    actions[CODE["new_authtok_reqd"]] = success
    if ignore is not None:
        actions[PAM_IGNORE] = ignore
    return tuple(actions)


KEYWORD_ACTIONS: dict[str, Actions] = {
    "required": _keyword_actions(OK, BAD, IGNORE),
    "requisite": _keyword_actions(OK, DIE, IGNORE),
    "optional": _keyword_actions(OK, IGNORE, None),
    "sufficient": _keyword_actions(DONE, IGNORE, None),
}
ALL_BAD: Actions = (BAD,) * RETURN_VALUES


@dataclass(frozen=True)
class Handler:
    """One entry of a module stack as libpam keeps it."""

    type: str
    kind: str  # "module" | "must_fail" | "substack"
    actions: Actions
    level: int  # substack depth
    module: str = ""  # as written (a path, or a name under the module directory)
    args: tuple[str, ...] = ()
    silent: bool = False  # "-type": a missing module is not logged
    file: str = ""
    text: str = ""
    why: str = ""  # for a must-fail handler: what made it one
    control: str = ""  # as written ("required", or the inside of "[...]")

    @property
    def name(self) -> str:
        """The module's file name (``pam_unix.so``), as users name it."""
        return self.module.rsplit("/", 1)[-1]


class LoadError(Exception):
    """libpam fails to load the service: every call on it fails."""


@dataclass
class _Loader:
    read: Callable[[str], str | None]  # config path -> text, None when it cannot be read
    problems: list[str] = field(default_factory=list)

    def open(self, name: str) -> tuple[str, str] | None:
        if name.startswith("/"):
            text = self.read(name)
            return None if text is None else (name, text)
        for directory in CONFIG_DIRS:
            text = self.read(directory + name)
            if text is not None:
                return directory + name, text
        return None

    def load(self, name: str, wanted: str | None, include_level: int, stack_level: int,
             out: list[Handler]) -> bool:
        """``_pam_load_conf_file``: False where libpam's returns an error."""
        if include_level >= MAX_INCLUDE_LEVEL:
            self.problems.append(f"includes nested deeper than {MAX_INCLUDE_LEVEL} at {name}")
            return False
        found = self.open(name)
        if found is None:
            self.problems.append(f"{name} cannot be read")
            return False
        return self.parse(found[0], found[1], wanted, include_level, stack_level, out)

    def parse(self, path: str, text: str, wanted: str | None, include_level: int,
              stack_level: int, out: list[Handler]) -> bool:
        lines, broken = assemble_lines(text)
        for line in lines:
            words = tokenize(line)
            if words and words[0].lower() == "@include":
                if not self.load(words[1] if len(words) > 1 else "", wanted,
                                 include_level + 1, stack_level, out):
                    return False
                continue
            if not self.add_line(path, line, words, wanted, include_level, stack_level, out):
                return False
        if broken:
            self.problems.append(f"{path} ends inside a continued line")
            return False
        return True

    def add_line(self, path: str, line: str, words: list[str], wanted: str | None,
                 include_level: int, stack_level: int, out: list[Handler]) -> bool:
        """One logical line, as ``_pam_parse_conf_file`` installs it: a line with a bad
        type still has its control parsed, so a must-fail line's control decides what its
        failure does (``sufficient`` ignores it)."""
        why = ""
        silent = bool(words) and words[0].startswith("-")
        type_word = (words[0][1:] if silent else words[0]) if words else ""
        module_type = type_word.lower()
        if not words:
            module_type, why = wanted or "auth", "no module type"
        elif module_type not in PAM_TYPES:
            module_type, why = wanted or "auth", f"unknown module type {words[0]!r}"
        elif wanted is not None and module_type != wanted:
            return True
        if len(words) < 2:
            out.append(Handler(module_type, "must_fail", ALL_BAD, stack_level, file=path,
                               text=line, why=why or "no control"))
            return True
        lowered = words[1].lower()
        if lowered in ("include", "substack"):
            substack = lowered == "substack"
            target = words[2] if len(words) > 2 else None
            if substack:
                out.append(Handler(module_type, "substack", ALL_BAD, stack_level,
                                   module=target or "", file=path, text=line))
            included: list[Handler] = []
            if target is not None and self.load(target, module_type, include_level + 1,
                                                stack_level + int(substack), included):
                out.extend(included)
                return True
            reason = self.problems[-1] if self.problems else "no file named"
            out.append(Handler(module_type, "must_fail", ALL_BAD, stack_level, file=path,
                               text=line, why=f"{lowered} {target or ''} cannot be loaded "
                               f"({reason})", control=lowered))
            return True
        actions = KEYWORD_ACTIONS.get(lowered) or parse_control(words[1])
        if len(words) < 3:
            why = why or "no module"
        kind = "must_fail" if why else "module"
        out.append(Handler(module_type, kind, actions, stack_level,
                           module=words[2] if len(words) > 2 else "", args=tuple(words[3:]),
                           silent=silent, file=path, text=line, why=why,
                           control=lowered if lowered in KEYWORD_ACTIONS else words[1]))
        return True


@dataclass(frozen=True)
class Service:
    """A service's stacks per type, as libpam dispatches them."""

    name: str
    stacks: Mapping[str, tuple[Handler, ...]]
    load_error: str | None  # libpam fails every call on the service
    via_other: bool  # no file of its own: 'other' serves it
    notes: tuple[str, ...] = ()
    ordered: tuple[Handler, ...] = ()  # every handler dispatched, in file order


def load_service(service: str, read: Callable[[str], str | None]) -> Service:
    """``_pam_init_handlers`` for ``service``: its file, then ``other``."""
    loader = _Loader(read)
    own: list[Handler] = []
    other: list[Handler] = []
    found = loader.open(service)
    if found is not None and not loader.parse(found[0], found[1], None, 0, 0, own):
        return Service(service, {}, f"libpam cannot load {found[0]}: "
                       f"{loader.problems[-1] if loader.problems else 'read error'}",
                       False)
    read_something = found is not None
    fallback = loader.open("other")
    if fallback is not None:
        if not loader.parse(fallback[0], fallback[1], None, 0, 0, other):
            return Service(service, {}, f"libpam cannot load {fallback[0]}: "
                           f"{loader.problems[-1] if loader.problems else 'read error'}",
                           found is None)
        read_something = True
    if not read_something:
        return Service(service, {}, f"no PAM configuration for {service} and no 'other'",
                       True)
    stacks: dict[str, tuple[Handler, ...]] = {}
    for module_type in PAM_TYPES:
        mine = tuple(h for h in own if h.type == module_type)
        stacks[module_type] = mine or tuple(h for h in other if h.type == module_type)
    from_other = {t for t in PAM_TYPES if not any(h.type == t for h in own)}
    ordered = (*own, *(h for h in other if h.type in from_other))
    return Service(service, stacks, None, found is None, tuple(loader.problems), ordered)
