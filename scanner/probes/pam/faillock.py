"""Login-failure lockout as pam_faillock (and pam_tally2) apply it: the .conf file
first, the module's arguments on top.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import (
    FileFrame,
    files_only,
    frames_or_error,
)
from scanner.probes.pam.stack import (
    PAM_FILES,
    SERVICES_ARGS,
    control_fails_closed,
    pam_files,
    resolve_service,
    service_names,
)

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
    for line in split_lines(text):
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
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    files = pam_files(frames)
    if not service_names(files):
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


PROBES = (
    Probe(
        name="faillock",
        summary="effective login-failure lockout (pam_faillock or pam_tally2) in the auth "
        "stack of the given services (default: login and sshd; the weaker one is reported)",
        snippet=files_only,
        files=lambda args: (*PAM_FILES, FAILLOCK_CONF),
        parse=parse_faillock,
        args_schema=SERVICES_ARGS,
        cap_bytes=2 * 1024 * 1024,
    ),
)
