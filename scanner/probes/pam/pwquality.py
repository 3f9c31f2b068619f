"""Password quality as libpwquality and pam_pwquality apply it.

libpwquality reads ``pwquality.conf.d/*.conf`` *before* ``pwquality.conf`` and stops
reading at the first bad line; the module's arguments apply on top.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import files_only, frames_or_error, unreadable_paths
from scanner.probes.pam.config import Handler
from scanner.probes.pam.dispatch import TooManyWorlds
from scanner.probes.pam.modules import AUTHTOK_ERR, MAXTRIES, Unmodelled
from scanner.probes.pam.questions import WEAK_PASSWORD, ask, decisive, knowledge_for
from scanner.probes.pam.stack import (
    MODULES_SNIPPET,
    PAM_FILES,
    SERVICES_ARGS,
    HostPam,
    Unreadable,
    host_pam,
    pam_args,
    service_names,
)

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
    for line in split_lines(text):
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


def line_settings(handler: Handler, conf_settings: Mapping[str, Any]
                  ) -> tuple[dict[str, Any], list[str]]:
    """One pam_pwquality (or pam_cracklib) line's settings: the configuration (pam_cracklib
    reads none), then its arguments."""
    settings = dict(CRACKLIB_DEFAULTS if handler.name == "pam_cracklib.so" else conf_settings)
    notes = []
    for name, value in pam_args(handler.args).items():
        if name in _PAM_ONLY_ARGS:
            continue
        if not _pwq_set(settings, name, "" if value is True else str(value)):
            notes.append(f"{handler.name} argument {name!r} is not understood")
    return settings, notes


def pwquality_for_service(service: str, pam: HostPam, conf_settings: Mapping[str, Any]
                          ) -> dict[str, Any]:
    """Run ``pam_chauthtok`` of ``service`` as a user with a password the quality modules
    reject: it must be refused. The settings judged are those of the lines whose refusal
    alone fails the change (a new password must pass every one of them)."""
    loaded = pam.service(service)
    problems = [loaded.load_error] if loaded.load_error else []
    broken = [h for h in loaded.stacks.get("password", ()) if h.kind == "must_fail"]
    if broken:  # every change fails: no quality or history can be told from that
        problems.append(f"{broken[0].file}: {broken[0].why}; libpam fails every change")
    lines = [h for h in loaded.stacks.get("password", ())
             if h.kind == "module" and h.name in QUALITY_MODULES]
    settings_of = {id(h): line_settings(h, conf_settings) for h in lines}
    def refusal(handler: Handler) -> int | None:
        settings = settings_of.get(id(handler), (dict(conf_settings), []))[0]
        if int(settings.get("enforcing", 1)) == 0:
            return None
        return MAXTRIES if int(settings.get("retry", 1)) > 1 else AUTHTOK_ERR

    knowledge = knowledge_for(pam, pwquality_refusal=refusal)
    notes: list[str] = []
    for _, line_notes in settings_of.values():
        notes += line_notes
    refused = ask(loaded, replace(WEAK_PASSWORD), knowledge) if not problems else None
    if refused is not None and refused.refused is None:
        problems.append(refused.why)
    deciding = [h for _, h, a in decisive(loaded, WEAK_PASSWORD, knowledge, QUALITY_MODULES)
                if a.refused] if not problems else []
    if not lines:
        notes.append(f"neither pam_pwquality nor pam_cracklib is in the password stack of "
                     f"{service}")
    elif not deciding:
        notes.append(f"no {lines[0].name} line's refusal stops a password change through "
                     f"{service}")
    elif refused is not None and refused.refused is False:
        notes.append("a rejected password still gets through: " + refused.why)
    chosen = [settings_of[id(h)][0] for h in deciding] or [dict(conf_settings)]
    credits_all = [{c: int(st.get(c, 0)) for c in CREDITS} for st in chosen]
    lengths = [effective_min_length(int(st.get("minlen", 8)), cr)
               for st, cr in zip(chosen, credits_all, strict=True)]
    classes = [max(int(st.get("minclass", 0)), sum(1 for v in cr.values() if v < 0))
               for st, cr in zip(chosen, credits_all, strict=True)]
    strongest = max(range(len(chosen)), key=lambda i: (lengths[i], classes[i]))
    settings = chosen[strongest]
    credits = credits_all[strongest]
    return {
        "service": service,
        "module": deciding[0].name if deciding else (lines[0].name if lines else None),
        "module_active": bool(deciding) and refused is not None and refused.refused is True,
        "minlen": int(settings.get("minlen", 8)),
        "min_length": max(lengths),
        "minclass": int(settings.get("minclass", 0)),
        **credits,
        "required_classes": sum(1 for value in credits.values() if value < 0),
        "classes": max(classes),
        "enforce_for_root": bool(settings.get("enforce_for_root", 0)),
        "settings": settings,
        "notes": notes,
        "problems": problems,
    }


def parse_pwquality(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    pam = host_pam(frames)
    if not service_names(pam.files):
        return ProbeResult.failed("no files under /etc/pam.d")
    conf_frames = [f for f in frames if f.path == PWQUALITY_CONF]
    dropins = sorted((f for f in frames if f.path.startswith(PWQUALITY_DROPINS)
                      and f.path.endswith(".conf")), key=lambda f: f.path.encode())
    blocked = unreadable_paths([*conf_frames, *dropins])
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
    try:
        results = {name: pwquality_for_service(name, pam, settings) for name in services}
    except (Unreadable, Unmodelled, TooManyWorlds) as exc:
        return ProbeResult.failed(f"password quality cannot be judged: {exc}")
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


PROBES = (
    Probe(
        name="pwquality",
        summary="effective password quality for the password stack of the given services "
        "(default: passwd): module active, minlen, credits, classes",
        snippet=files_only,
        files=lambda args: (*PAM_FILES, PWQUALITY_CONF, "/etc/security/pwquality.conf.d/*.conf"),
        shared=(MODULES_SNIPPET,),
        parse=parse_pwquality,
        args_schema=SERVICES_ARGS,
        cap_bytes=2 * 1024 * 1024,
    ),
)
