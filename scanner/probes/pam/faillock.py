"""Login-failure lockout as pam_faillock (Linux-PAM 1.5.2) applies it, found by running
the auth stack (:func:`scanner.probes.pam.questions.lockout`): wrong passwords one after
another until the right one is refused, then the right one again later, at each moment a
faillock line's ``unlock_time`` runs out. Each line has its own options (defaults, its
conf file, its arguments), as each pam_faillock call parses its own.

``deny`` is the number of failures after which the right password is refused, in the
weakest case; ``unlock_time`` how long it stays refused (0: until an administrator
unlocks). pam_tally2 (gone from Linux-PAM 1.5) is read from its first line's arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import files_only, frames_or_error
from scanner.probes.pam.dispatch import TooManyWorlds
from scanner.probes.pam.faillock_conf import (
    FAILLOCK_CONF,
    FAILLOCK_DEFAULTS,
    MAX_TIME_INTERVAL,
    leading_unsigned,
)
from scanner.probes.pam.modules import Unmodelled, faillock_action
from scanner.probes.pam.questions import faillock_options_for, knowledge_for, lockout
from scanner.probes.pam.stack import (
    MODULES_SNIPPET,
    PAM_FILES,
    SERVICES_ARGS,
    HostPam,
    Unreadable,
    control_fails_closed,
    control_text,
    host_pam,
    service_names,
    weakest_service,
)

__all__ = ["FAILLOCK_CONF", "FAILLOCK_DEFAULTS", "parse_faillock"]


def _tally2(handlers: list[Any], result: dict[str, Any], notes: list[str]) -> None:
    line = handlers[0]
    options: dict[str, Any] = {"deny": 0, "unlock_time": 0, "even_deny_root": False,
                               "root_unlock_time": None}
    for arg in line.args:
        name, _, value = arg.partition("=")
        if name in ("deny", "unlock_time", "root_unlock_time"):
            number = leading_unsigned(value, 32)
            if number is not None:
                options[name] = number
        elif name == "even_deny_root":
            options["even_deny_root"] = True
    control = control_text(line)
    if control_fails_closed(control, "auth_err"):
        result["mechanism"] = "tally2"
    else:
        notes.append(f"pam_tally2 control {control!r} does not stop a locked account")
    result.update(deny=options["deny"], unlock_time=options["unlock_time"],
                  even_deny_root=bool(options["even_deny_root"]),
                  root_unlock_time=options["root_unlock_time"])


def faillock_for_service(service: str, pam: HostPam) -> dict[str, Any]:
    loaded = pam.service(service)
    result: dict[str, Any] = {"service": service, "mechanism": "none", "deny": None,
                              "unlock_time": None, "even_deny_root": None,
                              "root_unlock_time": None}
    notes: list[str] = []
    problems: list[str] = []
    if loaded.load_error:
        problems.append(loaded.load_error)
    auth = list(loaded.stacks.get("auth", ()))
    broken = [h for h in auth if h.kind == "must_fail"]
    if broken:  # the stack refuses everyone: no lockout can be told from that
        problems.append(f"{broken[0].file}: {broken[0].why}; libpam fails every login")
    faillock = [h for h in auth if h.kind == "module" and h.name == "pam_faillock.so"]
    tally2 = [h for h in auth if h.kind == "module" and h.name == "pam_tally2.so"]
    if not faillock and tally2:
        _tally2(tally2, result, notes)
    elif not problems:
        found = lockout(loaded, knowledge_for(pam))
        if not found.certain:
            problems.append("the weakest lockout depends on a module the scanner does not "
                            "model succeeding")
        if found.deny is None:
            notes.append(f"the right password still gets in after {64} wrong ones: no "
                         f"lockout in the auth stack of {service}")
            if faillock and not any(faillock_action(h) == "authfail" for h in faillock):
                notes.append("pam_faillock has no authfail line: failures are never counted")
        else:
            result.update(mechanism="faillock" if faillock else "stack", deny=found.deny,
                          unlock_time=found.unlock_time)
        first = next((h for h in faillock if faillock_action(h) == "preauth"),
                     faillock[0] if faillock else None)
        options = faillock_options_for(pam)(first) if first is not None else None
        if options and not options.get("error"):
            result.update(even_deny_root=bool(options.get("even_deny_root")),
                          root_unlock_time=options.get("root_unlock_time"))
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
    pam = host_pam(frames)
    if not service_names(pam.files):
        return ProbeResult.failed("no files under /etc/pam.d")
    services = list(args.get("services") or ["login", "sshd"])
    try:
        results = {name: faillock_for_service(name, pam) for name in services}
    except (Unreadable, Unmodelled, TooManyWorlds) as exc:
        return ProbeResult.failed(f"lockout cannot be judged: {exc}")
    return weakest_service(results, "lockout", _lockout_strength)


PROBES = (
    Probe(
        name="faillock",
        summary="effective login-failure lockout (pam_faillock or pam_tally2) in the auth "
        "stack of the given services (default: login and sshd; the weaker one is reported)",
        snippet=files_only,
        files=lambda args: (*PAM_FILES, FAILLOCK_CONF),
        shared=(MODULES_SNIPPET,),
        parse=parse_faillock,
        args_schema=SERVICES_ARGS,
        cap_bytes=2 * 1024 * 1024,
    ),
)
