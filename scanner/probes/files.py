"""Files: metadata only. Content is read only by purpose-built probes that reduce it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.lines import split_lines
from scanner.probes import Probe, ProbeResult, RawOutput
from scanner.probes._common import decode, first_line, quote, to_int

ABSOLUTE_PATH = {"type": "string", "pattern": "^/[^\\x00]*$", "maxLength": 4096}


def _stat_snippet(args: Mapping[str, Any]) -> str:
    path = quote(str(args["path"]))
    return (
        f"p={path}; "
        'if [ -e "$p" ]; then '
        "stat -L -c 'stat %a %u %g %U %G %s %F' -- \"$p\" 2>&1 && "
        # ls marks a POSIX ACL (or another alternate access method) with '+' after
        # the mode; stat's %a then shows the ACL mask as the group bits, not who may read
        "{ ls -ldL -- \"$p\" 2>/dev/null | "
        "{ read -r m rest; printf 'lsmode %s\\n' \"$m\"; }; }; "
        'elif [ -L "$p" ]; then echo dangling; '
        "else echo missing; fi"
    )


def parse_stat(raw: RawOutput, args: Mapping[str, Any]) -> ProbeResult:
    lines = split_lines(decode(raw.payload))
    ls_mode = lines.pop()[len("lsmode "):] if len(lines) > 1 and lines[-1].startswith(
        "lsmode ") else None
    text = "\n".join(lines).strip()
    if raw.exit_status != 0:
        return ProbeResult.failed(f"stat failed: {first_line(text) or 'no output'}")
    if text == "missing":
        return ProbeResult.ok({"exists": False})
    if text == "dangling":
        return ProbeResult.ok({"exists": False, "dangling_link": True})
    parts = text.split(" ", 7)
    if len(parts) < 8 or parts[0] != "stat":
        return ProbeResult.failed(f"unexpected stat output: {first_line(text)!r}")
    mode_octal, uid, gid, owner, group, size, file_type = parts[1:8]
    try:
        mode = int(mode_octal, 8)
    except ValueError:
        return ProbeResult.failed(f"unexpected file mode {mode_octal!r}")
    data: dict[str, Any] = {
        "exists": True,
        "mode": f"{mode:04o}",
        "uid": to_int(uid),
        "gid": to_int(gid),
        "owner": owner,
        "group": group,
        "size": to_int(size),
        "type": file_type,
        # None: ls did not say (then nothing is known about ACLs)
        "acl": None if ls_mode is None or len(ls_mode) < 10 else ls_mode[10:11] == "+",
    }
    if data["acl"] is None:
        data["unobservable"] = {"acl": "ls did not show whether the file has an ACL"}
    return ProbeResult.ok(data)


PROBES = (
    Probe(
        name="file",
        summary="existence, type, mode, owner and group of one path, and whether it has an "
        "ACL (never its content)",
        snippet=_stat_snippet,
        parse=parse_stat,
        args_schema={
            "type": "object",
            "properties": {"path": ABSOLUTE_PATH},
            "required": ["path"],
            "additionalProperties": False,
        },
        cap_bytes=16 * 1024,
    ),
)
