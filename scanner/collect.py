"""Build the ONE collector script for a host and parse its framed output into facts.

The script is POSIX ``sh``: it runs unchanged under dash, bash and busybox ash,
locally, over SSH (optionally under ``sudo -n``), or by hand on an air-gapped host.
Each probe runs in its own ``sh -c`` with stdin from /dev/null, under
``timeout`` where the host has it, with its output capped by ``head -c``. Its
output is framed by a marker that is random per run::

    \\n<M> B <index>\\n<payload>\\n<M> E <index> <exit status>\\n

so nothing a host prints (login banners, file contents, forged markers from an
earlier run) can be mistaken for a frame, and a probe cut off mid-way is seen
as unfinished rather than as short output.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from scanner import __version__, probes
from scanner.errors import InputError
from scanner.facts import Facts, HostIdentity
from scanner.probes import ProbeCall, ProbeResult, RawOutput
from scanner.probes._common import first_line, quote
from scanner.transport import Transport, TransportError

TOKEN_PATTERN = re.compile(r"CIIM[0-9a-f]{32}")
_PLAN_LINE = re.compile(rb"(?m)^(CIIM[0-9a-f]{32}) PLAN ([^\n]*)$")

_PRELUDE = r"""#!/bin/sh
# cii-scan {version} collector. Read-only: it reads files and asks tools for their
# state; it writes nothing on this host and needs no network.
# Offline use:  sh collector.sh > collector-output.txt
#               cii-scan evaluate collector-output.txt -b BASELINE
LC_ALL=C; LANG=C; export LC_ALL LANG
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH; export PATH
CII_M={token}; export CII_M
if command -v timeout >/dev/null 2>&1; then cii_t=1; else cii_t=; fi
cii_probe() {{
  printf '\n%s B %s\n' "$CII_M" "$1"
  {{ cii_s=$( {{ {{ if [ -n "$cii_t" ]; then timeout -k 5 "$3" sh -c "$4" </dev/null
      else sh -c "$4" </dev/null; fi; echo "$?" >&3; }} 2>/dev/null |
      head -c "$2" >&4; }} 3>&1 ); }} 4>&1
  printf '\n%s E %s %s\n' "$CII_M" "$1" "$cii_s"
}}
"""


def new_token() -> str:
    return "CIIM" + secrets.token_hex(16)


def build_script(calls: Sequence[ProbeCall], token: str) -> str:
    """The collector script for these probe calls, framed with ``token``."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise ValueError("collector token must come from new_token()")
    plan = json.dumps({"tool": __version__, "calls": [[c.probe, c.args] for c in calls]},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    lines = [_PRELUDE.format(version=__version__, token=token)]
    lines.append(f"printf '%s PLAN %s\\n' \"$CII_M\" {quote(plan)}")
    for index, call in enumerate(calls):
        probe = probes.get(call.probe)
        snippet = probe.snippet(call.args)
        lines.append(f"# {call.key}")
        lines.append(
            f"cii_probe {index} {probe.cap_bytes + 1} {probe.timeout_s} "
            f"{quote(snippet)}"
        )
    lines.append("printf '\\n%s END\\n' \"$CII_M\"")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ParsedOutput:
    results: dict[ProbeCall, ProbeResult]
    complete: bool  # the END marker was seen
    frames_seen: int  # probes whose output began; 0 means the script never ran


def parse_output(output: bytes, calls: Sequence[ProbeCall], token: str) -> ParsedOutput:
    """Recover each probe's frame from the collector's stdout and interpret it."""
    mark = re.escape(token.encode())
    begins = {int(m.group(1)): m for m in re.finditer(rb"\n" + mark + rb" B (\d{1,6})\n", output)}
    ends = {int(m.group(1)): m for m in
            re.finditer(rb"\n" + mark + rb" E (\d{1,6}) (\d{0,3})\n", output)}
    complete = re.search(rb"\n" + mark + rb" END\n", output) is not None
    results: dict[ProbeCall, ProbeResult] = {}
    for index, call in enumerate(calls):
        begin = begins.get(index)
        if begin is None:
            results[call] = ProbeResult.failed(
                "the collector never reached this probe (output ended early)")
            continue
        end = ends.get(index)
        cap = probes.get(call.probe).cap_bytes
        if end is None or end.start() < begin.end():
            stop = len(output)
            later = [m.start() for i, m in begins.items() if i > index]
            if later:
                stop = min(later)
            raw = RawOutput(output[begin.end():stop], None, token=token)
        else:
            payload = output[begin.end():end.start()]
            status_text = end.group(2).decode()
            status = int(status_text) if status_text else None
            truncated = len(payload) > cap
            raw = RawOutput(payload[:cap], status if status is not None else 137,
                            truncated=truncated, token=token)
        results[call] = probes.interpret(call, raw)
    return ParsedOutput(results, complete, len(begins))


def parse_standalone(output: bytes, source: str) -> tuple[list[ProbeCall], ParsedOutput]:
    """Parse a collector-script output file by itself (offline evaluation)."""
    match = _PLAN_LINE.search(output)
    if match is None:
        raise InputError(source, "not collector output: no cii-scan PLAN line found")
    try:
        plan = json.loads(match.group(2))
        calls = [ProbeCall.of(str(name), dict(args)) for name, args in plan["calls"]]
    except (ValueError, KeyError, TypeError):
        raise InputError(source, "collector output has a damaged PLAN line") from None
    unknown = [c.probe for c in calls if c.probe not in probes.catalog()]
    if unknown:
        raise InputError(source, f"collector output uses unknown probe {unknown[0]!r} "
                         "(written by a newer cii-scan?)")
    return calls, parse_output(output, calls, match.group(1).decode())


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def collect(transport: Transport, host: HostIdentity, calls: Sequence[ProbeCall]) -> Facts:
    """Run the collector once through ``transport``; raise TransportError if it never ran."""
    token = new_token()
    script = build_script(calls, token)
    collected_at = utc_now()
    started = time.monotonic()
    result = transport.run(script)
    parsed = parse_output(result.stdout, calls, token)
    if parsed.frames_seen == 0:
        why = first_line(result.stderr_tail) or f"exit status {result.exit_status}"
        raise TransportError("error", f"the collector script did not run: {why}")
    return Facts(
        host=replace(host, hostkey_fingerprint=result.hostkey_fingerprint
                     or host.hostkey_fingerprint),
        results=parsed.results,
        collected_at=collected_at,
        duration_s=time.monotonic() - started,
    )
