"""Password history as pam_pwhistory (Linux-PAM 1.5.2) or pam_unix ``remember=`` apply it,
found by running ``pam_chauthtok`` of the service as a user whose new password is one
of the old ones.

pam_pwhistory's ``parse_option``: ``remember=`` (any case) is ``strtol`` kept within
0..400, 10 by default; ``remember=0`` makes the module return PAM_IGNORE. Only builds
from Linux-PAM 1.5.3 on read /etc/security/pwhistory.conf (before the arguments): the
collector asks the module file itself whether it names that file. ``remember`` is the
largest count among the lines whose refusal alone stops the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import files_only, frames_or_error
from scanner.probes.pam.config import Handler
from scanner.probes.pam.dispatch import TooManyWorlds
from scanner.probes.pam.modules import Unmodelled, unix_remember
from scanner.probes.pam.questions import REUSED_PASSWORD, ask, decisive, knowledge_for
from scanner.probes.pam.stack import (
    MODULES_SNIPPET,
    PAM_FILES,
    SERVICES_ARGS,
    HostPam,
    Unreadable,
    host_pam,
    service_names,
    weakest_service,
)

PWHISTORY_CONF = "/etc/security/pwhistory.conf"
PWHISTORY_DEFAULT_REMEMBER = 10  # pam_pwhistory's own default
HISTORY_MODULES = ("pam_pwhistory.so", "pam_unix.so")


def _strtol(text: str) -> int:
    text = text.lstrip(" \t\n\v\f\r")
    sign = -1 if text.startswith("-") else 1
    text = text[1:] if text[:1] in "+-" else text
    digits = ""
    for char in text:
        if not "0" <= char <= "9":
            break
        digits += char
    return sign * int(digits) if digits else 0


def _clamp(value: int) -> int:
    return min(max(value, 0), 400)


def conf_remember(text: str) -> int | None:
    """remember from a pwhistory.conf (``name [=] value``, ``#`` comments); the last wins."""
    found = None
    for line in split_lines(text):
        words = line.split("#", 1)[0].replace("=", " ", 1).split(" ")
        words = [w.strip("\t\v\f\r") for w in words if w.strip("\t\v\f\r")]
        if len(words) >= 2 and words[0].lower() == "remember":
            found = _clamp(_strtol(words[1]))
    return found


def line_remember(handler: Handler, pam: HostPam) -> int:
    """The count one pam_pwhistory line remembers: default, pwhistory.conf (1.5.3+), args."""
    candidates = [PWHISTORY_DEFAULT_REMEMBER]
    reads_conf = any(path in pam.pwhistory_reads_conf for path in pam.module_path(handler))
    if reads_conf or pam.modules is None:  # not listed: either may hold, take the lower
        frame = pam.extra.get(PWHISTORY_CONF)
        if frame is not None and frame.state not in ("ok", "missing"):
            raise Unreadable(f"{PWHISTORY_CONF} is not readable by the collector")
        from_conf = conf_remember(frame.content) if frame and frame.state == "ok" else None
        if from_conf is not None:
            candidates = [from_conf] if reads_conf else [*candidates, from_conf]
    for arg in handler.args:
        if arg.lower().startswith("remember="):
            candidates = [_clamp(_strtol(arg[len("remember="):]))]
    return min(candidates)


def pwhistory_for_service(service: str, pam: HostPam) -> dict[str, Any]:
    loaded = pam.service(service)
    problems = [loaded.load_error] if loaded.load_error else []
    broken = [h for h in loaded.stacks.get("password", ()) if h.kind == "must_fail"]
    if broken:  # every change fails: no quality or history can be told from that
        problems.append(f"{broken[0].file}: {broken[0].why}; libpam fails every change")
    notes: list[str] = []
    knowledge = knowledge_for(pam, pwhistory_remember=lambda h: line_remember(h, pam))
    remembered = 0
    mechanisms: list[str] = []
    if not problems:
        answer = ask(loaded, replace(REUSED_PASSWORD), knowledge)
        if answer.refused is None:
            problems.append(answer.why)
        for _, handler, result in decisive(loaded, REUSED_PASSWORD, knowledge, HISTORY_MODULES):
            count = (line_remember(handler, pam) if handler.name == "pam_pwhistory.so"
                     else unix_remember(handler))
            if not count:
                continue
            if result.refused:
                remembered = max(remembered, count)
                mechanisms.append("pwhistory" if handler.name == "pam_pwhistory.so"
                                  else "pam_unix")
            else:
                notes.append(f"{handler.name} refusing a reused password does not stop the "
                             f"change: {result.why}")
    if not mechanisms:
        notes.append(f"no password history in the password stack of {service}")
    return {"service": service, "mechanism": "+".join(dict.fromkeys(mechanisms)) or "none",
            "remember": remembered, "notes": notes, "problems": problems}


def parse_pwhistory(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    pam = host_pam(frames)
    if not service_names(pam.files):
        return ProbeResult.failed("no files under /etc/pam.d")
    services = list(args.get("services") or ["passwd"])
    try:
        results = {name: pwhistory_for_service(name, pam) for name in services}
    except (Unreadable, Unmodelled, TooManyWorlds) as exc:
        return ProbeResult.failed(f"password history cannot be judged: {exc}")
    return weakest_service(results, "password history", lambda r: int(r["remember"]))


PROBES = (
    Probe(
        name="pwhistory",
        summary="how many old passwords the password stack of the given services (default: "
        "passwd) refuses: pam_pwhistory (arguments over pwhistory.conf) or pam_unix remember=",
        snippet=files_only,
        files=lambda args: (*PAM_FILES, PWHISTORY_CONF),
        shared=(MODULES_SNIPPET,),
        parse=parse_pwhistory,
        args_schema=SERVICES_ARGS,
        cap_bytes=2 * 1024 * 1024,
    ),
)
