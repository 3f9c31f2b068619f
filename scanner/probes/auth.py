"""Authentication settings judged the way the system itself applies them.

Each parser re-implements only as much of the consuming program's reading rules
as a verdict depends on, and follows that program where it is surprising:
shadow-utils takes the *last* definition of a login.defs key and falls back to
compiled-in defaults; Linux-PAM ends a line at the first ``#`` and expands
``include``/``substack`` (and Debian's ``@include``) per module type, falling
back to ``other`` for a type a service does not configure; libpwquality reads
``pwquality.conf.d/*.conf`` *before* ``pwquality.conf`` and stops reading at the
first bad line; pam_faillock and pam_pwhistory apply their .conf file first and
the module's arguments on top; a login shell reads /etc/profile, then
/etc/bash.bashrc (Debian) or /etc/bashrc (RHEL family), and a readonly TMOUT
cannot be reassigned. Anything the probe cannot see (an unreadable file, a
broken include) makes the result an error, never a default.

Stacks are resolved, not executed: jumps such as ``[success=1 default=ignore]``
are not followed, so a module is judged by its presence and by whether its own
control makes its refusal final.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import FileFrame, files_only, split_files, to_int

PAM_DIR = "/etc/pam.d/"
PAM_TYPES = ("auth", "account", "password", "session")
# Linux-PAM refuses includes nested deeper than this (PAM_SUBSTACK_MAX_LEVEL).
MAX_INCLUDE_DEPTH = 16
SERVICE_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_.+-]{1,64}$"}


def _frames_or_error(raw: RawOutput) -> tuple[list[FileFrame], ProbeResult | None]:
    """The framed files of a dump_files snippet, or the error that prevents reading them."""
    if raw.exit_status != 0:
        return [], ProbeResult.failed(f"file listing failed (exit status {raw.exit_status})")
    frames = split_files(raw)
    if not frames:
        return [], ProbeResult.failed("the host printed no file frames for this probe")
    return frames, None


def _unreadable(frames: Iterable[FileFrame]) -> list[str]:
    return [f.path for f in frames if f.state in ("unreadable", "not_regular")]


# ------------------------------------------------------------------------------ login.defs

LOGIN_DEFS = "/etc/login.defs"
# shadow-utils' compiled-in fallbacks for keys login.defs does not set (login.defs(5)).
# PASS_MAX_DAYS is documented as -1 (no ageing); 99999 says the same and keeps
# numeric comparisons honest ("≤ 90" must not hold for "no ageing").
LOGIN_DEFS_DEFAULTS: dict[str, int | str] = {
    "PASS_MAX_DAYS": 99999,
    "PASS_MIN_DAYS": -1,
    "PASS_WARN_AGE": -1,
    "UID_MIN": 1000,
    "UID_MAX": 60000,
    "SYS_UID_MIN": 101,
    "SYS_UID_MAX": 999,
    "GID_MIN": 1000,
    "GID_MAX": 60000,
    "SYS_GID_MIN": 101,
    "SYS_GID_MAX": 999,
    "UMASK": "022",
    "ENCRYPT_METHOD": "DES",
}
LOGIN_DEFS_NUMERIC = frozenset(
    {"PASS_MAX_DAYS", "PASS_MIN_DAYS", "PASS_WARN_AGE", "PASS_MIN_LEN", "UID_MIN", "UID_MAX",
     "SYS_UID_MIN", "SYS_UID_MAX", "GID_MIN", "GID_MAX", "SYS_GID_MIN", "SYS_GID_MAX",
     "LOGIN_RETRIES", "LOGIN_TIMEOUT", "SHA_CRYPT_MIN_ROUNDS", "SHA_CRYPT_MAX_ROUNDS",
     "YESCRYPT_COST_FACTOR", "SUB_UID_MIN", "SUB_UID_MAX", "SUB_UID_COUNT", "SUB_GID_MIN",
     "SUB_GID_MAX", "SUB_GID_COUNT", "FAIL_DELAY", "MAX_MEMBERS_PER_GROUP"}
)


def read_login_defs(text: str) -> dict[str, str]:
    """Key → raw value as shadow-utils' getdef reads it: the last definition wins.

    The value runs from the first non-blank, non-quote character to the first
    quote or the end of the line, so an inline ``# note`` stays part of it.
    Keys are case-sensitive; a line with a key and no value is ignored.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.rstrip()
        name_start = line.lstrip(" \t")
        if not name_start or name_start.startswith("#"):
            continue
        parts = re.split(r"[ \t]", name_start, maxsplit=1)
        if len(parts) < 2:
            continue
        name, rest = parts
        value = rest.lstrip(" \t\"")
        value = value.split('"', 1)[0]
        values[name] = value
    return values


def _login_defs_number(value: str) -> int | None:
    """A whole number as getdef_num accepts it (decimal, whole string, ≥ -1)."""
    if re.fullmatch(r"[+-]?\d{1,10}", value.strip()):
        number = int(value)
        if -1 <= number <= 2**31 - 1:
            return number
    return None


def parse_login_defs(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = _frames_or_error(raw)
    if problem:
        return problem
    frame = frames[0]
    if frame.state in ("unreadable", "not_regular"):
        return ProbeResult.failed(f"{frame.path} is not readable by the collector")
    present = frame.state == "ok"
    raw_values = read_login_defs(frame.content) if present else {}
    settings: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    for key, value in raw_values.items():
        if key in LOGIN_DEFS_NUMERIC:
            number = _login_defs_number(value)
            if number is None:
                invalid[key] = value  # shadow-utils logs it and uses the default
                continue
            settings[key] = number
        else:
            settings[key] = value
    defaults_used = []
    for key, default in LOGIN_DEFS_DEFAULTS.items():
        if key not in settings:
            if key == "ENCRYPT_METHOD" and str(settings.get("MD5_CRYPT_ENAB", "")).lower() == "yes":
                default = "MD5"
            settings[key] = default
            defaults_used.append(key)
    data: dict[str, Any] = {
        "settings": settings,
        "defaults_used": defaults_used,
        "file_present": present,
    }
    if invalid:
        data["invalid"] = invalid
    return ProbeResult.ok(data)


# ------------------------------------------------------------------------------ PAM


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
    for physical in text.splitlines():
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


def _service_names(files: Mapping[str, FileFrame]) -> list[str]:
    return sorted(path[len(PAM_DIR):] for path, frame in files.items()
                  if frame.state != "missing" and "/" not in path[len(PAM_DIR):])


def parse_pam(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = _frames_or_error(raw)
    if problem:
        return problem
    files = pam_files(frames)
    names = _service_names(files)
    if not names:
        return ProbeResult.failed("no files under /etc/pam.d")
    services = {name: resolve_service(name, files) for name in names}
    return ProbeResult.ok({"services": services, "unreadable": _unreadable(files.values())})


FAILURE_RETURN = {"auth": "auth_err", "account": "perm_denied", "password": "authtok_err",
                  "session": "session_err"}


def parse_pam_module(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    """One module in one service's stack of one type: present, enforcing, its arguments."""
    frames, problem = _frames_or_error(raw)
    if problem:
        return problem
    files = pam_files(frames)
    if not _service_names(files):
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


# ------------------------------------------------------------------------------ pwquality

PWQUALITY_CONF = "/etc/security/pwquality.conf"
PWQUALITY_DROPINS = "/etc/security/pwquality.conf.d/"
# libpwquality's compiled-in defaults (pwqprivate.h).
PWQUALITY_DEFAULTS: dict[str, int] = {
    "difok": 1, "minlen": 8, "dcredit": 0, "ucredit": 0, "lcredit": 0, "ocredit": 0,
    "minclass": 0, "maxrepeat": 0, "maxclassrepeat": 0, "maxsequence": 0, "gecoscheck": 0,
    "dictcheck": 1, "usercheck": 1, "enforcing": 1, "retry": 1, "enforce_for_root": 0,
    "local_users_only": 0,
}
# pam_cracklib reads no configuration file; these are its own defaults.
CRACKLIB_DEFAULTS: dict[str, int] = {
    "difok": 5, "minlen": 9, "dcredit": 1, "ucredit": 1, "lcredit": 1, "ocredit": 1,
    "minclass": 0, "maxrepeat": 0, "enforcing": 1, "retry": 1, "enforce_for_root": 0,
}
_PWQ_STRING_SETTINGS = frozenset({"badwords", "dictpath"})
_PWQ_FLAG_SETTINGS = frozenset({"enforce_for_root", "local_users_only"})
_PAM_ONLY_ARGS = frozenset({"debug", "use_authtok", "authtok_type", "try_first_pass",
                            "use_first_pass", "reject_username"})
CREDITS = ("dcredit", "ucredit", "lcredit", "ocredit")
QUALITY_MODULES = ("pam_pwquality.so", "pam_cracklib.so")


def _pwq_set(settings: dict[str, Any], name: str, value: str) -> bool:
    """Apply one setting the way libpwquality's set_name_value does; False if it rejects it."""
    key = name.lower()
    if key in _PWQ_FLAG_SETTINGS:
        settings[key] = 1
        return True
    if key in _PWQ_STRING_SETTINGS:
        settings[key] = value
        return True
    if key not in PWQUALITY_DEFAULTS and key not in CRACKLIB_DEFAULTS:
        return False
    if not re.fullmatch(r"[+-]?\d{1,9}", value):
        return False
    number = int(value)
    if key == "minlen":
        number = max(number, 6)
    elif key == "minclass":
        number = min(number, 4)
    settings[key] = number
    return True


def read_pwquality_file(text: str, settings: dict[str, Any]) -> str | None:
    """Apply one pwquality.conf-format file; the error that stopped reading, if any."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"([^\s=]*)[\s=]*(.*)$", line)
        name, value = (match.group(1), match.group(2)) if match else (line, "")
        if not _pwq_set(settings, name, value.strip()):
            return f"bad setting {name!r} = {value.strip()!r}; libpwquality stops reading here"
    return None


def effective_min_length(minlen: int, credits: Mapping[str, int]) -> int:
    """The shortest password minlen and positive credits accept (each credit char counts twice)."""
    positive = sum(max(credits.get(c, 0), 0) for c in CREDITS)
    required = sum(-min(credits.get(c, 0), 0) for c in CREDITS)
    length = 1
    while length + min(length, positive) < minlen:
        length += 1
    return max(length, required)


def pwquality_for_service(service: str, files: Mapping[str, FileFrame],
                          conf_settings: Mapping[str, Any]) -> dict[str, Any]:
    resolved = resolve_service(service, files)
    stack = [line for line in resolved["lines"] if line["type"] == "password"]
    module_line = next((line for line in stack if line["module"] in QUALITY_MODULES), None)
    notes: list[str] = list(resolved["problems"])
    if module_line is None:
        settings: dict[str, Any] = dict(conf_settings)
        notes.append(f"neither pam_pwquality nor pam_cracklib is in the password stack of "
                     f"{service}")
    elif module_line["module"] == "pam_cracklib.so":
        settings = dict(CRACKLIB_DEFAULTS)  # pam_cracklib never reads pwquality.conf
    else:
        settings = dict(conf_settings)
    if module_line is not None:
        for name, value in module_line["args"].items():
            if name in _PAM_ONLY_ARGS:
                continue
            if not _pwq_set(settings, name, "" if value is True else str(value)):
                notes.append(f"{module_line['module']} argument {name!r} is not understood")
    fails_closed = module_line is not None and control_fails_closed(
        module_line["control"], "authtok_err")
    if module_line is not None and not fails_closed:
        notes.append(f"{module_line['module']} control {module_line['control']!r} lets a "
                     "rejected password through")
    if settings.get("enforcing", 1) == 0:
        notes.append("enforcing = 0: weak passwords only draw a warning")
    credits = {c: int(settings.get(c, 0)) for c in CREDITS}
    required_classes = sum(1 for value in credits.values() if value < 0)
    minlen = int(settings.get("minlen", 8))
    return {
        "service": service,
        "module": module_line["module"] if module_line else None,
        "module_active": bool(module_line is not None and fails_closed
                              and settings.get("enforcing", 1) != 0 and not resolved["problems"]),
        "minlen": minlen,
        "min_length": effective_min_length(minlen, credits),
        "minclass": int(settings.get("minclass", 0)),
        **credits,
        "required_classes": required_classes,
        "classes": max(int(settings.get("minclass", 0)), required_classes),
        "enforce_for_root": bool(settings.get("enforce_for_root", 0)),
        "settings": settings,
        "notes": notes,
        "problems": resolved["problems"],
    }


def parse_pwquality(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = _frames_or_error(raw)
    if problem:
        return problem
    files = pam_files(frames)
    if not _service_names(files):
        return ProbeResult.failed("no files under /etc/pam.d")
    conf_frames = [f for f in frames if f.path == PWQUALITY_CONF]
    dropins = sorted((f for f in frames if f.path.startswith(PWQUALITY_DROPINS)
                      and f.path.endswith(".conf")), key=lambda f: f.path.encode())
    blocked = _unreadable([*conf_frames, *dropins])
    if blocked:
        return ProbeResult.failed(f"{blocked[0]} is not readable by the collector")
    settings: dict[str, Any] = dict(PWQUALITY_DEFAULTS)
    config_notes: list[str] = []
    for frame in [*dropins, *conf_frames]:  # drop-ins first: pwquality.conf has the last word
        if frame.state != "ok":
            continue
        error = read_pwquality_file(frame.content, settings)
        if error:
            config_notes.append(f"{frame.path}: {error}")
            break
    services = list(args.get("services") or ["passwd"])
    results = {name: pwquality_for_service(name, files, settings) for name in services}
    broken = [r for r in results.values() if r["problems"]]
    if broken:
        return ProbeResult.failed(f"PAM stack of {broken[0]['service']} cannot be judged: "
                                  f"{broken[0]['problems'][0]}")
    weakest = min(results.values(),
                  key=lambda r: (r["module_active"], r["min_length"], r["classes"]))
    data = {key: value for key, value in weakest.items() if key != "problems"}
    data["notes"] = config_notes + weakest["notes"]
    data["services"] = {name: {k: v for k, v in r.items() if k not in ("settings", "problems")}
                        for name, r in results.items()}
    return ProbeResult.ok(data)


# ------------------------------------------------------------------------------ faillock

FAILLOCK_CONF = "/etc/security/faillock.conf"
FAILLOCK_DEFAULTS: dict[str, Any] = {"deny": 3, "fail_interval": 900, "unlock_time": 600,
                                     "even_deny_root": False, "root_unlock_time": None}
_FAILLOCK_FLAGS = frozenset({"even_deny_root", "audit", "silent", "no_log_info",
                             "local_users_only", "nodelay", "uid_based_files"})
MAX_TIME_INTERVAL = 604800  # pam_faillock refuses longer intervals and keeps the old value


def _leading_unsigned(value: str, bits: int) -> int | None:
    """``sscanf("%u")``: leading digits, a minus sign wrapping around as C does."""
    match = re.match(r"\s*([+-]?)(\d+)", value)
    if not match:
        return None
    number = int(match.group(2)) % (1 << bits)
    if match.group(1) == "-":
        number = (-number) % (1 << bits)
    return number


def faillock_option(options: dict[str, Any], name: str, value: str) -> None:
    """One option applied as pam_faillock's set_conf_opt does (bad values keep the old one)."""
    if name == "deny":
        number = _leading_unsigned(value, 16)
        if number is not None:
            options["deny"] = number
    elif name in ("unlock_time", "root_unlock_time", "fail_interval"):
        if value == "never" and name != "fail_interval":
            options[name] = 0
            return
        number = _leading_unsigned(value, 32)
        if number is not None and number <= MAX_TIME_INTERVAL:
            options[name] = number
    elif name in _FAILLOCK_FLAGS:
        options[name] = True


def read_faillock_conf(text: str, options: dict[str, Any]) -> None:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"([^\s=]*)[\s=]*(.*)$", line)
        if match:
            faillock_option(options, match.group(1), match.group(2).strip())


def _faillock_action(args: Mapping[str, Any]) -> str:
    action = "preauth"  # the module's default when no action word is given
    for word in args:
        if word in ("preauth", "authfail", "authsucc"):
            action = word
    return action


def faillock_for_service(service: str, files: Mapping[str, FileFrame],
                         conf: Mapping[str, Any] | None, conf_problem: str | None
                         ) -> dict[str, Any]:
    resolved = resolve_service(service, files)
    stack = [line for line in resolved["lines"] if line["type"] == "auth"]
    notes: list[str] = []
    problems = list(resolved["problems"])
    result: dict[str, Any] = {"service": service, "mechanism": "none", "deny": None,
                              "unlock_time": None, "even_deny_root": None,
                              "root_unlock_time": None}
    faillock_lines = [line for line in stack if line["module"] == "pam_faillock.so"]
    tally_lines = [line for line in stack if line["module"] == "pam_tally2.so"]
    if faillock_lines:
        if conf_problem:
            problems.append(conf_problem)
        preauth = [line for line in faillock_lines if _faillock_action(line["args"]) == "preauth"]
        authfail = [line for line in faillock_lines
                    if _faillock_action(line["args"]) == "authfail"]
        if not preauth:
            notes.append("pam_faillock has no preauth line: a locked account still logs in "
                         "with the right password")
        if not authfail:
            notes.append("pam_faillock has no authfail line: failed logins are never counted")
        if preauth:
            line = preauth[0]
            other_conf = line["args"].get("conf")
            if other_conf not in (None, True, FAILLOCK_CONF):
                problems.append(f"pam_faillock reads {other_conf}, which this probe does not read")
            options = dict(conf or FAILLOCK_DEFAULTS)
            for name, value in line["args"].items():
                if name not in ("preauth", "authfail", "authsucc", "conf"):
                    faillock_option(options, name, "" if value is True else str(value))
            enforced = control_fails_closed(line["control"], "auth_err")
            if not enforced:
                notes.append(f"pam_faillock preauth control {line['control']!r} does not stop "
                             "a locked account")
            if authfail and enforced:
                result["mechanism"] = "faillock"
            result.update(
                deny=options["deny"], unlock_time=options["unlock_time"],
                even_deny_root=bool(options["even_deny_root"]),
                root_unlock_time=(options["root_unlock_time"]
                                  if options["root_unlock_time"] is not None
                                  else options["unlock_time"]))
    elif tally_lines:
        line = tally_lines[0]
        options = {"deny": 0, "unlock_time": 0, "even_deny_root": False,
                   "root_unlock_time": None}
        for name, value in line["args"].items():
            if name in ("deny", "unlock_time", "root_unlock_time"):
                number = _leading_unsigned(str(value), 32)
                if number is not None:
                    options[name] = number
            elif name == "even_deny_root":
                options["even_deny_root"] = True
        if control_fails_closed(line["control"], "auth_err"):
            result["mechanism"] = "tally2"
        else:
            notes.append(f"pam_tally2 control {line['control']!r} does not stop a locked account")
        result.update(deny=options["deny"], unlock_time=options["unlock_time"],
                      even_deny_root=bool(options["even_deny_root"]),
                      root_unlock_time=options["root_unlock_time"])
    else:
        notes.append(f"no pam_faillock or pam_tally2 in the auth stack of {service}")
    result["notes"] = notes
    result["problems"] = problems
    return result


def _lockout_strength(result: Mapping[str, Any]) -> tuple[int, int, int]:
    """Sort key: weakest lockout first (none, no deny, high deny, short unlock time)."""
    if result["mechanism"] == "none" or not result["deny"]:
        return (0, 0, 0)
    unlock = result["unlock_time"] or 0
    return (1, -int(result["deny"]), MAX_TIME_INTERVAL + 1 if unlock == 0 else int(unlock))


def parse_faillock(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = _frames_or_error(raw)
    if problem:
        return problem
    files = pam_files(frames)
    if not _service_names(files):
        return ProbeResult.failed("no files under /etc/pam.d")
    conf: dict[str, Any] | None = dict(FAILLOCK_DEFAULTS)
    conf_problem = None
    for frame in frames:
        if frame.path != FAILLOCK_CONF:
            continue
        if frame.state in ("unreadable", "not_regular"):
            conf, conf_problem = None, f"{FAILLOCK_CONF} is not readable by the collector"
        elif frame.state == "ok" and conf is not None:
            read_faillock_conf(frame.content, conf)
    services = list(args.get("services") or ["login", "sshd"])
    results = {name: faillock_for_service(name, files, conf, conf_problem) for name in services}
    broken = [r for r in results.values() if r["problems"]]
    if broken:
        return ProbeResult.failed(f"lockout for {broken[0]['service']} cannot be judged: "
                                  f"{broken[0]['problems'][0]}")
    weakest = min(results.values(), key=_lockout_strength)
    data = {key: value for key, value in weakest.items() if key != "problems"}
    data["services"] = {name: {k: v for k, v in r.items() if k != "problems"}
                        for name, r in results.items()}
    return ProbeResult.ok(data)


# ------------------------------------------------------------------------------ pwhistory

PWHISTORY_CONF = "/etc/security/pwhistory.conf"
PWHISTORY_DEFAULT_REMEMBER = 10  # pam_pwhistory's own default


def _read_remember(text: str, current: int) -> int:
    """remember from a pwhistory.conf-format file (``name [=] value``, ``#`` comments)."""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.match(r"remember[\s=]+(\d{1,9})$", line)
        if match:
            current = int(match.group(1))
    return current


def pwhistory_for_service(service: str, files: Mapping[str, FileFrame], conf_remember: int,
                          conf_problem: str | None) -> dict[str, Any]:
    resolved = resolve_service(service, files)
    stack = [line for line in resolved["lines"] if line["type"] == "password"]
    problems = list(resolved["problems"])
    notes: list[str] = []
    remembered = 0
    mechanisms: list[str] = []
    history = next((line for line in stack if line["module"] == "pam_pwhistory.so"), None)
    if history is not None:
        if conf_problem:
            problems.append(conf_problem)
        other_conf = history["args"].get("conf")
        if other_conf not in (None, True, PWHISTORY_CONF):
            problems.append(f"pam_pwhistory reads {other_conf}, which this probe does not read")
        remember = to_int(history["args"].get("remember"))
        value = conf_remember if remember is None else remember
        if control_fails_closed(history["control"], "authtok_err"):
            remembered = max(remembered, value)
            mechanisms.append("pwhistory")
        else:
            notes.append(f"pam_pwhistory control {history['control']!r} lets a reused "
                         "password through")
    unix = next((line for line in stack if line["module"] == "pam_unix.so"
                 and "remember" in line["args"]), None)
    if unix is not None and to_int(unix["args"]["remember"]) is not None:
        remembered = max(remembered, int(unix["args"]["remember"]))
        mechanisms.append("pam_unix")
    if not mechanisms:
        notes.append(f"no password history in the password stack of {service}")
    return {"service": service, "mechanism": "+".join(mechanisms) or "none",
            "remember": remembered, "notes": notes, "problems": problems}


def parse_pwhistory(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = _frames_or_error(raw)
    if problem:
        return problem
    files = pam_files(frames)
    if not _service_names(files):
        return ProbeResult.failed("no files under /etc/pam.d")
    conf_remember, conf_problem = PWHISTORY_DEFAULT_REMEMBER, None
    for frame in frames:
        if frame.path == PWHISTORY_CONF:
            if frame.state in ("unreadable", "not_regular"):
                conf_problem = f"{PWHISTORY_CONF} is not readable by the collector"
            elif frame.state == "ok":
                conf_remember = _read_remember(frame.content, conf_remember)
    services = list(args.get("services") or ["passwd"])
    results = {name: pwhistory_for_service(name, files, conf_remember, conf_problem)
               for name in services}
    broken = [r for r in results.values() if r["problems"]]
    if broken:
        return ProbeResult.failed(f"password history for {broken[0]['service']} cannot be "
                                  f"judged: {broken[0]['problems'][0]}")
    weakest = min(results.values(), key=lambda r: int(r["remember"]))
    data = {key: value for key, value in weakest.items() if key != "problems"}
    data["services"] = {name: {k: v for k, v in r.items() if k != "problems"}
                        for name, r in results.items()}
    return ProbeResult.ok(data)


# ------------------------------------------------------------------------------ TMOUT

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
    frames, problem = _frames_or_error(raw)
    if problem:
        return problem
    blocked = _unreadable(frames)
    if blocked:
        return ProbeResult.failed(f"{blocked[0]} is not readable by the collector")
    state = _TimeoutState()
    read = []
    profile = next((f.content for f in frames if f.path == "/etc/profile" and f.state == "ok"),
                   "")
    # Debian's /etc/profile sources /etc/bash.bashrc and nothing reads /etc/bashrc; on the
    # RHEL family ~/.bashrc sources /etc/bashrc and nothing reads /etc/bash.bashrc.
    debian_style = any("bash.bashrc" in _strip_shell_comment(line)
                       for line in profile.splitlines())
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
        for number, line in enumerate(frame.content.splitlines(), start=1):
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


# ------------------------------------------------------------------------------ umask

_UMASK_STATEMENT = re.compile(r"^umask\s+(?:-S\s+)?([0-7]{1,4})\s*$")
DEFAULT_UMASK = "0022"  # what init and sshd hand a session when nothing sets one


def parse_shell_umask(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    """The umask a login shell ends up with: the last ``umask`` in the startup files, else
    login.defs UMASK when pam_umask is in login's and sshd's session stacks, else 022."""
    frames, problem = _frames_or_error(raw)
    if problem:
        return problem
    blocked = _unreadable(frames)
    if blocked:
        return ProbeResult.failed(f"{blocked[0]} is not readable by the collector")
    profile = next((f.content for f in frames if f.path == "/etc/profile" and f.state == "ok"),
                   "")
    debian_style = any("bash.bashrc" in _strip_shell_comment(line)
                       for line in profile.splitlines())
    ignored = "/etc/bashrc" if debian_style else "/etc/bash.bashrc"
    set_in: list[dict[str, Any]] = []
    notes: list[str] = []
    for frame in frames:
        if frame.state != "ok" or frame.path == ignored or not (
                frame.path.startswith("/etc/profile") or frame.path.endswith("bashrc")):
            continue
        depth = 0
        for number, line in enumerate(frame.content.splitlines(), start=1):
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


# ------------------------------------------------------------------------------ catalog

PAM_FILES = ("/etc/pam.d/*",)
_SERVICES_ARGS = {
    "type": "object",
    "properties": {"services": {"type": "array", "items": SERVICE_NAME, "minItems": 1,
                                "maxItems": 16}},
    "additionalProperties": False,
}

PROBES = (
    Probe(
        name="login_defs",
        summary="effective /etc/login.defs settings (last definition wins; shadow-utils "
        "defaults filled in and listed in defaults_used)",
        snippet=files_only,
        files=lambda args: (LOGIN_DEFS,),
        parse=parse_login_defs,
        keyed="settings",
        cap_bytes=256 * 1024,
    ),
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
    Probe(
        name="pwquality",
        summary="effective password quality for the password stack of the given services "
        "(default: passwd): module active, minlen, credits, classes",
        snippet=files_only,
        files=lambda args: (*PAM_FILES, PWQUALITY_CONF, "/etc/security/pwquality.conf.d/*.conf"),
        parse=parse_pwquality,
        args_schema=_SERVICES_ARGS,
        cap_bytes=2 * 1024 * 1024,
    ),
    Probe(
        name="pwhistory",
        summary="how many old passwords the password stack of the given services (default: "
        "passwd) refuses: pam_pwhistory (arguments over pwhistory.conf) or pam_unix remember=",
        snippet=files_only,
        files=lambda args: (*PAM_FILES, PWHISTORY_CONF),
        parse=parse_pwhistory,
        args_schema=_SERVICES_ARGS,
        cap_bytes=2 * 1024 * 1024,
    ),
    Probe(
        name="faillock",
        summary="effective login-failure lockout (pam_faillock or pam_tally2) in the auth "
        "stack of the given services (default: login and sshd; the weaker one is reported)",
        snippet=files_only,
        files=lambda args: (*PAM_FILES, FAILLOCK_CONF),
        parse=parse_faillock,
        args_schema=_SERVICES_ARGS,
        cap_bytes=2 * 1024 * 1024,
    ),
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
