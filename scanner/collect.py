"""Build the ONE collector script for a host and parse its framed output into facts.

The script is POSIX ``sh``: it runs unchanged under dash, bash and busybox ash,
locally, over SSH (optionally under ``sudo -n``), or by hand on an air-gapped host.

The probe calls are cut into *parts*: each call's own snippet, and one part per
file word the calls name (``Probe.files``). Identical parts run once, so eight PAM
probes read /etc/pam.d once. Each part runs in a subshell with stdin from
/dev/null, and its output is framed by a marker that is random per run::

    \n<M> B <part>\n<payload>\n<M> E <part> <exit status>\n

so nothing a host prints (login banners, file contents, forged markers from an
earlier run) can be mistaken for a frame, and a part cut off mid-way is seen as
unfinished rather than as short output.

Parts run in *batches*: one ``sh`` under one ``timeout`` (where the host has it)
with one ``head -c`` bounding the batch's output, instead of three processes per
part. A batch that does not finish (a part hangs past the time limit, or the
batch's output passes its bound) is cut where it stopped; the part that was
running is run again alone, within its own time limit and output cap, and a new
batch carries on after it. So one hung or flooding part costs only itself, and
the common case costs one ``timeout``, one ``sh`` and one ``head`` per host.
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
from scanner.probes._common import dump_files, first_line, quote
from scanner.transport import Transport, TransportError

TOKEN_PATTERN = re.compile(r"CIIM[0-9a-f]{32}")
_PLAN_LINE = re.compile(rb"(?m)^(CIIM[0-9a-f]{32}) PLAN ([^\n]*)$")
# Framing version in the PLAN line; output of another framing is refused offline.
FRAMING = 2
# What one batch may print before it is cut and its running part rerun alone. Well
# above a whole host's usual output (about 300 KiB for the shipped baseline).
BATCH_CAP_BYTES = 2 * 1024 * 1024
# Room for a part's own frame lines inside its solo output bound.
_FRAME_SLACK_BYTES = 256
# One argument of the inner ``sh -c`` holds at most this much part text: Linux
# refuses any single argument over 128 KiB (MAX_ARG_STRLEN).
_CHUNK_BYTES = 96 * 1024
# Batches cut short before the host's output bound is reached: beyond this many,
# the rest of the script's output can be cut by the transport (and reads as error).
_FLOODS_BUDGETED = 8

_PRELUDE = r"""#!/bin/sh
# cii-scan {version} collector. Read-only: it reads files and asks tools for their
# state; it writes nothing on this host and needs no network.
# Offline use:  sh collector.sh > collector-output.txt
#               cii-scan evaluate collector-output.txt -b BASELINE
LC_ALL=C; LANG=C; export LC_ALL LANG
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH; export PATH
CII_M={token}; export CII_M
if command -v timeout >/dev/null 2>&1; then cii_t=1; else cii_t=; fi
"""

# Runs parts $1 up to (not including) $2; the rest of the arguments define the part
# functions. After each part it reports the part's number on fd 3.
_INNER = r"""cii_i=$1; cii_e=$2; shift 2
for cii_c in "$@"; do eval "$cii_c"; done
while [ "$cii_i" -lt "$cii_e" ]; do
  printf '\n%s B %s\n' "$CII_M" "$cii_i"
  "cii_p$cii_i" </dev/null
  printf '\n%s E %s %s\n' "$CII_M" "$cii_i" "$?"
  printf ' %s' "$cii_i" >&3
  cii_i=$((cii_i + 1))
done
"""

_DRIVER = r"""# cii_go FIRST END BYTES SECONDS: run parts FIRST..END-1 as one batch. Sets cii_d (the
# last part that finished, or empty) and cii_s (the batch's exit status).
cii_go() {{
  {{ cii_r=$( {{ {{ if [ -n "$cii_t" ]; then
        timeout -k 5 "$4" sh -c "$cii_inner" cii "$1" "$2" {chunks}
      else sh -c "$cii_inner" cii "$1" "$2" {chunks}; fi
      printf ' x%s' "$?" >&3; }} 2>/dev/null | head -c "$3" >&4; }} 3>&1 ); }} 4>&1
  cii_s=${{cii_r##*x}}; cii_r=${{cii_r% x*}}; cii_d=${{cii_r##* }}
}}
cii_i=0
while [ "$cii_i" -lt {count} ]; do
  cii_limits "$cii_i"
  cii_go "$cii_i" "$cii_e" {batch_cap} "$cii_to"
  if [ "$cii_d" = "$((cii_e - 1))" ]; then cii_i=$cii_e; continue; fi
  if [ -n "$cii_d" ]; then cii_i=$((cii_d + 1)); fi
  # part $cii_i did not finish in the batch: run it alone, within its own limits
  cii_limits "$cii_i"
  cii_go "$cii_i" "$((cii_i + 1))" "$cii_c" "$cii_to"
  [ "$cii_d" = "$cii_i" ] || printf '\n%s X %s %s\n' "$CII_M" "$cii_i" "$cii_s"
  cii_i=$((cii_i + 1))
done
printf '\n%s END\n' "$CII_M"
"""


def new_token() -> str:
    return "CIIM" + secrets.token_hex(16)


@dataclass(frozen=True)
class Part:
    """One piece of sh the collector runs once, whichever calls need its output."""

    text: str
    label: str  # for the script's comments: the first call or file word that needs it
    cap_bytes: int
    timeout_s: int


@dataclass(frozen=True)
class Plan:
    parts: tuple[Part, ...]
    # for each call, the parts whose outputs make up its output, in order
    uses: tuple[tuple[int, ...], ...]


def plan_parts(calls: Sequence[ProbeCall]) -> Plan:
    """Cut the calls into parts, running identical sh once."""
    texts: list[str] = []
    labels: list[str] = []
    caps: list[int] = []
    timeouts: list[int] = []
    index_of: dict[str, int] = {}
    uses: list[tuple[int, ...]] = []

    def part(text: str, label: str, cap: int, timeout: int) -> int:
        found = index_of.get(text)
        if found is None:
            found = index_of[text] = len(texts)
            texts.append(text)
            labels.append(label)
            caps.append(cap)
            timeouts.append(timeout)
        else:
            caps[found] = max(caps[found], cap)
            timeouts[found] = max(timeouts[found], timeout)
        return found

    for call in calls:
        probe = probes.get(call.probe)
        mine: list[int] = []
        own = probe.snippet(call.args)
        if own:
            mine.append(part(own, call.key, probe.cap_bytes, probe.timeout_s))
        for word in probe.files(call.args) if probe.files else ():
            mine.append(part(dump_files(word), f"files {word}", probe.cap_bytes,
                             probe.timeout_s))
        if not mine:
            raise ValueError(f"probe {call.probe!r} has neither a snippet nor files")
        uses.append(tuple(mine))
    parts = tuple(Part(*fields) for fields in zip(texts, labels, caps, timeouts, strict=True))
    return Plan(parts, tuple(uses))


def standalone_snippet(call: ProbeCall) -> str:
    """One call's sh by itself, its file reads included (for capture tools and tests)."""
    probe = probes.get(call.probe)
    pieces = [probe.snippet(call.args)]
    pieces += [dump_files(word) for word in (probe.files(call.args) if probe.files else ())]
    return "; ".join(piece for piece in pieces if piece)


def output_bound(calls: Sequence[ProbeCall]) -> int:
    """Bytes a host may send back for these calls before the transport stops reading.

    Room for every call's full cap, frames, the script's own echo and a few batches cut
    by a flood. A host that sends more has its output cut there; whatever had not
    arrived is then ``error``, never ``pass``.
    """
    caps = sum(probes.get(call.probe).cap_bytes for call in calls)
    frames = len(plan_parts(calls).parts) * 2 * _FRAME_SLACK_BYTES
    return (caps + frames + _FLOODS_BUDGETED * BATCH_CAP_BYTES
            + len(build_script(calls, new_token())))


def _limits_function(parts: Sequence[Part]) -> str:
    """sh: cii_limits N sets part N's solo output bound, time limit and batch end.

    A batch runs consecutive parts with the same time limit, so a part with a short
    limit is never held to a longer one, nor cut short by its neighbours' work.
    """
    cases = []
    for index, part in enumerate(parts):
        end = index + 1
        while end < len(parts) and parts[end].timeout_s == part.timeout_s:
            end += 1
        cases.append(f"  {index}) cii_c={part.cap_bytes + 1 + _FRAME_SLACK_BYTES}; "
                     f"cii_to={part.timeout_s}; cii_e={end} ;;")
    return "cii_limits() {\n  case $1 in\n" + "\n".join(cases) + "\n  esac\n}\n"


def _part_chunks(parts: Sequence[Part]) -> list[str]:
    """The part functions' definitions, in arguments small enough for execve."""
    chunks: list[str] = []
    current = ""
    for index, part in enumerate(parts):
        label = part.label.replace("\n", " ")
        definition = f"# {label}\ncii_p{index}() (\n{part.text}\n)\n"
        if len(definition.encode()) > _CHUNK_BYTES:
            raise ValueError(f"probe sh for {label[:80]!r} is too long for one argument")
        if current and len((current + definition).encode()) > _CHUNK_BYTES:
            chunks.append(current)
            current = ""
        current += definition
    if current:
        chunks.append(current)
    return chunks


def build_script(calls: Sequence[ProbeCall], token: str) -> str:
    """The collector script for these probe calls, framed with ``token``."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise ValueError("collector token must come from new_token()")
    plan = json.dumps({"tool": __version__, "framing": FRAMING,
                       "calls": [[c.probe, c.args] for c in calls]},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    parts = plan_parts(calls).parts
    chunks = _part_chunks(parts)
    lines = [_PRELUDE.format(version=__version__, token=token),
             f"printf '%s PLAN %s\\n' \"$CII_M\" {quote(plan)}",
             f"cii_inner={quote(_INNER)}"]
    lines += [f"cii_p{n}={quote(chunk)}" for n, chunk in enumerate(chunks)]
    lines.append(_limits_function(parts))
    lines.append(_DRIVER.format(chunks=" ".join(f'"$cii_p{n}"' for n in range(len(chunks))),
                                count=len(parts), batch_cap=BATCH_CAP_BYTES))
    return "\n".join(lines)


@dataclass(frozen=True)
class ParsedOutput:
    results: dict[ProbeCall, ProbeResult]
    complete: bool  # the END marker was seen
    frames_seen: int  # parts whose output began; 0 means the script never ran


@dataclass(frozen=True)
class _PartOutput:
    payload: bytes
    exit_status: int | None  # None: neither an end frame nor a recorded exit status
    truncated: bool


def _part_outputs(output: bytes, parts: Sequence[Part], token: str) -> dict[int, _PartOutput]:
    """Each begun part's output, from its last attempt (a rerun follows a cut batch)."""
    mark = re.escape(token.encode())
    frame = re.compile(rb"\n" + mark + rb" (B|E|X) (\d{1,6})(?: (\d{0,3}))?\n|\n" + mark
                       + rb" END\n")
    found: dict[int, _PartOutput] = {}
    open_part: tuple[int, int] | None = None  # (part, where its payload starts)

    def close(stop: int, status: int | None) -> None:
        """End the open part's payload at ``stop``; a None status: it never finished."""
        nonlocal open_part
        if open_part is not None:
            index, start = open_part
            payload = output[start:stop]
            found[index] = _PartOutput(payload, status, len(payload) > parts[index].cap_bytes)
            open_part = None

    for match in frame.finditer(output):
        kind = match.group(1)
        index = int(match.group(2)) if kind is not None else -1
        if not 0 <= index < len(parts):  # END, or a part number this plan does not have
            close(match.start(), None)
        elif kind == b"B":
            close(match.start(), None)
            open_part = (index, match.end())
        elif open_part is not None and open_part[0] == index:
            # E: the part finished with this status (none: killed by a signal);
            # X: the batch running it alone stopped with this status before the E
            close(match.start(), int(match.group(3)) if match.group(3) else 137)
    close(len(output), None)
    return found


def _assemble(call: ProbeCall, uses: Sequence[int], outputs: dict[int, _PartOutput],
              token: str) -> ProbeResult:
    pieces = [outputs.get(index) for index in uses]
    if any(piece is None for piece in pieces):
        return ProbeResult.failed("the collector never reached this probe (output ended early)")
    done = [piece for piece in pieces if piece is not None]
    statuses = [piece.exit_status for piece in done]
    status: int | None
    if None in statuses:
        status = None
    elif 124 in statuses:
        status = 124
    else:
        status = statuses[0]
    payload = b"".join(piece.payload for piece in done)
    cap = probes.get(call.probe).cap_bytes
    truncated = any(piece.truncated for piece in done) or len(payload) > cap
    return probes.interpret(call, RawOutput(payload[:cap], status, truncated=truncated,
                                            token=token))


def parse_output(output: bytes, calls: Sequence[ProbeCall], token: str) -> ParsedOutput:
    """Recover each call's output from the collector's stdout and interpret it."""
    plan = plan_parts(calls)
    outputs = _part_outputs(output, plan.parts, token)
    complete = re.search(rb"\n" + re.escape(token.encode()) + rb" END\n", output) is not None
    results = {call: _assemble(call, plan.uses[index], outputs, token)
               for index, call in enumerate(calls)}
    return ParsedOutput(results, complete, len(outputs))


def parse_standalone(output: bytes, source: str) -> tuple[list[ProbeCall], ParsedOutput]:
    """Parse a collector-script output file by itself (offline evaluation)."""
    match = _PLAN_LINE.search(output)
    if match is None:
        raise InputError(source, "not collector output: no cii-scan PLAN line found")
    try:
        plan = json.loads(match.group(2))
        calls = [ProbeCall.of(str(name), dict(args)) for name, args in plan["calls"]]
        framing = plan.get("framing", 1)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(source, "collector output has a damaged PLAN line") from None
    if framing != FRAMING:
        raise InputError(source, f"collector output uses framing {framing!r}; this cii-scan "
                         f"reads framing {FRAMING} (collect again with this version's "
                         "collector-script)")
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
