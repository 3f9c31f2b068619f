"""The SSH daemon's effective configuration, as the daemon itself computes it.

``sshd -T`` applies Include files, first-value-wins, defaults and keyword case
exactly as the daemon will, so rules never re-implement sshd_config parsing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import decode, first_line, quote

# Keywords whose value is a comma-separated list of algorithms.
ALGORITHM_LIST_KEYWORDS = frozenset(
    {
        "ciphers",
        "macs",
        "kexalgorithms",
        "hostkeyalgorithms",
        "pubkeyacceptedalgorithms",
        "pubkeyacceptedkeytypes",
        "hostbasedacceptedalgorithms",
        "hostbasedacceptedkeytypes",
        "casignaturealgorithms",
        "gssapikexalgorithms",
    }
)
# Keywords sshd -T may print more than once; their value is always a list.
REPEATABLE_KEYWORDS = frozenset(
    {
        "hostkey",
        "listenaddress",
        "port",
        "acceptenv",
        "setenv",
        "subsystem",
        "hostcertificate",
        "allowusers",
        "denyusers",
        "allowgroups",
        "denygroups",
        "authenticationmethods",
        "include",
        "permitopen",
        "permitlisten",
    }
)
_ABSENT_MARK = "cii:sshd-absent"


def _snippet(args: Mapping[str, Any]) -> str:
    connection = args.get("connection")
    spec = f" -C {quote(str(connection))}" if connection else ""
    return (
        "s=$(command -v sshd 2>/dev/null); "
        '[ -n "$s" ] || { [ -x /usr/sbin/sshd ] && s=/usr/sbin/sshd; }; '
        f'if [ -z "$s" ]; then echo {_ABSENT_MARK}; exit 0; fi; '
        f'"$s" -T{spec} 2>&1'
    )


def parse_sshd_t(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    text = decode(raw.payload)
    if text.strip() == _ABSENT_MARK:
        return ProbeResult.absent("no sshd binary on the host (OpenSSH server not installed)")
    if raw.exit_status != 0:
        reason = first_line(text) or f"exit status {raw.exit_status}"
        if "hostkey" in reason.lower() or "permission denied" in reason.lower():
            reason += " (sshd -T must run as root: scan as root or with --sudo)"
        return ProbeResult.failed(f"sshd -T failed: {reason}")
    settings: dict[str, Any] = {}
    for line in split_lines(text):
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        keyword = parts[0].lower()
        value = parts[1].strip() if len(parts) > 1 else ""
        if keyword in ALGORITHM_LIST_KEYWORDS:
            settings[keyword] = [item for item in value.split(",") if item]
        elif keyword in REPEATABLE_KEYWORDS:
            settings.setdefault(keyword, []).append(value)
        elif keyword not in settings:
            settings[keyword] = value
    if not settings:
        return ProbeResult.failed("sshd -T printed no settings")
    return ProbeResult.ok({"settings": settings})


PROBES = (
    Probe(
        name="sshd_effective",
        summary="the SSH daemon's effective settings from `sshd -T` (keywords lower-case)",
        snippet=_snippet,
        parse=parse_sshd_t,
        keyed="settings",
        args_schema={
            "type": "object",
            "properties": {
                "connection": {
                    "description": "sshd -C connection spec for Match blocks, "
                    "e.g. user=root,host=admin,addr=10.0.0.1",
                    "type": "string",
                    "pattern": "^[A-Za-z0-9_.,:=@/-]{1,256}$",
                }
            },
            "additionalProperties": False,
        },
        cap_bytes=256 * 1024,
    ),
)
