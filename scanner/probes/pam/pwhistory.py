"""Password history as pam_pwhistory (arguments over pwhistory.conf) or pam_unix
``remember=`` apply it.
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
    to_int,
)
from scanner.probes.pam.stack import (
    PAM_FILES,
    SERVICES_ARGS,
    control_fails_closed,
    pam_files,
    resolve_service,
    service_names,
)

PWHISTORY_CONF = "/etc/security/pwhistory.conf"
PWHISTORY_DEFAULT_REMEMBER = 10  # pam_pwhistory's own default


def _read_remember(text: str, current: int) -> int:
    """remember from a pwhistory.conf-format file (``name [=] value``, ``#`` comments)."""
    for line in split_lines(text):
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
    frames, problem = frames_or_error(raw)
    if problem:
        return problem
    files = pam_files(frames)
    if not service_names(files):
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


PROBES = (
    Probe(
        name="pwhistory",
        summary="how many old passwords the password stack of the given services (default: "
        "passwd) refuses: pam_pwhistory (arguments over pwhistory.conf) or pam_unix remember=",
        snippet=files_only,
        files=lambda args: (*PAM_FILES, PWHISTORY_CONF),
        parse=parse_pwhistory,
        args_schema=SERVICES_ARGS,
        cap_bytes=2 * 1024 * 1024,
    ),
)
