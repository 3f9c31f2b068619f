"""Kernel state as the running kernel reports it now (not what a config file wishes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import decode, print_lines, quote

SYSCTL_NAME = {"type": "string", "pattern": "^[a-z0-9_]+(\\.[a-zA-Z0-9_-]+)+$", "maxLength": 200}


def _sysctl_snippet(args: Mapping[str, Any]) -> str:
    path = quote("/proc/sys/" + str(args["name"]).replace(".", "/"))
    # A /proc/sys entry is a regular file of size 0: the shell's own read prints it
    # without starting a process. Anything else bound over the path (a real file, a
    # device) goes through cat, whose output the collector caps.
    return (
        f"f={path}; "
        'if [ -r "$f" ]; then '
        'if [ -f "$f" ] && ! [ -s "$f" ]; then '
        + print_lines('"$f"') + "; "
        'else cat -- "$f"; fi; '
        "elif [ -e \"$f\" ]; then echo 'cii:unreadable'; false; "
        "else echo 'cii:missing'; fi"
    )


def parse_sysctl(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    text = decode(raw.payload).strip()
    name = args.get("name", "")
    if text == "cii:unreadable" or raw.exit_status != 0:
        return ProbeResult.failed(f"/proc/sys entry for {name} is not readable by the collector")
    if text == "cii:missing":
        return ProbeResult.absent(f"the running kernel has no sysctl {name}")
    return ProbeResult.ok({"name": name, "value": " ".join(text.split())})


PROBES = (
    Probe(
        name="sysctl",
        summary="one kernel parameter's runtime value, read from /proc/sys",
        snippet=_sysctl_snippet,
        parse=parse_sysctl,
        subject="value",
        args_schema={
            "type": "object",
            "properties": {"name": SYSCTL_NAME},
            "required": ["name"],
            "additionalProperties": False,
        },
        cap_bytes=64 * 1024,
        timeout_s=10,
    ),
)
